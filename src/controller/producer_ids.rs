//! AllocateProducerIds, as Kafka's `ProducerIdControlManager`: each request takes the next block
//! of `producer_id_block_size` ids and records where the following block starts, so no id is
//! handed out twice across brokers or restarts.

use kafka_protocol::messages::{
    AllocateProducerIdsRequest, AllocateProducerIdsResponse, ProducerId,
};

use super::{code, Controller};
use crate::metadata::MetadataRecord;

impl Controller {
    pub fn allocate_producer_ids(
        &mut self,
        req: &AllocateProducerIdsRequest,
    ) -> (Vec<MetadataRecord>, AllocateProducerIdsResponse) {
        let mut resp = AllocateProducerIdsResponse::default();
        let broker = req.broker_id.0;
        let registered = self
            .image
            .brokers
            .get(&broker)
            .is_some_and(|b| b.epoch == req.broker_epoch);
        if !registered {
            resp.error_code = code::STALE_BROKER_EPOCH;
            return (Vec::new(), resp);
        }
        let block = self.config.producer_id_block_size.max(1);
        let first = self.image.next_producer_id.max(self.producer_ids_proposed);
        let Some(next) = first.checked_add(block) else {
            tracing::error!(
                first,
                "Exhausted all producerIds as the next block's end producerId will exceed long \
                 type limit"
            );
            resp.error_code = code::UNKNOWN_SERVER_ERROR;
            return (Vec::new(), resp);
        };
        self.producer_ids_proposed = next;
        resp.error_code = code::NONE;
        resp.producer_id_start = ProducerId(first);
        resp.producer_id_len = block.min(i64::from(i32::MAX)) as i32;
        (
            vec![MetadataRecord::ProducerIds {
                broker_id: broker,
                broker_epoch: req.broker_epoch,
                next_producer_id: next,
            }],
            resp,
        )
    }
}
