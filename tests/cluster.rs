//! A replicated cluster of three in-process Weir brokers, used through librdkafka: topics with
//! replication factor 3, acks=all surviving a leader crash, min.insync.replicas refusals, a
//! follower catching up and rejoining the ISR, a divergent follower truncated by epoch,
//! coordinator failover for groups and transactions, transactions across brokers, ACLs and
//! SCRAM users as cluster metadata, and the whole cluster restarted.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::cluster::{wait_until, TestCluster};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client")
}

fn create(bootstrap: &str, topic: NewTopic<'_>) {
    let res =
        futures::executor::block_on(admin(bootstrap).create_topics([&topic], &AdminOptions::new()))
            .expect("create_topics");
    for r in res {
        r.expect("topic created");
    }
}

/// Sends `values` to partition 0 (in order, pipelined); returns each delivery's offset or
/// error, in send order.
#[allow(clippy::result_large_err)]
fn send(bootstrap: &str, topic: &str, acks: &str, values: &[String]) -> Vec<Result<i64, String>> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", acks)
        .set("linger.ms", "2")
        .set("message.timeout.ms", "20000")
        .set("enable.idempotence", "false")
        .create()
        .expect("producer");
    let pending: Vec<_> = values
        .iter()
        .map(|v| {
            producer.send_result(
                FutureRecord::<(), str>::to(topic)
                    .partition(0)
                    .payload(v.as_str()),
            )
        })
        .collect();
    pending
        .into_iter()
        .map(|p| match p {
            Err((e, _)) => Err(e.to_string()),
            Ok(f) => match futures::executor::block_on(f) {
                Ok(Ok(d)) => Ok(d.offset),
                Ok(Err((e, _))) => Err(e.to_string()),
                Err(_) => Err("canceled".into()),
            },
        })
        .collect()
}

/// `send`, requiring every value to be acknowledged.
fn produce(bootstrap: &str, topic: &str, acks: &str, values: &[String]) {
    for (v, r) in values.iter().zip(send(bootstrap, topic, acks, values)) {
        if let Err(e) = r {
            panic!("{v} not acknowledged: {e}");
        }
    }
}

/// Everything in partition 0 from the start, as (offset, value).
fn read_all(bootstrap: &str, topic: &str, expect_at_least: usize) -> Vec<(i64, String)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "cluster-test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while out.len() < expect_at_least && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let v = m
                .payload()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default();
            out.push((m.offset(), v));
        }
    }
    out
}

/// Stored bytes of a partition on node `i`, below its high watermark.
fn stored(c: &TestCluster, i: usize, topic: &str) -> (i64, i64, Vec<u8>) {
    let p = c
        .handle(i)
        .state()
        .cluster
        .partition(topic, 0)
        .expect("local partition");
    let hw = p.high_watermark();
    let mut bytes = Vec::new();
    let mut at = p.log_start_offset();
    while at < hw {
        let r = p.read(at, 1 << 20, true).expect("read");
        if r.records.is_empty() {
            break;
        }
        let mut next = at;
        let mut rest = &r.records[..];
        while let Some(h) = weir::log::batch::BatchHeader::parse(rest) {
            next = h.last_offset() + 1;
            rest = &rest[h.total_len().min(rest.len())..];
        }
        bytes.extend_from_slice(&r.records);
        at = next;
    }
    (p.log_end_offset(), hw, bytes)
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

#[test]
fn three_brokers_replicate_a_topic_and_report_it() {
    let c = TestCluster::start(3, &[]);
    let boot = c.bootstrap();
    create(
        &boot,
        NewTopic::new("rep", 3, TopicReplication::Fixed(3)).set("min.insync.replicas", "2"),
    );
    let md = admin(&boot)
        .inner()
        .fetch_metadata(Some("rep"), Duration::from_secs(10))
        .expect("metadata");
    assert_eq!(md.brokers().len(), 3, "every broker is listed");
    let t = &md.topics()[0];
    assert_eq!(t.partitions().len(), 3);
    let mut leaders = HashSet::new();
    for p in t.partitions() {
        assert_eq!(p.replicas().len(), 3);
        assert_eq!(p.isr().len(), 3);
        leaders.insert(p.leader());
    }
    assert_eq!(leaders.len(), 3, "leadership is spread over the brokers");

    let sent = values("v", 500);
    produce(&boot, "rep", "all", &sent);
    let got = read_all(&boot, "rep", sent.len());
    let got_values: Vec<String> = got.iter().map(|(_, v)| v.clone()).collect();
    assert_eq!(got_values, sent, "read back in order, exactly once");
    // Every replica holds the same bytes once the followers catch up.
    wait_until(Duration::from_secs(10), "followers to catch up", || {
        let a = stored(&c, 0, "rep");
        let b = stored(&c, 1, "rep");
        let d = stored(&c, 2, "rep");
        a.0 == 500 && a == b && b == d
    });
    // The finalized feature levels are cluster metadata every broker reads the same.
    for i in 0..3 {
        wait_until(
            Duration::from_secs(10),
            "feature levels in every image",
            || {
                c.handle(i).state().replicas.as_ref().is_some_and(|rm| {
                    let f = &rm.image().features;
                    f.get("metadata.version") == Some(&27)
                        && f.get("transaction.version") == Some(&2)
                })
            },
        );
    }
}

#[test]
fn acknowledged_writes_survive_the_leader_crashing() {
    let mut c = TestCluster::start(3, &[]);
    let boot = c.bootstrap();
    // Leader on node 2 (node 1 runs the controller, which this stage keeps alive).
    create(
        &boot,
        NewTopic::new("fail", 1, TopicReplication::Variable(&[&[2, 3, 1]]))
            .set("min.insync.replicas", "2"),
    );
    let first = values("a", 300);
    produce(&boot, "fail", "all", &first);
    assert_eq!(c.partition_state("fail", 0).map(|s| s.0), Some(2));
    c.kill(c.index_of(2));
    wait_until(Duration::from_secs(15), "a new leader", || {
        c.partition_state("fail", 0)
            .is_some_and(|(l, _, _)| l == 3 || l == 1)
    });
    let boot = c.bootstrap();
    let second = values("b", 300);
    produce(&boot, "fail", "all", &second);
    let got = read_all(&boot, "fail", 600);
    let got_values: Vec<String> = got.iter().map(|(_, v)| v.clone()).collect();
    let mut expected = first.clone();
    expected.extend(second.clone());
    assert_eq!(
        got_values, expected,
        "no acknowledged write lost, none duplicated"
    );
    let offsets: HashSet<i64> = got.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets.len(), got.len(), "one value per offset");

    // The crashed broker comes back, catches up and rejoins the ISR.
    c.start_node(c.index_of(2));
    wait_until(Duration::from_secs(20), "node 2 to rejoin the ISR", || {
        c.partition_state("fail", 0)
            .is_some_and(|(_, _, isr)| isr.contains(&2))
    });
    let leader = c.partition_state("fail", 0).map(|s| s.0).unwrap_or(-1);
    wait_until(Duration::from_secs(10), "identical replicas", || {
        stored(&c, c.index_of(2), "fail") == stored(&c, c.index_of(leader), "fail")
    });
}

