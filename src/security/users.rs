//! SCRAM users: name → credentials per mechanism, salted and hashed, persisted to
//! `weir-users.json` in the data directory (written atomically). PLAIN logins check against
//! the same credentials, so one user works with every mechanism.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use super::scram::{Credential, Mechanism};

const FILE: &str = "weir-users.json";

/// (mechanism, iterations) of each credential a user has.
pub type MechanismIterations = Vec<(Mechanism, u32)>;
const BOOTSTRAP_ITERATIONS: u32 = 4096;

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Stored {
    users: BTreeMap<String, BTreeMap<String, Credential>>,
}

pub struct Users {
    path: PathBuf,
    users: RwLock<BTreeMap<String, BTreeMap<Mechanism, Credential>>>,
    /// The `sasl.users` credentials, kept so a cluster's user list (from the metadata log)
    /// still holds them where it does not name them.
    bootstrap: RwLock<Vec<(String, Mechanism, Credential)>>,
}

impl Users {
    /// Loads the store; `bootstrap` (`sasl.users`, `name:password,...`) adds users that do not
    /// exist yet, with both SCRAM mechanisms.
    pub fn open(dir: &Path, bootstrap: Option<&str>) -> std::io::Result<Users> {
        let path = dir.join(FILE);
        let stored: Stored = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| std::io::Error::other(format!("{FILE}: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stored::default(),
            Err(e) => return Err(e),
        };
        let mut users = BTreeMap::new();
        for (name, creds) in stored.users {
            let mut m = BTreeMap::new();
            for (mech, c) in creds {
                if let Some(mech) = Mechanism::from_name(&mech) {
                    m.insert(mech, c);
                }
            }
            users.insert(name, m);
        }
        let store = Users {
            path,
            users: RwLock::new(users),
            bootstrap: RwLock::new(Vec::new()),
        };
        if let Some(list) = bootstrap {
            let mut added = false;
            for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let Some((name, password)) = entry.split_once(':') else {
                    continue;
                };
                let mut u = store.users.write().unwrap_or_else(|p| p.into_inner());
                let creds = u.entry(name.to_string()).or_default();
                for m in [Mechanism::Sha256, Mechanism::Sha512] {
                    let c = creds
                        .entry(m)
                        .or_insert_with(|| {
                            added = true;
                            Credential::from_password(m, password, BOOTSTRAP_ITERATIONS)
                        })
                        .clone();
                    store
                        .bootstrap
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((name.to_string(), m, c));
                }
            }
            if added {
                store.persist()?;
            }
        }
        Ok(store)
    }

    fn persist(&self) -> std::io::Result<()> {
        let u = self.users.read().unwrap_or_else(|p| p.into_inner());
        let stored = Stored {
            users: u
                .iter()
                .map(|(n, m)| {
                    (
                        n.clone(),
                        m.iter()
                            .map(|(k, v)| (k.name().to_string(), v.clone()))
                            .collect(),
                    )
                })
                .collect(),
        };
        let json = serde_json::to_vec_pretty(&stored).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(tmp, &self.path)
    }

    pub fn credential(&self, user: &str, m: Mechanism) -> Option<Credential> {
        self.users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)?
            .get(&m)
            .cloned()
    }

    /// PLAIN: the password checked against any stored credential of the user.
    pub fn verify_plain(&self, user: &str, password: &str) -> bool {
        let creds = self
            .users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
            .cloned();
        creds.is_some_and(|c| c.iter().any(|(m, cred)| cred.verify_password(*m, password)))
    }

    /// (mechanism, iterations) per user; all users when `names` is None.
    pub fn describe(&self, names: Option<&[String]>) -> Vec<(String, Option<MechanismIterations>)> {
        let u = self.users.read().unwrap_or_else(|p| p.into_inner());
        let list: Vec<String> = match names {
            Some(n) => n.to_vec(),
            None => u.keys().cloned().collect(),
        };
        list.into_iter()
            .map(|n| {
                let info = u
                    .get(&n)
                    .map(|m| m.iter().map(|(k, c)| (*k, c.iterations)).collect());
                (n, info)
            })
            .collect()
    }

    pub fn upsert(&self, user: &str, m: Mechanism, cred: Credential) -> std::io::Result<()> {
        self.users
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(user.to_string())
            .or_default()
            .insert(m, cred);
        self.persist()
    }

    /// Returns false if there was no such credential.
    pub fn delete(&self, user: &str, m: Mechanism) -> std::io::Result<bool> {
        let removed = {
            let mut u = self.users.write().unwrap_or_else(|p| p.into_inner());
            let removed = u.get_mut(user).and_then(|c| c.remove(&m)).is_some();
            if u.get(user).is_some_and(|c| c.is_empty()) {
                u.remove(user);
            }
            removed
        };
        if removed {
            self.persist()?;
        }
        Ok(removed)
    }

    /// Every credential (a single node's, for its upgrade into a cluster).
    pub fn all(&self) -> Vec<(String, Mechanism, Credential)> {
        self.users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .flat_map(|(n, m)| m.iter().map(move |(k, c)| (n.clone(), *k, c.clone())))
            .collect()
    }

    /// On a cluster: the credentials in the metadata log (plus `sasl.users` where the log has
    /// none for that user and mechanism) become this broker's, and `weir-users.json` keeps
    /// them as the last known set for the next start.
    pub fn set_from_metadata(&self, creds: Vec<(String, Mechanism, Credential)>) {
        let mut next: BTreeMap<String, BTreeMap<Mechanism, Credential>> = BTreeMap::new();
        for (n, m, c) in creds {
            next.entry(n).or_default().insert(m, c);
        }
        for (n, m, c) in self
            .bootstrap
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            next.entry(n.clone())
                .or_default()
                .entry(*m)
                .or_insert_with(|| c.clone());
        }
        {
            let mut u = self.users.write().unwrap_or_else(|p| p.into_inner());
            if *u == next {
                return;
            }
            *u = next;
        }
        if let Err(e) = self.persist() {
            tracing::warn!("could not write {}: {e}", self.path.display());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }
}

