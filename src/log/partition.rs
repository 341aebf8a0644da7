//! One partition: its segments, log start / end offsets, high watermark and leader epoch, and
//! the notifier that wakes waiting fetches when the high watermark moves.
//!
//! On a single broker the high watermark follows the log end offset. In replicated mode
//! (`set_replicated`, `open_replicated`) appends leave it alone and the replica manager moves it
//! with `set_high_watermark`; followers append the leader's batches unchanged
//! (`append_as_follower`) and cut their log back where it diverged (`truncate_to`).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};
use tokio::sync::watch;

use super::batch::{self, BatchError, BatchHeader};
use super::config::LogConfig;
use super::epoch_cache::LeaderEpochCache;
use super::segment::{self, now_ms, Segment};
use crate::txn::producer_state::{ProducerStateTable, SeqCheck};

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("offset {offset} is out of range [{start}, {end}]")]
    OffsetOutOfRange { offset: i64, start: i64, end: i64 },
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("timestamp {0} of the batch is out of the acceptable range")]
    InvalidTimestamp(i64),
    #[error("{message}")]
    Producer { code: i16, message: String },
    /// A follower append whose first offset is not the log end offset.
    #[error("replicated batch starts at offset {got}, but the log ends at {expected}")]
    UnexpectedAppendOffset { expected: i64, got: i64 },
    #[error("this replica is a follower: only the leader's batches are appended here")]
    NotLeader,
}

impl LogError {
    pub fn code(&self) -> i16 {
        match self {
            LogError::Io { .. } => 56,
            LogError::OffsetOutOfRange { .. } => 1,
            LogError::Batch(b) => b.code(),
            LogError::InvalidTimestamp(_) => 32,
            LogError::Producer { code, .. } => *code,
            LogError::UnexpectedAppendOffset { .. } => -1,
            LogError::NotLeader => 6,
        }
    }
}

/// Where an append landed.
#[derive(Clone, Copy, Debug)]
pub struct AppendInfo {
    pub base_offset: i64,
    /// -1 unless the topic uses LogAppendTime.
    pub log_append_time: i64,
    pub log_start_offset: i64,
}

/// What a read returned plus the offsets a fetch response reports.
#[derive(Clone, Debug)]
pub struct ReadInfo {
    pub records: Bytes,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    /// read_committed only: (producer id, first offset) of aborted transactions in range.
    pub aborted: Option<Vec<(i64, i64)>>,
}

/// An aborted transaction: producer, first offset, offset of its abort marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
}

struct Log {
    dir: PathBuf,
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    config: LogConfig,
    unflushed_messages: i64,
    last_flush_ms: i64,
    producers: ProducerStateTable,
    aborted: Vec<AbortedTxn>,
    epochs: LeaderEpochCache,
}

