//! SASL/OAUTHBEARER (RFC 7628, KIP-255) with Kafka's default token validation: unsecured JWS
//! (`alg: none`), for development only, as Kafka's `OAuthBearerUnsecuredValidatorCallbackHandler`.
//! The principal is the token's `sub` claim (or the claim the JAAS option
//! `unsecuredValidatorPrincipalClaimName` names); `exp` is required and must be in the future,
//! `iat`, when present, must not be; `unsecuredValidatorRequiredScope` lists scopes the token's
//! `scope` claim must hold. A refused token is answered, as RFC 7628 asks, with an error JSON the
//! client acknowledges with a lone 0x01 before the exchange fails.

use base64::Engine;

use crate::config::Config;

/// The validator's options, read from the OAUTHBEARER JAAS config
/// (`[listener.name.<l>.]oauthbearer.sasl.jaas.config` or `sasl.jaas.config`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    principal_claim: String,
    scope_claim: String,
    required_scope: Vec<String>,
    clock_skew_ms: i64,
}

impl Default for Validator {
    fn default() -> Self {
        Validator {
            principal_claim: "sub".into(),
            scope_claim: "scope".into(),
            required_scope: Vec::new(),
            clock_skew_ms: 0,
        }
    }
}

impl Validator {
    pub fn from_config(config: &Config) -> Validator {
        let jaas = config
            .props
            .get("oauthbearer.sasl.jaas.config")
            .or_else(|| config.props.get("sasl.jaas.config"))
            .cloned()
            .unwrap_or_default();
        let mut v = Validator::default();
        if let Some(c) = super::jaas_option(&jaas, "unsecuredValidatorPrincipalClaimName") {
            v.principal_claim = c;
        }
        if let Some(c) = super::jaas_option(&jaas, "unsecuredValidatorScopeClaimName") {
            v.scope_claim = c;
        }
        if let Some(s) = super::jaas_option(&jaas, "unsecuredValidatorRequiredScope") {
            v.required_scope = s
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect();
        }
        if let Some(ms) = super::jaas_option(&jaas, "unsecuredValidatorAllowableClockSkewMs") {
            v.clock_skew_ms = ms.trim().parse().unwrap_or(0);
        }
        v
    }

    /// Checks a client's initial response; on success the principal name and the token's expiry
    /// (ms since the epoch).
    pub fn validate(&self, initial: &[u8], now_ms: i64) -> Result<(String, i64), Refusal> {
        let (authzid, token) = parse_initial_response(initial)?;
        let claims = unsecured_claims(token)?;
        let principal = match claims.get(&self.principal_claim) {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => {
                return Err(Refusal::token(format!(
                    "No principal claim '{}' in the token",
                    self.principal_claim
                )))
            }
        };
        let exp_ms = match claims.get("exp").and_then(|v| v.as_f64()) {
            Some(secs) => (secs * 1000.0) as i64,
            None => return Err(Refusal::token("The token has no 'exp' claim".into())),
        };
        if now_ms - self.clock_skew_ms >= exp_ms {
            return Err(Refusal::token(format!(
                "The token expired at {exp_ms} ms (now {now_ms} ms)"
            )));
        }
        if let Some(iat) = claims.get("iat") {
            let Some(secs) = iat.as_f64() else {
                return Err(Refusal::token("The 'iat' claim is not a number".into()));
            };
            if (secs * 1000.0) as i64 > now_ms + self.clock_skew_ms {
                return Err(Refusal::token(
                    "The token was issued in the future ('iat')".into(),
                ));
            }
        }
        if !self.required_scope.is_empty() {
            let held: Vec<String> = match claims.get(&self.scope_claim) {
                Some(serde_json::Value::String(s)) => {
                    s.split_whitespace().map(str::to_string).collect()
                }
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            if let Some(missing) = self.required_scope.iter().find(|s| !held.contains(s)) {
                return Err(Refusal {
                    status: "insufficient_scope",
                    scope: Some(self.required_scope.join(" ")),
                    message: format!("The token lacks the required scope '{missing}'"),
                });
            }
        }
        if let Some(a) = authzid.filter(|a| !a.is_empty()) {
            if a != principal {
                return Err(Refusal::token(format!(
                    "Authorization id {a} differs from the token's principal {principal}"
                )));
            }
        }
        Ok((principal, exp_ms))
    }
}

/// Why a token was refused: the RFC 7628 error the server sends (also the
/// SASL_AUTHENTICATION_FAILED message, as in Kafka), and the reason, which is only logged.
#[derive(Debug)]
pub struct Refusal {
    status: &'static str,
    scope: Option<String>,
    pub message: String,
}

impl Refusal {
    fn token(message: String) -> Refusal {
        Refusal {
            status: "invalid_token",
            scope: None,
            message,
        }
    }

    fn request(message: String) -> Refusal {
        Refusal {
            status: "invalid_request",
            scope: None,
            message,
        }
    }

