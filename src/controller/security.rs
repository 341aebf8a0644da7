//! ACLs and SCRAM credentials as cluster metadata (Kafka's AclControlManager and
//! ScramControlManager): CreateAcls, DeleteAcls and AlterUserScramCredentials become
//! AccessControlEntry / RemoveAccessControlEntry and UserScramCredential /
//! RemoveUserScramCredential records, so every broker authorizes and authenticates alike.

use std::collections::HashSet;

use uuid::Uuid;

use super::Controller;
use crate::metadata::image::{AclImage, ScramImage};
use crate::metadata::MetadataRecord;
use crate::security::acl::{AclBinding, AclFilter};
use crate::security::users::{plan_alterations, Alteration, Upsertion};

const INVALID_REQUEST: i16 = 42;

/// Per CreateAcls entry: created (or already there), or Kafka's error code and message.
pub type Creation = Result<(), (i16, String)>;

/// Per AlterUserScramCredentials entry: user, error code, message.
pub type ScramResult = (String, i16, Option<String>);

fn image_of(b: &AclBinding) -> AclImage {
    AclImage {
        resource_type: b.resource_type,
        resource_name: b.resource_name.clone(),
        pattern_type: b.pattern_type,
        principal: b.principal.clone(),
        host: b.host.clone(),
        operation: b.operation,
        permission_type: b.permission,
    }
}

impl Controller {
    /// One result per binding; a binding that already exists is created again as a no-op.
    pub fn create_acls(&self, bindings: &[AclBinding]) -> (Vec<MetadataRecord>, Vec<Creation>) {
        let mut records = Vec::new();
        let mut results = Vec::with_capacity(bindings.len());
        let mut added: Vec<AclImage> = Vec::new();
        for b in bindings {
            if let Err(m) = b.validate() {
                results.push(Err((INVALID_REQUEST, m)));
                continue;
            }
            let img = image_of(b);
            if !self.image.acls.values().any(|a| *a == img) && !added.contains(&img) {
                records.push(MetadataRecord::AccessControlEntry {
                    id: Uuid::new_v4(),
                    resource_type: img.resource_type,
                    resource_name: img.resource_name.clone(),
                    pattern_type: img.pattern_type,
                    principal: img.principal.clone(),
                    host: img.host.clone(),
                    operation: img.operation,
                    permission_type: img.permission_type,
                });
                added.push(img);
            }
            results.push(Ok(()));
        }
        (records, results)
    }

    /// The bindings each filter removes; a binding matched by several filters is listed under
    /// the first, as Kafka does.
    pub fn delete_acls(
        &self,
        filters: &[AclFilter],
    ) -> (Vec<MetadataRecord>, Vec<Vec<AclBinding>>) {
        let mut records = Vec::new();
        let mut gone: HashSet<Uuid> = HashSet::new();
        let mut results = Vec::with_capacity(filters.len());
        for f in filters {
            let mut matched = Vec::new();
            for (id, a) in &self.image.acls {
                let b = AclBinding::from(a);
                if !gone.contains(id) && f.matches(&b) {
                    gone.insert(*id);
                    records.push(MetadataRecord::RemoveAccessControlEntry { id: *id });
                    matched.push(b);
                }
            }
            results.push(matched);
        }
        (records, results)
    }

    /// (user, error code, message) per entry, deletions first.
    pub fn alter_scram(
        &self,
        deletions: &[(String, i8)],
        upsertions: &[Upsertion],
    ) -> (Vec<MetadataRecord>, Vec<ScramResult>) {
        let plan = plan_alterations(deletions, upsertions, |u, m| {
            self.image.scram.contains_key(&(u.to_string(), m.id()))
        });
        let mut records = Vec::new();
        let mut results = Vec::with_capacity(plan.len());
        for a in plan {
            match a {
                Alteration::Delete { user, mechanism } => {
                    records.push(MetadataRecord::RemoveUserScramCredential {
                        name: user.clone(),
                        mechanism: mechanism.id(),
                    });
                    results.push((user, 0, None));
                }
                Alteration::Upsert {
                    user,
                    mechanism,
                    credential,
                } => {
                    records.push(MetadataRecord::UserScramCredential {
                        name: user.clone(),
                        mechanism: mechanism.id(),
                        salt: credential.salt,
                        stored_key: credential.stored_key,
                        server_key: credential.server_key,
                        iterations: credential.iterations as i32,
                    });
                    results.push((user, 0, None));
                }
                Alteration::Refused {
                    user,
                    code,
                    message,
                } => results.push((user, code, Some(message))),
            }
        }
        (records, results)
    }
}

/// The credential a UserScramCredential record holds.
pub fn credential_of(s: &ScramImage) -> crate::security::scram::Credential {
    crate::security::scram::Credential {
        salt: s.salt.clone(),
        iterations: s.iterations.max(0) as u32,
        stored_key: s.stored_key.clone(),
        server_key: s.server_key.clone(),
    }
}
