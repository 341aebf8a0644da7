//! Producer and transaction APIs: InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
//! TxnOffsetCommit, and the operator views DescribeTransactions, ListTransactions,
//! DescribeProducers.

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::*;

use crate::broker::BrokerState;
use crate::group::CommitItem;
use crate::txn::coordinator::{code as txn_code, AddMode, TxnCoordinator};

use super::{code, str};
use crate::security::acl::{op, resource, CLUSTER_NAME};

pub async fn handle_init_producer_id(
    state: &BrokerState,
    req: InitProducerIdRequest,
    _version: i16,
) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    let txn_id = req
        .transactional_id
        .as_ref()
        .map(|t| t.0.as_str())
        .filter(|t| !t.is_empty());
    let permitted = match txn_id {
        Some(id) => super::allowed(state, op::WRITE, resource::TRANSACTIONAL_ID, id),
        // KIP-679: WRITE on any topic is enough for an idempotent producer.
        None => {
            super::allowed(state, op::IDEMPOTENT_WRITE, resource::CLUSTER, CLUSTER_NAME)
                || super::allowed_on_any(state, op::WRITE, resource::TOPIC)
        }
    };
    if !permitted {
        resp.error_code = if txn_id.is_some() {
            code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        } else {
            code::CLUSTER_AUTHORIZATION_FAILED
        };
        return resp;
    }
    match txn_id {
        Some(id) => {
            let expected =
                (req.producer_id.0 >= 0).then_some((req.producer_id.0, req.producer_epoch));
            match state
                .txns
                .init_producer_id(state, id, req.transaction_timeout_ms, expected)
                .await
            {
                Ok((pid, epoch)) => {
                    resp.error_code = code::NONE;
                    resp.producer_id = ProducerId(pid);
                    resp.producer_epoch = epoch;
                }
                Err(c) => resp.error_code = c,
            }
        }
        // An idempotent producer always gets a fresh id, as Kafka does.
        None => match state.producer_ids.next() {
            Ok(id) => {
                resp.error_code = code::NONE;
                resp.producer_id = ProducerId(id);
                resp.producer_epoch = 0;
            }
            Err(e) if crate::txn::producer_ids::is_not_ready(&e) => {
                resp.error_code = COORDINATOR_LOAD_IN_PROGRESS;
            }
            Err(e) => {
                tracing::error!("cannot allocate a producer id: {e}");
                resp.error_code = txn_code::COORDINATOR_NOT_AVAILABLE;
            }
        },
    }
    resp
}

fn topic_results(
    topics: &[add_partitions_to_txn_request::AddPartitionsToTxnTopic],
    codes: &[i16],
) -> Vec<AddPartitionsToTxnTopicResult> {
    let mut it = codes.iter();
    topics
        .iter()
        .map(|t| {
            let mut r = AddPartitionsToTxnTopicResult::default();
            r.name = t.name.clone();
            r.results_by_partition = t
                .partitions
                .iter()
                .map(|p| {
                    let mut pr = AddPartitionsToTxnPartitionResult::default();
                    pr.partition_index = *p;
                    pr.partition_error_code = *it.next().unwrap_or(&code::NONE);
                    pr
                })
                .collect();
            r
        })
        .collect()
}

fn flatten(
    topics: &[add_partitions_to_txn_request::AddPartitionsToTxnTopic],
) -> Vec<(String, i32)> {
    topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.0.as_str().to_string(), *p))
        })
        .collect()
}

/// Kafka's checks before adding partitions: WRITE on the transactional id (else every partition
/// fails with TRANSACTIONAL_ID_AUTHORIZATION_FAILED), then WRITE on each topic (the refused ones
/// fail with TOPIC_AUTHORIZATION_FAILED, the rest with OPERATION_NOT_ATTEMPTED).
fn txn_partitions_denied(
    state: &BrokerState,
    txn_id: &str,
    parts: &[(String, i32)],
) -> Option<Vec<i16>> {
    if !super::allowed(state, op::WRITE, resource::TRANSACTIONAL_ID, txn_id) {
        return Some(vec![
            code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
            parts.len()
        ]);
    }
    let refused: Vec<bool> = parts
        .iter()
        .map(|(t, _)| !super::allowed(state, op::WRITE, resource::TOPIC, t))
        .collect();
    refused.iter().any(|r| *r).then(|| {
        refused
            .iter()
            .map(|r| {
                if *r {
                    code::TOPIC_AUTHORIZATION_FAILED
                } else {
                    txn_code::OPERATION_NOT_ATTEMPTED
                }
            })
            .collect()
    })
}

