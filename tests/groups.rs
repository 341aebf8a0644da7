//! Consumer groups with librdkafka against the in-process broker: balanced assignment, a killed
//! member (no LeaveGroup) replaced after its session timeout without losing committed work, eager
//! and cooperative-sticky assignors, static membership, durable offsets, and the group admin APIs.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{RawClient, TestBroker};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

const FAST_GROUPS: &[(&str, &str)] = &[
    ("group.initial.rebalance.delay.ms", "0"),
    ("group.min.session.timeout.ms", "1000"),
];

#[derive(Clone, Default)]
struct Counting(Arc<Mutex<usize>>);
impl ClientContext for Counting {}
impl ConsumerContext for Counting {
    fn post_rebalance(&self, _c: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        if let Rebalance::Assign(_) = r {
            *self.0.lock().unwrap() += 1;
        }
    }
}

fn consumer(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> BaseConsumer<Counting> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    cfg.create_with_context(Counting::default())
        .expect("consumer")
}

fn produce(bootstrap: &str, topic: &str, n: usize) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for i in 0..n {
        let v = format!("{i}");
        p.send(
            BaseRecord::<str, str>::to(topic)
                .key(&v)
                .payload(&v)
                .partition((i % 6) as i32),
        )
        .unwrap();
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

fn create(bootstrap: &str, topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let a: AdminClient<rdkafka::client::DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let r = futures::executor::block_on(a.create_topics(
        [&NewTopic::new(
            topic,
            partitions,
            TopicReplication::Fixed(1),
        )],
        &AdminOptions::new(),
    ))
    .unwrap();
    r[0].as_ref().expect("created");
}

fn assignment<C: ConsumerContext>(c: &BaseConsumer<C>) -> BTreeSet<i32> {
    c.assignment()
        .unwrap()
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect()
}

/// Polls all consumers until `done` says their assignments are settled.
fn settle<C: ConsumerContext>(
    cs: &[&BaseConsumer<C>],
    done: impl Fn(&[BTreeSet<i32>]) -> bool,
) -> Vec<BTreeSet<i32>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for c in cs {
            let _ = c.poll(Duration::from_millis(50));
        }
        let a: Vec<_> = cs.iter().map(|c| assignment(c)).collect();
        if done(&a) {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "assignments never settled: {a:?}"
        );
    }
}

fn disjoint_cover(a: &[BTreeSet<i32>], n: i32) -> bool {
    let total: usize = a.iter().map(BTreeSet::len).sum();
    let union: BTreeSet<i32> = a.iter().flatten().copied().collect();
    a.iter().all(|s| !s.is_empty()) && total == n as usize && union == (0..n).collect()
}

#[test]
fn three_members_split_six_partitions_eager_and_cooperative() {
    let broker = TestBroker::start_with(FAST_GROUPS);
    let b = broker.bootstrap();
    create(&b, "six", 6);
    for (group, strategy) in [("eager", "range"), ("coop", "cooperative-sticky")] {
        let cs: Vec<_> = (0..3)
            .map(|_| consumer(&b, group, &[("partition.assignment.strategy", strategy)]))
            .collect();
        for c in &cs {
            c.subscribe(&["six"]).unwrap();
        }
        let refs: Vec<_> = cs.iter().collect();
        let a = settle(&refs, |a| disjoint_cover(a, 6));
        assert!(a.iter().all(|s| s.len() == 2), "{strategy}: {a:?}");
    }
}