pub struct Partition {
    pub topic: String,
    pub index: i32,
    /// The current leader epoch: written into appended batches, checked against requests.
    leader_epoch: AtomicI32,
    /// Whether appends leave the high watermark to `set_high_watermark`.
    replicated: AtomicBool,
    /// A follower's log takes only `append_as_follower`: a local write (a stale coordinator,
    /// a late produce) would put records at offsets the leader assigns differently.
    follower: AtomicBool,
    log: Mutex<Log>,
    high_watermark: watch::Sender<i64>,
    log_end: watch::Sender<i64>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Log {
    fn active(&mut self) -> &mut Segment {
        // A log always has at least one segment: open() and retention both guarantee it.
        self.segments
            .last_entry()
            .map(|e| e.into_mut())
            .unwrap_or_else(|| unreachable!("log without segments"))
    }

    fn next_offset(&self) -> i64 {
        self.segments
            .last_key_value()
            .map(|(_, s)| s.next_offset)
            .unwrap_or(0)
    }

    fn roll(&mut self) -> Result<(), LogError> {
        let next = self.next_offset();
        let dir = self.dir.clone();
        // fsync of a full segment takes long; do it off the append path, outside the lock.
        let handles = self.active().sync_handles().map_err(io_err(&dir))?;
        let name = dir.display().to_string();
        let spawned = std::thread::Builder::new()
            .name("weir-segment-flush".into())
            .spawn(move || {
                for f in handles {
                    if let Err(e) = f.sync_data() {
                        tracing::error!("flush of a rolled segment in {name} failed: {e}");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("could not start a background flush ({e}); flushing inline");
            self.active().flush().map_err(io_err(&dir))?;
        }
        self.write_snapshot();
        let seg = Segment::create(&dir, next).map_err(io_err(&dir))?;
        self.segments.insert(next, seg);
        Ok(())
    }

    fn maybe_roll(&mut self, incoming: usize, incoming_last_delta: i32) -> Result<(), LogError> {
        let now = now_ms();
        let cfg = self.config.clone();
        let next = self.next_offset();
        let active = self.active();
        if active.is_empty() {
            return Ok(());
        }
        let full = active.size() + incoming as u64 > cfg.segment_bytes;
        let old = active
            .first_append_ms
            .is_some_and(|t| now.saturating_sub(t) >= cfg.segment_ms);
        let rel_overflow = next + incoming_last_delta as i64 - active.base_offset > i32::MAX as i64;
        if full || old || rel_overflow {
            self.roll()?;
        }
        Ok(())
    }

    /// Writes `<next offset>.snapshot` of the producer state and removes older snapshots.
    fn write_snapshot(&self) {
        let next = self.next_offset();
        let name = format!("{next:020}.snapshot");
        let data = self.producers.encode(next);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let result = fs::write(&tmp, &data).and_then(|_| fs::rename(&tmp, self.dir.join(&name)));
        if let Err(e) = result {
            tracing::warn!(
                "could not write producer snapshot in {}: {e}",
                self.dir.display()
            );
            return;
        }
        for (off, path) in snapshots(&self.dir) {
            if off != next {
                let _ = fs::remove_file(path);
            }
        }
    }

    /// Rebuilds producer state: newest usable snapshot, then every batch header after it.
    fn rebuild_producers(&mut self) -> Result<(), LogError> {
        let end = self.next_offset();
        let mut from = self.log_start_offset;
        let mut table = ProducerStateTable::default();
        for (off, path) in snapshots(&self.dir).into_iter().rev() {
            if off > end {
                continue;
            }
            if let Some((o, t)) = fs::read(&path)
                .ok()
                .and_then(|d| ProducerStateTable::decode(&d))
            {
                from = o.max(from);
                table = t;
                break;
            }
        }
        let dir = self.dir.clone();
        for seg in self.segments.values() {
            if seg.next_offset <= from {
                continue;
            }
            let pos = seg.floor_position(from);
            seg.for_each_header(pos, |h| {
                if h.last_offset() >= from && h.producer_id >= 0 {
                    // Markers end transactions; aborts were recorded durably when written.
                    table.record(h);
                }
            })
            .map_err(io_err(&dir))?;
        }
        self.producers = table;
        Ok(())
    }

    /// The last stable offset: the first offset of the oldest open transaction, else the end.
    fn last_stable_offset(&self, hw: i64) -> i64 {
        self.producers
            .open_transactions()
            .map(|(_, first)| first)
            .min()
            .map_or(hw, |f| f.min(hw))
    }

    fn total_size(&self) -> u64 {
        self.segments.values().map(|s| s.size()).sum()
    }

    fn delete_oldest(&mut self) {
        if let Some((_, seg)) = self.segments.pop_first() {
            seg.delete_files();
        }
        if let Some((&base, _)) = self.segments.first_key_value() {
            self.log_start_offset = self.log_start_offset.max(base);
        }
        if let Err(e) = write_log_start(&self.dir, self.log_start_offset) {
            tracing::warn!(
                "could not record log start offset in {}: {e}",
                self.dir.display()
            );
        }
        self.trim_epochs_to_start();
    }

    /// The log start moved: epochs that ended before it are forgotten (Kafka's
    /// truncateFromStart). A failed write is only logged: the entries are rebuilt on reopen.
    fn trim_epochs_to_start(&mut self) {
        if let Err(e) = self.epochs.truncate_from_start(self.log_start_offset) {
            tracing::warn!(
                "could not update the leader epoch checkpoint in {}: {e}",
                self.dir.display()
            );
        }
    }

    /// Bookkeeping after batch `h` (carrying its final base offset) landed in the active
    /// segment: producer state, the aborted-transaction list for ABORT markers, the epoch cache,
    /// the flush policy. `abort` says whether a control batch is an ABORT marker.
    fn after_append(
        &mut self,
        h: &BatchHeader,
        abort: impl FnOnce() -> bool,
        now: i64,
    ) -> Result<(), LogError> {
        let dir = self.dir.clone();
        if let Some(first) = self.producers.record(h) {
            if h.is_control() && abort() {
                let entry = AbortedTxn {
                    producer_id: h.producer_id,
                    first_offset: first,
                    last_offset: h.base_offset,
                };
                self.aborted.push(entry);
                append_aborted(&dir, &entry).map_err(io_err(&dir))?;
            }
        }
        self.epochs
            .assign(h.partition_leader_epoch, h.base_offset)
            .map_err(io_err(&dir))?;
        self.unflushed_messages += h.records_count as i64;
        if self.unflushed_messages >= self.config.flush_messages {
            self.active().flush().map_err(io_err(&dir))?;
            self.unflushed_messages = 0;
            self.last_flush_ms = now;
        }
        Ok(())
    }

    /// Removes every batch at `offset` or later (a batch holding `offset` goes whole) and
    /// everything derived from them. `offset` must be >= the log start offset.
    fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        let dir = self.dir.clone();
        let doomed: Vec<i64> = self.segments.range(offset..).map(|(&b, _)| b).collect();
        for base in doomed {
            if let Some(seg) = self.segments.remove(&base) {
                seg.delete_files();
            }
        }
        match self.segments.last_entry() {
            Some(mut e) => e.get_mut().truncate_to(offset).map_err(io_err(&dir))?,
            None => {
                let seg = Segment::create(&dir, offset).map_err(io_err(&dir))?;
                self.segments.insert(offset, seg);
            }
        }
        let end = self.next_offset();
        self.epochs.truncate_from_end(end).map_err(io_err(&dir))?;
        let before = self.aborted.len();
        self.aborted.retain(|a| a.last_offset < end);
        if self.aborted.len() != before {
            write_all_aborted(&dir, &self.aborted).map_err(io_err(&dir))?;
        }
        for (off, path) in snapshots(&dir) {
            if off > end {
                let _ = fs::remove_file(path);
            }
        }
        self.unflushed_messages = 0;
        self.rebuild_producers()
    }

    /// Deletes every segment and starts an empty log at `offset`, which becomes the log start.
    fn reset_at(&mut self, offset: i64) -> Result<(), LogError> {
        let dir = self.dir.clone();
        while let Some((_, seg)) = self.segments.pop_first() {
            seg.delete_files();
        }
        let seg = Segment::create(&dir, offset).map_err(io_err(&dir))?;
        self.segments.insert(offset, seg);
        self.log_start_offset = offset;
        write_log_start(&dir, offset).map_err(io_err(&dir))?;
        self.epochs.clear().map_err(io_err(&dir))?;
        self.aborted.clear();
        write_all_aborted(&dir, &self.aborted).map_err(io_err(&dir))?;
        for (_, path) in snapshots(&dir) {
            let _ = fs::remove_file(path);
        }
        self.producers = ProducerStateTable::default();
        self.unflushed_messages = 0;
        Ok(())
    }

    /// The epoch cache from `leader-epoch-checkpoint`, or, when that is missing or unreadable,
    /// rebuilt from the partition leader epoch of every batch header; then cut to the log's range.
    fn load_epochs(&mut self, name: &str) -> Result<(), LogError> {
        let dir = self.dir.clone();
        let mut cache = match LeaderEpochCache::read(&dir) {
            Ok(c) => c,
            Err(e) => {
                let empty_log = self.segments.values().all(|s| s.is_empty());
                if !(e.kind() == io::ErrorKind::NotFound && empty_log) {
                    tracing::warn!(
                        "{name}: leader epoch checkpoint unusable ({e}); rebuilding it from the batch headers"
                    );
                }
                let mut c = LeaderEpochCache::empty(&dir);
                for seg in self.segments.values() {
                    seg.for_each_header(0, |h| {
                        c.assign_in_memory(h.partition_leader_epoch, h.base_offset);
                    })
                    .map_err(io_err(&dir))?;
                }
                c.flush().map_err(io_err(&dir))?;
                c
            }
        };
        cache
            .truncate_from_end(self.next_offset())
            .map_err(io_err(&dir))?;
        cache
            .truncate_from_start(self.log_start_offset)
            .map_err(io_err(&dir))?;
        self.epochs = cache;
        Ok(())
    }
}

impl Partition {
    /// Opens (or creates) the partition directory and recovers it. `clean` says whether the last
    /// shutdown was clean; if not, the active segment is fully verified and a torn tail cut off.
    /// The single-broker mode: leader at epoch 0 (or the latest epoch the log already has),
    /// high watermark = log end offset.
    pub fn open(
        dir: &Path,
        topic: &str,
        index: i32,
        config: LogConfig,
        clean: bool,
    ) -> Result<Partition, LogError> {
        let p = Self::open_inner(dir, topic, index, config, clean)?;
        let mut log = p.lock();
        match log.epochs.latest_epoch() {
            // A log that was replicated keeps its epochs; epochs never go backwards.
            Some(e) => p.leader_epoch.store(e, Ordering::SeqCst),
            None => {
                let end = log.next_offset();
                log.epochs.assign(0, end).map_err(io_err(dir))?;
            }
        }
        drop(log);
        Ok(p)
    }

    /// Opens the partition for replication: appends do not move the high watermark, which
    /// starts at the checkpointed value (`read_hw_checkpoint`) clamped to [log start, log end],
    /// or at the log start without one, so a tail that was not known to be replicated before a
    /// restart is never exposed. The leader epoch starts at the latest cached one (or 0) until
    /// `become_leader` / `set_follower_epoch`.
    pub fn open_replicated(
        dir: &Path,
        topic: &str,
        index: i32,
        config: LogConfig,
        clean: bool,
        checkpoint_hw: Option<i64>,
    ) -> Result<Partition, LogError> {
        let p = Self::open_inner(dir, topic, index, config, clean)?;
        p.replicated.store(true, Ordering::SeqCst);
        let epoch = p.latest_epoch().unwrap_or(0);
        p.leader_epoch.store(epoch, Ordering::SeqCst);
        p.set_high_watermark(checkpoint_hw.unwrap_or(0));
        Ok(p)
    }

    fn open_inner(
        dir: &Path,
        topic: &str,
        index: i32,
        config: LogConfig,
        clean: bool,
    ) -> Result<Partition, LogError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut bases = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".log") {
                if let Ok(base) = stem.parse::<i64>() {
                    bases.push(base);
                }
            }
        }
        bases.sort_unstable();
        let mut segments = BTreeMap::new();
        let last = bases.last().copied();
        for base in bases {
            let recover = !clean && Some(base) == last;
            let (seg, truncated) = Segment::open(dir, base, recover, config.index_interval_bytes)
                .map_err(io_err(dir))?;
            if truncated > 0 {
                tracing::warn!(
                    "{topic}-{index}: truncated {truncated} bytes of torn or corrupt data at the end of segment {base}"
                );
            }
            segments.insert(base, seg);
        }
        if segments.is_empty() {
            segments.insert(0, Segment::create(dir, 0).map_err(io_err(dir))?);
        }
        let first_base = segments.keys().next().copied().unwrap_or(0);
        let end = segments
            .values()
            .next_back()
            .map(|s| s.next_offset)
            .unwrap_or(0);
        let log_start_offset = read_log_start(dir)
            .unwrap_or(0)
            .clamp(first_base, end.max(first_base));
        let mut log = Log {
            dir: dir.to_path_buf(),
            segments,
            log_start_offset,
            config,
            unflushed_messages: 0,
            last_flush_ms: now_ms(),
            producers: ProducerStateTable::default(),
            aborted: read_aborted(dir),
            epochs: LeaderEpochCache::empty(dir),
        };
        log.rebuild_producers()?;
        log.load_epochs(&format!("{topic}-{index}"))?;
        let hw = log.next_offset();
        Ok(Partition {
            topic: topic.to_string(),
            index,
            leader_epoch: AtomicI32::new(0),
            replicated: AtomicBool::new(false),
            follower: AtomicBool::new(false),
            log: Mutex::new(log),
            high_watermark: watch::channel(hw).0,
            log_end: watch::channel(hw).0,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        // A panic while holding the lock leaves the log in a state the code never half-updates
        // (offsets move only after a write succeeded), so carrying on is safe.
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_config(&self, config: LogConfig) {
        self.lock().config = config;
    }

    pub fn config(&self) -> LogConfig {
        self.lock().config.clone()
    }

    /// Validates, patches and appends one produced batch.
    pub fn append(&self, records: &[u8]) -> Result<AppendInfo, LogError> {
        self.append_inner(records, false)
    }

    /// Writes a transaction marker (COMMIT or ABORT control batch) for `producer_id`, ending its
    /// transaction here; an abort is recorded in the aborted-transaction list, durably.
    pub fn write_marker(
        &self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<i64, LogError> {
        let b = control_batch(producer_id, epoch, commit);
        let info = self.append_inner(&b, true)?;
        Ok(info.base_offset)
    }

    fn append_inner(&self, records: &[u8], marker: bool) -> Result<AppendInfo, LogError> {
        if self.follower.load(Ordering::SeqCst) {
            return Err(LogError::NotLeader);
        }
        let (max, compact) = {
            let log = self.lock();
            (log.config.max_message_bytes, log.config.compact)
        };
        let mut h = if marker {
            BatchHeader::parse(records).ok_or_else(|| BatchError::Corrupt("short marker".into()))?
        } else {
            batch::validate_produce(records, max)?
        };
        if compact && !marker {
            let keyless = batch::keyless_records(records)?;
            if !keyless.is_empty() {
                return Err(LogError::Batch(BatchError::InvalidRecords {
                    message: format!(
                        "Compacted topic cannot accept message without key in topic partition {}-{}.",
                        self.topic, self.index
                    ),
                    indexes: keyless,
                }));
            }
        }
        // Only the header is patched; the body is written as received.
        let mut head = [0u8; batch::HEADER_LEN];
        head.copy_from_slice(&records[..batch::HEADER_LEN]);
        let rest = &records[batch::HEADER_LEN..];
        let mut log = self.lock();
        // Checked again under the lock that become-follower's truncation also takes.
        if self.follower.load(Ordering::SeqCst) {
            return Err(LogError::NotLeader);
        }
        let cfg = log.config.clone();
        let now = now_ms();
        let append_time = if cfg.log_append_time {
            Some(now)
        } else {
            if h.max_timestamp > now.saturating_add(cfg.timestamp_after_max_ms) {
                return Err(LogError::InvalidTimestamp(h.max_timestamp));
            }
            if h.base_timestamp >= 0
                && h.base_timestamp < now.saturating_sub(cfg.timestamp_before_max_ms)
            {
                return Err(LogError::InvalidTimestamp(h.base_timestamp));
            }
            None
        };
        if h.producer_id >= 0 && !marker {
            match log.producers.check(&h) {
                Ok(SeqCheck::Append) => {}
                Ok(SeqCheck::Duplicate { base_offset }) => {
                    return Ok(AppendInfo {
                        base_offset,
                        log_append_time: -1,
                        log_start_offset: log.log_start_offset,
                    });
                }
                Err((code, message)) => return Err(LogError::Producer { code, message }),
            }
        }
        if marker {
            // A marker from an older epoch is a late retry of a transaction the producer has
            // moved past: writing it would end the producer's current transaction.
            if let Some(current) = log.producers.epoch_of(h.producer_id) {
                if h.producer_epoch < current {
                    return Err(LogError::Producer {
                        code: crate::txn::coordinator::code::INVALID_PRODUCER_EPOCH,
                        message: format!(
                            "marker epoch {} of producer {} is older than its current epoch {current}",
                            h.producer_epoch, h.producer_id
                        ),
                    });
                }
            }
        }
        log.maybe_roll(records.len(), h.last_offset_delta)?;
        let base = log.next_offset();
        let epoch = self.leader_epoch();
        if append_time.is_some() {
            // LogAppendTime rewrites fields under the CRC, so it needs the whole batch.
            let mut whole = records.to_vec();
            batch::patch_for_append(&mut whole, base, epoch, append_time);
            head.copy_from_slice(&whole[..batch::HEADER_LEN]);
        } else {
            batch::patch_for_append(&mut head, base, epoch, None);
        }
        h.base_offset = base;
        h.partition_leader_epoch = epoch;
        if let Some(t) = append_time {
            h.max_timestamp = t;
        }
        let dir = log.dir.clone();
        log.active()
            .append(&head, rest, &h, cfg.index_interval_bytes)
            .map_err(io_err(&dir))?;
        log.after_append(&h, || marker && !is_commit_marker(records), now)?;
        let end = log.next_offset();
        let start = log.log_start_offset;
        self.log_end.send_replace(end);
        // Under the log lock, with the mode read here: a leader turning replicated (a follower
        // joining its ISR) must never see this append publish past the follower.
        if !self.replicated.load(Ordering::SeqCst) {
            self.high_watermark.send_replace(end);
        }
        drop(log);
        Ok(AppendInfo {
            base_offset: base,
            log_append_time: append_time.unwrap_or(-1),
            log_start_offset: start,
        })
    }

    pub fn high_watermark(&self) -> i64 {
        *self.high_watermark.borrow()
    }

    /// The current leader epoch.
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::SeqCst)
    }

    /// This replica leads from `epoch` on: later appends carry it, and the epoch cache records
    /// that it starts at the current log end offset (Kafka's makeLeader).
    pub fn become_leader(&self, epoch: i32) {
        let mut log = self.lock();
        self.leader_epoch.store(epoch, Ordering::SeqCst);
        self.follower.store(false, Ordering::SeqCst);
        let end = log.next_offset();
        if let Err(e) = log.epochs.assign(epoch, end) {
            tracing::error!(
                "{}-{}: could not record leader epoch {epoch} at {end}: {e}",
                self.topic,
                self.index
            );
        }
    }

    /// Whether this replica is a follower at leader epoch `epoch` (callers hold the log lock).
    fn follows_at(&self, epoch: i32) -> bool {
        self.follower.load(Ordering::SeqCst) && self.leader_epoch.load(Ordering::SeqCst) == epoch
    }

    /// This replica follows a leader at `epoch`. The epoch cache is not touched: a follower
    /// learns epochs from the batches it appends.
    pub fn set_follower_epoch(&self, epoch: i32) {
        // Under the log lock: an append that already passed its check finishes first.
        let _log = self.lock();
        self.leader_epoch.store(epoch, Ordering::SeqCst);
        self.follower.store(true, Ordering::SeqCst);
    }

    /// In replicated mode appends no longer publish the log end offset as high watermark; only
    /// `set_high_watermark` moves it. Turning it off publishes the log end offset again.
    pub fn set_replicated(&self, on: bool) {
        // Under the log lock, so an append sees the mode it publishes with.
        let log = self.lock();
        self.replicated.store(on, Ordering::SeqCst);
        if !on {
            let end = log.next_offset();
            self.high_watermark.send_if_modified(|hw| {
                let changed = *hw != end;
                *hw = end;
                changed
            });
        }
    }

    pub fn is_replicated(&self) -> bool {
        self.replicated.load(Ordering::SeqCst)
    }

    /// Sets the high watermark, clamped to [log start, log end]; waiting fetches are woken only
    /// if it changed. Returns the value now in force.
    pub fn set_high_watermark(&self, hw: i64) -> i64 {
        let log = self.lock();
        let hw = hw.clamp(log.log_start_offset, log.next_offset());
        // Published under the log lock, so a concurrent truncation cannot be overtaken.
        self.high_watermark.send_if_modified(|cur| {
            let changed = *cur != hw;
            *cur = hw;
            changed
        });
        hw
    }

    /// The latest leader epoch in the epoch cache.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.lock().epochs.latest_epoch()
    }

    /// The epoch cache's entries: (epoch, start offset), oldest first.
    pub fn epoch_entries(&self) -> Vec<(i32, i64)> {
        self.lock().epochs.entries().to_vec()
    }

    /// Kafka's OffsetForLeaderEpoch answer for `epoch`: the largest known epoch <= it and where
    /// that epoch ended; (-1, -1) when the epoch is undefined or newer than any known.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        let log = self.lock();
        log.epochs
            .end_offset_for(epoch, log.next_offset())
            .unwrap_or((
                super::epoch_cache::UNDEFINED_EPOCH,
                super::epoch_cache::UNDEFINED_EPOCH_OFFSET,
            ))
    }

