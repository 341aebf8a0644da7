//! `weir topic create|delete|list|describe|alter`.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;

use super::config::{alter_configs, describe_configs, ConfigOp, ResourceType};
use super::output::{ids, json, out, Table};
use super::{connect, parse_kv, CliError, CliResult, Common, OutputFormat};
use crate::client::{ClientError, TopicInfo};

const TIMEOUT_MS: i32 = 30_000;

#[derive(Args, Debug)]
pub struct TopicArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub cmd: TopicCmd,
}

#[derive(Subcommand, Debug)]
pub enum TopicCmd {
    /// Create a topic.
    Create {
        name: String,
        /// Partition count (broker default if not given).
        #[arg(long, short = 'p')]
        partitions: Option<i32>,
        /// Replication factor (broker default if not given).
        #[arg(long = "replication-factor", short = 'r')]
        replication_factor: Option<i16>,
        /// A topic config, NAME=VALUE. Repeatable.
        #[arg(long = "config", short = 'c', value_name = "NAME=VALUE")]
        configs: Vec<String>,
        /// Succeed if the topic already exists.
        #[arg(long = "if-not-exists")]
        if_not_exists: bool,
    },
    /// Delete topics.
    Delete {
        #[arg(required = true)]
        names: Vec<String>,
        /// Succeed if a topic does not exist.
        #[arg(long = "if-exists")]
        if_exists: bool,
    },
    /// List topic names.
    List {
        /// Include internal topics (__consumer_offsets, ...).
        #[arg(long)]
        internal: bool,
    },
    /// Partitions, leaders, replicas, ISR, topic id and non-default configs.
    Describe {
        /// Topics to describe (all non-internal topics if none).
        names: Vec<String>,
        /// Only partitions whose ISR is smaller than their replica set.
        #[arg(long)]
        under_replicated_partitions: bool,
        /// Only partitions without a leader.
        #[arg(long)]
        unavailable_partitions: bool,
    },
    /// Add partitions or change configs.
    Alter {
        name: String,
        /// New (larger) partition count.
        #[arg(long, short = 'p')]
        partitions: Option<i32>,
        /// Set a config, NAME=VALUE. Repeatable.
        #[arg(long = "config", short = 'c', value_name = "NAME=VALUE")]
        configs: Vec<String>,
        /// Remove a config override (back to the default). Repeatable.
        #[arg(long = "delete-config", value_name = "NAME")]
        delete_configs: Vec<String>,
    },
}

pub async fn run(args: TopicArgs) -> CliResult {
    let fmt = args.common.output;
    match args.cmd {
        TopicCmd::Create {
            name,
            partitions,
            replication_factor,
            configs,
            if_not_exists,
        } => {
            let configs = configs
                .iter()
                .map(|c| parse_kv(c, "--config"))
                .collect::<CliResult<Vec<_>>>()?;
            create(
                &args.common,
                fmt,
                &name,
                partitions,
                replication_factor,
                &configs,
                if_not_exists,
            )
            .await
        }
        TopicCmd::Delete { names, if_exists } => delete(&args.common, fmt, &names, if_exists).await,
        TopicCmd::List { internal } => list(&args.common, fmt, internal).await,
        TopicCmd::Describe {
            names,
            under_replicated_partitions,
            unavailable_partitions,
        } => {
            let only = PartitionFilter {
                under_replicated: under_replicated_partitions,
                unavailable: unavailable_partitions,
            };
            describe(&args.common, fmt, &names, only).await
        }
        TopicCmd::Alter {
            name,
            partitions,
            configs,
            delete_configs,
        } => {
            if partitions.is_none() && configs.is_empty() && delete_configs.is_empty() {
                return Err(CliError::Usage(
                    "topic alter needs --partitions, --config or --delete-config".into(),
                ));
            }
            let mut ops = Vec::new();
            for c in &configs {
                let (k, v) = parse_kv(c, "--config")?;
                ops.push((k, ConfigOp::Set(v)));
            }
            for k in delete_configs {
                ops.push((k, ConfigOp::Delete));
            }
            alter(&args.common, fmt, &name, partitions, &ops).await
        }
    }
}

#[derive(Serialize)]
struct Created {
    name: String,
    topic_id: Option<String>,
    partitions: i32,
    replication_factor: i16,
    created: bool,
}

