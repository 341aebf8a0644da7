//! Scenario tests for the controller: every proposal goes through a MemoryLog and replay, the
//! way the real caller drives it, so these also check that replay alone moves the state.

use kafka_protocol::messages::alter_partition_request::{BrokerState, PartitionData, TopicData};
use kafka_protocol::messages::broker_registration_request::Listener;
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use uuid::Uuid;

use super::*;
use crate::metadata::{PartitionImage, NO_LEADER};

const CLUSTER: &str = "weir-test-cluster";

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

struct H {
    c: Controller,
    log: MemoryLog,
    now: i64,
}

impl H {
    fn new() -> H {
        H::with(|_| {})
    }

    fn with(f: impl FnOnce(&mut ControllerConfig)) -> H {
        let mut cfg = ControllerConfig {
            cluster_id: CLUSTER.into(),
            default_replication_factor: 3,
            default_partitions: 3,
            ..ControllerConfig::default()
        };
        f(&mut cfg);
        H {
            c: Controller::new(cfg),
            log: MemoryLog::new(),
            now: 1_000,
        }
    }

    fn commit(&mut self, records: &[MetadataRecord]) {
        self.c.append_and_replay(&mut self.log, records).unwrap();
    }

    fn registration(id: i32, rack: Option<&str>, incarnation: u128) -> BrokerRegistrationRequest {
        let mut r = BrokerRegistrationRequest::default();
        r.broker_id = BrokerId(id);
        r.cluster_id = s(CLUSTER);
        r.incarnation_id = Uuid::from_u128(incarnation);
        r.rack = rack.map(s);
        r.previous_broker_epoch = -1;
        let mut l = Listener::default();
        l.name = s("PLAINTEXT");
        l.host = s("127.0.0.1");
        l.port = 9000 + id as u16;
        r.listeners = vec![l];
        r
    }

    fn register_req(&mut self, req: &BrokerRegistrationRequest) -> BrokerRegistrationResponse {
        let next = self.log.end_offset();
        let (records, resp) = self.c.register_broker(req, self.now, next);
        self.commit(&records);
        resp
    }

    fn register(&mut self, id: i32, rack: Option<&str>) -> i64 {
        let resp = self.register_req(&H::registration(id, rack, id as u128 + 100));
        assert_eq!(resp.error_code, 0);
        resp.broker_epoch
    }

    fn epoch(&self, id: i32) -> i64 {
        self.c.image().brokers[&id].epoch
    }

    fn beat_with(
        &mut self,
        id: i32,
        offset: i64,
        want_fence: bool,
        want_shut_down: bool,
    ) -> (Vec<MetadataRecord>, BrokerHeartbeatResponse) {
        let mut r = BrokerHeartbeatRequest::default();
        r.broker_id = BrokerId(id);
        r.broker_epoch = self.c.image().brokers.get(&id).map_or(-1, |b| b.epoch);
        r.current_metadata_offset = offset;
        r.want_fence = want_fence;
        r.want_shut_down = want_shut_down;
        let (records, resp) = self.c.heartbeat(&r, self.now);
        self.commit(&records);
        (records, resp)
    }

    fn beat(&mut self, id: i32) -> BrokerHeartbeatResponse {
        let offset = self.c.last_committed_offset();
        self.beat_with(id, offset, false, false).1
    }

    /// Registered and unfenced brokers 1..=n with the given racks.
    fn cluster(racks: &[Option<&str>]) -> H {
        let mut h = H::new();
        h.add_brokers(racks);
        h
    }

    fn add_brokers(&mut self, racks: &[Option<&str>]) {
        for (i, rack) in racks.iter().enumerate() {
            self.register(i as i32 + 1, *rack);
        }
        for i in 0..racks.len() {
            let resp = self.beat(i as i32 + 1);
            assert!(!resp.is_fenced);
        }
    }

    fn topic_req(name: &str, partitions: i32, rf: i16) -> CreatableTopic {
        let mut t = CreatableTopic::default();
        t.name = TopicName(s(name));
        t.num_partitions = partitions;
        t.replication_factor = rf;
        t
    }

    fn create_many(
        &mut self,
        topics: Vec<CreatableTopic>,
        validate_only: bool,
    ) -> Vec<CreatableTopicResult> {
        let mut req = CreateTopicsRequest::default();
        req.topics = topics;
        req.validate_only = validate_only;
        let (records, resp) = self.c.create_topics(&req, self.now);
        if validate_only {
            assert!(records.is_empty());
        }
        self.commit(&records);
        resp.topics
    }

    fn create(&mut self, name: &str, partitions: i32, rf: i16) -> CreatableTopicResult {
        self.create_many(vec![H::topic_req(name, partitions, rf)], false)
            .remove(0)
    }

    fn id(&self, name: &str) -> Uuid {
        self.c.image().topic_ids[name]
    }

    fn part(&self, name: &str, idx: i32) -> PartitionImage {
        self.c
            .image()
            .partition(self.id(name), idx)
            .unwrap()
            .clone()
    }

    fn alter_req(&self, broker: i32, name: &str, idx: i32, isr: &[i32]) -> AlterPartitionRequest {
        let p = self.part(name, idx);
        let mut pd = PartitionData::default();
        pd.partition_index = idx;
        pd.leader_epoch = p.leader_epoch;
        pd.partition_epoch = p.partition_epoch;
        pd.new_isr_with_epochs = isr
            .iter()
            .map(|b| {
                let mut st = BrokerState::default();
                st.broker_id = BrokerId(*b);
                st.broker_epoch = self.c.image().brokers.get(b).map_or(-1, |r| r.epoch);
                st
            })
            .collect();
        let mut td = TopicData::default();
        td.topic_id = self.id(name);
        td.partitions = vec![pd];
        let mut req = AlterPartitionRequest::default();
        req.broker_id = BrokerId(broker);
        req.broker_epoch = self.c.image().brokers.get(&broker).map_or(-1, |b| b.epoch);
        req.topics = vec![td];
        req
    }

    fn alter(&mut self, req: &AlterPartitionRequest) -> AlterPartitionResponse {
        let (records, resp) = self.c.alter_partition(req, self.now);
        self.commit(&records);
        resp
    }

    fn tick(&mut self) -> Vec<MetadataRecord> {
        let records = self.c.tick(self.now);
        self.commit(&records);
        records
    }

