//! Looking inside a stored or produced record batch, for the few places Kafka does too:
//! record keys on compacted topics, record timestamps for ListOffsets, and the key/value of
//! records in the internal topics on replay.
//!
//! Client bytes never reach a general-purpose decoder here: decompression is capped, and records
//! are walked field by field with every length checked against the bytes actually present, so a
//! lying record count, header count or declared decompressed size costs nothing.

use std::io::Read;

use super::batch::{BatchHeader, HEADER_LEN};

/// Upper bound on what one batch may decompress to.
pub const MAX_DECOMPRESSED: usize = 64 << 20;

/// The fields of one record that the broker looks at.
#[derive(Clone, Copy, Debug)]
pub struct RecordView<'a> {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

fn varint(b: &[u8], pos: &mut usize) -> Result<i64, String> {
    let mut raw: u64 = 0;
    for i in 0..10 {
        let byte = *b.get(*pos).ok_or("record truncated")?;
        *pos += 1;
        raw |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // Zig-zag.
            return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    Err("varint longer than 10 bytes".into())
}

fn bytes_field<'a>(b: &'a [u8], pos: &mut usize) -> Result<Option<&'a [u8]>, String> {
    let len = varint(b, pos)?;
    if len < 0 {
        return Ok(None);
    }
    let len = usize::try_from(len).map_err(|_| "bad length")?;
    let end = pos
        .checked_add(len)
        .filter(|e| *e <= b.len())
        .ok_or("field runs past the record")?;
    let s = &b[*pos..end];
    *pos = end;
    Ok(Some(s))
}

fn read_capped(mut r: impl Read, cap: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    r.by_ref()
        .take(cap as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("decompression failed: {e}"))?;
    if out.len() > cap {
        return Err(format!("batch decompresses to more than {cap} bytes"));
    }
    Ok(out)
}

fn snappy(data: &[u8], cap: usize) -> Result<Vec<u8>, String> {
    const XERIAL: &[u8; 8] = b"\x82SNAPPY\x00";
    let block = |b: &[u8], out: &mut Vec<u8>| -> Result<(), String> {
        let n = snap::raw::decompress_len(b).map_err(|e| e.to_string())?;
        if out.len() + n > cap {
            return Err(format!("batch decompresses to more than {cap} bytes"));
        }
        let start = out.len();
        out.resize(start + n, 0);
        snap::raw::Decoder::new()
            .decompress(b, &mut out[start..])
            .map_err(|e| e.to_string())?;
        Ok(())
    };
    let mut out = Vec::new();
    if data.len() >= 16 && data.starts_with(XERIAL) {
        // Java's xerial framing: 16-byte header, then [u32 length][snappy block]...
        let mut pos = 16;
        while pos < data.len() {
            let len_bytes: [u8; 4] = data
                .get(pos..pos + 4)
                .and_then(|s| s.try_into().ok())
                .ok_or("truncated snappy block length")?;
            let len = u32::from_be_bytes(len_bytes) as usize;
            pos += 4;
            let end = pos
                .checked_add(len)
                .filter(|e| *e <= data.len())
                .ok_or("truncated snappy block")?;
            block(&data[pos..end], &mut out)?;
            pos = end;
        }
    } else {
        block(data, &mut out)?;
    }
    Ok(out)
}

/// The batch's records section, decompressed (capped) when the batch is compressed.
fn records_section<'a>(
    batch: &'a [u8],
    h: &BatchHeader,
    cap: usize,
) -> Result<std::borrow::Cow<'a, [u8]>, String> {
    let body = batch
        .get(HEADER_LEN..h.total_len().min(batch.len()))
        .ok_or("batch truncated")?;
    Ok(match h.compression() {
        0 => std::borrow::Cow::Borrowed(body),
        1 => read_capped(flate2::read::GzDecoder::new(body), cap)?.into(),
        2 => snappy(body, cap)?.into(),
        3 => read_capped(lz4::Decoder::new(body).map_err(|e| e.to_string())?, cap)?.into(),
        4 => read_capped(
            zstd::stream::read::Decoder::new(body).map_err(|e| e.to_string())?,
            cap,
        )?
        .into(),
        c => return Err(format!("unknown compression codec {c}")),
    })
}

