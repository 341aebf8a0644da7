//! Broker lifecycle as Kafka's `ClusterControlManager` and `BrokerHeartbeatManager` run it:
//! registration (the RegisterBroker record's offset is the broker epoch; new brokers start
//! fenced), heartbeats (unfence once caught up, controlled shutdown that moves leadership away
//! before granting the shutdown), and session expiry, which fences a silent broker and moves its
//! partitions' leadership and ISR membership elsewhere.

use kafka_protocol::messages::{
    BrokerHeartbeatRequest, BrokerHeartbeatResponse, BrokerRegistrationRequest,
    BrokerRegistrationResponse,
};

use super::election::partition_change;
use super::{code, Batch, Controller};
use crate::metadata::{Endpoint, MetadataImage, MetadataRecord, NO_LEADER};

/// Kafka's `BrokerControlState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Fenced,
    Unfenced,
    ControlledShutdown,
    ShutdownNow,
}

/// Which partitions a leader/ISR pass looks at, and which broker it takes out or brings in.
struct Pass {
    /// Removed from every ISR and never elected (fenced, shutting down).
    remove: Option<i32>,
    /// Counted as active even before its unfence record is replayed.
    add: Option<i32>,
    /// Only partitions with no leader (otherwise: those `remove` leads or is an ISR member of).
    leaderless_only: bool,
}

impl Controller {
    pub fn register_broker(
        &mut self,
        req: &BrokerRegistrationRequest,
        now_ms: i64,
        next_offset: i64,
    ) -> (Vec<MetadataRecord>, BrokerRegistrationResponse) {
        let mut resp = BrokerRegistrationResponse::default();
        resp.broker_epoch = -1;
        let id = req.broker_id.0;
        if req.cluster_id.as_str() != self.config.cluster_id {
            tracing::warn!(
                broker = id,
                "Expected cluster ID {}, but got cluster ID {}",
                self.config.cluster_id,
                req.cluster_id.as_str()
            );
            resp.error_code = code::INCONSISTENT_CLUSTER_ID;
            return (Vec::new(), resp);
        }
        let existing = self.image.brokers.get(&id);
        if let Some(b) = existing {
            if b.incarnation_id != req.incarnation_id && self.has_valid_session(id, now_ms) {
                tracing::warn!(
                    broker = id,
                    "Another broker is registered with that broker id."
                );
                resp.error_code = code::DUPLICATE_BROKER_REGISTRATION;
                return (Vec::new(), resp);
            }
        }
        let unclean_restart = existing.is_some_and(|b| req.previous_broker_epoch != b.epoch);
        let mut batch = Batch::new(&self.image);
        batch.push(MetadataRecord::RegisterBroker {
            broker_id: id,
            incarnation_id: req.incarnation_id,
            broker_epoch: next_offset,
            endpoints: req
                .listeners
                .iter()
                .map(|l| Endpoint {
                    name: l.name.as_str().to_string(),
                    host: l.host.as_str().to_string(),
                    port: l.port,
                    security_protocol: l.security_protocol,
                })
                .collect(),
            rack: req.rack.as_ref().map(|r| r.as_str().to_string()),
            fenced: true,
        });
        if unclean_restart {
            // Its log may have lost an unflushed tail: out of every ISR, as Kafka's
            // handleBrokerUncleanShutdown; it leads nothing now that it is fenced.
            self.leader_and_isr_updates(
                &mut batch,
                &Pass {
                    remove: Some(id),
                    add: None,
                    leaderless_only: false,
                },
            );
        }
        let records = batch.into_records();
        self.heartbeats.insert(id, now_ms);
        resp.error_code = code::NONE;
        resp.broker_epoch = next_offset;
        (records, resp)
    }

