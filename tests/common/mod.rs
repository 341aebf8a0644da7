//! Shared test scaffolding: a real in-process broker on an ephemeral loopback port, and a tiny
//! raw-protocol client (kafka-protocol codecs over a TcpStream) for frames librdkafka won't send.
#![allow(dead_code)]

pub mod cluster;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use weir::{Broker, BrokerHandle, Config};

pub struct TestBroker {
    pub runtime: tokio::runtime::Runtime,
    pub handle: Option<BrokerHandle>,
    pub dir: tempfile::TempDir,
    pub config: Config,
}

impl TestBroker {
    pub fn start() -> TestBroker {
        Self::start_with(&[])
    }

    /// Starts a broker with extra properties (Kafka names).
    pub fn start_with(props: &[(&str, &str)]) -> TestBroker {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::for_test(dir.path());
        for (k, v) in props {
            config.set(k, v).expect("test config");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let handle = runtime
            .block_on(Broker::start(config.clone()))
            .expect("broker start");
        TestBroker {
            runtime,
            handle: Some(handle),
            dir,
            config,
        }
    }

    pub fn bootstrap(&self) -> String {
        self.handle.as_ref().expect("running").bootstrap_servers()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.handle.as_ref().expect("running").local_addr()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Clean shutdown, then start again on the same data directory and the same port.
    pub fn restart(&mut self) {
        let port = self.addr().port();
        if let Some(h) = self.handle.take() {
            self.runtime.block_on(h.shutdown());
        }
        let mut cfg = self.config.clone();
        cfg.listeners[0].port = port;
        self.handle = Some(self.runtime.block_on(Broker::start(cfg)).expect("restart"));
    }

    pub fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.runtime.block_on(h.shutdown());
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A blocking raw Kafka protocol connection.
pub struct RawClient {
    pub stream: TcpStream,
    correlation: i32,
}

impl RawClient {
    pub fn connect(addr: std::net::SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        RawClient {
            stream,
            correlation: 0,
        }
    }

    pub fn send_frame(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let mut f = Vec::with_capacity(payload.len() + 4);
        f.extend_from_slice(&(payload.len() as i32).to_be_bytes());
        f.extend_from_slice(payload);
        self.stream.write_all(&f)
    }

    /// Reads one response frame; Err on EOF (the broker closed the connection).
    pub fn read_frame(&mut self) -> std::io::Result<Bytes> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let n = i32::from_be_bytes(len);
        let mut buf = vec![0u8; n.max(0) as usize];
        self.stream.read_exact(&mut buf)?;
        Ok(Bytes::from(buf))
    }

    /// Sends a request, returns the decoded response.
    pub fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        req: &Req,
    ) -> Resp {
        self.correlation += 1;
        let mut header = RequestHeader::default();
        header.request_api_key = api as i16;
        header.request_api_version = version;
        header.correlation_id = self.correlation;
        header.client_id = Some(StrBytes::from_static_str("weir-test"));
        let mut buf = BytesMut::new();
        header
            .encode(&mut buf, api.request_header_version(version))
            .expect("header");
        req.encode(&mut buf, version).expect("body");
        self.send_frame(&buf).expect("send");
        let mut resp = self.read_frame().expect("response");
        let h = ResponseHeader::decode(&mut resp, api.response_header_version(version))
            .expect("resp header");
        assert_eq!(h.correlation_id, self.correlation);
        let r = Resp::decode(&mut resp, version).expect("resp body");
        assert_eq!(
            resp.remaining(),
            0,
            "trailing bytes in {api:?} v{version} response"
        );
        r
    }

    /// True if the broker closed the connection (read returns EOF or reset).
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.stream.read(&mut b), Ok(0) | Err(_))
    }
}

/// A header-only raw request frame: api key, version, correlation id, null client id.
pub fn raw_header(api: i16, version: i16) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_i16(api);
    b.put_i16(version);
    b.put_i32(99);
    b.put_i16(-1);
    b
}

/// A test PKI: a CA, a server certificate for localhost/127.0.0.1 (PEM with its key) and a
/// client certificate, written to `dir`.
#[allow(dead_code)]
pub struct Pki {
    pub ca: String,
    pub ca_key: String,
    pub server: String,
    pub client_cert: String,
    pub client_key: String,
}

#[allow(dead_code)]
pub fn pki(dir: &std::path::Path) -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, SanType,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name = DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Weir Test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let mut sp = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    sp.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    sp.distinguished_name.push(DnType::CommonName, "localhost");
    let server = sp.signed_by(&server_key, &ca, &ca_key).unwrap();

    let client_key = KeyPair::generate().unwrap();
    let mut cp = CertificateParams::new(Vec::<String>::new()).unwrap();
    cp.distinguished_name = DistinguishedName::new();
    cp.distinguished_name
        .push(DnType::OrganizationName, "Weir Test");
    cp.distinguished_name.push(DnType::CommonName, "client");
    let client = cp.signed_by(&client_key, &ca, &ca_key).unwrap();

    let w = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    Pki {
        ca: w("ca.pem", ca.pem()),
        ca_key: w("ca.key", ca_key.serialize_pem()),
        server: w(
            "server.pem",
            format!("{}{}", server.pem(), server_key.serialize_pem()),
        ),
        client_cert: w("client.pem", client.pem()),
        client_key: w("client.key", client_key.serialize_pem()),
    }
}