async fn create(
    common: &Common,
    fmt: OutputFormat,
    name: &str,
    partitions: Option<i32>,
    rf: Option<i16>,
    configs: &[(String, String)],
    if_not_exists: bool,
) -> CliResult {
    if partitions.is_some_and(|p| p < 1) {
        return Err(CliError::Usage("--partitions must be at least 1".into()));
    }
    if rf.is_some_and(|r| r < 1) {
        return Err(CliError::Usage(
            "--replication-factor must be at least 1".into(),
        ));
    }
    let mut client = connect(common).await?;
    let conn = client.admin().await?;
    let resp = conn
        .call(|v| {
            let mut t = CreatableTopic::default();
            t.name = TopicName(StrBytes::from_string(name.to_string()));
            // v4+ take -1 for the broker's defaults; older brokers need numbers.
            let dflt = |x: Option<i32>| x.unwrap_or(if v >= 4 { -1 } else { 1 });
            t.num_partitions = dflt(partitions);
            t.replication_factor = dflt(rf.map(i32::from)) as i16;
            t.configs = configs
                .iter()
                .map(|(k, val)| {
                    let mut c = CreatableTopicConfig::default();
                    c.name = StrBytes::from_string(k.clone());
                    c.value = Some(StrBytes::from_string(val.clone()));
                    c
                })
                .collect();
            let mut r = CreateTopicsRequest::default();
            r.topics = vec![t];
            r.timeout_ms = TIMEOUT_MS;
            r
        })
        .await?;
    let Some(t) = resp.topics.into_iter().next() else {
        return Err(CliError::Failed("empty CreateTopics response".into()));
    };
    let exists = t.error_code == 36;
    if !(exists && if_not_exists) {
        ClientError::check(t.error_code, t.error_message.as_ref().map(|m| m.as_str()))?;
    }
    let created = Created {
        name: name.to_string(),
        topic_id: (!t.topic_id.is_nil()).then(|| t.topic_id.to_string()),
        partitions: t.num_partitions,
        replication_factor: t.replication_factor,
        created: !exists,
    };
    match fmt {
        OutputFormat::Json => json(&created),
        OutputFormat::Table if exists => out(&format!("Topic '{name}' already exists.\n")),
        OutputFormat::Table => out(&format!("Created topic {name}.\n")),
    }
}

#[derive(Serialize)]
struct Deleted {
    name: String,
    deleted: bool,
}

