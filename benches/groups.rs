//! Group coordinator benchmark: classic rebalance time, the broker's CPU cost of idle members
//! heartbeating, and KIP-848 convergence. A plain binary (`harness = false`), driven by raw
//! Kafka protocol clients (kafka-protocol's codecs over tokio TCP streams); see
//! `benches/README.md` for what each figure means.
//!
//! 1. **Classic rebalance, 10 members, 100 partitions** against Weir in-process: the time from
//!    sending the last member's JoinGroup to having all 10 JoinGroup responses, and from the
//!    leader's SyncGroup to having all 10 SyncGroup responses. Each rebalance is forced by one
//!    member rejoining with changed subscription metadata; the others learn of it from a
//!    Heartbeat (REBALANCE_IN_PROGRESS), as real members do.
//! 2. **1,000 idle members heartbeating** against the real binary (a separate process): one
//!    group of 1,000 members, Stable, each sending Heartbeat every 3 s; the broker's CPU time
//!    (utime + stime from `/proc/<pid>/stat`) over the window, as % of one core.
//! 3. **KIP-848**: 10 members on ConsumerGroupHeartbeat v0 heartbeating round-robin, as fast as
//!    the answers come, until they hold a balanced, disjoint assignment of all 100 partitions
//!    at one member epoch.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOPIC: &str = "bench-groups";
const PARTITIONS: i32 = 100;
const SESSION_TIMEOUT_MS: i32 = 30_000;
/// Time given to the broker to register requests that were sent untimed, before the timed one.
const SETTLE: Duration = Duration::from_millis(20);

const NONE: i16 = 0;
const REBALANCE_IN_PROGRESS: i16 = 27;
const MEMBER_ID_REQUIRED: i16 = 79;

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a valid value")),
        Err(_) => default,
    }
}

struct Settings {
    parts: Vec<u8>,
    members: usize,
    rebalances: usize,
    idle_members: usize,
    heartbeat_interval_ms: u64,
    heartbeat_secs: f64,
    idle_secs: f64,
    spread: bool,
    kip848_runs: usize,
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            parts: std::env::var("WEIR_BENCH_GROUP_PARTS")
                .unwrap_or_else(|_| "1,2,3".into())
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    s.trim()
                        .parse()
                        .expect("WEIR_BENCH_GROUP_PARTS: e.g. 1,2,3")
                })
                .collect(),
            members: env_or("WEIR_BENCH_GROUP_MEMBERS", 10usize).max(2),
            rebalances: env_or("WEIR_BENCH_REBALANCES", 20usize).max(1),
            idle_members: env_or("WEIR_BENCH_IDLE_MEMBERS", 1000usize).max(1),
            heartbeat_interval_ms: env_or("WEIR_BENCH_HEARTBEAT_INTERVAL_MS", 3000u64).max(1),
            heartbeat_secs: env_or("WEIR_BENCH_HEARTBEAT_SECS", 30.0f64),
            idle_secs: env_or("WEIR_BENCH_HEARTBEAT_IDLE_SECS", 5.0f64),
            spread: env_or("WEIR_BENCH_HEARTBEAT_SPREAD", 1u8) != 0,
            kip848_runs: env_or("WEIR_BENCH_848_RUNS", 10usize),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A raw Kafka protocol connection: requests may be sent ahead and their responses read later,
// in order.

struct Conn {
    stream: TcpStream,
    correlation: i32,
    in_flight: VecDeque<(ApiKey, i16, i32)>,
}

