//! A classic-protocol consumer group member: FindCoordinator, JoinGroup (with the KIP-394
//! member-id-required retry), SyncGroup with a range assignment computed by the leader from the
//! members' `ConsumerProtocolSubscription`s, Heartbeat in the background, OffsetCommit and
//! LeaveGroup.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedPartitions;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, GroupId, HeartbeatRequest,
    JoinGroupRequest, LeaveGroupRequest, OffsetCommitRequest, SyncGroupRequest, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::error::{ClientError, Result};
use super::{Client, Connection};

/// The assignor this member offers (and runs when it leads).
pub const RANGE: &str = "range";

/// Encodes a consumer protocol subscription (version prefix + v0 body).
pub fn encode_subscription(topics: &[String]) -> Result<Bytes> {
    let mut s = ConsumerProtocolSubscription::default();
    s.topics = topics
        .iter()
        .map(|t| StrBytes::from_string(t.clone()))
        .collect();
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    s.encode(&mut buf, 0)
        .map_err(|e| ClientError::Other(format!("cannot encode subscription: {e}")))?;
    Ok(buf.freeze())
}

/// Decodes a member's subscription (any version; newer ones are read as the newest we know).
pub fn decode_subscription(data: &[u8]) -> Result<ConsumerProtocolSubscription> {
    let (version, mut body) = split_version(data)?;
    let len = body.len();
    crate::protocol::guarded_decode(len, || {
        ConsumerProtocolSubscription::decode(&mut body, version.clamp(0, 3))
    })
    .map_err(|e| ClientError::Other(format!("cannot decode a member subscription: {e}")))
}

/// Encodes an assignment (version prefix + v0 body).
pub fn encode_assignment(assigned: &BTreeMap<String, Vec<i32>>) -> Result<Bytes> {
    let mut a = ConsumerProtocolAssignment::default();
    a.assigned_partitions = assigned
        .iter()
        .map(|(t, ps)| {
            let mut tp = AssignedPartitions::default();
            tp.topic = TopicName(StrBytes::from_string(t.clone()));
            tp.partitions = ps.clone();
            tp
        })
        .collect();
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    a.encode(&mut buf, 0)
        .map_err(|e| ClientError::Other(format!("cannot encode assignment: {e}")))?;
    Ok(buf.freeze())
}

/// Decodes an assignment into topic → partitions. Empty bytes mean nothing assigned.
pub fn decode_assignment(data: &[u8]) -> Result<BTreeMap<String, Vec<i32>>> {
    if data.is_empty() {
        return Ok(BTreeMap::new());
    }
    let (version, mut body) = split_version(data)?;
    let len = body.len();
    let a = crate::protocol::guarded_decode(len, || {
        ConsumerProtocolAssignment::decode(&mut body, version.clamp(0, 3))
    })
    .map_err(|e| ClientError::Other(format!("cannot decode an assignment: {e}")))?;
    let mut out: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for tp in a.assigned_partitions {
        let e = out.entry(tp.topic.0.as_str().to_string()).or_default();
        e.extend(tp.partitions);
        e.sort_unstable();
    }
    Ok(out)
}

fn split_version(data: &[u8]) -> Result<(i16, Bytes)> {
    if data.len() < 2 {
        return Err(ClientError::Other(
            "consumer protocol data shorter than its version".into(),
        ));
    }
    let mut b = Bytes::copy_from_slice(data);
    let v = b.get_i16();
    if v < 0 {
        return Err(ClientError::Other(format!("consumer protocol version {v}")));
    }
    Ok((v, b))
}

