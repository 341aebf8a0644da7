//! A broker's life in the cluster (Kafka's BrokerLifecycleManager and metadata loader):
//! register with the controller, heartbeat every `broker.heartbeat.interval.ms` (the
//! controller fences a broker that stays silent for `broker.session.timeout.ms`), fetch the
//! metadata log and apply it, and the periodic replica chores: ISR shrink checks and the
//! high-watermark checkpoint. On shutdown the broker asks to be shut down in a controlled way,
//! so its leaderships move before it stops.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::broker_registration_request::{Feature, Listener};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{
    BrokerHeartbeatRequest, BrokerId, BrokerRegistrationRequest, FetchRequest,
};
use tokio::sync::watch;

use super::peers::{self, Peer};
use super::ReplicaManager;
use crate::api::{str, topic_name};
use crate::broker::BrokerState;
use crate::controller::file_log::{decode_batches, METADATA_TOPIC};

/// Starts the broker's background tasks; they end at shutdown.
pub fn spawn(
    state: Arc<BrokerState>,
    rm: Arc<ReplicaManager>,
    shutdown: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(producer_id_blocks(
            state.clone(),
            rm.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(heartbeats(state.clone(), rm.clone(), shutdown.clone())),
        tokio::spawn(metadata_fetcher(
            state.clone(),
            rm.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(chores(state, rm, shutdown)),
    ]
}

fn controller_peer(state: &BrokerState, rm: &ReplicaManager, what: &str) -> Peer {
    let addr = rm
        .settings
        .active_controller()
        .map(|v| v.addr())
        .unwrap_or_default();
    Peer::new(
        addr,
        peers::options(
            &rm.controller_link,
            &format!("weir-broker-{}-{what}", rm.node_id),
            peers::source_ip(&state.config),
            Duration::from_secs(5),
        ),
    )
}

fn registration(state: &BrokerState, rm: &ReplicaManager) -> BrokerRegistrationRequest {
    let mut r = BrokerRegistrationRequest::default();
    r.broker_id = BrokerId(rm.node_id);
    r.cluster_id = str(state.cluster.cluster_id());
    r.incarnation_id = state.incarnation_id;
    r.listeners = state
        .advertised
        .iter()
        .map(|l| {
            let mut x = Listener::default();
            x.name = str(l.name.clone());
            x.host = str(l.host.clone());
            x.port = l.port;
            x.security_protocol = crate::security::protocol_of(&state.config, &l.name)
                .map(|p| p.id())
                .unwrap_or(0);
            x
        })
        .collect();
    let mut f = Feature::default();
    f.name = str("metadata.version");
    f.min_supported_version = 7;
    f.max_supported_version = 27;
    r.features = vec![f];
    r.rack = rm.settings.rack.clone().map(str);
    r.previous_broker_epoch = -1;
    r
}

/// Registers (retrying until the controller answers), then heartbeats until shutdown; at
/// shutdown, asks for a controlled shutdown and waits (bounded) until leadership has moved.
async fn heartbeats(
    state: Arc<BrokerState>,
    rm: Arc<ReplicaManager>,
    mut shutdown: watch::Receiver<bool>,
) {
    let peer = controller_peer(&state, &rm, "heartbeat");
    let interval = Duration::from_millis(rm.settings.heartbeat_interval_ms);
    let mut stop_started: Option<std::time::Instant> = None;
    let mut asked = rm.shutdown_asked();
    'register: loop {
        if *shutdown.borrow() || *asked.borrow() {
            // Never registered (or the controller forgot us): nothing to move.
            rm.shutdown_finished();
            return;
        }
        let req = registration(&state, &rm);
        match peer.call(Duration::ZERO, move |_| req).await {
            Ok(r) if r.error_code == 0 => {
                rm.broker_epoch.store(r.broker_epoch, Ordering::SeqCst);
                // The metadata fetcher may already hold the registration record: publish
                // the current image again (publish never goes back to an older one).
                let img = (*rm.image()).clone();
                publish_off_runtime(&state, &rm, img).await;
                tracing::info!(
                    "registered with the controller at {} as broker {} (epoch {})",
                    peer.addr(),
                    rm.node_id,
                    r.broker_epoch
                );
            }
            Ok(r) if r.error_code == 104 && state.cluster.cluster_id_adoptable() => {
                // Nobody chose this node's cluster id: take the controller's (it may serve a
                // single-node data directory that became the cluster's first node).
                use kafka_protocol::messages::DescribeClusterRequest;
                match peer
                    .call(Duration::ZERO, |_| DescribeClusterRequest::default())
                    .await
                {
                    Ok(d) if d.error_code == 0 && !d.cluster_id.is_empty() => {
                        let id = d.cluster_id.to_string();
                        tracing::info!("joining the controller's cluster {id}");
                        if let Err(e) = state.cluster.adopt_cluster_id(&id) {
                            tracing::error!("cannot record the cluster id: {e}");
                        }
                    }
                    other => tracing::warn!("cannot learn the controller's cluster id: {other:?}"),
                }
                continue;
            }
            Ok(r) => {
                tracing::warn!(
                    "the controller refused this broker's registration: error {}{}",
                    r.error_code,
                    if r.error_code == 104 {
                        " (INCONSISTENT_CLUSTER_ID: this data directory belongs to another cluster)"
                    } else {
                        ""
                    }
                );
                sleep_or_shutdown(&mut shutdown, Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => {
                tracing::info!("waiting for the controller at {}: {e}", peer.addr());
                sleep_or_shutdown(&mut shutdown, Duration::from_millis(500)).await;
                continue;
            }
        }
        loop {
            let stopping = *shutdown.borrow() || *asked.borrow();
            let epoch = rm.broker_epoch.load(Ordering::SeqCst);
            let mut req = BrokerHeartbeatRequest::default();
            req.broker_id = BrokerId(rm.node_id);
            req.broker_epoch = epoch;
            req.current_metadata_offset = rm.applied_offset();
            req.want_fence = false;
            req.want_shut_down = stopping;
            match peer.call(Duration::ZERO, move |_| req).await {
                Ok(r) if r.error_code == 0 => {
                    let was = rm.fenced.swap(r.is_fenced, Ordering::SeqCst);
                    if was && !r.is_fenced {
                        tracing::info!("broker {} is unfenced", rm.node_id);
                    } else if !was && r.is_fenced && !stopping {
                        tracing::warn!("broker {} was fenced by the controller", rm.node_id);
                    }
                    if stopping && r.should_shut_down {
                        tracing::info!("controlled shutdown complete: leadership moved away");
                        rm.shutdown_finished();
                        return;
                    }
                }
                Ok(r) if r.error_code == 77 => {
                    // STALE_BROKER_EPOCH: the controller forgot us (it restarted, or we were
                    // away too long); register again.
                    tracing::warn!(
                        "heartbeat refused with a stale broker epoch; registering again"
                    );
                    continue 'register;
                }
                Ok(r) => tracing::warn!("heartbeat refused: error {}", r.error_code),
                Err(e) => tracing::debug!("heartbeat failed: {e}"),
            }
            if stopping {
                // Controlled shutdown polls faster, and gives up after a bound: a broker whose
                // controller is gone still stops.
                let since = *stop_started.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() > Duration::from_secs(5) {
                    tracing::warn!(
                        "controlled shutdown not confirmed by the controller; stopping anyway"
                    );
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => {}
                _ = asked.changed() => {}
            }
        }
    }
}

async fn sleep_or_shutdown(shutdown: &mut watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = shutdown.changed() => {}
    }
}

/// Fetches `__cluster_metadata` from the controller and applies it, in order.
async fn metadata_fetcher(
    state: Arc<BrokerState>,
    rm: Arc<ReplicaManager>,
    mut shutdown: watch::Receiver<bool>,
) {
    let peer = controller_peer(&state, &rm, "metadata");
    let mut image = (*rm.image()).clone();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let offset = image.offset + 1;
        let node = rm.node_id;
        let fetched = peer
            .call(Duration::from_millis(500), move |_| {
                let mut fp = FetchPartition::default();
                fp.partition = 0;
                fp.fetch_offset = offset;
                fp.partition_max_bytes = 8 << 20;
                fp.current_leader_epoch = -1;
                fp.last_fetched_epoch = -1;
                let mut ft = FetchTopic::default();
                ft.topic = topic_name(METADATA_TOPIC);
                ft.partitions = vec![fp];
                let mut r = FetchRequest::default();
                r.replica_id = BrokerId(node);
                r.max_wait_ms = 500;
                r.min_bytes = 1;
                r.max_bytes = 8 << 20;
                r.session_epoch = -1;
                r.topics = vec![ft];
                r
            })
            .await;
        let resp = match fetched {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!("metadata fetch failed: {e}");
                sleep_or_shutdown(&mut shutdown, Duration::from_millis(300)).await;
                continue;
            }
        };
        let Some(pd) = resp.responses.into_iter().flat_map(|t| t.partitions).next() else {
            sleep_or_shutdown(&mut shutdown, Duration::from_millis(300)).await;
            continue;
        };
        if pd.error_code != 0 {
            tracing::warn!("metadata fetch refused: error {}", pd.error_code);
            sleep_or_shutdown(&mut shutdown, Duration::from_millis(300)).await;
            continue;
        }
        let records = pd.records.unwrap_or_default();
        let decoded = decode_batches(&records);
        let mut changed = false;
        for (off, rec) in decoded {
            if off <= image.offset {
                continue;
            }
            image.apply(off, &rec);
            changed = true;
        }
        if changed {
            publish_off_runtime(&state, &rm, image.clone()).await;
        }
        if image.offset + 1 >= pd.high_watermark {
            let (st, r) = (state.clone(), rm.clone());
            let _ = tokio::task::spawn_blocking(move || r.mark_caught_up(&st)).await;
        }
    }
}

/// Applies an image on the blocking pool: a change that creates or deletes hundreds of
/// partitions does that much file work, and on the async workers it would starve heartbeats
/// (a broker fenced for a session timeout while it creates topics) and every connection.
async fn publish_off_runtime(
    state: &Arc<BrokerState>,
    rm: &Arc<ReplicaManager>,
    image: crate::metadata::MetadataImage,
) {
    let (st, r) = (state.clone(), rm.clone());
    if let Err(e) = tokio::task::spawn_blocking(move || r.publish(&st, image)).await {
        tracing::error!("applying cluster metadata failed: {e}");
    }
}

/// Keeps a spare producer-id block from the controller (AllocateProducerIds), so
/// InitProducerId rarely waits and no two brokers hand out the same id.
async fn producer_id_blocks(
    state: Arc<BrokerState>,
    rm: Arc<ReplicaManager>,
    mut shutdown: watch::Receiver<bool>,
) {
    use kafka_protocol::messages::AllocateProducerIdsRequest;
    let peer = controller_peer(&state, &rm, "producer-ids");
    loop {
        if *shutdown.borrow() {
            return;
        }
        let epoch = rm.broker_epoch.load(Ordering::SeqCst);
        if !state.producer_ids.needs_block() || epoch < 0 {
            tokio::select! {
                _ = state.producer_ids.want_block.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        let node = rm.node_id;
        let asked = peer
            .call(Duration::ZERO, move |_| {
                let mut r = AllocateProducerIdsRequest::default();
                r.broker_id = BrokerId(node);
                r.broker_epoch = epoch;
                r
            })
            .await;
        match asked {
            Ok(r) if r.error_code == 0 => {
                tracing::debug!(
                    "producer id block [{}, +{}) from the controller",
                    r.producer_id_start.0,
                    r.producer_id_len
                );
                state
                    .producer_ids
                    .add_block(r.producer_id_start.0, r.producer_id_len as i64);
            }
            Ok(r) => {
                tracing::debug!("AllocateProducerIds refused: error {}", r.error_code);
                sleep_or_shutdown(&mut shutdown, Duration::from_millis(300)).await;
            }
            Err(e) => {
                tracing::debug!("AllocateProducerIds failed: {e}");
                sleep_or_shutdown(&mut shutdown, Duration::from_millis(300)).await;
            }
        }
    }
}

/// ISR shrink checks (every half `replica.lag.time.max.ms`, as Kafka schedules them) and the
/// high-watermark checkpoint (every 5 s and at shutdown).
async fn chores(
    state: Arc<BrokerState>,
    rm: Arc<ReplicaManager>,
    mut shutdown: watch::Receiver<bool>,
) {
    let shrink_every =
        Duration::from_millis((rm.settings.replica_lag_time_max_ms / 2).max(50) as u64);
    let mut shrink = tokio::time::interval(shrink_every);
    let mut ckpt = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = shrink.tick() => rm.shrink_isrs(&state),
            _ = ckpt.tick() => {
                let (st, r) = (state.clone(), rm.clone());
                let _ = tokio::task::spawn_blocking(move || r.checkpoint_high_watermarks(&st)).await;
            }
            _ = shutdown.changed() => {
                rm.checkpoint_high_watermarks(&state);
                return;
            }
        }
    }
}
