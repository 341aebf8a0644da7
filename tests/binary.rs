//! The `weir` binary itself: configuration from a server.properties file and overrides, kcat
//! producing and consuming, SIGTERM shutdown, and recovery after kill -9 with a torn tail.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Weir {
    child: Child,
    port: u16,
    /// What the broker logged before its startup line (configuration warnings).
    startup_log: Vec<String>,
}

impl Weir {
    fn spawn(args: &[String]) -> Weir {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn weir");
        // Wait for the startup line, which names listeners and data dir.
        let out = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(out).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut startup_log = Vec::new();
        let port = loop {
            assert!(Instant::now() < deadline, "weir did not start");
            match lines.next() {
                Some(Ok(l)) if l.contains("weir started") => {
                    assert!(
                        l.contains("data dir"),
                        "startup line names the data dir: {l}"
                    );
                    // "... listeners PLAINTEXT://127.0.0.1:PORT ..."
                    let port = l
                        .split("listeners PLAINTEXT://")
                        .nth(1)
                        .and_then(|r| r.split([' ', ',']).next())
                        .and_then(|a| a.rsplit(':').next())
                        .and_then(|p| p.parse().ok())
                        .expect("port in startup line");
                    break port;
                }
                Some(Ok(l)) => startup_log.push(l),
                _ => panic!(
                    "weir exited before starting: {:?}\n{}",
                    child.wait(),
                    startup_log.join("\n")
                ),
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Weir {
            child,
            port,
            startup_log,
        }
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().expect("wait")
    }

    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kcat() -> Option<&'static str> {
    let ok = Command::new("kcat")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some("kcat")
    } else if std::env::var_os("CI").is_some() {
        panic!("kcat is not installed; .ci/run installs it");
    } else {
        eprintln!("SKIPPED: kcat not installed (apt-get install kcat, or run .ci/run)");
        None
    }
}

fn kcat_produce(bootstrap: &str, topic: &str, lines: &str, extra: &[&str]) {
    let mut child = Command::new("kcat")
        .args(["-b", bootstrap, "-t", topic, "-P", "-K", ":"])
        .args(extra)
        .stdin(Stdio::piped())
        .spawn()
        .expect("kcat -P");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(lines.as_bytes())
        .expect("write");
    let st = child.wait().expect("kcat wait");
    assert!(st.success(), "kcat -P failed");
}

fn kcat_consume(bootstrap: &str, topic: &str) -> String {
    let out = Command::new("kcat")
        .args([
            "-b",
            bootstrap,
            "-t",
            topic,
            "-C",
            "-e",
            "-o",
            "beginning",
            "-f",
            "%p|%o|%k|%s\n",
        ])
        .output()
        .expect("kcat -C");
    assert!(
        out.status.success(),
        "kcat -C failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn props_file(dir: &Path, port: u16) -> String {
    let path = dir.join("server.properties");
    std::fs::write(
        &path,
        format!(
            "# as Kafka ships it, give or take\nprocess.roles=broker,controller\nnode.id=1\n\
             controller.quorum.bootstrap.servers=localhost:9093\n\
             listeners=PLAINTEXT://127.0.0.1:{port}\n\
             inter.broker.listener.name=PLAINTEXT\nadvertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
             controller.listener.names=CONTROLLER\nnum.network.threads=3\nnum.io.threads=8\n\
             log.dirs=/nonexistent-overridden\nnum.partitions=2\n\
             offsets.topic.replication.factor=1\nlog.retention.hours=168\n"
        ),
    )
    .expect("write props");
    path.display().to_string()
}

#[test]
fn kcat_round_trip_through_the_binary_with_a_properties_file() {
    let Some(_) = kcat() else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let data = dir.path().join("data");
    let props = props_file(dir.path(), port);
    let weir = Weir::spawn(&[
        "serve".into(),
        props,
        "--override".into(),
        format!("log.dirs={}", data.display()),
    ]);
    let mut input = String::new();
    for i in 0..500 {
        input.push_str(&format!("k{i}:value {i}\n"));
    }
    kcat_produce(&weir.bootstrap(), "kcat-topic", &input, &["-z", "snappy"]);
    let out = kcat_consume(&weir.bootstrap(), "kcat-topic");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 500, "{out}");
    // num.partitions=2 from the properties file: auto-created with two partitions.
    assert!(lines.iter().any(|l| l.starts_with("1|")));
    for i in 0..500 {
        assert!(
            lines
                .iter()
                .any(|l| l.ends_with(&format!("|k{i}|value {i}"))),
            "missing k{i}"
        );
    }
    assert!(
        data.join("kcat-topic-0")
            .join(format!("{:020}.log", 0))
            .exists(),
        "Kafka's layout"
    );
    let status = weir.terminate();
    assert!(status.success(), "SIGTERM exits 0: {status}");
    assert!(data.join(".weir_cleanshutdown").exists());
}

/// A `server.properties` as real deployments carry them: a 3.x broker's file with ZooKeeper
/// leftovers, vendor metric reporters and their settings, a JAAS line over several lines,
/// an authorizer, a topic setting put in the broker file by mistake.
fn real_world_props(dir: &Path, port: u16, sasl_port: u16) -> String {
    let path = dir.join("server.properties");
    let data = dir.join("data");
    std::fs::write(
        &path,
        format!(
            r#"############################# Server Basics #############################
broker.id=0
############################# Socket Server Settings #############################
listeners=PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
inter.broker.listener.name=PLAINTEXT
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
sasl.enabled.mechanisms=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
    username="admin" \
    password="admin-secret" \
    user_admin="admin-secret" \
    user_alice="alice-secret";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=true
############################# Log Basics #############################
log.dirs={data}
num.partitions=2
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
# meant as the broker-wide default
flush.messages=10000
group.initial.rebalance.delay.ms=0
############################# Zookeeper #############################
zookeeper.connect=zk1:2181,zk2:2181,zk3:2181/kafka
zookeeper.connection.timeout.ms=18000
zookeeper.set.acl=false
log.message.format.version=2.8
inter.broker.protocol.version=3.9
############################# Metrics #############################
metric.reporters=io.confluent.metrics.reporter.ConfluentMetricsReporter
confluent.metrics.reporter.bootstrap.servers=127.0.0.1:{port}
confluent.metrics.reporter.topic.replicas=1
confluent.support.metrics.enable=false
confluent.support.customer.id=anonymous
confluent.license.topic.replication.factor=1
cruise.control.metrics.reporter.bootstrap.servers=127.0.0.1:{port}
cruise.control.metrics.topic.auto.create=true
"#,
            data = data.display()
        ),
    )
    .expect("write props");
    path.display().to_string()
}

#[test]
fn a_real_world_server_properties_starts_and_lists_what_it_ignores() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::Message;

