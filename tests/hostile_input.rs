//! Malformed, oversized and lying frames: each gets a closed connection or Kafka's error code,
//! and the broker keeps serving everyone else.

mod common;

use std::io::Write;
use std::time::Duration;

use bytes::BufMut;
use common::{raw_header, RawClient, TestBroker};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

fn api_versions_ok(broker: &TestBroker) {
    let mut c = RawClient::connect(broker.addr());
    let r: ApiVersionsResponse = c.call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    assert_eq!(r.error_code, 0);
    assert!(r
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::Produce as i16));
}

fn assert_closed_after(broker: &TestBroker, payload: &[u8], what: &str) {
    let mut c = RawClient::connect(broker.addr());
    c.send_frame(payload).expect("send");
    assert!(c.is_closed(), "{what}: broker should close the connection");
    api_versions_ok(broker);
}

#[test]
fn hostile_frames_close_only_their_connection() {
    let broker = TestBroker::start_with(&[("socket.request.max.bytes", "1048576")]);

    // A bystander connection opened before the attacks must keep working after them.
    let mut bystander = RawClient::connect(broker.addr());
    let _: ApiVersionsResponse =
        bystander.call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());

    // Oversized length prefix: refused before the body is read or allocated.
    let mut c = RawClient::connect(broker.addr());
    c.stream
        .write_all(&(100 * 1024 * 1024i32).to_be_bytes())
        .unwrap();
    assert!(c.is_closed(), "oversized frame");
    let mut c = RawClient::connect(broker.addr());
    c.stream.write_all(&(-5i32).to_be_bytes()).unwrap();
    assert!(c.is_closed(), "negative frame length");

    assert_closed_after(&broker, &raw_header(999, 0), "unknown API key");
    assert_closed_after(
        &broker,
        &raw_header(ApiKey::Metadata as i16, 99),
        "unsupported version",
    );
    assert_closed_after(
        &broker,
        &raw_header(ApiKey::Produce as i16, 2),
        "Produce v2",
    );
    assert_closed_after(&broker, &[0, 3], "frame shorter than a header");

    // Lying array counts (non-flexible and flexible encodings).
    let mut f = raw_header(ApiKey::Metadata as i16, 1);
    f.put_i32(i32::MAX);
    assert_closed_after(&broker, &f, "Metadata v1 claiming 2^31-1 topics");
    let mut f = raw_header(ApiKey::Metadata as i16, 12);
    f.put_u8(0);
    f.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_closed_after(&broker, &f, "Metadata v12 with a 2^32 compact array");
    let mut f = raw_header(ApiKey::Produce as i16, 7);
    f.put_i16(-1); // transactional id
    f.put_i16(1);
    f.put_i32(1000);
    f.put_i32(1); // one topic
    f.put_i16(1);
    f.put_u8(b't');
    f.put_i32(i32::MAX - 1); // partitions
    assert_closed_after(&broker, &f, "Produce v7 claiming 2^31 partitions");
    let mut f = raw_header(ApiKey::CreateTopics as i16, 4);
    f.put_i32(1);
    f.put_i16(1);
    f.put_u8(b't');
    f.put_i32(1);
    f.put_i16(1);
    f.put_i32(0);
    f.put_i32(0x7fff_0000); // configs
    assert_closed_after(&broker, &f, "CreateTopics with a huge config array");

    // Seeded garbage bodies behind valid headers of every served API and version.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for api in weir::protocol::SUPPORTED {
        for v in api.min..=api.max {
            let mut f = raw_header(api.key as i16, v);
            let n = (rnd() % 64) as usize;
            for _ in 0..n {
                f.put_u8(rnd() as u8);
            }
            let mut c = RawClient::connect(broker.addr());
            c.send_frame(&f).unwrap();
            // Either a response or a close; what matters is that nothing else breaks.
            let _ = c.read_frame();
        }
    }

    let _: ApiVersionsResponse =
        bystander.call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    api_versions_ok(&broker);

    // And a real client still produces.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .unwrap();
    producer
        .send(BaseRecord::<(), [u8]>::to("after-attack").payload(b"still here".as_slice()))
        .unwrap();
    producer
        .flush(Duration::from_secs(30))
        .expect("produce after hostile frames");
}

#[test]
fn api_versions_newer_than_ours_gets_v0_unsupported_version() {
    let broker = TestBroker::start();
    let mut c = RawClient::connect(broker.addr());
    let mut f = raw_header(ApiKey::ApiVersions as i16, 77);
    f.extend_from_slice(&[0, 0, 0]);
    c.send_frame(&f).unwrap();
    let mut resp = c.read_frame().unwrap();
    use kafka_protocol::protocol::Decodable;
    let h = ResponseHeader::decode(&mut resp, 0).unwrap();
    assert_eq!(h.correlation_id, 99);
    let r = ApiVersionsResponse::decode(&mut resp, 0).unwrap();
    assert_eq!(r.error_code, 35);
    assert_eq!(r.api_keys.len(), 1);
    assert_eq!(r.api_keys[0].api_key, ApiKey::ApiVersions as i16);
    assert_eq!(r.api_keys[0].max_version, 4);
}