#[test]
fn min_insync_replicas_refuses_acks_all_when_the_isr_is_too_small() {
    let mut c = TestCluster::start(3, &[]);
    let boot = c.bootstrap();
    create(
        &boot,
        NewTopic::new("minisr", 1, TopicReplication::Variable(&[&[1, 2, 3]]))
            .set("min.insync.replicas", "2"),
    );
    produce(&boot, "minisr", "all", &values("ok", 10));
    c.kill(1);
    c.kill(2);
    wait_until(
        Duration::from_secs(15),
        "the ISR to shrink to the leader",
        || {
            c.partition_state("minisr", 0)
                .is_some_and(|(l, _, isr)| l == 1 && isr == vec![1])
        },
    );
    let boot = c.bootstrap();
    // Kafka's tools see it: the partition is under-replicated, brokers 2 and 3 fenced.
    let weir = |args: &[&str]| -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(args)
            .args(["--bootstrap-server", &boot])
            .output()
            .expect("weir");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let under = weir(&["topic", "describe", "--under-replicated-partitions"]);
    assert!(under.contains("minisr"), "{under}");
    let info: serde_json::Value =
        serde_json::from_str(&weir(&["cluster", "info", "--output", "json"])).expect("json");
    assert_eq!(info["under_replicated_partitions"][0], "minisr-0", "{info}");
    let fenced: Vec<i64> = info["brokers"]
        .as_array()
        .expect("brokers")
        .iter()
        .filter(|b| b["fenced"] == true)
        .filter_map(|b| b["id"].as_i64())
        .collect();
    assert_eq!(fenced, vec![2, 3], "{info}");
    let refused = send(&boot, "minisr", "all", &["refused".to_string()]);
    match &refused[0] {
        Err(e) => assert!(
            e.contains("NotEnoughReplicas")
                || e.contains("Not enough in-sync replicas")
                || e.contains("timed out"),
            "{e}"
        ),
        Ok(o) => panic!("acks=all succeeded at offset {o} with ISR 1 < min.insync.replicas 2"),
    }
    let got = read_all(&boot, "minisr", 10);
    assert!(got.iter().all(|(_, v)| v != "refused"));
    // acks=1 does not need the ISR.
    produce(&boot, "minisr", "1", &values("one", 5));
    let got = read_all(&boot, "minisr", 15);
    assert_eq!(got.len(), 15);
}

