//! One client connection: 4-byte length framing, frames over `socket.request.max.bytes` refused
//! before any allocation, requests read ahead (bounded) and handled concurrently where that is
//! safe, responses written strictly in request order.
//!
//! Produce and admin requests run to completion before the next frame is read, so a client's
//! writes apply in the order it sent them; fetches (which may long-poll) run as their own tasks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::api;
use crate::broker::BrokerState;
use crate::protocol::{self, FrameError, Parsed};
use crate::security::sasl::{AuthOutcome, SaslSession};

/// Responses queued but not yet written, per connection.
const MAX_IN_FLIGHT: usize = 32;

enum Pending {
    Ready(Bytes),
    Task(JoinHandle<Result<Option<Bytes>, FrameError>>),
}

pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    info: super::ListenerInfo,
    state: Arc<BrokerState>,
    shutdown: watch::Receiver<bool>,
) {
    tracing::debug!("connection from {peer}");
    let m = crate::metrics::get();
    if let Some(m) = m {
        m.connections.inc();
        m.connections_total.inc();
    }
    if info.protocol.needs_tls() {
        let Some(acceptor) = info.security.tls.clone() else {
            tracing::error!("no TLS configuration for listener {}", info.name);
            return;
        };
        match tokio::time::timeout(
            Duration::from_secs(10),
            acceptor.accept(crate::security::tls::HandshakeStream::new(stream)),
        )
        .await
        {
            Ok(Ok(tls)) => {
                let principal = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(crate::security::tls::principal_of);
                run(tls, peer, &info, principal, &state, shutdown).await;
            }
            Ok(Err(e)) => tracing::warn!("TLS handshake with {peer} failed: {e}"),
            Err(_) => tracing::warn!("TLS handshake with {peer} timed out"),
        }
    } else {
        run(stream, peer, &info, None, &state, shutdown).await;
    }
    if let Some(m) = m {
        m.connections.dec();
    }
    tracing::debug!("connection from {peer} closed");
}

/// Serves one (plain or TLS) stream: a reader that dispatches and a writer that sends
/// responses in order.
async fn run<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    peer: SocketAddr,
    info: &super::ListenerInfo,
    tls_principal: Option<String>,
    state: &Arc<BrokerState>,
    shutdown: watch::Receiver<bool>,
) {
    let (rd, wr) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel(MAX_IN_FLIGHT);
    let writer = tokio::spawn(write_loop(wr, rx, peer));
    if let Err(reason) = read_loop(rd, tx, peer, info, tls_principal, state, shutdown).await {
        tracing::warn!("closing connection from {peer}: {reason}");
    }
    let _ = writer.await;
}

