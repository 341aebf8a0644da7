//! Connections from this broker to other nodes: to the active controller (registration,
//! heartbeats, AlterPartition, forwarded admin requests) and to partition leaders (replica
//! fetches). Every socket is bound to this broker's own listener address first, so a fault
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

pub fn options(client_id: &str, bind: Option<IpAddr>, timeout: Duration) -> ConnOptions {
    ConnOptions {
        client_id: client_id.into(),
        request_timeout: timeout,
        bind,
        ..ConnOptions::default()
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