/// Kafka's RangeAssignor: per topic, members subscribed to it sorted by member id; each gets
/// a contiguous range, the first `n % m` one partition more.
pub fn range_assign(
    subscriptions: &BTreeMap<String, Vec<String>>,
    partition_counts: &BTreeMap<String, i32>,
) -> BTreeMap<String, BTreeMap<String, Vec<i32>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<i32>>> = subscriptions
        .keys()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect();
    let topics: BTreeSet<&String> = subscriptions.values().flatten().collect();
    for topic in topics {
        let Some(&n) = partition_counts.get(topic) else {
            continue;
        };
        let members: Vec<&String> = subscriptions
            .iter()
            .filter(|(_, ts)| ts.contains(topic))
            .map(|(m, _)| m)
            .collect();
        let m = members.len() as i32;
        if m == 0 || n <= 0 {
            continue;
        }
        let (per, extra) = (n / m, n % m);
        for (i, member) in members.iter().enumerate() {
            let i = i as i32;
            let start = per * i + i.min(extra);
            let len = per + i32::from(i < extra);
            if len > 0 {
                if let Some(a) = out.get_mut(*member) {
                    a.insert(topic.clone(), (start..start + len).collect());
                }
            }
        }
    }
    out
}

/// Member settings.
#[derive(Clone, Debug)]
pub struct MemberConfig {
    pub group: String,
    pub topics: Vec<String>,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub heartbeat_interval: Duration,
}

impl MemberConfig {
    pub fn new(group: &str, topics: Vec<String>) -> MemberConfig {
        MemberConfig {
            group: group.into(),
            topics,
            session_timeout_ms: 45_000,
            rebalance_timeout_ms: 60_000,
            heartbeat_interval: Duration::from_secs(3),
        }
    }
}

/// A joined member of a classic consumer group.
pub struct GroupMember {
    cfg: MemberConfig,
    coordinator: Connection,
    pub member_id: String,
    pub generation: i32,
    assignment: BTreeMap<String, Vec<i32>>,
    rejoin: Arc<AtomicBool>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

impl GroupMember {
    /// Finds the coordinator and joins; returns once this member has its assignment.
    pub async fn join(client: &mut Client, cfg: MemberConfig) -> Result<GroupMember> {
        let (_, coordinator) = client.coordinator(&cfg.group, 0).await?;
        let mut m = GroupMember {
            cfg,
            coordinator,
            member_id: String::new(),
            generation: -1,
            assignment: BTreeMap::new(),
            rejoin: Arc::new(AtomicBool::new(false)),
            heartbeat: None,
        };
        m.rejoin(client).await?;
        Ok(m)
    }

    /// The coordinator connection (OffsetFetch for start positions).
    pub fn coordinator(&mut self) -> &mut Connection {
        &mut self.coordinator
    }

    pub fn group(&self) -> &str {
        &self.cfg.group
    }

    pub fn assignment(&self) -> &BTreeMap<String, Vec<i32>> {
        &self.assignment
    }

    /// True once the heartbeat learnt of a rebalance (or lost the group): call `rejoin`.
    pub fn needs_rejoin(&self) -> bool {
        self.rejoin.load(Ordering::Relaxed)
    }

    /// Joins (again) and syncs, restarting the heartbeat.
    pub async fn rejoin(&mut self, client: &mut Client) -> Result<()> {
        self.stop_heartbeat();
        self.rejoin.store(false, Ordering::Relaxed);
        let mut attempts = 0;
        loop {
            attempts += 1;
            if attempts > 50 {
                return Err(ClientError::Other(format!(
                    "could not join group '{}' after {} attempts",
                    self.cfg.group,
                    attempts - 1
                )));
            }
            match self.join_once(client).await {
                Ok(()) => break,
                Err(ClientError::Kafka(e)) if matches!(e.code, 14 | 27) => {
                    // COORDINATOR_LOAD_IN_PROGRESS, REBALANCE_IN_PROGRESS: try again.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(ClientError::Kafka(e)) if matches!(e.code, 22 | 25) => {
                    // ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID: start over as a new member.
                    self.member_id.clear();
                    self.generation = -1;
                }
                Err(ClientError::Kafka(e)) if matches!(e.code, 15 | 16) => {
                    // The coordinator moved: find it again.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let (_, conn) = client.coordinator(&self.cfg.group, 0).await?;
                    self.coordinator = conn;
                }
                Err(e) => return Err(e),
            }
        }
        self.start_heartbeat(client).await
    }