    /// Appends batches fetched from the leader, bytes unchanged. `records` is a run of whole v2
    /// batches as the leader stored them; a partial batch at the end (a fetch response may stop
    /// mid-batch) is ignored. Every whole batch is checked (framing, magic, CRC) and must start
    /// exactly at the log end offset before anything is written. Producer state, aborted
    /// transactions and the epoch cache learn from the batches; the high watermark does not move.
    /// Returns the last offset appended, None if there was no whole batch.
    /// `append_as_follower` for the replica fetcher: only while this replica still follows the
    /// leader at `epoch` (checked under the log lock), so a late response from an old leader
    /// can never land in a log that has since become a leader or moved to a newer epoch.
    pub fn append_as_follower_at(
        &self,
        epoch: i32,
        records: &[u8],
    ) -> Result<Option<i64>, LogError> {
        self.append_as_follower_inner(Some(epoch), records)
    }

    pub fn append_as_follower(&self, records: &[u8]) -> Result<Option<i64>, LogError> {
        self.append_as_follower_inner(None, records)
    }

    fn append_as_follower_inner(
        &self,
        epoch: Option<i32>,
        records: &[u8],
    ) -> Result<Option<i64>, LogError> {
        let mut log = self.lock();
        if epoch.is_some_and(|e| !self.follows_at(e)) {
            return Err(LogError::NotLeader);
        }
        let mut expected = log.next_offset();
        let mut batches = Vec::new();
        let mut pos = 0usize;
        while let Some(h) = BatchHeader::parse(&records[pos..]) {
            if h.batch_length < (batch::HEADER_LEN - batch::LOG_OVERHEAD) as i32 {
                return Err(LogError::Batch(BatchError::Corrupt(format!(
                    "replicated batch at offset {} has length {}",
                    h.base_offset, h.batch_length
                ))));
            }
            let total = h.total_len();
            if records.len() - pos < total {
                break;
            }
            let whole = &records[pos..pos + total];
            if h.magic != 2 {
                return Err(LogError::Batch(BatchError::UnsupportedMagic(h.magic)));
            }
            if batch::compute_crc(whole) != h.crc {
                return Err(LogError::Batch(BatchError::Corrupt(format!(
                    "CRC32C mismatch in the replicated batch at offset {}",
                    h.base_offset
                ))));
            }
            if h.last_offset_delta < 0 || h.records_count < 0 {
                return Err(LogError::Batch(BatchError::Corrupt(format!(
                    "replicated batch at offset {} has last offset delta {}",
                    h.base_offset, h.last_offset_delta
                ))));
            }
            if h.base_offset != expected {
                return Err(LogError::UnexpectedAppendOffset {
                    expected,
                    got: h.base_offset,
                });
            }
            expected = h.last_offset() + 1;
            batches.push((pos, h));
            pos += total;
        }
        let dir = log.dir.clone();
        let mut last = None;
        for (pos, h) in batches {
            let whole = &records[pos..pos + h.total_len()];
            log.maybe_roll(whole.len(), h.last_offset_delta)?;
            let interval = log.config.index_interval_bytes;
            log.active()
                .append(
                    &whole[..batch::HEADER_LEN],
                    &whole[batch::HEADER_LEN..],
                    &h,
                    interval,
                )
                .map_err(io_err(&dir))?;
            last = Some(h.last_offset());
            let appended = log.after_append(&h, || control_type(whole) == Some(0), now_ms());
            // Whatever was written is part of the log, even if bookkeeping failed.
            if let Err(e) = appended {
                let end = log.next_offset();
                drop(log);
                self.log_end.send_replace(end);
                return Err(e);
            }
        }
        let end = log.next_offset();
        drop(log);
        if last.is_some() {
            self.log_end.send_replace(end);
        }
        Ok(last)
    }

