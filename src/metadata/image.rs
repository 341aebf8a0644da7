//! The cluster state every broker and the controller derive from the metadata log: replaying the
//! same records in the same order gives the same image. `apply` is total — a record that does
//! not fit the image (unknown topic, stale broker epoch) is logged and skipped, never a panic,
//! because a log written by a buggy version must still load.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::records::{Endpoint, MetadataRecord};

/// Kafka's `ConfigResource.Type` values used in Config records.
pub const TOPIC_RESOURCE: i8 = 2;
pub const BROKER_RESOURCE: i8 = 4;

/// "No leader" in partition state (Kafka's `LeaderConstants.NO_LEADER`).
pub const NO_LEADER: i32 = -1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerImage {
    pub id: i32,
    pub epoch: i64,
    pub incarnation_id: Uuid,
    pub endpoints: Vec<Endpoint>,
    pub rack: Option<String>,
    pub fenced: bool,
    pub in_controlled_shutdown: bool,
}

impl BrokerImage {
    /// May lead and may join an ISR: unfenced and not shutting down (Kafka's `isActive`).
    pub fn is_active(&self) -> bool {
        !self.fenced && !self.in_controlled_shutdown
    }

    /// Its endpoint on the named listener, else its first (what clients and followers dial).
    pub fn endpoint(&self, listener: &str) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.name == listener)
            .or_else(|| self.endpoints.first())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionImage {
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub partitions: BTreeMap<i32, PartitionImage>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclImage {
    pub resource_type: i8,
    pub resource_name: String,
    pub pattern_type: i8,
    pub principal: String,
    pub host: String,
    pub operation: i8,
    pub permission_type: i8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramImage {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataImage {
    pub brokers: BTreeMap<i32, BrokerImage>,
    pub topics: BTreeMap<Uuid, TopicImage>,
    pub topic_ids: BTreeMap<String, Uuid>,
    pub configs: BTreeMap<(i8, String), BTreeMap<String, String>>,
    pub next_producer_id: i64,
    pub features: BTreeMap<String, i16>,
    pub acls: BTreeMap<Uuid, AclImage>,
    pub scram: BTreeMap<(String, i8), ScramImage>,
    /// Offset of the last applied record; -1 before any.
    pub offset: i64,
}

impl Default for MetadataImage {
    fn default() -> Self {
        MetadataImage {
            brokers: BTreeMap::new(),
            topics: BTreeMap::new(),
            topic_ids: BTreeMap::new(),
            configs: BTreeMap::new(),
            next_producer_id: 0,
            features: BTreeMap::new(),
            acls: BTreeMap::new(),
            scram: BTreeMap::new(),
            offset: -1,
        }
    }
}

impl MetadataImage {
    pub fn topic_by_name(&self, name: &str) -> Option<&TopicImage> {
        self.topic_ids.get(name).and_then(|id| self.topics.get(id))
    }

    pub fn partition(&self, topic_id: Uuid, index: i32) -> Option<&PartitionImage> {
        self.topics.get(&topic_id)?.partitions.get(&index)
    }

    /// Unfenced brokers, in id order.
    pub fn live_brokers(&self) -> impl Iterator<Item = &BrokerImage> {
        self.brokers.values().filter(|b| !b.fenced)
    }

    /// The partition's leader, `None` when the partition is unknown or leaderless.
    pub fn leader_of(&self, topic_id: Uuid, index: i32) -> Option<i32> {
        self.partition(topic_id, index)
            .map(|p| p.leader)
            .filter(|l| *l != NO_LEADER)
    }

    /// Registered, unfenced and not in controlled shutdown.
    pub fn is_active(&self, broker: i32) -> bool {
        self.brokers
            .get(&broker)
            .is_some_and(BrokerImage::is_active)
    }

    /// Applies one record at `offset`. Never panics.
    pub fn apply(&mut self, offset: i64, record: &MetadataRecord) {
        if offset <= self.offset {
            tracing::warn!(
                offset,
                last = self.offset,
                "metadata offset did not advance"
            );
        }
        self.offset = offset;
        match record {
            MetadataRecord::RegisterBroker {
                broker_id,
                incarnation_id,
                broker_epoch,
                endpoints,
                rack,
                fenced,
            } => {
                self.brokers.insert(
                    *broker_id,
                    BrokerImage {
                        id: *broker_id,
                        epoch: *broker_epoch,
                        incarnation_id: *incarnation_id,
                        endpoints: endpoints.clone(),
                        rack: rack.clone(),
                        fenced: *fenced,
                        in_controlled_shutdown: false,
                    },
                );
            }
            MetadataRecord::UnregisterBroker {
                broker_id,
                broker_epoch,
            } => {
                if self.broker_mut(*broker_id, *broker_epoch).is_some() {
                    self.brokers.remove(broker_id);
                }
            }
            MetadataRecord::FenceBroker { id, epoch } => {
                if let Some(b) = self.broker_mut(*id, *epoch) {
                    b.fenced = true;
                }
            }
            MetadataRecord::UnfenceBroker { id, epoch } => {
                if let Some(b) = self.broker_mut(*id, *epoch) {
                    b.fenced = false;
                }
            }
            MetadataRecord::BrokerRegistrationChange {
                broker_id,
                broker_epoch,
                fenced,
                in_controlled_shutdown,
            } => {
                if let Some(b) = self.broker_mut(*broker_id, *broker_epoch) {
                    if let Some(f) = fenced {
                        b.fenced = *f;
                    }
                    if let Some(s) = in_controlled_shutdown {
                        b.in_controlled_shutdown = *s;
                    }
                }
            }
            MetadataRecord::Topic { name, topic_id } => {
                if self.topics.contains_key(topic_id) || self.topic_ids.contains_key(name) {
                    tracing::warn!(%name, %topic_id, "Topic record for an existing topic ignored");
                    return;
                }
                self.topic_ids.insert(name.clone(), *topic_id);
                self.topics.insert(
                    *topic_id,
                    TopicImage {
                        name: name.clone(),
                        id: *topic_id,
                        partitions: BTreeMap::new(),
                    },
                );
            }
            MetadataRecord::Partition {
                partition_id,
                topic_id,
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
            } => match self.topics.get_mut(topic_id) {
                Some(t) => {
                    t.partitions.insert(
                        *partition_id,
                        PartitionImage {
                            replicas: replicas.clone(),
                            isr: isr.clone(),
                            leader: *leader,
                            leader_epoch: *leader_epoch,
                            partition_epoch: *partition_epoch,
                        },
                    );
                }
                None => tracing::warn!(%topic_id, "Partition record for an unknown topic ignored"),
            },
            MetadataRecord::PartitionChange {
                partition_id,
                topic_id,
                isr,
                leader,
                replicas,
            } => match self
                .topics
                .get_mut(topic_id)
                .and_then(|t| t.partitions.get_mut(partition_id))
            {
                Some(p) => merge_change(p, isr, *leader, replicas),
                None => tracing::warn!(
                    %topic_id,
                    partition_id,
                    "PartitionChange record for an unknown partition ignored"
                ),
            },
            MetadataRecord::RemoveTopic { topic_id } => match self.topics.remove(topic_id) {
                Some(t) => {
                    self.topic_ids.remove(&t.name);
                    self.configs.remove(&(TOPIC_RESOURCE, t.name));
                }
                None => {
                    tracing::warn!(%topic_id, "RemoveTopic record for an unknown topic ignored")
                }
            },
            MetadataRecord::Config {
                resource_type,
                resource_name,
                name,
                value,
            } => {
                let key = (*resource_type, resource_name.clone());
                match value {
                    Some(v) => {
                        self.configs
                            .entry(key)
                            .or_default()
                            .insert(name.clone(), v.clone());
                    }
                    None => {
                        if let Some(m) = self.configs.get_mut(&key) {
                            m.remove(name);
                            if m.is_empty() {
                                self.configs.remove(&key);
                            }
                        }
                    }
                }
            }
            MetadataRecord::ProducerIds {
                next_producer_id, ..
            } => {
                if *next_producer_id > self.next_producer_id {
                    self.next_producer_id = *next_producer_id;
                } else {
                    tracing::warn!(
                        next_producer_id,
                        current = self.next_producer_id,
                        "ProducerIds record would not advance the next producer id; ignored"
                    );
                }
            }
            MetadataRecord::AccessControlEntry {
                id,
                resource_type,
                resource_name,
                pattern_type,
                principal,
                host,
                operation,
                permission_type,
            } => {
                self.acls.insert(
                    *id,
                    AclImage {
                        resource_type: *resource_type,
                        resource_name: resource_name.clone(),
                        pattern_type: *pattern_type,
                        principal: principal.clone(),
                        host: host.clone(),
                        operation: *operation,
                        permission_type: *permission_type,
                    },
                );
            }
            MetadataRecord::RemoveAccessControlEntry { id } => {
                if self.acls.remove(id).is_none() {
                    tracing::warn!(%id, "RemoveAccessControlEntry for an unknown ACL ignored");
                }
            }
            MetadataRecord::UserScramCredential {
                name,
                mechanism,
                salt,
                stored_key,
                server_key,
                iterations,
            } => {
                self.scram.insert(
                    (name.clone(), *mechanism),
                    ScramImage {
                        salt: salt.clone(),
                        stored_key: stored_key.clone(),
                        server_key: server_key.clone(),
                        iterations: *iterations,
                    },
                );
            }
            MetadataRecord::RemoveUserScramCredential { name, mechanism } => {
                self.scram.remove(&(name.clone(), *mechanism));
            }
            MetadataRecord::FeatureLevel {
                name,
                feature_level,
            } => {
                // Kafka removes a feature whose level is set to 0.
                if *feature_level == 0 {
                    self.features.remove(name);
                } else {
                    self.features.insert(name.clone(), *feature_level);
                }
            }
            MetadataRecord::NoOp => {}
        }
    }

    /// The broker, when it is registered with that epoch.
    fn broker_mut(&mut self, id: i32, epoch: i64) -> Option<&mut BrokerImage> {
        match self.brokers.get_mut(&id) {
            Some(b) if b.epoch == epoch => Some(b),
            Some(b) => {
                tracing::warn!(
                    id,
                    epoch,
                    registered = b.epoch,
                    "broker record with a stale epoch ignored"
                );
                None
            }
            None => {
                tracing::warn!(id, "broker record for an unregistered broker ignored");
                None
            }
        }
    }
}

/// Kafka's `PartitionRegistration.merge`: the partition epoch moves on every change, the leader
/// epoch whenever the record names a leader. Java int arithmetic, so it wraps rather than panics.
fn merge_change(
    p: &mut PartitionImage,
    isr: &Option<Vec<i32>>,
    leader: Option<i32>,
    replicas: &Option<Vec<i32>>,
) {
    if let Some(isr) = isr {
        p.isr = isr.clone();
    }
    if let Some(replicas) = replicas {
        p.replicas = replicas.clone();
    }
    if let Some(l) = leader {
        p.leader = l;
        p.leader_epoch = p.leader_epoch.wrapping_add(1);
    }
    p.partition_epoch = p.partition_epoch.wrapping_add(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn topic(id: u128, name: &str) -> MetadataRecord {
        MetadataRecord::Topic {
            name: name.into(),
            topic_id: Uuid::from_u128(id),
        }
    }

    fn partition(id: u128, idx: i32) -> MetadataRecord {
        MetadataRecord::Partition {
            partition_id: idx,
            topic_id: Uuid::from_u128(id),
            replicas: vec![1, 2, 3],
            isr: vec![1, 2, 3],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
        }
    }

    fn change(isr: Option<Vec<i32>>, leader: Option<i32>) -> MetadataRecord {
        MetadataRecord::PartitionChange {
            partition_id: 0,
            topic_id: Uuid::from_u128(1),
            isr,
            leader,
            replicas: None,
        }
    }

    #[test]
    fn isr_change_moves_partition_epoch_only() {
        let mut img = MetadataImage::default();
        img.apply(0, &topic(1, "t"));
        img.apply(1, &partition(1, 0));
        img.apply(2, &change(Some(vec![1, 2]), None));
        let p = img.partition(Uuid::from_u128(1), 0).unwrap();
        assert_eq!((p.leader_epoch, p.partition_epoch), (0, 1));
        assert_eq!(p.isr, vec![1, 2]);
        img.apply(3, &change(None, Some(2)));
        let p = img.partition(Uuid::from_u128(1), 0).unwrap();
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 1, 2));
        assert_eq!(img.leader_of(Uuid::from_u128(1), 0), Some(2));
        img.apply(4, &change(None, Some(NO_LEADER)));
        assert_eq!(img.leader_of(Uuid::from_u128(1), 0), None);
        assert_eq!(img.offset, 4);
    }

    #[test]
    fn remove_topic_drops_name_and_configs() {
        let mut img = MetadataImage::default();
        img.apply(0, &topic(1, "t"));
        img.apply(
            1,
            &MetadataRecord::Config {
                resource_type: TOPIC_RESOURCE,
                resource_name: "t".into(),
                name: "retention.ms".into(),
                value: Some("1".into()),
            },
        );
        assert!(img.configs.contains_key(&(TOPIC_RESOURCE, "t".into())));
        img.apply(
            2,
            &MetadataRecord::RemoveTopic {
                topic_id: Uuid::from_u128(1),
            },
        );
        assert!(img.topic_by_name("t").is_none());
        assert!(img.configs.is_empty());
    }

    #[test]
    fn records_about_unknown_things_are_ignored() {
        let mut img = MetadataImage::default();
        img.apply(0, &partition(9, 0));
        img.apply(1, &change(Some(vec![]), Some(3)));
        img.apply(2, &MetadataRecord::FenceBroker { id: 4, epoch: 1 });
        img.apply(
            3,
            &MetadataRecord::RemoveTopic {
                topic_id: Uuid::from_u128(9),
            },
        );
        assert!(img.topics.is_empty() && img.brokers.is_empty());
        assert_eq!(img.offset, 3);
    }

    #[test]
    fn stale_broker_epoch_is_ignored() {
        let mut img = MetadataImage::default();
        img.apply(
            5,
            &MetadataRecord::RegisterBroker {
                broker_id: 1,
                incarnation_id: Uuid::from_u128(1),
                broker_epoch: 5,
                endpoints: vec![],
                rack: None,
                fenced: true,
            },
        );
        img.apply(6, &MetadataRecord::UnfenceBroker { id: 1, epoch: 4 });
        assert!(img.brokers[&1].fenced);
        img.apply(7, &MetadataRecord::UnfenceBroker { id: 1, epoch: 5 });
        assert!(!img.brokers[&1].fenced);
        assert_eq!(img.live_brokers().count(), 1);
    }

    fn random_record(rng: &mut StdRng) -> MetadataRecord {
        let small = |rng: &mut StdRng| rng.gen_range(-2..5);
        let id = |rng: &mut StdRng| Uuid::from_u128(rng.gen_range(0..4));
        let list = |rng: &mut StdRng| {
            (0..rng.gen_range(0..4))
                .map(|_| rng.gen_range(-1..5))
                .collect()
        };
        let extreme = |rng: &mut StdRng| {
            *[i32::MAX, i32::MIN, 0, 1]
                .get(rng.gen_range(0..4))
                .unwrap_or(&0)
        };
        match rng.gen_range(0..17) {
            0 => MetadataRecord::RegisterBroker {
                broker_id: small(rng),
                incarnation_id: id(rng),
                broker_epoch: rng.gen_range(-1..4),
                endpoints: vec![],
                rack: None,
                fenced: rng.gen(),
            },
            1 => MetadataRecord::UnregisterBroker {
                broker_id: small(rng),
                broker_epoch: rng.gen_range(-1..4),
            },
            2 => MetadataRecord::FenceBroker {
                id: small(rng),
                epoch: rng.gen_range(-1..4),
            },
            3 => MetadataRecord::UnfenceBroker {
                id: small(rng),
                epoch: rng.gen_range(-1..4),
            },
            4 => MetadataRecord::BrokerRegistrationChange {
                broker_id: small(rng),
                broker_epoch: rng.gen_range(-1..4),
                fenced: Some(rng.gen()),
                in_controlled_shutdown: None,
            },
            5 => MetadataRecord::Topic {
                name: format!("t{}", rng.gen_range(0..4)),
                topic_id: id(rng),
            },
            6 => MetadataRecord::Partition {
                partition_id: small(rng),
                topic_id: id(rng),
                replicas: list(rng),
                isr: list(rng),
                leader: small(rng),
                leader_epoch: extreme(rng),
                partition_epoch: extreme(rng),
            },
            7 => MetadataRecord::PartitionChange {
                partition_id: small(rng),
                topic_id: id(rng),
                isr: rng.gen::<bool>().then(|| list(rng)),
                leader: rng.gen::<bool>().then(|| small(rng)),
                replicas: rng.gen::<bool>().then(|| list(rng)),
            },
            8 => MetadataRecord::RemoveTopic { topic_id: id(rng) },
            9 => MetadataRecord::Config {
                resource_type: rng.gen(),
                resource_name: format!("t{}", rng.gen_range(0..4)),
                name: "k".into(),
                value: rng.gen::<bool>().then(|| "v".into()),
            },
            10 => MetadataRecord::ProducerIds {
                broker_id: small(rng),
                broker_epoch: 0,
                next_producer_id: rng.gen_range(i64::MIN..i64::MAX),
            },
            11 => MetadataRecord::AccessControlEntry {
                id: id(rng),
                resource_type: rng.gen(),
                resource_name: String::new(),
                pattern_type: rng.gen(),
                principal: String::new(),
                host: String::new(),
                operation: rng.gen(),
                permission_type: rng.gen(),
            },
            12 => MetadataRecord::RemoveAccessControlEntry { id: id(rng) },
            13 => MetadataRecord::UserScramCredential {
                name: "u".into(),
                mechanism: rng.gen(),
                salt: vec![],
                stored_key: vec![],
                server_key: vec![],
                iterations: rng.gen(),
            },
            14 => MetadataRecord::RemoveUserScramCredential {
                name: "u".into(),
                mechanism: rng.gen(),
            },
            15 => MetadataRecord::FeatureLevel {
                name: "f".into(),
                feature_level: rng.gen(),
            },
            _ => MetadataRecord::NoOp,
        }
    }

    #[test]
    fn apply_is_total_on_arbitrary_sequences() {
        for seed in 0..200u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut img = MetadataImage::default();
            let mut twin = MetadataImage::default();
            let records: Vec<_> = (0..200).map(|_| random_record(&mut rng)).collect();
            for (i, r) in records.iter().enumerate() {
                // Offsets out of order too: apply must not care.
                let off = if rng.gen_ratio(1, 20) { -5 } else { i as i64 };
                img.apply(off, r);
                twin.apply(off, r);
                for (id, t) in &img.topics {
                    for idx in t.partitions.keys() {
                        let _ = img.leader_of(*id, *idx);
                    }
                }
                assert!(img.topic_ids.keys().all(|n| img.topic_by_name(n).is_some()));
            }
            assert_eq!(
                img, twin,
                "seed {seed}: the same records gave different images"
            );
            for (name, id) in &img.topic_ids {
                assert_eq!(
                    &img.topics[id].name, name,
                    "seed {seed}: name index diverged"
                );
            }
        }
    }
}
