//! Starting and stopping a broker: the shared state every handler reads, the listeners, the
//! background maintenance task (flush.ms, retention), and the handle tests and embedders hold.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::fetch_session::FetchSessionCache;
use crate::cluster::{Cluster, TopicError};
use crate::config::{Config, Listener};
use crate::group::GroupCoordinator;
use crate::log::segment::now_ms;

/// What every request handler can reach.
pub struct BrokerState {
    pub config: Config,
    pub cluster: Cluster,
    /// Listeners as clients should dial them (advertised, with ephemeral ports resolved).
    pub advertised: Vec<Listener>,
    pub fetch_sessions: Mutex<FetchSessionCache>,
    pub groups: GroupCoordinator,
    pub txns: crate::txn::coordinator::TxnCoordinator,
    pub producer_ids: crate::txn::producer_ids::ProducerIds,
    pub users: crate::security::users::Users,
    pub authorizer: crate::security::acl::Authorizer,
    pub connections_max_idle_ms: u64,
    pub faults: Faults,
    /// This process's registration identity (a restart is a new incarnation).
    pub incarnation_id: uuid::Uuid,
    /// Replication on this broker; `None` on the single node.
    pub replicas: Option<Arc<crate::replica::ReplicaManager>>,
    /// The metadata controller, on the node that runs the active controller.
    pub controller: Option<Arc<crate::controller::service::ControllerService>>,
}

/// Fault injection for tests: armed only through the library API, inert otherwise.
#[derive(Default)]
pub struct Faults {
    drop_produce_responses: std::sync::atomic::AtomicU32,
    pause_replica_fetch: std::sync::atomic::AtomicBool,
}

