//! Incremental fetch sessions (KIP-227): the broker remembers a consumer's partition set and
//! fetch positions so later requests only carry what changed, and responses only carry
//! partitions with news.

use indexmap::IndexMap;
use uuid::Uuid;

use super::code;

/// One partition a session fetches, with what the last response told the client.
#[derive(Clone, Debug)]
pub struct SessionPartition {
    pub topic: String,
    pub topic_id: Uuid,
    pub partition: i32,
    pub fetch_offset: i64,
    pub max_bytes: i32,
    pub current_leader_epoch: i32,
    /// The epoch of the fetcher's last batch (follower fetches: the divergence check).
    pub last_fetched_epoch: i32,
    pub last_high_watermark: i64,
    pub last_log_start: i64,
}

pub type PartitionKey = (String, i32);

pub struct FetchSession {
    pub id: i32,
    /// The epoch the next request must carry.
    pub next_epoch: i32,
    pub partitions: IndexMap<PartitionKey, SessionPartition>,
    last_used: u64,
}

/// A bounded cache of sessions (`max.incremental.fetch.session.cache.slots`); the least
/// recently used session is evicted when a new one needs room.
pub struct FetchSessionCache {
    slots: usize,
    sessions: IndexMap<i32, FetchSession>,
    tick: u64,
}

/// How a request relates to sessions.
pub enum SessionMode {
    /// No session (epoch -1): every requested partition, full response.
    Sessionless,
    /// A new session was created (or could not be, id 0): full response.
    New(i32),
    /// An existing session, updated; incremental response.
    Incremental(i32),
}

impl FetchSessionCache {
    pub fn new(slots: usize) -> Self {
        FetchSessionCache {
            slots,
            sessions: IndexMap::new(),
            tick: 0,
        }
    }

    fn new_id(&self) -> i32 {
        loop {
            let id: i32 = rand::random::<i32>() & i32::MAX;
            if id != 0 && !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    /// Applies the session part of a fetch request. `partitions` are the request's entries; for
    /// an incremental request they are upserted and `forgotten` removed. Returns the mode and
    /// the partition list to serve, or a top-level error code.
    pub fn begin(
        &mut self,
        session_id: i32,
        epoch: i32,
        partitions: Vec<SessionPartition>,
        forgotten: &[PartitionKey],
    ) -> Result<(SessionMode, Vec<SessionPartition>), i16> {
        self.tick += 1;
        let tick = self.tick;
        match (session_id, epoch) {
            (0, -1) => Ok((SessionMode::Sessionless, partitions)),
            (id, -1) => {
                self.sessions.shift_remove(&id);
                Ok((SessionMode::Sessionless, partitions))
            }
            (id, 0) => {
                if id != 0 {
                    self.sessions.shift_remove(&id);
                }
                if self.slots == 0 {
                    return Ok((SessionMode::New(0), partitions));
                }
                if self.sessions.len() >= self.slots {
                    if let Some((&oldest, _)) =
                        self.sessions.iter().min_by_key(|(_, s)| s.last_used)
                    {
                        self.sessions.shift_remove(&oldest);
                    }
                }
                let new_id = self.new_id();
                let map = partitions
                    .iter()
                    .map(|p| ((p.topic.clone(), p.partition), p.clone()))
                    .collect();
                self.sessions.insert(
                    new_id,
                    FetchSession {
                        id: new_id,
                        next_epoch: 1,
                        partitions: map,
                        last_used: tick,
                    },
                );
                Ok((SessionMode::New(new_id), partitions))
            }
            (id, e) => {
                let s = self
                    .sessions
                    .get_mut(&id)
                    .ok_or(code::FETCH_SESSION_ID_NOT_FOUND)?;
                if s.next_epoch != e {
                    return Err(code::INVALID_FETCH_SESSION_EPOCH);
                }
                s.next_epoch = if e == i32::MAX { 1 } else { e + 1 };
                s.last_used = tick;
                for p in partitions {
                    let key = (p.topic.clone(), p.partition);
                    match s.partitions.get_mut(&key) {
                        Some(existing) => {
                            existing.fetch_offset = p.fetch_offset;
                            existing.max_bytes = p.max_bytes;
                            existing.current_leader_epoch = p.current_leader_epoch;
                        }
                        None => {
                            s.partitions.insert(key, p);
                        }
                    }
                }
                for f in forgotten {
                    s.partitions.shift_remove(f);
                }
                Ok((
                    SessionMode::Incremental(id),
                    s.partitions.values().cloned().collect(),
                ))
            }
        }
    }

    /// Records what a response reported, and rotates partitions that returned data to the back
    /// so that a size-limited response does not starve the others next time.
    /// Fetch offsets are the client's to move: it resends a partition whenever its position
    /// changed, so the session never advances them itself.
    pub fn complete(&mut self, id: i32, served: &[(PartitionKey, i64, i64, bool)]) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        for (key, hw, log_start, had_data) in served {
            if let Some(p) = s.partitions.get_mut(key) {
                p.last_high_watermark = *hw;
                p.last_log_start = *log_start;
            }
            if *had_data {
                if let Some(i) = s.partitions.get_index_of(key) {
                    let last = s.partitions.len() - 1;
                    s.partitions.move_index(i, last);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(topic: &str, p: i32, off: i64) -> SessionPartition {
        SessionPartition {
            last_fetched_epoch: -1,
            topic: topic.into(),
            topic_id: Uuid::nil(),
            partition: p,
            fetch_offset: off,
            max_bytes: 1 << 20,
            current_leader_epoch: -1,
            last_high_watermark: -1,
            last_log_start: -1,
        }
    }

    #[test]
    fn session_lifecycle() {
        let mut c = FetchSessionCache::new(2);
        let (mode, parts) = c
            .begin(0, 0, vec![sp("a", 0, 0), sp("a", 1, 0)], &[])
            .unwrap();
        let SessionMode::New(id) = mode else { panic!() };
        assert!(id > 0);
        assert_eq!(parts.len(), 2);
        assert_eq!(
            c.begin(id, 5, vec![], &[]).err(),
            Some(code::INVALID_FETCH_SESSION_EPOCH)
        );
        assert_eq!(
            c.begin(12345, 1, vec![], &[]).err(),
            Some(code::FETCH_SESSION_ID_NOT_FOUND)
        );
        let (_, parts) = c
            .begin(id, 1, vec![sp("a", 0, 7)], &[("a".into(), 1)])
            .unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].fetch_offset, 7);
        let (mode, _) = c.begin(id, -1, vec![], &[]).unwrap();
        assert!(matches!(mode, SessionMode::Sessionless));
        assert!(c.is_empty());
        // The cache is bounded: a third session evicts the least recently used.
        for _ in 0..3 {
            c.begin(0, 0, vec![sp("a", 0, 0)], &[]).unwrap();
        }
        assert_eq!(c.len(), 2);
    }
}
