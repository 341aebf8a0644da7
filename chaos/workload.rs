//! The workload's clients (librdkafka through rdkafka): producers sending unique values
//! (idempotent, acks=all unless told otherwise; optionally in transactions, some aborted on
//! purpose) and consumers polling in assign and subscribe mode and committing offsets. Every
//! operation goes to the history. A send's outcome is `ok` only when the broker acknowledged it
//! with an offset; any error is `info` (indefinite: an idempotent retry may still have landed).

use crate::history::{now_ns, HistoryWriter, Op, Outcome, Read, Sent, F};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::config::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Settings {
    pub bootstrap: String,
    pub topic: String,
    pub partitions: i32,
    pub producers: usize,
    pub consumers: usize,
    /// Sends per second, all producers together.
    pub rate: f64,
    pub duration: Duration,
    pub txn: bool,
    pub abort_ratio: f64,
    pub acks: String,
    pub idempotence: bool,
    pub seed: u64,
    pub message_timeout_ms: u64,
}

/// Process ids: producer `i` generation `g` is `1000 * (i + 1) + g`; consumers from 100_000.
fn producer_process(i: usize, generation: u64) -> u64 {
    1000 * (i as u64 + 1) + generation
}

/// Values are unique across the run: the process id in the high bits, a counter below.
fn value_of(process: u64, seq: u64) -> u64 {
    (process << 32) | seq
}

/// A transactional send's delivery report: value, partition, offset or error.
type TxnDelivery = (u64, i32, Result<i64, String>);

struct DeliveryCtx {
    history: Arc<HistoryWriter>,
    process: u64,
    /// Transactional producers collect their deliveries here instead of recording them.
    txn_tx: Option<Mutex<mpsc::Sender<TxnDelivery>>>,
}

impl ClientContext for DeliveryCtx {}

impl ProducerContext for DeliveryCtx {
    type DeliveryOpaque = Box<(u64, u64, i32)>;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: Self::DeliveryOpaque) {
        let (value, invoke_ns, p) = *opaque;
        let outcome = match result {
            Ok(m) => Ok(m.offset()),
            Err((e, _)) => Err(e.to_string()),
        };
        if let Some(tx) = &self.txn_tx {
            let tx = tx.lock().unwrap_or_else(|e| e.into_inner());
            let _ = tx.send((value, p, outcome));
            return;
        }
        let mut op = Op::new(self.process, F::Send, Outcome::Info, invoke_ns);
        op.complete_ns = now_ns();
        match outcome {
            Ok(offset) => {
                op.outcome = Outcome::Ok;
                op.sends = vec![Sent {
                    p,
                    value,
                    offset: Some(offset),
                }];
            }
            Err(e) => {
                op.sends = vec![Sent {
                    p,
                    value,
                    offset: None,
                }];
                op.error = Some(e);
            }
        }
        self.history.record(&op);
    }
}

fn producer_config(s: &Settings, txn_id: Option<String>) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &s.bootstrap)
        .set("acks", &s.acks)
        .set("enable.idempotence", s.idempotence.to_string())
        .set("message.timeout.ms", s.message_timeout_ms.to_string())
        .set("request.timeout.ms", "10000")
        .set("socket.timeout.ms", "10000")
        .set("linger.ms", "5")
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "1000")
        .set("topic.metadata.refresh.interval.ms", "5000");
    if !s.idempotence {
        // The unsafe configuration retries too, which is how it duplicates and reorders.
        c.set("max.in.flight.requests.per.connection", "5");
    }
    if let Some(id) = txn_id {
        // librdkafka requires message.timeout.ms <= transaction.timeout.ms; a transaction left
        // open by a lost producer is aborted by the coordinator after 20 s.
        c.set("transactional.id", id)
            .set("transaction.timeout.ms", "20000")
            .set(
                "message.timeout.ms",
                s.message_timeout_ms.min(15_000).to_string(),
            );
    }
    c
}

fn sleep_until_or_stop(deadline: Instant, stop: &AtomicBool) {
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        thread::sleep(Duration::from_millis(5).min(deadline - Instant::now()));
    }
}

