//! The cluster controller as a deterministic state machine, modelled on Kafka's KRaft
//! `QuorumController` and its managers. It does no I/O and never changes its image directly:
//! every mutating call reads the image, returns the records to append and the wire response,
//! and state moves only when the caller appends those records and calls [`Controller::replay`]
//! for each. A restart that replays the log therefore reaches the same image.
//!
//! Contract for the caller: one mutating call at a time, and append + replay its records before
//! the next mutating call (as Kafka's single-threaded controller event queue does). Soft state
//! that is not in the log — heartbeat times, the end of the last producer-id block handed out —
//! lives here too, as it does in Kafka.

mod alter_partition;
mod brokers;
mod configs;
mod election;
pub mod file_log;
mod log;
mod placement;
mod producer_ids;
pub mod security;
pub mod service;
mod topics;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::metadata::{MetadataImage, MetadataRecord};
#[cfg(test)]
use crate::metadata::{BROKER_RESOURCE, TOPIC_RESOURCE};

pub use log::{MemoryLog, MetadataLog};
pub use topics::TopicRef;

/// Kafka error codes the controller answers with.
pub mod code {
    pub const NONE: i16 = 0;
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    pub const INVALID_CONFIG: i16 = 40;
    pub const INVALID_REQUEST: i16 = 42;
    pub const POLICY_VIOLATION: i16 = 44;
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    pub const STALE_BROKER_EPOCH: i16 = 77;
    pub const INVALID_UPDATE_VERSION: i16 = 95;
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
    pub const DUPLICATE_BROKER_REGISTRATION: i16 = 101;
    pub const INCONSISTENT_CLUSTER_ID: i16 = 104;
    pub const INELIGIBLE_REPLICA: i16 = 107;
    pub const NEW_LEADER_ELECTED: i16 = 108;
}

/// The controller's settings, with Kafka's names in the comments.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// `broker.session.timeout.ms`.
    pub session_timeout_ms: i64,
    /// `default.replication.factor`.
    pub default_replication_factor: i16,
    /// `num.partitions`.
    pub default_partitions: i32,
    /// `min.insync.replicas` (the cluster default; topics may override it).
    pub min_insync_replicas: i32,
    /// `unclean.leader.election.enable` (the cluster default; topics may override it).
    pub unclean_leader_election: bool,
    /// Producer ids handed to a broker per AllocateProducerIds.
    pub producer_id_block_size: i64,
    pub cluster_id: String,
    pub node_id: i32,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            session_timeout_ms: 9000,
            default_replication_factor: 1,
            default_partitions: 1,
            min_insync_replicas: 1,
            unclean_leader_election: false,
            producer_id_block_size: 1000,
            cluster_id: String::new(),
            node_id: 0,
        }
    }
}

pub struct Controller {
    image: MetadataImage,
    config: ControllerConfig,
    /// Broker id → time of its last registration or heartbeat (ms). Not in the log: a restarted
    /// controller gives every broker a fresh session from its first tick, as Kafka does.
    heartbeats: BTreeMap<i32, i64>,
    /// End of the last producer-id block proposed, so a block is never handed out twice even if
    /// the records of the previous allocation have not been replayed yet.
    producer_ids_proposed: i64,
    /// Broker id → (metadata offset it reported, when), from heartbeats: the observers and
    /// followers DescribeQuorum lists. Soft state, as the heartbeat times.
    metadata_offsets: BTreeMap<i32, (i64, i64)>,
}

impl Controller {
    pub fn new(config: ControllerConfig) -> Controller {
        Controller {
            image: MetadataImage::default(),
            config,
            heartbeats: BTreeMap::new(),
            producer_ids_proposed: 0,
            metadata_offsets: BTreeMap::new(),
        }
    }

    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    /// (broker id, metadata offset, reported at) per broker that heartbeated.
    pub fn metadata_offsets(&self) -> Vec<(i32, i64, i64)> {
        self.metadata_offsets
            .iter()
            .map(|(id, (off, at))| (*id, *off, *at))
            .collect()
    }

    /// Offset of the last replayed record (-1 before any).
    pub fn last_committed_offset(&self) -> i64 {
        self.image.offset
    }

    /// Applies one committed record. The only way the controller's state changes.
    pub fn replay(&mut self, offset: i64, record: &MetadataRecord) {
        self.image.apply(offset, record);
    }

    /// Appends `records` to `log` and replays them; returns the offset of the first.
    pub fn append_and_replay(
        &mut self,
        log: &mut dyn MetadataLog,
        records: &[MetadataRecord],
    ) -> Result<i64, String> {
        let first = log.append(records)?;
        for (i, r) in records.iter().enumerate() {
            self.replay(first + i as i64, r);
        }
        Ok(first)
    }

    /// Whether unclean leader election is enabled for a topic: its override, else the default.
    fn unclean_enabled(&self, view: &MetadataImage, topic: &str) -> bool {
        view.configs
            .get(&(crate::metadata::TOPIC_RESOURCE, topic.to_string()))
            .and_then(|c| c.get("unclean.leader.election.enable"))
            .map(|v| v.trim().eq_ignore_ascii_case("true"))
            .unwrap_or(self.config.unclean_leader_election)
    }
}

/// Records proposed by one operation, with the image as it will be once they are replayed, so
/// later decisions in the same operation see earlier ones (a second fenced broker, a second
/// topic in one CreateTopics). The copy is made only when the first record is pushed.
pub(crate) struct Batch<'a> {
    base: &'a MetadataImage,
    scratch: Option<MetadataImage>,
    records: Vec<MetadataRecord>,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(base: &'a MetadataImage) -> Batch<'a> {
        Batch {
            base,
            scratch: None,
            records: Vec::new(),
        }
    }

    pub(crate) fn view(&self) -> &MetadataImage {
        self.scratch.as_ref().unwrap_or(self.base)
    }

    pub(crate) fn push(&mut self, record: MetadataRecord) {
        let base = self.base;
        let img = self.scratch.get_or_insert_with(|| base.clone());
        let offset = img.offset + 1;
        img.apply(offset, &record);
        self.records.push(record);
    }

    pub(crate) fn into_records(self) -> Vec<MetadataRecord> {
        self.records
    }
}

/// FNV-1a over the parts: a stable seed for placement and topic ids derived from the request,
/// so the same inputs always propose the same records.
pub(crate) fn seed_of(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
