//! ACLs through the authorizer: an admin (super user) creates bindings over the wire; a PREFIXED
//! ALLOW with a LITERAL DENY behaves as Kafka's authorizer; a principal without WRITE gets
//! TOPIC_AUTHORIZATION_FAILED and nothing is appended; ACLs survive a restart.

mod common;

use std::time::Duration;

use common::{RawClient, TestBroker};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

fn broker() -> TestBroker {
    TestBroker::start_with(&[
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        ("sasl.users", "admin:admin-pw,alice:alice-pw,bob:bob-pw"),
        (
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        ),
        ("super.users", "User:admin"),
    ])
}

/// A raw connection logged in with SASL/PLAIN.
fn login(b: &TestBroker, user: &str, pw: &str) -> RawClient {
    let mut c = RawClient::connect(b.addr());
    let r: SaslHandshakeResponse = c.call(
        ApiKey::SaslHandshake,
        1,
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
    );
    assert_eq!(r.error_code, 0);
    let token = format!("\0{user}\0{pw}");
    let r: SaslAuthenticateResponse = c.call(
        ApiKey::SaslAuthenticate,
        2,
        &SaslAuthenticateRequest::default().with_auth_bytes(bytes::Bytes::from(token)),
    );
    assert_eq!(r.error_code, 0);
    c
}

fn acl(
    name: &str,
    pattern: i8,
    principal: &str,
    op: i8,
    perm: i8,
) -> create_acls_request::AclCreation {
    let mut a = create_acls_request::AclCreation::default();
    a.resource_type = 2;
    a.resource_name = StrBytes::from_string(name.into());
    a.resource_pattern_type = pattern;
    a.principal = StrBytes::from_string(principal.into());
    a.host = StrBytes::from_static_str("*");
    a.operation = op;
    a.permission_type = perm;
    a
}

fn producer(b: &TestBroker, user: &str, pw: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", b.bootstrap())
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "PLAIN")
        .set("sasl.username", user)
        .set("sasl.password", pw)
        .set("message.timeout.ms", "4000")
        .set("broker.address.family", "v4")
        .create()
        .unwrap()
}

/// The latest offset, asked over the wire as the super user.
fn high_watermark(b: &TestBroker, topic: &str) -> i64 {
    let mut admin = login(b, "admin", "admin-pw");
    let mut p = list_offsets_request::ListOffsetsPartition::default();
    p.partition_index = 0;
    p.timestamp = -1;
    p.current_leader_epoch = -1;
    let mut lt = list_offsets_request::ListOffsetsTopic::default();
    lt.name = TopicName(StrBytes::from_string(topic.into()));
    lt.partitions = vec![p];
    let r: ListOffsetsResponse = admin.call(
        ApiKey::ListOffsets,
        7,
        &ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![lt]),
    );
    r.topics[0].partitions[0].offset
}

fn try_produce(b: &TestBroker, user: &str, pw: &str, topic: &str) {
    let p = producer(b, user, pw);
    p.send(BaseRecord::<(), str>::to(topic).payload("x").partition(0))
        .unwrap();
    let _ = p.flush(Duration::from_secs(10));
}

#[test]
fn prefixed_allow_literal_deny_and_durable_acls() {
    let mut b = broker();
    let mut admin = login(&b, "admin", "admin-pw");
    let mut topics = Vec::new();
    for name in ["orders-eu", "orders-secret"] {
        let mut t = create_topics_request::CreatableTopic::default();
        t.name = TopicName(StrBytes::from_string(name.into()));
        t.num_partitions = 1;
        t.replication_factor = 1;
        topics.push(t);
    }
    let r: CreateTopicsResponse = admin.call(
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_topics(topics)
            .with_timeout_ms(5000),
    );
    assert!(r.topics.iter().all(|t| t.error_code == 0));
    // PREFIXED ALLOW WRITE on orders-, LITERAL DENY WRITE on orders-secret, for alice.
    let r: CreateAclsResponse = admin.call(
        ApiKey::CreateAcls,
        3,
        &CreateAclsRequest::default().with_creations(vec![
            acl("orders-", 4, "User:alice", 4, 3),
            acl("orders-secret", 3, "User:alice", 4, 2),
        ]),
    );
    assert!(
        r.results.iter().all(|x| x.error_code == 0),
        "{:?}",
        r.results
    );
    // Non-super users may not manage ACLs.
    let mut bob = login(&b, "bob", "bob-pw");
    let r: CreateAclsResponse = bob.call(
        ApiKey::CreateAcls,
        3,
        &CreateAclsRequest::default().with_creations(vec![acl("x", 3, "User:bob", 2, 3)]),
    );
    assert_eq!(r.results[0].error_code, 31, "CLUSTER_AUTHORIZATION_FAILED");

    try_produce(&b, "alice", "alice-pw", "orders-eu");
    assert_eq!(high_watermark(&b, "orders-eu"), 1, "allowed by the prefix");
    try_produce(&b, "alice", "alice-pw", "orders-secret");
    assert_eq!(
        high_watermark(&b, "orders-secret"),
        0,
        "the literal DENY wins"
    );
    try_produce(&b, "bob", "bob-pw", "orders-eu");
    assert_eq!(
        high_watermark(&b, "orders-eu"),
        1,
        "no ACL for bob: nothing appended"
    );

    // Bob's metadata hides the topics he may not describe.
    let r: MetadataResponse = bob.call(
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(None),
    );
    assert!(
        r.topics.is_empty(),
        "{:?}",
        r.topics.iter().map(|t| t.name.clone()).collect::<Vec<_>>()
    );

    b.restart();
    assert_eq!(
        high_watermark(&b, "orders-eu"),
        1,
        "data survives the restart"
    );
    try_produce(&b, "alice", "alice-pw", "orders-eu");
    assert_eq!(high_watermark(&b, "orders-eu"), 2, "ACLs survive a restart");
    let mut admin = login(&b, "admin", "admin-pw");
    let r: DescribeAclsResponse = admin.call(
        ApiKey::DescribeAcls,
        3,
        &DescribeAclsRequest::default()
            .with_resource_type_filter(1)
            .with_resource_name_filter(None)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_pattern_type_filter(1)
            .with_operation(1)
            .with_permission_type(1),
    );
    assert_eq!(r.resources.len(), 2);
}

