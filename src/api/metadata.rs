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

fn partitions(state: &BrokerState, t: &Topic) -> Vec<MetadataResponsePartition> {
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
                };
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
    resp.cluster_id = Some(str(state.cluster.cluster_id.clone()));
    resp.controller_id = BrokerId(state.cluster.node_id);
    resp.topics = topics;
    resp.cluster_authorized_operations = if req.include_cluster_authorized_operations {
        super::authorized_ops(state, resource::CLUSTER, CLUSTER_NAME, CLUSTER_OPS)
    } else {
        OPS_NOT_REQUESTED
    };
    resp
}
