//! Helpers shared by the benchmark binaries: environment knobs, per-thread CPU accounting
//! from /proc (which threads, broker or client, used how much of a core), settling pauses.
#![allow(dead_code)]

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

pub fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a valid number")),
        Err(_) => default,
    }
}

pub type ThreadTicks = HashMap<u32, (String, u64)>;

pub fn thread_ticks() -> ThreadTicks {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // utime and stime are fields 14 and 15 of the line, 11 and 12 after the comm.
        out.insert(tid, (comm, field(11) + field(12)));
    }
    out
}

pub fn thread_group(comm: &str) -> &'static str {
    if comm.starts_with("weir-broker") {
        "weir"
    } else if comm.starts_with("rdk:mock") {
        "mock"
    } else if comm.starts_with("rdk:") {
        "rdkafka"
    } else {
        "app"
    }
}

/// Cores used by each thread group between two snapshots.
#[derive(Clone, Default)]
pub struct CpuUse(pub Vec<(&'static str, f64)>);

impl CpuUse {
    pub fn between(before: &ThreadTicks, after: &ThreadTicks, wall: Duration) -> CpuUse {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let mut groups: Vec<(&'static str, f64)> = Vec::new();
        for (tid, (comm, ticks)) in after {
            let prev = before.get(tid).map_or(0, |(_, t)| *t);
            let secs = ticks.saturating_sub(prev) as f64 / hz;
            let g = thread_group(comm);
            match groups.iter_mut().find(|(n, _)| *n == g) {
                Some((_, s)) => *s += secs,
                None => groups.push((g, secs)),
            }
        }
        let wall = wall.as_secs_f64().max(1e-9);
        let order = ["weir", "mock", "rdkafka", "app"];
        groups.sort_by_key(|(n, _)| order.iter().position(|o| o == n));
        CpuUse(
            groups
                .into_iter()
                .map(|(n, s)| (n, s / wall))
                .filter(|(_, c)| *c >= 0.005)
                .collect(),
        )
    }

    pub fn show(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|(n, c)| format!("{n} {c:.2}")).collect();
        format!("cores: {}", parts.join(", "))
    }
}

/// Writes back dirty pages left by earlier runs, so writeback does not compete for the cores
/// during the next timed run.
pub fn settle() {
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
}

/// The tokio runtime an in-process broker runs on (threads named `weir-broker`, so the CPU
/// accounting can tell them from the clients').
pub fn broker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("weir-broker")
        .enable_all()
        .build()
        .expect("runtime")
}

/// `Config::for_test` in `dir`, plus the `name=value,...` settings of `WEIR_BENCH_BROKER_CONFIG`.
pub fn broker_config(dir: &std::path::Path) -> weir::Config {
    let mut config = weir::Config::for_test(dir);
    if let Ok(list) = std::env::var("WEIR_BENCH_BROKER_CONFIG") {
        for kv in list.split(',').filter(|kv| !kv.trim().is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or_else(|| {
                panic!("WEIR_BENCH_BROKER_CONFIG: expected name=value, got {kv:?}")
            });
            config
                .set(k.trim(), v.trim())
                .unwrap_or_else(|e| panic!("WEIR_BENCH_BROKER_CONFIG {kv}: {e}"));
        }
    }
    config
}

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::ClientContext;

#[derive(Default)]
/// Counts deliveries and keeps the first error (the throughput producers' context).
pub struct CountingContext {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub first_error: Mutex<Option<String>>,
}

impl ClientContext for CountingContext {}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().unwrap();
                if first.is_none() {
                    *first = Some(e.to_string());
                }
            }
        }
    }
}