impl Faults {
    /// While set, this broker's replica fetchers send nothing, as if its links to the leaders
    /// were cut (a divergent follower needs a leader whose followers lag).
    pub fn pause_replica_fetch(&self, on: bool) {
        self.pause_replica_fetch
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn replica_fetch_paused(&self) -> bool {
        self.pause_replica_fetch
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The next `n` produce requests are applied but their connections are closed before the
    /// response is written, as if the network failed: clients must retry.
    pub fn drop_produce_responses(&self, n: u32) {
        self.drop_produce_responses
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn take_produce_drop(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.drop_produce_responses
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error("cannot open data directory: {0}")]
    Storage(#[from] TopicError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A running broker.
pub struct BrokerHandle {
    metrics_addr: Option<SocketAddr>,
    addrs: Vec<SocketAddr>,
    state: Arc<BrokerState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

pub struct Broker;

impl Broker {
    /// Opens the data directory, binds every listener and starts serving.
    pub async fn start(config: Config) -> Result<BrokerHandle, StartError> {
        let started = Instant::now();
        let data_dir = config.log_dir.clone();
        let cfg = config.clone();
        let (cluster, groups) = tokio::task::spawn_blocking(move || {
            let cluster = Cluster::open(&cfg)?;
            let groups = GroupCoordinator::new(&cfg);
            groups.load(&cluster);
            Ok::<_, TopicError>((cluster, groups))
        })
        .await
        .map_err(|e| StartError::Storage(TopicError::Storage(e.to_string())))??;
        let mut listeners = Vec::new();
        let mut addrs = Vec::new();
        let mut protocols = Vec::new();
        let controller_listeners: Vec<Listener> = config
            .kraft
            .as_ref()
            .filter(|k| k.is_active_controller())
            .map(|k| k.controller_listeners.clone())
            .unwrap_or_default();
        let served: Vec<Listener> = config
            .listeners
            .iter()
            .chain(controller_listeners.iter())
            .cloned()
            .collect();
        for l in &served {
            let is_controller = controller_listeners.iter().any(|c| c.name == l.name);
            let protocol = match crate::security::protocol_of(&config, &l.name) {
                Ok(p) => p,
                // Controller listeners speak PLAINTEXT unless the protocol map says otherwise.
                Err(_) if is_controller => crate::security::SecurityProtocol::Plaintext,
                Err(e) => return Err(StartError::Config(format!("listeners: {e}"))),
            };
            protocols.push(protocol);
            let host = if l.host.is_empty() {
                "0.0.0.0"
            } else {
                &l.host
            };
            let addr = format!("{host}:{}", l.port);
            let sock = TcpListener::bind(&addr)
                .await
                .map_err(|source| StartError::Bind {
                    addr: addr.clone(),
                    source,
                })?;
            let local = sock
                .local_addr()
                .map_err(|source| StartError::Bind { addr, source })?;
            addrs.push(local);
            listeners.push(sock);
        }
        let metrics_listener = match config.props.get("metrics.listener") {
            Some(addr) if !addr.trim().is_empty() => {
                let sock =
                    TcpListener::bind(addr.trim())
                        .await
                        .map_err(|source| StartError::Bind {
                            addr: addr.clone(),
                            source,
                        })?;
                Some(sock)
            }
            _ => None,
        };
        let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
        let advertised = advertise(&config, &addrs);
        let producer_ids = if config.kraft.as_ref().is_some_and(|k| k.broker) {
            crate::txn::producer_ids::ProducerIds::from_controller()
        } else {
            crate::txn::producer_ids::ProducerIds::open(&config.log_dir)
                .map_err(|e| StartError::Storage(TopicError::Storage(e.to_string())))?
        };
        let bootstrap = crate::security::bootstrap_users(&config);
        let users = crate::security::users::Users::open(
            &config.log_dir,
            (!bootstrap.is_empty()).then_some(bootstrap.as_str()),
        )
        .map_err(|e| StartError::Storage(TopicError::Storage(e.to_string())))?;
        let authorizer = crate::security::acl::Authorizer::open(&config, &config.log_dir)
            .map_err(|e| StartError::Storage(TopicError::Storage(e.to_string())))?;
        let mut security = Vec::new();
        for l in &served {
            security.push(Arc::new(
                crate::security::ListenerSecurity::build(&config, &l.name)
                    .map_err(StartError::Config)?,
            ));
        }
        let idle = config
            .props
            .get("connections.max.idle.ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(600_000u64);
        let txns = crate::txn::coordinator::TxnCoordinator::new(&config);
        let controller = match config.kraft.as_ref().filter(|k| k.is_active_controller()) {
            Some(k) => Some(Arc::new(
                crate::controller::service::ControllerService::open(
                    &config.log_dir,
                    controller_config(&config, k, &cluster.cluster_id()),
                )
                .map_err(|e| StartError::Storage(TopicError::Storage(e)))?,
            )),
            None => None,
        };
        let replicas = match config.kraft.as_ref().filter(|k| k.broker) {
            Some(k) => Some(Arc::new(
                crate::replica::ReplicaManager::new(&config, k.clone())
                    .map_err(StartError::Config)?,
            )),
            None => None,
        };
        let state = Arc::new(BrokerState {
            fetch_sessions: Mutex::new(FetchSessionCache::new(config.fetch_session_cache_slots)),
            config,
            cluster,
            groups,
            txns,
            producer_ids,
            users,
            authorizer,
            advertised,
            connections_max_idle_ms: idle,
            faults: Faults::default(),
            incarnation_id: uuid::Uuid::new_v4(),
            replicas,
            controller,
        });
        if let Some(c) = &state.controller {
            c.import_local_state(
                &state.cluster,
                state.authorizer.all(),
                state.users.all(),
                state.cluster.node_id,
            );
            let levels: Vec<(&str, i16)> = crate::api::api_versions::features(&state)
                .into_iter()
                .filter(|f| f.0 != "kraft.version")
                .map(|f| (f.0, f.3))
                .collect();
            // After the import, which only runs on an empty log.
            c.bootstrap_features(&levels);
        }
        if let Some(rm) = &state.replicas {
            rm.prepare_local_logs(&state);
        }
        {
            // Finish transactions a crash left between their two phases before serving.
            state.txns.load(&state).await;
        }
        let (shutdown, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        for (((sock, protocol), l), security) in listeners
            .into_iter()
            .zip(protocols)
            .zip(&served)
            .zip(security)
        {
            tasks.push(tokio::spawn(crate::server::accept_loop(
                sock,
                crate::server::ListenerInfo {
                    name: l.name.clone(),
                    protocol,
                    security,
                },
                state.clone(),
                rx.clone(),
            )));
        }
        tasks.push(tokio::spawn(GroupCoordinator::run_timers(
            state.clone(),
            rx.clone(),
        )));
        tasks.push(tokio::spawn(
            crate::txn::coordinator::TxnCoordinator::run_timers(state.clone(), rx.clone()),
        ));
        if let Some(sock) = metrics_listener {
            tasks.push(tokio::spawn(crate::metrics::serve(
                sock,
                state.clone(),
                rx.clone(),
            )));
        }
        if let Some(c) = &state.controller {
            tasks.push(tokio::spawn(c.clone().run_timer(rx.clone())));
        }
        if let Some(rm) = &state.replicas {
            tasks.extend(crate::replica::lifecycle::spawn(
                state.clone(),
                rm.clone(),
                rx.clone(),
            ));
        }
        tasks.push(tokio::spawn(maintenance(state.clone(), rx)));
        if let Some(k) = &state.config.kraft {
            tracing::info!(
                "cluster mode: node {} ({}{}), active controller {}, rack {}",
                k.node_id,
                if k.broker { "broker" } else { "" },
                if k.controller { ",controller" } else { "" },
                k.active_controller()
                    .map(|v| format!("{}@{}", v.id, v.addr()))
                    .unwrap_or_default(),
                k.rack.as_deref().unwrap_or("none"),
            );
        }
        let shown: Vec<String> = served
            .iter()
            .zip(&addrs)
            .map(|(l, a)| format!("{}://{a}", l.name))
            .collect();
        let adv: Vec<String> = state
            .advertised
            .iter()
            .map(|l| format!("{}://{}:{}", l.name, l.host, l.port))
            .collect();
        tracing::info!(
            "weir started in {:.1} ms: listeners {} (advertised {}), data dir {}, node {}, cluster {}",
            started.elapsed().as_secs_f64() * 1000.0,
            shown.join(","),
            adv.join(","),
            data_dir.display(),
            state.cluster.node_id,
            state.cluster.cluster_id(),
        );
        if let Some(a) = metrics_addr {
            tracing::info!("metrics on http://{a}/metrics");
        }
        Ok(BrokerHandle {
            metrics_addr,
            addrs,
            state,
            shutdown,
            tasks,
        })
    }
}

/// The controller's settings, from the broker config with Kafka's names.
fn controller_config(
    config: &Config,
    k: &crate::config::kraft::KraftSettings,
    cluster_id: &str,
) -> crate::controller::ControllerConfig {
    let min_isr = config
        .props
        .get("min.insync.replicas")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1);
    crate::controller::ControllerConfig {
        session_timeout_ms: k.session_timeout_ms,
        default_replication_factor: config.default_replication_factor,
        default_partitions: config.num_partitions,
        min_insync_replicas: min_isr,
        unclean_leader_election: k.unclean_leader_election,
        producer_id_block_size: 1000,
        cluster_id: cluster_id.to_string(),
        node_id: k.node_id,
    }
}

/// `advertised.listeners`, or the listeners themselves with wildcard hosts shown as `localhost`
/// and port 0 replaced by the port actually bound.
fn advertise(config: &Config, bound: &[SocketAddr]) -> Vec<Listener> {
    let base = config
        .advertised_listeners
        .clone()
        .unwrap_or_else(|| config.listeners.clone());
    base.into_iter()
        .map(|mut l| {
            let idx = config.listeners.iter().position(|x| x.name == l.name);
            if l.port == 0 {
                if let Some(a) = idx.and_then(|i| bound.get(i)) {
                    l.port = a.port();
                }
            }
            if l.host.is_empty() || l.host == "0.0.0.0" || l.host == "::" {
                l.host = "localhost".into();
            }
            l
        })
        .collect()
}

/// Periodic work: `flush.ms` flushes every scheduler interval, retention every check interval.
async fn maintenance(state: Arc<BrokerState>, mut shutdown: watch::Receiver<bool>) {
    let flush_every = Duration::from_millis(state.config.log_flush_scheduler_interval_ms);
    let retention_every = state.config.log_retention_check_interval_ms as i64;
    let producer_expiration_ms = state
        .config
        .props
        .get("producer.id.expiration.ms")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(86_400_000i64);
    let mut last_retention = now_ms();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(flush_every) => {}
            _ = shutdown.changed() => return,
        }
        let st = state.clone();
        let due = now_ms() - last_retention >= retention_every;
        if due {
            last_retention = now_ms();
        }
        let _ = tokio::task::spawn_blocking(move || {
            let now = now_ms();
            for p in st.cluster.all_partitions() {
                if let Err(e) = p.flush_if_due(now) {
                    tracing::error!("flush of {}-{} failed: {e}", p.topic, p.index);
                }
                if due {
                    p.expire_producers(now, producer_expiration_ms);
                    match p.apply_retention(now) {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(
                            "retention deleted {n} segment(s) of {}-{}; log start offset now {}",
                            p.topic,
                            p.index,
                            p.log_start_offset()
                        ),
                        Err(e) => {
                            tracing::error!("retention on {}-{} failed: {e}", p.topic, p.index)
                        }
                    }
                }
            }
        })
        .await;
    }
}

impl BrokerHandle {
    /// The address the first listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Where `/metrics` is served, if `metrics.listener` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// `host:port` a client should use as `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        format!("127.0.0.1:{}", self.local_addr().port())
    }

    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// Stops accepting, lets in-flight requests finish, flushes every log and returns.
    pub async fn shutdown(self) {
        tracing::info!("shutting down");
        if let Some(rm) = &self.state.replicas {
            // Leadership moves while the listeners still answer, so clients are redirected
            // rather than cut off (Kafka's controlled shutdown).
            rm.controlled_shutdown(Duration::from_secs(6)).await;
        }
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let st = self.state.clone();
        let _ = tokio::task::spawn_blocking(move || st.cluster.shutdown()).await;
        tracing::info!("shutdown complete");
    }
}
