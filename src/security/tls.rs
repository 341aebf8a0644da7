//! TLS for SSL and SASL_SSL listeners, with rustls, configured with Kafka's names. The broker's
//! certificate and key: a PEM file holding both (`ssl.keystore.location`, `ssl.keystore.type=PEM`),
//! inline `ssl.keystore.certificate.chain` / `ssl.keystore.key`, or a PKCS#12 keystore
//! (`ssl.keystore.type=PKCS12`, or JKS naming a file keytool wrote as PKCS#12) with
//! `ssl.keystore.password`. The CAs client certificates must chain to: `ssl.truststore.location`
//! (PEM or PKCS#12 with `ssl.truststore.password`) or inline `ssl.truststore.certificates`.
//! `ssl.client.auth` = none | requested | required; `ssl.enabled.protocols` picks TLS 1.2/1.3.
//! A client certificate's subject becomes the principal (`User:CN=...,O=...`), as Kafka's default
//! principal builder does.

use std::io::BufReader;
use std::sync::Arc;

use std::pin::Pin;
use std::task::{Context, Poll};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, OtherError, RootCertStore,
    ServerConfig, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;

fn pem_source(config: &Config, inline: &str, location: &str) -> Result<Option<Vec<u8>>, String> {
    if let Some(v) = config.props.get(inline).filter(|v| !v.trim().is_empty()) {
        return Ok(Some(v.replace("\\n", "\n").into_bytes()));
    }
    match config.props.get(location).filter(|v| !v.trim().is_empty()) {
        Some(path) => std::fs::read(path.trim())
            .map(Some)
            .map_err(|e| format!("{location}: cannot read {path}: {e}")),
        None => Ok(None),
    }
}

fn certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    rustls_pemfile::certs(&mut BufReader::new(pem))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid PEM certificate: {e}"))
}

/// The TLS versions `ssl.enabled.protocols` allows (Kafka's default: TLSv1.2,TLSv1.3). Older
/// versions are not offered by rustls and are skipped with a warning.
fn protocol_versions(
    config: &Config,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let Some(list) = config.props.get("ssl.enabled.protocols") else {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    };
    let mut out = Vec::new();
    for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match p {
            "TLSv1.3" => out.push(&rustls::version::TLS13),
            "TLSv1.2" => out.push(&rustls::version::TLS12),
            other => tracing::warn!("ssl.enabled.protocols: {other} is not supported; skipped"),
        }
    }
    if out.is_empty() {
        return Err(format!(
            "ssl.enabled.protocols={list}: needs TLSv1.2 or TLSv1.3"
        ));
    }
    Ok(out)
}

/// Client-certificate verification as Java's TLS (and so Kafka) does it: a chain that does not
/// lead to a trusted CA is `certificate_unknown` (46), where rustls would say `unknown_ca`
/// (48), since clients built against Kafka look for Kafka's alerts; and X.509 v1 certificates,
/// which `openssl x509 -req` makes without an extensions file and Java accepts but webpki
/// refuses, are checked here (validity, signature up to a trusted CA).
#[derive(Debug)]
struct KafkaAlerts {
    inner: Arc<dyn ClientCertVerifier>,
    roots: Vec<CertificateDer<'static>>,
}

fn is_v1_refusal(e: &Error) -> bool {
    matches!(e, Error::InvalidCertificate(CertificateError::Other(o))
        if format!("{o:?}").contains("UnsupportedCertVersion"))
}

fn untrusted(why: &str) -> Error {
    Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Untrusted(
        why.to_string(),
    )))))
}

/// Whether a certificate may sign others (PKIX): basicConstraints with cA, keyCertSign when a
/// key usage is given, and a path length allowing `below` CA certificates under it.
fn is_ca(c: &x509_parser::certificate::X509Certificate<'_>, below: u32) -> bool {
    let ca = matches!(c.basic_constraints(), Ok(Some(bc))
        if bc.value.ca && bc.value.path_len_constraint.is_none_or(|n| below <= n));
    let usage_ok = match c.key_usage() {
        Ok(Some(ku)) => ku.value.key_cert_sign(),
        Ok(None) => true,
        Err(_) => false,
    };
    ca && usage_ok
}

