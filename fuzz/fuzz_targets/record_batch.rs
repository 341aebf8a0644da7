//! Arbitrary bytes as the `records` of one produced partition, through
//! `weir::log::batch::validate_produce` with a 1 MiB max message size.
//!
//! Random mutations almost never keep the CRC32C right, which would stop the fuzzer at the CRC
//! check; so each input is also validated a second time with its CRC field rewritten to the
//! correct value, to reach the checks behind it (record count, offset delta, control bit).
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir::log::batch::{compute_crc, validate_produce, HEADER_LEN};

const MAX_MESSAGE_BYTES: usize = 1 << 20;
const CRC_OFFSET: usize = 17;

fuzz_target!(|data: &[u8]| {
    let _ = validate_produce(data, MAX_MESSAGE_BYTES);
    if data.len() >= HEADER_LEN {
        let mut fixed = data.to_vec();
        let crc = compute_crc(&fixed);
        fixed[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        let _ = validate_produce(&fixed, MAX_MESSAGE_BYTES);
    }
});