    let dir = tempfile::tempdir().unwrap();
    let (port, sasl_port) = (free_port(), free_port());
    let props = real_world_props(dir.path(), port, sasl_port);
    let weir = Weir::spawn(&["serve".into(), props]);
    let log = &weir.startup_log;
    let lines =
        |needle: &str| -> Vec<&String> { log.iter().filter(|l| l.contains(needle)).collect() };
    let unused = lines("were supplied but are not used");
    assert_eq!(unused.len(), 1, "listed once: {log:#?}");
    for key in [
        "confluent.metrics.reporter.bootstrap.servers",
        "confluent.metrics.reporter.topic.replicas",
        "confluent.support.metrics.enable",
        "confluent.support.customer.id",
        "confluent.license.topic.replication.factor",
        "cruise.control.metrics.reporter.bootstrap.servers",
        "cruise.control.metrics.topic.auto.create",
    ] {
        assert!(unused[0].contains(key), "{key} listed: {}", unused[0]);
    }
    let removed = lines("removed in Apache Kafka 4.0");
    let removed = removed
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for key in [
        "zookeeper.connect",
        "zookeeper.connection.timeout.ms",
        "zookeeper.set.acl",
        "log.message.format.version",
        "inter.broker.protocol.version",
    ] {
        assert!(removed.contains(key), "{key} named as removed: {removed}");
    }
    let flush = lines("flush.messages");
    assert_eq!(flush.len(), 1, "{log:#?}");
    assert!(
        flush[0].contains("log.flush.interval.messages"),
        "{}",
        flush[0]
    );
    // Settings Weir knows (used or deliberately ignored) are not reported.
    for known in [
        "num.network.threads",
        "socket.send.buffer.bytes",
        "metric.reporters=",
        "sasl.jaas.config",
        "authorizer.class.name",
        "group.initial.rebalance.delay.ms",
    ] {
        assert!(lines(known).is_empty(), "{known} reported: {log:#?}");
    }

