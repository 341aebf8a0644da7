//! Topic administration: CreateTopics, DeleteTopics, CreatePartitions, DescribeTopicPartitions.

use std::collections::{BTreeMap, HashSet};

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::*;
use uuid::Uuid;

use crate::broker::BrokerState;
use crate::cluster::Topic;
use crate::config::{catalog, resolved_topic_value};
use crate::security::acl::{op, resource};

use super::{code, str, topic_name};

const INVALID_REPLICA_ASSIGNMENT: i16 = 39;

fn topic_configs(
    state: &BrokerState,
    overrides: &BTreeMap<String, String>,
) -> Vec<CreatableTopicConfigs> {
    catalog::TOPIC_CONFIGS
        .iter()
        .filter_map(|def| {
            let r = resolved_topic_value(state.cluster.broker_props(), def.name, overrides).ok()?;
            let mut c = CreatableTopicConfigs::default();
            c.name = str(def.name);
            c.value = r.value.map(str);
            c.read_only = false;
            c.config_source = r.source as i8;
            c.is_sensitive = false;
            Some(c)
        })
        .collect()
}

pub async fn handle_create(
    state: &BrokerState,
    req: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    if let Some(rm) = &state.replicas {
        return forward_create(state, rm, req).await;
    }
    let mut seen = HashSet::new();
    let duplicates: HashSet<String> = req
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.0.as_str().to_string()))
        .map(|t| t.name.0.as_str().to_string())
        .collect();
    let me = state.cluster.node_id;
    let mut results = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let name = t.name.0.as_str().to_string();
        let mut r = CreatableTopicResult::default();
        r.name = t.name.clone();
        r.num_partitions = -1;
        r.replication_factor = -1;
        let fail = |r: &mut CreatableTopicResult, code: i16, msg: String| {
            r.error_code = code;
            r.error_message = Some(str(msg));
        };
        if duplicates.contains(&name) {
            fail(&mut r, code::INVALID_REQUEST, format!("Create topics request from client contains multiple entries for the same topic {name}"));
            results.push(r);
            continue;
        }
        if !super::allowed(
            state,
            op::CREATE,
            resource::CLUSTER,
            crate::security::acl::CLUSTER_NAME,
        ) && !super::allowed(state, op::CREATE, resource::TOPIC, &name)
        {
            fail(
                &mut r,
                code::TOPIC_AUTHORIZATION_FAILED,
                "Authorization failed.".into(),
            );
            results.push(r);
            continue;
        }
        let mut configs = BTreeMap::new();
        let mut bad = None;
        for c in &t.configs {
            match &c.value {
                Some(v) => {
                    configs.insert(c.name.as_str().to_string(), v.as_str().to_string());
                }
                None => {
                    bad = Some(format!(
                        "Null value not supported for topic configs: {}",
                        c.name.as_str()
                    ))
                }
            }
        }
        if let Some(msg) = bad {
            fail(&mut r, code::INVALID_CONFIG, msg);
            results.push(r);
            continue;
        }
        let (mut partitions, mut rf) = (t.num_partitions, t.replication_factor);
        if !t.assignments.is_empty() {
            if partitions != -1 || rf != -1 {
                fail(&mut r, code::INVALID_REQUEST, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.".into());
                results.push(r);
                continue;
            }
            let mut idx: Vec<i32> = t.assignments.iter().map(|a| a.partition_index).collect();
            idx.sort_unstable();
            let contiguous = idx.iter().enumerate().all(|(i, p)| *p == i as i32);
            let on_me = t
                .assignments
                .iter()
                .all(|a| a.broker_ids.len() == 1 && a.broker_ids[0].0 == me);
            if !contiguous || !on_me {
                fail(
                    &mut r,
                    INVALID_REPLICA_ASSIGNMENT,
                    format!(
                        "Replica assignment must place every partition 0..n once, on broker {me}"
                    ),
                );
                results.push(r);
                continue;
            }
            partitions = idx.len() as i32;
            rf = 1;
        }
        let defaults = (
            state.config.num_partitions,
            state.config.default_replication_factor,
        );
        match state.cluster.create_topic(
            &name,
            partitions,
            rf,
            configs.clone(),
            defaults,
            req.validate_only,
        ) {
            Ok(topic) => {
                r.error_code = code::NONE;
                r.topic_id = if req.validate_only {
                    Uuid::nil()
                } else {
                    topic.meta.id
                };
                r.num_partitions = topic.meta.partitions;
                r.replication_factor = topic.meta.replication_factor;
                if version >= 5 {
                    r.configs = Some(topic_configs(state, &configs));
                }
            }
            Err(e) => fail(&mut r, e.code(), e.to_string()),
        }
        results.push(r);
    }
    let mut resp = CreateTopicsResponse::default();
    resp.topics = results;
    resp
}

