//! `weir cluster info`: DescribeCluster when the broker has it (fenced brokers included), else
//! Metadata; plus the partition health Kafka's tools report (under-replicated: ISR smaller
//! than the replicas; offline: no leader). `weir cluster quorum`: DescribeQuorum, as
//! `kafka-metadata-quorum.sh describe --status --replication` shows it.

use clap::{Args, Subcommand};
use kafka_protocol::messages::{ApiKey, DescribeClusterRequest, DescribeQuorumRequest};
use serde::Serialize;

use super::output::{json, opt, out, Table};
use super::{connect, CliResult, Common, OutputFormat};
use crate::client::ClientError;

#[derive(Args, Debug)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub cmd: ClusterCmd,
}

#[derive(Subcommand, Debug)]
pub enum ClusterCmd {
    /// Cluster id, controller and brokers.
    Info,
    /// The metadata quorum: leader, high watermark, and each voter's and observer's log end
    /// and lag.
    Quorum,
}

#[derive(Serialize)]
struct QuorumReplica {
    id: i32,
    role: &'static str,
    log_end_offset: i64,
    lag: i64,
    last_fetch_timestamp: i64,
    last_caught_up_timestamp: i64,
}

#[derive(Serialize)]
struct Quorum {
    leader_id: i32,
    leader_epoch: i32,
    high_watermark: i64,
    replicas: Vec<QuorumReplica>,
}

async fn quorum(common: &Common) -> CliResult {
    let mut client = connect(common).await?;
    let resp = client
        .any()
        .call(|_| DescribeQuorumRequest::default())
        .await?;
    ClientError::check(
        resp.error_code,
        resp.error_message.as_ref().map(|m| m.as_str()),
    )?;
    let Some(p) = resp.topics.first().and_then(|t| t.partitions.first()) else {
        return Err(super::CliError::Failed(
            "DescribeQuorum answered no partition".into(),
        ));
    };
    ClientError::check(p.error_code, p.error_message.as_ref().map(|m| m.as_str()))?;
    let leader = p.leader_id.0;
    let hw = p.high_watermark;
    let row = |r: &kafka_protocol::messages::describe_quorum_response::ReplicaState,
               role: &'static str| QuorumReplica {
        id: r.replica_id.0,
        role: if r.replica_id.0 == leader {
            "Leader"
        } else {
            role
        },
        log_end_offset: r.log_end_offset,
        lag: if r.log_end_offset < 0 {
            -1
        } else {
            (hw - r.log_end_offset).max(0)
        },
        last_fetch_timestamp: r.last_fetch_timestamp,
        last_caught_up_timestamp: r.last_caught_up_timestamp,
    };
    let q = Quorum {
        leader_id: leader,
        leader_epoch: p.leader_epoch,
        high_watermark: hw,
        replicas: p
            .current_voters
            .iter()
            .map(|r| row(r, "Follower"))
            .chain(p.observers.iter().map(|r| row(r, "Observer")))
            .collect(),
    };
    match common.output {
        OutputFormat::Json => json(&q),
        OutputFormat::Table => {
            out(&format!(
                "LeaderId: {}\nLeaderEpoch: {}\nHighWatermark: {}\n\n",
                q.leader_id, q.leader_epoch, q.high_watermark
            ))?;
            let mut t = Table::new(&["NODE", "LOG END OFFSET", "LAG", "LAST FETCH (ms)", "STATUS"]);
            for r in &q.replicas {
                t.row(vec![
                    r.id.to_string(),
                    r.log_end_offset.to_string(),
                    r.lag.to_string(),
                    r.last_fetch_timestamp.to_string(),
                    r.role.to_string(),
                ]);
            }
            t.print()
        }
    }
}

#[derive(Serialize)]
struct Broker {
    id: i32,
    host: String,
    port: i32,
    rack: Option<String>,
    fenced: bool,
}

#[derive(Serialize)]
struct Info {
    cluster_id: Option<String>,
    controller_id: i32,
    brokers: Vec<Broker>,
    partitions: usize,
    under_replicated_partitions: Vec<String>,
    offline_partitions: Vec<String>,
}

pub async fn run(args: ClusterArgs) -> CliResult {
    if let ClusterCmd::Quorum = args.cmd {
        return quorum(&args.common).await;
    }
    let mut client = connect(&args.common).await?;
    let info = if client.supports(ApiKey::DescribeCluster) {
        let resp = client
            .any()
            .call(|_| DescribeClusterRequest::default().with_include_fenced_brokers(true))
            .await?;
        ClientError::check(
            resp.error_code,
            resp.error_message.as_ref().map(|m| m.as_str()),
        )?;
        Info {
            cluster_id: Some(resp.cluster_id.as_str().to_string()),
            controller_id: resp.controller_id.0,
            brokers: resp
                .brokers
                .iter()
                .map(|b| Broker {
                    id: b.broker_id.0,
                    host: b.host.as_str().to_string(),
                    port: b.port,
                    rack: b.rack.as_ref().map(|r| r.as_str().to_string()),
                    fenced: b.is_fenced,
                })
                .collect(),
            partitions: 0,
            under_replicated_partitions: Vec::new(),
            offline_partitions: Vec::new(),
        }
    } else {
        Info {
            cluster_id: client.cluster_id.clone(),
            controller_id: client.controller_id,
            brokers: client
                .brokers()
                .map(|b| Broker {
                    id: b.node_id,
                    host: b.host.clone(),
                    port: b.port,
                    rack: b.rack.clone(),
                    fenced: false,
                })
                .collect(),
            partitions: 0,
            under_replicated_partitions: Vec::new(),
            offline_partitions: Vec::new(),
        }
    };
    let mut info = info;
    for t in client.topics(None).await? {
        for p in &t.partitions {
            info.partitions += 1;
            let name = format!("{}-{}", t.name, p.partition);
            if p.leader < 0 {
                info.offline_partitions.push(name);
            } else if p.isr.len() < p.replicas.len() {
                info.under_replicated_partitions.push(name);
            }
        }
    }
    match args.common.output {
        OutputFormat::Json => json(&info),
        OutputFormat::Table => {
            out(&format!(
                "Cluster ID: {}\nController: {}\nPartitions: {} ({} under-replicated, {} offline)\n\n",
                opt(info.cluster_id.as_deref()),
                info.controller_id,
                info.partitions,
                info.under_replicated_partitions.len(),
                info.offline_partitions.len(),
            ))?;
            let mut t = Table::new(&["ID", "HOST", "PORT", "RACK", "STATE"]);
            for b in &info.brokers {
                t.row(vec![
                    b.id.to_string(),
                    b.host.clone(),
                    b.port.to_string(),
                    opt(b.rack.as_deref()),
                    if b.fenced { "fenced" } else { "active" }.to_string(),
                ]);
            }
            t.print()?;
            for (what, list) in [
                ("Under-replicated", &info.under_replicated_partitions),
                ("Offline", &info.offline_partitions),
            ] {
                if !list.is_empty() {
                    out(&format!("\n{what}: {}\n", list.join(" ")))?;
                }
            }
            Ok(())
        }
    }
}
