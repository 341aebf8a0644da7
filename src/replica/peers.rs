//! Connections from this broker to other nodes: to the active controller (registration,
//! heartbeats, AlterPartition, forwarded admin requests) and to other brokers (replica
//! fetches, transaction markers and coordinator calls), secured as the listener they reach
//! is (`LinkSecurity`). Every socket is bound to this broker's own listener address first, so a fault
//! test that cuts links by address sees broker-to-broker traffic as coming from this broker.

use std::net::IpAddr;
use std::time::Duration;

use kafka_protocol::protocol::Request;

use crate::client::conn::{ConnOptions, Connection};

/// The source address for inter-broker sockets: the host of this broker's first listener, if
/// it is a literal non-wildcard address.
pub fn source_ip(config: &crate::config::Config) -> Option<IpAddr> {
    config
        .listeners
        .iter()
        .filter_map(|l| l.host.parse::<IpAddr>().ok())
        .find(|ip| !ip.is_unspecified())
}

/// How this broker secures one of its links to other nodes, as Kafka configures its
/// inter-broker and controller clients: the security protocol of the listener the link
/// targets, TLS with the broker's own truststore (and keystore, presented as its client
/// certificate), and SASL with the mechanism `mechanism_key` names and the username and
/// password of the listener's JAAS config.
#[derive(Clone, Default)]
pub struct LinkSecurity {
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    sasl: Option<crate::client::conn::SaslLogin>,
}

impl LinkSecurity {
    /// `listener`: the listener name the link connects to (`inter.broker.listener.name`, or
    /// the first of `controller.listener.names`); `mechanism_key`:
    /// `sasl.mechanism.inter.broker.protocol` or `sasl.mechanism.controller.protocol`.
    pub fn build(
        config: &crate::config::Config,
        listener: &str,
        mechanism_key: &str,
    ) -> Result<LinkSecurity, String> {
        let protocol = crate::security::protocol_of(config, listener)?;
        let tls = if protocol.needs_tls() {
            Some(
                crate::security::tls::client_config(config)
                    .map_err(|e| format!("TLS to listener {listener}: {e}"))?,
            )
        } else {
            None
        };
        let sasl = if protocol.needs_sasl() {
            Some(sasl_login(config, listener, mechanism_key)?)
        } else {
            None
        };
        Ok(LinkSecurity { tls, sasl })
    }
}

/// The login for a SASL link: Kafka's default mechanism is GSSAPI, which Weir does not have,
/// so the mechanism must be named; the credentials come from the listener's JAAS config
/// (`listener.name.<listener>.<mechanism>.sasl.jaas.config`, else `sasl.jaas.config`).
fn sasl_login(
    config: &crate::config::Config,
    listener: &str,
    mechanism_key: &str,
) -> Result<crate::client::conn::SaslLogin, String> {
    let mechanism = config
        .props
        .get(mechanism_key)
        .map(|m| m.trim().to_ascii_uppercase())
        .unwrap_or_else(|| "GSSAPI".into());
    if !matches!(
        mechanism.as_str(),
        "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"
    ) {
        return Err(format!(
            "{mechanism_key}={mechanism}: Weir's links to other nodes log in with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
        ));
    }
    let keys = [
        format!(
            "listener.name.{}.{}.sasl.jaas.config",
            listener.to_ascii_lowercase(),
            mechanism.to_ascii_lowercase()
        ),
        "sasl.jaas.config".to_string(),
    ];
    let jaas = keys
        .iter()
        .find_map(|k| config.props.get(k))
        .ok_or_else(|| {
            format!(
                "SASL to listener {listener}: no {} or sasl.jaas.config",
                keys[0]
            )
        })?;
    let get = |k: &str| crate::security::jaas_option(jaas, k);
    match (get("username"), get("password")) {
        (Some(username), Some(password)) => Ok(crate::client::conn::SaslLogin {
            mechanism,
            username,
            password,
        }),
        _ => Err(format!(
            "SASL to listener {listener}: the JAAS config names no username and password"
        )),
    }
}

pub fn options(
    link: &LinkSecurity,
    client_id: &str,
    bind: Option<IpAddr>,
    timeout: Duration,
) -> ConnOptions {
    ConnOptions {
        client_id: client_id.into(),
        request_timeout: timeout,
        bind,
        tls: link.tls.clone(),
        sasl: link.sasl.clone(),
    }
}

/// One lazily (re)connected connection to a fixed address. Calls are serialized; a failed
/// call drops the connection so the next one reconnects.
pub struct Peer {
    addr: String,
    opts: ConnOptions,
    conn: tokio::sync::Mutex<Option<Connection>>,
}

impl Peer {
    pub fn new(addr: String, opts: ConnOptions) -> Peer {
        Peer {
            addr,
            opts,
            conn: tokio::sync::Mutex::new(None),
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends one request; `extra` is added to the request timeout (long polls).
    pub async fn call<R: Request>(
        &self,
        extra: Duration,
        build: impl FnOnce(i16) -> R,
    ) -> Result<R::Response, String> {
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            let c = Connection::connect(&self.addr, &self.opts)
                .await
                .map_err(|e| e.to_string())?;
            *guard = Some(c);
        }
        let Some(conn) = guard.as_mut() else {
            return Err(format!("no connection to {}", self.addr));
        };
        match conn.call_with_timeout(extra, build).await {
            Ok(r) => Ok(r),
            Err(e) => {
                *guard = None;
                Err(e.to_string())
            }
        }
    }

    /// The version the peer and we agree on for an API (None before the first connection).
    pub async fn version(&self, key: kafka_protocol::messages::ApiKey) -> Option<i16> {
        let guard = self.conn.lock().await;
        guard.as_ref().and_then(|c| c.version(key).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(props: &[(&str, &str)]) -> crate::config::Config {
        let mut c = crate::config::Config::default();
        for (k, v) in props {
            c.props.insert(k.to_string(), v.to_string());
        }
        c
    }

    #[test]
    fn links_take_the_listener_protocol_mechanism_and_jaas_credentials() {
        let map = ("listener.security.protocol.map", "BROKER:SASL_PLAINTEXT");
        // Kafka's default mechanism (GSSAPI) is refused, naming the setting.
        let e = LinkSecurity::build(
            &config(&[map]),
            "BROKER",
            "sasl.mechanism.inter.broker.protocol",
        )
        .err()
        .unwrap_or_default();
        assert!(
            e.contains("sasl.mechanism.inter.broker.protocol=GSSAPI"),
            "{e}"
        );
        let mech = ("sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-256");
        let e = LinkSecurity::build(&config(&[map, mech]), "BROKER", mech.0)
            .err()
            .unwrap_or_default();
        assert!(
            e.contains("listener.name.broker.scram-sha-256.sasl.jaas.config"),
            "{e}"
        );
        let jaas = (
            "listener.name.broker.scram-sha-256.sasl.jaas.config",
            "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"b\" password=\"p w\";",
        );
        let link =
            LinkSecurity::build(&config(&[map, mech, jaas]), "BROKER", mech.0).unwrap_or_default();
        let login = link.sasl.expect("a SASL login");
        assert_eq!(
            (
                login.mechanism.as_str(),
                login.username.as_str(),
                login.password.as_str()
            ),
            ("SCRAM-SHA-256", "b", "p w")
        );
        assert!(link.tls.is_none());
        // PLAINTEXT links need nothing.
        let plain = LinkSecurity::build(&config(&[]), "PLAINTEXT", mech.0).unwrap_or_default();
        assert!(plain.sasl.is_none() && plain.tls.is_none());
    }
}