/// One plain (non-transactional) producer thread. Returns the number of values sent.
fn run_producer(
    i: usize,
    s: Settings,
    history: Arc<HistoryWriter>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<u64> {
    let mut rng = StdRng::seed_from_u64(s.seed ^ (i as u64 * 0x9e37_79b9));
    let interval = Duration::from_secs_f64(s.producers as f64 / s.rate.max(0.001));
    let mut generation = 0;
    let mut sent = 0;
    'outer: loop {
        let process = producer_process(i, generation);
        let ctx = DeliveryCtx {
            history: history.clone(),
            process,
            txn_tx: None,
        };
        let producer: ThreadedProducer<DeliveryCtx> =
            producer_config(&s, None).create_with_context(ctx)?;
        let mut seq = 0u64;
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            sleep_until_or_stop(next, &stop);
            next += interval;
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let value = value_of(process, seq);
            seq += 1;
            let p = rng.gen_range(0..s.partitions);
            let payload = value.to_string();
            let mut record = BaseRecord::with_opaque_to(&s.topic, Box::new((value, now_ns(), p)))
                .partition(p)
                .payload(&payload)
                .key(&payload);
            loop {
                match producer.send(record) {
                    Ok(()) => {
                        sent += 1;
                        break;
                    }
                    Err((
                        KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                        r,
                    )) => {
                        record = r;
                        thread::sleep(Duration::from_millis(10));
                    }
                    Err((e, r)) => {
                        // Never enqueued: definitely not sent.
                        let (value, invoke_ns, p) = *r.delivery_opaque;
                        let mut op = Op::new(process, F::Send, Outcome::Fail, invoke_ns);
                        op.complete_ns = now_ns();
                        op.sends = vec![Sent {
                            p,
                            value,
                            offset: None,
                        }];
                        op.error = Some(format!("not enqueued: {e}"));
                        history.record(&op);
                        break;
                    }
                }
            }
            if let Some((code, reason)) = producer.client().fatal_error() {
                eprintln!("producer {process}: fatal error {code:?} {reason}; recreating");
                // Deliveries still queued are reported (as errors, so `info`) on drop.
                producer.flush(Duration::from_secs(1)).ok();
                drop(producer);
                generation += 1;
                continue 'outer;
            }
        }
        // Drain: wait for every outstanding delivery, broker restarts included.
        let deadline = Instant::now() + Duration::from_millis(s.message_timeout_ms + 10_000);
        while producer.in_flight_count() > 0 && Instant::now() < deadline {
            let _ = producer.flush(Duration::from_secs(1));
        }
        if producer.in_flight_count() > 0 {
            anyhow::bail!(
                "producer {process}: {} sends still in flight at the end",
                producer.in_flight_count()
            );
        }
        return Ok(sent);
    }
}

fn is_retriable(e: &KafkaError) -> bool {
    match e {
        KafkaError::Transaction(r) => r.is_retriable(),
        _ => false,
    }
}

fn txn_requires_abort(e: &KafkaError) -> bool {
    match e {
        KafkaError::Transaction(r) => r.txn_requires_abort(),
        _ => false,
    }
}