    /// Removes every batch at `offset` or later (a batch that holds `offset` goes whole): later
    /// segments are deleted, the one holding it cut at that batch, indexes trimmed; the epoch
    /// cache, producer state (snapshots past the new end removed) and aborted-transaction list
    /// follow. The high watermark drops to the new end if it was beyond. A no-op at or past the
    /// log end; below the log start the log is emptied and restarted at `offset`.
    /// `truncate_to` for the replica fetcher, only while this replica follows at `epoch`.
    pub fn truncate_to_at(&self, epoch: i32, offset: i64) -> Result<(), LogError> {
        self.truncate_inner(Some(epoch), offset)
    }

    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        self.truncate_inner(None, offset)
    }

    fn truncate_inner(&self, epoch: Option<i32>, offset: i64) -> Result<(), LogError> {
        let mut log = self.lock();
        if epoch.is_some_and(|e| !self.follows_at(e)) {
            return Err(LogError::NotLeader);
        }
        if offset >= log.next_offset() {
            return Ok(());
        }
        if offset < log.log_start_offset {
            log.reset_at(offset.max(0))?;
        } else {
            log.truncate_to(offset)?;
        }
        let end = log.next_offset();
        let start = log.log_start_offset;
        self.log_end.send_replace(end);
        self.high_watermark.send_if_modified(|hw| {
            let new = (*hw).min(end).max(start);
            let changed = new != *hw;
            *hw = new;
            changed
        });
        Ok(())
    }

    /// Deletes every segment and starts an empty log at `offset` (log start = log end = high
    /// watermark = `offset`), with an empty epoch cache and producer state: a follower whose
    /// fetch offset fell below the leader's log start. Errors are logged; see
    /// `try_truncate_fully_and_start_at`.
    pub fn truncate_fully_and_start_at(&self, offset: i64) {
        if let Err(e) = self.try_truncate_fully_and_start_at(offset) {
            tracing::error!(
                "{}-{}: could not restart the log at {offset}: {e}",
                self.topic,
                self.index
            );
        }
    }

    /// `truncate_fully_and_start_at`, reporting failure.
    pub fn try_truncate_fully_and_start_at(&self, offset: i64) -> Result<(), LogError> {
        let mut log = self.lock();
        let result = log.reset_at(offset.max(0));
        let end = log.next_offset();
        self.log_end.send_replace(end);
        self.high_watermark.send_if_modified(|hw| {
            let changed = *hw != end;
            *hw = end;
            changed
        });
        result
    }

    pub fn log_start_offset(&self) -> i64 {
        self.lock().log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.lock().next_offset()
    }

    pub fn size_bytes(&self) -> u64 {
        self.lock().total_size()
    }

    /// A receiver that changes whenever the high watermark moves.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.high_watermark.subscribe()
    }

    /// A receiver that changes whenever the log end offset moves (appends, truncation): what a
    /// leader's long-polling follower fetch waits on.
    pub fn subscribe_log_end(&self) -> watch::Receiver<i64> {
        self.log_end.subscribe()
    }

    /// Reads whole batches from `offset`, at most `max_bytes` (but see `min_one`), never past the
    /// high watermark. The file read happens outside the log lock.
    pub fn read(&self, offset: i64, max_bytes: usize, min_one: bool) -> Result<ReadInfo, LogError> {
        self.read_isolated(offset, max_bytes, min_one, false)
    }

    /// Like `read`; with `committed`, stops at the last stable offset and reports the aborted
    /// transactions the returned range overlaps.
    pub fn read_isolated(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
        committed: bool,
    ) -> Result<ReadInfo, LogError> {
        self.read_inner(offset, max_bytes, min_one, committed, false)
    }

    /// What a follower's fetch gets: whole batches from `offset` up to the log end offset (not
    /// the high watermark), the first batch whole even past `max_bytes`. Out of range outside
    /// [log start, log end].
    pub fn read_replica(&self, offset: i64, max_bytes: usize) -> Result<ReadInfo, LogError> {
        self.read_inner(offset, max_bytes, true, false, true)
    }

    /// `read_replica` with the KIP-74 first-batch rule left to the caller (a multi-partition
    /// fetch applies it to its first partition only).
    pub fn read_replica_min_one(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
    ) -> Result<ReadInfo, LogError> {
        self.read_inner(offset, max_bytes, min_one, false, true)
    }

    fn read_inner(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
        committed: bool,
        replica: bool,
    ) -> Result<ReadInfo, LogError> {
        let (file, floor, end, hw, lso, start) = {
            let log = self.lock();
            let hw = self.high_watermark();
            let lso = log.last_stable_offset(hw);
            let start = log.log_start_offset;
            let end = log.next_offset();
            let bound = if replica { end } else { hw };
            let upper = if committed { lso } else { bound };
            // Out of range is judged against the log end, as Kafka's UnifiedLog.read does: an
            // offset between the high watermark and the log end (a new leader whose high
            // watermark has not caught up yet, or an append in flight) reads as empty, so a
            // consumer at a committed position never resets.
            if offset < start || offset > end {
                return Err(LogError::OffsetOutOfRange { offset, start, end });
            }
            if offset >= upper {
                return Ok(ReadInfo {
                    records: Bytes::new(),
                    high_watermark: hw,
                    last_stable_offset: lso,
                    log_start_offset: start,
                    aborted: committed.then(Vec::new),
                });
            }
            let seg = log
                .segments
                .range(..=offset)
                .next_back()
                .map(|(_, s)| s)
                .or_else(|| log.segments.values().next());
            let Some(seg) = seg else {
                return Ok(ReadInfo {
                    records: Bytes::new(),
                    high_watermark: hw,
                    last_stable_offset: lso,
                    log_start_offset: start,
                    aborted: committed.then(Vec::new),
                });
            };
            (
                seg.file(),
                seg.floor_position(offset),
                seg.size(),
                hw,
                lso,
                start,
            )
        };
        // Never past the high watermark (last stable offset) for consumers; replicas read all.
        let upper = match (committed, replica) {
            (true, _) => lso,
            (false, true) => i64::MAX,
            (false, false) => hw,
        };
        let records = segment::read_batches(&file, floor, end, offset, max_bytes, min_one, upper)
            .map_err(|source| LogError::Io {
            path: format!("{}-{}", self.topic, self.index),
            source,
        })?;
        let aborted = committed.then(|| {
            let last = last_offset_in(&records).unwrap_or(offset);
            self.lock()
                .aborted
                .iter()
                .filter(|a| a.last_offset >= offset && a.first_offset <= last)
                .map(|a| (a.producer_id, a.first_offset))
                .collect()
        });
        Ok(ReadInfo {
            records,
            high_watermark: hw,
            last_stable_offset: lso,
            log_start_offset: start,
            aborted,
        })
    }

    /// Active producers: (pid, epoch, last sequence, last timestamp, open txn first offset).
    pub fn producers(&self) -> Vec<(i64, i16, i32, i64, Option<i64>)> {
        self.lock().producers.describe()
    }

    /// Whether the producer has a transaction open on this partition at this epoch (Kafka's
    /// `hasOngoingTransaction`): only a transaction's first write here asks the coordinator.
    pub fn in_transaction(&self, producer_id: i64, epoch: i16) -> bool {
        self.lock()
            .producers
            .get(producer_id)
            .is_some_and(|e| e.epoch == epoch && e.txn_first_offset.is_some())
    }

    /// The last stable offset (read_committed's end).
    pub fn last_stable_offset(&self) -> i64 {
        let hw = self.high_watermark();
        self.lock().last_stable_offset(hw)
    }

    /// The earliest offset whose record timestamp is >= `ts`, with that timestamp.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        let plan: Vec<_> = {
            let log = self.lock();
            log.segments
                .values()
                .filter(|s| s.max_timestamp >= ts)
                .map(|s| (s.file(), s.timestamp_floor_position(ts), s.size()))
                .collect()
        };
        for (file, from, end) in plan {
            if let Some(found) =
                scan_for_timestamp(&file, from, end, ts).map_err(|source| LogError::Io {
                    path: format!("{}-{}", self.topic, self.index),
                    source,
                })?
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The offset and timestamp of the record with the largest timestamp (KIP-734).
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        let best = {
            let log = self.lock();
            log.segments
                .values()
                .filter(|s| s.max_timestamp >= 0)
                .max_by_key(|s| s.max_timestamp)
                .map(|s| (s.file(), s.size(), s.max_timestamp))
        };
        let Some((file, end, max)) = best else {
            return Ok(None);
        };
        scan_for_timestamp(&file, 0, end, max).map_err(|source| LogError::Io {
            path: format!("{}-{}", self.topic, self.index),
            source,
        })
    }

    /// Flushes if `flush.ms` has passed since the last flush; called by the background task.
    /// Forgets producers idle for longer than `producer.id.expiration.ms` (never one with an
    /// open transaction), as Kafka does.
    pub fn expire_producers(&self, now: i64, expiration_ms: i64) {
        self.lock().producers.expire(now, expiration_ms);
    }

    pub fn flush_if_due(&self, now: i64) -> Result<(), LogError> {
        let mut log = self.lock();
        if log.unflushed_messages > 0
            && now.saturating_sub(log.last_flush_ms) >= log.config.flush_ms
        {
            let dir = log.dir.clone();
            log.active().flush().map_err(io_err(&dir))?;
            log.unflushed_messages = 0;
            log.last_flush_ms = now;
        }
        Ok(())
    }

    /// Flushes everything and snapshots producer state; used at clean shutdown.
    pub fn flush(&self) -> Result<(), LogError> {
        let mut log = self.lock();
        let dir = log.dir.clone();
        for seg in log.segments.values_mut() {
            seg.flush().map_err(io_err(&dir))?;
        }
        log.unflushed_messages = 0;
        log.write_snapshot();
        Ok(())
    }

    /// Applies time and size retention; returns how many segments were deleted. The active
    /// segment is rolled first when it alone has expired, so retention can empty the log while
    /// keeping the next offset.
    pub fn apply_retention(&self, now: i64) -> Result<usize, LogError> {
        // As in Kafka, only data below the high watermark may go (on one broker that is all).
        let hw = self.high_watermark();
        let mut log = self.lock();
        let cfg = log.config.clone();
        if !cfg.delete_enabled {
            return Ok(0);
        }
        let mut deleted = 0;
        if cfg.retention_ms >= 0 {
            let cutoff = now.saturating_sub(cfg.retention_ms);
            loop {
                let n = log.segments.len();
                let Some((_, first)) = log.segments.first_key_value() else {
                    break;
                };
                if first.is_empty() || first.max_timestamp >= cutoff || first.next_offset > hw {
                    break;
                }
                if n == 1 {
                    log.roll()?;
                }
                log.delete_oldest();
                deleted += 1;
            }
        }
        if cfg.retention_bytes >= 0 {
            // Kafka's rule: delete whole old segments while what remains still exceeds the limit.
            let mut excess = log.total_size() as i64 - cfg.retention_bytes;
            while log.segments.len() > 1 {
                let (first, first_end) = log
                    .segments
                    .values()
                    .next()
                    .map_or((0, i64::MAX), |s| (s.size() as i64, s.next_offset));
                if excess - first < 0 || first_end > hw {
                    break;
                }
                excess -= first;
                log.delete_oldest();
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// DeleteRecords: moves the log start offset forward to `offset` (-1: the high watermark)
    /// and drops segments wholly below it. Returns the new log start offset.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        let hw = self.high_watermark();
        let target = if offset == -1 { hw } else { offset };
        let mut log = self.lock();
        if target < 0 || target > hw {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start: log.log_start_offset,
                end: hw,
            });
        }
        if target <= log.log_start_offset {
            return Ok(log.log_start_offset);
        }
        log.log_start_offset = target;
        let dir = log.dir.clone();
        write_log_start(&dir, target).map_err(io_err(&dir))?;
        log.trim_epochs_to_start();
        while log.segments.len() > 1 {
            let second = log.segments.keys().nth(1).copied().unwrap_or(i64::MAX);
            if second > target {
                break;
            }
            log.delete_oldest();
        }
        Ok(log.log_start_offset)
    }

    /// Removes the partition directory (topic deletion).
    pub fn delete_dir(&self) {
        let log = self.lock();
        if let Err(e) = fs::remove_dir_all(&log.dir) {
            tracing::warn!("could not remove {}: {e}", log.dir.display());
        }
    }
}

