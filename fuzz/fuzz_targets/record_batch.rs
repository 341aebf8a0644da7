//! Arbitrary bytes as the `records` of one produced partition, through
//! `weir::log::batch::validate_produce` with a 1 MiB max message size.
//!
//! Random mutations almost never keep the CRC32C right, which would stop the fuzzer at the CRC
//! check; so each input of header size or more is also validated a second time with its CRC field
//! rewritten to the correct value, to reach the checks behind it (record count, offset delta,
//! control bit).
//!
//! `WEIR_FUZZ_VERBOSE=1` prints each verdict (for checking seeds: run the built target with file
//! paths as arguments).
#![no_main]

use std::sync::atomic::{AtomicBool, Ordering};

use libfuzzer_sys::fuzz_target;
use weir::log::batch::{compute_crc, validate_produce, HEADER_LEN};

const MAX_MESSAGE_BYTES: usize = 1 << 20;
const CRC_OFFSET: usize = 17;

static VERBOSE: AtomicBool = AtomicBool::new(false);

fn check(what: &str, data: &[u8]) {
    let r = validate_produce(data, MAX_MESSAGE_BYTES);
    if VERBOSE.load(Ordering::Relaxed) {
        match r {
            Ok(h) => eprintln!("weir-fuzz: {what}: valid, {} records", h.records_count),
            Err(e) => eprintln!("weir-fuzz: {what}: refused (code {}): {e}", e.code()),
        }
    }
}

fuzz_target!(
    init: VERBOSE.store(
        std::env::var_os("WEIR_FUZZ_VERBOSE").is_some_and(|v| v != "0"),
        Ordering::Relaxed
    ),
    |data: &[u8]| {
        check("as sent", data);
        if data.len() >= HEADER_LEN {
            let mut fixed = data.to_vec();
            let crc = compute_crc(&fixed);
            fixed[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
            check("crc fixed", &fixed);
        }
    }
);
