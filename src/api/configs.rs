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
