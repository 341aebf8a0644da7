//! Requests on the controller listener: broker registration and heartbeats, AlterPartition,
//! producer-id blocks, the topic admin requests brokers forward, and metadata-log fetches. Each
//! is decided by the controller state machine, appended to the metadata log and replayed before
//! it is answered (`ControllerService::run`). A node that is not the active controller answers
//! NOT_CONTROLLER.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::*;

use crate::broker::BrokerState;
use crate::controller::file_log::METADATA_TOPIC;
use crate::controller::service::ControllerService;
use crate::log::segment::now_ms;
use crate::protocol::{decode_body, Frame, FrameError};

use super::reply;

const NOT_CONTROLLER: i16 = 41;
const UNKNOWN_SERVER_ERROR: i16 = -1;

/// Whether a request arrived on one of this node's controller listeners.
pub fn is_controller_listener(state: &BrokerState, listener: &str) -> bool {
    state
        .config
        .kraft
        .as_ref()
        .is_some_and(|k| k.controller_listener_names.iter().any(|n| n == listener))
}

/// The APIs a controller listener serves (besides ApiVersions).
pub fn serves(api: ApiKey) -> bool {
    matches!(
        api,
        ApiKey::BrokerRegistration
            | ApiKey::BrokerHeartbeat
            | ApiKey::AlterPartition
            | ApiKey::AllocateProducerIds
            | ApiKey::CreateTopics
            | ApiKey::DeleteTopics
            | ApiKey::CreatePartitions
            | ApiKey::AlterConfigs
            | ApiKey::IncrementalAlterConfigs
            | ApiKey::CreateAcls
            | ApiKey::DeleteAcls
            | ApiKey::AlterUserScramCredentials
            | ApiKey::Fetch
            | ApiKey::ApiVersions
            | ApiKey::DescribeCluster
            | ApiKey::DescribeQuorum
            // Brokers log in on a SASL controller listener.
            | ApiKey::SaslHandshake
            | ApiKey::SaslAuthenticate
    )
}

pub async fn dispatch(state: &BrokerState, frame: Frame) -> Result<Option<Bytes>, FrameError> {
    let Some(ctl) = state.controller.clone() else {
        return not_controller(&frame);
    };
    let now = now_ms();
    match frame.api {
        ApiKey::BrokerRegistration => {
            let req: BrokerRegistrationRequest = decode_body(&frame)?;
            let resp = ctl
                .run(|c, next| c.register_broker(&req, now, next))
                .unwrap_or_else(|_| {
                    let mut r = BrokerRegistrationResponse::default();
                    r.error_code = UNKNOWN_SERVER_ERROR;
                    r.broker_epoch = -1;
                    r
                });
            reply(&frame, &resp)
        }
        ApiKey::BrokerHeartbeat => {
            let req: BrokerHeartbeatRequest = decode_body(&frame)?;
            let resp = ctl.run(|c, _| c.heartbeat(&req, now)).unwrap_or_else(|_| {
                let mut r = BrokerHeartbeatResponse::default();
                r.error_code = UNKNOWN_SERVER_ERROR;
                r.is_fenced = true;
                r
            });
            reply(&frame, &resp)
        }
        ApiKey::AlterPartition => {
            let req: AlterPartitionRequest = decode_body(&frame)?;
            let resp = ctl
                .run(|c, _| c.alter_partition(&req, now))
                .unwrap_or_else(|_| {
                    let mut r = AlterPartitionResponse::default();
                    r.error_code = UNKNOWN_SERVER_ERROR;
                    r
                });
            reply(&frame, &resp)
        }
        ApiKey::AllocateProducerIds => {
            let req: AllocateProducerIdsRequest = decode_body(&frame)?;
            let resp = ctl
                .run(|c, _| c.allocate_producer_ids(&req))
                .unwrap_or_else(|_| {
                    let mut r = AllocateProducerIdsResponse::default();
                    r.error_code = UNKNOWN_SERVER_ERROR;
                    r
                });
            reply(&frame, &resp)
        }
        ApiKey::CreateTopics => {
            let req: CreateTopicsRequest = decode_body(&frame)?;
            let resp = ctl
                .run(|c, _| c.create_topics(&req, now))
                .unwrap_or_default();
            reply(&frame, &resp)
        }
        ApiKey::DeleteTopics => {
            let req: DeleteTopicsRequest = decode_body(&frame)?;
            use crate::controller::TopicRef;
            // v6 names topics by id or name; older versions by name only.
            let refs: Vec<TopicRef> = if frame.version >= 6 {
                req.topics
                    .iter()
                    .map(|t| match &t.name {
                        Some(n) if t.topic_id.is_nil() => TopicRef::Name(n.0.to_string()),
                        _ => TopicRef::Id(t.topic_id),
                    })
                    .collect()
            } else {
                req.topic_names
                    .iter()
                    .map(|n| TopicRef::Name(n.0.to_string()))
                    .collect()
            };
            let mut resp = DeleteTopicsResponse::default();
            resp.responses = ctl
                .run(|c, _| c.delete_topics(&refs, now))
                .unwrap_or_default();
            reply(&frame, &resp)
        }
        ApiKey::CreatePartitions => {
            let req: CreatePartitionsRequest = decode_body(&frame)?;
            let resp = ctl
                .run(|c, _| c.create_partitions(&req, now))
                .unwrap_or_default();
            reply(&frame, &resp)
        }
        ApiKey::IncrementalAlterConfigs => {
            let req: IncrementalAlterConfigsRequest = decode_body(&frame)?;
            let resp = ctl
                .run(|c, _| c.incremental_alter_configs(&req, now))
                .unwrap_or_default();
            reply(&frame, &resp)
        }
        ApiKey::AlterConfigs => {
            let req: AlterConfigsRequest = decode_body(&frame)?;
            let resp = ctl
                .run(|c, _| c.alter_configs(&req, now))
                .unwrap_or_default();
            reply(&frame, &resp)
        }
        ApiKey::Fetch => {
            let req: FetchRequest = decode_body(&frame)?;
            let resp = metadata_fetch(&ctl, req).await;
            reply(&frame, &resp)
        }
        ApiKey::DescribeQuorum => reply(&frame, &super::quorum::describe(state, &ctl)),
        ApiKey::CreateAcls => {
            let req: CreateAclsRequest = decode_body(&frame)?;
            let bindings: Vec<_> = req.creations.iter().map(super::acls::binding).collect();
            let results = ctl.run(|c, _| c.create_acls(&bindings));
            let resp = super::acls::creation_response(results, bindings.len());
            reply(&frame, &resp)
        }
        ApiKey::DeleteAcls => {
            let req: DeleteAclsRequest = decode_body(&frame)?;
            let filters: Vec<_> = req
                .filters
                .iter()
                .map(super::acls::deletion_filter)
                .collect();
            let resp = super::acls::deletion_response(
                ctl.run(|c, _| c.delete_acls(&filters)),
                filters.len(),
            );
            reply(&frame, &resp)
        }
        ApiKey::AlterUserScramCredentials => {
            let req: AlterUserScramCredentialsRequest = decode_body(&frame)?;
            let (deletions, upsertions) = super::users::scram_entries(&req);
            // A metadata log that cannot be written fails every entry.
            let results = ctl
                .run(|c, _| c.alter_scram(&deletions, &upsertions))
                .unwrap_or_else(|e| {
                    deletions
                        .iter()
                        .map(|(u, _)| u)
                        .chain(upsertions.iter().map(|(u, ..)| u))
                        .map(|u| (u.clone(), UNKNOWN_SERVER_ERROR, Some(e.clone())))
                        .collect()
                });
            let mut resp = AlterUserScramCredentialsResponse::default();
            resp.results = results
                .into_iter()
                .map(|(user, code, message)| {
                    let mut r = kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult::default();
                    r.user = super::str(user);
                    r.error_code = code;
                    r.error_message = message.map(super::str);
                    r
                })
                .collect();
            reply(&frame, &resp)
        }
        _ => super::dispatch_broker(state, frame).await,
    }
}

