//! Broker configuration: one typed `Config`, built from Kafka-named properties.
//!
//! Sources, later winning: built-in defaults, a config file (`weir.toml`, or a Kafka
//! `server.properties` as is), `WEIR_*` environment variables, `--override name=value` flags.
//! Names are Kafka's own. As Kafka does, names the broker does not use are listed once at startup
//! and otherwise ignored (`classify`); `--strict` refuses them. Invalid values of known settings
//! stop startup with Kafka's "Invalid value X for configuration Y: ..." message.

pub mod catalog;
pub mod classify;
pub mod kraft;
mod sources;

pub use sources::{load, parse_properties, parse_properties_entries, parse_toml, LoadOptions};

use std::collections::BTreeMap;
use std::path::PathBuf;

use catalog::ConfigType;

/// A configuration problem, naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Only from `Config::from_props`/`set`, which take names programmatically; `load` sorts
    /// out the names it does not use before building the config (see `classify`).
    #[error("unknown configuration '{0}'")]
    Unknown(String),
    /// Worded as Kafka's `ConfigException`, so operators recognise it.
    #[error("Invalid value {value} for configuration {name}: {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
    /// A value the catalogue's validators refused; the message is already in Kafka's words.
    #[error("{0}")]
    Rejected(String),
    /// Settings refused by `--strict` / `weir.config.strict=true`, each with its explanation.
    #[error("settings refused because strict configuration is on: {0}")]
    Strict(String),
    #[error("--override '{0}' must look like name=value")]
    Override(String),
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
}

fn invalid(name: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// One `NAME://host:port` entry of `listeners` / `advertised.listeners`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    fn parse_list(name: &str, value: &str) -> Result<Vec<Listener>, ConfigError> {
        let mut out = Vec::new();
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (proto, rest) = item
                .split_once("://")
                .ok_or_else(|| invalid(name, value, "expected NAME://host:port"))?;
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| invalid(name, value, "missing port"))?;
            let port: u16 = port
                .parse()
                .map_err(|_| invalid(name, value, "port is not a number 0-65535"))?;
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            out.push(Listener {
                name: proto.to_string(),
                host,
                port,
            });
        }
        if out.is_empty() {
            return Err(invalid(name, value, "no listener given"));
        }
        Ok(out)
    }
}

/// The whole broker configuration. `props` keeps what was set explicitly (by Kafka name), so
/// DescribeConfigs can report sources; the typed fields are what the broker reads.
#[derive(Clone, Debug)]
pub struct Config {
    pub props: BTreeMap<String, String>,
    pub node_id: i32,
    pub listeners: Vec<Listener>,
    pub advertised_listeners: Option<Vec<Listener>>,
    pub log_dir: PathBuf,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub socket_request_max_bytes: usize,
    pub log_retention_check_interval_ms: u64,
    pub log_flush_scheduler_interval_ms: u64,
    pub fetch_session_cache_slots: usize,
    /// Upper bound on one fetch response (`fetch.max.bytes`, Kafka's default 55 MiB).
    pub fetch_max_bytes: usize,
    pub cluster_id: Option<String>,
    /// Cluster settings; `None` for the zero-config single node.
    pub kraft: Option<kraft::KraftSettings>,
}

/// Settings Weir has that Kafka does not; accepted alongside Kafka's names.
const WEIR_ONLY: &[(&str, ConfigType)] = &[
    ("cluster.id", ConfigType::String),
    // host:port of the Prometheus endpoint (`/metrics`, `/health`); unset = no endpoint.
    ("metrics.listener", ConfigType::String),
    // SCRAM users created at start if missing: `name:password,...` (stored salted and hashed).
    ("sasl.users", ConfigType::Password),
    // The finalized `transaction.version` feature (0-2; Kafka 4 formats new clusters at 2, which
    // turns on KIP-890 transactions v2 in clients that support it).
    ("transaction.version", ConfigType::Short),
    // Refuse unknown and misplaced settings instead of listing them (as `--strict` does).
    ("weir.config.strict", ConfigType::Boolean),
];

