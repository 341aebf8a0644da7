//! One connection to one broker: TLS and SASL login when the listener asks for them, framing,
//! correlation ids, ApiVersions negotiation (with the KIP-511 fallback) and per-API version
//! choice.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ResponseHeader;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::{ClientError, Result};

/// The versions of each API this client implements (and handles every field difference of).
/// For each API the version used is `min(ours.max, broker.max)`; if the ranges do not overlap the
/// call is refused with [`ClientError::NoCommonVersion`].
pub const CLIENT_VERSIONS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 11),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 9),
    (ApiKey::Metadata, 1, 12),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    (ApiKey::DescribeCluster, 0, 2),
    (ApiKey::SaslHandshake, 1, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    // Broker to controller (the replicated cluster).
    (ApiKey::BrokerRegistration, 0, 4),
    (ApiKey::BrokerHeartbeat, 0, 1),
    (ApiKey::AlterPartition, 2, 3),
    (ApiKey::AllocateProducerIds, 0, 0),
    // Broker to broker: a partition leader to a transaction coordinator, and back with markers.
    (ApiKey::AddPartitionsToTxn, 4, 5),
    (ApiKey::WriteTxnMarkers, 1, 1),
    (ApiKey::DescribeQuorum, 0, 2),
];

/// Largest response frame accepted (a fetch is bounded by the max_bytes we ask for).
const MAX_RESPONSE: usize = 256 * 1024 * 1024;

/// Kafka's name for an API, as in `ApiKeys.java` (`CreateTopics`).
pub fn api_name(key: ApiKey) -> String {
    format!("{key:?}")
}

fn our_range(key: ApiKey) -> Option<(i16, i16)> {
    CLIENT_VERSIONS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, lo, hi)| (*lo, *hi))
}

/// A SASL login: mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and credentials.
#[derive(Clone)]
pub struct SaslLogin {
    pub mechanism: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SaslLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SaslLogin({} as {})", self.mechanism, self.username)
    }
}

/// Options shared by every connection of a client.
#[derive(Clone, Debug)]
pub struct ConnOptions {
    pub client_id: String,
    pub request_timeout: Duration,
    /// TLS (SSL and SASL_SSL listeners): the rustls client configuration.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// SASL (SASL_PLAINTEXT and SASL_SSL listeners).
    pub sasl: Option<SaslLogin>,
    /// Source address to bind before connecting. Brokers bind inter-broker connections to
    /// their own listener address, so a fault test can cut one broker off by address.
    pub bind: Option<std::net::IpAddr>,
}

impl Default for ConnOptions {
    fn default() -> Self {
        ConnOptions {
            client_id: "weir-cli".into(),
            request_timeout: Duration::from_secs(30),
            tls: None,
            sasl: None,
            bind: None,
        }
    }
}

/// Connects to `addr`, from `bind` when given (port chosen by the kernel).
async fn connect_from(addr: &str, bind: Option<std::net::IpAddr>) -> std::io::Result<TcpStream> {
    let Some(ip) = bind else {
        return TcpStream::connect(addr).await;
    };
    let mut last = None;
    for target in tokio::net::lookup_host(addr).await? {
        if target.is_ipv4() != ip.is_ipv4() {
            continue;
        }
        let sock = if ip.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        sock.bind(std::net::SocketAddr::new(ip, 0))?;
        match sock.connect(target).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            format!("no address of {addr} matches the source address {ip}"),
        )
    }))
}

/// A plain or TLS byte stream.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A connection with its negotiated API versions.
pub struct Connection {
    addr: String,
    stream: Box<dyn Stream>,
    correlation: i32,
    opts: ConnOptions,
    /// The broker's advertised `(min, max)` per API key.
    broker_versions: HashMap<i16, (i16, i16)>,
    /// When to log in again on this connection (KIP-368: the broker closes a SASL session that
    /// outlives the lifetime it gave); like Kafka's clients, at 85% of that lifetime.
    reauth_at: Option<std::time::Instant>,
}

