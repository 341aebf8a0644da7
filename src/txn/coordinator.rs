//! The transaction coordinator (transactional.id → producer id, epoch and transaction state).
//! Not implemented yet: transactional InitProducerId is refused with Kafka's
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED-free answer a client treats as "no transactions here".

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::broker::BrokerState;

/// COORDINATOR_NOT_AVAILABLE would make clients retry forever; Kafka answers a broker without
/// transaction support with UNSUPPORTED_VERSION-style refusals, which clients surface as fatal.
const UNSUPPORTED_FOR_THIS_BROKER: i16 = 35;

pub async fn init_producer_id(
    _state: &BrokerState,
    _req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default();
    resp.error_code = UNSUPPORTED_FOR_THIS_BROKER;
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    resp
}