pub(crate) fn config_type(name: &str) -> Option<ConfigType> {
    // Per-listener overrides (`listener.name.<listener>.<setting>`), as Kafka accepts them.
    if name.starts_with("listener.name.") {
        return Some(ConfigType::String);
    }
    if let Some(def) = catalog::broker_config(name) {
        return Some(def.config_type);
    }
    if let Some((_, t)) = WEIR_ONLY.iter().find(|(n, _)| *n == name) {
        return Some(*t);
    }
    None
}

fn check_type(name: &str, value: &str, t: ConfigType) -> Result<(), ConfigError> {
    let v = value.trim();
    // Kafka's ConfigDef.parseType wording, with the range of the integer types spelled out.
    let problem = match t {
        ConfigType::Boolean => parse_bool(v)
            .is_none()
            .then(|| "Expected value to be either true or false".to_string()),
        ConfigType::Int => v
            .parse::<i32>()
            .is_err()
            .then(|| format!("Not a number of type INT ({} to {})", i32::MIN, i32::MAX)),
        ConfigType::Short => v
            .parse::<i16>()
            .is_err()
            .then(|| format!("Not a number of type SHORT ({} to {})", i16::MIN, i16::MAX)),
        ConfigType::Long => v
            .parse::<i64>()
            .is_err()
            .then(|| format!("Not a number of type LONG ({} to {})", i64::MIN, i64::MAX)),
        ConfigType::Double => v
            .parse::<f64>()
            .is_err()
            .then(|| "Not a number of type DOUBLE".to_string()),
        _ => None,
    };
    match problem {
        None => Ok(()),
        Some(reason) => Err(invalid(name, value, reason)),
    }
}

/// Kafka reads booleans case-insensitively (`TRUE` is true).
fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

impl Default for Config {
    fn default() -> Self {
        // Built-in defaults are always valid.
        match Config::from_props(BTreeMap::new()) {
            Ok(c) => c,
            Err(e) => panic!("built-in defaults rejected: {e}"),
        }
    }
}

impl Config {
    /// This config as listener `name` sees it: every `listener.name.<name>.<setting>` (the
    /// listener name in lower case, as Kafka spells it) replaces `<setting>`. Mechanism-scoped
    /// settings keep their prefix (`listener.name.l.scram-sha-256.sasl.jaas.config` becomes
    /// `scram-sha-256.sasl.jaas.config`).
    pub fn for_listener(&self, name: &str) -> Config {
        let prefix = format!("listener.name.{}.", name.to_ascii_lowercase());
        let mut view = self.clone();
        for (k, v) in &self.props {
            if let Some(rest) = k.strip_prefix(&prefix) {
                view.props.insert(rest.to_string(), v.clone());
            }
        }
        view
    }
}

