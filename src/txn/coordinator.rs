//! The transaction coordinator: transactional.id → producer id, epoch and transaction state,
//! with Kafka's states (Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit,
//! CompleteAbort), durable in `__transaction_state` in Kafka's record format.
//!
//! EndTxn runs the two phases synchronously: PrepareX is written, markers go to every partition
//! of the transaction (and the group's pending offsets are applied or dropped), CompleteX is
//! written. A restart that finds a PrepareX state finishes it; an Ongoing transaction past its
//! timeout is aborted with a bumped epoch, fencing the producer.
//!
//! Transactions v2 (KIP-890, `transaction.version` 2, EndTxn v5+): partitions join implicitly
//! when the producer first writes to them (Produce v12+, TxnOffsetCommit v5+), and every EndTxn
//! bumps the epoch at prepare. Markers carry the bumped epoch, and the response hands the
//! producer its next epoch, or a fresh producer id once the epoch is exhausted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::broker::BrokerState;
use crate::cluster::Cluster;
use crate::log::segment::now_ms;

pub const TXN_TOPIC: &str = "__transaction_state";

pub mod code {
    pub const NONE: i16 = 0;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnState {
    Empty = 0,
    Ongoing = 1,
    PrepareCommit = 2,
    PrepareAbort = 3,
    CompleteCommit = 4,
    CompleteAbort = 5,
    Dead = 6,
    PrepareEpochFence = 7,
}

impl TxnState {
    fn from_i8(v: i8) -> TxnState {
        match v {
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            7 => TxnState::PrepareEpochFence,
            _ => TxnState::Empty,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnMeta {
    pub id: String,
    pub producer_id: i64,
    pub epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    pub start_ms: i64,
    pub update_ms: i64,
    /// The transaction protocol the client speaks (2 = KIP-890 epoch bump per transaction).
    pub client_version: i16,
    /// The producer id before the last rotation, so a retried EndTxn that rotated it is known.
    pub prev_producer_id: i64,
    /// The producer id a PrepareX that exhausted the epoch will hand over on completion.
    pub next_producer_id: i64,
}

/// Epochs at or past this are exhausted: the next bump rotates the producer id (Kafka's
/// `isProducerEpochExhausted`).
const EPOCH_EXHAUSTED: i16 = i16::MAX - 1;

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

fn get_str(b: &mut Bytes) -> Option<String> {
    if b.remaining() < 2 {
        return None;
    }
    let n = b.get_i16();
    if n < 0 || b.remaining() < n as usize {
        return None;
    }
    String::from_utf8(b.split_to(n as usize).to_vec()).ok()
}

fn put_uvarint(b: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        b.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

fn get_uvarint(b: &mut Bytes) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..35).step_by(7) {
        if !b.has_remaining() {
            return None;
        }
        let byte = b.get_u8();
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn get_compact_str(b: &mut Bytes) -> Option<String> {
    let n = get_uvarint(b)?.checked_sub(1)? as usize;
    if b.remaining() < n {
        return None;
    }
    String::from_utf8(b.split_to(n).to_vec()).ok()
}

/// Skips a tagged-field section, returning (tag, data) pairs.
fn get_tagged(b: &mut Bytes) -> Option<Vec<(u64, Bytes)>> {
    let n = get_uvarint(b)?;
    let mut out = Vec::new();
    for _ in 0..n {
        let tag = get_uvarint(b)?;
        let size = get_uvarint(b)? as usize;
        if b.remaining() < size {
            return None;
        }
        out.push((tag, b.split_to(size)));
    }
    Some(out)
}

/// TransactionLogKey v0 / TransactionLogValue. Transactions v2 state is written as v1
/// (flexible; PreviousProducerId, NextProducerId and ClientTransactionVersion as tagged fields
/// 0, 1 and 2), as Kafka 4 writes it; everything else stays v0, which older Weir builds read.
pub fn encode(meta: &TxnMeta) -> (Bytes, Option<Bytes>) {
    let mut k = BytesMut::new();
    k.put_i16(0);
    put_str(&mut k, &meta.id);
    let flexible = meta.client_version >= 2 || meta.next_producer_id >= 0;
    let mut v = BytesMut::new();
    v.put_i16(if flexible { 1 } else { 0 });
    v.put_i64(meta.producer_id);
    v.put_i16(meta.epoch);
    v.put_i32(meta.timeout_ms);
    v.put_i8(meta.state as i8);
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in &meta.partitions {
        by_topic.entry(t).or_default().push(*p);
    }
    if flexible {
        put_uvarint(&mut v, by_topic.len() as u64 + 1);
    } else {
        v.put_i32(by_topic.len() as i32);
    }
    for (t, ps) in by_topic {
        if flexible {
            put_uvarint(&mut v, t.len() as u64 + 1);
            v.put_slice(t.as_bytes());
            put_uvarint(&mut v, ps.len() as u64 + 1);
        } else {
            put_str(&mut v, t);
            v.put_i32(ps.len() as i32);
        }
        for p in ps {
            v.put_i32(p);
        }
        if flexible {
            put_uvarint(&mut v, 0);
        }
    }
    v.put_i64(meta.update_ms);
    v.put_i64(meta.start_ms);
    if flexible {
        put_uvarint(&mut v, 3);
        for (tag, bytes) in [
            (0u64, meta.prev_producer_id.to_be_bytes().to_vec()),
            (1, meta.next_producer_id.to_be_bytes().to_vec()),
            (2, meta.client_version.to_be_bytes().to_vec()),
        ] {
            put_uvarint(&mut v, tag);
            put_uvarint(&mut v, bytes.len() as u64);
            v.put_slice(&bytes);
        }
    }
    (k.freeze(), Some(v.freeze()))
}

pub fn decode(key: &Bytes, value: Option<&Bytes>) -> Option<(String, Option<TxnMeta>)> {
    let mut k = key.clone();
    if k.remaining() < 2 || k.get_i16() != 0 {
        return None;
    }
    let id = get_str(&mut k)?;
    let Some(v) = value else {
        return Some((id, None));
    };
    let mut v = v.clone();
    if v.remaining() < 2 + 8 + 2 + 4 + 1 + 1 {
        return None;
    }
    let version = v.get_i16();
    let producer_id = v.get_i64();
    let epoch = v.get_i16();
    let timeout_ms = v.get_i32();
    let state = TxnState::from_i8(v.get_i8());
    let flexible = version >= 1;
    let n = if flexible {
        get_uvarint(&mut v)?.saturating_sub(1) as usize
    } else {
        if v.remaining() < 4 {
            return None;
        }
        v.get_i32().max(0) as usize
    };
    let mut partitions = BTreeSet::new();
    for _ in 0..n {
        let t = if flexible {
            get_compact_str(&mut v)?
        } else {
            get_str(&mut v)?
        };
        let np = if flexible {
            get_uvarint(&mut v)?.saturating_sub(1) as usize
        } else {
            if v.remaining() < 4 {
                return None;
            }
            v.get_i32().max(0) as usize
        };
        if v.remaining() < np.checked_mul(4)? {
            return None;
        }
        for _ in 0..np {
            partitions.insert((t.clone(), v.get_i32()));
        }
        if flexible {
            get_tagged(&mut v)?;
        }
    }
    if v.remaining() < 16 {
        return None;
    }
    let update_ms = v.get_i64();
    let start_ms = v.get_i64();
    let mut meta = TxnMeta {
        id: id.clone(),
        producer_id,
        epoch,
        timeout_ms,
        state,
        partitions,
        start_ms,
        update_ms,
        // Kafka leaves tagged fields at their default (0) out.
        client_version: 0,
        prev_producer_id: -1,
        next_producer_id: -1,
    };
    if flexible {
        for (tag, mut data) in get_tagged(&mut v)? {
            match (tag, data.remaining()) {
                (0, 8) => meta.prev_producer_id = data.get_i64(),
                (1, 8) => meta.next_producer_id = data.get_i64(),
                (2, 2) => meta.client_version = data.get_i16(),
                _ => {}
            }
        }
    }
    Some((id, Some(meta)))
}

pub struct TxnCoordinator {
    txns: Mutex<HashMap<String, Arc<Mutex<TxnMeta>>>>,
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
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn hash_partition(id: &str, n: i32) -> i32 {
    crate::group::store::partition_for(id, n)
}

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
        }
    }

    pub fn get(&self, id: &str) -> Option<Arc<Mutex<TxnMeta>>> {
        lock(&self.txns).get(id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Mutex<TxnMeta>>> {
        lock(&self.txns).values().cloned().collect()
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

    fn persist(&self, cluster: &Cluster, meta: &TxnMeta) -> TxnResult<()> {
        self.ensure_topic(cluster).map_err(|e| {
            tracing::error!("cannot create {TXN_TOPIC}: {e}");
            code::COORDINATOR_NOT_AVAILABLE
        })?;
        let topic = cluster
            .topic(TXN_TOPIC)
            .ok_or(code::COORDINATOR_NOT_AVAILABLE)?;
        let p = hash_partition(&meta.id, topic.partitions.len() as i32);
        let part = topic
            .partitions
            .get(p as usize)
            .ok_or(code::COORDINATOR_NOT_AVAILABLE)?;
        let (k, v) = encode(meta);
        let batch = crate::group::encode_records(vec![(k, v)], -1, -1, false);
        part.append(&batch).map(|_| ()).map_err(|e| {
            tracing::error!("cannot persist transaction {}: {e}", meta.id);
            code::COORDINATOR_NOT_AVAILABLE
        })
    }

    /// Replays `__transaction_state` and finishes transactions caught between their phases.
    pub fn load(&self, state: &BrokerState) {
        let Some(topic) = state.cluster.topic(TXN_TOPIC) else {
            return;
        };
        for p in &topic.partitions {
            crate::group::replay_partition(p, |_, r| {
                if let Some(key) = r.key {
                    let key = Bytes::copy_from_slice(key);
                    let value = r.value.map(Bytes::copy_from_slice);
                    if let Some((id, meta)) = decode(&key, value.as_ref()) {
                        let mut map = lock(&self.txns);
                        match meta {
                            Some(m) => {
                                map.insert(id, Arc::new(Mutex::new(m)));
                            }
                            None => {
                                map.remove(&id);
                            }
                        }
                    }
                }
            });
        }
        for t in self.all() {
            let mut m = lock(&t);
            match m.state {
                TxnState::PrepareCommit => {
                    tracing::info!(
                        "completing the commit of transaction {} after restart",
                        m.id
                    );
                    let _ = self.complete(state, &mut m, true);
                }
                TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                    tracing::info!("completing the abort of transaction {} after restart", m.id);
                    let _ = self.complete(state, &mut m, false);
                }
                _ => {}
            }
        }
    }

    pub fn init_producer_id(
        &self,
        state: &BrokerState,
        id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> TxnResult<(i64, i16)> {
        if timeout_ms <= 0 || timeout_ms > self.max_timeout_ms {
            return Err(code::INVALID_TRANSACTION_TIMEOUT);
        }
        let entry = {
            let mut map = lock(&self.txns);
            match map.get(id) {
                Some(e) => e.clone(),
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
                    let e = Arc::new(Mutex::new(meta));
                    map.insert(id.to_string(), e.clone());
                    e
                }
            }
        };
        let mut m = lock(&entry);
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
                // A new instance fences the old one: abort its transaction under a bumped epoch.
                m.epoch = m.epoch.saturating_add(1);
                self.complete(state, &mut m, false)?;
            }
            _ => {}
        }
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
        self.persist(&state.cluster, &m)?;
        Ok((m.producer_id, m.epoch))
    }

    fn check(&self, id: &str, pid: i64, epoch: i16) -> TxnResult<Arc<Mutex<TxnMeta>>> {
        let t = self.get(id).ok_or(code::INVALID_PRODUCER_ID_MAPPING)?;
        {
            let m = lock(&t);
            if m.producer_id != pid {
                return Err(code::INVALID_PRODUCER_ID_MAPPING);
            }
            if m.epoch != epoch {
                return Err(code::PRODUCER_FENCED);
            }
        }
        Ok(t)
    }

    /// Adds partitions to the transaction; unknown partitions fail the whole request.
    pub fn add_partitions(
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
        let result = self.check(id, pid, epoch).and_then(|t| {
            let mut m = lock(&t);
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
            let before = m.partitions.len();
            if m.state != TxnState::Ongoing {
                m.partitions.clear();
                m.start_ms = now_ms();
            }
            m.partitions.extend(parts.iter().cloned());
            if m.state == TxnState::Ongoing && m.partitions.len() == before {
                return Ok(vec![code::NONE; parts.len()]);
            }
            m.state = TxnState::Ongoing;
            m.client_version = if mode == AddMode::Implicit { 2 } else { 1 };
            m.update_ms = now_ms();
            self.persist(&state.cluster, &m)
                .map(|()| vec![code::NONE; parts.len()])
        });
        result.unwrap_or_else(|c| vec![c; parts.len()])
    }

    pub fn end(
        &self,
        state: &BrokerState,
        id: &str,
        pid: i64,
        epoch: i16,
        commit: bool,
        tv2: bool,
    ) -> TxnResult<(i64, i16)> {
        if tv2 {
            return self.end_v2(state, id, pid, epoch, commit);
        }
        let t = self.check(id, pid, epoch)?;
        let mut m = lock(&t);
        match (m.state, commit) {
            (TxnState::Ongoing, _) => {
                let before = m.clone();
                m.state = if commit {
                    TxnState::PrepareCommit
                } else {
                    TxnState::PrepareAbort
                };
                m.update_ms = now_ms();
                if let Err(c) = self.persist(&state.cluster, &m) {
                    *m = before;
                    return Err(c);
                }
                self.complete(state, &mut m, commit)?;
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
    fn end_v2(
        &self,
        state: &BrokerState,
        id: &str,
        pid: i64,
        epoch: i16,
        commit: bool,
    ) -> TxnResult<(i64, i16)> {
        let t = self.get(id).ok_or(code::INVALID_PRODUCER_ID_MAPPING)?;
        let mut m = lock(&t);
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
            (TxnState::Ongoing, _) => self.finish_with_bump(state, &mut m, commit),
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) if retry => {
                Ok((m.producer_id, m.epoch))
            }
            // An abort with nothing open still ends under a new epoch (no markers to write).
            (TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort, false)
                if !retry =>
            {
                m.partitions.clear();
                self.finish_with_bump(state, &mut m, false)
            }
            (TxnState::PrepareCommit, true)
            | (TxnState::PrepareAbort | TxnState::PrepareEpochFence, false) => {
                Err(code::CONCURRENT_TRANSACTIONS)
            }
            _ => Err(code::INVALID_TXN_STATE),
        }
    }

    fn finish_with_bump(
        &self,
        state: &BrokerState,
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
        if let Err(c) = self.persist(&state.cluster, m) {
            // Nothing was written: the transaction stays as it was, and the client may retry.
            *m = before;
            return Err(c);
        }
        // Past PrepareX the outcome is decided; if the markers fail now, the timer finishes it.
        self.complete(state, m, commit)?;
        Ok((m.producer_id, m.epoch))
    }

    /// Phase two: markers on every partition, pending offsets applied or dropped, CompleteX.
    fn complete(&self, state: &BrokerState, m: &mut TxnMeta, commit: bool) -> TxnResult<()> {
        let offsets_topic = crate::group::store::OFFSETS_TOPIC;
        for (t, p) in m.partitions.clone() {
            let Some(part) = state.cluster.partition(&t, p) else {
                continue; // deleted since it was added
            };
            if let Err(e) = part.write_marker(m.producer_id, m.epoch, commit) {
                tracing::error!("cannot write transaction marker to {t}-{p}: {e}");
                return Err(code::COORDINATOR_NOT_AVAILABLE);
            }
            if t == offsets_topic {
                state.groups.end_transaction(m.producer_id, commit);
            }
        }
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
        m.update_ms = now_ms();
        self.persist(&state.cluster, m)
    }

    /// Aborts transactions that outlived their timeout, bumping the epoch to fence the producer,
    /// and finishes transactions whose second phase failed (a marker that could not be written)
    /// instead of leaving their transactional id stuck.
    pub fn abort_timed_out(&self, state: &BrokerState) {
        let now = now_ms();
        for t in self.all() {
            let mut m = lock(&t);
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
                m.update_ms = now;
                let _ = self.complete(state, &mut m, commit);
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
                m.state = TxnState::PrepareEpochFence;
                m.epoch = m.epoch.saturating_add(1);
                if self.persist(&state.cluster, &m).is_ok() {
                    let _ = self.complete(state, &mut m, false);
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
            let st = state.clone();
            let _ = tokio::task::spawn_blocking(move || st.txns.abort_timed_out(&st)).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_log_round_trip() {
        let m = TxnMeta {
            id: "tx".into(),
            producer_id: 7,
            epoch: 3,
            timeout_ms: 60000,
            state: TxnState::Ongoing,
            partitions: [
                ("a".to_string(), 0),
                ("a".to_string(), 2),
                ("b".to_string(), 1),
            ]
            .into(),
            start_ms: 5,
            update_ms: 6,
            client_version: 2,
            prev_producer_id: 4,
            next_producer_id: 9,
        };
        let (k, v) = encode(&m);
        assert_eq!(
            decode(&k, v.as_ref()),
            Some(("tx".to_string(), Some(m.clone())))
        );
        // Transactions v1 state stays in the v0 format.
        let mut tv1 = m.clone();
        tv1.client_version = 1;
        tv1.next_producer_id = -1;
        let (_, v) = encode(&tv1);
        assert_eq!(v.as_ref().unwrap()[..2], [0, 0]);
        let (_, back) = decode(&k, v.as_ref()).unwrap();
        let back = back.unwrap();
        assert_eq!(
            (
                back.producer_id,
                back.epoch,
                back.partitions.clone(),
                back.start_ms
            ),
            (
                tv1.producer_id,
                tv1.epoch,
                tv1.partitions.clone(),
                tv1.start_ms
            )
        );
        // Records written before the flexible format still load.
        let mut v0 = BytesMut::new();
        v0.put_i16(0);
        v0.put_i64(7);
        v0.put_i16(3);
        v0.put_i32(60000);
        v0.put_i8(1);
        v0.put_i32(1);
        put_str(&mut v0, "a");
        v0.put_i32(1);
        v0.put_i32(2);
        v0.put_i64(6);
        v0.put_i64(5);
        let (_, old) = decode(&k, Some(&v0.freeze())).unwrap();
        let old = old.unwrap();
        assert_eq!(
            (
                old.producer_id,
                old.epoch,
                old.client_version,
                old.prev_producer_id
            ),
            (7, 3, 0, -1)
        );
        assert_eq!(old.partitions, [("a".to_string(), 2)].into());
        assert_eq!(decode(&k, None), Some(("tx".to_string(), None)));
        assert_eq!(decode(&Bytes::from_static(&[0, 1]), None), None);
    }
}