    /// Time passes; the listed brokers keep heartbeating every 2 s.
    fn advance(&mut self, ms: i64, alive: &[i32]) {
        let end = self.now + ms;
        while self.now < end {
            self.now = (self.now + 2_000).min(end);
            for b in alive {
                self.beat(*b);
            }
            self.tick();
        }
    }

    fn replay_into_fresh(&self) -> MetadataImage {
        let mut fresh = Controller::new(self.c.config().clone());
        for (off, r) in self.log.read_from(0, usize::MAX).unwrap() {
            fresh.replay(off, &r);
        }
        fresh.image().clone()
    }
}

fn kinds(records: &[MetadataRecord]) -> Vec<&'static str> {
    records
        .iter()
        .map(|r| match r {
            MetadataRecord::RegisterBroker { .. } => "RegisterBroker",
            MetadataRecord::UnfenceBroker { .. } => "UnfenceBroker",
            MetadataRecord::FenceBroker { .. } => "FenceBroker",
            MetadataRecord::BrokerRegistrationChange { .. } => "BrokerRegistrationChange",
            MetadataRecord::Topic { .. } => "Topic",
            MetadataRecord::Partition { .. } => "Partition",
            MetadataRecord::PartitionChange { .. } => "PartitionChange",
            MetadataRecord::RemoveTopic { .. } => "RemoveTopic",
            MetadataRecord::Config { .. } => "Config",
            MetadataRecord::ProducerIds { .. } => "ProducerIds",
            _ => "other",
        })
        .collect()
}

// ---- registration and heartbeats ----

#[test]
fn registration_starts_fenced_and_heartbeat_unfences_once_caught_up() {
    let mut h = H::new();
    h.commit(&[MetadataRecord::NoOp, MetadataRecord::NoOp]);
    let req = H::registration(1, Some("a"), 11);
    let (records, resp) = h.c.register_broker(&req, h.now, 2);
    assert_eq!(resp.error_code, 0);
    assert_eq!(
        resp.broker_epoch, 2,
        "the epoch is the RegisterBroker record's offset"
    );
    assert_eq!(kinds(&records), vec!["RegisterBroker"]);
    assert!(
        h.c.image().brokers.is_empty(),
        "nothing changes before replay"
    );
    h.commit(&records);
    let b = &h.c.image().brokers[&1];
    assert!(b.fenced && b.epoch == 2 && b.rack.as_deref() == Some("a"));
    assert_eq!(b.endpoints[0].port, 9001);
    assert_eq!(h.c.image().live_brokers().count(), 0);

    // Behind its registration record: stays fenced.
    let (records, resp) = h.beat_with(1, 1, false, false);
    assert!(records.is_empty());
    assert!(resp.is_fenced && !resp.is_caught_up && !resp.should_shut_down);

    // Asks to stay fenced: stays fenced even when caught up.
    let (records, resp) = h.beat_with(1, 2, true, false);
    assert!(records.is_empty() && resp.is_fenced && resp.is_caught_up);

    let (records, resp) = h.beat_with(1, 2, false, false);
    assert_eq!(
        records,
        vec![MetadataRecord::UnfenceBroker { id: 1, epoch: 2 }]
    );
    assert!(!resp.is_fenced && resp.is_caught_up);
    assert_eq!(h.c.image().live_brokers().count(), 1);

    // Steady state: no records.
    let (records, resp) = h.beat_with(1, 3, false, false);
    assert!(records.is_empty() && !resp.is_fenced);
}

#[test]
fn registration_checks_cluster_id_and_duplicates() {
    let mut h = H::new();
    let mut bad = H::registration(1, None, 1);
    bad.cluster_id = s("other");
    let (records, resp) = h.c.register_broker(&bad, h.now, 0);
    assert_eq!(resp.error_code, code::INCONSISTENT_CLUSTER_ID);
    assert!(records.is_empty());

    assert_eq!(h.register_req(&H::registration(1, None, 1)).error_code, 0);
    h.beat(1);
    assert!(!h.c.image().brokers[&1].fenced);
    // Another process claims id 1 while the first is alive.
    let resp = h.register_req(&H::registration(1, None, 2));
    assert_eq!(resp.error_code, code::DUPLICATE_BROKER_REGISTRATION);
    // The same incarnation may re-register (a retried registration).
    let mut again = H::registration(1, None, 1);
    again.previous_broker_epoch = h.epoch(1);
    let resp = h.register_req(&again);
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.broker_epoch, h.epoch(1));
    // Once the session has expired, a new incarnation is welcome.
    h.beat(1);
    h.now += 10_000;
    h.tick();
    assert!(h.c.image().brokers[&1].fenced);
    let resp = h.register_req(&H::registration(1, None, 3));
    assert_eq!(resp.error_code, 0);
    assert_eq!(h.c.image().brokers[&1].incarnation_id, Uuid::from_u128(3));
}

#[test]
fn heartbeat_with_wrong_epoch_is_stale() {
    let mut h = H::cluster(&[None]);
    let mut r = BrokerHeartbeatRequest::default();
    r.broker_id = BrokerId(1);
    r.broker_epoch = h.epoch(1) + 1;
    let (records, resp) = h.c.heartbeat(&r, h.now);
    assert!(records.is_empty());
    assert_eq!(resp.error_code, code::STALE_BROKER_EPOCH);
    r.broker_id = BrokerId(9);
    assert_eq!(
        h.c.heartbeat(&r, h.now).1.error_code,
        code::STALE_BROKER_EPOCH
    );
}

#[test]
fn a_restarted_controller_gives_brokers_a_fresh_session() {
    let mut h = H::cluster(&[None, None]);
    h.now += 60_000;
    let mut fresh = Controller::new(h.c.config().clone());
    for (off, r) in h.log.read_from(0, usize::MAX).unwrap() {
        fresh.replay(off, &r);
    }
    assert!(fresh.tick(h.now).is_empty(), "no fencing on the first tick");
    assert_eq!(
        kinds(&fresh.tick(h.now + 9_001))
            .iter()
            .filter(|k| **k == "FenceBroker")
            .count(),
        2
    );
}

// ---- topic creation and placement ----

