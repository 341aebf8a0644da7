//! The `weir` admin, producer and consumer commands: Kafka's command-line tools (and rpk's) in
//! the broker's own binary, speaking the Kafka protocol to any Kafka-compatible broker.
//!
//! ```text
//! weir topic create NAME [--partitions N] [--replication-factor N] [--config k=v]... [--if-not-exists]
//! weir topic delete NAME... [--if-exists]
//! weir topic list [--internal]
//! weir topic describe [NAME...]
//! weir topic alter NAME [--partitions N] [--config k=v]... [--delete-config k]...
//! weir produce TOPIC [--file F] [--key-separator SEP] [--header k=v]... [--partition N]
//!                    [--acks -1|0|1] [--compression none|gzip|snappy|lz4|zstd] [--batch-size N]
//! weir consume TOPIC [--from-beginning|--offset N|--timestamp MS|--from-end] [--partition N]...
//!                    [--group G] [--count N] [--follow] [--format FMT]
//! weir group list | describe G... | delete G... |
//!            reset-offsets G (--topic T[:P,P] ...|--all-topics)
//!                 (--to-earliest|--to-latest|--to-offset N|--to-datetime ISO|--shift-by N)
//!                 [--execute|--dry-run]
//! weir config describe (--topic T | --broker ID)
//! weir config alter (--topic T | --broker ID) [--set k=v]... [--delete k]...
//! weir cluster info
//! weir acl (list|create|delete) [--allow-principal P]... [--deny-principal P]... [--allow-host H]...
//!          [--deny-host H]... [--operation OP]... (--topic T|--group G|--cluster|--transactional-id X)...
//!          [--resource-pattern-type literal|prefixed|match|any] [--principal P]
//! weir user list [NAME...] | set NAME [--password P] [--mechanism SCRAM-SHA-256|SCRAM-SHA-512]
//!           [--iterations N] | delete NAME [--mechanism M]
//! ```
//!
//! `acl` and `user` need a broker that serves the ACL / SCRAM APIs; against one that does not
//! advertise them they exit 1 with `error: UNSUPPORTED_VERSION: the broker does not support
//! <API>`. `user set` reads the password from stdin when `--password` is not given and sends
//! only the salted password (PBKDF2, as Kafka's tools do).
//!
//! `produce` reads one record per line (a trailing `\r` is dropped). `--key-separator` splits
//! each line at its first separator (a line without one is an error); `--header` adds the same
//! header to every record; without `--partition`, keys are placed by murmur2 as Java's default
//! partitioner does and keyless lines stick to one partition per batch. `--batch-size` counts
//! records; a partial batch is sent after `--linger-ms` without input.
//!
//! Every command takes `--bootstrap-server HOST:PORT[,HOST:PORT]` (`-b`, default
//! `localhost:9092`), `--command-config FILE` (Kafka client properties: `bootstrap.servers`,
//! `client.id`, `request.timeout.ms`, `security.protocol` PLAINTEXT / SSL / SASL_PLAINTEXT /
//! SASL_SSL, `sasl.mechanism` PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 with the username and
//! password of `sasl.jaas.config` (or `sasl.username` / `sasl.password`), `ssl.truststore.*`
//! or `ssl.ca.location`, and `ssl.keystore.*` for a client certificate) and `--output table|json` (human tables by default; JSON for scripts;
//! `consume --output json` prints one JSON object per record).
//!
//! `consume` starts at the end of each partition unless told otherwise (as
//! `kafka-console-consumer.sh` does); without `--follow` it stops once every assigned partition
//! reached the end offset it had when the command started (or after `--count` records). With
//! `--group` it is a real classic-protocol group member (range assignor, heartbeats, a commit
//! after each batch, LeaveGroup on exit or Ctrl-C); committed offsets win over the start flags,
//! which then only act as `auto.offset.reset`.
//!
//! `--format` placeholders (kcat's `-f`): `%t` topic, `%p` partition, `%o` offset, `%k` key,
//! `%s` value, `%h` headers (`k=v,k2=v2`), `%T` timestamp (ms), `%K`/`%S` key/value length,
//! `%%`, and the escapes `\n`, `\t`, `\\`. The default is `%s\n`.
//!
//! Exit codes: 0 success; 1 a Kafka error (printed as `error: NAME: message`, e.g.
//! `error: TOPIC_ALREADY_EXISTS: Topic 'x' already exists.`) or another failure of the request;
//! 2 a usage or configuration error; 3 no connection to the cluster.

pub mod acl;
pub mod cluster;
pub mod config;
pub mod consume;
pub mod group;
pub mod output;
pub mod produce;
pub mod topic;
pub mod user;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use crate::client::{Client, ClientConfig, ClientError, ConnOptions};

