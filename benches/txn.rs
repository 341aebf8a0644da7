//! Idempotence and transactions benchmark: one librdkafka producer against an in-process Weir
//! over loopback, sending 100-byte records in four modes (plain, idempotent, transactional with
//! 100-record transactions, transactional with 10,000-record transactions), with the same
//! workloads against librdkafka's mock cluster as a baseline for the client alone.
//!
//! Run with `cargo bench --bench txn`; see `benches/README.md` for the knobs and what each
//! figure means.

use std::ffi::CStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
#[path = "support/mod.rs"]
mod support;
use support::{env_or, settle, thread_ticks, CpuUse};

const RECORD_SIZE: usize = 100;
const WARMUP_TOPIC: &str = "bench-warmup";
const TIMEOUT: Duration = Duration::from_secs(120);
const STALL_TIMEOUT: Duration = Duration::from_secs(30);
const IDEMPOTENT_TARGET: f64 = 0.90;
const TXN_TARGET: f64 = 0.50;

// ---------------------------------------------------------------------------------------------
// Settings

struct Settings {
    /// Records per plain, idempotent and large-transaction run.
    records: usize,
    /// Records per run of the main transactional mode.
    txn_records: usize,
    /// Records per transaction in the main transactional mode.
    txn_size: usize,
    /// Records per transaction in the large-transaction mode (0 skips it).
    large_txn_size: usize,
    linger_ms: u64,
    rounds: usize,
    mock: bool,
    check: bool,
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            records: env_or("WEIR_BENCH_TXN_RECORDS", 1_000_000usize).max(1),
            txn_records: env_or("WEIR_BENCH_TXN_TRANSACTIONAL_RECORDS", 200_000usize).max(1),
            txn_size: env_or("WEIR_BENCH_TXN_SIZE", 100usize).max(1),
            large_txn_size: env_or("WEIR_BENCH_TXN_LARGE_SIZE", 10_000usize),
            linger_ms: env_or("WEIR_BENCH_TXN_LINGER_MS", 5),
            rounds: env_or("WEIR_BENCH_TXN_ROUNDS", 3usize).max(1),
            mock: env_or("WEIR_BENCH_MOCK", 1u8) != 0,
            check: env_or("WEIR_BENCH_TXN_CHECK", 1u8) != 0,
        }
    }

    fn modes(&self) -> Vec<Mode> {
        let mut m = vec![
            Mode::Plain,
            Mode::Idempotent,
            Mode::Transactional(self.txn_size),
        ];
        if self.large_txn_size > 0 && self.large_txn_size != self.txn_size {
            m.push(Mode::Transactional(self.large_txn_size));
        }
        m
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Plain,
    Idempotent,
    /// Records per transaction.
    Transactional(usize),
}

impl Mode {
    fn label(self) -> String {
        match self {
            Mode::Plain => "plain".into(),
            Mode::Idempotent => "idempotent".into(),
            Mode::Transactional(n) => format!("txn x{n}"),
        }
    }

    fn slug(self) -> String {
        match self {
            Mode::Plain => "plain".into(),
            Mode::Idempotent => "idem".into(),
            Mode::Transactional(n) => format!("txn{n}"),
        }
    }

    /// The main transactional mode gets its own (smaller) count; the large-transaction mode
    /// gets the plain and idempotent count, so it has enough commits to be timed.
    fn records(self, s: &Settings) -> usize {
        match self {
            Mode::Transactional(n) if n == s.txn_size => s.txn_records,
            _ => s.records,
        }
    }
}

/// Extra librdkafka properties from `var`, as `name=value,name=value`. A part without `=`
/// continues the previous value, so `debug=eos,protocol,msg` works.
fn apply_overrides(c: &mut ClientConfig, var: &str) {
    let Ok(list) = std::env::var(var) else {
        return;
    };
    let mut props: Vec<(String, String)> = Vec::new();
    for part in list.split(',').filter(|p| !p.trim().is_empty()) {
        match (part.split_once('='), props.last_mut()) {
            (Some((k, v)), _) => props.push((k.trim().to_string(), v.trim().to_string())),
            (None, Some((_, v))) => {
                v.push(',');
                v.push_str(part.trim());
            }
            (None, None) => panic!("{var}: expected name=value, got {part:?}"),
        }
    }
    for (k, v) in props {
        c.set(k, v);
    }
}