pub async fn handle_add_partitions(
    state: &BrokerState,
    req: AddPartitionsToTxnRequest,
    version: i16,
) -> AddPartitionsToTxnResponse {
    let mut resp = AddPartitionsToTxnResponse::default();
    if version <= 3 {
        let parts = flatten(&req.v3_and_below_topics);
        if let Some(codes) =
            txn_partitions_denied(state, req.v3_and_below_transactional_id.0.as_str(), &parts)
        {
            resp.results_by_topic_v3_and_below = topic_results(&req.v3_and_below_topics, &codes);
            return resp;
        }
        let codes = state
            .txns
            .add_partitions(
                state,
                req.v3_and_below_transactional_id.0.as_str(),
                req.v3_and_below_producer_id.0,
                req.v3_and_below_producer_epoch,
                &parts,
                AddMode::Explicit,
            )
            .await;
        resp.results_by_topic_v3_and_below = topic_results(&req.v3_and_below_topics, &codes);
        return resp;
    }
    // The batched form (v4+) is broker-to-broker in Kafka: it needs CLUSTER_ACTION.
    if !super::allowed(state, op::CLUSTER_ACTION, resource::CLUSTER, CLUSTER_NAME) {
        resp.error_code = code::CLUSTER_AUTHORIZATION_FAILED;
        return resp;
    }
    for t in &req.transactions {
        let parts = flatten(&t.topics);
        let codes = state
            .txns
            .add_partitions(
                state,
                t.transactional_id.0.as_str(),
                t.producer_id.0,
                t.producer_epoch,
                &parts,
                if t.verify_only {
                    AddMode::Verify
                } else {
                    AddMode::Implicit
                },
            )
            .await;
        let mut r = AddPartitionsToTxnResult::default();
        r.transactional_id = t.transactional_id.clone();
        r.topic_results = topic_results(&t.topics, &codes);
        resp.results_by_transaction.push(r);
    }
    resp
}

/// WRITE on the transactional id: what every transactional request needs first.
fn may_write(state: &BrokerState, id: &TransactionalId) -> bool {
    super::allowed(state, op::WRITE, resource::TRANSACTIONAL_ID, id.0.as_str())
}

pub async fn handle_add_offsets(
    state: &BrokerState,
    req: AddOffsetsToTxnRequest,
    _version: i16,
) -> AddOffsetsToTxnResponse {
    let mut resp = AddOffsetsToTxnResponse::default();
    if !may_write(state, &req.transactional_id) {
        resp.error_code = code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return resp;
    }
    if !super::allowed(state, op::READ, resource::GROUP, req.group_id.0.as_str()) {
        resp.error_code = code::GROUP_AUTHORIZATION_FAILED;
        return resp;
    }
    resp.error_code = match TxnCoordinator::offsets_partition(state, req.group_id.0.as_str()) {
        Err(c) => c,
        Ok(part) => state
            .txns
            .add_partitions(
                state,
                req.transactional_id.0.as_str(),
                req.producer_id.0,
                req.producer_epoch,
                &[part],
                AddMode::Explicit,
            )
            .await
            .first()
            .copied()
            .unwrap_or(code::NONE),
    };
    resp
}

pub async fn handle_end_txn(
    state: &BrokerState,
    req: EndTxnRequest,
    version: i16,
) -> EndTxnResponse {
    let mut resp = EndTxnResponse::default();
    if !may_write(state, &req.transactional_id) {
        resp.error_code = code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        resp.producer_id = ProducerId(-1);
        resp.producer_epoch = -1;
        return resp;
    }
    match state
        .txns
        .end(
            state,
            req.transactional_id.0.as_str(),
            req.producer_id.0,
            req.producer_epoch,
            req.committed,
            version >= 5,
        )
        .await
    {
        Ok((pid, epoch)) => {
            resp.error_code = code::NONE;
            resp.producer_id = ProducerId(pid);
            resp.producer_epoch = epoch;
        }
        Err(c) => {
            resp.error_code = c;
            resp.producer_id = ProducerId(-1);
            resp.producer_epoch = -1;
        }
    }
    resp
}