fn not_controller(frame: &Frame) -> Result<Option<Bytes>, FrameError> {
    match frame.api {
        ApiKey::BrokerRegistration => {
            let mut r = BrokerRegistrationResponse::default();
            r.error_code = NOT_CONTROLLER;
            r.broker_epoch = -1;
            reply(frame, &r)
        }
        ApiKey::BrokerHeartbeat => {
            let mut r = BrokerHeartbeatResponse::default();
            r.error_code = NOT_CONTROLLER;
            r.is_fenced = true;
            reply(frame, &r)
        }
        ApiKey::AlterPartition => {
            let mut r = AlterPartitionResponse::default();
            r.error_code = NOT_CONTROLLER;
            reply(frame, &r)
        }
        ApiKey::AllocateProducerIds => {
            let mut r = AllocateProducerIdsResponse::default();
            r.error_code = NOT_CONTROLLER;
            reply(frame, &r)
        }
        other => Err(FrameError::UnknownApi(other as i16)),
    }
}

/// A broker's fetch of `__cluster_metadata`: stored batches from its offset, long-polled on
/// the log end so a change reaches every broker at once.
async fn metadata_fetch(ctl: &Arc<ControllerService>, req: FetchRequest) -> FetchResponse {
    let Some((topic, part)) = req
        .topics
        .iter()
        .find(|t| t.topic.0.as_str() == METADATA_TOPIC)
        .and_then(|t| t.partitions.first().map(|p| (t.topic.clone(), p.clone())))
    else {
        return FetchResponse::default();
    };
    let mut rx = ctl.subscribe();
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(req.max_wait_ms.clamp(0, 5000) as u64);
    loop {
        if *rx.borrow_and_update() > part.fetch_offset {
            break;
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            break;
        }
    }
    let mut d = PartitionData::default();
    d.partition_index = 0;
    d.preferred_read_replica = BrokerId(-1);
    d.last_stable_offset = -1;
    match ctl.read(
        part.fetch_offset,
        part.partition_max_bytes.clamp(1024, 8 << 20) as usize,
    ) {
        Ok((records, end)) => {
            d.high_watermark = end;
            d.last_stable_offset = end;
            d.log_start_offset = 0;
            d.records = Some(records);
        }
        Err(code) => {
            d.error_code = code;
            d.high_watermark = ctl.end_offset();
            d.records = Some(Bytes::new());
        }
    }
    let mut t = FetchableTopicResponse::default();
    t.topic = topic;
    t.partitions = vec![d];
    let mut resp = FetchResponse::default();
    resp.responses = vec![t];
    resp
}

/// Sends an admin request a broker received to the active controller and returns its answer
/// (Kafka forwards these to the controller the same way, so clients may send them anywhere).
pub async fn forward<R>(rm: &crate::replica::ReplicaManager, req: R) -> Result<R::Response, String>
where
    R: kafka_protocol::protocol::Request + Send + 'static,
{
    rm.controller
        .call(Duration::from_secs(20), move |_| req)
        .await
}

/// Waits (bounded) until this broker's metadata shows `done` true, so a client that created a
/// topic through this broker finds it here right after.
pub async fn await_metadata(
    rm: &crate::replica::ReplicaManager,
    mut done: impl FnMut(&crate::metadata::MetadataImage) -> bool,
) {
    let mut rx = rm.subscribe_applied();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if done(&rm.image()) {
            return;
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            return;
        }
    }
}