/// One transactional producer thread: transactions of 1 to 4 sends, `abort_ratio` of them
/// aborted on purpose.
fn run_txn_producer(
    i: usize,
    s: Settings,
    history: Arc<HistoryWriter>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<u64> {
    let mut rng = StdRng::seed_from_u64(s.seed ^ (i as u64 * 0x9e37_79b9) ^ 0x7478);
    let interval = Duration::from_secs_f64(s.producers as f64 / s.rate.max(0.001));
    let txn_id = format!("chaos-txn-{i}");
    let mut generation = 0;
    let mut sent = 0;
    let op_timeout = Duration::from_secs(15);
    'producer: while !stop.load(Ordering::Relaxed) {
        let process = producer_process(i, generation);
        generation += 1;
        let (tx, rx) = mpsc::channel();
        let ctx = DeliveryCtx {
            history: history.clone(),
            process,
            txn_tx: Some(Mutex::new(tx)),
        };
        let producer: ThreadedProducer<DeliveryCtx> =
            producer_config(&s, Some(txn_id.clone())).create_with_context(ctx)?;
        let mut init = producer.init_transactions(op_timeout);
        while let Err(e) = &init {
            if stop.load(Ordering::Relaxed) {
                break 'producer;
            }
            eprintln!("producer {process}: init_transactions: {e}");
            if !is_retriable(e) {
                thread::sleep(Duration::from_millis(500));
                continue 'producer;
            }
            thread::sleep(Duration::from_millis(200));
            init = producer.init_transactions(op_timeout);
        }
        let mut seq = 0u64;
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let n = rng.gen_range(1..=4usize);
            sleep_until_or_stop(next, &stop);
            next += interval * n as u32;
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let abort = rng.gen_bool(s.abort_ratio);
            let mut op = Op::new(process, F::Txn, Outcome::Info, now_ns());
            op.abort = abort;
            if let Err(e) = producer.begin_transaction() {
                op.complete_ns = now_ns();
                op.outcome = Outcome::Fail;
                op.error = Some(format!("begin: {e}"));
                history.record(&op);
                continue 'producer;
            }
            let mut values = Vec::new();
            for _ in 0..n {
                let value = value_of(process, seq);
                seq += 1;
                let p = rng.gen_range(0..s.partitions);
                let payload = value.to_string();
                let mut record = BaseRecord::with_opaque_to(&s.topic, Box::new((value, 0, p)))
                    .partition(p)
                    .payload(&payload)
                    .key(&payload);
                loop {
                    match producer.send(record) {
                        Ok(()) => {
                            values.push(Sent {
                                p,
                                value,
                                offset: None,
                            });
                            sent += 1;
                            break;
                        }
                        Err((
                            KafkaError::MessageProduction(
                                rdkafka::types::RDKafkaErrorCode::QueueFull,
                            ),
                            r,
                        )) => {
                            record = r;
                            thread::sleep(Duration::from_millis(10));
                        }
                        Err((e, _)) => {
                            eprintln!("producer {process}: send in txn: {e}");
                            break;
                        }
                    }
                }
            }
            // Commit (retrying what is retriable) or abort. The outcome is ok only on a
            // successful commit, fail only on a successful abort, info otherwise.
            let mut outcome = Outcome::Info;
            let mut recreate = false;
            let attempt_abort = |op: &mut Op| match producer.abort_transaction(op_timeout) {
                Ok(()) => Outcome::Fail,
                Err(e) => {
                    op.error = Some(format!(
                        "{}abort: {e}",
                        op.error.clone().unwrap_or_default()
                    ));
                    Outcome::Info
                }
            };
            if abort || values.len() < n {
                outcome = attempt_abort(&mut op);
                if outcome == Outcome::Info {
                    recreate = true;
                }
            } else {
                let mut tries = 0;
                loop {
                    match producer.commit_transaction(op_timeout) {
                        Ok(()) => {
                            outcome = Outcome::Ok;
                            break;
                        }
                        Err(e) if is_retriable(&e) && tries < 3 => {
                            tries += 1;
                            op.error = Some(format!("commit (retried): {e}; "));
                        }
                        Err(e) if txn_requires_abort(&e) => {
                            op.error = Some(format!("commit: {e}; "));
                            outcome = attempt_abort(&mut op);
                            recreate = outcome == Outcome::Info;
                            break;
                        }
                        Err(e) => {
                            op.error = Some(format!("commit: {e}"));
                            recreate = true;
                            break;
                        }
                    }
                }
            }
            // Collect the delivery reports of this transaction's sends (the commit flushed
            // them; the abort purged the rest).
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut got = 0;
            while got < values.len() {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok((value, _p, res)) => {
                        if let Some(v) = values.iter_mut().find(|v| v.value == value) {
                            got += 1;
                            if let Ok(o) = res {
                                v.offset = Some(o);
                            }
                        }
                    }
                    Err(_) => break,
                }
            }
            op.sends = values;
            op.outcome = outcome;
            op.complete_ns = now_ns();
            history.record(&op);
            if recreate || producer.client().fatal_error().is_some() {
                eprintln!("producer {process}: recreating after {:?}", op.error);
                continue 'producer;
            }
        }
        let _ = producer.flush(Duration::from_secs(5));
        break;
    }
    Ok(sent)
}

/// Rebalance tracking for subscribed consumers: each assignment starts a new epoch.
struct ConsumerCtx {
    history: Arc<HistoryWriter>,
    process: u64,
    epoch: Arc<AtomicU64>,
}

