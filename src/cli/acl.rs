//! `weir acl list|create|delete` over DescribeAcls, CreateAcls and DeleteAcls, with
//! `kafka-acls.sh`'s flags. A broker that does not advertise the API gets
//! `UNSUPPORTED_VERSION: the broker does not support <API>` (exit 1).

use clap::{Args, Subcommand};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;

use super::output::{json, out, Table};
use super::{connect, CliError, CliResult, Common, OutputFormat};
use crate::client::ClientError;

#[derive(Args, Debug)]
pub struct AclArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub cmd: AclCmd,
}

/// Principals, hosts, operations and resources, as `kafka-acls.sh` takes them.
#[derive(Args, Debug, Clone, Default)]
pub struct AclSpec {
    /// Principal to allow, e.g. User:alice. Repeatable.
    #[arg(long = "allow-principal")]
    pub allow_principal: Vec<String>,
    /// Principal to deny. Repeatable.
    #[arg(long = "deny-principal")]
    pub deny_principal: Vec<String>,
    /// Host allowed ('*' if not given). Repeatable.
    #[arg(long = "allow-host")]
    pub allow_host: Vec<String>,
    /// Host denied ('*' if not given). Repeatable.
    #[arg(long = "deny-host")]
    pub deny_host: Vec<String>,
    /// Operation: All, Read, Write, Create, Delete, Alter, Describe, ClusterAction,
    /// DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens, DescribeTokens.
    #[arg(long = "operation")]
    pub operation: Vec<String>,
    /// Topic resource. Repeatable.
    #[arg(long)]
    pub topic: Vec<String>,
    /// Group resource. Repeatable.
    #[arg(long)]
    pub group: Vec<String>,
    /// The cluster resource.
    #[arg(long)]
    pub cluster: bool,
    /// Transactional id resource. Repeatable.
    #[arg(long = "transactional-id")]
    pub transactional_id: Vec<String>,
    /// literal (default), prefixed; for list/delete also any, match.
    #[arg(long = "resource-pattern-type")]
    pub resource_pattern_type: Option<String>,
    /// Only with this principal (list).
    #[arg(long)]
    pub principal: Option<String>,
    /// Accepted for kafka-acls.sh compatibility (never prompts anyway).
    #[arg(long, hide = true)]
    pub force: bool,
}

#[derive(Subcommand, Debug)]
pub enum AclCmd {
    /// List ACLs (all, or those matching the resources/principal given).
    List(AclSpec),
    /// Create ACLs: every principal x host x operation x resource.
    Create(AclSpec),
    /// Delete ACLs matching the filters.
    Delete(AclSpec),
}

fn resource_type_name(t: i8) -> &'static str {
    match t {
        1 => "Any",
        2 => "Topic",
        3 => "Group",
        4 => "Cluster",
        5 => "TransactionalId",
        6 => "DelegationToken",
        7 => "User",
        _ => "Unknown",
    }
}

const OPERATIONS: &[(&str, i8)] = &[
    ("any", 1),
    ("all", 2),
    ("read", 3),
    ("write", 4),
    ("create", 5),
    ("delete", 6),
    ("alter", 7),
    ("describe", 8),
    ("clusteraction", 9),
    ("describeconfigs", 10),
    ("alterconfigs", 11),
    ("idempotentwrite", 12),
    ("createtokens", 13),
    ("describetokens", 14),
];

fn operation_code(s: &str) -> CliResult<i8> {
    let k = s.to_ascii_lowercase().replace(['_', '-'], "");
    OPERATIONS
        .iter()
        .find(|(n, _)| *n == k)
        .map(|(_, c)| *c)
        .ok_or_else(|| CliError::Usage(format!("unknown ACL operation '{s}'")))
}

fn operation_name(c: i8) -> &'static str {
    match c {
        1 => "Any",
        2 => "All",
        3 => "Read",
        4 => "Write",
        5 => "Create",
        6 => "Delete",
        7 => "Alter",
        8 => "Describe",
        9 => "ClusterAction",
        10 => "DescribeConfigs",
        11 => "AlterConfigs",
        12 => "IdempotentWrite",
        13 => "CreateTokens",
        14 => "DescribeTokens",
        _ => "Unknown",
    }
}

