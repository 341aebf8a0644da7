//! The checker: pure functions over a history (see `history.rs`), after Jepsen's Kafka queue
//! workload (`jepsen.tests.kafka`). Linear-time checks only; no Elle cycle search.
//!
//! Keys are partitions of one topic. The version order of a partition is the order of the
//! offsets at which values were observed by any read (polls and the final read), leaving out
//! values whose write definitely failed (an aborted transaction): gaps between offsets
//! (transaction markers, aborted records) are not holes.

use crate::history::{Op, Outcome, F};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// An acknowledged send the final read did not return, though the final read covered its
    /// offset.
    LostWrite,
    /// An acknowledged send beyond the end of what the final read covered (Jepsen's `unseen`).
    Unseen,
    /// One value at more than one offset.
    Duplicate,
    /// One offset of one partition with more than one value.
    InconsistentOffsets,
    /// A read of a value whose write definitely failed (an aborted transaction): Adya's G1a.
    G1a,
    /// Within one consumer's assignment epoch, a poll returned an offset at or below one it had
    /// already returned for that partition.
    NonmonotonicPoll,
    /// Within one producer process, a later send got an offset at or below an earlier one's.
    NonmonotonicSend,
    /// Within one consumer's assignment epoch, two consecutive reads of a partition skipped over
    /// a value that exists between them.
    PollSkip,
    /// The run cannot be judged: a partition that was written has no complete final read.
    IncompleteFinalRead,
    /// The run cannot be judged: the workload did not finish (no `workload-end`).
    WorkloadCrashed,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::LostWrite,
        Kind::Unseen,
        Kind::Duplicate,
        Kind::InconsistentOffsets,
        Kind::G1a,
        Kind::NonmonotonicPoll,
        Kind::NonmonotonicSend,
        Kind::PollSkip,
        Kind::IncompleteFinalRead,
        Kind::WorkloadCrashed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::LostWrite => "lost-write",
            Kind::Unseen => "unseen",
            Kind::Duplicate => "duplicate",
            Kind::InconsistentOffsets => "inconsistent-offsets",
            Kind::G1a => "G1a (aborted read)",
            Kind::NonmonotonicPoll => "nonmonotonic-poll",
            Kind::NonmonotonicSend => "nonmonotonic-send",
            Kind::PollSkip => "poll-skip",
            Kind::IncompleteFinalRead => "incomplete-final-read",
            Kind::WorkloadCrashed => "workload-crashed",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const EXAMPLES: usize = 5;

#[derive(Default, Debug)]
pub struct Found {
    pub count: usize,
    pub examples: Vec<String>,
}

#[derive(Default, Debug)]
pub struct Report {
    /// Operation counts by function and outcome.
    pub ops: BTreeMap<(F, Outcome), usize>,
    /// Values sent (inside transactions counted one by one) by outcome.
    pub values: BTreeMap<Outcome, usize>,
    /// Distinct values read by the final read.
    pub final_values: usize,
    pub anomalies: BTreeMap<Kind, Found>,
}

impl Report {
    fn add(&mut self, kind: Kind, example: impl FnOnce() -> String) {
        let found = self.anomalies.entry(kind).or_default();
        found.count += 1;
        if found.examples.len() < EXAMPLES {
            found.examples.push(example());
        }
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.anomalies.get(&kind).map_or(0, |f| f.count)
    }

    pub fn total(&self) -> usize {
        self.anomalies.values().map(|f| f.count).sum()
    }
}

/// What is known about one written value.
#[derive(Clone, Copy, Debug)]
struct Write {
    outcome: Outcome,
    p: i32,
    offset: Option<i64>,
    process: u64,
    invoke_ns: u64,
}

fn writes(ops: &[Op]) -> HashMap<u64, Write> {
    let mut out = HashMap::new();
    for op in ops {
        if matches!(op.f, F::Send | F::Txn) {
            for s in &op.sends {
                out.insert(
                    s.value,
                    Write {
                        outcome: op.outcome,
                        p: s.p,
                        // librdkafka acknowledges an idempotent send it could only infer was
                        // persisted (a later batch of the same producer succeeded) with the
                        // invalid offset -1001: delivered, position unknown.
                        offset: s.offset.filter(|o| *o >= 0),
                        process: op.process,
                        invoke_ns: op.invoke_ns,
                    },
                );
            }
        }
    }
    out
}