/// Walks batches in `[from, end)` and returns the first record with timestamp >= `threshold`.
/// Records are decoded only in the batch whose max timestamp first qualifies.
fn scan_for_timestamp(
    file: &std::fs::File,
    from: u64,
    end: u64,
    threshold: i64,
) -> io::Result<Option<(i64, i64)>> {
    use std::os::unix::fs::FileExt;
    let mut pos = from;
    let mut head = [0u8; batch::HEADER_LEN];
    while pos + batch::HEADER_LEN as u64 <= end {
        file.read_exact_at(&mut head, pos)?;
        let Some(h) = BatchHeader::parse(&head) else {
            break;
        };
        let total = h.total_len();
        if h.batch_length <= 0 || pos + total as u64 > end {
            break;
        }
        if h.max_timestamp >= threshold {
            if h.is_log_append_time() {
                return Ok(Some((h.base_offset, h.max_timestamp)));
            }
            let mut whole = vec![0u8; total];
            file.read_exact_at(&mut whole, pos)?;
            if let Some(found) = record_timestamps(whole.into())
                .into_iter()
                .find(|(_, ts)| *ts >= threshold)
            {
                return Ok(Some(found));
            }
        }
        pos += total as u64;
    }
    Ok(None)
}

/// (offset, timestamp) of each record in one stored batch; empty if it cannot be decoded.
fn record_timestamps(batch: Bytes) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    // A batch that cannot be walked has no answer to give; it is skipped, not fatal.
    let _ = super::records::for_each_record(&batch, super::records::MAX_DECOMPRESSED, |r| {
        out.push((r.offset, r.timestamp))
    });
    out
}

