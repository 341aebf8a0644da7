//! SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka uses it: credentials are stored
//! as (salt, iterations, StoredKey, ServerKey), never the password; the server side of the
//! exchange verifies the client proof and answers with its signature.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Mechanism {
    Sha256,
    Sha512,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Sha256 => "SCRAM-SHA-256",
            Mechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(n: &str) -> Option<Mechanism> {
        match n {
            "SCRAM-SHA-256" => Some(Mechanism::Sha256),
            "SCRAM-SHA-512" => Some(Mechanism::Sha512),
            _ => None,
        }
    }

    /// The ScramMechanism type ids of the Describe/AlterUserScramCredentials APIs.
    pub fn from_id(id: i8) -> Option<Mechanism> {
        match id {
            1 => Some(Mechanism::Sha256),
            2 => Some(Mechanism::Sha512),
            _ => None,
        }
    }

    pub fn id(self) -> i8 {
        match self {
            Mechanism::Sha256 => 1,
            Mechanism::Sha512 => 2,
        }
    }

    /// Kafka's minimum iteration count.
    pub fn min_iterations(self) -> u32 {
        4096
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => {
                let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Mechanism::Sha512 => {
                let mut m = <Hmac<Sha512> as Mac>::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => Sha256::digest(data).to_vec(),
            Mechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// Hi(password, salt, i) = PBKDF2 with this mechanism's HMAC.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            Mechanism::Sha512 => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }
}

/// What the broker stores for one user and mechanism.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Credential {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl Credential {
    /// From a salted password (what AlterUserScramCredentials carries).
    pub fn from_salted(m: Mechanism, salted: &[u8], salt: Vec<u8>, iterations: u32) -> Credential {
        let client_key = m.hmac(salted, b"Client Key");
        Credential {
            salt,
            iterations,
            stored_key: m.hash(&client_key),
            server_key: m.hmac(salted, b"Server Key"),
        }
    }

    pub fn from_password(m: Mechanism, password: &str, iterations: u32) -> Credential {
        let salt: [u8; 24] = rand::random();
        let salted = m.salted_password(password.as_bytes(), &salt, iterations);
        Credential::from_salted(m, &salted, salt.to_vec(), iterations)
    }

    /// Checks a plain password (SASL/PLAIN against the same store), in constant time.
    pub fn verify_password(&self, m: Mechanism, password: &str) -> bool {
        let salted = m.salted_password(password.as_bytes(), &self.salt, self.iterations);
        let stored = m.hash(&m.hmac(&salted, b"Client Key"));
        constant_eq(&stored, &self.stored_key)
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parses client-first (`n,,n=user,r=nonce`): (username, bare message, client nonce).
pub fn parse_client_first(msg: &str) -> Result<(String, String, String), String> {
    let rest = msg
        .strip_prefix("n,")
        .or_else(|| msg.strip_prefix("y,"))
        .ok_or("SCRAM channel binding is not supported")?;
    let (authzid, bare) = rest
        .split_once(',')
        .ok_or("malformed client-first message")?;
    if !authzid.is_empty() && !authzid.starts_with("a=") {
        return Err("malformed authorization identity".into());
    }
    let mut user = None;
    let mut nonce = None;
    for part in bare.split(',') {
        if let Some(u) = part.strip_prefix("n=") {
            user = Some(u.replace("=2C", ",").replace("=3D", "="));
        } else if let Some(r) = part.strip_prefix("r=") {
            nonce = Some(r.to_string());
        } else if part.starts_with("m=") {
            return Err("SCRAM extensions that must be understood are not supported".into());
        }
    }
    let user = user.ok_or("client-first message without a user name")?;
    let nonce = nonce
        .filter(|n| !n.is_empty())
        .ok_or("client-first message without a nonce")?;
    Ok((user, bare.to_string(), nonce))
}

/// The server-first message for a known user.
pub fn server_first(client_nonce: &str, cred: &Credential) -> (String, String) {
    let ours: [u8; 18] = rand::random();
    let nonce = format!("{client_nonce}{}", B64.encode(ours));
    let msg = format!(
        "r={nonce},s={},i={}",
        B64.encode(&cred.salt),
        cred.iterations
    );
    (msg, nonce)
}

/// Verifies client-final; returns server-final (`v=...`) on success.
pub fn verify_client_final(
    m: Mechanism,
    cred: &Credential,
    client_first_bare: &str,
    server_first: &str,
    nonce: &str,
    client_final: &str,
) -> Result<String, String> {
    let (without_proof, proof) = client_final
        .rsplit_once(",p=")
        .ok_or("client-final message without a proof")?;
    let mut got_nonce = None;
    for part in without_proof.split(',') {
        if let Some(r) = part.strip_prefix("r=") {
            got_nonce = Some(r);
        }
    }
    if got_nonce != Some(nonce) {
        return Err("Invalid nonce".into());
    }
    let proof = B64.decode(proof).map_err(|_| "malformed client proof")?;
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let client_signature = m.hmac(&cred.stored_key, auth_message.as_bytes());
    if proof.len() != client_signature.len() {
        return Err("Invalid client proof".into());
    }
    let client_key: Vec<u8> = proof
        .iter()
        .zip(&client_signature)
        .map(|(a, b)| a ^ b)
        .collect();
    if !constant_eq(&m.hash(&client_key), &cred.stored_key) {
        return Err("Authentication failed: Invalid user credentials".into());
    }
    let server_signature = m.hmac(&cred.server_key, auth_message.as_bytes());
    Ok(format!("v={}", B64.encode(server_signature)))
}

/// The client's side of the exchange: from the server-first message, the client-final message
/// and the server-final message to expect (`v=...`). A server that asks for more than a million
/// iterations is refused rather than obeyed.
pub fn client_final(
    m: Mechanism,
    password: &str,
    client_first_bare: &str,
    client_nonce: &str,
    server_first: &str,
) -> Result<(String, String), String> {
    let (mut nonce, mut salt, mut iterations) = (None, None, None);
    for part in server_first.split(',') {
        if part.starts_with("m=") {
            return Err("server-first message with a mandatory extension".into());
        }
        if let Some(r) = part.strip_prefix("r=") {
            nonce = Some(r);
        } else if let Some(s) = part.strip_prefix("s=") {
            salt = B64.decode(s).ok();
        } else if let Some(i) = part.strip_prefix("i=") {
            iterations = i.parse::<u32>().ok();
        }
    }
    let nonce = nonce
        .filter(|n| n.starts_with(client_nonce) && n.len() > client_nonce.len())
        .ok_or("server-first message with a bad nonce")?;
    let salt = salt.ok_or("server-first message without a salt")?;
    // Fewer than the mechanism's minimum would make the proof cheap to attack offline (Kafka's
    // client refuses it too); far more would only burn CPU.
    let iterations = iterations
        .filter(|i| (m.min_iterations()..=1_000_000).contains(i))
        .ok_or("server-first message with a bad iteration count")?;
    let salted = m.salted_password(password.as_bytes(), &salt, iterations);
    let client_key = m.hmac(&salted, b"Client Key");
    let stored_key = m.hash(&client_key);
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = m.hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let server_key = m.hmac(&salted, b"Server Key");
    let server_signature = m.hmac(&server_key, auth_message.as_bytes());
    Ok((
        format!("{without_proof},p={}", B64.encode(proof)),
        format!("v={}", B64.encode(server_signature)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's example from the client's side.
    #[test]
    fn rfc_7677_client_side() {
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (final_msg, server_final) = client_final(
            Mechanism::Sha256,
            "pencil",
            "n=user,r=rOprNGfwEbeRWgbNEkqO",
            "rOprNGfwEbeRWgbNEkqO",
            server_first,
        )
        .unwrap();
        assert_eq!(final_msg, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        assert_eq!(
            server_final,
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        assert!(client_final(
            Mechanism::Sha256,
            "pencil",
            "n=user,r=abc",
            "abc",
            "r=xyz,s=AA==,i=4096"
        )
        .is_err());
    }

    /// The worked example of RFC 7677 (SCRAM-SHA-256), end to end.
    #[test]
    fn rfc_7677_example() {
        let m = Mechanism::Sha256;
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = m.salted_password(b"pencil", &salt, 4096);
        let cred = Credential::from_salted(m, &salted, salt, 4096);
        let client_first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let client_final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        let v = verify_client_final(
            m,
            &cred,
            client_first_bare,
            server_first,
            "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            client_final,
        )
        .unwrap();
        assert_eq!(v, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assert!(cred.verify_password(m, "pencil"));
        assert!(!cred.verify_password(m, "pen"));
        let bad = client_final.replace("p=dHz", "p=dHy");
        assert!(verify_client_final(
            m,
            &cred,
            client_first_bare,
            server_first,
            "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            &bad
        )
        .is_err());
        let (user, bare, nonce) = parse_client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(
            (user.as_str(), bare.as_str(), nonce.as_str()),
            ("user", client_first_bare, "rOprNGfwEbeRWgbNEkqO")
        );
    }
}