#[test]
fn a_divergent_follower_is_truncated_to_the_new_leader() {
    let mut c = TestCluster::start(3, &[]);
    let boot = c.bootstrap();
    create(
        &boot,
        NewTopic::new("div", 1, TopicReplication::Variable(&[&[2, 3]]))
            .set("min.insync.replicas", "1"),
    );
    produce(&boot, "div", "all", &values("common", 20));
    let (n2, n3) = (c.index_of(2), c.index_of(3));
    wait_until(Duration::from_secs(10), "replicas in sync", || {
        stored(&c, n2, "div") == stored(&c, n3, "div")
    });
    // Node 3 stops fetching; node 2 takes writes only it has (acks=1), then crashes.
    c.handle(n3).state().faults.pause_replica_fetch(true);
    // A fetch already waiting on the leader (up to replica.fetch.wait.max.ms) completes first.
    std::thread::sleep(Duration::from_millis(1200));
    produce(&boot, "div", "1", &values("lost", 10));
    assert_eq!(
        stored(&c, n2, "div").0,
        30,
        "the leader has the unreplicated tail"
    );
    c.kill(n2);
    c.handle(n3).state().faults.pause_replica_fetch(false);
    wait_until(Duration::from_secs(15), "node 3 to lead", || {
        c.partition_state("div", 0).is_some_and(|(l, _, _)| l == 3)
    });
    let boot = c.bootstrap();
    produce(&boot, "div", "all", &values("new", 15));
    c.start_node(n2);
    wait_until(
        Duration::from_secs(20),
        "node 2 to truncate and catch up",
        || {
            let a = stored(&c, n2, "div");
            let b = stored(&c, n3, "div");
            a == b && a.0 == 35
        },
    );
    let got = read_all(&c.bootstrap(), "div", 35);
    assert!(got.iter().all(|(_, v)| !v.starts_with("lost")));
    assert_eq!(got.len(), 35);
}

#[test]
fn committed_offsets_survive_the_group_coordinator_crashing() {
    let mut c = TestCluster::start(3, &[("offsets.topic.num.partitions", "6")]);
    let boot = c.bootstrap();
    create(&boot, NewTopic::new("g", 2, TopicReplication::Fixed(3)));
    let consumer = |group: &str, boot: &str| -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", boot)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer")
    };
    // The first group lookup makes the controller create __consumer_offsets.
    let probe = consumer("probe", &boot);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("g", 0);
    let _ = probe.committed_offsets(tpl.clone(), Duration::from_secs(10));
    wait_until(Duration::from_secs(15), "__consumer_offsets", || {
        c.partition_state("__consumer_offsets", 0).is_some()
    });
    // A group whose coordinator is not node 1 (the controller stays up in this stage).
    let (group, coordinator) = (0..100)
        .map(|i| format!("grp-{i}"))
        .find_map(|g| {
            let p = weir::group::store::partition_for(&g, 6);
            let (leader, _, _) = c.partition_state("__consumer_offsets", p)?;
            (leader != 1).then_some((g, leader))
        })
        .expect("a group led elsewhere");
    let cons = consumer(&group, &boot);
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("g", 0, Offset::Offset(42))
        .expect("tpl");
    offsets
        .add_partition_offset("g", 1, Offset::Offset(7))
        .expect("tpl");
    cons.commit(&offsets, rdkafka::consumer::CommitMode::Sync)
        .expect("commit");
    drop(cons);
    // Acknowledged commits are on the ISR: the coordinator may crash right away.
    c.kill(c.index_of(coordinator));
    let p = weir::group::store::partition_for(&group, 6);
    wait_until(Duration::from_secs(15), "a new coordinator", || {
        c.partition_state("__consumer_offsets", p)
            .is_some_and(|(l, _, _)| l != coordinator && l >= 0)
    });
    let cons = consumer(&group, &c.bootstrap());
    let mut q = TopicPartitionList::new();
    q.add_partition("g", 0);
    q.add_partition("g", 1);
    let got = cons
        .committed_offsets(q, Duration::from_secs(20))
        .expect("committed offsets");
    let by_part: Vec<(i32, Offset)> = got
        .elements()
        .iter()
        .map(|e| (e.partition(), e.offset()))
        .collect();
    assert!(by_part.contains(&(0, Offset::Offset(42))), "{by_part:?}");
    assert!(by_part.contains(&(1, Offset::Offset(7))), "{by_part:?}");
}

#[test]
fn topic_admin_from_any_broker_reaches_every_broker() {
    let c = TestCluster::start(3, &[]);
    // Each request goes to one broker only, not the controller (node 1).
    let node3 = format!("127.0.0.1:{}", c.nodes[2].port);
    create(&node3, NewTopic::new("adm", 2, TopicReplication::Fixed(3)));
    // A topic config change through node 3 is applied by the leader of every partition.
    let admin3 = admin(&node3);
    let mut alter =
        rdkafka::admin::AlterConfig::new(rdkafka::admin::ResourceSpecifier::Topic("adm"));
    alter = alter.set("retention.ms", "12345");
    let res = futures::executor::block_on(admin3.alter_configs([&alter], &AdminOptions::new()))
        .expect("alter_configs");
    for r in res {
        r.expect("altered");
    }
    wait_until(
        Duration::from_secs(10),
        "the config on every broker",
        || {
            (0..3).all(|i| {
                c.handle(i)
                    .state()
                    .cluster
                    .partition("adm", 0)
                    .is_some_and(|p| p.config().retention_ms == 12345)
            })
        },
    );
    // DeleteTopics (librdkafka sends v1, names only) through node 2.
    let node2 = format!("127.0.0.1:{}", c.nodes[1].port);
    let res =
        futures::executor::block_on(admin(&node2).delete_topics(&["adm"], &AdminOptions::new()))
            .expect("delete_topics");
    for r in res {
        r.expect("deleted");
    }
    wait_until(Duration::from_secs(10), "deletion on every broker", || {
        (0..3).all(|i| c.handle(i).state().cluster.topic("adm").is_none())
    });
}

