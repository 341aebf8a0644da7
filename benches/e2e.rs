//! End-to-end benchmark: Weir driven by librdkafka over loopback, next to librdkafka's own
//! in-process mock cluster as a baseline for what the client alone can do on this machine.
//!
//! Run with `cargo bench --bench e2e`; see `benches/README.md` for the knobs and what each figure
//! means. Everything runs in this one process except the startup/RSS measurements, which spawn
//! the real `weir` binary.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer,
};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
#[path = "support/mod.rs"]
mod support;
use support::{env_or, settle, thread_ticks, CountingContext, CpuUse};

const SMALL: usize = 100;
const LARGE: usize = 10 * 1024;
/// The mock broker keeps at most 5 MiB per partition (older batches are dropped), so data to be
/// consumed back from it is spread so that each partition holds at most this much.
const MOCK_PARTITION_BUDGET: usize = 4 * 1024 * 1024;
const MAX_CMP_PARTITIONS: usize = 256;
/// Generous per-record framing estimate (record header + share of the batch header).
const RECORD_OVERHEAD: usize = 16;
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Settings

struct Settings {
    small_records: usize,
    large_records: usize,
    partitions: usize,
    linger_ms: u64,
    latency_secs: f64,
    latency_warmup_secs: f64,
    latency_linger_ms: u64,
    startup_runs: usize,
    mock: bool,
    /// Also read back from the many-partition layout the mock needs (see `consume_cmp_layout`).
    cmp: bool,
    sizes: Vec<usize>,
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            small_records: env_or("WEIR_BENCH_RECORDS", 2_000_000),
            large_records: env_or("WEIR_BENCH_LARGE_RECORDS", 100_000),
            partitions: env_or("WEIR_BENCH_PARTITIONS", 1usize).max(1),
            linger_ms: env_or("WEIR_BENCH_LINGER_MS", 10),
            latency_secs: env_or("WEIR_BENCH_LATENCY_SECS", 10.0),
            latency_warmup_secs: env_or("WEIR_BENCH_LATENCY_WARMUP_SECS", 1.0),
            latency_linger_ms: env_or("WEIR_BENCH_LATENCY_LINGER_MS", 1),
            startup_runs: env_or("WEIR_BENCH_STARTUP_RUNS", 5usize).max(1),
            mock: env_or("WEIR_BENCH_MOCK", 1u8) != 0,
            cmp: env_or("WEIR_BENCH_CMP", 1u8) != 0,
            sizes: std::env::var("WEIR_BENCH_SIZES")
                .unwrap_or_else(|_| format!("{SMALL},{LARGE}"))
                .split(',')
                .map(|x| {
                    x.trim()
                        .parse()
                        .expect("WEIR_BENCH_SIZES: comma-separated 100/10240")
                })
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Per-thread CPU accounting (this process: broker runtime, librdkafka threads, bench threads)

// ---------------------------------------------------------------------------------------------
// Clusters under test

enum Cluster {
    Weir {
        bootstrap: String,
    },
    Mock {
        cluster: MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
        bootstrap: String,
    },
}

impl Cluster {
    fn bootstrap(&self) -> &str {
        match self {
            Cluster::Weir { bootstrap } | Cluster::Mock { bootstrap, .. } => bootstrap,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Cluster::Weir { .. } => "weir",
            Cluster::Mock { .. } => "mock",
        }
    }

