//! Request handlers, one file per API family. A handler turns a decoded request into calls on
//! the state owners (cluster, partition logs, fetch sessions) and builds the response; errors
//! become Kafka error codes here, at the edge.

pub mod acls;
pub mod api_versions;
pub mod configs;
pub mod controller;
pub mod fetch;
pub mod fetch_session;
pub mod groups;
pub mod list_offsets;
pub mod log_dirs;
pub mod metadata;
pub mod produce;
pub mod quorum;
pub mod topics;
pub mod txn;
pub mod users;

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::broker::BrokerState;
use crate::protocol::{decode_body, encode_response, Frame, FrameError};

tokio::task_local! {
    /// The listener the current request came in on (Metadata and FindCoordinator advertise the
    /// address of that listener, as Kafka does).
    pub static LISTENER: String;
    /// Who is asking, and from where: (principal, client host), for the authorizer.
    pub static CALLER: (String, String);
}

/// Whether the current request's principal may do `operation` on the resource (always true
/// without an authorizer).
pub fn allowed(state: &BrokerState, operation: i8, resource_type: i8, name: &str) -> bool {
    if !state.authorizer.enabled() {
        return true;
    }
    let (principal, host) = caller();
    state
        .authorizer
        .authorize(&principal, &host, operation, resource_type, name)
}

fn caller() -> (String, String) {
    CALLER
        .try_with(|c| c.clone())
        .unwrap_or_else(|_| ("User:ANONYMOUS".into(), String::new()))
}

/// Whether the caller may do `operation` on some resource of the type (Kafka's
/// authorizeByResourceType).
pub fn allowed_on_any(state: &BrokerState, operation: i8, resource_type: i8) -> bool {
    if !state.authorizer.enabled() {
        return true;
    }
    let (principal, host) = caller();
    state
        .authorizer
        .authorize_by_resource_type(&principal, &host, operation, resource_type)
}

/// The caller's authorized-operations bitfield for a resource: the bits of `all` (one per
/// operation code) the authorizer allows, as Kafka reports them in Metadata and the Describe
/// APIs; 0 when the caller may not even describe it.
pub fn authorized_ops(state: &BrokerState, resource_type: i8, name: &str, all: i32) -> i32 {
    if !state.authorizer.enabled() {
        return all;
    }
    if !allowed(
        state,
        crate::security::acl::op::DESCRIBE,
        resource_type,
        name,
    ) {
        return 0;
    }
    (0..31)
        .filter(|bit| all & (1 << bit) != 0)
        .filter(|bit| allowed(state, *bit as i8, resource_type, name))
        .fold(0, |acc, bit| acc | (1 << bit))
}

/// Kafka error codes used by the handlers.
pub mod code {
    pub const NONE: i16 = 0;
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const INVALID_REQUEST: i16 = 42;
    pub const UNSUPPORTED_VERSION: i16 = 35;
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    pub const UNKNOWN_LEADER_EPOCH: i16 = 75;
    pub const INVALID_CONFIG: i16 = 40;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
    pub const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
    pub const INVALID_FETCH_SESSION_EPOCH: i16 = 71;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    pub const INVALID_RECORD: i16 = 87;
    pub const UNSUPPORTED_FOR_MESSAGE_FORMAT: i16 = 43;
    pub const TOPIC_DELETION_DISABLED: i16 = 73;
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
    pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
    pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
    pub const INVALID_TXN_STATE: i16 = 48;
    pub const NOT_ENOUGH_REPLICAS: i16 = 19;
}

