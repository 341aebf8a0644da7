//! Producer APIs: InitProducerId (and, with the transaction coordinator, the transaction APIs).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::broker::BrokerState;

use super::code;

pub async fn handle_init_producer_id(
    state: &BrokerState,
    req: InitProducerIdRequest,
    _version: i16,
) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    if req
        .transactional_id
        .as_ref()
        .is_some_and(|t| !t.0.is_empty())
    {
        return crate::txn::coordinator::init_producer_id(state, req).await;
    }
    // An idempotent producer always gets a fresh id (Kafka does the same).
    match state.producer_ids.next() {
        Ok(id) => {
            resp.error_code = code::NONE;
            resp.producer_id = ProducerId(id);
            resp.producer_epoch = 0;
        }
        Err(e) => {
            tracing::error!("cannot allocate a producer id: {e}");
            resp.error_code = 15; // COORDINATOR_NOT_AVAILABLE: retriable for the client
        }
    }
    resp
}
