//! `weir cluster info`: DescribeCluster when the broker has it (fenced brokers included), else
//! Metadata; plus the partition health Kafka's tools report (under-replicated: ISR smaller
//! than the replicas; offline: no leader).

use clap::{Args, Subcommand};
use kafka_protocol::messages::{ApiKey, DescribeClusterRequest};
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
    let ClusterCmd::Info = args.cmd;
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
