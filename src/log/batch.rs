//! Record batch (magic v2) header: parsing, produce-time validation and the in-place patches the
//! broker is allowed to make (base offset, partition leader epoch, LogAppendTime).
//!
//! Records inside a batch are never decoded on the produce or fetch path: the header and the
//! CRC32C over everything after the CRC field are all that validation needs.

/// Bytes before the first record of a v2 batch.
pub const HEADER_LEN: usize = 61;
/// Bytes of `baseOffset` + `batchLength`, the part every log entry starts with.
pub const LOG_OVERHEAD: usize = 12;

const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;
const MAX_TIMESTAMP_OFFSET: usize = 35;
const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

/// The fixed fields of a v2 batch header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    /// Parses the header at the start of `b`; None if fewer than [`HEADER_LEN`] bytes.
    pub fn parse(b: &[u8]) -> Option<BatchHeader> {
        if b.len() < HEADER_LEN {
            return None;
        }
        Some(BatchHeader {
            base_offset: i64_at(b, 0),
            batch_length: i32_at(b, 8),
            partition_leader_epoch: i32_at(b, 12),
            magic: b[16] as i8,
            crc: u32::from_be_bytes([b[17], b[18], b[19], b[20]]),
            attributes: i16_at(b, 21),
            last_offset_delta: i32_at(b, 23),
            base_timestamp: i64_at(b, 27),
            max_timestamp: i64_at(b, 35),
            producer_id: i64_at(b, 43),
            producer_epoch: i16_at(b, 51),
            base_sequence: i32_at(b, 53),
            records_count: i32_at(b, 57),
        })
    }

    /// Bytes this batch occupies in the log, header included.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }
    pub fn compression(&self) -> i16 {
        self.attributes & 0x7
    }
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }
}

/// Reads `(base_offset, total_len)` of the log entry at the start of `b` (needs 12 bytes).
pub fn entry_bounds(b: &[u8]) -> Option<(i64, usize)> {
    if b.len() < LOG_OVERHEAD {
        return None;
    }
    let len = i32_at(b, 8);
    if len < 0 {
        return None;
    }
    Some((i64_at(b, 0), LOG_OVERHEAD + len as usize))
}

/// The CRC32C the header should carry for the batch in `b` (exactly one whole batch).
pub fn compute_crc(b: &[u8]) -> u32 {
    crc32c::crc32c(&b[ATTRIBUTES_OFFSET..])
}

/// Why a produced batch was refused; each maps to one Kafka error code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("record batch is corrupt: {0}")]
    Corrupt(String),
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    TooLarge { size: usize, max: usize },
    #[error("invalid record batch: {0}")]
    Invalid(String),
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    /// Some records are invalid; `indexes` are their positions in the batch.
    #[error("{message}")]
    InvalidRecords { message: String, indexes: Vec<i32> },
}

impl BatchError {
    /// Kafka's error code for this refusal.
    pub fn code(&self) -> i16 {
        match self {
            BatchError::Corrupt(_) => 2,
            BatchError::TooLarge { .. } => 10,
            BatchError::Invalid(_) | BatchError::InvalidRecords { .. } => 87,
            BatchError::UnsupportedMagic(_) => 43,
        }
    }
}

/// Checks a produce request's records for one partition: exactly one magic-2 batch, sizes that
/// add up, CRC32C, record count consistent with the offset delta, within `max_message_bytes`.
pub fn validate_produce(
    records: &[u8],
    max_message_bytes: usize,
) -> Result<BatchHeader, BatchError> {
    if records.len() > max_message_bytes.saturating_add(LOG_OVERHEAD) {
        return Err(BatchError::TooLarge {
            size: records.len(),
            max: max_message_bytes,
        });
    }
    if records.len() < HEADER_LEN {
        if records.len() >= 17 && records[16] != 2 {
            return Err(BatchError::UnsupportedMagic(records[16] as i8));
        }
        return Err(BatchError::Corrupt(format!(
            "{} bytes is shorter than a batch header",
            records.len()
        )));
    }
    let h =
        BatchHeader::parse(records).ok_or_else(|| BatchError::Corrupt("short header".into()))?;
    if h.magic != 2 {
        return Err(BatchError::UnsupportedMagic(h.magic));
    }
    if h.batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
        return Err(BatchError::Corrupt(format!(
            "batch length {} is below the minimum",
            h.batch_length
        )));
    }
    let total = h.total_len();
    if total > records.len() {
        return Err(BatchError::Corrupt(format!(
            "batch length {} runs past the {} bytes sent",
            h.batch_length,
            records.len()
        )));
    }
    if total < records.len() {
        return Err(BatchError::Invalid(
            "a produce request must carry exactly one record batch per partition".into(),
        ));
    }
    if total - LOG_OVERHEAD > max_message_bytes {
        return Err(BatchError::TooLarge {
            size: total,
            max: max_message_bytes,
        });
    }
    let crc = compute_crc(records);
    if crc != h.crc {
        return Err(BatchError::Corrupt(format!(
            "CRC32C mismatch: header says {:#010x}, computed {:#010x}",
            h.crc, crc
        )));
    }
    if h.records_count <= 0 {
        return Err(BatchError::Invalid("record batch has no records".into()));
    }
    if h.last_offset_delta != h.records_count - 1 {
        return Err(BatchError::Invalid(format!(
            "last offset delta {} does not match record count {}",
            h.last_offset_delta, h.records_count
        )));
    }
    if h.is_control() {
        return Err(BatchError::Invalid(
            "clients may not produce control batches".into(),
        ));
    }
    Ok(h)
}

