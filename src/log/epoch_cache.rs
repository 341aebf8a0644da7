//! The leader epoch cache: for each leader epoch seen in this partition's log, the offset of its
//! first batch. Replication needs it to answer OffsetForLeaderEpoch and to find where a follower's
//! log diverges from the leader's. The semantics are Kafka's `LeaderEpochFileCache`; the state is
//! persisted to `leader-epoch-checkpoint` in Kafka's format (`0`, count, `<epoch> <start>` lines)
//! on every change, atomically.

use std::io;
use std::path::{Path, PathBuf};

use super::checkpoint;

/// Kafka's `UNDEFINED_EPOCH`.
pub const UNDEFINED_EPOCH: i32 = -1;
/// Kafka's `UNDEFINED_EPOCH_OFFSET`.
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;
pub const EPOCH_CHECKPOINT_FILE: &str = "leader-epoch-checkpoint";

pub struct LeaderEpochCache {
    path: PathBuf,
    /// (epoch, start offset), both strictly increasing.
    entries: Vec<(i32, i64)>,
}

impl LeaderEpochCache {
    /// An empty cache persisted in `dir` (nothing is written until it changes).
    pub fn empty(dir: &Path) -> LeaderEpochCache {
        LeaderEpochCache {
            path: dir.join(EPOCH_CHECKPOINT_FILE),
            entries: Vec::new(),
        }
    }