pub async fn handle_delete(
    state: &BrokerState,
    req: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    if let Some(rm) = &state.replicas {
        return forward_delete(state, rm, req).await;
    }
    let targets: Vec<(Option<String>, Uuid)> = if version >= 6 {
        req.topics
            .into_iter()
            .map(|t| (t.name.map(|n| n.0.as_str().to_string()), t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| (Some(n.0.as_str().to_string()), Uuid::nil()))
            .collect()
    };
    let mut responses = Vec::with_capacity(targets.len());
    for (name, id) in targets {
        let mut r = DeletableTopicResult::default();
        r.topic_id = id;
        let resolved = match &name {
            Some(n) => Ok(n.clone()),
            None => state
                .cluster
                .topic_by_id(&id)
                .map(|t| t.meta.name.clone())
                .ok_or(code::UNKNOWN_TOPIC_ID),
        };
        r.name = name.clone().map(topic_name);
        match resolved {
            Err(c) => {
                r.error_code = c;
                r.error_message = Some(str("This server does not host this topic ID."));
            }
            Ok(n) if !super::allowed(state, op::DELETE, resource::TOPIC, &n) => {
                r.error_code = code::TOPIC_AUTHORIZATION_FAILED;
                r.error_message = Some(str("Authorization failed."));
            }
            Ok(_) if !state.config.delete_topic_enable => {
                r.error_code = code::TOPIC_DELETION_DISABLED;
                r.error_message = Some(str("Topic deletion is disabled."));
            }
            Ok(n) => match state.cluster.delete_topic(&n) {
                Ok(meta) => {
                    state.groups.on_topic_deleted(&state.cluster, &n, |_| true);
                    r.error_code = code::NONE;
                    r.name = Some(topic_name(n));
                    r.topic_id = meta.id;
                }
                Err(e) => {
                    r.error_code = e.code();
                    r.error_message = Some(str(e.to_string()));
                }
            },
        }
        responses.push(r);
    }
    let mut resp = DeleteTopicsResponse::default();
    resp.responses = responses;
    resp
}

pub async fn handle_create_partitions(
    state: &BrokerState,
    req: CreatePartitionsRequest,
    _version: i16,
) -> CreatePartitionsResponse {
    if let Some(rm) = &state.replicas {
        return forward_create_partitions(state, rm, req).await;
    }
    let me = state.cluster.node_id;
    let mut results = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let mut r = CreatePartitionsTopicResult::default();
        r.name = t.name.clone();
        let bad_assignment = t.assignments.as_ref().is_some_and(|a| {
            a.iter()
                .any(|x| x.broker_ids.len() != 1 || x.broker_ids[0].0 != me)
        });
        if !super::allowed(state, op::ALTER, resource::TOPIC, t.name.0.as_str()) {
            r.error_code = code::TOPIC_AUTHORIZATION_FAILED;
            r.error_message = Some(str("Authorization failed."));
        } else if bad_assignment {
            r.error_code = INVALID_REPLICA_ASSIGNMENT;
            r.error_message = Some(str(format!(
                "Every new partition must be assigned to broker {me} alone"
            )));
        } else {
            match state
                .cluster
                .create_partitions(t.name.0.as_str(), t.count, req.validate_only)
            {
                Ok(()) => r.error_code = code::NONE,
                Err(e) => {
                    r.error_code = e.code();
                    r.error_message = Some(str(e.to_string()));
                }
            }
        }
        results.push(r);
    }
    let mut resp = CreatePartitionsResponse::default();
    resp.results = results;
    resp
}

fn describe_partition(
    state: &BrokerState,
    t: &Topic,
    index: usize,
) -> DescribeTopicPartitionsResponsePartition {
    let me = BrokerId(state.cluster.node_id);
    let mut d = DescribeTopicPartitionsResponsePartition::default();
    d.error_code = code::NONE;
    d.partition_index = index as i32;
    d.leader_id = me;
    d.leader_epoch = t
        .partitions
        .get(index)
        .map(|p| p.leader_epoch())
        .unwrap_or(0);
    d.replica_nodes = vec![me];
    d.isr_nodes = vec![me];
    d.eligible_leader_replicas = Some(vec![]);
    d.last_known_elr = Some(vec![]);
    d.offline_replicas = vec![];
    d
}

