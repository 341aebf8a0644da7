//! `weir cluster info`: DescribeCluster when the broker has it, else Metadata.

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
}

#[derive(Serialize)]
struct Info {
    cluster_id: Option<String>,
    controller_id: i32,
    brokers: Vec<Broker>,
}

pub async fn run(args: ClusterArgs) -> CliResult {
    let ClusterCmd::Info = args.cmd;
    let mut client = connect(&args.common).await?;
    let info = if client.supports(ApiKey::DescribeCluster) {
        let resp = client
            .any()
            .call(|_| DescribeClusterRequest::default())
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
                })
                .collect(),
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
                })
                .collect(),
        }
    };
    match args.common.output {
        OutputFormat::Json => json(&info),
        OutputFormat::Table => {
            out(&format!(
                "Cluster ID: {}\nController: {}\n\n",
                opt(info.cluster_id.as_deref()),
                info.controller_id
            ))?;
            let mut t = Table::new(&["ID", "HOST", "PORT", "RACK"]);
            for b in &info.brokers {
                t.row(vec![
                    b.id.to_string(),
                    b.host.clone(),
                    b.port.to_string(),
                    opt(b.rack.as_deref()),
                ]);
            }
            t.print()
        }
    }
}