    /// The server's error challenge (RFC 7628 §3.2.2).
    pub fn challenge(&self) -> Vec<u8> {
        let mut j = serde_json::json!({ "status": self.status });
        if let Some(s) = &self.scope {
            j["scope"] = serde_json::Value::String(s.clone());
        }
        j.to_string().into_bytes()
    }
}

/// `n,[a=authzid],` 0x01 `auth=Bearer <token>` 0x01 [key=value 0x01]* 0x01
fn parse_initial_response(b: &[u8]) -> Result<(Option<String>, &str), Refusal> {
    let s = std::str::from_utf8(b)
        .map_err(|_| Refusal::request("The initial response is not UTF-8".into()))?;
    let bad = || Refusal::request("Invalid OAUTHBEARER initial client response".into());
    let rest = s.strip_prefix("n,").ok_or_else(bad)?;
    let (gs2_authzid, kvs) = rest.split_once(',').ok_or_else(bad)?;
    let authzid = match gs2_authzid {
        "" => None,
        a => Some(a.strip_prefix("a=").ok_or_else(bad)?.to_string()),
    };
    let kvs = kvs.strip_prefix('\u{1}').ok_or_else(bad)?;
    let kvs = kvs.strip_suffix("\u{1}\u{1}").ok_or_else(bad)?;
    let mut token = None;
    for kv in kvs.split('\u{1}') {
        let (k, v) = kv.split_once('=').ok_or_else(bad)?;
        if k == "auth" {
            let t = v
                .strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .ok_or_else(bad)?;
            token = Some(t.trim());
        }
    }
    Ok((authzid, token.ok_or_else(bad)?))
}

/// The claims of an unsecured JWS (`header.payload.` with `"alg":"none"`).
fn unsecured_claims(token: &str) -> Result<serde_json::Map<String, serde_json::Value>, Refusal> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(Refusal::token(
            "The token is not a JWS with three parts".into(),
        ));
    }
    if !parts[2].is_empty() {
        return Err(Refusal::token(
            "An unsecured JWS must have an empty signature".into(),
        ));
    }
    let decode =
        |p: &str, what: &str| -> Result<serde_json::Map<String, serde_json::Value>, Refusal> {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p.trim_end_matches('='))
                .map_err(|_| Refusal::token(format!("The token's {what} is not base64url")))?;
            match serde_json::from_slice(&raw) {
                Ok(serde_json::Value::Object(m)) => Ok(m),
                _ => Err(Refusal::token(format!(
                    "The token's {what} is not a JSON object"
                ))),
            }
        };
    let header = decode(parts[0], "header")?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("none") {
        return Err(Refusal::token(
            "Only unsecured tokens (alg none) are accepted".into(),
        ));
    }
    decode(parts[1], "payload")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    fn response(authz: &str, payload: &str) -> Vec<u8> {
        let token = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(payload));
        format!("n,{authz},\u{1}auth=Bearer {token}\u{1}\u{1}").into_bytes()
    }

    #[test]
    fn unsecured_tokens() {
        let v = Validator::default();
        let now = 1_700_000_000_000;
        let ok = response("", r#"{"sub":"alice","iat":1699999999,"exp":1700000100}"#);
        assert_eq!(
            v.validate(&ok, now).unwrap(),
            ("alice".to_string(), 1_700_000_100_000)
        );
        assert!(v
            .validate(
                &response("a=alice", r#"{"sub":"alice","exp":1700000100}"#),
                now
            )
            .is_ok());
        let refused = |r: Vec<u8>| v.validate(&r, now).unwrap_err();
        assert!(refused(response("", r#"{"sub":"alice","exp":1699999999}"#))
            .message
            .contains("expired"));
        refused(response("", r#"{"sub":"alice"}"#));
        refused(response("", r#"{"exp":1700000100}"#));
        refused(response("a=bob", r#"{"sub":"alice","exp":1700000100}"#));
        refused(response(
            "",
            r#"{"sub":"a","iat":1800000000,"exp":1900000000}"#,
        ));
        refused(b"n,,\x01auth=Bearer x.y.z\x01\x01".to_vec());
        refused(b"garbage".to_vec());
        let signed = format!(
            "n,,\u{1}auth=Bearer {}.{}.\u{1}\u{1}",
            b64(r#"{"alg":"RS256"}"#),
            b64(r#"{"sub":"a","exp":1900000000}"#)
        );
        refused(signed.into_bytes());
        assert_eq!(
            refused(response("", r#"{"exp":1700000100}"#)).challenge(),
            br#"{"status":"invalid_token"}"#
        );
    }

    #[test]
    fn required_scope_and_claim_names() {
        let mut props = std::collections::BTreeMap::new();
        props.insert(
            "listener.name.oauth.oauthbearer.sasl.jaas.config".to_string(),
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredValidatorPrincipalClaimName=\"user\" unsecuredValidatorRequiredScope=\"kafka\";".to_string(),
        );
        let c = Config::from_props(props).unwrap().for_listener("OAUTH");
        let v = Validator::from_config(&c);
        let now = 1_700_000_000_000;
        assert!(v
            .validate(
                &response(
                    "",
                    r#"{"user":"svc","scope":"kafka other","exp":1700000100}"#
                ),
                now
            )
            .is_ok());
        let e = v
            .validate(
                &response("", r#"{"user":"svc","scope":"other","exp":1700000100}"#),
                now,
            )
            .unwrap_err();
        assert_eq!(
            e.challenge(),
            br#"{"scope":"kafka","status":"insufficient_scope"}"#
        );
    }
}
