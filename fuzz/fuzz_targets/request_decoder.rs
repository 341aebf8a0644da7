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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use kafka_protocol::messages::*;
use libfuzzer_sys::fuzz_target;
use weir::protocol::{decode_body, parse_frame, Frame, FrameError, Parsed};

static VERBOSE: AtomicBool = AtomicBool::new(false);
static RESERVED_BEFORE: AtomicUsize = AtomicUsize::new(0);

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
    verbose(frame, &r);
    r.map(drop)
}

fn verbose<T: std::fmt::Debug>(frame: &Frame, r: &Result<T, FrameError>) {
    if !VERBOSE.load(Ordering::Relaxed) {
        return;
    }
    let made = weir::alloc_guard::reservations_made();
    let guard = match made - RESERVED_BEFORE.swap(made, Ordering::Relaxed) {
        0 => String::new(),
        n => format!(" [allocation guard: {n} reservation(s)]"),
    };
    match r {
        Ok(v) => eprintln!("weir-fuzz: {:?} v{}{guard}: {v:?}", frame.api, frame.version),
        Err(e) => eprintln!("weir-fuzz: {:?} v{}{guard}: {e}", frame.api, frame.version),
    }
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
        ApiKey::AlterConfigs => body::<AlterConfigsRequest>(frame),
        ApiKey::IncrementalAlterConfigs => body::<IncrementalAlterConfigsRequest>(frame),
        ApiKey::DeleteRecords => body::<DeleteRecordsRequest>(frame),
        ApiKey::DescribeLogDirs => body::<DescribeLogDirsRequest>(frame),
        ApiKey::CreatePartitions => body::<CreatePartitionsRequest>(frame),
        ApiKey::DescribeCluster => body::<DescribeClusterRequest>(frame),
        ApiKey::DescribeTopicPartitions => body::<DescribeTopicPartitionsRequest>(frame),
        ApiKey::FindCoordinator => body::<FindCoordinatorRequest>(frame),
        ApiKey::JoinGroup => {
            // Members' ConsumerProtocolSubscription metadata is decoded again later
            // (OffsetDelete's "still subscribed" check); do it here, as the broker would.
            let req = decode_body::<JoinGroupRequest>(frame);
            verbose(frame, &req);
            for p in req.iter().flat_map(|r| r.protocols.iter()) {
                let _ = weir::group::subscribed_topics(&p.metadata);
            }
            req.map(drop)
        }
        ApiKey::SyncGroup => body::<SyncGroupRequest>(frame),
        ApiKey::Heartbeat => body::<HeartbeatRequest>(frame),
        ApiKey::LeaveGroup => body::<LeaveGroupRequest>(frame),
        ApiKey::OffsetCommit => body::<OffsetCommitRequest>(frame),
        ApiKey::OffsetFetch => body::<OffsetFetchRequest>(frame),
        ApiKey::OffsetDelete => body::<OffsetDeleteRequest>(frame),
        ApiKey::ListGroups => body::<ListGroupsRequest>(frame),
        ApiKey::DescribeGroups => body::<DescribeGroupsRequest>(frame),
        ApiKey::DeleteGroups => body::<DeleteGroupsRequest>(frame),
        ApiKey::ConsumerGroupHeartbeat => body::<ConsumerGroupHeartbeatRequest>(frame),
        ApiKey::ConsumerGroupDescribe => body::<ConsumerGroupDescribeRequest>(frame),
        ApiKey::InitProducerId => body::<InitProducerIdRequest>(frame),
        ApiKey::AddPartitionsToTxn => body::<AddPartitionsToTxnRequest>(frame),
        ApiKey::AddOffsetsToTxn => body::<AddOffsetsToTxnRequest>(frame),
        ApiKey::EndTxn => body::<EndTxnRequest>(frame),
        ApiKey::TxnOffsetCommit => body::<TxnOffsetCommitRequest>(frame),
        ApiKey::DescribeTransactions => body::<DescribeTransactionsRequest>(frame),
        ApiKey::ListTransactions => body::<ListTransactionsRequest>(frame),
        ApiKey::DescribeProducers => body::<DescribeProducersRequest>(frame),
        other => {
            // parse_frame only lets through what SUPPORTED lists, so an API reaching this arm was
            // added to the table and not here: fail loudly so the harness gets updated.
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
        if VERBOSE.load(Ordering::Relaxed) {
            RESERVED_BEFORE.store(weir::alloc_guard::reservations_made(), Ordering::Relaxed);
        }
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
