//! Prometheus metrics and the HTTP endpoint that serves them (`/metrics`, `/health`).
//!
//! Counters and histograms are updated on the request path; gauges that describe state
//! (partitions, log sizes, groups) are computed when scraped. Exposition is the `prometheus`
//! crate's text encoder; the HTTP side answers GET requests only, with bounded reads.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::broker::BrokerState;

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub request_latency: HistogramVec,
    pub request_errors: IntCounterVec,
    pub bytes_in: IntCounter,
    pub bytes_out: IntCounter,
    pub messages_in: IntCounter,
    pub connections: IntGauge,
    pub connections_total: IntCounter,
    partitions: IntGauge,
    topics: IntGauge,
    log_size: IntGaugeVec,
    groups: IntGaugeVec,
    /// Kafka's IsrShrinksPerSec / IsrExpandsPerSec, as counters (rates are the scraper's job).
    pub isr_shrinks: IntCounter,
    pub isr_expands: IntCounter,
    /// Kafka's ReplicaManager UnderReplicatedPartitions / LeaderCount and the controller's
    /// OfflinePartitionsCount / ActiveControllerCount, computed at scrape time.
    under_replicated: IntGauge,
    leader_count: IntGauge,
    offline_partitions: IntGauge,
    active_controller: IntGauge,
}

fn build() -> prometheus::Result<Metrics> {
    let registry = Registry::new_custom(Some("weir".into()), None)?;
    let requests = IntCounterVec::new(
        Opts::new("requests_total", "Requests handled, by API"),
        &["api"],
    )?;
    let request_latency = HistogramVec::new(
        HistogramOpts::new(
            "request_duration_seconds",
            "Time from decoded request to encoded response, by API",
        )
        .buckets(vec![
            0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
        ]),
        &["api"],
    )?;
    let request_errors = IntCounterVec::new(
        Opts::new(
            "request_failures_total",
            "Requests that closed their connection, by API",
        ),
        &["api"],
    )?;
    let bytes_in = IntCounter::new("bytes_in_total", "Record batch bytes appended by Produce")?;
    let bytes_out = IntCounter::new("bytes_out_total", "Record bytes returned by Fetch")?;
    let messages_in = IntCounter::new("messages_in_total", "Records appended by Produce")?;
    let connections = IntGauge::new("connections", "Open client connections")?;
    let connections_total =
        IntCounter::new("connections_accepted_total", "Client connections accepted")?;
    let partitions = IntGauge::new("partitions", "Partitions hosted")?;
    let topics = IntGauge::new("topics", "Topics hosted")?;
    let log_size = IntGaugeVec::new(
        Opts::new("log_size_bytes", "Bytes on disk, by topic"),
        &["topic"],
    )?;
    let groups = IntGaugeVec::new(Opts::new("groups", "Consumer groups, by state"), &["state"])?;
    let isr_shrinks = IntCounter::new(
        "isr_shrinks_total",
        "ISR shrinks asked by this broker as leader (Kafka's IsrShrinksPerSec)",
    )?;
    let isr_expands = IntCounter::new(
        "isr_expands_total",
        "ISR expansions asked by this broker as leader (Kafka's IsrExpandsPerSec)",
    )?;
    let under_replicated = IntGauge::new(
        "under_replicated_partitions",
        "Partitions led here whose ISR is smaller than their replicas (Kafka's UnderReplicatedPartitions)",
    )?;
    let leader_count = IntGauge::new(
        "leader_count",
        "Partitions led by this broker (Kafka's LeaderCount)",
    )?;
    let offline_partitions = IntGauge::new(
        "offline_partitions_count",
        "Partitions without a leader (Kafka's OfflinePartitionsCount)",
    )?;
    let active_controller = IntGauge::new(
        "active_controller_count",
        "1 on the node running the active controller (Kafka's ActiveControllerCount)",
    )?;
    for g in [
        &under_replicated,
        &leader_count,
        &offline_partitions,
        &active_controller,
    ] {
        registry.register(Box::new(g.clone()))?;
    }
    registry.register(Box::new(isr_shrinks.clone()))?;
    registry.register(Box::new(isr_expands.clone()))?;
    registry.register(Box::new(requests.clone()))?;
    registry.register(Box::new(request_latency.clone()))?;
    registry.register(Box::new(request_errors.clone()))?;
    registry.register(Box::new(bytes_in.clone()))?;
    registry.register(Box::new(bytes_out.clone()))?;
    registry.register(Box::new(messages_in.clone()))?;
    registry.register(Box::new(connections.clone()))?;
    registry.register(Box::new(connections_total.clone()))?;
    registry.register(Box::new(partitions.clone()))?;
    registry.register(Box::new(topics.clone()))?;
    registry.register(Box::new(log_size.clone()))?;
    registry.register(Box::new(groups.clone()))?;
    Ok(Metrics {
        registry,
        requests,
        request_latency,
        request_errors,
        bytes_in,
        bytes_out,
        messages_in,
        connections,
        connections_total,
        partitions,
        topics,
        log_size,
        groups,
        isr_shrinks,
        isr_expands,
        under_replicated,
        leader_count,
        offline_partitions,
        active_controller,
    })
}

