//! Metadata: brokers, topics with ids and partitions; auto-creates topics when allowed.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
use uuid::Uuid;

use crate::broker::BrokerState;
use crate::cluster::{validate_topic_name, Topic, TopicError};
use crate::security::acl::{op, resource, CLUSTER_NAME};

use super::{code, str, topic_name};

/// Kafka's "authorized operations not requested" sentinel.
pub const OPS_NOT_REQUESTED: i32 = i32::MIN;
/// Every topic operation (READ..DESCRIBE_CONFIGS, ALTER_CONFIGS), as a bit set.
/// What Kafka reports without an authorizer: every operation that applies to the resource type
/// (`AclEntry.supportedOperations`): READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE,
/// DESCRIBE_CONFIGS, ALTER_CONFIGS for topics.
pub const TOPIC_OPS: i32 = 0xDF8;
/// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
pub const CLUSTER_OPS: i32 = 0x1FA0;
/// READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
pub const GROUP_OPS: i32 = 0xD48;

/// The advertised address of the listener this request came in on (else the first).
pub fn advertised_for_request(state: &BrokerState) -> Option<&crate::config::Listener> {
    let name = super::LISTENER.try_with(|l| l.clone()).unwrap_or_default();
    state
        .advertised
        .iter()
        .find(|l| l.name == name)
        .or_else(|| state.advertised.first())
}

pub fn broker_entries(state: &BrokerState) -> Vec<MetadataResponseBroker> {
    if let Some(rm) = &state.replicas {
        return cluster_brokers(state, rm);
    }
    advertised_for_request(state)
        .into_iter()
        .map(|l| {
            let mut b = MetadataResponseBroker::default();
            b.node_id = BrokerId(state.cluster.node_id);
            b.host = str(l.host.clone());
            b.port = l.port as i32;
            b.rack = None;
            b
        })
        .collect()
}

/// The cluster's live (unfenced) brokers, each at its endpoint for the listener this request
/// came in on, as Kafka lists them.
fn cluster_brokers(
    state: &BrokerState,
    rm: &crate::replica::ReplicaManager,
) -> Vec<MetadataResponseBroker> {
    let listener = advertised_for_request(state)
        .map(|l| l.name.clone())
        .unwrap_or_default();
    rm.image()
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .filter_map(|b| {
            let e = b.endpoint(&listener)?;
            let mut mb = MetadataResponseBroker::default();
            mb.node_id = BrokerId(b.id);
            mb.host = str(e.host.clone());
            mb.port = e.port as i32;
            mb.rack = b.rack.clone().map(str);
            Some(mb)
        })
        .collect()
}

/// Partition leadership from the cluster metadata: replicas, ISR, leader (LEADER_NOT_AVAILABLE
/// when there is none) and offline replicas (on fenced or unknown brokers).
fn image_partitions(
    img: &crate::metadata::MetadataImage,
    t: &crate::metadata::TopicImage,
) -> Vec<MetadataResponsePartition> {
    let ids = |v: &[i32]| v.iter().map(|b| BrokerId(*b)).collect::<Vec<_>>();
    t.partitions
        .iter()
        .map(|(idx, p)| {
            let mut mp = MetadataResponsePartition::default();
            mp.partition_index = *idx;
            mp.leader_id = BrokerId(p.leader);
            mp.error_code = if p.leader < 0 { 5 } else { code::NONE };
            mp.leader_epoch = p.leader_epoch;
            mp.replica_nodes = ids(&p.replicas);
            mp.isr_nodes = ids(&p.isr);
            mp.offline_replicas = p
                .replicas
                .iter()
                .filter(|b| img.brokers.get(b).is_none_or(|r| r.fenced))
                .map(|b| BrokerId(*b))
                .collect();
            mp
        })
        .collect()
}