impl ClientContext for ConsumerCtx {
    /// librdkafka's own log: warnings and worse always; with `CHAOS_RDKAFKA_DEBUG` set (it is
    /// also passed as librdkafka's `debug`), the lines about offset resets and validation.
    fn log(&self, level: RDKafkaLogLevel, fac: &str, line: &str) {
        let debug = std::env::var_os("CHAOS_RDKAFKA_DEBUG").is_some();
        let lower = line.to_ascii_lowercase();
        let interesting = ["reset", "truncat", "out of range", "validat", "epoch"]
            .iter()
            .any(|w| lower.contains(w));
        let serious = matches!(
            level,
            RDKafkaLogLevel::Emerg
                | RDKafkaLogLevel::Alert
                | RDKafkaLogLevel::Critical
                | RDKafkaLogLevel::Error
                | RDKafkaLogLevel::Warning
        );
        if serious || (debug && interesting) {
            eprintln!("rdkafka consumer {}: {level:?} {fac}: {line}", self.process);
        }
    }
}

impl ConsumerContext for ConsumerCtx {
    fn post_rebalance(&self, _c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let (partitions, what) = match rebalance {
            Rebalance::Assign(tpl) => (
                tpl.elements().iter().map(|e| e.partition()).collect(),
                "assign",
            ),
            Rebalance::Revoke(tpl) => (
                tpl.elements().iter().map(|e| e.partition()).collect(),
                "revoke",
            ),
            Rebalance::Error(e) => {
                eprintln!("consumer {}: rebalance error {e}", self.process);
                (vec![], "error")
            }
        };
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        let mut op = Op::new(self.process, F::Rebalance, Outcome::Ok, now_ns());
        op.partitions = partitions;
        op.epoch = Some(epoch);
        op.mode = Some("subscribe".into());
        op.error = Some(what.into());
        self.history.record(&op);
    }
}

fn consumer_config(s: &Settings, group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &s.bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("fetch.wait.max.ms", "100")
        .set("socket.timeout.ms", "10000")
        .set("reconnect.backoff.max.ms", "1000")
        .set("topic.metadata.refresh.interval.ms", "5000");
    if let Ok(debug) = std::env::var("CHAOS_RDKAFKA_DEBUG") {
        c.set("debug", debug).set_log_level(RDKafkaLogLevel::Debug);
    }
    c
}

