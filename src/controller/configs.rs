//! IncrementalAlterConfigs and AlterConfigs for topic and broker resources, turned into Config
//! records. Topic values are validated by the config catalog as the single-broker API does;
//! broker configs must be dynamically updatable (not read-only in the catalog). As Kafka's
//! `ConfigurationControlManager`, a value that does not change writes no record.

use std::collections::BTreeMap;

use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::{code, Batch, Controller};
use crate::config::catalog;
use crate::metadata::{MetadataImage, MetadataRecord, BROKER_RESOURCE, TOPIC_RESOURCE};

const BROKER_LOGGER: i8 = 8;

type Failure = (i16, String);

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

fn is_list(resource_type: i8, name: &str) -> bool {
    if resource_type == TOPIC_RESOURCE {
        catalog::topic_config(name).is_some_and(|d| d.config_type == catalog::ConfigType::List)
    } else {
        catalog::broker_config(name).is_some_and(|d| d.config_type == catalog::ConfigType::List)
    }
}

fn default_value(resource_type: i8, name: &str) -> Option<&'static str> {
    if resource_type == TOPIC_RESOURCE {
        catalog::topic_config(name).and_then(|d| d.default)
    } else {
        catalog::broker_config(name).and_then(|d| d.default)
    }
}

/// The overrides a change leads to.
fn apply_change(
    resource_type: i8,
    current: &BTreeMap<String, String>,
    change: Change,
) -> Result<BTreeMap<String, String>, Failure> {
    let null = |k: &str| {
        (
            code::INVALID_REQUEST,
            format!("Null value not supported for : {k}"),
        )
    };
    match change {
        Change::Replace(items) => {
            let mut out = BTreeMap::new();
            for (k, v) in items {
                let v = v.ok_or_else(|| null(&k))?;
                out.insert(k, v);
            }
            Ok(out)
        }
        Change::Incremental(items) => {
            let mut out = current.clone();
            for (k, op, v) in items {
                match op {
                    0 => {
                        let v = v.ok_or_else(|| null(&k))?;
                        out.insert(k, v);
                    }
                    1 => {
                        out.remove(&k);
                    }
                    2 | 3 => {
                        if !is_list(resource_type, &k) {
                            return Err((
                                code::INVALID_REQUEST,
                                format!("Config value append is not allowed for config key: {k}"),
                            ));
                        }
                        let now = out
                            .get(&k)
                            .cloned()
                            .or_else(|| default_value(resource_type, &k).map(str::to_string))
                            .unwrap_or_default();
                        let mut items = list_items(&now);
                        for x in list_items(v.as_deref().unwrap_or("")) {
                            if op == 2 && !items.contains(&x) {
                                items.push(x);
                            } else if op == 3 {
                                items.retain(|i| *i != x);
                            }
                        }
                        out.insert(k, items.join(","));
                    }
                    other => {
                        return Err((
                            code::INVALID_REQUEST,
                            format!("Unknown config operation {other}"),
                        ))
                    }
                }
            }
            Ok(out)
        }
    }
}

fn validate(resource_type: i8, configs: &BTreeMap<String, String>) -> Result<(), Failure> {
    for (k, v) in configs {
        if resource_type == TOPIC_RESOURCE {
            catalog::validate_topic_value(k, v).map_err(|m| (code::INVALID_CONFIG, m))?;
        } else if catalog::broker_config(k).is_some_and(|d| d.read_only) {
            return Err((
                code::INVALID_CONFIG,
                format!("Cannot update these configs dynamically: Set({k})"),
            ));
        }
    }
    Ok(())
}

