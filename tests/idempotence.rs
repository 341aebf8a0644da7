//! Idempotent producers: InitProducerId, sequence deduplication when responses are lost, stale
//! epochs and gaps refused, and deduplication state surviving a restart.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{RawClient, TestBroker};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

fn consume_all(bootstrap: &str, topic: &str, n: usize) -> Vec<String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    // Anything beyond n would be a duplicate: give it a moment to show up.
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    out
}

#[test]
fn lost_responses_are_retried_without_duplicates_or_reordering() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &b)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("batch.num.messages", "100")
        .create()
        .unwrap();
    // Warm up so the producer has its id and metadata.
    p.send(
        BaseRecord::<(), str>::to("exactly-once")
            .payload("0")
            .partition(0),
    )
    .unwrap();
    p.flush(Duration::from_secs(30)).unwrap();
    // Drop the connection after several produce requests were applied, mid-stream.
    broker
        .handle
        .as_ref()
        .unwrap()
        .state()
        .faults
        .drop_produce_responses(5);
    for i in 1..5000 {
        let v = i.to_string();
        loop {
            match p.send(
                BaseRecord::<(), str>::to("exactly-once")
                    .payload(&v)
                    .partition(0),
            ) {
                Ok(()) => break,
                Err(_) => {
                    p.poll(Duration::from_millis(5));
                }
            }
        }
        if i % 100 == 0 {
            p.poll(Duration::ZERO);
        }
    }
    p.flush(Duration::from_secs(60))
        .expect("every record acknowledged");
    let got = consume_all(&b, "exactly-once", 5000);
    let want: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
    assert_eq!(got.len(), 5000, "no record lost or duplicated");
    assert_eq!(got, want, "in order");
}

fn batch(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
    let recs: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
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
            value: Some(Bytes::from_static(b"v")),
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

fn produce(c: &mut RawClient, records: Bytes) -> (i16, i64) {
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(records);
    let mut td = TopicProduceData::default();
    td.name = TopicName(StrBytes::from_static_str("seq"));
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
    (p.error_code, p.base_offset)
}

#[test]
fn sequences_and_epochs_are_enforced_across_restart() {
    let mut broker = TestBroker::start();
    let mut c = RawClient::connect(broker.addr());
    let r: InitProducerIdResponse = c.call(
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    );
    assert_eq!(r.error_code, 0);
    let pid = r.producer_id.0;
    let r2: InitProducerIdResponse = c.call(
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    );
    assert_ne!(r2.producer_id.0, pid, "fresh ids");
    let mut t = metadata_request::MetadataRequestTopic::default();
    t.name = Some(TopicName(StrBytes::from_static_str("seq")));
    let _: MetadataResponse = c.call(
        ApiKey::Metadata,
        12,
        &MetadataRequest::default()
            .with_topics(Some(vec![t]))
            .with_allow_auto_topic_creation(true),
    );

    assert_eq!(produce(&mut c, batch(pid, 0, 0, 3)), (0, 0));
    assert_eq!(produce(&mut c, batch(pid, 0, 3, 2)), (0, 3));
    assert_eq!(
        produce(&mut c, batch(pid, 0, 0, 3)),
        (0, 0),
        "duplicate: original offset, not written again"
    );
    assert_eq!(
        produce(&mut c, batch(pid, 0, 9, 1)).0,
        45,
        "OUT_OF_ORDER_SEQUENCE_NUMBER"
    );
    broker.restart();
    let mut c = RawClient::connect(broker.addr());
    assert_eq!(
        produce(&mut c, batch(pid, 0, 3, 2)),
        (0, 3),
        "dedup state survives restart"
    );
    assert_eq!(produce(&mut c, batch(pid, 0, 5, 1)), (0, 5));
    assert_eq!(
        produce(&mut c, batch(pid, 1, 0, 1)),
        (0, 6),
        "new epoch starts at 0"
    );
    assert_eq!(
        produce(&mut c, batch(pid, 0, 6, 1)).0,
        47,
        "INVALID_PRODUCER_EPOCH"
    );
    let r: ListOffsetsResponse = {
        let mut p = list_offsets_request::ListOffsetsPartition::default();
        p.partition_index = 0;
        p.timestamp = -1;
        p.current_leader_epoch = -1;
        let mut t = list_offsets_request::ListOffsetsTopic::default();
        t.name = TopicName(StrBytes::from_static_str("seq"));
        t.partitions = vec![p];
        c.call(
            ApiKey::ListOffsets,
            7,
            &ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(vec![t]),
        )
    };
    assert_eq!(r.topics[0].partitions[0].offset, 7);
}