impl Connection {
    /// Connects and negotiates API versions.
    pub async fn connect(addr: &str, opts: &ConnOptions) -> Result<Connection> {
        let connect = connect_from(addr, opts.bind);
        let stream = match tokio::time::timeout(opts.request_timeout, connect).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(ClientError::Connect {
                    addr: addr.into(),
                    reason: e.to_string(),
                })
            }
            Err(_) => {
                return Err(ClientError::Connect {
                    addr: addr.into(),
                    reason: format!("timed out after {} ms", opts.request_timeout.as_millis()),
                })
            }
        };
        let _ = stream.set_nodelay(true);
        let stream: Box<dyn Stream> = match &opts.tls {
            None => Box::new(stream),
            Some(tls) => {
                let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let name =
                    rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
                        ClientError::Connect {
                            addr: addr.into(),
                            reason: format!("not a TLS server name: {e}"),
                        }
                    })?;
                let handshake = tokio_rustls::TlsConnector::from(tls.clone()).connect(name, stream);
                match tokio::time::timeout(opts.request_timeout, handshake).await {
                    Ok(Ok(s)) => Box::new(s),
                    Ok(Err(e)) => {
                        return Err(ClientError::Connect {
                            addr: addr.into(),
                            reason: format!("TLS handshake failed: {e}"),
                        })
                    }
                    Err(_) => {
                        return Err(ClientError::Connect {
                            addr: addr.into(),
                            reason: "TLS handshake timed out".into(),
                        })
                    }
                }
            }
        };
        let mut conn = Connection {
            addr: addr.into(),
            stream,
            correlation: 0,
            opts: opts.clone(),
            broker_versions: HashMap::new(),
            reauth_at: None,
        };
        conn.negotiate().await?;
        if let Some(login) = opts.sasl.clone() {
            conn.authenticate(&login).await?;
        }
        Ok(conn)
    }

    /// One SaslAuthenticate: the broker's bytes, or its refusal.
    async fn sasl_step(&mut self, bytes: Vec<u8>) -> Result<Bytes> {
        use kafka_protocol::messages::SaslAuthenticateRequest;
        let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(bytes));
        let r = self.call_inner(Duration::ZERO, |_| req).await?;
        if r.session_lifetime_ms > 0 {
            self.reauth_at = Some(
                std::time::Instant::now()
                    + Duration::from_millis(
                        (r.session_lifetime_ms as u64).saturating_mul(85) / 100,
                    ),
            );
        }
        if r.error_code != 0 {
            return Err(ClientError::Auth(
                r.error_message
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| format!("error {}", r.error_code)),
            ));
        }
        Ok(r.auth_bytes)
    }

    /// SaslHandshake, then SaslAuthenticate with PLAIN (one step) or SCRAM (two).
    async fn authenticate(&mut self, login: &SaslLogin) -> Result<()> {
        use kafka_protocol::messages::SaslHandshakeRequest;
        let mechanism = login.mechanism.to_ascii_uppercase();
        let r = self
            .call_inner(Duration::ZERO, |_| {
                SaslHandshakeRequest::default()
                    .with_mechanism(StrBytes::from_string(mechanism.clone()))
            })
            .await?;
        if r.error_code != 0 {
            let offered: Vec<&str> = r.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(ClientError::Auth(format!(
                "the broker does not offer {mechanism} (it offers {})",
                offered.join(", ")
            )));
        }
        if mechanism == "PLAIN" {
            let token = format!("\0{}\0{}", login.username, login.password);
            self.sasl_step(token.into_bytes()).await?;
            return Ok(());
        }
        let m = crate::security::scram::Mechanism::from_name(&mechanism).ok_or_else(|| {
            ClientError::Auth(format!(
                "SASL mechanism {mechanism} is not supported by weir"
            ))
        })?;
        let nonce: [u8; 18] = rand::random();
        let nonce = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, nonce);
        let user = login.username.replace('=', "=3D").replace(',', "=2C");
        let first_bare = format!("n={user},r={nonce}");
        let server_first = self
            .sasl_step(format!("n,,{first_bare}").into_bytes())
            .await?;
        let server_first = String::from_utf8_lossy(&server_first).into_owned();
        let (client_final, expected) = crate::security::scram::client_final(
            m,
            &login.password,
            &first_bare,
            &nonce,
            &server_first,
        )
        .map_err(ClientError::Auth)?;
        let server_final = self.sasl_step(client_final.into_bytes()).await?;
        if server_final.as_ref() != expected.as_bytes() {
            return Err(ClientError::Auth(
                "the broker's SCRAM signature does not match".into(),
            ));
        }
        Ok(())
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// ApiVersions at our highest version; a broker that does not know it answers (KIP-511) with
    /// UNSUPPORTED_VERSION in a v0 body that still lists its ApiVersions range, and we retry
    /// with the highest version both sides know.
    async fn negotiate(&mut self) -> Result<()> {
        let mut version = our_range(ApiKey::ApiVersions).map_or(0, |r| r.1);
        for _ in 0..2 {
            let req = ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("weir"))
                .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
            let req = if version >= 3 {
                req
            } else {
                ApiVersionsRequest::default()
            };
            let body = self.round_trip(&req, version).await?;
            if body.len() >= 2 && i16::from_be_bytes([body[0], body[1]]) == 35 {
                let resp: ApiVersionsResponse = self.decode(body, 0, ApiKey::ApiVersions)?;
                let theirs = resp
                    .api_keys
                    .iter()
                    .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                    .map(|k| k.max_version)
                    .unwrap_or(0);
                let next = theirs.min(version - 1).max(0);
                if next == version {
                    break;
                }
                version = next;
                continue;
            }
            let resp: ApiVersionsResponse = self.decode(body, version, ApiKey::ApiVersions)?;
            ClientError::check(resp.error_code, None)?;
            self.broker_versions = resp
                .api_keys
                .iter()
                .map(|k| (k.api_key, (k.min_version, k.max_version)))
                .collect();
            return Ok(());
        }
        Err(ClientError::Protocol {
            addr: self.addr.clone(),
            reason: "ApiVersions negotiation failed".into(),
        })
    }

    /// Does the broker advertise this API at all?
    pub fn supports(&self, key: ApiKey) -> bool {
        self.broker_versions.contains_key(&(key as i16))
    }

    /// The broker's advertised range for an API.
    pub fn broker_range(&self, key: ApiKey) -> Option<(i16, i16)> {
        self.broker_versions.get(&(key as i16)).copied()
    }

    /// The version to use for an API: `min(ours.max, broker.max)`, refused without overlap.
    pub fn version(&self, key: ApiKey) -> Result<i16> {
        let (lo, hi) =
            our_range(key).ok_or_else(|| ClientError::Unsupported { api: api_name(key) })?;
        let (blo, bhi) = self
            .broker_range(key)
            .ok_or_else(|| ClientError::Unsupported { api: api_name(key) })?;
        let v = hi.min(bhi);
        if v < lo || v < blo {
            return Err(ClientError::NoCommonVersion {
                api: api_name(key),
                broker_min: blo,
                broker_max: bhi,
                ours_min: lo,
                ours_max: hi,
            });
        }
        Ok(v)
    }

    /// Sends a request built for the negotiated version and returns the response.
    pub async fn call<R: Request>(&mut self, build: impl FnOnce(i16) -> R) -> Result<R::Response> {
        self.call_with_timeout(Duration::ZERO, build).await
    }

    /// As [`Connection::call`], allowing `extra` time on top of the request timeout (long polls).
    pub async fn call_with_timeout<R: Request>(
        &mut self,
        extra: Duration,
        build: impl FnOnce(i16) -> R,
    ) -> Result<R::Response> {
        if self
            .reauth_at
            .is_some_and(|t| std::time::Instant::now() >= t)
        {
            self.reauth_at = None;
            if let Some(login) = self.opts.sasl.clone() {
                self.authenticate(&login).await?;
            }
        }
        self.call_inner(extra, build).await
    }

    /// One request and its response, without the re-authentication check (the login uses it).
    async fn call_inner<R: Request>(
        &mut self,
        extra: Duration,
        build: impl FnOnce(i16) -> R,
    ) -> Result<R::Response> {
        let key = api_key::<R>()?;
        let version = self.version(key)?;
        let req = build(version);
        let limit = self.opts.request_timeout + extra;
        let body = match tokio::time::timeout(limit, self.round_trip(&req, version)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(ClientError::Timeout {
                    addr: self.addr.clone(),
                    api: api_name(key),
                    ms: limit.as_millis() as u64,
                })
            }
        };
        self.decode(body, version, key)
    }

    /// Sends a request that gets no response (Produce with acks=0).
    pub async fn send_only<R: Request>(&mut self, build: impl FnOnce(i16) -> R) -> Result<()> {
        let key = api_key::<R>()?;
        let version = self.version(key)?;
        let req = build(version);
        self.write_request(&req, version).await.map(|_| ())
    }

    fn decode<T: Decodable>(&self, body: Bytes, version: i16, key: ApiKey) -> Result<T> {
        let len = body.len();
        let mut buf = body;
        crate::protocol::guarded_decode(len, || T::decode(&mut buf, version)).map_err(|e| {
            ClientError::Protocol {
                addr: self.addr.clone(),
                reason: format!("cannot decode {} v{version} response: {e}", api_name(key)),
            }
        })
    }

    async fn write_request<R: Request>(&mut self, req: &R, version: i16) -> Result<i32> {
        self.correlation = self.correlation.wrapping_add(1);
        let correlation = self.correlation;
        let key = api_key::<R>()?;
        let mut header = RequestHeader::default();
        header.request_api_key = key as i16;
        header.request_api_version = version;
        header.correlation_id = correlation;
        header.client_id = Some(StrBytes::from_string(self.opts.client_id.clone()));
        let mut buf = BytesMut::with_capacity(64);
        buf.put_i32(0);
        let encoded = header
            .encode(&mut buf, R::header_version(version))
            .and_then(|_| req.encode(&mut buf, version));
        if let Err(e) = encoded {
            return Err(ClientError::Other(format!(
                "cannot encode {} v{version} request: {e}",
                api_name(key)
            )));
        }
        let len = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        self.stream
            .write_all(&buf)
            .await
            .map_err(|e| self.io_error(e))?;
        Ok(correlation)
    }

    /// Writes a request, reads frames until the one answering it, returns the body.
    async fn round_trip<R: Request>(&mut self, req: &R, version: i16) -> Result<Bytes> {
        let key = api_key::<R>()?;
        let correlation = self.write_request(req, version).await?;
        loop {
            let mut len = [0u8; 4];
            self.stream
                .read_exact(&mut len)
                .await
                .map_err(|e| self.io_error(e))?;
            let n = i32::from_be_bytes(len);
            if n < 4 || n as usize > MAX_RESPONSE {
                return Err(ClientError::Protocol {
                    addr: self.addr.clone(),
                    reason: format!("response frame of {n} bytes"),
                });
            }
            let mut frame = vec![0u8; n as usize];
            self.stream
                .read_exact(&mut frame)
                .await
                .map_err(|e| self.io_error(e))?;
            let mut frame = Bytes::from(frame);
            // ApiVersions responses always use header v0 (KIP-511).
            let header_version = if key == ApiKey::ApiVersions {
                0
            } else {
                key.response_header_version(version)
            };
            let header = ResponseHeader::decode(&mut frame, header_version).map_err(|e| {
                ClientError::Protocol {
                    addr: self.addr.clone(),
                    reason: format!("bad response header: {e}"),
                }
            })?;
            if header.correlation_id == correlation {
                return Ok(frame);
            }
            if header.correlation_id > correlation {
                return Err(ClientError::Protocol {
                    addr: self.addr.clone(),
                    reason: format!(
                        "response for correlation id {} while waiting for {correlation}",
                        header.correlation_id
                    ),
                });
            }
            // An older response (e.g. of a request that timed out): skip it.
            frame.advance(frame.remaining());
        }
    }

    fn io_error(&self, e: std::io::Error) -> ClientError {
        let reason = if e.kind() == std::io::ErrorKind::UnexpectedEof {
            "the broker closed the connection".to_string()
        } else {
            e.to_string()
        };
        ClientError::Io {
            addr: self.addr.clone(),
            reason,
        }
    }
}

