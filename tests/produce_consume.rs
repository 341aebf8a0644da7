//! librdkafka (the `rdkafka` crate) against an in-process broker: produce with every codec,
//! consume back byte-identical and in order, across a restart; offsets for timestamps.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::TestBroker;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

type Rec = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(String, Option<Vec<u8>>)>,
);

fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    let res = futures::executor::block_on(admin.create_topics([&topic], &AdminOptions::new()))
        .expect("create_topics");
    for r in res {
        r.expect("topic created");
    }
}

fn record(i: usize) -> Rec {
    let key = (!i.is_multiple_of(7)).then(|| format!("key-{i}").into_bytes());
    let value = (!i.is_multiple_of(11)).then(|| {
        let mut v = format!("value-{i}-").into_bytes();
        v.extend((0..(i % 200)).map(|j| (i + j) as u8));
        v
    });
    let headers = if i.is_multiple_of(3) {
        vec![
            ("h1".to_string(), Some(format!("hv{i}").into_bytes())),
            ("h-null".to_string(), None),
        ]
    } else {
        vec![]
    };
    (key, value, headers)
}

fn produce(
    bootstrap: &str,
    topic: &str,
    codec: &str,
    range: std::ops::Range<usize>,
    partitions: usize,
    expected: &mut HashMap<i32, Vec<Rec>>,
) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("compression.type", codec)
        .set("linger.ms", "5")
        .set("acks", "all")
        .create()
        .expect("producer");
    for i in range {
        let (key, value, headers) = record(i);
        let p = (i % partitions) as i32;
        let mut h = OwnedHeaders::new();
        for (k, v) in &headers {
            h = h.insert(Header {
                key: k,
                value: v.as_deref(),
            });
        }
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).partition(p);
        if let Some(k) = &key {
            rec = rec.key(k.as_slice());
        }
        if let Some(v) = &value {
            rec = rec.payload(v.as_slice());
        }
        if !headers.is_empty() {
            rec = rec.headers(h);
        }
        let mut rec = rec;
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((e, r)) => {
                    assert!(
                        matches!(
                            e,
                            rdkafka::error::KafkaError::MessageProduction(
                                rdkafka::types::RDKafkaErrorCode::QueueFull
                            )
                        ),
                        "send failed: {e}"
                    );
                    producer.poll(Duration::from_millis(10));
                    rec = r;
                }
            }
        }
        expected.entry(p).or_default().push((key, value, headers));
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
}

fn consume_all(bootstrap: &str, topic: &str, expected: &HashMap<i32, Vec<Rec>>) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.auto.commit", "false")
        .set("group.id", "unused-assign-only")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in expected.keys() {
        tpl.add_partition_offset(topic, *p, Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let total: usize = expected.values().map(Vec::len).sum();
    let mut got: HashMap<i32, Vec<(i64, Rec)>> = HashMap::new();
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while n < total {
        assert!(
            Instant::now() < deadline,
            "only {n} of {total} records consumed"
        );
        let Some(m) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let m = m.expect("consume error");
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|x| (x.key.to_string(), x.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        got.entry(m.partition()).or_default().push((
            m.offset(),
            (
                m.key().map(<[u8]>::to_vec),
                m.payload().map(<[u8]>::to_vec),
                headers,
            ),
        ));
        n += 1;
    }
    for (p, want) in expected {
        let have = &got[p];
        assert_eq!(have.len(), want.len(), "partition {p} count");
        for (i, ((off, rec), w)) in have.iter().zip(want).enumerate() {
            assert_eq!(
                *off, i as i64,
                "partition {p} offsets must be dense and ordered"
            );
            assert_eq!(rec, w, "partition {p} offset {off} differs");
        }
    }
}

#[test]
fn every_codec_round_trips_100k_records_across_restart() {
    let mut broker = TestBroker::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "roundtrip", 4);
    let mut expected = HashMap::new();
    let codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
    for (i, codec) in codecs.iter().enumerate() {
        produce(
            &bootstrap,
            "roundtrip",
            codec,
            i * 20_000..(i + 1) * 20_000,
            4,
            &mut expected,
        );
    }
    consume_all(&bootstrap, "roundtrip", &expected);
    broker.restart();
    consume_all(&broker.bootstrap(), "roundtrip", &expected);
}

#[test]
fn offsets_for_times_find_the_first_record_at_or_after() {
    let broker = TestBroker::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "times", 1);
    let t0 = 1_700_000_000_000i64;
    for codec in ["none", "zstd"] {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("compression.type", codec)
            .set("linger.ms", "50")
            .create()
            .expect("producer");
        let base = if codec == "none" { 0 } else { 10 };
        for i in 0..10i64 {
            let ts = t0 + (base + i) * 1000;
            producer
                .send(
                    BaseRecord::<(), [u8]>::to("times")
                        .payload(b"x".as_slice())
                        .timestamp(ts),
                )
                .expect("send");
        }
        producer.flush(Duration::from_secs(30)).expect("flush");
    }
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "unused")
        .create()
        .expect("consumer");
    let lookup = |ts: i64| -> Offset {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("times", 0, Offset::Offset(ts))
            .expect("tpl");
        let r = consumer
            .offsets_for_times(tpl, Duration::from_secs(10))
            .expect("offsets_for_times");
        r.find_partition("times", 0).expect("partition").offset()
    };
    assert_eq!(lookup(t0), Offset::Offset(0));
    assert_eq!(lookup(t0 + 3500), Offset::Offset(4));
    assert_eq!(lookup(t0 + 12_000), Offset::Offset(12));
    assert_eq!(lookup(t0 + 19_000), Offset::Offset(19));
    assert_eq!(lookup(t0 + 50_000), Offset::End);
    let (lo, hi) = consumer
        .fetch_watermarks("times", 0, Duration::from_secs(10))
        .expect("watermarks");
    assert_eq!((lo, hi), (0, 20));
}
