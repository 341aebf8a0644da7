//! Cluster metadata on this broker: topics (names, ids, partition counts, config overrides), the
//! partitions' logs, and their persistence under the data directory.
//!
//! Topic metadata is written to `weir-topics.json` (atomically, by rename) whenever it changes;
//! `meta.properties` carries the cluster id and node id as Kafka's does.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;
use crate::log::{LogConfig, LogError, Partition};

const TOPICS_FILE: &str = "weir-topics.json";
const CLEAN_MARKER: &str = ".weir_cleanshutdown";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TopicMeta {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
    pub replication_factor: i16,
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

impl Topic {
    /// Partition `index`, if the topic has it (indexes come off the wire and may be negative).
    pub fn partition(&self, index: i32) -> Option<Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i).cloned())
    }
}

impl std::fmt::Debug for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topic").field("meta", &self.meta).finish()
    }
}

pub struct Topic {
    pub meta: TopicMeta,
    pub partitions: Vec<Arc<Partition>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("Topic '{0}' already exists.")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidTopic(String),
    #[error("This server does not host this topic-partition.")]
    UnknownTopic,
    #[error("This server does not host this topic ID.")]
    UnknownTopicId,
    #[error("{0}")]
    InvalidPartitions(String),
    #[error("{0}")]
    InvalidReplicationFactor(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("Topic deletion is disabled.")]
    DeletionDisabled,
    #[error("storage error: {0}")]
    Storage(String),
}

impl TopicError {
    pub fn code(&self) -> i16 {
        match self {
            TopicError::AlreadyExists(_) => 36,
            TopicError::InvalidTopic(_) => 17,
            TopicError::UnknownTopic => 3,
            TopicError::UnknownTopicId => 100,
            TopicError::InvalidPartitions(_) => 37,
            TopicError::InvalidReplicationFactor(_) => 38,
            TopicError::InvalidConfig(_) => 40,
            TopicError::DeletionDisabled => 73,
            TopicError::Storage(_) => 56,
        }
    }
}

impl From<LogError> for TopicError {
    fn from(e: LogError) -> Self {
        TopicError::Storage(e.to_string())
    }
}

/// Topics only the broker writes: the group and transaction coordinators' logs.
pub fn is_internal(name: &str) -> bool {
    name == "__consumer_offsets" || name == "__transaction_state"
}