fn pattern_code(s: Option<&str>, default: i8) -> CliResult<i8> {
    match s.map(|s| s.to_ascii_lowercase()) {
        None => Ok(default),
        Some(s) => match s.as_str() {
            "any" => Ok(1),
            "match" => Ok(2),
            "literal" => Ok(3),
            "prefixed" => Ok(4),
            _ => Err(CliError::Usage(format!(
                "--resource-pattern-type {s} is not literal, prefixed, match or any"
            ))),
        },
    }
}

fn pattern_name(c: i8) -> &'static str {
    match c {
        1 => "ANY",
        2 => "MATCH",
        3 => "LITERAL",
        4 => "PREFIXED",
        _ => "UNKNOWN",
    }
}

fn permission_name(c: i8) -> &'static str {
    match c {
        2 => "DENY",
        3 => "ALLOW",
        1 => "ANY",
        _ => "UNKNOWN",
    }
}

impl AclSpec {
    fn resources(&self) -> Vec<(i8, String)> {
        let mut r = Vec::new();
        r.extend(self.topic.iter().map(|t| (2, t.clone())));
        r.extend(self.group.iter().map(|g| (3, g.clone())));
        if self.cluster {
            r.push((4, "kafka-cluster".into()));
        }
        r.extend(self.transactional_id.iter().map(|t| (5, t.clone())));
        r
    }

    /// (permission, principal, host) triples.
    fn bindings(&self) -> Vec<(i8, String, String)> {
        let mut out = Vec::new();
        for (perm, principals, hosts) in [
            (3i8, &self.allow_principal, &self.allow_host),
            (2i8, &self.deny_principal, &self.deny_host),
        ] {
            let hosts: Vec<String> = if hosts.is_empty() {
                vec!["*".into()]
            } else {
                hosts.clone()
            };
            for p in principals {
                for h in &hosts {
                    out.push((perm, p.clone(), h.clone()));
                }
            }
        }
        out
    }

    fn operations(&self, default: i8) -> CliResult<Vec<i8>> {
        if self.operation.is_empty() {
            return Ok(vec![default]);
        }
        self.operation.iter().map(|o| operation_code(o)).collect()
    }
}

#[derive(Serialize)]
struct Acl {
    resource_type: &'static str,
    resource_name: String,
    pattern_type: &'static str,
    principal: String,
    host: String,
    operation: &'static str,
    permission: &'static str,
}

