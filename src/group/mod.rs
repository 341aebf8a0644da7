//! The group coordinator: every consumer group's state machine, committed offsets, and their
//! persistence in `__consumer_offsets`. Each group has its own lock, so a slow or dead member of
//! one group never stalls another group or the produce/fetch path.

pub mod classic;
pub mod consumer;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::cluster::Cluster;
use crate::config::Config;
use crate::log::segment::now_ms;
use classic::{Group, GroupLimits, GroupState};
use store::{Entry, OffsetValue, OFFSETS_TOPIC};

/// Kafka error codes the coordinator answers with.
pub mod error {
    pub const NONE: i16 = 0;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub const INVALID_GROUP_ID: i16 = 24;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const NON_EMPTY_GROUP: i16 = 68;
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    pub const GROUP_MAX_SIZE_REACHED: i16 = 81;
    pub const FENCED_INSTANCE_ID: i16 = 82;
    pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
}

/// Commit items after validation.
#[derive(Default)]
struct PreparedCommits {
    codes: Vec<i16>,
    records: Vec<(Bytes, Option<Bytes>)>,
    accepted: Vec<(usize, String, i32, OffsetValue)>,
}

/// One partition's commit as requested.
pub struct CommitItem {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

pub struct GroupCoordinator {
    groups: Mutex<HashMap<String, Arc<Mutex<Group>>>>,
    pub limits: GroupLimits,
    offsets_partitions: i32,
    /// On a cluster the offsets topic is created by the controller, never locally.
    replicated: bool,
    offsets_retention_ms: i64,
    metadata_max_bytes: usize,
    /// Serialises creation of the offsets topic.
    topic_lock: Mutex<()>,
    consumer_session_timeout: Duration,
    consumer_heartbeat_interval: Duration,
    /// Offsets written by open transactions, by producer id.
    pending_txn: Mutex<HashMap<i64, Vec<Entry>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn prop(config: &Config, name: &str, default: i64) -> i64 {
    config
        .props
        .get(name)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

impl GroupCoordinator {
    pub fn new(config: &Config) -> GroupCoordinator {
        GroupCoordinator {
            groups: Mutex::new(HashMap::new()),
            limits: GroupLimits {
                min_session_timeout: Duration::from_millis(
                    prop(config, "group.min.session.timeout.ms", 6000).max(0) as u64,
                ),
                max_session_timeout: Duration::from_millis(
                    prop(config, "group.max.session.timeout.ms", 1_800_000).max(0) as u64,
                ),
                initial_rebalance_delay: Duration::from_millis(
                    prop(config, "group.initial.rebalance.delay.ms", 3000).max(0) as u64,
                ),
                max_size: prop(config, "group.max.size", i32::MAX as i64).max(1) as usize,
            },
            offsets_partitions: prop(config, "offsets.topic.num.partitions", 50).clamp(1, 1000)
                as i32,
            offsets_retention_ms: prop(config, "offsets.retention.minutes", 10080)
                .saturating_mul(60_000),
            metadata_max_bytes: prop(config, "offset.metadata.max.bytes", 4096).max(0) as usize,
            topic_lock: Mutex::new(()),
            replicated: config.kraft.is_some(),
            consumer_session_timeout: Duration::from_millis(
                prop(config, "group.consumer.session.timeout.ms", 45_000).max(1) as u64,
            ),
            pending_txn: Mutex::new(HashMap::new()),
            consumer_heartbeat_interval: Duration::from_millis(
                prop(config, "group.consumer.heartbeat.interval.ms", 5000).max(1) as u64,
            ),
        }
    }

    /// Rebuilds groups and offsets from `__consumer_offsets`, if it exists. Transactional
    /// offset commits stay pending until their producer's COMMIT marker (dropped on ABORT).
    pub fn load(&self, cluster: &Cluster) {
        let Some(topic) = cluster.topic(OFFSETS_TOPIC) else {
            return;
        };
        let started = Instant::now();
        let mut records = 0usize;
        for p in &topic.partitions {
            records += self.replay_offsets_partition(p);
        }
        let n = lock(&self.groups).len();
        if records > 0 {
            tracing::info!(
                "loaded {n} group(s) from {records} record(s) of {OFFSETS_TOPIC} in {:.1} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
    }

    /// This broker became the leader (so the coordinator) of one `__consumer_offsets`
    /// partition: the groups placed there are rebuilt from the replicated log, replacing
    /// whatever this broker remembered from an earlier term.
    pub fn reload_partition(&self, p: &crate::log::Partition) {
        let n = self.offsets_partitions;
        lock(&self.groups).retain(|id, _| store::partition_for(id, n) != p.index);
        let started = Instant::now();
        let records = self.replay_offsets_partition(p);
        tracing::info!(
            "coordinator for {OFFSETS_TOPIC}-{}: loaded {records} record(s) in {:.1} ms",
            p.index,
            started.elapsed().as_secs_f64() * 1000.0
        );
    }

    /// Whether this broker coordinates the group (on a cluster: leads its offsets partition).
    pub fn placed_here(&self, group: &str, leads: impl Fn(i32) -> bool) -> bool {
        !self.replicated || leads(store::partition_for(group, self.offsets_partitions))
    }

    fn replay_offsets_partition(&self, p: &crate::log::Partition) -> usize {
        let mut records = 0usize;
        replay_partition(p, |h, r| {
            let Some(key) = r.key else { return };
            let key = Bytes::copy_from_slice(key);
            let value = r.value.map(Bytes::copy_from_slice);
            if h.is_control() {
                let commit = key.len() >= 4 && i16::from_be_bytes([key[2], key[3]]) == 1;
                self.end_transaction(h.producer_id, commit);
                return;
            }
            let Some(e) = store::decode(&key, value.as_ref()) else {
                return;
            };
            records += 1;
            if h.is_transactional() {
                lock(&self.pending_txn)
                    .entry(h.producer_id)
                    .or_default()
                    .push(e);
            } else {
                self.apply(e);
            }
        });
        records
    }

    /// A transaction touching the offsets topic ended: apply or drop its pending offsets.
    pub fn end_transaction(&self, producer_id: i64, commit: bool) {
        let pending = lock(&self.pending_txn)
            .remove(&producer_id)
            .unwrap_or_default();
        if commit {
            for e in pending {
                self.apply(e);
            }
        }
    }

    /// TxnOffsetCommit: writes the offsets as the producer's transactional records; they become
    /// visible to OffsetFetch when the transaction commits.
    pub fn txn_commit(
        &self,
        cluster: &Cluster,
        group: &str,
        producer_id: i64,
        epoch: i16,
        items: Vec<CommitItem>,
    ) -> Vec<i16> {
        let PreparedCommits {
            mut codes,
            records,
            accepted,
        } = self.prepare_commits(cluster, group, items);
        if records.is_empty() {
            return codes;
        }
        let written = self.ensure_offsets_topic(cluster).and_then(|_| {
            let topic = cluster
                .topic(OFFSETS_TOPIC)
                .ok_or("offsets topic vanished")?;
            let p = store::partition_for(group, topic.partitions.len() as i32);
            let part = topic
                .partitions
                .get(p as usize)
                .ok_or("offsets partition missing")?;
            let batch = encode_records(records, producer_id, epoch, true);
            part.append(&batch).map(|_| ()).map_err(|e| e.to_string())
        });
        match written {
            Ok(()) => {
                let mut pending = lock(&self.pending_txn);
                let list = pending.entry(producer_id).or_default();
                for (_, topic, partition, v) in accepted {
                    list.push(Entry::Offset {
                        group: group.to_string(),
                        topic,
                        partition,
                        value: Some(v),
                    });
                }
            }
            Err(e) => {
                tracing::error!("could not write transactional offsets of group {group}: {e}");
                for (i, ..) in accepted {
                    codes[i] = error::COORDINATOR_NOT_AVAILABLE;
                }
            }
        }
        codes
    }

    /// Whether `group` has offsets waiting on an open transaction (OffsetFetch require_stable).
    pub fn has_pending(&self, group: &str) -> bool {
        lock(&self.pending_txn)
            .values()
            .flatten()
            .any(|e| matches!(e, Entry::Offset { group: g, .. } if g == group))
    }

    fn apply(&self, e: Entry) {
        match e {
            Entry::Offset {
                group,
                topic,
                partition,
                value,
            } => {
                let g = self.group_or_create(&group);
                let mut g = lock(&g);
                match value {
                    Some(v) => {
                        g.offsets.insert((topic, partition), v);
                    }
                    None => {
                        g.offsets.remove(&(topic, partition));
                    }
                }
            }
            Entry::Group { group, value } => match value {
                Some(v) => {
                    let g = self.group_or_create(&group);
                    lock(&g).restore(v);
                }
                None => {
                    lock(&self.groups).remove(&group);
                }
            },
        }
    }

    fn group_or_create(&self, id: &str) -> Arc<Mutex<Group>> {
        lock(&self.groups)
            .entry(id.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(Group::new(id, now_ms()))))
            .clone()
    }

    pub fn group(&self, id: &str) -> Option<Arc<Mutex<Group>>> {
        lock(&self.groups).get(id).cloned()
    }

    /// The group, created if it does not exist.
    pub fn get_or_create(&self, id: &str) -> Arc<Mutex<Group>> {
        self.group_or_create(id)
    }

    pub fn all_groups(&self) -> Vec<Arc<Mutex<Group>>> {
        lock(&self.groups).values().cloned().collect()
    }

    /// `offsets.topic.num.partitions`.
    pub fn offsets_partition_count(&self) -> i32 {
        self.offsets_partitions
    }

    /// Makes sure `__consumer_offsets` exists (created on first use, as Kafka does).
    pub fn ensure_offsets_topic(&self, cluster: &Cluster) -> Result<(), String> {
        if cluster.topic(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        if self.replicated {
            return Err(format!("{OFFSETS_TOPIC} is not created yet"));
        }
        let _g = lock(&self.topic_lock);
        if cluster.topic(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        let mut cfg = BTreeMap::new();
        cfg.insert("cleanup.policy".to_string(), "compact".to_string());
        cfg.insert("segment.bytes".to_string(), "104857600".to_string());
        cfg.insert("compression.type".to_string(), "producer".to_string());
        cluster
            .create_topic(
                OFFSETS_TOPIC,
                self.offsets_partitions,
                1,
                cfg,
                (1, 1),
                false,
            )
            .map(|_| ())
            .or_else(|e| match e {
                crate::cluster::TopicError::AlreadyExists(_) => Ok(()),
                e => Err(e.to_string()),
            })
    }

    /// Appends records for `group` to its partition of the offsets topic.
    pub fn persist(
        &self,
        cluster: &Cluster,
        group: &str,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), String> {
        if records.is_empty() {
            return Ok(());
        }
        self.ensure_offsets_topic(cluster)?;
        let topic = cluster
            .topic(OFFSETS_TOPIC)
            .ok_or("offsets topic vanished")?;
        let p = store::partition_for(group, topic.partitions.len() as i32);
        let part = topic
            .partitions
            .get(p as usize)
            .ok_or("offsets partition missing")?;
        let buf = encode_records(records, -1, -1, false);
        part.append(&buf).map(|_| ()).map_err(|e| e.to_string())
    }

    /// Writes the group's membership if a transition marked it changed.
    pub fn persist_group_if_dirty(&self, cluster: &Cluster, g: &mut Group) {
        if !g.dirty {
            return;
        }
        g.dirty = false;
        let rec = store::group_record(&g.id, Some(&g.to_value()));
        if let Err(e) = self.persist(cluster, &g.id.clone(), vec![rec]) {
            tracing::error!("could not persist group {}: {e}", g.id);
        }
    }

    /// Validates commit items: per-item codes, plus the accepted ones as (index in codes,
    /// topic, partition, value) and their records.
    fn prepare_commits(
        &self,
        cluster: &Cluster,
        group: &str,
        items: Vec<CommitItem>,
    ) -> PreparedCommits {
        let now = now_ms();
        let mut p = PreparedCommits::default();
        for it in items {
            let meta = it.metadata.unwrap_or_default();
            if meta.len() > self.metadata_max_bytes {
                p.codes.push(error::OFFSET_METADATA_TOO_LARGE);
                continue;
            }
            if cluster.partition(&it.topic, it.partition).is_none() {
                p.codes.push(error::UNKNOWN_TOPIC_OR_PARTITION);
                continue;
            }
            let v = OffsetValue {
                offset: it.offset,
                leader_epoch: it.leader_epoch,
                metadata: meta,
                commit_timestamp: now,
            };
            p.records.push(store::offset_record(
                group,
                &it.topic,
                it.partition,
                Some(&v),
            ));
            p.accepted.push((p.codes.len(), it.topic, it.partition, v));
            p.codes.push(error::NONE);
        }
        p
    }

    /// Stores commits; returns an error code per item, in order.
    pub fn commit(&self, cluster: &Cluster, g: &mut Group, items: Vec<CommitItem>) -> Vec<i16> {
        let PreparedCommits {
            mut codes,
            records,
            accepted,
        } = self.prepare_commits(cluster, &g.id, items);
        match self.persist(cluster, &g.id.clone(), records) {
            Ok(()) => {
                for (_, topic, partition, v) in accepted {
                    g.offsets.insert((topic, partition), v);
                }
            }
            Err(e) => {
                tracing::error!("could not persist offsets of group {}: {e}", g.id);
                for (i, ..) in accepted {
                    codes[i] = error::COORDINATOR_NOT_AVAILABLE;
                }
            }
        }
        codes
    }

    /// Deletes a group: only when it has no members. Writes tombstones for its offsets and
    /// its metadata.
    pub fn delete_group(&self, cluster: &Cluster, id: &str) -> i16 {
        let Some(g) = self.group(id) else {
            return error::GROUP_ID_NOT_FOUND;
        };
        let mut g = lock(&g);
        if !g.is_empty() {
            return error::NON_EMPTY_GROUP;
        }
        let mut records: Vec<_> = g
            .offsets
            .keys()
            .map(|(t, p)| store::offset_record(id, t, *p, None))
            .collect();
        records.push(store::group_record(id, None));
        if let Err(e) = self.persist(cluster, id, records) {
            tracing::error!("could not delete group {id}: {e}");
            return error::COORDINATOR_NOT_AVAILABLE;
        }
        g.offsets.clear();
        g.state = GroupState::Dead;
        drop(g);
        lock(&self.groups).remove(id);
        error::NONE
    }

    /// Drops every group's committed offsets for a topic that was deleted, with tombstones in
    /// the offsets topic, as Kafka's group coordinator does when it learns of deleted
    /// partitions (`onPartitionsDeleted`): OffsetFetch and ListConsumerGroupOffsets stop
    /// listing them, and a topic re-created under the same name starts without stale offsets.
    ///
    /// `leads(p)` says whether this broker leads `__consumer_offsets` partition p: on a cluster
    /// only the coordinator writes a group's tombstones (other brokers may still hold groups
    /// replayed at start).
    pub fn on_topic_deleted(&self, cluster: &Cluster, topic: &str, leads: impl Fn(i32) -> bool) {
        for g in self.all_groups() {
            let mut g = lock(&g);
            if !self.placed_here(&g.id, &leads) {
                continue;
            }
            let gone: Vec<(String, i32)> = g
                .offsets
                .keys()
                .filter(|(t, _)| t == topic)
                .cloned()
                .collect();
            if gone.is_empty() {
                continue;
            }
            let id = g.id.clone();
            let records: Vec<_> = gone
                .iter()
                .map(|(t, p)| store::offset_record(&id, t, *p, None))
                .collect();
            if let Err(e) = self.persist(cluster, &id, records) {
                // The in-memory offsets go anyway (the topic is gone); only a restart would
                // bring them back from the log.
                tracing::error!("could not write offset tombstones of group {id} for deleted topic {topic}: {e}");
            }
            for k in &gone {
                g.offsets.remove(k);
            }
        }
    }

    /// Offsets of empty groups expire `offsets.retention.minutes` after the group emptied.
    fn expire_offsets(&self, cluster: &Cluster) {
        let now = now_ms();
        for g in self.all_groups() {
            let mut g = lock(&g);
            if g.state != GroupState::Empty || g.offsets.is_empty() {
                continue;
            }
            if now - g.state_since_ms < self.offsets_retention_ms {
                continue;
            }
            let id = g.id.clone();
            let records: Vec<_> = g
                .offsets
                .keys()
                .map(|(t, p)| store::offset_record(&id, t, *p, None))
                .collect();
            if self.persist(cluster, &id, records).is_ok() {
                tracing::info!(
                    "expired {} committed offset(s) of empty group {id}",
                    g.offsets.len()
                );
                g.offsets.clear();
            }
        }
    }

    /// Runs every group's timers; spawned once per broker.
    pub async fn run_timers(
        state: Arc<crate::broker::BrokerState>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut last_expiry = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = shutdown.changed() => return,
            }
            let coord = &state.groups;
            let now = Instant::now();
            for g in coord.all_groups() {
                let mut g = lock(&g);
                if let Some(c) = g.consumer.as_mut() {
                    c.tick(now);
                    continue;
                }
                g.tick(now, &coord.limits);
                coord.persist_group_if_dirty(&state.cluster, &mut g);
            }
            if last_expiry.elapsed() > Duration::from_secs(600) {
                last_expiry = Instant::now();
                coord.expire_offsets(&state.cluster);
            }
        }
    }
}

impl GroupCoordinator {
    /// A new KIP-848 consumer group with the broker's settings.
    pub fn new_consumer_group(&self) -> consumer::ConsumerGroup {
        consumer::ConsumerGroup::new(
            self.consumer_session_timeout,
            self.consumer_heartbeat_interval,
        )
    }
}

/// One record batch of broker-written records (key, value); transactional ones carry the
/// producer's id and epoch and no sequence.
pub fn encode_records(
    records: Vec<(Bytes, Option<Bytes>)>,
    producer_id: i64,
    epoch: i16,
    transactional: bool,
) -> BytesMut {
    let now = now_ms();
    let recs: Vec<Record> = records
        .into_iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The batch's base sequence is -1 (none); the encoder keeps records in one batch
            // while offset minus sequence stays constant.
            sequence: i as i32 - 1,
            timestamp: now,
            key: Some(k),
            value: v,
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let _ = RecordBatchEncoder::encode(
        &mut buf,
        &recs,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    );
    buf
}

/// Reads a whole partition from its start, calling `f` for every record with its batch header.
pub fn replay_partition(
    p: &crate::log::Partition,
    mut f: impl FnMut(&crate::log::batch::BatchHeader, crate::log::records::RecordView<'_>),
) {
    let mut offset = p.log_start_offset();
    // A replicated partition is read to its log end: a new leader came from the ISR, so its
    // whole log is what the old leader acknowledged (its high watermark may still lag).
    let replicated = p.is_replicated();
    let end = if replicated {
        p.log_end_offset()
    } else {
        p.high_watermark()
    };
    while offset < end {
        let read = if replicated {
            p.read_replica(offset, 1 << 20)
        } else {
            p.read(offset, 1 << 20, true)
        };
        let Ok(read) = read else {
            break;
        };
        if read.records.is_empty() {
            break;
        }
        let mut next = offset;
        let walked = crate::log::records::for_each_record_in(
            &read.records,
            crate::log::records::MAX_DECOMPRESSED,
            |h, r| {
                next = next.max(h.last_offset() + 1);
                if r.offset >= offset {
                    f(h, r);
                }
            },
        );
        if let Err(e) = walked {
            tracing::error!(
                "{}-{}: unreadable batch near offset {offset} ({e}); skipping the rest",
                p.topic,
                p.index
            );
            break;
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
}

/// The topics a classic consumer-protocol member subscribes to (its ConsumerProtocolSubscription
/// metadata), for OffsetDelete's "still subscribed" check. Empty if it cannot be decoded.
pub fn subscribed_topics(metadata: &[u8]) -> Vec<String> {
    use kafka_protocol::messages::ConsumerProtocolSubscription;
    use kafka_protocol::protocol::Decodable;
    if metadata.len() < 2 {
        return Vec::new();
    }
    let version = i16::from_be_bytes([metadata[0], metadata[1]]);
    let mut b = Bytes::copy_from_slice(&metadata[2..]);
    let len = b.len();
    crate::protocol::guarded_decode(len, || {
        ConsumerProtocolSubscription::decode(&mut b, version.clamp(0, 3))
    })
    .map(|s| {
        s.topics
            .into_iter()
            .map(|t| t.as_str().to_string())
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::ConsumerProtocolSubscription;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    #[test]
    fn subscriptions_are_read_with_the_crate_codec() {
        let mut sub = ConsumerProtocolSubscription::default();
        sub.topics = vec![
            StrBytes::from_static_str("a"),
            StrBytes::from_static_str("b"),
        ];
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&1i16.to_be_bytes());
        sub.encode(&mut buf, 1).unwrap();
        assert_eq!(
            subscribed_topics(&buf),
            vec!["a".to_string(), "b".to_string()]
        );
        assert!(subscribed_topics(&[0, 1, 0xff]).is_empty());
    }
}
