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
                Some(Ok(_)) => {}
                _ => panic!("weir exited before starting: {:?}", child.wait()),
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Weir { child, port }
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

#[test]
fn unknown_setting_stops_startup_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["--override", "log.retention.bogus=1"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("log.retention.bogus"));
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .env("WEIR_NUM_PARTITIONS", "lots")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("num.partitions"));
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