pub async fn run(args: AclArgs) -> CliResult {
    let fmt = args.common.output;
    match args.cmd {
        AclCmd::Create(spec) => {
            let resources = spec.resources();
            let bindings = spec.bindings();
            if resources.is_empty() {
                return Err(CliError::Usage(
                    "give a resource: --topic, --group, --cluster or --transactional-id".into(),
                ));
            }
            if bindings.is_empty() {
                return Err(CliError::Usage(
                    "give --allow-principal or --deny-principal".into(),
                ));
            }
            let pattern = pattern_code(spec.resource_pattern_type.as_deref(), 3)?;
            if !matches!(pattern, 3 | 4) {
                return Err(CliError::Usage(
                    "ACLs are created with a literal or prefixed pattern".into(),
                ));
            }
            let mut creations = Vec::new();
            for op in spec.operations(2)? {
                for (rt, name) in &resources {
                    for (perm, principal, host) in &bindings {
                        let mut c = AclCreation::default();
                        c.resource_type = *rt;
                        c.resource_name = StrBytes::from_string(name.clone());
                        c.resource_pattern_type = pattern;
                        c.principal = StrBytes::from_string(principal.clone());
                        c.host = StrBytes::from_string(host.clone());
                        c.operation = op;
                        c.permission_type = *perm;
                        creations.push(c);
                    }
                }
            }
            let n = creations.len();
            let mut client = connect(&args.common).await?;
            let resp = client
                .admin()
                .await?
                .call(|_| {
                    let mut r = CreateAclsRequest::default();
                    r.creations = creations;
                    r
                })
                .await?;
            for r in resp.results {
                ClientError::check(r.error_code, r.error_message.as_ref().map(|m| m.as_str()))?;
            }
            match fmt {
                OutputFormat::Json => json(&serde_json::json!({ "created": n })),
                OutputFormat::Table => out(&format!("Created {n} ACL(s).\n")),
            }
        }
        AclCmd::List(spec) => {
            let pattern = pattern_code(spec.resource_pattern_type.as_deref(), 1)?;
            let mut filters: Vec<(i8, Option<String>)> = spec
                .resources()
                .into_iter()
                .map(|(t, n)| (t, Some(n)))
                .collect();
            if filters.is_empty() {
                filters.push((1, None));
            }
            let mut client = connect(&args.common).await?;
            let mut acls = Vec::new();
            for (rt, name) in filters {
                let principal = spec.principal.clone();
                let resp = client
                    .admin()
                    .await?
                    .call(|_| {
                        let mut r = DescribeAclsRequest::default();
                        r.resource_type_filter = rt;
                        r.resource_name_filter = name.map(StrBytes::from_string);
                        r.pattern_type_filter = pattern;
                        r.principal_filter = principal.map(StrBytes::from_string);
                        r.host_filter = None;
                        r.operation = 1;
                        r.permission_type = 1;
                        r
                    })
                    .await?;
                ClientError::check(
                    resp.error_code,
                    resp.error_message.as_ref().map(|m| m.as_str()),
                )?;
                for res in resp.resources {
                    for a in res.acls {
                        acls.push(Acl {
                            resource_type: resource_type_name(res.resource_type),
                            resource_name: res.resource_name.as_str().to_string(),
                            pattern_type: pattern_name(res.pattern_type),
                            principal: a.principal.as_str().to_string(),
                            host: a.host.as_str().to_string(),
                            operation: operation_name(a.operation),
                            permission: permission_name(a.permission_type),
                        });
                    }
                }
            }
            print_acls(fmt, &acls)
        }
        AclCmd::Delete(spec) => {
            let pattern = pattern_code(spec.resource_pattern_type.as_deref(), 3)?;
            let resources = spec.resources();
            if resources.is_empty() {
                return Err(CliError::Usage(
                    "give a resource: --topic, --group, --cluster or --transactional-id".into(),
                ));
            }
            let mut bindings: Vec<(i8, Option<String>, Option<String>)> = spec
                .bindings()
                .into_iter()
                .map(|(perm, p, h)| (perm, Some(p), Some(h)))
                .collect();
            if bindings.is_empty() {
                bindings.push((1, None, None));
            }
            let mut filters = Vec::new();
            for op in spec.operations(1)? {
                for (rt, name) in &resources {
                    for (perm, principal, host) in &bindings {
                        let mut f = DeleteAclsFilter::default();
                        f.resource_type_filter = *rt;
                        f.resource_name_filter = Some(StrBytes::from_string(name.clone()));
                        f.pattern_type_filter = pattern;
                        f.principal_filter = principal.clone().map(StrBytes::from_string);
                        f.host_filter = host.clone().map(StrBytes::from_string);
                        f.operation = op;
                        f.permission_type = *perm;
                        filters.push(f);
                    }
                }
            }
            let mut client = connect(&args.common).await?;
            let resp = client
                .admin()
                .await?
                .call(|_| {
                    let mut r = DeleteAclsRequest::default();
                    r.filters = filters;
                    r
                })
                .await?;
            let mut deleted = Vec::new();
            for fr in resp.filter_results {
                ClientError::check(fr.error_code, fr.error_message.as_ref().map(|m| m.as_str()))?;
                for m in fr.matching_acls {
                    ClientError::check(m.error_code, m.error_message.as_ref().map(|x| x.as_str()))?;
                    deleted.push(Acl {
                        resource_type: resource_type_name(m.resource_type),
                        resource_name: m.resource_name.as_str().to_string(),
                        pattern_type: pattern_name(m.pattern_type),
                        principal: m.principal.as_str().to_string(),
                        host: m.host.as_str().to_string(),
                        operation: operation_name(m.operation),
                        permission: permission_name(m.permission_type),
                    });
                }
            }
            print_acls(fmt, &deleted)
        }
    }
}

fn print_acls(fmt: OutputFormat, acls: &[Acl]) -> CliResult {
    match fmt {
        OutputFormat::Json => json(&acls),
        OutputFormat::Table => {
            let mut t = Table::new(&[
                "RESOURCE-TYPE",
                "RESOURCE-NAME",
                "PATTERN",
                "PRINCIPAL",
                "HOST",
                "OPERATION",
                "PERMISSION",
            ]);
            for a in acls {
                t.row(vec![
                    a.resource_type.into(),
                    a.resource_name.clone(),
                    a.pattern_type.into(),
                    a.principal.clone(),
                    a.host.clone(),
                    a.operation.into(),
                    a.permission.into(),
                ]);
            }
            t.print()
        }
    }
}
