//! ListOffsets (earliest, latest, max-timestamp, by timestamp via the time index) and
//! OffsetForLeaderEpoch.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    ListOffsetsRequest, ListOffsetsResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
};

use crate::broker::BrokerState;
use std::sync::Arc;

use crate::cluster::Topic;
use crate::log::Partition;
use crate::security::acl::{op, resource};

use super::{check_leader_epoch, code};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

fn lookup(p: &Partition, ts: i64, committed: bool) -> Result<(i64, i64, i32), i16> {
    let epoch = p.leader_epoch();
    let r = match ts {
        LATEST if committed => Ok(Some((p.last_stable_offset(), -1))),
        LATEST => Ok(Some((p.high_watermark(), -1))),
        EARLIEST | EARLIEST_LOCAL => Ok(Some((p.log_start_offset(), -1))),
        LATEST_TIERED => Ok(None),
        MAX_TIMESTAMP => p.max_timestamp(),
        t if t >= 0 => p.offset_for_timestamp(t),
        _ => return Err(code::INVALID_REQUEST),
    };
    match r {
        Ok(Some((off, t))) => Ok((off, t, epoch)),
        Ok(None) => Ok((-1, -1, -1)),
        Err(e) => {
            tracing::error!("offset lookup on {}-{} failed: {e}", p.topic, p.index);
            Err(e.code())
        }
    }
}

/// The partition a request names, if it exists, the caller may do `operation` on its topic, and
/// the leader epoch the client believes in (-1 = any) matches; else Kafka's error code.
fn partition_for(
    state: &BrokerState,
    topic: Option<&Arc<Topic>>,
    index: i32,
    operation: i8,
    current_leader_epoch: i32,
) -> Result<Arc<Partition>, i16> {
    let p = topic
        .and_then(|t| t.partition(index))
        .ok_or(code::UNKNOWN_TOPIC_OR_PARTITION)?;
    if !super::allowed(state, operation, resource::TOPIC, &p.topic) {
        return Err(code::TOPIC_AUTHORIZATION_FAILED);
    }
    // On a cluster only the leader answers (NOT_LEADER_OR_FOLLOWER elsewhere), as in Kafka.
    if let Some(rm) = &state.replicas {
        return rm
            .check_leader(&p.topic, p.index, current_leader_epoch)
            .map(|_| p);
    }
    match check_leader_epoch(current_leader_epoch, p.leader_epoch()) {
        code::NONE => Ok(p),
        err => Err(err),
    }
}

pub async fn handle(
    state: &BrokerState,
    req: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let topic = state.cluster.topic(t.name.0.as_str());
        let mut parts = Vec::with_capacity(t.partitions.len());
        for rp in t.partitions {
            let mut r = ListOffsetsPartitionResponse::default();
            r.partition_index = rp.partition_index;
            r.timestamp = -1;
            r.offset = -1;
            r.leader_epoch = -1;
            match partition_for(
                state,
                topic.as_ref(),
                rp.partition_index,
                op::DESCRIBE,
                rp.current_leader_epoch,
            )
            .and_then(|p| lookup(&p, rp.timestamp, req.isolation_level == 1))
            {
                Ok((off, ts, epoch)) => {
                    r.offset = off;
                    r.timestamp = ts;
                    // leader_epoch exists from v4; setting it below makes the response
                    // unencodable.
                    if version >= 4 {
                        r.leader_epoch = epoch;
                    }
                }
                Err(e) => r.error_code = e,
            }
            parts.push(r);
        }
        let mut tr = ListOffsetsTopicResponse::default();
        tr.name = t.name;
        tr.partitions = parts;
        topics.push(tr);
    }
    let mut resp = ListOffsetsResponse::default();
    resp.topics = topics;
    resp
}

pub async fn handle_offset_for_leader_epoch(
    state: &BrokerState,
    req: OffsetForLeaderEpochRequest,
    _version: i16,
) -> OffsetForLeaderEpochResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let topic = state.cluster.topic(t.topic.0.as_str());
        let mut parts = Vec::with_capacity(t.partitions.len());
        for rp in t.partitions {
            let mut r = EpochEndOffset::default();
            r.partition = rp.partition;
            r.leader_epoch = -1;
            r.end_offset = -1;
            match partition_for(
                state,
                topic.as_ref(),
                rp.partition,
                op::DESCRIBE,
                rp.current_leader_epoch,
            ) {
                Err(e) => r.error_code = e,
                Ok(p) => {
                    // The epoch cache answers as Kafka's does: the largest epoch <= the one
                    // asked for and where it ended; (-1, -1) with no error when unknown.
                    (r.leader_epoch, r.end_offset) = p.end_offset_for_epoch(rp.leader_epoch);
                }
            }
            parts.push(r);
        }
        let mut tr = OffsetForLeaderTopicResult::default();
        tr.topic = t.topic;
        tr.partitions = parts;
        topics.push(tr);
    }
    let mut resp = OffsetForLeaderEpochResponse::default();
    resp.topics = topics;
    resp
}

/// DeleteRecords: move each partition's log start offset forward.
pub async fn handle_delete_records(
    state: &BrokerState,
    req: kafka_protocol::messages::DeleteRecordsRequest,
    _version: i16,
) -> kafka_protocol::messages::DeleteRecordsResponse {
    use kafka_protocol::messages::delete_records_response::{
        DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
    };
    let mut resp = kafka_protocol::messages::DeleteRecordsResponse::default();
    for t in req.topics {
        let topic = state.cluster.topic(t.name.0.as_str());
        let mut tr = DeleteRecordsTopicResult::default();
        for rp in t.partitions {
            let mut r = DeleteRecordsPartitionResult::default();
            r.partition_index = rp.partition_index;
            r.low_watermark = -1;
            match partition_for(state, topic.as_ref(), rp.partition_index, op::DELETE, -1) {
                Err(e) => r.error_code = e,
                Ok(p) => match p.delete_records_before(rp.offset) {
                    Ok(low) => {
                        r.error_code = code::NONE;
                        r.low_watermark = low;
                    }
                    Err(e) => r.error_code = e.code(),
                },
            }
            tr.partitions.push(r);
        }
        tr.name = t.name;
        resp.topics.push(tr);
    }
    resp
}
