//! Tests of the partition's replication groundwork (follower append, truncation, the high
//! watermark in replicated mode, epoch and HW checkpoints), kept out of `partition.rs` to keep
//! that file readable. A "leader" partition produces; a "follower" copies it through
//! `read_replica` / `append_as_follower` as a fetcher would.

use std::fs;

use bytes::BytesMut;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::batch::tests::batch;
use super::batch::BatchHeader;
use super::checkpoint::{read_hw_checkpoint, write_hw_checkpoint};
use super::epoch_cache::EPOCH_CHECKPOINT_FILE;
use super::segment::now_ms;
use super::{LogConfig, LogError, Partition};

fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 300,
        ..LogConfig::default()
    }
}

fn replicated(dir: &std::path::Path, cfg: LogConfig) -> Partition {
    Partition::open_replicated(dir, "t", 0, cfg, true, None).unwrap()
}

/// A transactional batch of `n` records from producer `pid`.
fn txn_batch(pid: i64, seq: i32, n: usize) -> Vec<u8> {
    let recs: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: true,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: pid,
            producer_epoch: 0,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: seq + i as i32,
            timestamp: now_ms(),
            key: Some(bytes::Bytes::from(format!("k{i}"))),
            value: Some(bytes::Bytes::from(vec![b'x'; 30])),
            headers: Default::default(),
        })
        .collect();
    let mut b = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut b,
        &recs,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    b.to_vec()
}

/// Copies the leader's log from the follower's end, one read (one segment) at a time.
fn catch_up(leader: &Partition, follower: &Partition) {
    loop {
        let r = leader.read_replica(follower.log_end_offset(), 700).unwrap();
        if r.records.is_empty() {
            break;
        }
        follower.append_as_follower(&r.records).unwrap().unwrap();
    }
    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
}

/// Every stored byte from the log start, in order.
fn all_bytes(p: &Partition) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = p.log_start_offset();
    while at < p.log_end_offset() {
        let r = p.read_replica(at, 1 << 20).unwrap();
        let mut pos = 0;
        while let Some(h) = BatchHeader::parse(&r.records[pos..]) {
            at = h.last_offset() + 1;
            pos += h.total_len();
            if pos >= r.records.len() {
                break;
            }
        }
        out.extend_from_slice(&r.records);
    }
    out
}

/// The aborted transactions a read_committed fetch at `offset` reports.
fn aborted_at(p: &Partition, offset: i64) -> Option<Vec<(i64, i64)>> {
    p.read_isolated(offset, 1 << 20, true, true)
        .unwrap()
        .aborted
}

/// Entries in the durable aborted-transaction list.
fn aborted_entries(dir: &std::path::Path) -> u64 {
    fs::metadata(dir.join("aborted-transactions")).map_or(0, |m| m.len() / 24)
}

fn segment_files(dir: &std::path::Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".log")
        })
        .count()
}

#[test]
fn single_broker_keeps_the_epoch_zero_checkpoint_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::open(dir.path(), "t", 0, LogConfig::default(), true).unwrap();
    let text = fs::read_to_string(dir.path().join(EPOCH_CHECKPOINT_FILE)).unwrap();
    assert_eq!(text, "0\n1\n0 0\n");
    for _ in 0..3 {
        p.append(&batch(2, now_ms())).unwrap();
    }
    assert_eq!(p.high_watermark(), 6);
    assert_eq!(p.leader_epoch(), 0);
    assert_eq!(p.end_offset_for_epoch(0), (0, 6));
    assert_eq!(p.end_offset_for_epoch(1), (-1, -1));
    assert_eq!(p.end_offset_for_epoch(-1), (-1, -1));
    drop(p);
    let text = fs::read_to_string(dir.path().join(EPOCH_CHECKPOINT_FILE)).unwrap();
    assert_eq!(text, "0\n1\n0 0\n");
}

