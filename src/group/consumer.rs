//! A consumer group under the KIP-848 protocol (`group.protocol=consumer`): the broker owns the
//! assignment. Members heartbeat with their subscription and owned partitions; the coordinator
//! bumps the group epoch on membership or subscription changes, computes a target assignment with
//! a server-side assignor (`uniform` or `range`), and reconciles each member towards it:
//! partitions are revoked first, and handed out only once their previous owner released them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use uuid::Uuid;

/// Partitions by topic id.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

pub const FENCED_MEMBER_EPOCH: i16 = 110;
pub const UNRELEASED_INSTANCE_ID: i16 = 111;
pub const UNSUPPORTED_ASSIGNOR: i16 = 112;
pub const STALE_MEMBER_EPOCH: i16 = 113;
pub const INVALID_REQUEST: i16 = 42;
/// The rebalance timeout of a member that did not send one: the clients' default
/// `max.poll.interval.ms`.
const DEFAULT_REBALANCE_TIMEOUT_MS: u64 = 300_000;
pub const INVALID_REGULAR_EXPRESSION: i16 = 117;

/// What the coordinator knows of topics when it assigns: name → (id, partition count).
pub type TopicView = HashMap<String, (Uuid, i32)>;

pub struct ConsumerMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub epoch: i32,
    previous_epoch: i32,
    pub rebalance_timeout: Duration,
    pub subscribed_names: Vec<String>,
    pub subscribed_regex: Option<String>,
    pub server_assignor: Option<String>,
    pub assigned: Assignment,
    pending_revocation: Assignment,
    revocation_deadline: Option<Instant>,
    last_heartbeat: Instant,
    last_sent: Option<Assignment>,
}

pub struct ConsumerGroup {
    pub epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: String,
    pub members: IndexMap<String, ConsumerMember>,
    pub target: HashMap<String, Assignment>,
    statics: HashMap<String, String>,
    /// Subscribed topics' partition counts when the target was computed.
    snapshot: BTreeMap<String, (Uuid, i32)>,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    /// Regexes already resolved against the topic list. As in Kafka, a new regex is resolved
    /// after the heartbeat that brought it: that heartbeat's assignment has only the named
    /// topics, the next one adds the matches.
    resolved_regexes: std::collections::HashSet<String>,
}

/// A heartbeat's fields.
pub struct Heartbeat {
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_names: Option<Vec<String>>,
    pub subscribed_regex: Option<String>,
    pub server_assignor: Option<String>,
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
}

pub struct HeartbeatReply {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    pub assignment: Option<Assignment>,
}

fn minus(a: &Assignment, b: &Assignment) -> Assignment {
    let mut out = Assignment::new();
    for (t, ps) in a {
        let rest: BTreeSet<i32> = match b.get(t) {
            Some(bs) => ps.difference(bs).copied().collect(),
            None => ps.clone(),
        };
        if !rest.is_empty() {
            out.insert(*t, rest);
        }
    }
    out
}

fn intersect(a: &Assignment, b: &Assignment) -> Assignment {
    let mut out = Assignment::new();
    for (t, ps) in a {
        if let Some(bs) = b.get(t) {
            let both: BTreeSet<i32> = ps.intersection(bs).copied().collect();
            if !both.is_empty() {
                out.insert(*t, both);
            }
        }
    }
    out
}

fn union_into(a: &mut Assignment, b: &Assignment) {
    for (t, ps) in b {
        a.entry(*t).or_default().extend(ps.iter().copied());
    }
}

fn is_empty(a: &Assignment) -> bool {
    a.values().all(BTreeSet::is_empty)
}

impl ConsumerGroup {
    pub fn new(session_timeout: Duration, heartbeat_interval: Duration) -> ConsumerGroup {
        ConsumerGroup {
            epoch: 0,
            assignment_epoch: 0,
            assignor: "uniform".into(),
            members: IndexMap::new(),
            target: HashMap::new(),
            statics: HashMap::new(),
            snapshot: BTreeMap::new(),
            session_timeout,
            heartbeat_interval,
            resolved_regexes: Default::default(),
        }
    }

    /// Kafka's consumer group states.
    pub fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.assignment_epoch < self.epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .filter(|m| m.epoch != -2)
            .any(|m| m.epoch != self.assignment_epoch || !is_empty(&m.pending_revocation))
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    fn subscribed_topics(&self, view: &TopicView) -> BTreeMap<String, (Uuid, i32)> {
        let mut out = BTreeMap::new();
        for m in self.members.values() {
            for t in member_topics(m, view, &self.resolved_regexes) {
                if let Some(v) = view.get(&t) {
                    out.insert(t, *v);
                }
            }
        }
        out
    }

