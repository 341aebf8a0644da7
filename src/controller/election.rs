//! Partition leader and ISR changes, following Kafka's `PartitionChangeBuilder` without ELR:
//! keep the current leader if it is still acceptable and in the ISR, else the first acceptable
//! ISR member in replica order, else (only with unclean election) the first acceptable replica,
//! which then becomes the whole ISR; else no leader. The ISR is never shrunk to empty: when the
//! last member goes, it stays in the ISR so it can be elected cleanly when it returns.

use uuid::Uuid;

use crate::metadata::{MetadataRecord, PartitionImage, NO_LEADER};

/// The PartitionChange that moves `p` to `target_isr` (or keeps its ISR) and elects a leader
/// among brokers for which `acceptable` holds; `None` when nothing would change.
pub(crate) fn partition_change(
    topic_id: Uuid,
    partition_id: i32,
    p: &PartitionImage,
    target_isr: Option<Vec<i32>>,
    acceptable: &dyn Fn(i32) -> bool,
    unclean: bool,
) -> Option<MetadataRecord> {
    let mut isr = match target_isr {
        Some(t) if !t.is_empty() => t,
        _ => p.isr.clone(),
    };
    let valid = |r: i32| isr.contains(&r) && acceptable(r);
    let (leader, was_unclean) = if p.leader != NO_LEADER && valid(p.leader) {
        (p.leader, false)
    } else if let Some(r) = p.replicas.iter().copied().find(|r| valid(*r)) {
        (r, false)
    } else if let Some(r) = p
        .replicas
        .iter()
        .copied()
        .find(|r| unclean && acceptable(*r))
    {
        (r, true)
    } else {
        (NO_LEADER, false)
    };
    if was_unclean {
        isr = vec![leader];
    }
    let leader_change = (leader != p.leader).then_some(leader);
    let isr_change = (isr != p.isr).then_some(isr);
    if leader_change.is_none() && isr_change.is_none() {
        return None;
    }
    Some(MetadataRecord::PartitionChange {
        partition_id,
        topic_id,
        isr: isr_change,
        leader: leader_change,
        replicas: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(replicas: &[i32], isr: &[i32], leader: i32) -> PartitionImage {
        PartitionImage {
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 3,
            partition_epoch: 7,
        }
    }

    fn fields(r: Option<MetadataRecord>) -> Option<(Option<Vec<i32>>, Option<i32>)> {
        match r? {
            MetadataRecord::PartitionChange { isr, leader, .. } => Some((isr, leader)),
            _ => None,
        }
    }

    #[test]
    fn keeps_acceptable_leader_and_shrinks_isr() {
        let p = part(&[1, 2, 3], &[1, 2, 3], 1);
        let r = partition_change(Uuid::nil(), 0, &p, Some(vec![1, 2]), &|_| true, false);
        assert_eq!(fields(r), Some((Some(vec![1, 2]), None)));
    }

    #[test]
    fn elects_first_isr_member_in_replica_order() {
        let p = part(&[1, 2, 3], &[3, 2, 1], 1);
        let r = partition_change(Uuid::nil(), 0, &p, Some(vec![3, 2]), &|b| b != 1, false);
        assert_eq!(fields(r), Some((Some(vec![3, 2]), Some(2))));
    }

    #[test]
    fn last_isr_member_stays_and_leader_goes() {
        let p = part(&[1, 2], &[1], 1);
        let r = partition_change(Uuid::nil(), 0, &p, Some(vec![]), &|b| b != 1, false);
        assert_eq!(fields(r), Some((None, Some(NO_LEADER))));
    }

    #[test]
    fn unclean_only_when_enabled() {
        let p = part(&[1, 2], &[1], NO_LEADER);
        let alive = |b: i32| b == 2;
        assert_eq!(
            fields(partition_change(Uuid::nil(), 0, &p, None, &alive, false)),
            None
        );
        let r = partition_change(Uuid::nil(), 0, &p, None, &alive, true);
        assert_eq!(fields(r), Some((Some(vec![2]), Some(2))));
    }

    #[test]
    fn nothing_to_do_is_none() {
        let p = part(&[1, 2], &[1, 2], 1);
        assert!(partition_change(Uuid::nil(), 0, &p, None, &|_| true, true).is_none());
        assert!(partition_change(Uuid::nil(), 0, &p, Some(vec![1, 2]), &|_| true, true).is_none());
    }
}
