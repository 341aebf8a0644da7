//! The metadata log on the controller's disk: `__cluster_metadata-0` in the data directory, a
//! partition log in Kafka's layout whose record values are encoded metadata records. Every
//! append is fsynced before it counts as committed (one controller: its disk is the quorum),
//! and brokers read it with Fetch like any other partition.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::log::{LogConfig, Partition};
use crate::metadata::{self, MetadataRecord};

use super::MetadataLog;

pub const METADATA_TOPIC: &str = "__cluster_metadata";

pub struct FileMetadataLog {
    part: Partition,
}

impl FileMetadataLog {
    pub fn open(data_dir: &Path) -> Result<FileMetadataLog, String> {
        let dir = data_dir.join(format!("{METADATA_TOPIC}-0"));
        let cfg = LogConfig {
            flush_messages: 1,
            retention_ms: -1,
            retention_bytes: -1,
            max_message_bytes: 8 << 20,
            ..LogConfig::default()
        };
        // Recovery always verifies the tail: a torn last batch is an uncommitted change.
        let part =
            Partition::open(&dir, METADATA_TOPIC, 0, cfg, false).map_err(|e| e.to_string())?;
        Ok(FileMetadataLog { part })
    }

    /// The partition, for Fetch from brokers.
    pub fn partition(&self) -> &Partition {
        &self.part
    }
}

/// One batch holding the records, values JSON-encoded.
pub fn encode_batch(records: &[MetadataRecord]) -> BytesMut {
    let now = crate::log::segment::now_ms();
    let recs: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder keeps records in one batch while offset minus sequence is constant.
            sequence: i as i32 - 1,
            timestamp: now,
            key: None,
            value: Some(Bytes::from(metadata::encode(r))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    // Encoding records we built cannot fail short of allocation failure.
    let _ = RecordBatchEncoder::encode(
        &mut buf,
        &recs,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    );
    buf
}

/// Decodes fetched batches into (offset, record); undecodable records are skipped with a log
/// line (they can only come from a newer Weir).
pub fn decode_batches(bytes: &[u8]) -> Vec<(i64, MetadataRecord)> {
    let mut out = Vec::new();
    let walked = crate::log::records::for_each_record_in(
        bytes,
        crate::log::records::MAX_DECOMPRESSED,
        |_, r| {
            let Some(v) = r.value else { return };
            match metadata::decode(v) {
                Ok(rec) => out.push((r.offset, rec)),
                Err(e) => tracing::warn!("skipping metadata record at {}: {e}", r.offset),
            }
        },
    );
    if let Err(e) = walked {
        tracing::warn!("metadata batch unreadable: {e}");
    }
    out
}

impl MetadataLog for FileMetadataLog {
    fn append(&mut self, records: &[MetadataRecord]) -> Result<i64, String> {
        if records.is_empty() {
            return Ok(self.end_offset());
        }
        let batch = encode_batch(records);
        self.part
            .append(&batch)
            .map(|info| info.base_offset)
            .map_err(|e| e.to_string())
    }

    fn read_from(&self, offset: i64, max: usize) -> Result<Vec<(i64, MetadataRecord)>, String> {
        let mut out = Vec::new();
        let mut at = offset.max(self.part.log_start_offset());
        let end = self.part.log_end_offset();
        while at < end && out.len() < max {
            let r = self
                .part
                .read(at, 1 << 20, true)
                .map_err(|e| e.to_string())?;
            if r.records.is_empty() {
                break;
            }
            let recs = decode_batches(&r.records);
            let next = crate::log::batch::BatchHeader::parse(&r.records)
                .map(|_| last_offset(&r.records) + 1)
                .unwrap_or(end);
            out.extend(recs.into_iter().filter(|(o, _)| *o >= at));
            if next <= at {
                break;
            }
            at = next;
        }
        out.truncate(max);
        Ok(out)
    }

    fn end_offset(&self) -> i64 {
        self.part.log_end_offset()
    }
}

fn last_offset(mut bytes: &[u8]) -> i64 {
    let mut last = -1;
    while let Some(h) = crate::log::batch::BatchHeader::parse(bytes) {
        last = h.last_offset();
        let n = h.total_len();
        if n == 0 || n > bytes.len() {
            break;
        }
        bytes = &bytes[n..];
    }
    last
}
