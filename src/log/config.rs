//! The per-topic log settings the partition log acts on, resolved from topic overrides, broker
//! properties and Kafka's defaults.

use std::collections::BTreeMap;

use crate::config::resolved_topic_value;

#[derive(Clone, Debug, PartialEq)]
pub struct LogConfig {
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub flush_messages: i64,
    pub flush_ms: i64,
    pub index_interval_bytes: u64,
    pub max_message_bytes: usize,
    pub log_append_time: bool,
    pub timestamp_before_max_ms: i64,
    pub timestamp_after_max_ms: i64,
    pub delete_enabled: bool,
    /// `cleanup.policy` includes `compact`: every record must carry a key.
    pub compact: bool,
}

impl LogConfig {
    /// Resolves every setting; Err names the first invalid one.
    pub fn resolve(
        broker: &BTreeMap<String, String>,
        overrides: &BTreeMap<String, String>,
    ) -> Result<LogConfig, String> {
        let get = |name: &str| -> Result<String, String> {
            resolved_topic_value(broker, name, overrides)
                .map_err(|(n, v, r)| format!("Invalid value {v} for configuration {n}: {r}"))
                .map(|r| r.value.unwrap_or_default())
        };
        let long = |name: &str, default: i64| -> Result<i64, String> {
            let v = get(name)?;
            if v.is_empty() {
                return Ok(default);
            }
            v.trim()
                .parse()
                .map_err(|_| format!("Invalid value {v} for configuration {name}"))
        };
        Ok(LogConfig {
            segment_bytes: long("segment.bytes", 1 << 30)?.max(1024) as u64,
            segment_ms: long("segment.ms", 604_800_000)?,
            retention_ms: long("retention.ms", 604_800_000)?,
            retention_bytes: long("retention.bytes", -1)?,
            flush_messages: long("flush.messages", i64::MAX)?,
            flush_ms: long("flush.ms", i64::MAX)?,
            index_interval_bytes: long("index.interval.bytes", 4096)?.max(0) as u64,
            max_message_bytes: long("max.message.bytes", 1_048_588)?.max(0) as usize,
            log_append_time: get("message.timestamp.type")? == "LogAppendTime",
            timestamp_before_max_ms: long("message.timestamp.before.max.ms", i64::MAX)?,
            timestamp_after_max_ms: long("message.timestamp.after.max.ms", i64::MAX)?,
            delete_enabled: get("cleanup.policy")?
                .split(',')
                .any(|p| p.trim() == "delete"),
            compact: get("cleanup.policy")?
                .split(',')
                .any(|p| p.trim() == "compact"),
        })
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 604_800_000,
            retention_ms: 604_800_000,
            retention_bytes: -1,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            index_interval_bytes: 4096,
            max_message_bytes: 1_048_588,
            log_append_time: false,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: i64::MAX,
            delete_enabled: true,
            compact: false,
        }
    }
}
