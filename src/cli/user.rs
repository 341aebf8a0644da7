//! `weir user list|set|delete`: SCRAM credentials over DescribeUserScramCredentials and
//! AlterUserScramCredentials. The salted password (RFC 5802 `Hi()`, i.e. PBKDF2 with
//! HMAC-SHA-256/512) is computed here, as Kafka's own tools do; the password never leaves the
//! client.

use clap::{Args, Subcommand};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;

use super::output::{json, out, Table};
use super::{connect, CliError, CliResult, Common, OutputFormat};
use crate::client::ClientError;

#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub cmd: UserCmd,
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Users with SCRAM credentials (all, or the named ones).
    List { names: Vec<String> },
    /// Create or replace a user's SCRAM credential.
    Set {
        name: String,
        /// The password; read from the first line of stdin when not given (keeps it out of
        /// the process list).
        #[arg(long)]
        password: Option<String>,
        /// SCRAM-SHA-256 or SCRAM-SHA-512.
        #[arg(long, default_value = "SCRAM-SHA-256")]
        mechanism: String,
        /// PBKDF2 iterations (Kafka's minimum is 4096).
        #[arg(long, default_value_t = 4096)]
        iterations: i32,
    },
    /// Delete a user's SCRAM credential.
    Delete {
        name: String,
        /// SCRAM-SHA-256 or SCRAM-SHA-512.
        #[arg(long, default_value = "SCRAM-SHA-256")]
        mechanism: String,
    },
}

/// Kafka's ScramMechanism codes.
fn mechanism_code(s: &str) -> CliResult<i8> {
    match s.to_ascii_uppercase().as_str() {
        "SCRAM-SHA-256" => Ok(1),
        "SCRAM-SHA-512" => Ok(2),
        _ => Err(CliError::Usage(format!(
            "--mechanism {s} is not SCRAM-SHA-256 or SCRAM-SHA-512"
        ))),
    }
}

fn mechanism_name(c: i8) -> &'static str {
    match c {
        1 => "SCRAM-SHA-256",
        2 => "SCRAM-SHA-512",
        _ => "UNKNOWN",
    }
}

/// RFC 5802 `Hi(password, salt, iterations)` for the mechanism's hash.
pub fn salted_password(mechanism: i8, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    match mechanism {
        2 => {
            let mut out = [0u8; 64];
            pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, iterations, &mut out);
            out.to_vec()
        }
        _ => {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, &mut out);
            out.to_vec()
        }
    }
}

#[derive(Serialize)]
struct Credential {
    user: String,
    mechanism: &'static str,
    iterations: i32,
}

pub async fn run(args: UserArgs) -> CliResult {
    let fmt = args.common.output;
    match args.cmd {
        UserCmd::List { names } => {
            let mut client = connect(&args.common).await?;
            let resp = client
                .admin()
                .await?
                .call(|_| {
                    let mut r = DescribeUserScramCredentialsRequest::default();
                    r.users = (!names.is_empty()).then(|| {
                        names
                            .iter()
                            .map(|n| {
                                let mut u = UserName::default();
                                u.name = StrBytes::from_string(n.clone());
                                u
                            })
                            .collect()
                    });
                    r
                })
                .await?;
            ClientError::check(
                resp.error_code,
                resp.error_message.as_ref().map(|m| m.as_str()),
            )?;
            let mut creds = Vec::new();
            for r in resp.results {
                ClientError::check(r.error_code, r.error_message.as_ref().map(|m| m.as_str()))?;
                for c in r.credential_infos {
                    creds.push(Credential {
                        user: r.user.as_str().to_string(),
                        mechanism: mechanism_name(c.mechanism),
                        iterations: c.iterations,
                    });
                }
            }
            match fmt {
                OutputFormat::Json => json(&creds),
                OutputFormat::Table => {
                    let mut t = Table::new(&["USER", "MECHANISM", "ITERATIONS"]);
                    for c in &creds {
                        t.row(vec![
                            c.user.clone(),
                            c.mechanism.into(),
                            c.iterations.to_string(),
                        ]);
                    }
                    t.print()
                }
            }
        }
        UserCmd::Set {
            name,
            password,
            mechanism,
            iterations,
        } => {
            let mech = mechanism_code(&mechanism)?;
            let password = match password {
                Some(p) => p,
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| CliError::Usage(format!("cannot read the password: {e}")))?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            if password.is_empty() {
                return Err(CliError::Usage("the password is empty".into()));
            }
            if iterations < 1 {
                return Err(CliError::Usage("--iterations must be positive".into()));
            }
            let salt: [u8; 32] = rand::random();
            let salted = salted_password(mech, password.as_bytes(), &salt, iterations as u32);
            let mut u = ScramCredentialUpsertion::default();
            u.name = StrBytes::from_string(name.clone());
            u.mechanism = mech;
            u.iterations = iterations;
            u.salt = bytes::Bytes::copy_from_slice(&salt);
            u.salted_password = bytes::Bytes::from(salted);
            alter(&args.common, vec![u], Vec::new()).await?;
            match fmt {
                OutputFormat::Json => json(&serde_json::json!({ "user": name, "set": true })),
                OutputFormat::Table => out(&format!(
                    "Set {} credential for user '{name}'.\n",
                    mechanism_name(mech)
                )),
            }
        }
        UserCmd::Delete { name, mechanism } => {
            let mech = mechanism_code(&mechanism)?;
            let mut d = ScramCredentialDeletion::default();
            d.name = StrBytes::from_string(name.clone());
            d.mechanism = mech;
            alter(&args.common, Vec::new(), vec![d]).await?;
            match fmt {
                OutputFormat::Json => json(&serde_json::json!({ "user": name, "deleted": true })),
                OutputFormat::Table => out(&format!(
                    "Deleted {} credential for user '{name}'.\n",
                    mechanism_name(mech)
                )),
            }
        }
    }
}

async fn alter(
    common: &Common,
    upsertions: Vec<ScramCredentialUpsertion>,
    deletions: Vec<ScramCredentialDeletion>,
) -> CliResult {
    let mut client = connect(common).await?;
    let resp = client
        .admin()
        .await?
        .call(|_| {
            let mut r = AlterUserScramCredentialsRequest::default();
            r.upsertions = upsertions;
            r.deletions = deletions;
            r
        })
        .await?;
    for r in resp.results {
        ClientError::check(r.error_code, r.error_message.as_ref().map(|m| m.as_str()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salted_password_is_rfc_hi() {
        // RFC 7677's SCRAM-SHA-256 example: user "user", password "pencil",
        // salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations; SaltedPassword from its proof.
        let salt = [
            0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36,
            0xfa, 0x81,
        ];
        let sp = salted_password(1, b"pencil", &salt, 4096);
        assert_eq!(sp.len(), 32);
        let hex: String = sp.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d"
        );
        assert_eq!(salted_password(2, b"pencil", &salt, 4096).len(), 64);
    }
}