async fn read_loop<R: AsyncRead + Unpin>(
    rd: R,
    tx: mpsc::Sender<Pending>,
    peer: SocketAddr,
    info: &super::ListenerInfo,
    tls_principal: Option<String>,
    state: &Arc<BrokerState>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let needs_sasl = info.protocol.needs_sasl();
    let mut sasl = SaslSession::default();
    let mut session_expiry: Option<std::time::Instant> = None;
    // (principal, mechanism) of the first successful login: KIP-368 re-authentication must keep
    // both.
    let mut first_login: Option<(String, String)> = None;
    // On SSL listeners the certificate names the principal; SASL overrides it.
    let tls_principal = tls_principal.or_else(|| {
        info.protocol
            .needs_tls()
            .then(|| "User:ANONYMOUS".to_string())
    });
    let max = state.config.socket_request_max_bytes;
    let idle = Duration::from_millis(state.connections_max_idle_ms);
    // On a cluster a Produce runs as its own task so acks=all can wait for the ISR without
    // holding up the requests behind it; this lock, taken here in request order and released
    // by the handler once it has appended, keeps one connection's appends in the order sent.
    let produce_order = Arc::new(tokio::sync::Mutex::new(()));
    loop {
        let len = tokio::select! {
            r = tokio::time::timeout(idle, rd.read_i32()) => match r {
                Err(_) => {
                    tracing::debug!("closing idle connection from {peer}");
                    return Ok(());
                }
                Ok(Err(_)) => return Ok(()), // EOF or reset: the client went away
                Ok(Ok(n)) => n,
            },
            _ = shutdown.changed() => return Ok(()),
        };
        if len < 0 || len as usize > max {
            return Err(format!(
                "request size {len} is outside 0..={max} (socket.request.max.bytes)"
            ));
        }
        // Read straight into spare capacity (no zero-fill), never past this frame.
        let len = len as usize;
        let mut buf = BytesMut::with_capacity(len);
        while buf.len() < len {
            let want = (len - buf.len()) as u64;
            let n = (&mut rd)
                .take(want)
                .read_buf(&mut buf)
                .await
                .map_err(|e| format!("connection lost mid-request: {e}"))?;
            if n == 0 {
                return Err("connection closed mid-request".into());
            }
        }
        let frame = buf.freeze();
        let parsed = protocol::parse_frame(frame).map_err(|e| e.to_string())?;
        let frame = match parsed {
            Parsed::ApiVersionsFallback { correlation_id } => {
                let b = api::api_versions::fallback_response(correlation_id)?;
                if tx.send(Pending::Ready(b)).await.is_err() {
                    return Ok(());
                }
                continue;
            }
            Parsed::Request(mut f) => {
                f.peer = Some(peer);
                f.listener = Some(info.name.clone());
                f.principal = sasl.principal.clone().or_else(|| tls_principal.clone());
                f
            }
        };
        if needs_sasl {
            if matches!(frame.api, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate) {
                let (bytes, failure, lifetime_ms) =
                    sasl_step(&mut sasl, state, info, &frame, first_login.as_ref())?;
                if tx.send(Pending::Ready(bytes)).await.is_err() {
                    return Ok(());
                }
                if let Some(reason) = failure {
                    return Err(format!("SASL authentication failed: {reason}"));
                }
                if sasl.authenticated() && frame.api == ApiKey::SaslAuthenticate {
                    if first_login.is_none() {
                        first_login = Some((
                            sasl.principal.clone().unwrap_or_default(),
                            sasl.mechanism.clone().unwrap_or_default(),
                        ));
                    }
                    // KIP-368: the session lasts connections.max.reauth.ms (or until the token
                    // expires); the client must re-authenticate on this connection before then.
                    session_expiry = (lifetime_ms > 0).then(|| {
                        std::time::Instant::now() + Duration::from_millis(lifetime_ms as u64)
                    });
                }
                continue;
            }
            if !sasl.authenticated() && frame.api != ApiKey::ApiVersions {
                return Err(format!(
                    "unexpected {:?} request before SASL authentication on listener {}",
                    frame.api, info.name
                ));
            }
            if session_expiry.is_some_and(|e| std::time::Instant::now() > e) {
                return Err(format!(
                    "SASL session of {} expired without re-authentication (connections.max.reauth.ms)",
                    sasl.principal.as_deref().unwrap_or("?")
                ));
            }
        }
        // Requests that may wait (long polls, rebalances) run as their own tasks.
        let waits = matches!(
            frame.api,
            ApiKey::Fetch | ApiKey::JoinGroup | ApiKey::SyncGroup
        );
        let pending = if waits {
            let st = state.clone();
            Pending::Task(tokio::spawn(async move { api::dispatch(&st, frame).await }))
        } else if frame.api == ApiKey::Produce && state.replicas.is_some() {
            let order = produce_order.clone().lock_owned().await;
            let st = state.clone();
            Pending::Task(tokio::spawn(
                api::produce::APPEND_ORDER
                    .scope(std::cell::RefCell::new(Some(order)), async move {
                        api::dispatch(&st, frame).await
                    }),
            ))
        } else {
            let api_key = frame.api;
            let client = protocol::client_id(&frame.header).to_string();
            let result = api::dispatch(state, frame).await;
            if api_key == ApiKey::Produce && state.faults.take_produce_drop() {
                return Err(
                    "fault injection: dropping the connection before the produce response".into(),
                );
            }
            match result {
                Ok(Some(b)) => Pending::Ready(b),
                Ok(None) => continue,
                Err(e) => return Err(format!("{e} (client {client}, {api_key:?})")),
            }
        };
        if tx.send(pending).await.is_err() {
            return Ok(());
        }
    }
}

