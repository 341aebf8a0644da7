//! Topic administration and cluster description through librdkafka's admin client and the raw
//! protocol: CreateTopics, CreatePartitions, DeleteTopics, DescribeConfigs, Metadata, topic ids,
//! DescribeCluster, DescribeLogDirs, DescribeTopicPartitions, OffsetForLeaderEpoch.

mod common;

use std::time::Duration;

use common::{RawClient, TestBroker};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{
    AdminClient, AdminOptions, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin")
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

#[test]
fn topics_are_created_described_grown_and_deleted() {
    let mut broker = TestBroker::start_with(&[("log.retention.hours", "48")]);
    let a = admin(&broker.bootstrap());
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));

    let t1 = NewTopic::new("orders", 3, TopicReplication::Fixed(1))
        .set("cleanup.policy", "delete")
        .set("retention.ms", "60000");
    let t2 = NewTopic::new("replicated", 1, TopicReplication::Fixed(3));
    let t3 = NewTopic::new("bad config", 1, TopicReplication::Fixed(1));
    let t4 = NewTopic::new("badcfg", 1, TopicReplication::Fixed(1)).set("retention.ms", "soon");
    let res = block(a.create_topics([&t1, &t2, &t3, &t4], &opts)).expect("create");
    assert!(res[0].is_ok(), "{:?}", res[0]);
    assert!(
        matches!(
            &res[1],
            Err((
                _,
                rdkafka::types::RDKafkaErrorCode::InvalidReplicationFactor
            ))
        ),
        "{:?}",
        res[1]
    );
    assert!(
        matches!(
            &res[2],
            Err((_, rdkafka::types::RDKafkaErrorCode::InvalidTopic))
        ),
        "{:?}",
        res[2]
    );
    assert!(
        matches!(
            &res[3],
            Err((_, rdkafka::types::RDKafkaErrorCode::InvalidConfig))
        ),
        "{:?}",
        res[3]
    );
    let again = block(a.create_topics([&t1], &opts)).expect("create again");
    assert!(matches!(
        &again[0],
        Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists))
    ));

    let cfgs =
        block(a.describe_configs([&ResourceSpecifier::Topic("orders")], &opts)).expect("describe");
    let cfg = cfgs[0].as_ref().expect("topic config");
    let get = |n: &str| cfg.get(n).unwrap_or_else(|| panic!("{n} missing"));
    assert_eq!(get("retention.ms").value.as_deref(), Some("60000"));
    assert_eq!(
        get("retention.ms").source,
        rdkafka::admin::ConfigSource::DynamicTopic
    );
    assert_eq!(get("segment.bytes").value.as_deref(), Some("1073741824"));
    assert_eq!(
        get("segment.bytes").source,
        rdkafka::admin::ConfigSource::Default
    );
    assert_eq!(get("max.message.bytes").value.as_deref(), Some("1048588"));
    assert!(cfg.entries.len() >= 25, "every topic config is described");

    let cfgs = block(a.describe_configs([&ResourceSpecifier::Topic("replicated")], &opts))
        .expect("describe");
    // The rdkafka crate drops per-resource errors; the raw test below checks the error code.
    assert!(
        cfgs[0].as_ref().map_or(true, |c| c.entries.is_empty()),
        "unknown topic: {:?}",
        cfgs[0]
    );

    let broker_cfg =
        block(a.describe_configs([&ResourceSpecifier::Broker(1)], &opts)).expect("describe broker");
    let bc = broker_cfg[0].as_ref().expect("broker config");
    let hours = bc.get("log.retention.hours").expect("log.retention.hours");
    assert_eq!(hours.value.as_deref(), Some("48"));
    assert_eq!(hours.source, rdkafka::admin::ConfigSource::StaticBroker);
    assert_eq!(
        bc.get("num.partitions").and_then(|e| e.value.as_deref()),
        Some("1")
    );

    let grown =
        block(a.create_partitions([&NewPartitions::new("orders", 5)], &opts)).expect("grow");
    assert!(grown[0].is_ok());
    let shrink =
        block(a.create_partitions([&NewPartitions::new("orders", 2)], &opts)).expect("shrink");
    assert!(matches!(
        &shrink[0],
        Err((_, rdkafka::types::RDKafkaErrorCode::InvalidPartitions))
    ));

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "x")
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(Some("orders"), Duration::from_secs(10))
        .unwrap();
    assert_eq!(md.topics()[0].partitions().len(), 5);

    broker.restart();
    let a = admin(&broker.bootstrap());
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "x")
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(Some("orders"), Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        md.topics()[0].partitions().len(),
        5,
        "partition count survives restart"
    );
    let cfgs =
        block(a.describe_configs([&ResourceSpecifier::Topic("orders")], &opts)).expect("describe");
    assert_eq!(
        cfgs[0]
            .as_ref()
            .unwrap()
            .get("retention.ms")
            .unwrap()
            .value
            .as_deref(),
        Some("60000")
    );

    let del = block(a.delete_topics(&["orders", "nope"], &opts)).expect("delete");
    assert!(del[0].is_ok());
    assert!(matches!(
        &del[1],
        Err((_, rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition))
    ));
    assert!(!broker.data_dir().join("orders-0").exists());
    let md = consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap();
    assert!(md.topics().iter().all(|t| t.name() != "orders"));
}

