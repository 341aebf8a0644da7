//! Reading settings from their sources: config file (TOML or Kafka `.properties`), `WEIR_*`
//! environment variables and `--override name=value` flags, later winning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::classify::{classify, split, Class};
use super::{Config, ConfigError};

/// What the command line hands to [`load`].
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub file: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub overrides: Vec<String>,
    /// `--strict`: refuse settings Weir does not use instead of listing them.
    pub strict: bool,
}

/// Parses a Java properties file, in order (a repeated key appears twice; the last wins): `key=value`, `key: value` or `key value`; `#` and `!`
/// comments; trailing `\` continues a line.
pub fn parse_properties_entries(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        let idx = full.find(['=', ':', ' ', '\t']);
        let (k, v) = match idx {
            Some(i) => {
                let (k, rest) = full.split_at(i);
                let rest = rest[1..].trim_start();
                let rest = rest
                    .strip_prefix('=')
                    .or_else(|| rest.strip_prefix(':'))
                    .unwrap_or(rest);
                (k.trim().to_string(), rest.trim().to_string())
            }
            None => (full.trim().to_string(), String::new()),
        };
        out.push((k, v));
    }
    out
}

/// The same, as a map (the last value of a repeated key wins): Kafka's `server.properties`.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    parse_properties_entries(text).into_iter().collect()
}

/// Parses a TOML config: keys are Kafka names, either quoted (`"log.dirs" = "/data"`) or as
/// nested tables (`[log] dirs = "/data"`); both flatten to dotted names.
pub fn parse_toml(text: &str) -> Result<BTreeMap<String, String>, String> {
    let value: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let mut out = BTreeMap::new();
    flatten("", &toml::Value::Table(value), &mut out)?;
    Ok(out)
}

fn flatten(
    prefix: &str,
    v: &toml::Value,
    out: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, out)?;
            }
        }
        toml::Value::Array(items) => {
            let mut parts = Vec::new();
            for item in items {
                match item {
                    toml::Value::Table(_) | toml::Value::Array(_) => {
                        return Err(format!(
                            "'{prefix}': nested arrays/tables are not supported"
                        ))
                    }
                    toml::Value::String(s) => parts.push(s.clone()),
                    other => parts.push(other.to_string()),
                }
            }
            out.insert(prefix.to_string(), parts.join(","));
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    if path.extension().is_some_and(|e| e == "toml") {
        parse_toml(&text).map_err(|reason| ConfigError::File {
            path: path.display().to_string(),
            reason,
        })
    } else {
        Ok(parse_properties(&text))
    }
}

/// `WEIR_LOG_DIRS` → `log.dirs`: Kafka's broker names have no underscores, so the mapping is
/// unambiguous (the same convention as Kafka's Docker image uses for `KAFKA_*`).
fn env_name(var: &str) -> Option<String> {
    let rest = var.strip_prefix("WEIR_")?;
    if rest.is_empty() {
        return None;
    }
    Some(rest.to_ascii_lowercase().replace('_', "."))
}

/// `KAFKA_ADVERTISED_LISTENERS` → `advertised.listeners`, with the Kafka Docker image's rules
/// (`_` → `.`, `__` → `_`, `___` → `-`), so containers configured for Kafka start Weir as is.
/// Only names Kafka has or had are taken (settings, removed settings, topic-level names, which
/// get their warning): `KAFKA_HOME`, `KAFKA_OPTS` and the like are not settings and are left
/// alone, where Kafka's image would list them as unused.
fn kafka_env_name(var: &str) -> Option<String> {
    let rest = var.strip_prefix("KAFKA_")?;
    if rest.is_empty() {
        return None;
    }
    let name = rest
        .to_ascii_lowercase()
        .replace("___", "\u{1}")
        .replace("__", "\u{2}")
        .replace('_', ".")
        .replace('\u{1}', "-")
        .replace('\u{2}', "_");
    (classify(&name) != Class::Unknown).then_some(name)
}

