//! The history file: one JSON object per line, one line per completed operation, carrying both
//! its invoke and complete times (Unix nanoseconds, from the workload's clock; the brokers' clock
//! may be skewed by the nemesis, the workload's never is).

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Outcome of an operation, as Jepsen names them: `ok` happened, `fail` definitely did not,
/// `info` is indefinite (may or may not have happened).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Fail,
    Info,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum F {
    /// One record sent outside a transaction (`sends` has one element).
    Send,
    /// A transaction of a few sends, committed (`ok`), aborted (`fail`) or unknown (`info`).
    Txn,
    /// One consumer poll: the records it returned (`reads`), in order.
    Poll,
    /// A consumer assigned itself `partitions` (assign mode): starts a new `epoch`.
    Assign,
    /// A consumer subscribed to the topic: starts a new `epoch`.
    Subscribe,
    /// The group gave a subscribed consumer a new assignment (`partitions`): a new `epoch`.
    Rebalance,
    /// An offset commit after a poll.
    Commit,
    /// The final full read of one partition (`partitions[0]`) from the beginning to `end_offset`.
    FinalRead,
    /// The workload finished its load phase cleanly (all producers flushed, all threads joined).
    WorkloadEnd,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub p: i32,
    pub value: u64,
    /// The offset the broker acknowledged, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Read {
    pub p: i32,
    pub offset: i64,
    pub value: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub process: u64,
    #[serde(rename = "type")]
    pub outcome: Outcome,
    pub f: F,
    pub invoke_ns: u64,
    pub complete_ns: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sends: Vec<Sent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<Read>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<i32>,
    /// The consumer's assignment epoch: bumped on every assign, subscribe and rebalance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// "assign" or "subscribe" for consumer ops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Final read: the partition's high watermark when the read started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_offset: Option<i64>,
    /// Txn: the workload meant to abort it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub abort: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Op {
    pub fn new(process: u64, f: F, outcome: Outcome, invoke_ns: u64) -> Op {
        Op {
            process,
            outcome,
            f,
            invoke_ns,
            complete_ns: invoke_ns,
            sends: vec![],
            reads: vec![],
            partitions: vec![],
            epoch: None,
            mode: None,
            end_offset: None,
            abort: false,
            error: None,
        }
    }
}

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Appends ops to the history file, one line each, flushed per line so that a crashed workload
/// still leaves a readable prefix.
pub struct HistoryWriter {
    out: Mutex<BufWriter<File>>,
}

impl HistoryWriter {
    pub fn append(path: &Path) -> std::io::Result<HistoryWriter> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(HistoryWriter {
            out: Mutex::new(BufWriter::new(file)),
        })
    }

    pub fn record(&self, op: &Op) {
        let line = serde_json::to_string(op).expect("an Op always serializes");
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // A history that cannot be written makes the run meaningless: stop loudly.
        writeln!(out, "{line}")
            .and_then(|_| out.flush())
            .expect("writing the history file");
    }
}

pub fn read_history(path: &Path) -> anyhow::Result<Vec<Op>> {
    let file = File::open(path)?;
    let mut ops = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let op: Op = serde_json::from_str(&line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))?;
        ops.push(op);
    }
    Ok(ops)
}