/// Run by the test below in a child process, so it can be killed without a LeaveGroup.
#[test]
fn child_consumer_process() {
    let (Ok(b), Ok(group)) = (
        std::env::var("WEIR_CHILD_BOOTSTRAP"),
        std::env::var("WEIR_CHILD_GROUP"),
    ) else {
        return; // only meaningful when spawned by killed_member_is_replaced_and_nothing_is_lost
    };
    let c = consumer(&b, &group, &[]);
    c.subscribe(&["work"]).unwrap();
    loop {
        // Consume and commit like the others until killed.
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(m.topic(), m.partition(), Offset::Offset(m.offset() + 1))
                .unwrap();
            let _ = c.commit(&tpl, CommitMode::Sync);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn killed_member_is_replaced_and_nothing_is_lost() {
    let broker = TestBroker::start_with(FAST_GROUPS);
    let b = broker.bootstrap();
    create(&b, "work", 6);
    produce(&b, "work", 600);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_consumer_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WEIR_CHILD_BOOTSTRAP", &b)
        .env("WEIR_CHILD_GROUP", "work-group")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let a = consumer(&b, "work-group", &[]);
    let c2 = consumer(&b, "work-group", &[]);
    a.subscribe(&["work"]).unwrap();
    c2.subscribe(&["work"]).unwrap();
    let seen = Arc::new(Mutex::new(HashMap::<(i32, i64), usize>::new()));
    let consume = |c: &BaseConsumer<Counting>| {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(20)) {
            *seen
                .lock()
                .unwrap()
                .entry((m.partition(), m.offset()))
                .or_default() += 1;
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(m.topic(), m.partition(), Offset::Offset(m.offset() + 1))
                .unwrap();
            c.commit(&tpl, CommitMode::Sync).unwrap();
        }
    };
    // Let the three share the work for a while, then kill the child outright.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        consume(&a);
        consume(&c2);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // After the child's session times out the two survivors own all six partitions and finish.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        consume(&a);
        consume(&c2);
        let a1 = assignment(&a);
        let a2 = assignment(&c2);
        let mut committed = 0;
        if a1.len() + a2.len() == 6 {
            let mut tpl = TopicPartitionList::new();
            for p in 0..6 {
                tpl.add_partition("work", p);
            }
            let offs = a.committed_offsets(tpl, Duration::from_secs(5)).unwrap();
            committed = offs
                .elements()
                .iter()
                .map(|e| e.offset().to_raw().unwrap_or(0).max(0))
                .sum::<i64>();
        }
        if committed == 600 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "survivors never finished: {a1:?} {a2:?}, committed {committed}"
        );
    }
    // Offsets the child committed were not re-read; the rest were read by the survivors.
    let seen = seen.lock().unwrap();
    assert!(
        seen.values().all(|n| *n == 1),
        "a record was consumed twice by the survivors"
    );
}

#[test]
fn static_member_restarts_without_a_rebalance() {
    let broker = TestBroker::start_with(FAST_GROUPS);
    let b = broker.bootstrap();
    create(&b, "st", 4);
    let other = consumer(&b, "static", &[("group.instance.id", "other")]);
    let s1 = consumer(&b, "static", &[("group.instance.id", "s")]);
    other.subscribe(&["st"]).unwrap();
    s1.subscribe(&["st"]).unwrap();
    let a = settle(&[&other, &s1], |a| disjoint_cover(a, 4));
    let before = *other.context().0.lock().unwrap();
    let mine = a[1].clone();
    // Static members do not leave on close; the replacement takes over the same identity.
    drop(s1);
    let s2 = consumer(&b, "static", &[("group.instance.id", "s")]);
    s2.subscribe(&["st"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while assignment(&s2) != mine {
        let _ = s2.poll(Duration::from_millis(50));
        let _ = other.poll(Duration::from_millis(10));
        assert!(
            Instant::now() < deadline,
            "static member did not get its partitions back"
        );
    }
    for _ in 0..20 {
        let _ = other.poll(Duration::from_millis(50));
    }
    assert_eq!(
        *other.context().0.lock().unwrap(),
        before,
        "the other member saw no rebalance"
    );
}

fn commit_raw(c: &mut RawClient, group: &str, topic: &str, offset: i64, meta: &str) -> i16 {
    use kafka_protocol::messages::offset_commit_request::*;
    let mut p = OffsetCommitRequestPartition::default();
    p.partition_index = 0;
    p.committed_offset = offset;
    p.committed_leader_epoch = -1;
    p.committed_metadata = Some(StrBytes::from_string(meta.into()));
    let mut t = OffsetCommitRequestTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.into()));
    t.partitions = vec![p];
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(StrBytes::from_string(group.into()));
    req.generation_id_or_member_epoch = -1;
    req.topics = vec![t];
    let r: OffsetCommitResponse = c.call(ApiKey::OffsetCommit, 8, &req);
    r.topics[0].partitions[0].error_code
}

