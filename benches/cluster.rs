//! Cluster benchmark: three real `weir` release binaries (child processes on free loopback
//! ports, Kafka KRaft combined nodes; node 1 runs the controller) driven by librdkafka.
//!
//! 1. Produce throughput and latency for RF 1 / RF 3 and acks=1 / acks=all.
//! 2. Failover: kill -9 (and SIGTERM) of a partition leader while a producer sends acks=all,
//!    timed from the signal to the first acknowledged produce after it.
//!
//! Run with `cargo bench --bench cluster`; see `benches/README.md` for the knobs. Figures are
//! printed, never asserted.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer,
};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;
#[path = "support/mod.rs"]
mod support;
use support::{env_or, settle, CountingContext};

const SMALL: usize = 100;
const LARGE: usize = 10 * 1024;

// ---------------------------------------------------------------------------------------------
// Settings

struct Settings {
    parts: Vec<u32>,
    small_records: usize,
    large_records: usize,
    sizes: Vec<usize>,
    partitions: usize,
    linger_ms: u64,
    rounds: usize,
    latency_rate: f64,
    latency_secs: f64,
    latency_warmup_secs: f64,
    latency_linger_ms: u64,
    failover_runs: usize,
    failover_rate: f64,
    session_timeouts: Vec<u64>,
    kinds: Vec<String>,
    heartbeat_ms: Option<u64>,
    keep: bool,
}

fn list<T: std::str::FromStr>(var: &str, default: &str) -> Vec<T> {
    std::env::var(var)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| {
            x.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{var}: {x:?} is not a number"))
        })
        .collect()
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            parts: list("WEIR_BENCH_CLUSTER_PARTS", "1,2"),
            small_records: env_or("WEIR_BENCH_CLUSTER_RECORDS", 500_000),
            large_records: env_or("WEIR_BENCH_CLUSTER_LARGE_RECORDS", 30_000),
            sizes: list("WEIR_BENCH_SIZES", &format!("{SMALL},{LARGE}")),
            partitions: env_or("WEIR_BENCH_PARTITIONS", 3usize).max(1),
            linger_ms: env_or("WEIR_BENCH_LINGER_MS", 10),
            rounds: env_or("WEIR_BENCH_ROUNDS", 2usize).max(1),
            latency_rate: env_or("WEIR_BENCH_LATENCY_RATE", 1000.0),
            latency_secs: env_or("WEIR_BENCH_LATENCY_SECS", 5.0),
            latency_warmup_secs: env_or("WEIR_BENCH_LATENCY_WARMUP_SECS", 1.0),
            latency_linger_ms: env_or("WEIR_BENCH_LATENCY_LINGER_MS", 1),
            failover_runs: env_or("WEIR_BENCH_FAILOVER_RUNS", 3usize),
            failover_rate: env_or("WEIR_BENCH_FAILOVER_RATE", 1000.0),
            session_timeouts: list("WEIR_BENCH_SESSION_TIMEOUTS", "9000,3000"),
            kinds: list("WEIR_BENCH_FAILOVER_KINDS", "kill,term"),
            heartbeat_ms: std::env::var("WEIR_BENCH_HEARTBEAT_INTERVAL_MS")
                .ok()
                .map(|v| v.parse().expect("WEIR_BENCH_HEARTBEAT_INTERVAL_MS")),
            keep: env_or("WEIR_BENCH_KEEP", 0u8) != 0,
        }
    }

    fn count_for(&self, size: usize) -> usize {
        if size >= LARGE {
            self.large_records
        } else {
            self.small_records
        }
    }
}

/// Kafka's default heartbeat interval is 2000 ms; with a shorter session timeout a broker gets
/// at least three heartbeats per session.
fn heartbeat_for(s: &Settings, session_ms: u64) -> u64 {
    s.heartbeat_ms.unwrap_or((session_ms / 3).min(2000))
}

