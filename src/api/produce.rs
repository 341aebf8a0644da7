//! Produce: validate and append one batch per partition; acks 0/1/-1 (on one broker, -1 is
//! satisfied as soon as the local append is).

use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{BrokerId, ProduceRequest, ProduceResponse};

use crate::broker::BrokerState;
use crate::log::batch::{BatchError, BatchHeader};
use crate::log::partition::Partition;
use crate::log::LogError;
use crate::txn::coordinator::{code as txn_code, AddMode};

use super::{code, str};
use crate::replica::durable;

fn partition_error(index: i32, error: i16, message: Option<String>) -> PartitionProduceResponse {
    let mut r = PartitionProduceResponse::default();
    r.index = index;
    r.error_code = error;
    r.base_offset = -1;
    r.log_append_time_ms = -1;
    r.log_start_offset = -1;
    r.error_message = message.map(str);
    r
}

/// A transactional batch's partition must be part of its transaction before it is written.
/// Produce v12+ (transactions v2) adds it implicitly; older versions only verify that the
/// producer added it (KIP-890 part 1, `transaction.partition.verification.enable`). Only the
/// transaction's first write to the partition reaches the coordinator. Errors are mapped as
/// Kafka's partition leader maps them for each request version.
async fn join_transaction(
    state: &BrokerState,
    txn_id: &str,
    part: &Partition,
    h: &BatchHeader,
    version: i16,
) -> Result<(), i16> {
    if part.in_transaction(h.producer_id, h.producer_epoch) {
        return Ok(());
    }
    let add = version >= 12;
    if !add && !state.txns.verification {
        return Ok(());
    }
    let mode = if add {
        AddMode::Implicit
    } else {
        AddMode::Verify
    };
    let mut waited_ms = 0;
    loop {
        let c = crate::txn::join::add_or_verify(
            state,
            txn_id,
            h.producer_id,
            h.producer_epoch,
            (part.topic.clone(), part.index),
            mode,
        )
        .await;
        return Err(match c {
            code::NONE => return Ok(()),
            // The previous transaction's markers may still be going out: retry briefly.
            txn_code::CONCURRENT_TRANSACTIONS if add && waited_ms < 100 => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                waited_ms += 20;
                continue;
            }
            txn_code::CONCURRENT_TRANSACTIONS if add => c,
            txn_code::CONCURRENT_TRANSACTIONS | txn_code::COORDINATOR_NOT_AVAILABLE => {
                code::NOT_ENOUGH_REPLICAS
            }
            txn_code::PRODUCER_FENCED => txn_code::INVALID_PRODUCER_EPOCH,
            txn_code::TRANSACTION_ABORTABLE if version < 11 => txn_code::INVALID_TXN_STATE,
            other => other,
        });
    }
}

tokio::task_local! {
    /// The connection's append-order lock, held while this request appends (cluster mode).
    pub static APPEND_ORDER: std::cell::RefCell<Option<tokio::sync::OwnedMutexGuard<()>>>;
}

/// Lets the connection's next Produce append: this one's appends are done.
fn release_append_order() {
    let _ = APPEND_ORDER.try_with(|g| g.borrow_mut().take());
}

