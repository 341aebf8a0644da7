//! `weir config describe|alter` (DescribeConfigs with synonyms, IncrementalAlterConfigs).

use clap::{Args, Subcommand};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;

use super::output::{json, out, Table};
use super::{connect, parse_kv, CliError, CliResult, Common, OutputFormat};
use crate::client::{Client, ClientError, Connection};

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub cmd: ConfigCmd,
}

#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// A topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// A broker, by node id.
    #[arg(long)]
    pub broker: Option<i32>,
}

impl Target {
    fn resolve(&self) -> CliResult<(ResourceType, String)> {
        match (&self.topic, self.broker) {
            (Some(t), None) => Ok((ResourceType::Topic, t.clone())),
            (None, Some(b)) => Ok((ResourceType::Broker, b.to_string())),
            _ => Err(CliError::Usage("give one of --topic or --broker".into())),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Every config of a topic or broker with its value and source.
    Describe {
        #[command(flatten)]
        target: Target,
    },
    /// Set or delete config overrides.
    Alter {
        #[command(flatten)]
        target: Target,
        /// Set NAME=VALUE. Repeatable.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Remove an override. Repeatable.
        #[arg(long = "delete", value_name = "NAME")]
        delete: Vec<String>,
    },
}

/// DescribeConfigs resource types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceType {
    Topic = 2,
    Broker = 4,
}

/// One IncrementalAlterConfigs operation.
#[derive(Clone, Debug)]
pub enum ConfigOp {
    Set(String),
    Delete,
}

/// A config as DescribeConfigs returns it.
#[derive(Serialize, Debug, Clone)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    /// Kafka's numeric source (see [`source_name`]).
    #[serde(skip)]
    pub source: i8,
    #[serde(rename = "source")]
    pub source_name: &'static str,
    pub read_only: bool,
    pub sensitive: bool,
    pub synonyms: Vec<Synonym>,
}

#[derive(Serialize, Debug, Clone)]
pub struct Synonym {
    pub name: String,
    pub value: Option<String>,
    pub source: &'static str,
}

/// Kafka's `ConfigEntry.ConfigSource` names.
pub fn source_name(s: i8) -> &'static str {
    match s {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "DYNAMIC_CLIENT_METRICS_CONFIG",
        8 => "DYNAMIC_GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

/// Broker configs must be asked of that broker; topic configs of any.
async fn conn_for<'a>(
    client: &'a mut Client,
    rt: ResourceType,
    name: &str,
) -> CliResult<&'a mut Connection> {
    match rt {
        ResourceType::Broker => {
            let id: i32 = name
                .parse()
                .map_err(|_| CliError::Usage(format!("broker id '{name}' is not a number")))?;
            Ok(client.broker(id).await?)
        }
        ResourceType::Topic => Ok(client.admin().await?),
    }
}

/// DescribeConfigs for one resource.
pub async fn describe_configs(
    client: &mut Client,
    rt: ResourceType,
    name: &str,
    synonyms: bool,
) -> Result<Vec<ConfigEntry>, ClientError> {
    let conn = match conn_for(client, rt, name).await {
        Ok(c) => c,
        Err(CliError::Client(e)) => return Err(e),
        Err(e) => return Err(ClientError::Other(e.to_string())),
    };
    let resp = conn
        .call(|v| {
            let mut res = DescribeConfigsResource::default();
            res.resource_type = rt as i8;
            res.resource_name = StrBytes::from_string(name.to_string());
            res.configuration_keys = None;
            let mut r = DescribeConfigsRequest::default();
            r.resources = vec![res];
            r.include_synonyms = synonyms && v >= 1;
            r
        })
        .await?;
    let Some(res) = resp.results.into_iter().next() else {
        return Err(ClientError::Other("empty DescribeConfigs response".into()));
    };
    ClientError::check(
        res.error_code,
        res.error_message.as_ref().map(|m| m.as_str()),
    )?;
    let mut entries: Vec<ConfigEntry> = res
        .configs
        .into_iter()
        .map(|c| ConfigEntry {
            name: c.name.as_str().to_string(),
            value: c.value.map(|v| v.as_str().to_string()),
            source: c.config_source,
            source_name: source_name(c.config_source),
            read_only: c.read_only,
            sensitive: c.is_sensitive,
            synonyms: c
                .synonyms
                .into_iter()
                .map(|s| Synonym {
                    name: s.name.as_str().to_string(),
                    value: s.value.map(|v| v.as_str().to_string()),
                    source: source_name(s.source),
                })
                .collect(),
        })
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// IncrementalAlterConfigs for one resource.
pub async fn alter_configs(
    client: &mut Client,
    rt: ResourceType,
    name: &str,
    ops: &[(String, ConfigOp)],
) -> CliResult {
    let conn = conn_for(client, rt, name).await?;
    let resp = conn
        .call(|_| {
            let mut res = AlterConfigsResource::default();
            res.resource_type = rt as i8;
            res.resource_name = StrBytes::from_string(name.to_string());
            res.configs = ops
                .iter()
                .map(|(k, op)| {
                    let mut c = AlterableConfig::default();
                    c.name = StrBytes::from_string(k.clone());
                    match op {
                        ConfigOp::Set(v) => {
                            c.config_operation = 0;
                            c.value = Some(StrBytes::from_string(v.clone()));
                        }
                        ConfigOp::Delete => {
                            c.config_operation = 1;
                            c.value = None;
                        }
                    }
                    c
                })
                .collect();
            let mut r = IncrementalAlterConfigsRequest::default();
            r.resources = vec![res];
            r
        })
        .await?;
    for r in resp.responses {
        ClientError::check(r.error_code, r.error_message.as_ref().map(|m| m.as_str()))?;
    }
    Ok(())
}

pub async fn run(args: ConfigArgs) -> CliResult {
    let fmt = args.common.output;
    match args.cmd {
        ConfigCmd::Describe { target } => {
            let (rt, name) = target.resolve()?;
            let mut client = connect(&args.common).await?;
            let entries = describe_configs(&mut client, rt, &name, true).await?;
            match fmt {
                OutputFormat::Json => json(&entries),
                OutputFormat::Table => {
                    let mut t = Table::new(&["NAME", "VALUE", "SOURCE"]);
                    for e in &entries {
                        let value = if e.sensitive {
                            "(sensitive)".to_string()
                        } else {
                            e.value.clone().unwrap_or_else(|| "null".into())
                        };
                        t.row(vec![e.name.clone(), value, e.source_name.to_string()]);
                    }
                    t.print()
                }
            }
        }
        ConfigCmd::Alter {
            target,
            set,
            delete,
        } => {
            let (rt, name) = target.resolve()?;
            if set.is_empty() && delete.is_empty() {
                return Err(CliError::Usage(
                    "config alter needs --set or --delete".into(),
                ));
            }
            let mut ops = Vec::new();
            for s in &set {
                let (k, v) = parse_kv(s, "--set")?;
                ops.push((k, ConfigOp::Set(v)));
            }
            for k in delete {
                ops.push((k, ConfigOp::Delete));
            }
            let mut client = connect(&args.common).await?;
            alter_configs(&mut client, rt, &name, &ops).await?;
            let what = match rt {
                ResourceType::Topic => "topic",
                ResourceType::Broker => "broker",
            };
            match fmt {
                OutputFormat::Json => json(&serde_json::json!({
                    "resource_type": what, "name": name, "changed": ops.len()
                })),
                OutputFormat::Table => {
                    out(&format!("Completed updating config for {what} {name}.\n"))
                }
            }
        }
    }
}
