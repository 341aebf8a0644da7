//! CreateTopics, DeleteTopics and CreatePartitions as Kafka's `ReplicationControlManager` decides
//! them: validation with Kafka's codes and messages, then Topic / Partition / Config / RemoveTopic
//! records. Names and config values are checked by the same validators the single-broker API
//! uses (`cluster::validate_topic_name`, `config::catalog`).

use std::collections::{BTreeMap, HashSet};

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use super::placement::Placer;
use super::{code, seed_of, Batch, Controller};
use crate::config::catalog;
use crate::metadata::{MetadataImage, MetadataRecord, TOPIC_RESOURCE};

/// Kafka's `MAX_PARTITIONS_PER_BATCH`: larger requests are refused before anything is allocated.
const MAX_PARTITIONS_PER_BATCH: i64 = 10_000;

/// A topic named by a DeleteTopics request: by name (v0-5) or by id (v6+).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TopicRef {
    Name(String),
    Id(Uuid),
}

type Failure = (i16, String);

struct TopicPlan {
    id: Uuid,
    replication_factor: i16,
    /// (replicas, isr) per partition, in partition order.
    partitions: Vec<(Vec<i32>, Vec<i32>)>,
    configs: BTreeMap<String, String>,
}

fn text(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// Brokers new replicas may be placed on: unfenced and not shutting down, with their racks.
fn usable_brokers(view: &MetadataImage) -> Vec<(i32, Option<String>)> {
    view.brokers
        .values()
        .filter(|b| b.is_active())
        .map(|b| (b.id, b.rack.clone()))
        .collect()
}

/// The StripedReplicaPlacer's refusals, with ReplicationControlManager's prefix.
fn check_replication_factor(view: &MetadataImage, rf: i16, usable: usize) -> Result<(), Failure> {
    let prefix = format!("Unable to replicate the partition {rf} time(s): ");
    if usable == 0 && !view.brokers.is_empty() {
        return Err((
            code::INVALID_REPLICATION_FACTOR,
            format!("{prefix}All brokers are currently fenced."),
        ));
    }
    if rf as usize > usable {
        return Err((
            code::INVALID_REPLICATION_FACTOR,
            format!(
                "{prefix}The target replication factor of {rf} cannot be reached because only \
                 {usable} broker(s) are registered."
            ),
        ));
    }
    Ok(())
}

/// Kafka's `validateManualPartitionAssignment`, then the ISR (the active replicas) it implies.
fn manual_partition(
    view: &MetadataImage,
    partition: i32,
    replicas: &[i32],
    expected_rf: Option<usize>,
) -> Result<(Vec<i32>, Vec<i32>), Failure> {
    let bad = |m: String| (code::INVALID_REPLICA_ASSIGNMENT, m);
    if replicas.is_empty() {
        return Err(bad(
            "The manual partition assignment includes an empty replica list.".into(),
        ));
    }
    let mut sorted = replicas.to_vec();
    sorted.sort_unstable();
    let mut prev = None;
    for b in sorted {
        if !view.brokers.contains_key(&b) {
            return Err(bad(format!(
                "The manual partition assignment includes broker {b}, but no such broker is \
                 registered."
            )));
        }
        if prev == Some(b) {
            return Err(bad(format!(
                "The manual partition assignment includes the broker {b} more than once."
            )));
        }
        prev = Some(b);
    }
    if let Some(rf) = expected_rf {
        if rf != replicas.len() {
            return Err(bad(format!(
                "The manual partition assignment includes a partition with {} replica(s), but \
                 this is inconsistent with previous partitions, which have {rf} replica(s).",
                replicas.len()
            )));
        }
    }
    let isr: Vec<i32> = replicas
        .iter()
        .copied()
        .filter(|b| view.is_active(*b))
        .collect();
    if isr.is_empty() {
        return Err(bad(format!(
            "All brokers specified in the manual partition assignment for partition {partition} \
             are fenced or in controlled shutdown."
        )));
    }
    Ok((replicas.to_vec(), isr))
}

/// A fresh topic id from the seed: never zero, never taken, and (as Kafka's `Uuid.randomUuid`)
/// never one whose base64 form starts with '-'.
fn new_topic_id(view: &MetadataImage, seed: u64) -> Uuid {
    let mut rng = StdRng::seed_from_u64(seed);
    loop {
        let id = uuid::Builder::from_random_bytes(rng.gen()).into_uuid();
        let dash = id.as_bytes()[0] >> 2 == 62;
        if !id.is_nil() && !dash && !view.topics.contains_key(&id) {
            return id;
        }
    }
}

/// Kafka's topic collision rule: '.' and '_' are the same in metric names.
fn collision<'a>(view: &'a MetadataImage, name: &str) -> Option<&'a str> {
    let norm = name.replace('.', "_");
    view.topic_ids
        .keys()
        .find(|other| other.as_str() != name && other.replace('.', "_") == norm)
        .map(String::as_str)
}

