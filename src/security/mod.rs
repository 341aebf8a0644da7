//! Listener security: which protocol each listener speaks (`listener.security.protocol.map`),
//! SASL authentication (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and the SCRAM user store.

pub mod acl;
pub mod oauth;
pub mod sasl;
pub mod scram;
pub mod tls;
pub mod users;

use crate::config::Config;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    SaslPlaintext,
    Ssl,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn parse(s: &str) -> Option<SecurityProtocol> {
        match s.trim() {
            "PLAINTEXT" => Some(SecurityProtocol::Plaintext),
            "SASL_PLAINTEXT" => Some(SecurityProtocol::SaslPlaintext),
            "SSL" => Some(SecurityProtocol::Ssl),
            "SASL_SSL" => Some(SecurityProtocol::SaslSsl),
            _ => None,
        }
    }

    /// Kafka's SecurityProtocol id (PLAINTEXT 0, SSL 1, SASL_PLAINTEXT 2, SASL_SSL 3).
    pub fn id(self) -> i16 {
        match self {
            SecurityProtocol::Plaintext => 0,
            SecurityProtocol::Ssl => 1,
            SecurityProtocol::SaslPlaintext => 2,
            SecurityProtocol::SaslSsl => 3,
        }
    }

    pub fn needs_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }

    pub fn needs_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }
}

/// The protocol of listener `name`, from `listener.security.protocol.map` (Kafka's default maps
/// each protocol name to itself).
pub fn protocol_of(config: &Config, name: &str) -> Result<SecurityProtocol, String> {
    if let Some(map) = config.props.get("listener.security.protocol.map") {
        for entry in map.split(',') {
            if let Some((l, p)) = entry.split_once(':') {
                if l.trim() == name {
                    return SecurityProtocol::parse(p).ok_or_else(|| {
                        format!("unknown security protocol '{p}' for listener {name}")
                    });
                }
            }
        }
    }
    SecurityProtocol::parse(name)
        .ok_or_else(|| format!("listener {name} has no entry in listener.security.protocol.map"))
}

/// The SASL mechanisms enabled (`sasl.enabled.mechanisms`; Weir's default is PLAIN and both
/// SCRAM mechanisms, as it has no Kerberos).
pub fn enabled_mechanisms(config: &Config) -> Vec<String> {
    match config.props.get("sasl.enabled.mechanisms") {
        Some(v) => v
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => vec![
            "PLAIN".into(),
            "SCRAM-SHA-256".into(),
            "SCRAM-SHA-512".into(),
        ],
    }
}

/// What one listener requires, from the config as that listener sees it
/// (`listener.name.<listener>.*` overrides, see `Config::for_listener`).
pub struct ListenerSecurity {
    pub protocol: SecurityProtocol,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub mechanisms: Vec<String>,
    pub oauth: oauth::Validator,
    /// `connections.max.reauth.ms`, and per-mechanism overrides
    /// (`<mechanism>.connections.max.reauth.ms`, mechanism in lower case).
    reauth_ms: i64,
    reauth_by_mechanism: Vec<(String, i64)>,
}

impl ListenerSecurity {
    pub fn build(config: &Config, name: &str) -> Result<ListenerSecurity, String> {
        let protocol = protocol_of(config, name)?;
        let mut view = config.for_listener(name);
        // KIP-684: on SASL_SSL listeners SASL authenticates; mutual TLS applies there only when
        // the listener itself sets `listener.name.<l>.ssl.client.auth`.
        let own_client_auth = format!(
            "listener.name.{}.ssl.client.auth",
            name.to_ascii_lowercase()
        );
        if protocol == SecurityProtocol::SaslSsl && !config.props.contains_key(&own_client_auth) {
            view.props.remove("ssl.client.auth");
        }
        let tls = if protocol.needs_tls() {
            Some(tls::acceptor(&view).map_err(|e| format!("listener {name}: {e}"))?)
        } else {
            None
        };
        let mechanisms = enabled_mechanisms(&view);
        let ms = |k: &str| view.props.get(k).and_then(|v| v.trim().parse::<i64>().ok());
        let reauth_by_mechanism = mechanisms
            .iter()
            .filter_map(|m| {
                ms(&format!(
                    "{}.connections.max.reauth.ms",
                    m.to_ascii_lowercase()
                ))
                .map(|v| (m.clone(), v))
            })
            .collect();
        if protocol.needs_sasl() && mechanisms.iter().any(|m| m == "OAUTHBEARER") {
            tracing::warn!(
                "listener {name}: OAUTHBEARER accepts unsecured (unsigned) tokens, as Kafka's default validator does; use it for development only"
            );
        }
        Ok(ListenerSecurity {
            protocol,
            tls,
            oauth: oauth::Validator::from_config(&view),
            mechanisms,
            reauth_ms: ms("connections.max.reauth.ms").unwrap_or(0),
            reauth_by_mechanism,
        })
    }

    /// The session lifetime for `mechanism` (0: no re-authentication required).
    pub fn reauth_ms(&self, mechanism: Option<&str>) -> i64 {
        mechanism
            .and_then(|m| {
                self.reauth_by_mechanism
                    .iter()
                    .find(|(n, _)| n == m)
                    .map(|(_, v)| *v)
            })
            .unwrap_or(self.reauth_ms)
    }
}