const LOG_START_FILE: &str = "log-start-offset";
const ABORTED_FILE: &str = "aborted-transactions";

/// Offset of the last record in a run of whole batches.
fn last_offset_in(records: &[u8]) -> Option<i64> {
    let mut pos = 0;
    let mut last = None;
    while let Some(h) = BatchHeader::parse(&records[pos..]) {
        last = Some(h.last_offset());
        pos += h.total_len();
        if pos >= records.len() {
            break;
        }
    }
    last
}

fn read_aborted(dir: &Path) -> Vec<AbortedTxn> {
    let Ok(data) = fs::read(dir.join(ABORTED_FILE)) else {
        return Vec::new();
    };
    data.chunks_exact(24)
        .map(|c| {
            let n = |i: usize| i64::from_be_bytes(c[i..i + 8].try_into().unwrap_or([0; 8]));
            AbortedTxn {
                producer_id: n(0),
                first_offset: n(8),
                last_offset: n(16),
            }
        })
        .collect()
}

/// Appends one entry, fsynced: a read_committed consumer must never see an aborted record.
fn append_aborted(dir: &Path, a: &AbortedTxn) -> io::Result<()> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(ABORTED_FILE))?;
    let mut b = [0u8; 24];
    b[..8].copy_from_slice(&a.producer_id.to_be_bytes());
    b[8..16].copy_from_slice(&a.first_offset.to_be_bytes());
    b[16..].copy_from_slice(&a.last_offset.to_be_bytes());
    f.write_all(&b)?;
    f.sync_data()
}

