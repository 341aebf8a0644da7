//! Idempotent and transactional producers: producer id allocation and per-partition producer
//! state (sequence deduplication, epochs).

pub mod coordinator;
pub mod join;
pub mod markers;
pub mod producer_ids;
pub mod producer_state;
pub mod record;
