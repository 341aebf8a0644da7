//! The metadata log's records, named and shaped as Kafka's `metadata/*.json` records, so the
//! cluster state has one durable, replayable form. Encoded as tagged JSON: readable in a dump and
//! free of a schema compiler; the log, not this encoding, is the contract.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One listener of a registered broker (`RegisterBrokerRecord.EndPoints`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub security_protocol: i16,
}

/// A change to the cluster metadata. Variants carry Kafka's record names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum MetadataRecord {
    RegisterBroker {
        broker_id: i32,
        incarnation_id: Uuid,
        broker_epoch: i64,
        endpoints: Vec<Endpoint>,
        rack: Option<String>,
        fenced: bool,
    },
    UnregisterBroker {
        broker_id: i32,
        broker_epoch: i64,
    },
    FenceBroker {
        id: i32,
        epoch: i64,
    },
    UnfenceBroker {
        id: i32,
        epoch: i64,
    },
    BrokerRegistrationChange {
        broker_id: i32,
        broker_epoch: i64,
        fenced: Option<bool>,
        in_controlled_shutdown: Option<bool>,
    },
    Topic {
        name: String,
        topic_id: Uuid,
    },
    Partition {
        partition_id: i32,
        topic_id: Uuid,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
    },
    /// `None` fields are unchanged. `leader: Some(-1)` means "no leader". Applying it adds one to
    /// the partition epoch, and one to the leader epoch when `leader` is present (Kafka's
    /// `PartitionRegistration.merge`).
    PartitionChange {
        partition_id: i32,
        topic_id: Uuid,
        isr: Option<Vec<i32>>,
        leader: Option<i32>,
        replicas: Option<Vec<i32>>,
    },
    RemoveTopic {
        topic_id: Uuid,
    },
    /// A dynamic config override; `value: None` deletes it. Resource types as Kafka's
    /// `ConfigResource.Type`: 2 topic, 4 broker (name "" = cluster default).
    Config {
        resource_type: i8,
        resource_name: String,
        name: String,
        value: Option<String>,
    },
    ProducerIds {
        broker_id: i32,
        broker_epoch: i64,
        next_producer_id: i64,
    },
    AccessControlEntry {
        id: Uuid,
        resource_type: i8,
        resource_name: String,
        pattern_type: i8,
        principal: String,
        host: String,
        operation: i8,
        permission_type: i8,
    },
    RemoveAccessControlEntry {
        id: Uuid,
    },
    UserScramCredential {
        name: String,
        mechanism: i8,
        salt: Vec<u8>,
        stored_key: Vec<u8>,
        server_key: Vec<u8>,
        iterations: i32,
    },
    RemoveUserScramCredential {
        name: String,
        mechanism: i8,
    },
    FeatureLevel {
        name: String,
        feature_level: i16,
    },
    NoOp,
}

/// The record's bytes in the metadata log.
pub fn encode(record: &MetadataRecord) -> Vec<u8> {
    // Serializing plain data with string keys cannot fail; an empty vector would only ever
    // surface as a decode error, never silently as another record.
    serde_json::to_vec(record).unwrap_or_default()
}

/// Parses bytes written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<MetadataRecord, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("invalid metadata record: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_variant() {
        let id = Uuid::from_u128(7);
        let all = vec![
            MetadataRecord::RegisterBroker {
                broker_id: 1,
                incarnation_id: id,
                broker_epoch: 5,
                endpoints: vec![Endpoint {
                    name: "PLAINTEXT".into(),
                    host: "127.0.0.1".into(),
                    port: 9092,
                    security_protocol: 0,
                }],
                rack: Some("r1".into()),
                fenced: true,
            },
            MetadataRecord::UnregisterBroker {
                broker_id: 1,
                broker_epoch: 5,
            },
            MetadataRecord::FenceBroker { id: 1, epoch: 5 },
            MetadataRecord::UnfenceBroker { id: 1, epoch: 5 },
            MetadataRecord::BrokerRegistrationChange {
                broker_id: 1,
                broker_epoch: 5,
                fenced: None,
                in_controlled_shutdown: Some(true),
            },
            MetadataRecord::Topic {
                name: "t".into(),
                topic_id: id,
            },
            MetadataRecord::Partition {
                partition_id: 0,
                topic_id: id,
                replicas: vec![1, 2],
                isr: vec![1],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 0,
            },
            MetadataRecord::PartitionChange {
                partition_id: 0,
                topic_id: id,
                isr: None,
                leader: Some(-1),
                replicas: None,
            },
            MetadataRecord::RemoveTopic { topic_id: id },
            MetadataRecord::Config {
                resource_type: 2,
                resource_name: "t".into(),
                name: "retention.ms".into(),
                value: None,
            },
            MetadataRecord::ProducerIds {
                broker_id: 1,
                broker_epoch: 5,
                next_producer_id: 1000,
            },
            MetadataRecord::AccessControlEntry {
                id,
                resource_type: 2,
                resource_name: "t".into(),
                pattern_type: 3,
                principal: "User:a".into(),
                host: "*".into(),
                operation: 3,
                permission_type: 3,
            },
            MetadataRecord::RemoveAccessControlEntry { id },
            MetadataRecord::UserScramCredential {
                name: "a".into(),
                mechanism: 1,
                salt: vec![1, 2],
                stored_key: vec![3],
                server_key: vec![4],
                iterations: 4096,
            },
            MetadataRecord::RemoveUserScramCredential {
                name: "a".into(),
                mechanism: 1,
            },
            MetadataRecord::FeatureLevel {
                name: "metadata.version".into(),
                feature_level: 27,
            },
            MetadataRecord::NoOp,
        ];
        for r in all {
            assert_eq!(decode(&encode(&r)), Ok(r));
        }
    }

    #[test]
    fn tag_is_kafka_record_name() {
        let bytes = encode(&MetadataRecord::FenceBroker { id: 3, epoch: 9 });
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("\"type\":\"FenceBroker\""), "{text}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"").is_err());
        assert!(decode(b"{\"type\":\"Nope\"}").is_err());
        assert!(decode(&[0xff, 0x00, 0x7b]).is_err());
    }
}