/// Indexes of records without a key, for compacted topics. Decodes (and decompresses) the
/// batch, so it runs only where Kafka also looks inside: topics with `cleanup.policy=compact`.
pub fn keyless_records(b: &[u8]) -> Result<Vec<i32>, BatchError> {
    let mut keyless = Vec::new();
    let mut i = 0;
    super::records::for_each_record(b, super::records::MAX_DECOMPRESSED, |r| {
        if r.key.is_none() {
            keyless.push(i);
        }
        i += 1;
    })
    .map_err(|e| BatchError::Corrupt(format!("records cannot be decoded: {e}")))?;
    Ok(keyless)
}

/// Assigns the batch its place in the log. LogAppendTime rewrites the timestamp type and max
/// timestamp, which lie under the CRC, so the CRC is recomputed only in that case.
pub fn patch_for_append(
    b: &mut [u8],
    base_offset: i64,
    leader_epoch: i32,
    append_time: Option<i64>,
) {
    b[0..8].copy_from_slice(&base_offset.to_be_bytes());
    b[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
    if let Some(now) = append_time {
        let attrs = i16_at(b, ATTRIBUTES_OFFSET) | TIMESTAMP_TYPE_BIT;
        b[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attrs.to_be_bytes());
        b[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&now.to_be_bytes());
        let crc = compute_crc(b);
        b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    pub(crate) fn batch(n: usize, ts: i64) -> Vec<u8> {
        let records: Vec<Record> = (0..n)
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
                timestamp: ts + i as i64,
                key: Some(bytes::Bytes::from(format!("k{i}"))),
                value: Some(bytes::Bytes::from(vec![b'v'; 20])),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )
        .unwrap();
        buf.to_vec()
    }

    #[test]
    fn valid_batch_passes_and_patches() {
        let mut b = batch(3, 1000);
        let h = validate_produce(&b, 1 << 20).unwrap();
        assert_eq!(h.records_count, 3);
        patch_for_append(&mut b, 42, 7, None);
        let h2 = BatchHeader::parse(&b).unwrap();
        assert_eq!(h2.base_offset, 42);
        assert_eq!(h2.partition_leader_epoch, 7);
        // Base offset and leader epoch lie outside the CRC.
        assert_eq!(compute_crc(&b), h2.crc);
        patch_for_append(&mut b, 42, 7, Some(99));
        let h3 = BatchHeader::parse(&b).unwrap();
        assert!(h3.is_log_append_time());
        assert_eq!(h3.max_timestamp, 99);
        assert_eq!(compute_crc(&b), h3.crc);
    }

    #[test]
    fn refusals_carry_kafkas_codes() {
        let mut b = batch(2, 0);
        let last = b.len() - 1;
        b[last] ^= 0xff;
        assert_eq!(validate_produce(&b, 1 << 20).unwrap_err().code(), 2);
        let b = batch(2, 0);
        assert_eq!(validate_produce(&b, 10).unwrap_err().code(), 10);
        let mut two = batch(1, 0);
        two.extend(batch(1, 0));
        assert_eq!(validate_produce(&two, 1 << 20).unwrap_err().code(), 87);
        let mut m = batch(1, 0);
        m[16] = 1;
        assert_eq!(validate_produce(&m, 1 << 20).unwrap_err().code(), 43);
        assert_eq!(validate_produce(&[0u8; 5], 1 << 20).unwrap_err().code(), 2);
        let b = batch(2, 0);
        assert_eq!(
            validate_produce(&b[..b.len() - 1], 1 << 20)
                .unwrap_err()
                .code(),
            2
        );
    }
}
