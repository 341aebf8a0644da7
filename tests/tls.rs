//! TLS listeners: SSL with a client certificate (mTLS) and SASL_SSL with SCRAM, through
//! librdkafka; a client without a certificate is refused when `ssl.client.auth=required`; the
//! certificate's subject becomes the principal. Certificates are generated here (rcgen).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{pki, Pki, TestBroker};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

fn round_trip(cfg: &ClientConfig, topic: &str) -> Result<i64, String> {
    let p: BaseProducer = cfg
        .clone()
        .set("message.timeout.ms", "5000")
        .create()
        .map_err(|e| e.to_string())?;
    p.send(
        BaseRecord::<(), str>::to(topic)
            .payload("over tls")
            .partition(0),
    )
    .map_err(|(e, _)| e.to_string())?;
    p.flush(Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let c: BaseConsumer = cfg
        .clone()
        .set("group.id", "tls")
        .create()
        .map_err(|e| e.to_string())?;
    c.fetch_watermarks(topic, 0, Duration::from_secs(10))
        .map(|(_, hi)| hi)
        .map_err(|e| e.to_string())
}

fn have_openssl() -> bool {
    std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok()
}

/// Runs the openssl tool in `dir`; a failure fails the test with openssl's message.
fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A broker with one SSL listener that requires client certificates from the test CA.
fn mtls_broker(pki: &Pki, protocols: &str) -> TestBroker {
    TestBroker::start_with(&[
        ("listeners", "SSL://127.0.0.1:0"),
        ("ssl.keystore.location", &pki.server),
        ("ssl.truststore.location", &pki.ca),
        ("ssl.client.auth", "required"),
        ("ssl.enabled.protocols", protocols),
    ])
}

/// A librdkafka SSL client presenting `cert` with `key`.
fn ssl_client(broker: &TestBroker, ca: &str, cert: &Path, key: &Path) -> ClientConfig {
    let port = broker.handle.as_ref().unwrap().local_addr().port();
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("security.protocol", "SSL")
        .set("ssl.ca.location", ca)
        .set("ssl.certificate.location", cert.display().to_string())
        .set("ssl.key.location", key.display().to_string())
        .set("broker.address.family", "v4")
        .set("socket.timeout.ms", "3000");
    c
}

#[test]
fn ssl_with_client_certificates_and_sasl_ssl() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let broker = TestBroker::start_with(&[
        (
            "listeners",
            "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
        ),
        ("ssl.keystore.type", "PEM"),
        ("ssl.keystore.location", &pki.server),
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.location", &pki.ca),
        ("ssl.client.auth", "requested"),
        ("sasl.users", "alice:alice-secret"),
        (
            "sasl.enabled.mechanisms",
            "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER",
        ),
    ]);
    let addrs = broker.handle.as_ref().unwrap().local_addrs().to_vec();
    let mut ssl = ClientConfig::new();
    ssl.set(
        "bootstrap.servers",
        format!("127.0.0.1:{}", addrs[1].port()),
    )
    .set("security.protocol", "SSL")
    .set("ssl.ca.location", &pki.ca)
    .set("ssl.certificate.location", &pki.client_cert)
    .set("ssl.key.location", &pki.client_key)
    .set("broker.address.family", "v4");
    assert_eq!(round_trip(&ssl, "over-ssl"), Ok(1));

    // Every mechanism over SASL_SSL (OAUTHBEARER with librdkafka's unsecured token).
    for (i, mechanism) in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
        .iter()
        .enumerate()
    {
        let mut sasl_ssl = ClientConfig::new();
        sasl_ssl
            .set(
                "bootstrap.servers",
                format!("127.0.0.1:{}", addrs[2].port()),
            )
            .set("security.protocol", "SASL_SSL")
            .set("ssl.ca.location", &pki.ca)
            .set("sasl.mechanism", *mechanism)
            .set("broker.address.family", "v4");
        if *mechanism == "OAUTHBEARER" {
            sasl_ssl
                .set("enable.sasl.oauthbearer.unsecure.jwt", "true")
                .set("sasl.oauthbearer.config", "principal=alice");
        } else {
            sasl_ssl
                .set("sasl.username", "alice")
                .set("sasl.password", "alice-secret");
        }
        assert_eq!(
            round_trip(&sasl_ssl, &format!("over-sasl-ssl-{i}")),
            Ok(1),
            "{mechanism}"
        );
    }

    let cert = std::fs::read(&pki.client_cert).unwrap();
    let der = rustls_pemfile::certs(&mut cert.as_slice())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        weir::security::tls::principal_of(&der).as_deref(),
        Some("User:CN=client,O=Weir Test")
    );
}

