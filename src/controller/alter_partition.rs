//! AlterPartition: a partition leader asks to change its ISR. Checked in the order Kafka's
//! `ReplicationControlManager.validateAlterPartitionData` checks, with one deliberate difference:
//! an epoch *newer* than the controller's gets the mismatch code (FENCED_LEADER_EPOCH /
//! INVALID_UPDATE_VERSION), not NOT_CONTROLLER, because Weir has a single controller and no
//! other one to find.

use kafka_protocol::messages::alter_partition_request::PartitionData as RequestPartition;
use kafka_protocol::messages::alter_partition_response::{PartitionData, TopicData};
use kafka_protocol::messages::{AlterPartitionRequest, AlterPartitionResponse, BrokerId};
use uuid::Uuid;

use super::election::partition_change;
use super::{code, Batch, Controller};
use crate::metadata::{MetadataImage, MetadataRecord, PartitionImage};

/// `leader_recovery_state` RECOVERING: only valid with a single-member ISR.
const RECOVERING: i8 = 1;

impl Controller {
    pub fn alter_partition(
        &mut self,
        req: &AlterPartitionRequest,
        _now_ms: i64,
    ) -> (Vec<MetadataRecord>, AlterPartitionResponse) {
        let mut resp = AlterPartitionResponse::default();
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
        let mut batch = Batch::new(&self.image);
        for t in &req.topics {
            let mut out = TopicData::default();
            out.topic_id = t.topic_id;
            for pd in &t.partitions {
                out.partitions
                    .push(self.alter_one(&mut batch, broker, t.topic_id, pd));
            }
            resp.topics.push(out);
        }
        resp.error_code = code::NONE;
        (batch.into_records(), resp)
    }

    fn alter_one(
        &self,
        batch: &mut Batch<'_>,
        broker: i32,
        topic_id: Uuid,
        pd: &RequestPartition,
    ) -> PartitionData {
        let mut out = PartitionData::default();
        out.partition_index = pd.partition_index;
        let view = batch.view();
        let Some(topic) = view.topics.get(&topic_id) else {
            out.error_code = code::UNKNOWN_TOPIC_ID;
            return out;
        };
        let Some(p) = topic.partitions.get(&pd.partition_index) else {
            out.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
            return out;
        };
        // v3 sends brokers with epochs, v2 bare ids (epoch -1 = not checked).
        let new_isr: Vec<(i32, i64)> = if pd.new_isr_with_epochs.is_empty() {
            pd.new_isr.iter().map(|b| (b.0, -1)).collect()
        } else {
            pd.new_isr_with_epochs
                .iter()
                .map(|b| (b.broker_id.0, b.broker_epoch))
                .collect()
        };
        if let Err(c) = validate(view, broker, p, pd, &new_isr) {
            out.error_code = c;
            return out;
        }
        let target: Vec<i32> = new_isr.iter().map(|(b, _)| *b).collect();
        let unclean = self.unclean_enabled(view, &topic.name);
        let change = partition_change(
            topic_id,
            pd.partition_index,
            p,
            Some(target),
            &|r| view.is_active(r),
            unclean,
        );
        let new_leader = matches!(
            &change,
            Some(MetadataRecord::PartitionChange {
                leader: Some(_),
                ..
            })
        );
        if let Some(r) = change {
            batch.push(r);
        }
        if new_leader {
            // The change is still written; the leader must learn the new state from metadata.
            out.error_code = code::NEW_LEADER_ELECTED;
            return out;
        }
        match batch.view().partition(topic_id, pd.partition_index) {
            Some(now) => {
                out.error_code = code::NONE;
                out.leader_id = BrokerId(now.leader);
                out.leader_epoch = now.leader_epoch;
                out.isr = now.isr.iter().map(|b| BrokerId(*b)).collect();
                out.partition_epoch = now.partition_epoch;
                out.leader_recovery_state = 0;
            }
            None => out.error_code = code::UNKNOWN_TOPIC_OR_PARTITION,
        }
        out
    }
}

fn validate(
    view: &MetadataImage,
    broker: i32,
    p: &PartitionImage,
    pd: &RequestPartition,
    new_isr: &[(i32, i64)],
) -> Result<(), i16> {
    if pd.leader_epoch != p.leader_epoch {
        return Err(code::FENCED_LEADER_EPOCH);
    }
    if broker != p.leader {
        return Err(code::INVALID_REQUEST);
    }
    if pd.partition_epoch != p.partition_epoch {
        return Err(code::INVALID_UPDATE_VERSION);
    }
    // Replicas.validateIsr: every member a replica, none twice.
    let mut seen = Vec::with_capacity(new_isr.len());
    for (b, _) in new_isr {
        if !p.replicas.contains(b) || seen.contains(b) {
            return Err(code::INVALID_REQUEST);
        }
        seen.push(*b);
    }
    if !seen.contains(&p.leader) {
        return Err(code::INVALID_REQUEST);
    }
    if pd.leader_recovery_state == RECOVERING && new_isr.len() > 1 {
        return Err(code::INVALID_REQUEST);
    }
    let ineligible = new_isr.iter().any(|(b, epoch)| match view.brokers.get(b) {
        None => true,
        Some(reg) => {
            reg.in_controlled_shutdown || reg.fenced || (*epoch != -1 && *epoch != reg.epoch)
        }
    });
    if ineligible {
        return Err(code::INELIGIBLE_REPLICA);
    }
    Ok(())
}
