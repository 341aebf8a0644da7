//! ACL administration: CreateAcls, DescribeAcls, DeleteAcls (ALTER / DESCRIBE on the cluster).

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::*;

use crate::broker::BrokerState;
use crate::security::acl::{
    op, pattern, permission, resource, AclBinding, AclFilter, CLUSTER_NAME,
};

use super::{allowed, code, str};

const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const SECURITY_DISABLED: i16 = 54;

fn disabled_message() -> Option<kafka_protocol::protocol::StrBytes> {
    Some(str(
        "No Authorizer is configured on the broker (authorizer.class.name)",
    ))
}

fn valid(b: &AclBinding) -> Result<(), String> {
    if !matches!(
        b.resource_type,
        resource::TOPIC | resource::GROUP | resource::CLUSTER | resource::TRANSACTIONAL_ID | 6 | 7
    ) {
        return Err(format!("Invalid resource type {}", b.resource_type));
    }
    if !matches!(b.pattern_type, pattern::LITERAL | pattern::PREFIXED) {
        return Err("Invalid pattern type: only LITERAL and PREFIXED can be created".into());
    }
    if !(op::ALL..=14).contains(&b.operation) {
        return Err(format!("Invalid operation {}", b.operation));
    }
    if !matches!(b.permission, permission::ALLOW | permission::DENY) {
        return Err(format!("Invalid permission type {}", b.permission));
    }
    if !b.principal.contains(':') {
        return Err(format!(
            "Invalid principal {}: expected TYPE:NAME",
            b.principal
        ));
    }
    if b.resource_name.is_empty() {
        return Err("Resource name must not be empty".into());
    }
    Ok(())
}

pub async fn handle_create(
    state: &BrokerState,
    req: CreateAclsRequest,
    _version: i16,
) -> CreateAclsResponse {
    let mut resp = CreateAclsResponse::default();
    let permitted = allowed(state, op::ALTER, resource::CLUSTER, CLUSTER_NAME);
    for c in req.creations {
        let mut r = AclCreationResult::default();
        if !state.authorizer.enabled() {
            r.error_code = SECURITY_DISABLED;
            r.error_message = disabled_message();
        } else if !permitted {
            r.error_code = CLUSTER_AUTHORIZATION_FAILED;
        } else {
            let b = AclBinding {
                resource_type: c.resource_type,
                resource_name: c.resource_name.as_str().to_string(),
                pattern_type: c.resource_pattern_type,
                principal: c.principal.as_str().to_string(),
                host: c.host.as_str().to_string(),
                operation: c.operation,
                permission: c.permission_type,
            };
            match valid(&b)
                .map_err(|m| (code::INVALID_REQUEST, m))
                .and_then(|_| {
                    state
                        .authorizer
                        .create(vec![b])
                        .map_err(|e| (code::UNKNOWN_SERVER_ERROR, e.to_string()))
                }) {
                Ok(()) => r.error_code = code::NONE,
                Err((c, m)) => {
                    r.error_code = c;
                    r.error_message = Some(str(m));
                }
            }
        }
        resp.results.push(r);
    }
    resp
}

fn filter(
    rt: i8,
    name: Option<&kafka_protocol::protocol::StrBytes>,
    pt: i8,
    principal: Option<&kafka_protocol::protocol::StrBytes>,
    host: Option<&kafka_protocol::protocol::StrBytes>,
    operation: i8,
    perm: i8,
) -> AclFilter {
    AclFilter {
        resource_type: rt,
        resource_name: name.map(|s| s.as_str().to_string()),
        pattern_type: pt,
        principal: principal.map(|s| s.as_str().to_string()),
        host: host.map(|s| s.as_str().to_string()),
        operation,
        permission: perm,
    }
}

pub async fn handle_describe(
    state: &BrokerState,
    req: DescribeAclsRequest,
    _version: i16,
) -> DescribeAclsResponse {
    let mut resp = DescribeAclsResponse::default();
    if !state.authorizer.enabled() {
        resp.error_code = SECURITY_DISABLED;
        resp.error_message = disabled_message();
        return resp;
    }
    if !allowed(state, op::DESCRIBE, resource::CLUSTER, CLUSTER_NAME) {
        resp.error_code = CLUSTER_AUTHORIZATION_FAILED;
        return resp;
    }
    let f = filter(
        req.resource_type_filter,
        req.resource_name_filter.as_ref(),
        req.pattern_type_filter,
        req.principal_filter.as_ref(),
        req.host_filter.as_ref(),
        req.operation,
        req.permission_type,
    );
    let mut grouped: indexmap::IndexMap<(i8, String, i8), Vec<AclDescription>> = Default::default();
    for b in state.authorizer.describe(&f) {
        let mut d = AclDescription::default();
        d.principal = str(b.principal.clone());
        d.host = str(b.host.clone());
        d.operation = b.operation;
        d.permission_type = b.permission;
        grouped
            .entry((b.resource_type, b.resource_name, b.pattern_type))
            .or_default()
            .push(d);
    }
    resp.resources = grouped
        .into_iter()
        .map(|((rt, name, pt), acls)| {
            let mut r = DescribeAclsResource::default();
            r.resource_type = rt;
            r.resource_name = str(name);
            r.pattern_type = pt;
            r.acls = acls;
            r
        })
        .collect();
    resp
}

pub async fn handle_delete(
    state: &BrokerState,
    req: DeleteAclsRequest,
    _version: i16,
) -> DeleteAclsResponse {
    let mut resp = DeleteAclsResponse::default();
    let permitted = allowed(state, op::ALTER, resource::CLUSTER, CLUSTER_NAME);
    for f in req.filters {
        let mut r = DeleteAclsFilterResult::default();
        if !state.authorizer.enabled() {
            r.error_code = SECURITY_DISABLED;
            r.error_message = disabled_message();
        } else if !permitted {
            r.error_code = CLUSTER_AUTHORIZATION_FAILED;
        } else {
            let af = filter(
                f.resource_type_filter,
                f.resource_name_filter.as_ref(),
                f.pattern_type_filter,
                f.principal_filter.as_ref(),
                f.host_filter.as_ref(),
                f.operation,
                f.permission_type,
            );
            match state.authorizer.delete(&af) {
                Ok(gone) => {
                    r.matching_acls = gone
                        .into_iter()
                        .map(|b| {
                            let mut m = DeleteAclsMatchingAcl::default();
                            m.resource_type = b.resource_type;
                            m.resource_name = str(b.resource_name);
                            m.pattern_type = b.pattern_type;
                            m.principal = str(b.principal);
                            m.host = str(b.host);
                            m.operation = b.operation;
                            m.permission_type = b.permission;
                            m
                        })
                        .collect();
                }
                Err(e) => {
                    r.error_code = code::UNKNOWN_SERVER_ERROR;
                    r.error_message = Some(str(e.to_string()));
                }
            }
        }
        resp.filter_results.push(r);
    }
    resp
}