// ---------------------------------------------------------------------------------------------
// A cluster of `weir` processes

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Node {
    id: i32,
    port: u16,
    ctl_port: u16,
    data: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

struct ProcCluster {
    bin: PathBuf,
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    nodes: Vec<Node>,
    props: Vec<(String, String)>,
}

/// `name=value,...` from `var`.
fn kv_list(var: &str) -> Vec<(String, String)> {
    let Ok(list) = std::env::var(var) else {
        return Vec::new();
    };
    // A part without `=` continues the previous value (`debug=broker,topic`).
    let mut out: Vec<(String, String)> = Vec::new();
    for kv in list.split(',').filter(|kv| !kv.trim().is_empty()) {
        match kv.split_once('=') {
            Some((k, v)) => out.push((k.trim().to_string(), v.trim().to_string())),
            None => match out.last_mut() {
                Some((_, v)) => {
                    v.push(',');
                    v.push_str(kv.trim());
                }
                None => panic!("{var}: expected name=value, got {kv:?}"),
            },
        }
    }
    out
}

impl ProcCluster {
    fn start(bin: &Path, n: usize, extra: &[(&str, String)], keep: bool) -> ProcCluster {
        let dir = tempfile::Builder::new()
            .prefix("weir-bench-cluster-")
            .tempdir()
            .expect("tempdir");
        let (dir, root) = if keep {
            // Data and logs stay for inspection.
            #[allow(deprecated)]
            let root = dir.into_path();
            (None, root)
        } else {
            let root = dir.path().to_path_buf();
            (Some(dir), root)
        };
        let nodes = (1..=n as i32)
            .map(|id| Node {
                id,
                port: free_port(),
                ctl_port: free_port(),
                data: root.join(format!("data-{id}")),
                log: root.join(format!("weir-{id}.log")),
                child: None,
            })
            .collect();
        let mut props: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        props.extend(kv_list("WEIR_BENCH_BROKER_CONFIG"));
        let mut c = ProcCluster {
            bin: bin.to_path_buf(),
            dir,
            root,
            nodes,
            props,
        };
        for i in 0..n {
            c.start_node(i);
        }
        c.wait_for_brokers(n, Duration::from_secs(60));
        c
    }

    fn voters(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("{}@127.0.0.1:{}", n.id, n.ctl_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn start_node(&mut self, i: usize) {
        let voters = self.voters();
        let node = &self.nodes[i];
        let mut props = vec![
            ("node.id".to_string(), node.id.to_string()),
            ("process.roles".into(), "broker,controller".into()),
            (
                "listeners".into(),
                format!(
                    "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
                    node.port, node.ctl_port
                ),
            ),
            ("controller.listener.names".into(), "CONTROLLER".into()),
            (
                "listener.security.protocol.map".into(),
                "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT".into(),
            ),
            ("controller.quorum.voters".into(), voters),
            ("log.dirs".into(), node.data.display().to_string()),
            ("broker.rack".into(), format!("rack{}", node.id)),
        ];
        props.extend(self.props.iter().cloned());
        let file = self.root.join(format!("weir-{}.properties", node.id));
        let text: String = props.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(&file, text).expect("write properties");
        let log = File::options()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("log file");
        let mut cmd = Command::new(&self.bin);
        // Weir reads WEIR_* variables as config; the bench's own knobs would be rejected.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("WEIR_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .arg("serve")
            .arg(&file)
            .env(
                "RUST_LOG",
                std::env::var("WEIR_BENCH_BROKER_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn weir");
        let addr = format!("127.0.0.1:{}", node.port);
        let node = &mut self.nodes[i];
        node.child = Some(child);
        let start = Instant::now();
        while TcpStream::connect(&addr).is_err() {
            if let Ok(Some(st)) = node.child.as_mut().unwrap().try_wait() {
                panic!(
                    "node {} exited during startup ({st}); see {}",
                    node.id,
                    node.log.display()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "node {} not accepting",
                node.id
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].child.as_ref().map(|c| c.id())
    }

    fn signal(&self, i: usize, sig: libc::c_int) {
        let pid = self.pid(i).expect("node running");
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(pid as libc::pid_t, sig);
        }
    }

    /// Waits (bounded) for node `i` to exit; returns when it did.
    fn reap(&mut self, i: usize, limit: Duration) -> Option<Instant> {
        let child = self.nodes[i].child.as_mut()?;
        let start = Instant::now();
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                let at = Instant::now();
                self.nodes[i].child = None;
                return Some(at);
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                self.nodes[i].child = None;
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn index_of(&self, id: i32) -> usize {
        self.nodes.iter().position(|n| n.id == id).expect("node id")
    }

    fn metadata_client(&self) -> BaseProducer {
        ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("broker.address.family", "v4")
            .create()
            .expect("metadata client")
    }

    /// A new client bootstrapped from node 1 only: its first metadata request goes to node 1,
    /// whose image is the controller's own log (another broker may answer with an older one).
    fn controller_view(&self) -> BaseProducer {
        ClientConfig::new()
            .set(
                "bootstrap.servers",
                format!("127.0.0.1:{}", self.nodes[0].port),
            )
            .set("broker.address.family", "v4")
            .create()
            .expect("metadata client")
    }

    fn wait_for_brokers(&self, n: usize, limit: Duration) {
        let client = self.metadata_client();
        let start = Instant::now();
        loop {
            if let Ok(md) = client.client().fetch_metadata(None, Duration::from_secs(2)) {
                if md.brokers().len() >= n {
                    return;
                }
            }
            assert!(
                start.elapsed() < limit,
                "fewer than {n} brokers registered after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn admin(&self) -> AdminClient<DefaultClientContext> {
        ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("broker.address.family", "v4")
            .create()
            .expect("admin client")
    }

    fn create_topic(&self, topic: &str, partitions: usize, rf: i32, min_isr: Option<i32>) {
        let admin = self.admin();
        let min = min_isr.map(|m| m.to_string());
        let mut t = NewTopic::new(topic, partitions as i32, TopicReplication::Fixed(rf));
        if let Some(m) = &min {
            t = t.set("min.insync.replicas", m);
        }
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let res =
            futures::executor::block_on(admin.create_topics([&t], &opts)).expect("create_topics");
        for r in res {
            r.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e:?}"));
        }
    }

    fn delete_topic(&self, topic: &str) {
        let admin = self.admin();
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        match futures::executor::block_on(admin.delete_topics(&[topic], &opts)) {
            Ok(v) => {
                for r in v {
                    if let Err((t, e)) = r {
                        println!("  (delete topic {t}: {e:?})");
                    }
                }
            }
            Err(e) => println!("  (delete topic {topic}: {e})"),
        }
    }

    /// Waits until every partition has a leader and `rf` ISR members; returns (leader, isr) per
    /// partition.
    fn wait_for_topic(
        &self,
        topic: &str,
        partitions: usize,
        rf: usize,
        limit: Duration,
    ) -> Vec<(i32, Vec<i32>)> {
        let client = self.metadata_client();
        let start = Instant::now();
        loop {
            if let Some(st) = topic_state(&client, topic) {
                if st.len() == partitions && st.iter().all(|(l, isr)| *l >= 0 && isr.len() >= rf) {
                    return st;
                }
            }
            assert!(
                start.elapsed() < limit,
                "topic {topic} not ready (leaders and {rf} ISR members) within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn cpu_ticks(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .nodes
            .iter()
            .map(|n| {
                n.child
                    .as_ref()
                    .map_or(0, |c| proc_ticks(&c.id().to_string()))
            })
            .collect();
        v.push(proc_ticks("self"));
        v
    }

    fn cpu_show(&self, before: &[u64], wall: Duration) -> String {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let after = self.cpu_ticks();
        let w = wall.as_secs_f64().max(1e-9);
        let mut parts: Vec<String> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let d = after[i].saturating_sub(before[i]) as f64 / hz / w;
                format!("n{} {d:.2}", n.id)
            })
            .collect();
        let last = after.len() - 1;
        parts.push(format!(
            "client {:.2}",
            after[last].saturating_sub(before[last]) as f64 / hz / w
        ));
        format!("cores: {}", parts.join(", "))
    }

    /// Teardown: kill -9 every node. A SIGTERM of all nodes at once would make each wait 5 s
    /// for a controlled shutdown that the stopping controller no longer grants.
    fn shutdown(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].child.is_some() {
                self.signal(i, libc::SIGKILL);
            }
        }
        for i in 0..self.nodes.len() {
            self.reap(i, Duration::from_secs(15));
        }
    }
}

impl Drop for ProcCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if self.dir.is_none() {
            println!("  (kept {})", self.root.display());
        }
    }
}

/// utime + stime of a process (`self` or a pid) in clock ticks.
fn proc_ticks(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(close) = stat.rfind(')') else {
        return 0;
    };
    let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let g = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    g(11) + g(12)
}

fn topic_state(client: &BaseProducer, topic: &str) -> Option<Vec<(i32, Vec<i32>)>> {
    let md = client
        .client()
        .fetch_metadata(Some(topic), Duration::from_secs(2))
        .ok()?;
    let t = md.topics().iter().find(|t| t.name() == topic)?;
    if t.error().is_some() {
        return None;
    }
    let mut ps: Vec<_> = t
        .partitions()
        .iter()
        .map(|p| (p.id(), p.leader(), p.isr().to_vec()))
        .collect();
    ps.sort_by_key(|p| p.0);
    Some(ps.into_iter().map(|(_, l, isr)| (l, isr)).collect())
}

// ---------------------------------------------------------------------------------------------
// Broker logs

/// Seconds since the epoch of a tracing-subscriber timestamp (`2025-01-02T03:04:05.678901Z`).
fn parse_ts(line: &str) -> Option<f64> {
    let ts = line.split_whitespace().next()?;
    let ts = ts.strip_suffix('Z')?;
    let (date, time) = ts.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, dd) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (h, mi, s) = (
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
    );
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days as f64 * 86400.0 + h * 3600.0 + mi * 60.0 + s)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The first line of node `i`'s log at or after `since` (unix seconds) containing every needle;
/// returns its time in ms after `since`.
fn log_event(c: &ProcCluster, i: usize, since: f64, needles: &[&str]) -> Option<f64> {
    let text = std::fs::read_to_string(&c.nodes[i].log).ok()?;
    text.lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .filter_map(parse_ts)
        .find(|t| *t >= since - 0.0005)
        .map(|t| (t - since) * 1e3)
}

/// WARN/ERROR lines of every node's log, grouped by message (digits collapsed), with counts.
fn log_summary(c: &ProcCluster) {
    for n in &c.nodes {
        let Ok(text) = std::fs::read_to_string(&n.log) else {
            continue;
        };
        let mut groups: BTreeMap<String, (usize, String)> = BTreeMap::new();
        let mut shrinks = 0;
        let mut expands = 0;
        let mut total = 0;
        for l in text.lines() {
            total += 1;
            if l.contains("shrinking ISR") {
                shrinks += 1;
            }
            if l.contains("expanding ISR") {
                expands += 1;
            }
            if !(l.contains(" WARN ") || l.contains(" ERROR ")) {
                continue;
            }
            let msg = l.split_once(' ').map_or(l, |(_, m)| m).trim();
            let key: String = msg
                .chars()
                .map(|ch| if ch.is_ascii_digit() { '#' } else { ch })
                .collect();
            let e = groups.entry(key).or_insert((0, msg.to_string()));
            e.0 += 1;
        }
        println!(
            "  node {} log: {total} lines, ISR shrinks {shrinks}, ISR expands {expands}, WARN/ERROR {}",
            n.id,
            groups.values().map(|g| g.0).sum::<usize>()
        );
        let mut v: Vec<_> = groups.into_values().collect();
        v.sort_by_key(|g| std::cmp::Reverse(g.0));
        for (count, msg) in v.iter().take(8) {
            let msg: String = msg.chars().take(200).collect();
            println!("    {count:>5} x {msg}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Producers

fn payload(size: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn apply_overrides(c: &mut ClientConfig, var: &str) {
    for (k, v) in kv_list(var) {
        c.set(k, v);
    }
}

fn producer_config(bootstrap: &str, acks: &str, linger_ms: u64) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("acks", acks)
        .set("linger.ms", linger_ms.to_string())
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "2097151")
        .set("compression.type", "none")
        .set("enable.idempotence", "false");
    apply_overrides(&mut c, "WEIR_BENCH_PRODUCER_CONFIG");
    c
}

struct Throughput {
    records: u64,
    bytes: u64,
    secs: f64,
    cpu: String,
}

impl Throughput {
    fn rps(&self) -> f64 {
        self.records as f64 / self.secs
    }
    fn mbps(&self) -> f64 {
        self.bytes as f64 / self.secs / 1e6
    }
}

/// One producer sends `count` records round-robin over the partitions as fast as it can.
/// Timed from the first send to the last delivery report.
fn produce(
    c: &ProcCluster,
    topic: &str,
    partitions: usize,
    count: usize,
    size: usize,
    acks: &str,
    linger_ms: u64,
) -> Throughput {
    let producer: BaseProducer<CountingContext> = producer_config(&c.bootstrap(), acks, linger_ms)
        .create_with_context(CountingContext::default())
        .expect("producer");
    let value = payload(size);
    // Connections to every leader first: one untimed record per partition.
    for p in 0..partitions {
        let rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
            .payload(&value[..])
            .partition(p as i32);
        producer
            .send(rec)
            .map_err(|(e, _)| e)
            .expect("warm-up send");
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("warm-up flush");
    let ctx = producer.context();
    let warm = ctx.delivered.load(Ordering::Relaxed);
    assert_eq!(warm, partitions as u64, "warm-up records not delivered");
    ctx.delivered.store(0, Ordering::Relaxed);
    settle();
    let before = c.cpu_ticks();
    let start = Instant::now();
    for i in 0..count {
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
            .payload(&value[..])
            .partition((i % partitions) as i32);
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    producer.poll(Duration::from_millis(1));
                    rec = r;
                }
                Err((e, _)) => panic!("produce failed: {e}"),
            }
        }
        if i % 4096 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    let ctx = producer.context();
    while ctx.delivered.load(Ordering::Relaxed) + ctx.failed.load(Ordering::Relaxed) < count as u64
    {
        producer.poll(Duration::from_millis(1));
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "delivery reports missing"
        );
    }
    let wall = start.elapsed();
    let cpu = c.cpu_show(&before, wall);
    let failed = ctx.failed.load(Ordering::Relaxed);
    assert_eq!(
        failed,
        0,
        "{failed} records failed, first error: {:?}",
        ctx.first_error.lock().unwrap()
    );
    Throughput {
        records: count as u64,
        bytes: (count * size) as u64,
        secs: wall.as_secs_f64(),
        cpu,
    }
}

/// Delivery reports with their send time (ns since `epoch`, carried in the opaque).
struct TimedContext {
    epoch: Instant,
    /// (sent ns, delivered ns) of successful deliveries.
    acks: Mutex<Vec<(u64, u64)>>,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl TimedContext {
    fn new(cap: usize) -> TimedContext {
        TimedContext {
            epoch: Instant::now(),
            acks: Mutex::new(Vec::with_capacity(cap)),
            failed: AtomicU64::new(0),
            first_error: Mutex::new(None),
        }
    }
}

impl ClientContext for TimedContext {}

impl ProducerContext for TimedContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        let now = self.epoch.elapsed().as_nanos() as u64;
        if let Err((e, _)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let mut first = self.first_error.lock().unwrap();
            if first.is_none() {
                *first = Some(e.to_string());
            }
            return;
        }
        self.acks.lock().unwrap().push((sent_ns as u64, now));
    }
}

fn send_timed(p: &ThreadedProducer<TimedContext>, topic: &str, partition: i32, value: &[u8]) {
    let sent_ns = p.context().epoch.elapsed().as_nanos().max(1) as usize;
    let mut rec: BaseRecord<'_, [u8], [u8], usize> = BaseRecord::with_opaque_to(topic, sent_ns)
        .payload(value)
        .partition(partition);
    loop {
        match p.send(rec) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                std::thread::sleep(Duration::from_micros(100));
                rec = r;
            }
            Err((e, _)) => panic!("produce failed: {e}"),
        }
    }
}

