//! DescribeConfigs for topics and this broker: every Kafka config with its value, source,
//! synonyms, type and documentation, as Kafka reports them.

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use crate::broker::BrokerState;
use crate::config::{catalog, resolved_topic_value, ConfigSource};

use super::{code, str};

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const BROKER_LOGGER: i8 = 8;

fn wanted(keys: &Option<Vec<kafka_protocol::protocol::StrBytes>>, name: &str) -> bool {
    keys.as_ref()
        .is_none_or(|k| k.is_empty() || k.iter().any(|x| x.as_str() == name))
}

fn topic_entries(
    state: &BrokerState,
    topic: &str,
    keys: &Option<Vec<kafka_protocol::protocol::StrBytes>>,
    synonyms: bool,
    docs: bool,
) -> Result<Vec<DescribeConfigsResourceResult>, i16> {
    let t = state
        .cluster
        .topic(topic)
        .ok_or(code::UNKNOWN_TOPIC_OR_PARTITION)?;
    let mut out = Vec::new();
    for def in catalog::TOPIC_CONFIGS
        .iter()
        .filter(|d| wanted(keys, d.name))
    {
        let Ok(r) = resolved_topic_value(state.cluster.broker_props(), def.name, &t.meta.configs)
        else {
            continue;
        };
        let mut e = DescribeConfigsResourceResult::default();
        e.name = str(def.name);
        e.value = r.value.map(str);
        e.read_only = false;
        e.config_source = r.source as i8;
        e.is_sensitive = false;
        e.config_type = def.config_type as i8;
        e.documentation = docs.then(|| str(def.doc));
        if synonyms {
            e.synonyms = r
                .synonyms
                .into_iter()
                .map(|(n, v, s)| {
                    let mut syn = DescribeConfigsSynonym::default();
                    syn.name = str(n);
                    syn.value = v.map(str);
                    syn.source = s as i8;
                    syn
                })
                .collect();
        }
        out.push(e);
    }
    Ok(out)
}

fn broker_entries(
    state: &BrokerState,
    keys: &Option<Vec<kafka_protocol::protocol::StrBytes>>,
    synonyms: bool,
    docs: bool,
) -> Vec<DescribeConfigsResourceResult> {
    let props = state.cluster.broker_props();
    let mut out = Vec::new();
    for def in catalog::BROKER_CONFIGS
        .iter()
        .filter(|d| wanted(keys, d.name))
    {
        let explicit = props.get(def.name);
        let (value, source) = match explicit {
            Some(v) => (Some(v.clone()), ConfigSource::StaticBroker),
            None => (def.default.map(str::to_string), ConfigSource::Default),
        };
        let mut e = DescribeConfigsResourceResult::default();
        e.name = str(def.name);
        e.value = if def.sensitive {
            None
        } else {
            value.clone().map(str)
        };
        e.read_only = def.read_only;
        e.config_source = source as i8;
        e.is_sensitive = def.sensitive;
        e.config_type = def.config_type as i8;
        e.documentation = docs.then(|| str(def.doc));
        if synonyms {
            let mut list = Vec::new();
            if let Some(v) = explicit {
                let mut s = DescribeConfigsSynonym::default();
                s.name = str(def.name);
                s.value = if def.sensitive {
                    None
                } else {
                    Some(str(v.clone()))
                };
                s.source = ConfigSource::StaticBroker as i8;
                list.push(s);
            }
            if def.default.is_some() {
                let mut s = DescribeConfigsSynonym::default();
                s.name = str(def.name);
                s.value = def.default.map(str);
                s.source = ConfigSource::Default as i8;
                list.push(s);
            }
            e.synonyms = list;
        }
        out.push(e);
    }
    out
}

