//! One consumer group under the classic rebalance protocol, as Kafka's group coordinator runs it:
//! states Empty → PreparingRebalance → CompletingRebalance → Stable (and back), generations,
//! protocol selection, leader election, KIP-394 member-id-required joins, KIP-345 static members,
//! and the timers (initial rebalance delay, rebalance and session timeouts).
//!
//! Everything here is synchronous and runs under the group's own lock; waiting JoinGroup and
//! SyncGroup requests hold oneshot receivers that these transitions complete.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use indexmap::IndexMap;
use tokio::sync::oneshot;

use super::error;
use super::store::{GroupValue, OffsetValue, StoredMember};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// What a JoinGroup gets back.
#[derive(Clone, Debug, Default)]
pub struct JoinResult {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    pub skip_assignment: bool,
    /// (member id, group instance id, metadata): only for the leader.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinResult {
    pub fn error(code: i16, member_id: &str) -> JoinResult {
        JoinResult {
            error: code,
            generation: -1,
            member_id: member_id.to_string(),
            ..Default::default()
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct SyncResult {
    pub error: i16,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn error(code: i16) -> SyncResult {
        SyncResult {
            error: code,
            ..Default::default()
        }
    }
}

pub enum Reply<T> {
    Now(T),
    Wait(oneshot::Receiver<T>),
}

pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    last_heartbeat: Instant,
    join_waiter: Option<oneshot::Sender<JoinResult>>,
    sync_waiter: Option<oneshot::Sender<SyncResult>>,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

/// Limits and delays from the broker config.
#[derive(Clone, Debug)]
pub struct GroupLimits {
    pub min_session_timeout: Duration,
    pub max_session_timeout: Duration,
    pub initial_rebalance_delay: Duration,
    pub max_size: usize,
}

/// A join request's fields.
pub struct JoinRequest {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a new member must come back with the id it is given (KIP-394).
    pub require_known_member_id: bool,
    /// JoinGroup v9+: the static leader may be told to skip assignment.
    pub supports_skip_assignment: bool,
}

pub struct Group {
    pub id: String,
    pub state: GroupState,
    pub state_since_ms: i64,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub generation: i32,
    pub leader: Option<String>,
    pub members: IndexMap<String, Member>,
    pending: HashMap<String, (Instant, Duration)>,
    statics: HashMap<String, String>,
    rebalance_deadline: Option<Instant>,
    initial_delay_until: Option<Instant>,
    sync_deadline: Option<Instant>,
    pub offsets: HashMap<(String, i32), OffsetValue>,
    /// Present when the group runs the KIP-848 consumer protocol instead of the classic one.
    pub consumer: Option<super::consumer::ConsumerGroup>,
    /// Set when membership changed in a way that must be written to the offsets topic.
    pub dirty: bool,
}

fn new_member_id(client_id: &str) -> String {
    format!("{client_id}-{}", uuid::Uuid::new_v4())
}

impl Group {
    pub fn new(id: &str, now_ms: i64) -> Group {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            state_since_ms: now_ms,
            protocol_type: None,
            protocol: None,
            generation: 0,
            leader: None,
            members: IndexMap::new(),
            pending: HashMap::new(),
            statics: HashMap::new(),
            rebalance_deadline: None,
            initial_delay_until: None,
            sync_deadline: None,
            offsets: HashMap::new(),
            consumer: None,
            dirty: false,
        }
    }

    fn set_state(&mut self, s: GroupState) {
        if self.state != s {
            self.state = s;
            self.state_since_ms = crate::log::segment::now_ms();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.consumer.as_ref().is_none_or(|c| c.members.is_empty())
    }

    /// "classic" or "consumer", as ListGroups reports the type.
    pub fn group_type(&self) -> &'static str {
        if self.consumer.is_some() {
            "consumer"
        } else {
            "classic"
        }
    }

    /// The state name as ListGroups and DescribeGroups report it.
    pub fn state_name(&self) -> &'static str {
        match &self.consumer {
            Some(c) => c.state_name(),
            None => self.state.name(),
        }
    }

    /// FENCED_INSTANCE_ID when `instance_id` belongs to another member id.
    fn fenced(&self, member_id: &str, instance_id: Option<&str>) -> bool {
        match instance_id.and_then(|i| self.statics.get(i)) {
            Some(owner) => owner != member_id,
            None => false,
        }
    }

    fn supports(
        &self,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
        except: Option<&str>,
    ) -> bool {
        if self.members.is_empty() || self.members.keys().all(|k| Some(k.as_str()) == except) {
            return true;
        }
        if self
            .protocol_type
            .as_deref()
            .is_some_and(|t| t != protocol_type)
        {
            return false;
        }
        protocols.iter().any(|(name, _)| {
            self.members
                .values()
                .filter(|m| Some(m.id.as_str()) != except)
                .all(|m| m.protocols.iter().any(|(n, _)| n == name))
        })
    }

    fn max_rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::from_secs(300))
    }

    pub fn join(&mut self, req: JoinRequest, limits: &GroupLimits) -> Reply<JoinResult> {
        let now = Instant::now();
        let session = Duration::from_millis(req.session_timeout_ms.max(0) as u64);
        if req.session_timeout_ms < 0
            || session < limits.min_session_timeout
            || session > limits.max_session_timeout
        {
            return Reply::Now(JoinResult::error(
                error::INVALID_SESSION_TIMEOUT,
                &req.member_id,
            ));
        }
        if req.protocol_type.is_empty() || req.protocols.is_empty() {
            return Reply::Now(JoinResult::error(
                error::INCONSISTENT_GROUP_PROTOCOL,
                &req.member_id,
            ));
        }
        let existing = (!req.member_id.is_empty()).then_some(req.member_id.as_str());
        if !self.supports(&req.protocol_type, &req.protocols, existing) {
            return Reply::Now(JoinResult::error(
                error::INCONSISTENT_GROUP_PROTOCOL,
                &req.member_id,
            ));
        }
        if req.member_id.is_empty() {
            return self.join_unknown(req, limits, now);
        }
        if self.fenced(&req.member_id, req.instance_id.as_deref()) {
            return Reply::Now(JoinResult::error(error::FENCED_INSTANCE_ID, &req.member_id));
        }
        if self.pending.remove(&req.member_id).is_some() {
            if self.members.len() >= limits.max_size {
                return Reply::Now(JoinResult::error(
                    error::GROUP_MAX_SIZE_REACHED,
                    &req.member_id,
                ));
            }
            let id = req.member_id.clone();
            return self.add_member_and_rebalance(id, req, now, limits);
        }
        if !self.members.contains_key(&req.member_id) {
            return Reply::Now(JoinResult::error(error::UNKNOWN_MEMBER_ID, &req.member_id));
        }
        self.join_existing(req, now, limits)
    }

    fn join_unknown(
        &mut self,
        req: JoinRequest,
        limits: &GroupLimits,
        now: Instant,
    ) -> Reply<JoinResult> {
        let new_id = new_member_id(&req.client_id);
        if let Some(instance) = req.instance_id.clone() {
            if let Some(old_id) = self.statics.get(&instance).cloned() {
                return self.replace_static(old_id, new_id, req, now, limits);
            }
            if self.members.len() >= limits.max_size {
                return Reply::Now(JoinResult::error(error::GROUP_MAX_SIZE_REACHED, ""));
            }
            self.statics.insert(instance, new_id.clone());
            return self.add_member_and_rebalance(new_id, req, now, limits);
        }
        if self.members.len() + self.pending.len() >= limits.max_size {
            return Reply::Now(JoinResult::error(error::GROUP_MAX_SIZE_REACHED, ""));
        }
        if req.require_known_member_id {
            let session = Duration::from_millis(req.session_timeout_ms.max(0) as u64);
            self.pending.insert(new_id.clone(), (now, session));
            return Reply::Now(JoinResult::error(error::MEMBER_ID_REQUIRED, &new_id));
        }
        self.add_member_and_rebalance(new_id, req, now, limits)
    }

    /// A static member came back with a new process (unknown member id, known instance id).
    fn replace_static(
        &mut self,
        old_id: String,
        new_id: String,
        req: JoinRequest,
        now: Instant,
        limits: &GroupLimits,
    ) -> Reply<JoinResult> {
        let Some(mut old) = self.members.shift_remove(&old_id) else {
            self.statics
                .remove(req.instance_id.as_deref().unwrap_or(""));
            return self.join_unknown(req, limits, now);
        };
        if let Some(w) = old.join_waiter.take() {
            let _ = w.send(JoinResult::error(error::FENCED_INSTANCE_ID, &old_id));
        }
        if let Some(w) = old.sync_waiter.take() {
            let _ = w.send(SyncResult::error(error::FENCED_INSTANCE_ID));
        }
        let same_protocols = old.protocols == req.protocols;
        old.id = new_id.clone();
        old.client_id = req.client_id.clone();
        old.client_host = req.client_host.clone();
        old.session_timeout = Duration::from_millis(req.session_timeout_ms.max(0) as u64);
        old.rebalance_timeout = Duration::from_millis(req.rebalance_timeout_ms.max(0) as u64);
        old.protocols = req.protocols.clone();
        old.last_heartbeat = now;
        self.members.insert(new_id.clone(), old);
        if let Some(i) = &req.instance_id {
            self.statics.insert(i.clone(), new_id.clone());
        }
        let was_leader = self.leader.as_deref() == Some(old_id.as_str());
        if was_leader {
            self.leader = Some(new_id.clone());
        }
        self.dirty = true;
        if self.state == GroupState::Stable && same_protocols {
            // KIP-345: the returning static member gets its old assignment, no rebalance.
            let mut r = self.join_result_for(&new_id, was_leader);
            r.skip_assignment = was_leader && req.supports_skip_assignment;
            if was_leader && !req.supports_skip_assignment {
                r.members.clear();
            }
            return Reply::Now(r);
        }
        self.join_existing(
            JoinRequest {
                member_id: new_id,
                ..req
            },
            now,
            limits,
        )
    }

    fn add_member_and_rebalance(
        &mut self,
        id: String,
        req: JoinRequest,
        now: Instant,
        limits: &GroupLimits,
    ) -> Reply<JoinResult> {
        let (tx, rx) = oneshot::channel();
        self.members.insert(
            id.clone(),
            Member {
                id,
                instance_id: req.instance_id,
                client_id: req.client_id,
                client_host: req.client_host,
                session_timeout: Duration::from_millis(req.session_timeout_ms.max(0) as u64),
                rebalance_timeout: Duration::from_millis(req.rebalance_timeout_ms.max(0) as u64),
                protocols: req.protocols,
                assignment: Bytes::new(),
                last_heartbeat: now,
                join_waiter: Some(tx),
                sync_waiter: None,
            },
        );
        if self.protocol_type.is_none() {
            self.protocol_type = Some(req.protocol_type);
        }
        let extend_delay =
            self.state == GroupState::PreparingRebalance && self.initial_delay_until.is_some();
        if extend_delay {
            // InitialDelayedJoin: each new member extends the delay, within the rebalance timeout.
            let until = now + limits.initial_rebalance_delay;
            let cap = self.rebalance_deadline.unwrap_or(until);
            self.initial_delay_until = Some(until.min(cap));
        }
        self.prepare_rebalance(now, limits);
        self.maybe_complete_join(now);
        Reply::Wait(rx)
    }

    fn join_existing(
        &mut self,
        req: JoinRequest,
        now: Instant,
        limits: &GroupLimits,
    ) -> Reply<JoinResult> {
        let id = req.member_id.clone();
        let is_leader = self.leader.as_deref() == Some(id.as_str());
        let Some(m) = self.members.get_mut(&id) else {
            return Reply::Now(JoinResult::error(error::UNKNOWN_MEMBER_ID, &id));
        };
        let same = m.protocols == req.protocols;
        m.protocols = req.protocols;
        m.client_id = req.client_id;
        m.client_host = req.client_host;
        m.session_timeout = Duration::from_millis(req.session_timeout_ms.max(0) as u64);
        m.rebalance_timeout = Duration::from_millis(req.rebalance_timeout_ms.max(0) as u64);
        m.last_heartbeat = now;
        match self.state {
            GroupState::CompletingRebalance if same => {
                Reply::Now(self.join_result_for(&id, is_leader))
            }
            GroupState::Stable if same && !is_leader => {
                Reply::Now(self.join_result_for(&id, false))
            }
            _ => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.members.get_mut(&id) {
                    if let Some(old) = m.join_waiter.replace(tx) {
                        let _ = old.send(JoinResult::error(error::UNKNOWN_MEMBER_ID, &id));
                    }
                }
                self.prepare_rebalance(now, limits);
                self.maybe_complete_join(now);
                Reply::Wait(rx)
            }
        }
    }

    fn join_result_for(&self, id: &str, with_members: bool) -> JoinResult {
        let protocol = self.protocol.clone().unwrap_or_default();
        JoinResult {
            error: error::NONE,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: id.to_string(),
            skip_assignment: false,
            members: if with_members {
                self.members
                    .values()
                    .map(|m| {
                        (
                            m.id.clone(),
                            m.instance_id.clone(),
                            m.metadata_for(&protocol),
                        )
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    fn prepare_rebalance(&mut self, now: Instant, limits: &GroupLimits) {
        match self.state {
            GroupState::PreparingRebalance => return,
            GroupState::CompletingRebalance => {
                for m in self.members.values_mut() {
                    if let Some(w) = m.sync_waiter.take() {
                        let _ = w.send(SyncResult::error(error::REBALANCE_IN_PROGRESS));
                    }
                }
            }
            _ => {}
        }
        let timeout = self.max_rebalance_timeout();
        self.rebalance_deadline = Some(now + timeout);
        self.initial_delay_until =
            if self.state == GroupState::Empty && !limits.initial_rebalance_delay.is_zero() {
                Some(now + limits.initial_rebalance_delay.min(timeout))
            } else {
                None
            };
        self.sync_deadline = None;
        self.set_state(GroupState::PreparingRebalance);
    }

    fn maybe_complete_join(&mut self, now: Instant) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let deadline_passed = self.rebalance_deadline.is_some_and(|d| now >= d);
        if !deadline_passed {
            if self.initial_delay_until.is_some_and(|d| now < d) {
                return;
            }
            let all_joined =
                self.members.values().all(|m| m.join_waiter.is_some()) && self.pending.is_empty();
            if !all_joined {
                return;
            }
        }
        self.complete_join(now);
    }

    fn complete_join(&mut self, now: Instant) {
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            self.remove_member(&id);
        }
        self.pending.clear();
        self.initial_delay_until = None;
        self.rebalance_deadline = None;
        self.generation += 1;
        self.dirty = true;
        if self.members.is_empty() {
            self.protocol = None;
            self.leader = None;
            self.set_state(GroupState::Empty);
            return;
        }
        self.protocol = self.select_protocol();
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.set_state(GroupState::CompletingRebalance);
        let max_rebalance = self.max_rebalance_timeout();
        self.sync_deadline = Some(now + max_rebalance);
        let leader = self.leader.clone().unwrap_or_default();
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let result = self.join_result_for(&id, id == leader);
            if let Some(m) = self.members.get_mut(&id) {
                m.last_heartbeat = now;
                m.assignment = Bytes::new();
                if let Some(w) = m.join_waiter.take() {
                    let _ = w.send(result);
                }
            }
        }
    }

    /// Kafka's choice: among protocols every member supports, each member votes for its most
    /// preferred; most votes wins.
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(x, _)| x == *n))
            })
            .collect();
        let mut votes: IndexMap<&String, usize> = candidates.iter().map(|c| (*c, 0)).collect();
        for m in self.members.values() {
            if let Some((n, _)) = m.protocols.iter().find(|(n, _)| votes.contains_key(n)) {
                if let Some(v) = votes.get_mut(n) {
                    *v += 1;
                }
            }
        }
        let best = votes.values().copied().max()?;
        votes
            .iter()
            .find(|(_, v)| **v == best)
            .map(|(n, _)| (*n).clone())
    }

    fn remove_member(&mut self, id: &str) -> bool {
        let Some(mut m) = self.members.shift_remove(id) else {
            return false;
        };
        if let Some(i) = &m.instance_id {
            if self.statics.get(i).map(String::as_str) == Some(id) {
                self.statics.remove(i);
            }
        }
        if let Some(w) = m.join_waiter.take() {
            let _ = w.send(JoinResult::error(error::UNKNOWN_MEMBER_ID, id));
        }
        if let Some(w) = m.sync_waiter.take() {
            let _ = w.send(SyncResult::error(error::UNKNOWN_MEMBER_ID));
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = None;
        }
        self.dirty = true;
        true
    }

    /// A member left or expired: rebalance whatever is left.
    fn member_gone(&mut self, id: &str, now: Instant, limits: &GroupLimits) {
        if !self.remove_member(id) {
            return;
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                if self.members.is_empty() {
                    self.generation += 1;
                    self.protocol = None;
                    self.set_state(GroupState::Empty);
                } else {
                    self.prepare_rebalance(now, limits);
                }
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            _ => {}
        }
    }

    pub fn sync(
        &mut self,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
    ) -> Reply<SyncResult> {
        if self.fenced(member_id, instance_id) {
            return Reply::Now(SyncResult::error(error::FENCED_INSTANCE_ID));
        }
        if !self.members.contains_key(member_id) {
            return Reply::Now(SyncResult::error(error::UNKNOWN_MEMBER_ID));
        }
        if generation != self.generation {
            return Reply::Now(SyncResult::error(error::ILLEGAL_GENERATION));
        }
        if protocol_type.is_some_and(|t| Some(t) != self.protocol_type.as_deref())
            || protocol_name.is_some_and(|n| Some(n) != self.protocol.as_deref())
        {
            return Reply::Now(SyncResult::error(error::INCONSISTENT_GROUP_PROTOCOL));
        }
        let now = Instant::now();
        match self.state {
            GroupState::Empty | GroupState::Dead => {
                Reply::Now(SyncResult::error(error::UNKNOWN_MEMBER_ID))
            }
            GroupState::PreparingRebalance => {
                Reply::Now(SyncResult::error(error::REBALANCE_IN_PROGRESS))
            }
            GroupState::Stable => {
                let m = &self.members[member_id];
                Reply::Now(self.sync_result(m.assignment.clone()))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.members.get_mut(member_id) {
                    m.last_heartbeat = now;
                    if let Some(old) = m.sync_waiter.replace(tx) {
                        let _ = old.send(SyncResult::error(error::REBALANCE_IN_PROGRESS));
                    }
                }
                if self.leader.as_deref() == Some(member_id) {
                    let mut given: HashMap<String, Bytes> = assignments.into_iter().collect();
                    for m in self.members.values_mut() {
                        m.assignment = given.remove(&m.id).unwrap_or_default();
                    }
                    self.set_state(GroupState::Stable);
                    self.sync_deadline = None;
                    self.dirty = true;
                    let results: Vec<(String, SyncResult)> = self
                        .members
                        .values()
                        .map(|m| (m.id.clone(), self.sync_result(m.assignment.clone())))
                        .collect();
                    for (id, r) in results {
                        if let Some(w) =
                            self.members.get_mut(&id).and_then(|m| m.sync_waiter.take())
                        {
                            let _ = w.send(r);
                        }
                    }
                }
                Reply::Wait(rx)
            }
        }
    }

    fn sync_result(&self, assignment: Bytes) -> SyncResult {
        SyncResult {
            error: error::NONE,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            assignment,
        }
    }

    pub fn heartbeat(
        &mut self,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> i16 {
        if self.fenced(member_id, instance_id) {
            return error::FENCED_INSTANCE_ID;
        }
        if !self.members.contains_key(member_id) {
            return error::UNKNOWN_MEMBER_ID;
        }
        if generation != self.generation {
            return error::ILLEGAL_GENERATION;
        }
        let now = Instant::now();
        match self.state {
            GroupState::Empty | GroupState::Dead => error::UNKNOWN_MEMBER_ID,
            GroupState::PreparingRebalance => {
                if let Some(m) = self.members.get_mut(member_id) {
                    m.last_heartbeat = now;
                }
                error::REBALANCE_IN_PROGRESS
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                if let Some(m) = self.members.get_mut(member_id) {
                    m.last_heartbeat = now;
                }
                error::NONE
            }
        }
    }

    /// LeaveGroup for one member (by member id, or by instance id when the id is empty).
    pub fn leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        limits: &GroupLimits,
    ) -> i16 {
        let id = if member_id.is_empty() {
            match instance_id.and_then(|i| self.statics.get(i)) {
                Some(id) => id.clone(),
                None => return error::UNKNOWN_MEMBER_ID,
            }
        } else {
            if self.fenced(member_id, instance_id) {
                return error::FENCED_INSTANCE_ID;
            }
            member_id.to_string()
        };
        if self.pending.remove(&id).is_some() {
            return error::NONE;
        }
        if !self.members.contains_key(&id) {
            return error::UNKNOWN_MEMBER_ID;
        }
        self.member_gone(&id, Instant::now(), limits);
        error::NONE
    }

    /// Validates an offset commit's member and generation (classic rules).
    pub fn validate_commit(
        &self,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> i16 {
        if let Some(c) = &self.consumer {
            return c.validate_commit(member_id, generation);
        }
        if generation < 0 && self.members.is_empty() {
            // Admin clients and consumers without group management commit with generation -1;
            // Kafka accepts that while the group is empty, whatever member id they send.
            return error::NONE;
        }
        if generation < 0 && member_id.is_empty() {
            return error::UNKNOWN_MEMBER_ID;
        }
        if self.fenced(member_id, instance_id) {
            return error::FENCED_INSTANCE_ID;
        }
        if !self.members.contains_key(member_id) {
            return error::UNKNOWN_MEMBER_ID;
        }
        if generation != self.generation {
            return error::ILLEGAL_GENERATION;
        }
        if self.state == GroupState::CompletingRebalance {
            return error::REBALANCE_IN_PROGRESS;
        }
        error::NONE
    }

    /// Timers: delayed and timed-out joins, expired sessions, syncs that never came.
    pub fn tick(&mut self, now: Instant, limits: &GroupLimits) {
        self.pending
            .retain(|_, (since, session)| now.duration_since(*since) < *session);
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none() && m.sync_waiter.is_none())
            .filter(|m| now.duration_since(m.last_heartbeat) > m.session_timeout)
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(
                "group {}: member {id} session expired; removing it",
                self.id
            );
            self.member_gone(&id, now, limits);
        }
        if self.state == GroupState::CompletingRebalance
            && self.sync_deadline.is_some_and(|d| now >= d)
        {
            let laggards: Vec<String> = self
                .members
                .values()
                .filter(|m| m.sync_waiter.is_none())
                .map(|m| m.id.clone())
                .collect();
            tracing::info!(
                "group {}: {} member(s) never synced; rebalancing",
                self.id,
                laggards.len()
            );
            for id in laggards {
                self.remove_member(&id);
            }
            if self.members.is_empty() {
                self.generation += 1;
                self.set_state(GroupState::Empty);
            } else {
                self.prepare_rebalance(now, limits);
            }
        }
        self.maybe_complete_join(now);
    }

    /// The membership record written to the offsets topic.
    pub fn to_value(&self) -> GroupValue {
        let protocol = self.protocol.clone().unwrap_or_default();
        GroupValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            state_timestamp: self.state_since_ms,
            members: self
                .members
                .values()
                .map(|m| StoredMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout: m.rebalance_timeout.as_millis() as i32,
                    session_timeout: m.session_timeout.as_millis() as i32,
                    subscription: m.metadata_for(&protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    /// Restores a group from its last stored membership: members get a fresh session to
    /// heartbeat in, as after a coordinator failover in Kafka.
    pub fn restore(&mut self, v: GroupValue) {
        let now = Instant::now();
        self.protocol_type = (!v.protocol_type.is_empty()).then_some(v.protocol_type);
        self.generation = v.generation;
        self.protocol = v.protocol.clone();
        self.leader = v.leader;
        self.members.clear();
        self.statics.clear();
        for m in v.members {
            if let Some(i) = &m.group_instance_id {
                self.statics.insert(i.clone(), m.member_id.clone());
            }
            let protocols = vec![(v.protocol.clone().unwrap_or_default(), m.subscription)];
            self.members.insert(
                m.member_id.clone(),
                Member {
                    id: m.member_id,
                    instance_id: m.group_instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    session_timeout: Duration::from_millis(m.session_timeout.max(0) as u64),
                    rebalance_timeout: Duration::from_millis(m.rebalance_timeout.max(0) as u64),
                    protocols,
                    assignment: m.assignment,
                    last_heartbeat: now,
                    join_waiter: None,
                    sync_waiter: None,
                },
            );
        }
        self.state_since_ms = v.state_timestamp;
        self.state = if self.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> GroupLimits {
        GroupLimits {
            min_session_timeout: Duration::from_millis(10),
            max_session_timeout: Duration::from_secs(60),
            initial_rebalance_delay: Duration::ZERO,
            max_size: 10,
        }
    }

    fn req(member: &str, instance: Option<&str>) -> JoinRequest {
        JoinRequest {
            member_id: member.into(),
            instance_id: instance.map(str::to_string),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: 1000,
            rebalance_timeout_ms: 1000,
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"m"))],
            require_known_member_id: true,
            supports_skip_assignment: true,
        }
    }

    fn now_join(g: &mut Group, r: JoinRequest) -> JoinResult {
        match g.join(r, &limits()) {
            Reply::Now(r) => r,
            Reply::Wait(mut rx) => rx.try_recv().expect("join completed"),
        }
    }

    #[test]
    fn two_members_rebalance_to_stable() {
        let mut g = Group::new("g", 0);
        let first = now_join(&mut g, req("", None));
        assert_eq!(first.error, error::MEMBER_ID_REQUIRED);
        let a = now_join(&mut g, req(&first.member_id, None));
        assert_eq!((a.error, a.generation), (error::NONE, 1));
        assert_eq!(a.leader, a.member_id);
        assert_eq!(a.members.len(), 1);
        let Reply::Wait(mut rx) = g.sync(
            1,
            &a.member_id,
            None,
            Some("consumer"),
            Some("range"),
            vec![(a.member_id.clone(), Bytes::from_static(b"A"))],
        ) else {
            panic!("a sync in CompletingRebalance waits")
        };
        // The leader's sync completes the round, so its own answer is already there.
        assert_eq!(rx.try_recv().unwrap().assignment, Bytes::from_static(b"A"));
        assert_eq!(g.state, GroupState::Stable);
        let Reply::Now(s) = g.sync(
            1,
            &a.member_id,
            None,
            Some("consumer"),
            Some("other"),
            vec![],
        ) else {
            panic!()
        };
        assert_eq!(s.error, error::INCONSISTENT_GROUP_PROTOCOL);
    }

    #[test]
    fn second_member_triggers_rebalance_and_generation_bump() {
        let mut g = Group::new("g", 0);
        let id1 = now_join(&mut g, req("", None)).member_id;
        let a = now_join(&mut g, req(&id1, None));
        assert_eq!(a.generation, 1);
        if let Reply::Wait(mut rx) = g.sync(
            1,
            &id1,
            None,
            None,
            None,
            vec![(id1.clone(), Bytes::from_static(b"A"))],
        ) {
            assert_eq!(rx.try_recv().unwrap().assignment, Bytes::from_static(b"A"));
        }
        assert_eq!(g.state, GroupState::Stable);
        let id2 = now_join(&mut g, req("", None)).member_id;
        let Reply::Wait(mut rx2) = g.join(req(&id2, None), &limits()) else {
            panic!("must wait for the others")
        };
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert_eq!(g.heartbeat(1, &id1, None), error::REBALANCE_IN_PROGRESS);
        let Reply::Wait(mut rx1) = g.join(req(&id1, None), &limits()) else {
            panic!()
        };
        let r1 = rx1.try_recv().unwrap();
        let r2 = rx2.try_recv().unwrap();
        assert_eq!((r1.generation, r2.generation), (2, 2));
        assert_eq!(
            r1.members.len() + r2.members.len(),
            2,
            "only the leader sees members"
        );
        assert_eq!(g.heartbeat(1, &id1, None), error::ILLEGAL_GENERATION);
        assert_eq!(g.heartbeat(2, "nobody", None), error::UNKNOWN_MEMBER_ID);
    }

    #[test]
    fn static_member_rejoins_without_rebalance_and_fences_the_old_id() {
        let mut g = Group::new("g", 0);
        let a = now_join(&mut g, req("", Some("i1")));
        assert_eq!(
            a.error,
            error::NONE,
            "static members skip MEMBER_ID_REQUIRED"
        );
        if let Reply::Wait(mut rx) = g.sync(
            1,
            &a.member_id,
            None,
            None,
            None,
            vec![(a.member_id.clone(), Bytes::from_static(b"A"))],
        ) {
            rx.try_recv().unwrap();
        }
        let b = now_join(&mut g, req("", Some("i1")));
        assert_eq!(b.error, error::NONE);
        assert_eq!(b.generation, 1, "no rebalance");
        assert_ne!(b.member_id, a.member_id);
        assert_eq!(
            g.heartbeat(1, &a.member_id, Some("i1")),
            error::FENCED_INSTANCE_ID
        );
        assert_eq!(g.heartbeat(1, &b.member_id, Some("i1")), error::NONE);
        let Reply::Now(s) = g.sync(1, &b.member_id, Some("i1"), None, None, vec![]) else {
            panic!()
        };
        assert_eq!(s.assignment, Bytes::from_static(b"A"));
    }

    #[test]
    fn expired_member_is_removed() {
        let mut g = Group::new("g", 0);
        let id = now_join(&mut g, req("", None)).member_id;
        now_join(&mut g, req(&id, None));
        if let Reply::Wait(mut rx) = g.sync(1, &id, None, None, None, vec![]) {
            rx.try_recv().unwrap();
        }
        g.tick(Instant::now() + Duration::from_secs(5), &limits());
        assert!(g.members.is_empty());
        assert_eq!(g.state, GroupState::Empty);
    }
}
