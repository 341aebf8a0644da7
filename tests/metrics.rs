//! The Prometheus endpoint: after some traffic, /metrics shows non-zero produce counters and
//! per-API request counts; /health answers.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::TestBroker;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn metrics_count_produce_traffic() {
    let broker = TestBroker::start_with(&[("metrics.listener", "127.0.0.1:0")]);
    let addr = broker
        .handle
        .as_ref()
        .unwrap()
        .metrics_addr()
        .expect("metrics endpoint");
    assert!(get(addr, "/health").ends_with("ok\n"));
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .unwrap();
    for i in 0..100 {
        p.send(BaseRecord::<(), str>::to("metered").payload(&format!("{i}")))
            .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    let text = get(addr, "/metrics");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(value(&text, "weir_messages_in_total") >= 100.0, "{text}");
    assert!(value(&text, "weir_bytes_in_total") > 0.0);
    assert!(value(&text, "weir_requests_total{api=\"Produce\"}") > 0.0);
    assert!(text.contains("weir_request_duration_seconds_bucket{api=\"Metadata\""));
    assert!(value(&text, "weir_partitions") >= 1.0);
    assert!(value(&text, "weir_log_size_bytes{topic=\"metered\"}") > 0.0);
    assert!(get(addr, "/nope").starts_with("HTTP/1.1 404"));
}
