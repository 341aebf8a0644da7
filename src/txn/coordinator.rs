//! The transaction coordinator: transactional.id → producer id, epoch and transaction state,
//! with Kafka's states (Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit,
//! CompleteAbort), durable in `__transaction_state` in Kafka's record format.
//!
//! EndTxn runs both phases before it answers: PrepareX is written, markers go to every partition
//! of the transaction (`markers`: written here or sent to the partition's leader, which applies
//! or drops a group's pending offsets), CompleteX is written. Once PrepareX is durable the
//! outcome is decided: markers that fail are retried by the timer, and a restart (or a new
//! coordinator) that finds a PrepareX state finishes it. An Ongoing transaction past its
//! timeout is aborted with a bumped epoch, fencing the producer.
//!
//! On a cluster the coordinator of a transactional id is the leader of its
//! `__transaction_state` partition, as in Kafka: it loads that partition when it becomes its
//! leader, answers NOT_COORDINATOR elsewhere, and writes state with acks=all
//! (`transaction.state.log.min.isr`). The partition's leader epoch is the coordinator epoch.
//!
//! Transactions v2 (KIP-890, `transaction.version` 2, EndTxn v5+): partitions join implicitly
//! when the producer first writes to them (Produce v12+, TxnOffsetCommit v5+), and every EndTxn
//! bumps the epoch at prepare. Markers carry the bumped epoch, and the response hands the
//! producer its next epoch, or a fresh producer id once the epoch is exhausted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

use super::record::EPOCH_EXHAUSTED;
pub use super::record::{decode, encode, TxnMeta, TxnState};

use crate::broker::BrokerState;
use crate::cluster::Cluster;
use crate::log::segment::now_ms;

pub const TXN_TOPIC: &str = "__transaction_state";

pub mod code {
    pub const NONE: i16 = 0;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const NOT_COORDINATOR: i16 = 16;
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const INVALID_TXN_STATE: i16 = 48;
    pub const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
    pub const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
    pub const CONCURRENT_TRANSACTIONS: i16 = 51;
    pub const OPERATION_NOT_ATTEMPTED: i16 = 55;
    pub const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
    pub const PRODUCER_FENCED: i16 = 90;
    pub const TRANSACTION_ABORTABLE: i16 = 120;
    pub const INVALID_REQUEST: i16 = 42;
}

/// One transactional id's state. Its lock is held across a whole operation, appends and
/// marker round trips included, so operations on one id run one at a time.
type Entry = Arc<tokio::sync::Mutex<TxnMeta>>;

pub struct TxnCoordinator {
    txns: Mutex<HashMap<String, Entry>>,
    /// The finalized `transaction.version` feature level advertised in ApiVersions (Kafka 4's
    /// default for new clusters is 2; Weir takes it from its `transaction.version` setting).
    pub feature_level: i16,
    /// `transaction.partition.verification.enable` (KIP-890 part 1).
    pub verification: bool,
    max_timeout_ms: i32,
    partitions: i32,
    /// On a cluster the transaction log topic is created by the controller, never locally.
    replicated: bool,
    topic_lock: Mutex<()>,
    /// On a cluster: the transaction-log partitions loaded here as their leader, with the
    /// leader epoch they were loaded at. An id is served only while that epoch is current.
    loaded: Mutex<HashMap<i32, i32>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn hash_partition(id: &str, n: i32) -> i32 {
    crate::group::store::partition_for(id, n)
}

/// How long a state record or a marker may wait for its ISR (Kafka uses the request timeout).
const APPEND_TIMEOUT_MS: i32 = 10_000;

/// How partitions join a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddMode {
    /// The producer's AddPartitionsToTxn / AddOffsetsToTxn (transactions v1).
    Explicit,
    /// The partition leader adds it on the first write (transactions v2, KIP-890).
    Implicit,
    /// Only check it was added (KIP-890 part 1 verification); nothing changes.
    Verify,
}

/// Why an operation was refused.
pub type TxnResult<T> = Result<T, i16>;

impl TxnCoordinator {
    /// `transaction.state.log.num.partitions`.
    pub fn partition_count(&self) -> i32 {
        self.partitions
    }

