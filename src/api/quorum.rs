//! DescribeQuorum: how the metadata log is replicated, for `kafka-metadata-quorum.sh describe
//! --status/--replication` and `weir cluster`. The active controller answers; a broker
//! forwards to it, as Kafka's brokers do; a single node reports itself as the only voter.

use kafka_protocol::messages::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::{
    BrokerId, DescribeQuorumRequest, DescribeQuorumResponse, TopicName,
};

use crate::broker::BrokerState;
use crate::controller::file_log::METADATA_TOPIC;
use crate::log::segment::now_ms;

use super::str;

const REQUEST_TIMED_OUT: i16 = 7;

fn replica(id: i32, log_end: i64, fetched_at: i64, caught_up_at: i64) -> ReplicaState {
    let mut r = ReplicaState::default();
    r.replica_id = BrokerId(id);
    r.log_end_offset = log_end;
    r.last_fetch_timestamp = fetched_at;
    r.last_caught_up_timestamp = caught_up_at;
    r
}

fn answer(
    leader: i32,
    high_watermark: i64,
    voters: Vec<ReplicaState>,
    observers: Vec<ReplicaState>,
    nodes: Vec<Node>,
) -> DescribeQuorumResponse {
    let mut p = PartitionData::default();
    p.partition_index = 0;
    p.leader_id = BrokerId(leader);
    // One controller, never re-elected, in this stage: its epoch stays 1.
    p.leader_epoch = 1;
    p.high_watermark = high_watermark;
    p.current_voters = voters;
    p.observers = observers;
    let mut t = TopicData::default();
    t.topic_name = TopicName(str(METADATA_TOPIC));
    t.partitions = vec![p];
    let mut resp = DescribeQuorumResponse::default();
    resp.topics = vec![t];
    resp.nodes = nodes;
    resp
}

/// The active controller's view: it holds the log (its end is the high watermark, as every
/// record is fsynced before it is served); each other node's replica is the metadata offset
/// its broker last reported in a heartbeat.
pub fn describe(
    state: &BrokerState,
    ctl: &crate::controller::service::ControllerService,
) -> DescribeQuorumResponse {
    let now = now_ms();
    let (end, offsets) = ctl.quorum();
    let Some(k) = state.config.kraft.as_ref() else {
        return answer(
            state.cluster.node_id,
            end,
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
    };
    let leader = k.active_controller().map_or(-1, |v| v.id);
    let reported = |id: i32| offsets.iter().find(|(b, _, _)| *b == id).copied();
    let state_of = |id: i32| match reported(id) {
        _ if id == leader => replica(id, end, now, now),
        Some((_, off, at)) => {
            let log_end = off + 1;
            replica(id, log_end, at, if log_end >= end { at } else { -1 })
        }
        None => replica(id, -1, -1, -1),
    };
    let voters = k.voters.iter().map(|v| state_of(v.id)).collect();
    let observers = offsets
        .iter()
        .filter(|(b, _, _)| !k.voters.iter().any(|v| v.id == *b))
        .map(|(b, _, _)| state_of(*b))
        .collect();
    let listener = k
        .controller_listener_names
        .first()
        .cloned()
        .unwrap_or_default();
    let nodes = k
        .voters
        .iter()
        .map(|v| {
            let mut l = Listener::default();
            l.name = str(listener.clone());
            l.host = str(v.host.clone());
            l.port = v.port;
            let mut n = Node::default();
            n.node_id = BrokerId(v.id);
            n.listeners = vec![l];
            n
        })
        .collect();
    answer(leader, end, voters, observers, nodes)
}

pub async fn handle(
    state: &BrokerState,
    req: DescribeQuorumRequest,
    _version: i16,
) -> DescribeQuorumResponse {
    if let Some(ctl) = &state.controller {
        return describe(state, ctl);
    }
    if let Some(rm) = &state.replicas {
        return match super::controller::forward(rm, req).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::warn!("DescribeQuorum: the controller is unreachable ({e})");
                let mut resp = DescribeQuorumResponse::default();
                resp.error_code = REQUEST_TIMED_OUT;
                resp.error_message = Some(str(format!("the controller is unreachable: {e}")));
                resp
            }
        };
    }
    // A single node: itself, the only voter, with no replicated log.
    let id = state.cluster.node_id;
    answer(
        id,
        0,
        vec![replica(id, 0, now_ms(), now_ms())],
        Vec::new(),
        Vec::new(),
    )
}