impl Config {
    /// Builds a config from explicit properties (Kafka names); everything else defaults.
    pub fn from_props(props: BTreeMap<String, String>) -> Result<Config, ConfigError> {
        for (k, v) in &props {
            let t = config_type(k).ok_or_else(|| ConfigError::Unknown(k.clone()))?;
            check_type(k, v, t)?;
        }
        let get = |k: &str| props.get(k).map(|s| s.trim().to_string());
        let num = |k: &str, d: i64| -> Result<i64, ConfigError> {
            match props.get(k) {
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| invalid(k, v, "Not a number of type LONG")),
                None => Ok(d),
            }
        };
        let boolean =
            |k: &str, d: bool| props.get(k).and_then(|v| parse_bool(v.trim())).unwrap_or(d);
        let node_id = match get("node.id") {
            Some(v) => v
                .parse()
                .map_err(|_| invalid("node.id", &v, "Not a number of type INT"))?,
            None => num("broker.id", 1)? as i32,
        };
        // A combined KRaft server.properties also lists the controller listener; Weir has no
        // separate controller quorum, so those listeners are not opened or advertised.
        let controller_names: Vec<String> = get("controller.listener.names")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default();
        let not_controller = |l: &Listener| !controller_names.contains(&l.name);
        let all_listeners = Listener::parse_list(
            "listeners",
            &get("listeners").unwrap_or_else(|| "PLAINTEXT://0.0.0.0:9092".into()),
        )?;
        let kraft = kraft::parse(&props, node_id, &all_listeners)?;
        let listeners: Vec<Listener> = all_listeners.into_iter().filter(not_controller).collect();
        if listeners.is_empty() {
            return Err(invalid(
                "listeners",
                &get("listeners").unwrap_or_default(),
                "only controller listeners are given",
            ));
        }
        let advertised_listeners = match get("advertised.listeners") {
            Some(v) => Some(
                Listener::parse_list("advertised.listeners", &v)?
                    .into_iter()
                    .filter(not_controller)
                    .collect(),
            ),
            None => None,
        };
        let log_dir = get("log.dirs")
            .or_else(|| get("log.dir"))
            .map(|s| s.split(',').next().unwrap_or("").trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "./weir-data".into());
        let num_partitions = num("num.partitions", 1)?;
        if num_partitions < 1 {
            return Err(invalid(
                "num.partitions",
                &num_partitions.to_string(),
                "Value must be at least 1",
            ));
        }
        let request_max = num("socket.request.max.bytes", 104_857_600)?;
        if request_max < 1 {
            return Err(invalid(
                "socket.request.max.bytes",
                &request_max.to_string(),
                "Value must be at least 1",
            ));
        }
        let check_interval = num("log.retention.check.interval.ms", 300_000)?.max(1) as u64;
        let flush_interval = num("log.flush.scheduler.interval.ms", 1000)?.clamp(1, 60_000) as u64;
        // Validate the topic-level defaults the broker props set, so a bad value fails at start.
        for def in catalog::TOPIC_CONFIGS {
            resolved_topic_value(&props, def.name, &BTreeMap::new())
                .map(|_| ())
                .map_err(|(_, _, message)| ConfigError::Rejected(message))?;
        }
        Ok(Config {
            node_id,
            listeners,
            advertised_listeners,
            log_dir: PathBuf::from(log_dir),
            num_partitions: num_partitions as i32,
            default_replication_factor: num("default.replication.factor", 1)? as i16,
            auto_create_topics_enable: boolean("auto.create.topics.enable", true),
            delete_topic_enable: boolean("delete.topic.enable", true),
            socket_request_max_bytes: request_max as usize,
            log_retention_check_interval_ms: check_interval,
            log_flush_scheduler_interval_ms: flush_interval,
            fetch_session_cache_slots: num("max.incremental.fetch.session.cache.slots", 1000)?
                .max(0) as usize,
            fetch_max_bytes: num("fetch.max.bytes", 57_671_680)?.max(1024) as usize,
            cluster_id: get("cluster.id"),
            kraft,
            props,
        })
    }

    /// A config for tests and embedding: loopback listener on an ephemeral port, given data dir.
    pub fn for_test(log_dir: impl Into<PathBuf>) -> Config {
        let log_dir = log_dir.into();
        let mut props = Config::default().props;
        props.insert("log.dirs".into(), log_dir.display().to_string());
        Config {
            listeners: vec![Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 0,
            }],
            log_dir,
            props,
            ..Config::default()
        }
    }

    /// Sets one property by Kafka name, revalidating the whole config.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let mut props = self.props.clone();
        props.insert(name.to_string(), value.to_string());
        let mut next = Config::from_props(props)?;
        // Keep programmatic choices made on the typed fields (e.g. by `for_test`).
        if !next.props.contains_key("listeners") {
            next.listeners = self.listeners.clone();
        }
        if !next.props.contains_key("log.dirs") && !next.props.contains_key("log.dir") {
            next.log_dir = self.log_dir.clone();
        }
        *self = next;
        Ok(())
    }
}

/// Where a config value came from, as DescribeConfigs numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    DynamicTopic = 1,
    StaticBroker = 4,
    Default = 5,
}