#[test]
fn create_topic_rf3_spreads_replicas_over_racks_and_leaders() {
    let mut h = H::cluster(&[Some("a"), Some("b"), Some("c")]);
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![H::topic_req("orders", 3, 3)];
    let (records, resp) = h.c.create_topics(&req, h.now);
    assert_eq!(
        kinds(&records),
        vec!["Topic", "Partition", "Partition", "Partition"]
    );
    let r = &resp.topics[0];
    assert_eq!(
        (r.error_code, r.num_partitions, r.replication_factor),
        (0, 3, 3)
    );
    assert!(!r.topic_id.is_nil());
    h.commit(&records);
    assert_eq!(h.id("orders"), r.topic_id);
    let mut leaders = BTreeSet::new();
    for i in 0..3 {
        let p = h.part("orders", i);
        let racks: BTreeSet<_> = p
            .replicas
            .iter()
            .map(|b| h.c.image().brokers[b].rack.clone())
            .collect();
        assert_eq!(racks.len(), 3, "{p:?}");
        assert_eq!(p.isr, p.replicas);
        assert_eq!(p.leader, p.replicas[0]);
        assert_eq!((p.leader_epoch, p.partition_epoch), (0, 0));
        leaders.insert(p.leader);
    }
    assert_eq!(leaders.len(), 3, "leaders spread over all brokers");
}

#[test]
fn create_topic_six_brokers_three_racks_balances() {
    let mut h = H::cluster(&[
        Some("a"),
        Some("a"),
        Some("b"),
        Some("b"),
        Some("c"),
        Some("c"),
    ]);
    assert_eq!(h.create("t", 6, 3).error_code, 0);
    let mut leaders = BTreeSet::new();
    let mut load = std::collections::BTreeMap::new();
    for i in 0..6 {
        let p = h.part("t", i);
        let racks: BTreeSet<_> = p
            .replicas
            .iter()
            .map(|b| h.c.image().brokers[b].rack.clone())
            .collect();
        assert_eq!(racks.len(), 3);
        leaders.insert(p.leader);
        for b in p.replicas {
            *load.entry(b).or_insert(0) += 1;
        }
    }
    assert_eq!(leaders.len(), 6);
    assert!(load.values().all(|n| *n == 3), "{load:?}");
}

#[test]
fn create_topic_places_only_on_unfenced_brokers_with_kafkas_message() {
    let mut h = H::cluster(&[None, None, None]);
    h.register(4, None); // registered, still fenced
    let r = h.create("t", 1, 4);
    assert_eq!(r.error_code, code::INVALID_REPLICATION_FACTOR);
    assert_eq!(
        r.error_message.unwrap().as_str(),
        "Unable to replicate the partition 4 time(s): The target replication factor of 4 \
         cannot be reached because only 3 broker(s) are registered."
    );
    assert_eq!(h.create("t", 10, 3).error_code, 0);
    for i in 0..10 {
        assert!(!h.part("t", i).replicas.contains(&4));
    }
}

#[test]
fn create_topics_validation() {
    let mut h = H::cluster(&[None, None, None]);
    assert_eq!(h.create("ok", -1, -1).error_code, 0);
    let p = h.part("ok", 0);
    assert_eq!(
        p.replicas.len(),
        3,
        "-1 takes the default replication factor"
    );
    assert_eq!(h.c.image().topics[&h.id("ok")].partitions.len(), 3);

    let r = h.create("ok", 1, 1);
    assert_eq!(r.error_code, code::TOPIC_ALREADY_EXISTS);
    assert_eq!(
        r.error_message.unwrap().as_str(),
        "Topic 'ok' already exists."
    );
    assert_eq!(
        h.create("bad name", 1, 1).error_code,
        code::INVALID_TOPIC_EXCEPTION
    );
    assert_eq!(h.create("", 1, 1).error_code, code::INVALID_TOPIC_EXCEPTION);
    assert_eq!(h.create("x", 0, 1).error_code, code::INVALID_PARTITIONS);
    assert_eq!(
        h.create("x", 1, 0).error_code,
        code::INVALID_REPLICATION_FACTOR
    );
    assert_eq!(h.create("x", 20_000, 1).error_code, code::POLICY_VIOLATION);

    h.create("a.b", 1, 1);
    let r = h.create("a_b", 1, 1);
    assert_eq!(r.error_code, code::INVALID_TOPIC_EXCEPTION);
    assert_eq!(
        r.error_message.unwrap().as_str(),
        "Topic 'a_b' collides with existing topic: a.b"
    );

    let dup = h.create_many(
        vec![H::topic_req("d", 1, 1), H::topic_req("d", 1, 1)],
        false,
    );
    assert!(dup.iter().all(|r| r.error_code == code::INVALID_REQUEST));

    let mut t = H::topic_req("cfg", 1, 1);
    let mut c = CreatableTopicConfig::default();
    c.name = s("retention.ms");
    c.value = Some(s("abc"));
    t.configs = vec![c];
    assert_eq!(
        h.create_many(vec![t], false)[0].error_code,
        code::INVALID_CONFIG
    );

    let mut t = H::topic_req("cfg", 1, 1);
    let mut c = CreatableTopicConfig::default();
    c.name = s("cleanup.policy");
    c.value = Some(s("compact"));
    t.configs = vec![c];
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    let (records, resp) = h.c.create_topics(&req, h.now);
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(kinds(&records), vec!["Topic", "Partition", "Config"]);
    h.commit(&records);
    assert_eq!(
        h.c.image().configs[&(TOPIC_RESOURCE, "cfg".to_string())]["cleanup.policy"],
        "compact"
    );

    // validate_only: the answer, no records.
    let r = h.create_many(vec![H::topic_req("v", 2, 2)], true).remove(0);
    assert_eq!(
        (r.error_code, r.num_partitions, r.replication_factor),
        (0, 2, 2)
    );
    assert!(h.c.image().topic_by_name("v").is_none());
}

fn manual(name: &str, assignment: &[&[i32]]) -> CreatableTopic {
    let mut t = H::topic_req(name, -1, -1);
    t.assignments = assignment
        .iter()
        .enumerate()
        .map(|(i, bs)| {
            let mut a = CreatableReplicaAssignment::default();
            a.partition_index = i as i32;
            a.broker_ids = bs.iter().map(|b| BrokerId(*b)).collect();
            a
        })
        .collect();
    t
}

