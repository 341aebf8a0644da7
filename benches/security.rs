//! Produce throughput per listener security protocol: PLAINTEXT, SASL_PLAINTEXT (SCRAM-SHA-512),
//! SSL and SASL_SSL (SCRAM-SHA-512), one in-process Weir with all four listeners, driven by
//! librdkafka over loopback. Certificates are generated at start (rcgen).
//!
//! The machines are shared and noisy, so the figures that matter are the ratios to PLAINTEXT in
//! the same run; each protocol is measured `WEIR_BENCH_ROUNDS` times (default 3) in rotating
//! order and the best round is kept.
//!
//! Knobs: `WEIR_BENCH_SEC_RECORDS` (100 B records per round, default 500000),
//! `WEIR_BENCH_SEC_LARGE_RECORDS` (10 KiB records per round, default 20000).

use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair};
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
#[path = "support/mod.rs"]
mod support;
use support::{env_or, settle};

const PROTOCOLS: [&str; 4] = ["PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"];

fn pki(dir: &std::path::Path) -> (String, String) {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name = DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Weir Bench CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = KeyPair::generate().expect("key");
    let mut sp = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("params");
    sp.distinguished_name.push(DnType::CommonName, "localhost");
    let server = sp.signed_by(&key, &ca, &ca_key).expect("server cert");
    let ca_path = dir.join("ca.pem");
    let server_path = dir.join("server.pem");
    std::fs::write(&ca_path, ca.pem()).expect("write ca");
    std::fs::write(
        &server_path,
        format!("{}{}", server.pem(), key.serialize_pem()),
    )
    .expect("write server pem");
    (
        ca_path.display().to_string(),
        server_path.display().to_string(),
    )
}

fn client(protocol: &str, bootstrap: &str, ca: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("security.protocol", protocol)
        .set("broker.address.family", "v4")
        .set("acks", "1")
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "2097151")
        .set("compression.type", "none")
        .set("enable.idempotence", "false");
    if protocol.starts_with("SASL") {
        c.set("sasl.mechanism", "SCRAM-SHA-512")
            .set("sasl.username", "bench")
            .set("sasl.password", "bench-secret");
    }
    if protocol.ends_with("SSL") {
        c.set("ssl.ca.location", ca);
    }
    c
}

/// Sends `count` records of `size` bytes; records/s from the first send to the last ack.
fn produce(cfg: &ClientConfig, topic: &str, count: usize, size: usize) -> f64 {
    let p: BaseProducer = cfg.create().expect("producer");
    // Connect (and authenticate) before timing.
    p.client()
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .expect("metadata");
    settle();
    let value = vec![0x5au8; size];
    let start = Instant::now();
    for i in 0..count {
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
            .payload(&value[..])
            .partition((i % 4) as i32);
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    p.poll(Duration::from_millis(1));
                    rec = r;
                }
                Err((e, _)) => panic!("produce failed: {e}"),
            }
        }
        if i % 4096 == 0 {
            p.poll(Duration::ZERO);
        }
    }
    p.flush(Duration::from_secs(300)).expect("flush");
    count as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let records: usize = env_or("WEIR_BENCH_SEC_RECORDS", 500_000);
    let large: usize = env_or("WEIR_BENCH_SEC_LARGE_RECORDS", 20_000);
    let rounds: usize = env_or("WEIR_BENCH_ROUNDS", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, server_pem) = pki(dir.path());
    let runtime = support::broker_runtime();
    let mut config = weir::Config::for_test(dir.path().join("data"));
    for (k, v) in [
        (
            "listeners",
            "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
        ),
        ("ssl.keystore.type", "PEM"),
        ("ssl.keystore.location", server_pem.as_str()),
        ("sasl.users", "bench:bench-secret"),
        ("num.partitions", "4"),
    ] {
        config.set(k, v).expect("config");
    }
    let handle = runtime
        .block_on(weir::Broker::start(config))
        .expect("broker start");
    let addrs = handle.local_addrs();
    println!(
        "weir security benchmark: produce, acks=1, 4 partitions, {records} x 100 B and {large} x 10 KiB per round, best of {rounds} rounds"
    );
    let mut best = [[0f64; 2]; 4];
    for round in 0..rounds {
        for k in 0..PROTOCOLS.len() {
            // Rotate the order so no protocol always runs first (or last) in a round.
            let i = (k + round) % PROTOCOLS.len();
            let proto = PROTOCOLS[i];
            let bootstrap = format!("127.0.0.1:{}", addrs[i].port());
            let cfg = client(proto, &bootstrap, &ca);
            let small = produce(&cfg, &format!("sec-{i}-small"), records, 100);
            let big = produce(&cfg, &format!("sec-{i}-large"), large, 10 * 1024);
            println!(
                "  round {round} {proto:<15} 100 B: {:>9.0} rec/s   10 KiB: {:>7.0} rec/s ({:.0} MB/s)",
                small,
                big,
                big * 10240.0 / 1e6
            );
            best[i][0] = best[i][0].max(small);
            best[i][1] = best[i][1].max(big);
        }
    }
    println!();
    println!(
        "{:<16} {:>14} {:>10} {:>16} {:>10}",
        "listener", "100 B rec/s", "vs PLAIN", "10 KiB MB/s", "vs PLAIN"
    );
    for (i, proto) in PROTOCOLS.iter().enumerate() {
        println!(
            "{:<16} {:>14.0} {:>10.2} {:>16.1} {:>10.2}",
            proto,
            best[i][0],
            best[i][0] / best[0][0],
            best[i][1] * 10240.0 / 1e6,
            best[i][1] / best[0][1]
        );
    }
    runtime.block_on(handle.shutdown());
}
