//! The wire edge: which APIs and versions Weir serves (one table drives both ApiVersions and
//! dispatch), request header and body decoding under the allocation guard, response encoding.

use std::panic::AssertUnwindSafe;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::alloc_guard::with_decode_budget;

/// One served API: its key and the versions advertised.
#[derive(Clone, Copy, Debug)]
pub struct ApiSupport {
    pub key: ApiKey,
    pub min: i16,
    pub max: i16,
}

const fn api(key: ApiKey, min: i16, max: i16) -> ApiSupport {
    ApiSupport { key, min, max }
}

/// Every API Weir serves, with the versions Apache Kafka 4.1 serves. Produce is advertised from
/// v0 as Kafka 4 does (librdkafka before 2.11.1 turns compression off when the advertised
/// minimum is 3); v0-2 are refused when they arrive.
pub const SUPPORTED: &[ApiSupport] = &[
    api(ApiKey::Produce, 0, 13),
    api(ApiKey::Fetch, 4, 17),
    api(ApiKey::ListOffsets, 1, 10),
    api(ApiKey::Metadata, 0, 13),
    api(ApiKey::ApiVersions, 0, 4),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::OffsetForLeaderEpoch, 2, 4),
    api(ApiKey::DescribeConfigs, 1, 4),
    api(ApiKey::AlterConfigs, 0, 2),
    api(ApiKey::IncrementalAlterConfigs, 0, 1),
    api(ApiKey::DeleteRecords, 0, 2),
    api(ApiKey::DescribeLogDirs, 1, 4),
    api(ApiKey::CreatePartitions, 0, 3),
    api(ApiKey::DescribeCluster, 0, 2),
    api(ApiKey::DescribeTopicPartitions, 0, 0),
    api(ApiKey::FindCoordinator, 0, 6),
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    api(ApiKey::OffsetCommit, 2, 9),
    api(ApiKey::OffsetFetch, 1, 9),
    api(ApiKey::OffsetDelete, 0, 0),
    api(ApiKey::ListGroups, 0, 5),
    api(ApiKey::DescribeGroups, 0, 6),
    api(ApiKey::DeleteGroups, 0, 2),
    api(ApiKey::ConsumerGroupHeartbeat, 0, 1),
    api(ApiKey::ConsumerGroupDescribe, 0, 1),
    api(ApiKey::InitProducerId, 0, 5),
    api(ApiKey::AddPartitionsToTxn, 0, 5),
    api(ApiKey::AddOffsetsToTxn, 0, 4),
    api(ApiKey::EndTxn, 0, 5),
    api(ApiKey::TxnOffsetCommit, 0, 5),
    api(ApiKey::DescribeTransactions, 0, 0),
    api(ApiKey::ListTransactions, 0, 1),
    api(ApiKey::DescribeProducers, 0, 0),
    // Broker-to-broker (a transaction coordinator's markers); Kafka 4 serves v1 only.
    api(ApiKey::WriteTxnMarkers, 1, 1),
    // The metadata log's replication (kafka-metadata-quorum.sh); brokers forward it.
    api(ApiKey::DescribeQuorum, 0, 2),
    api(ApiKey::SaslHandshake, 1, 1),
    api(ApiKey::SaslAuthenticate, 0, 2),
    api(ApiKey::DescribeUserScramCredentials, 0, 0),
    api(ApiKey::AlterUserScramCredentials, 0, 0),
    api(ApiKey::CreateAcls, 1, 3),
    api(ApiKey::DescribeAcls, 1, 3),
    api(ApiKey::DeleteAcls, 1, 3),
    // Served on controller listeners only (the replicated cluster's broker-to-controller APIs).
    api(ApiKey::BrokerRegistration, 0, 4),
    api(ApiKey::BrokerHeartbeat, 0, 1),
    api(ApiKey::AlterPartition, 2, 3),
    api(ApiKey::AllocateProducerIds, 0, 0),
];