/// A topic config value after applying topic overrides, broker synonyms and Kafka's default.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub value: Option<String>,
    pub source: ConfigSource,
    /// (name, value, source) most specific first, as DescribeConfigs lists synonyms.
    pub synonyms: Vec<(String, Option<String>, ConfigSource)>,
}

fn scale_synonym(synonym: &str, value: &str) -> Option<String> {
    let factor = if synonym.ends_with(".hours") {
        3_600_000
    } else if synonym.ends_with(".minutes") {
        60_000
    } else {
        return Some(value.trim().to_string());
    };
    let n: i64 = value.trim().parse().ok()?;
    Some(if n < 0 { n } else { n.saturating_mul(factor) }.to_string())
}

/// Resolves a topic-level config. Err((name, value, message)) when a value does not validate;
/// the message is Kafka's, naming the setting as it was written (the broker name for a broker
/// default).
pub fn resolved_topic_value(
    broker_props: &BTreeMap<String, String>,
    name: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<Resolved, (String, String, String)> {
    let def = catalog::topic_config(name).ok_or_else(|| {
        (
            name.to_string(),
            String::new(),
            "unknown topic config".into(),
        )
    })?;
    let mut synonyms = Vec::new();
    if let Some(v) = overrides.get(name) {
        synonyms.push((
            name.to_string(),
            Some(v.clone()),
            ConfigSource::DynamicTopic,
        ));
    }
    // The broker-level synonyms as Kafka's ConfigHelper lists them: every synonym set in the
    // broker's properties, then every synonym that has a built-in default (each group in
    // synonym order), with the leading entries that are not the primary synonym dropped. So
    // retention.ms lists nothing from the broker unless log.retention.ms itself is set: a
    // default or an explicit log.retention.hours alone does not show up (Kafka 4.2 answers so).
    let mut broker_synonyms = Vec::new();
    for syn in def.broker_synonyms {
        if let Some(v) = broker_props.get(*syn) {
            let scaled = scale_synonym(syn, v).ok_or_else(|| {
                let m = format!("Invalid value {v} for configuration {syn}: Not a number");
                (syn.to_string(), v.clone(), m)
            })?;
            catalog::validate_topic_value_as(name, syn, &scaled)
                .map_err(|r| (syn.to_string(), v.clone(), r))?;
            broker_synonyms.push((syn.to_string(), Some(v.clone()), ConfigSource::StaticBroker));
        }
    }
    for syn in def.broker_synonyms {
        if let Some(d) = catalog::broker_config(syn).and_then(|b| b.default) {
            broker_synonyms.push((syn.to_string(), Some(d.to_string()), ConfigSource::Default));
        }
    }
    if let Some(primary) = def.broker_synonyms.first() {
        let skip = broker_synonyms
            .iter()
            .take_while(|(n, _, _)| n != primary)
            .count();
        synonyms.extend(broker_synonyms.into_iter().skip(skip));
    }
    let value = match overrides.get(name) {
        Some(v) => Some(v.clone()),
        None => def
            .broker_synonyms
            .iter()
            .find_map(|syn| broker_props.get(*syn).and_then(|v| scale_synonym(syn, v)))
            .or_else(|| def.default.map(str::to_string)),
    };
    // Kafka reports the source of the most specific synonym it listed, and DEFAULT_CONFIG when
    // it listed none (even for a value that an explicit log.retention.hours produced).
    let source = synonyms
        .first()
        .map(|(_, _, s)| *s)
        .unwrap_or(ConfigSource::Default);
    Ok(Resolved {
        value,
        source,
        synonyms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_kafkas() {
        let c = Config::default();
        assert_eq!(c.listeners[0].port, 9092);
        assert_eq!(c.num_partitions, 1);
        assert_eq!(c.socket_request_max_bytes, 104_857_600);
        assert!(c.auto_create_topics_enable);
        assert_eq!(c.log_dir, PathBuf::from("./weir-data"));
    }

    #[test]
    fn unknown_and_invalid_settings_are_named() {
        let e = Config::from_props(props(&[("no.such.thing", "1")])).unwrap_err();
        assert!(e.to_string().contains("no.such.thing"));
        let e = Config::from_props(props(&[("num.partitions", "many")])).unwrap_err();
        assert!(e.to_string().contains("num.partitions"));
        let e = Config::from_props(props(&[("listeners", "nonsense")])).unwrap_err();
        assert!(e.to_string().contains("listeners"));
    }

    #[test]
    fn booleans_read_as_kafka_reads_them() {
        let c = Config::from_props(props(&[("auto.create.topics.enable", "FALSE")])).unwrap();
        assert!(!c.auto_create_topics_enable);
        let c = Config::from_props(props(&[("delete.topic.enable", " False ")])).unwrap();
        assert!(!c.delete_topic_enable);
    }

    #[test]
    fn controller_listeners_of_a_combined_kraft_config_are_skipped() {
        let c = Config::from_props(props(&[
            ("listeners", "PLAINTEXT://:9092,CONTROLLER://:9093"),
            (
                "advertised.listeners",
                "PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093",
            ),
            ("controller.listener.names", "CONTROLLER"),
        ]))
        .unwrap();
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].host, "");
        assert_eq!(c.advertised_listeners.unwrap().len(), 1);
    }

    fn names(r: &Resolved) -> Vec<(String, ConfigSource)> {
        r.synonyms.iter().map(|(n, _, s)| (n.clone(), *s)).collect()
    }

    #[test]
    fn retention_hours_scale_into_retention_ms() {
        let b = props(&[("log.retention.hours", "2")]);
        let r = resolved_topic_value(&b, "retention.ms", &BTreeMap::new()).unwrap();
        assert_eq!(r.value.as_deref(), Some("7200000"));
        // Kafka 4.2: log.retention.hours is not the primary synonym, so it is not listed and
        // the source is DEFAULT_CONFIG.
        assert_eq!(r.source, ConfigSource::Default);
        assert!(r.synonyms.is_empty());
        let o = props(&[("retention.ms", "5")]);
        let r = resolved_topic_value(&b, "retention.ms", &o).unwrap();
        assert_eq!(r.value.as_deref(), Some("5"));
        assert_eq!(r.source, ConfigSource::DynamicTopic);
        assert_eq!(
            names(&r),
            [("retention.ms".to_string(), ConfigSource::DynamicTopic)]
        );
    }

    /// What `kafka-configs.sh --describe --all` shows against Apache Kafka 4.2.1 for the same
    /// settings (compat/clients/java's synonyms check found the difference).
    #[test]
    fn topic_synonyms_are_kafkas() {
        let none = BTreeMap::new();
        let r = resolved_topic_value(&none, "retention.ms", &none).unwrap();
        assert!(r.synonyms.is_empty());
        assert_eq!(r.source, ConfigSource::Default);
        assert_eq!(r.value.as_deref(), Some("604800000"));
        let r = resolved_topic_value(&none, "segment.ms", &none).unwrap();
        assert!(r.synonyms.is_empty());
        let r = resolved_topic_value(&none, "cleanup.policy", &none).unwrap();
        assert_eq!(
            names(&r),
            [("log.cleanup.policy".to_string(), ConfigSource::Default)]
        );
        let b = props(&[("log.roll.ms", "3600000")]);
        let r = resolved_topic_value(&b, "segment.ms", &none).unwrap();
        assert_eq!(r.value.as_deref(), Some("3600000"));
        assert_eq!(r.source, ConfigSource::StaticBroker);
        assert_eq!(
            names(&r),
            [
                ("log.roll.ms".to_string(), ConfigSource::StaticBroker),
                ("log.roll.hours".to_string(), ConfigSource::Default)
            ]
        );
        let o = props(&[("segment.bytes", "2000000")]);
        let r = resolved_topic_value(&none, "segment.bytes", &o).unwrap();
        assert_eq!(
            names(&r),
            [
                ("segment.bytes".to_string(), ConfigSource::DynamicTopic),
                ("log.segment.bytes".to_string(), ConfigSource::Default)
            ]
        );
    }
}