#[test]
fn a_single_node_data_directory_becomes_node_one_of_a_cluster() {
    let mut single = common::TestBroker::start_with(&[("sasl.users", "dave:dave-pw")]);
    let boot = single.bootstrap();
    create(
        &boot,
        NewTopic::new("legacy", 1, TopicReplication::Fixed(1)),
    );
    produce(&boot, "legacy", "all", &values("old", 50));
    // An ACL binding stored by the single node (its authorizer writes weir-acls.json).
    let allow = weir::security::acl::AclBinding {
        resource_type: 2,
        resource_name: "legacy".into(),
        pattern_type: 3,
        principal: "User:dave".into(),
        host: "*".into(),
        operation: 3,
        permission: 3,
    };
    single
        .handle
        .as_ref()
        .expect("running")
        .state()
        .authorizer
        .create(vec![allow.clone()])
        .expect("acl stored");
    single.stop();
    let dir = std::mem::replace(&mut single.dir, tempfile::tempdir().expect("tempdir"));
    let c = TestCluster::start_on(3, &[], Some(dir));
    // Its ACLs and SCRAM users became cluster metadata, on every broker.
    wait_until(
        Duration::from_secs(10),
        "ACLs and users on every broker",
        || {
            (0..3).all(|i| {
                let st = c.handle(i).state();
                st.authorizer.all() == vec![allow.clone()]
                    && st.users.describe(None).iter().any(|(n, _)| n == "dave")
            })
        },
    );
    let boot = c.bootstrap();
    let got = read_all(&boot, "legacy", 50);
    let got_values: Vec<String> = got.iter().map(|(_, v)| v.clone()).collect();
    assert_eq!(got_values, values("old", 50), "nothing stored is lost");
    produce(&boot, "legacy", "all", &values("new", 5));
    assert_eq!(read_all(&boot, "legacy", 55).len(), 55);
}

/// A raw Fetch v11 of partition 0 from offset 0 with the consumer's rack (KIP-392).
fn fetch_v11(addr: std::net::SocketAddr, topic: &str, rack: &str) -> (i16, i32, usize) {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::{ApiKey, BrokerId, FetchRequest, FetchResponse, TopicName};
    use kafka_protocol::protocol::StrBytes;
    let mut fp = FetchPartition::default();
    fp.partition = 0;
    fp.fetch_offset = 0;
    fp.partition_max_bytes = 1 << 20;
    fp.current_leader_epoch = -1;
    let mut ft = FetchTopic::default();
    ft.topic = TopicName(StrBytes::from_string(topic.to_string()));
    ft.partitions = vec![fp];
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = 0;
    req.max_bytes = 1 << 20;
    req.session_epoch = -1;
    req.rack_id = StrBytes::from_string(rack.to_string());
    req.topics = vec![ft];
    let mut c = common::RawClient::connect(addr);
    let resp: FetchResponse = c.call(ApiKey::Fetch, 11, &req);
    let p = &resp.responses[0].partitions[0];
    (
        p.error_code,
        p.preferred_read_replica.0,
        p.records.as_ref().map_or(0, |r| r.len()),
    )
}

#[test]
fn a_consumer_is_sent_to_the_follower_in_its_rack() {
    let c = TestCluster::start(
        3,
        &[(
            "replica.selector.class",
            "org.apache.kafka.common.replica.RackAwareReplicaSelector",
        )],
    );
    let boot = c.bootstrap();
    create(
        &boot,
        NewTopic::new("racks", 1, TopicReplication::Variable(&[&[1, 2, 3]])),
    );
    produce(&boot, "racks", "all", &values("r", 20));
    let leader: std::net::SocketAddr = format!("127.0.0.1:{}", c.nodes[0].port)
        .parse()
        .expect("addr");
    let follower: std::net::SocketAddr = format!("127.0.0.1:{}", c.nodes[1].port)
        .parse()
        .expect("addr");
    // The leader names the follower in rack2 once it knows that follower holds the offset.
    wait_until(
        Duration::from_secs(10),
        "the leader to prefer node 2",
        || fetch_v11(leader, "racks", "rack2") == (0, 2, 0),
    );
    // The follower serves the consumer from its own log.
    wait_until(
        Duration::from_secs(10),
        "node 2 to serve the records",
        || {
            let (err, preferred, bytes) = fetch_v11(follower, "racks", "rack2");
            err == 0 && preferred == -1 && bytes > 0
        },
    );
    // A consumer in the leader's rack, or with no rack, reads from the leader.
    let (err, preferred, bytes) = fetch_v11(leader, "racks", "rack1");
    assert_eq!((err, preferred), (0, -1));
    assert!(bytes > 0);
    let (_, preferred, _) = fetch_v11(leader, "racks", "");
    assert_eq!(preferred, -1);
}