impl Conn {
    async fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            stream,
            correlation: 0,
            in_flight: VecDeque::new(),
        }
    }

    async fn send<Req: Encodable>(&mut self, api: ApiKey, version: i16, req: &Req) {
        self.correlation += 1;
        let mut header = RequestHeader::default();
        header.request_api_key = api as i16;
        header.request_api_version = version;
        header.correlation_id = self.correlation;
        header.client_id = Some(StrBytes::from_static_str("weir-bench"));
        let mut buf = BytesMut::with_capacity(128);
        buf.put_i32(0);
        header
            .encode(&mut buf, api.request_header_version(version))
            .expect("encode header");
        req.encode(&mut buf, version).expect("encode body");
        let len = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf).await.expect("send");
        self.in_flight.push_back((api, version, self.correlation));
    }

    /// The response to the oldest request in flight.
    async fn recv<Resp: Decodable>(&mut self) -> Resp {
        let (api, version, correlation) = self.in_flight.pop_front().expect("nothing in flight");
        let n = self.stream.read_i32().await.expect("response length");
        let mut buf = vec![0u8; n.max(0) as usize];
        self.stream
            .read_exact(&mut buf)
            .await
            .expect("response body");
        let mut b = Bytes::from(buf);
        let h = ResponseHeader::decode(&mut b, api.response_header_version(version))
            .expect("response header");
        assert_eq!(h.correlation_id, correlation, "{api:?} correlation id");
        Resp::decode(&mut b, version).expect("decode response")
    }

    async fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        req: &Req,
    ) -> Resp {
        self.send(api, version, req).await;
        self.recv().await
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn group_id(g: &str) -> GroupId {
    GroupId(s(g))
}

/// ConsumerProtocolSubscription v0: one topic, 4 bytes of user data (`version`, so a member can
/// change its metadata and force a rebalance).
fn subscription(version: u32) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(1);
    b.put_i16(TOPIC.len() as i16);
    b.put_slice(TOPIC.as_bytes());
    b.put_i32(4);
    b.put_u32(version);
    b.freeze()
}

/// ConsumerProtocolAssignment v0 for one topic's partitions.
fn assignment(partitions: &[i32]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(1);
    b.put_i16(TOPIC.len() as i16);
    b.put_slice(TOPIC.as_bytes());
    b.put_i32(partitions.len() as i32);
    for p in partitions {
        b.put_i32(*p);
    }
    b.put_i32(-1);
    b.freeze()
}

/// Round-robin assignment of the topic's partitions over `ids`, as the leader sends it.
fn assignments(ids: &[String]) -> Vec<sync_group_request::SyncGroupRequestAssignment> {
    let mut per: Vec<Vec<i32>> = vec![Vec::new(); ids.len()];
    for p in 0..PARTITIONS {
        per[p as usize % ids.len()].push(p);
    }
    ids.iter()
        .zip(per)
        .map(|(id, ps)| {
            let mut a = sync_group_request::SyncGroupRequestAssignment::default();
            a.member_id = s(id);
            a.assignment = assignment(&ps);
            a
        })
        .collect()
}

fn join_request(group: &str, member_id: &str, meta: u32, rebalance_ms: i32) -> JoinGroupRequest {
    let mut p = join_group_request::JoinGroupRequestProtocol::default();
    p.name = StrBytes::from_static_str("range");
    p.metadata = subscription(meta);
    JoinGroupRequest::default()
        .with_group_id(group_id(group))
        .with_session_timeout_ms(SESSION_TIMEOUT_MS)
        .with_rebalance_timeout_ms(rebalance_ms)
        .with_member_id(s(member_id))
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_protocols(vec![p])
}

fn sync_request(
    group: &str,
    generation: i32,
    member_id: &str,
    assignments: Vec<sync_group_request::SyncGroupRequestAssignment>,
) -> SyncGroupRequest {
    SyncGroupRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id(generation)
        .with_member_id(s(member_id))
        .with_protocol_type(Some(StrBytes::from_static_str("consumer")))
        .with_protocol_name(Some(StrBytes::from_static_str("range")))
        .with_assignments(assignments)
}

fn heartbeat_request(group: &str, generation: i32, member_id: &str) -> HeartbeatRequest {
    HeartbeatRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id(generation)
        .with_member_id(s(member_id))
}