    pub fn heartbeat(
        &mut self,
        hb: Heartbeat,
        view: &TopicView,
        now: Instant,
    ) -> Result<HeartbeatReply, (i16, String)> {
        if hb.member_epoch == -1 || hb.member_epoch == -2 {
            let id = if hb.member_id.is_empty() {
                hb.instance_id
                    .as_ref()
                    .and_then(|i| self.statics.get(i))
                    .cloned()
                    .unwrap_or_default()
            } else {
                hb.member_id.clone()
            };
            if !self.members.contains_key(&id) {
                return Err((
                    super::error::UNKNOWN_MEMBER_ID,
                    format!("Member {id} is not a member of the group"),
                ));
            }
            if hb.member_epoch == -2
                && self
                    .members
                    .get(&id)
                    .is_some_and(|m| m.instance_id.is_some())
            {
                // A static member leaving temporarily keeps its partitions until its session
                // times out or its replacement (same instance id) takes them over.
                if let Some(m) = self.members.get_mut(&id) {
                    m.epoch = -2;
                }
            } else {
                self.remove(&id);
            }
            self.prune_regexes();
            return Ok(HeartbeatReply {
                member_id: id,
                member_epoch: hb.member_epoch,
                heartbeat_interval_ms: 0,
                assignment: None,
            });
        }
        if let Some(a) = &hb.server_assignor {
            if a != "uniform" && a != "range" {
                return Err((
                    UNSUPPORTED_ASSIGNOR,
                    format!("Assignor {a} is not supported; use uniform or range"),
                ));
            }
        }
        if let Some(re) = &hb.subscribed_regex {
            if regex::Regex::new(&format!("^(?:{re})$")).is_err() {
                return Err((
                    INVALID_REGULAR_EXPRESSION,
                    format!("Invalid regular expression: {re}"),
                ));
            }
        }
        let id = if hb.member_epoch == 0 {
            self.join(&hb, now)?
        } else {
            let Some(m) = self.members.get(&hb.member_id) else {
                return Err((
                    super::error::UNKNOWN_MEMBER_ID,
                    format!("Member {} is not a member of the group", hb.member_id),
                ));
            };
            let owned_ok = hb
                .owned
                .as_ref()
                .is_none_or(|o| is_empty(&minus(o, &m.assigned)));
            if hb.member_epoch != m.epoch && !(hb.member_epoch == m.previous_epoch && owned_ok) {
                return Err((
                    FENCED_MEMBER_EPOCH,
                    format!(
                        "The member epoch {} does not match the expected epoch {}",
                        hb.member_epoch, m.epoch
                    ),
                ));
            }
            hb.member_id.clone()
        };
        let mut changed = false;
        if let Some(m) = self.members.get_mut(&id) {
            m.last_heartbeat = now;
            if let Some(names) = hb.subscribed_names.clone() {
                if names != m.subscribed_names {
                    m.subscribed_names = names;
                    changed = true;
                }
            }
            if hb.subscribed_regex.is_some() && hb.subscribed_regex != m.subscribed_regex {
                m.subscribed_regex = hb.subscribed_regex.clone();
                changed = true;
            }
            if hb.server_assignor.is_some() {
                m.server_assignor = hb.server_assignor.clone();
            }
            if hb.rebalance_timeout_ms > 0 {
                m.rebalance_timeout = Duration::from_millis(hb.rebalance_timeout_ms as u64);
            }
            if let Some(owned) = &hb.owned {
                // Revocations are done once the member no longer reports owning them.
                if !is_empty(&m.pending_revocation)
                    && is_empty(&intersect(owned, &m.pending_revocation))
                {
                    m.pending_revocation.clear();
                    m.revocation_deadline = None;
                }
            }
        }
        if changed {
            self.epoch += 1;
        }
        if self.subscribed_topics(view) != self.snapshot {
            // Partitions were added or topics appeared or went away.
            if self.assignment_epoch == self.epoch {
                self.epoch += 1;
            }
        }
        if self.assignment_epoch < self.epoch {
            self.compute_target(view);
        }
        self.reconcile(&id, now);
        let m = &self.members[&id];
        let send = m.last_sent.as_ref() != Some(&m.assigned)
            || hb.member_epoch == 0
            || hb.owned.as_ref().is_some_and(|o| *o != m.assigned);
        let reply = HeartbeatReply {
            member_id: id.clone(),
            member_epoch: m.epoch,
            heartbeat_interval_ms: self.heartbeat_interval.as_millis() as i32,
            assignment: send.then(|| m.assigned.clone()),
        };
        if let Some(m) = self.members.get_mut(&id) {
            m.last_sent = Some(m.assigned.clone());
        }
        // Resolutions are kept only while some member subscribes with that regex (as Kafka's
        // group keeps its resolved regular expressions).
        self.prune_regexes();
        let new_regex = self.members[&id]
            .subscribed_regex
            .clone()
            .filter(|r| !r.is_empty() && !self.resolved_regexes.contains(r));
        if let Some(r) = new_regex {
            self.resolved_regexes.insert(r);
            self.epoch += 1;
        }
        Ok(reply)
    }