// ---------------------------------------------------------------------------------------------
// Per-thread CPU accounting (as in benches/e2e.rs)

// ---------------------------------------------------------------------------------------------
// Clusters under test

enum Target {
    Weir {
        bootstrap: String,
    },
    Mock {
        cluster: MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
        bootstrap: String,
    },
}

impl Target {
    fn bootstrap(&self) -> &str {
        match self {
            Target::Weir { bootstrap } | Target::Mock { bootstrap, .. } => bootstrap,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Weir { .. } => "weir",
            Target::Mock { .. } => "mock",
        }
    }

    fn create_topic(&self, topic: &str) {
        match self {
            Target::Weir { bootstrap } => {
                let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
                    .set("bootstrap.servers", bootstrap)
                    .create()
                    .expect("admin client");
                let t = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
                let res =
                    futures::executor::block_on(admin.create_topics([&t], &AdminOptions::new()))
                        .expect("create_topics");
                for r in res {
                    r.expect("topic created");
                }
            }
            Target::Mock { cluster, .. } => {
                cluster.create_topic(topic, 1, 1).expect("mock topic");
            }
        }
    }
}

fn wait_for_topic<C: ClientContext>(client: &rdkafka::client::Client<C>, topic: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(md) = client.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            if let Some(t) = md.topics().iter().find(|t| t.name() == topic) {
                if t.error().is_none()
                    && t.partitions().len() == 1
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

// ---------------------------------------------------------------------------------------------
// The producer

#[derive(Default)]
struct CountingContext {
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for CountingContext {
    /// librdkafka's own log lines (warnings, errors, and `debug=...` output when asked for via
    /// `WEIR_BENCH_PRODUCER_CONFIG`), with a wall-clock time in µs to read round trips from.
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() % 100_000_000);
        eprintln!("{us:>9} librdkafka {level:?} {fac}: {log_message}");
    }
}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
                if first.is_none() {
                    *first = Some(e.to_string());
                }
            }
        }
    }
}

type BenchProducer = ThreadedProducer<CountingContext>;

fn producer_config(bootstrap: &str, mode: Mode, linger_ms: u64, txn_id: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("linger.ms", linger_ms.to_string())
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "2097151")
        .set("compression.type", "none");
    match mode {
        Mode::Plain => {
            c.set("enable.idempotence", "false").set("acks", "all");
        }
        // acks=all and max.in.flight ≤ 5 are implied.
        Mode::Idempotent => {
            c.set("enable.idempotence", "true");
        }
        Mode::Transactional(_) => {
            c.set("transactional.id", txn_id);
        }
    }
    apply_overrides(&mut c, "WEIR_BENCH_PRODUCER_CONFIG");
    if c.get("debug").is_some() {
        // Otherwise rust-rdkafka lowers librdkafka's log level to what the `log` crate passes
        // (nothing: this binary installs no logger) and the debug lines never arrive.
        c.set_log_level(RDKafkaLogLevel::Debug);
    }
    c
}

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

fn send(producer: &BenchProducer, topic: &str, value: &[u8]) {
    let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).payload(value).partition(0);
    loop {
        match producer.send(rec) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                rec = r;
                std::thread::sleep(Duration::from_micros(100));
            }
            Err((e, _)) => panic!("send failed: {e}"),
        }
    }
}

/// `rd_kafka_flush` itself, with a real timeout, while the `ThreadedProducer`'s thread serves the
/// delivery reports. rust-rdkafka's `flush` calls `rd_kafka_flush(rk, 0)` and then
/// `poll(100 ms)`, and that poll does not return before its timeout, so it adds up to 100 ms;
/// and because its `rd_kafka_flush` returns at once, `linger.ms` is not cut short either.
fn flush(producer: &BenchProducer) {
    // SAFETY: the handle is valid while `producer` lives; rd_kafka_flush is thread-safe.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_flush(
            producer.client().native_ptr(),
            TIMEOUT.as_millis() as i32,
        )
    };
    assert_eq!(
        err,
        rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR,
        "flush"
    );
}

