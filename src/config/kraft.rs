//! The cluster settings of a KRaft `server.properties`, read with Kafka's names: who this node
//! is (`node.id`, `process.roles`), where the controller is (`controller.quorum.voters` or
//! `controller.quorum.bootstrap.servers`, on `controller.listener.names`), and the replication
//! timeouts. Absent quorum settings mean Weir's zero-config single node.

use std::collections::BTreeMap;

use super::{invalid, ConfigError, Listener};

/// One `id@host:port` entry of `controller.quorum.voters`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voter {
    pub id: i32,
    pub host: String,
    pub port: u16,
}

impl Voter {
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// How this node takes part in a cluster.
#[derive(Clone, Debug)]
pub struct KraftSettings {
    pub node_id: i32,
    pub broker: bool,
    pub controller: bool,
    /// The voters, in the order given. Until the quorum is replicated (a later stage) the voter
    /// with the lowest id is the one active controller.
    pub voters: Vec<Voter>,
    pub controller_listener_names: Vec<String>,
    /// This node's controller listeners (opened only when `controller` is set).
    pub controller_listeners: Vec<Listener>,
    pub inter_broker_listener: String,
    pub rack: Option<String>,
    pub session_timeout_ms: i64,
    pub heartbeat_interval_ms: u64,
    pub replica_lag_time_max_ms: i64,
    pub replica_fetch_max_bytes: i32,
    pub replica_fetch_wait_max_ms: i32,
    pub replica_fetch_response_max_bytes: i32,
    pub unclean_leader_election: bool,
    pub offsets_topic_replication_factor: i16,
    pub transaction_state_log_replication_factor: i16,
    pub transaction_state_log_min_isr: i32,
    /// `replica.selector.class` is Kafka's RackAwareReplicaSelector (KIP-392).
    pub rack_aware_selector: bool,
}

impl KraftSettings {
    /// The active controller: the lowest voter id (one fixed controller in this stage).
    pub fn active_controller(&self) -> Option<&Voter> {
        self.voters.iter().min_by_key(|v| v.id)
    }

    /// Whether this node runs the active controller.
    pub fn is_active_controller(&self) -> bool {
        self.controller
            && self
                .active_controller()
                .is_some_and(|v| v.id == self.node_id)
    }
}

fn parse_voters(value: &str) -> Result<Vec<Voter>, ConfigError> {
    let name = "controller.quorum.voters";
    let mut out: Vec<Voter> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (id, addr) = item
            .split_once('@')
            .ok_or_else(|| invalid(name, value, "expected id@host:port"))?;
        let id: i32 = id
            .trim()
            .parse()
            .map_err(|_| invalid(name, value, "voter id is not an int"))?;
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| invalid(name, value, "missing port"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| invalid(name, value, "port is not a number 0-65535"))?;
        if out.iter().any(|v| v.id == id) {
            return Err(invalid(name, value, format!("voter {id} is listed twice")));
        }
        out.push(Voter {
            id,
            host: host.trim_start_matches('[').trim_end_matches(']').into(),
            port,
        });
    }
    Ok(out)
}

