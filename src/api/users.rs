//! SCRAM user administration (DescribeUserScramCredentials, AlterUserScramCredentials), and the
//! SASL requests arriving on a listener that does not use SASL.

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::*;

use crate::broker::BrokerState;
use crate::security::sasl::ILLEGAL_SASL_STATE;
use crate::security::users::{plan_alterations, Alteration, Upsertion};

use super::{code, str};

const RESOURCE_NOT_FOUND: i16 = 91;
const DUPLICATE_RESOURCE: i16 = 92;
const REQUEST_TIMED_OUT: i16 = 7;

pub async fn handle_describe(
    state: &BrokerState,
    req: DescribeUserScramCredentialsRequest,
    _version: i16,
) -> DescribeUserScramCredentialsResponse {
    let mut resp = DescribeUserScramCredentialsResponse::default();
    if !super::allowed(
        state,
        crate::security::acl::op::DESCRIBE,
        crate::security::acl::resource::CLUSTER,
        crate::security::acl::CLUSTER_NAME,
    ) {
        resp.error_code = code::CLUSTER_AUTHORIZATION_FAILED;
        return resp;
    }
    let names: Option<Vec<String>> = req
        .users
        .map(|u| u.iter().map(|n| n.name.as_str().to_string()).collect());
    if let Some(n) = &names {
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = n.iter().find(|x| !seen.insert(*x)) {
            resp.error_code = DUPLICATE_RESOURCE;
            resp.error_message = Some(str(format!("Cannot describe SCRAM credentials for the same user twice in a single request: {dup}")));
            return resp;
        }
    }
    for (user, info) in state.users.describe(names.as_deref()) {
        let mut r = DescribeUserScramCredentialsResult::default();
        r.user = str(user.clone());
        match info {
            Some(list) => {
                r.error_code = code::NONE;
                r.credential_infos = list
                    .into_iter()
                    .map(|(m, it)| {
                        let mut c = CredentialInfo::default();
                        c.mechanism = m.id();
                        c.iterations = it as i32;
                        c
                    })
                    .collect();
            }
            None => {
                r.error_code = RESOURCE_NOT_FOUND;
                r.error_message = Some(str(format!(
                    "Attempt to describe a user credential that does not exist: {user}"
                )));
            }
        }
        resp.results.push(r);
    }
    resp
}

pub async fn handle_alter(
    state: &BrokerState,
    req: AlterUserScramCredentialsRequest,
    _version: i16,
) -> AlterUserScramCredentialsResponse {
    let mut resp = AlterUserScramCredentialsResponse::default();
    let result = |user: &str, code: i16, msg: Option<String>| {
        let mut r = AlterUserScramCredentialsResult::default();
        r.user = str(user.to_string());
        r.error_code = code;
        r.error_message = msg.map(str);
        r
    };
    if !super::allowed(
        state,
        crate::security::acl::op::ALTER,
        crate::security::acl::resource::CLUSTER,
        crate::security::acl::CLUSTER_NAME,
    ) {
        for name in req
            .deletions
            .iter()
            .map(|d| &d.name)
            .chain(req.upsertions.iter().map(|u| &u.name))
        {
            resp.results.push(result(
                name.as_str(),
                code::CLUSTER_AUTHORIZATION_FAILED,
                None,
            ));
        }
        return resp;
    }
    let (deletions, upsertions) = scram_entries(&req);
    if let Some(rm) = &state.replicas {
        return forward_alter(rm, req, &deletions, &upsertions).await;
    }
    let plan = plan_alterations(&deletions, &upsertions, |u, m| {
        state.users.credential(u, m).is_some()
    });
    for a in plan {
        resp.results.push(match a {
            Alteration::Delete { user, mechanism } => match state.users.delete(&user, mechanism) {
                Ok(_) => result(&user, code::NONE, None),
                Err(e) => result(&user, code::UNKNOWN_SERVER_ERROR, Some(e.to_string())),
            },
            Alteration::Upsert {
                user,
                mechanism,
                credential,
            } => match state.users.upsert(&user, mechanism, credential) {
                Ok(()) => result(&user, code::NONE, None),
                Err(e) => result(&user, code::UNKNOWN_SERVER_ERROR, Some(e.to_string())),
            },
            Alteration::Refused {
                user,
                code,
                message,
            } => result(&user, code, Some(message)),
        });
    }
    resp
}

/// The request's deletions and upsertions as plain data.
pub fn scram_entries(
    req: &AlterUserScramCredentialsRequest,
) -> (Vec<(String, i8)>, Vec<Upsertion>) {
    let deletions = req
        .deletions
        .iter()
        .map(|d| (d.name.as_str().to_string(), d.mechanism))
        .collect();
    let upsertions = req
        .upsertions
        .iter()
        .map(|u| {
            (
                u.name.as_str().to_string(),
                u.mechanism,
                u.iterations,
                u.salt.to_vec(),
                u.salted_password.to_vec(),
            )
        })
        .collect();
    (deletions, upsertions)
}

/// On a cluster the controller decides and records the change; the answer comes back once
/// this broker's metadata shows it, so a login right after succeeds here.
async fn forward_alter(
    rm: &crate::replica::ReplicaManager,
    req: AlterUserScramCredentialsRequest,
    deletions: &[(String, i8)],
    upsertions: &[Upsertion],
) -> AlterUserScramCredentialsResponse {
    match super::controller::forward(rm, req).await {
        Ok(resp) => {
            let ok: std::collections::HashSet<String> = resp
                .results
                .iter()
                .filter(|r| r.error_code == code::NONE)
                .map(|r| r.user.as_str().to_string())
                .collect();
            super::controller::await_metadata(rm, |img| {
                deletions
                    .iter()
                    .filter(|(u, _)| ok.contains(u))
                    .all(|(u, m)| !img.scram.contains_key(&(u.clone(), *m)))
                    && upsertions
                        .iter()
                        .filter(|(u, ..)| ok.contains(u))
                        .all(|(u, m, ..)| img.scram.contains_key(&(u.clone(), *m)))
            })
            .await;
            resp
        }
        Err(e) => {
            tracing::warn!("AlterUserScramCredentials: the controller is unreachable ({e})");
            let mut resp = AlterUserScramCredentialsResponse::default();
            resp.results = deletions
                .iter()
                .map(|(u, _)| u)
                .chain(upsertions.iter().map(|(u, ..)| u))
                .map(|u| {
                    let mut r = AlterUserScramCredentialsResult::default();
                    r.user = str(u.clone());
                    r.error_code = REQUEST_TIMED_OUT;
                    r
                })
                .collect();
            resp
        }
    }
}

/// SaslHandshake on a listener without SASL: Kafka answers ILLEGAL_SASL_STATE.
pub async fn handle_handshake_without_sasl(
    _state: &BrokerState,
    _req: SaslHandshakeRequest,
    _version: i16,
) -> SaslHandshakeResponse {
    let mut resp = SaslHandshakeResponse::default();
    resp.error_code = ILLEGAL_SASL_STATE;
    resp
}

pub async fn handle_authenticate_without_sasl(
    _state: &BrokerState,
    _req: SaslAuthenticateRequest,
    _version: i16,
) -> SaslAuthenticateResponse {
    let mut resp = SaslAuthenticateResponse::default();
    resp.error_code = ILLEGAL_SASL_STATE;
    resp.error_message = Some(str("SASL is not enabled on this listener"));
    resp
}
