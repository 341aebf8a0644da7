//! Arbitrary bytes as one request frame (the bytes after the 4-byte length prefix), through the
//! same two steps the connection loop takes: `parse_frame` (header, under the allocation guard)
//! and `decode_body` with the request type dispatch uses for that API.
//!
//! Weir's lib installs the process's `#[global_allocator]` (the allocation guard); this target must
//! not declare another one.
//!
//! Panics that Weir's `guarded_decode` catches are what production does with them (the connection
//! is closed), so by default they are logged once per message and the run goes on. Set
//! `WEIR_FUZZ_STRICT_PANICS=1` to abort on them too, to hunt panics inside the codec. A panic that
//! escapes Weir's entry points aborts either way (libfuzzer-sys reports it as a crash).
//!
//! `WEIR_FUZZ_VERBOSE=1` prints what each input decoded to (for checking seeds: run the built
//! target with file paths as arguments).
#![no_main]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use kafka_protocol::messages::*;
use libfuzzer_sys::fuzz_target;
use weir::protocol::{decode_body, parse_frame, Frame, FrameError, Parsed};

static VERBOSE: AtomicBool = AtomicBool::new(false);

fn init() {
    let on = |k: &str| std::env::var_os(k).is_some_and(|v| v != "0");
    VERBOSE.store(on("WEIR_FUZZ_VERBOSE"), Ordering::Relaxed);
    install_panic_hook();
}

fn install_panic_hook() {
    if std::env::var_os("WEIR_FUZZ_STRICT_PANICS").is_some_and(|v| v != "0") {
        return; // keep libfuzzer-sys's hook: any panic aborts and is reported as a crash
    }
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let seen = SEEN.get_or_init(Default::default);
        if seen.lock().map(|mut s| s.insert(at.clone())).unwrap_or(false) {
            eprintln!("weir-fuzz: caught panic at {at}: {info}");
        }
    }));
}

fn body<T: kafka_protocol::protocol::Decodable + std::fmt::Debug>(
    frame: &Frame,
) -> Result<(), FrameError> {
    let r = decode_body::<T>(frame);
    if VERBOSE.load(Ordering::Relaxed) {
        match &r {
            Ok(v) => eprintln!("weir-fuzz: {:?} v{}: {v:?}", frame.api, frame.version),
            Err(e) => eprintln!("weir-fuzz: {:?} v{}: {e}", frame.api, frame.version),
        }
    }
    r.map(drop)
}

fn decode(frame: &Frame) -> Result<(), FrameError> {
    // The request type per API, as `weir::api::dispatch` decodes it.
    match frame.api {
        ApiKey::Produce => body::<ProduceRequest>(frame),
        ApiKey::Fetch => body::<FetchRequest>(frame),
        ApiKey::ListOffsets => body::<ListOffsetsRequest>(frame),
        ApiKey::Metadata => body::<MetadataRequest>(frame),
        ApiKey::ApiVersions => body::<ApiVersionsRequest>(frame),
        ApiKey::CreateTopics => body::<CreateTopicsRequest>(frame),
        ApiKey::DeleteTopics => body::<DeleteTopicsRequest>(frame),
        ApiKey::OffsetForLeaderEpoch => body::<OffsetForLeaderEpochRequest>(frame),
        ApiKey::DescribeConfigs => body::<DescribeConfigsRequest>(frame),
        ApiKey::DescribeLogDirs => body::<DescribeLogDirsRequest>(frame),
        ApiKey::CreatePartitions => body::<CreatePartitionsRequest>(frame),
        ApiKey::DescribeCluster => body::<DescribeClusterRequest>(frame),
        ApiKey::DescribeTopicPartitions => body::<DescribeTopicPartitionsRequest>(frame),
        other => {
            // parse_frame only lets through what SUPPORTED lists; a key here is a table the
            // harness does not know yet.
            assert!(
                weir::protocol::support(other as i16).is_none(),
                "{other:?} is in weir::protocol::SUPPORTED but not in the fuzz harness"
            );
            Err(FrameError::UnknownApi(other as i16))
        }
    }
}

fuzz_target!(
    init: init(),
    |data: &[u8]| {
        let parsed = parse_frame(Bytes::copy_from_slice(data));
        let frame = match parsed {
            Ok(Parsed::Request(frame)) => frame,
            other => {
                if VERBOSE.load(Ordering::Relaxed) {
                    match other {
                        Ok(Parsed::ApiVersionsFallback { correlation_id }) => {
                            eprintln!("weir-fuzz: ApiVersions fallback, correlation id {correlation_id}")
                        }
                        Err(e) => eprintln!("weir-fuzz: frame refused: {e}"),
                        Ok(Parsed::Request(_)) => unreachable!(),
                    }
                }
                return;
            }
        };
        let _ = weir::protocol::client_id(&frame.header);
        let _ = decode(&frame);
    }
);
