//! Consumer group APIs (classic protocol): FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, OffsetCommit, OffsetFetch, OffsetDelete, ListGroups, DescribeGroups, DeleteGroups.

use std::time::Duration;

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::broker::BrokerState;
use crate::group::classic::{GroupState, JoinRequest, JoinResult, Reply, SyncResult};
use crate::group::{error, subscribed_topics, CommitItem};
use crate::security::acl;

use super::{str, topic_name};

const GROUP_AUTHORIZATION_FAILED: i16 = 30;
/// The group is coordinated by another broker (after a leadership move); the client looks
/// its coordinator up again.
pub(crate) const NOT_COORDINATOR: i16 = 16;

/// On a cluster, whether another broker coordinates this group now.
pub(crate) fn not_coordinator(state: &BrokerState, group: &str) -> bool {
    state.replicas.as_ref().is_some_and(|rm| {
        !state
            .groups
            .placed_here(group, |p| rm.leads(crate::group::store::OFFSETS_TOPIC, p))
    })
}

fn group_allowed(state: &BrokerState, operation: i8, group: &str) -> bool {
    super::allowed(state, operation, acl::resource::GROUP, group)
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn opt_str(s: &Option<StrBytes>) -> Option<String> {
    s.as_ref().map(|x| x.as_str().to_string())
}

pub async fn handle_find_coordinator(
    state: &BrokerState,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    if let Some(rm) = &state.replicas {
        return find_in_cluster(state, rm, req, version).await;
    }
    let me = super::metadata::broker_entries(state);
    let (host, port) = me
        .first()
        .map(|b| (b.host.clone(), b.port))
        .unwrap_or_default();
    // Placement goes through the offsets topic: the coordinator of a group leads the partition
    // its id hashes to. On one broker that is always this broker, once the topic exists.
    let ready = if req.key_type == 0 {
        state
            .groups
            .ensure_offsets_topic(&state.cluster)
            .map_err(|e| {
                tracing::error!("cannot create the offsets topic: {e}");
            })
    } else {
        Ok(())
    };
    let code = if ready.is_ok() {
        error::NONE
    } else {
        error::COORDINATOR_NOT_AVAILABLE
    };
    // The caller must be able to describe the group or transactional id it looks up.
    let (resource, denied) = if req.key_type == 1 {
        (
            acl::resource::TRANSACTIONAL_ID,
            super::code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        )
    } else {
        (acl::resource::GROUP, GROUP_AUTHORIZATION_FAILED)
    };
    let answer = |key: &str| {
        let c = if !super::allowed(state, acl::op::DESCRIBE, resource, key) {
            denied
        } else {
            code
        };
        let node = BrokerId(if c == error::NONE {
            state.cluster.node_id
        } else {
            -1
        });
        (c, node)
    };
    let mut resp = FindCoordinatorResponse::default();
    if version >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| {
                let (c, node) = answer(k.as_str());
                let mut co = Coordinator::default();
                co.key = k.clone();
                co.node_id = node;
                co.host = if c == error::NONE {
                    host.clone()
                } else {
                    str("")
                };
                co.port = if c == error::NONE { port } else { -1 };
                co.error_code = c;
                co
            })
            .collect();
    } else {
        let (c, node) = answer(req.key.as_str());
        resp.error_code = c;
        resp.node_id = node;
        resp.host = if c == error::NONE { host } else { str("") };
        resp.port = if c == error::NONE { port } else { -1 };
    }
    resp
}

/// On a cluster a group's (or transactional id's) coordinator is the leader of the internal
/// topic partition its key hashes to, as Kafka places it. The internal topic is created through
/// the controller on first use (COORDINATOR_NOT_AVAILABLE until it has a leader).
async fn find_in_cluster(
    state: &BrokerState,
    rm: &crate::replica::ReplicaManager,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let txn = req.key_type == 1;
    let (topic, partitions, rf, min_isr) = if txn {
        (
            crate::txn::coordinator::TXN_TOPIC,
            state.txns.partition_count(),
            rm.settings.transaction_state_log_replication_factor,
            rm.settings.transaction_state_log_min_isr,
        )
    } else {
        (
            crate::group::store::OFFSETS_TOPIC,
            state.groups.offsets_partition_count(),
            rm.settings.offsets_topic_replication_factor,
            -1,
        )
    };
    if !rm.image().topic_ids.contains_key(topic) {
        create_internal_topic(rm, topic, partitions, rf, min_isr).await;
    }
    let (resource, denied) = if txn {
        (
            acl::resource::TRANSACTIONAL_ID,
            super::code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        )
    } else {
        (acl::resource::GROUP, GROUP_AUTHORIZATION_FAILED)
    };
    let listener = super::metadata::advertised_for_request(state)
        .map(|l| l.name.clone())
        .unwrap_or_default();
    let img = rm.image();
    let locate = |key: &str| -> (i16, i32, String, i32) {
        if !super::allowed(state, acl::op::DESCRIBE, resource, key) {
            return (denied, -1, String::new(), -1);
        }
        let Some(t) = img.topic_ids.get(topic).and_then(|id| img.topics.get(id)) else {
            return (error::COORDINATOR_NOT_AVAILABLE, -1, String::new(), -1);
        };
        let n = t.partitions.len() as i32;
        let p = crate::group::store::partition_for(key, n.max(1));
        let leader = t.partitions.get(&p).map_or(-1, |p| p.leader);
        let endpoint = img
            .brokers
            .get(&leader)
            .filter(|b| !b.fenced)
            .and_then(|b| b.endpoint(&listener));
        match endpoint {
            Some(e) => (error::NONE, leader, e.host.clone(), e.port as i32),
            None => (error::COORDINATOR_NOT_AVAILABLE, -1, String::new(), -1),
        }
    };
    let mut resp = FindCoordinatorResponse::default();
    if version >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| {
                let (c, node, host, port) = locate(k.as_str());
                let mut co = Coordinator::default();
                co.key = k.clone();
                co.node_id = BrokerId(node);
                co.host = str(host);
                co.port = port;
                co.error_code = c;
                co
            })
            .collect();
    } else {
        let (c, node, host, port) = locate(req.key.as_str());
        resp.error_code = c;
        resp.node_id = BrokerId(node);
        resp.host = str(host);
        resp.port = port;
    }
    resp
}

