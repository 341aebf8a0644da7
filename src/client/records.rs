//! Record batches: encoding produced records, decoding fetched ones without trusting the counts
//! a broker sends, and Kafka's default partitioner (murmur2).

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::compression::{Decompressor, Gzip, Lz4, Snappy, Zstd};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
};

use super::error::{ClientError, Result};

/// One record to produce.
#[derive(Clone, Debug, Default)]
pub struct OutRecord {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
    pub timestamp: i64,
}

/// One fetched record.
#[derive(Clone, Debug)]
pub struct InRecord {
    pub offset: i64,
    pub timestamp: i64,
    pub log_append_time: bool,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// Parses a compression name as Kafka's `compression.type` spells it.
pub fn parse_compression(s: &str) -> Option<Compression> {
    Some(match s.to_ascii_lowercase().as_str() {
        "none" | "uncompressed" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        _ => return None,
    })
}

/// Encodes records as one v2 batch (base offset 0, no producer id).
pub fn encode_batch(records: &[OutRecord], compression: Compression) -> Result<Bytes> {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch whenever `offset - sequence` changes; records carry
            // no sequence on the wire, only the batch header does (its first record's). So
            // `offset - 1` keeps one batch whose base sequence is NO_SEQUENCE (-1).
            sequence: NO_SEQUENCE + i as i32,
            timestamp: r.timestamp,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone()))
                .collect::<IndexMap<_, _>>(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options)
        .map_err(|e| ClientError::Other(format!("cannot encode record batch: {e}")))?;
    Ok(buf.freeze())
}

/// Smallest encoded record: length, attributes, timestamp delta, offset delta, key length,
/// value length, header count — one byte each.
const MIN_RECORD_BYTES: usize = 7;
/// Bytes of a v2 batch before its records.
const BATCH_HEADER: usize = 61;

/// Decoded records of a fetch response plus the offset after the last complete batch (which
/// moves past batches that hold only control records).
#[derive(Debug, Default)]
pub struct Decoded {
    pub records: Vec<InRecord>,
    pub next_offset: Option<i64>,
}

/// Decodes the record batches of a fetch response. A trailing partial batch (fetches may cut
/// one) is ignored; control batches (transaction markers) are skipped. Record counts are
/// checked against the bytes that carry them before anything is allocated for them.
pub fn decode_batches(mut data: Bytes) -> Result<Decoded> {
    let mut out = Vec::new();
    let mut next_offset = None;
    while data.len() >= BATCH_HEADER {
        let batch_len = i32::from_be_bytes([data[8], data[9], data[10], data[11]]);
        if batch_len < (BATCH_HEADER - 12) as i32 {
            return Err(bad(format!("record batch length {batch_len}")));
        }
        let total = 12 + batch_len as usize;
        if total > data.len() {
            break;
        }
        let batch = data.split_to(total);
        let base = i64::from_be_bytes([
            batch[0], batch[1], batch[2], batch[3], batch[4], batch[5], batch[6], batch[7],
        ]);
        let last_delta = i32::from_be_bytes([batch[23], batch[24], batch[25], batch[26]]);
        next_offset = Some(base + i64::from(last_delta) + 1);
        let magic = batch[16];
        if magic != 2 {
            // Old message formats are not decoded; skip the batch.
            continue;
        }
        let attributes = i16::from_be_bytes([batch[21], batch[22]]);
        let count = i32::from_be_bytes([batch[57], batch[58], batch[59], batch[60]]);
        if count < 0 {
            return Err(bad(format!("negative record count {count}")));
        }
        let count = count as usize;
        let compressed = attributes & 0x7 != 0;
        if !compressed && count.saturating_mul(MIN_RECORD_BYTES) > total - BATCH_HEADER {
            return Err(bad(format!(
                "record count {count} does not fit in a {total}-byte batch"
            )));
        }
        let decompress = move |buf: &mut Bytes, c: Compression| -> anyhow::Result<Bytes> {
            let raw = decompress(buf, c)?;
            if count.saturating_mul(MIN_RECORD_BYTES) > raw.len() {
                anyhow::bail!("record count {count} does not fit in {} bytes", raw.len());
            }
            Ok(raw)
        };
        let mut b = batch;
        let set = RecordBatchDecoder::decode_with_custom_compression(&mut b, Some(decompress))
            .map_err(|e| bad(e.to_string()))?;
        for r in set.records {
            if r.control {
                continue;
            }
            out.push(InRecord {
                offset: r.offset,
                timestamp: r.timestamp,
                log_append_time: r.timestamp_type == TimestampType::LogAppend,
                key: r.key,
                value: r.value,
                headers: r
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_string(), v))
                    .collect(),
            });
        }
    }
    Ok(Decoded {
        records: out,
        next_offset,
    })
}