fn run_consumer(
    i: usize,
    s: Settings,
    history: Arc<HistoryWriter>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<u64> {
    let mut rng = StdRng::seed_from_u64(s.seed ^ (i as u64 * 0x51_7cc1) ^ 0xc0);
    let subscribe = i.is_multiple_of(2);
    let process = 100_000 + i as u64;
    let mode = if subscribe { "subscribe" } else { "assign" };
    let group = if subscribe {
        "chaos-subscribe".to_string()
    } else {
        format!("chaos-assign-{i}")
    };
    let epoch = Arc::new(AtomicU64::new(0));
    let ctx = ConsumerCtx {
        history: history.clone(),
        process,
        epoch: epoch.clone(),
    };
    let consumer: BaseConsumer<ConsumerCtx> =
        consumer_config(&s, &group).create_with_context(ctx)?;
    let mut polled = 0;
    let mut reassign_at = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= reassign_at {
            reassign_at = Instant::now() + Duration::from_millis(rng.gen_range(5_000..15_000));
            let t0 = now_ns();
            if subscribe {
                consumer.unsubscribe();
                let e = epoch.fetch_add(1, Ordering::SeqCst) + 1;
                let res = consumer.subscribe(&[&s.topic]);
                let mut op = Op::new(process, F::Subscribe, Outcome::Ok, t0);
                op.complete_ns = now_ns();
                op.epoch = Some(e);
                op.mode = Some(mode.into());
                if let Err(err) = res {
                    op.outcome = Outcome::Fail;
                    op.error = Some(err.to_string());
                }
                history.record(&op);
            } else {
                // A random non-empty subset, from the committed offsets (or the beginning).
                let mut parts: Vec<i32> = (0..s.partitions).filter(|_| rng.gen_bool(0.6)).collect();
                if parts.is_empty() {
                    parts.push(rng.gen_range(0..s.partitions));
                }
                let mut tpl = TopicPartitionList::new();
                for &p in &parts {
                    tpl.add_partition_offset(&s.topic, p, Offset::Stored)?;
                }
                let e = epoch.fetch_add(1, Ordering::SeqCst) + 1;
                let res = consumer.assign(&tpl);
                let mut op = Op::new(process, F::Assign, Outcome::Ok, t0);
                op.complete_ns = now_ns();
                op.epoch = Some(e);
                op.partitions = parts;
                op.mode = Some(mode.into());
                if let Err(err) = res {
                    op.outcome = Outcome::Fail;
                    op.error = Some(err.to_string());
                }
                history.record(&op);
            }
        }
        // One poll op: up to 200 ms or 100 records, split wherever a rebalance intervenes.
        let t0 = now_ns();
        let mut batch_epoch = epoch.load(Ordering::SeqCst);
        let mut batch: Vec<Read> = Vec::new();
        let mut batch_t0 = t0;
        let deadline = Instant::now() + Duration::from_millis(200);
        let flush = |reads: Vec<Read>, e: u64, t0: u64| {
            if reads.is_empty() {
                return;
            }
            let mut op = Op::new(process, F::Poll, Outcome::Ok, t0);
            op.complete_ns = now_ns();
            op.epoch = Some(e);
            op.mode = Some(mode.into());
            op.reads = reads;
            history.record(&op);
        };
        while Instant::now() < deadline && batch.len() < 100 {
            let msg = consumer.poll(Duration::from_millis(50));
            let now_epoch = epoch.load(Ordering::SeqCst);
            if now_epoch != batch_epoch {
                flush(std::mem::take(&mut batch), batch_epoch, batch_t0);
                batch_epoch = now_epoch;
                batch_t0 = now_ns();
            }
            match msg {
                None => {}
                Some(Ok(m)) => {
                    let value = m
                        .payload()
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(|t| t.parse::<u64>().ok());
                    match value {
                        Some(value) => batch.push(Read {
                            p: m.partition(),
                            offset: m.offset(),
                            value,
                        }),
                        None => eprintln!(
                            "consumer {process}: unparsable record at {}/{}",
                            m.partition(),
                            m.offset()
                        ),
                    }
                    let _ = consumer.store_offset_from_message(&m);
                }
                Some(Err(e)) => {
                    let mut op = Op::new(process, F::Poll, Outcome::Fail, now_ns());
                    op.complete_ns = op.invoke_ns;
                    op.epoch = Some(batch_epoch);
                    op.mode = Some(mode.into());
                    op.error = Some(e.to_string());
                    history.record(&op);
                }
            }
        }
        polled += batch.len() as u64;
        let had = !batch.is_empty();
        flush(batch, batch_epoch, batch_t0);
        if had {
            let t0 = now_ns();
            let res = consumer.commit_consumer_state(CommitMode::Sync);
            let mut op = Op::new(process, F::Commit, Outcome::Ok, t0);
            op.complete_ns = now_ns();
            op.epoch = Some(batch_epoch);
            if let Err(e) = res {
                op.outcome = Outcome::Info;
                op.error = Some(e.to_string());
            }
            history.record(&op);
        }
    }
    consumer.unsubscribe();
    Ok(polled)
}

/// Runs producers and consumers for `s.duration`, then stops them, waits for every outstanding
/// send, and records `workload-end`. Any thread that fails or panics fails the workload.
pub fn run(s: &Settings, history: Arc<HistoryWriter>) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles: Vec<(String, thread::JoinHandle<anyhow::Result<u64>>)> = Vec::new();
    for i in 0..s.producers {
        let (s2, h, st) = (s.clone(), history.clone(), stop.clone());
        let name = format!("producer {i}");
        handles.push((
            name.clone(),
            thread::Builder::new().name(name).spawn(move || {
                if s2.txn {
                    run_txn_producer(i, s2, h, st)
                } else {
                    run_producer(i, s2, h, st)
                }
            })?,
        ));
    }
    for i in 0..s.consumers {
        let (s2, h, st) = (s.clone(), history.clone(), stop.clone());
        let name = format!("consumer {i}");
        handles.push((
            name.clone(),
            thread::Builder::new()
                .name(name)
                .spawn(move || run_consumer(i, s2, h, st))?,
        ));
    }
    let start = Instant::now();
    while start.elapsed() < s.duration {
        thread::sleep(Duration::from_millis(100));
        if handles.iter().any(|(_, h)| h.is_finished()) {
            eprintln!("workload: a client thread ended early");
            break;
        }
    }
    stop.store(true, Ordering::SeqCst);
    let mut failed = Vec::new();
    for (name, h) in handles {
        match h.join() {
            Ok(Ok(n)) => eprintln!("workload: {name}: {n} records"),
            Ok(Err(e)) => failed.push(format!("{name}: {e:#}")),
            Err(_) => failed.push(format!("{name}: panicked")),
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("workload failed: {}", failed.join("; "));
    }
    if start.elapsed() < s.duration {
        anyhow::bail!("workload: client threads ended before the duration");
    }
    history.record(&Op::new(0, F::WorkloadEnd, Outcome::Ok, now_ns()));
    Ok(())
}

