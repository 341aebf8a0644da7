//! The `weir` binary's client commands (and a Kafka tool shim) against an in-process broker.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TestBroker;
use serde_json::Value;

fn weir() -> &'static str {
    env!("CARGO_BIN_EXE_weir")
}

fn broker() -> TestBroker {
    TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")])
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn done(o: Output) -> Run {
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs `weir ARGS -b BOOTSTRAP` with `input` on stdin.
fn run_in(b: &TestBroker, args: &[&str], input: &str) -> Run {
    let mut child = Command::new(weir())
        .args(args)
        .args(["--bootstrap-server", &b.bootstrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weir");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    done(child.wait_with_output().expect("wait"))
}

fn run(b: &TestBroker, args: &[&str]) -> Run {
    run_in(b, args, "")
}

/// Runs and insists on exit 0.
fn ok(b: &TestBroker, args: &[&str]) -> String {
    let r = run(b, args);
    assert_eq!(r.code, 0, "weir {args:?} failed: {}", r.stderr);
    r.stdout
}

fn json(b: &TestBroker, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["--output", "json"]);
    let out = ok(b, &a);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("weir {args:?}: bad JSON ({e}): {out}"))
}

#[test]
fn topics_create_describe_alter_delete() {
    let b = broker();
    let out = ok(
        &b,
        &[
            "topic",
            "create",
            "orders",
            "--partitions",
            "3",
            "--config",
            "retention.ms=60000",
        ],
    );
    assert_eq!(out, "Created topic orders.\n");

    let again = run(&b, &["topic", "create", "orders"]);
    assert_eq!(again.code, 1);
    assert!(
        again
            .stderr
            .starts_with("error: TOPIC_ALREADY_EXISTS: Topic 'orders' already exists."),
        "{}",
        again.stderr
    );
    ok(&b, &["topic", "create", "orders", "--if-not-exists"]);

    let human = ok(&b, &["topic", "describe", "orders"]);
    assert!(human.contains("PartitionCount: 3"), "{human}");
    assert!(human.contains("retention.ms=60000"), "{human}");

    let d = json(&b, &["topic", "describe", "orders"]);
    let t = &d[0];
    assert_eq!(t["name"], "orders");
    assert_eq!(t["partition_count"], 3);
    assert_eq!(t["configs"]["retention.ms"], "60000");
    assert_eq!(t["partitions"][2]["leader"], 1);
    assert_eq!(t["topic_id"].as_str().map(str::len), Some(36));

    ok(
        &b,
        &[
            "topic",
            "alter",
            "orders",
            "--partitions",
            "5",
            "--config",
            "retention.ms=120000",
        ],
    );
    let d = json(&b, &["topic", "describe", "orders"]);
    assert_eq!(d[0]["partition_count"], 5);
    assert_eq!(d[0]["configs"]["retention.ms"], "120000");

    let cfg = json(&b, &["config", "describe", "--topic", "orders"]);
    let entry = cfg
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == "retention.ms"))
        .cloned()
        .expect("retention.ms described");
    assert_eq!(entry["source"], "DYNAMIC_TOPIC_CONFIG");
    ok(
        &b,
        &[
            "config",
            "alter",
            "--topic",
            "orders",
            "--delete",
            "retention.ms",
        ],
    );
    let d = json(&b, &["topic", "describe", "orders"]);
    assert!(d[0]["configs"].get("retention.ms").is_none());

    let list = ok(&b, &["topic", "list"]);
    assert_eq!(list, "orders\n");
    let list = json(&b, &["topic", "list"]);
    assert_eq!(list[0]["partitions"], 5);

    assert_eq!(
        ok(&b, &["topic", "delete", "orders"]),
        "Deleted topic orders.\n"
    );
    assert_eq!(ok(&b, &["topic", "list"]), "");
    let missing = run(&b, &["topic", "describe", "orders"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("UNKNOWN_TOPIC_OR_PARTITION"),
        "{}",
        missing.stderr
    );
    ok(&b, &["topic", "delete", "orders", "--if-exists"]);
    assert_eq!(run(&b, &["topic", "delete", "orders"]).code, 1);
}

#[test]
fn exit_codes_and_settings() {
    let b = broker();
    // Usage error.
    assert_eq!(run(&b, &["topic", "create"]).code, 2);
    assert_eq!(
        run(&b, &["topic", "create", "x", "--config", "novalue"]).code,
        2
    );
    // Connection failure.
    let dead = Command::new(weir())
        .args(["topic", "list", "-b", "127.0.0.1:1"])
        .output()
        .expect("run");
    assert_eq!(dead.status.code(), Some(3));
    // A command config names the bootstrap servers.
    let dir = tempfile::tempdir().expect("tempdir");
    let props: PathBuf = dir.path().join("client.properties");
    std::fs::write(
        &props,
        format!("bootstrap.servers={}\nclient.id=cli-test\n", b.bootstrap()),
    )
    .expect("write");
    let out = Command::new(weir())
        .args(["cluster", "info", "--output", "json", "--command-config"])
        .arg(&props)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let info: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(info["brokers"][0]["id"], 1);
    assert_eq!(info["controller_id"], 1);
    assert!(info["cluster_id"].as_str().is_some_and(|c| !c.is_empty()));
    std::fs::write(&props, "security.protocol=SASL_SSL\n").expect("write");
    let out = Command::new(weir())
        .args(["topic", "list", "--command-config"])
        .arg(&props)
        .output()
        .expect("run");
    // TLS without anything to trust is a usage error that says what is missing.
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ssl.truststore"));
    // Without an authorizer the ACL APIs answer SECURITY_DISABLED, as Kafka does.
    let acl = run(&b, &["acl", "list"]);
    assert_eq!(acl.code, 1);
    assert!(acl.stderr.contains("SECURITY_DISABLED"), "{}", acl.stderr);
    // SCRAM users are created with the salted password computed client-side.
    let user = run_in(&b, &["user", "set", "alice"], "secret\n");
    assert_eq!(user.code, 0, "{}", user.stderr);
    let list = run(&b, &["user", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.contains("alice"), "{}", list.stdout);
}

#[test]
fn produce_and_consume_keys_headers_partitions_offsets() {
    let b = broker();
    ok(&b, &["topic", "create", "events", "--partitions", "3"]);
    let input: String = (0..30)
        .map(|i| format!("key{}:value{i}\n", i % 5))
        .collect();
    let r = run_in(
        &b,
        &[
            "produce",
            "events",
            "--key-separator",
            ":",
            "--header",
            "src=cli",
            "--header",
            "n=1",
            "--compression",
            "zstd",
        ],
        &input,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    let out = ok(
        &b,
        &[
            "consume",
            "events",
            "--from-beginning",
            "--format",
            "%p|%o|%k|%s|%h\\n",
        ],
    );
    let mut seen = Vec::new();
    let mut partition_of_key = std::collections::BTreeMap::new();
    let mut next_offset = std::collections::BTreeMap::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f.len(), 5, "{line}");
        let (p, o): (i32, i64) = (f[0].parse().expect("p"), f[1].parse().expect("o"));
        assert_eq!(f[4], "src=cli,n=1");
        // Same key, same partition (murmur2).
        let prev = partition_of_key.insert(f[2].to_string(), p);
        assert!(prev.is_none() || prev == Some(p), "{line}");
        // Offsets are dense within a partition.
        let want = next_offset.entry(p).or_insert(0i64);
        assert_eq!(o, *want, "{line}");
        *want += 1;
        seen.push(format!("{}:{}", f[2], f[3]));
    }
    seen.sort();
    let mut want: Vec<String> = input.lines().map(str::to_string).collect();
    want.sort();
    assert_eq!(seen, want);
    // Java's partitioner: murmur2("key0") lands where Kafka would put it.
    let p = weir::client::records::partition_for_key(b"key0", 3);
    assert_eq!(partition_of_key.get("key0"), Some(&p));

    // One partition, a count, JSON lines.
    let lines = ok(
        &b,
        &[
            "consume",
            "events",
            "--partition",
            &p.to_string(),
            "--offset",
            "1",
            "--count",
            "2",
            "--output",
            "json",
        ],
    );
    let recs: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["offset"], 1);
    assert_eq!(recs[0]["partition"], p);
    assert_eq!(recs[0]["headers"][0]["key"], "src");
    assert_eq!(recs[0]["headers"][0]["value"], "cli");

    // Keyless lines, explicit partition, acks=1; the default start is the end.
    let r = run_in(
        &b,
        &["produce", "events", "--partition", "0", "--acks", "1"],
        "plain\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(ok(&b, &["consume", "events"]), "");
    let last = ok(
        &b,
        &["consume", "events", "--partition", "0", "--offset", "-1"],
    );
    assert_eq!(last, "plain\n");
    let missing = run_in(&b, &["produce", "nope"], "x\n");
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("UNKNOWN_TOPIC_OR_PARTITION"));
}

