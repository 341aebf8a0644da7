//! A small async Kafka client over tokio TCP and kafka-protocol's codecs: the engine of the
//! `weir` admin, producer and consumer commands. It talks to any Kafka-compatible broker.
//!
//! - [`Connection`]: one broker; framing, correlation ids, ApiVersions (KIP-511 fallback) and
//!   the per-API version `min(ours, broker's)`, refused when the ranges do not overlap.
//! - [`Client`]: a cluster; bootstraps from the first reachable address, learns brokers from
//!   Metadata, connects to other brokers by node id, finds group coordinators with
//!   FindCoordinator and connects to the host/port returned.
//! - [`group::GroupMember`]: a classic-protocol consumer group member.
//! - [`records`]: batch encoding/decoding and the murmur2 partitioner.

pub mod codes;
pub mod conn;
pub mod error;
pub mod group;
pub mod records;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FindCoordinatorRequest, GroupId, ListOffsetsRequest, MetadataRequest,
    MetadataResponse, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

pub use conn::{ConnOptions, Connection};
pub use error::{ClientError, KafkaError, Result};

/// `ListOffsets` timestamp for the earliest offset.
pub const EARLIEST: i64 = -2;
/// `ListOffsets` timestamp for the latest offset (high watermark).
pub const LATEST: i64 = -1;

/// How to reach a cluster.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub bootstrap: Vec<String>,
    pub conn: ConnOptions,
}

/// A broker from Metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerInfo {
    pub fn addr(&self) -> String {
        host_port(&self.host, self.port)
    }
}

fn host_port(host: &str, port: i32) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A partition of a topic from Metadata.
#[derive(Clone, Debug)]
pub struct PartitionInfo {
    pub partition: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline: Vec<i32>,
    pub error_code: i16,
}

/// A topic from Metadata.
#[derive(Clone, Debug)]
pub struct TopicInfo {
    pub name: String,
    pub id: uuid::Uuid,
    pub internal: bool,
    pub partitions: Vec<PartitionInfo>,
}

/// A cluster: a bootstrap connection plus connections to brokers by node id.
pub struct Client {
    config: ClientConfig,
    bootstrap: Connection,
    brokers: BTreeMap<i32, BrokerInfo>,
    conns: HashMap<i32, Connection>,
    pub cluster_id: Option<String>,
    pub controller_id: i32,
}