pub async fn handle_describe_partitions(
    state: &BrokerState,
    req: DescribeTopicPartitionsRequest,
    _version: i16,
) -> DescribeTopicPartitionsResponse {
    let limit = if req.response_partition_limit <= 0 {
        2000
    } else {
        req.response_partition_limit as usize
    };
    // Listing every topic leaves out those the caller may not describe, as Metadata does.
    let mut names: Vec<String> = if req.topics.is_empty() {
        state
            .cluster
            .topics()
            .iter()
            .map(|t| t.meta.name.clone())
            .filter(|n| super::allowed(state, op::DESCRIBE, resource::TOPIC, n))
            .collect()
    } else {
        req.topics
            .iter()
            .map(|t| t.name.0.as_str().to_string())
            .collect()
    };
    names.sort();
    names.dedup();
    let (start_topic, start_partition) = match &req.cursor {
        Some(c) => (
            Some(c.topic_name.0.as_str().to_string()),
            c.partition_index.max(0) as usize,
        ),
        None => (None, 0),
    };
    let mut budget = limit;
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in names {
        if start_topic.as_ref().is_some_and(|s| name < *s) {
            continue;
        }
        let first = if start_topic.as_ref() == Some(&name) {
            start_partition
        } else {
            0
        };
        let mut dt = DescribeTopicPartitionsResponseTopic::default();
        dt.name = Some(topic_name(name.clone()));
        // DescribeTopicPartitions has no include flag: Kafka always fills it in.
        dt.topic_authorized_operations =
            super::authorized_ops(state, resource::TOPIC, &name, super::metadata::TOPIC_OPS);
        if !super::allowed(state, op::DESCRIBE, resource::TOPIC, &name) {
            dt.error_code = code::TOPIC_AUTHORIZATION_FAILED;
            dt.topic_authorized_operations = super::metadata::OPS_NOT_REQUESTED;
            topics.push(dt);
            continue;
        }
        let Some(t) = state.cluster.topic(&name) else {
            dt.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
            topics.push(dt);
            continue;
        };
        if budget == 0 {
            let mut c = Cursor::default();
            c.topic_name = topic_name(name);
            c.partition_index = first as i32;
            next_cursor = Some(c);
            break;
        }
        dt.error_code = code::NONE;
        dt.topic_id = t.meta.id;
        let n = t.partitions.len();
        let end = n.min(first + budget);
        dt.partitions = (first..end)
            .map(|i| describe_partition(state, &t, i))
            .collect();
        budget -= end.saturating_sub(first);
        topics.push(dt);
        if end < n {
            let mut c = Cursor::default();
            c.topic_name = topic_name(name);
            c.partition_index = end as i32;
            next_cursor = Some(c);
            break;
        }
    }
    let mut resp = DescribeTopicPartitionsResponse::default();
    resp.topics = topics;
    resp.next_cursor = next_cursor;
    resp
}

/// Topic creation on a cluster: decided by the controller; answered once this broker's
/// metadata has the new topics, so the client's next Metadata here finds them.
async fn forward_create(
    state: &BrokerState,
    rm: &crate::replica::ReplicaManager,
    mut req: CreateTopicsRequest,
) -> CreateTopicsResponse {
    // Authorized here, as for the single node; the controller decides the rest.
    let may_create = |name: &str| {
        super::allowed(
            state,
            op::CREATE,
            resource::CLUSTER,
            crate::security::acl::CLUSTER_NAME,
        ) || super::allowed(state, op::CREATE, resource::TOPIC, name)
    };
    let denied: Vec<String> = req
        .topics
        .iter()
        .map(|t| t.name.0.to_string())
        .filter(|n| !may_create(n))
        .collect();
    req.topics
        .retain(|t| !denied.contains(&t.name.0.to_string()));
    let refused = |resp: &mut CreateTopicsResponse| {
        for n in &denied {
            let mut r = CreatableTopicResult::default();
            r.name = topic_name(n.clone());
            r.error_code = super::code::TOPIC_AUTHORIZATION_FAILED;
            r.num_partitions = -1;
            r.replication_factor = -1;
            resp.topics.push(r);
        }
    };
    if req.topics.is_empty() {
        let mut resp = CreateTopicsResponse::default();
        refused(&mut resp);
        return resp;
    }
    let names: Vec<String> = req.topics.iter().map(|t| t.name.0.to_string()).collect();
    let validate_only = req.validate_only;
    match super::controller::forward(rm, req).await {
        Ok(mut resp) => {
            refused(&mut resp);
            if !validate_only {
                let created: Vec<String> = resp
                    .topics
                    .iter()
                    .filter(|t| t.error_code == 0)
                    .map(|t| t.name.0.to_string())
                    .collect();
                super::controller::await_metadata(rm, |img| {
                    created.iter().all(|n| img.topic_ids.contains_key(n))
                })
                .await;
            }
            resp
        }
        Err(e) => {
            tracing::warn!("CreateTopics: the controller is unreachable ({e})");
            let mut resp = CreateTopicsResponse::default();
            resp.topics = names
                .into_iter()
                .map(|n| {
                    let mut r = CreatableTopicResult::default();
                    r.name = topic_name(n);
                    r.error_code = REQUEST_TIMED_OUT;
                    r.num_partitions = -1;
                    r.replication_factor = -1;
                    r
                })
                .collect();
            resp
        }
    }
}

