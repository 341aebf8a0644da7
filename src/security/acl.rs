//! ACLs and the authorizer, with the semantics of Kafka's StandardAuthorizer: bindings of
//! (resource type, name, pattern LITERAL/PREFIXED) to (principal, host, operation,
//! ALLOW/DENY); DENY wins; ALL covers every operation and READ/WRITE/DELETE/ALTER imply
//! DESCRIBE, ALTER_CONFIGS implies DESCRIBE_CONFIGS; `*` matches any name, principal or host;
//! `super.users` may do anything; a resource no binding matches at all is allowed only with
//! `allow.everyone.if.no.acl.found=true`. Bindings are durable in `weir-acls.json`.
//! The authorizer is active when `authorizer.class.name` is set, as in Kafka.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use crate::config::Config;

pub mod resource {
    pub const ANY: i8 = 1;
    pub const TOPIC: i8 = 2;
    pub const GROUP: i8 = 3;
    pub const CLUSTER: i8 = 4;
    pub const TRANSACTIONAL_ID: i8 = 5;
}

pub mod pattern {
    pub const ANY: i8 = 1;
    pub const MATCH: i8 = 2;
    pub const LITERAL: i8 = 3;
    pub const PREFIXED: i8 = 4;
}

pub mod op {
    pub const ANY: i8 = 1;
    pub const ALL: i8 = 2;
    pub const READ: i8 = 3;
    pub const WRITE: i8 = 4;
    pub const CREATE: i8 = 5;
    pub const DELETE: i8 = 6;
    pub const ALTER: i8 = 7;
    pub const DESCRIBE: i8 = 8;
    pub const CLUSTER_ACTION: i8 = 9;
    pub const DESCRIBE_CONFIGS: i8 = 10;
    pub const ALTER_CONFIGS: i8 = 11;
    pub const IDEMPOTENT_WRITE: i8 = 12;
}

pub mod permission {
    pub const ANY: i8 = 1;
    pub const DENY: i8 = 2;
    pub const ALLOW: i8 = 3;
}

pub const CLUSTER_NAME: &str = "kafka-cluster";

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AclBinding {
    pub resource_type: i8,
    pub resource_name: String,
    pub pattern_type: i8,
    pub principal: String,
    pub host: String,
    pub operation: i8,
    pub permission: i8,
}

impl AclBinding {
    /// Whether CreateAcls may create this binding (Kafka's checks; the message is the answer).
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(
            self.resource_type,
            resource::TOPIC
                | resource::GROUP
                | resource::CLUSTER
                | resource::TRANSACTIONAL_ID
                | 6
                | 7
        ) {
            return Err(format!("Invalid resource type {}", self.resource_type));
        }
        if !matches!(self.pattern_type, pattern::LITERAL | pattern::PREFIXED) {
            return Err("Invalid pattern type: only LITERAL and PREFIXED can be created".into());
        }
        if !(op::ALL..=14).contains(&self.operation) {
            return Err(format!("Invalid operation {}", self.operation));
        }
        if !matches!(self.permission, permission::ALLOW | permission::DENY) {
            return Err(format!("Invalid permission type {}", self.permission));
        }
        if !self.principal.contains(':') {
            return Err(format!(
                "Invalid principal {}: expected TYPE:NAME",
                self.principal
            ));
        }
        if self.resource_name.is_empty() {
            return Err("Resource name must not be empty".into());
        }
        Ok(())
    }
}

impl From<&crate::metadata::image::AclImage> for AclBinding {
    fn from(a: &crate::metadata::image::AclImage) -> AclBinding {
        AclBinding {
            resource_type: a.resource_type,
            resource_name: a.resource_name.clone(),
            pattern_type: a.pattern_type,
            principal: a.principal.clone(),
            host: a.host.clone(),
            operation: a.operation,
            permission: a.permission_type,
        }
    }
}

/// A filter as DescribeAcls / DeleteAcls carry it (None = any).
#[derive(Clone, Debug)]
pub struct AclFilter {
    pub resource_type: i8,
    pub resource_name: Option<String>,
    pub pattern_type: i8,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: i8,
    pub permission: i8,
}

impl AclFilter {
    pub fn matches(&self, b: &AclBinding) -> bool {
        let rt = self.resource_type == resource::ANY || self.resource_type == b.resource_type;
        let name_and_pattern = match (self.pattern_type, &self.resource_name) {
            (pattern::MATCH, Some(n)) => {
                b.pattern_type == pattern::LITERAL
                    && (b.resource_name == "*" || &b.resource_name == n)
                    || b.pattern_type == pattern::PREFIXED && n.starts_with(&b.resource_name)
            }
            (pattern::MATCH, None) | (pattern::ANY, None) => true,
            (pattern::ANY, Some(n)) => &b.resource_name == n,
            (p, n) => p == b.pattern_type && n.as_ref().is_none_or(|n| *n == b.resource_name),
        };
        rt && name_and_pattern
            && self.principal.as_ref().is_none_or(|p| *p == b.principal)
            && self.host.as_ref().is_none_or(|h| *h == b.host)
            && (self.operation == op::ANY || self.operation == b.operation)
            && (self.permission == permission::ANY || self.permission == b.permission)
    }
}