fn partitions(state: &BrokerState, t: &Topic) -> Vec<MetadataResponsePartition> {
    if let Some(rm) = &state.replicas {
        let img = rm.image();
        return match img.topics.get(&t.meta.id) {
            Some(ti) => image_partitions(&img, ti),
            None => Vec::new(),
        };
    }
    let me = BrokerId(state.cluster.node_id);
    t.partitions
        .iter()
        .map(|p| {
            let mut mp = MetadataResponsePartition::default();
            mp.error_code = code::NONE;
            mp.partition_index = p.index;
            mp.leader_id = me;
            mp.leader_epoch = p.leader_epoch();
            mp.replica_nodes = vec![me];
            mp.isr_nodes = vec![me];
            mp.offline_replicas = vec![];
            mp
        })
        .collect()
}

fn topic_entry(state: &BrokerState, t: &Topic, ops: i32) -> MetadataResponseTopic {
    let mut mt = MetadataResponseTopic::default();
    mt.error_code = code::NONE;
    mt.name = Some(topic_name(t.meta.name.clone()));
    mt.topic_id = t.meta.id;
    mt.is_internal = crate::cluster::is_internal(&t.meta.name);
    mt.partitions = partitions(state, t);
    mt.topic_authorized_operations = if ops == OPS_NOT_REQUESTED {
        ops
    } else {
        super::authorized_ops(state, resource::TOPIC, &t.meta.name, ops)
    };
    mt
}

/// The controller id clients are told: they cannot reach a KRaft controller, so, like Kafka, a
/// live broker (the active controller when it is one); admin requests sent to it are forwarded.
pub fn controller_for_clients(rm: &crate::replica::ReplicaManager, live: &[i32]) -> i32 {
    let c = rm.controller_id();
    if live.contains(&c) {
        c
    } else {
        live.first().copied().unwrap_or(-1)
    }
}

/// On a cluster, a local topic counts only once the metadata has it (under the same id).
fn in_cluster_metadata(state: &BrokerState, t: &Topic) -> bool {
    state
        .replicas
        .as_ref()
        .is_none_or(|rm| rm.image().topics.contains_key(&t.meta.id))
}

/// Auto-creation on a cluster: the controller creates the topic (default partitions and
/// replication factor); the answer waits until this broker's metadata has it.
async fn auto_create_in_cluster(
    state: &BrokerState,
    rm: &crate::replica::ReplicaManager,
    name: &str,
    ops: i32,
) -> MetadataResponseTopic {
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::CreateTopicsRequest;
    let mut ct = CreatableTopic::default();
    ct.name = topic_name(name.to_string());
    ct.num_partitions = -1;
    ct.replication_factor = -1;
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![ct];
    req.timeout_ms = 10_000;
    let code = match super::controller::forward(rm, req).await {
        Ok(r) => r.topics.first().map_or(code::NONE, |t| t.error_code),
        Err(e) => {
            tracing::warn!("auto-creating topic {name}: the controller is unreachable ({e})");
            5
        }
    };
    if code != code::NONE && code != 36 {
        return error_entry(Some(name.to_string()), Uuid::nil(), code);
    }
    super::controller::await_metadata(rm, |img| img.topic_ids.contains_key(name)).await;
    let local = state
        .cluster
        .topic(name)
        .filter(|t| in_cluster_metadata(state, t));
    match local {
        Some(t) => topic_entry(state, &t, ops),
        // Created, but not yet here: the client retries, as it does with Kafka.
        None => error_entry(Some(name.to_string()), Uuid::nil(), 5),
    }
}

fn error_entry(name: Option<String>, id: Uuid, error: i16) -> MetadataResponseTopic {
    let mut mt = MetadataResponseTopic::default();
    mt.error_code = error;
    mt.name = name.map(topic_name);
    mt.topic_id = id;
    mt.topic_authorized_operations = OPS_NOT_REQUESTED;
    mt
}