#[test]
fn metadata_auto_creation_follows_the_settings() {
    let broker = TestBroker::start_with(&[("num.partitions", "3")]);
    let mut c = RawClient::connect(broker.addr());
    let mut t = metadata_request::MetadataRequestTopic::default();
    t.name = Some(TopicName(StrBytes::from_static_str("auto")));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t.clone()]);
    req.allow_auto_topic_creation = false;
    let r: MetadataResponse = c.call(ApiKey::Metadata, 12, &req);
    assert_eq!(r.topics[0].error_code, 3);
    req.allow_auto_topic_creation = true;
    let r: MetadataResponse = c.call(ApiKey::Metadata, 12, &req);
    assert_eq!(r.topics[0].error_code, 0);
    assert_eq!(r.topics[0].partitions.len(), 3);
    assert!(!r.topics[0].topic_id.is_nil());
    assert_eq!(r.brokers.len(), 1);
    assert_eq!(r.brokers[0].port as u16, broker.addr().port());
    let id = r.topics[0].topic_id;

    // v0 has no null topic list; an empty one means all topics.
    let r0: MetadataResponse = c.call(
        ApiKey::Metadata,
        0,
        &MetadataRequest::default().with_topics(Some(vec![])),
    );
    assert!(r0
        .topics
        .iter()
        .any(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some("auto")));

    // Lookup by topic id (v10+).
    let mut by_id = metadata_request::MetadataRequestTopic::default();
    by_id.topic_id = id;
    let r: MetadataResponse = c.call(
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(Some(vec![by_id])),
    );
    assert_eq!(
        r.topics[0].name.as_ref().map(|n| n.0.as_str()),
        Some("auto")
    );

    let off = TestBroker::start_with(&[("auto.create.topics.enable", "false")]);
    let mut c2 = RawClient::connect(off.addr());
    let r: MetadataResponse = c2.call(ApiKey::Metadata, 12, &req);
    assert_eq!(r.topics[0].error_code, 3, "auto.create.topics.enable=false");

    let mut res = describe_configs_request::DescribeConfigsResource::default();
    res.resource_type = 2;
    res.resource_name = StrBytes::from_static_str("missing");
    let r: DescribeConfigsResponse = c.call(
        ApiKey::DescribeConfigs,
        4,
        &DescribeConfigsRequest::default().with_resources(vec![res]),
    );
    assert_eq!(r.results[0].error_code, 3);
    let dc: DescribeClusterResponse = c.call(
        ApiKey::DescribeCluster,
        1,
        &DescribeClusterRequest::default(),
    );
    assert_eq!(dc.brokers.len(), 1);
    assert!(!dc.cluster_id.is_empty());

    let ld: DescribeLogDirsResponse = c.call(
        ApiKey::DescribeLogDirs,
        4,
        &DescribeLogDirsRequest::default().with_topics(None),
    );
    assert_eq!(ld.results.len(), 1);
    assert!(ld.results[0]
        .topics
        .iter()
        .any(|t| t.name.0.as_str() == "auto" && t.partitions.len() == 3));
    assert!(ld.results[0].total_bytes > 0);

    let mut dtp = DescribeTopicPartitionsRequest::default();
    dtp.response_partition_limit = 2;
    let r: DescribeTopicPartitionsResponse = c.call(ApiKey::DescribeTopicPartitions, 0, &dtp);
    assert_eq!(r.topics[0].partitions.len(), 2);
    let cursor = r.next_cursor.expect("cursor when truncated");
    assert_eq!(cursor.partition_index, 2);

    let mut p = offset_for_leader_epoch_request::OffsetForLeaderPartition::default();
    p.partition = 0;
    p.leader_epoch = 0;
    p.current_leader_epoch = 0;
    let mut t = offset_for_leader_epoch_request::OffsetForLeaderTopic::default();
    t.topic = TopicName(StrBytes::from_static_str("auto"));
    t.partitions = vec![p];
    let mut req = OffsetForLeaderEpochRequest::default();
    req.replica_id = BrokerId(-1);
    req.topics = vec![t];
    let r: OffsetForLeaderEpochResponse = c.call(ApiKey::OffsetForLeaderEpoch, 4, &req);
    let e = &r.topics[0].partitions[0];
    assert_eq!((e.error_code, e.leader_epoch, e.end_offset), (0, 0, 0));
}

