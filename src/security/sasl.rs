//! The server side of SASL on one connection: SaslHandshake picks a mechanism, SaslAuthenticate
//! carries the mechanism's messages (PLAIN and OAUTHBEARER in one step, SCRAM in two). Until it succeeds only
//! ApiVersions and these two requests are served; a failure answers
//! SASL_AUTHENTICATION_FAILED and the connection closes.

use super::oauth;
use super::scram::{self, Mechanism};
use super::users::Users;

pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
pub const ILLEGAL_SASL_STATE: i16 = 34;
pub const SASL_AUTHENTICATION_FAILED: i16 = 58;

enum Step {
    /// Waiting for SaslHandshake.
    Start,
    /// Mechanism chosen, waiting for the first SaslAuthenticate.
    Chosen(String),
    /// SCRAM: server-first sent, waiting for client-final.
    ScramFinal {
        mechanism: Mechanism,
        user: String,
        credential: scram::Credential,
        client_first_bare: String,
        server_first: String,
        nonce: String,
    },
    /// OAUTHBEARER: the error challenge (held here) was sent; the client's 0x01 ends the
    /// exchange with that same JSON as the failure message.
    OAuthRefused(String),
    Done,
}

pub struct SaslSession {
    step: Step,
    pub principal: Option<String>,
    /// The mechanism of the current (or last) authentication.
    pub mechanism: Option<String>,
    /// When the credential itself expires (an OAUTHBEARER token's `exp`), in ms since the epoch.
    pub credential_expiry_ms: Option<i64>,
}

/// What a SaslAuthenticate produced.
pub enum AuthOutcome {
    /// Send these bytes; the exchange continues.
    Continue(Vec<u8>),
    /// Authenticated; send these bytes (SCRAM server-final, or empty).
    Done(Vec<u8>),
    /// Refused: error code and message; the connection closes after the response.
    Failed(i16, String),
}

impl Default for SaslSession {
    fn default() -> Self {
        SaslSession {
            step: Step::Start,
            principal: None,
            mechanism: None,
            credential_expiry_ms: None,
        }
    }
}

impl SaslSession {
    pub fn authenticated(&self) -> bool {
        matches!(self.step, Step::Done)
    }

    /// SaslHandshake: Ok(()) or the error code. A handshake after success starts a
    /// re-authentication (KIP-368).
    pub fn handshake(&mut self, mechanism: &str, enabled: &[String]) -> Result<(), i16> {
        if !enabled.iter().any(|m| m == mechanism) {
            return Err(UNSUPPORTED_SASL_MECHANISM);
        }
        match self.step {
            Step::Start | Step::Done => {
                self.step = Step::Chosen(mechanism.to_string());
                self.mechanism = Some(mechanism.to_string());
                Ok(())
            }
            _ => Err(ILLEGAL_SASL_STATE),
        }
    }

    pub fn authenticate(
        &mut self,
        bytes: &[u8],
        users: &Users,
        oauth: &oauth::Validator,
    ) -> AuthOutcome {
        let step = std::mem::replace(&mut self.step, Step::Start);
        match step {
            Step::Chosen(m) if m == "OAUTHBEARER" => {
                match oauth.validate(bytes, crate::log::segment::now_ms()) {
                    Ok((principal, expiry)) => {
                        self.principal = Some(format!("User:{principal}"));
                        self.credential_expiry_ms = Some(expiry);
                        self.step = Step::Done;
                        AuthOutcome::Done(Vec::new())
                    }
                    Err(refusal) => {
                        // The client sees only the RFC 7628 error JSON (twice: as the challenge,
                        // then as the failure message, as Kafka's OAuthBearerSaslServer does);
                        // the validator's reason is for the operator.
                        tracing::info!("OAUTHBEARER token refused: {}", refusal.message);
                        let challenge = refusal.challenge();
                        self.step =
                            Step::OAuthRefused(String::from_utf8_lossy(&challenge).into_owned());
                        AuthOutcome::Continue(challenge)
                    }
                }
            }
            Step::OAuthRefused(error_json) => {
                AuthOutcome::Failed(SASL_AUTHENTICATION_FAILED, error_json)
            }
            Step::Chosen(m) if m == "PLAIN" => {
                // authzid NUL authcid NUL password
                let parts: Vec<&[u8]> = bytes.split(|b| *b == 0).collect();
                if parts.len() != 3 {
                    return AuthOutcome::Failed(
                        SASL_AUTHENTICATION_FAILED,
                        "Invalid SASL/PLAIN response: expected 3 tokens".into(),
                    );
                }
                let (authz, user, pass) = (
                    String::from_utf8_lossy(parts[0]),
                    String::from_utf8_lossy(parts[1]),
                    String::from_utf8_lossy(parts[2]),
                );
                if !authz.is_empty() && authz != user {
                    return AuthOutcome::Failed(SASL_AUTHENTICATION_FAILED, "Authentication failed: Client requested an authorization id that is different from username".into());
                }
                if !users.verify_plain(&user, &pass) {
                    return AuthOutcome::Failed(
                        SASL_AUTHENTICATION_FAILED,
                        "Authentication failed: Invalid username or password".into(),
                    );
                }
                self.principal = Some(format!("User:{user}"));
                self.credential_expiry_ms = None;
                self.step = Step::Done;
                AuthOutcome::Done(Vec::new())
            }
            Step::Chosen(m) => {
                let Some(mechanism) = Mechanism::from_name(&m) else {
                    return AuthOutcome::Failed(
                        UNSUPPORTED_SASL_MECHANISM,
                        format!("Unsupported SASL mechanism {m}"),
                    );
                };
                let msg = String::from_utf8_lossy(bytes);
                let (user, client_first_bare, client_nonce) = match scram::parse_client_first(&msg)
                {
                    Ok(x) => x,
                    Err(e) => {
                        return AuthOutcome::Failed(
                            SASL_AUTHENTICATION_FAILED,
                            format!("Authentication failed: {e}"),
                        )
                    }
                };
                let Some(credential) = users.credential(&user, mechanism) else {
                    return AuthOutcome::Failed(
                        SASL_AUTHENTICATION_FAILED,
                        "Authentication failed: Invalid user credentials".into(),
                    );
                };
                let (server_first, nonce) = scram::server_first(&client_nonce, &credential);
                self.step = Step::ScramFinal {
                    mechanism,
                    user,
                    credential,
                    client_first_bare,
                    server_first: server_first.clone(),
                    nonce,
                };
                AuthOutcome::Continue(server_first.into_bytes())
            }
            Step::ScramFinal {
                mechanism,
                user,
                credential,
                client_first_bare,
                server_first,
                nonce,
            } => {
                let msg = String::from_utf8_lossy(bytes);
                match scram::verify_client_final(
                    mechanism,
                    &credential,
                    &client_first_bare,
                    &server_first,
                    &nonce,
                    &msg,
                ) {
                    Ok(server_final) => {
                        self.principal = Some(format!("User:{user}"));
                        self.credential_expiry_ms = None;
                        self.step = Step::Done;
                        AuthOutcome::Done(server_final.into_bytes())
                    }
                    Err(e) => AuthOutcome::Failed(SASL_AUTHENTICATION_FAILED, e),
                }
            }
            Step::Start | Step::Done => AuthOutcome::Failed(
                ILLEGAL_SASL_STATE,
                "SaslAuthenticate before a SaslHandshake".into(),
            ),
        }
    }
}