pub async fn handle(state: &BrokerState, req: MetadataRequest, version: i16) -> MetadataResponse {
    let topic_ops = if req.include_topic_authorized_operations {
        TOPIC_OPS
    } else {
        OPS_NOT_REQUESTED
    };
    // v0 has no null: an empty list there means every topic.
    let requested = match req.topics {
        Some(ref t) if !(version == 0 && t.is_empty()) => Some(t.clone()),
        _ => None,
    };
    let allow_create =
        (version < 4 || req.allow_auto_topic_creation) && state.config.auto_create_topics_enable;
    let mut topics = Vec::new();
    match requested {
        None => {
            // Topics the principal may not describe are left out, as Kafka does.
            for t in state.cluster.topics() {
                if !in_cluster_metadata(state, &t) {
                    continue;
                }
                if super::allowed(state, op::DESCRIBE, resource::TOPIC, &t.meta.name) {
                    topics.push(topic_entry(state, &t, topic_ops));
                }
            }
        }
        Some(list) => {
            for rt in list {
                // Clients looking up by id send a null (some, an empty) name.
                let name = rt
                    .name
                    .as_ref()
                    .map(|n| n.0.as_str().to_string())
                    .filter(|n| !n.is_empty() || rt.topic_id.is_nil());
                let found = match &name {
                    Some(n) => state.cluster.topic(n),
                    None => state.cluster.topic_by_id(&rt.topic_id),
                }
                .filter(|t| in_cluster_metadata(state, t));
                let acl_name = found
                    .as_ref()
                    .map(|t| t.meta.name.clone())
                    .or_else(|| name.clone())
                    .unwrap_or_default();
                if !super::allowed(state, op::DESCRIBE, resource::TOPIC, &acl_name) {
                    topics.push(error_entry(
                        name.clone(),
                        rt.topic_id,
                        code::TOPIC_AUTHORIZATION_FAILED,
                    ));
                    continue;
                }
                if let Some(t) = found {
                    topics.push(topic_entry(state, &t, topic_ops));
                    continue;
                }
                let Some(n) = name else {
                    topics.push(error_entry(None, rt.topic_id, code::UNKNOWN_TOPIC_ID));
                    continue;
                };
                if let Err(e) = validate_topic_name(&n) {
                    topics.push(error_entry(Some(n), Uuid::nil(), e.code()));
                    continue;
                }
                let may_create = super::allowed(
                    state,
                    op::CREATE,
                    resource::CLUSTER,
                    crate::security::acl::CLUSTER_NAME,
                ) || super::allowed(state, op::CREATE, resource::TOPIC, &n);
                if allow_create && !may_create {
                    topics.push(error_entry(
                        Some(n),
                        Uuid::nil(),
                        code::TOPIC_AUTHORIZATION_FAILED,
                    ));
                    continue;
                }
                if !allow_create {
                    topics.push(error_entry(
                        Some(n),
                        Uuid::nil(),
                        code::UNKNOWN_TOPIC_OR_PARTITION,
                    ));
                    continue;
                }
                if let Some(rm) = &state.replicas {
                    topics.push(auto_create_in_cluster(state, rm, &n, topic_ops).await);
                    continue;
                }
                let defaults = (
                    state.config.num_partitions,
                    state.config.default_replication_factor,
                );
                match state
                    .cluster
                    .create_topic(&n, -1, -1, Default::default(), defaults, false)
                {
                    Ok(t) => topics.push(topic_entry(state, &t, topic_ops)),
                    Err(TopicError::AlreadyExists(_)) => match state.cluster.topic(&n) {
                        Some(t) => topics.push(topic_entry(state, &t, topic_ops)),
                        None => topics.push(error_entry(
                            Some(n),
                            Uuid::nil(),
                            code::UNKNOWN_TOPIC_OR_PARTITION,
                        )),
                    },
                    Err(e) => {
                        tracing::warn!("auto-creating topic {n} failed: {e}");
                        topics.push(error_entry(Some(n), Uuid::nil(), e.code()));
                    }
                }
            }
        }
    }
    let mut resp = MetadataResponse::default();
    resp.brokers = broker_entries(state);
    resp.cluster_id = Some(str(state.cluster.cluster_id()));
    resp.controller_id = BrokerId(match &state.replicas {
        Some(rm) => {
            let live: Vec<i32> = resp.brokers.iter().map(|b| b.node_id.0).collect();
            controller_for_clients(rm, &live)
        }
        None => state.cluster.node_id,
    });
    resp.topics = topics;
    resp.cluster_authorized_operations = if req.include_cluster_authorized_operations {
        super::authorized_ops(state, resource::CLUSTER, CLUSTER_NAME, CLUSTER_OPS)
    } else {
        OPS_NOT_REQUESTED
    };
    resp
}