/// The records moving one resource from its current overrides to `change`'s result.
fn alter_resource(
    view: &MetadataImage,
    resource_type: i8,
    name: &str,
    change: Change,
) -> Result<Vec<MetadataRecord>, Failure> {
    match resource_type {
        TOPIC_RESOURCE => {
            if !view.topic_ids.contains_key(name) {
                return Err((
                    code::UNKNOWN_TOPIC_OR_PARTITION,
                    format!("Topic {name} does not exist"),
                ));
            }
        }
        BROKER_RESOURCE => {
            if !name.is_empty() && name.parse::<i32>().is_err() {
                return Err((
                    code::INVALID_REQUEST,
                    "Unable to parse broker name as a base 10 number.".into(),
                ));
            }
        }
        BROKER_LOGGER => {
            return Err((
                code::INVALID_REQUEST,
                "Weir does not support changing broker loggers at runtime".into(),
            ))
        }
        other => {
            return Err((
                code::INVALID_REQUEST,
                format!("Unsupported resource type {other}"),
            ))
        }
    }
    let empty = BTreeMap::new();
    let current = view
        .configs
        .get(&(resource_type, name.to_string()))
        .unwrap_or(&empty);
    let wanted = apply_change(resource_type, current, change)?;
    validate(resource_type, &wanted)?;
    let record = |k: &str, value: Option<String>| MetadataRecord::Config {
        resource_type,
        resource_name: name.to_string(),
        name: k.to_string(),
        value,
    };
    let mut records = Vec::new();
    for k in current.keys().filter(|k| !wanted.contains_key(*k)) {
        records.push(record(k, None));
    }
    for (k, v) in &wanted {
        if current.get(k) != Some(v) {
            records.push(record(k, Some(v.clone())));
        }
    }
    Ok(records)
}

fn outcome(result: &Result<Vec<MetadataRecord>, Failure>) -> (i16, Option<StrBytes>) {
    match result {
        Ok(_) => (code::NONE, None),
        Err((c, m)) => (*c, Some(StrBytes::from_string(m.clone()))),
    }
}

impl Controller {
    pub fn incremental_alter_configs(
        &mut self,
        req: &IncrementalAlterConfigsRequest,
        _now_ms: i64,
    ) -> (Vec<MetadataRecord>, IncrementalAlterConfigsResponse) {
        use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
        let mut batch = Batch::new(&self.image);
        let mut resp = IncrementalAlterConfigsResponse::default();
        for res in &req.resources {
            let change = Change::Incremental(
                res.configs
                    .iter()
                    .map(|c| {
                        (
                            c.name.as_str().to_string(),
                            c.config_operation,
                            c.value.as_ref().map(|v| v.as_str().to_string()),
                        )
                    })
                    .collect(),
            );
            let result = alter_resource(
                batch.view(),
                res.resource_type,
                res.resource_name.as_str(),
                change,
            );
            let (error, msg) = outcome(&result);
            if let (Ok(records), false) = (result, req.validate_only) {
                records.into_iter().for_each(|r| batch.push(r));
            }
            let mut r = AlterConfigsResourceResponse::default();
            r.error_code = error;
            r.error_message = msg;
            r.resource_type = res.resource_type;
            r.resource_name = res.resource_name.clone();
            resp.responses.push(r);
        }
        (batch.into_records(), resp)
    }

    pub fn alter_configs(
        &mut self,
        req: &AlterConfigsRequest,
        _now_ms: i64,
    ) -> (Vec<MetadataRecord>, AlterConfigsResponse) {
        use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
        let mut batch = Batch::new(&self.image);
        let mut resp = AlterConfigsResponse::default();
        for res in &req.resources {
            let change = Change::Replace(
                res.configs
                    .iter()
                    .map(|c| {
                        (
                            c.name.as_str().to_string(),
                            c.value.as_ref().map(|v| v.as_str().to_string()),
                        )
                    })
                    .collect(),
            );
            let result = alter_resource(
                batch.view(),
                res.resource_type,
                res.resource_name.as_str(),
                change,
            );
            let (error, msg) = outcome(&result);
            if let (Ok(records), false) = (result, req.validate_only) {
                records.into_iter().for_each(|r| batch.push(r));
            }
            let mut r = AlterConfigsResourceResponse::default();
            r.error_code = error;
            r.error_message = msg;
            r.resource_type = res.resource_type;
            r.resource_name = res.resource_name.clone();
            resp.responses.push(r);
        }
        (batch.into_records(), resp)
    }
}