/// Builds the config from every source, later winning.
pub fn load(opts: &LoadOptions) -> Result<Config, ConfigError> {
    let mut props = BTreeMap::new();
    if let Some(path) = &opts.file {
        props.extend(read_file(path)?);
    }
    for (k, v) in &opts.env {
        if let Some(name) = kafka_env_name(k) {
            props.insert(name, v.clone());
        }
    }
    for (k, v) in &opts.env {
        if let Some(name) = env_name(k) {
            // The environment is shared with tools (WEIR_BIN for the kafka-*.sh shims, test
            // harness knobs): a WEIR_* variable that names no setting is reported, never fatal,
            // not even with --strict.
            if classify(&name) == Class::Unknown {
                tracing::warn!("ignoring environment variable {k}: {name} is not a setting");
                continue;
            }
            props.insert(name, v.clone());
        }
    }
    for o in &opts.overrides {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| ConfigError::Override(o.clone()))?;
        props.insert(k.trim().to_string(), v.trim().to_string());
    }
    let (props, unused) = split(props);
    let strict = opts.strict
        || props
            .get("weir.config.strict")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if strict {
        if let Some(why) = unused.strict_refusal() {
            return Err(ConfigError::Strict(why));
        }
    }
    // Validate before reporting, so a config that cannot start does not also log warnings.
    let config = Config::from_props(props)?;
    for w in unused.warnings() {
        tracing::warn!("{w}");
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_file_as_kafka_ships_it() {
        let text = "# comment\nprocess.roles=broker,controller\nnode.id=3\n\
                    listeners=PLAINTEXT://:9092,CONTROLLER://:9093\n\
                    log.dirs=/tmp/kraft-combined-logs\nnum.partitions = 2\n\
                    long.value=a\\\n  b\n";
        let p = parse_properties(text);
        assert_eq!(p["node.id"], "3");
        assert_eq!(p["num.partitions"], "2");
        assert_eq!(p["long.value"], "ab");
        assert_eq!(p["process.roles"], "broker,controller");
    }

    #[test]
    fn toml_flattens_to_kafka_names() {
        let p = parse_toml("\"num.partitions\" = 3\n[log]\ndirs = \"/d\"\n").unwrap();
        assert_eq!(p["num.partitions"], "3");
        assert_eq!(p["log.dirs"], "/d");
    }

    #[test]
    fn later_sources_win() {
        let dir = std::env::temp_dir().join(format!("weir-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("server.properties");
        std::fs::write(&file, "num.partitions=2\nlog.dirs=/a\n").unwrap();
        let c = load(&LoadOptions {
            file: Some(file),
            env: vec![("WEIR_NUM_PARTITIONS".into(), "3".into())],
            overrides: vec!["log.dirs=/b".into()],
            strict: false,
        })
        .unwrap();
        assert_eq!(c.num_partitions, 3);
        assert_eq!(c.log_dir, PathBuf::from("/b"));
        let c = load(&LoadOptions {
            env: vec![
                (
                    "KAFKA_ADVERTISED_LISTENERS".into(),
                    "PLAINTEXT://example:9092".into(),
                ),
                ("KAFKA_HEAP_OPTS".into(), "-Xmx1G".into()),
                ("KAFKA_NUM_PARTITIONS".into(), "5".into()),
                ("WEIR_NUM_PARTITIONS".into(), "6".into()),
            ],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.advertised_listeners.unwrap()[0].host, "example");
        assert_eq!(c.num_partitions, 6, "WEIR_* wins over KAFKA_*");
        let c = load(&LoadOptions {
            env: vec![
                ("WEIR_BIN".into(), "/usr/local/bin/weir".into()),
                ("WEIR_NUM_PARTITIONS".into(), "2".into()),
            ],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.num_partitions, 2, "unknown WEIR_* variables are skipped");
    }

    #[test]
    fn unused_settings_start_unless_strict() {
        let lenient = LoadOptions {
            overrides: vec!["not.a.setting=1".into(), "flush.messages=1".into()],
            env: vec![
                ("KAFKA_ZOOKEEPER_CONNECT".into(), "zk:2181".into()),
                ("KAFKA_HOME".into(), "/opt/kafka".into()),
            ],
            ..Default::default()
        };
        let c = load(&lenient).unwrap();
        assert!(!c.props.contains_key("not.a.setting"), "ignored, not kept");
        assert!(!c.props.contains_key("zookeeper.connect"));
        let e = load(&LoadOptions {
            strict: true,
            ..lenient.clone()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("not.a.setting"), "{e}");
        assert!(e.contains("log.flush.interval.messages"), "{e}");
        assert!(
            !e.contains("zookeeper.connect") && !e.contains("home"),
            "removed settings and non-setting variables are not refused: {e}"
        );
        let mut via_setting = lenient.clone();
        via_setting.overrides.push("weir.config.strict=TRUE".into());
        assert!(matches!(load(&via_setting), Err(ConfigError::Strict(_))));
        // Removed settings alone pass even strict.
        let c = load(&LoadOptions {
            overrides: vec!["log.message.format.version=2.8".into()],
            strict: true,
            ..Default::default()
        });
        assert!(c.is_ok());
    }

    #[test]
    fn invalid_values_name_setting_value_and_range() {
        let err = |o: &str| {
            load(&LoadOptions {
                overrides: vec![o.into()],
                ..Default::default()
            })
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            err("num.partitions=many"),
            "Invalid value many for configuration num.partitions: \
             Not a number of type INT (-2147483648 to 2147483647)"
        );
        assert_eq!(
            err("num.partitions=0"),
            "Invalid value 0 for configuration num.partitions: Value must be at least 1"
        );
        assert_eq!(
            err("auto.create.topics.enable=yes"),
            "Invalid value yes for configuration auto.create.topics.enable: \
             Expected value to be either true or false"
        );
        // A broker default checked by its topic config's rules still names the broker setting.
        assert_eq!(
            err("log.segment.bytes=10"),
            "Invalid value 10 for configuration log.segment.bytes: Value must be at least 1048576"
        );
        assert_eq!(
            err("log.cleanup.policy=sometimes"),
            "Invalid value sometimes for configuration log.cleanup.policy: \
             String must be one of: compact, delete"
        );
        assert_eq!(
            err("justaname"),
            "--override 'justaname' must look like name=value"
        );
    }
}
