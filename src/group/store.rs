//! Durable group state in the internal compacted topic `__consumer_offsets`, in Kafka's own record
//! formats: OffsetCommitKey (v1) / OffsetCommitValue (v3) and GroupMetadataKey (v2) /
//! GroupMetadataValue (v3). A null value is a tombstone. On start the topic is replayed to
//! rebuild every group's committed offsets and last membership.
//!
//! kafka-protocol has no codecs for these internal schemas (they live in Kafka's
//! group-coordinator module), so the few fields are written here.

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// A committed offset as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetValue {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
}

/// A member as stored in GroupMetadataValue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout: i32,
    pub session_timeout: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupValue {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub state_timestamp: i64,
    pub members: Vec<StoredMember>,
}

/// One decoded record of the offsets topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Offset {
        group: String,
        topic: String,
        partition: i32,
        value: Option<OffsetValue>,
    },
    Group {
        group: String,
        value: Option<GroupValue>,
    },
}

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

fn put_nullable_str(b: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(b, s),
        None => b.put_i16(-1),
    }
}

fn put_bytes(b: &mut BytesMut, v: &[u8]) {
    b.put_i32(v.len() as i32);
    b.put_slice(v);
}

fn get_i16(b: &mut Bytes) -> Option<i16> {
    (b.remaining() >= 2).then(|| b.get_i16())
}
fn get_i32(b: &mut Bytes) -> Option<i32> {
    (b.remaining() >= 4).then(|| b.get_i32())
}
fn get_i64(b: &mut Bytes) -> Option<i64> {
    (b.remaining() >= 8).then(|| b.get_i64())
}
fn get_nullable_str(b: &mut Bytes) -> Option<Option<String>> {
    let n = get_i16(b)?;
    if n < 0 {
        return Some(None);
    }
    let n = n as usize;
    if b.remaining() < n {
        return None;
    }
    let s = String::from_utf8(b.split_to(n).to_vec()).ok()?;
    Some(Some(s))
}
fn get_str(b: &mut Bytes) -> Option<String> {
    get_nullable_str(b)?
}
fn get_bytes(b: &mut Bytes) -> Option<Bytes> {
    let n = get_i32(b)?;
    if n < 0 {
        return Some(Bytes::new());
    }
    let n = n as usize;
    (b.remaining() >= n).then(|| b.split_to(n))
}

/// (key, value) of an offset commit; `None` value is a tombstone.
pub fn offset_record(
    group: &str,
    topic: &str,
    partition: i32,
    v: Option<&OffsetValue>,
) -> (Bytes, Option<Bytes>) {
    let mut k = BytesMut::new();
    k.put_i16(1);
    put_str(&mut k, group);
    put_str(&mut k, topic);
    k.put_i32(partition);
    let val = v.map(|v| {
        let mut b = BytesMut::new();
        b.put_i16(3);
        b.put_i64(v.offset);
        b.put_i32(v.leader_epoch);
        put_str(&mut b, &v.metadata);
        b.put_i64(v.commit_timestamp);
        b.freeze()
    });
    (k.freeze(), val)
}

/// (key, value) of a group's metadata; `None` value is a tombstone (group deleted).
pub fn group_record(group: &str, v: Option<&GroupValue>) -> (Bytes, Option<Bytes>) {
    let mut k = BytesMut::new();
    k.put_i16(2);
    put_str(&mut k, group);
    let val = v.map(|g| {
        let mut b = BytesMut::new();
        b.put_i16(3);
        put_str(&mut b, &g.protocol_type);
        b.put_i32(g.generation);
        put_nullable_str(&mut b, g.protocol.as_deref());
        put_nullable_str(&mut b, g.leader.as_deref());
        b.put_i64(g.state_timestamp);
        b.put_i32(g.members.len() as i32);
        for m in &g.members {
            put_str(&mut b, &m.member_id);
            put_nullable_str(&mut b, m.group_instance_id.as_deref());
            put_str(&mut b, &m.client_id);
            put_str(&mut b, &m.client_host);
            b.put_i32(m.rebalance_timeout);
            b.put_i32(m.session_timeout);
            put_bytes(&mut b, &m.subscription);
            put_bytes(&mut b, &m.assignment);
        }
        b.freeze()
    });
    (k.freeze(), val)
}