/// One SaslHandshake or SaslAuthenticate: the encoded response, and the reason to close the
/// connection after sending it when authentication failed.
fn sasl_step(
    sasl: &mut SaslSession,
    state: &BrokerState,
    info: &super::ListenerInfo,
    frame: &protocol::Frame,
    first_login: Option<&(String, String)>,
) -> Result<(Bytes, Option<String>, i64), String> {
    let security = &info.security;
    use kafka_protocol::messages::{
        SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
        SaslHandshakeResponse,
    };
    let cid = frame.header.correlation_id;
    if frame.api == ApiKey::SaslHandshake {
        let req: SaslHandshakeRequest = protocol::decode_body(frame).map_err(|e| e.to_string())?;
        let mut resp = SaslHandshakeResponse::default();
        resp.mechanisms = security
            .mechanisms
            .iter()
            .map(|m| kafka_protocol::protocol::StrBytes::from_string(m.clone()))
            .collect();
        let result = sasl.handshake(req.mechanism.as_str(), &security.mechanisms);
        resp.error_code = result.err().unwrap_or(0);
        let failure = result
            .err()
            .map(|_| format!("mechanism {} is not enabled", req.mechanism.as_str()));
        let b = protocol::encode_response(frame.api, frame.version, cid, &resp)?;
        return Ok((b, failure, 0));
    }
    let req: SaslAuthenticateRequest = protocol::decode_body(frame).map_err(|e| e.to_string())?;
    let mut resp = SaslAuthenticateResponse::default();
    let failure = match sasl.authenticate(&req.auth_bytes, &state.users, &security.oauth) {
        AuthOutcome::Continue(b) => {
            resp.auth_bytes = b.into();
            None
        }
        AuthOutcome::Done(_)
            if first_login.is_some_and(|(p, m)| {
                sasl.principal.as_deref() != Some(p.as_str())
                    || sasl.mechanism.as_deref() != Some(m.as_str())
            }) =>
        {
            let msg = format!(
                "Re-authentication may not change the principal or mechanism (was {:?}, now {:?} with {:?})",
                first_login,
                sasl.principal,
                sasl.mechanism
            );
            resp.error_code = crate::security::sasl::SASL_AUTHENTICATION_FAILED;
            resp.error_message = Some(kafka_protocol::protocol::StrBytes::from_string(msg.clone()));
            Some(msg)
        }
        AuthOutcome::Done(b) => {
            resp.auth_bytes = b.into();
            tracing::debug!("authenticated {:?}", sasl.principal);
            None
        }
        AuthOutcome::Failed(code, msg) => {
            resp.error_code = code;
            resp.error_message = Some(kafka_protocol::protocol::StrBytes::from_string(msg.clone()));
            Some(msg)
        }
    };
    // The session ends at connections.max.reauth.ms or when the token expires, whichever is
    // first; with no max.reauth there is no re-authentication, as in Kafka.
    let reauth_ms = security.reauth_ms(sasl.mechanism.as_deref()).max(0);
    let lifetime_ms = match sasl.credential_expiry_ms {
        Some(exp) if reauth_ms > 0 => reauth_ms.min((exp - crate::log::segment::now_ms()).max(1)),
        _ => reauth_ms,
    };
    // session_lifetime_ms exists from v1; 0 means no re-authentication is required.
    if frame.version >= 1 && failure.is_none() && sasl.authenticated() {
        resp.session_lifetime_ms = lifetime_ms;
    }
    let b = protocol::encode_response(frame.api, frame.version, cid, &resp)?;
    Ok((b, failure, lifetime_ms))
}

async fn write_loop<W: AsyncWrite + Unpin>(
    wr: W,
    mut rx: mpsc::Receiver<Pending>,
    peer: SocketAddr,
) {
    let mut wr = BufWriter::with_capacity(64 * 1024, wr);
    while let Some(p) = rx.recv().await {
        let bytes = match p {
            Pending::Ready(b) => b,
            Pending::Task(h) => match h.await {
                Ok(Ok(Some(b))) => b,
                Ok(Ok(None)) => continue,
                Ok(Err(e)) => {
                    tracing::warn!("closing connection from {peer}: {e}");
                    break;
                }
                Err(e) => {
                    tracing::error!("request task for {peer} failed: {e}");
                    break;
                }
            },
        };
        if wr.write_all(&bytes).await.is_err() {
            break;
        }
        if rx.is_empty() && wr.flush().await.is_err() {
            break;
        }
    }
    let _ = wr.flush().await;
    let _ = wr.shutdown().await;
}
