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
