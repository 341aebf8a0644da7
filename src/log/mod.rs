//! The partition log: Kafka's on-disk layout, batch validation, recovery and retention.

pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod epoch_cache;
pub mod partition;
pub mod records;
#[cfg(test)]
mod replica_tests;
pub mod segment;
pub mod truncation;

pub use checkpoint::{read_hw_checkpoint, write_hw_checkpoint};
pub use config::LogConfig;
pub use epoch_cache::LeaderEpochCache;
pub use partition::{AppendInfo, LogError, Partition, ReadInfo};
pub use truncation::{truncation_offset, truncation_state, Truncation};