/// One entry of an AlterUserScramCredentials request, decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Alteration {
    Delete {
        user: String,
        mechanism: Mechanism,
    },
    Upsert {
        user: String,
        mechanism: Mechanism,
        credential: Credential,
    },
    Refused {
        user: String,
        code: i16,
        message: String,
    },
}

/// An upsertion as the request carries it: user, mechanism id, iterations, salt, salted
/// password.
pub type Upsertion = (String, i8, i32, Vec<u8>, Vec<u8>);

/// Kafka's checks for AlterUserScramCredentials, deletions first, then upsertions (the order
/// of the answer); `exists` tells whether a credential is stored. The same rules serve a
/// single broker's store and the cluster controller's metadata.
pub fn plan_alterations(
    deletions: &[(String, i8)],
    upsertions: &[Upsertion],
    exists: impl Fn(&str, Mechanism) -> bool,
) -> Vec<Alteration> {
    const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
    const RESOURCE_NOT_FOUND: i16 = 91;
    const UNACCEPTABLE_CREDENTIAL: i16 = 93;
    let refused = |user: &str, code: i16, message: String| Alteration::Refused {
        user: user.to_string(),
        code,
        message,
    };
    let mut out = Vec::with_capacity(deletions.len() + upsertions.len());
    for (user, mech) in deletions {
        out.push(match Mechanism::from_id(*mech) {
            None => refused(
                user,
                UNSUPPORTED_SASL_MECHANISM,
                "Unknown SCRAM mechanism".into(),
            ),
            Some(m) if !exists(user, m) => refused(
                user,
                RESOURCE_NOT_FOUND,
                format!("Attempt to delete a user credential that does not exist: {user}"),
            ),
            Some(m) => Alteration::Delete {
                user: user.clone(),
                mechanism: m,
            },
        });
    }
    for (user, mech, iterations, salt, salted) in upsertions {
        out.push(match Mechanism::from_id(*mech) {
            None => refused(
                user,
                UNSUPPORTED_SASL_MECHANISM,
                "Unknown SCRAM mechanism".into(),
            ),
            Some(m) if (*iterations as u32) < m.min_iterations() || *iterations > 16384 => refused(
                user,
                UNACCEPTABLE_CREDENTIAL,
                format!(
                    "Iterations {iterations} must be between {} and 16384",
                    m.min_iterations()
                ),
            ),
            Some(_) if user.is_empty() => refused(
                user,
                UNACCEPTABLE_CREDENTIAL,
                "Username must not be empty".into(),
            ),
            Some(m) => Alteration::Upsert {
                user: user.clone(),
                mechanism: m,
                credential: Credential::from_salted(m, salted, salt.clone(), *iterations as u32),
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_persist_hashed_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let u = Users::open(dir.path(), Some("alice:secret, bob:pw")).unwrap();
        assert!(u.verify_plain("alice", "secret"));
        assert!(!u.verify_plain("alice", "wrong"));
        assert!(!u.verify_plain("carol", "secret"));
        drop(u);
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(!text.contains("secret"), "no plain passwords on disk");
        let u = Users::open(dir.path(), None).unwrap();
        assert!(u.verify_plain("bob", "pw"));
        assert!(u.delete("bob", Mechanism::Sha256).unwrap());
        assert!(u.delete("bob", Mechanism::Sha512).unwrap());
        assert!(!u.verify_plain("bob", "pw"));
        assert_eq!(u.describe(None).len(), 1);
    }
}