/// Verifies a chain webpki cannot parse (an X.509 v1 end-entity certificate): the end entity
/// valid now and fit for client authentication, each intermediate a CA valid now, each
/// certificate signed by the next, ending at a trusted root.
fn verify_v1_chain(
    roots: &[CertificateDer<'_>],
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    now: UnixTime,
) -> Result<(), Error> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    fn parse(d: &[u8]) -> Option<X509Certificate<'_>> {
        X509Certificate::from_der(d).ok().map(|(_, c)| c)
    }
    let at = x509_parser::time::ASN1Time::from_timestamp(now.as_secs() as i64)
        .map_err(|_| untrusted("bad clock"))?;
    let leaf = parse(end_entity.as_ref())
        .ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
    if let Ok(Some(eku)) = leaf.extended_key_usage() {
        if !eku.value.any && !eku.value.client_auth {
            return Err(Error::InvalidCertificate(CertificateError::InvalidPurpose));
        }
    }
    let roots: Vec<_> = roots.iter().filter_map(|r| parse(r.as_ref())).collect();
    let intermediates: Vec<_> = intermediates
        .iter()
        .filter_map(|i| parse(i.as_ref()))
        .collect();
    let mut current = leaf;
    for depth in 0..8u32 {
        if !current.validity().is_valid_at(at) {
            return Err(Error::InvalidCertificate(CertificateError::Expired));
        }
        let signed_by = |issuer: &X509Certificate<'_>| {
            issuer.subject() == current.issuer()
                && current.verify_signature(Some(issuer.public_key())).is_ok()
        };
        // Trust anchors are trusted as configured, as Java's trust store does.
        if roots.iter().any(signed_by) {
            return Ok(());
        }
        // Only a CA may vouch for the next certificate: never a leaf the client also holds.
        match intermediates
            .iter()
            .find(|i| is_ca(i, depth) && signed_by(i))
        {
            Some(next) => current = next.clone(),
            None => break,
        }
    }
    Err(untrusted("no chain to a trusted CA"))
}

/// A TLS CertificateVerify signature checked against a certificate webpki cannot parse.
fn verify_signature_v1(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<rustls::client::danger::HandshakeSignatureValid, Error> {
    use ring::signature as sig;
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, c) = X509Certificate::from_der(cert.as_ref())
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let alg: &dyn sig::VerificationAlgorithm = match dss.scheme {
        SignatureScheme::RSA_PKCS1_SHA256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        SignatureScheme::RSA_PKCS1_SHA384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        SignatureScheme::RSA_PKCS1_SHA512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        SignatureScheme::RSA_PSS_SHA256 => &sig::RSA_PSS_2048_8192_SHA256,
        SignatureScheme::RSA_PSS_SHA384 => &sig::RSA_PSS_2048_8192_SHA384,
        SignatureScheme::RSA_PSS_SHA512 => &sig::RSA_PSS_2048_8192_SHA512,
        SignatureScheme::ECDSA_NISTP256_SHA256 => &sig::ECDSA_P256_SHA256_ASN1,
        SignatureScheme::ECDSA_NISTP384_SHA384 => &sig::ECDSA_P384_SHA384_ASN1,
        SignatureScheme::ED25519 => &sig::ED25519,
        _ => {
            return Err(Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ))
        }
    };
    sig::UnparsedPublicKey::new(alg, &c.public_key().subject_public_key.data)
        .verify(message, dss.signature())
        .map(|_| rustls::client::danger::HandshakeSignatureValid::assertion())
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadSignature))
}

#[derive(Debug)]
struct Untrusted(String);

impl std::fmt::Display for Untrusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "client certificate not trusted: {}", self.0)
    }
}

impl std::error::Error for Untrusted {}

