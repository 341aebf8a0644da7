//! ApiVersions: generated from the one table in `protocol`, plus the KIP-511 fallback.

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};

use crate::broker::BrokerState;
use crate::protocol::{encode_response, SUPPORTED};

use super::code;

/// The metadata.version Weir reports (Kafka 4.1's 4.1-IV1), and the lowest it claims to support.
const METADATA_VERSION: i16 = 27;
const METADATA_VERSION_MIN: i16 = 7;

/// Feature flags as a freshly formatted Kafka 4.1 cluster reports them: (name, supported min,
/// supported max, finalized level). The finalized `transaction.version` is the broker's setting.
pub fn features(state: &BrokerState) -> Vec<(&'static str, i16, i16, i16)> {
    let mut all = vec![
        (
            "metadata.version",
            METADATA_VERSION_MIN,
            METADATA_VERSION,
            METADATA_VERSION,
        ),
        ("kraft.version", 0, 1, 0),
        ("transaction.version", 0, 2, state.txns.feature_level),
        ("group.version", 0, 1, 1),
        ("eligible.leader.replicas.version", 0, 1, 1),
    ];
    // On a cluster the finalized levels are the ones in the metadata log.
    if let Some(rm) = &state.replicas {
        let img = rm.image();
        for f in &mut all {
            if let Some(level) = img.features.get(f.0) {
                f.3 = *level;
            }
        }
    }
    all
}

/// Finalized features never change while Weir runs, so their epoch is a constant; clients only
/// look at features whose epoch is at least 0.
const FINALIZED_FEATURES_EPOCH: i64 = 1;

pub async fn handle(
    state: &BrokerState,
    _req: ApiVersionsRequest,
    version: i16,
) -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default();
    resp.error_code = code::NONE;
    let on_controller = super::LISTENER
        .try_with(|l| super::controller::is_controller_listener(state, l))
        .unwrap_or(false);
    resp.api_keys = SUPPORTED
        .iter()
        .filter(|a| {
            if on_controller {
                super::controller::serves(a.key)
            } else {
                crate::protocol::broker_serves(a.key)
            }
        })
        .map(|a| {
            ApiVersion::default()
                .with_api_key(a.key as i16)
                .with_min_version(a.min)
                .with_max_version(a.max)
        })
        .collect();
    resp.finalized_features_epoch = -1;
    // Feature flags are tagged fields from v3. Like Kafka, v3 leaves out supported features
    // whose minimum is 0, which older clients misread (KAFKA-17492).
    if version >= 3 {
        for (name, min, max, level) in features(state) {
            if version >= 4 || min > 0 {
                resp.supported_features.push(
                    SupportedFeatureKey::default()
                        .with_name(super::str(name))
                        .with_min_version(min)
                        .with_max_version(max),
                );
            }
            if level > 0 {
                resp.finalized_features.push(
                    FinalizedFeatureKey::default()
                        .with_name(super::str(name))
                        .with_min_version_level(level)
                        .with_max_version_level(level),
                );
            }
        }
        resp.finalized_features_epoch = FINALIZED_FEATURES_EPOCH;
    }
    resp
}

/// A client asked for an ApiVersions version newer than ours: answer in v0 with
/// UNSUPPORTED_VERSION and our ApiVersions range, so it can retry at a version we speak.
pub fn fallback_response(correlation_id: i32) -> Result<Bytes, String> {
    let range = SUPPORTED
        .iter()
        .find(|a| a.key == ApiKey::ApiVersions)
        .map(|a| (a.min, a.max))
        .unwrap_or((0, 0));
    let mut resp = ApiVersionsResponse::default();
    resp.error_code = code::UNSUPPORTED_VERSION;
    resp.api_keys = vec![ApiVersion::default()
        .with_api_key(ApiKey::ApiVersions as i16)
        .with_min_version(range.0)
        .with_max_version(range.1)];
    encode_response(ApiKey::ApiVersions, 0, correlation_id, &resp)
}