/// Whether a client listener serves (and ApiVersions lists) this API.
pub fn broker_serves(api: ApiKey) -> bool {
    !matches!(
        api,
        ApiKey::BrokerRegistration
            | ApiKey::BrokerHeartbeat
            | ApiKey::AlterPartition
            | ApiKey::AllocateProducerIds
    )
}

/// Produce versions Kafka 4 advertises but refuses at request time.
pub const PRODUCE_REFUSED_BELOW: i16 = 3;

pub fn support(api_key: i16) -> Option<&'static ApiSupport> {
    SUPPORTED.iter().find(|a| a.key as i16 == api_key)
}

/// Why a frame ends the connection, as Kafka closes it for these.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("request frame of {0} bytes is too short for a header")]
    Short(usize),
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    #[error("unsupported version {version} of {api:?}")]
    UnsupportedVersion { api: ApiKey, version: i16 },
    #[error("malformed {api:?} v{version} request: {reason}")]
    Malformed {
        api: ApiKey,
        version: i16,
        reason: String,
    },
    /// A broker bug: the handler built a response its version cannot carry.
    #[error("cannot encode the {api:?} v{version} response: {reason}")]
    Unencodable {
        api: ApiKey,
        version: i16,
        reason: String,
    },
}

/// A decoded request header plus the still-encoded body.
pub struct Frame {
    pub api: ApiKey,
    pub version: i16,
    pub header: RequestHeader,
    pub body: Bytes,
    /// The client's address, set by the connection (JoinGroup reports it as the client host).
    pub peer: Option<std::net::SocketAddr>,
    /// The listener the request came in on (Metadata advertises that listener's address).
    pub listener: Option<String>,
    /// The authenticated principal (`User:alice`), on SASL listeners.
    pub principal: Option<String>,
}

/// What to do with one frame.
pub enum Parsed {
    Request(Frame),
    /// ApiVersions at a version newer than ours: answer in v0 with UNSUPPORTED_VERSION (KIP-511).
    ApiVersionsFallback {
        correlation_id: i32,
    },
}

/// Runs a decode of untrusted bytes: allocation-guarded, and panics turned into errors.
pub fn guarded_decode<T>(
    input_len: usize,
    f: impl FnOnce() -> anyhow::Result<T>,
) -> Result<T, String> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| with_decode_budget(input_len, f))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("decoder panicked".into()),
    }
}

/// Splits a frame into header and body, refusing what Kafka would refuse.
pub fn parse_frame(mut frame: Bytes) -> Result<Parsed, FrameError> {
    if frame.len() < 8 {
        return Err(FrameError::Short(frame.len()));
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let support = support(key).ok_or(FrameError::UnknownApi(key))?;
    let api = support.key;
    if api == ApiKey::ApiVersions && version > support.max {
        let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        return Ok(Parsed::ApiVersionsFallback { correlation_id });
    }
    if version < support.min || version > support.max {
        return Err(FrameError::UnsupportedVersion { api, version });
    }
    if api == ApiKey::Produce && version < PRODUCE_REFUSED_BELOW {
        return Err(FrameError::UnsupportedVersion { api, version });
    }
    let header_version = api.request_header_version(version);
    let len = frame.len();
    let header = guarded_decode(len, || RequestHeader::decode(&mut frame, header_version))
        .map_err(|reason| FrameError::Malformed {
            api,
            version,
            reason,
        })?;
    Ok(Parsed::Request(Frame {
        api,
        version,
        header,
        body: frame,
        peer: None,
        listener: None,
        principal: None,
    }))
}

/// Decodes a request body of the frame's version.
pub fn decode_body<T: Decodable>(frame: &Frame) -> Result<T, FrameError> {
    let mut body = frame.body.clone();
    let version = frame.version;
    let len = body.len();
    let decoded = guarded_decode(len, || {
        let v = T::decode(&mut body, version)?;
        Ok((v, body.remaining()))
    });
    match decoded {
        Ok((v, _trailing)) => Ok(v),
        Err(reason) => Err(FrameError::Malformed {
            api: frame.api,
            version,
            reason,
        }),
    }
}

/// Encodes a whole response frame: length prefix, header, body.
pub fn encode_response<T: Encodable>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &T,
) -> Result<Bytes, String> {
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let header_version = api.response_header_version(version);
    let size = header
        .compute_size(header_version)
        .and_then(|h| body.compute_size(version).map(|b| h + b))
        .map_err(|e| format!("sizing {api:?} v{version} response: {e}"))?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(size as i32);
    header
        .encode(&mut buf, header_version)
        .and_then(|_| body.encode(&mut buf, version))
        .map_err(|e| format!("encoding {api:?} v{version} response: {e}"))?;
    Ok(buf.freeze())
}