    fn join(&mut self, hb: &Heartbeat, now: Instant) -> Result<String, (i16, String)> {
        if hb.subscribed_names.is_none() && hb.subscribed_regex.is_none() {
            return Err((
                INVALID_REQUEST,
                "SubscribedTopicNames or SubscribedTopicRegex must be set in first request".into(),
            ));
        }
        // Kafka refuses a join without RebalanceTimeoutMs. librdkafka (2.12) sends one when it
        // resubscribes right after its leave heartbeat was answered, and treats the refusal as
        // fatal; a member that names itself is taken back with the client default instead.
        if hb.rebalance_timeout_ms <= 0 && hb.member_id.is_empty() {
            return Err((
                INVALID_REQUEST,
                "RebalanceTimeoutMs must be provided in first request".into(),
            ));
        }
        let id = if hb.member_id.is_empty() {
            Uuid::new_v4().to_string()
        } else {
            hb.member_id.clone()
        };
        let mut inherited = None;
        if let Some(inst) = &hb.instance_id {
            if let Some(old) = self.statics.get(inst).cloned() {
                if old != id {
                    if self.members.get(&old).is_some_and(|prev| prev.epoch != -2) {
                        // The previous holder of this instance id has not left: refuse.
                        return Err((
                            UNRELEASED_INSTANCE_ID,
                            format!("Static member with instance id {inst} cannot join the group because the instance id is owned by member {old}"),
                        ));
                    }
                    // The returning static member takes over its predecessor's assignment.
                    inherited = self
                        .members
                        .shift_remove(&old)
                        .map(|m| (m.assigned, m.epoch));
                    if let Some(t) = self.target.remove(&old) {
                        self.target.insert(id.clone(), t);
                    }
                }
            }
            self.statics.insert(inst.clone(), id.clone());
        }
        let (assigned, epoch) = inherited.unwrap_or_default();
        let existed = self.members.contains_key(&id);
        // A rejoin that sends no rebalance timeout keeps the one the member had.
        let rebalance_timeout = if hb.rebalance_timeout_ms > 0 {
            Duration::from_millis(hb.rebalance_timeout_ms as u64)
        } else {
            self.members
                .get(&id)
                .map(|m| m.rebalance_timeout)
                .unwrap_or(Duration::from_millis(DEFAULT_REBALANCE_TIMEOUT_MS))
        };
        self.members.insert(
            id.clone(),
            ConsumerMember {
                id: id.clone(),
                instance_id: hb.instance_id.clone(),
                rack_id: hb.rack_id.clone(),
                client_id: hb.client_id.clone(),
                client_host: hb.client_host.clone(),
                epoch,
                previous_epoch: -1,
                rebalance_timeout,
                subscribed_names: hb.subscribed_names.clone().unwrap_or_default(),
                subscribed_regex: hb.subscribed_regex.clone(),
                server_assignor: hb.server_assignor.clone(),
                assigned,
                pending_revocation: Assignment::new(),
                revocation_deadline: None,
                last_heartbeat: now,
                last_sent: None,
            },
        );
        if !existed {
            self.epoch += 1;
        }
        Ok(id)
    }

    /// Drops regex resolutions no member uses any more.
    fn prune_regexes(&mut self) {
        let in_use: std::collections::HashSet<String> = self
            .members
            .values()
            .filter_map(|m| m.subscribed_regex.clone())
            .collect();
        self.resolved_regexes.retain(|r| in_use.contains(r));
    }