/// `rd_kafka_commit_transaction` itself: it flushes (with `linger.ms` cut short), waits for every
/// delivery report (served by the `ThreadedProducer`'s thread) and sends EndTxn. rust-rdkafka's
/// `commit_transaction` first runs its own `flush` (see [`flush`]), which makes every commit
/// with records still in flight take at least 100 ms.
fn commit(producer: &BenchProducer) {
    // SAFETY: the handle is valid while `producer` lives; the returned error object, if any,
    // is owned by us, read and then destroyed exactly once.
    let msg = unsafe {
        let err = rdkafka::bindings::rd_kafka_commit_transaction(
            producer.client().native_ptr(),
            TIMEOUT.as_millis() as i32,
        );
        if err.is_null() {
            return;
        }
        let msg = CStr::from_ptr(rdkafka::bindings::rd_kafka_error_string(err))
            .to_string_lossy()
            .into_owned();
        rdkafka::bindings::rd_kafka_error_destroy(err);
        msg
    };
    panic!("commit_transaction failed: {msg}");
}

struct Run {
    records: u64,
    bytes: u64,
    secs: f64,
    commits: u64,
    /// Time spent in `commit_transaction`, ms, one per transaction.
    commit_ms: Vec<f64>,
    /// Time spent sending (begin_transaction and the sends), ms, one per transaction.
    send_ms: Vec<f64>,
    cpu: CpuUse,
    check: String,
}

impl Run {
    fn rps(&self) -> f64 {
        self.records as f64 / self.secs
    }
    fn mbps(&self) -> f64 {
        self.bytes as f64 / self.secs / 1e6
    }
    fn ms_per_commit(&self) -> Option<f64> {
        (self.commits > 0).then(|| self.secs * 1e3 / self.commits as f64)
    }
}

fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

fn run_mode(target: &Target, s: &Settings, mode: Mode, round: usize) -> Run {
    let count = mode.records(s);
    let topic = format!("bench-{}-{round}", mode.slug());
    let txn_id = format!("weir-bench-{}-{round}", mode.slug());
    target.create_topic(&topic);
    let producer: BenchProducer = producer_config(target.bootstrap(), mode, s.linger_ms, &txn_id)
        .create_with_context(CountingContext::default())
        .expect("producer");
    wait_for_topic(producer.client(), &topic);
    let value = payload(RECORD_SIZE);
    // Untimed warm-up: one record to another topic, so that the producer id (idempotent and
    // transactional modes), the coordinator and the leader connection are all in place before
    // the clock starts. An idempotent producer otherwise holds its first records until
    // InitProducerId has been answered, which can take up to ~0.5 s after creation.
    wait_for_topic(producer.client(), WARMUP_TOPIC);
    if let Mode::Transactional(_) = mode {
        producer
            .init_transactions(TIMEOUT)
            .expect("init_transactions");
        producer.begin_transaction().expect("begin_transaction");
        send(&producer, WARMUP_TOPIC, &value);
        commit(&producer);
    } else {
        send(&producer, WARMUP_TOPIC, &value);
        flush(&producer);
    }
    let ctx = producer.context();
    assert_eq!(ctx.failed.load(Ordering::Relaxed), 0, "warm-up delivery");
    ctx.delivered.store(0, Ordering::Relaxed);
    settle();
    let mut commit_ms = Vec::new();
    let mut send_ms = Vec::new();
    let before = thread_ticks();
    let start = Instant::now();
    match mode {
        Mode::Plain | Mode::Idempotent => {
            for _ in 0..count {
                send(&producer, &topic, &value);
            }
            flush(&producer);
        }
        Mode::Transactional(size) => {
            let mut sent = 0;
            while sent < count {
                let n = size.min(count - sent);
                let t0 = Instant::now();
                producer.begin_transaction().expect("begin_transaction");
                for _ in 0..n {
                    send(&producer, &topic, &value);
                }
                let t1 = Instant::now();
                commit(&producer);
                send_ms.push((t1 - t0).as_secs_f64() * 1e3);
                commit_ms.push(t1.elapsed().as_secs_f64() * 1e3);
                sent += n;
            }
        }
    }
    let wall = start.elapsed();
    let cpu = CpuUse::between(&before, &thread_ticks(), wall);
    let ctx = producer.context();
    let failed = ctx.failed.load(Ordering::Relaxed);
    assert_eq!(
        failed,
        0,
        "{failed} deliveries failed, first: {:?}",
        ctx.first_error.lock().unwrap_or_else(|p| p.into_inner())
    );
    let delivered = ctx.delivered.load(Ordering::Relaxed);
    assert_eq!(delivered, count as u64, "delivery reports");
    drop(producer);
    let commits = commit_ms.len() as u64;
    let check = match target {
        Target::Weir { bootstrap } if s.check => verify(bootstrap, &topic, mode, count, commits),
        _ => String::new(),
    };
    Run {
        records: count as u64,
        bytes: (count * RECORD_SIZE) as u64,
        secs: wall.as_secs_f64(),
        commits,
        commit_ms,
        send_ms,
        cpu,
        check,
    }
}