fn lag_of(d: &Value) -> Vec<(i64, i64)> {
    d[0]["offsets"]
        .as_array()
        .expect("offsets")
        .iter()
        .map(|o| {
            (
                o["current_offset"].as_i64().unwrap_or(-1),
                o["lag"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

#[test]
fn group_consume_commits_lag_and_reset() {
    let b = broker();
    ok(&b, &["topic", "create", "jobs", "--partitions", "2"]);
    let input: String = (0..10).map(|i| format!("k{i}:job{i}\n")).collect();
    let r = run_in(&b, &["produce", "jobs", "-K", ":"], &input);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let out = ok(
        &b,
        &["consume", "jobs", "--group", "workers", "--from-beginning"],
    );
    assert_eq!(out.lines().count(), 10, "{out}");

    let d = json(&b, &["group", "describe", "workers"]);
    assert_eq!(d[0]["state"], "Empty", "the member left: {d}");
    let lags = lag_of(&d);
    assert_eq!(lags.len(), 2);
    assert!(lags.iter().all(|(_, lag)| *lag == 0), "{d}");
    assert_eq!(lags.iter().map(|(c, _)| c).sum::<i64>(), 10);
    let human = ok(&b, &["group", "describe", "workers"]);
    assert!(human.contains("LOG-END-OFFSET"), "{human}");
    let list = json(&b, &["group", "list"]);
    assert_eq!(list[0]["group"], "workers");

    // Three more records: lag 3 in total.
    let r = run_in(&b, &["produce", "jobs", "-K", ":"], "a:1\nb:2\nc:3\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = json(&b, &["group", "describe", "workers"]);
    assert_eq!(lag_of(&d).iter().map(|(_, l)| l).sum::<i64>(), 3, "{d}");

    // A second run of the group starts from its commits.
    let out = ok(
        &b,
        &["consume", "jobs", "--group", "workers", "--from-beginning"],
    );
    assert_eq!(out.lines().count(), 3, "{out}");

    // Dry run changes nothing; execute moves the group to the start.
    let plan = json(
        &b,
        &[
            "group",
            "reset-offsets",
            "workers",
            "--topic",
            "jobs",
            "--to-earliest",
            "--dry-run",
        ],
    );
    assert_eq!(plan.as_array().map(Vec::len), Some(2));
    assert_eq!(plan[0]["new_offset"], 0);
    let d = json(&b, &["group", "describe", "workers"]);
    assert_eq!(lag_of(&d).iter().map(|(_, l)| l).sum::<i64>(), 0);
    ok(
        &b,
        &[
            "group",
            "reset-offsets",
            "workers",
            "--topic",
            "jobs",
            "--to-earliest",
            "--execute",
        ],
    );
    let d = json(&b, &["group", "describe", "workers"]);
    assert!(lag_of(&d).iter().all(|(c, _)| *c == 0), "{d}");
    assert_eq!(lag_of(&d).iter().map(|(_, l)| l).sum::<i64>(), 13);
    let out = ok(
        &b,
        &["consume", "jobs", "--group", "workers", "--count", "13"],
    );
    assert_eq!(out.lines().count(), 13);

    // An active member blocks resets; Ctrl-C makes it leave.
    let mut follower = Command::new(weir())
        .args(["consume", "jobs", "--group", "workers", "--follow"])
        .args(["--bootstrap-server", &b.bootstrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn follower");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = json(&b, &["group", "describe", "workers"]);
        if d[0]["state"] == "Stable" {
            assert_eq!(
                d[0]["members"][0]["assignment"]["jobs"],
                serde_json::json!([0, 1])
            );
            break;
        }
        assert!(Instant::now() < deadline, "member never joined: {d}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let refused = run(
        &b,
        &[
            "group",
            "reset-offsets",
            "workers",
            "--topic",
            "jobs",
            "--to-latest",
            "--execute",
        ],
    );
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains(
            "Assignments can only be reset if the group 'workers' is inactive, but the current state is Stable."
        ),
        "{}",
        refused.stderr
    );
    // SIGINT: the consumer commits, leaves the group and exits 0.
    let pid = follower.id() as libc::pid_t;
    // SAFETY: signalling a child process we spawned and still own.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let status = follower.wait().expect("wait follower");
    assert_eq!(status.code(), Some(0));
    let d = json(&b, &["group", "describe", "workers"]);
    assert_eq!(d[0]["state"], "Empty", "{d}");

    let del = ok(&b, &["group", "delete", "workers"]);
    assert!(del.contains("'workers'"), "{del}");
    let gone = run(&b, &["group", "describe", "workers"]);
    assert_eq!(gone.code, 1);
    assert!(
        gone.stderr.contains("GROUP_ID_NOT_FOUND"),
        "{}",
        gone.stderr
    );
}

fn shim(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("compat/kafka-path/bin")
        .join(name)
}

#[test]
fn kafka_tool_shims_drive_weir() {
    let b = broker();
    // As librdkafka's test suite calls it.
    let out = Command::new(shim("kafka-topics.sh"))
        .env("WEIR_BIN", weir())
        .args(["--bootstrap-server", &b.bootstrap()])
        .args([
            "--create",
            "--topic",
            "shimmed",
            "--replication-factor",
            "1",
            "--partitions",
            "2",
            "--config",
            "cleanup.policy=compact",
        ])
        .output()
        .expect("run kafka-topics.sh");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let d = json(&b, &["topic", "describe", "shimmed"]);
    assert_eq!(d[0]["partition_count"], 2);
    assert_eq!(d[0]["configs"]["cleanup.policy"], "compact");

    let out = Command::new(shim("kafka-topics.sh"))
        .env("WEIR_BIN", weir())
        .args(["--bootstrap-server", &b.bootstrap()])
        .args(["--alter", "--topic", "shimmed", "--partitions", "4"])
        .output()
        .expect("run kafka-topics.sh");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        json(&b, &["topic", "describe", "shimmed"])[0]["partition_count"],
        4
    );

    // Console producer with keys, consumer printing them.
    let mut p = Command::new(shim("kafka-console-producer.sh"))
        .env("WEIR_BIN", weir())
        .args(["--bootstrap-server", &b.bootstrap(), "--topic", "shimmed"])
        .args([
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("producer");
    p.stdin
        .take()
        .expect("stdin")
        .write_all(b"a:1\nb:2\n")
        .expect("write");
    assert_eq!(p.wait().expect("wait").code(), Some(0));
    let out = Command::new(shim("kafka-console-consumer.sh"))
        .env("WEIR_BIN", weir())
        .args(["--bootstrap-server", &b.bootstrap(), "--topic", "shimmed"])
        .args(["--from-beginning", "--max-messages", "2"])
        .args(["--property", "print.key=true"])
        .output()
        .expect("consumer");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    assert_eq!(lines, vec!["a\t1", "b\t2"]);

    let out = Command::new(shim("kafka-topics.sh"))
        .env("WEIR_BIN", weir())
        .args([
            "--bootstrap-server",
            &b.bootstrap(),
            "--delete",
            "--topic",
            "shimmed",
        ])
        .output()
        .expect("run kafka-topics.sh");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(ok(&b, &["topic", "list"]), "");

    let out = Command::new(shim("kafka-topics.sh"))
        .env("WEIR_BIN", weir())
        .args(["--zookeeper", "x:2181", "--list"])
        .output()
        .expect("run kafka-topics.sh");
    assert_eq!(out.status.code(), Some(2));
}
