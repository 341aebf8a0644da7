//! Arbitrary bytes as the `records` of one produce to a compacted topic: `validate_produce`, then
//! `keyless_records`, which decodes (and decompresses) the batch under the allocation guard. The
//! same `RecordBatchDecoder::decode` runs on stored batches for ListOffsets by timestamp.
//!
//! As in `record_batch`, inputs of header size or more get their CRC32C field corrected first, so
//! mutations reach the decoder; the batch must otherwise pass `validate_produce`, as on the
//! produce path.
//!
//! `WEIR_FUZZ_VERBOSE=1` prints each verdict.
#![no_main]

use std::sync::atomic::{AtomicBool, Ordering};

use libfuzzer_sys::fuzz_target;
use weir::log::batch::{compute_crc, keyless_records, validate_produce, HEADER_LEN};

const MAX_MESSAGE_BYTES: usize = 1 << 20;
const CRC_OFFSET: usize = 17;

static VERBOSE: AtomicBool = AtomicBool::new(false);

fuzz_target!(
    init: VERBOSE.store(
        std::env::var_os("WEIR_FUZZ_VERBOSE").is_some_and(|v| v != "0"),
        Ordering::Relaxed
    ),
    |data: &[u8]| {
        if data.len() < HEADER_LEN {
            return;
        }
        let mut batch = data.to_vec();
        let crc = compute_crc(&batch);
        batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        let verbose = VERBOSE.load(Ordering::Relaxed);
        match validate_produce(&batch, MAX_MESSAGE_BYTES) {
            Ok(h) => {
                let r = keyless_records(&batch);
                if verbose {
                    eprintln!(
                        "weir-fuzz: valid, {} records, compression {}: keyless {r:?}",
                        h.records_count,
                        h.compression()
                    );
                }
            }
            Err(e) => {
                if verbose {
                    eprintln!("weir-fuzz: refused by validate_produce: {e}");
                }
            }
        }
    }
);