fn is_read(op: &Op) -> bool {
    match op.f {
        F::Poll => op.outcome != Outcome::Fail,
        F::FinalRead => true,
        _ => false,
    }
}

pub fn check(ops: &[Op]) -> Report {
    let mut r = Report::default();
    for op in ops {
        *r.ops.entry((op.f, op.outcome)).or_default() += 1;
        if matches!(op.f, F::Send | F::Txn) {
            *r.values.entry(op.outcome).or_default() += op.sends.len();
        }
    }
    let writes = writes(ops);
    if !ops.iter().any(|o| o.f == F::WorkloadEnd) {
        r.add(Kind::WorkloadCrashed, || {
            "no workload-end record: the workload did not finish cleanly".into()
        });
    }

    // Every (partition, offset) -> values and value -> (partition, offset), from reads and from
    // acknowledged send offsets.
    let mut at: BTreeMap<(i32, i64), BTreeSet<u64>> = BTreeMap::new();
    let mut places: BTreeMap<u64, BTreeSet<(i32, i64)>> = BTreeMap::new();
    for op in ops.iter().filter(|o| is_read(o)) {
        for rd in &op.reads {
            at.entry((rd.p, rd.offset)).or_default().insert(rd.value);
            places
                .entry(rd.value)
                .or_default()
                .insert((rd.p, rd.offset));
        }
    }
    for (&v, w) in &writes {
        if let Some(o) = w.offset {
            at.entry((w.p, o)).or_default().insert(v);
            places.entry(v).or_default().insert((w.p, o));
        }
    }
    for ((p, o), vs) in &at {
        if vs.len() > 1 {
            r.add(Kind::InconsistentOffsets, || {
                format!("partition {p} offset {o} holds values {vs:?}")
            });
        }
    }
    for (v, ps) in &places {
        if ps.len() > 1 {
            r.add(Kind::Duplicate, || {
                format!("value {v} at (partition, offset) {ps:?}")
            });
        }
    }

    // G1a: reads of values whose write definitely failed.
    let mut g1a_seen = BTreeSet::new();
    for op in ops.iter().filter(|o| is_read(o)) {
        for rd in &op.reads {
            if let Some(w) = writes.get(&rd.value) {
                if w.outcome == Outcome::Fail && g1a_seen.insert(rd.value) {
                    r.add(Kind::G1a, || {
                        format!(
                            "process {} read value {} at partition {} offset {}; its write (process {}) failed",
                            op.process, rd.value, rd.p, rd.offset, w.process
                        )
                    });
                }
            }
        }
    }

    // Version order: offsets with a visible value, per partition.
    let mut visible: BTreeMap<i32, BTreeSet<i64>> = BTreeMap::new();
    for op in ops.iter().filter(|o| is_read(o)) {
        for rd in &op.reads {
            let aborted = writes
                .get(&rd.value)
                .is_some_and(|w| w.outcome == Outcome::Fail);
            if !aborted {
                visible.entry(rd.p).or_default().insert(rd.offset);
            }
        }
    }

    // Nonmonotonic poll and poll skip, per (process, epoch, partition), in the process's order.
    let mut readers: Vec<&Op> = ops.iter().filter(|o| is_read(o)).collect();
    readers.sort_by_key(|o| (o.process, o.invoke_ns));
    let mut last: HashMap<(u64, u64, bool, i32), (i64, u64)> = HashMap::new();
    for op in readers {
        let epoch = op.epoch.unwrap_or(0);
        let fin = op.f == F::FinalRead;
        for rd in &op.reads {
            let key = (op.process, epoch, fin, rd.p);
            if let Some(&(prev, prev_v)) = last.get(&key) {
                if rd.offset <= prev {
                    r.add(Kind::NonmonotonicPoll, || {
                        format!(
                            "process {} epoch {epoch} partition {}: offset {} (value {}) after offset {prev} (value {prev_v})",
                            op.process, rd.p, rd.offset, rd.value
                        )
                    });
                } else if let Some(skipped) = visible
                    .get(&rd.p)
                    .and_then(|s| s.range(prev + 1..rd.offset).next())
                {
                    r.add(Kind::PollSkip, || {
                        format!(
                            "process {} epoch {epoch} partition {}: offset {prev} then {}, skipping offset {skipped}",
                            op.process, rd.p, rd.offset
                        )
                    });
                }
            }
            last.insert(key, (rd.offset, rd.value));
        }
    }

    // Nonmonotonic send: a producer's acknowledged offsets per partition, in invoke order.
    // (process, partition) -> [(invoke time, value, offset)]
    type Acked = Vec<(u64, u64, i64)>;
    let mut by_proc: BTreeMap<(u64, i32), Acked> = BTreeMap::new();
    for (&v, w) in &writes {
        if let (Outcome::Ok, Some(o)) = (w.outcome, w.offset) {
            by_proc
                .entry((w.process, w.p))
                .or_default()
                .push((w.invoke_ns, v, o));
        }
    }
    for ((proc_, p), mut sends) in by_proc {
        sends.sort();
        for pair in sends.windows(2) {
            let ((_, v1, o1), (_, v2, o2)) = (pair[0], pair[1]);
            if o2 <= o1 {
                r.add(Kind::NonmonotonicSend, || {
                    format!("process {proc_} partition {p}: value {v1} at offset {o1}, then value {v2} at offset {o2}")
                });
            }
        }
    }

    // Lost writes and unseen: against the last final read of each partition.
    let mut finals: BTreeMap<i32, &Op> = BTreeMap::new();
    for op in ops.iter().filter(|o| o.f == F::FinalRead) {
        if let Some(&p) = op.partitions.first() {
            finals.insert(p, op);
        }
    }
    let final_values: HashMap<i32, BTreeSet<u64>> = finals
        .iter()
        .map(|(&p, op)| (p, op.reads.iter().map(|r| r.value).collect()))
        .collect();
    r.final_values = final_values.values().map(|s| s.len()).sum();
    let written: BTreeSet<i32> = writes.values().map(|w| w.p).collect();
    for p in &written {
        match finals.get(p) {
            None => r.add(Kind::IncompleteFinalRead, || {
                format!("partition {p} was written but has no final read")
            }),
            Some(op) if op.outcome != Outcome::Ok => r.add(Kind::IncompleteFinalRead, || {
                format!(
                    "partition {p}: final read did not reach its end offset ({})",
                    op.error.as_deref().unwrap_or("no reason given")
                )
            }),
            Some(_) => {}
        }
    }
    let mut ok_writes: Vec<(&u64, &Write)> = writes
        .iter()
        .filter(|(_, w)| w.outcome == Outcome::Ok)
        .collect();
    ok_writes.sort_by_key(|(v, w)| (w.p, w.offset, **v));
    for (&v, w) in ok_writes {
        let Some(op) = finals.get(&w.p) else {
            continue;
        };
        if final_values.get(&w.p).is_some_and(|s| s.contains(&v)) {
            continue;
        }
        let max_read = op.reads.iter().map(|r| r.offset).max().unwrap_or(-1);
        let covered = max_read.max(op.end_offset.unwrap_or(0) - 1);
        match w.offset {
            Some(o) if o <= covered => r.add(Kind::LostWrite, || {
                format!(
                    "value {v} acknowledged at partition {} offset {o} (process {}, sent at {} ns) is missing from the final read (end offset {:?})",
                    w.p, w.process, w.invoke_ns, op.end_offset
                )
            }),
            _ => r.add(Kind::Unseen, || {
                format!(
                    "value {v} acknowledged at partition {} offset {:?} lies beyond the final read's end offset {:?}",
                    w.p, w.offset, op.end_offset
                )
            }),
        }
    }
    r
}