/// The client subcommands of `weir`.
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Create, list, describe, alter and delete topics.
    Topic(topic::TopicArgs),
    /// Produce lines from stdin or a file.
    Produce(produce::ProduceArgs),
    /// Consume records, with or without a consumer group.
    Consume(consume::ConsumeArgs),
    /// List, describe (with lag), delete consumer groups and reset their offsets.
    Group(group::GroupArgs),
    /// Describe and alter topic and broker configs.
    Config(config::ConfigArgs),
    /// Cluster id, controller and brokers.
    Cluster(cluster::ClusterArgs),
    /// List, create and delete ACLs.
    Acl(acl::AclArgs),
    /// Set and delete SCRAM credentials.
    User(user::UserArgs),
}

/// Output format.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Human-readable tables.
    #[default]
    Table,
    /// JSON for scripts.
    Json,
}

/// Connection options every client command takes.
#[derive(Args, Clone, Debug, Default)]
pub struct Common {
    /// Kafka brokers to bootstrap from (default localhost:9092).
    #[arg(
        long = "bootstrap-server",
        short = 'b',
        visible_alias = "brokers",
        global = true,
        value_name = "HOST:PORT[,HOST:PORT]"
    )]
    pub bootstrap_server: Option<String>,
    /// Kafka client properties file (bootstrap.servers, client.id, request.timeout.ms).
    #[arg(long = "command-config", global = true, value_name = "FILE")]
    pub command_config: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Errors of a command, mapped to exit codes in [`run`].
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad flags, files or settings: exit 2.
    #[error("{0}")]
    Usage(String),
    /// A request failed: exit 1 (Kafka error) or 3 (connection).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Something else failed (bad input data, stdout closed): exit 1.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Client(e) => e.exit_code(),
            CliError::Failed(_) => 1,
        }
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// Runs a client command to completion and returns the process exit code.
pub fn run(cmd: ClientCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cmd)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed stdout (`weir consume ... | head`) is not an error worth a message.
            if !matches!(&e, CliError::Failed(m) if m == BROKEN_PIPE) {
                eprintln!("error: {e}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

async fn dispatch(cmd: ClientCommand) -> CliResult {
    match cmd {
        ClientCommand::Topic(a) => topic::run(a).await,
        ClientCommand::Produce(a) => produce::run(a).await,
        ClientCommand::Consume(a) => consume::run(a).await,
        ClientCommand::Group(a) => group::run(a).await,
        ClientCommand::Config(a) => config::run(a).await,
        ClientCommand::Cluster(a) => cluster::run(a).await,
        ClientCommand::Acl(a) => acl::run(a).await,
        ClientCommand::User(a) => user::run(a).await,
    }
}

pub(crate) const BROKEN_PIPE: &str = "stdout closed";

/// Connects with the common options: `--bootstrap-server` beats the command config's
/// `bootstrap.servers`, which beats `localhost:9092`.
pub async fn connect(common: &Common) -> CliResult<Client> {
    let config = client_config(common)?;
    Ok(Client::connect(config).await?)
}

/// The SASL login from Kafka's client properties: `sasl.mechanism` (default GSSAPI in Kafka;
/// here PLAIN) and the username/password of `sasl.jaas.config` (librdkafka's `sasl.username` /
/// `sasl.password` also work).
fn sasl_login(get: &dyn Fn(&str) -> Option<String>) -> CliResult<crate::client::conn::SaslLogin> {
    let mechanism = get("sasl.mechanism")
        .or_else(|| get("sasl.mechanisms"))
        .unwrap_or_else(|| "PLAIN".into())
        .trim()
        .to_ascii_uppercase();
    if !matches!(
        mechanism.as_str(),
        "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"
    ) {
        return Err(CliError::Usage(format!(
            "sasl.mechanism={mechanism}: weir's tools log in with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
        )));
    }
    let jaas = get("sasl.jaas.config").unwrap_or_default();
    let username = crate::security::jaas_option(&jaas, "username").or_else(|| get("sasl.username"));
    let password = crate::security::jaas_option(&jaas, "password").or_else(|| get("sasl.password"));
    match (username, password) {
        (Some(username), Some(password)) => Ok(crate::client::conn::SaslLogin {
            mechanism,
            username,
            password,
        }),
        _ => Err(CliError::Usage(
            "SASL needs a username and password (sasl.jaas.config, or sasl.username/sasl.password)"
                .into(),
        )),
    }
}

/// TLS from Kafka's client properties: the CAs to trust (`ssl.truststore.location`, PEM or
/// PKCS#12 with `ssl.truststore.password`, `ssl.truststore.certificates`, or librdkafka's
/// `ssl.ca.location`) and, for client-certificate listeners, the keystore (`ssl.keystore.*`).
fn tls_config(props: &[(String, String)]) -> CliResult<std::sync::Arc<rustls::ClientConfig>> {
    let mut view = crate::config::Config::default();
    for (k, v) in props {
        view.props.insert(k.clone(), v.clone());
    }
    if let Some(ca) = view.props.get("ssl.ca.location").cloned() {
        view.props
            .entry("ssl.truststore.location".into())
            .or_insert(ca);
    }
    crate::security::tls::client_config(&view)
        .map_err(|e| CliError::Usage(format!("TLS settings: {e}")))
}

/// Resolves the common options into a client configuration.
pub fn client_config(common: &Common) -> CliResult<ClientConfig> {
    let props = match &common.command_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
            crate::config::parse_properties_entries(&text)
        }
        None => Vec::new(),
    };
    let get = |k: &str| {
        props
            .iter()
            .rev()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    };
    let mut conn = ConnOptions::default();
    let protocol = get("security.protocol")
        .unwrap_or_else(|| "PLAINTEXT".into())
        .trim()
        .to_ascii_uppercase();
    let (tls, sasl) = match protocol.as_str() {
        "PLAINTEXT" => (false, false),
        "SSL" => (true, false),
        "SASL_PLAINTEXT" => (false, true),
        "SASL_SSL" => (true, true),
        other => {
            return Err(CliError::Usage(format!(
                "security.protocol={other}: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
            )))
        }
    };
    if tls {
        conn.tls = Some(tls_config(&props)?);
    }
    if sasl {
        conn.sasl = Some(sasl_login(&get)?);
    }
    if let Some(id) = get("client.id") {
        conn.client_id = id;
    }
    if let Some(ms) = get("request.timeout.ms") {
        let ms: u64 = ms
            .trim()
            .parse()
            .map_err(|_| CliError::Usage(format!("request.timeout.ms={ms} is not a number")))?;
        conn.request_timeout = Duration::from_millis(ms.max(1));
    }
    let servers = common
        .bootstrap_server
        .clone()
        .or_else(|| get("bootstrap.servers"))
        .unwrap_or_else(|| "localhost:9092".into());
    let bootstrap: Vec<String> = servers
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            // Accept listener URLs (PLAINTEXT://host:port) as Kafka's tools do.
            s.split_once("://").map_or(s, |(_, rest)| rest).to_string()
        })
        .collect();
    if bootstrap.is_empty() {
        return Err(CliError::Usage("no bootstrap servers given".into()));
    }
    for b in &bootstrap {
        if !b.contains(':') {
            return Err(CliError::Usage(format!(
                "bootstrap server '{b}' is not HOST:PORT"
            )));
        }
    }
    Ok(ClientConfig { bootstrap, conn })
}

