//! The transaction log's record format: a transactional id's state as Kafka writes it to
//! `__transaction_state` (key v0/v1, value v0 and the flexible v1 with tagged fields).

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, BufMut, Bytes, BytesMut};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnState {
    Empty = 0,
    Ongoing = 1,
    PrepareCommit = 2,
    PrepareAbort = 3,
    CompleteCommit = 4,
    CompleteAbort = 5,
    Dead = 6,
    PrepareEpochFence = 7,
}

impl TxnState {
    pub fn from_i8(v: i8) -> TxnState {
        match v {
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            7 => TxnState::PrepareEpochFence,
            _ => TxnState::Empty,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnMeta {
    pub id: String,
    pub producer_id: i64,
    pub epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    pub start_ms: i64,
    pub update_ms: i64,
    /// The transaction protocol the client speaks (2 = KIP-890 epoch bump per transaction).
    pub client_version: i16,
    /// The producer id before the last rotation, so a retried EndTxn that rotated it is known.
    pub prev_producer_id: i64,
    /// The producer id a PrepareX that exhausted the epoch will hand over on completion.
    pub next_producer_id: i64,
}

/// Epochs at or past this are exhausted: the next bump rotates the producer id (Kafka's
/// `isProducerEpochExhausted`).
pub const EPOCH_EXHAUSTED: i16 = i16::MAX - 1;

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

fn get_str(b: &mut Bytes) -> Option<String> {
    if b.remaining() < 2 {
        return None;
    }
    let n = b.get_i16();
    if n < 0 || b.remaining() < n as usize {
        return None;
    }
    String::from_utf8(b.split_to(n as usize).to_vec()).ok()
}

fn put_uvarint(b: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        b.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

fn get_uvarint(b: &mut Bytes) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..35).step_by(7) {
        if !b.has_remaining() {
            return None;
        }
        let byte = b.get_u8();
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn get_compact_str(b: &mut Bytes) -> Option<String> {
    let n = get_uvarint(b)?.checked_sub(1)? as usize;
    if b.remaining() < n {
        return None;
    }
    String::from_utf8(b.split_to(n).to_vec()).ok()
}

/// Skips a tagged-field section, returning (tag, data) pairs.
fn get_tagged(b: &mut Bytes) -> Option<Vec<(u64, Bytes)>> {
    let n = get_uvarint(b)?;
    let mut out = Vec::new();
    for _ in 0..n {
        let tag = get_uvarint(b)?;
        let size = get_uvarint(b)? as usize;
        if b.remaining() < size {
            return None;
        }
        out.push((tag, b.split_to(size)));
    }
    Some(out)
}

/// TransactionLogKey v0 / TransactionLogValue. Transactions v2 state is written as v1
/// (flexible; PreviousProducerId, NextProducerId and ClientTransactionVersion as tagged fields
/// 0, 1 and 2), as Kafka 4 writes it; everything else stays v0, which older Weir builds read.
pub fn encode(meta: &TxnMeta) -> (Bytes, Option<Bytes>) {
    let mut k = BytesMut::new();
    k.put_i16(0);
    put_str(&mut k, &meta.id);
    let flexible = meta.client_version >= 2 || meta.next_producer_id >= 0;
    let mut v = BytesMut::new();
    v.put_i16(if flexible { 1 } else { 0 });
    v.put_i64(meta.producer_id);
    v.put_i16(meta.epoch);
    v.put_i32(meta.timeout_ms);
    v.put_i8(meta.state as i8);
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in &meta.partitions {
        by_topic.entry(t).or_default().push(*p);
    }
    if flexible {
        put_uvarint(&mut v, by_topic.len() as u64 + 1);
    } else {
        v.put_i32(by_topic.len() as i32);
    }
    for (t, ps) in by_topic {
        if flexible {
            put_uvarint(&mut v, t.len() as u64 + 1);
            v.put_slice(t.as_bytes());
            put_uvarint(&mut v, ps.len() as u64 + 1);
        } else {
            put_str(&mut v, t);
            v.put_i32(ps.len() as i32);
        }
        for p in ps {
            v.put_i32(p);
        }
        if flexible {
            put_uvarint(&mut v, 0);
        }
    }
    v.put_i64(meta.update_ms);
    v.put_i64(meta.start_ms);
    if flexible {
        put_uvarint(&mut v, 3);
        for (tag, bytes) in [
            (0u64, meta.prev_producer_id.to_be_bytes().to_vec()),
            (1, meta.next_producer_id.to_be_bytes().to_vec()),
            (2, meta.client_version.to_be_bytes().to_vec()),
        ] {
            put_uvarint(&mut v, tag);
            put_uvarint(&mut v, bytes.len() as u64);
            v.put_slice(&bytes);
        }
    }
    (k.freeze(), Some(v.freeze()))
}

pub fn decode(key: &Bytes, value: Option<&Bytes>) -> Option<(String, Option<TxnMeta>)> {
    let mut k = key.clone();
    if k.remaining() < 2 || k.get_i16() != 0 {
        return None;
    }
    let id = get_str(&mut k)?;
    let Some(v) = value else {
        return Some((id, None));
    };
    let mut v = v.clone();
    if v.remaining() < 2 + 8 + 2 + 4 + 1 + 1 {
        return None;
    }
    let version = v.get_i16();
    let producer_id = v.get_i64();
    let epoch = v.get_i16();
    let timeout_ms = v.get_i32();
    let state = TxnState::from_i8(v.get_i8());
    let flexible = version >= 1;
    let n = if flexible {
        get_uvarint(&mut v)?.saturating_sub(1) as usize
    } else {
        if v.remaining() < 4 {
            return None;
        }
        v.get_i32().max(0) as usize
    };
    let mut partitions = BTreeSet::new();
    for _ in 0..n {
        let t = if flexible {
            get_compact_str(&mut v)?
        } else {
            get_str(&mut v)?
        };
        let np = if flexible {
            get_uvarint(&mut v)?.saturating_sub(1) as usize
        } else {
            if v.remaining() < 4 {
                return None;
            }
            v.get_i32().max(0) as usize
        };
        if v.remaining() < np.checked_mul(4)? {
            return None;
        }
        for _ in 0..np {
            partitions.insert((t.clone(), v.get_i32()));
        }
        if flexible {
            get_tagged(&mut v)?;
        }
    }
    if v.remaining() < 16 {
        return None;
    }
    let update_ms = v.get_i64();
    let start_ms = v.get_i64();
    let mut meta = TxnMeta {
        id: id.clone(),
        producer_id,
        epoch,
        timeout_ms,
        state,
        partitions,
        start_ms,
        update_ms,
        // Kafka leaves tagged fields at their default (0) out.
        client_version: 0,
        prev_producer_id: -1,
        next_producer_id: -1,
    };
    if flexible {
        for (tag, mut data) in get_tagged(&mut v)? {
            match (tag, data.remaining()) {
                (0, 8) => meta.prev_producer_id = data.get_i64(),
                (1, 8) => meta.next_producer_id = data.get_i64(),
                (2, 2) => meta.client_version = data.get_i16(),
                _ => {}
            }
        }
    }
    Some((id, Some(meta)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_log_round_trip() {
        let m = TxnMeta {
            id: "tx".into(),
            producer_id: 7,
            epoch: 3,
            timeout_ms: 60000,
            state: TxnState::Ongoing,
            partitions: [
                ("a".to_string(), 0),
                ("a".to_string(), 2),
                ("b".to_string(), 1),
            ]
            .into(),
            start_ms: 5,
            update_ms: 6,
            client_version: 2,
            prev_producer_id: 4,
            next_producer_id: 9,
        };
        let (k, v) = encode(&m);
        assert_eq!(
            decode(&k, v.as_ref()),
            Some(("tx".to_string(), Some(m.clone())))
        );
        // Transactions v1 state stays in the v0 format.
        let mut tv1 = m.clone();
        tv1.client_version = 1;
        tv1.next_producer_id = -1;
        let (_, v) = encode(&tv1);
        assert_eq!(v.as_ref().unwrap()[..2], [0, 0]);
        let (_, back) = decode(&k, v.as_ref()).unwrap();
        let back = back.unwrap();
        assert_eq!(
            (
                back.producer_id,
                back.epoch,
                back.partitions.clone(),
                back.start_ms
            ),
            (
                tv1.producer_id,
                tv1.epoch,
                tv1.partitions.clone(),
                tv1.start_ms
            )
        );
        // Records written before the flexible format still load.
        let mut v0 = BytesMut::new();
        v0.put_i16(0);
        v0.put_i64(7);
        v0.put_i16(3);
        v0.put_i32(60000);
        v0.put_i8(1);
        v0.put_i32(1);
        put_str(&mut v0, "a");
        v0.put_i32(1);
        v0.put_i32(2);
        v0.put_i64(6);
        v0.put_i64(5);
        let (_, old) = decode(&k, Some(&v0.freeze())).unwrap();
        let old = old.unwrap();
        assert_eq!(
            (
                old.producer_id,
                old.epoch,
                old.client_version,
                old.prev_producer_id
            ),
            (7, 3, 0, -1)
        );
        assert_eq!(old.partitions, [("a".to_string(), 2)].into());
        assert_eq!(decode(&k, None), Some(("tx".to_string(), None)));
        assert_eq!(decode(&Bytes::from_static(&[0, 1]), None), None);
    }
}
