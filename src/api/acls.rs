//! ACL administration: CreateAcls, DescribeAcls, DeleteAcls (ALTER / DESCRIBE on the cluster).

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::*;

use crate::broker::BrokerState;
use crate::security::acl::{op, resource, AclBinding, AclFilter, CLUSTER_NAME};

use super::{allowed, code, str};

const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const SECURITY_DISABLED: i16 = 54;

fn disabled_message() -> Option<kafka_protocol::protocol::StrBytes> {
    Some(str(
        "No Authorizer is configured on the broker (authorizer.class.name)",
    ))
}

/// A CreateAcls entry as a binding.
pub fn binding(c: &kafka_protocol::messages::create_acls_request::AclCreation) -> AclBinding {
    AclBinding {
        resource_type: c.resource_type,
        resource_name: c.resource_name.as_str().to_string(),
        pattern_type: c.resource_pattern_type,
        principal: c.principal.as_str().to_string(),
        host: c.host.as_str().to_string(),
        operation: c.operation,
        permission: c.permission_type,
    }
}

/// The controller's CreateAcls answer (`Err`: its metadata log could not be written).
pub fn creation_response(
    results: Result<Vec<crate::controller::security::Creation>, String>,
    n: usize,
) -> CreateAclsResponse {
    let results = results.unwrap_or_else(|e| vec![Err((code::UNKNOWN_SERVER_ERROR, e)); n]);
    let mut resp = CreateAclsResponse::default();
    resp.results = results
        .into_iter()
        .map(|r| {
            let mut a = AclCreationResult::default();
            if let Err((c, m)) = r {
                a.error_code = c;
                a.error_message = Some(str(m));
            }
            a
        })
        .collect();
    resp
}

pub async fn handle_create(
    state: &BrokerState,
    req: CreateAclsRequest,
    _version: i16,
) -> CreateAclsResponse {
    let permitted = allowed(state, op::ALTER, resource::CLUSTER, CLUSTER_NAME);
    if let (Some(rm), true, true) = (&state.replicas, state.authorizer.enabled(), permitted) {
        // On a cluster the controller records the bindings, for every broker at once.
        let wanted: Vec<AclBinding> = req.creations.iter().map(binding).collect();
        let n = wanted.len();
        let resp = super::controller::forward(rm, req)
            .await
            .unwrap_or_else(|e| creation_response(Err(format!("controller unreachable: {e}")), n));
        let created: Vec<&AclBinding> = wanted
            .iter()
            .zip(&resp.results)
            .filter(|(_, r)| r.error_code == code::NONE)
            .map(|(b, _)| b)
            .collect();
        super::controller::await_metadata(rm, |img| {
            created
                .iter()
                .all(|b| img.acls.values().any(|a| AclBinding::from(a) == **b))
        })
        .await;
        return resp;
    }
    let mut resp = CreateAclsResponse::default();
    for c in req.creations {
        let mut r = AclCreationResult::default();
        if !state.authorizer.enabled() {
            r.error_code = SECURITY_DISABLED;
            r.error_message = disabled_message();
        } else if !permitted {
            r.error_code = CLUSTER_AUTHORIZATION_FAILED;
        } else {
            let b = binding(&c);
            match b
                .validate()
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

/// A DeleteAcls filter.
pub fn deletion_filter(
    f: &kafka_protocol::messages::delete_acls_request::DeleteAclsFilter,
) -> AclFilter {
    filter(
        f.resource_type_filter,
        f.resource_name_filter.as_ref(),
        f.pattern_type_filter,
        f.principal_filter.as_ref(),
        f.host_filter.as_ref(),
        f.operation,
        f.permission_type,
    )
}

/// A binding as DeleteAcls reports it removed.
fn matched_binding(m: &DeleteAclsMatchingAcl) -> AclBinding {
    AclBinding {
        resource_type: m.resource_type,
        resource_name: m.resource_name.as_str().to_string(),
        pattern_type: m.pattern_type,
        principal: m.principal.as_str().to_string(),
        host: m.host.as_str().to_string(),
        operation: m.operation,
        permission: m.permission_type,
    }
}

fn filter_result(gone: Vec<AclBinding>) -> DeleteAclsFilterResult {
    let mut r = DeleteAclsFilterResult::default();
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
    r
}

/// The controller's DeleteAcls answer for `n` filters (`Err`: its metadata log could not be
/// written; every filter fails).
pub fn deletion_response(
    results: Result<Vec<Vec<AclBinding>>, String>,
    n: usize,
) -> DeleteAclsResponse {
    let mut resp = DeleteAclsResponse::default();
    match results {
        Ok(per_filter) => resp.filter_results = per_filter.into_iter().map(filter_result).collect(),
        Err(e) => {
            tracing::error!("DeleteAcls: {e}");
            resp.filter_results = (0..n)
                .map(|_| {
                    let mut r = DeleteAclsFilterResult::default();
                    r.error_code = code::UNKNOWN_SERVER_ERROR;
                    r.error_message = Some(str(e.clone()));
                    r
                })
                .collect();
        }
    }
    resp
}

pub async fn handle_delete(
    state: &BrokerState,
    req: DeleteAclsRequest,
    _version: i16,
) -> DeleteAclsResponse {
    let permitted = allowed(state, op::ALTER, resource::CLUSTER, CLUSTER_NAME);
    if let (Some(rm), true, true) = (&state.replicas, state.authorizer.enabled(), permitted) {
        let n = req.filters.len();
        let resp = match super::controller::forward(rm, req).await {
            Ok(r) => r,
            Err(e) => {
                let mut resp = DeleteAclsResponse::default();
                resp.filter_results = (0..n)
                    .map(|_| {
                        let mut r = DeleteAclsFilterResult::default();
                        r.error_code = code::UNKNOWN_SERVER_ERROR;
                        r.error_message = Some(str(format!("controller unreachable: {e}")));
                        r
                    })
                    .collect();
                resp
            }
        };
        let gone: Vec<AclBinding> = resp
            .filter_results
            .iter()
            .flat_map(|r| r.matching_acls.iter())
            .map(matched_binding)
            .collect();
        super::controller::await_metadata(rm, |img| {
            !img.acls
                .values()
                .any(|a| gone.contains(&AclBinding::from(a)))
        })
        .await;
        return resp;
    }
    let mut resp = DeleteAclsResponse::default();
    for f in req.filters {
        let r = if !state.authorizer.enabled() {
            let mut r = DeleteAclsFilterResult::default();
            r.error_code = SECURITY_DISABLED;
            r.error_message = disabled_message();
            r
        } else if !permitted {
            let mut r = DeleteAclsFilterResult::default();
            r.error_code = CLUSTER_AUTHORIZATION_FAILED;
            r
        } else {
            match state.authorizer.delete(&deletion_filter(&f)) {
                Ok(gone) => filter_result(gone),
                Err(e) => {
                    let mut r = DeleteAclsFilterResult::default();
                    r.error_code = code::UNKNOWN_SERVER_ERROR;
                    r.error_message = Some(str(e.to_string()));
                    r
                }
            }
        };
        resp.filter_results.push(r);
    }
    resp
}