/// Everything the committed reader sees in `parts` partitions, as values.
fn read_committed(bootstrap: &str, topic: &str, parts: i32, expect: usize) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "cluster-txn-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    // Past the expected count, a little longer: anything extra (aborted) must show up too.
    let mut settle: Option<std::time::Instant> = None;
    while std::time::Instant::now() < deadline {
        if out.len() >= expect {
            let s = *settle.get_or_insert_with(std::time::Instant::now);
            if s.elapsed() > Duration::from_secs(2) {
                break;
            }
        }
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push(
                m.payload()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .unwrap_or_default(),
            );
        }
    }
    out
}

fn txn_producer(bootstrap: &str, id: &str) -> rdkafka::producer::BaseProducer {
    use rdkafka::producer::Producer;
    let p: rdkafka::producer::BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", id)
        .set("transaction.timeout.ms", "30000")
        .set("message.timeout.ms", "30000")
        .create()
        .expect("producer");
    p.init_transactions(Duration::from_secs(60))
        .expect("init_transactions");
    p
}

fn send_txn(p: &rdkafka::producer::BaseProducer, topic: &str, values: &[String], parts: i32) {
    use rdkafka::producer::{BaseRecord, Producer};
    for (i, v) in values.iter().enumerate() {
        p.send(
            BaseRecord::<(), str>::to(topic)
                .payload(v.as_str())
                .partition(i as i32 % parts),
        )
        .expect("send");
    }
    p.flush(Duration::from_secs(30)).expect("flush");
}

#[test]
fn transactions_span_brokers_and_survive_the_coordinator_crashing() {
    use rdkafka::producer::Producer;
    let mut c = TestCluster::start(
        3,
        &[
            ("transaction.state.log.num.partitions", "3"),
            ("offsets.topic.num.partitions", "3"),
        ],
    );
    let boot = c.bootstrap();
    // Three partitions, so the transaction's partitions have leaders on every broker.
    create(&boot, NewTopic::new("txs", 3, TopicReplication::Fixed(3)));
    let leaders: HashSet<i32> = (0..3)
        .filter_map(|p| c.partition_state("txs", p).map(|(l, _, _)| l))
        .collect();
    assert_eq!(leaders.len(), 3, "leaders spread over the brokers");

    // A transactional id coordinated away from node 1 (the controller stays up in this stage).
    let probe = txn_producer(&boot, "probe");
    drop(probe);
    let (id, coordinator) = (0..100)
        .map(|i| format!("txn-{i}"))
        .find_map(|id| {
            let p = weir::group::store::partition_for(&id, 3);
            let (leader, _, _) = c.partition_state("__transaction_state", p)?;
            (leader != 1 && leader >= 0).then_some((id, leader))
        })
        .expect("an id coordinated elsewhere");

    let p = txn_producer(&boot, &id);
    // Committed across three leaders, then one aborted, then one with the group's offsets.
    p.begin_transaction().expect("begin");
    send_txn(&p, "txs", &values("committed", 9), 3);
    p.commit_transaction(Duration::from_secs(30))
        .expect("commit");
    p.begin_transaction().expect("begin");
    send_txn(&p, "txs", &values("aborted", 6), 3);
    p.abort_transaction(Duration::from_secs(30)).expect("abort");
    let group = "txn-group";
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &boot)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    p.begin_transaction().expect("begin");
    send_txn(&p, "txs", &values("with-offsets", 3), 3);
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("txs", 0, Offset::Offset(5))
        .expect("tpl");
    p.send_offsets_to_transaction(
        &offsets,
        &consumer.group_metadata().expect("group metadata"),
        Duration::from_secs(30),
    )
    .expect("send offsets");
    p.commit_transaction(Duration::from_secs(30))
        .expect("commit with offsets");

    // An open transaction, then its coordinator crashes: the new coordinator loads it from
    // the replicated transaction log and the producer's commit goes through it.
    p.begin_transaction().expect("begin");
    send_txn(&p, "txs", &values("across-failover", 3), 3);
    c.kill(c.index_of(coordinator));
    let tp = weir::group::store::partition_for(&id, 3);
    wait_until(
        Duration::from_secs(20),
        "a new transaction coordinator",
        || {
            c.partition_state("__transaction_state", tp)
                .is_some_and(|(l, _, _)| l != coordinator && l >= 0)
        },
    );
    p.commit_transaction(Duration::from_secs(60))
        .expect("commit through the new coordinator");
    drop(p);

    let boot = c.bootstrap();
    let mut got = read_committed(&boot, "txs", 3, 15);
    got.sort();
    let mut want: Vec<String> = values("committed", 9)
        .into_iter()
        .chain(values("with-offsets", 3))
        .chain(values("across-failover", 3))
        .collect();
    want.sort();
    assert_eq!(
        got, want,
        "read_committed sees exactly the committed records"
    );

    let cons: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &boot)
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut q = TopicPartitionList::new();
    q.add_partition("txs", 0);
    let committed = cons
        .committed_offsets(q, Duration::from_secs(20))
        .expect("committed offsets");
    assert_eq!(
        committed.elements()[0].offset(),
        Offset::Offset(5),
        "the transaction's offsets are committed"
    );

    // A new instance of the producer fences the old epoch and still commits.
    let p2 = txn_producer(&boot, &id);
    p2.begin_transaction().expect("begin");
    send_txn(&p2, "txs", &values("second-instance", 3), 3);
    p2.commit_transaction(Duration::from_secs(30))
        .expect("commit");
    let got = read_committed(&boot, "txs", 3, 18);
    assert_eq!(got.len(), 18, "{got:?}");
}

