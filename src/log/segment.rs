//! One log segment: an append-only `.log` file of record batches, a sparse `.index`
//! (relative offset → file position, 8-byte entries) and a `.timeindex` (max timestamp so far →
//! relative offset, 12-byte entries), named by the 20-digit base offset as Kafka names them.
//!
//! Index entries are kept in memory as well; the files exist so a clean restart need not rescan.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::batch::{self, BatchHeader, HEADER_LEN, LOG_OVERHEAD};

/// Batches bigger than this in a segment file are taken as corruption during recovery.
const MAX_SANE_BATCH: usize = 1 << 30;
const SCAN_CHUNK: usize = 1 << 20;

/// `00000000000000000042` for base offset 42.
pub fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

/// (relative offset, file position) entries.
type OffsetIndex = Vec<(u32, u32)>;
/// (max timestamp so far, relative offset) entries.
type TimeIndex = Vec<(i64, u32)>;

pub struct Segment {
    pub base_offset: i64,
    stem: PathBuf,
    log: Arc<File>,
    size: u64,
    index: Vec<(u32, u32)>,
    index_file: File,
    time_index: Vec<(i64, u32)>,
    time_file: File,
    bytes_since_index: u64,
    /// Last offset in the segment + 1 (== base_offset when empty).
    pub next_offset: i64,
    pub max_timestamp: i64,
    /// Wall-clock ms of the first append, for `segment.ms` rolling.
    pub first_append_ms: Option<i64>,
    pub unflushed: bool,
}

/// What a scan of a segment file found.
struct Scan {
    valid_end: u64,
    next_offset: Option<i64>,
    max_timestamp: i64,
    index: Vec<(u32, u32)>,
    time_index: Vec<(i64, u32)>,
    bytes_since_index: u64,
    batches: u64,
}

fn open_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

impl Segment {
    fn paths(dir: &Path, base_offset: i64) -> PathBuf {
        dir.join(file_stem(base_offset))
    }

    /// A new empty segment.
    pub fn create(dir: &Path, base_offset: i64) -> io::Result<Segment> {
        let stem = Self::paths(dir, base_offset);
        let log = open_rw(&stem.with_extension("log"))?;
        log.set_len(0)?;
        let index_file = open_rw(&stem.with_extension("index"))?;
        index_file.set_len(0)?;
        let time_file = open_rw(&stem.with_extension("timeindex"))?;
        time_file.set_len(0)?;
        Ok(Segment {
            base_offset,
            stem,
            log: Arc::new(log),
            size: 0,
            index: Vec::new(),
            index_file,
            time_index: Vec::new(),
            time_file,
            bytes_since_index: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            first_append_ms: None,
            unflushed: false,
        })
    }

    /// Opens an existing segment. With `recover`, every batch is CRC-checked, a torn or corrupt
    /// tail is truncated and the indexes are rebuilt; otherwise the index files are trusted and
    /// only the tail after the last index entry is walked.
    pub fn open(
        dir: &Path,
        base_offset: i64,
        recover: bool,
        index_interval: u64,
    ) -> io::Result<(Segment, u64)> {
        let stem = Self::paths(dir, base_offset);
        let log = open_rw(&stem.with_extension("log"))?;
        let index_file = open_rw(&stem.with_extension("index"))?;
        let time_file = open_rw(&stem.with_extension("timeindex"))?;
        let file_len = log.metadata()?.len();
        let mut truncated = 0;
        let scan = if recover {
            let s = scan(&log, base_offset, 0, file_len, true, index_interval)?;
            if s.valid_end < file_len {
                truncated = file_len - s.valid_end;
                log.set_len(s.valid_end)?;
            }
            s
        } else {
            let (index, time_index) = load_indexes(&index_file, &time_file, file_len)?;
            let from = index.last().map(|e| e.1 as u64).unwrap_or(0);
            let mut s = scan(&log, base_offset, from, file_len, false, index_interval)?;
            if s.valid_end < file_len {
                // A clean shutdown never leaves a partial batch; if one is there, recover fully.
                s = scan(&log, base_offset, 0, file_len, true, index_interval)?;
                truncated = file_len - s.valid_end;
                log.set_len(s.valid_end)?;
            } else {
                let mut idx = index;
                idx.extend(s.index.iter().filter(|e| e.1 as u64 > from));
                s.index = idx;
                let mut tidx = time_index;
                let last_ts = tidx.last().map(|e| e.0).unwrap_or(-1);
                s.max_timestamp = s.max_timestamp.max(last_ts);
                tidx.extend(s.time_index.iter().filter(|e| e.0 > last_ts));
                s.time_index = tidx;
            }
            s
        };
        let mut seg = Segment {
            base_offset,
            stem,
            log: Arc::new(log),
            size: scan.valid_end,
            index: scan.index,
            index_file,
            time_index: scan.time_index,
            time_file,
            bytes_since_index: scan.bytes_since_index,
            next_offset: scan.next_offset.unwrap_or(base_offset),
            max_timestamp: scan.max_timestamp,
            first_append_ms: if scan.batches > 0 {
                Some(now_ms())
            } else {
                None
            },
            unflushed: false,
        };
        seg.rewrite_indexes()?;
        Ok((seg, truncated))
    }