impl Client {
    /// Connects to the first reachable bootstrap address and loads the broker list.
    pub async fn connect(config: ClientConfig) -> Result<Client> {
        let mut last = None;
        for addr in &config.bootstrap {
            match Connection::connect(addr, &config.conn).await {
                Ok(conn) => {
                    let mut client = Client {
                        bootstrap: conn,
                        config: config.clone(),
                        brokers: BTreeMap::new(),
                        conns: HashMap::new(),
                        cluster_id: None,
                        controller_id: -1,
                    };
                    client.metadata(Some(&[])).await?;
                    return Ok(client);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Connect {
            addr: String::new(),
            reason: "no bootstrap servers given".into(),
        }))
    }

    pub fn options(&self) -> &ConnOptions {
        &self.config.conn
    }

    /// The bootstrap connection (any broker can answer metadata and admin requests).
    pub fn any(&mut self) -> &mut Connection {
        &mut self.bootstrap
    }

    /// Brokers from the last Metadata response.
    pub fn brokers(&self) -> impl Iterator<Item = &BrokerInfo> {
        self.brokers.values()
    }

    /// The connection to a broker by node id, opened on first use. The bootstrap connection is
    /// reused when it points at the same address.
    pub async fn broker(&mut self, node: i32) -> Result<&mut Connection> {
        let info = self.brokers.get(&node).cloned().ok_or_else(|| {
            ClientError::Other(format!("broker {node} is not in the cluster metadata"))
        })?;
        if info.addr() == self.bootstrap.addr() {
            return Ok(&mut self.bootstrap);
        }
        if !self.conns.contains_key(&node) {
            let conn = Connection::connect(&info.addr(), &self.config.conn).await?;
            self.conns.insert(node, conn);
        }
        self.conns
            .get_mut(&node)
            .ok_or_else(|| ClientError::Other(format!("no connection to broker {node}")))
    }

    /// The connection admin requests go to: the controller Metadata names, if it is a broker
    /// we know (Kafka forwards from any broker anyway), else the bootstrap broker.
    pub async fn admin(&mut self) -> Result<&mut Connection> {
        let c = self.controller_id;
        if c >= 0 && self.brokers.contains_key(&c) {
            self.broker(c).await
        } else {
            Ok(&mut self.bootstrap)
        }
    }

    /// Metadata for `topics` (`None` = all topics, `Some(&[])` = brokers only); refreshes the
    /// broker list. Never auto-creates topics.
    pub async fn metadata(&mut self, topics: Option<&[String]>) -> Result<MetadataResponse> {
        let resp = self
            .bootstrap
            .call(|v| {
                let mut r = MetadataRequest::default();
                r.topics = topics.map(|ts| {
                    ts.iter()
                        .map(|t| {
                            MetadataRequestTopic::default()
                                .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
                        })
                        .collect()
                });
                if v < 4 {
                    // v1-3 have no flag (and auto-create); callers pass names they know.
                    r.allow_auto_topic_creation = true;
                } else {
                    r.allow_auto_topic_creation = false;
                }
                r
            })
            .await?;
        if resp.error_code != 0 {
            return Err(ClientError::kafka(resp.error_code, None));
        }
        self.brokers = resp
            .brokers
            .iter()
            .map(|b| {
                (
                    b.node_id.0,
                    BrokerInfo {
                        node_id: b.node_id.0,
                        host: b.host.as_str().to_string(),
                        port: b.port,
                        rack: b.rack.as_ref().map(|r| r.as_str().to_string()),
                    },
                )
            })
            .collect();
        self.cluster_id = resp.cluster_id.as_ref().map(|c| c.as_str().to_string());
        self.controller_id = resp.controller_id.0;
        Ok(resp)
    }

    /// Topics (all, or the named ones) as plain structs; errors per topic are returned as
    /// Kafka errors for named topics.
    pub async fn topics(&mut self, names: Option<&[String]>) -> Result<Vec<TopicInfo>> {
        let resp = self.metadata(names).await?;
        let mut out = Vec::new();
        for t in resp.topics {
            let name = t
                .name
                .as_ref()
                .map(|n| n.0.as_str().to_string())
                .unwrap_or_default();
            if t.error_code != 0 {
                if names.is_some() {
                    let msg = if t.error_code == 3 {
                        Some(format!("Topic '{name}' does not exist."))
                    } else {
                        None
                    };
                    return Err(ClientError::kafka(t.error_code, msg));
                }
                continue;
            }
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: p.leader_id.0,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    offline: p.offline_replicas.iter().map(|b| b.0).collect(),
                    error_code: p.error_code,
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            out.push(TopicInfo {
                name,
                id: t.topic_id,
                internal: t.is_internal,
                partitions,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// One topic's metadata; UNKNOWN_TOPIC_OR_PARTITION if it does not exist.
    pub async fn topic(&mut self, name: &str) -> Result<TopicInfo> {
        let mut ts = self.topics(Some(&[name.to_string()])).await?;
        ts.pop()
            .ok_or_else(|| ClientError::kafka(3, Some(format!("Topic '{name}' does not exist."))))
    }

    /// FindCoordinator for a group (key type 0) or transactional id (1): node id and a new
    /// connection to the host/port returned. Retries while the coordinator is loading.
    pub async fn coordinator(&mut self, key: &str, key_type: i8) -> Result<(i32, Connection)> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let resp = self
                .bootstrap
                .call(|v| {
                    let mut r = FindCoordinatorRequest::default();
                    if v >= 1 {
                        r.key_type = key_type;
                    }
                    if v >= 4 {
                        r.coordinator_keys = vec![StrBytes::from_string(key.to_string())];
                    } else {
                        r.key = StrBytes::from_string(key.to_string());
                    }
                    r
                })
                .await?;
            let (code, msg, node, host, port) = match resp.coordinators.first() {
                Some(c) => (
                    c.error_code,
                    c.error_message.clone(),
                    c.node_id.0,
                    c.host.clone(),
                    c.port,
                ),
                None => (
                    resp.error_code,
                    resp.error_message.clone(),
                    resp.node_id.0,
                    resp.host.clone(),
                    resp.port,
                ),
            };
            if code == 14 || code == 15 {
                // COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE: retriable.
                if attempts < 20 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
            ClientError::check(code, msg.as_ref().map(|m| m.as_str()))?;
            let addr = host_port(host.as_str(), port);
            let conn = Connection::connect(&addr, &self.config.conn).await?;
            return Ok((node, conn));
        }
    }

    /// ListOffsets for partitions of one topic at `timestamp` (EARLIEST, LATEST or a time),
    /// sent to each partition's leader. Returns partition → offset (-1 when no offset matches
    /// a timestamp).
    pub async fn list_offsets(
        &mut self,
        topic: &TopicInfo,
        partitions: &[i32],
        timestamp: i64,
    ) -> Result<BTreeMap<i32, i64>> {
        let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for p in partitions {
            let leader = topic
                .partitions
                .iter()
                .find(|x| x.partition == *p)
                .map(|x| x.leader)
                .ok_or_else(|| {
                    ClientError::kafka(
                        3,
                        Some(format!(
                            "Partition {p} of topic '{}' does not exist.",
                            topic.name
                        )),
                    )
                })?;
            by_leader.entry(leader).or_default().push(*p);
        }
        let mut out = BTreeMap::new();
        for (leader, parts) in by_leader {
            let conn = if leader >= 0 {
                self.broker(leader).await?
            } else {
                return Err(ClientError::kafka(5, None));
            };
            let resp = conn
                .call(|_| {
                    let mut r = ListOffsetsRequest::default();
                    r.replica_id = BrokerId(-1);
                    let mut t = ListOffsetsTopic::default();
                    t.name = TopicName(StrBytes::from_string(topic.name.clone()));
                    t.partitions = parts
                        .iter()
                        .map(|p| {
                            let mut lp = ListOffsetsPartition::default();
                            lp.partition_index = *p;
                            lp.timestamp = timestamp;
                            lp
                        })
                        .collect();
                    r.topics = vec![t];
                    r
                })
                .await?;
            for t in resp.topics {
                for p in t.partitions {
                    ClientError::check(p.error_code, None)?;
                    out.insert(p.partition_index, p.offset);
                }
            }
        }
        Ok(out)
    }

    /// Committed offsets of a group (all topics when `topics` is None), from its coordinator:
    /// (topic, partition) → (offset, metadata). Partitions without a commit are left out.
    pub async fn committed_offsets(
        coordinator: &mut Connection,
        group: &str,
        topics: Option<&[(String, Vec<i32>)]>,
    ) -> Result<BTreeMap<(String, i32), i64>> {
        let resp = coordinator
            .call(|v| {
                let mut r = OffsetFetchRequest::default();
                if v >= 8 {
                    let mut g = OffsetFetchRequestGroup::default();
                    g.group_id = GroupId(StrBytes::from_string(group.to_string()));
                    g.topics = topics.map(|ts| {
                        ts.iter()
                            .map(|(t, ps)| {
                                let mut x = OffsetFetchRequestTopics::default();
                                x.name = TopicName(StrBytes::from_string(t.clone()));
                                x.partition_indexes = ps.clone();
                                x
                            })
                            .collect()
                    });
                    r.groups = vec![g];
                } else {
                    r.group_id = GroupId(StrBytes::from_string(group.to_string()));
                    r.topics = topics.map(|ts| {
                        ts.iter()
                            .map(|(t, ps)| {
                                let mut x = OffsetFetchRequestTopic::default();
                                x.name = TopicName(StrBytes::from_string(t.clone()));
                                x.partition_indexes = ps.clone();
                                x
                            })
                            .collect()
                    });
                }
                r
            })
            .await?;
        let mut out = BTreeMap::new();
        if let Some(g) = resp.groups.first() {
            ClientError::check(g.error_code, None)?;
            for t in &g.topics {
                for p in &t.partitions {
                    ClientError::check(p.error_code, None)?;
                    if p.committed_offset >= 0 {
                        out.insert(
                            (t.name.0.as_str().to_string(), p.partition_index),
                            p.committed_offset,
                        );
                    }
                }
            }
        } else {
            ClientError::check(resp.error_code, None)?;
            for t in &resp.topics {
                for p in &t.partitions {
                    ClientError::check(p.error_code, None)?;
                    if p.committed_offset >= 0 {
                        out.insert(
                            (t.name.0.as_str().to_string(), p.partition_index),
                            p.committed_offset,
                        );
                    }
                }
            }
        }
        Ok(out)
    }

    /// Does any broker connection we have advertise this API?
    pub fn supports(&self, key: ApiKey) -> bool {
        self.bootstrap.supports(key)
    }
}