async fn create_topic(addr: SocketAddr) {
    let mut c = Conn::connect(addr).await;
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = TopicName(s(TOPIC));
    t.num_partitions = PARTITIONS;
    t.replication_factor = 1;
    let r: CreateTopicsResponse = c
        .call(
            ApiKey::CreateTopics,
            7,
            &CreateTopicsRequest::default()
                .with_topics(vec![t])
                .with_timeout_ms(30_000),
        )
        .await;
    assert_eq!(r.topics[0].error_code, NONE, "CreateTopics {TOPIC}");
    // As a client would: FindCoordinator first. This also creates __consumer_offsets, so the
    // first timed rebalance does not pay for it.
    let r: FindCoordinatorResponse = c
        .call(
            ApiKey::FindCoordinator,
            3,
            &FindCoordinatorRequest::default().with_key(s("bench")),
        )
        .await;
    assert_eq!(r.error_code, NONE, "FindCoordinator");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Nearest-rank percentile of an ascending slice.
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

// ---------------------------------------------------------------------------------------------
// 1. Classic rebalance time.

struct Member {
    conn: Conn,
    id: String,
    generation: i32,
    meta: u32,
}

impl Member {
    async fn send_join(&mut self, group: &str) {
        let req = join_request(group, &self.id, self.meta, 60_000);
        self.conn.send(ApiKey::JoinGroup, 9, &req).await;
    }
}

/// Every member rejoins (the `trigger` member's JoinGroup is already in flight); returns the
/// timed parts in ms: last JoinGroup sent → all JoinGroup responses, and leader's SyncGroup
/// sent → all SyncGroup responses.
async fn rebalance(members: &mut [Member], group: &str, trigger: Option<usize>) -> (f64, f64) {
    let n = members.len();
    let last = (0..n)
        .rev()
        .find(|i| Some(*i) != trigger)
        .expect("two members");
    for (i, m) in members.iter_mut().enumerate() {
        if Some(i) != trigger && i != last {
            m.send_join(group).await;
        }
    }
    tokio::time::sleep(SETTLE).await;
    let t0 = Instant::now();
    members[last].send_join(group).await;
    let mut leader = String::new();
    let mut generation = None;
    for m in members.iter_mut() {
        let r: JoinGroupResponse = m.conn.recv().await;
        assert_eq!(r.error_code, NONE, "JoinGroup of {}", m.id);
        assert!(
            generation.is_none_or(|g| g == r.generation_id),
            "one generation"
        );
        generation = Some(r.generation_id);
        m.generation = r.generation_id;
        leader = r.leader.to_string();
    }
    let join_ms = ms(t0.elapsed());

    let leader_idx = members
        .iter()
        .position(|m| m.id == leader)
        .expect("the leader is a member");
    for (i, m) in members.iter_mut().enumerate() {
        if i != leader_idx {
            let req = sync_request(group, m.generation, &m.id, Vec::new());
            m.conn.send(ApiKey::SyncGroup, 5, &req).await;
        }
    }
    let ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    let leader_req = sync_request(
        group,
        members[leader_idx].generation,
        &leader,
        assignments(&ids),
    );
    tokio::time::sleep(SETTLE).await;
    let t1 = Instant::now();
    members[leader_idx]
        .conn
        .send(ApiKey::SyncGroup, 5, &leader_req)
        .await;
    for m in members.iter_mut() {
        let r: SyncGroupResponse = m.conn.recv().await;
        assert_eq!(r.error_code, NONE, "SyncGroup of {}", m.id);
        assert!(!r.assignment.is_empty(), "an assignment for {}", m.id);
    }
    let sync_ms = ms(t1.elapsed());
    (join_ms, sync_ms)
}

struct ClassicResult {
    first: (f64, f64),
    joins: Vec<f64>,
    syncs: Vec<f64>,
}

async fn classic(addr: SocketAddr, n: usize, rebalances: usize) -> ClassicResult {
    let group = "bench-classic";
    let mut members = Vec::with_capacity(n);
    for _ in 0..n {
        let mut conn = Conn::connect(addr).await;
        // KIP-394: the first JoinGroup only fetches a member id.
        let r: JoinGroupResponse = conn
            .call(ApiKey::JoinGroup, 9, &join_request(group, "", 0, 60_000))
            .await;
        assert_eq!(r.error_code, MEMBER_ID_REQUIRED, "first JoinGroup");
        members.push(Member {
            conn,
            id: r.member_id.to_string(),
            generation: -1,
            meta: 0,
        });
    }
    let first = rebalance(&mut members, group, None).await;
    let mut joins = Vec::new();
    let mut syncs = Vec::new();
    for round in 0..rebalances {
        let k = round % n;
        members[k].meta += 1;
        members[k].send_join(group).await;
        // The others find out from their next heartbeat, as real members do.
        for (i, m) in members.iter_mut().enumerate() {
            if i == k {
                continue;
            }
            loop {
                let req = heartbeat_request(group, m.generation, &m.id);
                let r: HeartbeatResponse = m.conn.call(ApiKey::Heartbeat, 4, &req).await;
                if r.error_code == REBALANCE_IN_PROGRESS {
                    break;
                }
                assert_eq!(r.error_code, NONE, "Heartbeat");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let (j, s) = rebalance(&mut members, group, Some(k)).await;
        joins.push(j);
        syncs.push(s);
    }
    ClassicResult {
        first,
        joins: sorted(joins),
        syncs: sorted(syncs),
    }
}

// ---------------------------------------------------------------------------------------------
// 3. KIP-848.

type Owned = BTreeMap<uuid::Uuid, BTreeSet<i32>>;

struct Member848 {
    conn: Conn,
    id: String,
    epoch: i32,
    owned: Owned,
}

fn owned_wire(o: &Owned) -> Vec<consumer_group_heartbeat_request::TopicPartitions> {
    o.iter()
        .map(|(id, ps)| {
            let mut t = consumer_group_heartbeat_request::TopicPartitions::default();
            t.topic_id = *id;
            t.partitions = ps.iter().copied().collect();
            t
        })
        .collect()
}

impl Member848 {
    async fn heartbeat(&mut self, group: &str, first: bool) {
        let mut req = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(group_id(group))
            .with_member_id(s(&self.id))
            .with_member_epoch(self.epoch)
            .with_rebalance_timeout_ms(if first { 30_000 } else { -1 })
            .with_topic_partitions(Some(owned_wire(&self.owned)));
        if first {
            req = req.with_subscribed_topic_names(Some(vec![TopicName(s(TOPIC))]));
        }
        let r: ConsumerGroupHeartbeatResponse = self
            .conn
            .call(ApiKey::ConsumerGroupHeartbeat, 0, &req)
            .await;
        assert_eq!(
            r.error_code, NONE,
            "ConsumerGroupHeartbeat: {:?}",
            r.error_message
        );
        if let Some(id) = r.member_id {
            self.id = id.to_string();
        }
        self.epoch = r.member_epoch;
        if let Some(a) = r.assignment {
            self.owned = a
                .topic_partitions
                .iter()
                .map(|t| (t.topic_id, t.partitions.iter().copied().collect()))
                .collect();
        }
    }
}

/// All members at one epoch, each with its fair share, together holding every partition once.
fn converged(members: &[Member848]) -> bool {
    let epoch = members[0].epoch;
    let n = members.len() as i32;
    let mut all = BTreeSet::new();
    let mut total = 0;
    for m in members {
        if m.epoch != epoch || m.epoch <= 0 {
            return false;
        }
        let count: i32 = m.owned.values().map(|ps| ps.len() as i32).sum();
        if count < PARTITIONS / n || count > (PARTITIONS + n - 1) / n {
            return false;
        }
        total += count;
        for (t, ps) in &m.owned {
            all.extend(ps.iter().map(|p| (*t, *p)));
        }
    }
    total == PARTITIONS && all.len() == PARTITIONS as usize
}

/// One run on a new group: ms to converge, and how many heartbeats that took.
async fn kip848_once(addr: SocketAddr, group: &str, n: usize) -> (f64, usize) {
    let mut members = Vec::with_capacity(n);
    for _ in 0..n {
        members.push(Member848 {
            conn: Conn::connect(addr).await,
            id: String::new(),
            epoch: 0,
            owned: Owned::new(),
        });
    }
    let t0 = Instant::now();
    let mut heartbeats = 0;
    for m in members.iter_mut() {
        m.heartbeat(group, true).await;
        heartbeats += 1;
    }
    'outer: while !converged(&members) {
        for i in 0..n {
            members[i].heartbeat(group, false).await;
            heartbeats += 1;
            if converged(&members) {
                break 'outer;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "KIP-848 group {group} did not converge in 60 s"
            );
        }
    }
    let took = ms(t0.elapsed());
    // The broker agrees: the group is Stable.
    let d: ConsumerGroupDescribeResponse = members[0]
        .conn
        .call(
            ApiKey::ConsumerGroupDescribe,
            0,
            &ConsumerGroupDescribeRequest::default().with_group_ids(vec![group_id(group)]),
        )
        .await;
    assert_eq!(
        d.groups[0].group_state.as_str(),
        "Stable",
        "broker's view of {group}"
    );
    for m in members.iter_mut() {
        m.epoch = -1;
        m.heartbeat(group, false).await;
    }
    (took, heartbeats)
}

// ---------------------------------------------------------------------------------------------
// 2. 1,000 idle members against the real binary.

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let rest = &stat[stat.rfind(')').expect("stat comm") + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

fn raise_fd_limit(want: libc::rlim_t) {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on a valid, initialised struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return;
        }
        if rl.rlim_cur < want {
            rl.rlim_cur = rl.rlim_max.min(want);
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        }
    }
}

fn fd_limit() -> libc::rlim_t {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: as above.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    rl.rlim_cur
}

struct Weir {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Weir {
    /// Starts `target/release/weir` on a free port and waits for "weir started".
    fn start(bin: &Path) -> Weir {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let mut cmd = Command::new(bin);
        // Weir reads WEIR_* variables as config; the bench's knobs are not broker settings.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("WEIR_") {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd
            .arg("--override")
            .arg(format!("listeners=PLAINTEXT://{addr}"))
            .arg("--override")
            .arg(format!("log.dirs={}", dir.path().join("data").display()))
            .arg("--override")
            .arg("group.initial.rebalance.delay.ms=0")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn weir");
        let (tx, rx) = mpsc::channel::<String>();
        let out = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        let err = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        for stream in [out, err].into_iter().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                // Keep draining after the start line, so the child never blocks on a full pipe;
                // warnings and errors are echoed.
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if line.contains("WARN") || line.contains("ERROR") {
                        eprintln!("  weir: {line}");
                    }
                    let _ = tx.send(line);
                }
            });
        }
        drop(tx);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) if line.contains("weir started") => break,
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!("weir exited during startup"),
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("weir exited during startup: {status}");
            }
            assert!(Instant::now() < deadline, "weir did not start in 30 s");
        }
        Weir {
            child,
            addr,
            _dir: dir,
        }
    }

    fn stop(mut self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct IdleResult {
    form_ms: f64,
    idle_pct: f64,
    idle_ticks: u64,
    idle_secs: f64,
    hb_pct: f64,
    hb_secs: f64,
    rtt_ms: Vec<f64>,
    errors: usize,
    bench_pct: f64,
    rss_kib: Option<u64>,
}

/// One member: join (KIP-394 dance), sync, report ready, then heartbeat on schedule.
/// When the idle members heartbeat.
#[derive(Clone, Copy)]
struct Schedule {
    members: usize,
    interval: Duration,
    window: Duration,
    spread: bool,
}

async fn idle_member(
    mut conn: Conn,
    idx: usize,
    sched: Schedule,
    ready: tokio::sync::mpsc::Sender<()>,
    mut go: tokio::sync::watch::Receiver<Option<Instant>>,
) -> (Vec<f64>, usize) {
    let group = "bench-idle";
    let rebalance_ms = 300_000;
    let r: JoinGroupResponse = conn
        .call(
            ApiKey::JoinGroup,
            9,
            &join_request(group, "", 0, rebalance_ms),
        )
        .await;
    assert_eq!(r.error_code, MEMBER_ID_REQUIRED, "first JoinGroup");
    let id = r.member_id.to_string();
    let r: JoinGroupResponse = conn
        .call(
            ApiKey::JoinGroup,
            9,
            &join_request(group, &id, 0, rebalance_ms),
        )
        .await;
    assert_eq!(r.error_code, NONE, "JoinGroup of member {idx}");
    let generation = r.generation_id;
    let given = if r.leader.as_str() == id {
        let ids: Vec<String> = r.members.iter().map(|m| m.member_id.to_string()).collect();
        assert_eq!(ids.len(), sched.members, "the leader sees every member");
        assignments(&ids)
    } else {
        Vec::new()
    };
    let r: SyncGroupResponse = conn
        .call(
            ApiKey::SyncGroup,
            5,
            &sync_request(group, generation, &id, given),
        )
        .await;
    assert_eq!(r.error_code, NONE, "SyncGroup of member {idx}");
    ready.send(()).await.expect("ready");
    drop(ready);
    let start = loop {
        if let Some(t) = *go.borrow_and_update() {
            break t;
        }
        go.changed().await.expect("go");
    };
    // Spread the members' heartbeats evenly over the interval, as independently started
    // consumers would be (or all at once, in bursts, with WEIR_BENCH_HEARTBEAT_SPREAD=0).
    let end = start + sched.window;
    let offset = if sched.spread {
        idx as f64 / sched.members as f64
    } else {
        0.0
    };
    let mut next = start + sched.interval.mul_f64(offset);
    let mut rtts = Vec::new();
    let mut errors = 0;
    let req = heartbeat_request(group, generation, &id);
    while next < end {
        tokio::time::sleep_until(next.into()).await;
        let t = Instant::now();
        let r: HeartbeatResponse = conn.call(ApiKey::Heartbeat, 4, &req).await;
        rtts.push(ms(t.elapsed()));
        if r.error_code != NONE {
            errors += 1;
        }
        next += sched.interval;
    }
    (rtts, errors)
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn idle_members(weir: &Weir, st: &Settings) -> IdleResult {
    let n = st.idle_members;
    let pid = weir.child.id();
    create_topic(weir.addr).await;
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(Conn::connect(weir.addr).await);
    }
    let interval = Duration::from_millis(st.heartbeat_interval_ms);
    let window = Duration::from_secs_f64(st.heartbeat_secs);
    let sched = Schedule {
        members: n,
        interval,
        window,
        spread: st.spread,
    };
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(n);
    let (go_tx, go_rx) = tokio::sync::watch::channel(None);
    let t0 = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(idle_member(c, i, sched, ready_tx.clone(), go_rx.clone())))
        .collect();
    drop(ready_tx);
    for _ in 0..n {
        ready_rx.recv().await.expect("a member failed to join");
    }
    let form_ms = ms(t0.elapsed());
    println!(
        "  {n} members joined and synced in {form_ms:.0} ms; idle for {:.0} s",
        st.idle_secs
    );

    // Baseline: every member Stable and connected, nobody heartbeating.
    let tck = clk_tck();
    let me = std::process::id();
    let (c0, w0) = (cpu_ticks(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs_f64(st.idle_secs)).await;
    let (c1, w1) = (cpu_ticks(pid), Instant::now());
    let idle_secs = (w1 - w0).as_secs_f64();
    let idle_pct = (c1 - c0) as f64 / tck / idle_secs * 100.0;

    println!(
        "  heartbeating every {} ms for {:.0} s",
        st.heartbeat_interval_ms, st.heartbeat_secs
    );
    let bench0 = cpu_ticks(me);
    let c2 = cpu_ticks(pid);
    let start = Instant::now();
    go_tx.send(Some(start)).expect("go");
    tokio::time::sleep_until((start + window).into()).await;
    let c3 = cpu_ticks(pid);
    let hb_secs = start.elapsed().as_secs_f64();
    let bench1 = cpu_ticks(me);
    let rss_kib = vm_rss_kib(pid);
    let hb_pct = (c3 - c2) as f64 / tck / hb_secs * 100.0;
    let bench_pct = (bench1 - bench0) as f64 / tck / hb_secs * 100.0;

    let mut rtt_ms = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (r, e) = t.await.expect("member task");
        rtt_ms.extend(r);
        errors += e;
    }
    IdleResult {
        form_ms,
        idle_pct,
        idle_ticks: c1 - c0,
        idle_secs,
        hb_pct,
        hb_secs,
        rtt_ms: sorted(rtt_ms),
        errors,
        bench_pct,
        rss_kib,
    }
}