/// TxnOffsetCommit: whether the producer owns the transaction and the group's offsets
/// partition is part of it. Transactions v2 (v5+) adds that partition implicitly, as Kafka's
/// group coordinator does instead of the client's AddOffsetsToTxn; older versions are checked
/// by the coordinator (KIP-890 part 1 verification when it is another broker).
async fn txn_owner(
    state: &BrokerState,
    txn_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    part: (String, i32),
    version: i16,
) -> i16 {
    if version < 5 && state.txns.placement(state, txn_id).is_ok() {
        let Some(t) = state.txns.get(txn_id) else {
            return txn_code::INVALID_PRODUCER_ID_MAPPING;
        };
        let m = t.lock().await;
        return if m.producer_id != producer_id {
            txn_code::INVALID_PRODUCER_ID_MAPPING
        } else if m.epoch != producer_epoch {
            txn_code::PRODUCER_FENCED
        } else {
            code::NONE
        };
    }
    if version < 5 && !state.txns.verification {
        return code::NONE;
    }
    let mode = if version >= 5 {
        AddMode::Implicit
    } else {
        AddMode::Verify
    };
    match crate::txn::join::add_or_verify(state, txn_id, producer_id, producer_epoch, part, mode)
        .await
    {
        txn_code::PRODUCER_FENCED if version >= 5 => txn_code::INVALID_PRODUCER_EPOCH,
        txn_code::TRANSACTION_ABORTABLE if version < 5 => txn_code::INVALID_TXN_STATE,
        c => c,
    }
}

pub async fn handle_txn_offset_commit(
    state: &BrokerState,
    req: TxnOffsetCommitRequest,
    version: i16,
) -> TxnOffsetCommitResponse {
    use kafka_protocol::messages::txn_offset_commit_response::{
        TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
    };
    let group = req.group_id.0.as_str().to_string();
    let denied = if !may_write(state, &req.transactional_id) {
        code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    } else if !super::allowed(state, op::READ, resource::GROUP, &group) {
        code::GROUP_AUTHORIZATION_FAILED
    } else {
        code::NONE
    };
    let txn_id = req.transactional_id.0.as_str();
    let owner = if denied != code::NONE {
        denied
    } else if super::groups::not_coordinator(state, &group) {
        super::groups::NOT_COORDINATOR
    } else {
        match TxnCoordinator::offsets_partition(state, &group) {
            Err(c) => c,
            Ok(part) => {
                txn_owner(
                    state,
                    txn_id,
                    req.producer_id.0,
                    req.producer_epoch,
                    part,
                    version,
                )
                .await
            }
        }
    };
    // A group member's commit is checked like a normal commit (generation and member).
    let member_code = if owner == code::NONE && !req.member_id.is_empty() {
        state
            .groups
            .group(&group)
            .map(|g| {
                g.lock().unwrap_or_else(|p| p.into_inner()).validate_commit(
                    req.generation_id,
                    req.member_id.as_str(),
                    req.group_instance_id.as_ref().map(|s| s.as_str()),
                )
            })
            .unwrap_or(crate::group::error::NONE)
    } else {
        owner
    };
    let items: Vec<CommitItem> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| CommitItem {
                topic: t.name.0.as_str().to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p
                    .committed_metadata
                    .as_ref()
                    .map(|m| m.as_str().to_string()),
            })
        })
        .collect();
    let topic_refused: Vec<bool> = items
        .iter()
        .map(|i| !super::allowed(state, op::READ, resource::TOPIC, &i.topic))
        .collect();
    let codes = if member_code != code::NONE {
        vec![member_code; items.len()]
    } else {
        // The topics the caller may read are committed; the others are refused, as Kafka does.
        let (allowed, _): (Vec<_>, Vec<_>) = items
            .into_iter()
            .zip(&topic_refused)
            .partition(|(_, refused)| !**refused);
        let allowed: Vec<CommitItem> = allowed.into_iter().map(|(i, _)| i).collect();
        let mut committed = if allowed.is_empty() {
            Vec::new()
        } else {
            state.groups.get_or_create(&group);
            let codes = state.groups.txn_commit(
                &state.cluster,
                &group,
                req.producer_id.0,
                req.producer_epoch,
                allowed,
            );
            // On a cluster the pending offsets count once the partition's ISR has them.
            match super::groups::await_offsets_replicated(state, &group).await {
                None => codes,
                Some(c) => codes
                    .into_iter()
                    .map(|x| if x == code::NONE { c } else { x })
                    .collect(),
            }
        }
        .into_iter();
        topic_refused
            .iter()
            .map(|refused| {
                if *refused {
                    code::TOPIC_AUTHORIZATION_FAILED
                } else {
                    committed.next().unwrap_or(code::NONE)
                }
            })
            .collect()
    };
    let mut it = codes.into_iter();
    let mut resp = TxnOffsetCommitResponse::default();
    resp.topics = req
        .topics
        .iter()
        .map(|t| {
            let mut rt = TxnOffsetCommitResponseTopic::default();
            rt.name = t.name.clone();
            rt.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut rp = TxnOffsetCommitResponsePartition::default();
                    rp.partition_index = p.partition_index;
                    rp.error_code = it.next().unwrap_or(code::NONE);
                    rp
                })
                .collect();
            rt
        })
        .collect();
    resp
}