pub async fn handle_describe(
    state: &BrokerState,
    req: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let docs = version >= 3 && req.include_documentation;
    let mut results = Vec::with_capacity(req.resources.len());
    for res in req.resources {
        let mut r = DescribeConfigsResult::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name.clone();
        let name = res.resource_name.as_str();
        let (acl_type, acl_name) = if res.resource_type == TOPIC {
            (crate::security::acl::resource::TOPIC, name.to_string())
        } else {
            (
                crate::security::acl::resource::CLUSTER,
                crate::security::acl::CLUSTER_NAME.to_string(),
            )
        };
        if !super::allowed(
            state,
            crate::security::acl::op::DESCRIBE_CONFIGS,
            acl_type,
            &acl_name,
        ) {
            r.error_code = if res.resource_type == TOPIC {
                code::TOPIC_AUTHORIZATION_FAILED
            } else {
                code::CLUSTER_AUTHORIZATION_FAILED
            };
            r.error_message = Some(str("Authorization failed."));
            results.push(r);
            continue;
        }
        match res.resource_type {
            TOPIC => match topic_entries(
                state,
                name,
                &res.configuration_keys,
                req.include_synonyms,
                docs,
            ) {
                Ok(c) => r.configs = c,
                Err(e) => {
                    r.error_code = e;
                    r.error_message = Some(str(format!("Topic {name} does not exist")));
                }
            },
            BROKER if name.is_empty() || name == state.cluster.node_id.to_string() => {
                r.configs =
                    broker_entries(state, &res.configuration_keys, req.include_synonyms, docs);
            }
            BROKER => {
                r.error_code = code::INVALID_REQUEST;
                r.error_message = Some(str(format!(
                    "Unexpected broker id, expected {} but received {name}",
                    state.cluster.node_id
                )));
            }
            BROKER_LOGGER => {}
            other => {
                r.error_code = code::INVALID_REQUEST;
                r.error_message = Some(str(format!("Unsupported resource type {other}")));
            }
        }
        results.push(r);
    }
    let mut resp = DescribeConfigsResponse::default();
    resp.results = results;
    resp
}

/// What an alter request does to one resource's overrides.
enum Change {
    /// AlterConfigs: the given set replaces every override.
    Replace(Vec<(String, Option<String>)>),
    /// IncrementalAlterConfigs: (name, operation, value); 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT.
    Incremental(Vec<(String, i8, Option<String>)>),
}