/// The process-wide metrics (one registry, shared by every broker in the process).
pub fn get() -> Option<&'static Metrics> {
    static METRICS: OnceLock<Option<Metrics>> = OnceLock::new();
    METRICS
        .get_or_init(|| match build() {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::error!("metrics disabled: {e}");
                None
            }
        })
        .as_ref()
}

/// Renders the text exposition, refreshing state gauges first.
pub fn render(state: &BrokerState) -> String {
    let Some(m) = get() else {
        return String::new();
    };
    let topics = state.cluster.topics();
    m.topics.set(topics.len() as i64);
    m.partitions
        .set(topics.iter().map(|t| t.partitions.len() as i64).sum());
    m.log_size.reset();
    for t in &topics {
        let size: u64 = t.partitions.iter().map(|p| p.size_bytes()).sum();
        m.log_size
            .with_label_values(&[t.meta.name.as_str()])
            .set(size as i64);
    }
    if let Some(rm) = &state.replicas {
        let (led, under, offline) = rm.health();
        m.leader_count.set(led as i64);
        m.under_replicated.set(under as i64);
        m.offline_partitions.set(offline as i64);
    }
    m.active_controller
        .set(i64::from(state.controller.is_some()));
    m.groups.reset();
    for g in state.groups.all_groups() {
        let g = g.lock().unwrap_or_else(|p| p.into_inner());
        m.groups.with_label_values(&[g.state_name()]).inc();
    }
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&m.registry.gather(), &mut out) {
        tracing::warn!("metrics encoding failed: {e}");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Serves `/metrics` and `/health` until shutdown.
pub async fn serve(
    listener: TcpListener,
    state: Arc<BrokerState>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (mut sock, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("metrics accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let st = state.clone();
        tokio::spawn(async move {
            // A request line and headers fit in 8 KiB; anything else is refused.
            let mut buf = vec![0u8; 8192];
            let mut n = 0;
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while n < buf.len() {
                    let k = sock.read(&mut buf[n..]).await?;
                    if k == 0 {
                        break;
                    }
                    n += k;
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                Ok::<_, std::io::Error>(())
            })
            .await;
            if !matches!(read, Ok(Ok(()))) {
                return;
            }
            let line = String::from_utf8_lossy(&buf[..n]);
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let (status, body, ctype) = match (line.starts_with("GET "), path) {
                (true, "/metrics") => ("200 OK", render(&st), "text/plain; version=0.0.4"),
                (true, "/health") => ("200 OK", "ok\n".to_string(), "text/plain"),
                (true, _) => ("404 Not Found", "not found\n".to_string(), "text/plain"),
                _ => (
                    "405 Method Not Allowed",
                    "GET only\n".to_string(),
                    "text/plain",
                ),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}