pub struct Authorizer {
    enabled: bool,
    super_users: Vec<String>,
    allow_if_no_acl: bool,
    path: PathBuf,
    acls: RwLock<Vec<AclBinding>>,
}

fn implied(requested: i8, granted: i8) -> bool {
    granted == requested
        || granted == op::ALL
        || requested == op::DESCRIBE
            && matches!(granted, op::READ | op::WRITE | op::DELETE | op::ALTER)
        || requested == op::DESCRIBE_CONFIGS && granted == op::ALTER_CONFIGS
}

fn resource_matches(b: &AclBinding, resource_type: i8, name: &str) -> bool {
    b.resource_type == resource_type
        && match b.pattern_type {
            pattern::LITERAL => b.resource_name == "*" || b.resource_name == name,
            pattern::PREFIXED => name.starts_with(&b.resource_name),
            _ => false,
        }
}

impl Authorizer {
    pub fn open(config: &Config, dir: &Path) -> std::io::Result<Authorizer> {
        let path = dir.join("weir-acls.json");
        let acls: Vec<AclBinding> = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| std::io::Error::other(format!("weir-acls.json: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(Authorizer {
            enabled: config
                .props
                .get("authorizer.class.name")
                .is_some_and(|v| !v.trim().is_empty()),
            super_users: config
                .props
                .get("super.users")
                .map(|s| {
                    s.split(';')
                        .map(|p| p.trim().to_string())
                        .filter(|p| !p.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            allow_if_no_acl: config
                .props
                .get("allow.everyone.if.no.acl.found")
                .is_some_and(|v| v.trim() == "true"),
            path,
            acls: RwLock::new(acls),
        })
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether `principal` from `host` may do `operation` on the resource.
    pub fn authorize(
        &self,
        principal: &str,
        host: &str,
        operation: i8,
        resource_type: i8,
        name: &str,
    ) -> bool {
        if !self.enabled || self.super_users.iter().any(|s| s == principal) {
            return true;
        }
        let acls = self.acls.read().unwrap_or_else(|p| p.into_inner());
        let mut any_for_resource = false;
        let mut allowed = false;
        for b in acls
            .iter()
            .filter(|b| resource_matches(b, resource_type, name))
        {
            any_for_resource = true;
            let who = b.principal == principal || b.principal == "User:*";
            let from = b.host == "*" || b.host == host;
            if !(who && from) {
                continue;
            }
            if b.permission == permission::DENY
                && (b.operation == operation || b.operation == op::ALL)
            {
                return false;
            }
            if b.permission == permission::ALLOW && implied(operation, b.operation) {
                allowed = true;
            }
        }
        allowed || !any_for_resource && self.allow_if_no_acl
    }

    /// Whether `principal` may do `operation` on at least one resource of the type, the question
    /// Kafka asks (KIP-679) to let a principal with WRITE on some topic produce idempotently
    /// without IDEMPOTENT_WRITE on the cluster. An ALLOW counts unless a DENY covers it whole.
    pub fn authorize_by_resource_type(
        &self,
        principal: &str,
        host: &str,
        operation: i8,
        resource_type: i8,
    ) -> bool {
        if !self.enabled || self.super_users.iter().any(|s| s == principal) {
            return true;
        }
        let acls = self.acls.read().unwrap_or_else(|p| p.into_inner());
        let relevant = acls.iter().filter(|b| {
            b.resource_type == resource_type
                && (b.principal == principal || b.principal == "User:*")
                && (b.host == "*" || b.host == host)
                && (b.operation == operation || b.operation == op::ALL)
        });
        let (mut deny_literal, mut deny_prefix) = (Vec::new(), Vec::new());
        let (mut allow_literal, mut allow_prefix) = (Vec::new(), Vec::new());
        for b in relevant {
            let name = b.resource_name.as_str();
            match (b.permission, b.pattern_type) {
                (permission::DENY, pattern::LITERAL) if name == "*" => return false,
                (permission::DENY, pattern::LITERAL) => deny_literal.push(name),
                (permission::DENY, pattern::PREFIXED) => deny_prefix.push(name),
                (permission::ALLOW, pattern::LITERAL) => allow_literal.push(name),
                (permission::ALLOW, pattern::PREFIXED) => allow_prefix.push(name),
                _ => {}
            }
        }
        let prefix_denied = |n: &str| deny_prefix.iter().any(|d| n.starts_with(d));
        allow_prefix.iter().any(|a| !prefix_denied(a))
            || allow_literal
                .iter()
                .any(|a| *a == "*" || !deny_literal.contains(a) && !prefix_denied(a))
    }

    fn persist(&self, acls: &[AclBinding]) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(acls).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(tmp, &self.path)
    }

    pub fn create(&self, bindings: Vec<AclBinding>) -> std::io::Result<()> {
        let mut acls = self.acls.write().unwrap_or_else(|p| p.into_inner());
        for b in bindings {
            if !acls.contains(&b) {
                acls.push(b);
            }
        }
        self.persist(&acls)
    }

    pub fn describe(&self, f: &AclFilter) -> Vec<AclBinding> {
        self.acls
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|b| f.matches(b))
            .cloned()
            .collect()
    }

    /// Every binding (a single node's, for its upgrade into a cluster).
    pub fn all(&self) -> Vec<AclBinding> {
        self.acls.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// On a cluster: the bindings in the metadata log become this broker's, and its
    /// `weir-acls.json` keeps them as the last known set for the next start.
    pub fn set_from_metadata(&self, bindings: Vec<AclBinding>) {
        let mut acls = self.acls.write().unwrap_or_else(|p| p.into_inner());
        if *acls == bindings {
            return;
        }
        *acls = bindings;
        if let Err(e) = self.persist(&acls) {
            tracing::warn!("could not write {}: {e}", self.path.display());
        }
    }

    pub fn delete(&self, f: &AclFilter) -> std::io::Result<Vec<AclBinding>> {
        let mut acls = self.acls.write().unwrap_or_else(|p| p.into_inner());
        let (gone, kept): (Vec<_>, Vec<_>) = acls.drain(..).partition(|b| f.matches(b));
        *acls = kept;
        self.persist(&acls)?;
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn binding(rt: i8, name: &str, pt: i8, principal: &str, o: i8, perm: i8) -> AclBinding {
        AclBinding {
            resource_type: rt,
            resource_name: name.into(),
            pattern_type: pt,
            principal: principal.into(),
            host: "*".into(),
            operation: o,
            permission: perm,
        }
    }

    #[test]
    fn standard_authorizer_semantics() {
        let dir = tempfile::tempdir().unwrap();
        let mut props = BTreeMap::new();
        props.insert(
            "authorizer.class.name".to_string(),
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer".to_string(),
        );
        props.insert("super.users".to_string(), "User:admin".to_string());
        let a = Authorizer::open(&Config::from_props(props).unwrap(), dir.path()).unwrap();
        a.create(vec![
            binding(
                resource::TOPIC,
                "orders-",
                pattern::PREFIXED,
                "User:alice",
                op::WRITE,
                permission::ALLOW,
            ),
            binding(
                resource::TOPIC,
                "orders-secret",
                pattern::LITERAL,
                "User:alice",
                op::WRITE,
                permission::DENY,
            ),
        ])
        .unwrap();
        assert!(a.authorize(
            "User:alice",
            "1.2.3.4",
            op::WRITE,
            resource::TOPIC,
            "orders-eu"
        ));
        assert!(
            a.authorize(
                "User:alice",
                "1.2.3.4",
                op::DESCRIBE,
                resource::TOPIC,
                "orders-eu"
            ),
            "WRITE implies DESCRIBE"
        );
        assert!(
            !a.authorize(
                "User:alice",
                "1.2.3.4",
                op::WRITE,
                resource::TOPIC,
                "orders-secret"
            ),
            "DENY wins"
        );
        assert!(!a.authorize(
            "User:alice",
            "1.2.3.4",
            op::READ,
            resource::TOPIC,
            "orders-eu"
        ));
        assert!(!a.authorize(
            "User:bob",
            "1.2.3.4",
            op::WRITE,
            resource::TOPIC,
            "orders-eu"
        ));
        assert!(
            !a.authorize("User:bob", "1.2.3.4", op::READ, resource::TOPIC, "other"),
            "no ACL found: denied by default"
        );
        assert!(a.authorize(
            "User:admin",
            "1.2.3.4",
            op::ALTER,
            resource::CLUSTER,
            CLUSTER_NAME
        ));
        let f = AclFilter {
            resource_type: resource::TOPIC,
            resource_name: Some("orders-secret".into()),
            pattern_type: pattern::MATCH,
            principal: None,
            host: None,
            operation: op::ANY,
            permission: permission::ANY,
        };
        assert_eq!(
            a.describe(&f).len(),
            2,
            "MATCH finds the literal and the prefix binding"
        );
        drop(a);
        let mut props = BTreeMap::new();
        props.insert("authorizer.class.name".to_string(), "x".to_string());
        let a = Authorizer::open(&Config::from_props(props).unwrap(), dir.path()).unwrap();
        assert_eq!(a.delete(&f).unwrap().len(), 2, "bindings are durable");
    }
}