fn fetch_raw(c: &mut RawClient, group: &str) -> Option<(i64, String)> {
    let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
    g.group_id = GroupId(StrBytes::from_string(group.into()));
    g.topics = None;
    let r: OffsetFetchResponse = c.call(
        ApiKey::OffsetFetch,
        8,
        &OffsetFetchRequest::default().with_groups(vec![g]),
    );
    let t = r.groups[0].topics.first()?;
    let p = &t.partitions[0];
    Some((
        p.committed_offset,
        p.metadata
            .as_ref()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
    ))
}

#[test]
fn offsets_and_metadata_survive_restart_and_groups_are_administered() {
    let mut broker = TestBroker::start_with(FAST_GROUPS);
    create(&broker.bootstrap(), "offs", 1);
    let mut c = RawClient::connect(broker.addr());
    assert_eq!(commit_raw(&mut c, "simple", "offs", 42, "my-metadata"), 0);
    assert_eq!(commit_raw(&mut c, "simple", "no-such-topic", 1, ""), 3);
    assert_eq!(
        fetch_raw(&mut c, "simple"),
        Some((42, "my-metadata".into()))
    );
    broker.restart();
    let mut c = RawClient::connect(broker.addr());
    assert_eq!(
        fetch_raw(&mut c, "simple"),
        Some((42, "my-metadata".into())),
        "durable across restart"
    );

    // A live group shows up in ListGroups/DescribeGroups and cannot be deleted until empty.
    let b = broker.bootstrap();
    let live = consumer(&b, "live", &[]);
    live.subscribe(&["offs"]).unwrap();
    settle(&[&live], |a| a[0].len() == 1);
    let r: ListGroupsResponse = c.call(ApiKey::ListGroups, 4, &ListGroupsRequest::default());
    let names: Vec<_> = r
        .groups
        .iter()
        .map(|g| {
            (
                g.group_id.0.as_str().to_string(),
                g.group_state.as_str().to_string(),
            )
        })
        .collect();
    assert!(
        names.contains(&("live".into(), "Stable".into())),
        "{names:?}"
    );
    assert!(names.iter().any(|(n, _)| n == "simple"));
    let r: DescribeGroupsResponse = c.call(
        ApiKey::DescribeGroups,
        5,
        &DescribeGroupsRequest::default()
            .with_groups(vec![GroupId(StrBytes::from_static_str("live"))]),
    );
    assert_eq!(r.groups[0].group_state.as_str(), "Stable");
    assert_eq!(r.groups[0].members.len(), 1);
    assert_eq!(r.groups[0].protocol_data.as_str(), "range");
    assert!(!r.groups[0].members[0].member_assignment.is_empty());

    use rdkafka::admin::{AdminClient, AdminOptions};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &b)
        .create()
        .unwrap();
    let del = futures::executor::block_on(
        admin.delete_groups(&["live", "simple", "ghost"], &AdminOptions::new()),
    )
    .unwrap();
    assert!(
        matches!(
            &del[0],
            Err((_, rdkafka::types::RDKafkaErrorCode::NonEmptyGroup))
        ),
        "{:?}",
        del[0]
    );
    assert!(del[1].is_ok());
    assert!(
        matches!(
            &del[2],
            Err((_, rdkafka::types::RDKafkaErrorCode::GroupIdNotFound))
        ),
        "{:?}",
        del[2]
    );
    assert_eq!(fetch_raw(&mut c, "simple").map(|x| x.0), None);
    broker.restart();
    let mut c = RawClient::connect(broker.addr());
    assert_eq!(
        fetch_raw(&mut c, "simple").map(|x| x.0),
        None,
        "deletion is durable"
    );
}

/// The topics with a committed offset in `group` (OffsetFetch v8, all topics).
fn committed_topics(c: &mut RawClient, group: &str) -> BTreeSet<String> {
    let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
    g.group_id = GroupId(StrBytes::from_string(group.into()));
    g.topics = None;
    let r: OffsetFetchResponse = c.call(
        ApiKey::OffsetFetch,
        8,
        &OffsetFetchRequest::default().with_groups(vec![g]),
    );
    r.groups[0]
        .topics
        .iter()
        .map(|t| t.name.0.as_str().to_string())
        .collect()
}