    async fn join_once(&mut self, client: &mut Client) -> Result<()> {
        let metadata = encode_subscription(&self.cfg.topics)?;
        let group = GroupId(StrBytes::from_string(self.cfg.group.clone()));
        let extra = Duration::from_millis(self.cfg.rebalance_timeout_ms.max(0) as u64);
        let join = loop {
            let member_id = StrBytes::from_string(self.member_id.clone());
            let resp = self
                .coordinator
                .call_with_timeout(extra, |v| {
                    let mut r = JoinGroupRequest::default();
                    r.group_id = group.clone();
                    r.session_timeout_ms = self.cfg.session_timeout_ms;
                    if v >= 1 {
                        r.rebalance_timeout_ms = self.cfg.rebalance_timeout_ms;
                    }
                    r.member_id = member_id.clone();
                    r.protocol_type = StrBytes::from_static_str("consumer");
                    let mut p = JoinGroupRequestProtocol::default();
                    p.name = StrBytes::from_static_str(RANGE);
                    p.metadata = metadata.clone();
                    r.protocols = vec![p];
                    r
                })
                .await?;
            if resp.error_code == 79 && self.member_id.is_empty() {
                // MEMBER_ID_REQUIRED (KIP-394): join again with the id handed out.
                self.member_id = resp.member_id.as_str().to_string();
                continue;
            }
            ClientError::check(resp.error_code, None)?;
            break resp;
        };
        self.member_id = join.member_id.as_str().to_string();
        self.generation = join.generation_id;
        let protocol = join.protocol_name.as_ref().map(|p| p.as_str().to_string());
        if protocol.as_deref().is_some_and(|p| p != RANGE) {
            return Err(ClientError::Other(format!(
                "the group chose assignor {:?}; weir only runs '{RANGE}'",
                protocol.unwrap_or_default()
            )));
        }
        let mut assignments = Vec::new();
        if join.leader.as_str() == self.member_id && !join.skip_assignment {
            let mut subs: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for m in &join.members {
                let s = decode_subscription(&m.metadata)?;
                subs.insert(
                    m.member_id.as_str().to_string(),
                    s.topics.iter().map(|t| t.as_str().to_string()).collect(),
                );
            }
            let wanted: BTreeSet<String> = subs.values().flatten().cloned().collect();
            let wanted: Vec<String> = wanted.into_iter().collect();
            let mut counts = BTreeMap::new();
            for t in client.topics(None).await? {
                if wanted.contains(&t.name) {
                    counts.insert(t.name.clone(), t.partitions.len() as i32);
                }
            }
            for (member, a) in range_assign(&subs, &counts) {
                let mut x = SyncGroupRequestAssignment::default();
                x.member_id = StrBytes::from_string(member);
                x.assignment = encode_assignment(&a)?;
                assignments.push(x);
            }
        }
        let member_id = StrBytes::from_string(self.member_id.clone());
        let generation = self.generation;
        let sync = self
            .coordinator
            .call_with_timeout(extra, |v| {
                let mut r = SyncGroupRequest::default();
                r.group_id = group.clone();
                r.generation_id = generation;
                r.member_id = member_id.clone();
                if v >= 5 {
                    r.protocol_type = Some(StrBytes::from_static_str("consumer"));
                    r.protocol_name = Some(StrBytes::from_static_str(RANGE));
                }
                r.assignments = assignments;
                r
            })
            .await?;
        ClientError::check(sync.error_code, None)?;
        self.assignment = decode_assignment(&sync.assignment)?;
        Ok(())
    }

    async fn start_heartbeat(&mut self, client: &Client) -> Result<()> {
        let mut conn = Connection::connect(self.coordinator.addr(), client.options()).await?;
        let flag = self.rejoin.clone();
        let group = GroupId(StrBytes::from_string(self.cfg.group.clone()));
        let member = StrBytes::from_string(self.member_id.clone());
        let generation = self.generation;
        let every = self.cfg.heartbeat_interval;
        self.heartbeat = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let r = conn
                    .call(|_| {
                        let mut h = HeartbeatRequest::default();
                        h.group_id = group.clone();
                        h.generation_id = generation;
                        h.member_id = member.clone();
                        h
                    })
                    .await;
                match r {
                    Ok(resp) if resp.error_code == 0 => {}
                    _ => {
                        // REBALANCE_IN_PROGRESS, a lost member id or a broken connection:
                        // the consumer rejoins.
                        flag.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }));
        Ok(())
    }