fn requested_partitions(t: &CreatableTopic, default: i32) -> i64 {
    if !t.assignments.is_empty() {
        t.assignments.len() as i64
    } else if t.num_partitions == -1 {
        i64::from(default)
    } else {
        i64::from(t.num_partitions.max(0))
    }
}

impl Controller {
    pub fn create_topics(
        &mut self,
        req: &CreateTopicsRequest,
        now_ms: i64,
    ) -> (Vec<MetadataRecord>, CreateTopicsResponse) {
        let mut seen = HashSet::new();
        let duplicates: HashSet<&str> = req
            .topics
            .iter()
            .map(|t| t.name.0.as_str())
            .filter(|n| !seen.insert(*n))
            .collect();
        let total: i64 = req
            .topics
            .iter()
            .map(|t| requested_partitions(t, self.config.default_partitions))
            .sum();
        let mut batch = Batch::new(&self.image);
        let mut results = Vec::with_capacity(req.topics.len());
        for t in &req.topics {
            let name = t.name.0.as_str();
            let mut r = CreatableTopicResult::default();
            r.name = t.name.clone();
            r.num_partitions = -1;
            r.replication_factor = -1;
            let plan = if duplicates.contains(name) {
                Err((code::INVALID_REQUEST, "Duplicate topic name.".to_string()))
            } else if total > MAX_PARTITIONS_PER_BATCH {
                Err((
                    code::POLICY_VIOLATION,
                    "Excessively large number of partitions per request.".to_string(),
                ))
            } else {
                self.plan_topic(batch.view(), t, now_ms)
            };
            match plan {
                Err((c, m)) => {
                    r.error_code = c;
                    r.error_message = Some(text(m));
                }
                Ok(plan) => {
                    r.error_code = code::NONE;
                    r.topic_id = if req.validate_only {
                        Uuid::nil()
                    } else {
                        plan.id
                    };
                    r.num_partitions = plan.partitions.len() as i32;
                    r.replication_factor = plan.replication_factor;
                    push_topic(&mut batch, name, plan);
                }
            }
            results.push(r);
        }
        let records = if req.validate_only {
            Vec::new()
        } else {
            batch.into_records()
        };
        let mut resp = CreateTopicsResponse::default();
        resp.topics = results;
        (records, resp)
    }

    fn plan_topic(
        &self,
        view: &MetadataImage,
        t: &CreatableTopic,
        now_ms: i64,
    ) -> Result<TopicPlan, Failure> {
        let name = t.name.0.as_str();
        crate::cluster::validate_topic_name(name).map_err(|e| (e.code(), e.to_string()))?;
        if view.topic_ids.contains_key(name) {
            return Err((
                code::TOPIC_ALREADY_EXISTS,
                format!("Topic '{name}' already exists."),
            ));
        }
        if let Some(other) = collision(view, name) {
            return Err((
                code::INVALID_TOPIC_EXCEPTION,
                format!("Topic '{name}' collides with existing topic: {other}"),
            ));
        }
        let mut configs = BTreeMap::new();
        for c in &t.configs {
            let key = c.name.as_str();
            let value = c.value.as_ref().ok_or_else(|| {
                (
                    code::INVALID_CONFIG,
                    format!("Null value not supported for topic configs: {key}"),
                )
            })?;
            catalog::validate_topic_value(key, value.as_str())
                .map_err(|m| (code::INVALID_CONFIG, m))?;
            configs.insert(key.to_string(), value.as_str().to_string());
        }
        let seed = seed_of(&[
            name.as_bytes(),
            &now_ms.to_be_bytes(),
            &view.offset.to_be_bytes(),
        ]);
        let (partitions, rf) = if t.assignments.is_empty() {
            self.auto_partitions(view, t, seed)?
        } else {
            manual_partitions(view, t)?
        };
        Ok(TopicPlan {
            id: new_topic_id(view, seed ^ 0x746f_7069_635f_6964),
            replication_factor: rf,
            partitions,
            configs,
        })
    }