struct Latency {
    achieved_rps: f64,
    samples: usize,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    cpu: String,
}

fn pct(s: &[u64], q: f64) -> f64 {
    if s.is_empty() {
        return f64::NAN;
    }
    let i = ((s.len() as f64 * q).ceil() as usize).clamp(1, s.len()) - 1;
    s[i] as f64 / 1e6
}

/// A paced producer at `rate` records/s; each record timed from just before its send() to its
/// delivery report. Warm-up records are not counted.
#[allow(clippy::too_many_arguments)]
fn latency(
    c: &ProcCluster,
    topic: &str,
    partitions: usize,
    size: usize,
    acks: &str,
    rate: f64,
    warmup_secs: f64,
    secs: f64,
    linger_ms: u64,
) -> Latency {
    let producer: ThreadedProducer<TimedContext> = producer_config(&c.bootstrap(), acks, linger_ms)
        .create_with_context(TimedContext::new(
            (rate * (secs + warmup_secs) * 1.1) as usize,
        ))
        .expect("producer");
    let _ = producer
        .client()
        .fetch_metadata(Some(topic), Duration::from_secs(5));
    settle();
    let value = payload(size);
    let epoch = producer.context().epoch;
    let start = Instant::now();
    let total = warmup_secs + secs;
    let mut sent = 0u64;
    let mut measured_from_ns = u64::MAX;
    let mut before = None;
    let mut measured_start = start;
    loop {
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= total {
            break;
        }
        if elapsed >= warmup_secs && before.is_none() {
            before = Some(c.cpu_ticks());
            measured_start = Instant::now();
            measured_from_ns = epoch.elapsed().as_nanos() as u64;
        }
        let due = (elapsed * rate) as u64;
        while sent < due {
            send_timed(&producer, topic, (sent % partitions as u64) as i32, &value);
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let send_wall = measured_start.elapsed();
    producer.flush(Duration::from_secs(60)).expect("flush");
    let cpu = c.cpu_show(&before.unwrap_or_default(), send_wall);
    let ctx = producer.context();
    let failed = ctx.failed.load(Ordering::Relaxed);
    assert_eq!(
        failed,
        0,
        "{failed} records failed in the latency run: {:?}",
        ctx.first_error.lock().unwrap()
    );
    let acks = ctx.acks.lock().unwrap();
    let mut s: Vec<u64> = acks
        .iter()
        .filter(|(sent, _)| *sent >= measured_from_ns)
        .map(|(sent, done)| done.saturating_sub(*sent))
        .collect();
    s.sort_unstable();
    Latency {
        achieved_rps: s.len() as f64 / send_wall.as_secs_f64(),
        samples: s.len(),
        p50_ms: pct(&s, 0.5),
        p99_ms: pct(&s, 0.99),
        p999_ms: pct(&s, 0.999),
        max_ms: s.last().map_or(f64::NAN, |m| *m as f64 / 1e6),
        cpu,
    }
}

// ---------------------------------------------------------------------------------------------
// Part 1: throughput and latency

#[derive(Clone, Copy, PartialEq)]
struct Mode {
    rf: i32,
    acks: &'static str,
}

impl Mode {
    fn label(&self) -> String {
        format!("RF{} acks={}", self.rf, self.acks)
    }
    fn min_isr(&self) -> Option<i32> {
        (self.rf >= 3).then_some(2)
    }
}

const MODES: [Mode; 4] = [
    Mode { rf: 1, acks: "1" },
    Mode { rf: 1, acks: "all" },
    Mode { rf: 3, acks: "all" },
    Mode { rf: 3, acks: "1" },
];

struct SizeResult {
    size: usize,
    /// Best round per mode (index into MODES).
    thr: Vec<Option<Throughput>>,
    lat: Vec<Option<Latency>>,
}

fn part1(s: &Settings, bin: &Path) -> Vec<SizeResult> {
    println!(
        "part 1: throughput and latency, 3 nodes (session timeout 9000 ms), {} partition(s), linger.ms={}, {} round(s), best kept",
        s.partitions, s.linger_ms, s.rounds
    );
    let t0 = Instant::now();
    let mut c = ProcCluster::start(bin, 3, &[], s.keep);
    println!(
        "  3 nodes up and registered in {:.2} s ({})",
        t0.elapsed().as_secs_f64(),
        c.bootstrap()
    );
    let mut out = Vec::new();
    let mut seq = 0;
    for &size in &s.sizes {
        let count = s.count_for(size);
        let mut thr: Vec<Option<Throughput>> = MODES.iter().map(|_| None).collect();
        for round in 0..s.rounds {
            for k in 0..MODES.len() {
                let mi = (k + round) % MODES.len();
                let m = MODES[mi];
                seq += 1;
                let topic = format!("thr-{size}-rf{}-acks{}-{seq}", m.rf, m.acks);
                let ct = Instant::now();
                c.create_topic(&topic, s.partitions, m.rf, m.min_isr());
                let st =
                    c.wait_for_topic(&topic, s.partitions, m.rf as usize, Duration::from_secs(30));
                let ready = ct.elapsed();
                let t = produce(&c, &topic, s.partitions, count, size, m.acks, s.linger_ms);
                println!(
                    "  round {} {size:>5} B {:<12} {:>9.0} rec/s {:>7.1} MB/s  ({:.2} s; leaders {:?}; topic ready in {} ms; {})",
                    round + 1,
                    m.label(),
                    t.rps(),
                    t.mbps(),
                    t.secs,
                    st.iter().map(|p| p.0).collect::<Vec<_>>(),
                    ready.as_millis(),
                    t.cpu
                );
                c.delete_topic(&topic);
                if thr[mi].as_ref().is_none_or(|b| t.rps() > b.rps()) {
                    thr[mi] = Some(t);
                }
            }
        }
        let mut lat: Vec<Option<Latency>> = MODES.iter().map(|_| None).collect();
        if s.latency_secs > 0.0 {
            for (mi, m) in MODES.iter().enumerate() {
                seq += 1;
                let topic = format!("lat-{size}-rf{}-acks{}-{seq}", m.rf, m.acks);
                c.create_topic(&topic, s.partitions, m.rf, m.min_isr());
                c.wait_for_topic(&topic, s.partitions, m.rf as usize, Duration::from_secs(30));
                let l = latency(
                    &c,
                    &topic,
                    s.partitions,
                    size,
                    m.acks,
                    s.latency_rate,
                    s.latency_warmup_secs,
                    s.latency_secs,
                    s.latency_linger_ms,
                );
                println!(
                    "  latency {size:>5} B {:<12} @ {:.0} rec/s (achieved {:.0}): p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms  ({} samples; {})",
                    m.label(),
                    s.latency_rate,
                    l.achieved_rps,
                    l.p50_ms,
                    l.p99_ms,
                    l.p999_ms,
                    l.max_ms,
                    l.samples,
                    l.cpu
                );
                c.delete_topic(&topic);
                lat[mi] = Some(l);
            }
        }
        out.push(SizeResult { size, thr, lat });
    }
    println!("  broker logs, part 1:");
    log_summary(&c);
    c.shutdown();
    println!("  part 1 took {:.1} s", t0.elapsed().as_secs_f64());
    out
}

// ---------------------------------------------------------------------------------------------
// Part 2: failover

#[derive(Clone, Copy, PartialEq)]
enum Kill {
    Sigkill,
    Sigterm,
}

impl Kill {
    fn label(&self) -> &'static str {
        match self {
            Kill::Sigkill => "kill -9",
            Kill::Sigterm => "SIGTERM",
        }
    }
}

struct Failover {
    /// Signal → first acknowledged produce of a record sent after the signal.
    first_ack_ms: Option<f64>,
    /// Signal → first acknowledged produce of any record, sent before or after.
    first_any_ack_ms: Option<f64>,
    /// Longest time without any delivery report, around the signal.
    max_gap_ms: f64,
    failed: u64,
    new_leader: i32,
    /// From the broker logs, ms after the signal: controller fences the old leader; the new
    /// leader logs its leadership; the old process exits (SIGTERM).
    fenced_ms: Option<f64>,
    leader_ms: Option<f64>,
    exit_ms: Option<f64>,
    /// Restart of the old leader → back in the partition's ISR.
    rejoin_ms: Option<f64>,
}

fn opt_ms(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.0}"))
}

