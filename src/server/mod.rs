//! Listening sockets: the accept loop, per-connection tasks, graceful shutdown.

pub mod connection;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::broker::BrokerState;

/// Which listener a connection came in on, and what it requires.
#[derive(Clone)]
pub struct ListenerInfo {
    pub name: String,
    pub protocol: crate::security::SecurityProtocol,
    pub security: Arc<crate::security::ListenerSecurity>,
}

/// Accepts until shutdown, then waits (bounded) for open connections to finish in-flight work.
pub async fn accept_loop(
    listener: TcpListener,
    info: ListenerInfo,
    state: Arc<BrokerState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            res = listener.accept() => match res {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let st = state.clone();
                    let sd = shutdown.clone();
                    conns.spawn(connection::serve(stream, peer, info.clone(), st, sd));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 10s of shutdown; closing them");
        conns.abort_all();
    }
}
