//! Kafka's text checkpoint files: a version line (`0`), an entry count, then one entry per line.
//! Two live here: a partition's `leader-epoch-checkpoint` (via `epoch_cache`) and the log dir's
//! `replication-offset-checkpoint` (high watermarks), which a restarted replica reads so it never
//! exposes a tail that was not replicated before the crash.
//!
//! Writes go to `<name>.tmp`, are fsynced, renamed over the file and the directory is fsynced, so
//! a crash leaves either the old or the new file, never a torn one.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// The only checkpoint version Kafka writes.
const VERSION: &str = "0";
pub const HW_CHECKPOINT_FILE: &str = "replication-offset-checkpoint";

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Writes `lines` as a version-0 checkpoint at `path`, atomically and durably.
pub fn write_lines(path: &Path, lines: &[String]) -> io::Result<()> {
    let mut text = String::with_capacity(16 + lines.iter().map(|l| l.len() + 1).sum::<usize>());
    text.push_str(VERSION);
    text.push('\n');
    text.push_str(&lines.len().to_string());
    text.push('\n');
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    let name = path
        .file_name()
        .ok_or_else(|| invalid(format!("{} has no file name", path.display())))?;
    let tmp = path.with_file_name(format!("{}.tmp", name.to_string_lossy()));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // The rename is durable only once the directory entry is.
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Reads the entry lines of a version-0 checkpoint; an error if the file is missing, has another
/// version, or its count does not match the entries present.
pub fn read_lines(path: &Path) -> io::Result<Vec<String>> {
    let text = fs::read_to_string(path)?;
    let mut lines = text.lines();
    let version = lines.next().map(str::trim);
    if version != Some(VERSION) {
        return Err(invalid(format!(
            "{}: unsupported checkpoint version {version:?}",
            path.display()
        )));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| invalid(format!("{}: missing entry count", path.display())))?;
    let entries: Vec<String> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();
    if entries.len() != count {
        return Err(invalid(format!(
            "{}: expected {count} entries, found {}",
            path.display(),
            entries.len()
        )));
    }
    Ok(entries)
}

/// Writes the high watermarks of a log dir's partitions: `<topic> <partition> <hw>` lines.
pub fn write_hw_checkpoint(dir: &Path, entries: &[(String, i32, i64)]) -> io::Result<()> {
    let lines: Vec<String> = entries
        .iter()
        .map(|(t, p, hw)| format!("{t} {p} {hw}"))
        .collect();
    write_lines(&dir.join(HW_CHECKPOINT_FILE), &lines)
}

/// Reads the high-watermark checkpoint of a log dir. A missing file is an empty map; a garbled
/// one is logged and treated as empty (the partitions then start at their log start offset).
pub fn read_hw_checkpoint(dir: &Path) -> HashMap<(String, i32), i64> {
    let path = dir.join(HW_CHECKPOINT_FILE);
    let lines = match read_lines(&path) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return HashMap::new(),
        Err(e) => {
            tracing::warn!("ignoring unreadable high watermark checkpoint: {e}");
            return HashMap::new();
        }
    };
    let mut out = HashMap::with_capacity(lines.len());
    for l in &lines {
        // Topic names cannot contain spaces; parse from the right all the same.
        let mut it = l.rsplitn(3, ' ');
        let hw = it.next().and_then(|s| s.parse::<i64>().ok());
        let part = it.next().and_then(|s| s.parse::<i32>().ok());
        let topic = it.next().filter(|t| !t.is_empty());
        match (topic, part, hw) {
            (Some(t), Some(p), Some(hw)) if hw >= 0 => {
                out.insert((t.to_string(), p), hw);
            }
            _ => {
                tracing::warn!(
                    "ignoring unreadable high watermark checkpoint {}: bad entry {l:?}",
                    path.display()
                );
                return HashMap::new();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hw_checkpoint_round_trip_in_kafkas_format() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_hw_checkpoint(dir.path()).is_empty());
        let entries = vec![
            ("orders".to_string(), 0, 42),
            ("__consumer_offsets".into(), 7, 0),
        ];
        write_hw_checkpoint(dir.path(), &entries).unwrap();
        let text = fs::read_to_string(dir.path().join(HW_CHECKPOINT_FILE)).unwrap();
        assert_eq!(text, "0\n2\norders 0 42\n__consumer_offsets 7 0\n");
        let got = read_hw_checkpoint(dir.path());
        assert_eq!(got.len(), 2);
        assert_eq!(got[&("orders".to_string(), 0)], 42);
        assert_eq!(got[&("__consumer_offsets".to_string(), 7)], 0);
        assert!(!dir
            .path()
            .join(format!("{HW_CHECKPOINT_FILE}.tmp"))
            .exists());
    }

    #[test]
    fn hw_checkpoint_written_by_kafka_parses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HW_CHECKPOINT_FILE);
        fs::write(&path, "0\n3\nt-1 0 5\nt-1 1 0\nother.topic 12 123456789\n").unwrap();
        let got = read_hw_checkpoint(dir.path());
        assert_eq!(got[&("t-1".to_string(), 0)], 5);
        assert_eq!(got[&("t-1".to_string(), 1)], 0);
        assert_eq!(got[&("other.topic".to_string(), 12)], 123456789);
    }

    #[test]
    fn garbled_hw_checkpoints_read_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HW_CHECKPOINT_FILE);
        for bad in [
            "",
            "1\n1\nt 0 5\n",
            "0\n2\nt 0 5\n",
            "0\n1\nt 0 x\n",
            "0\n1\nt zero 5\n",
            "0\nmany\n",
            "0\n1\nt 0 -3\n",
        ] {
            fs::write(&path, bad).unwrap();
            assert!(read_hw_checkpoint(dir.path()).is_empty(), "{bad:?}");
        }
    }
}