    fn remove(&mut self, id: &str) {
        if let Some(m) = self.members.shift_remove(id) {
            if let Some(i) = &m.instance_id {
                if self.statics.get(i).map(String::as_str) == Some(id) {
                    self.statics.remove(i);
                }
            }
            self.target.remove(id);
            self.epoch += 1;
        }
    }

    fn compute_target(&mut self, view: &TopicView) {
        let assignor = self
            .members
            .values()
            .find_map(|m| m.server_assignor.clone())
            .unwrap_or_else(|| "uniform".into());
        let subs: Vec<(String, BTreeSet<String>)> = self
            .members
            .values()
            .map(|m| (m.id.clone(), member_topics(m, view, &self.resolved_regexes)))
            .collect();
        let current: HashMap<String, Assignment> = self
            .members
            .values()
            .map(|m| {
                (
                    m.id.clone(),
                    self.target
                        .get(&m.id)
                        .cloned()
                        .unwrap_or_else(|| m.assigned.clone()),
                )
            })
            .collect();
        self.target = if assignor == "range" {
            assign_range(&subs, view)
        } else {
            assign_uniform(&subs, view, &current)
        };
        self.assignor = assignor;
        self.assignment_epoch = self.epoch;
        self.snapshot = self.subscribed_topics(view);
    }

    /// Moves one member towards its target: revoke first; add partitions once released.
    fn reconcile(&mut self, id: &str, now: Instant) {
        let target = self.target.get(id).cloned().unwrap_or_default();
        let owned_by_others: Assignment = {
            let mut all = Assignment::new();
            for m in self.members.values().filter(|m| m.id != id) {
                union_into(&mut all, &m.assigned);
                union_into(&mut all, &m.pending_revocation);
            }
            all
        };
        let epoch = self.assignment_epoch;
        let Some(m) = self.members.get_mut(id) else {
            return;
        };
        if !is_empty(&m.pending_revocation) {
            return;
        }
        let revoke = minus(&m.assigned, &target);
        if !is_empty(&revoke) {
            m.assigned = intersect(&m.assigned, &target);
            m.pending_revocation = revoke;
            m.revocation_deadline = Some(now + m.rebalance_timeout);
            return;
        }
        let wanted = minus(&target, &m.assigned);
        let free = minus(&wanted, &owned_by_others);
        union_into(&mut m.assigned, &free);
        if m.epoch != epoch {
            m.previous_epoch = m.epoch;
            m.epoch = epoch;
        }
    }

    /// Session and revocation timeouts. Returns true if membership changed.
    pub fn tick(&mut self, now: Instant) -> bool {
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                now.duration_since(m.last_heartbeat) > self.session_timeout
                    || m.revocation_deadline.is_some_and(|d| now > d)
            })
            .map(|m| m.id.clone())
            .collect();
        for id in &gone {
            tracing::info!("consumer group member {id} timed out; removing it");
            self.remove(id);
        }
        !gone.is_empty()
    }

    /// Validates a commit's member id and epoch (STALE_MEMBER_EPOCH as Kafka answers).
    pub fn validate_commit(&self, member_id: &str, epoch: i32) -> i16 {
        if epoch < 0 && self.members.is_empty() {
            return super::error::NONE;
        }
        if epoch < 0 && member_id.is_empty() {
            return super::error::UNKNOWN_MEMBER_ID;
        }
        match self.members.get(member_id) {
            None => super::error::UNKNOWN_MEMBER_ID,
            Some(m) if epoch > m.epoch => FENCED_MEMBER_EPOCH,
            Some(m) if epoch < m.epoch => STALE_MEMBER_EPOCH,
            Some(_) => super::error::NONE,
        }
    }
}

fn member_topics(
    m: &ConsumerMember,
    view: &TopicView,
    resolved: &std::collections::HashSet<String>,
) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = m
        .subscribed_names
        .iter()
        .filter(|t| view.contains_key(*t))
        .cloned()
        .collect();
    if let Some(re) = m
        .subscribed_regex
        .as_ref()
        .filter(|r| resolved.contains(*r))
    {
        // Every topic in the cluster is a candidate, internal ones included: Kafka's resolver
        // matches the whole metadata image, so `__consumer_offsets` is assigned to a member
        // whose regex names it (filtering internal topics is the client's choice).
        if let Ok(r) = regex::Regex::new(&format!("^(?:{re})$")) {
            out.extend(view.keys().filter(|t| r.is_match(t)).cloned());
        }
    }
    out
}