/// Asks the controller for an internal topic (compacted, as Kafka makes them) and waits a
/// little for it to reach this broker's metadata.
async fn create_internal_topic(
    rm: &crate::replica::ReplicaManager,
    topic: &str,
    partitions: i32,
    rf: i16,
    min_isr: i32,
) {
    use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
    let live = rm.image().live_brokers().count() as i16;
    let mut ct = CreatableTopic::default();
    ct.name = topic_name(topic.to_string());
    ct.num_partitions = partitions;
    // Kafka refuses to create an internal topic below its replication factor; clients retry
    // until enough brokers are up.
    ct.replication_factor = rf;
    let mut configs = vec![
        ("cleanup.policy", "compact".to_string()),
        ("compression.type", "producer".to_string()),
        ("segment.bytes", "104857600".to_string()),
    ];
    if min_isr > 0 {
        configs.push(("min.insync.replicas", min_isr.min(rf as i32).to_string()));
    }
    ct.configs = configs
        .into_iter()
        .map(|(k, v)| {
            let mut c = CreatableTopicConfig::default();
            c.name = str(k);
            c.value = Some(str(v));
            c
        })
        .collect();
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![ct];
    req.timeout_ms = 10_000;
    match super::controller::forward(rm, req).await {
        Ok(r) => {
            let c = r.topics.first().map_or(0, |t| t.error_code);
            if c != 0 && c != 36 {
                tracing::warn!(
                    "cannot create {topic} (replication factor {rf}, {live} live broker(s)): error {c}"
                );
                return;
            }
        }
        Err(e) => {
            tracing::warn!("cannot create {topic}: the controller is unreachable ({e})");
            return;
        }
    }
    super::controller::await_metadata(rm, |img| {
        img.topic_ids
            .get(topic)
            .and_then(|id| img.topics.get(id))
            .is_some_and(|t| t.partitions.values().all(|p| p.leader >= 0))
    })
    .await;
}

/// Waits until everything appended to the group's offsets partition is replicated to its
/// ISR; `Some(error)` if that fails (leadership lost, timeout).
pub(crate) async fn await_offsets_replicated(state: &BrokerState, group: &str) -> Option<i16> {
    let rm = state.replicas.as_ref()?;
    let n = state.groups.offsets_partition_count();
    let idx = crate::group::store::partition_for(group, n);
    let p = state
        .cluster
        .partition(crate::group::store::OFFSETS_TOPIC, idx)?;
    let last = p.log_end_offset() - 1;
    let Ok(epoch) = rm.check_leader(&p.topic, p.index, -1) else {
        return Some(NOT_COORDINATOR);
    };
    match crate::replica::durable::await_replication(rm, &p, epoch, last, 5000).await {
        0 => None,
        c if c == crate::replica::code::REQUEST_TIMED_OUT => Some(c),
        _ => Some(NOT_COORDINATOR),
    }
}

fn join_response(r: JoinResult) -> JoinGroupResponse {
    let mut resp = JoinGroupResponse::default();
    resp.error_code = r.error;
    resp.generation_id = r.generation;
    resp.protocol_type = r.protocol_type.map(str);
    resp.protocol_name = r.protocol_name.map(str);
    resp.leader = str(r.leader);
    resp.skip_assignment = r.skip_assignment;
    resp.member_id = str(r.member_id);
    resp.members = r
        .members
        .into_iter()
        .map(|(id, inst, meta)| {
            let mut m = JoinGroupResponseMember::default();
            m.member_id = str(id);
            m.group_instance_id = inst.map(str);
            m.metadata = meta;
            m
        })
        .collect();
    resp
}

