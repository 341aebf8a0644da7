//! Transactions v2 (KIP-890) as the Java 4.x client speaks it: the `transaction.version`
//! feature in ApiVersions, partitions joining implicitly with Produce v12 and TxnOffsetCommit v5
//! (no AddPartitionsToTxn / AddOffsetsToTxn), an epoch bump on every EndTxn v5 with the next
//! epoch in the response, retried EndTxns answered, producer-id rotation when the epoch runs
//! out, and verification (KIP-890 part 1) refusing writes outside a transaction for older
//! Produce versions.

mod common;

use bytes::Bytes;
use common::{RawClient, TestBroker};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::*;

const TOPIC: &str = "tv2";

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn txn_batch(pid: i64, epoch: i16, seq: i32, values: &[&str]) -> Bytes {
    let recs: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: true,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: seq + i as i32,
            timestamp: 1000,
            key: None,
            value: Some(Bytes::from(v.to_string())),
            headers: Default::default(),
        })
        .collect();
    let mut b = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut b,
        &recs,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    b.freeze()
}

fn produce(c: &mut RawClient, version: i16, txn: &str, partition: i32, records: Bytes) -> i16 {
    let mut pd = PartitionProduceData::default();
    pd.index = partition;
    pd.records = Some(records);
    let mut td = TopicProduceData::default();
    td.name = TopicName(s(TOPIC));
    td.partition_data = vec![pd];
    let r: ProduceResponse = c.call(
        ApiKey::Produce,
        version,
        &ProduceRequest::default()
            .with_transactional_id(Some(TransactionalId(s(txn))))
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![td]),
    );
    r.responses[0].partition_responses[0].error_code
}

fn init(c: &mut RawClient, txn: &str) -> (i64, i16) {
    let r: InitProducerIdResponse = c.call(
        ApiKey::InitProducerId,
        5,
        &InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(s(txn))))
            .with_transaction_timeout_ms(60000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    );
    assert_eq!(r.error_code, 0);
    (r.producer_id.0, r.producer_epoch)
}

/// EndTxn at `version`: (error, producer id, epoch) from the response.
fn end(
    c: &mut RawClient,
    version: i16,
    txn: &str,
    pid: i64,
    epoch: i16,
    commit: bool,
) -> (i16, i64, i16) {
    let r: EndTxnResponse = c.call(
        ApiKey::EndTxn,
        version,
        &EndTxnRequest::default()
            .with_transactional_id(TransactionalId(s(txn)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_committed(commit),
    );
    (r.error_code, r.producer_id.0, r.producer_epoch)
}

/// Values a read_committed (isolation 1) or read_uncommitted (0) fetch returns from offset 0.
fn fetch_values(c: &mut RawClient, partition: i32, isolation: i8) -> Vec<String> {
    let mut fp = fetch_request::FetchPartition::default();
    fp.partition = partition;
    fp.fetch_offset = 0;
    fp.partition_max_bytes = 1 << 20;
    fp.log_start_offset = -1;
    fp.current_leader_epoch = -1;
    fp.last_fetched_epoch = -1;
    let mut ft = fetch_request::FetchTopic::default();
    ft.topic = TopicName(s(TOPIC));
    ft.partitions = vec![fp];
    let r: FetchResponse = c.call(
        ApiKey::Fetch,
        12,
        &FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_isolation_level(isolation)
            .with_topics(vec![ft]),
    );
    let p = &r.responses[0].partitions[0];
    let aborted: Vec<(i64, i64)> = p
        .aborted_transactions
        .iter()
        .flatten()
        .map(|a| (a.producer_id.0, a.first_offset))
        .collect();
    let mut out = Vec::new();
    let mut records = p.records.clone().unwrap_or_default();
    let set = RecordBatchDecoder::decode_all(&mut records).unwrap();
    for batch in set {
        for rec in batch.records {
            if rec.control {
                continue;
            }
            // read_committed clients drop the aborted transactions' records themselves.
            let dropped = isolation == 1
                && aborted
                    .iter()
                    .any(|(pid, first)| *pid == rec.producer_id && rec.offset >= *first);
            if !dropped {
                out.push(String::from_utf8_lossy(rec.value.as_deref().unwrap_or_default()).into());
            }
        }
    }
    out
}

fn describe_state(c: &mut RawClient, txn: &str) -> (String, i16, usize) {
    let r: DescribeTransactionsResponse = c.call(
        ApiKey::DescribeTransactions,
        0,
        &DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![TransactionalId(s(txn))]),
    );
    let t = &r.transaction_states[0];
    (
        t.transaction_state.to_string(),
        t.producer_epoch,
        t.topics.iter().map(|x| x.partitions.len()).sum(),
    )
}

fn create_topic(c: &mut RawClient) {
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = TopicName(s(TOPIC));
    t.num_partitions = 3;
    t.replication_factor = 1;
    let r: CreateTopicsResponse = c.call(
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_topics(vec![t])
            .with_timeout_ms(5000),
    );
    assert_eq!(r.topics[0].error_code, 0);
}

#[test]
fn the_transaction_version_feature_is_advertised() {
    let broker = TestBroker::start();
    let mut c = RawClient::connect(broker.addr());
    let r: ApiVersionsResponse = c.call(ApiKey::ApiVersions, 4, &ApiVersionsRequest::default());
    assert!(r.finalized_features_epoch >= 0);
    let finalized = |name: &str| {
        r.finalized_features
            .iter()
            .find(|f| f.name.as_str() == name)
            .map(|f| (f.min_version_level, f.max_version_level))
    };
    assert_eq!(finalized("transaction.version"), Some((2, 2)));
    assert!(finalized("metadata.version").is_some());
    let tv = r
        .supported_features
        .iter()
        .find(|f| f.name.as_str() == "transaction.version")
        .unwrap();
    assert_eq!((tv.min_version, tv.max_version), (0, 2));
    let max = |k: ApiKey| {
        r.api_keys
            .iter()
            .find(|a| a.api_key == k as i16)
            .unwrap()
            .max_version
    };
    assert!(max(ApiKey::Produce) >= 12);
    assert_eq!(max(ApiKey::EndTxn), 5);
    assert_eq!(max(ApiKey::TxnOffsetCommit), 5);
    // v3 leaves out supported features whose minimum is 0, as Kafka does.
    let r: ApiVersionsResponse = c.call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    let names: Vec<&str> = r
        .supported_features
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, vec!["metadata.version"]);

    // A broker set to transaction.version=1 finalizes that, and clients stay on v1.
    let broker = TestBroker::start_with(&[("transaction.version", "1")]);
    let mut c = RawClient::connect(broker.addr());
    let r: ApiVersionsResponse = c.call(ApiKey::ApiVersions, 4, &ApiVersionsRequest::default());
    let tv = r
        .finalized_features
        .iter()
        .find(|f| f.name.as_str() == "transaction.version")
        .unwrap();
    assert_eq!(tv.max_version_level, 1);
}