// ---------------------------------------------------------------------------------------------
// Correctness checks (untimed)

fn consumer(bootstrap: &str, isolation: &str) -> BaseConsumer {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", "weir-bench-txn")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", isolation)
        .set("queued.min.messages", "1000000")
        .set("queued.max.messages.kbytes", "262144")
        .set("fetch.queue.backoff.ms", "10");
    apply_overrides(&mut c, "WEIR_BENCH_CONSUMER_CONFIG");
    c.create().expect("consumer")
}

/// The high watermark must be the records written plus one control record per commit (one
/// partition); for transactions, the last stable offset must have caught up with it, and a
/// read_committed consumer must see exactly the records written. Panics otherwise.
fn verify(bootstrap: &str, topic: &str, mode: Mode, count: usize, commits: u64) -> String {
    let expected_hw = count as i64 + commits as i64;
    let uncommitted = consumer(bootstrap, "read_uncommitted");
    let (low, hw) = uncommitted
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks");
    assert_eq!(
        (low, hw),
        (0, expected_hw),
        "{topic}: watermarks (log start, high) after {count} records and {commits} commits"
    );
    if !matches!(mode, Mode::Transactional(_)) {
        return format!("hw {hw} ok");
    }
    let committed = consumer(bootstrap, "read_committed");
    let (_, lso) = committed
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks");
    assert_eq!(lso, hw, "{topic}: last stable offset after every commit");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    committed.assign(&tpl).expect("assign");
    let mut seen = 0usize;
    let mut last_progress = Instant::now();
    loop {
        match committed.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => {
                seen += 1;
                last_progress = Instant::now();
            }
            Some(Err(KafkaError::PartitionEOF(_))) => break,
            Some(Err(e)) => panic!("{topic}: read_committed consume failed after {seen}: {e}"),
            None => assert!(
                last_progress.elapsed() < STALL_TIMEOUT,
                "{topic}: read_committed consumer stalled at {seen}/{count}"
            ),
        }
    }
    assert_eq!(seen, count, "{topic}: records seen by read_committed");
    format!("hw {hw} = {count} + {commits} markers, lso = hw, read_committed {seen}: ok")
}

// ---------------------------------------------------------------------------------------------
// Running and reporting

/// Every mode, `rounds` times, interleaved; the run with the median rate of each mode is kept.
fn run_all(target: &Target, s: &Settings) -> Vec<(Mode, Run)> {
    target.create_topic(WARMUP_TOPIC);
    let modes = s.modes();
    let mut runs: Vec<Vec<Run>> = modes.iter().map(|_| Vec::new()).collect();
    for round in 0..s.rounds {
        for (i, &mode) in modes.iter().enumerate() {
            let r = run_mode(target, s, mode, round);
            let per_txn = if r.commits > 0 {
                format!(
                    "; {} commits, {:.2} ms per txn (send {:.2}, commit p50 {:.2} p99 {:.2})",
                    r.commits,
                    r.ms_per_commit().unwrap_or(f64::NAN),
                    percentile(&r.send_ms, 0.5),
                    percentile(&r.commit_ms, 0.5),
                    percentile(&r.commit_ms, 0.99)
                )
            } else {
                String::new()
            };
            println!(
                "  {} {:<11} {:>9} rec in {:>6.2} s: {:>9.0} rec/s {:>6.1} MB/s{per_txn}; {}{}{}",
                target.name(),
                mode.label(),
                r.records,
                r.secs,
                r.rps(),
                r.mbps(),
                r.cpu.show(),
                if r.check.is_empty() { "" } else { "; " },
                r.check
            );
            runs[i].push(r);
        }
    }
    modes
        .into_iter()
        .zip(runs)
        .map(|(mode, mut rs)| {
            rs.sort_by(|a, b| a.rps().total_cmp(&b.rps()));
            let mid = rs.len() / 2;
            (mode, rs.swap_remove(mid))
        })
        .collect()
}