    // The JAAS line (continued over several lines) authenticates alice on the SASL listener.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{sasl_port}"))
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "PLAIN")
        .set("sasl.username", "alice")
        .set("sasl.password", "alice-secret")
        .create()
        .unwrap();
    for i in 0..10 {
        let v = format!("v{i}");
        let k = format!("k{i}");
        producer
            .send(BaseRecord::to("legacy").key(&k).payload(&v))
            .unwrap();
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("acknowledged");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", weir.bootstrap())
        .set("group.id", "legacy-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..2 {
        tpl.add_partition_offset("legacy", p, rdkafka::Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < 10 && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            seen.push((m.partition(), m.payload().map(<[u8]>::to_vec)));
        }
    }
    assert_eq!(seen.len(), 10, "{seen:?}");
    assert!(
        seen.iter().any(|(p, _)| *p == 1),
        "num.partitions=2 from the file applies"
    );
    assert!(weir.terminate().success());
}

fn run_weir(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn strict_refuses_unknown_settings_and_invalid_values_stop_startup() {
    // Every case fails while reading the configuration, before any listener is opened.
    let (ok, err) = run_weir(&["--strict", "--override", "log.retention.bogus=1"], &[]);
    assert!(!ok && err.contains("log.retention.bogus"), "{err}");
    let (ok, err) = run_weir(
        &[
            "--override",
            "weir.config.strict=true",
            "--override",
            "flush.messages=1",
        ],
        &[],
    );
    assert!(!ok && err.contains("log.flush.interval.messages"), "{err}");
    let (ok, err) = run_weir(&[], &[("WEIR_NUM_PARTITIONS", "lots")]);
    assert!(
        !ok && err.contains("Invalid value lots for configuration num.partitions"),
        "{err}"
    );
    let (ok, err) = run_weir(&["--override", "log.retention.hours=-7"], &[]);
    assert!(
        !ok && err.contains(
            "Invalid value -7 for configuration log.retention.hours: Value must be at least -1"
        ),
        "{err}"
    );
    let (ok, err) = run_weir(&["--override", "log.cleanup.policy=forever"], &[]);
    assert!(
        !ok && err.contains("String must be one of: compact, delete"),
        "{err}"
    );
}

#[test]
fn acknowledged_writes_survive_kill_9_and_a_torn_tail_is_cut() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::Message;

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = vec![
        "--override".to_string(),
        format!("listeners=PLAINTEXT://127.0.0.1:{port}"),
        "--override".into(),
        format!("log.dirs={}", dir.path().display()),
    ];
    let weir = Weir::spawn(&args);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", weir.bootstrap())
        .set("acks", "1")
        .set("linger.ms", "2")
        .create()
        .unwrap();
    for i in 0..5000 {
        let v = format!("record-{i}");
        producer
            .send(BaseRecord::<(), str>::to("durable").payload(&v))
            .unwrap();
        if i % 500 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("all acknowledged");
    drop(producer);
    weir.kill9();

    // A write torn by the crash: half a batch at the end of the active segment.
    let seg = dir.path().join("durable-0").join(format!("{:020}.log", 0));
    let len = std::fs::metadata(&seg).unwrap().len();
    let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[
        0, 0, 0, 0, 0, 0, 0x13, 0x88, 0, 0, 1, 0, 0, 0, 0, 0, 2, 9, 9,
    ])
    .unwrap();
    drop(f);
    assert!(std::fs::metadata(&seg).unwrap().len() > len);

    let weir = Weir::spawn(&args);
    assert_eq!(
        std::fs::metadata(&seg).unwrap().len(),
        len,
        "torn tail truncated"
    );
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", weir.bootstrap())
        .set("group.id", "unused")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset("durable", 0, rdkafka::Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while n < 5000 && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            assert_eq!(m.payload(), Some(format!("record-{n}").as_bytes()));
            n += 1;
        }
    }
    assert_eq!(n, 5000, "every acknowledged record is back");
    // New appends continue at the recovered log end.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", weir.bootstrap())
        .create()
        .unwrap();
    producer
        .send(BaseRecord::<(), str>::to("durable").payload("after"))
        .unwrap();
    producer.flush(Duration::from_secs(30)).unwrap();
    let (_, hi) = consumer
        .fetch_watermarks("durable", 0, Duration::from_secs(10))
        .unwrap();
    assert_eq!(hi, 5001);
    assert!(weir.terminate().success());
}

