//! The client's typed errors. The CLI maps them to exit codes at its edge:
//! [`ClientError::exit_code`].

use std::fmt;

use super::codes::{error_description, error_name};

/// An error code returned by the broker, with its message (or Kafka's default one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaError {
    pub code: i16,
    pub message: Option<String>,
}

impl KafkaError {
    pub fn new(code: i16, message: Option<String>) -> KafkaError {
        KafkaError {
            code,
            message: message.filter(|m| !m.is_empty()),
        }
    }

    /// Kafka's name for the code, e.g. `TOPIC_ALREADY_EXISTS`.
    pub fn name(&self) -> String {
        error_name(self.code)
    }
}

impl fmt::Display for KafkaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = self
            .message
            .as_deref()
            .unwrap_or_else(|| error_description(self.code));
        write!(f, "{}: {}", self.name(), msg)
    }
}

/// Everything that can go wrong talking to a cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No TCP connection could be made.
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    /// An established connection failed (reset, closed by the broker).
    #[error("connection to {addr} failed: {reason}")]
    Io { addr: String, reason: String },
    /// No response within `request.timeout.ms`.
    #[error("timed out after {ms} ms waiting for a {api} response from {addr}")]
    Timeout { addr: String, api: String, ms: u64 },
    /// The broker answered with an error code.
    #[error("{0}")]
    Kafka(KafkaError),
    /// The broker does not advertise an API the command needs.
    #[error("UNSUPPORTED_VERSION: the broker does not support {api}")]
    Unsupported { api: String },
    /// The broker advertises the API but no version this client speaks.
    #[error(
        "UNSUPPORTED_VERSION: the broker supports {api} v{broker_min}-{broker_max}, \
         weir speaks v{ours_min}-{ours_max}"
    )]
    NoCommonVersion {
        api: String,
        broker_min: i16,
        broker_max: i16,
        ours_min: i16,
        ours_max: i16,
    },
    /// A response that could not be decoded or made no sense.
    #[error("protocol error from {addr}: {reason}")]
    Protocol { addr: String, reason: String },
    /// SASL login refused (SASL_AUTHENTICATION_FAILED, or a mechanism the broker lacks).
    #[error("SASL_AUTHENTICATION_FAILED: {0}")]
    Auth(String),
    /// A client-side failure described in words (unknown topic in metadata, bad input data).
    #[error("{0}")]
    Other(String),
}

impl ClientError {
    pub fn kafka(code: i16, message: Option<String>) -> ClientError {
        ClientError::Kafka(KafkaError::new(code, message))
    }

    /// `Ok(())` for code 0, else the Kafka error.
    pub fn check(code: i16, message: Option<&str>) -> Result<(), ClientError> {
        if code == 0 {
            Ok(())
        } else {
            Err(ClientError::kafka(code, message.map(str::to_string)))
        }
    }

    /// The Kafka error code, if this is one.
    pub fn code(&self) -> Option<i16> {
        match self {
            ClientError::Kafka(e) => Some(e.code),
            ClientError::Unsupported { .. } | ClientError::NoCommonVersion { .. } => Some(35),
            ClientError::Auth(_) => Some(58),
            _ => None,
        }
    }

    /// Exit codes scripts can trust: 1 for a Kafka error, 3 for a connection failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Connect { .. } | ClientError::Io { .. } | ClientError::Timeout { .. } => 3,
            _ => 1,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;