/// Kafka's group coordinator drops the committed offsets of deleted partitions
/// (`onPartitionsDeleted`), with tombstones: found by compat/clients/java's
/// "committed offsets of a deleted topic disappear" check, which passes against Kafka 4.2.
#[test]
fn committed_offsets_of_a_deleted_topic_are_dropped_durably() {
    let mut broker = TestBroker::start_with(FAST_GROUPS);
    let b = broker.bootstrap();
    create(&b, "doomed", 1);
    create(&b, "kept", 1);
    let mut c = RawClient::connect(broker.addr());
    assert_eq!(commit_raw(&mut c, "g", "doomed", 5, ""), 0);
    assert_eq!(commit_raw(&mut c, "g", "kept", 7, ""), 0);
    let both: BTreeSet<String> = ["doomed".to_string(), "kept".to_string()].into();
    assert_eq!(committed_topics(&mut c, "g"), both);

    use rdkafka::admin::{AdminClient, AdminOptions};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &b)
        .create()
        .unwrap();
    let del = futures::executor::block_on(admin.delete_topics(&["doomed"], &AdminOptions::new()))
        .unwrap();
    assert!(del[0].is_ok(), "{:?}", del[0]);
    let kept: BTreeSet<String> = ["kept".to_string()].into();
    assert_eq!(committed_topics(&mut c, "g"), kept);

    broker.restart();
    let mut c = RawClient::connect(broker.addr());
    assert_eq!(
        committed_topics(&mut c, "g"),
        kept,
        "the tombstones are durable"
    );
    // A topic created again under the name starts without the old group's offsets.
    create(&broker.bootstrap(), "doomed", 1);
    assert_eq!(committed_topics(&mut c, "g"), kept);
}

fn consumer_848(bootstrap: &str, group: &str) -> BaseConsumer<Counting> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("group.protocol", "consumer")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create_with_context(Counting::default())
        .expect("consumer")
}

#[test]
fn kip_848_consumer_protocol_balances_and_rebalances() {
    let broker = TestBroker::start_with(FAST_GROUPS);
    let b = broker.bootstrap();
    create(&b, "next-gen", 6);
    let c1 = consumer_848(&b, "g848");
    let c2 = consumer_848(&b, "g848");
    c1.subscribe(&["next-gen"]).unwrap();
    c2.subscribe(&["next-gen"]).unwrap();
    let a = settle(&[&c1, &c2], |a| disjoint_cover(a, 6));
    assert_eq!(
        (a[0].len(), a[1].len()),
        (3, 3),
        "uniform assignor balances: {a:?}"
    );

    let mut raw = RawClient::connect(broker.addr());
    let d: ConsumerGroupDescribeResponse = raw.call(
        ApiKey::ConsumerGroupDescribe,
        0,
        &ConsumerGroupDescribeRequest::default()
            .with_group_ids(vec![GroupId(StrBytes::from_static_str("g848"))]),
    );
    let g = &d.groups[0];
    assert_eq!(g.error_code, 0);
    assert_eq!(g.group_state.as_str(), "Stable");
    assert_eq!(g.members.len(), 2);
    assert_eq!(g.assignor_name.as_str(), "uniform");
    let r: ListGroupsResponse = raw.call(ApiKey::ListGroups, 5, &ListGroupsRequest::default());
    let listed = r
        .groups
        .iter()
        .find(|x| x.group_id.0.as_str() == "g848")
        .expect("listed");
    assert_eq!(listed.group_type.as_str(), "consumer");

    // The member that leaves hands everything to the one that stays.
    c2.unsubscribe();
    drop(c2);
    settle(&[&c1], |a| a[0].len() == 6);

    // Commits with the member epoch work, and are read back.
    produce(&b, "next-gen", 60);
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while got < 60 {
        assert!(Instant::now() < deadline, "consumed only {got}");
        if let Some(Ok(m)) = c1.poll(Duration::from_millis(100)) {
            got += 1;
            c1.commit_message(&m, CommitMode::Sync)
                .expect("commit with member epoch");
        }
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..6 {
        tpl.add_partition("next-gen", p);
    }
    let offs = c1.committed_offsets(tpl, Duration::from_secs(5)).unwrap();
    let total: i64 = offs
        .elements()
        .iter()
        .map(|e| e.offset().to_raw().unwrap_or(0).max(0))
        .sum();
    assert_eq!(total, 60);
}