pub async fn handle_join(
    state: &BrokerState,
    req: JoinGroupRequest,
    version: i16,
    client_id: String,
    client_host: String,
) -> JoinGroupResponse {
    let group_id = req.group_id.0.as_str().to_string();
    let member_id = req.member_id.as_str().to_string();
    if group_id.is_empty() {
        return join_response(JoinResult::error(error::INVALID_GROUP_ID, &member_id));
    }
    if !group_allowed(state, acl::op::READ, &group_id) {
        return join_response(JoinResult::error(GROUP_AUTHORIZATION_FAILED, &member_id));
    }
    if not_coordinator(state, &group_id) {
        return join_response(JoinResult::error(NOT_COORDINATOR, &member_id));
    }
    let g = if member_id.is_empty() {
        state.groups.get_or_create(&group_id)
    } else {
        match state.groups.group(&group_id) {
            Some(g) => g,
            None => return join_response(JoinResult::error(error::UNKNOWN_MEMBER_ID, &member_id)),
        }
    };
    let rebalance_timeout = if version == 0 {
        req.session_timeout_ms
    } else {
        req.rebalance_timeout_ms
    };
    let jr = JoinRequest {
        member_id: member_id.clone(),
        instance_id: opt_str(&req.group_instance_id),
        client_id,
        client_host,
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: rebalance_timeout,
        protocol_type: req.protocol_type.as_str().to_string(),
        protocols: req
            .protocols
            .iter()
            .map(|p| (p.name.as_str().to_string(), p.metadata.clone()))
            .collect(),
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
    };
    let reply = {
        let mut grp = lock(&g);
        if grp.consumer.as_ref().is_some_and(|c| !c.members.is_empty()) {
            return join_response(JoinResult::error(
                error::INCONSISTENT_GROUP_PROTOCOL,
                &member_id,
            ));
        }
        // An empty consumer-protocol group goes back to classic for a classic member.
        grp.consumer = None;
        let r = grp.join(jr, &state.groups.limits);
        state
            .groups
            .persist_group_if_dirty(&state.cluster, &mut grp);
        r
    };
    let result = match reply {
        Reply::Now(r) => r,
        Reply::Wait(rx) => {
            let limit =
                Duration::from_millis(rebalance_timeout.max(0) as u64) + Duration::from_secs(5);
            match tokio::time::timeout(limit, rx).await {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => JoinResult::error(error::UNKNOWN_MEMBER_ID, &member_id),
                Err(_) => JoinResult::error(error::REBALANCE_IN_PROGRESS, &member_id),
            }
        }
    };
    join_response(result)
}

fn sync_response(r: SyncResult) -> SyncGroupResponse {
    let mut resp = SyncGroupResponse::default();
    resp.error_code = r.error;
    resp.protocol_type = r.protocol_type.map(str);
    resp.protocol_name = r.protocol_name.map(str);
    resp.assignment = r.assignment;
    resp
}

pub async fn handle_sync(
    state: &BrokerState,
    req: SyncGroupRequest,
    _version: i16,
) -> SyncGroupResponse {
    if !group_allowed(state, acl::op::READ, req.group_id.0.as_str()) {
        return sync_response(SyncResult::error(GROUP_AUTHORIZATION_FAILED));
    }
    if not_coordinator(state, req.group_id.0.as_str()) {
        return sync_response(SyncResult::error(NOT_COORDINATOR));
    }
    let Some(g) = state.groups.group(req.group_id.0.as_str()) else {
        return sync_response(SyncResult::error(error::UNKNOWN_MEMBER_ID));
    };
    let reply = {
        let mut grp = lock(&g);
        let r = grp.sync(
            req.generation_id,
            req.member_id.as_str(),
            req.group_instance_id.as_ref().map(|s| s.as_str()),
            req.protocol_type.as_ref().map(|s| s.as_str()),
            req.protocol_name.as_ref().map(|s| s.as_str()),
            req.assignments
                .iter()
                .map(|a| (a.member_id.as_str().to_string(), a.assignment.clone()))
                .collect(),
        );
        state
            .groups
            .persist_group_if_dirty(&state.cluster, &mut grp);
        r
    };
    let result = match reply {
        Reply::Now(r) => r,
        Reply::Wait(rx) => match tokio::time::timeout(Duration::from_secs(600), rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => SyncResult::error(error::UNKNOWN_MEMBER_ID),
            Err(_) => SyncResult::error(error::REBALANCE_IN_PROGRESS),
        },
    };
    sync_response(result)
}

pub async fn handle_heartbeat(
    state: &BrokerState,
    req: HeartbeatRequest,
    _version: i16,
) -> HeartbeatResponse {
    let code = match state.groups.group(req.group_id.0.as_str()) {
        _ if !group_allowed(state, acl::op::READ, req.group_id.0.as_str()) => {
            GROUP_AUTHORIZATION_FAILED
        }
        _ if not_coordinator(state, req.group_id.0.as_str()) => NOT_COORDINATOR,
        None => error::UNKNOWN_MEMBER_ID,
        Some(g) => lock(&g).heartbeat(
            req.generation_id,
            req.member_id.as_str(),
            req.group_instance_id.as_ref().map(|s| s.as_str()),
        ),
    };
    let mut resp = HeartbeatResponse::default();
    resp.error_code = code;
    resp
}