async fn delete(
    common: &Common,
    fmt: OutputFormat,
    names: &[String],
    if_exists: bool,
) -> CliResult {
    let mut client = connect(common).await?;
    let conn = client.admin().await?;
    let resp = conn
        .call(|v| {
            let mut r = DeleteTopicsRequest::default();
            let tn = |n: &String| TopicName(StrBytes::from_string(n.clone()));
            if v >= 6 {
                r.topics = names
                    .iter()
                    .map(|n| DeleteTopicState::default().with_name(Some(tn(n))))
                    .collect();
            } else {
                r.topic_names = names.iter().map(tn).collect();
            }
            r.timeout_ms = TIMEOUT_MS;
            r
        })
        .await?;
    let mut results = Vec::new();
    let mut first_err = None;
    for r in resp.responses {
        let name = r
            .name
            .as_ref()
            .map(|n| n.0.as_str().to_string())
            .unwrap_or_default();
        let missing = r.error_code == 3 || r.error_code == 100;
        if r.error_code != 0 && !(missing && if_exists) {
            let msg = r
                .error_message
                .as_ref()
                .map(|m| m.as_str().to_string())
                .or_else(|| missing.then(|| format!("Topic '{name}' does not exist.")));
            first_err.get_or_insert(ClientError::kafka(r.error_code, msg));
            continue;
        }
        results.push(Deleted {
            name,
            deleted: r.error_code == 0,
        });
    }
    match fmt {
        OutputFormat::Json => json(&results)?,
        OutputFormat::Table => {
            for d in &results {
                if d.deleted {
                    out(&format!("Deleted topic {}.\n", d.name))?;
                }
            }
        }
    }
    match first_err {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

#[derive(Serialize)]
struct Listed {
    name: String,
    topic_id: String,
    partitions: usize,
    internal: bool,
}

async fn list(common: &Common, fmt: OutputFormat, internal: bool) -> CliResult {
    let mut client = connect(common).await?;
    let topics: Vec<TopicInfo> = client
        .topics(None)
        .await?
        .into_iter()
        .filter(|t| internal || !t.internal)
        .collect();
    match fmt {
        OutputFormat::Json => json(
            &topics
                .iter()
                .map(|t| Listed {
                    name: t.name.clone(),
                    topic_id: t.id.to_string(),
                    partitions: t.partitions.len(),
                    internal: t.internal,
                })
                .collect::<Vec<_>>(),
        ),
        OutputFormat::Table => {
            let mut s = String::new();
            for t in &topics {
                s.push_str(&t.name);
                s.push('\n');
            }
            out(&s)
        }
    }
}

#[derive(Serialize)]
struct DescribedPartition {
    partition: i32,
    leader: i32,
    leader_epoch: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    offline_replicas: Vec<i32>,
    error: Option<String>,
}

#[derive(Serialize)]
struct DescribedTopic {
    name: String,
    topic_id: String,
    internal: bool,
    partition_count: usize,
    replication_factor: usize,
    configs: BTreeMap<String, Option<String>>,
    partitions: Vec<DescribedPartition>,
}

/// kafka-topics.sh's partition filters: with either set, only matching partitions are shown
/// (and topics without any are left out).
#[derive(Clone, Copy, Default)]
struct PartitionFilter {
    under_replicated: bool,
    unavailable: bool,
}

impl PartitionFilter {
    fn active(self) -> bool {
        self.under_replicated || self.unavailable
    }

    fn keeps(self, p: &crate::client::PartitionInfo) -> bool {
        if !self.active() {
            return true;
        }
        (self.unavailable && p.leader < 0)
            || (self.under_replicated && p.leader >= 0 && p.isr.len() < p.replicas.len())
    }
}

async fn describe(
    common: &Common,
    fmt: OutputFormat,
    names: &[String],
    only: PartitionFilter,
) -> CliResult {
    let mut client = connect(common).await?;
    let topics = if names.is_empty() {
        client
            .topics(None)
            .await?
            .into_iter()
            .filter(|t| !t.internal)
            .collect()
    } else {
        client.topics(Some(names)).await?
    };
    let mut described = Vec::new();
    for mut t in topics {
        t.partitions.retain(|p| only.keeps(p));
        if only.active() && t.partitions.is_empty() {
            continue;
        }
        // Configs set on the topic itself (source DYNAMIC_TOPIC_CONFIG), as kafka-topics shows.
        let configs = match describe_configs(&mut client, ResourceType::Topic, &t.name, false).await
        {
            Ok(entries) => entries
                .into_iter()
                .filter(|e| e.source == 1)
                .map(|e| (e.name, e.value))
                .collect(),
            Err(ClientError::Unsupported { .. }) => BTreeMap::new(),
            Err(e) => return Err(e.into()),
        };
        described.push(DescribedTopic {
            name: t.name.clone(),
            topic_id: t.id.to_string(),
            internal: t.internal,
            partition_count: t.partitions.len(),
            replication_factor: t.partitions.first().map_or(0, |p| p.replicas.len()),
            configs,
            partitions: t
                .partitions
                .iter()
                .map(|p| DescribedPartition {
                    partition: p.partition,
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    offline_replicas: p.offline.clone(),
                    error: (p.error_code != 0)
                        .then(|| crate::client::codes::error_name(p.error_code)),
                })
                .collect(),
        });
    }
    match fmt {
        OutputFormat::Json => json(&described),
        OutputFormat::Table => {
            // kafka-topics.sh --describe layout.
            let mut s = String::new();
            for t in &described {
                let configs = t
                    .configs
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",");
                s.push_str(&format!(
                    "Topic: {}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}\n",
                    t.name, t.topic_id, t.partition_count, t.replication_factor, configs
                ));
                let mut table = Table::new(&["", "PARTITION", "LEADER", "REPLICAS", "ISR"]);
                for p in &t.partitions {
                    table.row(vec![
                        String::new(),
                        p.partition.to_string(),
                        p.leader.to_string(),
                        ids(&p.replicas),
                        ids(&p.isr),
                    ]);
                }
                s.push_str(&table.render());
            }
            out(&s)
        }
    }
}

async fn alter(
    common: &Common,
    fmt: OutputFormat,
    name: &str,
    partitions: Option<i32>,
    ops: &[(String, ConfigOp)],
) -> CliResult {
    let mut client = connect(common).await?;
    // Fail early and clearly on an unknown topic.
    client.topic(name).await?;
    if let Some(count) = partitions {
        let conn = client.admin().await?;
        let resp = conn
            .call(|_| {
                let mut t = CreatePartitionsTopic::default();
                t.name = TopicName(StrBytes::from_string(name.to_string()));
                t.count = count;
                t.assignments = None;
                let mut r = CreatePartitionsRequest::default();
                r.topics = vec![t];
                r.timeout_ms = TIMEOUT_MS;
                r
            })
            .await?;
        for r in resp.results {
            ClientError::check(r.error_code, r.error_message.as_ref().map(|m| m.as_str()))?;
        }
    }
    if !ops.is_empty() {
        alter_configs(&mut client, ResourceType::Topic, name, ops).await?;
    }
    match fmt {
        OutputFormat::Json => json(&serde_json::json!({
            "name": name,
            "partitions": partitions,
            "configs_changed": ops.len(),
        })),
        OutputFormat::Table => out(&format!("Altered topic {name}.\n")),
    }
}
