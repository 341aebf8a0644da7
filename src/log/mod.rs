//! The partition log: Kafka's on-disk layout, batch validation, recovery and retention.

pub mod batch;
pub mod config;
pub mod partition;
pub mod records;
pub mod segment;

pub use config::LogConfig;
pub use partition::{AppendInfo, LogError, Partition, ReadInfo};