#[test]
fn implicit_partitions_and_an_epoch_bump_per_transaction() {
    let mut broker = TestBroker::start();
    let mut c = RawClient::connect(broker.addr());
    create_topic(&mut c);
    let (pid, e0) = init(&mut c, "tx");

    // Transaction 1: Produce v12 adds the partition itself.
    assert_eq!(
        produce(&mut c, 12, "tx", 0, txn_batch(pid, e0, 0, &["a", "b"])),
        0
    );
    assert_eq!(
        produce(&mut c, 12, "tx", 0, txn_batch(pid, e0, 2, &["c"])),
        0
    );
    assert_eq!(describe_state(&mut c, "tx"), ("Ongoing".into(), e0, 1));
    assert!(
        fetch_values(&mut c, 0, 1).is_empty(),
        "not visible before commit"
    );
    assert_eq!(fetch_values(&mut c, 0, 0), vec!["a", "b", "c"]);
    let (err, p1, e1) = end(&mut c, 5, "tx", pid, e0, true);
    assert_eq!(
        (err, p1, e1),
        (0, pid, e0 + 1),
        "EndTxn v5 hands out the next epoch"
    );
    assert_eq!(fetch_values(&mut c, 0, 1), vec!["a", "b", "c"]);
    // A retried EndTxn (the response was lost) is answered with the current epoch.
    assert_eq!(end(&mut c, 5, "tx", pid, e0, true), (0, pid, e1));
    // ... but a retry cannot flip the outcome.
    assert_eq!(
        end(&mut c, 5, "tx", pid, e0, false).0,
        48,
        "INVALID_TXN_STATE"
    );

    // Transaction 2 under the new epoch, sequences from 0, with offsets sent to it (TxnOffsetCommit
    // v5, no AddOffsetsToTxn), then aborted.
    assert_eq!(
        produce(&mut c, 12, "tx", 1, txn_batch(pid, e1, 0, &["x"])),
        0
    );
    assert_eq!(
        produce(&mut c, 12, "tx", 0, txn_batch(pid, e1, 0, &["y"])),
        0
    );
    let mut tp = txn_offset_commit_request::TxnOffsetCommitRequestPartition::default();
    tp.partition_index = 0;
    tp.committed_offset = 3;
    tp.committed_leader_epoch = -1;
    let mut tt = txn_offset_commit_request::TxnOffsetCommitRequestTopic::default();
    tt.name = TopicName(s(TOPIC));
    tt.partitions = vec![tp];
    let r: TxnOffsetCommitResponse = c.call(
        ApiKey::TxnOffsetCommit,
        5,
        &TxnOffsetCommitRequest::default()
            .with_transactional_id(TransactionalId(s("tx")))
            .with_group_id(GroupId(s("readers")))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(e1)
            .with_generation_id(-1)
            .with_member_id(s(""))
            .with_topics(vec![tt]),
    );
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let (state, _, parts) = describe_state(&mut c, "tx");
    assert_eq!(
        (state.as_str(), parts),
        ("Ongoing", 3),
        "two data partitions and the offsets partition"
    );
    // A write with the previous epoch is fenced.
    assert_eq!(
        produce(&mut c, 12, "tx", 2, txn_batch(pid, e0, 3, &["z"])),
        47
    );
    let (err, _, e2) = end(&mut c, 5, "tx", pid, e1, false);
    assert_eq!((err, e2), (0, e1 + 1));
    assert_eq!(fetch_values(&mut c, 1, 1), Vec::<String>::new(), "aborted");
    assert_eq!(fetch_values(&mut c, 1, 0), vec!["x"]);
    assert_eq!(fetch_values(&mut c, 0, 1), vec!["a", "b", "c"]);
    let r: OffsetFetchResponse = c.call(
        ApiKey::OffsetFetch,
        7,
        &OffsetFetchRequest::default()
            .with_group_id(GroupId(s("readers")))
            .with_topics(None),
    );
    assert!(
        r.topics
            .iter()
            .all(|t| t.partitions.iter().all(|p| p.committed_offset == -1)),
        "offsets of an aborted transaction are not committed"
    );

    // Produce below v12 is verified: a partition the producer never added is refused.
    assert_eq!(
        produce(&mut c, 10, "tx", 2, txn_batch(pid, e2, 0, &["v"])),
        48
    );
    assert_eq!(
        produce(&mut c, 11, "tx", 2, txn_batch(pid, e2, 0, &["v"])),
        120
    );
    assert!(fetch_values(&mut c, 2, 0).is_empty(), "nothing written");

    // Aborting with nothing open still moves to a new epoch; committing nothing is refused.
    let (err, _, e3) = end(&mut c, 5, "tx", pid, e2, false);
    assert_eq!((err, e3), (0, e2 + 1));
    assert_eq!(end(&mut c, 5, "tx", pid, e3, true).0, 48);

    // An open transaction survives a restart (in the v1 transaction-log format) and commits.
    assert_eq!(
        produce(&mut c, 12, "tx", 2, txn_batch(pid, e3, 0, &["after"])),
        0
    );
    broker.restart();
    let mut c = RawClient::connect(broker.addr());
    assert_eq!(describe_state(&mut c, "tx"), ("Ongoing".into(), e3, 1));
    assert_eq!(end(&mut c, 5, "tx", pid, e3, true), (0, pid, e3 + 1));
    assert_eq!(fetch_values(&mut c, 2, 1), vec!["after"]);
}