    fn create_topic(&self, topic: &str, partitions: usize) {
        match self {
            Cluster::Weir { bootstrap } => {
                let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
                    .set("bootstrap.servers", bootstrap)
                    .create()
                    .expect("admin client");
                let t = NewTopic::new(topic, partitions as i32, TopicReplication::Fixed(1));
                let res =
                    futures::executor::block_on(admin.create_topics([&t], &AdminOptions::new()))
                        .expect("create_topics");
                for r in res {
                    r.expect("topic created");
                }
            }
            Cluster::Mock { cluster, .. } => cluster
                .create_topic(topic, partitions as i32, 1)
                .expect("mock topic"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Throughput producer (acks=1)

fn producer_config(bootstrap: &str, acks: &str, linger_ms: u64) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
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

/// Extra librdkafka properties from `var`, as `name=value,name=value` (e.g.
/// `WEIR_BENCH_CONSUMER_CONFIG=fetch.max.bytes=8388608,debug=fetch`; librdkafka's debug output
/// is shown with `RUST_LOG=librdkafka=debug`).
fn apply_overrides(c: &mut ClientConfig, var: &str) {
    let Ok(list) = std::env::var(var) else {
        return;
    };
    for kv in list.split(',').filter(|kv| !kv.trim().is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .unwrap_or_else(|| panic!("{var}: expected name=value, got {kv:?}"));
        c.set(k.trim(), v.trim());
    }
}

fn payload(size: usize) -> Vec<u8> {
    // Incompressible-looking bytes (compression is off anyway).
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

struct Throughput {
    records: u64,
    bytes: u64,
    secs: f64,
    cpu: CpuUse,
}

impl Throughput {
    fn rps(&self) -> f64 {
        self.records as f64 / self.secs
    }
    fn mbps(&self) -> f64 {
        self.bytes as f64 / self.secs / 1e6
    }
}

fn wait_for_topic<C: ClientContext>(client: &rdkafka::client::Client<C>, topic: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(md) = client.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            if let Some(t) = md.topics().iter().find(|t| t.name() == topic) {
                if t.error().is_none()
                    && t.partitions().len() == n
                    && t.partitions().iter().all(|p| p.leader() >= 0)
                {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "topic {topic} never became ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One producer sends `count` records of `size` bytes as fast as it can; partitions are filled
/// round-robin. Timed from the first send to the last delivery report.
fn produce(
    bootstrap: &str,
    topic: &str,
    partitions: usize,
    count: usize,
    size: usize,
    linger_ms: u64,
) -> Throughput {
    let producer: BaseProducer<CountingContext> = producer_config(bootstrap, "1", linger_ms)
        .create_with_context(CountingContext::default())
        .expect("producer");
    wait_for_topic(producer.client(), topic, partitions);
    settle();
    let value = payload(size);
    let before = thread_ticks();
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
    producer
        .flush(Duration::from_secs(300))
        .expect("flush producer");
    // Serve the remaining delivery reports.
    while producer.context().delivered.load(Ordering::Relaxed)
        + producer.context().failed.load(Ordering::Relaxed)
        < count as u64
    {
        producer.poll(Duration::from_millis(10));
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "delivery reports missing"
        );
    }
    let wall = start.elapsed();
    let cpu = CpuUse::between(&before, &thread_ticks(), wall);
    let ctx = producer.context();
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

// ---------------------------------------------------------------------------------------------
// Consumer

/// One consumer reads every partition of `topic` from the beginning until it has `count` records.
/// Timed from `assign` to the last record.
fn consume(bootstrap: &str, topic: &str, partitions: usize, count: usize) -> Throughput {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "weir-bench")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        // librdkafka stops fetching a partition once its local queue holds queued.min.messages
        // (default 100k) or queued.max.messages.kbytes (64 MiB), then waits
        // fetch.queue.backoff.ms (default 1000 ms) before fetching again, whether or not the
        // application has drained the queue meanwhile. A consumer that keeps up with more than
        // ~100k records/s then stalls for a second at a time, so raise the thresholds and
        // shorten the back-off.
        .set("queued.min.messages", "1000000")
        .set("queued.max.messages.kbytes", "262144")
        .set("fetch.queue.backoff.ms", "10");
    apply_overrides(&mut config, "WEIR_BENCH_CONSUMER_CONFIG");
    let consumer: BaseConsumer = config.create().expect("consumer");
    wait_for_topic(consumer.client(), topic, partitions);
    settle();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p as i32, Offset::Beginning)
            .expect("tpl");
    }
    let before = thread_ticks();
    let start = Instant::now();
    consumer.assign(&tpl).expect("assign");
    let mut records = 0u64;
    let mut bytes = 0u64;
    let mut last_progress = Instant::now();
    while records < count as u64 {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                records += 1;
                bytes += m.payload_len() as u64;
                last_progress = Instant::now();
            }
            Some(Err(e)) => panic!("consume failed after {records} records: {e}"),
            None => assert!(
                last_progress.elapsed() < STALL_TIMEOUT,
                "consumer stalled at {records}/{count} records"
            ),
        }
    }
    let wall = start.elapsed();
    let cpu = CpuUse::between(&before, &thread_ticks(), wall);
    Throughput {
        records,
        bytes,
        secs: wall.as_secs_f64(),
        cpu,
    }
}

// ---------------------------------------------------------------------------------------------
// Latency at a fixed rate (acks=all)

struct LatencyContext {
    epoch: Instant,
    samples_ns: Mutex<Vec<u64>>,
    failed: AtomicU64,
}

impl ClientContext for LatencyContext {}

impl ProducerContext for LatencyContext {
    /// Send time in ns since `epoch`; 0 for warm-up records, which are not sampled.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if sent_ns == 0 {
            return;
        }
        let now = self.epoch.elapsed().as_nanos() as u64;
        self.samples_ns
            .lock()
            .unwrap()
            .push(now.saturating_sub(sent_ns as u64));
    }
}

struct Latency {
    target_rps: f64,
    achieved_rps: f64,
    samples: usize,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    cpu: CpuUse,
}

#[allow(clippy::too_many_arguments)]
fn latency(
    bootstrap: &str,
    topic: &str,
    partitions: usize,
    size: usize,
    rate: f64,
    warmup_secs: f64,
    secs: f64,
    linger_ms: u64,
) -> Latency {
    let ctx = LatencyContext {
        epoch: Instant::now(),
        samples_ns: Mutex::new(Vec::with_capacity((rate * secs * 1.1) as usize)),
        failed: AtomicU64::new(0),
    };
    let producer: ThreadedProducer<LatencyContext> = producer_config(bootstrap, "all", linger_ms)
        .create_with_context(ctx)
        .expect("producer");
    wait_for_topic(producer.client(), topic, partitions);
    settle();
    let value = payload(size);
    let epoch = producer.context().epoch;
    let total = warmup_secs + secs;
    let start = Instant::now();
    let mut before = None;
    let mut measured_start = start;
    let mut sent = 0u64;
    let mut measured = 0u64;
    loop {
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= total {
            break;
        }
        let warm = elapsed < warmup_secs;
        if !warm && before.is_none() {
            before = Some(thread_ticks());
            measured_start = Instant::now();
        }
        let due = (elapsed * rate) as u64;
        while sent < due {
            let sent_ns = if warm {
                0
            } else {
                measured += 1;
                epoch.elapsed().as_nanos().max(1) as usize
            };
            let mut rec: BaseRecord<'_, [u8], [u8], usize> =
                BaseRecord::with_opaque_to(topic, sent_ns)
                    .payload(&value[..])
                    .partition((sent % partitions as u64) as i32);
            loop {
                match producer.send(rec) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        std::thread::sleep(Duration::from_micros(100));
                        rec = r;
                    }
                    Err((e, _)) => panic!("produce failed: {e}"),
                }
            }
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    let send_wall = measured_start.elapsed();
    producer.flush(Duration::from_secs(60)).expect("flush");
    let cpu = CpuUse::between(
        &before.unwrap_or_default(),
        &thread_ticks(),
        measured_start.elapsed(),
    );
    let ctx = producer.context();
    let failed = ctx.failed.load(Ordering::Relaxed);
    assert_eq!(failed, 0, "{failed} records failed in the latency run");
    let mut s = std::mem::take(&mut *ctx.samples_ns.lock().unwrap());
    s.sort_unstable();
    let pct = |q: f64| -> f64 {
        if s.is_empty() {
            return f64::NAN;
        }
        let i = ((s.len() as f64 * q).ceil() as usize).clamp(1, s.len()) - 1;
        s[i] as f64 / 1e6
    };
    Latency {
        target_rps: rate,
        achieved_rps: measured as f64 / send_wall.as_secs_f64(),
        samples: s.len(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        p999_ms: pct(0.999),
        max_ms: s.last().map_or(f64::NAN, |m| *m as f64 / 1e6),
        cpu,
    }
}

// ---------------------------------------------------------------------------------------------
// Startup time and idle RSS of the real binary

struct Startup {
    connect_ms: Vec<f64>,
    logged_ms: Vec<f64>,
    rss_kib: Vec<u64>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn stop(mut child: Child) {
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn parse_logged_ms(line: &str) -> Option<f64> {
    let rest = &line[line.find("weir started in ")? + "weir started in ".len()..];
    rest[..rest.find(" ms")?].trim().parse().ok()
}

fn startup_once(bin: &Path) -> (f64, Option<f64>, Option<u64>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(bin);
    // Weir reads WEIR_* variables as config (WEIR_NUM_PARTITIONS=3); the bench's own knobs
    // (WEIR_BENCH_*) would be rejected as unknown settings.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("WEIR_") {
            cmd.env_remove(k);
        }
    }
    let start = Instant::now();
    let mut child = cmd
        .arg("--override")
        .arg(format!("listeners=PLAINTEXT://{addr}"))
        .arg("--override")
        .arg(format!("log.dirs={}", data.display()))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weir");
    let connect_ms = loop {
        if TcpStream::connect(&addr).is_ok() {
            break start.elapsed().as_secs_f64() * 1e3;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut msg = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut msg);
            }
            panic!("weir exited during startup: {status}: {msg}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "weir did not accept connections within 30 s"
        );
        std::thread::sleep(Duration::from_micros(100));
    };
    // The log line may go to stdout or stderr depending on the subscriber; read both.
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
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    // Keep draining so the child never blocks on a full pipe.
                    continue;
                }
            }
        });
    }
    drop(tx);
    let mut logged = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while logged.is_none() && Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => logged = parse_logged_ms(&line),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // Idle for a second after start, then read the resident set.
    std::thread::sleep(Duration::from_secs(1));
    let rss = vm_rss_kib(child.id());
    stop(child);
    (connect_ms, logged, rss)
}