    fn stop_heartbeat(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }

    /// Commits offsets (the next offset to read) for this generation.
    pub async fn commit(&mut self, offsets: &BTreeMap<(String, i32), i64>) -> Result<()> {
        commit_offsets(
            &mut self.coordinator,
            &self.cfg.group,
            self.generation,
            &self.member_id,
            offsets,
        )
        .await
    }

    /// Leaves the group (so the others rebalance at once).
    pub async fn leave(mut self) -> Result<()> {
        self.stop_heartbeat();
        let group = GroupId(StrBytes::from_string(self.cfg.group.clone()));
        let member = StrBytes::from_string(self.member_id.clone());
        let resp = self
            .coordinator
            .call(|v| {
                let mut r = LeaveGroupRequest::default();
                r.group_id = group;
                if v >= 3 {
                    let mut m = MemberIdentity::default();
                    m.member_id = member;
                    r.members = vec![m];
                } else {
                    r.member_id = member;
                }
                r
            })
            .await?;
        ClientError::check(resp.error_code, None)?;
        for m in resp.members {
            // UNKNOWN_MEMBER_ID: already gone, which is what leaving wants.
            if m.error_code != 25 {
                ClientError::check(m.error_code, None)?;
            }
        }
        Ok(())
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}

/// OffsetCommit to a coordinator. Generation -1 with an empty member id is the "admin" commit
/// `kafka-consumer-groups.sh --reset-offsets` makes for an inactive group.
pub async fn commit_offsets(
    coordinator: &mut Connection,
    group: &str,
    generation: i32,
    member_id: &str,
    offsets: &BTreeMap<(String, i32), i64>,
) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
    for ((t, p), o) in offsets {
        by_topic.entry(t.as_str()).or_default().push((*p, *o));
    }
    let resp = coordinator
        .call(|_| {
            let mut r = OffsetCommitRequest::default();
            r.group_id = GroupId(StrBytes::from_string(group.to_string()));
            r.generation_id_or_member_epoch = generation;
            r.member_id = StrBytes::from_string(member_id.to_string());
            r.topics = by_topic
                .iter()
                .map(|(t, ps)| {
                    let mut x = OffsetCommitRequestTopic::default();
                    x.name = TopicName(StrBytes::from_string(t.to_string()));
                    x.partitions = ps
                        .iter()
                        .map(|(p, o)| {
                            let mut y = OffsetCommitRequestPartition::default();
                            y.partition_index = *p;
                            y.committed_offset = *o;
                            y
                        })
                        .collect();
                    x
                })
                .collect();
            r
        })
        .await?;
    for t in resp.topics {
        for p in t.partitions {
            ClientError::check(p.error_code, None)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_assignor_matches_kafka() {
        let subs: BTreeMap<String, Vec<String>> = [
            ("a".to_string(), vec!["t".to_string(), "u".to_string()]),
            ("b".to_string(), vec!["t".to_string()]),
        ]
        .into_iter()
        .collect();
        let counts: BTreeMap<String, i32> = [("t".to_string(), 5), ("u".to_string(), 2)]
            .into_iter()
            .collect();
        let a = range_assign(&subs, &counts);
        assert_eq!(a["a"]["t"], vec![0, 1, 2]);
        assert_eq!(a["b"]["t"], vec![3, 4]);
        assert_eq!(a["a"]["u"], vec![0, 1]);
        assert!(!a["b"].contains_key("u"));
    }

    #[test]
    fn consumer_protocol_round_trips() {
        let s = encode_subscription(&["x".to_string()]).expect("encode");
        let d = decode_subscription(&s).expect("decode");
        assert_eq!(d.topics[0].as_str(), "x");
        let mut a = BTreeMap::new();
        a.insert("x".to_string(), vec![2, 0]);
        let e = encode_assignment(&a).expect("encode");
        let d = decode_assignment(&e).expect("decode");
        assert_eq!(d["x"], vec![0, 2]);
        assert!(decode_assignment(&[]).expect("empty").is_empty());
        assert!(decode_assignment(&[0]).is_err());
    }
}
