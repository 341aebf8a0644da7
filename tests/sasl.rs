//! SASL listeners: PLAIN and SCRAM-SHA-256/512 logins through librdkafka, refused wrong
//! passwords, no service before authentication, users created over the admin API from a
//! plaintext listener, and users surviving a restart.

mod common;

use std::time::Duration;

use common::{RawClient, TestBroker};
use kafka_protocol::messages::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

fn sasl_broker() -> TestBroker {
    TestBroker::start_with(&[
        (
            "listeners",
            "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
        ),
        ("sasl.users", "alice:alice-secret"),
    ])
}

fn sasl_addr(b: &TestBroker) -> String {
    format!(
        "127.0.0.1:{}",
        b.handle.as_ref().unwrap().local_addrs()[1].port()
    )
}

fn client(bootstrap: &str, mechanism: &str, user: &str, password: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", mechanism)
        .set("sasl.username", user)
        .set("sasl.password", password)
        .set("broker.address.family", "v4");
    if mechanism == "OAUTHBEARER" {
        // librdkafka's built-in unsecured JWS, the client side of Kafka's default validator.
        c.set("enable.sasl.oauthbearer.unsecure.jwt", "true")
            .set("sasl.oauthbearer.config", format!("principal={user}"));
    }
    c
}

fn round_trip(
    bootstrap: &str,
    mechanism: &str,
    user: &str,
    password: &str,
    topic: &str,
) -> Result<String, String> {
    let p: BaseProducer = client(bootstrap, mechanism, user, password)
        .set("message.timeout.ms", "5000")
        .create()
        .map_err(|e| e.to_string())?;
    p.send(
        BaseRecord::<(), str>::to(topic)
            .payload(mechanism)
            .partition(0),
    )
    .map_err(|(e, _)| e.to_string())?;
    p.flush(Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let c: BaseConsumer = client(bootstrap, mechanism, user, password)
        .set("group.id", "sasl-readers")
        .create()
        .map_err(|e| e.to_string())?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .map_err(|e| e.to_string())?;
    c.assign(&tpl).map_err(|e| e.to_string())?;
    for _ in 0..50 {
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            let m = m.map_err(|e| e.to_string())?;
            return Ok(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    Err("nothing consumed".into())
}

#[test]
fn every_mechanism_authenticates_and_wrong_passwords_are_refused() {
    let broker = sasl_broker();
    let b = sasl_addr(&broker);
    for (i, m) in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
        .iter()
        .enumerate()
    {
        let topic = format!("sasl-{i}");
        assert_eq!(
            round_trip(&b, m, "alice", "alice-secret", &topic).as_deref(),
            Ok(*m)
        );
    }
    // A wrong password: librdkafka reports an authentication failure and delivers nothing.
    let p: BaseProducer = client(&b, "SCRAM-SHA-256", "alice", "wrong")
        .set("message.timeout.ms", "3000")
        .create()
        .unwrap();
    p.send(BaseRecord::<(), str>::to("sasl-0").payload("x"))
        .unwrap();
    let _ = p.flush(Duration::from_secs(10));
    let p: BaseProducer = client(&b, "PLAIN", "mallory", "alice-secret")
        .set("message.timeout.ms", "3000")
        .create()
        .unwrap();
    p.send(BaseRecord::<(), str>::to("sasl-0").payload("x"))
        .unwrap();
    let _ = p.flush(Duration::from_secs(10));
    // Nothing from the refused clients was appended.
    let c: BaseConsumer = client(&b, "PLAIN", "alice", "alice-secret")
        .create()
        .unwrap();
    let (_, hi) = c
        .fetch_watermarks("sasl-0", 0, Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        hi, 1,
        "only the authenticated producer's record is in the log"
    );
}

#[test]
fn nothing_but_api_versions_and_sasl_before_authentication() {
    let broker = sasl_broker();
    let addr = broker.handle.as_ref().unwrap().local_addrs()[1];
    let mut c = RawClient::connect(addr);
    let r: ApiVersionsResponse = c.call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    assert!(r
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::SaslHandshake as i16));
    let mut req = MetadataRequest::default();
    req.topics = None;
    let mut buf = bytes::BytesMut::new();
    use kafka_protocol::protocol::Encodable;
    let mut h = RequestHeader::default();
    h.request_api_key = ApiKey::Metadata as i16;
    h.request_api_version = 12;
    h.correlation_id = 9;
    h.encode(&mut buf, ApiKey::Metadata.request_header_version(12))
        .unwrap();
    req.encode(&mut buf, 12).unwrap();
    c.send_frame(&buf).unwrap();
    assert!(
        c.is_closed(),
        "Metadata before authentication closes the connection"
    );
    // An unknown mechanism gets Kafka's error and the list of enabled ones.
    let mut c = RawClient::connect(addr);
    let r: SaslHandshakeResponse = c.call(
        ApiKey::SaslHandshake,
        1,
        &SaslHandshakeRequest::default().with_mechanism(
            kafka_protocol::protocol::StrBytes::from_static_str("GSSAPI"),
        ),
    );
    assert_eq!(r.error_code, 33);
    assert_eq!(r.mechanisms.len(), 3);
    // The plaintext listener answers SASL requests with ILLEGAL_SASL_STATE.
    let mut p = RawClient::connect(broker.addr());
    let r: SaslHandshakeResponse = p.call(
        ApiKey::SaslHandshake,
        1,
        &SaslHandshakeRequest::default()
            .with_mechanism(kafka_protocol::protocol::StrBytes::from_static_str("PLAIN")),
    );
    assert_eq!(r.error_code, 34);
}

#[test]
fn users_created_over_the_admin_api_log_in_and_survive_restart() {
    let mut broker = sasl_broker();
    // `weir user set` from the plaintext listener computes the salted password client-side.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "user",
            "set",
            "bob",
            "--password",
            "bob-pw",
            "--mechanism",
            "SCRAM-SHA-512",
            "-b",
            &broker.bootstrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = sasl_addr(&broker);
    assert_eq!(
        round_trip(&b, "SCRAM-SHA-512", "bob", "bob-pw", "u1").as_deref(),
        Ok("SCRAM-SHA-512")
    );
    // PLAIN checks against the same stored (salted, hashed) credential.
    assert_eq!(
        round_trip(&b, "PLAIN", "bob", "bob-pw", "u2").as_deref(),
        Ok("PLAIN")
    );
    let stored = std::fs::read_to_string(broker.data_dir().join("weir-users.json")).unwrap();
    assert!(!stored.contains("bob-pw"));
    broker.restart();
    let b = sasl_addr(&broker);
    assert_eq!(
        round_trip(&b, "SCRAM-SHA-512", "bob", "bob-pw", "u3").as_deref(),
        Ok("SCRAM-SHA-512")
    );
    let mut c = RawClient::connect(broker.addr());
    let r: DescribeUserScramCredentialsResponse = c.call(
        ApiKey::DescribeUserScramCredentials,
        0,
        &DescribeUserScramCredentialsRequest::default().with_users(None),
    );
    let names: Vec<&str> = r.results.iter().map(|u| u.user.as_str()).collect();
    assert_eq!(names, vec!["alice", "bob"]);
}

#[test]
fn sessions_expire_unless_the_client_re_authenticates() {
    let broker = TestBroker::start_with(&[
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        ("sasl.users", "alice:alice-secret"),
        ("connections.max.reauth.ms", "1500"),
    ]);
    // A raw client that authenticates once is cut off after the session lifetime.
    let mut c = RawClient::connect(broker.addr());
    let _: SaslHandshakeResponse = c.call(
        ApiKey::SaslHandshake,
        1,
        &SaslHandshakeRequest::default()
            .with_mechanism(kafka_protocol::protocol::StrBytes::from_static_str("PLAIN")),
    );
    let r: SaslAuthenticateResponse = c.call(
        ApiKey::SaslAuthenticate,
        2,
        &SaslAuthenticateRequest::default()
            .with_auth_bytes(bytes::Bytes::from_static(b"\0alice\0alice-secret")),
    );
    assert_eq!((r.error_code, r.session_lifetime_ms), (0, 1500));
    let _: ApiVersionsResponse = c.call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    std::thread::sleep(Duration::from_millis(1700));
    let mut buf = bytes::BytesMut::new();
    use kafka_protocol::protocol::Encodable;
    let mut h = RequestHeader::default();
    h.request_api_key = ApiKey::Metadata as i16;
    h.request_api_version = 12;
    h.encode(&mut buf, ApiKey::Metadata.request_header_version(12))
        .unwrap();
    MetadataRequest::default()
        .with_topics(None)
        .encode(&mut buf, 12)
        .unwrap();
    c.send_frame(&buf).unwrap();
    assert!(c.is_closed(), "an expired session is closed");
    // librdkafka re-authenticates on its own and keeps producing across several lifetimes.
    let b = broker.bootstrap();
    let p: BaseProducer = client(&b, "SCRAM-SHA-256", "alice", "alice-secret")
        .create()
        .unwrap();
    for i in 0..8 {
        p.send(
            BaseRecord::<(), str>::to("reauth")
                .payload(&format!("{i}"))
                .partition(0),
        )
        .unwrap();
        p.flush(Duration::from_secs(10)).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    let cons: BaseConsumer = client(&b, "SCRAM-SHA-256", "alice", "alice-secret")
        .create()
        .unwrap();
    let (_, hi) = cons
        .fetch_watermarks("reauth", 0, Duration::from_secs(10))
        .unwrap();
    assert_eq!(hi, 8);
}

fn sasl_call<Resp: kafka_protocol::protocol::Decodable>(
    c: &mut RawClient,
    mechanism: &'static str,
    token: Vec<u8>,
) -> Option<Resp> {
    let r: SaslHandshakeResponse = c.call(
        ApiKey::SaslHandshake,
        1,
        &SaslHandshakeRequest::default().with_mechanism(
            kafka_protocol::protocol::StrBytes::from_static_str(mechanism),
        ),
    );
    if r.error_code != 0 {
        return None;
    }
    Some(c.call(
        ApiKey::SaslAuthenticate,
        2,
        &SaslAuthenticateRequest::default().with_auth_bytes(bytes::Bytes::from(token)),
    ))
}

fn unsecured_token(payload: &str) -> Vec<u8> {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "n,,\u{1}auth=Bearer {}.{}.\u{1}\u{1}",
        b64(r#"{"alg":"none"}"#),
        b64(payload)
    )
    .into_bytes()
}

/// OAUTHBEARER with unsecured tokens on one listener, SCRAM only on another: each listener's
/// `listener.name.<l>.*` settings decide what it accepts.
#[test]
fn oauthbearer_and_per_listener_mechanisms() {
    let broker = TestBroker::start_with(&[
        (
            "listeners",
            "PLAINTEXT://127.0.0.1:0,OAUTH://127.0.0.1:0,SCRAM://127.0.0.1:0",
        ),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,OAUTH:SASL_PLAINTEXT,SCRAM:SASL_PLAINTEXT",
        ),
        ("sasl.users", "alice:alice-secret"),
        ("listener.name.oauth.sasl.enabled.mechanisms", "OAUTHBEARER"),
        (
            "listener.name.scram.sasl.enabled.mechanisms",
            "SCRAM-SHA-512",
        ),
        ("connections.max.reauth.ms", "60000"),
    ]);
    let addrs = broker.handle.as_ref().unwrap().local_addrs();
    let (oauth, scram) = (addrs[1], addrs[2]);
    let oauth_b = format!("127.0.0.1:{}", oauth.port());
    let scram_b = format!("127.0.0.1:{}", scram.port());
    // librdkafka's unsecured token: produce and consume as the token's subject.
    assert_eq!(
        round_trip(&oauth_b, "OAUTHBEARER", "carol", "", "oauth-1").as_deref(),
        Ok("OAUTHBEARER")
    );
    assert_eq!(
        round_trip(
            &scram_b,
            "SCRAM-SHA-512",
            "alice",
            "alice-secret",
            "scram-1"
        )
        .as_deref(),
        Ok("SCRAM-SHA-512")
    );
    // Each listener offers only its own mechanisms.
    let mut c = RawClient::connect(scram);
    let r: SaslHandshakeResponse = c.call(
        ApiKey::SaslHandshake,
        1,
        &SaslHandshakeRequest::default()
            .with_mechanism(kafka_protocol::protocol::StrBytes::from_static_str("PLAIN")),
    );
    assert_eq!(r.error_code, 33);
    let offered: Vec<&str> = r.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(offered, vec!["SCRAM-SHA-512"]);

    // A valid token: the session lasts until the token expires (before max.reauth).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut c = RawClient::connect(oauth);
    let r: SaslAuthenticateResponse = sasl_call(
        &mut c,
        "OAUTHBEARER",
        unsecured_token(&format!(r#"{{"sub":"dave","exp":{}}}"#, now + 30)),
    )
    .unwrap();
    assert_eq!(r.error_code, 0);
    assert!(
        r.session_lifetime_ms > 20_000 && r.session_lifetime_ms <= 30_000,
        "{}",
        r.session_lifetime_ms
    );
    // An expired token: RFC 7628's error challenge, then the failure, then the connection closes.
    let mut c = RawClient::connect(oauth);
    let r: SaslAuthenticateResponse = sasl_call(
        &mut c,
        "OAUTHBEARER",
        unsecured_token(&format!(r#"{{"sub":"dave","exp":{}}}"#, now - 10)),
    )
    .unwrap();
    assert_eq!(r.error_code, 0);
    assert_eq!(&r.auth_bytes[..], br#"{"status":"invalid_token"}"#);
    let r: SaslAuthenticateResponse = c.call(
        ApiKey::SaslAuthenticate,
        2,
        &SaslAuthenticateRequest::default().with_auth_bytes(bytes::Bytes::from_static(b"\x01")),
    );
    assert_eq!(r.error_code, 58);
    // Kafka's message is the error JSON itself (franz-go's TestOAuthAuth looks for
    // "invalid_token" in it); the reason (expiry) goes to the broker log only.
    assert_eq!(
        r.error_message.as_deref(),
        Some(r#"{"status":"invalid_token"}"#)
    );
    assert!(c.is_closed());
    // librdkafka trying OAUTHBEARER where it is not offered gets nothing appended.
    let p: BaseProducer = client(&scram_b, "OAUTHBEARER", "carol", "")
        .set("message.timeout.ms", "3000")
        .create()
        .unwrap();
    p.send(
        BaseRecord::<(), str>::to("scram-1")
            .payload("x")
            .partition(0),
    )
    .unwrap();
    let _ = p.flush(Duration::from_secs(10));
    let cons: BaseConsumer = client(&scram_b, "SCRAM-SHA-512", "alice", "alice-secret")
        .create()
        .unwrap();
    let (_, hi) = cons
        .fetch_watermarks("scram-1", 0, Duration::from_secs(10))
        .unwrap();
    assert_eq!(hi, 1);
}

/// KIP-368: re-authenticating on a connection keeps its identity; switching user (or
/// mechanism) is refused and the connection closes.
#[test]
fn re_authentication_cannot_switch_identity() {
    let broker = TestBroker::start_with(&[
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        ("sasl.users", "alice:alice-secret,bob:bob-secret"),
    ]);
    let mut c = RawClient::connect(broker.addr());
    let r: SaslAuthenticateResponse =
        sasl_call(&mut c, "PLAIN", b"\0alice\0alice-secret".to_vec()).unwrap();
    assert_eq!(r.error_code, 0);
    // The same user again is a normal re-authentication.
    let r: SaslAuthenticateResponse =
        sasl_call(&mut c, "PLAIN", b"\0alice\0alice-secret".to_vec()).unwrap();
    assert_eq!(r.error_code, 0);
    let _: ApiVersionsResponse = c.call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    // Someone else's valid credentials are not.
    let r: SaslAuthenticateResponse =
        sasl_call(&mut c, "PLAIN", b"\0bob\0bob-secret".to_vec()).unwrap();
    assert_eq!(r.error_code, 58);
    assert!(c.is_closed());
}

/// The `weir` client logs in again on its connection before the broker's session lifetime
/// runs out (KIP-368), so long-running tools keep working on listeners with
/// `connections.max.reauth.ms`.
#[test]
fn the_weir_client_re_authenticates_before_its_session_ends() {
    let broker = TestBroker::start_with(&[
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        ("sasl.users", "alice:alice-secret"),
        ("connections.max.reauth.ms", "1500"),
    ]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut conn = weir::client::conn::ConnOptions::default();
        conn.sasl = Some(weir::client::conn::SaslLogin {
            mechanism: "SCRAM-SHA-256".into(),
            username: "alice".into(),
            password: "alice-secret".into(),
        });
        let mut client = weir::client::Client::connect(weir::client::ClientConfig {
            bootstrap: vec![broker.bootstrap()],
            conn,
        })
        .await
        .unwrap();
        for _ in 0..4 {
            client.metadata(None).await.unwrap();
            tokio::time::sleep(Duration::from_millis(900)).await;
        }
        client.metadata(None).await.unwrap();
    });
}
