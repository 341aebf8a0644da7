//! Per-partition producer state for idempotent and transactional producers: for each producer
//! id its epoch, the sequence ranges (and offsets) of its last five batches, and the first offset
//! of its open transaction. A retried batch is recognised and answered with its original offsets
//! instead of being written twice; gaps and stale epochs are refused with Kafka's codes.
//!
//! The table is snapshotted next to the log (`<offset>.snapshot`, as Kafka names them) and rebuilt
//! on start from the newest snapshot plus the batch headers written after it.

use std::collections::{HashMap, VecDeque};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::log::batch::BatchHeader;

pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
pub const INVALID_PRODUCER_EPOCH: i16 = 47;
/// Batches remembered per producer for duplicate detection (Kafka's max in-flight limit).
const CACHED_BATCHES: usize = 5;
const SNAPSHOT_VERSION: i16 = 1;

#[derive(Clone, Debug, PartialEq, Eq)]
struct BatchMeta {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
    last_offset: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerEntry {
    pub epoch: i16,
    batches: VecDeque<BatchMeta>,
    pub last_timestamp: i64,
    /// First offset of the producer's open transaction on this partition.
    pub txn_first_offset: Option<i64>,
}

/// What to do with an incoming batch.
#[derive(Debug, PartialEq, Eq)]
pub enum SeqCheck {
    Append,
    /// Already written: answer with the original base offset.
    Duplicate {
        base_offset: i64,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerStateTable {
    entries: HashMap<i64, ProducerEntry>,
}

/// Kafka's sequence arithmetic: sequences wrap from i32::MAX to 0.
pub fn seq_add(seq: i32, n: i32) -> i32 {
    if seq > i32::MAX - n {
        n - (i32::MAX - seq) - 1
    } else {
        seq + n
    }
}

impl ProducerStateTable {
    pub fn get(&self, pid: i64) -> Option<&ProducerEntry> {
        self.entries.get(&pid)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Validates an idempotent batch against the producer's state.
    pub fn check(&self, h: &BatchHeader) -> Result<SeqCheck, (i16, String)> {
        let Some(e) = self.entries.get(&h.producer_id) else {
            // Unknown producer (new, or its state expired): accepted as Kafka does since KIP-360.
            return Ok(SeqCheck::Append);
        };
        if h.producer_epoch < e.epoch {
            return Err((
                INVALID_PRODUCER_EPOCH,
                format!(
                    "Epoch of producer {} is {}, which is smaller than the last seen epoch {}",
                    h.producer_id, h.producer_epoch, e.epoch
                ),
            ));
        }
        if h.base_sequence < 0 {
            // Broker-written transactional records (offset commits) carry no sequence.
            return Ok(SeqCheck::Append);
        }
        let last_seq = seq_add(h.base_sequence, h.last_offset_delta);
        if h.producer_epoch > e.epoch {
            if h.base_sequence != 0 {
                return Err((
                    OUT_OF_ORDER_SEQUENCE_NUMBER,
                    format!(
                        "Invalid sequence number for new epoch of producer {}: {} (request epoch), {} (seq. number), {} (current producer epoch)",
                        h.producer_id, h.producer_epoch, h.base_sequence, e.epoch
                    ),
                ));
            }
            return Ok(SeqCheck::Append);
        }
        if let Some(b) = e
            .batches
            .iter()
            .find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq)
        {
            return Ok(SeqCheck::Duplicate {
                base_offset: b.base_offset,
            });
        }
        match e.batches.back() {
            None => Ok(SeqCheck::Append),
            Some(b) if h.base_sequence == seq_add(b.last_seq, 1) => Ok(SeqCheck::Append),
            Some(b) => Err((
                OUT_OF_ORDER_SEQUENCE_NUMBER,
                format!(
                    "Out of order sequence number for producer {} at offset {}: {} (incoming seq. number), {} (current end sequence number)",
                    h.producer_id, b.last_offset + 1, h.base_sequence, b.last_seq
                ),
            )),
        }
    }

    /// Records a batch that was appended (its header carries the assigned base offset). For a
    /// transaction marker, returns the first offset of the transaction it ended.
    pub fn record(&mut self, h: &BatchHeader) -> Option<i64> {
        if h.producer_id < 0 {
            return None;
        }
        if h.is_control() {
            return self.end_transaction(h.producer_id, h.producer_epoch);
        }
        let e = self
            .entries
            .entry(h.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: h.producer_epoch,
                batches: VecDeque::new(),
                last_timestamp: -1,
                txn_first_offset: None,
            });
        if h.producer_epoch > e.epoch {
            e.epoch = h.producer_epoch;
            e.batches.clear();
        }
        if !h.is_control() && h.base_sequence >= 0 {
            e.batches.push_back(BatchMeta {
                first_seq: h.base_sequence,
                last_seq: seq_add(h.base_sequence, h.last_offset_delta),
                base_offset: h.base_offset,
                last_offset: h.last_offset(),
            });
            while e.batches.len() > CACHED_BATCHES {
                e.batches.pop_front();
            }
        }
        e.last_timestamp = e.last_timestamp.max(h.max_timestamp);
        if h.is_transactional() && e.txn_first_offset.is_none() {
            e.txn_first_offset = Some(h.base_offset);
        }
        None
    }

    /// The producer's current epoch here, if it has written here.
    pub fn epoch_of(&self, pid: i64) -> Option<i16> {
        self.entries.get(&pid).map(|e| e.epoch)
    }

    /// A transaction marker ended the producer's transaction; returns its first offset.
    pub fn end_transaction(&mut self, pid: i64, epoch: i16) -> Option<i64> {
        let e = self.entries.entry(pid).or_insert_with(|| ProducerEntry {
            epoch,
            batches: VecDeque::new(),
            last_timestamp: -1,
            txn_first_offset: None,
        });
        if epoch > e.epoch {
            // A marker written with a bumped epoch fences the producer's older epoch.
            e.epoch = epoch;
            e.batches.clear();
        }
        e.txn_first_offset.take()
    }

    /// (pid, epoch, last sequence, last timestamp, open transaction's first offset) per producer.
    pub fn describe(&self) -> Vec<(i64, i16, i32, i64, Option<i64>)> {
        self.entries
            .iter()
            .map(|(pid, e)| {
                let last_seq = e.batches.back().map(|b| b.last_seq).unwrap_or(-1);
                (
                    *pid,
                    e.epoch,
                    last_seq,
                    e.last_timestamp,
                    e.txn_first_offset,
                )
            })
            .collect()
    }

    /// Producers with an open transaction: (pid, first offset).
    pub fn open_transactions(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.entries
            .iter()
            .filter_map(|(pid, e)| e.txn_first_offset.map(|f| (*pid, f)))
    }

    /// Drops producers idle for longer than `producer.id.expiration.ms` (none with an open txn).
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) {
        self.entries.retain(|_, e| {
            e.txn_first_offset.is_some()
                || e.last_timestamp < 0
                || now_ms.saturating_sub(e.last_timestamp) < expiration_ms
        });
    }