#[test]
fn required_client_auth_refuses_clients_without_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let broker = TestBroker::start_with(&[
        ("listeners", "SSL://127.0.0.1:0"),
        ("ssl.keystore.location", &pki.server),
        ("ssl.truststore.location", &pki.ca),
        ("ssl.client.auth", "required"),
    ]);
    let port = broker.handle.as_ref().unwrap().local_addr().port();
    let mut anonymous = ClientConfig::new();
    anonymous
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("security.protocol", "SSL")
        .set("ssl.ca.location", &pki.ca)
        .set("broker.address.family", "v4")
        .set("socket.timeout.ms", "3000");
    assert!(round_trip(&anonymous, "nope").is_err());
    let mut with_cert = anonymous.clone();
    with_cert
        .set("ssl.certificate.location", &pki.client_cert)
        .set("ssl.key.location", &pki.client_key);
    assert_eq!(round_trip(&with_cert, "yes"), Ok(1));
}

/// A blocking rustls handshake with the broker: the protocol version, or the error.
fn handshake(
    port: u16,
    ca: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    client_cert: Option<(String, String)>,
) -> Result<rustls::ProtocolVersion, rustls::Error> {
    use std::io::{Read, Write};
    use std::sync::Arc;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut std::fs::read(ca).unwrap().as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_protocol_versions(versions)
        .with_root_certificates(roots);
    let cfg = match client_cert {
        None => b.with_no_client_auth(),
        Some((cert, key)) => b
            .with_client_auth_cert(
                rustls_pemfile::certs(&mut cert.as_bytes())
                    .map(|c| c.unwrap())
                    .collect(),
                rustls_pemfile::private_key(&mut key.as_bytes())
                    .unwrap()
                    .unwrap(),
            )
            .unwrap(),
    };
    let mut conn = rustls::ClientConnection::new(
        Arc::new(cfg),
        rustls::pki_types::ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    // An ApiVersions v0 request: under TLS 1.3 the server's verdict on the client certificate
    // arrives after the client's own handshake is done, with the first read.
    let req = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0];
    let mut resp = [0u8; 4];
    let r = tls.write_all(&req).and_then(|_| tls.read_exact(&mut resp));
    match r {
        Ok(()) => Ok(conn.protocol_version().unwrap()),
        Err(e) => Err(e
            .into_inner()
            .and_then(|i| i.downcast::<rustls::Error>().ok())
            .map(|b| *b)
            .unwrap_or(rustls::Error::General("connection closed".into()))),
    }
}

/// Kafka's TLS answers: TLS versions from `ssl.enabled.protocols`, a missing client certificate
/// refused with `bad_certificate` (42) and an untrusted one with `certificate_unknown` (46), as
/// Java's TLS sends them; and (KIP-684) the broker-wide `ssl.client.auth` does not apply to a
/// SASL_SSL listener unless that listener sets it.
#[test]
fn kafkas_tls_alerts_versions_and_per_listener_client_auth() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let broker = TestBroker::start_with(&[
        ("listeners", "SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0"),
        ("ssl.keystore.location", &pki.server),
        ("ssl.truststore.location", &pki.ca),
        ("ssl.client.auth", "required"),
        ("ssl.enabled.protocols", "TLSv1.2"),
        ("sasl.users", "alice:alice-secret"),
    ]);
    let addrs = broker.handle.as_ref().unwrap().local_addrs().to_vec();
    let (ssl, sasl_ssl) = (addrs[0].port(), addrs[1].port());
    let mine = Some((
        std::fs::read_to_string(&pki.client_cert).unwrap(),
        std::fs::read_to_string(&pki.client_key).unwrap(),
    ));
    let all = rustls::ALL_VERSIONS;
    assert_eq!(
        handshake(ssl, &pki.ca, all, mine.clone()),
        Ok(rustls::ProtocolVersion::TLSv1_2),
        "ssl.enabled.protocols=TLSv1.2 is honoured"
    );
    assert!(handshake(ssl, &pki.ca, &[&rustls::version::TLS13], mine).is_err());
    assert_eq!(
        handshake(ssl, &pki.ca, all, None),
        Err(rustls::Error::AlertReceived(
            rustls::AlertDescription::BadCertificate
        ))
    );
    let stranger_key = rcgen::KeyPair::generate().unwrap();
    let mut sp = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    sp.distinguished_name
        .push(rcgen::DnType::CommonName, "stranger");
    let stranger = sp.self_signed(&stranger_key).unwrap();
    assert_eq!(
        handshake(
            ssl,
            &pki.ca,
            all,
            Some((stranger.pem(), stranger_key.serialize_pem()))
        ),
        Err(rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateUnknown
        ))
    );
    // SASL_SSL: SASL authenticates; no client certificate is asked for.
    assert_eq!(
        handshake(sasl_ssl, &pki.ca, all, None),
        Ok(rustls::ProtocolVersion::TLSv1_2)
    );
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", format!("127.0.0.1:{sasl_ssl}"))
        .set("security.protocol", "SASL_SSL")
        .set("ssl.ca.location", &pki.ca)
        .set("sasl.mechanism", "SCRAM-SHA-512")
        .set("sasl.username", "alice")
        .set("sasl.password", "alice-secret")
        .set("broker.address.family", "v4");
    assert_eq!(round_trip(&c, "sasl-ssl-no-cert"), Ok(1));
}