// ---------------------------------------------------------------------------------------------

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn main() {
    let st = Settings::from_env();
    let want_fds = (st.idle_members as libc::rlim_t) * 2 + 256;
    raise_fd_limit(want_fds);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    println!(
        "weir group benchmark: {} members × {} rebalances, {} idle members heartbeating every {} ms for {} s, topic of {PARTITIONS} partitions",
        st.members, st.rebalances, st.idle_members, st.heartbeat_interval_ms, st.heartbeat_secs
    );
    let mut rows: Vec<(String, String, String)> = Vec::new();

    if st.parts.contains(&1) || st.parts.contains(&3) {
        // Weir in-process, on its own 2-thread runtime.
        let broker_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("weir-broker")
            .enable_all()
            .build()
            .expect("broker runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = weir::Config::for_test(dir.path());
        config
            .set("group.initial.rebalance.delay.ms", "0")
            .expect("config");
        let handle = broker_rt
            .block_on(weir::Broker::start(config))
            .expect("broker start");
        let addr = handle.local_addr();
        rt.block_on(create_topic(addr));

        if st.parts.contains(&1) {
            println!(
                "1. classic rebalance, {} members, {PARTITIONS} partitions (in-process, {addr})",
                st.members
            );
            let r = rt.block_on(classic(addr, st.members, st.rebalances));
            println!(
                "  first formation: join {:.2} ms, sync {:.2} ms",
                r.first.0, r.first.1
            );
            for (what, v) in [("join", &r.joins), ("sync", &r.syncs)] {
                println!(
                    "  {what} over {} rebalances: min {:.2} ms, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    v.len(),
                    v[0],
                    pct(v, 50.0),
                    pct(v, 99.0),
                    v[v.len() - 1]
                );
            }
            let total: Vec<f64> =
                sorted(r.joins.iter().zip(&r.syncs).map(|(j, s)| j + s).collect());
            let p99 = pct(&total, 99.0);
            for (what, v) in [
                ("join: last JoinGroup → all responses", &r.joins),
                ("sync: leader SyncGroup → all responses", &r.syncs),
            ] {
                rows.push((
                    format!("classic rebalance, {} members, {what}", st.members),
                    format!(
                        "min {:.2} / p50 {:.2} / p99 {:.2} ms",
                        v[0],
                        pct(v, 50.0),
                        pct(v, 99.0)
                    ),
                    String::new(),
                ));
            }
            rows.push((
                format!("classic rebalance, {} members, join + sync", st.members),
                format!(
                    "min {:.2} / p50 {:.2} / p99 {:.2} ms",
                    total[0],
                    pct(&total, 50.0),
                    p99
                ),
                format!("< 100 ms p99: {}", verdict(p99 < 100.0)),
            ));
        }

        if st.parts.contains(&3) && st.kip848_runs > 0 {
            println!(
                "3. KIP-848 (ConsumerGroupHeartbeat v0), {} members, {PARTITIONS} partitions, {} runs",
                st.members, st.kip848_runs
            );
            let mut times = Vec::new();
            let mut hbs = Vec::new();
            for run in 0..st.kip848_runs {
                let (t, h) =
                    rt.block_on(kip848_once(addr, &format!("bench-848-{run}"), st.members));
                times.push(t);
                hbs.push(h as f64);
            }
            let times = sorted(times);
            let hbs = sorted(hbs);
            println!(
                "  converged in min {:.2} ms, p50 {:.2} ms, max {:.2} ms; heartbeats needed: min {}, p50 {}, max {}",
                times[0],
                pct(&times, 50.0),
                times[times.len() - 1],
                hbs[0],
                pct(&hbs, 50.0),
                hbs[hbs.len() - 1]
            );
            rows.push((
                format!(
                    "KIP-848, {} members: first heartbeat → balanced & stable",
                    st.members
                ),
                format!(
                    "min {:.2} / p50 {:.2} / max {:.2} ms ({} heartbeats p50)",
                    times[0],
                    pct(&times, 50.0),
                    times[times.len() - 1],
                    pct(&hbs, 50.0)
                ),
                "(back-to-back heartbeats)".into(),
            ));
        }
        broker_rt.block_on(handle.shutdown());
    }

    if st.parts.contains(&2) {
        let bin = Path::new(env!("CARGO_BIN_EXE_weir"));
        println!(
            "2. {} idle members, one group, heartbeat every {} ms ({}; fd limit {})",
            st.idle_members,
            st.heartbeat_interval_ms,
            bin.display(),
            fd_limit()
        );
        let weir = Weir::start(bin);
        let r = rt.block_on(idle_members(&weir, &st));
        weir.stop();
        let rtt = &r.rtt_ms;
        println!(
            "  broker CPU: {:.2}% of a core with {} heartbeats/s{} over {:.1} s ({:.2}% = {} tick(s) of {} ms with no heartbeats, over {:.1} s); bench process {:.2}%; broker RSS {} MiB",
            r.hb_pct,
            (st.idle_members as f64 * 1000.0 / st.heartbeat_interval_ms as f64).round(),
            if st.spread { " (spread evenly)" } else { " (in bursts)" },
            r.hb_secs,
            r.idle_pct,
            r.idle_ticks,
            1000.0 / clk_tck(),
            r.idle_secs,
            r.bench_pct,
            r.rss_kib.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0))
        );
        println!(
            "  heartbeat round trip over {} heartbeats ({} errors): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            rtt.len(),
            r.errors,
            pct(rtt, 50.0),
            pct(rtt, 99.0),
            rtt.last().copied().unwrap_or(f64::NAN)
        );
        rows.push((
            format!("group of {} members formed (join + sync)", st.idle_members),
            format!("{:.0} ms", r.form_ms),
            String::new(),
        ));
        rows.push((
            format!(
                "{} idle members heartbeating every {} ms: broker CPU",
                st.idle_members, st.heartbeat_interval_ms
            ),
            format!(
                "{:.2}% of a core ({:.2}% without heartbeats)",
                r.hb_pct, r.idle_pct
            ),
            format!("< 5%: {}", verdict(r.hb_pct < 5.0 && r.errors == 0)),
        ));
        rows.push((
            "heartbeat round trip".into(),
            format!("p50 {:.3} / p99 {:.3} ms", pct(rtt, 50.0), pct(rtt, 99.0)),
            String::new(),
        ));
    }

    println!();
    let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    for (a, b, c) in &rows {
        println!("{a:<w0$}  {b:<w1$}  {c}");
    }
}