#[test]
fn follower_append_keeps_bytes_and_learns_epochs() {
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = replicated(ld.path(), LogConfig::default());
    leader.become_leader(1);
    for _ in 0..3 {
        leader.append(&batch(2, now_ms())).unwrap();
    }
    leader.become_leader(4);
    for _ in 0..2 {
        leader.append(&batch(3, now_ms())).unwrap();
    }
    assert_eq!(leader.epoch_entries(), vec![(1, 0), (4, 6)]);
    // Replicated mode: the leader's appends leave the high watermark alone.
    assert_eq!(leader.high_watermark(), 0);
    assert!(leader.read(0, 1 << 20, true).unwrap().records.is_empty());
    let data = leader.read_replica(0, 1 << 20).unwrap().records;
    assert_eq!(BatchHeader::parse(&data).unwrap().partition_leader_epoch, 1);

    let follower = replicated(fd.path(), LogConfig::default());
    follower.set_follower_epoch(4);
    // A partial batch alone appends nothing.
    assert_eq!(follower.append_as_follower(&data[..40]).unwrap(), None);
    assert_eq!(follower.append_as_follower(&data[..100]).unwrap(), None);
    // Whole batches plus a torn trailing one: the whole ones land, unchanged.
    let first_len = BatchHeader::parse(&data).unwrap().total_len();
    let cut = first_len * 2 + 30;
    assert_eq!(follower.append_as_follower(&data[..cut]).unwrap(), Some(3));
    assert_eq!(follower.log_end_offset(), 4);
    // Base offset must be the log end offset.
    assert!(matches!(
        follower.append_as_follower(&data),
        Err(LogError::UnexpectedAppendOffset {
            expected: 4,
            got: 0
        })
    ));
    let rest = leader.read_replica(4, 1 << 20).unwrap().records;
    // A corrupt batch anywhere in the run refuses the whole run.
    let mut bad = rest.to_vec();
    let n = bad.len();
    bad[n - 2] ^= 0x40;
    assert_eq!(follower.append_as_follower(&bad).unwrap_err().code(), 2);
    assert_eq!(follower.log_end_offset(), 4);
    assert_eq!(follower.append_as_follower(&rest).unwrap(), Some(11));
    assert_eq!(all_bytes(&follower), all_bytes(&leader));
    assert_eq!(follower.epoch_entries(), vec![(1, 0), (4, 6)]);
    assert_eq!(follower.latest_epoch(), Some(4));
    assert_eq!(follower.end_offset_for_epoch(1), (1, 6));
    // The follower's high watermark moves only when told, and never past its log end.
    assert_eq!(follower.high_watermark(), 0);
    assert_eq!(follower.set_high_watermark(7), 7);
    assert_eq!(follower.set_high_watermark(99), 12);
    assert_eq!(follower.high_watermark(), 12);
    let r = follower.read(0, 1 << 20, true).unwrap();
    assert_eq!(&r.records[..], &data[..]);
    // Replica reads are bounded by the log end, consumer reads by the high watermark.
    assert!(matches!(
        follower.read_replica(13, 100),
        Err(LogError::OffsetOutOfRange { end: 12, .. })
    ));
    leader.set_high_watermark(6);
    // Between the high watermark and the log end a consumer read is empty, not out of range
    // (Kafka's rule), so a consumer never resets from a committed position.
    assert!(leader.read(7, 100, true).unwrap().records.is_empty());
    assert!(matches!(
        leader.read(13, 100, true),
        Err(LogError::OffsetOutOfRange { end: 12, .. })
    ));
    let r = leader.read(0, 1 << 20, true).unwrap();
    assert_eq!(r.records.len(), first_len * 3);
    assert_eq!(r.high_watermark, 6);
}

