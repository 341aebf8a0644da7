//! The active controller as a running service: the state machine (`Controller`) and its
//! metadata log behind one lock, so every change is decided, appended (fsynced) and replayed in
//! one order. Handlers on the controller listener call in; a timer fences brokers whose
//! session expired. Waiting metadata fetches are woken through a watch on the log end.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::file_log::FileMetadataLog;
use super::{Controller, ControllerConfig, MetadataLog};
use crate::log::segment::now_ms;
use crate::metadata::MetadataRecord;

struct Core {
    controller: Controller,
    log: FileMetadataLog,
}

pub struct ControllerService {
    core: Mutex<Core>,
    end: watch::Sender<i64>,
}

impl ControllerService {
    /// Opens the log and replays it into a fresh state machine.
    pub fn open(data_dir: &std::path::Path, config: ControllerConfig) -> Result<Self, String> {
        let log = FileMetadataLog::open(data_dir)?;
        let mut controller = Controller::new(config);
        let mut at = 0;
        let mut n = 0usize;
        loop {
            let batch = log.read_from(at, 10_000)?;
            if batch.is_empty() {
                break;
            }
            for (off, rec) in &batch {
                controller.replay(*off, rec);
                at = off + 1;
                n += 1;
            }
        }
        let end = log.end_offset();
        tracing::info!("controller: replayed {n} metadata record(s), log end offset {end}");
        Ok(ControllerService {
            core: Mutex::new(Core { controller, log }),
            end: watch::channel(end).0,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs one decision: `f` gets the state machine and the offset the first record will
    /// have, returns records and a result; the records are appended and replayed before the
    /// result is returned. An append failure leaves the state as it was and is reported.
    pub fn run<T>(
        &self,
        f: impl FnOnce(&mut Controller, i64) -> (Vec<MetadataRecord>, T),
    ) -> Result<T, String> {
        let mut core = self.lock();
        let next = core.log.end_offset();
        let (records, out) = f(&mut core.controller, next);
        if records.is_empty() {
            return Ok(out);
        }
        let base = core.log.append(&records).map_err(|e| {
            tracing::error!("controller: metadata log append failed: {e}");
            e
        })?;
        for (i, r) in records.iter().enumerate() {
            core.controller.replay(base + i as i64, r);
        }
        let end = core.log.end_offset();
        drop(core);
        self.end.send_replace(end);
        Ok(out)
    }

    /// Records the finalized feature levels once, when the metadata log holds none (Kafka
    /// writes FeatureLevel records when a cluster is formatted), so every broker advertises the
    /// levels the cluster agreed on rather than its own settings.
    pub fn bootstrap_features(&self, levels: &[(&str, i16)]) {
        if !self.lock().controller.image().features.is_empty() {
            return;
        }
        let records = levels
            .iter()
            .map(|(name, level)| MetadataRecord::FeatureLevel {
                name: name.to_string(),
                feature_level: *level,
            })
            .collect();
        if let Err(e) = self.run(|_, _| (records, ())) {
            tracing::error!("controller: recording the feature levels failed: {e}");
        }
    }

    /// First start of a cluster on a data directory that served as a single node: its topics
    /// become the cluster's first topics (same ids, configs; this node the only replica), and
    /// its ACLs and SCRAM users the cluster's, so nothing stored is lost. Only when the
    /// metadata log is empty.
    pub fn import_local_state(
        &self,
        cluster: &crate::cluster::Cluster,
        acls: Vec<crate::security::acl::AclBinding>,
        users: Vec<(
            String,
            crate::security::scram::Mechanism,
            crate::security::scram::Credential,
        )>,
        node_id: i32,
    ) {
        if self.end_offset() > 0 {
            return;
        }
        let topics = cluster.topics();
        if topics.is_empty() && acls.is_empty() && users.is_empty() {
            return;
        }
        let (mut records, _) = self.lock().controller.create_acls(&acls);
        let (n_acls, n_users) = (records.len(), users.len());
        for (name, m, c) in &users {
            records.push(MetadataRecord::UserScramCredential {
                name: name.clone(),
                mechanism: m.id(),
                salt: c.salt.clone(),
                stored_key: c.stored_key.clone(),
                server_key: c.server_key.clone(),
                iterations: c.iterations as i32,
            });
        }
        for t in &topics {
            records.push(MetadataRecord::Topic {
                name: t.meta.name.clone(),
                topic_id: t.meta.id,
            });
            for p in 0..t.meta.partitions {
                records.push(MetadataRecord::Partition {
                    partition_id: p,
                    topic_id: t.meta.id,
                    replicas: vec![node_id],
                    isr: vec![node_id],
                    leader: node_id,
                    leader_epoch: 0,
                    partition_epoch: 0,
                });
            }
            for (name, value) in &t.meta.configs {
                records.push(MetadataRecord::Config {
                    resource_type: crate::metadata::TOPIC_RESOURCE,
                    resource_name: t.meta.name.clone(),
                    name: name.clone(),
                    value: Some(value.clone()),
                });
            }
        }
        let n = topics.len();
        match self.run(|_, _| (records, ())) {
            Ok(()) => tracing::info!(
                "controller: imported {n} topic(s), {n_acls} ACL(s) and {n_users} SCRAM credential(s) of this single-node data directory into the cluster metadata (replicas: node {node_id})"
            ),
            Err(e) => tracing::error!("controller: importing local topics failed: {e}"),
        }
    }

    /// Reads the log for a broker's metadata fetch: stored batches from `offset`, and the end.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<(bytes::Bytes, i64), i16> {
        let core = self.lock();
        let p = core.log.partition();
        let end = p.log_end_offset();
        if offset == end {
            return Ok((bytes::Bytes::new(), end));
        }
        match p.read(offset, max_bytes, true) {
            Ok(r) => Ok((r.records, end)),
            Err(e) => Err(e.code()),
        }
    }

    /// The metadata log's replication as DescribeQuorum reports it: this node leads (the one
    /// controller of this stage, epoch 1) with the log end as high watermark; every other
    /// node's replica is the metadata offset its broker last reported.
    pub fn quorum(&self) -> (i64, Vec<(i32, i64, i64)>) {
        let core = self.lock();
        (core.log.end_offset(), core.controller.metadata_offsets())
    }

    pub fn end_offset(&self) -> i64 {
        *self.end.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.end.subscribe()
    }

    /// A copy of the current image (for tools and tests).
    pub fn image(&self) -> crate::metadata::MetadataImage {
        self.lock().controller.image().clone()
    }

    /// Fences brokers whose session expired, every 250 ms, until shutdown.
    pub async fn run_timer(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = shutdown.changed() => return,
            }
            let now = now_ms();
            if let Err(e) = self.run(|c, _| (c.tick(now), ())) {
                tracing::error!("controller: session check failed: {e}");
            }
        }
    }
}