#[test]
fn an_exhausted_epoch_rotates_the_producer_id() {
    let broker = TestBroker::start();
    let mut c = RawClient::connect(broker.addr());
    create_topic(&mut c);
    // Every InitProducerId bumps the epoch; run it up to the last usable one.
    let (pid, mut epoch) = init(&mut c, "old-timer");
    while epoch < i16::MAX - 1 {
        let (p, e) = init(&mut c, "old-timer");
        assert_eq!(p, pid);
        epoch = e;
    }
    assert_eq!(
        produce(
            &mut c,
            12,
            "old-timer",
            0,
            txn_batch(pid, epoch, 0, &["last"])
        ),
        0
    );
    let (err, new_pid, new_epoch) = end(&mut c, 5, "old-timer", pid, epoch, true);
    assert_eq!(err, 0);
    assert_ne!(
        new_pid, pid,
        "a new producer id once the epoch is exhausted"
    );
    assert_eq!(new_epoch, 0);
    // The retry of that EndTxn, under the old id, is recognised.
    assert_eq!(
        end(&mut c, 5, "old-timer", pid, epoch, true),
        (0, new_pid, 0)
    );
    assert_eq!(fetch_values(&mut c, 0, 1), vec!["last"]);
    assert_eq!(
        produce(
            &mut c,
            12,
            "old-timer",
            0,
            txn_batch(new_pid, 0, 0, &["next"])
        ),
        0
    );
    assert_eq!(
        end(&mut c, 5, "old-timer", new_pid, 0, true),
        (0, new_pid, 1)
    );
    assert_eq!(fetch_values(&mut c, 0, 1), vec!["last", "next"]);
}