#[test]
fn create_topic_with_manual_assignment() {
    let mut h = H::cluster(&[None, None, None]);
    h.register(4, None); // fenced
    let r = h
        .create_many(vec![manual("m", &[&[3, 1], &[4, 2]])], false)
        .remove(0);
    assert_eq!(
        (r.error_code, r.num_partitions, r.replication_factor),
        (0, 2, 2)
    );
    assert_eq!(h.part("m", 0).leader, 3);
    let p1 = h.part("m", 1);
    assert_eq!(p1.replicas, vec![4, 2]);
    assert_eq!(p1.isr, vec![2], "fenced replicas start outside the ISR");
    assert_eq!(p1.leader, 2);

    let cases: Vec<(CreatableTopic, i16, &str)> =
        vec![
        (manual("e", &[&[1, 1]]), code::INVALID_REPLICA_ASSIGNMENT,
         "The manual partition assignment includes the broker 1 more than once."),
        (manual("e", &[&[9]]), code::INVALID_REPLICA_ASSIGNMENT,
         "The manual partition assignment includes broker 9, but no such broker is registered."),
        (manual("e", &[&[1, 2], &[3]]), code::INVALID_REPLICA_ASSIGNMENT,
         "The manual partition assignment includes a partition with 1 replica(s), but this is \
          inconsistent with previous partitions, which have 2 replica(s)."),
        (manual("e", &[&[]]), code::INVALID_REPLICA_ASSIGNMENT,
         "The manual partition assignment includes an empty replica list."),
        (manual("e", &[&[4]]), code::INVALID_REPLICA_ASSIGNMENT,
         "All brokers specified in the manual partition assignment for partition 0 are fenced \
          or in controlled shutdown."),
    ];
    for (t, c, m) in cases {
        let r = h.create_many(vec![t], false).remove(0);
        assert_eq!(r.error_code, c);
        assert_eq!(r.error_message.unwrap().as_str(), m);
    }
    let mut t = manual("e", &[&[1]]);
    t.num_partitions = 1;
    assert_eq!(
        h.create_many(vec![t], false)[0].error_code,
        code::INVALID_REQUEST
    );
    let mut t = manual("e", &[&[1], &[2]]);
    t.assignments[1].partition_index = 5;
    assert_eq!(
        h.create_many(vec![t], false)[0].error_code,
        code::INVALID_REPLICA_ASSIGNMENT
    );
}

// ---- fencing, elections, ISR ----

#[test]
fn session_expiry_fences_broker_and_moves_leadership_to_isr_member() {
    let mut h = H::cluster(&[Some("a"), Some("b"), Some("c")]);
    h.create("t", 1, 3);
    let before = h.part("t", 0);
    let dead = before.leader;
    let alive: Vec<i32> = (1..=3).filter(|b| *b != dead).collect();
    h.advance(8_000, &[1, 2, 3]);
    assert!(h.tick().is_empty());
    let mut fenced_at = None;
    for _ in 0..10 {
        h.now += 1_000;
        for b in &alive {
            h.beat(*b);
        }
        let records = h.tick();
        if !records.is_empty() {
            assert_eq!(kinds(&records), vec!["PartitionChange", "FenceBroker"]);
            fenced_at = Some(h.now);
            break;
        }
    }
    assert!(fenced_at.is_some(), "the silent broker was fenced");
    assert!(h.c.image().brokers[&dead].fenced);
    let after = h.part("t", 0);
    let expected: Vec<i32> = before
        .replicas
        .iter()
        .copied()
        .filter(|b| *b != dead)
        .collect();
    assert_eq!(
        after.leader, expected[0],
        "first ISR member in replica order"
    );
    assert_eq!(after.leader_epoch, before.leader_epoch + 1);
    assert_eq!(after.partition_epoch, before.partition_epoch + 1);
    assert!(!after.isr.contains(&dead));
    assert_eq!(after.isr.len(), 2);
}

#[test]
fn fencing_a_follower_shrinks_isr_without_leader_epoch_bump() {
    let mut h = H::cluster(&[None, None, None]);
    h.create("t", 1, 3);
    let before = h.part("t", 0);
    let follower = before.replicas[2];
    let alive: Vec<i32> = (1..=3).filter(|b| *b != follower).collect();
    h.advance(12_000, &alive);
    let after = h.part("t", 0);
    assert_eq!(after.leader, before.leader);
    assert_eq!(after.leader_epoch, before.leader_epoch);
    assert_eq!(after.partition_epoch, before.partition_epoch + 1);
    assert!(!after.isr.contains(&follower));
}

#[test]
fn alter_partition_shrink_and_expand() {
    let mut h = H::cluster(&[None, None, None]);
    h.create("t", 1, 3);
    let p = h.part("t", 0);
    let (leader, f1, f2) = (p.replicas[0], p.replicas[1], p.replicas[2]);
    let req = h.alter_req(leader, "t", 0, &[leader, f1]);
    let resp = h.alter(&req);
    assert_eq!(resp.error_code, 0);
    let out = &resp.topics[0].partitions[0];
    assert_eq!(out.error_code, 0);
    let now = h.part("t", 0);
    assert_eq!(now.isr, vec![leader, f1]);
    assert_eq!(
        now.leader_epoch, p.leader_epoch,
        "KAFKA-15021: no leader epoch bump"
    );
    assert_eq!(now.partition_epoch, p.partition_epoch + 1);
    assert_eq!(out.leader_id.0, leader);
    assert_eq!(out.leader_epoch, now.leader_epoch);
    assert_eq!(out.partition_epoch, now.partition_epoch);
    assert_eq!(out.isr.iter().map(|b| b.0).collect::<Vec<_>>(), now.isr);

    // Expand back.
    let req = h.alter_req(leader, "t", 0, &[leader, f1, f2]);
    assert_eq!(h.alter(&req).topics[0].partitions[0].error_code, 0);
    assert_eq!(h.part("t", 0).isr.len(), 3);
    assert_eq!(h.part("t", 0).partition_epoch, p.partition_epoch + 2);

    // The same ISR again: answered with the current state, nothing written.
    let req = h.alter_req(leader, "t", 0, &[leader, f1, f2]);
    let (records, resp) = h.c.alter_partition(&req, h.now);
    assert!(records.is_empty());
    assert_eq!(
        resp.topics[0].partitions[0].partition_epoch,
        p.partition_epoch + 2
    );
}