/// Calls `f` for each record of one v2 batch (at the start of `batch`), at most the batch's
/// record count, stopping with an error at the first record that does not fit its bytes.
pub fn for_each_record(
    batch: &[u8],
    cap: usize,
    mut f: impl FnMut(RecordView<'_>),
) -> Result<(), String> {
    let h = BatchHeader::parse(batch).ok_or("batch shorter than its header")?;
    if h.magic != 2 {
        return Err(format!("unsupported magic {}", h.magic));
    }
    let section = records_section(batch, &h, cap)?;
    let b: &[u8] = &section;
    let mut pos = 0usize;
    for _ in 0..h.records_count.max(0) {
        if pos >= b.len() {
            return Err("fewer records than the batch declares".into());
        }
        let len = varint(b, &mut pos)?;
        let len = usize::try_from(len).map_err(|_| "negative record length")?;
        let end = pos
            .checked_add(len)
            .filter(|e| *e <= b.len())
            .ok_or("record runs past the batch")?;
        let rec = &b[..end];
        let mut p = pos;
        p += 1; // attributes
        let ts_delta = varint(rec, &mut p)?;
        let offset_delta = varint(rec, &mut p)?;
        let key = bytes_field(rec, &mut p)?;
        let value = bytes_field(rec, &mut p)?;
        f(RecordView {
            offset: h.base_offset.saturating_add(offset_delta),
            timestamp: if h.is_log_append_time() {
                h.max_timestamp
            } else {
                h.base_timestamp.saturating_add(ts_delta)
            },
            key,
            value,
        });
        pos = end;
    }
    Ok(())
}

/// Calls `f` for every record of every whole batch in `data` (a run of stored batches), with the
/// batch header (for producer ids and the control/transactional flags).
pub fn for_each_record_in(
    data: &[u8],
    cap: usize,
    mut f: impl FnMut(&BatchHeader, RecordView<'_>),
) -> Result<(), String> {
    let mut pos = 0usize;
    while pos < data.len() {
        let h = BatchHeader::parse(&data[pos..]).ok_or("truncated batch header")?;
        let end = pos
            .checked_add(h.total_len())
            .filter(|e| *e <= data.len())
            .ok_or("truncated batch")?;
        for_each_record(&data[pos..end], cap, |r| f(&h, r))?;
        pos = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::*;

    fn encode(n: usize, compression: Compression, key_every: usize) -> Vec<u8> {
        let recs: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: i as i32 - 1,
                timestamp: 1000 + i as i64,
                key: (i % key_every != 0).then(|| Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(vec![b'v'; 50])),
                headers: [(
                    kafka_protocol::protocol::StrBytes::from_static_str("h"),
                    Some(Bytes::from_static(b"x")),
                )]
                .into_iter()
                .collect(),
            })
            .collect();
        let mut b = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut b,
            &recs,
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .unwrap();
        b.to_vec()
    }

    #[test]
    fn walks_every_codec() {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let b = encode(20, c, 3);
            let mut seen = Vec::new();
            for_each_record(&b, MAX_DECOMPRESSED, |r| {
                seen.push((r.offset, r.timestamp, r.key.is_some()))
            })
            .unwrap();
            assert_eq!(seen.len(), 20, "{c:?}");
            assert_eq!(seen[5], (5, 1005, true));
            assert_eq!(seen[6], (6, 1006, false));
        }
    }

    #[test]
    fn lying_counts_and_sizes_fail_cleanly() {
        // The fuzzer's reproductions: a record claiming 2^31-1 headers, and a xerial snappy
        // block declaring 2^32-1 bytes.
        let hex = |s: &str| {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect::<Vec<u8>>()
        };
        let headers = hex("00000000000000000000003c000000000249d5b81b0000000000000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff00000001140000000101feffffff0f");
        let _ = for_each_record(&headers, MAX_DECOMPRESSED, |_| {});
        let snappy = hex("00000000000000000000004a00000000026a6dedfb0002000000000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff0000000182534e4150505900000000010000000100000005ffffffff0f");
        assert!(for_each_record(&snappy, MAX_DECOMPRESSED, |_| {}).is_err());
        // A count far beyond the bytes present.
        let mut b = encode(2, Compression::None, 1);
        b[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(for_each_record(&b, MAX_DECOMPRESSED, |_| {}).is_err());
        // A gzip bomb bigger than the cap.
        let big = encode(2000, Compression::Gzip, 1);
        assert!(for_each_record(&big, 1000, |_| {}).is_err());
    }
}