fn list_items(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Applies a change to a topic's overrides; Err is (code, message).
fn alter_topic(
    state: &BrokerState,
    name: &str,
    change: Change,
    validate_only: bool,
) -> Result<(), (i16, String)> {
    let topic = state.cluster.topic(name).ok_or((
        code::UNKNOWN_TOPIC_OR_PARTITION,
        format!("Topic {name} does not exist"),
    ))?;
    let mut configs = match change {
        Change::Replace(_) => Default::default(),
        Change::Incremental(_) => topic.meta.configs.clone(),
    };
    let invalid = |m: String| (code::INVALID_CONFIG, m);
    match change {
        Change::Replace(items) => {
            for (k, v) in items {
                let v = v.ok_or_else(|| {
                    (
                        code::INVALID_REQUEST,
                        format!("Null value not supported for : {k}"),
                    )
                })?;
                configs.insert(k, v);
            }
        }
        Change::Incremental(items) => {
            for (k, op, v) in items {
                let def = catalog::topic_config(&k)
                    .ok_or_else(|| invalid(catalog::unknown_topic_config(&k)))?;
                match op {
                    0 => {
                        let v = v.ok_or_else(|| {
                            (
                                code::INVALID_REQUEST,
                                format!("Null value not supported for : {k}"),
                            )
                        })?;
                        configs.insert(k, v);
                    }
                    1 => {
                        configs.remove(&k);
                    }
                    2 | 3 => {
                        if def.config_type != catalog::ConfigType::List {
                            return Err((
                                code::INVALID_REQUEST,
                                format!("Config value append is not allowed for config key: {k}"),
                            ));
                        }
                        let current =
                            resolved_topic_value(state.cluster.broker_props(), &k, &configs)
                                .ok()
                                .and_then(|r| r.value)
                                .unwrap_or_default();
                        let mut items = list_items(&current);
                        for x in list_items(v.as_deref().unwrap_or("")) {
                            if op == 2 && !items.contains(&x) {
                                items.push(x);
                            } else if op == 3 {
                                items.retain(|i| *i != x);
                            }
                        }
                        configs.insert(k, items.join(","));
                    }
                    other => {
                        return Err((
                            code::INVALID_REQUEST,
                            format!("Unknown config operation {other}"),
                        ))
                    }
                }
            }
        }
    }
    for (k, v) in &configs {
        if catalog::topic_config(k).is_none() {
            return Err(invalid(catalog::unknown_topic_config(k)));
        }
        catalog::validate_topic_value(k, v).map_err(invalid)?;
    }
    if validate_only {
        return Ok(());
    }
    state
        .cluster
        .set_topic_configs(name, configs)
        .map_err(|e| (e.code(), e.to_string()))
}

/// ALTER_CONFIGS on the topic.
fn may_alter_topic(state: &BrokerState, name: &str) -> bool {
    use crate::security::acl::{op, resource};
    super::allowed(state, op::ALTER_CONFIGS, resource::TOPIC, name)
}

fn alter_resource(
    state: &BrokerState,
    resource_type: i8,
    name: &str,
    change: Change,
    validate_only: bool,
) -> (i16, Option<String>) {
    use crate::security::acl::{op, resource, CLUSTER_NAME};
    let permitted = if resource_type == TOPIC {
        may_alter_topic(state, name)
    } else {
        super::allowed(state, op::ALTER_CONFIGS, resource::CLUSTER, CLUSTER_NAME)
    };
    if !permitted {
        let c = if resource_type == TOPIC {
            code::TOPIC_AUTHORIZATION_FAILED
        } else {
            code::CLUSTER_AUTHORIZATION_FAILED
        };
        return (c, Some("Authorization failed.".into()));
    }
    let result = match resource_type {
        TOPIC => alter_topic(state, name, change, validate_only),
        BROKER | BROKER_LOGGER => Err((
            code::INVALID_REQUEST,
            "Weir does not support changing broker configs at runtime; set them at startup".into(),
        )),
        other => Err((
            code::INVALID_REQUEST,
            format!("Unsupported resource type {other}"),
        )),
    };
    match result {
        Ok(()) => (code::NONE, None),
        Err((c, m)) => (c, Some(m)),
    }
}

pub async fn handle_alter(
    state: &BrokerState,
    req: kafka_protocol::messages::AlterConfigsRequest,
    _version: i16,
) -> kafka_protocol::messages::AlterConfigsResponse {
    use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
    if let Some(rm) = state
        .replicas
        .as_ref()
        .filter(|_| req.resources.iter().all(|r| r.resource_type == TOPIC))
    {
        return forward_topic_changes(state, rm, req).await;
    }
    let mut resp = kafka_protocol::messages::AlterConfigsResponse::default();
    for res in req.resources {
        let change = Change::Replace(
            res.configs
                .into_iter()
                .map(|c| {
                    (
                        c.name.as_str().to_string(),
                        c.value.map(|v| v.as_str().to_string()),
                    )
                })
                .collect(),
        );
        let (error, msg) = alter_resource(
            state,
            res.resource_type,
            res.resource_name.as_str(),
            change,
            req.validate_only,
        );
        let mut r = AlterConfigsResourceResponse::default();
        r.error_code = error;
        r.error_message = msg.map(str);
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name;
        resp.responses.push(r);
    }
    resp
}

pub async fn handle_incremental_alter(
    state: &BrokerState,
    req: kafka_protocol::messages::IncrementalAlterConfigsRequest,
    _version: i16,
) -> kafka_protocol::messages::IncrementalAlterConfigsResponse {
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
    if let Some(rm) = state
        .replicas
        .as_ref()
        .filter(|_| req.resources.iter().all(|r| r.resource_type == TOPIC))
    {
        return forward_topic_changes(state, rm, req).await;
    }
    let mut resp = kafka_protocol::messages::IncrementalAlterConfigsResponse::default();
    for res in req.resources {
        let change = Change::Incremental(
            res.configs
                .into_iter()
                .map(|c| {
                    (
                        c.name.as_str().to_string(),
                        c.config_operation,
                        c.value.map(|v| v.as_str().to_string()),
                    )
                })
                .collect(),
        );
        let (error, msg) = alter_resource(
            state,
            res.resource_type,
            res.resource_name.as_str(),
            change,
            req.validate_only,
        );
        let mut r = AlterConfigsResourceResponse::default();
        r.error_code = error;
        r.error_message = msg.map(str);
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name;
        resp.responses.push(r);
    }
    resp
}

/// Topic config changes on a cluster are decided by the controller (Config records), so every
/// broker applies the same settings; the answer waits until this broker's metadata has moved
/// past the change. The receiving broker authorizes, as for the other forwarded admin
/// requests: topics the caller may not alter are answered here and left out of the forward.
async fn forward_topic_changes<R>(
    state: &BrokerState,
    rm: &crate::replica::ReplicaManager,
    mut req: R,
) -> R::Response
where
    R: ConfigChange,
    R::Response: ConfigAnswer,
{
    let denied = req.split_off(|name| may_alter_topic(state, name));
    let mut resp = if req.is_empty() {
        R::Response::default()
    } else {
        let names = req.names();
        let validate_only = req.validate_only();
        let before = rm.applied_offset();
        match super::controller::forward(rm, req).await {
            Ok(resp) => {
                if !validate_only && resp.any_ok() {
                    super::controller::await_metadata(rm, |img| img.offset > before).await;
                }
                resp
            }
            Err(e) => {
                // No answer: every resource times out, as Kafka reports it.
                tracing::warn!("config change: the controller is unreachable ({e})");
                let mut resp = R::Response::default();
                for (t, n) in &names {
                    resp.push(*t, n, REQUEST_TIMED_OUT, None);
                }
                resp
            }
        }
    };
    for (t, n) in &denied {
        resp.push(
            *t,
            n,
            code::TOPIC_AUTHORIZATION_FAILED,
            Some("Authorization failed."),
        );
    }
    resp
}

const REQUEST_TIMED_OUT: i16 = 7;

/// AlterConfigs and IncrementalAlterConfigs, as the forwarding sees them.
trait ConfigChange: kafka_protocol::protocol::Request + Send + 'static {
    /// Takes out the resources `keep` refuses; returns their (type, name).
    fn split_off(&mut self, keep: impl Fn(&str) -> bool) -> Vec<(i8, String)>;
    fn is_empty(&self) -> bool;
    fn names(&self) -> Vec<(i8, String)>;
    fn validate_only(&self) -> bool;
}