#[test]
fn alter_partition_refusals() {
    let mut h = H::cluster(&[None, None, None]);
    h.create("t", 1, 3);
    let p = h.part("t", 0);
    let (leader, f1, f2) = (p.replicas[0], p.replicas[1], p.replicas[2]);
    let code_of = |h: &mut H, req: &AlterPartitionRequest| {
        let (records, resp) = h.c.alter_partition(req, h.now);
        assert!(records.is_empty());
        (
            resp.error_code,
            resp.topics.first().map(|t| t.partitions[0].error_code),
        )
    };

    // A partition epoch that is behind: someone else changed the partition first.
    let mut req = h.alter_req(leader, "t", 0, &[leader, f1]);
    let ok = h.alter(&h.alter_req(leader, "t", 0, &[leader, f1, f2]));
    assert_eq!(ok.topics[0].partitions[0].error_code, 0);
    let mut stale = h.alter_req(leader, "t", 0, &[leader, f1]);
    stale.topics[0].partitions[0].partition_epoch -= 1;
    assert_eq!(
        code_of(&mut h, &stale),
        (0, Some(code::INVALID_UPDATE_VERSION))
    );

    req.topics[0].partitions[0].partition_epoch = h.part("t", 0).partition_epoch;
    req.topics[0].partitions[0].leader_epoch += 1;
    assert_eq!(code_of(&mut h, &req), (0, Some(code::FENCED_LEADER_EPOCH)));

    let not_leader = h.alter_req(f1, "t", 0, &[leader, f1]);
    assert_eq!(
        code_of(&mut h, &not_leader),
        (0, Some(code::INVALID_REQUEST))
    );

    let without_leader = h.alter_req(leader, "t", 0, &[f1, f2]);
    assert_eq!(
        code_of(&mut h, &without_leader),
        (0, Some(code::INVALID_REQUEST))
    );

    let non_replica = h.alter_req(leader, "t", 0, &[leader, 7]);
    assert_eq!(
        code_of(&mut h, &non_replica),
        (0, Some(code::INVALID_REQUEST))
    );

    let twice = h.alter_req(leader, "t", 0, &[leader, leader]);
    assert_eq!(code_of(&mut h, &twice), (0, Some(code::INVALID_REQUEST)));

    let mut wrong_epoch = h.alter_req(leader, "t", 0, &[leader, f1]);
    wrong_epoch.topics[0].partitions[0].new_isr_with_epochs[1].broker_epoch += 100;
    assert_eq!(
        code_of(&mut h, &wrong_epoch),
        (0, Some(code::INELIGIBLE_REPLICA))
    );

    let mut unknown = h.alter_req(leader, "t", 0, &[leader]);
    unknown.topics[0].topic_id = Uuid::from_u128(99);
    assert_eq!(code_of(&mut h, &unknown), (0, Some(code::UNKNOWN_TOPIC_ID)));

    let mut stale_broker = h.alter_req(leader, "t", 0, &[leader]);
    stale_broker.broker_epoch -= 1;
    assert_eq!(
        code_of(&mut h, &stale_broker),
        (code::STALE_BROKER_EPOCH, None)
    );

    // A fenced broker may not (re)join the ISR.
    h.commit(&[MetadataRecord::NoOp]);
    let shrink = h.alter_req(leader, "t", 0, &[leader, f1]);
    assert_eq!(h.alter(&shrink).topics[0].partitions[0].error_code, 0);
    let alive: Vec<i32> = vec![leader, f1];
    h.advance(12_000, &alive);
    assert!(h.c.image().brokers[&f2].fenced);
    let rejoin = h.alter_req(leader, "t", 0, &[leader, f1, f2]);
    assert_eq!(
        code_of(&mut h, &rejoin),
        (0, Some(code::INELIGIBLE_REPLICA))
    );

    // v2 style (bare ids) is accepted too.
    let mut v2 = h.alter_req(leader, "t", 0, &[leader]);
    let pd = &mut v2.topics[0].partitions[0];
    pd.new_isr = vec![BrokerId(leader)];
    pd.new_isr_with_epochs.clear();
    assert_eq!(h.alter(&v2).topics[0].partitions[0].error_code, 0);
    assert_eq!(h.part("t", 0).isr, vec![leader]);
}

#[test]
fn no_eligible_leader_leaves_leader_none_and_isr_keeps_last_member_then_it_returns() {
    let mut h = H::cluster(&[None, None]);
    h.create("t", 1, 2);
    let p = h.part("t", 0);
    let (leader, follower) = (p.replicas[0], p.replicas[1]);
    let shrink = h.alter_req(leader, "t", 0, &[leader]);
    assert_eq!(h.alter(&shrink).topics[0].partitions[0].error_code, 0);

    h.advance(12_000, &[follower]);
    assert!(h.c.image().brokers[&leader].fenced);
    let q = h.part("t", 0);
    assert_eq!(q.leader, NO_LEADER);
    assert_eq!(q.isr, vec![leader], "the ISR is never shrunk to empty");
    assert_eq!(q.leader_epoch, p.leader_epoch + 1);
    assert_eq!(h.c.image().leader_of(h.id("t"), 0), None);
    // The follower is alive but out of sync: no clean leader, and ticks change nothing.
    assert!(h.tick().is_empty());

    // The old leader comes back (same process: heartbeats resume) and is elected again.
    let offset = h.c.last_committed_offset();
    let (records, resp) = h.beat_with(leader, offset, false, false);
    assert!(!resp.is_fenced);
    assert_eq!(kinds(&records), vec!["UnfenceBroker", "PartitionChange"]);
    let r = h.part("t", 0);
    assert_eq!(r.leader, leader);
    assert_eq!(r.leader_epoch, q.leader_epoch + 1);
    assert_eq!(r.isr, vec![leader]);
}

#[test]
fn broker_restarting_after_expiry_is_reelected_after_registering_again() {
    let mut h = H::cluster(&[None, None]);
    h.create("t", 1, 2);
    let p = h.part("t", 0);
    let (leader, follower) = (p.replicas[0], p.replicas[1]);
    h.alter(&h.alter_req(leader, "t", 0, &[leader]));
    h.advance(12_000, &[follower]);
    assert_eq!(h.part("t", 0).leader, NO_LEADER);
    // A new process for the same id, after a clean shutdown of the old one.
    let mut req = H::registration(leader, None, 999);
    req.previous_broker_epoch = h.epoch(leader);
    assert_eq!(h.register_req(&req).error_code, 0);
    assert_eq!(h.part("t", 0).isr, vec![leader]);
    h.beat(leader);
    assert_eq!(h.part("t", 0).leader, leader);
}