/// Kafka's topic name rule: 1-249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(TopicError::InvalidTopic(
            "Topic name is illegal, it can't be empty".into(),
        ));
    }
    if name == "." || name == ".." {
        return Err(TopicError::InvalidTopic(
            "Topic name cannot be \".\" or \"..\"".into(),
        ));
    }
    if name.len() > 249 {
        return Err(TopicError::InvalidTopic(format!(
            "Topic name is illegal, it can't be longer than 249 characters, topic name: {name}"
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(TopicError::InvalidTopic(format!(
            "Topic name {name} is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        )));
    }
    Ok(())
}

pub struct Cluster {
    cluster_id: RwLock<String>,
    /// Whether nobody chose this cluster id (no `cluster.id`, none in `meta.properties` other
    /// than the one derived from the voters): a broker then takes its controller's id.
    cluster_id_adoptable: bool,
    pub node_id: i32,
    data_dir: PathBuf,
    broker_props: BTreeMap<String, String>,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    ids: RwLock<HashMap<Uuid, String>>,
    /// Serialises topic creation, deletion and persistence.
    admin: Mutex<()>,
    dir_lock: Mutex<Option<fs::File>>,
}

fn io_msg(path: &Path, e: io::Error) -> TopicError {
    TopicError::Storage(format!("{}: {e}", path.display()))
}

fn lock_dir(dir: &Path) -> Result<fs::File, TopicError> {
    let path = dir.join(".lock");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_msg(&path, e))?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(TopicError::Storage(format!(
            "data directory {} is in use by another process",
            dir.display()
        )));
    }
    Ok(f)
}

fn read_meta_properties(dir: &Path) -> BTreeMap<String, String> {
    fs::read_to_string(dir.join("meta.properties"))
        .map(|t| crate::config::parse_properties(&t))
        .unwrap_or_default()
}

impl Cluster {
    /// Opens the data directory: takes its lock, loads topics and recovers every partition.
    pub fn open(config: &Config) -> Result<Cluster, TopicError> {
        let dir = config.log_dir.clone();
        fs::create_dir_all(&dir).map_err(|e| io_msg(&dir, e))?;
        let dir_lock = lock_dir(&dir)?;
        let meta = read_meta_properties(&dir);
        let derived = config.kraft.as_ref().map(derived_cluster_id);
        let cluster_id_adoptable = config.cluster_id.is_none()
            && derived.is_some()
            && meta
                .get("cluster.id")
                .is_none_or(|m| Some(m) == derived.as_ref());
        let cluster_id = config
            .cluster_id
            .clone()
            .or_else(|| meta.get("cluster.id").cloned())
            .or(derived)
            .unwrap_or_else(|| {
                use base64_url::encode_uuid;
                encode_uuid(&Uuid::new_v4())
            });
        let meta_text = format!(
            "#\n#Written by weir\nversion=1\ncluster.id={cluster_id}\nnode.id={}\n",
            config.node_id
        );
        write_atomic(&dir.join("meta.properties"), meta_text.as_bytes())
            .map_err(|e| io_msg(&dir, e))?;
        let marker = dir.join(CLEAN_MARKER);
        let clean = marker.exists();
        let _ = fs::remove_file(&marker);
        let metas: Vec<TopicMeta> = match fs::read(dir.join(TOPICS_FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| TopicError::Storage(format!("{TOPICS_FILE} is unreadable: {e}")))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_msg(&dir, e)),
        };
        if !clean && !metas.is_empty() {
            tracing::warn!(
                "last shutdown was not clean: verifying the active segment of every partition"
            );
        }
        let cluster = Cluster {
            cluster_id: RwLock::new(cluster_id),
            cluster_id_adoptable,
            node_id: config.node_id,
            data_dir: dir,
            broker_props: config.props.clone(),
            topics: RwLock::new(HashMap::new()),
            ids: RwLock::new(HashMap::new()),
            admin: Mutex::new(()),
            dir_lock: Mutex::new(Some(dir_lock)),
        };
        let total = metas.len();
        for (i, meta) in metas.into_iter().enumerate() {
            let topic = cluster.open_topic(meta, clean)?;
            cluster.insert(topic);
            if total >= 100 && (i + 1) % 100 == 0 {
                tracing::info!("loaded {}/{total} topics", i + 1);
            }
        }
        Ok(cluster)
    }

    pub fn cluster_id(&self) -> String {
        self.cluster_id
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn cluster_id_adoptable(&self) -> bool {
        self.cluster_id_adoptable
    }

    /// Takes the controller's cluster id (see `cluster_id_adoptable`) and records it in
    /// `meta.properties`.
    pub fn adopt_cluster_id(&self, id: &str) -> Result<(), TopicError> {
        let text = format!(
            "#\n#Written by weir\nversion=1\ncluster.id={id}\nnode.id={}\n",
            self.node_id
        );
        let path = self.data_dir.join("meta.properties");
        write_atomic(&path, text.as_bytes()).map_err(|e| io_msg(&path, e))?;
        *self.cluster_id.write().unwrap_or_else(|p| p.into_inner()) = id.to_string();
        Ok(())
    }

    fn log_config(&self, overrides: &BTreeMap<String, String>) -> Result<LogConfig, TopicError> {
        LogConfig::resolve(&self.broker_props, overrides).map_err(TopicError::InvalidConfig)
    }

    fn partition_dir(&self, topic: &str, p: i32) -> PathBuf {
        self.data_dir.join(format!("{topic}-{p}"))
    }

    fn open_topic(&self, meta: TopicMeta, clean: bool) -> Result<Topic, TopicError> {
        let cfg = self.log_config(&meta.configs)?;
        let mut partitions = Vec::with_capacity(meta.partitions.clamp(0, 100_000) as usize);
        for p in 0..meta.partitions {
            let dir = self.partition_dir(&meta.name, p);
            let part = Partition::open(&dir, &meta.name, p, cfg.clone(), clean)?;
            write_partition_metadata(&dir, &meta.id).map_err(|e| io_msg(&dir, e))?;
            partitions.push(Arc::new(part));
        }
        Ok(Topic { meta, partitions })
    }

    fn insert(&self, topic: Topic) {
        let id = topic.meta.id;
        let name = topic.meta.name.clone();
        self.write_topics().insert(name.clone(), Arc::new(topic));
        self.ids
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, name);
    }

    fn write_topics(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Topic>>> {
        self.topics.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read_topics(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Topic>>> {
        self.topics.read().unwrap_or_else(|p| p.into_inner())
    }

    fn persist(&self) -> Result<(), TopicError> {
        let mut metas: Vec<TopicMeta> = self
            .read_topics()
            .values()
            .map(|t| t.meta.clone())
            .collect();
        metas.sort_by(|a, b| a.name.cmp(&b.name));
        let json =
            serde_json::to_vec_pretty(&metas).map_err(|e| TopicError::Storage(e.to_string()))?;
        let path = self.data_dir.join(TOPICS_FILE);
        write_atomic(&path, &json).map_err(|e| io_msg(&path, e))
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.read_topics().get(name).cloned()
    }

    pub fn topic_by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        let name = self
            .ids
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()?;
        self.topic(&name)
    }

    pub fn partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        let t = self.topic(topic)?;
        usize::try_from(index)
            .ok()
            .and_then(|i| t.partitions.get(i).cloned())
    }

    /// All topics, sorted by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<_> = self.read_topics().values().cloned().collect();
        v.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
        v
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn broker_props(&self) -> &BTreeMap<String, String> {
        &self.broker_props
    }

    /// Creates a topic. `partitions` / `replication_factor` of -1 mean the broker default.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
        defaults: (i32, i16),
        validate_only: bool,
    ) -> Result<Arc<Topic>, TopicError> {
        validate_topic_name(name)?;
        let partitions = if partitions == -1 {
            defaults.0
        } else {
            partitions
        };
        let rf = if replication_factor == -1 {
            defaults.1
        } else {
            replication_factor
        };
        if partitions <= 0 {
            return Err(TopicError::InvalidPartitions(
                "Number of partitions must be larger than 0.".into(),
            ));
        }
        if partitions > 100_000 {
            return Err(TopicError::InvalidPartitions(format!(
                "Number of partitions {partitions} exceeds what one broker can host."
            )));
        }
        if rf <= 0 {
            return Err(TopicError::InvalidReplicationFactor(
                "Replication factor must be larger than 0.".into(),
            ));
        }
        if rf > 1 {
            return Err(TopicError::InvalidReplicationFactor(format!(
                "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only 1 broker(s) are registered."
            )));
        }
        for (k, v) in &configs {
            if crate::config::catalog::topic_config(k).is_none() {
                return Err(TopicError::InvalidConfig(
                    crate::config::catalog::unknown_topic_config(k),
                ));
            }
            crate::config::catalog::validate_topic_value(k, v)
                .map_err(TopicError::InvalidConfig)?;
        }
        self.log_config(&configs)?;
        let _guard = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        if self.topic(name).is_some() {
            return Err(TopicError::AlreadyExists(name.to_string()));
        }
        let meta = TopicMeta {
            name: name.to_string(),
            id: Uuid::new_v4(),
            partitions,
            replication_factor: rf,
            configs,
        };
        if validate_only {
            return Ok(Arc::new(Topic {
                meta,
                partitions: Vec::new(),
            }));
        }
        let topic = self.open_topic(meta, true)?;
        self.insert(topic);
        self.persist()?;
        tracing::info!("created topic {name} with {partitions} partition(s)");
        self.topic(name).ok_or(TopicError::UnknownTopic)
    }

    pub fn delete_topic(&self, name: &str) -> Result<TopicMeta, TopicError> {
        let _guard = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topic = self
            .write_topics()
            .remove(name)
            .ok_or(TopicError::UnknownTopic)?;
        self.ids
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&topic.meta.id);
        self.persist()?;
        for p in &topic.partitions {
            p.delete_dir();
        }
        tracing::info!("deleted topic {name}");
        Ok(topic.meta.clone())
    }

    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _guard = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topic = self.topic(name).ok_or(TopicError::UnknownTopic)?;
        let current = topic.meta.partitions;
        if count < current {
            return Err(TopicError::InvalidPartitions(format!(
                "Topic currently has {current} partitions, which is higher than the requested {count}."
            )));
        }
        if count == current {
            return Err(TopicError::InvalidPartitions(format!(
                "Topic already has {current} partitions."
            )));
        }
        if count > 100_000 {
            return Err(TopicError::InvalidPartitions(format!(
                "Number of partitions {count} exceeds what one broker can host."
            )));
        }
        if validate_only {
            return Ok(());
        }
        let cfg = self.log_config(&topic.meta.configs)?;
        let mut partitions = topic.partitions.clone();
        for p in current..count {
            let dir = self.partition_dir(name, p);
            let part = Partition::open(&dir, name, p, cfg.clone(), true)?;
            write_partition_metadata(&dir, &topic.meta.id).map_err(|e| io_msg(&dir, e))?;
            partitions.push(Arc::new(part));
        }
        let mut meta = topic.meta.clone();
        meta.partitions = count;
        self.write_topics()
            .insert(name.to_string(), Arc::new(Topic { meta, partitions }));
        self.persist()?;
        tracing::info!("topic {name} now has {count} partitions");
        Ok(())
    }

    /// Replaces a topic's config overrides (AlterConfigs semantics: the set given is the set).
    pub fn set_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
    ) -> Result<(), TopicError> {
        let _guard = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topic = self.topic(name).ok_or(TopicError::UnknownTopic)?;
        let cfg = self.log_config(&configs)?;
        for p in &topic.partitions {
            p.set_config(cfg.clone());
        }
        let mut meta = topic.meta.clone();
        meta.configs = configs;
        self.write_topics().insert(
            name.to_string(),
            Arc::new(Topic {
                meta,
                partitions: topic.partitions.clone(),
            }),
        );
        self.persist()
    }

    /// Makes the local registry hold topic `name` with id `id` and at least `partitions`
    /// partitions, as the cluster metadata says (replicated mode): opens or creates the logs,
    /// grows the partition count, applies config overrides. A local topic of the same name
    /// but another id (deleted and recreated while this broker was away) is replaced.
    pub fn ensure_topic(
        &self,
        name: &str,
        id: Uuid,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
    ) -> Result<(), TopicError> {
        if let Some(t) = self.topic(name) {
            if t.meta.id != id {
                tracing::info!("topic {name} was recreated with id {id}: replacing the local logs");
                self.delete_topic(name)?;
            } else {
                if t.meta.partitions < partitions {
                    self.create_partitions(name, partitions, false)?;
                }
                if t.meta.configs != configs {
                    self.set_topic_configs(name, configs)?;
                }
                return Ok(());
            }
        }
        let _guard = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        if self.topic(name).is_some() {
            return Ok(());
        }
        let meta = TopicMeta {
            name: name.to_string(),
            id,
            partitions,
            replication_factor,
            configs,
        };
        let topic = self.open_topic(meta, true)?;
        for p in &topic.partitions {
            // A new replica starts empty and replicated: its high watermark comes from the
            // leader, never from its own appends.
            p.set_replicated(true);
            p.set_high_watermark(0);
        }
        self.insert(topic);
        self.persist()?;
        tracing::info!("opened topic {name} ({id}) with {partitions} partition(s)");
        Ok(())
    }

    /// Every partition of every topic.
    pub fn all_partitions(&self) -> Vec<Arc<Partition>> {
        self.read_topics()
            .values()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect()
    }

    /// Flushes every partition and marks the shutdown clean.
    pub fn shutdown(&self) {
        let mut ok = true;
        for p in self.all_partitions() {
            if let Err(e) = p.flush() {
                ok = false;
                tracing::error!("flush of {}-{} failed: {e}", p.topic, p.index);
            }
        }
        if ok {
            if let Err(e) = fs::write(self.data_dir.join(CLEAN_MARKER), b"") {
                tracing::warn!("could not write the clean-shutdown marker: {e}");
            }
        }
        // Release the directory lock now, not when the last reference drops.
        self.dir_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
}