    pub fn heartbeat(
        &mut self,
        req: &BrokerHeartbeatRequest,
        now_ms: i64,
    ) -> (Vec<MetadataRecord>, BrokerHeartbeatResponse) {
        let mut resp = BrokerHeartbeatResponse::default();
        let id = req.broker_id.0;
        let Some(b) = self
            .image
            .brokers
            .get(&id)
            .filter(|b| b.epoch == req.broker_epoch)
        else {
            resp.error_code = code::STALE_BROKER_EPOCH;
            resp.is_fenced = true;
            return (Vec::new(), resp);
        };
        let (epoch, fenced, shutting_down) = (b.epoch, b.fenced, b.in_controlled_shutdown);
        self.heartbeats.insert(id, now_ms);
        self.metadata_offsets
            .insert(id, (req.current_metadata_offset, now_ms));
        let caught_up = req.current_metadata_offset >= epoch;
        let current = if fenced {
            State::Fenced
        } else if shutting_down {
            State::ControlledShutdown
        } else {
            State::Unfenced
        };
        let leads = leads_any(&self.image, id);
        let next = match current {
            State::Fenced if req.want_shut_down => State::ShutdownNow,
            State::Fenced if !req.want_fence && caught_up => State::Unfenced,
            State::Fenced => State::Fenced,
            State::Unfenced if req.want_fence && req.want_shut_down => State::ShutdownNow,
            State::Unfenced if req.want_fence => State::Fenced,
            State::Unfenced if req.want_shut_down && leads => State::ControlledShutdown,
            State::Unfenced if req.want_shut_down => State::ShutdownNow,
            State::Unfenced => State::Unfenced,
            State::ControlledShutdown if leads => State::ControlledShutdown,
            State::ControlledShutdown | State::ShutdownNow => State::ShutdownNow,
        };
        let mut batch = Batch::new(&self.image);
        if current != next {
            match next {
                State::Unfenced => {
                    batch.push(MetadataRecord::UnfenceBroker { id, epoch });
                    self.leader_and_isr_updates(
                        &mut batch,
                        &Pass {
                            remove: None,
                            add: Some(id),
                            leaderless_only: true,
                        },
                    );
                }
                State::ControlledShutdown => {
                    batch.push(MetadataRecord::BrokerRegistrationChange {
                        broker_id: id,
                        broker_epoch: epoch,
                        fenced: None,
                        in_controlled_shutdown: Some(true),
                    });
                    self.remove_broker(&mut batch, id);
                }
                State::Fenced | State::ShutdownNow => {
                    self.remove_broker(&mut batch, id);
                    if !fenced {
                        batch.push(MetadataRecord::FenceBroker { id, epoch });
                    }
                }
            }
        }
        resp.error_code = code::NONE;
        resp.is_caught_up = caught_up;
        resp.is_fenced = matches!(next, State::Fenced | State::ShutdownNow);
        resp.should_shut_down = next == State::ShutdownNow;
        (batch.into_records(), resp)
    }

    /// Fences brokers whose session expired, moving their leadership and ISR membership away,
    /// and elects leaders for leaderless partitions that have an electable replica.
    pub fn tick(&mut self, now_ms: i64) -> Vec<MetadataRecord> {
        let mut batch = Batch::new(&self.image);
        let live: Vec<(i32, i64)> = self
            .image
            .brokers
            .values()
            .filter(|b| !b.fenced)
            .map(|b| (b.id, b.epoch))
            .collect();
        for (id, epoch) in live {
            // A broker this controller has not heard from yet (e.g. after a restart) gets a
            // full session from now.
            let last = *self.heartbeats.entry(id).or_insert(now_ms);
            if now_ms.saturating_sub(last) > self.config.session_timeout_ms {
                tracing::info!(broker = id, "fencing broker: session timed out");
                self.remove_broker(&mut batch, id);
                batch.push(MetadataRecord::FenceBroker { id, epoch });
            }
        }
        self.leader_and_isr_updates(
            &mut batch,
            &Pass {
                remove: None,
                add: None,
                leaderless_only: true,
            },
        );
        batch.into_records()
    }

    /// A session is valid while the broker is unfenced and heard from within the timeout.
    fn has_valid_session(&self, id: i32, now_ms: i64) -> bool {
        let unfenced = self.image.brokers.get(&id).is_some_and(|b| !b.fenced);
        unfenced
            && self
                .heartbeats
                .get(&id)
                .is_some_and(|t| now_ms.saturating_sub(*t) <= self.config.session_timeout_ms)
    }

    fn remove_broker(&self, batch: &mut Batch<'_>, id: i32) {
        self.leader_and_isr_updates(
            batch,
            &Pass {
                remove: Some(id),
                add: None,
                leaderless_only: false,
            },
        );
    }

    /// Kafka's `generateLeaderAndIsrUpdates`: one PartitionChange per affected partition.
    fn leader_and_isr_updates(&self, batch: &mut Batch<'_>, pass: &Pass) {
        let mut changes = Vec::new();
        {
            let view = batch.view();
            let acceptable =
                |r: i32| Some(r) != pass.remove && (Some(r) == pass.add || view.is_active(r));
            for t in view.topics.values() {
                let unclean = self.unclean_enabled(view, &t.name);
                for (idx, p) in &t.partitions {
                    let affected = if pass.leaderless_only {
                        p.leader == NO_LEADER
                    } else {
                        pass.remove
                            .is_some_and(|x| p.leader == x || p.isr.contains(&x))
                    };
                    if !affected {
                        continue;
                    }
                    let target = pass
                        .remove
                        .map(|x| p.isr.iter().copied().filter(|r| *r != x).collect());
                    if let Some(r) = partition_change(t.id, *idx, p, target, &acceptable, unclean) {
                        changes.push(r);
                    }
                }
            }
        }
        for r in changes {
            batch.push(r);
        }
    }
}

fn leads_any(view: &MetadataImage, id: i32) -> bool {
    view.topics
        .values()
        .any(|t| t.partitions.values().any(|p| p.leader == id))
}