    #[allow(clippy::type_complexity)]
    fn auto_partitions(
        &self,
        view: &MetadataImage,
        t: &CreatableTopic,
        seed: u64,
    ) -> Result<(Vec<(Vec<i32>, Vec<i32>)>, i16), Failure> {
        let count = if t.num_partitions == -1 {
            self.config.default_partitions
        } else {
            t.num_partitions
        };
        let rf = if t.replication_factor == -1 {
            self.config.default_replication_factor
        } else {
            t.replication_factor
        };
        if count <= 0 {
            return Err((
                code::INVALID_PARTITIONS,
                "Number of partitions was set to an invalid non-positive value.".into(),
            ));
        }
        if rf <= 0 {
            return Err((
                code::INVALID_REPLICATION_FACTOR,
                "Replication factor must be larger than 0, or -1 to use the default value.".into(),
            ));
        }
        let usable = usable_brokers(view);
        check_replication_factor(view, rf, usable.len())?;
        let mut placer = Placer::new(&usable, seed);
        let parts = (0..count)
            .map(|_| {
                let r = placer.place(rf as usize);
                (r.clone(), r)
            })
            .collect();
        Ok((parts, rf))
    }

    pub fn delete_topics(
        &mut self,
        topics: &[TopicRef],
        _now_ms: i64,
    ) -> (Vec<MetadataRecord>, Vec<DeletableTopicResult>) {
        let mut batch = Batch::new(&self.image);
        let mut seen = HashSet::new();
        let mut results = Vec::with_capacity(topics.len());
        for t in topics {
            let mut r = DeletableTopicResult::default();
            let found = match t {
                TopicRef::Name(n) => {
                    r.name = Some(TopicName(text(n.clone())));
                    batch
                        .view()
                        .topic_by_name(n)
                        .map(|t| (t.name.clone(), t.id))
                        .ok_or((
                            code::UNKNOWN_TOPIC_OR_PARTITION,
                            "This server does not host this topic-partition.",
                        ))
                }
                TopicRef::Id(id) => {
                    r.topic_id = *id;
                    batch
                        .view()
                        .topics
                        .get(id)
                        .map(|t| (t.name.clone(), t.id))
                        .ok_or((
                            code::UNKNOWN_TOPIC_ID,
                            "This server does not host this topic ID.",
                        ))
                }
            };
            if !seen.insert(t.clone()) {
                r.error_code = code::INVALID_REQUEST;
                r.error_message = Some(text(match t {
                    TopicRef::Name(_) => "Duplicate topic name.",
                    TopicRef::Id(_) => "Duplicate topic id.",
                }));
            } else {
                match found {
                    Ok((name, id)) => {
                        r.name = Some(TopicName(text(name)));
                        r.topic_id = id;
                        r.error_code = code::NONE;
                        batch.push(MetadataRecord::RemoveTopic { topic_id: id });
                    }
                    Err((c, m)) => {
                        r.error_code = c;
                        r.error_message = Some(text(m));
                    }
                }
            }
            results.push(r);
        }
        (batch.into_records(), results)
    }

    pub fn create_partitions(
        &mut self,
        req: &CreatePartitionsRequest,
        now_ms: i64,
    ) -> (Vec<MetadataRecord>, CreatePartitionsResponse) {
        let mut seen = HashSet::new();
        let duplicates: HashSet<&str> = req
            .topics
            .iter()
            .map(|t| t.name.0.as_str())
            .filter(|n| !seen.insert(*n))
            .collect();
        let mut batch = Batch::new(&self.image);
        let mut results = Vec::with_capacity(req.topics.len());
        for t in &req.topics {
            let name = t.name.0.as_str();
            let mut r = CreatePartitionsTopicResult::default();
            r.name = t.name.clone();
            let plan = if duplicates.contains(name) {
                Err((code::INVALID_REQUEST, "Duplicate topic name.".to_string()))
            } else {
                plan_new_partitions(batch.view(), t, now_ms)
            };
            match plan {
                Ok((topic_id, first, parts)) => {
                    r.error_code = code::NONE;
                    for (i, (replicas, isr)) in parts.into_iter().enumerate() {
                        let leader = isr.first().copied().unwrap_or(crate::metadata::NO_LEADER);
                        batch.push(MetadataRecord::Partition {
                            partition_id: first + i as i32,
                            topic_id,
                            replicas,
                            isr,
                            leader,
                            leader_epoch: 0,
                            partition_epoch: 0,
                        });
                    }
                }
                Err((c, m)) => {
                    r.error_code = c;
                    r.error_message = Some(text(m));
                }
            }
            results.push(r);
        }
        let records = if req.validate_only {
            Vec::new()
        } else {
            batch.into_records()
        };
        let mut resp = CreatePartitionsResponse::default();
        resp.results = results;
        (records, resp)
    }
}