/// Balanced and sticky: members keep what they had up to their fair share, the rest goes to
/// the least-loaded subscribed member.
fn assign_uniform(
    subs: &[(String, BTreeSet<String>)],
    view: &TopicView,
    current: &HashMap<String, Assignment>,
) -> HashMap<String, Assignment> {
    let mut out: HashMap<String, Assignment> = subs
        .iter()
        .map(|(m, _)| (m.clone(), Assignment::new()))
        .collect();
    let mut load: HashMap<&str, usize> = subs.iter().map(|(m, _)| (m.as_str(), 0)).collect();
    let topics: BTreeSet<&String> = subs.iter().flat_map(|(_, t)| t.iter()).collect();
    let total: usize = topics
        .iter()
        .filter_map(|t| view.get(*t))
        .map(|(_, n)| (*n).max(0) as usize)
        .sum();
    let quota = if subs.is_empty() {
        0
    } else {
        total.div_ceil(subs.len())
    };
    let mut unassigned = Vec::new();
    for t in &topics {
        let Some((id, n)) = view.get(*t) else {
            continue;
        };
        let subscribers: Vec<&str> = subs
            .iter()
            .filter(|(_, ts)| ts.contains(*t))
            .map(|(m, _)| m.as_str())
            .collect();
        for p in 0..*n {
            let prev = subscribers.iter().find(|m| {
                current
                    .get(**m)
                    .and_then(|a| a.get(id))
                    .is_some_and(|ps| ps.contains(&p))
            });
            match prev {
                Some(m) if load[*m] < quota => {
                    out.entry(m.to_string())
                        .or_default()
                        .entry(*id)
                        .or_default()
                        .insert(p);
                    *load.entry(m).or_default() += 1;
                }
                _ => unassigned.push((*id, p, subscribers.clone())),
            }
        }
    }
    for (id, p, subscribers) in unassigned {
        if let Some(m) = subscribers.iter().min_by_key(|m| (load[**m], **m)) {
            out.entry(m.to_string())
                .or_default()
                .entry(id)
                .or_default()
                .insert(p);
            *load.entry(m).or_default() += 1;
        }
    }
    out
}