fn startup(bin: &Path, runs: usize) -> Startup {
    let mut s = Startup {
        connect_ms: Vec::new(),
        logged_ms: Vec::new(),
        rss_kib: Vec::new(),
    };
    for _ in 0..runs {
        let (c, l, r) = startup_once(bin);
        s.connect_ms.push(c);
        s.logged_ms.extend(l);
        s.rss_kib.extend(r);
    }
    s
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// One record size against one cluster

struct SizeResults {
    produce: Throughput,
    consume: Throughput,
    /// Consume from the layout that fits the mock's retention (None when that is the main one).
    consume_cmp: Option<(usize, Throughput)>,
    latency: Option<Latency>,
}

/// Partitions and record count for the consume comparison: the mock keeps only ~5 MiB per
/// partition, so the data set is spread over enough partitions to fit (and capped).
fn consume_cmp_layout(count: usize, size: usize, partitions: usize) -> (usize, usize) {
    let per_partition = (MOCK_PARTITION_BUDGET / (size + RECORD_OVERHEAD)).max(1);
    let needed = count.div_ceil(per_partition);
    if needed <= partitions {
        return (partitions, count);
    }
    let k = needed.min(MAX_CMP_PARTITIONS);
    (k, count.min(k * per_partition))
}

fn run_size(
    cluster: &Cluster,
    s: &Settings,
    size: usize,
    count: usize,
    latency_rate: Option<f64>,
) -> SizeResults {
    let who = cluster.name();
    let bs = cluster.bootstrap();
    let topic = format!("bench-{size}");
    cluster.create_topic(&topic, s.partitions);
    let produce = produce(bs, &topic, s.partitions, count, size, s.linger_ms);
    println!(
        "  {who:4} produce {size:>5} B acks=1   {:>10.0} rec/s {:>8.1} MB/s  ({:.2} s; {})",
        produce.rps(),
        produce.mbps(),
        produce.secs,
        produce.cpu.show()
    );
    let (k, k_count) = consume_cmp_layout(count, size, s.partitions);
    let (main_consume, consume_cmp) = match cluster {
        Cluster::Weir { .. } => {
            let main = consume(bs, &topic, s.partitions, count);
            println!(
                "  {who:4} consume {size:>5} B          {:>10.0} rec/s {:>8.1} MB/s  ({:.2} s; {})",
                main.rps(),
                main.mbps(),
                main.secs,
                main.cpu.show()
            );
            (main, None)
        }
        // The produced data has mostly been dropped by the mock; it is only read back from the
        // comparison layout below.
        Cluster::Mock { .. } => (
            Throughput {
                records: 0,
                bytes: 0,
                secs: f64::NAN,
                cpu: CpuUse::default(),
            },
            None,
        ),
    };
    let wanted = s.cmp && (k != s.partitions || matches!(cluster, Cluster::Mock { .. }));
    let consume_cmp = if wanted {
        let t = format!("bench-{size}-cmp");
        cluster.create_topic(&t, k);
        produce_untimed(bs, &t, k, k_count, size, s.linger_ms);
        let c = consume(bs, &t, k, k_count);
        println!(
            "  {who:4} consume {size:>5} B {k:>3} parts {:>10.0} rec/s {:>8.1} MB/s  ({:.2} s; {})",
            c.rps(),
            c.mbps(),
            c.secs,
            c.cpu.show()
        );
        Some((k, c))
    } else {
        consume_cmp
    };
    let rate = latency_rate.unwrap_or(produce.rps() / 2.0);
    let lat = if s.latency_secs > 0.0 {
        let t = format!("bench-{size}-lat");
        cluster.create_topic(&t, s.partitions);
        let l = latency(
            bs,
            &t,
            s.partitions,
            size,
            rate,
            s.latency_warmup_secs,
            s.latency_secs,
            s.latency_linger_ms,
        );
        println!(
            "  {who:4} latency {size:>5} B acks=all @ {:.0} rec/s (achieved {:.0}): p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms  ({} samples; {})",
            l.target_rps, l.achieved_rps, l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms, l.samples, l.cpu.show()
        );
        Some(l)
    } else {
        None
    };
    SizeResults {
        produce,
        consume: main_consume,
        consume_cmp,
        latency: lat,
    }
}

fn produce_untimed(bs: &str, topic: &str, k: usize, count: usize, size: usize, linger_ms: u64) {
    let _ = produce(bs, topic, k, count, size, linger_ms);
}

// ---------------------------------------------------------------------------------------------
// Report

fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        return "-".into();
    }
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_f(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{x:.decimals$}")
    }
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_nan() || b.is_nan() || b == 0.0 {
        "-".into()
    } else {
        format!("{:.2}x", a / b)
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

struct Row {
    what: String,
    weir: String,
    mock: String,
    ratio: String,
    target: String,
}

fn row(what: impl Into<String>, weir: String, mock: String, ratio: String, target: String) -> Row {
    Row {
        what: what.into(),
        weir,
        mock,
        ratio,
        target,
    }
}

fn print_table(rows: &[Row]) {
    let head = row(
        "metric",
        "weir".into(),
        "librdkafka mock".into(),
        "weir/mock".into(),
        "target".into(),
    );
    let w = |f: fn(&Row) -> &str| {
        rows.iter()
            .chain(std::iter::once(&head))
            .map(|r| f(r).len())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2, w3) = (
        w(|r| &r.what),
        w(|r| &r.weir),
        w(|r| &r.mock),
        w(|r| &r.ratio),
    );
    let line = |r: &Row| {
        println!(
            "| {:<w0$} | {:>w1$} | {:>w2$} | {:>w3$} | {}",
            r.what, r.weir, r.mock, r.ratio, r.target
        )
    };
    line(&head);
    println!(
        "|-{}-|-{}-|-{}-|-{}-|-{}",
        "-".repeat(w0),
        "-".repeat(w1),
        "-".repeat(w2),
        "-".repeat(w3),
        "-".repeat(20)
    );
    for r in rows {
        line(r);
    }
}

fn size_rows(
    rows: &mut Vec<Row>,
    label: &str,
    weir: &SizeResults,
    mock: Option<&SizeResults>,
    small: bool,
) {
    let m_prod = mock.map(|m| &m.produce);
    let get = |t: Option<&Throughput>, f: fn(&Throughput) -> f64| t.map_or(f64::NAN, f);
    rows.push(row(
        format!("produce {label} acks=1, rec/s"),
        fmt_num(weir.produce.rps()),
        fmt_num(get(m_prod, Throughput::rps)),
        ratio(weir.produce.rps(), get(m_prod, Throughput::rps)),
        if small {
            format!(">= 1,000,000 rec/s: {}", verdict(weir.produce.rps() >= 1e6))
        } else {
            String::new()
        },
    ));
    rows.push(row(
        format!("produce {label} acks=1, MB/s"),
        format!("{:.1}", weir.produce.mbps()),
        fmt_f(get(m_prod, Throughput::mbps), 1),
        ratio(weir.produce.mbps(), get(m_prod, Throughput::mbps)),
        String::new(),
    ));
    rows.push(row(
        format!("consume {label}, rec/s"),
        fmt_num(weir.consume.rps()),
        "-".into(),
        "-".into(),
        if small {
            format!(">= 2,000,000 rec/s: {}", verdict(weir.consume.rps() >= 2e6))
        } else {
            String::new()
        },
    ));
    rows.push(row(
        format!("consume {label}, MB/s"),
        format!("{:.1}", weir.consume.mbps()),
        "-".into(),
        "-".into(),
        String::new(),
    ));
    let w_cmp = weir
        .consume_cmp
        .as_ref()
        .map(|(k, t)| (*k, t))
        .unwrap_or((0, &weir.consume));
    let m_cmp = mock.and_then(|m| m.consume_cmp.as_ref());
    if let Some((k, m)) = m_cmp {
        rows.push(row(
            format!("consume {label} ({k} partitions), rec/s"),
            fmt_num(w_cmp.1.rps()),
            fmt_num(m.rps()),
            ratio(w_cmp.1.rps(), m.rps()),
            String::new(),
        ));
        rows.push(row(
            format!("consume {label} ({k} partitions), MB/s"),
            format!("{:.1}", w_cmp.1.mbps()),
            fmt_f(m.mbps(), 1),
            ratio(w_cmp.1.mbps(), m.mbps()),
            String::new(),
        ));
    } else if let Some((k, t)) = &weir.consume_cmp {
        rows.push(row(
            format!("consume {label} ({k} partitions), rec/s"),
            fmt_num(t.rps()),
            "-".into(),
            "-".into(),
            String::new(),
        ));
        rows.push(row(
            format!("consume {label} ({k} partitions), MB/s"),
            format!("{:.1}", t.mbps()),
            "-".into(),
            "-".into(),
            String::new(),
        ));
    }
    if let Some(l) = &weir.latency {
        let ml = mock.and_then(|m| m.latency.as_ref());
        let at = format!("@ {} rec/s", fmt_num(l.target_rps));
        rows.push(row(
            format!("acks=all {label} p50 ms {at}"),
            format!("{:.2}", l.p50_ms),
            ml.map_or("-".into(), |m| format!("{:.2}", m.p50_ms)),
            ratio(l.p50_ms, ml.map_or(f64::NAN, |m| m.p50_ms)),
            String::new(),
        ));
        rows.push(row(
            format!("acks=all {label} p99 ms {at}"),
            format!("{:.2}", l.p99_ms),
            ml.map_or("-".into(), |m| format!("{:.2}", m.p99_ms)),
            ratio(l.p99_ms, ml.map_or(f64::NAN, |m| m.p99_ms)),
            format!("< 5 ms: {}", verdict(l.p99_ms < 5.0)),
        ));
    }
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let s = Settings::from_env();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "weir e2e benchmark: {} x {SMALL} B and {} x {LARGE} B records (sizes {:?}), {} partition(s), linger.ms={}, {cpus} CPUs",
        s.small_records, s.large_records, s.sizes, s.partitions, s.linger_ms
    );
    let total = Instant::now();

    // 1. Startup time and idle RSS of the real binary.
    let bin = Path::new(env!("CARGO_BIN_EXE_weir"));
    println!("startup: {} runs of {}", s.startup_runs, bin.display());
    let st = startup(bin, s.startup_runs);
    println!(
        "  connect {:?} ms, logged {:?} ms, VmRSS {:?} KiB",
        st.connect_ms
            .iter()
            .map(|x| (x * 10.0).round() / 10.0)
            .collect::<Vec<_>>(),
        st.logged_ms,
        st.rss_kib
    );

    // 2. Throughput and latency against an in-process Weir.
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = support::broker_runtime();
    let config = support::broker_config(dir.path());
    let handle = runtime
        .block_on(weir::Broker::start(config))
        .expect("broker start");
    let weir = Cluster::Weir {
        bootstrap: handle.bootstrap_servers(),
    };
    println!("weir (in-process, {}):", weir.bootstrap());
    let count_for = |size: usize| {
        if size >= LARGE {
            s.large_records
        } else {
            s.small_records
        }
    };
    let w: Vec<(usize, SizeResults)> = s
        .sizes
        .iter()
        .map(|&size| (size, run_size(&weir, &s, size, count_for(size), None)))
        .collect();
    runtime.block_on(handle.shutdown());
    drop(runtime);
    drop(dir);

    // 3. The same workloads against librdkafka's mock cluster.
    let m: Vec<SizeResults> = if s.mock {
        let cluster = MockCluster::new(1).expect("mock cluster");
        let mock = Cluster::Mock {
            bootstrap: cluster.bootstrap_servers(),
            cluster,
        };
        println!("librdkafka mock cluster ({}):", mock.bootstrap());
        w.iter()
            .map(|(size, r)| {
                let rate = r.latency.as_ref().map(|l| l.target_rps);
                run_size(&mock, &s, *size, count_for(*size), rate)
            })
            .collect()
    } else {
        Vec::new()
    };

    // 4. Table.
    let mut rows = Vec::new();
    for (i, (size, r)) in w.iter().enumerate() {
        let label = if size.is_multiple_of(1024) {
            format!("{} KiB", size / 1024)
        } else {
            format!("{size} B")
        };
        size_rows(&mut rows, &label, r, m.get(i), *size == SMALL);
    }
    let rss = median(&st.rss_kib.iter().map(|&k| k as f64).collect::<Vec<_>>());
    rows.push(row(
        "idle RSS, MiB (binary, empty dir)",
        format!("{:.1}", rss / 1024.0),
        "-".into(),
        "-".into(),
        format!("< 20 MiB: {}", verdict(rss / 1024.0 < 20.0)),
    ));
    let connect = median(&st.connect_ms);
    let min = st.connect_ms.iter().copied().fold(f64::INFINITY, f64::min);
    let max = st.connect_ms.iter().copied().fold(0.0, f64::max);
    rows.push(row(
        "startup to accepting, ms (median)",
        format!("{connect:.1} ({min:.1}..{max:.1})"),
        "-".into(),
        "-".into(),
        format!("< 50 ms: {}", verdict(connect < 50.0)),
    ));
    rows.push(row(
        "startup as logged by weir, ms (median)",
        format!("{:.1}", median(&st.logged_ms)),
        "-".into(),
        "-".into(),
        String::new(),
    ));
    println!();
    println!(
        "Results ({} partition(s); MB = 10^6 payload bytes; weir/mock > 1 means weir is faster for throughput, slower for latency):",
        s.partitions
    );
    print_table(&rows);
    println!("total bench time {:.1} s", total.elapsed().as_secs_f64());
}