/// Decodes one record of the offsets topic; None for versions or shapes this broker does not
/// write (skipped on replay, as Kafka skips unknown key versions).
pub fn decode(key: &Bytes, value: Option<&Bytes>) -> Option<Entry> {
    let mut k = key.clone();
    match get_i16(&mut k)? {
        0 | 1 => {
            let group = get_str(&mut k)?;
            let topic = get_str(&mut k)?;
            let partition = get_i32(&mut k)?;
            let value = match value {
                None => None,
                Some(v) => {
                    let mut v = v.clone();
                    let ver = get_i16(&mut v)?;
                    let offset = get_i64(&mut v)?;
                    let leader_epoch = if ver >= 3 { get_i32(&mut v)? } else { -1 };
                    let metadata = get_str(&mut v)?;
                    let commit_timestamp = get_i64(&mut v)?;
                    Some(OffsetValue {
                        offset,
                        leader_epoch,
                        metadata,
                        commit_timestamp,
                    })
                }
            };
            Some(Entry::Offset {
                group,
                topic,
                partition,
                value,
            })
        }
        2 => {
            let group = get_str(&mut k)?;
            let value = match value {
                None => None,
                Some(v) => {
                    let mut v = v.clone();
                    let ver = get_i16(&mut v)?;
                    if ver != 3 {
                        return None;
                    }
                    let protocol_type = get_str(&mut v)?;
                    let generation = get_i32(&mut v)?;
                    let protocol = get_nullable_str(&mut v)?;
                    let leader = get_nullable_str(&mut v)?;
                    let state_timestamp = get_i64(&mut v)?;
                    let n = get_i32(&mut v)?;
                    // Each member takes at least 28 bytes; a count beyond that is corrupt.
                    if n < 0 || n as usize > v.remaining() / 28 + 1 {
                        return None;
                    }
                    let mut members = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        members.push(StoredMember {
                            member_id: get_str(&mut v)?,
                            group_instance_id: get_nullable_str(&mut v)?,
                            client_id: get_str(&mut v)?,
                            client_host: get_str(&mut v)?,
                            rebalance_timeout: get_i32(&mut v)?,
                            session_timeout: get_i32(&mut v)?,
                            subscription: get_bytes(&mut v)?,
                            assignment: get_bytes(&mut v)?,
                        });
                    }
                    Some(GroupValue {
                        protocol_type,
                        generation,
                        protocol,
                        leader,
                        state_timestamp,
                        members,
                    })
                }
            };
            Some(Entry::Group { group, value })
        }
        _ => None,
    }
}

/// Kafka's placement: `abs(groupId.hashCode) % offsets.topic.num.partitions`, with Java's
/// `String.hashCode` over UTF-16 code units.
pub fn partition_for(group: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for unit in group.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(unit as i32);
    }
    (h & 0x7fff_ffff) % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_groups_round_trip() {
        let v = OffsetValue {
            offset: 42,
            leader_epoch: 3,
            metadata: "meta".into(),
            commit_timestamp: 1000,
        };
        let (k, val) = offset_record("g", "t", 7, Some(&v));
        assert_eq!(
            decode(&k, val.as_ref()),
            Some(Entry::Offset {
                group: "g".into(),
                topic: "t".into(),
                partition: 7,
                value: Some(v)
            })
        );
        let g = GroupValue {
            protocol_type: "consumer".into(),
            generation: 5,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            state_timestamp: 9,
            members: vec![StoredMember {
                member_id: "m1".into(),
                group_instance_id: None,
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout: 300_000,
                session_timeout: 45_000,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        let (k, val) = group_record("g", Some(&g));
        assert_eq!(
            decode(&k, val.as_ref()),
            Some(Entry::Group {
                group: "g".into(),
                value: Some(g)
            })
        );
        let (k, _) = group_record("g", None);
        assert_eq!(
            decode(&k, None),
            Some(Entry::Group {
                group: "g".into(),
                value: None
            })
        );
        assert_eq!(decode(&Bytes::from_static(&[0, 9]), None), None);
        assert_eq!(decode(&Bytes::from_static(&[0]), None), None);
    }

    #[test]
    fn placement_matches_java_string_hash_code() {
        // "hello".hashCode() == 99162322 in Java.
        assert_eq!(partition_for("hello", 50), 99_162_322 % 50);
        assert_eq!(partition_for("", 50), 0);
    }
}