pub async fn handle_describe_transactions(
    state: &BrokerState,
    req: DescribeTransactionsRequest,
    _version: i16,
) -> DescribeTransactionsResponse {
    use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
    let mut resp = DescribeTransactionsResponse::default();
    for id in &req.transactional_ids {
        let mut ts = TransactionState::default();
        ts.transactional_id = id.clone();
        if !super::allowed(
            state,
            op::DESCRIBE,
            resource::TRANSACTIONAL_ID,
            id.0.as_str(),
        ) {
            ts.error_code = code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
            ts.producer_id = ProducerId(-1);
            ts.producer_epoch = -1;
            resp.transaction_states.push(ts);
            continue;
        }
        if let Err(c) = state.txns.placement(state, id.0.as_str()) {
            ts.error_code = c;
            ts.producer_id = ProducerId(-1);
            ts.producer_epoch = -1;
            resp.transaction_states.push(ts);
            continue;
        }
        match state.txns.get(id.0.as_str()) {
            None => {
                ts.error_code = txn_code::TRANSACTIONAL_ID_NOT_FOUND;
                ts.producer_id = ProducerId(-1);
                ts.producer_epoch = -1;
            }
            Some(t) => {
                let m = t.lock().await;
                ts.error_code = code::NONE;
                ts.transaction_state = str(m.state.name());
                ts.transaction_timeout_ms = m.timeout_ms;
                ts.transaction_start_time_ms = m.start_ms;
                ts.producer_id = ProducerId(m.producer_id);
                ts.producer_epoch = m.epoch;
                let mut by_topic: std::collections::BTreeMap<String, Vec<i32>> = Default::default();
                for (t, p) in &m.partitions {
                    by_topic.entry(t.clone()).or_default().push(*p);
                }
                ts.topics = by_topic
                    .into_iter()
                    .map(|(t, ps)| {
                        let mut d = TopicData::default();
                        d.topic = super::topic_name(t);
                        d.partitions = ps;
                        d
                    })
                    .collect();
            }
        }
        resp.transaction_states.push(ts);
    }
    resp
}

pub async fn handle_list_transactions(
    state: &BrokerState,
    req: ListTransactionsRequest,
    _version: i16,
) -> ListTransactionsResponse {
    use kafka_protocol::messages::list_transactions_response::TransactionState;
    const STATES: &[&str] = &[
        "Empty",
        "Ongoing",
        "PrepareCommit",
        "PrepareAbort",
        "CompleteCommit",
        "CompleteAbort",
        "Dead",
        "PrepareEpochFence",
    ];
    let mut resp = ListTransactionsResponse::default();
    resp.unknown_state_filters = req
        .state_filters
        .iter()
        .filter(|s| !STATES.contains(&s.as_str()))
        .cloned()
        .collect();
    let pattern = req
        .transactional_id_pattern
        .as_ref()
        .and_then(|p| regex::Regex::new(&format!("^(?:{})$", p.as_str())).ok());
    let now = crate::log::segment::now_ms();
    for t in state.txns.all() {
        let m = t.lock().await;
        // Each broker lists the ids it coordinates (the admin client asks them all).
        if state.txns.placement(state, &m.id).is_err() {
            continue;
        }
        if !req.state_filters.is_empty()
            && !req
                .state_filters
                .iter()
                .any(|s| s.as_str() == m.state.name())
        {
            continue;
        }
        if !req.producer_id_filters.is_empty()
            && !req.producer_id_filters.iter().any(|p| p.0 == m.producer_id)
        {
            continue;
        }
        if req.duration_filter >= 0 && (m.start_ms < 0 || now - m.start_ms < req.duration_filter) {
            continue;
        }
        if pattern.as_ref().is_some_and(|r| !r.is_match(&m.id))
            || !super::allowed(state, op::DESCRIBE, resource::TRANSACTIONAL_ID, &m.id)
        {
            continue;
        }
        let mut ts = TransactionState::default();
        ts.transactional_id = TransactionalId(str(m.id.clone()));
        ts.producer_id = ProducerId(m.producer_id);
        ts.transaction_state = str(m.state.name());
        resp.transaction_states.push(ts);
    }
    resp
}