#[test]
fn acls_and_scram_users_are_cluster_metadata_every_broker_agrees_on() {
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::StrBytes;
    let c = TestCluster::start(
        3,
        &[
            (
                "authorizer.class.name",
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            ),
            ("allow.everyone.if.no.acl.found", "true"),
        ],
    );
    let node = |i: usize| format!("127.0.0.1:{}", c.nodes[i].port);
    let raw = |i: usize| common::RawClient::connect(node(i).parse().expect("addr"));
    create(
        &node(0),
        NewTopic::new("secret", 1, TopicReplication::Fixed(3)),
    );
    produce(&node(0), "secret", "all", &values("s", 3));

    // A DENY created through node 2 is listed and enforced by every broker.
    let mut deny = create_acls_request::AclCreation::default();
    deny.resource_type = 2;
    deny.resource_name = StrBytes::from_static_str("secret");
    deny.resource_pattern_type = 3;
    deny.principal = StrBytes::from_static_str("User:ANONYMOUS");
    deny.host = StrBytes::from_static_str("*");
    deny.operation = 3; // READ
    deny.permission_type = 2; // DENY
    let mut deny_alter = deny.clone();
    deny_alter.operation = 11; // ALTER_CONFIGS
    let r: CreateAclsResponse = raw(1).call(
        ApiKey::CreateAcls,
        3,
        &CreateAclsRequest::default().with_creations(vec![deny, deny_alter]),
    );
    assert!(
        r.results.len() == 2 && r.results.iter().all(|x| x.error_code == 0),
        "{r:?}"
    );
    let listed = |i: usize| -> usize {
        let mut f = DescribeAclsRequest::default();
        f.resource_type_filter = 1;
        f.pattern_type_filter = 1;
        f.operation = 1;
        f.permission_type = 1;
        f.resource_name_filter = None;
        f.principal_filter = None;
        f.host_filter = None;
        let r: DescribeAclsResponse = raw(i).call(ApiKey::DescribeAcls, 3, &f);
        r.resources.iter().map(|x| x.acls.len()).sum()
    };
    wait_until(
        Duration::from_secs(10),
        "every broker lists the ACL",
        || (0..3).all(|i| listed(i) == 2),
    );
    // Every broker holds a replica: the DENY is enforced wherever the read lands.
    for i in 0..3 {
        let (err, _, _) = fetch_v11(node(i).parse().expect("addr"), "secret", "");
        assert_eq!(
            err,
            29,
            "node {} refuses the read (TOPIC_AUTHORIZATION_FAILED)",
            i + 1
        );
    }

    // A topic config change forwarded to the controller is authorized by the receiving broker.
    let mut res = incremental_alter_configs_request::AlterConfigsResource::default();
    res.resource_type = 2;
    res.resource_name = StrBytes::from_static_str("secret");
    let mut cfg = incremental_alter_configs_request::AlterableConfig::default();
    cfg.name = StrBytes::from_static_str("retention.ms");
    cfg.config_operation = 0;
    cfg.value = Some(StrBytes::from_static_str("60000"));
    res.configs = vec![cfg];
    let r: IncrementalAlterConfigsResponse = raw(2).call(
        ApiKey::IncrementalAlterConfigs,
        1,
        &IncrementalAlterConfigsRequest::default().with_resources(vec![res]),
    );
    assert_eq!(r.responses.len(), 1, "{r:?}");
    assert_eq!(r.responses[0].error_code, 29, "TOPIC_AUTHORIZATION_FAILED");

    // Deleted through node 1: the read goes through again.
    let mut all = delete_acls_request::DeleteAclsFilter::default();
    all.resource_type_filter = 1;
    all.pattern_type_filter = 1;
    all.operation = 1;
    all.permission_type = 1;
    all.resource_name_filter = None;
    all.principal_filter = None;
    all.host_filter = None;
    let r: DeleteAclsResponse = raw(0).call(
        ApiKey::DeleteAcls,
        3,
        &DeleteAclsRequest::default().with_filters(vec![all]),
    );
    assert_eq!(r.filter_results.len(), 1, "{r:?}");
    assert_eq!(r.filter_results[0].matching_acls.len(), 2, "{r:?}");
    wait_until(Duration::from_secs(10), "the ACL gone everywhere", || {
        (0..3).all(|i| listed(i) == 0)
    });
    let leader = c
        .partition_state("secret", 0)
        .map(|(l, _, _)| l)
        .expect("leader");
    let (err, _, bytes) = fetch_v11(
        node(c.index_of(leader)).parse().expect("addr"),
        "secret",
        "",
    );
    assert_eq!(err, 0);
    assert!(bytes > 0, "the records are readable again");

    // A SCRAM user set through node 3 exists on every broker.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "user",
            "set",
            "carol",
            "--password",
            "carol-pw",
            "--mechanism",
            "SCRAM-SHA-256",
            "-b",
            &node(2),
        ])
        .output()
        .expect("weir user set");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 0..3 {
        wait_until(Duration::from_secs(10), "carol on every broker", || {
            let r: DescribeUserScramCredentialsResponse = raw(i).call(
                ApiKey::DescribeUserScramCredentials,
                0,
                &DescribeUserScramCredentialsRequest::default().with_users(None),
            );
            let names: Vec<&str> = r.results.iter().map(|u| u.user.as_str()).collect();
            names == vec!["carol"]
        });
    }
}