/// The client id for logs.
pub fn client_id(header: &RequestHeader) -> &str {
    header
        .client_id
        .as_ref()
        .map(StrBytes::as_str)
        .unwrap_or("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_within_codec_ranges() {
        for a in SUPPORTED {
            let codec = a.key.valid_versions();
            let min = if a.key == ApiKey::Produce {
                codec.min.min(0)
            } else {
                a.min
            };
            assert!(
                a.min >= min && a.max <= codec.max,
                "{:?} {}..{} vs codec {}",
                a.key,
                a.min,
                a.max,
                codec
            );
        }
    }

    #[test]
    fn unknown_and_unsupported_are_refused() {
        let mut f = vec![0u8; 12];
        f[0..2].copy_from_slice(&999i16.to_be_bytes());
        assert!(matches!(
            parse_frame(Bytes::from(f.clone())),
            Err(FrameError::UnknownApi(999))
        ));
        f[0..2].copy_from_slice(&(ApiKey::Metadata as i16).to_be_bytes());
        f[2..4].copy_from_slice(&99i16.to_be_bytes());
        assert!(matches!(
            parse_frame(Bytes::from(f.clone())),
            Err(FrameError::UnsupportedVersion { .. })
        ));
        f[0..2].copy_from_slice(&(ApiKey::ApiVersions as i16).to_be_bytes());
        f[4..8].copy_from_slice(&7i32.to_be_bytes());
        assert!(matches!(
            parse_frame(Bytes::from(f)),
            Ok(Parsed::ApiVersionsFallback { correlation_id: 7 })
        ));
        assert!(matches!(
            parse_frame(Bytes::from_static(b"abc")),
            Err(FrameError::Short(3))
        ));
    }

    #[test]
    fn lying_array_counts_fail_cleanly() {
        // Metadata v1 (non-flexible): header, then a topics array claiming 2^31-1 entries.
        let mut f = Vec::new();
        f.extend_from_slice(&(ApiKey::Metadata as i16).to_be_bytes());
        f.extend_from_slice(&1i16.to_be_bytes());
        f.extend_from_slice(&1i32.to_be_bytes());
        f.extend_from_slice(&(-1i16).to_be_bytes());
        f.extend_from_slice(&i32::MAX.to_be_bytes());
        let Ok(Parsed::Request(frame)) = parse_frame(Bytes::from(f)) else {
            panic!("header should parse")
        };
        let r = decode_body::<kafka_protocol::messages::MetadataRequest>(&frame);
        assert!(matches!(r, Err(FrameError::Malformed { .. })));
        // Metadata v12 (flexible): compact array count as a varint near u32::MAX.
        let mut f = Vec::new();
        f.extend_from_slice(&(ApiKey::Metadata as i16).to_be_bytes());
        f.extend_from_slice(&12i16.to_be_bytes());
        f.extend_from_slice(&1i32.to_be_bytes());
        f.extend_from_slice(&(-1i16).to_be_bytes());
        f.push(0); // header tagged fields
        f.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        let Ok(Parsed::Request(frame)) = parse_frame(Bytes::from(f)) else {
            panic!("header should parse")
        };
        let r = decode_body::<kafka_protocol::messages::MetadataRequest>(&frame);
        assert!(matches!(r, Err(FrameError::Malformed { .. })));
    }
}