pub async fn handle(state: &BrokerState, req: ProduceRequest, version: i16) -> ProduceResponse {
    use crate::security::acl::{op, resource};
    let acks_ok = matches!(req.acks, -1..=1);
    let txn_id = req
        .transactional_id
        .as_ref()
        .map(|t| t.0.as_str().to_string())
        .filter(|t| !t.is_empty());
    let txn_denied = txn_id
        .as_ref()
        .is_some_and(|t| !super::allowed(state, op::WRITE, resource::TRANSACTIONAL_ID, t));
    let mut responses = Vec::with_capacity(req.topic_data.len());
    let mut hinted = std::collections::BTreeSet::new();
    // acks=all on a cluster: (topic, partition response, partition, last offset) to wait for.
    let mut waits = Vec::new();
    for td in req.topic_data {
        let topic = if td.topic_id.is_nil() {
            state.cluster.topic(td.name.0.as_str())
        } else {
            state.cluster.topic_by_id(&td.topic_id)
        };
        let missing = if td.topic_id.is_nil() {
            code::UNKNOWN_TOPIC_OR_PARTITION
        } else {
            code::UNKNOWN_TOPIC_ID
        };
        let internal = topic
            .as_ref()
            .is_some_and(|t| crate::cluster::is_internal(&t.meta.name));
        let name_for_acl = topic
            .as_ref()
            .map(|t| t.meta.name.clone())
            .unwrap_or_else(|| td.name.0.as_str().to_string());
        let denied = !super::allowed(state, op::WRITE, resource::TOPIC, &name_for_acl);
        let mut parts = Vec::with_capacity(td.partition_data.len());
        for pd in td.partition_data {
            if txn_denied {
                parts.push(partition_error(
                    pd.index,
                    code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                    None,
                ));
                continue;
            }
            if denied {
                parts.push(partition_error(
                    pd.index,
                    code::TOPIC_AUTHORIZATION_FAILED,
                    None,
                ));
                continue;
            }
            if internal {
                // Only the coordinators write there, as in Kafka.
                parts.push(partition_error(
                    pd.index,
                    code::INVALID_TOPIC_EXCEPTION,
                    Some("Cannot append to internal topic".into()),
                ));
                continue;
            }
            if !acks_ok {
                parts.push(partition_error(pd.index, code::INVALID_REQUIRED_ACKS, None));
                continue;
            }
            let Some(p) = topic.as_ref().and_then(|t| t.partition(pd.index)) else {
                parts.push(partition_error(pd.index, missing, None));
                continue;
            };
            // The leader epoch of this append: an acks=all wait that sees it change fails.
            let mut led_at = -1;
            if let Some(rm) = &state.replicas {
                match rm.check_leader(&p.topic, p.index, -1) {
                    Ok(e) => led_at = e,
                    Err(c) => {
                        let mut r = partition_error(pd.index, c, None);
                        // KIP-951: name the leader so the client need not refresh metadata.
                        if let Some(l) = rm.leadership(&p.topic, p.index).filter(|l| l.leader >= 0)
                        {
                            r.current_leader.leader_id = BrokerId(l.leader);
                            r.current_leader.leader_epoch = l.leader_epoch;
                            hinted.insert(l.leader);
                        }
                        parts.push(r);
                        continue;
                    }
                }
                if req.acks == -1 {
                    let min_isr = durable::min_insync_replicas(state, &p);
                    let isr = rm.isr_size(&p.topic, p.index);
                    if (isr as i32) < min_isr {
                        parts.push(partition_error(
                            pd.index,
                            code::NOT_ENOUGH_REPLICAS,
                            Some(format!(
                                "The size of the current ISR {isr} is insufficient to satisfy the min.isr requirement of {min_isr} for partition {}-{}",
                                p.topic, p.index
                            )),
                        ));
                        continue;
                    }
                }
            }
            let records = pd.records.unwrap_or_default();
            // Parsed once: the transaction check and the record count use the same header.
            let header = BatchHeader::parse(&records);
            if let Some(h) = header.as_ref().filter(|h| h.is_transactional()) {
                // Transactional records need the transactional id they belong to.
                let joined = match &txn_id {
                    None => Err(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
                    Some(id) => join_transaction(state, id, &p, h, version).await,
                };
                if let Err(c) = joined {
                    parts.push(partition_error(pd.index, c, None));
                    continue;
                }
            }
            match p.append(&records) {
                Ok(info) => {
                    if let Some(m) = crate::metrics::get() {
                        m.bytes_in.inc_by(records.len() as u64);
                        let n = header.as_ref().map_or(0, |h| h.records_count);
                        m.messages_in.inc_by(n.max(0) as u64);
                    }
                    let mut r = PartitionProduceResponse::default();
                    r.index = pd.index;
                    r.error_code = code::NONE;
                    if req.acks == -1 && state.replicas.is_some() {
                        let last = info.base_offset
                            + header.as_ref().map_or(0, |h| h.last_offset_delta as i64);
                        waits.push((responses.len(), parts.len(), p.clone(), led_at, last));
                    }
                    r.base_offset = info.base_offset;
                    r.log_append_time_ms = info.log_append_time;
                    r.log_start_offset = info.log_start_offset;
                    parts.push(r);
                }
                Err(e) => {
                    let msg = e.to_string();
                    match &e {
                        LogError::Io { .. } => {
                            tracing::error!("append to {}-{} failed: {msg}", p.topic, p.index)
                        }
                        _ => tracing::info!("rejected produce to {}-{}: {msg}", p.topic, p.index),
                    }
                    let mut r = partition_error(pd.index, e.code(), Some(msg.clone()));
                    // Kafka lists the offending records by their index in the batch.
                    // record_errors exist from v8.
                    if let (true, LogError::Batch(BatchError::InvalidRecords { indexes, .. })) =
                        (version >= 8, &e)
                    {
                        r.record_errors = indexes
                            .iter()
                            .map(|i| {
                                let mut be = BatchIndexAndErrorMessage::default();
                                be.batch_index = *i;
                                be.batch_index_error_message = None;
                                be
                            })
                            .collect();
                    }
                    parts.push(r);
                }
            }
        }
        let mut tr = TopicProduceResponse::default();
        tr.name = td.name;
        tr.topic_id = td.topic_id;
        tr.partition_responses = parts;
        responses.push(tr);
    }
    // Appended: the connection's next Produce may append while this one waits for its ISR.
    release_append_order();
    if let Some(rm) = &state.replicas {
        for (t, i, p, led_at, last) in waits {
            let mut c = durable::await_replication(rm, &p, led_at, last, req.timeout_ms).await;
            // Kafka's DelayedProduce: replicated, but the ISR shrank below min.insync.replicas
            // meanwhile.
            if c == code::NONE
                && (rm.isr_size(&p.topic, p.index) as i32) < durable::min_insync_replicas(state, &p)
            {
                c = crate::replica::code::NOT_ENOUGH_REPLICAS_AFTER_APPEND;
            }
            if c != code::NONE {
                if let Some(r) = responses
                    .get_mut(t)
                    .and_then(|tr: &mut TopicProduceResponse| tr.partition_responses.get_mut(i))
                {
                    let index = r.index;
                    *r = partition_error(index, c, None);
                }
            }
        }
    }
    let mut resp = ProduceResponse::default();
    resp.responses = responses;
    if let Some(rm) = &state.replicas {
        let listener = super::metadata::advertised_for_request(state)
            .map(|l| l.name.clone())
            .unwrap_or_default();
        resp.node_endpoints = hinted
            .into_iter()
            .filter_map(|b| {
                let (host, port, rack) = rm.endpoint_of(b, &listener)?;
                let mut e = NodeEndpoint::default();
                e.node_id = BrokerId(b);
                e.host = str(host);
                e.port = port as i32;
                e.rack = rack.map(str);
                Some(e)
            })
            .collect();
    }
    resp
}
