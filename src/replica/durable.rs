//! Appends that count only once the ISR has them (Kafka's DelayedProduce rules): acks=all
//! produce, the transaction coordinator's state records and the markers it writes.

use crate::broker::BrokerState;
use crate::log::partition::Partition;
use crate::log::LogError;

use super::code as rc;
use super::ReplicaManager;

/// The partition's `min.insync.replicas` (topic override, else the broker's setting).
pub fn min_insync_replicas(state: &BrokerState, p: &Partition) -> i32 {
    let overrides = state
        .cluster
        .topic(&p.topic)
        .map(|t| t.meta.configs.clone())
        .unwrap_or_default();
    crate::config::resolved_topic_value(
        state.cluster.broker_props(),
        "min.insync.replicas",
        &overrides,
    )
    .ok()
    .and_then(|r| r.value)
    .and_then(|v| v.trim().parse().ok())
    .unwrap_or(1)
}

/// acks=all: waits until the high watermark passes `last` (every ISR member has the batch),
/// at most `timeout_ms` (Kafka's DelayedProduce). Leadership lost while waiting is
/// NOT_LEADER_OR_FOLLOWER; the caller checks whether the ISR shrank below
/// min.insync.replicas meanwhile.
pub async fn await_replication(
    rm: &ReplicaManager,
    p: &Partition,
    leader_epoch: i32,
    last: i64,
    timeout_ms: i32,
) -> i16 {
    let mut hw = p.subscribe();
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_millis(timeout_ms.clamp(0, 300_000) as u64);
    loop {
        if *hw.borrow_and_update() > last {
            return 0;
        }
        // Checked against the epoch of the append: leadership lost and won back meanwhile
        // may have truncated `last` away, and the high watermark then passes other records.
        if rm.check_leader(&p.topic, p.index, leader_epoch).is_err() {
            return rc::NOT_LEADER_OR_FOLLOWER;
        }
        match tokio::time::timeout_at(
            deadline.min(tokio::time::Instant::now() + std::time::Duration::from_millis(200)),
            hw.changed(),
        )
        .await
        {
            Ok(Ok(())) => continue,
            Ok(Err(_)) => return rc::NOT_LEADER_OR_FOLLOWER,
            Err(_) if tokio::time::Instant::now() >= deadline => return rc::REQUEST_TIMED_OUT,
            Err(_) => continue,
        }
    }
}

/// An acks=all append made on this leader, not yet known to be replicated.
pub struct PendingAppend {
    leader_epoch: i32,
    last: i64,
    min_isr: i32,
}

/// Appends on this leader as an acks=all write: refused with NOT_ENOUGH_REPLICAS when the ISR
/// is already below `min.insync.replicas`. `append` returns the last offset it wrote. Errors
/// are Kafka's codes for a Produce of the same records.
pub fn begin_append(
    state: &BrokerState,
    rm: &ReplicaManager,
    p: &Partition,
    append: impl FnOnce(&Partition) -> Result<i64, LogError>,
) -> Result<PendingAppend, i16> {
    let leader_epoch = rm.check_leader(&p.topic, p.index, -1)?;
    let min_isr = min_insync_replicas(state, p);
    if (rm.isr_size(&p.topic, p.index) as i32) < min_isr {
        return Err(rc::NOT_ENOUGH_REPLICAS);
    }
    let last = append(p).map_err(|e| e.code())?;
    Ok(PendingAppend {
        leader_epoch,
        last,
        min_isr,
    })
}

/// Waits until the ISR has a `begin_append`; NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR
/// shrank below `min.insync.replicas` meanwhile.
pub async fn finish_append(
    rm: &ReplicaManager,
    p: &Partition,
    pending: PendingAppend,
    timeout_ms: i32,
) -> Result<i64, i16> {
    match await_replication(rm, p, pending.leader_epoch, pending.last, timeout_ms).await {
        0 if (rm.isr_size(&p.topic, p.index) as i32) < pending.min_isr => {
            Err(rc::NOT_ENOUGH_REPLICAS_AFTER_APPEND)
        }
        0 => Ok(pending.last),
        c => Err(c),
    }
}

/// `begin_append` then `finish_append`.
pub async fn append_acks_all(
    state: &BrokerState,
    rm: &ReplicaManager,
    p: &Partition,
    timeout_ms: i32,
    append: impl FnOnce(&Partition) -> Result<i64, LogError>,
) -> Result<i64, i16> {
    let pending = begin_append(state, rm, p, append)?;
    finish_append(rm, p, pending, timeout_ms).await
}
