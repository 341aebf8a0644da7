//! Replication on this broker (Kafka's ReplicaManager and Partition.scala, for the parts clients
//! observe): which local partitions it leads or follows according to the metadata image, the
//! leader's view of its followers (log end offsets, last caught-up times), the high watermark
//! from the ISR, and ISR changes asked of the controller with AlterPartition.
//!
//! The log (`crate::log`) stays storage: this module decides roles and moves the high
//! watermark; the fetcher (`fetcher.rs`) copies batches; `lifecycle.rs` registers the broker
//! and keeps the image current.

pub mod durable;
pub mod fetcher;
pub mod lifecycle;
pub mod peers;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use uuid::Uuid;

use crate::broker::BrokerState;
use crate::config::kraft::KraftSettings;
use crate::log::segment::now_ms;
use crate::log::Partition;
use crate::metadata::{MetadataImage, PartitionImage};

use peers::Peer;

/// Kafka's error codes this module answers with.
pub mod code {
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    pub const REQUEST_TIMED_OUT: i16 = 7;
    pub const REPLICA_NOT_AVAILABLE: i16 = 9;
    pub const NOT_ENOUGH_REPLICAS: i16 = 19;
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;
    pub const NOT_CONTROLLER: i16 = 41;
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    pub const UNKNOWN_LEADER_EPOCH: i16 = 75;
}

/// Why an AlterPartition did not apply: no answer (it may or may not have been committed), or
/// a refusal with Kafka's error code.
#[derive(Debug)]
enum AlterError {
    Unanswered(String),
    Refused(i16),
}

/// The controller refused because it changed the partition itself (committed a new leader).
const NEW_LEADER_ELECTED: i16 = 108;

/// A follower as its leader sees it.
#[derive(Clone, Debug)]
struct Follower {
    /// Its log end offset: the offset of its last fetch (-1 until it fetches).
    leo: i64,
    last_fetch_ms: i64,
    /// The leader's log end offset when that fetch was served.
    leader_leo_at_last_fetch: i64,
    last_caught_up_ms: i64,
}

/// This broker's view of one local partition.
#[derive(Clone, Debug)]
struct PartState {
    topic_id: Uuid,
    leader: i32,
    leader_epoch: i32,
    partition_epoch: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    /// While an AlterPartition is in flight: the maximal ISR (old ∪ new, KIP-497) the high
    /// watermark is computed over.
    pending_isr: Option<Vec<i32>>,
    followers: HashMap<i32, Follower>,
}

impl PartState {
    fn maximal_isr(&self) -> Vec<i32> {
        match &self.pending_isr {
            Some(p) => {
                let mut v = self.isr.clone();
                for b in p {
                    if !v.contains(b) {
                        v.push(*b);
                    }
                }
                v
            }
            None => self.isr.clone(),
        }
    }
}

/// What a handler needs to know about a partition's leadership.
#[derive(Clone, Debug)]
pub struct Leadership {
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub replicas: Vec<i32>,
}

pub struct ReplicaManager {
    pub node_id: i32,
    pub settings: KraftSettings,
    image: RwLock<Arc<MetadataImage>>,
    /// The last metadata offset applied here; watchers wait on it (topic creation, startup).
    applied: watch::Sender<i64>,
    parts: Mutex<HashMap<(String, i32), PartState>>,
    pub broker_epoch: AtomicI64,
    pub fenced: AtomicBool,
    /// Whether the image has caught up with the controller once (until then, local topics
    /// missing from it are kept, not deleted).
    caught_up: AtomicBool,
    /// Requests to the controller other than heartbeats and metadata fetches.
    pub controller: Peer,
    /// Connections to other brokers, by id (see `broker_peer`).
    broker_peers: Mutex<HashMap<i32, Arc<Peer>>>,
    /// This broker's listener address, the source of its connections to other nodes.
    pub bind: Option<std::net::IpAddr>,
    /// How links to other brokers and to the controller are secured.
    pub broker_link: peers::LinkSecurity,
    pub controller_link: peers::LinkSecurity,
    fetchers: Mutex<HashSet<i32>>,
    /// Topic ids seen in any image during this run: a local topic among them that leaves the
    /// image was deleted, while one never seen is a stray, kept.
    seen_topics: Mutex<HashSet<Uuid>>,
    strays_reported: Mutex<HashSet<Uuid>>,
    /// Woken when the set of followed partitions changes.
    pub follow_changed: tokio::sync::Notify,
    /// Controlled shutdown: asked (before listeners close), and finished (leadership moved, or
    /// given up on after a bound).
    shutdown_asked: watch::Sender<bool>,
    shutdown_done: watch::Sender<bool>,
    publishing: Mutex<()>,
}