fn decompress(buf: &mut Bytes, c: Compression) -> anyhow::Result<Bytes> {
    fn take(b: &mut Bytes) -> anyhow::Result<Bytes> {
        Ok(std::mem::take(b))
    }
    match c {
        Compression::None => Ok(std::mem::take(buf)),
        Compression::Gzip => Gzip::decompress(buf, take),
        Compression::Snappy => Snappy::decompress(buf, take),
        Compression::Lz4 => Lz4::decompress(buf, take),
        Compression::Zstd => Zstd::decompress(buf, take),
    }
}

fn bad(reason: String) -> ClientError {
    ClientError::Other(format!("corrupt record batch in fetch response: {reason}"))
}

/// Kafka's `Utils.murmur2`, as the Java client's default partitioner hashes keys.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner picks for a non-null key.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    (murmur2(key) & 0x7fff_ffff) % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka() {
        // Vectors from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971
        );
        assert_eq!(murmur2(b"abc"), 479470107);
    }

    #[test]
    fn batches_round_trip_with_every_codec() {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let recs = vec![
                OutRecord {
                    key: Some(Bytes::from_static(b"k")),
                    value: Some(Bytes::from_static(b"v1")),
                    headers: vec![("h".into(), Some(Bytes::from_static(b"x")))],
                    timestamp: 1000,
                },
                OutRecord {
                    key: None,
                    value: Some(Bytes::from_static(b"v2")),
                    headers: vec![],
                    timestamp: 1001,
                },
            ];
            let mut b = BytesMut::from(&encode_batch(&recs, c).expect("encode")[..]);
            // A second batch, then a cut-off third.
            let second = encode_batch(&recs[..1], c).expect("encode");
            let mut second = BytesMut::from(&second[..]);
            second[7] = 2; // base offset 2
            b.extend_from_slice(&second);
            b.extend_from_slice(&second[..20]);
            let first = decode_batch_count(&b);
            assert_eq!(first, 2, "one batch holds both records");
            let base_sequence = i32::from_be_bytes([b[53], b[54], b[55], b[56]]);
            assert_eq!(base_sequence, NO_SEQUENCE);
            let d = decode_batches(b.freeze()).expect("decode");
            assert_eq!(d.next_offset, Some(3));
            let got = d.records;
            assert_eq!(got.len(), 3, "{c:?}");
            assert_eq!(got[0].key.as_deref(), Some(&b"k"[..]));
            assert_eq!(got[0].headers[0].0, "h");
            assert_eq!(got[1].offset, 1);
            assert_eq!(got[1].timestamp, 1001);
            assert_eq!(got[2].offset, 2);
        }
    }

    fn decode_batch_count(b: &[u8]) -> i32 {
        i32::from_be_bytes([b[57], b[58], b[59], b[60]])
    }

    #[test]
    fn lying_record_count_is_refused() {
        let recs = vec![OutRecord {
            value: Some(Bytes::from_static(b"v")),
            ..Default::default()
        }];
        for c in [Compression::None, Compression::Gzip] {
            let mut b = BytesMut::from(&encode_batch(&recs, c).expect("encode")[..]);
            b[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
            // Fix the CRC so only the count is wrong.
            let crc = crc32c::crc32c(&b[21..]);
            b[17..21].copy_from_slice(&crc.to_be_bytes());
            assert!(decode_batches(b.freeze()).is_err());
        }
    }
}
