//! Fetch semantics over the raw protocol: long polls woken by appends, byte limits with the
//! first-batch-always-fits rule, incremental fetch sessions, out-of-range offsets.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{RawClient, TestBroker};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::*;

fn batch(n: usize, value_len: usize) -> Bytes {
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
            timestamp: 1000,
            key: None,
            value: Some(Bytes::from(vec![b'x'; value_len])),
            headers: Default::default(),
        })
        .collect();
    let mut b = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut b,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    b.freeze()
}

fn setup(broker: &TestBroker, topic: &str, partitions: i32) -> RawClient {
    let mut c = RawClient::connect(broker.addr());
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.into()));
    t.num_partitions = partitions;
    t.replication_factor = 1;
    let r: CreateTopicsResponse = c.call(
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_topics(vec![t])
            .with_timeout_ms(5000),
    );
    assert_eq!(r.topics[0].error_code, 0);
    c
}

fn produce(c: &mut RawClient, topic: &str, partition: i32, records: Bytes) -> i64 {
    let mut pd = PartitionProduceData::default();
    pd.index = partition;
    pd.records = Some(records);
    let mut td = TopicProduceData::default();
    td.name = TopicName(StrBytes::from_string(topic.into()));
    td.partition_data = vec![pd];
    let r: ProduceResponse = c.call(
        ApiKey::Produce,
        9,
        &ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![td]),
    );
    let p = &r.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0);
    p.base_offset
}

fn fetch_req(
    topic: &str,
    parts: &[(i32, i64)],
    max_wait: i32,
    max_bytes: i32,
    part_max: i32,
) -> FetchRequest {
    let mut t = FetchTopic::default();
    t.topic = TopicName(StrBytes::from_string(topic.into()));
    t.partitions = parts
        .iter()
        .map(|(p, off)| {
            let mut fp = FetchPartition::default();
            fp.partition = *p;
            fp.fetch_offset = *off;
            fp.partition_max_bytes = part_max;
            fp.current_leader_epoch = -1;
            fp.log_start_offset = -1;
            fp
        })
        .collect();
    let mut r = FetchRequest::default();
    r.replica_id = BrokerId(-1);
    r.max_wait_ms = max_wait;
    r.min_bytes = 1;
    r.max_bytes = max_bytes;
    r.session_id = 0;
    r.session_epoch = -1;
    r.topics = vec![t];
    r
}

#[test]
fn long_poll_returns_when_data_arrives_not_at_the_deadline() {
    let broker = TestBroker::start();
    let mut c = setup(&broker, "poll", 1);
    let addr = broker.addr();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let mut w = RawClient::connect(addr);
        produce(&mut w, "poll", 0, batch(3, 10));
    });
    let started = Instant::now();
    // A 20 s wait that must end because data arrived, not because it timed out.
    let r: FetchResponse = c.call(
        ApiKey::Fetch,
        12,
        &fetch_req("poll", &[(0, 0)], 20_000, 1 << 20, 1 << 20),
    );
    let waited = started.elapsed();
    writer.join().unwrap();
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    assert_eq!(p.high_watermark, 3);
    assert!(!p.records.as_ref().unwrap().is_empty());
    assert!(
        waited < Duration::from_secs(15),
        "woken by the append, waited {waited:?}"
    );

    // With nothing arriving, max_wait_ms bounds the wait and an empty answer comes back.
    let r: FetchResponse = c.call(
        ApiKey::Fetch,
        12,
        &fetch_req("poll", &[(0, 3)], 100, 1 << 20, 1 << 20),
    );
    assert!(r.responses[0].partitions[0]
        .records
        .as_ref()
        .unwrap()
        .is_empty());
}