/// A cluster's id when nobody formatted the nodes: the same on every node started with the
/// same `controller.quorum.voters`, so three unformatted nodes agree without a format step.
fn derived_cluster_id(k: &crate::config::kraft::KraftSettings) -> String {
    use sha2::Digest;
    let mut voters: Vec<String> = k
        .voters
        .iter()
        .map(|v| format!("{}@{}", v.id, v.addr()))
        .collect();
    voters.sort();
    let digest = sha2::Sha256::digest(voters.join(",").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    base64_url::encode_uuid(&Uuid::from_bytes(b))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

fn write_partition_metadata(dir: &Path, id: &Uuid) -> io::Result<()> {
    let text = format!("version: 0\ntopic_id: {}\n", base64_url::encode_uuid(id));
    fs::write(dir.join("partition.metadata"), text)
}

/// Kafka prints topic and cluster ids as URL-safe base64 without padding.
pub mod base64_url {
    use uuid::Uuid;

    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }

    pub fn encode_uuid(id: &Uuid) -> String {
        encode(id.as_bytes())
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn matches_kafka_format() {
            // 16 bytes → 22 characters, no padding.
            let s = super::encode(&[0xfb; 16]);
            assert_eq!(s.len(), 22);
            assert_eq!(super::encode(b"Man"), "TWFu");
            assert_eq!(super::encode(b"Ma"), "TWE");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_topic_name("orders.v1_x-y").is_ok());
        for bad in ["", ".", "..", "a b", "é", &"x".repeat(250)] {
            assert_eq!(validate_topic_name(bad).unwrap_err().code(), 17, "{bad}");
        }
    }

    #[test]
    fn topics_survive_reopen_and_dir_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::for_test(dir.path());
        {
            let c = Cluster::open(&cfg).unwrap();
            assert!(
                Cluster::open(&cfg).is_err(),
                "second open must fail on the lock"
            );
            c.create_topic("a", 3, -1, BTreeMap::new(), (1, 1), false)
                .unwrap();
            assert_eq!(
                c.create_topic("a", 1, 1, BTreeMap::new(), (1, 1), false)
                    .unwrap_err()
                    .code(),
                36
            );
            assert_eq!(
                c.create_topic("b", 1, 3, BTreeMap::new(), (1, 1), false)
                    .unwrap_err()
                    .code(),
                38
            );
            let mut bad = BTreeMap::new();
            bad.insert("retention.ms".to_string(), "soon".to_string());
            assert_eq!(
                c.create_topic("b", 1, 1, bad, (1, 1), false)
                    .unwrap_err()
                    .code(),
                40
            );
            c.create_partitions("a", 5, false).unwrap();
            c.shutdown();
        }
        let c = Cluster::open(&cfg).unwrap();
        assert_eq!(c.topic("a").unwrap().partitions.len(), 5);
        assert!(dir.path().join("a-4").join("partition.metadata").exists());
        c.delete_topic("a").unwrap();
        assert!(!dir.path().join("a-0").exists());
    }
}
