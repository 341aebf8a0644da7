//! Fetch: long poll (`max_wait_ms` / `min_bytes`) woken by high-watermark moves, response and
//! per-partition byte limits with the first-batch-always-fits rule, fetch sessions. Records are
//! the stored bytes, never re-encoded.

use std::time::Duration;

use bytes::Bytes;
use futures::future::select_all;
use indexmap::IndexMap;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId};
use tokio::time::Instant;
use uuid::Uuid;

use crate::broker::BrokerState;
use crate::log::LogError;

use super::fetch_session::{PartitionKey, SessionMode, SessionPartition};
use super::{check_leader_epoch, code, topic_name};

/// Upper bound on how long one fetch may wait, whatever the client asks.
const MAX_WAIT_CAP_MS: u64 = 30_000;

struct Served {
    key: PartitionKey,
    topic_id: Uuid,
    data: PartitionData,
    bytes: usize,
    changed: bool,
}

fn empty_partition(partition: i32, error: i16) -> PartitionData {
    let mut d = PartitionData::default();
    d.partition_index = partition;
    d.error_code = error;
    d.high_watermark = -1;
    d.last_stable_offset = -1;
    d.log_start_offset = -1;
    d.preferred_read_replica = BrokerId(-1);
    d.records = Some(Bytes::new());
    d
}

/// A partition answer without records, carrying the partition's current offsets.
fn with_offsets(mut d: PartitionData, p: &crate::log::Partition) -> PartitionData {
    d.high_watermark = p.high_watermark();
    d.last_stable_offset = p.last_stable_offset();
    d.log_start_offset = p.log_start_offset();
    d
}

/// Reads every partition once, within the response limit.
fn read_all(
    state: &BrokerState,
    parts: &[SessionPartition],
    max_bytes: usize,
    read_committed: bool,
    use_ids: bool,
    replica: i32,
    client_rack: Option<&str>,
) -> Vec<Served> {
    let mut out = Vec::with_capacity(parts.len());
    let mut total = 0usize;
    for sp in parts {
        let key = (sp.topic.clone(), sp.partition);
        let topic = if use_ids {
            state.cluster.topic_by_id(&sp.topic_id)
        } else {
            state.cluster.topic(&sp.topic)
        };
        let missing = if use_ids {
            code::UNKNOWN_TOPIC_ID
        } else {
            code::UNKNOWN_TOPIC_OR_PARTITION
        };
        let Some(p) = topic.and_then(|t| t.partition(sp.partition)) else {
            out.push(Served {
                key,
                topic_id: sp.topic_id,
                data: empty_partition(sp.partition, missing),
                bytes: 0,
                changed: true,
            });
            continue;
        };
        if !super::allowed(
            state,
            crate::security::acl::op::READ,
            crate::security::acl::resource::TOPIC,
            &p.topic,
        ) {
            out.push(Served {
                key,
                topic_id: sp.topic_id,
                data: empty_partition(sp.partition, code::TOPIC_AUTHORIZATION_FAILED),
                bytes: 0,
                changed: true,
            });
            continue;
        }
        let epoch_err = match &state.replicas {
            // A consumer that sends client metadata (v11+) may read from any replica.
            Some(rm) if client_rack.is_some() => rm
                .check_replica(&p.topic, p.index, sp.current_leader_epoch)
                .err()
                .unwrap_or(code::NONE),
            Some(rm) => rm
                .check_leader(&p.topic, p.index, sp.current_leader_epoch)
                .err()
                .unwrap_or(code::NONE),
            None => check_leader_epoch(sp.current_leader_epoch, p.leader_epoch()),
        };
        if epoch_err != code::NONE {
            out.push(Served {
                key,
                topic_id: sp.topic_id,
                data: empty_partition(sp.partition, epoch_err),
                bytes: 0,
                changed: true,
            });
            continue;
        }
        let room = max_bytes.saturating_sub(total);
        let limit = room.min(sp.max_bytes.max(0) as usize);
        let min_one = total == 0;
        let mut d = empty_partition(sp.partition, code::NONE);
        let preferred = match (&state.replicas, client_rack) {
            (Some(rm), Some(rack)) => {
                rm.preferred_read_replica(&p.topic, p.index, rack, sp.fetch_offset)
            }
            _ => None,
        };
        // Answers without records: KIP-392 sends the consumer to the follower in its rack; a
        // follower whose last batch's epoch ends earlier here holds records this leader does
        // not, and is told where the logs diverge (Kafka's
        // validateFetchOffsetAndMaybeGetDivergingEpoch; no answer for an epoch that old is not
        // a divergence, the fetch goes on by offset).
        let no_records = if let Some(b) = preferred {
            d.preferred_read_replica = BrokerId(b);
            true
        } else if replica >= 0 && sp.last_fetched_epoch >= 0 {
            let (epoch, end) = p.end_offset_for_epoch(sp.last_fetched_epoch);
            let diverges = end >= 0 && (epoch < sp.last_fetched_epoch || end < sp.fetch_offset);
            if diverges {
                d.diverging_epoch.epoch = epoch;
                d.diverging_epoch.end_offset = end;
            }
            diverges
        } else {
            false
        };
        if no_records {
            out.push(Served {
                key,
                topic_id: sp.topic_id,
                data: with_offsets(d, &p),
                bytes: 0,
                changed: true,
            });
            continue;
        }
        let result = if replica >= 0 {
            let r = p.read_replica(sp.fetch_offset, limit.max(1));
            if r.is_ok() {
                if let Some(rm) = &state.replicas {
                    rm.on_follower_fetch(&p, replica, sp.fetch_offset, p.log_end_offset());
                }
            }
            r
        } else if limit == 0 && !min_one {
            // Out of room: report offsets only.
            Ok(crate::log::ReadInfo {
                records: Bytes::new(),
                high_watermark: p.high_watermark(),
                last_stable_offset: p.last_stable_offset(),
                log_start_offset: p.log_start_offset(),
                aborted: read_committed.then(Vec::new),
            })
        } else {
            p.read_isolated(sp.fetch_offset, limit, min_one, read_committed)
        };
        match result {
            Ok(info) => {
                d.high_watermark = info.high_watermark;
                d.last_stable_offset = info.last_stable_offset;
                d.log_start_offset = info.log_start_offset;
                d.aborted_transactions = info.aborted.map(|list| {
                    list.into_iter()
                        .map(|(pid, first)| {
                            let mut a = AbortedTransaction::default();
                            a.producer_id = ProducerId(pid);
                            a.first_offset = first;
                            a
                        })
                        .collect()
                });
                let n = info.records.len();
                total += n;
                let changed = n > 0
                    || info.high_watermark != sp.last_high_watermark
                    || info.log_start_offset != sp.last_log_start;
                d.records = Some(info.records);
                out.push(Served {
                    key,
                    topic_id: sp.topic_id,
                    data: d,
                    bytes: n,
                    changed,
                });
            }
            Err(e) => {
                if let LogError::Io { .. } = e {
                    tracing::error!("fetch from {}-{} failed: {e}", p.topic, p.index);
                }
                out.push(Served {
                    key,
                    topic_id: sp.topic_id,
                    data: with_offsets(empty_partition(sp.partition, e.code()), &p),
                    bytes: 0,
                    changed: true,
                });
            }
        }
    }
    out
}