pub async fn handle_describe_producers(
    state: &BrokerState,
    req: DescribeProducersRequest,
    _version: i16,
) -> DescribeProducersResponse {
    use kafka_protocol::messages::describe_producers_response::{
        PartitionResponse, ProducerState, TopicResponse,
    };
    let mut resp = DescribeProducersResponse::default();
    for t in &req.topics {
        let mut tr = TopicResponse::default();
        tr.name = t.name.clone();
        for p in &t.partition_indexes {
            let mut pr = PartitionResponse::default();
            pr.partition_index = *p;
            if !super::allowed(state, op::READ, resource::TOPIC, t.name.0.as_str()) {
                pr.error_code = code::TOPIC_AUTHORIZATION_FAILED;
                tr.partitions.push(pr);
                continue;
            }
            match state.cluster.partition(t.name.0.as_str(), *p) {
                None => pr.error_code = code::UNKNOWN_TOPIC_OR_PARTITION,
                Some(part) => {
                    pr.active_producers = part
                        .producers()
                        .into_iter()
                        .map(|(pid, epoch, last_seq, ts, txn)| {
                            let mut s = ProducerState::default();
                            s.producer_id = ProducerId(pid);
                            s.producer_epoch = epoch as i32;
                            s.last_sequence = last_seq;
                            s.last_timestamp = ts;
                            s.coordinator_epoch = 0;
                            s.current_txn_start_offset = txn.unwrap_or(-1);
                            s
                        })
                        .collect();
                }
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    resp
}

/// A producer id block has not arrived from the controller yet; the client retries.
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;

/// WriteTxnMarkers (from a transaction coordinator on another broker): each partition gets the
/// marker from this broker as its leader, with acks=all; a marker on an offsets partition
/// settles the group's pending transactional offsets. Needs CLUSTER_ACTION, as in Kafka.
pub async fn handle_write_txn_markers(
    state: &BrokerState,
    req: WriteTxnMarkersRequest,
    _version: i16,
) -> WriteTxnMarkersResponse {
    use kafka_protocol::messages::write_txn_markers_response::{
        WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
    };
    let permitted = super::allowed(state, op::CLUSTER_ACTION, resource::CLUSTER, CLUSTER_NAME);
    let mut resp = WriteTxnMarkersResponse::default();
    for m in req.markers {
        let parts: Vec<(String, i32)> = m
            .topics
            .iter()
            .flat_map(|t| {
                t.partition_indexes
                    .iter()
                    .map(move |p| (t.name.0.as_str().to_string(), *p))
            })
            .collect();
        let codes = if permitted {
            let marker = crate::txn::markers::Marker {
                producer_id: m.producer_id.0,
                producer_epoch: m.producer_epoch,
                commit: m.transaction_result,
                coordinator_epoch: m.coordinator_epoch,
            };
            crate::txn::markers::write_local(state, marker, &parts).await
        } else {
            vec![code::CLUSTER_AUTHORIZATION_FAILED; parts.len()]
        };
        let mut codes = codes.into_iter();
        let mut r = WritableTxnMarkerResult::default();
        r.producer_id = m.producer_id;
        r.topics = m
            .topics
            .iter()
            .map(|t| {
                let mut tr = WritableTxnMarkerTopicResult::default();
                tr.name = t.name.clone();
                tr.partitions = t
                    .partition_indexes
                    .iter()
                    .map(|p| {
                        let mut pr = WritableTxnMarkerPartitionResult::default();
                        pr.partition_index = *p;
                        pr.error_code = codes.next().unwrap_or(code::NONE);
                        pr
                    })
                    .collect();
                tr
            })
            .collect();
        resp.markers.push(r);
    }
    resp
}