#[test]
fn byte_limits_keep_whole_batches_and_the_first_always_fits() {
    let broker = TestBroker::start();
    let mut c = setup(&broker, "limits", 2);
    let big = batch(1, 5000);
    let one = big.len();
    for _ in 0..4 {
        produce(&mut c, "limits", 0, big.clone());
    }
    produce(&mut c, "limits", 1, batch(1, 10));
    // Partition limit smaller than one batch: the first batch still comes back whole.
    let r: FetchResponse = c.call(
        ApiKey::Fetch,
        12,
        &fetch_req("limits", &[(0, 0)], 0, 1 << 20, 100),
    );
    assert_eq!(
        r.responses[0].partitions[0].records.as_ref().unwrap().len(),
        one
    );
    // Room for two and a half: two whole batches.
    let r: FetchResponse = c.call(
        ApiKey::Fetch,
        12,
        &fetch_req("limits", &[(0, 1)], 0, 1 << 20, (one * 5 / 2) as i32),
    );
    assert_eq!(
        r.responses[0].partitions[0].records.as_ref().unwrap().len(),
        one * 2
    );
    // Response limit used up by partition 0: partition 1 reports offsets but no records.
    let r: FetchResponse = c.call(
        ApiKey::Fetch,
        12,
        &fetch_req("limits", &[(0, 0), (1, 0)], 0, one as i32, 1 << 20),
    );
    let parts = &r.responses[0].partitions;
    assert_eq!(parts[0].records.as_ref().unwrap().len(), one);
    assert!(parts[1].records.as_ref().unwrap().is_empty());
    assert_eq!(parts[1].high_watermark, 1);
    // Out of range.
    let r: FetchResponse = c.call(
        ApiKey::Fetch,
        12,
        &fetch_req("limits", &[(0, 99)], 0, 1 << 20, 1 << 20),
    );
    assert_eq!(r.responses[0].partitions[0].error_code, 1);
    // Fetch v13+ addresses topics by id.
    let md: MetadataResponse = c.call(
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(None),
    );
    let id = md
        .topics
        .iter()
        .find(|t| t.name.as_ref().unwrap().0.as_str() == "limits")
        .unwrap()
        .topic_id;
    let mut req = fetch_req("", &[(1, 0)], 0, 1 << 20, 1 << 20);
    req.topics[0].topic_id = id;
    let r: FetchResponse = c.call(ApiKey::Fetch, 16, &req);
    assert_eq!(r.responses[0].topic_id, id);
    assert!(!r.responses[0].partitions[0]
        .records
        .as_ref()
        .unwrap()
        .is_empty());
}

#[test]
fn incremental_fetch_sessions_send_only_changes() {
    let broker = TestBroker::start();
    let mut c = setup(&broker, "sess", 3);
    for p in 0..3 {
        produce(&mut c, "sess", p, batch(2, 10));
    }
    let mut req = fetch_req("sess", &[(0, 0), (1, 0), (2, 0)], 0, 1 << 20, 1 << 20);
    req.session_id = 0;
    req.session_epoch = 0;
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &req);
    assert_eq!(r.error_code, 0);
    let id = r.session_id;
    assert_ne!(id, 0, "a session is created");
    assert_eq!(r.responses[0].partitions.len(), 3);

    // Epoch 1: the client moved partition 0 forward; nothing else changed.
    let mut inc = fetch_req("sess", &[(0, 2)], 0, 1 << 20, 1 << 20);
    inc.session_id = id;
    inc.session_epoch = 1;
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &inc);
    assert_eq!(r.session_id, id);
    let total: usize = r.responses.iter().map(|t| t.partitions.len()).sum();
    assert_eq!(
        total, 2,
        "partitions 1 and 2 still have unread data at offset 0; 0 has nothing new"
    );

    // New data on partition 0 only, and partition 2 forgotten.
    produce(&mut c, "sess", 0, batch(1, 10));
    let mut inc = fetch_req("sess", &[(1, 2)], 0, 1 << 20, 1 << 20);
    inc.session_id = id;
    inc.session_epoch = 2;
    let mut f = ForgottenTopic::default();
    f.topic = TopicName(StrBytes::from_static_str("sess"));
    f.partitions = vec![2];
    inc.forgotten_topics_data = vec![f];
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &inc);
    let got: Vec<i32> = r
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.partition_index))
        .collect();
    assert_eq!(got, vec![0], "only the partition with news");

    // Wrong epoch and unknown session are refused with Kafka's codes.
    inc.session_epoch = 9;
    inc.forgotten_topics_data.clear();
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &inc);
    assert_eq!(r.error_code, 71);
    inc.session_id = id.wrapping_add(1);
    inc.session_epoch = 1;
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &inc);
    assert_eq!(r.error_code, 70);
}

#[test]
fn fetch_max_bytes_bounds_every_response() {
    let broker = TestBroker::start_with(&[("fetch.max.bytes", "20000")]);
    let mut c = setup(&broker, "capped", 1);
    let big = batch(1, 5000);
    for _ in 0..10 {
        produce(&mut c, "capped", 0, big.clone());
    }
    // The client asks for everything; the broker answers at most fetch.max.bytes (whole batches).
    let r: FetchResponse = c.call(
        ApiKey::Fetch,
        12,
        &fetch_req("capped", &[(0, 0)], 0, i32::MAX, i32::MAX),
    );
    let n = r.responses[0].partitions[0].records.as_ref().unwrap().len();
    assert!(n <= 20000 && n >= big.len(), "{n} bytes");
}
