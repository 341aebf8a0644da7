//! Every served API answers at every advertised version: a response that cannot be encoded at
//! the request's version (a field set that the version does not have) would close the
//! connection instead. Requests carry real data where the answer depends on it.

mod common;

use bytes::BytesMut;
use common::{RawClient, TestBroker};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

/// Sends `req` at `version` and returns true if a response frame came back.
fn answers<T: Encodable>(c: &mut RawClient, api: ApiKey, version: i16, req: &T) -> bool {
    let mut h = RequestHeader::default();
    h.request_api_key = api as i16;
    h.request_api_version = version;
    h.correlation_id = 7;
    h.client_id = Some(StrBytes::from_static_str("versions"));
    let mut buf = BytesMut::new();
    if h.encode(&mut buf, api.request_header_version(version))
        .is_err()
        || req.encode(&mut buf, version).is_err()
    {
        return true; // not expressible at this version: nothing to check
    }
    c.send_frame(&buf).is_ok() && c.read_frame().is_ok()
}

fn topic(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.into()))
}

#[test]
fn every_api_answers_at_every_advertised_version() {
    let broker = TestBroker::start();
    // Data so that lookups find something: one record, one committed offset, one group.
    let mut c = RawClient::connect(broker.addr());
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = topic("v");
    t.num_partitions = 1;
    t.replication_factor = 1;
    let _: CreateTopicsResponse = c.call(
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_topics(vec![t])
            .with_timeout_ms(5000),
    );
    let p: rdkafka::producer::BaseProducer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .unwrap();
    p.send(
        rdkafka::producer::BaseRecord::<(), str>::to("v")
            .payload("x")
            .partition(0),
    )
    .unwrap();
    rdkafka::producer::Producer::flush(&p, std::time::Duration::from_secs(10)).unwrap();

    let mut failures = Vec::new();
    // Broker-to-controller APIs are served on controller listeners only (tests/cluster.rs).
    for api in weir::protocol::SUPPORTED
        .iter()
        .filter(|a| weir::protocol::broker_serves(a.key))
    {
        for v in api.min.max(if api.key == ApiKey::Produce { 3 } else { 0 })..=api.max {
            let mut c = RawClient::connect(broker.addr());
            let ok = match api.key {
                ApiKey::ListOffsets => {
                    let mut lp = list_offsets_request::ListOffsetsPartition::default();
                    lp.partition_index = 0;
                    lp.timestamp = -1;
                    lp.current_leader_epoch = -1;
                    let mut lt = list_offsets_request::ListOffsetsTopic::default();
                    lt.name = topic("v");
                    lt.partitions = vec![lp];
                    answers(
                        &mut c,
                        api.key,
                        v,
                        &ListOffsetsRequest::default()
                            .with_replica_id(BrokerId(-1))
                            .with_topics(vec![lt]),
                    )
                }
                ApiKey::Metadata => answers(
                    &mut c,
                    api.key,
                    v,
                    &MetadataRequest::default()
                        .with_topics(None)
                        .with_include_topic_authorized_operations((8..=10).contains(&v))
                        .with_include_cluster_authorized_operations((8..=10).contains(&v)),
                ),
                ApiKey::Produce => {
                    let mut pd = produce_request::PartitionProduceData::default();
                    pd.index = 0;
                    pd.records = Some(bytes::Bytes::from_static(&[0u8; 70]));
                    let mut td = produce_request::TopicProduceData::default();
                    td.name = topic("v");
                    td.partition_data = vec![pd];
                    answers(
                        &mut c,
                        api.key,
                        v,
                        &ProduceRequest::default()
                            .with_acks(1)
                            .with_timeout_ms(1000)
                            .with_topic_data(vec![td]),
                    )
                }
                ApiKey::Fetch => {
                    let mut fp = fetch_request::FetchPartition::default();
                    fp.partition = 0;
                    fp.fetch_offset = 0;
                    fp.partition_max_bytes = 1 << 20;
                    fp.current_leader_epoch = -1;
                    let mut ft = fetch_request::FetchTopic::default();
                    ft.topic = topic("v");
                    ft.partitions = vec![fp];
                    answers(
                        &mut c,
                        api.key,
                        v,
                        &FetchRequest::default()
                            .with_replica_id(BrokerId(-1))
                            .with_max_bytes(1 << 20)
                            .with_topics(vec![ft]),
                    )
                }
                ApiKey::DescribeGroups => answers(
                    &mut c,
                    api.key,
                    v,
                    &DescribeGroupsRequest::default()
                        .with_groups(vec![GroupId(StrBytes::from_static_str("g"))])
                        .with_include_authorized_operations(v >= 3),
                ),
                // Everything else: the default request of that version.
                ApiKey::SaslHandshake => {
                    answers(&mut c, api.key, v, &SaslHandshakeRequest::default())
                }
                ApiKey::SaslAuthenticate => {
                    answers(&mut c, api.key, v, &SaslAuthenticateRequest::default())
                }
                ApiKey::ApiVersions => answers(&mut c, api.key, v, &ApiVersionsRequest::default()),
                ApiKey::CreateTopics => {
                    answers(&mut c, api.key, v, &CreateTopicsRequest::default())
                }
                ApiKey::DeleteTopics => {
                    answers(&mut c, api.key, v, &DeleteTopicsRequest::default())
                }
                ApiKey::OffsetForLeaderEpoch => {
                    answers(&mut c, api.key, v, &OffsetForLeaderEpochRequest::default())
                }
                ApiKey::DescribeConfigs => {
                    answers(&mut c, api.key, v, &DescribeConfigsRequest::default())
                }
                ApiKey::AlterConfigs => {
                    answers(&mut c, api.key, v, &AlterConfigsRequest::default())
                }
                ApiKey::IncrementalAlterConfigs => answers(
                    &mut c,
                    api.key,
                    v,
                    &IncrementalAlterConfigsRequest::default(),
                ),
                ApiKey::DeleteRecords => {
                    answers(&mut c, api.key, v, &DeleteRecordsRequest::default())
                }
                ApiKey::DescribeLogDirs => {
                    answers(&mut c, api.key, v, &DescribeLogDirsRequest::default())
                }
                ApiKey::CreatePartitions => {
                    answers(&mut c, api.key, v, &CreatePartitionsRequest::default())
                }
                ApiKey::DescribeCluster => answers(
                    &mut c,
                    api.key,
                    v,
                    &DescribeClusterRequest::default()
                        .with_include_cluster_authorized_operations(true),
                ),
                ApiKey::DescribeTopicPartitions => answers(
                    &mut c,
                    api.key,
                    v,
                    &DescribeTopicPartitionsRequest::default(),
                ),
                ApiKey::FindCoordinator => answers(
                    &mut c,
                    api.key,
                    v,
                    &FindCoordinatorRequest::default()
                        .with_key(StrBytes::from_static_str("g"))
                        .with_coordinator_keys(vec![StrBytes::from_static_str("g")]),
                ),
                ApiKey::JoinGroup => answers(&mut c, api.key, v, &JoinGroupRequest::default()),
                ApiKey::SyncGroup => answers(&mut c, api.key, v, &SyncGroupRequest::default()),
                ApiKey::Heartbeat => answers(&mut c, api.key, v, &HeartbeatRequest::default()),
                ApiKey::LeaveGroup => answers(&mut c, api.key, v, &LeaveGroupRequest::default()),
                ApiKey::OffsetCommit => {
                    answers(&mut c, api.key, v, &OffsetCommitRequest::default())
                }
                ApiKey::OffsetFetch => answers(&mut c, api.key, v, &OffsetFetchRequest::default()),
                ApiKey::OffsetDelete => {
                    answers(&mut c, api.key, v, &OffsetDeleteRequest::default())
                }
                ApiKey::ListGroups => answers(&mut c, api.key, v, &ListGroupsRequest::default()),
                ApiKey::DeleteGroups => {
                    answers(&mut c, api.key, v, &DeleteGroupsRequest::default())
                }
                ApiKey::ConsumerGroupHeartbeat => answers(
                    &mut c,
                    api.key,
                    v,
                    &ConsumerGroupHeartbeatRequest::default(),
                ),
                ApiKey::ConsumerGroupDescribe => {
                    answers(&mut c, api.key, v, &ConsumerGroupDescribeRequest::default())
                }
                ApiKey::InitProducerId => {
                    answers(&mut c, api.key, v, &InitProducerIdRequest::default())
                }
                ApiKey::AddPartitionsToTxn => {
                    answers(&mut c, api.key, v, &AddPartitionsToTxnRequest::default())
                }
                ApiKey::AddOffsetsToTxn => {
                    answers(&mut c, api.key, v, &AddOffsetsToTxnRequest::default())
                }
                ApiKey::EndTxn => answers(&mut c, api.key, v, &EndTxnRequest::default()),
                ApiKey::TxnOffsetCommit => {
                    answers(&mut c, api.key, v, &TxnOffsetCommitRequest::default())
                }
                ApiKey::DescribeTransactions => {
                    answers(&mut c, api.key, v, &DescribeTransactionsRequest::default())
                }
                ApiKey::ListTransactions => {
                    answers(&mut c, api.key, v, &ListTransactionsRequest::default())
                }
                ApiKey::DescribeProducers => {
                    answers(&mut c, api.key, v, &DescribeProducersRequest::default())
                }
                ApiKey::DescribeUserScramCredentials => answers(
                    &mut c,
                    api.key,
                    v,
                    &DescribeUserScramCredentialsRequest::default(),
                ),
                ApiKey::AlterUserScramCredentials => answers(
                    &mut c,
                    api.key,
                    v,
                    &AlterUserScramCredentialsRequest::default(),
                ),
                ApiKey::CreateAcls => answers(&mut c, api.key, v, &CreateAclsRequest::default()),
                ApiKey::DescribeAcls => {
                    answers(&mut c, api.key, v, &DescribeAclsRequest::default())
                }
                ApiKey::DeleteAcls => answers(&mut c, api.key, v, &DeleteAclsRequest::default()),
                ApiKey::DescribeQuorum => {
                    answers(&mut c, api.key, v, &DescribeQuorumRequest::default())
                }
                ApiKey::WriteTxnMarkers => {
                    answers(&mut c, api.key, v, &WriteTxnMarkersRequest::default())
                }
                other => panic!("{other:?} is served but not covered by this test"),
            };
            if !ok {
                failures.push(format!("{:?} v{v}", api.key));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "no answer (response could not be encoded?): {failures:?}"
    );
}