#[allow(clippy::type_complexity)]
fn manual_partitions(
    view: &MetadataImage,
    t: &CreatableTopic,
) -> Result<(Vec<(Vec<i32>, Vec<i32>)>, i16), Failure> {
    if t.replication_factor != -1 {
        return Err((
            code::INVALID_REQUEST,
            "A manual partition assignment was specified, but replication factor was not set to -1."
                .into(),
        ));
    }
    if t.num_partitions != -1 {
        return Err((
            code::INVALID_REQUEST,
            "A manual partition assignment was specified, but numPartitions was not set to -1."
                .into(),
        ));
    }
    let mut sorted: Vec<&CreatableReplicaAssignment> = t.assignments.iter().collect();
    sorted.sort_by_key(|a| a.partition_index);
    let mut parts = Vec::with_capacity(sorted.len());
    let mut rf = None;
    for (i, a) in sorted.iter().enumerate() {
        if a.partition_index != i as i32 {
            return Err((
                code::INVALID_REPLICA_ASSIGNMENT,
                "Partitions should be a consecutive 0-based integer sequence".into(),
            ));
        }
        let replicas: Vec<i32> = a.broker_ids.iter().map(|b| b.0).collect();
        parts.push(manual_partition(view, a.partition_index, &replicas, rf)?);
        rf = Some(replicas.len());
    }
    Ok((parts, rf.unwrap_or(0).min(i16::MAX as usize) as i16))
}

/// (topic id, first new index, (replicas, isr) per new partition) for one CreatePartitions topic.
#[allow(clippy::type_complexity)]
fn plan_new_partitions(
    view: &MetadataImage,
    t: &kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic,
    now_ms: i64,
) -> Result<(Uuid, i32, Vec<(Vec<i32>, Vec<i32>)>), Failure> {
    let name = t.name.0.as_str();
    let topic = view.topic_by_name(name).ok_or((
        code::UNKNOWN_TOPIC_OR_PARTITION,
        "This server does not host this topic-partition.".to_string(),
    ))?;
    let current = topic.partitions.len() as i32;
    if t.count < current {
        return Err((
            code::INVALID_PARTITIONS,
            format!(
                "The topic {name} currently has {current} partition(s); {} would not be an \
                 increase.",
                t.count
            ),
        ));
    }
    if t.count == current {
        return Err((
            code::INVALID_PARTITIONS,
            format!("Topic already has {current} partition(s)."),
        ));
    }
    let additional = i64::from(t.count) - i64::from(current);
    if additional > MAX_PARTITIONS_PER_BATCH {
        return Err((
            code::POLICY_VIOLATION,
            "Excessively large number of partitions per request.".into(),
        ));
    }
    let rf = topic
        .partitions
        .values()
        .next()
        .map(|p| p.replicas.len())
        .unwrap_or(1);
    let parts = match &t.assignments {
        Some(assignments) => {
            if assignments.len() as i64 != additional {
                return Err((
                    code::INVALID_REPLICA_ASSIGNMENT,
                    format!(
                        "Attempted to add {additional} additional partition(s), but only {} \
                         assignment(s) were specified.",
                        assignments.len()
                    ),
                ));
            }
            let mut parts = Vec::with_capacity(assignments.len());
            for (i, a) in assignments.iter().enumerate() {
                let replicas: Vec<i32> = a.broker_ids.iter().map(|b| b.0).collect();
                parts.push(manual_partition(
                    view,
                    current + i as i32,
                    &replicas,
                    Some(rf),
                )?);
            }
            parts
        }
        None => {
            let usable = usable_brokers(view);
            let rf16 = rf.min(i16::MAX as usize) as i16;
            check_replication_factor(view, rf16, usable.len())?;
            let seed = seed_of(&[
                name.as_bytes(),
                &now_ms.to_be_bytes(),
                &view.offset.to_be_bytes(),
                &current.to_be_bytes(),
            ]);
            let mut placer = Placer::new(&usable, seed);
            (0..additional)
                .map(|_| {
                    let r = placer.place(rf);
                    (r.clone(), r)
                })
                .collect()
        }
    };
    Ok((topic.id, current, parts))
}

/// Topic, then one Partition per partition (leader = first ISR member, epochs 0), then Config.
fn push_topic(batch: &mut Batch<'_>, name: &str, plan: TopicPlan) {
    batch.push(MetadataRecord::Topic {
        name: name.to_string(),
        topic_id: plan.id,
    });
    for (i, (replicas, isr)) in plan.partitions.into_iter().enumerate() {
        let leader = isr.first().copied().unwrap_or(crate::metadata::NO_LEADER);
        batch.push(MetadataRecord::Partition {
            partition_id: i as i32,
            topic_id: plan.id,
            replicas,
            isr,
            leader,
            leader_epoch: 0,
            partition_epoch: 0,
        });
    }
    for (k, v) in plan.configs {
        batch.push(MetadataRecord::Config {
            resource_type: TOPIC_RESOURCE,
            resource_name: name.to_string(),
            name: k,
            value: Some(v),
        });
    }
}