#[test]
fn unclean_election_only_when_enabled() {
    for enabled in [false, true] {
        let mut h = H::with(|c| c.unclean_leader_election = enabled);
        h.add_brokers(&[None, None]);
        h.create("t", 1, 2);
        let p = h.part("t", 0);
        let (leader, follower) = (p.replicas[0], p.replicas[1]);
        h.alter(&h.alter_req(leader, "t", 0, &[leader]));
        h.advance(12_000, &[follower]);
        let q = h.part("t", 0);
        if enabled {
            assert_eq!(q.leader, follower, "unclean: any live replica");
            assert_eq!(q.isr, vec![follower], "and it becomes the whole ISR");
        } else {
            assert_eq!(q.leader, NO_LEADER);
            assert_eq!(q.isr, vec![leader]);
        }
    }
}

#[test]
fn unclean_election_per_topic_override() {
    let mut h = H::cluster(&[None, None]);
    h.create("t", 1, 2);
    let p = h.part("t", 0);
    let (leader, follower) = (p.replicas[0], p.replicas[1]);
    h.alter(&h.alter_req(leader, "t", 0, &[leader]));
    h.advance(12_000, &[follower]);
    assert_eq!(h.part("t", 0).leader, NO_LEADER);
    let (records, resp) = h.c.incremental_alter_configs(
        &incremental(
            TOPIC_RESOURCE,
            "t",
            &[("unclean.leader.election.enable", 0, Some("true"))],
        ),
        h.now,
    );
    assert_eq!(resp.responses[0].error_code, 0);
    h.commit(&records);
    h.tick();
    assert_eq!(h.part("t", 0).leader, follower);
}

#[test]
fn controlled_shutdown_moves_leadership_then_grants_shutdown() {
    let mut h = H::cluster(&[None, None, None]);
    h.create("t", 6, 3);
    let victim = h.part("t", 0).leader;
    let led: Vec<i32> = (0..6)
        .filter(|i| h.part("t", *i).leader == victim)
        .collect();
    let offset = h.c.last_committed_offset();
    let (records, resp) = h.beat_with(victim, offset, false, true);
    assert!(!resp.should_shut_down && !resp.is_fenced);
    assert_eq!(kinds(&records)[0], "BrokerRegistrationChange");
    assert_eq!(
        kinds(&records)
            .iter()
            .filter(|k| **k == "PartitionChange")
            .count(),
        6,
        "out of every ISR it is in"
    );
    assert!(h.c.image().brokers[&victim].in_controlled_shutdown);
    for i in 0..6 {
        let p = h.part("t", i);
        assert_ne!(p.leader, victim);
        assert!(!p.isr.contains(&victim));
        if led.contains(&i) {
            assert_eq!(p.leader_epoch, 1);
        }
    }
    let offset = h.c.last_committed_offset();
    let (records, resp) = h.beat_with(victim, offset, false, true);
    assert!(resp.should_shut_down && resp.is_fenced);
    assert_eq!(kinds(&records), vec!["FenceBroker"]);
    assert!(h.c.image().brokers[&victim].fenced);
}

#[test]
fn shutdown_of_a_broker_leading_nothing_is_immediate() {
    let mut h = H::cluster(&[None]);
    let offset = h.c.last_committed_offset();
    let (records, resp) = h.beat_with(1, offset, false, true);
    assert!(resp.should_shut_down);
    assert_eq!(kinds(&records), vec!["FenceBroker"]);
}

// ---- producer ids ----

#[test]
fn producer_id_blocks_are_unique_across_brokers() {
    let mut h = H::cluster(&[None, None, None]);
    let mut ranges = Vec::new();
    for round in 0..12 {
        let b = round % 3 + 1;
        let mut req = AllocateProducerIdsRequest::default();
        req.broker_id = BrokerId(b);
        req.broker_epoch = h.epoch(b);
        let (records, resp) = h.c.allocate_producer_ids(&req);
        assert_eq!(resp.error_code, 0);
        assert_eq!(resp.producer_id_len, 1000);
        ranges.push(resp.producer_id_start.0);
        // Every other round the caller is slow to replay: still no reuse.
        if round % 2 == 1 {
            h.commit(&records);
        } else {
            let (more, resp2) = h.c.allocate_producer_ids(&req);
            ranges.push(resp2.producer_id_start.0);
            h.commit(&records);
            h.commit(&more);
        }
    }
    let unique: BTreeSet<_> = ranges.iter().collect();
    assert_eq!(unique.len(), ranges.len(), "{ranges:?}");
    assert!(ranges.iter().all(|s| s % 1000 == 0));
    let max = *ranges.iter().max().unwrap();
    assert_eq!(h.c.image().next_producer_id, max + 1000);
    assert_eq!(h.replay_into_fresh().next_producer_id, max + 1000);

    let mut stale = AllocateProducerIdsRequest::default();
    stale.broker_id = BrokerId(1);
    stale.broker_epoch = 12345;
    let (records, resp) = h.c.allocate_producer_ids(&stale);
    assert!(records.is_empty());
    assert_eq!(resp.error_code, code::STALE_BROKER_EPOCH);
}

// ---- delete, partitions, configs ----

#[test]
fn delete_topics_by_name_and_id() {
    let mut h = H::cluster(&[None]);
    h.create("a", 1, 1);
    h.create("b", 1, 1);
    let b_id = h.id("b");
    let refs = vec![
        TopicRef::Name("a".into()),
        TopicRef::Id(b_id),
        TopicRef::Name("nope".into()),
        TopicRef::Id(Uuid::from_u128(5)),
        TopicRef::Name("a".into()),
    ];
    let (records, results) = h.c.delete_topics(&refs, h.now);
    assert_eq!(kinds(&records), vec!["RemoveTopic", "RemoveTopic"]);
    let codes: Vec<i16> = results.iter().map(|r| r.error_code).collect();
    assert_eq!(
        codes,
        vec![
            0,
            0,
            code::UNKNOWN_TOPIC_OR_PARTITION,
            code::UNKNOWN_TOPIC_ID,
            code::INVALID_REQUEST
        ]
    );
    assert_eq!(results[1].name.as_ref().unwrap().0.as_str(), "b");
    h.commit(&records);
    assert!(h.c.image().topics.is_empty() && h.c.image().topic_ids.is_empty());
    // The name is free again.
    assert_eq!(h.create("a", 1, 1).error_code, 0);
}

