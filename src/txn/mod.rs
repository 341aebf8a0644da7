//! Idempotent and transactional producers: producer id allocation and per-partition producer
//! state (sequence deduplication, epochs).

pub mod coordinator;
pub mod producer_ids;
pub mod producer_state;
