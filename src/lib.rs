//! Weir: a Kafka-wire-compatible broker.
//!
//! Embed a real broker in-process with [`Broker::start`]; the `weir` binary is a thin CLI over
//! the same call. See `ARCHITECTURE.md` for the map of the code.

pub mod alloc_guard;
pub mod api;
pub mod broker;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod config;
pub mod controller;
pub mod group;
pub mod log;
pub mod metadata;
pub mod metrics;
pub mod protocol;
pub mod replica;
pub mod security;
pub mod server;
pub mod txn;

pub use broker::{Broker, BrokerHandle, StartError};
pub use config::Config;

#[global_allocator]
static ALLOC: alloc_guard::GuardedAlloc = alloc_guard::GuardedAlloc;