    pub fn new(config: &crate::config::Config) -> TxnCoordinator {
        let prop = |n: &str, d: i64| {
            config
                .props
                .get(n)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(d)
        };
        TxnCoordinator {
            txns: Mutex::new(HashMap::new()),
            feature_level: prop("transaction.version", 2).clamp(0, 2) as i16,
            verification: config
                .props
                .get("transaction.partition.verification.enable")
                .is_none_or(|v| v.trim() != "false"),
            max_timeout_ms: prop("transaction.max.timeout.ms", 900_000).clamp(1, i32::MAX as i64)
                as i32,
            partitions: prop("transaction.state.log.num.partitions", 50).clamp(1, 1000) as i32,
            replicated: config.kraft.is_some(),
            topic_lock: Mutex::new(()),
            loaded: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, id: &str) -> Option<Entry> {
        lock(&self.txns).get(id).cloned()
    }

    pub fn all(&self) -> Vec<Entry> {
        lock(&self.txns).values().cloned().collect()
    }

    /// The transaction-log partition of a transactional id.
    pub fn partition_of(&self, cluster: &Cluster, id: &str) -> i32 {
        let n = cluster
            .topic(TXN_TOPIC)
            .map_or(self.partitions, |t| t.partitions.len() as i32);
        hash_partition(id, n.max(1))
    }

    /// Whether this broker coordinates `id` now, with its coordinator epoch (0 on a single
    /// broker); NOT_COORDINATOR, or COORDINATOR_LOAD_IN_PROGRESS while its partition loads.
    pub fn placement(&self, state: &BrokerState, id: &str) -> TxnResult<i32> {
        let Some(rm) = &state.replicas else {
            return Ok(0);
        };
        let p = self.partition_of(&state.cluster, id);
        let epoch = rm
            .check_leader(TXN_TOPIC, p, -1)
            .map_err(|_| code::NOT_COORDINATOR)?;
        match lock(&self.loaded).get(&p) {
            Some(e) if *e == epoch => Ok(epoch),
            _ => Err(code::COORDINATOR_LOAD_IN_PROGRESS),
        }
    }

    fn ensure_topic(&self, cluster: &Cluster) -> Result<(), String> {
        if cluster.topic(TXN_TOPIC).is_some() {
            return Ok(());
        }
        if self.replicated {
            return Err(format!("{TXN_TOPIC} is not created yet"));
        }
        let _g = lock(&self.topic_lock);
        if cluster.topic(TXN_TOPIC).is_some() {
            return Ok(());
        }
        let mut cfg = BTreeMap::new();
        cfg.insert("cleanup.policy".to_string(), "compact".to_string());
        cfg.insert("segment.bytes".to_string(), "104857600".to_string());
        cluster
            .create_topic(TXN_TOPIC, self.partitions, 1, cfg, (1, 1), false)
            .map(|_| ())
            .or_else(|e| match e {
                crate::cluster::TopicError::AlreadyExists(_) => Ok(()),
                e => Err(e.to_string()),
            })
    }

    /// Writes the id's state to its transaction-log partition. On a cluster the write is
    /// acks=all under the coordinator epoch the operation started with, so an operation that
    /// outlived this broker's term cannot write state from that term into a later one.
    async fn persist(
        &self,
        state: &BrokerState,
        coord_epoch: i32,
        meta: &TxnMeta,
    ) -> TxnResult<()> {
        self.ensure_topic(&state.cluster).map_err(|e| {
            tracing::error!("cannot create {TXN_TOPIC}: {e}");
            code::COORDINATOR_NOT_AVAILABLE
        })?;
        let p = self.partition_of(&state.cluster, &meta.id);
        let part = state
            .cluster
            .partition(TXN_TOPIC, p)
            .ok_or(code::COORDINATOR_NOT_AVAILABLE)?;
        let (k, v) = encode(meta);
        let batch = crate::group::encode_records(vec![(k, v)], -1, -1, false);
        let Some(rm) = &state.replicas else {
            return part.append(&batch).map(|_| ()).map_err(|e| {
                tracing::error!("cannot persist transaction {}: {e}", meta.id);
                code::COORDINATOR_NOT_AVAILABLE
            });
        };
        if rm.check_leader(TXN_TOPIC, p, coord_epoch).is_err() {
            return Err(code::NOT_COORDINATOR);
        }
        let written =
            crate::replica::durable::append_acks_all(state, rm, &part, APPEND_TIMEOUT_MS, |p| {
                p.append(&batch).map(|i| i.base_offset)
            })
            .await;
        // Kafka's mapping of transaction-log append errors.
        written.map(|_| ()).map_err(|c| {
            use crate::replica::code as rc;
            tracing::warn!("cannot persist transaction {} (error {c})", meta.id);
            match c {
                rc::NOT_LEADER_OR_FOLLOWER | rc::FENCED_LEADER_EPOCH => code::NOT_COORDINATOR,
                _ => code::COORDINATOR_NOT_AVAILABLE,
            }
        })
    }

    /// Replays every local `__transaction_state` partition and finishes transactions caught
    /// between their phases (a single broker, at startup).
    pub async fn load(&self, state: &BrokerState) {
        if self.replicated {
            return; // each partition loads when this broker becomes its leader
        }
        let Some(topic) = state.cluster.topic(TXN_TOPIC) else {
            return;
        };
        for p in &topic.partitions {
            self.replay_into(p);
        }
        self.finish_prepared(state, |_| true).await;
    }

    /// This broker became the leader of a transaction-log partition: the ids placed there are
    /// rebuilt from the replicated log, replacing whatever an earlier term left in memory.
    /// Transactions found between their phases are finished by the timer.
    pub fn reload_partition(&self, p: &crate::log::Partition, leader_epoch: i32) {
        let n = self.partitions;
        lock(&self.txns).retain(|id, _| hash_partition(id, n) != p.index);
        let loaded = self.replay_into(p);
        lock(&self.loaded).insert(p.index, leader_epoch);
        tracing::info!(
            "transaction coordinator for {TXN_TOPIC}-{} (epoch {leader_epoch}): loaded {loaded} transactional id(s)",
            p.index
        );
    }

    /// Replays one partition's records into the map; returns how many ids it holds.
    fn replay_into(&self, p: &crate::log::Partition) -> usize {
        let mut ids = std::collections::HashSet::new();
        crate::group::replay_partition(p, |_, r| {
            let Some(key) = r.key else { return };
            let key = Bytes::copy_from_slice(key);
            let value = r.value.map(Bytes::copy_from_slice);
            let Some((id, meta)) = decode(&key, value.as_ref()) else {
                return;
            };
            let mut map = lock(&self.txns);
            match meta {
                Some(m) => {
                    ids.insert(id.clone());
                    map.insert(id, Arc::new(tokio::sync::Mutex::new(m)));
                }
                None => {
                    ids.remove(&id);
                    map.remove(&id);
                }
            }
        });
        ids.len()
    }

    /// Finishes the prepared transactions `select` picks (by id).
    async fn finish_prepared(&self, state: &BrokerState, select: impl Fn(&str) -> bool) {
        for t in self.all() {
            let mut m = t.lock().await;
            if !select(&m.id) {
                continue;
            }
            let commit = match m.state {
                TxnState::PrepareCommit => true,
                TxnState::PrepareAbort | TxnState::PrepareEpochFence => false,
                _ => continue,
            };
            let Ok(epoch) = self.placement(state, &m.id) else {
                continue;
            };
            tracing::info!(
                "completing the {} of transaction {} after a restart",
                if commit { "commit" } else { "abort" },
                m.id
            );
            let _ = self.complete(state, epoch, &mut m, commit).await;
        }
    }

    pub async fn init_producer_id(
        &self,
        state: &BrokerState,
        id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> TxnResult<(i64, i16)> {
        if timeout_ms <= 0 || timeout_ms > self.max_timeout_ms {
            return Err(code::INVALID_TRANSACTION_TIMEOUT);
        }
        let coord_epoch = self.placement(state, id)?;
        let entry = {
            let existing = lock(&self.txns).get(id).cloned();
            match existing {
                Some(e) => e,
                None => {
                    let pid = state
                        .producer_ids
                        .next()
                        .map_err(|_| code::COORDINATOR_NOT_AVAILABLE)?;
                    let meta = TxnMeta {
                        id: id.to_string(),
                        producer_id: pid,
                        epoch: -1,
                        timeout_ms,
                        state: TxnState::Empty,
                        partitions: BTreeSet::new(),
                        start_ms: -1,
                        update_ms: now_ms(),
                        client_version: 0,
                        prev_producer_id: -1,
                        next_producer_id: -1,
                    };
                    lock(&self.txns)
                        .entry(id.to_string())
                        .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(meta)))
                        .clone()
                }
            }
        };
        let mut m = entry.lock().await;
        if let Some((pid, epoch)) = expected {
            // KIP-360: a producer re-initialising must present its current id and epoch.
            if pid != m.producer_id || epoch != m.epoch {
                return Err(code::PRODUCER_FENCED);
            }
        }
        match m.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                return Err(code::CONCURRENT_TRANSACTIONS)
            }
            TxnState::Ongoing => {
                // A new instance fences the old one: its transaction is aborted under a bumped
                // epoch, written as PrepareEpochFence first so the abort survives a crash.
                let before = m.clone();
                m.epoch = m.epoch.saturating_add(1);
                m.state = TxnState::PrepareEpochFence;
                m.update_ms = now_ms();
                if let Err(c) = self.persist(state, coord_epoch, &m).await {
                    *m = before;
                    return Err(c);
                }
                if self
                    .complete(state, coord_epoch, &mut m, false)
                    .await
                    .is_err()
                {
                    // Decided; the timer finishes it and the producer retries meanwhile.
                    return Err(code::CONCURRENT_TRANSACTIONS);
                }
            }
            _ => {}
        }
        let before = m.clone();
        if m.epoch >= EPOCH_EXHAUSTED {
            m.prev_producer_id = m.producer_id;
            m.producer_id = state
                .producer_ids
                .next()
                .map_err(|_| code::COORDINATOR_NOT_AVAILABLE)?;
            m.epoch = 0;
        } else {
            m.epoch += 1;
        }
        m.timeout_ms = timeout_ms;
        m.state = TxnState::Empty;
        m.partitions.clear();
        m.start_ms = -1;
        m.update_ms = now_ms();
        if let Err(c) = self.persist(state, coord_epoch, &m).await {
            *m = before;
            return Err(c);
        }
        Ok((m.producer_id, m.epoch))
    }

    /// Adds partitions to the transaction; unknown partitions fail the whole request.
    pub async fn add_partitions(
        &self,
        state: &BrokerState,
        id: &str,
        pid: i64,
        epoch: i16,
        parts: &[(String, i32)],
        mode: AddMode,
    ) -> Vec<i16> {
        let unknown: Vec<bool> = parts
            .iter()
            .map(|(t, p)| state.cluster.partition(t, *p).is_none())
            .collect();
        if unknown.iter().any(|u| *u) {
            return unknown
                .iter()
                .map(|u| {
                    if *u {
                        code::UNKNOWN_TOPIC_OR_PARTITION
                    } else {
                        code::OPERATION_NOT_ATTEMPTED
                    }
                })
                .collect();
        }
        let result = self.try_add(state, id, pid, epoch, parts, mode).await;
        result.unwrap_or_else(|c| vec![c; parts.len()])
    }

    async fn try_add(
        &self,
        state: &BrokerState,
        id: &str,
        pid: i64,
        epoch: i16,
        parts: &[(String, i32)],
        mode: AddMode,
    ) -> TxnResult<Vec<i16>> {
        let coord_epoch = self.placement(state, id)?;
        let t = self.get(id).ok_or(code::INVALID_PRODUCER_ID_MAPPING)?;
        let mut m = t.lock().await;
        if m.producer_id != pid {
            return Err(code::INVALID_PRODUCER_ID_MAPPING);
        }
        if m.epoch != epoch {
            return Err(code::PRODUCER_FENCED);
        }
        match m.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                return Err(code::CONCURRENT_TRANSACTIONS)
            }
            TxnState::Dead => return Err(code::INVALID_TXN_STATE),
            _ => {}
        }
        if mode == AddMode::Verify {
            // KIP-890 part 1: a partition written outside its transaction is refused.
            let ongoing = m.state == TxnState::Ongoing;
            return Ok(parts
                .iter()
                .map(|p| {
                    if ongoing && m.partitions.contains(p) {
                        code::NONE
                    } else {
                        code::TRANSACTION_ABORTABLE
                    }
                })
                .collect());
        }
        if m.state == TxnState::Ongoing && parts.iter().all(|p| m.partitions.contains(p)) {
            return Ok(vec![code::NONE; parts.len()]);
        }
        let before = m.clone();
        if m.state != TxnState::Ongoing {
            m.partitions.clear();
            m.start_ms = now_ms();
        }
        m.partitions.extend(parts.iter().cloned());
        m.state = TxnState::Ongoing;
        m.client_version = if mode == AddMode::Implicit { 2 } else { 1 };
        m.update_ms = now_ms();
        if let Err(c) = self.persist(state, coord_epoch, &m).await {
            *m = before;
            return Err(c);
        }
        Ok(vec![code::NONE; parts.len()])
    }

    pub async fn end(
        &self,
        state: &BrokerState,
        id: &str,
        pid: i64,
        epoch: i16,
        commit: bool,
        tv2: bool,
    ) -> TxnResult<(i64, i16)> {
        let coord_epoch = self.placement(state, id)?;
        let t = self.get(id).ok_or(code::INVALID_PRODUCER_ID_MAPPING)?;
        let mut m = t.lock().await;
        if tv2 {
            return self
                .end_v2(state, coord_epoch, &mut m, pid, epoch, commit)
                .await;
        }
        if m.producer_id != pid {
            return Err(code::INVALID_PRODUCER_ID_MAPPING);
        }
        if m.epoch != epoch {
            return Err(code::PRODUCER_FENCED);
        }
        match (m.state, commit) {
            (TxnState::Ongoing, _) => {
                let before = m.clone();
                m.state = if commit {
                    TxnState::PrepareCommit
                } else {
                    TxnState::PrepareAbort
                };
                m.update_ms = now_ms();
                if let Err(c) = self.persist(state, coord_epoch, &m).await {
                    *m = before;
                    return Err(c);
                }
                // Decided: a marker that fails now is retried by the timer.
                let _ = self.complete(state, coord_epoch, &mut m, commit).await;
                Ok((m.producer_id, m.epoch))
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
                Ok((m.producer_id, m.epoch))
            }
            // Aborting a transaction that never added a partition is allowed and does nothing.
            (TxnState::Empty, false) => Ok((m.producer_id, m.epoch)),
            (TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence, _) => {
                Err(code::CONCURRENT_TRANSACTIONS)
            }
            _ => Err(code::INVALID_TXN_STATE),
        }
    }

    /// EndTxn v5+ (KIP-890): the epoch is bumped at prepare, so every transaction ends under a
    /// new epoch; a retry (the epoch before that bump, or the producer id before a rotation) of
    /// an EndTxn that already completed is answered with the producer's current id and epoch.
    async fn end_v2(
        &self,
        state: &BrokerState,
        coord_epoch: i32,
        m: &mut TxnMeta,
        pid: i64,
        epoch: i16,
        commit: bool,
    ) -> TxnResult<(i64, i16)> {
        let retry_on_bump = m.epoch as i32 == epoch as i32 + 1;
        let retry_on_overflow =
            m.prev_producer_id == pid && epoch == EPOCH_EXHAUSTED && m.epoch == 0;
        if m.producer_id != pid && !retry_on_overflow {
            return Err(code::INVALID_PRODUCER_ID_MAPPING);
        }
        let epoch_ok = match m.state {
            TxnState::Ongoing | TxnState::Empty => epoch == m.epoch,
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                retry_on_bump
            }
            TxnState::CompleteCommit | TxnState::CompleteAbort => {
                retry_on_bump || retry_on_overflow || epoch == m.epoch
            }
            TxnState::Dead => false,
        };
        if !epoch_ok {
            return Err(code::PRODUCER_FENCED);
        }
        let retry = retry_on_bump || retry_on_overflow;
        match (m.state, commit) {
            (TxnState::Ongoing, _) => self.finish_with_bump(state, coord_epoch, m, commit).await,
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) if retry => {
                Ok((m.producer_id, m.epoch))
            }
            // An abort with nothing open still ends under a new epoch (no markers to write).
            (TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort, false)
                if !retry =>
            {
                m.partitions.clear();
                self.finish_with_bump(state, coord_epoch, m, false).await
            }
            (TxnState::PrepareCommit, true)
            | (TxnState::PrepareAbort | TxnState::PrepareEpochFence, false) => {
                Err(code::CONCURRENT_TRANSACTIONS)
            }
            _ => Err(code::INVALID_TXN_STATE),
        }
    }

    async fn finish_with_bump(
        &self,
        state: &BrokerState,
        coord_epoch: i32,
        m: &mut TxnMeta,
        commit: bool,
    ) -> TxnResult<(i64, i16)> {
        let before = m.clone();
        if m.epoch >= EPOCH_EXHAUSTED {
            m.next_producer_id = state
                .producer_ids
                .next()
                .map_err(|_| code::COORDINATOR_NOT_AVAILABLE)?;
        }
        if m.state != TxnState::Ongoing {
            m.start_ms = now_ms();
        }
        m.epoch = m.epoch.saturating_add(1);
        m.client_version = 2;
        m.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        m.update_ms = now_ms();
        if let Err(c) = self.persist(state, coord_epoch, m).await {
            // Nothing was written: the transaction stays as it was, and the client may retry.
            *m = before;
            return Err(c);
        }
        // Decided: a marker that fails now is retried by the timer. The answer names the
        // producer id and epoch the producer continues with.
        let _ = self.complete(state, coord_epoch, m, commit).await;
        let next = if m.next_producer_id >= 0 {
            (m.next_producer_id, 0)
        } else {
            (m.producer_id, m.epoch)
        };
        Ok(next)
    }

    /// Phase two: markers on every partition still waiting for one, then CompleteX. A
    /// partition whose marker fails stays in the (in-memory) list for the timer's next try.
    async fn complete(
        &self,
        state: &BrokerState,
        coord_epoch: i32,
        m: &mut TxnMeta,
        commit: bool,
    ) -> TxnResult<()> {
        let parts: Vec<(String, i32)> = m.partitions.iter().cloned().collect();
        let failed = super::markers::write(
            state,
            super::markers::Marker {
                producer_id: m.producer_id,
                producer_epoch: m.epoch,
                commit,
                coordinator_epoch: coord_epoch,
            },
            &parts,
        )
        .await;
        m.update_ms = now_ms();
        if !failed.is_empty() {
            tracing::warn!(
                "transaction {}: {} marker(s) not written yet; retrying",
                m.id,
                failed.len()
            );
            m.partitions = failed.into_iter().collect();
            return Err(code::COORDINATOR_NOT_AVAILABLE);
        }
        let before = m.clone();
        m.state = if commit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        m.partitions.clear();
        m.prev_producer_id = m.producer_id;
        if m.next_producer_id >= 0 {
            // The epoch ran out: the producer continues under the new id, from epoch 0.
            m.producer_id = m.next_producer_id;
            m.next_producer_id = -1;
            m.epoch = 0;
        }
        if let Err(c) = self.persist(state, coord_epoch, m).await {
            // The markers are out; writing CompleteX again is what the timer retries.
            *m = before;
            m.partitions.clear();
            return Err(c);
        }
        Ok(())
    }

    /// Aborts transactions that outlived their timeout, bumping the epoch to fence the producer,
    /// and finishes transactions whose second phase failed (a marker that could not be written)
    /// instead of leaving their transactional id stuck. Only ids coordinated here, and only
    /// those no request is working on.
    pub async fn run_chores(&self, state: &BrokerState) {
        let now = now_ms();
        for t in self.all() {
            let Ok(mut m) = t.try_lock() else {
                continue;
            };
            let Ok(coord_epoch) = self.placement(state, &m.id) else {
                continue;
            };
            let prepared = matches!(
                m.state,
                TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence
            );
            if prepared && now - m.update_ms > 1000 {
                let commit = m.state == TxnState::PrepareCommit;
                tracing::info!(
                    "retrying the {} of transaction {}",
                    if commit { "commit" } else { "abort" },
                    m.id
                );
                let _ = self.complete(state, coord_epoch, &mut m, commit).await;
                continue;
            }
            if m.state == TxnState::Ongoing
                && m.start_ms >= 0
                && now - m.start_ms > m.timeout_ms as i64
            {
                tracing::info!(
                    "transaction {} timed out after {} ms; aborting it",
                    m.id,
                    m.timeout_ms
                );
                let before = m.clone();
                m.state = TxnState::PrepareEpochFence;
                m.epoch = m.epoch.saturating_add(1);
                m.update_ms = now;
                if self.persist(state, coord_epoch, &m).await.is_ok() {
                    let _ = self.complete(state, coord_epoch, &mut m, false).await;
                } else {
                    *m = before;
                }
            }
        }
    }

    pub async fn run_timers(
        state: Arc<BrokerState>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = shutdown.changed() => return,
            }
            state.txns.run_chores(&state).await;
        }
    }

    /// The offsets-topic partition a group's transactional offsets go to.
    pub fn offsets_partition(state: &BrokerState, group: &str) -> Result<(String, i32), i16> {
        state
            .groups
            .ensure_offsets_topic(&state.cluster)
            .map_err(|_| code::COORDINATOR_NOT_AVAILABLE)?;
        let n = state
            .cluster
            .topic(crate::group::store::OFFSETS_TOPIC)
            .map(|t| t.partitions.len() as i32)
            .ok_or(code::COORDINATOR_NOT_AVAILABLE)?;
        Ok((
            crate::group::store::OFFSETS_TOPIC.to_string(),
            crate::group::store::partition_for(group, n),
        ))
    }
}