pub async fn handle_leave(
    state: &BrokerState,
    req: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let members: Vec<(String, Option<String>)> = if version >= 3 {
        req.members
            .iter()
            .map(|m| {
                (
                    m.member_id.as_str().to_string(),
                    opt_str(&m.group_instance_id),
                )
            })
            .collect()
    } else {
        vec![(req.member_id.as_str().to_string(), None)]
    };
    let mut resp = LeaveGroupResponse::default();
    if !group_allowed(state, acl::op::READ, req.group_id.0.as_str()) {
        resp.error_code = GROUP_AUTHORIZATION_FAILED;
        return resp;
    }
    let Some(g) = state.groups.group(req.group_id.0.as_str()) else {
        resp.error_code = error::UNKNOWN_MEMBER_ID;
        if version >= 3 {
            resp.error_code = error::NONE;
            resp.members = members
                .into_iter()
                .map(|(id, inst)| {
                    let mut r = MemberResponse::default();
                    r.member_id = str(id);
                    r.group_instance_id = inst.map(str);
                    r.error_code = error::UNKNOWN_MEMBER_ID;
                    r
                })
                .collect();
        }
        return resp;
    };
    let mut grp = lock(&g);
    let mut results = Vec::new();
    for (id, inst) in members {
        let code = grp.leave(&id, inst.as_deref(), &state.groups.limits);
        results.push((id, inst, code));
    }
    state
        .groups
        .persist_group_if_dirty(&state.cluster, &mut grp);
    drop(grp);
    if version >= 3 {
        resp.members = results
            .into_iter()
            .map(|(id, inst, code)| {
                let mut r = MemberResponse::default();
                r.member_id = str(id);
                r.group_instance_id = inst.map(str);
                r.error_code = code;
                r
            })
            .collect();
    } else {
        resp.error_code = results.first().map(|r| r.2).unwrap_or(error::NONE);
    }
    resp
}

pub async fn handle_offset_commit(
    state: &BrokerState,
    req: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let group_id = req.group_id.0.as_str().to_string();
    let member_id = req.member_id.as_str().to_string();
    let generation = req.generation_id_or_member_epoch;
    let instance = opt_str(&req.group_instance_id);
    tracing::debug!(
        "OffsetCommit v{version} group {group_id} member '{member_id}' generation {generation}"
    );
    // Resolve names (v10+ addresses topics by id).
    let topics: Vec<(
        String,
        &kafka_protocol::messages::offset_commit_request::OffsetCommitRequestTopic,
    )> = req
        .topics
        .iter()
        .map(|t| {
            let name = if version >= 10 {
                state
                    .cluster
                    .topic_by_id(&t.topic_id)
                    .map(|x| x.meta.name.clone())
                    .unwrap_or_default()
            } else {
                t.name.0.as_str().to_string()
            };
            (name, t)
        })
        .collect();
    let all_error = |code: i16| -> OffsetCommitResponse {
        let mut resp = OffsetCommitResponse::default();
        resp.topics = topics
            .iter()
            .map(|(name, t)| {
                let mut rt = OffsetCommitResponseTopic::default();
                rt.name = topic_name(name.clone());
                rt.topic_id = t.topic_id;
                rt.partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let mut rp = OffsetCommitResponsePartition::default();
                        rp.partition_index = p.partition_index;
                        rp.error_code = code;
                        rp
                    })
                    .collect();
                rt
            })
            .collect();
        resp
    };
    if group_id.is_empty() {
        return all_error(error::INVALID_GROUP_ID);
    }
    if !group_allowed(state, acl::op::READ, &group_id) {
        return all_error(GROUP_AUTHORIZATION_FAILED);
    }
    if not_coordinator(state, &group_id) {
        return all_error(NOT_COORDINATOR);
    }
    if topics
        .iter()
        .any(|(name, _)| !super::allowed(state, acl::op::READ, acl::resource::TOPIC, name))
    {
        return all_error(super::code::TOPIC_AUTHORIZATION_FAILED);
    }
    let g = match state.groups.group(&group_id) {
        Some(g) => g,
        // Kafka creates a simple group for a generation -1 commit, whatever the member id.
        None if generation < 0 => state.groups.get_or_create(&group_id),
        None => {
            return all_error(if version >= 9 {
                error::GROUP_ID_NOT_FOUND
            } else {
                error::ILLEGAL_GENERATION
            })
        }
    };
    let codes = {
        let mut grp = lock(&g);
        let code = grp.validate_commit(generation, &member_id, instance.as_deref());
        if code != error::NONE {
            return all_error(code);
        }
        let items: Vec<CommitItem> = topics
            .iter()
            .flat_map(|(name, t)| {
                t.partitions.iter().map(move |p| CommitItem {
                    topic: name.clone(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: opt_str(&p.committed_metadata),
                })
            })
            .collect();
        state.groups.commit(&state.cluster, &mut grp, items)
    };
    // On a cluster a commit is acknowledged once the offsets partition's ISR has it, as
    // Kafka writes offsets with acks=all.
    let codes = match await_offsets_replicated(state, &group_id).await {
        None => codes,
        Some(c) => codes
            .into_iter()
            .map(|x| if x == error::NONE { c } else { x })
            .collect(),
    };
    let mut it = codes.into_iter();
    let mut resp = all_error(error::NONE);
    for t in resp.topics.iter_mut() {
        for p in t.partitions.iter_mut() {
            p.error_code = it.next().unwrap_or(error::NONE);
        }
    }
    resp
}