#[test]
fn the_whole_cluster_restarts_with_every_acknowledged_write() {
    let mut c = TestCluster::start(3, &[]);
    let boot = c.bootstrap();
    create(
        &boot,
        NewTopic::new("restart", 1, TopicReplication::Fixed(3)),
    );
    produce(&boot, "restart", "all", &values("before", 200));
    // Brokers first, the controller (node 1) last, as an operator stops a cluster.
    for i in [2, 1, 0] {
        c.stop(i);
    }
    for i in 0..3 {
        c.start_node(i);
    }
    c.wait_for_brokers(3);
    let boot = c.bootstrap();
    wait_until(
        Duration::from_secs(30),
        "a leader with the full ISR",
        || {
            c.partition_state("restart", 0)
                .is_some_and(|(l, _, isr)| l >= 0 && isr.len() == 3)
        },
    );
    produce(&boot, "restart", "all", &values("after", 20));
    let got: Vec<String> = read_all(&boot, "restart", 220)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let want: Vec<String> = values("before", 200)
        .into_iter()
        .chain(values("after", 20))
        .collect();
    assert_eq!(got, want, "every acknowledged write, once, in order");
    // Every replica holds the same bytes below its high watermark.
    let (_, hw0, bytes0) = stored(&c, 0, "restart");
    for i in 1..3 {
        wait_until(Duration::from_secs(10), "replicas caught up", || {
            stored(&c, i, "restart").1 == hw0
        });
        assert_eq!(
            stored(&c, i, "restart").2,
            bytes0,
            "node {} diverges",
            i + 1
        );
    }
    // And again after every node crashed at once (no clean shutdown, recovery on start).
    for i in 0..3 {
        c.kill(i);
    }
    for i in 0..3 {
        c.start_node(i);
    }
    c.wait_for_brokers(3);
    let got: Vec<String> = read_all(&c.bootstrap(), "restart", 220)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        got, want,
        "nothing acknowledged lost after a crash of every node"
    );
}

#[test]
fn brokers_and_the_controller_talk_over_sasl_ssl_and_sasl_plaintext() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = common::pki(dir.path());
    let scram = "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"broker\" password=\"broker-pw\";";
    let plain = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"broker\" password=\"broker-pw\" user_broker=\"broker-pw\";";
    // The listener named PLAINTEXT (clients and replication) speaks SASL_SSL, the controller
    // listener SASL_PLAINTEXT: every inter-node link logs in, one of them over TLS.
    let c = TestCluster::start(
        3,
        &[
            (
                "listener.security.protocol.map",
                "PLAINTEXT:SASL_SSL,CONTROLLER:SASL_PLAINTEXT",
            ),
            ("ssl.keystore.location", &pki.server),
            ("ssl.truststore.location", &pki.ca),
            ("sasl.enabled.mechanisms", "SCRAM-SHA-512,PLAIN"),
            ("sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-512"),
            ("sasl.mechanism.controller.protocol", "PLAIN"),
            (
                "listener.name.plaintext.scram-sha-512.sasl.jaas.config",
                scram,
            ),
            ("listener.name.controller.plain.sasl.jaas.config", plain),
            ("sasl.users", "broker:broker-pw,alice:alice-pw"),
        ],
    );
    let client = |bootstrap: &str| {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", bootstrap)
            .set("security.protocol", "SASL_SSL")
            .set("ssl.ca.location", &pki.ca)
            .set("sasl.mechanism", "SCRAM-SHA-512")
            .set("sasl.username", "alice")
            .set("sasl.password", "alice-pw");
        cfg
    };
    let boot = c.bootstrap();
    let admin: AdminClient<DefaultClientContext> = client(&boot).create().expect("admin");
    let res = futures::executor::block_on(admin.create_topics(
        [&NewTopic::new("secured", 1, TopicReplication::Fixed(3))],
        &AdminOptions::new(),
    ))
    .expect("create_topics");
    assert!(res.iter().all(|r| r.is_ok()), "{res:?}");
    let producer: FutureProducer = client(&boot).set("acks", "all").create().expect("producer");
    for v in values("sec", 50) {
        futures::executor::block_on(
            producer.send(
                FutureRecord::<(), str>::to("secured")
                    .partition(0)
                    .payload(&v),
                Duration::from_secs(20),
            ),
        )
        .expect("acknowledged");
    }
    // Followers fetched over SASL_SSL: the ISR stayed whole and every replica has the bytes.
    let (leader, _, isr) = c.partition_state("secured", 0).expect("partition");
    assert_eq!(isr.len(), 3, "followers replicate over the secured link");
    let (_, hw, bytes) = stored(&c, c.index_of(leader), "secured");
    for i in 0..3 {
        wait_until(Duration::from_secs(10), "replicas caught up", || {
            stored(&c, i, "secured").1 == hw
        });
        assert_eq!(stored(&c, i, "secured").2, bytes);
    }
}