fn produce_raw(c: &mut RawClient, topic: &str, records: bytes::Bytes) -> i16 {
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(records);
    let mut td = TopicProduceData::default();
    td.name = TopicName(StrBytes::from_string(topic.into()));
    td.partition_data = vec![pd];
    let mut req = ProduceRequest::default();
    req.acks = 1;
    req.timeout_ms = 5000;
    req.topic_data = vec![td];
    let r: ProduceResponse = c.call(ApiKey::Produce, 9, &req);
    r.responses[0].partition_responses[0].error_code
}

#[test]
fn bad_batches_get_kafka_error_codes_and_the_connection_stays() {
    let broker = TestBroker::start_with(&[("message.max.bytes", "2000")]);
    let mut c = RawClient::connect(broker.addr());
    let mut req = MetadataRequest::default();
    let mut t = kafka_protocol::messages::metadata_request::MetadataRequestTopic::default();
    t.name = Some(TopicName(StrBytes::from_static_str("bad-batches")));
    req.topics = Some(vec![t]);
    req.allow_auto_topic_creation = true;
    let m: MetadataResponse = c.call(ApiKey::Metadata, 12, &req);
    assert_eq!(m.topics[0].error_code, 0);

    let good = {
        use kafka_protocol::records::*;
        let rec = Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: 0,
            sequence: -1,
            timestamp: 1,
            key: None,
            value: Some(bytes::Bytes::from_static(b"v")),
            headers: Default::default(),
        };
        let mut b = bytes::BytesMut::new();
        RecordBatchEncoder::encode(
            &mut b,
            [&rec],
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )
        .unwrap();
        b.freeze()
    };
    assert_eq!(produce_raw(&mut c, "bad-batches", good.clone()), 0);
    let mut bad_crc = good.to_vec();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    assert_eq!(
        produce_raw(&mut c, "bad-batches", bad_crc.into()),
        2,
        "CORRUPT_MESSAGE"
    );
    let mut two = good.to_vec();
    two.extend_from_slice(&good);
    assert_eq!(
        produce_raw(&mut c, "bad-batches", two.into()),
        87,
        "INVALID_RECORD"
    );
    let mut big = good.to_vec();
    big.resize(3000, 0);
    assert_eq!(
        produce_raw(&mut c, "bad-batches", big.into()),
        10,
        "MESSAGE_TOO_LARGE"
    );
    let mut magic1 = good.to_vec();
    magic1[16] = 1;
    assert_eq!(produce_raw(&mut c, "bad-batches", magic1.into()), 43);
    assert_eq!(
        produce_raw(&mut c, "no-such-topic", good.clone()),
        3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
    assert_eq!(
        produce_raw(&mut c, "bad-batches", good),
        0,
        "connection still serves"
    );
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Batches found by the fuzzer (valid CRC, lying record internals): a record claiming 2^31-1
/// headers, and a xerial snappy block declaring 4 GiB. They used to crash the broker on a
/// compacted topic, and on any topic at the next ListOffsets by timestamp.
#[test]
fn batches_with_lying_record_internals_do_not_crash_the_broker() {
    let broker = TestBroker::start();
    let mut c = RawClient::connect(broker.addr());
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = TopicName(StrBytes::from_static_str("compacted"));
    t.num_partitions = 1;
    t.replication_factor = 1;
    let mut cfg = create_topics_request::CreatableTopicConfig::default();
    cfg.name = StrBytes::from_static_str("cleanup.policy");
    cfg.value = Some(StrBytes::from_static_str("compact"));
    t.configs = vec![cfg];
    let mut plain = create_topics_request::CreatableTopic::default();
    plain.name = TopicName(StrBytes::from_static_str("plain"));
    plain.num_partitions = 1;
    plain.replication_factor = 1;
    let r: CreateTopicsResponse = c.call(
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_topics(vec![t, plain])
            .with_timeout_ms(5000),
    );
    assert!(r.topics.iter().all(|t| t.error_code == 0));
    let headers = hex("00000000000000000000003c000000000249d5b81b0000000000000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff00000001140000000101feffffff0f");
    let snappy = hex("00000000000000000000004a00000000026a6dedfb0002000000000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff0000000182534e4150505900000000010000000100000005ffffffff0f");
    for batch in [&headers, &snappy] {
        let code = produce_raw(&mut c, "compacted", bytes::Bytes::from(batch.clone()));
        assert_ne!(code, 0, "a compacted topic must refuse what it cannot read");
        let _ = produce_raw(&mut c, "plain", bytes::Bytes::from(batch.clone()));
    }
    // Timestamp lookups walk the stored records.
    let mut p = list_offsets_request::ListOffsetsPartition::default();
    p.partition_index = 0;
    p.timestamp = 0;
    p.current_leader_epoch = -1;
    let mut lt = list_offsets_request::ListOffsetsTopic::default();
    lt.name = TopicName(StrBytes::from_static_str("plain"));
    lt.partitions = vec![p];
    let _: ListOffsetsResponse = c.call(
        ApiKey::ListOffsets,
        7,
        &ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![lt]),
    );
    api_versions_ok(&broker);
    // Clients cannot write to the coordinators' internal topics.
    let mut fc = FindCoordinatorRequest::default();
    fc.key = StrBytes::from_static_str("g");
    let _: FindCoordinatorResponse = c.call(ApiKey::FindCoordinator, 3, &fc);
    assert_eq!(
        produce_raw(&mut c, "__consumer_offsets", bytes::Bytes::from(snappy)),
        17
    );
}
