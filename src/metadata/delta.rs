//! What changed between two images, in the terms a broker acts on: which partitions to lead or
//! follow anew, which topics to create or delete locally, which brokers' registrations moved.

use uuid::Uuid;

use super::image::{MetadataImage, PartitionImage};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionDelta {
    pub topic_id: Uuid,
    pub topic_name: String,
    pub partition: i32,
    pub state: PartitionImage,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataDelta {
    /// New partitions, and partitions whose leader, epochs, replicas or ISR changed.
    pub changed_partitions: Vec<PartitionDelta>,
    /// (name, id) of topics in `new` but not `old`.
    pub created_topics: Vec<(String, Uuid)>,
    /// (name, id) of topics in `old` but not `new`.
    pub removed_topics: Vec<(String, Uuid)>,
    /// Brokers registered, unregistered, or whose registration changed.
    pub changed_brokers: Vec<i32>,
}

impl MetadataDelta {
    pub fn is_empty(&self) -> bool {
        *self == MetadataDelta::default()
    }
}

pub fn diff(old: &MetadataImage, new: &MetadataImage) -> MetadataDelta {
    let mut d = MetadataDelta::default();
    for (id, t) in &new.topics {
        let before = old.topics.get(id);
        if before.is_none() {
            d.created_topics.push((t.name.clone(), *id));
        }
        for (idx, p) in &t.partitions {
            if before.and_then(|b| b.partitions.get(idx)) != Some(p) {
                d.changed_partitions.push(PartitionDelta {
                    topic_id: *id,
                    topic_name: t.name.clone(),
                    partition: *idx,
                    state: p.clone(),
                });
            }
        }
    }
    for (id, t) in &old.topics {
        if !new.topics.contains_key(id) {
            d.removed_topics.push((t.name.clone(), *id));
        }
    }
    let ids = old.brokers.keys().chain(new.brokers.keys());
    let mut brokers: Vec<i32> = ids
        .filter(|id| old.brokers.get(id) != new.brokers.get(id))
        .copied()
        .collect();
    brokers.sort_unstable();
    brokers.dedup();
    d.changed_brokers = brokers;
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::MetadataRecord;

    #[test]
    fn reports_created_changed_and_removed() {
        let id = Uuid::from_u128(1);
        let mut a = MetadataImage::default();
        a.apply(
            0,
            &MetadataRecord::Topic {
                name: "t".into(),
                topic_id: id,
            },
        );
        a.apply(
            1,
            &MetadataRecord::Partition {
                partition_id: 0,
                topic_id: id,
                replicas: vec![1, 2],
                isr: vec![1, 2],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 0,
            },
        );
        let d = diff(&MetadataImage::default(), &a);
        assert_eq!(d.created_topics, vec![("t".to_string(), id)]);
        assert_eq!(d.changed_partitions.len(), 1);

        let mut b = a.clone();
        b.apply(
            2,
            &MetadataRecord::PartitionChange {
                partition_id: 0,
                topic_id: id,
                isr: Some(vec![1]),
                leader: None,
                replicas: None,
            },
        );
        let d = diff(&a, &b);
        assert!(d.created_topics.is_empty());
        assert_eq!(d.changed_partitions[0].state.isr, vec![1]);
        assert!(diff(&b, &b).is_empty());

        let mut c = b.clone();
        c.apply(3, &MetadataRecord::RemoveTopic { topic_id: id });
        let d = diff(&b, &c);
        assert_eq!(d.removed_topics, vec![("t".to_string(), id)]);
        assert!(d.changed_partitions.is_empty());
    }
}