#[test]
fn a_deleted_topics_committed_offsets_are_dropped_by_the_groups_coordinator() {
    let c = TestCluster::start(3, &[("offsets.topic.num.partitions", "3")]);
    let boot = c.bootstrap();
    create(
        &boot,
        NewTopic::new("doomed", 1, TopicReplication::Fixed(3)),
    );
    create(&boot, NewTopic::new("kept", 1, TopicReplication::Fixed(3)));
    let consumer = || -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", &boot)
            .set("group.id", "g-deleted")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer")
    };
    let cons = consumer();
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("doomed", 0, Offset::Offset(5))
        .expect("tpl");
    offsets
        .add_partition_offset("kept", 0, Offset::Offset(7))
        .expect("tpl");
    cons.commit(&offsets, rdkafka::consumer::CommitMode::Sync)
        .expect("commit");
    drop(cons);
    let del =
        futures::executor::block_on(admin(&boot).delete_topics(&["doomed"], &AdminOptions::new()))
            .expect("delete_topics");
    assert!(del.iter().all(|r| r.is_ok()), "{del:?}");
    // Created again under the same name: the group starts without the old offsets there.
    create(
        &boot,
        NewTopic::new("doomed", 1, TopicReplication::Fixed(3)),
    );
    let committed = |topic: &str| -> Offset {
        let mut q = TopicPartitionList::new();
        q.add_partition(topic, 0);
        consumer()
            .committed_offsets(q, Duration::from_secs(20))
            .expect("committed offsets")
            .elements()[0]
            .offset()
    };
    wait_until(Duration::from_secs(10), "the old offsets dropped", || {
        committed("doomed") == Offset::Invalid
    });
    assert_eq!(
        committed("kept"),
        Offset::Offset(7),
        "other topics keep theirs"
    );
}

#[test]
fn describe_quorum_reports_the_controller_and_every_nodes_metadata_replica() {
    use kafka_protocol::messages::{ApiKey, DescribeQuorumRequest, DescribeQuorumResponse};
    let c = TestCluster::start(3, &[]);
    create(
        &c.bootstrap(),
        NewTopic::new("q", 1, TopicReplication::Fixed(3)),
    );
    // Asked of node 3: forwarded to the controller on node 1.
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", c.nodes[2].port)
        .parse()
        .expect("addr");
    wait_until(Duration::from_secs(10), "every voter caught up", || {
        let mut raw = common::RawClient::connect(addr);
        let r: DescribeQuorumResponse =
            raw.call(ApiKey::DescribeQuorum, 2, &DescribeQuorumRequest::default());
        let Some(p) = r.topics.first().and_then(|t| t.partitions.first()) else {
            return false;
        };
        let voters: Vec<i32> = p.current_voters.iter().map(|v| v.replica_id.0).collect();
        r.error_code == 0
            && r.topics[0].topic_name.0.as_str() == "__cluster_metadata"
            && p.leader_id.0 == 1
            && p.high_watermark > 0
            && voters == vec![1, 2, 3]
            && p.current_voters
                .iter()
                .all(|v| v.log_end_offset == p.high_watermark)
            && r.nodes.len() == 3
    });
    // `weir cluster quorum` shows the same, as kafka-metadata-quorum.sh does.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "cluster",
            "quorum",
            "--output",
            "json",
            "--bootstrap-server",
        ])
        .arg(addr.to_string())
        .output()
        .expect("weir cluster quorum");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let q: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(q["leader_id"], 1, "{q}");
    let roles: Vec<&str> = q["replicas"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["role"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(roles, vec!["Leader", "Follower", "Follower"], "{q}");
}