/// Splits `k=v` (the value may contain `=`).
pub fn parse_kv(s: &str, what: &str) -> CliResult<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(CliError::Usage(format!("{what} '{s}' is not NAME=VALUE"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_files_parse_like_java() {
        let p = crate::config::parse_properties_entries(
            "# comment\nbootstrap.servers=a:1,b:2\nclient.id : me\n! other\nrequest.timeout.ms 500\nx=a\\\n  b\n",
        );
        assert_eq!(
            p,
            vec![
                ("bootstrap.servers".into(), "a:1,b:2".into()),
                ("client.id".into(), "me".into()),
                ("request.timeout.ms".into(), "500".into()),
                ("x".into(), "ab".into()),
            ]
        );
    }

    #[test]
    fn command_config_precedence_and_security() {
        let dir = std::env::temp_dir().join(format!("weir-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("c.properties");
        std::fs::write(&f, "bootstrap.servers=PLAINTEXT://h:1\nclient.id=x\n").expect("write");
        let mut common = Common {
            command_config: Some(f.clone()),
            ..Default::default()
        };
        let c = client_config(&common).expect("config");
        assert_eq!(c.bootstrap, vec!["h:1".to_string()]);
        assert_eq!(c.conn.client_id, "x");
        common.bootstrap_server = Some("k:2".into());
        assert_eq!(
            client_config(&common).expect("config").bootstrap,
            vec!["k:2"]
        );
        std::fs::write(
            &f,
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"s3cret\";\n",
        )
        .expect("write");
        let c = client_config(&common).expect("config");
        let login = c.conn.sasl.expect("sasl");
        assert_eq!(
            (
                login.mechanism.as_str(),
                login.username.as_str(),
                login.password.as_str()
            ),
            ("SCRAM-SHA-512", "alice", "s3cret")
        );
        std::fs::write(&f, "security.protocol=SASL_SSL\nsasl.mechanism=GSSAPI\n").expect("write");
        let e = client_config(&common).expect_err("refused");
        assert_eq!(e.exit_code(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