fn api_key<R: Request>() -> Result<ApiKey> {
    ApiKey::try_from(R::KEY).map_err(|_| ClientError::Other(format!("unknown API key {}", R::KEY)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use tokio::net::TcpListener;

    async fn read_request(s: &mut TcpStream) -> (i16, i16, i32) {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.expect("len");
        let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).await.expect("frame");
        let key = i16::from_be_bytes([buf[0], buf[1]]);
        let version = i16::from_be_bytes([buf[2], buf[3]]);
        let correlation = i32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        (key, version, correlation)
    }

    async fn reply(s: &mut TcpStream, correlation: i32, resp: &ApiVersionsResponse, v: i16) {
        let mut body = BytesMut::new();
        body.put_i32(correlation);
        resp.encode(&mut body, v).expect("encode");
        let mut frame = BytesMut::new();
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        s.write_all(&frame).await.expect("write");
    }

    fn api(key: ApiKey, min: i16, max: i16) -> ApiVersion {
        let mut a = ApiVersion::default();
        a.api_key = key as i16;
        a.min_version = min;
        a.max_version = max;
        a
    }

    /// A broker that knows ApiVersions only up to v2 answers our v3 with UNSUPPORTED_VERSION
    /// in a v0 body (KIP-511); the client retries at v2 and then picks per-API versions.
    #[tokio::test]
    async fn api_versions_fallback_and_version_choice() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let (key, v, c) = read_request(&mut s).await;
            assert_eq!((key, v), (ApiKey::ApiVersions as i16, 3));
            let mut refuse = ApiVersionsResponse::default();
            refuse.error_code = 35;
            refuse.api_keys = vec![api(ApiKey::ApiVersions, 0, 2)];
            reply(&mut s, c, &refuse, 0).await;
            let (key, v, c) = read_request(&mut s).await;
            assert_eq!((key, v), (ApiKey::ApiVersions as i16, 2));
            let mut ok = ApiVersionsResponse::default();
            ok.api_keys = vec![
                api(ApiKey::ApiVersions, 0, 2),
                api(ApiKey::Metadata, 0, 20),
                api(ApiKey::Produce, 0, 2),
                api(ApiKey::Fetch, 4, 9),
            ];
            reply(&mut s, c, &ok, 2).await;
        });
        let conn = Connection::connect(&addr, &ConnOptions::default())
            .await
            .expect("connect");
        server.await.expect("server");
        assert_eq!(conn.version(ApiKey::Metadata).expect("metadata"), 12);
        assert_eq!(conn.version(ApiKey::Fetch).expect("fetch"), 9);
        let err = conn.version(ApiKey::Produce).expect_err("no overlap");
        assert!(matches!(err, ClientError::NoCommonVersion { .. }), "{err}");
        let err = conn
            .version(ApiKey::CreateAcls)
            .expect_err("not advertised");
        assert_eq!(
            err.to_string(),
            "UNSUPPORTED_VERSION: the broker does not support CreateAcls"
        );
        assert_eq!(err.exit_code(), 1);
    }
}