fn acl_on(
    resource_type: i8,
    name: &str,
    principal: &str,
    op: i8,
) -> create_acls_request::AclCreation {
    let mut a = acl(name, 3, principal, op, 3);
    a.resource_type = resource_type;
    a
}

/// The transactional, group and cluster APIs check the resources Kafka's authorizer checks,
/// and the authorized-operations bitfields reflect the caller's ACLs.
#[test]
fn transaction_group_and_cluster_apis_are_authorized() {
    let b = broker();
    let mut admin = login(&b, "admin", "admin-pw");
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = TopicName(StrBytes::from_static_str("ledger"));
    t.num_partitions = 1;
    t.replication_factor = 1;
    let r: CreateTopicsResponse = admin.call(
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_topics(vec![t])
            .with_timeout_ms(5000),
    );
    assert_eq!(r.topics[0].error_code, 0);
    // alice may write the topic and nothing else.
    let r: CreateAclsResponse = admin.call(
        ApiKey::CreateAcls,
        3,
        &CreateAclsRequest::default().with_creations(vec![acl("ledger", 3, "User:alice", 4, 3)]),
    );
    assert_eq!(r.results[0].error_code, 0);

    let mut alice = login(&b, "alice", "alice-pw");
    let init = |c: &mut RawClient, txn: Option<&str>| -> InitProducerIdResponse {
        c.call(
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(
                    txn.map(|t| TransactionalId(StrBytes::from_string(t.into()))),
                )
                .with_transaction_timeout_ms(60000)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        )
    };
    assert_eq!(
        init(&mut alice, Some("tx")).error_code,
        53,
        "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"
    );
    assert_eq!(
        init(&mut alice, None).error_code,
        0,
        "KIP-679: WRITE on a topic allows idempotent produce"
    );
    let mut bob = login(&b, "bob", "bob-pw");
    assert_eq!(
        init(&mut bob, None).error_code,
        31,
        "no WRITE anywhere: CLUSTER_AUTHORIZATION_FAILED"
    );
    let r: EndTxnResponse = alice.call(
        ApiKey::EndTxn,
        3,
        &EndTxnRequest::default()
            .with_transactional_id(TransactionalId(StrBytes::from_static_str("tx")))
            .with_producer_id(ProducerId(1))
            .with_committed(true),
    );
    assert_eq!(r.error_code, 53);
    let r: FindCoordinatorResponse = alice.call(
        ApiKey::FindCoordinator,
        4,
        &FindCoordinatorRequest::default()
            .with_key_type(0)
            .with_coordinator_keys(vec![StrBytes::from_static_str("readers")]),
    );
    assert_eq!(
        r.coordinators[0].error_code, 30,
        "GROUP_AUTHORIZATION_FAILED"
    );
    let r: OffsetFetchResponse = alice.call(
        ApiKey::OffsetFetch,
        7,
        &OffsetFetchRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str("readers")))
            .with_topics(None),
    );
    assert_eq!(r.error_code, 30);
    // DescribeCluster answers everyone; without DESCRIBE on the cluster the operations are 0.
    let r: DescribeClusterResponse = alice.call(
        ApiKey::DescribeCluster,
        1,
        &DescribeClusterRequest::default().with_include_cluster_authorized_operations(true),
    );
    assert_eq!((r.error_code, r.cluster_authorized_operations), (0, 0));
    let r: DescribeLogDirsResponse = alice.call(
        ApiKey::DescribeLogDirs,
        4,
        &DescribeLogDirsRequest::default().with_topics(None),
    );
    assert_eq!((r.error_code, r.results.len()), (31, 0));
    let r: MetadataResponse = alice.call(
        ApiKey::Metadata,
        10,
        &MetadataRequest::default()
            .with_topics(None)
            .with_include_topic_authorized_operations(true),
    );
    assert_eq!(r.topics.len(), 1);
    assert_eq!(
        r.topics[0].topic_authorized_operations,
        (1 << 4) | (1 << 8),
        "WRITE, and the DESCRIBE it implies"
    );

    // Granted the transactional id and the group, the same calls go through.
    let r: CreateAclsResponse = admin.call(
        ApiKey::CreateAcls,
        3,
        &CreateAclsRequest::default().with_creations(vec![
            acl_on(5, "tx", "User:alice", 4),
            acl_on(3, "readers", "User:alice", 3),
        ]),
    );
    assert!(r.results.iter().all(|x| x.error_code == 0));
    let r = init(&mut alice, Some("tx"));
    assert_eq!(r.error_code, 0);
    let r: FindCoordinatorResponse = alice.call(
        ApiKey::FindCoordinator,
        4,
        &FindCoordinatorRequest::default()
            .with_key_type(0)
            .with_coordinator_keys(vec![StrBytes::from_static_str("readers")]),
    );
    assert_eq!(r.coordinators[0].error_code, 0);
    let r: DescribeClusterResponse = admin.call(
        ApiKey::DescribeCluster,
        1,
        &DescribeClusterRequest::default().with_include_cluster_authorized_operations(true),
    );
    assert_eq!(r.error_code, 0);
    assert_eq!(
        r.cluster_authorized_operations, 0x1FA0,
        "a super user may do all"
    );
}