/// A per-resource answer of either config change.
trait ConfigAnswer: Default {
    fn push(&mut self, resource_type: i8, name: &str, error: i16, message: Option<&str>);
    fn any_ok(&self) -> bool;
}

/// The two requests have the same shape in different modules: one implementation for both.
macro_rules! config_change {
    ($req:ty, $resp:ty, $entry:ty) => {
        impl ConfigChange for $req {
            fn split_off(&mut self, keep: impl Fn(&str) -> bool) -> Vec<(i8, String)> {
                let (ok, refused): (Vec<_>, Vec<_>) = self
                    .resources
                    .drain(..)
                    .partition(|r| keep(r.resource_name.as_str()));
                self.resources = ok;
                refused
                    .into_iter()
                    .map(|r| (r.resource_type, r.resource_name.to_string()))
                    .collect()
            }
            fn is_empty(&self) -> bool {
                self.resources.is_empty()
            }
            fn names(&self) -> Vec<(i8, String)> {
                self.resources
                    .iter()
                    .map(|r| (r.resource_type, r.resource_name.to_string()))
                    .collect()
            }
            fn validate_only(&self) -> bool {
                self.validate_only
            }
        }

        impl ConfigAnswer for $resp {
            fn push(&mut self, resource_type: i8, name: &str, error: i16, message: Option<&str>) {
                let mut r = <$entry>::default();
                r.error_code = error;
                r.error_message = message.map(|m| str(m.to_string()));
                r.resource_type = resource_type;
                r.resource_name = str(name.to_string());
                self.responses.push(r);
            }
            fn any_ok(&self) -> bool {
                self.responses.iter().any(|x| x.error_code == 0)
            }
        }
    };
}

config_change!(
    kafka_protocol::messages::AlterConfigsRequest,
    kafka_protocol::messages::AlterConfigsResponse,
    kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse
);
config_change!(
    kafka_protocol::messages::IncrementalAlterConfigsRequest,
    kafka_protocol::messages::IncrementalAlterConfigsResponse,
    kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse
);