impl ClientCertVerifier for KafkaAlerts {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        match self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            Err(e) if is_v1_refusal(&e) => {
                verify_v1_chain(&self.roots, end_entity, intermediates, now)?;
                return Ok(ClientCertVerified::assertion());
            }
            r => r,
        }
        .map_err(|e| match e {
            Error::InvalidCertificate(
                c @ (CertificateError::UnknownIssuer
                | CertificateError::BadSignature
                | CertificateError::Other(_)),
            ) => Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
                Untrusted(format!("{c:?}")),
            )))),
            other => other,
        })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, Error> {
        match self.inner.verify_tls12_signature(message, cert, dss) {
            Err(e) if is_v1_refusal(&e) => verify_signature_v1(message, cert, dss),
            r => r,
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, Error> {
        match self.inner.verify_tls13_signature(message, cert, dss) {
            Err(e) if is_v1_refusal(&e) => verify_signature_v1(message, cert, dss),
            r => r,
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The fatal `certificate_required` alert rustls sends on a TLS 1.2 connection (where it is
/// sent unencrypted) when a client offers no certificate, and the `bad_certificate` alert Java's
/// TLS, and so Kafka, sends instead. RFC 5246 has no `certificate_required` (a TLS 1.3
/// alert), and Kafka clients (librdkafka's test suite among them) look for alert 42.
const TLS12_CERT_REQUIRED: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 116];
const TLS12_BAD_CERTIFICATE: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 42];

/// The TCP stream under a TLS handshake, answering a missing client certificate with Kafka's
/// alert. rustls writes each record of the handshake as its own write, so the alert is seen
/// whole; nothing else is touched.
pub struct HandshakeStream<S> {
    inner: S,
}

impl<S> HandshakeStream<S> {
    pub fn new(inner: S) -> Self {
        HandshakeStream { inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HandshakeStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HandshakeStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if buf == TLS12_CERT_REQUIRED {
            return Pin::new(&mut self.inner).poll_write(cx, &TLS12_BAD_CERTIFICATE);
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(b) if **b == TLS12_CERT_REQUIRED => {
                Pin::new(&mut self.inner).poll_write(cx, &TLS12_BAD_CERTIFICATE)
            }
            _ => Pin::new(&mut self.inner).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A Java keystore file's magic number: the JKS format itself, not PKCS#12.
const JKS_MAGIC: [u8; 4] = [0xFE, 0xED, 0xFE, 0xED];

/// Reads a PKCS#12 store (what `keytool` writes since Java 9, whatever the file is called).
fn pkcs12(
    location: &str,
    password_key: &str,
    config: &Config,
    policy: p12_keystore::Pkcs12ImportPolicy,
) -> Result<p12_keystore::KeyStore, String> {
    let path = location.trim();
    let data = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    if data.starts_with(&JKS_MAGIC) {
        return Err(format!(
            "{path} is in the legacy JKS format; convert it with `keytool -importkeystore -srckeystore {path} -destkeystore {path}.p12 -deststoretype PKCS12`"
        ));
    }
    let password = config
        .props
        .get(password_key)
        .map(String::as_str)
        .unwrap_or("");
    p12_keystore::KeyStore::from_pkcs12(&data, password, policy)
        .map_err(|e| format!("{path}: not a PKCS#12 store, or {password_key} is wrong ({e})"))
}

/// Whether a store is PEM: by `ssl.*.type` (Kafka's names), else by its content.
fn is_pem(config: &Config, type_key: &str, location: Option<&String>) -> Result<bool, String> {
    match config
        .props
        .get(type_key)
        .map(|t| t.trim().to_ascii_uppercase())
    {
        Some(t) if t == "PEM" => Ok(true),
        Some(t) if t == "PKCS12" || t == "JKS" => Ok(false),
        Some(t) => Err(format!("{type_key}={t}: expected PEM, PKCS12 or JKS")),
        // Unset: PKCS#12 and JKS are binary (a DER SEQUENCE, or JKS's magic); anything else
        // (PEM, with or without comments or "Bag Attributes" before it) is read as PEM.
        None => Ok(match location {
            Some(path) => std::fs::read(path.trim())
                .map(|d| !(d.first() == Some(&0x30) || d.starts_with(&JKS_MAGIC)))
                .unwrap_or(true),
            None => true,
        }),
    }
}

/// The broker's certificate chain and private key: PEM (`ssl.keystore.location` holding both,
/// or inline `ssl.keystore.certificate.chain` / `ssl.keystore.key`) or a PKCS#12 keystore
/// with `ssl.keystore.password`.
pub(crate) fn keystore(
    config: &Config,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let location = config
        .props
        .get("ssl.keystore.location")
        .filter(|v| !v.trim().is_empty());
    if !is_pem(config, "ssl.keystore.type", location)? {
        let path = location.ok_or("a PKCS12/JKS keystore needs ssl.keystore.location")?;
        let store = pkcs12(
            path,
            "ssl.keystore.password",
            config,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )?;
        // The first key that comes with its certificate chain (Java's keystores hold one as a
        // rule; an orphan key beside it is skipped).
        let chain = store
            .entries()
            .find_map(|(_, e)| match e {
                p12_keystore::KeyStoreEntry::PrivateKeyChain(k) if !k.certs().is_empty() => Some(k),
                _ => None,
            })
            .ok_or_else(|| format!("{path} holds no private key with its certificate"))?;
        let certs = chain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect::<Vec<_>>();
        if certs.is_empty() {
            return Err(format!("{path}: the private key has no certificate"));
        }
        let key = PrivateKeyDer::Pkcs8(chain.key().as_der().to_vec().into());
        return Ok((certs, key));
    }
    let keystore = pem_source(
        config,
        "ssl.keystore.certificate.chain",
        "ssl.keystore.location",
    )?
    .ok_or("TLS listeners need ssl.keystore.location or ssl.keystore.certificate.chain")?;
    let key_pem = pem_source(config, "ssl.keystore.key", "ssl.keystore.location")?
        .unwrap_or_else(|| keystore.clone());
    let chain = certs(&keystore)?;
    if chain.is_empty() {
        return Err("the keystore holds no certificate".into());
    }
    let key: PrivateKeyDer<'static> =
        rustls_pemfile::private_key(&mut BufReader::new(key_pem.as_slice()))
            .map_err(|e| format!("invalid PEM private key: {e}"))?
            .ok_or("the keystore holds no (unencrypted) private key")?;
    Ok((chain, key))
}

/// The CAs client certificates must chain to: PEM or a PKCS#12 truststore
/// (`ssl.truststore.password`).
pub(crate) fn truststore(config: &Config) -> Result<Vec<CertificateDer<'static>>, String> {
    let location = config
        .props
        .get("ssl.truststore.location")
        .filter(|v| !v.trim().is_empty());
    if !is_pem(config, "ssl.truststore.type", location)? {
        let path = location.ok_or("a PKCS12/JKS truststore needs ssl.truststore.location")?;
        // Every certificate in a truststore is an anchor, with Java's "trusted" attribute
        // (keytool) or without it (openssl).
        let store = pkcs12(
            path,
            "ssl.truststore.password",
            config,
            p12_keystore::Pkcs12ImportPolicy::Raw,
        )?;
        let mut out = Vec::new();
        for (_, entry) in store.entries() {
            match entry {
                p12_keystore::KeyStoreEntry::Certificate(c) => {
                    out.push(CertificateDer::from(c.as_der().to_vec()))
                }
                p12_keystore::KeyStoreEntry::PrivateKeyChain(k) => out.extend(
                    k.certs()
                        .iter()
                        .map(|c| CertificateDer::from(c.as_der().to_vec())),
                ),
                _ => {}
            }
        }
        if out.is_empty() {
            return Err(format!("{path} holds no certificate"));
        }
        return Ok(out);
    }
    let ca = pem_source(
        config,
        "ssl.truststore.certificates",
        "ssl.truststore.location",
    )?
    .ok_or("no ssl.truststore.location or ssl.truststore.certificates")?;
    certs(&ca)
}

/// A TLS client configuration from Kafka's settings in `config`: the CAs to trust
/// (`ssl.truststore.*`) and, when a keystore is set, the certificate to present (`ssl.keystore.*`;
/// brokers present theirs to each other, as Kafka's do). Used by the `weir` tools and by a
/// broker's links to other nodes. The server's name is always verified.
pub fn client_config(config: &Config) -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in truststore(config)? {
        roots.add(c).map_err(|e| format!("truststore: {e}"))?;
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let config = if config.props.contains_key("ssl.keystore.location")
        || config.props.contains_key("ssl.keystore.certificate.chain")
    {
        let (chain, key) = keystore(config)?;
        builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("keystore: {e}"))?
    } else {
        builder.with_no_client_auth()
    };
    Ok(std::sync::Arc::new(config))
}

/// Builds the acceptor for TLS listeners from the broker config.
pub fn acceptor(config: &Config) -> Result<TlsAcceptor, String> {
    let (chain, key) = keystore(config)?;
    let client_auth = config
        .props
        .get("ssl.client.auth")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "none".into());
    let builder = ServerConfig::builder_with_protocol_versions(&protocol_versions(config)?);
    let builder = match client_auth.as_str() {
        "none" => builder.with_no_client_auth(),
        "requested" | "required" => {
            let trusted = truststore(config)?;
            let mut roots = RootCertStore::empty();
            for c in trusted.clone() {
                roots.add(c).map_err(|e| format!("truststore: {e}"))?;
            }
            let v = WebPkiClientVerifier::builder(Arc::new(roots));
            let v = if client_auth == "requested" {
                v.allow_unauthenticated()
            } else {
                v
            };
            let verifier = v.build().map_err(|e| format!("truststore: {e}"))?;
            builder.with_client_cert_verifier(Arc::new(KafkaAlerts {
                inner: verifier,
                roots: trusted,
            }))
        }
        other => {
            return Err(format!(
                "ssl.client.auth={other}: expected none, requested or required"
            ))
        }
    };
    let server = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("keystore: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// Kafka's default SSL principal: `User:` + the subject DN in RFC 2253 order
/// (`CN=...,OU=...,O=...`).
pub fn principal_of(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let mut parts = Vec::new();
    for rdn in parsed.subject().iter_rdn() {
        for attr in rdn.iter() {
            let key = x509_parser::objects::oid2abbrev(
                attr.attr_type(),
                x509_parser::objects::oid_registry(),
            )
            .map(str::to_string)
            .unwrap_or_else(|_| attr.attr_type().to_id_string());
            let value = attr.as_str().map(str::to_string).unwrap_or_default();
            parts.push(format!("{key}={value}"));
        }
    }
    parts.reverse();
    Some(format!("User:{}", parts.join(",")))
}