/// Reads the cluster settings; `Ok(None)` for a single node (no quorum configured, or a
/// combined node that is its own only voter, which behaves exactly as the single node does).
pub fn parse(
    props: &BTreeMap<String, String>,
    node_id: i32,
    all_listeners: &[Listener],
) -> Result<Option<KraftSettings>, ConfigError> {
    let get = |k: &str| props.get(k).map(|s| s.trim().to_string());
    let num = |k: &str, d: i64| -> Result<i64, ConfigError> {
        match props.get(k) {
            Some(v) => v.trim().parse().map_err(|_| invalid(k, v, "not a number")),
            None => Ok(d),
        }
    };
    let mut voters = match get("controller.quorum.voters") {
        Some(v) if !v.is_empty() => parse_voters(&v)?,
        _ => Vec::new(),
    };
    if voters.is_empty() {
        // `controller.quorum.bootstrap.servers` (KIP-853) names controllers without ids; in
        // this stage the first one is the active controller (a controller node takes it as
        // itself, a broker calls it 1 until it learns better).
        if let Some(v) = get("controller.quorum.bootstrap.servers").filter(|v| !v.is_empty()) {
            let first = v.split(',').next().unwrap_or("").trim().to_string();
            let (host, port) = first.rsplit_once(':').ok_or_else(|| {
                invalid("controller.quorum.bootstrap.servers", &v, "missing port")
            })?;
            let port = port.parse().map_err(|_| {
                invalid(
                    "controller.quorum.bootstrap.servers",
                    &v,
                    "port is not a number 0-65535",
                )
            })?;
            let is_controller = get("process.roles").is_some_and(|r| r.contains("controller"));
            voters.push(Voter {
                id: if is_controller { node_id } else { 1 },
                host: host.into(),
                port,
            });
        }
    }
    if voters.is_empty() {
        return Ok(None);
    }
    let roles = get("process.roles").unwrap_or_else(|| "broker,controller".into());
    let mut broker = false;
    let mut controller = false;
    for r in roles.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        match r {
            "broker" => broker = true,
            "controller" => controller = true,
            other => {
                return Err(invalid(
                    "process.roles",
                    &roles,
                    format!("unknown role '{other}' (expected broker, controller)"),
                ))
            }
        }
    }
    if !broker && !controller {
        return Err(invalid("process.roles", &roles, "no role given"));
    }
    if voters.len() == 1 && voters[0].id == node_id && broker && controller {
        return Ok(None);
    }
    let controller_listener_names: Vec<String> = get("controller.listener.names")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if controller_listener_names.is_empty() {
        return Err(invalid(
            "controller.listener.names",
            "",
            "must be set when controller.quorum.voters is",
        ));
    }
    let controller_listeners: Vec<Listener> = all_listeners
        .iter()
        .filter(|l| controller_listener_names.contains(&l.name))
        .cloned()
        .collect();
    if controller && controller_listeners.is_empty() {
        return Err(invalid(
            "listeners",
            &get("listeners").unwrap_or_default(),
            format!(
                "a controller needs a listener named in controller.listener.names ({})",
                controller_listener_names.join(",")
            ),
        ));
    }
    let inter_broker_listener = get("inter.broker.listener.name")
        .or_else(|| {
            get("security.inter.broker.protocol")
                .filter(|p| all_listeners.iter().any(|l| &l.name == p))
        })
        .or_else(|| {
            all_listeners
                .iter()
                .find(|l| !controller_listener_names.contains(&l.name))
                .map(|l| l.name.clone())
        })
        .unwrap_or_else(|| "PLAINTEXT".into());
    let rack_aware_selector =
        get("replica.selector.class").is_some_and(|c| c.ends_with("RackAwareReplicaSelector"));
    Ok(Some(KraftSettings {
        node_id,
        broker,
        controller,
        voters,
        controller_listener_names,
        controller_listeners,
        inter_broker_listener,
        rack: get("broker.rack").filter(|r| !r.is_empty()),
        session_timeout_ms: num("broker.session.timeout.ms", 9000)?.max(100),
        heartbeat_interval_ms: num("broker.heartbeat.interval.ms", 2000)?.max(10) as u64,
        replica_lag_time_max_ms: num("replica.lag.time.max.ms", 30_000)?.max(100),
        replica_fetch_max_bytes: num("replica.fetch.max.bytes", 1_048_576)?
            .clamp(1, i32::MAX as i64) as i32,
        replica_fetch_wait_max_ms: num("replica.fetch.wait.max.ms", 500)?.clamp(0, 30_000) as i32,
        replica_fetch_response_max_bytes: num("replica.fetch.response.max.bytes", 10_485_760)?
            .clamp(1, i32::MAX as i64) as i32,
        unclean_leader_election: get("unclean.leader.election.enable")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        offsets_topic_replication_factor: num("offsets.topic.replication.factor", 3)? as i16,
        transaction_state_log_replication_factor: num(
            "transaction.state.log.replication.factor",
            3,
        )? as i16,
        transaction_state_log_min_isr: num("transaction.state.log.min.isr", 2)? as i32,
        rack_aware_selector,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn listeners(s: &str) -> Vec<Listener> {
        Listener::parse_list("listeners", s).unwrap()
    }

    #[test]
    fn no_quorum_is_the_single_node() {
        assert!(parse(&props(&[]), 1, &listeners("PLAINTEXT://:9092"))
            .unwrap()
            .is_none());
        // A combined node that is its own only voter behaves as the single node.
        let p = props(&[
            ("controller.quorum.voters", "1@localhost:9093"),
            ("controller.listener.names", "CONTROLLER"),
        ]);
        let l = listeners("PLAINTEXT://:9092,CONTROLLER://:9093");
        assert!(parse(&p, 1, &l).unwrap().is_none());
    }

    #[test]
    fn three_combined_nodes() {
        let p = props(&[
            ("process.roles", "broker,controller"),
            (
                "controller.quorum.voters",
                "3@127.0.0.3:9093,1@127.0.0.1:9093,2@127.0.0.2:9093",
            ),
            ("controller.listener.names", "CONTROLLER"),
            ("broker.rack", "r2"),
            (
                "replica.selector.class",
                "org.apache.kafka.common.replica.RackAwareReplicaSelector",
            ),
        ]);
        let l = listeners("PLAINTEXT://127.0.0.2:9092,CONTROLLER://127.0.0.2:9093");
        let k = parse(&p, 2, &l).unwrap().unwrap();
        assert!(k.broker && k.controller);
        assert_eq!(k.active_controller().unwrap().id, 1);
        assert!(!k.is_active_controller());
        assert_eq!(k.controller_listeners.len(), 1);
        assert_eq!(k.inter_broker_listener, "PLAINTEXT");
        assert_eq!(k.rack.as_deref(), Some("r2"));
        assert!(k.rack_aware_selector);
        assert_eq!(k.session_timeout_ms, 9000);
    }

    #[test]
    fn bad_values_are_named() {
        let l = listeners("PLAINTEXT://:9092,CONTROLLER://:9093");
        let e = parse(
            &props(&[
                ("controller.quorum.voters", "x@h:1"),
                ("controller.listener.names", "CONTROLLER"),
            ]),
            1,
            &l,
        )
        .unwrap_err();
        assert!(e.to_string().contains("controller.quorum.voters"));
        let e = parse(
            &props(&[
                ("controller.quorum.voters", "1@h:1,2@h:2"),
                ("process.roles", "broker,zookeeper"),
                ("controller.listener.names", "CONTROLLER"),
            ]),
            1,
            &l,
        )
        .unwrap_err();
        assert!(e.to_string().contains("process.roles"));
        let e = parse(
            &props(&[("controller.quorum.voters", "1@h:1,2@h:2")]),
            1,
            &l,
        )
        .unwrap_err();
        assert!(e.to_string().contains("controller.listener.names"));
    }
}