    /// Loads the checkpoint in `dir`; an error if it is missing or cannot be parsed. Entries are
    /// replayed through Kafka's assign rules, so a non-monotonic file cannot corrupt the cache.
    pub fn read(dir: &Path) -> io::Result<LeaderEpochCache> {
        let mut cache = LeaderEpochCache::empty(dir);
        for line in checkpoint::read_lines(&cache.path)? {
            let mut it = line.split_whitespace();
            let epoch = it.next().and_then(|s| s.parse::<i32>().ok());
            let start = it.next().and_then(|s| s.parse::<i64>().ok());
            match (epoch, start, it.next()) {
                (Some(e), Some(s), None) if e >= 0 && s >= 0 => {
                    cache.assign_in_memory(e, s);
                }
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: bad entry {line:?}", cache.path.display()),
                    ))
                }
            }
        }
        Ok(cache)
    }

    /// Writes the cache to its checkpoint file.
    pub fn flush(&self) -> io::Result<()> {
        let lines: Vec<String> = self
            .entries
            .iter()
            .map(|(e, s)| format!("{e} {s}"))
            .collect();
        checkpoint::write_lines(&self.path, &lines)
    }

    /// Kafka's assign: a no-op when `epoch` is the latest epoch and `start_offset` is not below
    /// its start (and for negative values, which carry no epoch). Otherwise every entry with an
    /// epoch >= `epoch` or a start offset >= `start_offset` is dropped from the end and the new
    /// entry appended. Returns whether the cache changed; the change is persisted.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> io::Result<bool> {
        if !self.assign_in_memory(epoch, start_offset) {
            return Ok(false);
        }
        self.flush()?;
        Ok(true)
    }

    /// `assign` without writing the file (recovery batches several and writes once).
    pub fn assign_in_memory(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 {
            return false;
        }
        let needed = self
            .entries
            .last()
            .is_none_or(|&(e, s)| epoch != e || start_offset < s);
        if !needed {
            return false;
        }
        let before = self.entries.len();
        while self
            .entries
            .last()
            .is_some_and(|&(e, s)| e >= epoch || s >= start_offset)
        {
            self.entries.pop();
        }
        let removed = before - self.entries.len();
        if removed > 1 {
            tracing::warn!(
                "{}: epoch {epoch} at {start_offset} replaced {removed} conflicting entries",
                self.path.display()
            );
        }
        self.entries.push((epoch, start_offset));
        true
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|&(e, _)| e)
    }

    pub fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    /// Kafka's `endOffsetFor`: the largest epoch <= `requested` and the offset where it ended (the
    /// start of the next higher epoch, or `log_end_offset` for the latest epoch). A requested
    /// epoch below every known one answers (requested, first known start). None where Kafka
    /// answers (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET): an undefined or unknown-newer epoch.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> Option<(i32, i64)> {
        if requested == UNDEFINED_EPOCH {
            return None;
        }
        if self.latest_epoch() == Some(requested) {
            return Some((requested, log_end_offset));
        }
        let higher = self.entries.iter().find(|&&(e, _)| e > requested)?;
        match self.entries.iter().rev().find(|&&(e, _)| e <= requested) {
            Some(&(floor, _)) => Some((floor, higher.1)),
            None => Some((requested, higher.1)),
        }
    }

    /// Removes the entries starting at or after `end_offset` (the log was truncated there).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> io::Result<()> {
        if end_offset < 0 || self.entries.last().is_none_or(|&(_, s)| s < end_offset) {
            return Ok(());
        }
        self.entries.retain(|&(_, s)| s < end_offset);
        self.flush()
    }

    /// The log now starts at `start_offset`: entries starting at or before it are dropped and the
    /// newest of them is kept, moved to start at `start_offset`.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> io::Result<()> {
        let n = self.entries.partition_point(|&(_, s)| s <= start_offset);
        if n == 0 {
            return Ok(());
        }
        let epoch = self.entries[n - 1].0;
        if n == 1 && self.entries[0].1 == start_offset {
            return Ok(());
        }
        self.entries.drain(..n);
        self.entries.insert(0, (epoch, start_offset));
        self.flush()
    }

    /// Forgets every entry (the log was emptied) and persists the empty cache.
    pub fn clear(&mut self) -> io::Result<()> {
        self.entries.clear();
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn cache(entries: &[(i32, i64)]) -> (tempfile::TempDir, LeaderEpochCache) {
        let dir = tempfile::tempdir().unwrap();
        let mut c = LeaderEpochCache::empty(dir.path());
        for &(e, s) in entries {
            assert!(c.assign(e, s).unwrap());
        }
        (dir, c)
    }

    #[test]
    fn existing_single_broker_file_loads_as_epoch_zero_from_zero() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(EPOCH_CHECKPOINT_FILE), "0\n1\n0 0\n").unwrap();
        let c = LeaderEpochCache::read(dir.path()).unwrap();
        assert_eq!(c.entries(), &[(0, 0)]);
        assert_eq!(c.latest_epoch(), Some(0));
    }

    #[test]
    fn persists_in_kafkas_format_and_reloads() {
        let (dir, mut c) = cache(&[(0, 0), (2, 10)]);
        c.assign(5, 37).unwrap();
        let text = fs::read_to_string(dir.path().join(EPOCH_CHECKPOINT_FILE)).unwrap();
        assert_eq!(text, "0\n3\n0 0\n2 10\n5 37\n");
        let back = LeaderEpochCache::read(dir.path()).unwrap();
        assert_eq!(back.entries(), &[(0, 0), (2, 10), (5, 37)]);
    }

    #[test]
    fn garbled_or_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(LeaderEpochCache::read(dir.path()).is_err());
        let path = dir.path().join(EPOCH_CHECKPOINT_FILE);
        for bad in [
            "",
            "1\n1\n0 0\n",
            "0\n2\n0 0\n",
            "0\n1\n0\n",
            "0\n1\nx 0\n",
            "0\n1\n0 0 0\n",
        ] {
            fs::write(&path, bad).unwrap();
            assert!(LeaderEpochCache::read(dir.path()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn assign_follows_kafkas_rules() {
        let (_d, mut c) = cache(&[(1, 5)]);
        // Same epoch at a later offset: ignored.
        assert!(!c.assign(1, 9).unwrap());
        // Same epoch at an earlier offset: replaces the entry.
        assert!(c.assign(1, 3).unwrap());
        assert_eq!(c.entries(), &[(1, 3)]);
        assert!(c.assign(2, 10).unwrap());
        assert!(c.assign(4, 20).unwrap());
        // An older epoch drops every entry with a larger epoch or a later start.
        assert!(c.assign(3, 15).unwrap());
        assert_eq!(c.entries(), &[(1, 3), (2, 10), (3, 15)]);
        // A newer epoch starting before the latest start drops that entry.
        assert!(c.assign(6, 12).unwrap());
        assert_eq!(c.entries(), &[(1, 3), (2, 10), (6, 12)]);
        // Negative values carry no epoch.
        assert!(!c.assign(-1, 40).unwrap());
        assert!(!c.assign(7, -1).unwrap());
        assert_eq!(c.latest_epoch(), Some(6));
    }

    #[test]
    fn end_offset_for_matches_kafka() {
        let (_d, empty) = cache(&[]);
        assert_eq!(empty.end_offset_for(0, 10), None);
        assert_eq!(empty.end_offset_for(UNDEFINED_EPOCH, 10), None);
        let (_d, c) = cache(&[(2, 5), (4, 10), (6, 20)]);
        // Undefined epoch: undefined answer.
        assert_eq!(c.end_offset_for(UNDEFINED_EPOCH, 30), None);
        // The latest epoch ends at the log end.
        assert_eq!(c.end_offset_for(6, 30), Some((6, 30)));
        // A known older epoch ends where the next one starts.
        assert_eq!(c.end_offset_for(2, 30), Some((2, 10)));
        assert_eq!(c.end_offset_for(4, 30), Some((4, 20)));
        // An unknown epoch between known ones: the largest epoch below it, and the next start.
        assert_eq!(c.end_offset_for(3, 30), Some((2, 10)));
        assert_eq!(c.end_offset_for(5, 30), Some((4, 20)));
        // Below every known epoch: the requested epoch, ending where the first known starts.
        assert_eq!(c.end_offset_for(1, 30), Some((1, 5)));
        assert_eq!(c.end_offset_for(0, 30), Some((0, 5)));
        // Above every known epoch: undefined.
        assert_eq!(c.end_offset_for(7, 30), None);
    }

    #[test]
    fn truncation_from_both_ends() {
        let (dir, mut c) = cache(&[(0, 0), (1, 10), (3, 20), (4, 30)]);
        c.truncate_from_end(40).unwrap();
        assert_eq!(c.entries().len(), 4);
        c.truncate_from_end(20).unwrap();
        assert_eq!(c.entries(), &[(0, 0), (1, 10)]);
        c.truncate_from_start(15).unwrap();
        assert_eq!(c.entries(), &[(1, 15)]);
        c.truncate_from_start(15).unwrap();
        assert_eq!(c.entries(), &[(1, 15)]);
        c.truncate_from_start(3).unwrap();
        assert_eq!(c.entries(), &[(1, 15)]);
        let back = LeaderEpochCache::read(dir.path()).unwrap();
        assert_eq!(back.entries(), &[(1, 15)]);
        c.truncate_from_end(15).unwrap();
        assert!(c.entries().is_empty());
        c.clear().unwrap();
        let text = fs::read_to_string(dir.path().join(EPOCH_CHECKPOINT_FILE)).unwrap();
        assert_eq!(text, "0\n0\n");
    }
}