    pub fn encode(&self, offset: i64) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i16(SNAPSHOT_VERSION);
        b.put_i64(offset);
        b.put_i32(self.entries.len() as i32);
        for (pid, e) in &self.entries {
            b.put_i64(*pid);
            b.put_i16(e.epoch);
            b.put_i64(e.last_timestamp);
            b.put_i64(e.txn_first_offset.unwrap_or(-1));
            b.put_i32(e.batches.len() as i32);
            for m in &e.batches {
                b.put_i32(m.first_seq);
                b.put_i32(m.last_seq);
                b.put_i64(m.base_offset);
                b.put_i64(m.last_offset);
            }
        }
        let crc = crc32c::crc32c(&b);
        b.put_u32(crc);
        b.freeze()
    }

    /// Decodes a snapshot: (offset it covers up to, table). None if damaged.
    pub fn decode(data: &[u8]) -> Option<(i64, ProducerStateTable)> {
        if data.len() < 4 + 14 {
            return None;
        }
        let (body, crc) = data.split_at(data.len() - 4);
        if crc32c::crc32c(body) != u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return None;
        }
        let mut b = Bytes::copy_from_slice(body);
        if b.get_i16() != SNAPSHOT_VERSION {
            return None;
        }
        let offset = b.get_i64();
        let n = b.get_i32();
        if n < 0 || n as usize > b.remaining() / 30 + 1 {
            return None;
        }
        let mut t = ProducerStateTable::default();
        for _ in 0..n {
            if b.remaining() < 30 {
                return None;
            }
            let pid = b.get_i64();
            let epoch = b.get_i16();
            let last_timestamp = b.get_i64();
            let txn = b.get_i64();
            let nb = b.get_i32();
            if nb < 0 || nb as usize > CACHED_BATCHES || b.remaining() < nb as usize * 24 {
                return None;
            }
            let batches = (0..nb)
                .map(|_| BatchMeta {
                    first_seq: b.get_i32(),
                    last_seq: b.get_i32(),
                    base_offset: b.get_i64(),
                    last_offset: b.get_i64(),
                })
                .collect();
            t.entries.insert(
                pid,
                ProducerEntry {
                    epoch,
                    batches,
                    last_timestamp,
                    txn_first_offset: (txn >= 0).then_some(txn),
                },
            );
        }
        Some((offset, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pid: i64, epoch: i16, seq: i32, n: i32, base: i64) -> BatchHeader {
        BatchHeader {
            base_offset: base,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: n - 1,
            base_timestamp: 0,
            max_timestamp: 5,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: n,
        }
    }

    #[test]
    fn duplicates_gaps_and_epochs() {
        let mut t = ProducerStateTable::default();
        assert_eq!(t.check(&h(7, 0, 0, 3, 0)), Ok(SeqCheck::Append));
        t.record(&h(7, 0, 0, 3, 0));
        assert_eq!(t.check(&h(7, 0, 3, 2, 0)), Ok(SeqCheck::Append));
        t.record(&h(7, 0, 3, 2, 3));
        assert_eq!(
            t.check(&h(7, 0, 0, 3, 0)),
            Ok(SeqCheck::Duplicate { base_offset: 0 })
        );
        assert_eq!(
            t.check(&h(7, 0, 3, 2, 0)),
            Ok(SeqCheck::Duplicate { base_offset: 3 })
        );
        assert_eq!(
            t.check(&h(7, 0, 9, 1, 0)).unwrap_err().0,
            OUT_OF_ORDER_SEQUENCE_NUMBER
        );
        assert_eq!(
            t.check(&h(7, 1, 5, 1, 0)).unwrap_err().0,
            OUT_OF_ORDER_SEQUENCE_NUMBER
        );
        assert_eq!(t.check(&h(7, 1, 0, 1, 0)), Ok(SeqCheck::Append));
        t.record(&h(7, 1, 0, 1, 5));
        assert_eq!(
            t.check(&h(7, 0, 5, 1, 0)).unwrap_err().0,
            INVALID_PRODUCER_EPOCH
        );
        let (off, back) = ProducerStateTable::decode(&t.encode(6)).unwrap();
        assert_eq!((off, back), (6, t.clone()));
        let mut bad = t.encode(6).to_vec();
        bad[3] ^= 1;
        assert!(ProducerStateTable::decode(&bad).is_none());
    }

    #[test]
    fn idle_producers_expire_but_open_transactions_stay() {
        let mut t = ProducerStateTable::default();
        t.record(&h(1, 0, 0, 1, 0));
        let mut txn = h(2, 0, 0, 1, 1);
        txn.attributes = 1 << 4;
        t.record(&txn);
        t.expire(1_000_000, 1000);
        assert!(t.get(1).is_none(), "idle producer forgotten");
        assert!(t.get(2).is_some(), "producer with an open transaction kept");
    }

    #[test]
    fn sequences_wrap() {
        assert_eq!(seq_add(i32::MAX, 1), 0);
        assert_eq!(seq_add(i32::MAX - 1, 3), 1);
        assert_eq!(seq_add(5, 1), 6);
    }
}
