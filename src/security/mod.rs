//! Listener security: which protocol each listener speaks (`listener.security.protocol.map`),
//! SASL authentication (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and the SCRAM user store.

pub mod acl;
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
}