/// The final read: for each partition, a fresh assign-mode consumer (read_committed) reads from
/// the beginning until it reaches the end (partition EOF at or past the high watermark taken
/// first). Records one `final-read` op per partition: `ok` when complete, `info` if not.
pub fn final_read(
    bootstrap: &str,
    topic: &str,
    history: &HistoryWriter,
    timeout: Duration,
) -> anyhow::Result<bool> {
    let mut all_ok = true;
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", "chaos-final-read")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed");
    let probe: BaseConsumer = c.create()?;
    let deadline = Instant::now() + timeout;
    let partitions = loop {
        match probe.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            Ok(md) => {
                let n = md
                    .topics()
                    .iter()
                    .find(|t| t.name() == topic)
                    .map_or(0, |t| t.partitions().len());
                if n > 0 {
                    break n as i32;
                }
            }
            Err(e) => eprintln!("final read: metadata: {e}"),
        }
        if Instant::now() > deadline {
            anyhow::bail!("final read: no metadata for {topic}");
        }
        thread::sleep(Duration::from_millis(500));
    };
    for p in 0..partitions {
        let process = 900_000 + p as u64;
        let mut op = Op::new(process, F::FinalRead, Outcome::Info, now_ns());
        op.partitions = vec![p];
        op.epoch = Some(0);
        op.mode = Some("assign".into());
        let high = loop {
            match probe.fetch_watermarks(topic, p, Duration::from_secs(5)) {
                Ok((_, high)) => break Some(high),
                Err(e) if Instant::now() < deadline => {
                    eprintln!("final read: watermarks of {p}: {e}");
                    thread::sleep(Duration::from_millis(500));
                }
                Err(_) => break None,
            }
        };
        op.end_offset = high;
        let consumer: BaseConsumer = c.create()?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
        consumer.assign(&tpl)?;
        let mut last = -1;
        let mut done = false;
        while high.is_some() && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(500)) {
                None => {}
                Some(Ok(m)) => {
                    last = m.offset();
                    match m
                        .payload()
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(|t| t.parse::<u64>().ok())
                    {
                        Some(value) => op.reads.push(Read {
                            p,
                            offset: m.offset(),
                            value,
                        }),
                        None => eprintln!("final read: unparsable record at {p}/{}", m.offset()),
                    }
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    // EOF is at the last stable offset. It is the end once it reaches the high
                    // watermark; short of it, a transaction is still open (it will commit or
                    // time out): keep reading.
                    let pos = consumer
                        .position()
                        .ok()
                        .and_then(|t| t.find_partition(topic, p).and_then(|e| e.offset().to_raw()))
                        .unwrap_or(-1)
                        .max(last + 1);
                    let hw = probe
                        .fetch_watermarks(topic, p, Duration::from_secs(5))
                        .map(|(_, h)| h)
                        .unwrap_or(i64::MAX);
                    if pos >= hw {
                        op.end_offset = Some(hw);
                        done = true;
                        break;
                    }
                    eprintln!(
                        "final read: partition {p}: EOF at position {pos} below high watermark {hw}; waiting"
                    );
                    thread::sleep(Duration::from_millis(500));
                }
                Some(Err(e)) => eprintln!("final read: partition {p}: {e}"),
            }
        }
        op.complete_ns = now_ns();
        if done {
            op.outcome = Outcome::Ok;
        } else {
            all_ok = false;
            op.error = Some(format!("timed out at offset {last}, end offset {high:?}"));
        }
        eprintln!(
            "final read: partition {p}: {} records, end offset {high:?}, {}",
            op.reads.len(),
            if done { "complete" } else { "INCOMPLETE" }
        );
        history.record(&op);
    }
    Ok(all_ok)
}