/// A client certificate as `openssl x509 -req` makes it without an extensions file: X.509 v1,
/// which Java (and so Kafka) accepts and webpki alone would refuse.
#[test]
fn x509_v1_client_certificates_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    if !have_openssl() {
        eprintln!("skipped: the openssl tool is not installed (.ci/run installs it)");
        return;
    }
    let openssl = |args: &[&str]| openssl(dir.path(), args);
    for args in [
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "v1.key",
            "-subj",
            "/CN=v1client",
            "-out",
            "v1.csr",
        ][..],
        &[
            "x509",
            "-req",
            "-in",
            "v1.csr",
            "-CA",
            &pki.ca,
            "-CAkey",
            &pki.ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "v1.pem",
        ][..],
    ] {
        openssl(args);
    }
    let text = openssl(&["x509", "-in", "v1.pem", "-noout", "-text"]);
    let v1 = String::from_utf8_lossy(&text.stdout).contains("Version: 1");
    assert!(v1, "openssl made a v3 certificate; this test wants v1");
    // librdkafka (OpenSSL) presents it, over TLS 1.3 and over TLS 1.2.
    let d = dir.path();
    let tls12 = mtls_broker(&pki, "TLSv1.2");
    let c = ssl_client(&tls12, &pki.ca, &d.join("v1.pem"), &d.join("v1.key"));
    assert_eq!(round_trip(&c, "v1-cert"), Ok(1), "TLS 1.2");
    drop(tls12);
    let broker = mtls_broker(&pki, "TLSv1.2,TLSv1.3");
    let c = ssl_client(&broker, &pki.ca, &d.join("v1.pem"), &d.join("v1.key"));
    assert_eq!(round_trip(&c, "v1-cert"), Ok(1), "TLS 1.3");

    // A v1 certificate signed by an ordinary client certificate (not a CA) is refused, even
    // with that certificate, which the broker's CA did sign, sent along as the chain. So is a
    // v1 certificate from a CA the broker does not trust.
    for args in [
        &[
            "x509",
            "-req",
            "-in",
            "v1.csr",
            "-CA",
            &pki.client_cert,
            "-CAkey",
            &pki.client_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-subj",
            "/CN=admin",
            "-out",
            "forged.pem",
        ][..],
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "other.key",
            "-subj",
            "/CN=Other CA",
            "-days",
            "2",
            "-out",
            "other.pem",
        ][..],
        &[
            "x509",
            "-req",
            "-in",
            "v1.csr",
            "-CA",
            "other.pem",
            "-CAkey",
            "other.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "stranger.pem",
        ][..],
    ] {
        openssl(args);
    }
    let chain = format!(
        "{}{}",
        std::fs::read_to_string(d.join("forged.pem")).unwrap(),
        std::fs::read_to_string(&pki.client_cert).unwrap()
    );
    std::fs::write(d.join("forged-chain.pem"), chain).unwrap();
    let c = ssl_client(
        &broker,
        &pki.ca,
        &d.join("forged-chain.pem"),
        &d.join("v1.key"),
    );
    assert!(round_trip(&c, "v1-forged").is_err(), "a leaf cannot sign");
    let c = ssl_client(&broker, &pki.ca, &d.join("stranger.pem"), &d.join("v1.key"));
    assert!(round_trip(&c, "v1-stranger").is_err(), "untrusted CA");
}