/// Kafka's range assignor per topic: sorted members get contiguous ranges.
fn assign_range(
    subs: &[(String, BTreeSet<String>)],
    view: &TopicView,
) -> HashMap<String, Assignment> {
    let mut out: HashMap<String, Assignment> = subs
        .iter()
        .map(|(m, _)| (m.clone(), Assignment::new()))
        .collect();
    let topics: BTreeSet<&String> = subs.iter().flat_map(|(_, t)| t.iter()).collect();
    for t in topics {
        let Some((id, n)) = view.get(t) else { continue };
        let mut members: Vec<&String> = subs
            .iter()
            .filter(|(_, ts)| ts.contains(t))
            .map(|(m, _)| m)
            .collect();
        members.sort();
        if members.is_empty() {
            continue;
        }
        let n = (*n).max(0) as usize;
        let per = n / members.len();
        let extra = n % members.len();
        let mut next = 0;
        for (i, m) in members.iter().enumerate() {
            let count = per + usize::from(i < extra);
            let ps: BTreeSet<i32> = (next..next + count).map(|p| p as i32).collect();
            next += count;
            if !ps.is_empty() {
                out.entry((*m).clone()).or_default().insert(*id, ps);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(id: &str, epoch: i32, owned: Option<Assignment>) -> Heartbeat {
        Heartbeat {
            member_id: id.into(),
            member_epoch: epoch,
            instance_id: None,
            rack_id: None,
            rebalance_timeout_ms: 10_000,
            subscribed_names: (epoch == 0).then(|| vec!["t".to_string()]),
            subscribed_regex: None,
            server_assignor: None,
            owned,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
        }
    }

    fn count(a: &Assignment) -> usize {
        a.values().map(BTreeSet::len).sum()
    }

    #[test]
    fn second_member_gets_partitions_only_after_the_first_revokes() {
        let topic = Uuid::new_v4();
        let view: TopicView = [("t".to_string(), (topic, 4))].into_iter().collect();
        let mut g = ConsumerGroup::new(Duration::from_secs(45), Duration::from_secs(5));
        let now = Instant::now();
        let a = g.heartbeat(hb("a", 0, None), &view, now).unwrap();
        assert_eq!(a.member_epoch, 1);
        let a_asg = a.assignment.unwrap();
        assert_eq!(count(&a_asg), 4);
        let b = g.heartbeat(hb("b", 0, None), &view, now).unwrap();
        assert_eq!(
            count(&b.assignment.clone().unwrap_or_default()),
            0,
            "a still owns everything"
        );
        // a is asked to give up two partitions; its epoch stays until it does.
        let a2 = g
            .heartbeat(hb("a", 1, Some(a_asg.clone())), &view, now)
            .unwrap();
        let kept = a2.assignment.unwrap();
        assert_eq!(count(&kept), 2);
        assert_eq!(a2.member_epoch, 1);
        // a acknowledges by reporting only what it kept; then it moves to the new epoch.
        let a3 = g
            .heartbeat(hb("a", 1, Some(kept.clone())), &view, now)
            .unwrap();
        assert_eq!(a3.member_epoch, 2);
        let b2 = g
            .heartbeat(hb("b", b.member_epoch, Some(Assignment::new())), &view, now)
            .unwrap();
        let b_asg = b2.assignment.unwrap();
        assert_eq!(count(&b_asg), 2);
        assert!(is_empty(&intersect(&b_asg, &kept)), "disjoint");
        assert_eq!(g.state_name(), "Stable");
        // A stale epoch is fenced.
        assert_eq!(
            g.heartbeat(hb("a", 7, None), &view, now).err().map(|e| e.0),
            Some(FENCED_MEMBER_EPOCH)
        );
    }

    /// A member that left and comes straight back under its own id without a rebalance
    /// timeout (what librdkafka sends when it resubscribes right after leaving) rejoins; an
    /// anonymous join without one is refused as Kafka refuses it.
    #[test]
    fn rejoin_after_leave_without_a_rebalance_timeout() {
        let topic = Uuid::new_v4();
        let view: TopicView = [("t".to_string(), (topic, 2))].into_iter().collect();
        let mut g = ConsumerGroup::new(Duration::from_secs(45), Duration::from_secs(5));
        let now = Instant::now();
        g.heartbeat(hb("a", 0, None), &view, now).unwrap();
        g.heartbeat(hb("a", -1, None), &view, now).unwrap();
        let mut again = hb("a", 0, None);
        again.rebalance_timeout_ms = -1;
        let r = g.heartbeat(again, &view, now).unwrap();
        assert_eq!(count(&r.assignment.unwrap_or_default()), 2);
        let mut anonymous = hb("", 0, None);
        anonymous.rebalance_timeout_ms = -1;
        assert_eq!(
            g.heartbeat(anonymous, &view, now).err().map(|e| e.0),
            Some(INVALID_REQUEST)
        );
    }

    /// franz-go's Test848RegexBrokerResolves: a regex naming `__consumer_offsets` gets it
    /// assigned, as Kafka resolves regexes against every topic, internal ones included.
    #[test]
    fn regex_resolution_includes_internal_topics() {
        let (offsets, orders) = (Uuid::new_v4(), Uuid::new_v4());
        let view: TopicView = [
            ("__consumer_offsets".to_string(), (offsets, 2)),
            ("orders".to_string(), (orders, 1)),
        ]
        .into_iter()
        .collect();
        let mut g = ConsumerGroup::new(Duration::from_secs(45), Duration::from_secs(5));
        let mut first = hb("a", 0, None);
        first.subscribed_names = None;
        first.subscribed_regex = Some("__consumer_offsets|ord.*".into());
        let now = Instant::now();
        // The regex is resolved after the first heartbeat; the next one carries the target.
        let r = g.heartbeat(first, &view, now).unwrap();
        let next = hb(&r.member_id, r.member_epoch, r.assignment.clone());
        let asg = g.heartbeat(next, &view, now).unwrap().assignment.unwrap();
        assert_eq!(asg.get(&offsets).map(BTreeSet::len), Some(2));
        assert_eq!(asg.get(&orders).map(BTreeSet::len), Some(1));
    }

    #[test]
    fn range_assignor_splits_contiguously() {
        let t = Uuid::new_v4();
        let view: TopicView = [("t".to_string(), (t, 5))].into_iter().collect();
        let subs = vec![
            ("a".to_string(), ["t".to_string()].into()),
            ("b".to_string(), ["t".to_string()].into()),
        ];
        let r = assign_range(&subs, &view);
        assert_eq!(r["a"][&t], [0, 1, 2].into());
        assert_eq!(r["b"][&t], [3, 4].into());
    }
}