fn failover_once(
    c: &mut ProcCluster,
    s: &Settings,
    kill: Kill,
    session_ms: u64,
    seq: usize,
) -> Failover {
    // A new RF 3 topic; use a partition led by node 2 or 3 (node 1 runs the controller).
    let (topic, partition, leader) = {
        let topic = format!(
            "failover-{session_ms}-{}-{seq}",
            if kill == Kill::Sigkill {
                "kill"
            } else {
                "term"
            }
        );
        c.create_topic(&topic, 3, 3, Some(2));
        let st = c.wait_for_topic(&topic, 3, 3, Duration::from_secs(30));
        let p = st
            .iter()
            .position(|(l, _)| *l != 1)
            .unwrap_or_else(|| panic!("every partition of {topic} is led by node 1: {st:?}"));
        (topic, p as i32, st[p].0)
    };
    let li = c.index_of(leader);
    let limit = Duration::from_millis(session_ms) + Duration::from_secs(30);
    let mut cfg = producer_config(&c.bootstrap(), "all", s.latency_linger_ms);
    cfg.set("queue.buffering.max.messages", "1000000");
    let producer: ThreadedProducer<TimedContext> = cfg
        .create_with_context(TimedContext::new(200_000))
        .expect("producer");
    let _ = producer
        .client()
        .fetch_metadata(Some(&topic), Duration::from_secs(5));
    let value = payload(SMALL);
    let epoch = producer.context().epoch;
    let warmup = Duration::from_secs(1);
    let start = Instant::now();
    let mut sent = 0u64;
    let mut kill_ns: Option<u64> = None;
    let mut kill_unix = 0.0;
    let mut kill_at = start;
    let mut exit_at: Option<Instant> = None;
    let mut done_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if kill_ns.is_none() && now - start >= warmup {
            kill_unix = unix_now();
            kill_at = Instant::now();
            kill_ns = Some(epoch.elapsed().as_nanos() as u64);
            c.signal(
                li,
                match kill {
                    Kill::Sigkill => libc::SIGKILL,
                    Kill::Sigterm => libc::SIGTERM,
                },
            );
        }
        if let Some(k) = kill_ns {
            if exit_at.is_none() {
                if let Some(ch) = c.nodes[li].child.as_mut() {
                    if let Ok(Some(_)) = ch.try_wait() {
                        exit_at = Some(Instant::now());
                        c.nodes[li].child = None;
                    }
                }
            }
            if done_at.is_none() {
                let acked = producer
                    .context()
                    .acks
                    .lock()
                    .unwrap()
                    .iter()
                    .rev()
                    .take(64)
                    .any(|(sent, _)| *sent >= k);
                if acked {
                    done_at = Some(Instant::now());
                }
            }
            // Keep sending for 0.5 s after the first ack, so the steady state is seen.
            if done_at.is_some_and(|d| d.elapsed() > Duration::from_millis(500))
                || kill_at.elapsed() > limit
            {
                break;
            }
        }
        let due = ((now - start).as_secs_f64() * s.failover_rate) as u64;
        while sent < due {
            send_timed(&producer, &topic, partition, &value);
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = producer.flush(Duration::from_secs(30));
    let k = kill_ns.unwrap();
    let ctx = producer.context();
    let failed = ctx.failed.load(Ordering::Relaxed);
    let acks = ctx.acks.lock().unwrap().clone();
    let first_ack_ms = acks
        .iter()
        .filter(|(sent, _)| *sent >= k)
        .map(|(_, d)| *d)
        .min()
        .map(|d| (d.saturating_sub(k)) as f64 / 1e6);
    let first_any_ack_ms = acks
        .iter()
        .filter(|(_, d)| *d >= k)
        .map(|(_, d)| *d)
        .min()
        .map(|d| (d - k) as f64 / 1e6);
    let mut times: Vec<u64> = acks.iter().map(|(_, d)| *d).collect();
    times.sort_unstable();
    let max_gap_ms = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0) as f64 / 1e6;
    drop(producer);
    if exit_at.is_none() {
        exit_at = c.reap(li, Duration::from_secs(20));
    }
    let exit_ms = exit_at.map(|e| (e - kill_at).as_secs_f64() * 1e3);
    // Timeline from the logs (written asynchronously; give them a moment).
    std::thread::sleep(Duration::from_millis(200));
    let st = topic_state(&c.metadata_client(), &topic).unwrap_or_default();
    let new_leader = st.get(partition as usize).map_or(-1, |p| p.0);
    let fenced_ms = match kill {
        Kill::Sigkill => log_event(c, 0, kill_unix, &["fencing broker"]),
        Kill::Sigterm => None,
    };
    let pname = format!("{topic}-{partition}: leader at epoch");
    let leader_ms = if new_leader > 0 {
        log_event(c, c.index_of(new_leader), kill_unix, &[&pname])
    } else {
        None
    };
    // Restart the old leader and wait for it to rejoin the ISR.
    let rs = Instant::now();
    c.start_node(li);
    c.wait_for_brokers(3, Duration::from_secs(60));
    let mut rejoin_ms = None;
    while rs.elapsed() < Duration::from_secs(60) {
        if let Some(st) = topic_state(&c.controller_view(), &topic) {
            if st
                .get(partition as usize)
                .is_some_and(|(_, isr)| isr.contains(&leader))
            {
                rejoin_ms = Some(rs.elapsed().as_secs_f64() * 1e3);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    c.delete_topic(&topic);
    Failover {
        first_ack_ms,
        first_any_ack_ms,
        max_gap_ms,
        failed,
        new_leader,
        fenced_ms,
        leader_ms,
        exit_ms,
        rejoin_ms,
    }
    .tap(|f| {
        println!(
            "  {:<7} leader {leader} of {topic}-{partition} → {}: first ack of a record sent after the signal {} ms (of any record {} ms), longest gap between acks {:.0} ms; logs: fenced {} ms, new leader {} ms, old process exited {} ms; failed deliveries {}; restarted node back in ISR after {} ms",
            kill.label(),
            f.new_leader,
            opt_ms(f.first_ack_ms),
            opt_ms(f.first_any_ack_ms),
            f.max_gap_ms,
            opt_ms(f.fenced_ms),
            opt_ms(f.leader_ms),
            opt_ms(f.exit_ms),
            f.failed,
            opt_ms(f.rejoin_ms),
        )
    })
}

trait Tap: Sized {
    fn tap(self, f: impl FnOnce(&Self)) -> Self {
        f(&self);
        self
    }
}
impl<T> Tap for T {}

struct FailoverSet {
    session_ms: u64,
    heartbeat_ms: u64,
    kill: Vec<Failover>,
    term: Vec<Failover>,
}

fn part2(s: &Settings, bin: &Path) -> Vec<FailoverSet> {
    let mut out = Vec::new();
    for &session_ms in &s.session_timeouts {
        let hb = heartbeat_for(s, session_ms);
        println!(
            "part 2: failover, broker.session.timeout.ms={session_ms}, broker.heartbeat.interval.ms={hb}, producer acks=all at {:.0} rec/s of {SMALL} B to one RF 3 partition (min.insync.replicas=2), {} run(s) each",
            s.failover_rate, s.failover_runs
        );
        let t0 = Instant::now();
        let mut c = ProcCluster::start(
            bin,
            3,
            &[
                ("broker.session.timeout.ms", session_ms.to_string()),
                ("broker.heartbeat.interval.ms", hb.to_string()),
            ],
            s.keep,
        );
        let mut set = FailoverSet {
            session_ms,
            heartbeat_ms: hb,
            kill: Vec::new(),
            term: Vec::new(),
        };
        let mut seq = 0;
        for kill in [Kill::Sigkill, Kill::Sigterm] {
            let name = if kill == Kill::Sigkill {
                "kill"
            } else {
                "term"
            };
            if !s.kinds.iter().any(|k| k == name) {
                continue;
            }
            for _ in 0..s.failover_runs {
                seq += 1;
                let f = failover_once(&mut c, s, kill, session_ms, seq);
                match kill {
                    Kill::Sigkill => set.kill.push(f),
                    Kill::Sigterm => set.term.push(f),
                }
            }
        }
        println!("  broker logs, session timeout {session_ms} ms:");
        log_summary(&c);
        c.shutdown();
        println!("  took {:.1} s", t0.elapsed().as_secs_f64());
        out.push(set);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Report

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

fn size_label(size: usize) -> String {
    if size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

fn report1(s: &Settings, r: &[SizeResult]) {
    println!();
    println!(
        "Produce on 3 nodes ({} partitions; throughput: best of {} round(s); latency: {:.0} rec/s paced, linger.ms={}, {} s):",
        s.partitions, s.rounds, s.latency_rate, s.latency_linger_ms, s.latency_secs
    );
    println!(
        "| {:<7} | {:<12} | {:>10} | {:>8} | {:>8} | {:>8} |",
        "size", "mode", "records/s", "MB/s", "p50 ms", "p99 ms"
    );
    println!("|---------|--------------|------------|----------|----------|----------|");
    for sr in r {
        for (mi, m) in MODES.iter().enumerate() {
            let (rps, mbps) = sr.thr[mi].as_ref().map_or(("-".into(), "-".into()), |t| {
                (format!("{:.0}", t.rps()), format!("{:.1}", t.mbps()))
            });
            let (p50, p99) = sr.lat[mi].as_ref().map_or(("-".into(), "-".into()), |l| {
                (format!("{:.2}", l.p50_ms), format!("{:.2}", l.p99_ms))
            });
            println!(
                "| {:<7} | {:<12} | {rps:>10} | {mbps:>8} | {p50:>8} | {p99:>8} |",
                size_label(sr.size),
                m.label()
            );
        }
    }
    for sr in r {
        let thr = |mi: usize| sr.thr[mi].as_ref().map_or(f64::NAN, |t| t.rps());
        let p99 = |mi: usize| sr.lat[mi].as_ref().map_or(f64::NAN, |l| l.p99_ms);
        let tr = thr(2) / thr(0);
        println!(
            "{}: throughput RF3 acks=all / RF1 acks=1 = {tr:.2} (target >= 0.5: {}); RF3 acks=1 / RF1 acks=1 = {:.2}; RF1 acks=all / RF1 acks=1 = {:.2}",
            size_label(sr.size),
            verdict(tr >= 0.5),
            thr(3) / thr(0),
            thr(1) / thr(0)
        );
        if s.latency_secs > 0.0 {
            let lr = p99(2) / p99(1);
            println!(
                "{}: p99 RF3 acks=all / RF1 acks=all = {lr:.2} (target <= 3: {}); p50 ratio {:.2}",
                size_label(sr.size),
                verdict(lr <= 3.0),
                sr.lat[2].as_ref().map_or(f64::NAN, |l| l.p50_ms)
                    / sr.lat[1].as_ref().map_or(f64::NAN, |l| l.p50_ms)
            );
        }
    }
}

fn report2(r: &[FailoverSet]) {
    println!();
    println!("Failover (signal to the partition leader → first acknowledged produce of a record sent after it):");
    for set in r {
        for (kill, v) in [(Kill::Sigkill, &set.kill), (Kill::Sigterm, &set.term)] {
            if v.is_empty() {
                continue;
            }
            let ms: Vec<f64> = v
                .iter()
                .map(|f| f.first_ack_ms.unwrap_or(f64::NAN))
                .collect();
            let med = median(&ms);
            let (target, ok) = match kill {
                Kill::Sigkill => {
                    let t = set.session_ms as f64 + 2000.0;
                    (format!("<= session + 2 s = {t:.0} ms"), med <= t)
                }
                Kill::Sigterm => ("< 1000 ms".to_string(), med < 1000.0),
            };
            let all_ok = ms.iter().all(|m| match kill {
                Kill::Sigkill => *m <= set.session_ms as f64 + 2000.0,
                Kill::Sigterm => *m < 1000.0,
            });
            println!(
                "  session {} ms (heartbeat {} ms), {:<7}: runs {:?} ms, median {:.0} ms; target {target}: median {}, every run {}",
                set.session_ms,
                set.heartbeat_ms,
                kill.label(),
                ms.iter().map(|m| m.round() as i64).collect::<Vec<_>>(),
                med,
                verdict(ok),
                verdict(all_ok),
            );
        }
    }
}

fn main() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // librdkafka logs every refused connection to a killed node; RUST_LOG shows them.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("warn,librdkafka=off,rdkafka::client=off")
                }),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let s = Settings::from_env();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_weir"));
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "weir cluster benchmark: 3 x {} as child processes, {cpus} CPUs; {} x 100 B / {} x 10 KiB records per throughput run",
        bin.display(),
        s.small_records,
        s.large_records
    );
    let total = Instant::now();
    let r1 = s.parts.contains(&1).then(|| part1(&s, &bin));
    let r2 = s.parts.contains(&2).then(|| part2(&s, &bin));
    if let Some(r) = &r1 {
        report1(&s, r);
    }
    if let Some(r) = &r2 {
        report2(r);
    }
    println!("total bench time {:.1} s", total.elapsed().as_secs_f64());
}