async fn forward_delete(
    state: &BrokerState,
    rm: &crate::replica::ReplicaManager,
    mut req: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    // The controller is asked at the newest version both speak (v6: `topics`); a client's
    // v0-v5 request names its topics in `topic_names`.
    if req.topics.is_empty() {
        req.topics = req
            .topic_names
            .iter()
            .map(|n| {
                let mut t =
                    kafka_protocol::messages::delete_topics_request::DeleteTopicState::default();
                t.name = Some(n.clone());
                t
            })
            .collect();
    }
    // Authorized here, as for the single node (topics named by id are checked by name).
    let mut denied = Vec::new();
    req.topics.retain(|t| {
        let name = t
            .name
            .as_ref()
            .map(|n| n.0.to_string())
            .or_else(|| rm.image().topics.get(&t.topic_id).map(|x| x.name.clone()))
            .unwrap_or_default();
        let ok = super::allowed(state, op::DELETE, resource::TOPIC, &name);
        if !ok {
            let mut r = DeletableTopicResult::default();
            r.name = t.name.clone();
            r.topic_id = t.topic_id;
            r.error_code = super::code::TOPIC_AUTHORIZATION_FAILED;
            denied.push(r);
        }
        ok
    });
    if req.topics.is_empty() {
        let mut resp = DeleteTopicsResponse::default();
        resp.responses = denied;
        return resp;
    }
    match super::controller::forward(rm, req).await {
        Ok(mut resp) => {
            resp.responses.extend(denied);
            let gone: Vec<String> = resp
                .responses
                .iter()
                .filter(|t| t.error_code == 0)
                .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
                .collect();
            super::controller::await_metadata(rm, |img| {
                gone.iter().all(|n| !img.topic_ids.contains_key(n))
            })
            .await;
            resp
        }
        Err(e) => {
            tracing::warn!("DeleteTopics: the controller is unreachable ({e})");
            DeleteTopicsResponse::default()
        }
    }
}

async fn forward_create_partitions(
    state: &BrokerState,
    rm: &crate::replica::ReplicaManager,
    mut req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut denied = Vec::new();
    req.topics.retain(|t| {
        let ok = super::allowed(state, op::ALTER, resource::TOPIC, t.name.0.as_str());
        if !ok {
            let mut r = CreatePartitionsTopicResult::default();
            r.name = t.name.clone();
            r.error_code = super::code::TOPIC_AUTHORIZATION_FAILED;
            denied.push(r);
        }
        ok
    });
    if req.topics.is_empty() {
        let mut resp = CreatePartitionsResponse::default();
        resp.results = denied;
        return resp;
    }
    let wanted: Vec<(String, i32)> = req
        .topics
        .iter()
        .map(|t| (t.name.0.to_string(), t.count))
        .collect();
    let validate_only = req.validate_only;
    match super::controller::forward(rm, req).await {
        Ok(mut resp) => {
            resp.results.extend(denied);
            if !validate_only {
                super::controller::await_metadata(rm, |img| {
                    wanted.iter().all(|(n, c)| {
                        img.topic_ids
                            .get(n)
                            .and_then(|id| img.topics.get(id))
                            .is_none_or(|t| t.partitions.len() as i32 >= *c)
                    })
                })
                .await;
            }
            resp
        }
        Err(e) => {
            tracing::warn!("CreatePartitions: the controller is unreachable ({e})");
            CreatePartitionsResponse::default()
        }
    }
}

const REQUEST_TIMED_OUT: i16 = 7;