/// PKCS#12 keystores and truststores (what `keytool` writes since Java 9, and Kafka's usual
/// `ssl.keystore.type`), with their passwords; a wrong password stops startup with a message.
#[test]
fn pkcs12_keystore_and_truststore() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    if !have_openssl() {
        eprintln!("skipped: the openssl tool is not installed (.ci/run installs it)");
        return;
    }
    let openssl = |args: &[&str]| openssl(dir.path(), args);
    for args in [
        &[
            "pkcs12",
            "-export",
            "-in",
            &pki.server,
            "-out",
            "server.p12",
            "-name",
            "broker",
            "-passout",
            "pass:ks-secret",
        ][..],
        &[
            "pkcs12",
            "-export",
            "-nokeys",
            "-in",
            &pki.ca,
            "-out",
            "trust.p12",
            "-passout",
            "pass:ts-secret",
        ][..],
    ] {
        openssl(args);
    }
    let ks = dir.path().join("server.p12").display().to_string();
    let ts = dir.path().join("trust.p12").display().to_string();
    let broker = TestBroker::start_with(&[
        ("listeners", "SSL://127.0.0.1:0"),
        ("ssl.keystore.type", "PKCS12"),
        ("ssl.keystore.location", &ks),
        ("ssl.keystore.password", "ks-secret"),
        ("ssl.truststore.type", "PKCS12"),
        ("ssl.truststore.location", &ts),
        ("ssl.truststore.password", "ts-secret"),
        ("ssl.client.auth", "required"),
    ]);
    let port = broker.handle.as_ref().unwrap().local_addr().port();
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("security.protocol", "SSL")
        .set("ssl.ca.location", &pki.ca)
        .set("ssl.certificate.location", &pki.client_cert)
        .set("ssl.key.location", &pki.client_key)
        .set("broker.address.family", "v4");
    assert_eq!(round_trip(&c, "over-pkcs12"), Ok(1));

    let mut cfg = weir::Config::for_test(dir.path().join("other"));
    for (k, v) in [
        ("listeners", "SSL://127.0.0.1:0"),
        ("ssl.keystore.type", "PKCS12"),
        ("ssl.keystore.location", ks.as_str()),
        ("ssl.keystore.password", "wrong"),
    ] {
        cfg.set(k, v).unwrap();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt
        .block_on(weir::Broker::start(cfg))
        .err()
        .expect("a wrong keystore password stops startup")
        .to_string();
    assert!(err.contains("ssl.keystore.password"), "{err}");
}

/// The `weir` tools (and so the kafka-*.sh shims) reach SASL and TLS listeners with Kafka's
/// client properties in `--command-config`, and report a refused login as an authentication
/// error.
#[test]
fn weir_tools_log_in_over_sasl_ssl() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let broker = TestBroker::start_with(&[
        (
            "listeners",
            "SASL_SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
        ),
        ("ssl.keystore.location", &pki.server),
        ("sasl.users", "admin:admin-secret"),
    ]);
    let addrs = broker.handle.as_ref().unwrap().local_addrs().to_vec();
    let run = |port: u16, props: &str, args: &[&str]| {
        let f = dir.path().join(format!("client-{port}.properties"));
        std::fs::write(&f, props).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(args)
            .args([
                "--bootstrap-server",
                &format!("127.0.0.1:{port}"),
                "--command-config",
                f.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let sasl_ssl = format!(
        "security.protocol=SASL_SSL\nssl.truststore.location={}\nsasl.mechanism=SCRAM-SHA-512\n\
         sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"admin-secret\";\n",
        pki.ca
    );
    let (code, _, err) = run(
        addrs[0].port(),
        &sasl_ssl,
        &["topic", "create", "secured", "--partitions", "2"],
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = run(addrs[0].port(), &sasl_ssl, &["topic", "list"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("secured"), "{out}");
    // PLAIN over SASL_PLAINTEXT, with librdkafka-style property names.
    let plain = "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=admin\nsasl.password=admin-secret\n";
    let (code, out, err) = run(addrs[1].port(), plain, &["topic", "list"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("secured"));
    // A wrong password is an authentication error (exit 1, Kafka's error name).
    let wrong = sasl_ssl.replace("admin-secret", "nope");
    let (code, _, err) = run(addrs[0].port(), &wrong, &["topic", "list"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("SASL_AUTHENTICATION_FAILED"), "{err}");
}
