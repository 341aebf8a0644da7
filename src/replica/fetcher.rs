//! The replica fetcher: one task per source broker, fetching every partition this broker
//! follows from it (Kafka's ReplicaFetcherThread). Each fetch names the follower's log end
//! and the epoch of its last batch; the leader answers with batches to append as they are, or
//! a diverging epoch, in which case the follower truncates to where the two logs agree
//! (Kafka's rule: the smaller of the leader's end for that epoch and its own) and fetches again.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest};

use super::peers::{self, Peer};
use super::ReplicaManager;
use crate::api::topic_name;
use crate::broker::BrokerState;

/// Fetches from `leader` for as long as this broker follows anything from it.
pub async fn run(state: Arc<BrokerState>, rm: Arc<ReplicaManager>, leader: i32) {
    let bind = peers::source_ip(&state.config);
    let mut peer: Option<(String, Peer)> = None;
    let mut backoff = Duration::from_millis(100);
    loop {
        if state.faults.replica_fetch_paused() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let followed = rm.followed_from(leader);
        if followed.is_empty() {
            // Nothing to fetch from this broker right now: wait for a metadata change.
            let wake = rm.follow_changed.notified();
            tokio::select! {
                _ = wake => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        let Some(addr) = leader_addr(&rm, leader) else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if peer.as_ref().is_none_or(|(a, _)| *a != addr) {
            peer = Some((
                addr.clone(),
                Peer::new(
                    addr.clone(),
                    peers::options(
                        &rm.broker_link,
                        &format!("weir-replica-fetcher-{}", rm.node_id),
                        bind,
                        Duration::from_secs(10),
                    ),
                ),
            ));
        }
        let Some((_, p)) = peer.as_ref() else {
            continue;
        };
        match fetch_once(&state, &rm, p, leader, &followed).await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(e) => {
                tracing::debug!("replica fetch from broker {leader} failed: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

fn leader_addr(rm: &ReplicaManager, leader: i32) -> Option<String> {
    let img = rm.image();
    let b = img.brokers.get(&leader)?;
    let e = b.endpoint(&rm.settings.inter_broker_listener)?;
    Some(format!("{}:{}", e.host, e.port))
}

async fn fetch_once(
    state: &BrokerState,
    rm: &ReplicaManager,
    peer: &Peer,
    leader: i32,
    followed: &[(String, i32, i32)],
) -> Result<(), String> {
    // Offsets are read just before the request: only this task appends to these partitions.
    let mut wanted = Vec::with_capacity(followed.len());
    for (topic, idx, epoch) in followed {
        let Some(p) = state.cluster.partition(topic, *idx) else {
            continue;
        };
        wanted.push((
            topic.clone(),
            *idx,
            *epoch,
            p.log_end_offset(),
            p.latest_epoch().unwrap_or(-1),
            p.log_start_offset(),
        ));
    }
    let settings = &rm.settings;
    let node = rm.node_id;
    let wait = settings.replica_fetch_wait_max_ms;
    let req_parts = wanted.clone();
    let max_bytes = settings.replica_fetch_max_bytes;
    let resp_max = settings.replica_fetch_response_max_bytes;
    let resp = peer
        .call(Duration::from_millis(wait.max(0) as u64), move |_v| {
            let mut topics: Vec<FetchTopic> = Vec::new();
            for (topic, idx, epoch, offset, last_epoch, start) in req_parts {
                let mut fp = FetchPartition::default();
                fp.partition = idx;
                fp.current_leader_epoch = epoch;
                fp.fetch_offset = offset;
                fp.last_fetched_epoch = last_epoch;
                fp.log_start_offset = start;
                fp.partition_max_bytes = max_bytes;
                match topics.iter_mut().find(|t| t.topic.0.as_str() == topic) {
                    Some(t) => t.partitions.push(fp),
                    None => {
                        let mut ft = FetchTopic::default();
                        ft.topic = topic_name(topic);
                        ft.partitions = vec![fp];
                        topics.push(ft);
                    }
                }
            }
            let mut r = FetchRequest::default();
            r.replica_id = BrokerId(node);
            r.max_wait_ms = wait;
            r.min_bytes = 1;
            r.max_bytes = resp_max;
            r.isolation_level = 0;
            r.session_id = 0;
            r.session_epoch = -1;
            r.topics = topics;
            r
        })
        .await?;
    if resp.error_code != 0 {
        return Err(format!("fetch error {}", resp.error_code));
    }
    let mut progressed = false;
    let mut errors = 0;
    for t in resp.responses {
        let topic = t.topic.0.as_str().to_string();
        for pd in t.partitions {
            let Some(w) = wanted
                .iter()
                .find(|w| w.0 == topic && w.1 == pd.partition_index)
            else {
                continue;
            };
            let (_, idx, epoch, offset, _, _) = w;
            if !rm.still_follows(&topic, *idx, leader, *epoch) {
                continue;
            }
            let Some(p) = state.cluster.partition(&topic, *idx) else {
                continue;
            };
            match pd.error_code {
                0 => {}
                1 => {
                    if pd.log_start_offset > *offset {
                        // The leader's log starts after ours ends (retention or DeleteRecords
                        // there): start over at its log start.
                        tracing::warn!(
                            "{topic}-{idx}: fetch offset {offset} below the leader's log start {}; restarting the log there",
                            pd.log_start_offset
                        );
                        if let Err(e) = p.try_truncate_fully_and_start_at(pd.log_start_offset) {
                            tracing::error!("{topic}-{idx}: {e}");
                        }
                    } else {
                        // Ahead of the leader without epochs to compare: keep only what is
                        // committed (Kafka's fallback to the high watermark).
                        let hw = p.high_watermark();
                        tracing::warn!(
                            "{topic}-{idx}: fetch offset {offset} beyond the leader's log; truncating to the high watermark {hw}"
                        );
                        if let Err(e) = p.truncate_to_at(*epoch, hw) {
                            tracing::error!("{topic}-{idx}: truncation failed: {e}");
                            errors += 1;
                        }
                    }
                    progressed = true;
                    continue;
                }
                code => {
                    tracing::debug!("{topic}-{idx}: leader {leader} answered error {code}");
                    errors += 1;
                    continue;
                }
            }
            if pd.diverging_epoch.end_offset >= 0 {
                let (leader_epoch, leader_end) =
                    (pd.diverging_epoch.epoch, pd.diverging_epoch.end_offset);
                let target =
                    crate::log::truncation::truncation_offset((leader_epoch, leader_end), &p);
                tracing::info!(
                    "{topic}-{idx}: log diverges from leader {leader} (its epoch {leader_epoch} ends at {leader_end}); truncating to {target}"
                );
                if let Err(e) = p.truncate_to_at(*epoch, target) {
                    tracing::info!("{topic}-{idx}: truncation not applied: {e}");
                    errors += 1;
                }
                progressed = true;
                continue;
            }
            let records = pd.records.unwrap_or_default();
            if !records.is_empty() {
                match p.append_as_follower_at(*epoch, &records) {
                    Ok(Some(_)) => progressed = true,
                    Ok(None) => {}
                    // The role moved on while this response was in flight.
                    Err(crate::log::LogError::NotLeader) => continue,
                    Err(e) => {
                        tracing::error!("{topic}-{idx}: follower append failed: {e}");
                        errors += 1;
                        continue;
                    }
                }
            }
            let hw = pd.high_watermark.min(p.log_end_offset());
            if hw > p.high_watermark() {
                p.set_high_watermark(hw);
            }
        }
    }
    if errors > 0 && !progressed {
        // The leader refused (it may not know its leadership yet): do not spin.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
