//! TLS for SSL and SASL_SSL listeners, with rustls. Certificates and keys are PEM, configured
//! with Kafka's names: `ssl.keystore.location` (a PEM file holding the private key and the
//! certificate chain, `ssl.keystore.type=PEM`) or inline `ssl.keystore.certificate.chain` and
//! `ssl.keystore.key`; `ssl.truststore.location` / `ssl.truststore.certificates` for the CAs
//! client certificates must chain to; `ssl.client.auth` = none | requested | required.
//! A client certificate's subject becomes the principal (`User:CN=...,O=...`), as Kafka's default
//! principal builder does.

use std::io::BufReader;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
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

/// Builds the acceptor for TLS listeners from the broker config.
pub fn acceptor(config: &Config) -> Result<TlsAcceptor, String> {
    if let Some(t) = config.props.get("ssl.keystore.type") {
        if t.trim() != "PEM" {
            return Err(format!(
                "ssl.keystore.type={t}: only PEM keystores are supported"
            ));
        }
    }
    let keystore = pem_source(
        config,
        "ssl.keystore.certificate.chain",
        "ssl.keystore.location",
    )?
    .ok_or("TLS listeners need ssl.keystore.location (PEM) or ssl.keystore.certificate.chain")?;
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
    let client_auth = config
        .props
        .get("ssl.client.auth")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "none".into());
    let builder = ServerConfig::builder();
    let builder = match client_auth.as_str() {
        "none" => builder.with_no_client_auth(),
        "requested" | "required" => {
            let ca = pem_source(config, "ssl.truststore.certificates", "ssl.truststore.location")?
                .ok_or("ssl.client.auth needs ssl.truststore.location (PEM) or ssl.truststore.certificates")?;
            let mut roots = RootCertStore::empty();
            for c in certs(&ca)? {
                roots.add(c).map_err(|e| format!("truststore: {e}"))?;
            }
            let v = WebPkiClientVerifier::builder(Arc::new(roots));
            let v = if client_auth == "requested" {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(v.build().map_err(|e| format!("truststore: {e}"))?)
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
