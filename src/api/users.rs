//! SCRAM user administration (DescribeUserScramCredentials, AlterUserScramCredentials), and the
//! SASL requests arriving on a listener that does not use SASL.

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::*;

use crate::broker::BrokerState;
use crate::security::sasl::ILLEGAL_SASL_STATE;
use crate::security::scram::{Credential, Mechanism};

use super::{code, str};

const RESOURCE_NOT_FOUND: i16 = 91;
const DUPLICATE_RESOURCE: i16 = 92;
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const UNACCEPTABLE_CREDENTIAL: i16 = 93;

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
    for d in &req.deletions {
        let user = d.name.as_str();
        let r = match Mechanism::from_id(d.mechanism) {
            None => result(
                user,
                UNSUPPORTED_SASL_MECHANISM,
                Some("Unknown SCRAM mechanism".into()),
            ),
            Some(m) => match state.users.delete(user, m) {
                Ok(true) => result(user, code::NONE, None),
                Ok(false) => result(
                    user,
                    RESOURCE_NOT_FOUND,
                    Some(format!(
                        "Attempt to delete a user credential that does not exist: {user}"
                    )),
                ),
                Err(e) => result(user, code::UNKNOWN_SERVER_ERROR, Some(e.to_string())),
            },
        };
        resp.results.push(r);
    }
    for u in &req.upsertions {
        let user = u.name.as_str();
        let r = match Mechanism::from_id(u.mechanism) {
            None => result(
                user,
                UNSUPPORTED_SASL_MECHANISM,
                Some("Unknown SCRAM mechanism".into()),
            ),
            Some(m) if (u.iterations as u32) < m.min_iterations() || u.iterations > 16384 => {
                result(
                    user,
                    UNACCEPTABLE_CREDENTIAL,
                    Some(format!(
                        "Iterations {} must be between {} and 16384",
                        u.iterations,
                        m.min_iterations()
                    )),
                )
            }
            Some(_) if user.is_empty() => result(
                user,
                UNACCEPTABLE_CREDENTIAL,
                Some("Username must not be empty".into()),
            ),
            Some(m) => {
                let cred = Credential::from_salted(
                    m,
                    &u.salted_password,
                    u.salt.to_vec(),
                    u.iterations as u32,
                );
                match state.users.upsert(user, m, cred) {
                    Ok(()) => result(user, code::NONE, None),
                    Err(e) => result(user, code::UNKNOWN_SERVER_ERROR, Some(e.to_string())),
                }
            }
        };
        resp.results.push(r);
    }
    resp
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