#[test]
fn committed_offsets_survive_kill_9() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::{Offset, TopicPartitionList};

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = vec![
        "--override".to_string(),
        format!("listeners=PLAINTEXT://127.0.0.1:{port}"),
        "--override".into(),
        format!("log.dirs={}", dir.path().display()),
        "--override".into(),
        "offsets.topic.num.partitions=3".into(),
    ];
    let weir = Weir::spawn(&args);
    let make = |b: &str| -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", b)
            .set("group.id", "durable-group")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap()
    };
    let c = make(&weir.bootstrap());
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("committed", 0, Offset::Offset(1234))
        .unwrap();
    tpl.find_partition("committed", 0)
        .unwrap()
        .set_metadata("checkpoint-7");
    // The topic must exist for the commit to be accepted; a producer's metadata request creates it.
    let p: rdkafka::producer::BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", weir.bootstrap())
        .create()
        .unwrap();
    use rdkafka::producer::Producer;
    p.client()
        .fetch_metadata(Some("committed"), Duration::from_secs(10))
        .unwrap();
    c.commit(&tpl, CommitMode::Sync).expect("commit");
    drop(c);
    weir.kill9();

    let weir = Weir::spawn(&args);
    let c = make(&weir.bootstrap());
    let mut want = TopicPartitionList::new();
    want.add_partition("committed", 0);
    let got = c.committed_offsets(want, Duration::from_secs(10)).unwrap();
    let e = got.find_partition("committed", 0).unwrap();
    assert_eq!(e.offset(), Offset::Offset(1234));
    assert_eq!(e.metadata(), "checkpoint-7");
    drop(c);
    assert!(weir.terminate().success());
}

#[test]
fn kill_9_in_the_middle_of_a_transaction_ends_in_an_abort() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = vec![
        "--override".to_string(),
        format!("listeners=PLAINTEXT://127.0.0.1:{port}"),
        "--override".into(),
        format!("log.dirs={}", dir.path().display()),
        "--override".into(),
        "transaction.state.log.num.partitions=2".into(),
    ];
    let weir = Weir::spawn(&args);
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", weir.bootstrap())
        .set("transactional.id", "crashy")
        .set("transaction.timeout.ms", "3000")
        .create()
        .unwrap();
    p.init_transactions(Duration::from_secs(30)).unwrap();
    p.begin_transaction().unwrap();
    for i in 0..10 {
        p.send(
            BaseRecord::<(), str>::to("crash-txn")
                .payload(&format!("{i}"))
                .partition(0),
        )
        .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    weir.kill9();
    drop(p);

    let weir = Weir::spawn(&args);
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", weir.bootstrap())
        .set("group.id", "x")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    // The coordinator recovered the open transaction and aborts it at its timeout: the
    // partition's last stable offset catches up with the high watermark (the abort marker).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, hi) = c
            .fetch_watermarks("crash-txn", 0, Duration::from_secs(5))
            .unwrap();
        if hi == 11 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "transaction never resolved: LSO {hi}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(weir.terminate().success());
}