    fn rewrite_indexes(&mut self) -> io::Result<()> {
        let mut buf = Vec::with_capacity(self.index.len() * 8);
        for (rel, pos) in &self.index {
            buf.extend_from_slice(&rel.to_be_bytes());
            buf.extend_from_slice(&pos.to_be_bytes());
        }
        self.index_file.set_len(0)?;
        self.index_file.write_all_at(&buf, 0)?;
        let mut buf = Vec::with_capacity(self.time_index.len() * 12);
        for (ts, rel) in &self.time_index {
            buf.extend_from_slice(&ts.to_be_bytes());
            buf.extend_from_slice(&rel.to_be_bytes());
        }
        self.time_file.set_len(0)?;
        self.time_file.write_all_at(&buf, 0)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Appends one validated batch: its patched header, then the rest as the client sent it
    /// (so the body is never copied).
    pub fn append(
        &mut self,
        head: &[u8],
        rest: &[u8],
        h: &BatchHeader,
        index_interval: u64,
    ) -> io::Result<()> {
        let pos = self.size;
        self.log.write_all_at(head, pos)?;
        self.log.write_all_at(rest, pos + head.len() as u64)?;
        let total = (head.len() + rest.len()) as u64;
        self.size += total;
        let rel = (h.base_offset - self.base_offset) as u32;
        if self.index.is_empty() || self.bytes_since_index >= index_interval {
            self.index.push((rel, pos as u32));
            let mut e = [0u8; 8];
            e[..4].copy_from_slice(&rel.to_be_bytes());
            e[4..].copy_from_slice(&(pos as u32).to_be_bytes());
            self.index_file
                .write_all_at(&e, (self.index.len() as u64 - 1) * 8)?;
            let ts = self.max_timestamp.max(h.max_timestamp);
            if self.time_index.last().is_none_or(|l| ts > l.0) {
                self.time_index.push((ts, rel));
                let mut t = [0u8; 12];
                t[..8].copy_from_slice(&ts.to_be_bytes());
                t[8..].copy_from_slice(&rel.to_be_bytes());
                self.time_file
                    .write_all_at(&t, (self.time_index.len() as u64 - 1) * 12)?;
            }
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += total;
        self.max_timestamp = self.max_timestamp.max(h.max_timestamp);
        self.next_offset = h.last_offset() + 1;
        if self.first_append_ms.is_none() {
            self.first_append_ms = Some(now_ms());
        }
        self.unflushed = true;
        Ok(())
    }

    /// Handles to fsync later, off the append path (a rolled segment is flushed in the
    /// background, as Kafka does).
    pub fn sync_handles(&mut self) -> io::Result<Vec<File>> {
        self.unflushed = false;
        Ok(vec![
            self.log.try_clone()?,
            self.index_file.try_clone()?,
            self.time_file.try_clone()?,
        ])
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if self.unflushed {
            self.log.sync_data()?;
            self.index_file.sync_data()?;
            self.time_file.sync_data()?;
            self.unflushed = false;
        }
        Ok(())
    }

    /// File position of the last indexed batch starting at or before `offset`.
    pub fn floor_position(&self, offset: i64) -> u64 {
        let rel = (offset - self.base_offset).clamp(0, u32::MAX as i64) as u32;
        let i = self.index.partition_point(|e| e.0 <= rel);
        if i == 0 {
            0
        } else {
            self.index[i - 1].1 as u64
        }
    }

    /// A position from which every batch with a record at timestamp >= `ts` lies ahead.
    pub fn timestamp_floor_position(&self, ts: i64) -> u64 {
        let i = self.time_index.partition_point(|e| e.0 < ts);
        if i == 0 {
            0
        } else {
            self.floor_position(self.base_offset + self.time_index[i - 1].1 as i64)
        }
    }

    /// Calls `f` with every batch header from file position `from` to the end, reading in
    /// chunks (producer-state rebuilds).
    pub fn for_each_header(&self, from: u64, mut f: impl FnMut(&BatchHeader)) -> io::Result<()> {
        let mut pos = from;
        let mut head = [0u8; HEADER_LEN];
        while pos + HEADER_LEN as u64 <= self.size {
            self.log.read_exact_at(&mut head, pos)?;
            let Some(h) = BatchHeader::parse(&head) else {
                break;
            };
            if h.batch_length <= 0 {
                break;
            }
            f(&h);
            pos += h.total_len() as u64;
        }
        Ok(())
    }

    /// Removes every batch whose last offset is `offset` or more (a batch holding `offset` goes
    /// whole), trims both indexes and makes the cut durable. Only the headers between the last
    /// kept index entry and the cut are read.
    pub fn truncate_to(&mut self, offset: i64) -> io::Result<()> {
        if offset >= self.next_offset {
            return Ok(());
        }
        let mut cut = None;
        let mut pos = self.floor_position(offset);
        let mut head = [0u8; HEADER_LEN];
        while pos + HEADER_LEN as u64 <= self.size {
            self.log.read_exact_at(&mut head, pos)?;
            let Some(h) = BatchHeader::parse(&head) else {
                break;
            };
            if h.batch_length <= 0 {
                break;
            }
            if h.last_offset() >= offset {
                cut = Some((pos, h.base_offset));
                break;
            }
            pos += h.total_len() as u64;
        }
        let Some((cut, cut_base)) = cut else {
            return Ok(());
        };
        self.log.set_len(cut)?;
        self.size = cut;
        self.index.retain(|e| (e.1 as u64) < cut);
        let cut_rel = cut_base - self.base_offset;
        self.time_index.retain(|e| (e.1 as i64) < cut_rel);
        let from = self.index.last().map_or(0, |e| e.1 as u64);
        let mut last_offset = None;
        let mut max_ts = self.time_index.last().map_or(-1, |e| e.0);
        self.for_each_header(from, |h| {
            last_offset = Some(h.last_offset());
            max_ts = max_ts.max(h.max_timestamp);
        })?;
        self.next_offset = last_offset.map_or(self.base_offset, |l| l + 1);
        self.max_timestamp = max_ts;
        self.bytes_since_index = if self.index.is_empty() { 0 } else { cut - from };
        if last_offset.is_none() {
            self.first_append_ms = None;
        }
        self.rewrite_indexes()?;
        self.log.sync_data()?;
        self.index_file.sync_data()?;
        self.time_file.sync_data()?;
        self.unflushed = false;
        Ok(())
    }

    pub fn file(&self) -> Arc<File> {
        self.log.clone()
    }

    /// Deletes the segment's files (the caller has dropped it from the log).
    pub fn delete_files(&self) {
        for ext in ["log", "index", "timeindex"] {
            let _ = std::fs::remove_file(self.stem.with_extension(ext));
        }
    }
}

fn load_indexes(
    index_file: &File,
    time_file: &File,
    log_len: u64,
) -> io::Result<(OffsetIndex, TimeIndex)> {
    let mut index = Vec::new();
    let ilen = index_file.metadata()?.len();
    if ilen % 8 == 0 && ilen <= 64 << 20 {
        let mut buf = vec![0u8; ilen as usize];
        index_file.read_exact_at(&mut buf, 0)?;
        for e in buf.chunks_exact(8) {
            let rel = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            let pos = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
            // Entries must be increasing and inside the log, or the index is not trusted.
            if pos as u64 >= log_len
                || index
                    .last()
                    .is_some_and(|l: &(u32, u32)| l.0 >= rel || l.1 >= pos)
            {
                index.clear();
                break;
            }
            index.push((rel, pos));
        }
    }
    let mut time_index = Vec::new();
    let tlen = time_file.metadata()?.len();
    if tlen % 12 == 0 && tlen <= 64 << 20 {
        let mut buf = vec![0u8; tlen as usize];
        time_file.read_exact_at(&mut buf, 0)?;
        for e in buf.chunks_exact(12) {
            let mut t = [0u8; 8];
            t.copy_from_slice(&e[..8]);
            time_index.push((
                i64::from_be_bytes(t),
                u32::from_be_bytes([e[8], e[9], e[10], e[11]]),
            ));
        }
    }
    Ok((index, time_index))
}

/// Walks batches in `[from, end)`. Stops at the first entry that is cut short, has an
/// impossible length or offset, or (with `verify`) fails its CRC.
fn scan(
    f: &File,
    base_offset: i64,
    from: u64,
    end: u64,
    verify: bool,
    index_interval: u64,
) -> io::Result<Scan> {
    let mut s = Scan {
        valid_end: from,
        next_offset: None,
        max_timestamp: -1,
        index: Vec::new(),
        time_index: Vec::new(),
        bytes_since_index: 0,
        batches: 0,
    };
    let mut pos = from;
    let mut buf = Vec::new();
    let mut buf_start = pos;
    let mut last_offset = base_offset - 1;
    loop {
        if pos + HEADER_LEN as u64 > end {
            break;
        }
        // Keep at least a header's worth buffered.
        let rel = (pos - buf_start) as usize;
        if rel + HEADER_LEN > buf.len() {
            let want = SCAN_CHUNK.min((end - pos) as usize);
            buf.resize(want, 0);
            f.read_exact_at(&mut buf, pos)?;
            buf_start = pos;
        }
        let rel = (pos - buf_start) as usize;
        let Some(h) = BatchHeader::parse(&buf[rel..]) else {
            break;
        };
        let total = h.total_len();
        if h.batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32
            || total > MAX_SANE_BATCH
            || pos + total as u64 > end
            || h.magic != 2
            || h.base_offset <= last_offset
            || h.last_offset_delta < 0
            || h.base_offset < base_offset
            || h.last_offset() - base_offset > u32::MAX as i64
        {
            break;
        }
        if verify {
            let mut whole = vec![0u8; total];
            if rel + total <= buf.len() {
                whole.copy_from_slice(&buf[rel..rel + total]);
            } else {
                f.read_exact_at(&mut whole, pos)?;
            }
            if batch::compute_crc(&whole) != h.crc {
                break;
            }
        }
        let offset_rel = (h.base_offset - base_offset) as u32;
        if s.index.is_empty() && from == 0 || s.bytes_since_index >= index_interval {
            s.index.push((offset_rel, pos as u32));
            let ts = s.max_timestamp.max(h.max_timestamp);
            if s.time_index.last().is_none_or(|l| ts > l.0) {
                s.time_index.push((ts, offset_rel));
            }
            s.bytes_since_index = 0;
        }
        s.bytes_since_index += total as u64;
        s.max_timestamp = s.max_timestamp.max(h.max_timestamp);
        last_offset = h.last_offset();
        s.next_offset = Some(last_offset + 1);
        s.batches += 1;
        pos += total as u64;
        s.valid_end = pos;
        if (pos - buf_start) as usize > buf.len() {
            buf.clear();
            buf_start = pos;
        }
    }
    Ok(s)
}

/// Header scan granularity while skipping to the batch that holds the fetch offset.
const SKIP_CHUNK: usize = 16 * 1024;
/// Upper bound on one partition read, whatever limits the client asked for.
const MAX_READ: usize = 64 << 20;

/// Reads whole batches starting with the one that holds `offset`, from `floor` (a position at
/// or before it) up to `end`, stopping before any batch whose base offset is `upper` or more.
/// At most `max_bytes`, except that with `min_one` the first batch is returned whole however
/// large (Kafka's KIP-74 rule). Only headers are read until the first batch is known to fit, so
/// a partition with no room in the response costs one small read.
pub fn read_batches(
    f: &File,
    floor: u64,
    end: u64,
    offset: i64,
    max_bytes: usize,
    min_one: bool,
    upper: i64,
) -> io::Result<Bytes> {
    let mut pos = floor;
    let mut chunk = vec![0u8; SKIP_CHUNK];
    let (start, first_len, first_base) = loop {
        if pos + HEADER_LEN as u64 > end {
            return Ok(Bytes::new());
        }
        let n = ((end - pos) as usize).min(SKIP_CHUNK);
        f.read_exact_at(&mut chunk[..n], pos)?;
        let mut rel = 0usize;
        let mut found = None;
        while rel + HEADER_LEN <= n {
            let Some(h) = BatchHeader::parse(&chunk[rel..n]) else {
                break;
            };
            if h.batch_length <= 0 {
                return Ok(Bytes::new());
            }
            if h.last_offset() >= offset {
                found = Some((rel, h.total_len(), h.base_offset));
                break;
            }
            rel += h.total_len();
        }
        match found {
            Some((rel, len, base)) => break (pos + rel as u64, len, base),
            None if rel == 0 => return Ok(Bytes::new()),
            None => pos += rel as u64,
        }
    };
    if first_base >= upper || (first_len > max_bytes && !min_one) {
        return Ok(Bytes::new());
    }
    let avail = (end - start) as usize;
    let want = max_bytes.min(MAX_READ).max(first_len).min(avail);
    let mut buf = BytesMut::zeroed(want);
    f.read_exact_at(&mut buf, start)?;
    let mut take = 0usize;
    while take + LOG_OVERHEAD <= buf.len() {
        let Some((base, len)) = batch::entry_bounds(&buf[take..]) else {
            break;
        };
        if base >= upper || take + len > buf.len() || (take > 0 && take + len > max_bytes) {
            break;
        }
        take += len;
    }
    Ok(buf.freeze().slice(..take))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::tests::batch;
    use crate::log::batch::{patch_for_append, validate_produce};

    fn append_n(seg: &mut Segment, n: i64, next: &mut i64) {
        for _ in 0..n {
            let mut b = batch(2, 1000 + *next);
            let mut h = validate_produce(&b, 1 << 20).unwrap();
            patch_for_append(&mut b, *next, 0, None);
            h.base_offset = *next;
            seg.append(&b[..batch::HEADER_LEN], &b[batch::HEADER_LEN..], &h, 100)
                .unwrap();
            *next += 2;
        }
    }

    #[test]
    fn append_read_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(dir.path(), 0).unwrap();
        let mut next = 0;
        append_n(&mut seg, 50, &mut next);
        assert_eq!(seg.next_offset, 100);
        let got = read_batches(
            &seg.file(),
            seg.floor_position(41),
            seg.size(),
            41,
            1 << 20,
            true,
            i64::MAX,
        )
        .unwrap();
        // An upper offset bound (read_committed) stops before the batch holding it.
        let bounded = read_batches(&seg.file(), 0, seg.size(), 0, 1 << 20, true, 4).unwrap();
        assert_eq!(
            bounded.len(),
            2 * BatchHeader::parse(&bounded).unwrap().total_len()
        );
        let h = BatchHeader::parse(&got).unwrap();
        assert_eq!(h.base_offset, 40);
        let n_batches = got.len() / h.total_len();
        assert_eq!(n_batches, 30);
        // A tiny max_bytes still returns the first batch whole.
        let got = read_batches(&seg.file(), 0, seg.size(), 0, 1, true, i64::MAX).unwrap();
        assert_eq!(got.len(), h.total_len());
        let size = seg.size();
        drop(seg);
        let (seg, truncated) = Segment::open(dir.path(), 0, false, 100).unwrap();
        assert_eq!((seg.next_offset, seg.size(), truncated), (100, size, 0));
    }

    #[test]
    fn truncation_trims_file_and_indexes_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(dir.path(), 0).unwrap();
        let mut next = 0;
        append_n(&mut seg, 30, &mut next);
        let one = BatchHeader::parse(&batch(2, 0)).unwrap().total_len() as u64;
        // Offset 25 lies in the batch 24..26, which goes whole.
        seg.truncate_to(25).unwrap();
        assert_eq!((seg.next_offset, seg.size()), (24, 12 * one));
        assert!(seg.index.iter().all(|e| (e.1 as u64) < seg.size()));
        assert!(seg.time_index.iter().all(|e| (e.1 as i64) < 24));
        assert_eq!(seg.max_timestamp, 1000 + 22 + 1);
        assert!(seg.floor_position(23) <= 11 * one);
        next = 24;
        append_n(&mut seg, 3, &mut next);
        drop(seg);
        let (seg, truncated) = Segment::open(dir.path(), 0, false, 100).unwrap();
        assert_eq!(truncated, 0);
        assert_eq!(seg.next_offset, 30);
        // Cutting at the base empties it.
        let mut seg = seg;
        seg.truncate_to(0).unwrap();
        assert_eq!((seg.next_offset, seg.size(), seg.max_timestamp), (0, 0, -1));
        assert!(seg.index.is_empty() && seg.time_index.is_empty());
    }

    #[test]
    fn recovery_truncates_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(dir.path(), 0).unwrap();
        let mut next = 0;
        append_n(&mut seg, 10, &mut next);
        let good = seg.size();
        drop(seg);
        let path = dir.path().join(format!("{}.log", file_stem(0)));
        let mut bytes = std::fs::read(&path).unwrap();
        let one = batch(2, 5);
        bytes.extend_from_slice(&one[..one.len() / 2]);
        std::fs::write(&path, &bytes).unwrap();
        let (seg, truncated) = Segment::open(dir.path(), 0, true, 100).unwrap();
        assert_eq!(seg.size(), good);
        assert_eq!(truncated, (one.len() / 2) as u64);
        assert_eq!(seg.next_offset, 20);
        // A flipped byte inside the last batch is caught by the CRC.
        drop(seg);
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 3] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        let (seg, _) = Segment::open(dir.path(), 0, true, 100).unwrap();
        assert_eq!(seg.next_offset, 18);
    }
}