/// `n` producers at once, each on its own thread and topic, in `mode`: the aggregate records/s.
/// With one librdkafka producer a 100-record transaction is bounded by the client's own
/// per-transaction round trips and timers (the mock cluster shows the same ratio), so this asks
/// what the broker sustains when many producers commit small transactions concurrently, the
/// way a fleet of exactly-once workers does.
fn run_parallel(target: &Target, s: &Settings, mode: Mode, n: usize, round: usize) -> f64 {
    let total = match mode {
        Mode::Transactional(_) => s.txn_records,
        _ => s.records,
    };
    let per = (total / n).max(1);
    let value = payload(RECORD_SIZE);
    let topics: Vec<String> = (0..n)
        .map(|i| format!("bench-par-{}-{round}-{i}", mode.slug()))
        .collect();
    for t in &topics {
        target.create_topic(t);
    }
    let producers: Vec<BenchProducer> = topics
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let txn_id = format!("weir-bench-par-{}-{round}-{i}", mode.slug());
            let p: BenchProducer = producer_config(target.bootstrap(), mode, s.linger_ms, &txn_id)
                .create_with_context(CountingContext::default())
                .expect("producer");
            wait_for_topic(p.client(), t);
            if let Mode::Transactional(_) = mode {
                p.init_transactions(TIMEOUT).expect("init_transactions");
            }
            // Warm up (producer id, coordinator, leader connection) before the clock starts.
            if let Mode::Transactional(_) = mode {
                p.begin_transaction().expect("begin_transaction");
                send(&p, t, &value);
                commit(&p);
            } else {
                send(&p, t, &value);
                flush(&p);
            }
            p.context().delivered.store(0, Ordering::Relaxed);
            p
        })
        .collect();
    settle();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for (p, t) in producers.iter().zip(&topics) {
            let value = &value;
            scope.spawn(move || match mode {
                Mode::Plain | Mode::Idempotent => {
                    for _ in 0..per {
                        send(p, t, value);
                    }
                    flush(p);
                }
                Mode::Transactional(size) => {
                    let mut sent = 0;
                    while sent < per {
                        let k = size.min(per - sent);
                        p.begin_transaction().expect("begin_transaction");
                        for _ in 0..k {
                            send(p, t, value);
                        }
                        commit(p);
                        sent += k;
                    }
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    for p in &producers {
        let ctx = p.context();
        assert_eq!(ctx.failed.load(Ordering::Relaxed), 0, "parallel deliveries");
        assert_eq!(ctx.delivered.load(Ordering::Relaxed), per as u64);
    }
    (per * n) as f64 / secs
}

fn rate_of(results: &[(Mode, Run)], mode: Mode) -> Option<f64> {
    results
        .iter()
        .find(|(m, _)| *m == mode)
        .map(|(_, r)| r.rps())
}

fn main() {
    let s = Settings::from_env();
    println!(
        "txn bench: {RECORD_SIZE} B records, one producer, one partition, linger.ms={}, \
         {} rounds (median kept)",
        s.linger_ms, s.rounds
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = support::broker_runtime();
    let config = support::broker_config(dir.path());
    let handle = runtime
        .block_on(weir::Broker::start(config))
        .expect("broker start");
    let weir = Target::Weir {
        bootstrap: handle.bootstrap_servers(),
    };
    println!("weir (in-process, {}):", weir.bootstrap());
    let w = run_all(&weir, &s);
    let parallel = env_or("WEIR_BENCH_TXN_PRODUCERS", 8usize);
    let mut par = Vec::new();
    if parallel > 1 {
        let txn = Mode::Transactional(s.txn_size);
        for round in 0..s.rounds {
            let idem = run_parallel(&weir, &s, Mode::Idempotent, parallel, round);
            let tx = run_parallel(&weir, &s, txn, parallel, round);
            println!(
                "  weir {parallel} producers at once: idempotent {idem:.0} rec/s, {} {tx:.0} rec/s ({:.2})",
                txn.label(),
                tx / idem
            );
            par.push((idem, tx));
        }
    }
    runtime.block_on(handle.shutdown());
    drop(runtime);
    drop(dir);

    let m = if s.mock {
        let cluster = MockCluster::new(1).expect("mock cluster");
        let mock = Target::Mock {
            bootstrap: cluster.bootstrap_servers(),
            cluster,
        };
        println!("librdkafka mock cluster ({}):", mock.bootstrap());
        run_all(&mock, &s)
    } else {
        Vec::new()
    };

    println!();
    println!(
        "{:<12} {:>9} {:>7} {:>11} {:>7} {:>9} {:>9} {:>11} {:>9}",
        "mode",
        "records",
        "commits",
        "weir rec/s",
        "MB/s",
        "ms/txn",
        "commit",
        "mock rec/s",
        "weir/mock"
    );
    for (mode, r) in &w {
        let mock = rate_of(&m, *mode);
        println!(
            "{:<12} {:>9} {:>7} {:>11.0} {:>7.1} {:>9} {:>9} {:>11} {:>9}",
            mode.label(),
            r.records,
            r.commits,
            r.rps(),
            r.mbps(),
            r.ms_per_commit().map_or("-".into(), |x| format!("{x:.3}")),
            if r.commits > 0 {
                format!("{:.3}", percentile(&r.commit_ms, 0.5))
            } else {
                "-".into()
            },
            mock.map_or("-".into(), |x| format!("{x:.0}")),
            mock.map_or("-".into(), |x| format!("{:.2}", r.rps() / x)),
        );
    }
    println!("(ms/txn: wall time per transaction; commit: median time in commit_transaction, ms)");

    println!();
    let idem = Mode::Idempotent;
    let txn = Mode::Transactional(s.txn_size);
    let ratio = |res: &[(Mode, Run)], a: Mode, b: Mode| -> Option<f64> {
        Some(rate_of(res, a)? / rate_of(res, b)?)
    };
    println!(
        "{:<32} {:>6} {:>8}   {:<10} {:>6}",
        "ratio", "weir", "target", "", "mock"
    );
    for (name, a, b, target) in [
        (
            "idempotent / plain".to_string(),
            idem,
            Mode::Plain,
            IDEMPOTENT_TARGET,
        ),
        (
            format!("{} / idempotent", txn.label()),
            txn,
            idem,
            TXN_TARGET,
        ),
    ] {
        let wr = ratio(&w, a, b).unwrap_or(f64::NAN);
        let mr = ratio(&m, a, b).map_or("-".into(), |x| format!("{x:.2}"));
        println!(
            "{name:<32} {wr:>6.2} {:>8}   {:<10} {mr:>6}",
            format!(">= {target:.2}"),
            if wr >= target { "met" } else { "MISSED" },
        );
    }
    if !par.is_empty() {
        par.sort_by(|a, b| (a.1 / a.0).total_cmp(&(b.1 / b.0)));
        let (idem, tx) = par[par.len() / 2];
        println!(
            "{:<32} {:>6.2} {:>8}   {:<10} {:>6}",
            format!("{} / idempotent, {parallel} producers", txn.label()),
            tx / idem,
            format!(">= {TXN_TARGET:.2}"),
            if tx / idem >= TXN_TARGET {
                "met"
            } else {
                "MISSED"
            },
            "-"
        );
        println!(
            "  ({parallel} producers at once, median round: idempotent {idem:.0} rec/s, transactional {tx:.0} rec/s)"
        );
    }
    // What a commit costs beyond the records it carries, at the idempotent producer's rate.
    if let Some(idem_rps) = rate_of(&w, idem) {
        for (mode, r) in &w {
            if r.commits > 0 {
                let overhead = (r.secs - r.records as f64 / idem_rps) * 1e3 / r.commits as f64;
                println!(
                    "{}: {:.3} ms per commit beyond the idempotent cost of its records",
                    mode.label(),
                    overhead
                );
            }
        }
    }
}
