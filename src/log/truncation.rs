//! Where a follower cuts its log after asking the leader OffsetForLeaderEpoch, as Kafka's
//! `AbstractFetcherThread.getOffsetTruncationState` decides it. Kept apart from the fetcher so
//! the decision is a pure function with its own tests.
//!
//! The follower sends its latest epoch (`Partition::latest_epoch`); the leader answers with the
//! largest epoch <= it that it knows and where that epoch ended. A follower with no epochs at all
//! does not ask: it truncates to its high watermark, as Kafka does.

use super::epoch_cache::{UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};
use super::Partition;

/// The offset to truncate to and whether the follower is done, or must ask again with an older
/// epoch (it did not know the epoch the leader answered with).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    pub offset: i64,
    pub completed: bool,
}

/// The decision itself. `leader` is the leader's (epoch, end offset) answer; `local_end` is the
/// follower's own `end_offset_for(leader epoch)` (None when undefined); `log_end` the follower's
/// log end offset; `fetch_offset` where it would fetch from without epochs (its high watermark).
pub fn decide(
    leader: (i32, i64),
    local_end: Option<(i32, i64)>,
    log_end: i64,
    fetch_offset: i64,
) -> Truncation {
    let (leader_epoch, leader_end) = leader;
    if leader_end == UNDEFINED_EPOCH_OFFSET {
        // The leader knows nothing of our epoch: fall back to the high watermark.
        return Truncation {
            offset: fetch_offset,
            completed: true,
        };
    }
    if leader_epoch == UNDEFINED_EPOCH {
        return Truncation {
            offset: leader_end.min(log_end),
            completed: true,
        };
    }
    match local_end {
        // We do not have the leader's epoch: cut to the end of our largest older epoch and ask
        // again with that one.
        Some((epoch, end)) if epoch != leader_epoch => Truncation {
            offset: end.min(log_end),
            completed: false,
        },
        Some((_, end)) => Truncation {
            offset: end.min(leader_end).min(log_end),
            completed: true,
        },
        None => Truncation {
            offset: leader_end.min(log_end),
            completed: true,
        },
    }
}

/// The decision for a local partition, falling back to its high watermark.
pub fn truncation_state(leader_answer: (i32, i64), local: &Partition) -> Truncation {
    let local_end = match local.end_offset_for_epoch(leader_answer.0) {
        (_, UNDEFINED_EPOCH_OFFSET) => None,
        found => Some(found),
    };
    decide(
        leader_answer,
        local_end,
        local.log_end_offset(),
        local.high_watermark(),
    )
}

/// The offset `local` should truncate to given the leader's answer (see `truncation_state` for
/// whether another round is needed).
pub fn truncation_offset(leader_answer: (i32, i64), local: &Partition) -> i64 {
    truncation_state(leader_answer, local).offset
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(offset: i64) -> Truncation {
        Truncation {
            offset,
            completed: true,
        }
    }

    #[test]
    fn leader_without_an_answer_means_high_watermark() {
        assert_eq!(decide((-1, -1), Some((3, 50)), 60, 40), done(40));
        assert_eq!(decide((5, -1), None, 60, 40), done(40));
    }

    #[test]
    fn undefined_leader_epoch_uses_its_offset_capped_at_our_end() {
        assert_eq!(decide((-1, 30), Some((3, 50)), 60, 40), done(30));
        assert_eq!(decide((-1, 90), Some((3, 50)), 60, 40), done(60));
    }

    #[test]
    fn same_epoch_takes_the_smaller_end() {
        // The follower has more of the epoch than the leader: cut to the leader's end.
        assert_eq!(decide((3, 45), Some((3, 60)), 60, 40), done(45));
        // The leader has more: nothing to cut beyond our own end.
        assert_eq!(decide((3, 80), Some((3, 60)), 60, 40), done(60));
        // Our epoch 3 ended at 50 (we later led in epoch 4); the leader's epoch 3 ran to 55.
        assert_eq!(decide((3, 55), Some((3, 50)), 70, 40), done(50));
    }

    #[test]
    fn unknown_leader_epoch_is_an_intermediate_step() {
        // We know epochs 1 and 4; the leader answered epoch 3: cut to where our epoch 1 ended
        // (epoch 4's start) and ask again.
        assert_eq!(
            decide((3, 70), Some((1, 50)), 90, 40),
            Truncation {
                offset: 50,
                completed: false
            }
        );
    }

    #[test]
    fn no_local_epoch_trusts_the_leader() {
        assert_eq!(decide((2, 35), None, 60, 40), done(35));
        assert_eq!(decide((2, 95), None, 60, 40), done(60));
    }

    #[test]
    fn against_a_real_partition() {
        use crate::log::batch::tests::batch;
        use crate::log::segment::now_ms;
        use crate::log::LogConfig;
        let dir = tempfile::tempdir().unwrap();
        let p = Partition::open_replicated(dir.path(), "t", 0, LogConfig::default(), true, None)
            .unwrap();
        p.become_leader(1);
        for _ in 0..5 {
            p.append(&batch(2, now_ms())).unwrap();
        }
        p.become_leader(3);
        for _ in 0..5 {
            p.append(&batch(2, now_ms())).unwrap();
        }
        assert_eq!(p.epoch_entries(), vec![(1, 0), (3, 10)]);
        p.set_high_watermark(4);
        // The leader's epoch 3 ended at 14: we cut our extra epoch-3 records.
        assert_eq!(truncation_offset((3, 14), &p), 14);
        // The leader's epoch 2 ended at 12: we never had 2; our epoch 1 ended at 10.
        assert_eq!(
            truncation_state((2, 12), &p),
            Truncation {
                offset: 10,
                completed: false
            }
        );
        assert_eq!(truncation_offset((1, 8), &p), 8);
        assert_eq!(truncation_offset((-1, -1), &p), 4);
    }
}