/// A transaction marker: one control record, key (version 0, type 1 commit / 0 abort), value
/// (version 0, coordinator epoch).
fn control_batch(producer_id: i64, epoch: i16, commit: bool) -> BytesMut {
    use kafka_protocol::records::*;
    let mut key = BytesMut::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&i16::from(commit).to_be_bytes());
    let mut value = BytesMut::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&0i32.to_be_bytes());
    let rec = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: now_ms(),
        key: Some(key.freeze()),
        value: Some(value.freeze()),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    // Encoding a record we built cannot fail short of allocation failure.
    let _ = RecordBatchEncoder::encode(
        &mut buf,
        [&rec],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    );
    buf
}

/// Whether a marker batch we wrote is a COMMIT: its only record's key type is 1.
fn is_commit_marker(b: &[u8]) -> bool {
    // The record follows the 61-byte header: length, attributes, timestamp delta, offset delta
    // and key length are single-byte varints for the markers built above, then the 4-byte key.
    b.get(batch::HEADER_LEN + 5..batch::HEADER_LEN + 9)
        .is_some_and(|k| i16::from_be_bytes([k[2], k[3]]) == 1)
}

/// Producer snapshots in `dir`, oldest first.
fn snapshots(dir: &Path) -> Vec<(i64, PathBuf)> {
    let mut out: Vec<(i64, PathBuf)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let off = name.to_str()?.strip_suffix(".snapshot")?.parse().ok()?;
            Some((off, e.path()))
        })
        .collect();
    out.sort();
    out
}

