//! Replica placement in the manner of Kafka's `StripedReplicaPlacer`: brokers grouped by rack,
//! each partition's leader taken from the next rack in turn (and the next broker in that rack),
//! followers from the following racks, so replicas spread over racks first, then brokers, and
//! leaders spread over all brokers. The starting rack and the order inside racks come from a
//! seed the caller derives from the request, never from a global RNG, so proposals are
//! reproducible.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

pub(crate) struct Placer {
    racks: Vec<Vec<i32>>,
    /// Per rack: how many leaders it has given out (its next leader is at this position).
    cursors: Vec<usize>,
    /// The rack the next partition's leader comes from.
    next_rack: usize,
}

impl Placer {
    /// `brokers`: (id, rack) of the brokers replicas may go to.
    pub(crate) fn new(brokers: &[(i32, Option<String>)], seed: u64) -> Placer {
        let mut by_rack: BTreeMap<Option<String>, Vec<i32>> = BTreeMap::new();
        for (id, rack) in brokers {
            by_rack.entry(rack.clone()).or_default().push(*id);
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut racks: Vec<Vec<i32>> = by_rack.into_values().collect();
        for r in racks.iter_mut() {
            r.sort_unstable();
            r.dedup();
            r.shuffle(&mut rng);
        }
        racks.shuffle(&mut rng);
        let n = racks.len();
        Placer {
            cursors: vec![0; n],
            next_rack: if n == 0 { 0 } else { (seed as usize) % n },
            racks,
        }
    }

    pub(crate) fn broker_count(&self) -> usize {
        self.racks.iter().map(Vec::len).sum()
    }

    /// Replicas for the next partition, leader first. Returns fewer than `rf` only when there
    /// are fewer than `rf` brokers (callers check first).
    pub(crate) fn place(&mut self, rf: usize) -> Vec<i32> {
        let n = self.racks.len();
        let mut out = Vec::with_capacity(rf.min(self.broker_count()));
        if n == 0 || rf == 0 {
            return out;
        }
        let mut rack = self.next_rack % n;
        self.next_rack = (self.next_rack + 1) % n;
        if let Some(leader) = self.racks[rack]
            .get(self.cursors[rack] % self.racks[rack].len().max(1))
            .copied()
        {
            self.cursors[rack] += 1;
            out.push(leader);
        }
        while out.len() < rf {
            let mut placed = false;
            for step in 1..=n {
                let k = (rack + step) % n;
                if let Some(b) = self.unused_in(k, &out) {
                    out.push(b);
                    rack = k;
                    placed = true;
                    break;
                }
            }
            if !placed {
                break;
            }
        }
        out
    }

    /// The first broker of rack `k`, from its cursor on, not already in `used`.
    fn unused_in(&self, k: usize, used: &[i32]) -> Option<i32> {
        let rack = &self.racks[k];
        (0..rack.len())
            .map(|j| rack[(self.cursors[k] + j) % rack.len()])
            .find(|b| !used.contains(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    fn brokers(spec: &[(i32, &str)]) -> Vec<(i32, Option<String>)> {
        spec.iter()
            .map(|(id, r)| (*id, (!r.is_empty()).then(|| r.to_string())))
            .collect()
    }

    #[test]
    fn spreads_over_racks_and_leaders() {
        let bs = brokers(&[(1, "a"), (2, "a"), (3, "b"), (4, "b"), (5, "c"), (6, "c")]);
        let rack: HashMap<i32, String> = bs
            .iter()
            .map(|(i, r)| (*i, r.clone().unwrap_or_default()))
            .collect();
        for seed in 0..20 {
            let mut p = Placer::new(&bs, seed);
            let mut leaders = BTreeSet::new();
            let mut load: HashMap<i32, usize> = HashMap::new();
            for _ in 0..6 {
                let r = p.place(3);
                assert_eq!(r.len(), 3);
                let racks: BTreeSet<_> = r.iter().map(|b| rack[b].clone()).collect();
                assert_eq!(racks.len(), 3, "seed {seed}: {r:?} not over 3 racks");
                leaders.insert(r[0]);
                for b in r {
                    *load.entry(b).or_default() += 1;
                }
            }
            assert_eq!(leaders.len(), 6, "seed {seed}: leaders {leaders:?}");
            assert!(load.values().all(|l| *l == 3), "seed {seed}: {load:?}");
        }
    }

    #[test]
    fn single_rack_rotates_leaders() {
        let bs = brokers(&[(1, ""), (2, ""), (3, "")]);
        let mut p = Placer::new(&bs, 42);
        let placed: Vec<Vec<i32>> = (0..3).map(|_| p.place(3)).collect();
        let leaders: BTreeSet<_> = placed.iter().map(|r| r[0]).collect();
        assert_eq!(leaders.len(), 3, "{placed:?}");
        for r in &placed {
            assert_eq!(r.iter().collect::<BTreeSet<_>>().len(), 3);
        }
    }

    #[test]
    fn more_replicas_than_racks() {
        let bs = brokers(&[(1, "a"), (2, "a"), (3, "b")]);
        let mut p = Placer::new(&bs, 7);
        for _ in 0..5 {
            let r = p.place(3);
            assert_eq!(r.iter().collect::<BTreeSet<_>>().len(), 3, "{r:?}");
        }
    }

    #[test]
    fn same_seed_same_placement() {
        let bs = brokers(&[(1, "a"), (2, "b"), (3, "c"), (4, "a")]);
        let run = |seed| {
            let mut p = Placer::new(&bs, seed);
            (0..8).map(|_| p.place(2)).collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert!(Placer::new(&[], 1).place(3).is_empty());
    }
}