fn partitions_req(
    name: &str,
    count: i32,
    assignments: Option<Vec<Vec<i32>>>,
) -> CreatePartitionsRequest {
    let mut t = CreatePartitionsTopic::default();
    t.name = TopicName(s(name));
    t.count = count;
    t.assignments = assignments.map(|a| {
        a.into_iter()
            .map(|bs| {
                let mut x = CreatePartitionsAssignment::default();
                x.broker_ids = bs.into_iter().map(BrokerId).collect();
                x
            })
            .collect()
    });
    let mut req = CreatePartitionsRequest::default();
    req.topics = vec![t];
    req
}

#[test]
fn create_partitions() {
    let mut h = H::cluster(&[Some("a"), Some("b"), Some("c")]);
    h.create("t", 1, 2);
    let (records, resp) = h.c.create_partitions(&partitions_req("t", 3, None), h.now);
    assert_eq!(resp.results[0].error_code, 0);
    assert_eq!(kinds(&records), vec!["Partition", "Partition"]);
    h.commit(&records);
    for i in 1..3 {
        assert_eq!(h.part("t", i).replicas.len(), 2);
    }
    let (_, resp) = h.c.create_partitions(&partitions_req("t", 3, None), h.now);
    assert_eq!(resp.results[0].error_code, code::INVALID_PARTITIONS);
    assert_eq!(
        resp.results[0].error_message.as_ref().unwrap().as_str(),
        "Topic already has 3 partition(s)."
    );
    let (_, resp) = h.c.create_partitions(&partitions_req("t", 2, None), h.now);
    assert_eq!(resp.results[0].error_code, code::INVALID_PARTITIONS);
    let (_, resp) =
        h.c.create_partitions(&partitions_req("nope", 2, None), h.now);
    assert_eq!(resp.results[0].error_code, code::UNKNOWN_TOPIC_OR_PARTITION);
    let (_, resp) =
        h.c.create_partitions(&partitions_req("t", 5, Some(vec![vec![1, 2]])), h.now);
    assert_eq!(resp.results[0].error_code, code::INVALID_REPLICA_ASSIGNMENT);
    let (_, resp) =
        h.c.create_partitions(&partitions_req("t", 4, Some(vec![vec![1, 2, 3]])), h.now);
    assert_eq!(resp.results[0].error_code, code::INVALID_REPLICA_ASSIGNMENT);
    let (records, resp) =
        h.c.create_partitions(&partitions_req("t", 4, Some(vec![vec![3, 1]])), h.now);
    assert_eq!(resp.results[0].error_code, 0);
    h.commit(&records);
    assert_eq!(h.part("t", 3).replicas, vec![3, 1]);
    assert_eq!(h.part("t", 3).leader, 3);
}

fn incremental(
    kind: i8,
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
) -> IncrementalAlterConfigsRequest {
    let mut res = AlterConfigsResource::default();
    res.resource_type = kind;
    res.resource_name = s(name);
    res.configs = ops
        .iter()
        .map(|(k, op, v)| {
            let mut c = AlterableConfig::default();
            c.name = s(k);
            c.config_operation = *op;
            c.value = v.map(s);
            c
        })
        .collect();
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources = vec![res];
    req
}

#[test]
fn incremental_alter_configs_for_topics_and_brokers() {
    let mut h = H::cluster(&[None]);
    h.create("t", 1, 1);
    let key = (TOPIC_RESOURCE, "t".to_string());
    let (records, resp) = h.c.incremental_alter_configs(
        &incremental(
            TOPIC_RESOURCE,
            "t",
            &[
                ("retention.ms", 0, Some("1000")),
                ("cleanup.policy", 2, Some("compact")),
            ],
        ),
        h.now,
    );
    assert_eq!(resp.responses[0].error_code, 0);
    assert_eq!(kinds(&records), vec!["Config", "Config"]);
    h.commit(&records);
    assert_eq!(h.c.image().configs[&key]["retention.ms"], "1000");
    assert_eq!(
        h.c.image().configs[&key]["cleanup.policy"],
        "delete,compact"
    );

    // Setting the same value again writes nothing.
    let (records, _) = h.c.incremental_alter_configs(
        &incremental(TOPIC_RESOURCE, "t", &[("retention.ms", 0, Some("1000"))]),
        h.now,
    );
    assert!(records.is_empty());

    let (records, resp) = h.c.incremental_alter_configs(
        &incremental(TOPIC_RESOURCE, "t", &[("retention.ms", 1, None)]),
        h.now,
    );
    assert_eq!(resp.responses[0].error_code, 0);
    h.commit(&records);
    assert!(!h.c.image().configs[&key].contains_key("retention.ms"));

    let bad = [
        (
            incremental(TOPIC_RESOURCE, "t", &[("retention.ms", 0, Some("abc"))]),
            code::INVALID_CONFIG,
        ),
        (
            incremental(TOPIC_RESOURCE, "t", &[("no.such.config", 0, Some("1"))]),
            code::INVALID_CONFIG,
        ),
        (
            incremental(TOPIC_RESOURCE, "t", &[("retention.ms", 2, Some("1"))]),
            code::INVALID_REQUEST,
        ),
        (
            incremental(TOPIC_RESOURCE, "missing", &[("retention.ms", 0, Some("1"))]),
            code::UNKNOWN_TOPIC_OR_PARTITION,
        ),
        (
            incremental(BROKER_RESOURCE, "x", &[("log.retention.ms", 0, Some("1"))]),
            code::INVALID_REQUEST,
        ),
        (
            incremental(BROKER_RESOURCE, "1", &[("log.dirs", 0, Some("/x"))]),
            code::INVALID_CONFIG,
        ),
    ];
    for (req, c) in bad {
        let (records, resp) = h.c.incremental_alter_configs(&req, h.now);
        assert!(records.is_empty());
        assert_eq!(resp.responses[0].error_code, c, "{req:?}");
    }

    let (records, resp) = h.c.incremental_alter_configs(
        &incremental(
            BROKER_RESOURCE,
            "",
            &[("log.retention.ms", 0, Some("5000"))],
        ),
        h.now,
    );
    assert_eq!(resp.responses[0].error_code, 0);
    h.commit(&records);
    assert_eq!(
        h.c.image().configs[&(BROKER_RESOURCE, String::new())]["log.retention.ms"],
        "5000"
    );

    let mut validate = incremental(TOPIC_RESOURCE, "t", &[("retention.ms", 0, Some("7"))]);
    validate.validate_only = true;
    let (records, resp) = h.c.incremental_alter_configs(&validate, h.now);
    assert!(records.is_empty());
    assert_eq!(resp.responses[0].error_code, 0);
}

