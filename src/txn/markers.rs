//! Transaction markers: the coordinator's second phase. Each partition of a transaction gets a
//! COMMIT or ABORT control batch from its leader: written here when this broker leads it (or on
//! a single broker), else sent to the leader in a WriteTxnMarkers request, one per leader. The
//! leader writes markers with acks=all, and a marker on a `__consumer_offsets` partition also
//! applies or drops the group's pending transactional offsets there.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest};
use kafka_protocol::protocol::StrBytes;

use crate::broker::BrokerState;
use crate::log::partition::Partition;
use crate::replica::durable;

/// One transaction's outcome, as every partition of it records it.
#[derive(Clone, Copy, Debug)]
pub struct Marker {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    /// The coordinator's epoch (its transaction-log partition's leader epoch).
    pub coordinator_epoch: i32,
}

/// How long a marker may wait for its partition's ISR.
const MARKER_TIMEOUT_MS: i32 = 10_000;

/// Errors after which a partition needs no marker from this coordinator: the producer has
/// moved to a newer epoch there (a marker for this transaction was already written, or a newer
/// coordinator took over), or the partition is gone.
fn settled(code: i16) -> bool {
    const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    const INVALID_PRODUCER_EPOCH: i16 = 47;
    const TRANSACTION_COORDINATOR_FENCED: i16 = 52;
    matches!(
        code,
        0 | INVALID_PRODUCER_EPOCH | TRANSACTION_COORDINATOR_FENCED | UNKNOWN_TOPIC_OR_PARTITION
    )
}

/// Writes the marker on every partition; returns the partitions still without one.
pub async fn write(
    state: &BrokerState,
    marker: Marker,
    parts: &[(String, i32)],
) -> Vec<(String, i32)> {
    let Some(rm) = &state.replicas else {
        let codes = write_local(state, marker, parts).await;
        return parts
            .iter()
            .zip(codes)
            .filter(|(_, c)| !settled(*c))
            .map(|(p, _)| p.clone())
            .collect();
    };
    let img = rm.image();
    let mut failed = Vec::new();
    let mut local = Vec::new();
    let mut remote: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
    for (t, p) in parts {
        let leader = img
            .topic_by_name(t)
            .and_then(|ti| ti.partitions.get(p))
            .map(|pi| pi.leader);
        match leader {
            None => {} // deleted since it joined
            Some(l) if l == rm.node_id => local.push((t.clone(), *p)),
            Some(l) if l >= 0 => remote.entry(l).or_default().push((t.clone(), *p)),
            Some(_) => failed.push((t.clone(), *p)), // offline: later
        }
    }
    let (local_codes, remote_failed) = tokio::join!(
        write_local(state, marker, &local),
        futures::future::join_all(
            remote
                .into_iter()
                .map(|(leader, ps)| send_to_leader(state, leader, marker, ps))
        )
    );
    for ((t, p), c) in local.into_iter().zip(local_codes) {
        if !settled(c) {
            tracing::debug!(
                "marker for producer {} on {t}-{p}: error {c}",
                marker.producer_id
            );
            failed.push((t, p));
        }
    }
    failed.extend(remote_failed.into_iter().flatten());
    failed
}

/// A single broker: the marker is durable once appended.
fn write_local_unreplicated(state: &BrokerState, part: &Partition, marker: Marker) -> i16 {
    match part.write_marker(marker.producer_id, marker.producer_epoch, marker.commit) {
        Ok(_) => {
            applied(state, part, marker);
            0
        }
        Err(e) => {
            tracing::error!(
                "cannot write transaction marker to {}-{}: {e}",
                part.topic,
                part.index
            );
            e.code()
        }
    }
}

/// Writes the marker on partitions this broker leads, all appended first and then awaited
/// together; one Kafka error code per partition (0: written and replicated).
pub async fn write_local(state: &BrokerState, marker: Marker, parts: &[(String, i32)]) -> Vec<i16> {
    const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    let Some(rm) = &state.replicas else {
        return parts
            .iter()
            .map(|(t, p)| match state.cluster.partition(t, *p) {
                Some(part) => write_local_unreplicated(state, &part, marker),
                None => UNKNOWN_TOPIC_OR_PARTITION,
            })
            .collect();
    };
    let begun: Vec<Result<(Arc<Partition>, durable::PendingAppend), i16>> = parts
        .iter()
        .map(|(t, p)| {
            let part = state
                .cluster
                .partition(t, *p)
                .ok_or(UNKNOWN_TOPIC_OR_PARTITION)?;
            let pending = durable::begin_append(state, rm, &part, |part| {
                part.write_marker(marker.producer_id, marker.producer_epoch, marker.commit)
            })?;
            Ok((part, pending))
        })
        .collect();
    let mut codes = Vec::with_capacity(begun.len());
    for b in begun {
        codes.push(match b {
            Err(c) => c,
            Ok((part, pending)) => {
                match durable::finish_append(rm, &part, pending, MARKER_TIMEOUT_MS).await {
                    Ok(_) => {
                        applied(state, &part, marker);
                        0
                    }
                    Err(c) => c,
                }
            }
        });
    }
    codes
}

/// A durable marker on an offsets partition settles the group's pending offsets there.
fn applied(state: &BrokerState, part: &Partition, marker: Marker) {
    if part.topic == crate::group::store::OFFSETS_TOPIC {
        state
            .groups
            .end_transaction(marker.producer_id, marker.commit);
    }
}

/// Sends the markers for the partitions `leader` leads; returns those still without one.
async fn send_to_leader(
    state: &BrokerState,
    leader: i32,
    marker: Marker,
    parts: Vec<(String, i32)>,
) -> Vec<(String, i32)> {
    let Some(rm) = &state.replicas else {
        return parts;
    };
    let Some(peer) = rm.broker_peer(leader) else {
        return parts;
    };
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in &parts {
        by_topic.entry(t.as_str()).or_default().push(*p);
    }
    let mut m = WritableTxnMarker::default();
    m.producer_id = ProducerId(marker.producer_id);
    m.producer_epoch = marker.producer_epoch;
    m.transaction_result = marker.commit;
    m.coordinator_epoch = marker.coordinator_epoch;
    m.topics = by_topic
        .into_iter()
        .map(|(t, ps)| {
            let mut wt = WritableTxnMarkerTopic::default();
            wt.name = TopicName(StrBytes::from_string(t.to_string()));
            wt.partition_indexes = ps;
            wt
        })
        .collect();
    let sent = peer
        .call(
            std::time::Duration::from_millis(MARKER_TIMEOUT_MS as u64),
            |_| {
                let mut r = WriteTxnMarkersRequest::default();
                r.markers = vec![m];
                r
            },
        )
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("WriteTxnMarkers to broker {leader} failed: {e}");
            return parts;
        }
    };
    let mut done = std::collections::HashSet::new();
    for mr in &resp.markers {
        for tr in &mr.topics {
            for pr in &tr.partitions {
                if settled(pr.error_code) {
                    done.insert((tr.name.0.as_str().to_string(), pr.partition_index));
                } else {
                    tracing::debug!(
                        "marker for producer {} on {}-{} at broker {leader}: error {}",
                        marker.producer_id,
                        tr.name.0.as_str(),
                        pr.partition_index,
                        pr.error_code
                    );
                }
            }
        }
    }
    parts.into_iter().filter(|p| !done.contains(p)).collect()
}