/// ACLs and SCRAM credentials come from the metadata log once the image has caught up with
/// the controller; until then the broker keeps the set it last knew (its local files), never a
/// partial one.
fn sync_security(state: &BrokerState, img: &MetadataImage) {
    state.authorizer.set_from_metadata(
        img.acls
            .values()
            .map(crate::security::acl::AclBinding::from)
            .collect(),
    );
    state.users.set_from_metadata(
        img.scram
            .iter()
            .filter_map(|((name, mech), s)| {
                let m = crate::security::scram::Mechanism::from_id(*mech)?;
                Some((
                    name.clone(),
                    m,
                    crate::controller::security::credential_of(s),
                ))
            })
            .collect(),
    );
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ReplicaManager {
    pub fn new(
        config: &crate::config::Config,
        settings: KraftSettings,
    ) -> Result<ReplicaManager, String> {
        let bind = peers::source_ip(config);
        let broker_link = peers::LinkSecurity::build(
            config,
            &settings.inter_broker_listener,
            "sasl.mechanism.inter.broker.protocol",
        )?;
        let controller_listener = settings
            .controller_listener_names
            .first()
            .cloned()
            .unwrap_or_default();
        let controller_link = peers::LinkSecurity::build(
            config,
            &controller_listener,
            "sasl.mechanism.controller.protocol",
        )?;
        let addr = settings
            .active_controller()
            .map(|v| v.addr())
            .unwrap_or_default();
        Ok(ReplicaManager {
            node_id: settings.node_id,
            controller: Peer::new(
                addr,
                peers::options(
                    &controller_link,
                    &format!("weir-broker-{}", settings.node_id),
                    bind,
                    Duration::from_secs(10),
                ),
            ),
            settings,
            broker_peers: Mutex::new(HashMap::new()),
            bind,
            broker_link,
            controller_link,
            image: RwLock::new(Arc::new(MetadataImage::default())),
            applied: watch::channel(-1).0,
            parts: Mutex::new(HashMap::new()),
            broker_epoch: AtomicI64::new(-1),
            fenced: AtomicBool::new(true),
            caught_up: AtomicBool::new(false),
            fetchers: Mutex::new(HashSet::new()),
            seen_topics: Mutex::new(HashSet::new()),
            strays_reported: Mutex::new(HashSet::new()),
            follow_changed: tokio::sync::Notify::new(),
            shutdown_asked: watch::channel(false).0,
            shutdown_done: watch::channel(false).0,
            publishing: Mutex::new(()),
        })
    }

    /// Starts a controlled shutdown: the heartbeat asks the controller to move this broker's
    /// leaderships while it keeps serving (clients get NOT_LEADER_OR_FOLLOWER with the new
    /// leader). Returns once that is done or `limit` passed.
    pub async fn controlled_shutdown(&self, limit: Duration) {
        self.shutdown_asked.send_replace(true);
        let mut done = self.shutdown_done.subscribe();
        let _ = tokio::time::timeout(limit, done.wait_for(|d| *d)).await;
    }

    pub(crate) fn shutdown_asked(&self) -> watch::Receiver<bool> {
        self.shutdown_asked.subscribe()
    }

    pub(crate) fn shutdown_finished(&self) {
        self.shutdown_done.send_replace(true);
    }

    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn applied_offset(&self) -> i64 {
        *self.applied.borrow()
    }

    pub fn subscribe_applied(&self) -> watch::Receiver<i64> {
        self.applied.subscribe()
    }

    /// The active controller's id.
    pub fn controller_id(&self) -> i32 {
        self.settings.active_controller().map_or(-1, |v| v.id)
    }

    /// Called once before serving: every local partition is replicated (the high watermark
    /// moves only by the ISR rule) and starts from the checkpointed high watermark, so a
    /// restart never exposes a tail that was not replicated.
    pub fn prepare_local_logs(&self, state: &BrokerState) {
        let ckpt = crate::log::checkpoint::read_hw_checkpoint(state.cluster.data_dir());
        for p in state.cluster.all_partitions() {
            p.set_replicated(true);
            let hw = ckpt.get(&(p.topic.clone(), p.index)).copied().unwrap_or(0);
            p.set_high_watermark(hw.min(p.log_end_offset()));
        }
    }

    /// Writes every local partition's high watermark to `replication-offset-checkpoint`.
    pub fn checkpoint_high_watermarks(&self, state: &BrokerState) {
        let entries: Vec<(String, i32, i64)> = state
            .cluster
            .all_partitions()
            .iter()
            .map(|p| (p.topic.clone(), p.index, p.high_watermark()))
            .collect();
        if let Err(e) =
            crate::log::checkpoint::write_hw_checkpoint(state.cluster.data_dir(), &entries)
        {
            tracing::warn!("could not write the high-watermark checkpoint: {e}");
        }
    }

    /// Leadership of a partition as this broker knows it (None: not in the image).
    pub fn leadership(&self, topic: &str, index: i32) -> Option<Leadership> {
        let img = self.image();
        let t = img.topic_by_name(topic)?;
        let p = t.partitions.get(&index)?;
        Some(Leadership {
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            isr: p.isr.clone(),
            replicas: p.replicas.clone(),
        })
    }

    /// Whether this broker leads the partition at `current_epoch` (-1: any), with the leader
    /// epoch it leads at; Kafka's error otherwise.
    pub fn check_leader(&self, topic: &str, index: i32, current_epoch: i32) -> Result<i32, i16> {
        match self.replica_state(topic, index, current_epoch)? {
            (leader, epoch) if leader == self.node_id => Ok(epoch),
            _ => Err(code::NOT_LEADER_OR_FOLLOWER),
        }
    }

    /// (leader, leader epoch) of a partition this broker holds, after Kafka's checks of the
    /// client's `current_epoch` (-1: any): older is FENCED_LEADER_EPOCH, newer is
    /// UNKNOWN_LEADER_EPOCH, not held here is NOT_LEADER_OR_FOLLOWER.
    fn replica_state(
        &self,
        topic: &str,
        index: i32,
        current_epoch: i32,
    ) -> Result<(i32, i32), i16> {
        let parts = lock(&self.parts);
        let Some(s) = parts.get(&(topic.to_string(), index)) else {
            return Err(code::NOT_LEADER_OR_FOLLOWER);
        };
        if current_epoch >= 0 && current_epoch < s.leader_epoch {
            return Err(code::FENCED_LEADER_EPOCH);
        }
        if current_epoch > s.leader_epoch {
            return Err(code::UNKNOWN_LEADER_EPOCH);
        }
        Ok((s.leader, s.leader_epoch))
    }

    /// A connection to another broker's inter-broker listener (transaction markers, and the
    /// partition leader's calls to a transaction coordinator), kept while its address holds.
    pub fn broker_peer(&self, broker: i32) -> Option<Arc<Peer>> {
        let img = self.image();
        let b = img.brokers.get(&broker)?;
        let e = b.endpoint(&self.settings.inter_broker_listener)?;
        let addr = format!("{}:{}", e.host, e.port);
        let mut peers = lock(&self.broker_peers);
        if let Some(p) = peers.get(&broker).filter(|p| p.addr() == addr) {
            return Some(p.clone());
        }
        let p = Arc::new(Peer::new(
            addr,
            peers::options(
                &self.broker_link,
                &format!("weir-broker-{}", self.node_id),
                self.bind,
                Duration::from_secs(15),
            ),
        ));
        peers.insert(broker, p.clone());
        Some(p)
    }

    /// A broker's (host, port, rack) on the named listener (else its first), for KIP-951
    /// leader hints in NOT_LEADER_OR_FOLLOWER answers.
    pub fn endpoint_of(
        &self,
        broker: i32,
        listener: &str,
    ) -> Option<(String, u16, Option<String>)> {
        let img = self.image();
        let b = img.brokers.get(&broker).filter(|b| !b.fenced)?;
        let e = b.endpoint(listener)?;
        Some((e.host.clone(), e.port, b.rack.clone()))
    }

    /// Whether this broker currently leads the partition.
    pub fn leads(&self, topic: &str, index: i32) -> bool {
        lock(&self.parts)
            .get(&(topic.to_string(), index))
            .is_some_and(|s| s.leader == self.node_id)
    }

    /// Whether this broker holds the partition (leader or follower) at `current_epoch`: a
    /// consumer that names its rack (Fetch v11+, KIP-392) may read from a follower.
    pub fn check_replica(&self, topic: &str, index: i32, current_epoch: i32) -> Result<(), i16> {
        self.replica_state(topic, index, current_epoch).map(|_| ())
    }

    /// KIP-392 with Kafka's RackAwareReplicaSelector: on the leader, an in-sync follower in the
    /// consumer's rack that already holds `fetch_offset`, if the leader is not in that rack.
    pub fn preferred_read_replica(
        &self,
        topic: &str,
        index: i32,
        rack: &str,
        fetch_offset: i64,
    ) -> Option<i32> {
        if !self.settings.rack_aware_selector || rack.is_empty() {
            return None;
        }
        if self.settings.rack.as_deref() == Some(rack) {
            return None;
        }
        let img = self.image();
        let parts = lock(&self.parts);
        let s = parts.get(&(topic.to_string(), index))?;
        if s.leader != self.node_id {
            return None;
        }
        s.isr.iter().copied().find(|b| {
            *b != self.node_id
                && img
                    .brokers
                    .get(b)
                    .is_some_and(|r| !r.fenced && r.rack.as_deref() == Some(rack))
                && s.followers.get(b).is_some_and(|f| f.leo >= fetch_offset)
        })
    }

    /// The committed ISR size of a partition this broker leads (0 if it does not).
    pub fn isr_size(&self, topic: &str, index: i32) -> usize {
        lock(&self.parts)
            .get(&(topic.to_string(), index))
            .filter(|s| s.leader == self.node_id)
            .map_or(0, |s| s.isr.len())
    }

    /// Partitions this broker follows from `leader`: (topic, index, leader epoch).
    pub fn followed_from(&self, leader: i32) -> Vec<(String, i32, i32)> {
        lock(&self.parts)
            .iter()
            .filter(|(_, s)| s.leader == leader && s.replicas.contains(&self.node_id))
            .map(|((t, i), s)| (t.clone(), *i, s.leader_epoch))
            .collect()
    }

    /// Whether this broker still follows the partition from `leader` at `epoch`.
    pub fn still_follows(&self, topic: &str, index: i32, leader: i32, epoch: i32) -> bool {
        lock(&self.parts)
            .get(&(topic.to_string(), index))
            .is_some_and(|s| s.leader == leader && s.leader_epoch == epoch)
    }

    /// Applies a new image: mirrors topics into the local registry, then takes up leadership
    /// or followership of every local replica whose state changed.
    pub fn publish(self: &Arc<Self>, state: &Arc<BrokerState>, image: MetadataImage) {
        // One publish at a time, never going back to an older image.
        let _one = lock(&self.publishing);
        if image.offset < self.image().offset {
            return;
        }
        let offset = image.offset;
        let image = Arc::new(image);
        *self.image.write().unwrap_or_else(|p| p.into_inner()) = image.clone();
        self.sync_topics(state, &image);
        if self.caught_up.load(Ordering::SeqCst) {
            sync_security(state, &image);
        }
        // Roles wait until the image holds this process's own registration (Kafka's initial
        // catch-up): before that it may be an image from before a crash, in which this broker
        // still leads partitions the controller has since moved.
        let epoch = self.broker_epoch.load(Ordering::SeqCst);
        let registered = epoch >= 0
            && image
                .brokers
                .get(&self.node_id)
                .is_some_and(|b| b.epoch == epoch);
        if !registered {
            self.applied.send_replace(offset);
            return;
        }
        let mut leaders_to_check = Vec::new();
        let mut new_leaderships = Vec::new();
        let mut followed = HashSet::new();
        {
            let mut parts = lock(&self.parts);
            let mut seen = HashSet::new();
            for t in image.topics.values() {
                let Some(local) = state.cluster.topic(&t.name) else {
                    continue;
                };
                for (idx, pi) in &t.partitions {
                    let key = (t.name.clone(), *idx);
                    if !pi.replicas.contains(&self.node_id) {
                        continue;
                    }
                    let Some(p) = local.partition(*idx) else {
                        continue;
                    };
                    seen.insert(key.clone());
                    let prev = parts.get(&key).cloned();
                    let next = self.transition(&p, t.id, pi, prev.as_ref());
                    let was_leader = prev.as_ref().is_some_and(|s| {
                        s.leader == self.node_id && s.leader_epoch == next.leader_epoch
                    });
                    if next.leader == self.node_id && !was_leader {
                        new_leaderships.push((p.clone(), next.leader_epoch));
                    }
                    if next.leader == self.node_id {
                        leaders_to_check.push((key.clone(), p.clone()));
                    } else if next.leader >= 0 {
                        followed.insert(next.leader);
                    }
                    parts.insert(key, next);
                }
            }
            parts.retain(|k, _| seen.contains(k));
        }
        for ((topic, idx), p) in leaders_to_check {
            self.refresh_leader(&topic, idx, &p);
        }
        // The group coordinator of a newly led offsets partition rebuilds its groups from the
        // replicated log before it answers for them.
        // So does the transaction coordinator of a newly led transaction-log partition.
        for (p, epoch) in new_leaderships {
            if p.topic == crate::group::store::OFFSETS_TOPIC {
                state.groups.reload_partition(&p);
            } else if p.topic == crate::txn::coordinator::TXN_TOPIC {
                state.txns.reload_partition(&p, epoch);
            }
        }
        for leader in followed {
            self.ensure_fetcher(state, leader);
        }
        self.follow_changed.notify_waiters();
        self.applied.send_replace(offset);
    }

    /// Marks the image as caught up with the controller: from now on a local topic missing
    /// from the image is reported as a stray.
    pub fn mark_caught_up(&self, state: &BrokerState) {
        if !self.caught_up.swap(true, Ordering::SeqCst) {
            let img = self.image();
            self.sync_topics(state, &img);
            sync_security(state, &img);
        }
    }

    fn sync_topics(&self, state: &BrokerState, image: &MetadataImage) {
        for t in image.topics.values() {
            let configs: BTreeMap<String, String> = image
                .configs
                .get(&(2, t.name.clone()))
                .cloned()
                .unwrap_or_default();
            let count = t.partitions.keys().max().map_or(0, |m| m + 1);
            let rf = t
                .partitions
                .values()
                .next()
                .map_or(1, |p| p.replicas.len() as i16);
            if let Err(e) = state
                .cluster
                .ensure_topic(&t.name, t.id, count, rf, configs)
            {
                tracing::error!("cannot open local logs of topic {}: {e}", t.name);
            }
        }
        let mut seen = lock(&self.seen_topics);
        seen.extend(image.topics.keys().copied());
        for local in state.cluster.topics() {
            if image.topics.contains_key(&local.meta.id) {
                continue;
            }
            if seen.contains(&local.meta.id) {
                // Deleted while this broker was running (RemoveTopic).
                tracing::info!(
                    "topic {} ({}) was deleted: removing its local logs",
                    local.meta.name,
                    local.meta.id
                );
                let _ = state.cluster.delete_topic(&local.meta.name);
                state
                    .groups
                    .on_topic_deleted(&state.cluster, &local.meta.name, |p| {
                        self.leads(crate::group::store::OFFSETS_TOPIC, p)
                    });
            } else if self.caught_up.load(Ordering::SeqCst)
                && lock(&self.strays_reported).insert(local.meta.id)
            {
                // Never in this cluster's metadata (a single-node data directory, or a topic
                // deleted while this broker was away): kept on disk, never served, as Kafka
                // keeps stray logs rather than deleting data it cannot account for.
                tracing::warn!(
                    "topic {} ({}) in {} is not in the cluster metadata: its logs are kept but not served",
                    local.meta.name,
                    local.meta.id,
                    state.cluster.data_dir().display()
                );
            }
        }
    }

    /// Moves one local replica to the state the image gives it.
    fn transition(
        &self,
        p: &Partition,
        topic_id: Uuid,
        pi: &PartitionImage,
        prev: Option<&PartState>,
    ) -> PartState {
        let now = now_ms();
        let changed_leader =
            prev.is_none_or(|s| s.leader != pi.leader || s.leader_epoch != pi.leader_epoch);
        let mut next = PartState {
            topic_id,
            leader: pi.leader,
            leader_epoch: pi.leader_epoch,
            partition_epoch: pi.partition_epoch,
            replicas: pi.replicas.clone(),
            isr: pi.isr.clone(),
            pending_isr: None,
            followers: HashMap::new(),
        };
        if !changed_leader {
            if let Some(s) = prev {
                next.followers = s.followers.clone();
                // An AlterPartition answer already applied keeps its newer partition epoch.
                if s.partition_epoch > pi.partition_epoch {
                    next.partition_epoch = s.partition_epoch;
                    next.isr = s.isr.clone();
                }
                if s.pending_isr.is_some() && s.partition_epoch >= pi.partition_epoch {
                    next.pending_isr = s.pending_isr.clone();
                }
            }
            return next;
        }
        p.set_replicated(true);
        if pi.leader == self.node_id {
            p.become_leader(pi.leader_epoch);
            for r in &pi.replicas {
                if *r != self.node_id {
                    next.followers.insert(
                        *r,
                        Follower {
                            leo: -1,
                            last_fetch_ms: 0,
                            leader_leo_at_last_fetch: -1,
                            // Kafka starts every ISR member as caught up when leadership moves.
                            last_caught_up_ms: if pi.isr.contains(r) { now } else { 0 },
                        },
                    );
                }
            }
            tracing::info!(
                "{}-{}: leader at epoch {} (isr {:?}, log end {}, high watermark {})",
                p.topic,
                p.index,
                pi.leader_epoch,
                pi.isr,
                p.log_end_offset(),
                p.high_watermark()
            );
        } else {
            p.set_follower_epoch(pi.leader_epoch);
            tracing::info!(
                "{}-{}: follower of {} at epoch {}",
                p.topic,
                p.index,
                pi.leader,
                pi.leader_epoch
            );
        }
        next
    }

    fn ensure_fetcher(self: &Arc<Self>, state: &Arc<BrokerState>, leader: i32) {
        if leader == self.node_id || !lock(&self.fetchers).insert(leader) {
            return;
        }
        tokio::spawn(fetcher::run(state.clone(), self.clone(), leader));
    }

    /// The leader's side of a follower fetch: records the follower's position, advances the
    /// high watermark and asks for an ISR expansion when the follower has caught up.
    pub fn on_follower_fetch(
        self: &Arc<Self>,
        p: &Arc<Partition>,
        replica: i32,
        fetch_offset: i64,
        leader_leo: i64,
    ) {
        let now = now_ms();
        let key = (p.topic.clone(), p.index);
        let expand = {
            let mut parts = lock(&self.parts);
            let Some(s) = parts.get_mut(&key) else {
                return;
            };
            if s.leader != self.node_id {
                return;
            }
            let Some(f) = s.followers.get_mut(&replica) else {
                return;
            };
            if fetch_offset >= leader_leo {
                f.last_caught_up_ms = now;
            } else if fetch_offset >= f.leader_leo_at_last_fetch && f.leader_leo_at_last_fetch >= 0
            {
                f.last_caught_up_ms = f.last_caught_up_ms.max(f.last_fetch_ms);
            }
            f.leo = fetch_offset;
            f.last_fetch_ms = now;
            f.leader_leo_at_last_fetch = leader_leo;
            let in_isr = s.maximal_isr().contains(&replica);
            // Kafka's isFollowerInSync: caught up to the high watermark and to the start of
            // this leader's epoch.
            let epoch_start = p.end_offset_for_epoch(s.leader_epoch - 1).1.max(0);
            // Kafka's isReplicaIsrEligible: a fenced broker or one shutting down may not join.
            let eligible = self
                .image()
                .brokers
                .get(&replica)
                .is_some_and(|b| !b.fenced && !b.in_controlled_shutdown);
            let candidate = !in_isr && eligible && s.pending_isr.is_none();
            if candidate {
                // Leave solo mode first (under the log lock), so no append can publish a high
                // watermark past this follower between the check and its joining.
                p.set_replicated(true);
            }
            if candidate && fetch_offset >= p.high_watermark() && fetch_offset >= epoch_start {
                let mut new_isr = s.isr.clone();
                new_isr.push(replica);
                s.pending_isr = Some(new_isr.clone());
                Some((s.topic_id, s.leader_epoch, s.partition_epoch, new_isr))
            } else {
                None
            }
        };
        // Back to solo mode if the follower did not join after all.
        self.refresh_leader(&key.0, key.1, p);
        if let Some((topic_id, leader_epoch, partition_epoch, isr)) = expand {
            tracing::info!(
                "{}-{}: expanding ISR to {isr:?} (replica {replica} caught up)",
                key.0,
                key.1
            );
            if let Some(m) = crate::metrics::get() {
                m.isr_expands.inc();
            }
            self.spawn_alter(p.clone(), key, topic_id, leader_epoch, partition_epoch, isr);
        }
    }

    /// A leader alone in its (maximal) ISR commits on append, as Kafka's high-watermark rule
    /// gives (the minimum over the ISR is its own log end); with followers in the ISR only
    /// their fetches move it.
    fn refresh_leader(&self, topic: &str, index: i32, p: &Partition) {
        let solo = lock(&self.parts)
            .get(&(topic.to_string(), index))
            .filter(|s| s.leader == self.node_id)
            .map(|s| s.maximal_isr().iter().all(|b| *b == self.node_id));
        if let Some(solo) = solo {
            p.set_replicated(!solo);
        }
        self.maybe_advance_hw(topic, index, p);
    }

    /// High watermark = the smallest log end offset over the leader and the maximal ISR.
    pub fn maybe_advance_hw(&self, topic: &str, index: i32, p: &Partition) {
        let leo = p.log_end_offset();
        let hw = {
            let parts = lock(&self.parts);
            let Some(s) = parts.get(&(topic.to_string(), index)) else {
                return;
            };
            if s.leader != self.node_id {
                return;
            }
            let mut hw = leo;
            for b in s.maximal_isr() {
                if b == self.node_id {
                    continue;
                }
                let f = s.followers.get(&b).map_or(-1, |f| f.leo);
                hw = hw.min(f);
            }
            hw
        };
        if hw > p.high_watermark() {
            p.set_high_watermark(hw);
        }
    }

    /// Followers that have not caught up within `replica.lag.time.max.ms` leave the ISR.
    pub fn shrink_isrs(self: &Arc<Self>, state: &BrokerState) {
        let now = now_ms();
        let lag = self.settings.replica_lag_time_max_ms;
        let mut shrinks = Vec::new();
        {
            let mut parts = lock(&self.parts);
            for (key, s) in parts.iter_mut() {
                if s.leader != self.node_id || s.pending_isr.is_some() {
                    continue;
                }
                let Some(p) = state.cluster.partition(&key.0, key.1) else {
                    continue;
                };
                let leo = p.log_end_offset();
                let out: Vec<i32> = s
                    .isr
                    .iter()
                    .copied()
                    .filter(|b| *b != self.node_id)
                    .filter(|b| {
                        s.followers.get(b).is_none_or(|f| {
                            // A follower at the end is in sync however long ago it fetched.
                            f.leo < leo && now - f.last_caught_up_ms > lag
                        })
                    })
                    .collect();
                if out.is_empty() {
                    continue;
                }
                let new_isr: Vec<i32> =
                    s.isr.iter().copied().filter(|b| !out.contains(b)).collect();
                // Until the controller commits, the old (larger) ISR still counts for the HW.
                s.pending_isr = Some(new_isr.clone());
                shrinks.push((
                    p.clone(),
                    key.clone(),
                    s.topic_id,
                    s.leader_epoch,
                    s.partition_epoch,
                    new_isr,
                    out,
                ));
            }
        }
        for (p, key, topic_id, le, pe, isr, out) in shrinks {
            tracing::info!(
                "{}-{}: shrinking ISR to {isr:?} (replicas {out:?} fell behind for more than {lag} ms)",
                key.0,
                key.1
            );
            if let Some(m) = crate::metrics::get() {
                m.isr_shrinks.inc();
            }
            self.spawn_alter(p, key, topic_id, le, pe, isr);
        }
    }

    fn spawn_alter(
        self: &Arc<Self>,
        p: Arc<Partition>,
        key: (String, i32),
        topic_id: Uuid,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
    ) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let result = me
                    .alter_partition(&key, topic_id, leader_epoch, partition_epoch, &isr)
                    .await;
                let retry = {
                    let mut parts = lock(&me.parts);
                    let Some(s) = parts.get_mut(&key) else {
                        return;
                    };
                    // Only this request's pending ISR is ours to settle; metadata may already
                    // have settled it (and another may be in flight).
                    if s.pending_isr.as_ref() != Some(&isr) || s.leader_epoch != leader_epoch {
                        return;
                    }
                    match result {
                        Ok((new_isr, le, pe))
                            if le == s.leader_epoch && pe >= s.partition_epoch =>
                        {
                            s.isr = new_isr;
                            s.partition_epoch = pe;
                            s.pending_isr = None;
                            false
                        }
                        // Refused without a change (stale epochs, ineligible replica): the
                        // committed ISR stands.
                        Err(AlterError::Refused(code)) if code != NEW_LEADER_ELECTED => {
                            tracing::info!(
                                "{}-{}: ISR change refused (error {code}); waiting for metadata",
                                key.0,
                                key.1
                            );
                            s.pending_isr = None;
                            false
                        }
                        // The controller changed the partition meanwhile: the change may have
                        // been committed, so the maximal ISR stays until metadata settles it.
                        Err(AlterError::Refused(_)) | Ok(_) => return,
                        Err(AlterError::Unanswered(e)) => {
                            tracing::debug!(
                                "{}-{}: AlterPartition unanswered ({e}); retrying",
                                key.0,
                                key.1
                            );
                            true
                        }
                    }
                };
                if retry {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
                me.refresh_leader(&key.0, key.1, &p);
                return;
            }
        });
    }

    async fn alter_partition(
        &self,
        key: &(String, i32),
        topic_id: Uuid,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: &[i32],
    ) -> Result<(Vec<i32>, i32, i32), AlterError> {
        use kafka_protocol::messages::alter_partition_request::{
            BrokerState as IsrBroker, PartitionData, TopicData,
        };
        use kafka_protocol::messages::{AlterPartitionRequest, BrokerId};
        let broker_epoch = self.broker_epoch.load(Ordering::SeqCst);
        let node = self.node_id;
        let img = self.image();
        let isr_owned = isr.to_vec();
        let resp = self
            .controller
            .call(Duration::ZERO, move |v| {
                let mut pd = PartitionData::default();
                pd.partition_index = key.1;
                pd.leader_epoch = leader_epoch;
                pd.partition_epoch = partition_epoch;
                if v >= 3 {
                    pd.new_isr_with_epochs = isr_owned
                        .iter()
                        .map(|b| {
                            let mut e = IsrBroker::default();
                            e.broker_id = BrokerId(*b);
                            e.broker_epoch = img.brokers.get(b).map_or(-1, |r| r.epoch);
                            e
                        })
                        .collect();
                } else {
                    pd.new_isr = isr_owned.iter().map(|b| BrokerId(*b)).collect();
                }
                let mut td = TopicData::default();
                td.topic_id = topic_id;
                td.partitions = vec![pd];
                let mut r = AlterPartitionRequest::default();
                r.broker_id = BrokerId(node);
                r.broker_epoch = broker_epoch;
                r.topics = vec![td];
                r
            })
            .await
            .map_err(AlterError::Unanswered)?;
        if resp.error_code != 0 {
            return Err(if resp.error_code == code::NOT_CONTROLLER {
                AlterError::Unanswered("not the controller".into())
            } else {
                AlterError::Refused(resp.error_code)
            });
        }
        let p = resp
            .topics
            .first()
            .and_then(|t| t.partitions.first())
            .ok_or_else(|| AlterError::Unanswered("empty AlterPartition response".into()))?;
        if p.error_code != 0 {
            return Err(AlterError::Refused(p.error_code));
        }
        Ok((
            p.isr.iter().map(|b| b.0).collect(),
            p.leader_epoch,
            p.partition_epoch,
        ))
    }

    /// Partitions this broker leads whose ISR is smaller than their replica set, and
    /// partitions with no leader: (under-replicated, offline) counts for metrics and tools.
    pub fn health(&self) -> (usize, usize, usize) {
        let parts = lock(&self.parts);
        let led: Vec<&PartState> = parts
            .values()
            .filter(|s| s.leader == self.node_id)
            .collect();
        let under = led
            .iter()
            .filter(|s| s.isr.len() < s.replicas.len())
            .count();
        let offline = self
            .image()
            .topics
            .values()
            .flat_map(|t| t.partitions.values())
            .filter(|p| p.leader < 0)
            .count();
        (led.len(), under, offline)
    }
}