pub fn str(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

pub fn topic_name(s: impl Into<String>) -> TopicName {
    TopicName(str(s))
}

/// The epoch check Fetch and ListOffsets do: -1 means "not given".
pub fn check_leader_epoch(current: i32, ours: i32) -> i16 {
    if current == -1 || current == ours {
        code::NONE
    } else if current < ours {
        code::FENCED_LEADER_EPOCH
    } else {
        code::UNKNOWN_LEADER_EPOCH
    }
}

macro_rules! route {
    ($state:expr, $frame:expr, $( $api:ident => $handler:path ),* $(,)?) => {
        match $frame.api {
            $(
                ApiKey::$api => {
                    let req = decode_body(&$frame)?;
                    let resp = $handler($state, req, $frame.version).await;
                    reply(&$frame, &resp)
                }
            )*
            other => Err(FrameError::UnknownApi(other as i16)),
        }
    };
}

/// Runs one request, counting it and timing it per API. `Ok(None)` means no response is sent
/// (acks=0 produce).
pub async fn dispatch(state: &BrokerState, frame: Frame) -> Result<Option<Bytes>, FrameError> {
    let api = format!("{:?}", frame.api);
    let started = std::time::Instant::now();
    let listener = frame.listener.clone().unwrap_or_default();
    let caller = (
        frame
            .principal
            .clone()
            .unwrap_or_else(|| "User:ANONYMOUS".into()),
        frame.peer.map(|p| p.ip().to_string()).unwrap_or_default(),
    );
    let result = LISTENER
        .scope(listener, CALLER.scope(caller, dispatch_inner(state, frame)))
        .await;
    if let Some(m) = crate::metrics::get() {
        m.requests.with_label_values(&[api.as_str()]).inc();
        m.request_latency
            .with_label_values(&[api.as_str()])
            .observe(started.elapsed().as_secs_f64());
        if result.is_err() {
            m.request_errors.with_label_values(&[api.as_str()]).inc();
        }
    }
    result
}

/// Encodes a handler's response in the frame's version.
fn reply<T: kafka_protocol::protocol::Encodable>(
    frame: &Frame,
    resp: &T,
) -> Result<Option<Bytes>, FrameError> {
    encode_response(frame.api, frame.version, frame.header.correlation_id, resp)
        .map(Some)
        .map_err(|reason| FrameError::Unencodable {
            api: frame.api,
            version: frame.version,
            reason,
        })
}

/// (client id, client host as Kafka prints it) for group membership.
fn client_of(frame: &Frame) -> (String, String) {
    let client_id = crate::protocol::client_id(&frame.header).to_string();
    let host = frame
        .peer
        .map(|p| format!("/{}", p.ip()))
        .unwrap_or_default();
    (client_id, host)
}

async fn dispatch_inner(state: &BrokerState, frame: Frame) -> Result<Option<Bytes>, FrameError> {
    let on_controller_listener = frame
        .listener
        .as_deref()
        .is_some_and(|l| controller::is_controller_listener(state, l));
    if on_controller_listener {
        if !controller::serves(frame.api) {
            return Err(FrameError::UnknownApi(frame.api as i16));
        }
        return controller::dispatch(state, frame).await;
    }
    if controller::serves(frame.api) && !crate::protocol::broker_serves(frame.api) {
        // Broker-to-controller APIs are not served on client listeners (Kafka does not
        // expose them there either).
        return Err(FrameError::UnknownApi(frame.api as i16));
    }
    dispatch_broker(state, frame).await
}

/// The client-facing APIs.
pub(crate) async fn dispatch_broker(
    state: &BrokerState,
    frame: Frame,
) -> Result<Option<Bytes>, FrameError> {
    match frame.api {
        ApiKey::Produce => {
            let req: ProduceRequest = decode_body(&frame)?;
            let acks = req.acks;
            let resp = produce::handle(state, req, frame.version).await;
            if acks == 0 {
                return Ok(None);
            }
            return reply(&frame, &resp);
        }
        ApiKey::ConsumerGroupHeartbeat => {
            let req: ConsumerGroupHeartbeatRequest = decode_body(&frame)?;
            let (client_id, host) = client_of(&frame);
            let resp =
                groups::handle_consumer_heartbeat(state, req, frame.version, client_id, host).await;
            return reply(&frame, &resp);
        }
        ApiKey::JoinGroup => {
            let req: JoinGroupRequest = decode_body(&frame)?;
            let (client_id, host) = client_of(&frame);
            let resp = groups::handle_join(state, req, frame.version, client_id, host).await;
            return reply(&frame, &resp);
        }
        _ => {}
    }
    route!(state, frame,
        ApiVersions => api_versions::handle,
        Metadata => metadata::handle,
        Fetch => fetch::handle,
        ListOffsets => list_offsets::handle,
        OffsetForLeaderEpoch => list_offsets::handle_offset_for_leader_epoch,
        CreateTopics => topics::handle_create,
        DeleteTopics => topics::handle_delete,
        CreatePartitions => topics::handle_create_partitions,
        DescribeTopicPartitions => topics::handle_describe_partitions,
        DescribeConfigs => configs::handle_describe,
        AlterConfigs => configs::handle_alter,
        IncrementalAlterConfigs => configs::handle_incremental_alter,
        DeleteRecords => list_offsets::handle_delete_records,
        FindCoordinator => groups::handle_find_coordinator,
        SyncGroup => groups::handle_sync,
        Heartbeat => groups::handle_heartbeat,
        LeaveGroup => groups::handle_leave,
        OffsetCommit => groups::handle_offset_commit,
        OffsetFetch => groups::handle_offset_fetch,
        OffsetDelete => groups::handle_offset_delete,
        ListGroups => groups::handle_list_groups,
        DescribeGroups => groups::handle_describe_groups,
        DeleteGroups => groups::handle_delete_groups,
        ConsumerGroupDescribe => groups::handle_consumer_describe,
        InitProducerId => txn::handle_init_producer_id,
        AddPartitionsToTxn => txn::handle_add_partitions,
        AddOffsetsToTxn => txn::handle_add_offsets,
        EndTxn => txn::handle_end_txn,
        TxnOffsetCommit => txn::handle_txn_offset_commit,
        DescribeTransactions => txn::handle_describe_transactions,
        ListTransactions => txn::handle_list_transactions,
        DescribeProducers => txn::handle_describe_producers,
        WriteTxnMarkers => txn::handle_write_txn_markers,
        DescribeQuorum => quorum::handle,
        DescribeUserScramCredentials => users::handle_describe,
        AlterUserScramCredentials => users::handle_alter,
        SaslHandshake => users::handle_handshake_without_sasl,
        CreateAcls => acls::handle_create,
        DescribeAcls => acls::handle_describe,
        DeleteAcls => acls::handle_delete,
        SaslAuthenticate => users::handle_authenticate_without_sasl,
        DescribeCluster => log_dirs::handle_describe_cluster,
        DescribeLogDirs => log_dirs::handle_describe_log_dirs,
    )
}
