//! `chaos`: the fault campaign's workload and checker (see chaos/README.md).
//!
//! ```sh
//! cargo run --release --example chaos -- workload --bootstrap 127.0.0.1:9092 --history h.jsonl --duration 60
//! cargo run --release --example chaos -- final-read --bootstrap 127.0.0.1:9092 --history h.jsonl
//! cargo run --release --example chaos -- check h.jsonl [--nemesis nemesis.jsonl] [--expect-lost]
//! ```

mod checker;
mod history;
mod workload;

use clap::{Parser, Subcommand};
use history::{HistoryWriter, Outcome, F};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "chaos",
    about = "Jepsen-style queue workload and checker for Weir"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run producers and consumers, recording every operation; then (unless --no-final-read)
    /// the final full read.
    Workload {
        #[arg(long, default_value = "127.0.0.1:9092")]
        bootstrap: String,
        #[arg(long, default_value = "chaos")]
        topic: String,
        #[arg(long)]
        history: PathBuf,
        /// Seconds of load.
        #[arg(long, default_value_t = 60)]
        duration: u64,
        #[arg(long, default_value_t = 4)]
        producers: usize,
        #[arg(long, default_value_t = 4)]
        consumers: usize,
        /// Sends per second, all producers together.
        #[arg(long, default_value_t = 300.0)]
        rate: f64,
        /// Transactions of 1-4 sends (read_committed consumers).
        #[arg(long)]
        txn: bool,
        /// Share of transactions aborted on purpose.
        #[arg(long, default_value_t = 0.2)]
        abort_ratio: f64,
        /// `all` or `1` (the unsafe positive control).
        #[arg(long, default_value = "all")]
        acks: String,
        /// Turn idempotence off (the unsafe positive control).
        #[arg(long)]
        no_idempotence: bool,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 60_000)]
        message_timeout_ms: u64,
        /// Skip the final read (run.sh runs it after healing the cluster).
        #[arg(long)]
        no_final_read: bool,
        /// Seconds the final read may take.
        #[arg(long, default_value_t = 120)]
        final_read_timeout: u64,
    },
    /// Read every partition from the beginning to its end, appending `final-read` ops.
    FinalRead {
        #[arg(long, default_value = "127.0.0.1:9092")]
        bootstrap: String,
        #[arg(long, default_value = "chaos")]
        topic: String,
        #[arg(long)]
        history: PathBuf,
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Check a history; exit 1 on any anomaly.
    Check {
        history: PathBuf,
        /// run.sh's nemesis log, for recovery times.
        #[arg(long)]
        nemesis: Option<PathBuf>,
        /// Positive control: succeed only if lost writes are found.
        #[arg(long)]
        expect_lost: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("chaos: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::Workload {
            bootstrap,
            topic,
            history,
            duration,
            producers,
            consumers,
            rate,
            txn,
            abort_ratio,
            acks,
            no_idempotence,
            seed,
            message_timeout_ms,
            no_final_read,
            final_read_timeout,
        } => {
            let writer = Arc::new(HistoryWriter::append(&history)?);
            let partitions = partition_count(&bootstrap, &topic)?;
            let settings = workload::Settings {
                bootstrap: bootstrap.clone(),
                topic: topic.clone(),
                partitions,
                producers,
                consumers,
                rate,
                duration: Duration::from_secs(duration),
                txn,
                abort_ratio,
                acks,
                idempotence: !no_idempotence,
                seed,
                message_timeout_ms,
            };
            eprintln!(
                "workload: {partitions} partitions of {topic}, {producers} producers, {consumers} consumers, {rate}/s for {duration}s{}",
                if txn { ", transactional" } else { "" }
            );
            workload::run(&settings, writer.clone())?;
            if !no_final_read {
                let ok = workload::final_read(
                    &bootstrap,
                    &topic,
                    &writer,
                    Duration::from_secs(final_read_timeout),
                )?;
                if !ok {
                    eprintln!("workload: the final read was incomplete");
                    return Ok(ExitCode::from(1));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::FinalRead {
            bootstrap,
            topic,
            history,
            timeout,
        } => {
            let writer = HistoryWriter::append(&history)?;
            let ok =
                workload::final_read(&bootstrap, &topic, &writer, Duration::from_secs(timeout))?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Check {
            history,
            nemesis,
            expect_lost,
        } => {
            let ops = history::read_history(&history)?;
            let report = checker::check(&ops);
            print_report(&report);
            if let Some(path) = nemesis {
                print_recovery(&ops, &path)?;
            }
            let lost = report.count(checker::Kind::LostWrite) + report.count(checker::Kind::Unseen);
            if expect_lost {
                let judged = report.count(checker::Kind::WorkloadCrashed) == 0
                    && report.count(checker::Kind::IncompleteFinalRead) == 0;
                if lost > 0 && judged {
                    println!("\nPOSITIVE CONTROL OK: the checker found {lost} lost/unseen acknowledged writes");
                    return Ok(ExitCode::SUCCESS);
                }
                println!("\nPOSITIVE CONTROL FAILED: no lost writes found (or the run could not be judged)");
                return Ok(ExitCode::from(1));
            }
            if report.total() == 0 {
                println!("\nVALID: no anomalies");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("\nINVALID: {} anomalies", report.total());
                Ok(ExitCode::from(1))
            }
        }
    }
}

fn partition_count(bootstrap: &str, topic: &str) -> anyhow::Result<i32> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    for _ in 0..30 {
        match c.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            Ok(md) => {
                if let Some(t) = md.topics().iter().find(|t| t.name() == topic) {
                    if !t.partitions().is_empty() {
                        return Ok(t.partitions().len() as i32);
                    }
                }
            }
            Err(e) => eprintln!("workload: metadata: {e}"),
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    anyhow::bail!("no metadata for topic {topic} at {bootstrap}")
}

fn print_report(r: &checker::Report) {
    println!("operations");
    println!("  {:<14} {:>8} {:>8} {:>8}", "f", "ok", "fail", "info");
    let fs = [
        F::Send,
        F::Txn,
        F::Poll,
        F::Commit,
        F::Assign,
        F::Subscribe,
        F::Rebalance,
        F::FinalRead,
    ];
    for f in fs {
        let n = |o| r.ops.get(&(f, o)).copied().unwrap_or(0);
        let (ok, fail, info) = (n(Outcome::Ok), n(Outcome::Fail), n(Outcome::Info));
        if ok + fail + info > 0 {
            let name = serde_json::to_string(&f).unwrap_or_default();
            println!(
                "  {:<14} {ok:>8} {fail:>8} {info:>8}",
                name.trim_matches('"')
            );
        }
    }
    let v = |o| r.values.get(&o).copied().unwrap_or(0);
    println!(
        "values sent: {} acknowledged, {} failed/aborted, {} indefinite; {} read by the final read",
        v(Outcome::Ok),
        v(Outcome::Fail),
        v(Outcome::Info),
        r.final_values
    );
    println!("\nanomalies");
    for kind in checker::Kind::ALL {
        println!("  {:<22} {:>8}", kind.name(), r.count(kind));
    }
    for (kind, found) in &r.anomalies {
        println!(
            "\n{kind}: {} (first {} shown)",
            found.count,
            found.examples.len()
        );
        for e in &found.examples {
            println!("  - {e}");
        }
    }
}

fn print_recovery(ops: &[history::Op], path: &std::path::Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut events = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        events.push(serde_json::from_str::<checker::NemesisEvent>(line)?);
    }
    let rec = checker::recovery(ops, &events);
    if rec.is_empty() {
        return Ok(());
    }
    println!("\nrecovery (first acknowledged send after each heal)");
    let ms =
        |d: Option<u64>| d.map_or("never".to_string(), |d| format!("{:.0} ms", d as f64 / 1e6));
    let t0 = ops.iter().map(|o| o.invoke_ns).min().unwrap_or(0);
    for (name, at, after_heal, after_fault) in &rec {
        println!(
            "  {:<12} at {:>6.1} s: {:>9} after the heal, {:>9} after the fault",
            name,
            at.saturating_sub(t0) as f64 / 1e9,
            ms(*after_heal),
            ms(*after_fault)
        );
    }
    Ok(())
}