/// One nemesis event from run.sh's `nemesis.jsonl`.
#[derive(serde::Deserialize, Debug, Clone)]
pub struct NemesisEvent {
    pub time_ns: u64,
    pub event: String,
    #[serde(default)]
    pub node: Option<u32>,
}

/// For each fault that heals (`start`, `resume`, `heal`), the time from the heal to the first
/// acknowledged send completed after it, and from the fault itself.
pub fn recovery(
    ops: &[Op],
    events: &[NemesisEvent],
) -> Vec<(String, u64, Option<u64>, Option<u64>)> {
    let mut acks: Vec<u64> = ops
        .iter()
        .filter(|o| matches!(o.f, F::Send | F::Txn) && o.outcome == Outcome::Ok)
        .map(|o| o.complete_ns)
        .collect();
    acks.sort_unstable();
    let mut out = Vec::new();
    let mut fault_at: Option<(u64, String)> = None;
    for e in events {
        match e.event.as_str() {
            "kill" | "pause" | "partition" | "skew-kill" | "lose-tail" => {
                fault_at = Some((e.time_ns, e.event.clone()))
            }
            "start" | "resume" | "heal" => {
                // A start with no fault before it is the initial start.
                let Some((fault_ns, name)) = fault_at.take() else {
                    continue;
                };
                let first = acks.iter().find(|&&t| t > e.time_ns).copied();
                out.push((
                    format!(
                        "{name}{}",
                        e.node.map(|n| format!(" n{n}")).unwrap_or_default()
                    ),
                    fault_ns,
                    first.map(|f| f.saturating_sub(e.time_ns)),
                    first.map(|f| f.saturating_sub(fault_ns)),
                ));
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Read, Sent};

    #[test]
    fn an_acknowledged_send_without_an_offset_is_not_a_second_position() {
        let ops = vec![
            send(1, 1, 0, 5, Some(0), Outcome::Ok),
            send(1, 2, 0, 6, Some(-1001), Outcome::Ok),
            send(1, 3, 0, 7, Some(2), Outcome::Ok),
            final_read(0, 3, &[(0, 5), (1, 6), (2, 7)]),
            end(),
        ];
        let r = check(&ops);
        assert_eq!(r.count(Kind::Duplicate), 0);
        assert_eq!(r.count(Kind::NonmonotonicSend), 0);
        assert_eq!(r.count(Kind::LostWrite), 0);
    }

    fn send(process: u64, t: u64, p: i32, value: u64, offset: Option<i64>, outcome: Outcome) -> Op {
        let mut op = Op::new(process, F::Send, outcome, t);
        op.complete_ns = t + 1;
        op.sends = vec![Sent { p, value, offset }];
        op
    }

    fn poll(process: u64, t: u64, epoch: u64, reads: &[(i32, i64, u64)]) -> Op {
        let mut op = Op::new(process, F::Poll, Outcome::Ok, t);
        op.complete_ns = t + 1;
        op.epoch = Some(epoch);
        op.mode = Some("assign".into());
        op.reads = reads
            .iter()
            .map(|&(p, offset, value)| Read { p, offset, value })
            .collect();
        op
    }

    fn final_read(p: i32, end: i64, reads: &[(i64, u64)]) -> Op {
        let mut op = Op::new(9999, F::FinalRead, Outcome::Ok, 1_000_000);
        op.partitions = vec![p];
        op.end_offset = Some(end);
        op.reads = reads
            .iter()
            .map(|&(offset, value)| Read { p, offset, value })
            .collect();
        op
    }

    fn end() -> Op {
        Op::new(0, F::WorkloadEnd, Outcome::Ok, 999_999)
    }

    /// Partition 0 holds values 1..=4 at offsets 0..=3, written by process 1, polled by process
    /// 2 in one epoch, and read in full at the end.
    fn clean() -> Vec<Op> {
        let mut h = vec![];
        for i in 0..4 {
            h.push(send(
                1,
                10 + i as u64,
                0,
                i as u64 + 1,
                Some(i),
                Outcome::Ok,
            ));
        }
        h.push(poll(2, 100, 1, &[(0, 0, 1), (0, 1, 2)]));
        h.push(poll(2, 110, 1, &[(0, 2, 3), (0, 3, 4)]));
        h.push(final_read(0, 4, &[(0, 1), (1, 2), (2, 3), (3, 4)]));
        h.push(end());
        h
    }

    /// Asserts the history shows `kind` and nothing else.
    fn only(h: &[Op], kind: Kind) {
        let r = check(h);
        assert!(r.count(kind) > 0, "{kind} not reported: {:?}", r.anomalies);
        let others: Vec<_> = r.anomalies.keys().filter(|&&k| k != kind).collect();
        assert!(
            others.is_empty(),
            "{kind}: also reported {others:?}: {:?}",
            r.anomalies
        );
    }

    #[test]
    fn clean_history_has_no_anomalies() {
        let r = check(&clean());
        assert_eq!(r.total(), 0, "{:?}", r.anomalies);
        assert_eq!(r.final_values, 4);
        assert_eq!(r.values.get(&Outcome::Ok), Some(&4));
    }

    #[test]
    fn indefinite_and_failed_sends_never_read_are_fine() {
        let mut h = clean();
        h.push(send(1, 20, 0, 50, None, Outcome::Info));
        h.push(send(1, 21, 0, 51, None, Outcome::Fail));
        assert_eq!(check(&h).total(), 0);
    }

    #[test]
    fn lost_write() {
        let mut h = clean();
        // Offset 2 (value 3) vanished from the final read, which still reaches offset 3.
        *h.iter_mut().find(|o| o.f == F::FinalRead).unwrap() =
            final_read(0, 4, &[(0, 1), (1, 2), (3, 4)]);
        // The poll that saw it is dropped too, else it is also a poll skip of nothing.
        let r = check(&h);
        assert_eq!(r.count(Kind::LostWrite), 1, "{:?}", r.anomalies);
        // Drop the poll that had seen value 3 so this is purely a lost write.
        h.retain(|o| !(o.f == F::Poll && o.invoke_ns == 110));
        only(&h, Kind::LostWrite);
    }

    #[test]
    fn lost_write_by_truncation_and_overwrite() {
        // The log was truncated after offset 1 and a new value took offset 2: lost write and
        // inconsistent offsets, as a power loss without fsync would show.
        let mut h = vec![
            send(1, 10, 0, 1, Some(0), Outcome::Ok),
            send(1, 11, 0, 2, Some(1), Outcome::Ok),
            send(1, 12, 0, 3, Some(2), Outcome::Ok),
            send(3, 20, 0, 7, Some(2), Outcome::Ok),
        ];
        h.push(final_read(0, 3, &[(0, 1), (1, 2), (2, 7)]));
        h.push(end());
        let r = check(&h);
        assert_eq!(r.count(Kind::LostWrite), 1);
        assert_eq!(r.count(Kind::InconsistentOffsets), 1);
    }

    #[test]
    fn unseen() {
        let mut h = clean();
        // Acknowledged at offset 4, but the final read ends at 4 (exclusive).
        h.push(send(1, 30, 0, 5, Some(4), Outcome::Ok));
        only(&h, Kind::Unseen);
    }

    #[test]
    fn duplicate() {
        let mut h = clean();
        // Value 2 also appears at offset 4.
        h.push(send(1, 30, 0, 5, Some(4), Outcome::Ok));
        *h.iter_mut().find(|o| o.f == F::FinalRead).unwrap() =
            final_read(0, 6, &[(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 2)]);
        only(&h, Kind::Duplicate);
    }

    #[test]
    fn inconsistent_offsets() {
        let mut h = clean();
        // A poll saw value 9 (an indefinite send) at offset 3, where value 4 is.
        h.push(send(5, 40, 0, 9, None, Outcome::Info));
        h.push(poll(6, 200, 1, &[(0, 3, 9)]));
        only(&h, Kind::InconsistentOffsets);
    }

    #[test]
    fn g1a_aborted_read() {
        let mut h = clean();
        // A transaction wrote value 20 at offset 4 and aborted; a consumer read it anyway.
        let mut txn = Op::new(7, F::Txn, Outcome::Fail, 50);
        txn.abort = true;
        txn.sends = vec![Sent {
            p: 0,
            value: 20,
            offset: Some(4),
        }];
        h.push(txn);
        h.push(poll(2, 120, 1, &[(0, 4, 20)]));
        only(&h, Kind::G1a);
    }

    #[test]
    fn committed_txn_values_count_as_acknowledged() {
        let mut h = clean();
        let mut txn = Op::new(7, F::Txn, Outcome::Ok, 50);
        txn.sends = vec![
            Sent {
                p: 0,
                value: 20,
                offset: Some(4),
            },
            Sent {
                p: 0,
                value: 21,
                offset: Some(5),
            },
        ];
        h.push(txn);
        // The final read (read_committed) ends at 7: offset 6 is the commit marker. Value 21 is
        // missing from it: lost.
        *h.iter_mut().find(|o| o.f == F::FinalRead).unwrap() =
            final_read(0, 7, &[(0, 1), (1, 2), (2, 3), (3, 4), (4, 20)]);
        only(&h, Kind::LostWrite);
    }

    #[test]
    fn nonmonotonic_poll() {
        let mut h = clean();
        // Same process, same epoch: offset 1 again after offset 3.
        h.push(poll(2, 120, 1, &[(0, 1, 2)]));
        only(&h, Kind::NonmonotonicPoll);
    }

    #[test]
    fn a_new_epoch_may_rewind() {
        let mut h = clean();
        h.push(poll(2, 120, 2, &[(0, 1, 2)]));
        assert_eq!(check(&h).total(), 0);
    }

    #[test]
    fn nonmonotonic_send() {
        let mut h = clean();
        // Process 1's later send (value 5) acknowledged at an offset below its earlier ones.
        // Offset 4 of partition 1 then offset 0: partition 1 is otherwise clean.
        h.push(send(1, 40, 1, 5, Some(4), Outcome::Ok));
        h.push(send(1, 41, 1, 6, Some(0), Outcome::Ok));
        h.push(final_read(1, 5, &[(0, 6), (4, 5)]));
        only(&h, Kind::NonmonotonicSend);
    }

    #[test]
    fn poll_skip() {
        let mut h = clean();
        // Process 3 reads offset 0 then offset 2 in one epoch: offset 1 (value 2) exists.
        h.push(poll(3, 100, 1, &[(0, 0, 1)]));
        h.push(poll(3, 110, 1, &[(0, 2, 3)]));
        only(&h, Kind::PollSkip);
    }

    #[test]
    fn gaps_from_markers_and_aborted_records_are_not_skips() {
        // Offsets 1 (aborted record) and 2 (abort marker) are never visible.
        let mut txn = Op::new(7, F::Txn, Outcome::Fail, 5);
        txn.abort = true;
        txn.sends = vec![Sent {
            p: 0,
            value: 20,
            offset: Some(1),
        }];
        let h = vec![
            send(1, 1, 0, 1, Some(0), Outcome::Ok),
            txn,
            send(1, 10, 0, 2, Some(3), Outcome::Ok),
            poll(2, 100, 1, &[(0, 0, 1)]),
            poll(2, 110, 1, &[(0, 3, 2)]),
            final_read(0, 4, &[(0, 1), (3, 2)]),
            end(),
        ];
        assert_eq!(check(&h).total(), 0, "{:?}", check(&h).anomalies);
    }

    #[test]
    fn incomplete_final_read() {
        let mut h = clean();
        h.iter_mut().find(|o| o.f == F::FinalRead).unwrap().outcome = Outcome::Info;
        only(&h, Kind::IncompleteFinalRead);
        let mut h = clean();
        h.retain(|o| o.f != F::FinalRead);
        only(&h, Kind::IncompleteFinalRead);
    }

    #[test]
    fn workload_crashed() {
        let mut h = clean();
        h.retain(|o| o.f != F::WorkloadEnd);
        only(&h, Kind::WorkloadCrashed);
    }

    #[test]
    fn recovery_times() {
        let h = vec![
            send(1, 100, 0, 1, Some(0), Outcome::Ok),
            send(1, 500, 0, 2, Some(1), Outcome::Ok),
        ];
        let ev = vec![
            NemesisEvent {
                time_ns: 200,
                event: "kill".into(),
                node: Some(1),
            },
            NemesisEvent {
                time_ns: 300,
                event: "start".into(),
                node: Some(1),
            },
        ];
        let rec = recovery(&h, &ev);
        assert_eq!(rec.len(), 1);
        assert_eq!(rec[0].0, "kill n1");
        assert_eq!(rec[0].2, Some(201)); // ack at 501, 201 ns after the restart
        assert_eq!(rec[0].3, Some(301));
    }
}