pub async fn handle(state: &BrokerState, req: FetchRequest, version: i16) -> FetchResponse {
    let use_ids = version >= 13;
    // A follower's fetch (replica id >= 0) reads to the log end and reports its position.
    let replica = if version >= 15 {
        req.replica_state.replica_id.0
    } else {
        req.replica_id.0
    };
    let replica = if state.replicas.is_some() {
        replica
    } else {
        -1
    };
    // Only brokers fetch as replicas: with an authorizer, that takes CLUSTER_ACTION on the
    // cluster, as Kafka requires (a client posing as a follower could move the high watermark).
    if replica >= 0
        && !super::allowed(
            state,
            crate::security::acl::op::CLUSTER_ACTION,
            crate::security::acl::resource::CLUSTER,
            crate::security::acl::CLUSTER_NAME,
        )
    {
        let mut resp = FetchResponse::default();
        resp.error_code = 31;
        return resp;
    }
    let mut parts = Vec::new();
    for t in &req.topics {
        let name = if use_ids {
            state
                .cluster
                .topic_by_id(&t.topic_id)
                .map(|x| x.meta.name.clone())
                .unwrap_or_else(|| format!("<unknown {}>", t.topic_id))
        } else {
            t.topic.0.as_str().to_string()
        };
        for p in &t.partitions {
            parts.push(SessionPartition {
                topic: name.clone(),
                topic_id: t.topic_id,
                partition: p.partition,
                fetch_offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes,
                current_leader_epoch: p.current_leader_epoch,
                last_fetched_epoch: p.last_fetched_epoch,
                last_high_watermark: -1,
                last_log_start: -1,
            });
        }
    }
    let forgotten: Vec<PartitionKey> = req
        .forgotten_topics_data
        .iter()
        .flat_map(|f| {
            let name = if use_ids {
                state
                    .cluster
                    .topic_by_id(&f.topic_id)
                    .map(|x| x.meta.name.clone())
                    .unwrap_or_else(|| format!("<unknown {}>", f.topic_id))
            } else {
                f.topic.0.as_str().to_string()
            };
            f.partitions.iter().map(move |p| (name.clone(), *p))
        })
        .collect();
    let begun = {
        let mut cache = state
            .fetch_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        cache.begin(req.session_id, req.session_epoch, parts, &forgotten)
    };
    let (mode, parts) = match begun {
        Ok(x) => x,
        Err(error) => {
            let mut resp = FetchResponse::default();
            resp.error_code = error;
            resp.session_id = 0;
            return resp;
        }
    };
    let (session_id, incremental) = match mode {
        SessionMode::Sessionless => (0, false),
        SessionMode::New(id) => (id, false),
        SessionMode::Incremental(id) => (id, true),
    };
    let read_committed = req.isolation_level == 1;
    // Client metadata (KIP-392): a consumer's rack, from v11.
    let rack =
        (version >= 11 && replica < 0 && state.replicas.is_some()).then(|| req.rack_id.to_string());
    let client_rack = rack.as_deref();
    // Kafka bounds every response by the broker's fetch.max.bytes, whatever the client asks.
    let broker_max = state.config.fetch_max_bytes;
    let max_bytes = if req.max_bytes <= 0 {
        broker_max
    } else {
        (req.max_bytes as usize).min(broker_max)
    };
    let min_bytes = req.min_bytes.max(0) as usize;
    let wait = Duration::from_millis((req.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP_MS));
    let deadline = Instant::now() + wait;

    // Subscribe before the first read so an append between read and wait is not missed.
    let mut watchers: Vec<_> = parts
        .iter()
        .filter_map(|sp| {
            let t = if use_ids {
                state.cluster.topic_by_id(&sp.topic_id)
            } else {
                state.cluster.topic(&sp.topic)
            }?;
            let p = t.partition(sp.partition)?;
            // Followers wait for new records; consumers for the high watermark.
            Some(if replica >= 0 {
                p.subscribe_log_end()
            } else {
                p.subscribe()
            })
        })
        .collect();
    let served = loop {
        for w in watchers.iter_mut() {
            w.borrow_and_update();
        }
        let served = read_all(
            state,
            &parts,
            max_bytes,
            read_committed,
            use_ids,
            replica,
            client_rack,
        );
        let bytes: usize = served.iter().map(|s| s.bytes).sum();
        let errored = served.iter().any(|s| s.data.error_code != code::NONE);
        let now = Instant::now();
        if bytes >= min_bytes
            || bytes > 0 && min_bytes == 0
            || errored
            || now >= deadline
            || watchers.is_empty()
        {
            break served;
        }
        let changes = select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
        match tokio::time::timeout_at(deadline, changes).await {
            Ok((Ok(()), _, _)) => continue,
            // Deadline passed, or a partition went away: answer with what there is.
            _ => {
                break read_all(
                    state,
                    &parts,
                    max_bytes,
                    read_committed,
                    use_ids,
                    replica,
                    client_rack,
                )
            }
        }
    };

    if session_id != 0 {
        let report: Vec<_> = served
            .iter()
            .map(|s| {
                (
                    s.key.clone(),
                    s.data.high_watermark,
                    s.data.log_start_offset,
                    s.bytes > 0,
                )
            })
            .collect();
        state
            .fetch_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .complete(session_id, &report);
    }

    if let Some(m) = crate::metrics::get() {
        m.bytes_out
            .inc_by(served.iter().map(|s| s.bytes as u64).sum());
    }
    let mut topics: IndexMap<(String, Uuid), Vec<PartitionData>> = IndexMap::new();
    for s in served {
        if incremental && !s.changed {
            continue;
        }
        topics
            .entry((s.key.0.clone(), s.topic_id))
            .or_default()
            .push(s.data);
    }
    let mut resp = FetchResponse::default();
    // KIP-951: partitions this broker no longer leads name their leader, and the response
    // carries its address.
    let mut hinted = std::collections::BTreeSet::new();
    if let Some(rm) = &state.replicas {
        for parts in topics.iter_mut() {
            let name = parts.0 .0.clone();
            for d in parts.1.iter_mut() {
                if !matches!(d.error_code, 6 | 74) {
                    continue;
                }
                if let Some(l) = rm
                    .leadership(&name, d.partition_index)
                    .filter(|l| l.leader >= 0)
                {
                    d.current_leader.leader_id = BrokerId(l.leader);
                    d.current_leader.leader_epoch = l.leader_epoch;
                    hinted.insert(l.leader);
                }
            }
        }
        let listener = super::metadata::advertised_for_request(state)
            .map(|l| l.name.clone())
            .unwrap_or_default();
        resp.node_endpoints = hinted
            .into_iter()
            .filter_map(|b| {
                let (host, port, rack) = rm.endpoint_of(b, &listener)?;
                let mut e = kafka_protocol::messages::fetch_response::NodeEndpoint::default();
                e.node_id = BrokerId(b);
                e.host = super::str(host);
                e.port = port as i32;
                e.rack = rack.map(super::str);
                Some(e)
            })
            .collect();
    }
    resp.error_code = code::NONE;
    resp.session_id = session_id;
    resp.responses = topics
        .into_iter()
        .map(|((name, id), partitions)| {
            let mut t = FetchableTopicResponse::default();
            if use_ids {
                t.topic_id = id;
            } else {
                t.topic = topic_name(name);
            }
            t.partitions = partitions;
            t
        })
        .collect();
    resp
}