fn read_log_start(dir: &Path) -> Option<i64> {
    fs::read_to_string(dir.join(LOG_START_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn write_log_start(dir: &Path, offset: i64) -> io::Result<()> {
    let tmp = dir.join(format!("{LOG_START_FILE}.tmp"));
    fs::write(&tmp, format!("{offset}\n"))?;
    fs::rename(tmp, dir.join(LOG_START_FILE))
}

/// Rewrites the aborted-transaction list (after a truncation removed entries), atomically.
fn write_all_aborted(dir: &Path, all: &[AbortedTxn]) -> io::Result<()> {
    use std::io::Write;
    let mut b = Vec::with_capacity(all.len() * 24);
    for a in all {
        b.extend_from_slice(&a.producer_id.to_be_bytes());
        b.extend_from_slice(&a.first_offset.to_be_bytes());
        b.extend_from_slice(&a.last_offset.to_be_bytes());
    }
    let tmp = dir.join(format!("{ABORTED_FILE}.tmp"));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&b)?;
        f.sync_all()?;
    }
    fs::rename(tmp, dir.join(ABORTED_FILE))?;
    fs::File::open(dir)?.sync_all()
}

/// The type of the first control record in a stored control batch (0 ABORT, 1 COMMIT), read by
/// walking the record: markers from other brokers need not use one-byte varints.
fn control_type(b: &[u8]) -> Option<i16> {
    let mut found = None;
    let _ = super::records::for_each_record(b, super::records::MAX_DECOMPRESSED, |r| {
        if found.is_none() {
            found = r
                .key
                .filter(|k| k.len() >= 4)
                .map(|k| i16::from_be_bytes([k[2], k[3]]));
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::tests::batch;

    #[test]
    fn append_read_timestamps_and_retention() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            segment_bytes: 2000,
            ..LogConfig::default()
        };
        let p = Partition::open(dir.path(), "t", 0, cfg, true).unwrap();
        let now = now_ms();
        for i in 0..40 {
            let info = p.append(&batch(2, now - 100_000 + i * 10)).unwrap();
            assert_eq!(info.base_offset, i * 2);
        }
        assert_eq!(p.high_watermark(), 80);
        let r = p.read(33, 1 << 20, true).unwrap();
        assert_eq!(BatchHeader::parse(&r.records).unwrap().base_offset, 32);
        assert!(matches!(
            p.read(81, 100, true),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        // Record i*2+j has timestamp now-100000 + i*10 + j.
        let (off, ts) = p.offset_for_timestamp(now - 100_000 + 75).unwrap().unwrap();
        assert_eq!((off, ts), (16, now - 100_000 + 80));
        let (off, _) = p.max_timestamp().unwrap().unwrap();
        assert_eq!(off, 79);
        assert!(p.offset_for_timestamp(now).unwrap().is_none());
        p.set_config(LogConfig {
            retention_ms: 1000,
            ..p.config()
        });
        let deleted = p.apply_retention(now).unwrap();
        assert!(deleted > 1);
        assert_eq!(p.log_start_offset(), 80);
        assert_eq!(p.log_end_offset(), 80);
        drop(p);
        let p = Partition::open(dir.path(), "t", 0, LogConfig::default(), true).unwrap();
        assert_eq!(p.log_end_offset(), 80);
        assert_eq!(p.append(&batch(1, now)).unwrap().base_offset, 80);
    }

    #[test]
    fn compacted_topics_refuse_keyless_records_by_index() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            compact: true,
            ..LogConfig::default()
        };
        let p = Partition::open(dir.path(), "t", 0, cfg, true).unwrap();
        // batch() keys every record: accepted.
        assert!(p.append(&batch(3, now_ms())).is_ok());
        let keyless = {
            use kafka_protocol::records::*;
            let recs: Vec<Record> = (0..3)
                .map(|i| Record {
                    transactional: false,
                    control: false,
                    delete_horizon: false,
                    partition_leader_epoch: 0,
                    producer_id: -1,
                    producer_epoch: -1,
                    timestamp_type: TimestampType::Creation,
                    offset: i,
                    sequence: i as i32 - 1,
                    timestamp: now_ms(),
                    key: (i != 1).then(|| Bytes::from_static(b"k")),
                    value: None,
                    headers: Default::default(),
                })
                .collect();
            let mut b = BytesMut::new();
            RecordBatchEncoder::encode(
                &mut b,
                &recs,
                &RecordEncodeOptions {
                    version: 2,
                    compression: Compression::Gzip,
                },
            )
            .unwrap();
            b
        };
        match p.append(&keyless) {
            Err(LogError::Batch(BatchError::InvalidRecords { indexes, .. })) => {
                assert_eq!(indexes, vec![1])
            }
            other => panic!("expected INVALID_RECORD, got {other:?}"),
        }
        assert_eq!(p.log_end_offset(), 3);
    }

    #[test]
    fn delete_records_moves_the_log_start_durably() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            segment_bytes: 2000,
            ..LogConfig::default()
        };
        let p = Partition::open(dir.path(), "t", 0, cfg.clone(), true).unwrap();
        for _ in 0..40 {
            p.append(&batch(2, now_ms())).unwrap();
        }
        assert_eq!(p.delete_records_before(33).unwrap(), 33);
        assert!(matches!(
            p.read(32, 100, true),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        let r = p.read(33, 1 << 20, true).unwrap();
        assert_eq!(BatchHeader::parse(&r.records).unwrap().base_offset, 32);
        assert!(p.delete_records_before(81).is_err());
        drop(p);
        let p = Partition::open(dir.path(), "t", 0, cfg, true).unwrap();
        assert_eq!(p.log_start_offset(), 33);
        assert_eq!(p.delete_records_before(-1).unwrap(), 80);
    }
}
