//! ApiVersions: generated from the one table in `protocol`, plus the KIP-511 fallback.

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};

use crate::broker::BrokerState;
use crate::protocol::{encode_response, SUPPORTED};

use super::code;

pub async fn handle(
    _state: &BrokerState,
    _req: ApiVersionsRequest,
    _version: i16,
) -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default();
    resp.error_code = code::NONE;
    resp.api_keys = SUPPORTED
        .iter()
        .map(|a| {
            ApiVersion::default()
                .with_api_key(a.key as i16)
                .with_min_version(a.min)
                .with_max_version(a.max)
        })
        .collect();
    resp.finalized_features_epoch = -1;
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
