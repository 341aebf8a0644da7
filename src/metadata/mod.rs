//! Cluster metadata as Kafka's KRaft models it: a log of records (`records`) and the image they
//! build (`image`), plus the difference between two images (`delta`) that a broker acts on. No
//! I/O here; the controller writes the records and every node replays them.

pub mod delta;
pub mod image;
pub mod records;

pub use delta::{diff, MetadataDelta, PartitionDelta};
pub use image::{
    AclImage, BrokerImage, MetadataImage, PartitionImage, ScramImage, TopicImage, BROKER_RESOURCE,
    NO_LEADER, TOPIC_RESOURCE,
};
pub use records::{decode, encode, Endpoint, MetadataRecord};