/// (partition, offset, leader epoch, metadata, error) as OffsetFetch reports it.
type FetchedOffset = (i32, i64, i32, Option<String>, i16);

/// (topic, partitions) requested, or None for every committed offset.
type Wanted = Option<Vec<(String, Vec<i32>)>>;

fn fetch_group_offsets(
    state: &BrokerState,
    group_id: &str,
    wanted: Wanted,
) -> Vec<(String, Vec<FetchedOffset>)> {
    let offsets = state
        .groups
        .group(group_id)
        .map(|g| lock(&g).offsets.clone())
        .unwrap_or_default();
    let wanted = match wanted {
        Some(w) => w,
        None => {
            let mut by_topic: std::collections::BTreeMap<String, Vec<i32>> = Default::default();
            for (t, p) in offsets.keys() {
                by_topic.entry(t.clone()).or_default().push(*p);
            }
            by_topic
                .into_iter()
                .map(|(t, mut ps)| {
                    ps.sort_unstable();
                    (t, ps)
                })
                .collect()
        }
    };
    wanted
        .into_iter()
        .map(|(t, ps)| {
            let parts = ps
                .into_iter()
                .map(|p| match offsets.get(&(t.clone(), p)) {
                    Some(v) => (
                        p,
                        v.offset,
                        v.leader_epoch,
                        Some(v.metadata.clone()),
                        error::NONE,
                    ),
                    None => (p, -1, -1, Some(String::new()), error::NONE),
                })
                .collect();
            (t, parts)
        })
        .collect()
}

/// `fetch_group_offsets` as the caller may see it: the group needs DESCRIBE; topics the caller
/// may not describe are left out of an all-topics fetch and refused in a named one.
fn fetch_authorized(
    state: &BrokerState,
    group_id: &str,
    wanted: Wanted,
) -> Result<Vec<(String, Vec<FetchedOffset>)>, i16> {
    if !group_allowed(state, acl::op::DESCRIBE, group_id) {
        return Err(GROUP_AUTHORIZATION_FAILED);
    }
    // A broker that coordinated the group before a leadership move must not answer from
    // memory: the client looks its coordinator up again.
    if not_coordinator(state, group_id) {
        return Err(NOT_COORDINATOR);
    }
    let all = wanted.is_none();
    let mut out = fetch_group_offsets(state, group_id, wanted);
    out.retain_mut(|(topic, parts)| {
        if super::allowed(state, acl::op::DESCRIBE, acl::resource::TOPIC, topic) {
            return true;
        }
        for p in parts.iter_mut() {
            *p = (p.0, -1, -1, None, super::code::TOPIC_AUTHORIZATION_FAILED);
        }
        !all
    });
    Ok(out)
}

pub async fn handle_offset_fetch(
    state: &BrokerState,
    req: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let mut resp = OffsetFetchResponse::default();
    if version >= 8 {
        for g in &req.groups {
            let wanted = g.topics.as_ref().map(|ts| {
                ts.iter()
                    .map(|t| {
                        let name = if version >= 10 {
                            state
                                .cluster
                                .topic_by_id(&t.topic_id)
                                .map(|x| x.meta.name.clone())
                                .unwrap_or_default()
                        } else {
                            t.name.0.as_str().to_string()
                        };
                        (name, t.partition_indexes.clone())
                    })
                    .collect()
            });
            let mut rg = OffsetFetchResponseGroup::default();
            rg.group_id = g.group_id.clone();
            let fetched = match fetch_authorized(state, g.group_id.0.as_str(), wanted) {
                Ok(f) => f,
                Err(c) => {
                    rg.error_code = c;
                    resp.groups.push(rg);
                    continue;
                }
            };
            rg.error_code = error::NONE;
            rg.topics = fetched
                .into_iter()
                .map(|(t, parts)| {
                    let mut rt = OffsetFetchResponseTopics::default();
                    rt.topic_id = state
                        .cluster
                        .topic(&t)
                        .map(|x| x.meta.id)
                        .unwrap_or_default();
                    rt.name = topic_name(t);
                    rt.partitions = parts
                        .into_iter()
                        .map(|(p, off, epoch, meta, code)| {
                            let mut rp = OffsetFetchResponsePartitions::default();
                            rp.partition_index = p;
                            rp.committed_offset = off;
                            rp.committed_leader_epoch = epoch;
                            rp.metadata = meta.map(str);
                            rp.error_code = code;
                            rp
                        })
                        .collect();
                    rt
                })
                .collect();
            resp.groups.push(rg);
        }
        return resp;
    }
    let wanted = req.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.0.as_str().to_string(), t.partition_indexes.clone()))
            .collect()
    });
    let fetched = match fetch_authorized(state, req.group_id.0.as_str(), wanted.clone()) {
        Ok(f) => f,
        // Before v2 there is no top-level error: each requested partition carries it.
        Err(c) if version < 2 => wanted
            .unwrap_or_default()
            .into_iter()
            .map(|(t, ps)| (t, ps.into_iter().map(|p| (p, -1, -1, None, c)).collect()))
            .collect(),
        Err(c) => {
            resp.error_code = c;
            return resp;
        }
    };
    resp.topics = fetched
        .into_iter()
        .map(|(t, parts)| {
            let mut rt = OffsetFetchResponseTopic::default();
            rt.name = topic_name(t);
            rt.partitions = parts
                .into_iter()
                .map(|(p, off, epoch, meta, code)| {
                    let mut rp = OffsetFetchResponsePartition::default();
                    rp.partition_index = p;
                    rp.committed_offset = off;
                    rp.committed_leader_epoch = epoch;
                    rp.metadata = meta.map(str);
                    rp.error_code = code;
                    rp
                })
                .collect();
            rt
        })
        .collect();
    resp.error_code = error::NONE;
    resp
}