/// An option of a JAAS login-module line (`Module required key="value" key2=value2;`), read
/// as Kafka's JaasConfig tokenizes it: quoted values may hold spaces, `=` and backslash
/// escapes, spaces around `=` are allowed, and a key is never matched inside a value.
pub fn jaas_option(jaas: &str, key: &str) -> Option<String> {
    let mut tokens: Vec<(bool, String)> = Vec::new(); // (quoted, text)
    let mut chars = jaas.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() || c == ';' => {}
            '=' => tokens.push((false, "=".into())),
            '"' => {
                let mut v = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                v.push(n);
                            }
                        }
                        '"' => break,
                        c => v.push(c),
                    }
                }
                tokens.push((true, v));
            }
            c => {
                let mut w = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || n == '=' || n == ';' || n == '"' {
                        break;
                    }
                    w.push(n);
                    chars.next();
                }
                tokens.push((false, w));
            }
        }
    }
    tokens.windows(3).find_map(|w| match w {
        [(false, k), (false, eq), (_, v)] if k == key && eq == "=" => Some(v.clone()),
        _ => None,
    })
}

/// Users to create at start: `sasl.users` (`name:password,...`) plus the `user_NAME="PASSWORD"`
/// entries of any `*sasl.jaas.config` (Kafka's PlainLoginModule convention).
pub fn bootstrap_users(config: &Config) -> String {
    let mut out: Vec<String> = config
        .props
        .get("sasl.users")
        .map(|s| {
            s.split(',')
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for (k, v) in &config.props {
        if !k.ends_with("sasl.jaas.config") {
            continue;
        }
        for tok in v.split_whitespace() {
            let Some(rest) = tok.strip_prefix("user_") else {
                continue;
            };
            let Some((name, pw)) = rest.split_once('=') else {
                continue;
            };
            let pw = pw.trim_end_matches(';').trim_matches('"');
            out.push(format!("{name}:{pw}"));
        }
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn listener_protocols_and_jaas_users() {
        let mut props = BTreeMap::new();
        props.insert(
            "listeners".to_string(),
            "PLAINTEXT://:9092,SECURE://:9093".to_string(),
        );
        props.insert(
            "listener.security.protocol.map".to_string(),
            "PLAINTEXT:PLAINTEXT,SECURE:SASL_PLAINTEXT".to_string(),
        );
        props.insert(
            "listener.name.secure.plain.sasl.jaas.config".to_string(),
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"a\" user_admin=\"a\" user_alice=\"s3cret\";".to_string(),
        );
        let c = Config::from_props(props).unwrap();
        assert_eq!(
            protocol_of(&c, "SECURE").unwrap(),
            SecurityProtocol::SaslPlaintext
        );
        assert_eq!(
            protocol_of(&c, "PLAINTEXT").unwrap(),
            SecurityProtocol::Plaintext
        );
        assert!(protocol_of(&c, "OTHER").is_err());
        assert_eq!(bootstrap_users(&c), "admin:a,alice:s3cret");
    }

    #[test]
    fn jaas_options_as_kafka_reads_them() {
        let line = r#"org.apache.kafka.common.security.scram.ScramLoginModule required someusername="x" password = "p \"q\" = r" username=alice;"#;
        assert_eq!(jaas_option(line, "username").as_deref(), Some("alice"));
        assert_eq!(
            jaas_option(line, "password").as_deref(),
            Some(r#"p "q" = r"#)
        );
        assert_eq!(jaas_option(line, "missing"), None);
        let tricky = r#"M required password="x username=y" username="bob";"#;
        assert_eq!(jaas_option(tricky, "username").as_deref(), Some("bob"));
    }

    #[test]
    fn listener_overrides() {
        let mut props = BTreeMap::new();
        props.insert(
            "listeners".to_string(),
            "PLAINTEXT://:9092,INTERNAL://:9093,EXTERNAL://:9094".to_string(),
        );
        props.insert(
            "listener.security.protocol.map".to_string(),
            "PLAINTEXT:PLAINTEXT,INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT".to_string(),
        );
        props.insert("sasl.enabled.mechanisms".to_string(), "PLAIN".to_string());
        props.insert("connections.max.reauth.ms".to_string(), "60000".to_string());
        props.insert(
            "listener.name.external.sasl.enabled.mechanisms".to_string(),
            "SCRAM-SHA-512,OAUTHBEARER".to_string(),
        );
        props.insert(
            "listener.name.external.oauthbearer.connections.max.reauth.ms".to_string(),
            "5000".to_string(),
        );
        let c = Config::from_props(props).unwrap();
        let internal = ListenerSecurity::build(&c, "INTERNAL").unwrap();
        assert_eq!(internal.mechanisms, vec!["PLAIN"]);
        assert_eq!(internal.reauth_ms(Some("PLAIN")), 60000);
        let external = ListenerSecurity::build(&c, "EXTERNAL").unwrap();
        assert_eq!(external.mechanisms, vec!["SCRAM-SHA-512", "OAUTHBEARER"]);
        assert_eq!(external.reauth_ms(Some("OAUTHBEARER")), 5000);
        assert_eq!(external.reauth_ms(Some("SCRAM-SHA-512")), 60000);
    }
}