#[test]
fn configs_are_altered_and_records_deleted() {
    let broker = TestBroker::start();
    let a = admin(&broker.bootstrap());
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let t = NewTopic::new("alter", 1, TopicReplication::Fixed(1)).set("retention.ms", "1000");
    block(a.create_topics([&t], &opts)).unwrap()[0]
        .as_ref()
        .unwrap();

    // AlterConfigs replaces the whole override set.
    let alter = rdkafka::admin::AlterConfig::new(ResourceSpecifier::Topic("alter"))
        .set("segment.bytes", "2097152");
    let r = block(a.alter_configs([&alter], &opts)).unwrap();
    assert!(r[0].is_ok(), "{:?}", r[0]);
    let cfgs = block(a.describe_configs([&ResourceSpecifier::Topic("alter")], &opts)).unwrap();
    let c = cfgs[0].as_ref().unwrap();
    assert_eq!(
        c.get("segment.bytes").unwrap().value.as_deref(),
        Some("2097152")
    );
    assert_eq!(
        c.get("retention.ms").unwrap().source,
        rdkafka::admin::ConfigSource::Default
    );
    // The rdkafka crate drops per-resource errors, so the refusal is checked on the wire.
    let mut c = RawClient::connect(broker.addr());
    let mut bad = alter_configs_request::AlterableConfig::default();
    bad.name = StrBytes::from_static_str("retention.ms");
    bad.value = Some(StrBytes::from_static_str("x"));
    let mut res = alter_configs_request::AlterConfigsResource::default();
    res.resource_type = 2;
    res.resource_name = StrBytes::from_static_str("alter");
    res.configs = vec![bad];
    let r: AlterConfigsResponse = c.call(
        ApiKey::AlterConfigs,
        2,
        &AlterConfigsRequest::default().with_resources(vec![res]),
    );
    assert_eq!(r.responses[0].error_code, 40, "INVALID_CONFIG");
    // A broker setting's name on a topic is refused as Kafka refuses it, naming the topic key.
    let mut broker_name = alter_configs_request::AlterableConfig::default();
    broker_name.name = StrBytes::from_static_str("log.retention.ms");
    broker_name.value = Some(StrBytes::from_static_str("5000"));
    let mut res = alter_configs_request::AlterConfigsResource::default();
    res.resource_type = 2;
    res.resource_name = StrBytes::from_static_str("alter");
    res.configs = vec![broker_name];
    let r: AlterConfigsResponse = c.call(
        ApiKey::AlterConfigs,
        2,
        &AlterConfigsRequest::default().with_resources(vec![res]),
    );
    assert_eq!(r.responses[0].error_code, 40, "INVALID_CONFIG");
    let msg = r.responses[0].error_message.as_deref().unwrap_or_default();
    assert!(
        msg.starts_with("Unknown topic config name: log.retention.ms")
            && msg.contains("the topic-level setting is retention.ms"),
        "{msg}"
    );

    // IncrementalAlterConfigs: SET, APPEND on a list, DELETE.
    let op = |name: &str, op: i8, value: Option<&str>| {
        let mut x = incremental_alter_configs_request::AlterableConfig::default();
        x.name = StrBytes::from_string(name.into());
        x.config_operation = op;
        x.value = value.map(|v| StrBytes::from_string(v.into()));
        x
    };
    let mut res = incremental_alter_configs_request::AlterConfigsResource::default();
    res.resource_type = 2;
    res.resource_name = StrBytes::from_static_str("alter");
    res.configs = vec![
        op("retention.ms", 0, Some("5000")),
        op("cleanup.policy", 2, Some("compact")),
        op("segment.bytes", 1, None),
    ];
    let r: IncrementalAlterConfigsResponse = c.call(
        ApiKey::IncrementalAlterConfigs,
        1,
        &IncrementalAlterConfigsRequest::default().with_resources(vec![res]),
    );
    assert_eq!(
        r.responses[0].error_code, 0,
        "{:?}",
        r.responses[0].error_message
    );
    let cfgs = block(a.describe_configs([&ResourceSpecifier::Topic("alter")], &opts)).unwrap();
    let cf = cfgs[0].as_ref().unwrap();
    assert_eq!(
        cf.get("retention.ms").unwrap().value.as_deref(),
        Some("5000")
    );
    assert_eq!(
        cf.get("cleanup.policy").unwrap().value.as_deref(),
        Some("delete,compact")
    );
    assert_eq!(
        cf.get("segment.bytes").unwrap().value.as_deref(),
        Some("1073741824")
    );

    // DeleteRecords moves the low watermark; earlier offsets are then out of range. (The topic
    // is compacted now, so records need keys.)
    let producer: rdkafka::producer::BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .unwrap();
    for i in 0..10 {
        producer
            .send(
                rdkafka::producer::BaseRecord::<str, str>::to("alter")
                    .key("k")
                    .payload(&format!("{i}")),
            )
            .unwrap();
    }
    rdkafka::producer::Producer::flush(&producer, Duration::from_secs(10)).unwrap();
    let mut p = delete_records_request::DeleteRecordsPartition::default();
    p.partition_index = 0;
    p.offset = 4;
    let mut t = delete_records_request::DeleteRecordsTopic::default();
    t.name = TopicName(StrBytes::from_static_str("alter"));
    t.partitions = vec![p];
    let r: DeleteRecordsResponse = c.call(
        ApiKey::DeleteRecords,
        2,
        &DeleteRecordsRequest::default()
            .with_topics(vec![t])
            .with_timeout_ms(5000),
    );
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    assert_eq!(r.topics[0].partitions[0].low_watermark, 4);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "x")
        .create()
        .unwrap();
    let (lo, hi) = consumer
        .fetch_watermarks("alter", 0, Duration::from_secs(10))
        .unwrap();
    assert_eq!((lo, hi), (4, 10));
}