pub async fn handle_offset_delete(
    state: &BrokerState,
    req: OffsetDeleteRequest,
    _version: i16,
) -> OffsetDeleteResponse {
    let mut resp = OffsetDeleteResponse::default();
    let group_id = req.group_id.0.as_str();
    if !group_allowed(state, acl::op::DELETE, group_id) {
        resp.error_code = GROUP_AUTHORIZATION_FAILED;
        return resp;
    }
    let Some(g) = state.groups.group(group_id) else {
        resp.error_code = error::GROUP_ID_NOT_FOUND;
        return resp;
    };
    let mut grp = lock(&g);
    let subscribed: Vec<String> = if grp.state == GroupState::Empty {
        Vec::new()
    } else {
        let protocol = grp.protocol.clone().unwrap_or_default();
        grp.members
            .values()
            .flat_map(|m| {
                m.protocols
                    .iter()
                    .filter(|(n, _)| *n == protocol)
                    .flat_map(|(_, meta)| subscribed_topics(meta))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let mut records = Vec::new();
    let mut deleted = Vec::new();
    for t in &req.topics {
        let name = t.name.0.as_str().to_string();
        let mut rt = OffsetDeleteResponseTopic::default();
        rt.name = t.name.clone();
        for p in &t.partitions {
            let mut rp = OffsetDeleteResponsePartition::default();
            rp.partition_index = p.partition_index;
            rp.error_code = if !super::allowed(state, acl::op::READ, acl::resource::TOPIC, &name) {
                super::code::TOPIC_AUTHORIZATION_FAILED
            } else if subscribed.contains(&name) {
                error::GROUP_SUBSCRIBED_TO_TOPIC
            } else if state.cluster.partition(&name, p.partition_index).is_none() {
                error::UNKNOWN_TOPIC_OR_PARTITION
            } else {
                if grp.offsets.contains_key(&(name.clone(), p.partition_index)) {
                    records.push(crate::group::store::offset_record(
                        group_id,
                        &name,
                        p.partition_index,
                        None,
                    ));
                    deleted.push((name.clone(), p.partition_index));
                }
                error::NONE
            };
            rt.partitions.push(rp);
        }
        resp.topics.push(rt);
    }
    match state.groups.persist(&state.cluster, group_id, records) {
        Ok(()) => {
            for k in deleted {
                grp.offsets.remove(&k);
            }
            resp.error_code = error::NONE;
        }
        Err(e) => {
            tracing::error!("could not delete offsets of group {group_id}: {e}");
            resp.error_code = error::COORDINATOR_NOT_AVAILABLE;
        }
    }
    resp
}

pub async fn handle_list_groups(
    state: &BrokerState,
    req: ListGroupsRequest,
    _version: i16,
) -> ListGroupsResponse {
    let mut resp = ListGroupsResponse::default();
    let states: Vec<String> = req
        .states_filter
        .iter()
        .map(|s| s.as_str().to_lowercase())
        .collect();
    let types: Vec<String> = req
        .types_filter
        .iter()
        .map(|s| s.as_str().to_lowercase())
        .collect();
    let mut groups: Vec<ListedGroup> = Vec::new();
    for g in state.groups.all_groups() {
        let g = lock(&g);
        if g.state == GroupState::Dead || !group_allowed(state, acl::op::DESCRIBE, &g.id) {
            continue;
        }
        let st = g.state_name();
        if !states.is_empty() && !states.contains(&st.to_lowercase()) {
            continue;
        }
        if !types.is_empty() && !types.iter().any(|t| t == g.group_type()) {
            continue;
        }
        let mut lg = ListedGroup::default();
        lg.group_id = GroupId(str(g.id.clone()));
        lg.protocol_type = str(if g.consumer.is_some() {
            "consumer".to_string()
        } else {
            g.protocol_type.clone().unwrap_or_default()
        });
        lg.group_state = str(st);
        lg.group_type = str(g.group_type());
        groups.push(lg);
    }
    groups.sort_by(|a, b| a.group_id.0.cmp(&b.group_id.0));
    resp.groups = groups;
    resp
}

pub async fn handle_describe_groups(
    state: &BrokerState,
    req: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let mut resp = DescribeGroupsResponse::default();
    for id in &req.groups {
        let mut d = DescribedGroup::default();
        if !group_allowed(state, acl::op::DESCRIBE, id.0.as_str()) {
            d.group_id = id.clone();
            d.error_code = GROUP_AUTHORIZATION_FAILED;
            d.authorized_operations = i32::MIN;
            resp.groups.push(d);
            continue;
        }
        d.group_id = id.clone();
        d.authorized_operations = if req.include_authorized_operations {
            super::authorized_ops(
                state,
                acl::resource::GROUP,
                id.0.as_str(),
                super::metadata::GROUP_OPS,
            )
        } else {
            i32::MIN
        };
        match state.groups.group(id.0.as_str()) {
            None => {
                d.group_state = str("Dead");
                if version >= 6 {
                    d.error_code = error::GROUP_ID_NOT_FOUND;
                    d.error_message = Some(str(format!("Group {} not found.", id.0.as_str())));
                }
            }
            Some(g) => {
                let g = lock(&g);
                d.error_code = error::NONE;
                d.group_state = str(g.state_name());
                d.protocol_type = str(g.protocol_type.clone().unwrap_or_default());
                let stable = matches!(
                    g.state,
                    GroupState::Stable | GroupState::CompletingRebalance
                );
                let protocol = g.protocol.clone().unwrap_or_default();
                d.protocol_data = str(if stable {
                    protocol.clone()
                } else {
                    String::new()
                });
                d.members = g
                    .members
                    .values()
                    .map(|m| {
                        let mut dm = DescribedGroupMember::default();
                        dm.member_id = str(m.id.clone());
                        dm.group_instance_id = m.instance_id.clone().map(str);
                        dm.client_id = str(m.client_id.clone());
                        dm.client_host = str(m.client_host.clone());
                        if stable {
                            dm.member_metadata = m
                                .protocols
                                .iter()
                                .find(|(n, _)| *n == protocol)
                                .map(|(_, b)| b.clone())
                                .unwrap_or_default();
                            dm.member_assignment = m.assignment.clone();
                        }
                        dm
                    })
                    .collect();
            }
        }
        resp.groups.push(d);
    }
    resp
}

pub async fn handle_delete_groups(
    state: &BrokerState,
    req: DeleteGroupsRequest,
    _version: i16,
) -> DeleteGroupsResponse {
    use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
    let mut resp = DeleteGroupsResponse::default();
    for id in &req.groups_names {
        let mut r = DeletableGroupResult::default();
        if !group_allowed(state, acl::op::DELETE, id.0.as_str()) {
            r.group_id = id.clone();
            r.error_code = GROUP_AUTHORIZATION_FAILED;
            resp.results.push(r);
            continue;
        }
        r.group_id = id.clone();
        r.error_code = state.groups.delete_group(&state.cluster, id.0.as_str());
        resp.results.push(r);
    }
    resp
}

/// The topic view the consumer-protocol assignor works from: name → (id, partitions).
fn topic_view(state: &BrokerState) -> crate::group::consumer::TopicView {
    state
        .cluster
        .topics()
        .iter()
        .map(|t| (t.meta.name.clone(), (t.meta.id, t.meta.partitions)))
        .collect()
}

fn to_assignment(
    tps: &[kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions],
) -> crate::group::consumer::Assignment {
    tps.iter()
        .map(|t| (t.topic_id, t.partitions.iter().copied().collect()))
        .collect()
}

pub async fn handle_consumer_heartbeat(
    state: &BrokerState,
    req: ConsumerGroupHeartbeatRequest,
    _version: i16,
    client_id: String,
    client_host: String,
) -> ConsumerGroupHeartbeatResponse {
    use kafka_protocol::messages::consumer_group_heartbeat_response::{
        Assignment, TopicPartitions,
    };
    let mut resp = ConsumerGroupHeartbeatResponse::default();
    let group_id = req.group_id.0.as_str().to_string();
    let fail = |mut resp: ConsumerGroupHeartbeatResponse, code: i16, msg: String| {
        resp.error_code = code;
        resp.error_message = Some(str(msg));
        resp.member_epoch = -1;
        resp
    };
    if group_id.is_empty() {
        return fail(
            resp,
            error::INVALID_GROUP_ID,
            "GroupId can't be empty.".into(),
        );
    }
    if !group_allowed(state, acl::op::READ, &group_id) {
        return fail(
            resp,
            GROUP_AUTHORIZATION_FAILED,
            "Group authorization failed.".into(),
        );
    }
    if not_coordinator(state, &group_id) {
        return fail(
            resp,
            NOT_COORDINATOR,
            format!("This broker is not the coordinator of group {group_id}."),
        );
    }
    if let Err(e) = state.groups.ensure_offsets_topic(&state.cluster) {
        return fail(resp, error::COORDINATOR_NOT_AVAILABLE, e);
    }
    let g = state.groups.get_or_create(&group_id);
    let mut grp = lock(&g);
    if grp.consumer.is_none() {
        if !grp.members.is_empty() {
            return fail(
                resp,
                error::GROUP_ID_NOT_FOUND,
                format!("Group {group_id} is not a consumer group."),
            );
        }
        // An empty classic group (or a new one) becomes a consumer group.
        grp.consumer = Some(state.groups.new_consumer_group());
    }
    let hb = crate::group::consumer::Heartbeat {
        member_id: req.member_id.as_str().to_string(),
        member_epoch: req.member_epoch,
        instance_id: opt_str(&req.instance_id),
        rack_id: opt_str(&req.rack_id),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed_names: req
            .subscribed_topic_names
            .as_ref()
            .map(|ts| ts.iter().map(|t| t.0.as_str().to_string()).collect()),
        subscribed_regex: opt_str(&req.subscribed_topic_regex),
        server_assignor: opt_str(&req.server_assignor),
        owned: req.topic_partitions.as_ref().map(|t| to_assignment(t)),
        client_id,
        client_host,
    };
    let view = topic_view(state);
    let Some(cg) = grp.consumer.as_mut() else {
        return fail(resp, error::GROUP_ID_NOT_FOUND, "group vanished".into());
    };
    match cg.heartbeat(hb, &view, std::time::Instant::now()) {
        Ok(r) => {
            resp.error_code = error::NONE;
            resp.member_id = Some(str(r.member_id));
            resp.member_epoch = r.member_epoch;
            resp.heartbeat_interval_ms = r.heartbeat_interval_ms;
            resp.assignment = r.assignment.map(|a| {
                let mut asg = Assignment::default();
                asg.topic_partitions = a
                    .into_iter()
                    .map(|(id, ps)| {
                        let mut tp = TopicPartitions::default();
                        tp.topic_id = id;
                        tp.partitions = ps.into_iter().collect();
                        tp
                    })
                    .collect();
                asg
            });
            resp
        }
        Err((code, msg)) => fail(resp, code, msg),
    }
}

pub async fn handle_consumer_describe(
    state: &BrokerState,
    req: ConsumerGroupDescribeRequest,
    _version: i16,
) -> ConsumerGroupDescribeResponse {
    use kafka_protocol::messages::consumer_group_describe_response::{
        Assignment, DescribedGroup as CgDescribed, Member, TopicPartitions,
    };
    let names: std::collections::HashMap<uuid::Uuid, String> = state
        .cluster
        .topics()
        .iter()
        .map(|t| (t.meta.id, t.meta.name.clone()))
        .collect();
    let to_wire = |a: &crate::group::consumer::Assignment| {
        let mut asg = Assignment::default();
        asg.topic_partitions = a
            .iter()
            .map(|(id, ps)| {
                let mut tp = TopicPartitions::default();
                tp.topic_id = *id;
                tp.topic_name = topic_name(names.get(id).cloned().unwrap_or_default());
                tp.partitions = ps.iter().copied().collect();
                tp
            })
            .collect();
        asg
    };
    let mut resp = ConsumerGroupDescribeResponse::default();
    for id in &req.group_ids {
        let mut d = CgDescribed::default();
        d.group_id = id.clone();
        d.authorized_operations = i32::MIN;
        if !group_allowed(state, acl::op::DESCRIBE, id.0.as_str()) {
            d.error_code = GROUP_AUTHORIZATION_FAILED;
            d.group_state = str("");
            resp.groups.push(d);
            continue;
        }
        if req.include_authorized_operations {
            d.authorized_operations = super::authorized_ops(
                state,
                acl::resource::GROUP,
                id.0.as_str(),
                super::metadata::GROUP_OPS,
            );
        }
        let g = state.groups.group(id.0.as_str());
        let g = g.as_ref().map(|g| lock(g));
        match g.as_ref().and_then(|g| g.consumer.as_ref().map(|c| (g, c))) {
            None => {
                d.error_code = error::GROUP_ID_NOT_FOUND;
                d.error_message = Some(str(format!("Group {} not found.", id.0.as_str())));
                d.group_state = str("Dead");
            }
            Some((_, c)) => {
                d.error_code = error::NONE;
                d.group_state = str(c.state_name());
                d.group_epoch = c.epoch;
                d.assignment_epoch = c.assignment_epoch;
                d.assignor_name = str(c.assignor.clone());
                d.members = c
                    .members
                    .values()
                    .map(|m| {
                        let mut dm = Member::default();
                        dm.member_id = str(m.id.clone());
                        dm.instance_id = m.instance_id.clone().map(str);
                        dm.rack_id = m.rack_id.clone().map(str);
                        dm.member_epoch = m.epoch;
                        dm.client_id = str(m.client_id.clone());
                        dm.client_host = str(m.client_host.clone());
                        dm.subscribed_topic_names = m
                            .subscribed_names
                            .iter()
                            .map(|n| topic_name(n.clone()))
                            .collect();
                        dm.subscribed_topic_regex = m.subscribed_regex.clone().map(str);
                        dm.assignment = to_wire(&m.assigned);
                        dm.target_assignment =
                            to_wire(&c.target.get(&m.id).cloned().unwrap_or_default());
                        dm.member_type = 1;
                        dm
                    })
                    .collect();
            }
        }
        resp.groups.push(d);
    }
    resp
}