#[test]
fn truncation_across_segments_with_transactions_then_reappend_and_reopen() {
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = replicated(ld.path(), small_segments());
    leader.become_leader(1);
    // 0..2 plain, 2..4 txn pid 7, 4 commit, 5..7 txn pid 8, 7 abort, 8..10 plain.
    leader.append(&batch(2, now_ms())).unwrap();
    leader.append(&txn_batch(7, 0, 2)).unwrap();
    leader.write_marker(7, 0, true).unwrap();
    leader.append(&txn_batch(8, 0, 2)).unwrap();
    leader.write_marker(8, 0, false).unwrap();
    leader.become_leader(2);
    leader.append(&batch(2, now_ms())).unwrap();
    // 10..12 txn pid 9, left open; 12.. plain.
    leader.append(&txn_batch(9, 0, 2)).unwrap();
    for _ in 0..6 {
        leader.append(&batch(2, now_ms())).unwrap();
    }
    let leo = leader.log_end_offset();
    assert_eq!(leo, 24);

    let follower = replicated(fd.path(), small_segments());
    follower.set_follower_epoch(2);
    catch_up(&leader, &follower);
    assert!(segment_files(fd.path()) > 2);
    assert_eq!(follower.epoch_entries(), vec![(1, 0), (2, 8)]);
    follower.set_high_watermark(leo);
    assert_eq!(aborted_at(&follower, 5), Some(vec![(8, 5)]));
    assert_eq!(aborted_entries(fd.path()), 1);
    assert_eq!(follower.last_stable_offset(), 10);
    let open = |p: &Partition| {
        let mut v: Vec<_> = p
            .producers()
            .into_iter()
            .filter_map(|(pid, _, _, _, first)| first.map(|f| (pid, f)))
            .collect();
        v.sort();
        v
    };
    assert_eq!(open(&follower), vec![(9, 10)]);

    // Cut inside the first txn of pid 8 (offset 6 is in batch 5..7): the batch goes whole,
    // the abort marker and epoch 2 with it; pid 8's transaction is open again.
    let segments_before = segment_files(fd.path());
    follower.truncate_to(6).unwrap();
    assert_eq!(follower.log_end_offset(), 5);
    assert!(segment_files(fd.path()) < segments_before);
    assert_eq!(follower.high_watermark(), 5);
    assert_eq!(follower.epoch_entries(), vec![(1, 0)]);
    assert!(open(&follower).is_empty());
    assert_eq!(aborted_entries(fd.path()), 0);
    assert!(matches!(
        follower.read_replica(6, 100),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // No-op at or past the end.
    follower.truncate_to(5).unwrap();
    follower.truncate_to(50).unwrap();
    assert_eq!(follower.log_end_offset(), 5);

    // Re-append from the truncation point: the follower becomes the leader's copy again.
    catch_up(&leader, &follower);
    assert_eq!(all_bytes(&follower), all_bytes(&leader));
    assert_eq!(follower.epoch_entries(), vec![(1, 0), (2, 8)]);
    assert_eq!(open(&follower), vec![(9, 10)]);
    follower.set_high_watermark(leo);
    assert_eq!(aborted_at(&follower, 5), Some(vec![(8, 5)]));
    assert_eq!(aborted_entries(fd.path()), 1);

    // A second cut in an earlier segment, after the snapshot of a roll, then a reopen.
    follower.truncate_to(4).unwrap();
    assert_eq!(follower.log_end_offset(), 4);
    assert_eq!(open(&follower), vec![(7, 2)]);
    drop(follower);
    let follower =
        Partition::open_replicated(fd.path(), "t", 0, small_segments(), false, Some(3)).unwrap();
    assert_eq!(follower.log_end_offset(), 4);
    assert_eq!(follower.high_watermark(), 3);
    assert_eq!(open(&follower), vec![(7, 2)]);
    assert_eq!(follower.epoch_entries(), vec![(1, 0)]);
    catch_up(&leader, &follower);
    drop(follower);
    let follower =
        Partition::open_replicated(fd.path(), "t", 0, small_segments(), true, Some(leo)).unwrap();
    assert_eq!(all_bytes(&follower), all_bytes(&leader));
    assert_eq!(follower.epoch_entries(), vec![(1, 0), (2, 8)]);
    assert_eq!(open(&follower), vec![(9, 10)]);
    assert_eq!(aborted_at(&follower, 5), Some(vec![(8, 5)]));
    assert_eq!(aborted_entries(fd.path()), 1);
    // Truncation below the log start restarts the log there.
    follower.truncate_to(0).unwrap();
    assert_eq!(
        (follower.log_start_offset(), follower.log_end_offset()),
        (0, 0)
    );
    catch_up(&leader, &follower);
    assert_eq!(all_bytes(&follower), all_bytes(&leader));
}

#[test]
fn truncate_fully_and_start_at_restarts_an_empty_log() {
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = replicated(ld.path(), small_segments());
    leader.become_leader(3);
    for _ in 0..20 {
        leader.append(&batch(2, now_ms())).unwrap();
    }
    let follower = replicated(fd.path(), small_segments());
    catch_up(&leader, &follower);
    follower.set_high_watermark(10);
    follower.truncate_fully_and_start_at(30);
    assert_eq!(
        (
            follower.log_start_offset(),
            follower.log_end_offset(),
            follower.high_watermark()
        ),
        (30, 30, 30)
    );
    assert!(follower.epoch_entries().is_empty());
    assert_eq!(segment_files(fd.path()), 1);
    catch_up(&leader, &follower);
    assert_eq!(follower.epoch_entries(), vec![(3, 30)]);
    drop(follower);
    let follower = replicated(fd.path(), small_segments());
    assert_eq!(
        (follower.log_start_offset(), follower.log_end_offset()),
        (30, 40)
    );
    assert_eq!(follower.high_watermark(), 30);
}

#[test]
fn reopen_with_a_checkpointed_high_watermark_hides_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let p = replicated(dir.path(), LogConfig::default());
    p.become_leader(0);
    for _ in 0..10 {
        p.append(&batch(2, now_ms())).unwrap();
    }
    assert_eq!(p.high_watermark(), 0);
    p.set_high_watermark(8);
    write_hw_checkpoint(root.path(), &[("t".into(), 0, p.high_watermark())]).unwrap();
    drop(p);
    let hws = read_hw_checkpoint(root.path());
    let p = Partition::open_replicated(
        dir.path(),
        "t",
        0,
        LogConfig::default(),
        false,
        hws.get(&("t".to_string(), 0)).copied(),
    )
    .unwrap();
    assert!(p.is_replicated());
    assert_eq!((p.high_watermark(), p.log_end_offset()), (8, 20));
    // The tail above the checkpoint is not exposed: reads there are empty.
    assert!(p.read(9, 100, true).unwrap().records.is_empty());
    assert!(matches!(
        p.read(21, 100, true),
        Err(LogError::OffsetOutOfRange { end: 20, .. })
    ));
    let r = p.read(0, 1 << 20, true).unwrap();
    let mut pos = 0;
    let mut last = -1;
    while let Some(h) = BatchHeader::parse(&r.records[pos..]) {
        last = h.last_offset();
        pos += h.total_len();
    }
    assert_eq!(last, 7);
    // Appends in replicated mode do not expose it either.
    p.append(&batch(1, now_ms())).unwrap();
    assert_eq!(p.high_watermark(), 8);
    drop(p);
    // A checkpoint beyond the log end is clamped; none at all starts at the log start.
    let p = Partition::open_replicated(dir.path(), "t", 0, LogConfig::default(), true, Some(500))
        .unwrap();
    assert_eq!(p.high_watermark(), 21);
    drop(p);
    let p = replicated(dir.path(), LogConfig::default());
    assert_eq!(p.high_watermark(), 0);
    // Leaving replicated mode publishes the log end again.
    p.set_replicated(false);
    assert_eq!(p.high_watermark(), 21);
}

#[test]
fn missing_or_garbled_epoch_checkpoint_is_rebuilt_from_batch_headers() {
    let dir = tempfile::tempdir().unwrap();
    let p = replicated(dir.path(), small_segments());
    p.become_leader(2);
    for _ in 0..8 {
        p.append(&batch(2, now_ms())).unwrap();
    }
    p.become_leader(5);
    for _ in 0..8 {
        p.append(&batch(2, now_ms())).unwrap();
    }
    // become_leader records the epoch even before data: (7, 32) here.
    p.become_leader(7);
    assert_eq!(p.epoch_entries(), vec![(2, 0), (5, 16), (7, 32)]);
    drop(p);
    let path = dir.path().join(EPOCH_CHECKPOINT_FILE);
    fs::remove_file(&path).unwrap();
    let p = replicated(dir.path(), small_segments());
    assert_eq!(p.epoch_entries(), vec![(2, 0), (5, 16)]);
    assert_eq!(p.leader_epoch(), 5);
    drop(p);
    assert_eq!(fs::read_to_string(&path).unwrap(), "0\n2\n2 0\n5 16\n");
    fs::write(&path, "0\n3\n2 0\n").unwrap();
    let p = replicated(dir.path(), small_segments());
    assert_eq!(p.epoch_entries(), vec![(2, 0), (5, 16)]);
    // Retention moving the log start trims the first epoch to start there.
    assert_eq!(p.delete_records_before(-1).unwrap(), 0);
    p.set_high_watermark(20);
    assert_eq!(p.delete_records_before(20).unwrap(), 20);
    assert_eq!(p.epoch_entries(), vec![(5, 20)]);
}

#[test]
fn retention_never_deletes_above_the_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let p = replicated(dir.path(), small_segments());
    let old = now_ms() - 1_000_000;
    for i in 0..20 {
        p.append(&batch(2, old + i)).unwrap();
    }
    p.set_config(LogConfig {
        retention_ms: 1000,
        ..p.config()
    });
    assert_eq!(p.apply_retention(now_ms()).unwrap(), 0);
    p.set_high_watermark(20);
    assert!(p.apply_retention(now_ms()).unwrap() > 0);
    assert!(p.log_start_offset() <= 20);
    assert!(p.log_start_offset() > 0);
    assert_eq!(p.log_end_offset(), 40);
}