#[test]
fn alter_configs_replaces_every_override() {
    use kafka_protocol::messages::alter_configs_request::{
        AlterConfigsResource as Res, AlterableConfig as Cfg,
    };
    let mut h = H::cluster(&[None]);
    h.create("t", 1, 1);
    let (records, _) = h.c.incremental_alter_configs(
        &incremental(
            TOPIC_RESOURCE,
            "t",
            &[
                ("retention.ms", 0, Some("1000")),
                ("segment.ms", 0, Some("60000")),
            ],
        ),
        h.now,
    );
    h.commit(&records);
    let mut res = Res::default();
    res.resource_type = TOPIC_RESOURCE;
    res.resource_name = s("t");
    let mut c = Cfg::default();
    c.name = s("retention.ms");
    c.value = Some(s("2000"));
    res.configs = vec![c];
    let mut req = AlterConfigsRequest::default();
    req.resources = vec![res];
    let (records, resp) = h.c.alter_configs(&req, h.now);
    assert_eq!(resp.responses[0].error_code, 0);
    h.commit(&records);
    let m = &h.c.image().configs[&(TOPIC_RESOURCE, "t".to_string())];
    assert_eq!(m.len(), 1);
    assert_eq!(m["retention.ms"], "2000");
}

// ---- determinism ----

/// A scripted, random-ish life of a cluster; returns the records written and the final image.
fn scripted_run(seed: u64) -> (Vec<(i64, MetadataRecord)>, MetadataImage) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut h = H::new();
    let racks = [Some("a"), Some("b"), Some("c"), None, Some("a")];
    h.add_brokers(&racks);
    let mut alive: Vec<i32> = (1..=5).collect();
    let mut topic_no = 0;
    for _step in 0..150 {
        match rng.gen_range(0..10) {
            0 | 1 => {
                topic_no += 1;
                let rf = rng.gen_range(1..=3);
                h.create(&format!("t{topic_no}"), rng.gen_range(1..5), rf);
            }
            2 => {
                // A broker goes silent, or one comes back.
                if alive.len() > 2 && rng.gen_bool(0.5) {
                    let i = rng.gen_range(0..alive.len());
                    alive.remove(i);
                } else if let Some(b) = (1..=5).find(|b| !alive.contains(b)) {
                    alive.push(b);
                }
            }
            3 => {
                // A leader shrinks or grows its ISR.
                let topics: Vec<String> = h.c.image().topic_ids.keys().cloned().collect();
                if let Some(name) = topics.get(rng.gen_range(0..topics.len().max(1))) {
                    let p = h.part(name, 0);
                    if p.leader != NO_LEADER {
                        let mut isr: Vec<i32> = p
                            .replicas
                            .iter()
                            .copied()
                            .filter(|b| *b == p.leader || rng.gen_bool(0.6))
                            .collect();
                        isr.sort_unstable();
                        let req = h.alter_req(p.leader, name, 0, &isr);
                        h.alter(&req);
                    }
                }
            }
            4 => {
                let topics: Vec<String> = h.c.image().topic_ids.keys().cloned().collect();
                if !topics.is_empty() && rng.gen_bool(0.3) {
                    let name = topics[rng.gen_range(0..topics.len())].clone();
                    let (records, _) = h.c.delete_topics(&[TopicRef::Name(name)], h.now);
                    h.commit(&records);
                }
            }
            5 => {
                let b = alive[rng.gen_range(0..alive.len())];
                let mut req = AllocateProducerIdsRequest::default();
                req.broker_id = BrokerId(b);
                req.broker_epoch = h.epoch(b);
                let (records, _) = h.c.allocate_producer_ids(&req);
                h.commit(&records);
            }
            _ => {
                let ms = rng.gen_range(500..4_000);
                h.now += ms;
                let beating = alive.clone();
                for b in beating {
                    h.beat(b);
                }
                h.tick();
            }
        }
    }
    (h.log.read_from(0, usize::MAX).unwrap(), h.c.image().clone())
}

#[test]
fn same_script_same_records_and_image() {
    for seed in [1, 7, 42] {
        let (log_a, img_a) = scripted_run(seed);
        let (log_b, img_b) = scripted_run(seed);
        assert_eq!(log_a, log_b, "seed {seed}: the records differ");
        assert_eq!(img_a, img_b, "seed {seed}: the images differ");
        assert!(log_a.len() > 50, "seed {seed}: the script did something");
    }
}

#[test]
fn replaying_the_log_into_a_fresh_controller_reproduces_the_image() {
    for seed in [3, 11, 2024] {
        let (log, img) = scripted_run(seed);
        let mut fresh = Controller::new(ControllerConfig::default());
        for (off, r) in &log {
            fresh.replay(*off, r);
        }
        assert_eq!(fresh.image(), &img, "seed {seed}");
        // Through the encoding too.
        let mut decoded = MetadataImage::default();
        for (off, r) in &log {
            let r = crate::metadata::decode(&crate::metadata::encode(r)).unwrap();
            decoded.apply(*off, &r);
        }
        assert_eq!(&decoded, &img, "seed {seed}: encode/decode");
        // Invariants of the result: no empty ISR, leaders are ISR members.
        for t in img.topics.values() {
            for p in t.partitions.values() {
                assert!(!p.isr.is_empty(), "{p:?}");
                assert!(p.leader == NO_LEADER || p.isr.contains(&p.leader), "{p:?}");
                assert!(p.isr.iter().all(|b| p.replicas.contains(b)), "{p:?}");
            }
        }
    }
}

#[test]
fn diff_tells_a_broker_what_changed_after_failover() {
    let mut h = H::cluster(&[None, None, None]);
    h.create("t", 2, 3);
    let before = h.c.image().clone();
    let dead = h.part("t", 0).leader;
    let alive: Vec<i32> = (1..=3).filter(|b| *b != dead).collect();
    h.advance(12_000, &alive);
    let d = crate::metadata::diff(&before, h.c.image());
    assert_eq!(d.changed_brokers, vec![dead]);
    assert_eq!(d.changed_partitions.len(), 2, "{d:?}");
    assert!(d.created_topics.is_empty() && d.removed_topics.is_empty());
}
