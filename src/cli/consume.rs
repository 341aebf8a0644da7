//! `weir consume`: fetch a topic's partitions directly (assign mode) or as a classic consumer
//! group member (`--group`), printing records with a kcat-style format.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Args;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::output::out_bytes;
use super::{connect, CliError, CliResult, Common, OutputFormat};
use crate::client::group::{GroupMember, MemberConfig};
use crate::client::records::{decode_batches, InRecord};
use crate::client::{Client, ClientError, TopicInfo, EARLIEST, LATEST};

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub common: Common,
    /// Topic to consume.
    pub topic: String,
    /// Start at the earliest offset.
    #[arg(long = "from-beginning", group = "start")]
    pub from_beginning: bool,
    /// Start at this offset (negative: that many records before the end).
    #[arg(long, group = "start", allow_negative_numbers = true)]
    pub offset: Option<i64>,
    /// Start at the first record with a timestamp at or after this (ms since the epoch).
    #[arg(long, group = "start")]
    pub timestamp: Option<i64>,
    /// Start at the end (the default).
    #[arg(long = "from-end", group = "start")]
    pub from_end: bool,
    /// Only these partitions (assign mode). Repeatable.
    #[arg(long, short = 'p')]
    pub partition: Vec<i32>,
    /// Consume as a member of this consumer group (commits offsets).
    #[arg(long, short = 'g')]
    pub group: Option<String>,
    /// Stop after this many records.
    #[arg(long, short = 'c', visible_alias = "max-messages")]
    pub count: Option<u64>,
    /// Keep waiting for new records instead of stopping at the end.
    #[arg(long, short = 'F')]
    pub follow: bool,
    /// Output format (kcat's -f): %t %p %o %k %s %h %T %K %S %% and \n \t \\.
    #[arg(long, short = 'f')]
    pub format: Option<String>,
    /// Longest a fetch waits for new data (ms).
    #[arg(long = "max-wait-ms", default_value_t = 500)]
    pub max_wait_ms: i32,
}

/// Where to start partitions that have no committed offset.
#[derive(Clone, Copy, Debug)]
enum Start {
    Beginning,
    End,
    Offset(i64),
    Timestamp(i64),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    Headers,
    Timestamp,
    KeyLen,
    ValueLen,
}

/// Parses a kcat-style format string.
fn parse_format(s: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut lit = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    let flush = |lit: &mut Vec<u8>, toks: &mut Vec<Tok>| {
        if !lit.is_empty() {
            toks.push(Tok::Lit(std::mem::take(lit)));
        }
    };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match (c, next) {
            (b'%', Some(n)) => {
                let tok = match n {
                    b't' => Some(Tok::Topic),
                    b'p' => Some(Tok::Partition),
                    b'o' => Some(Tok::Offset),
                    b'k' => Some(Tok::Key),
                    b's' => Some(Tok::Value),
                    b'h' => Some(Tok::Headers),
                    b'T' => Some(Tok::Timestamp),
                    b'K' => Some(Tok::KeyLen),
                    b'S' => Some(Tok::ValueLen),
                    b'%' => {
                        lit.push(b'%');
                        None
                    }
                    other => {
                        lit.push(b'%');
                        lit.push(other);
                        None
                    }
                };
                if let Some(t) = tok {
                    flush(&mut lit, &mut toks);
                    toks.push(t);
                }
                i += 2;
            }
            (b'\\', Some(n)) => {
                match n {
                    b'n' => lit.push(b'\n'),
                    b't' => lit.push(b'\t'),
                    b'r' => lit.push(b'\r'),
                    b'0' => lit.push(0),
                    b'\\' => lit.push(b'\\'),
                    other => {
                        lit.push(b'\\');
                        lit.push(other);
                    }
                }
                i += 2;
            }
            _ => {
                lit.push(c);
                i += 1;
            }
        }
    }
    flush(&mut lit, &mut toks);
    toks
}

fn render(toks: &[Tok], topic: &str, partition: i32, r: &InRecord, buf: &mut Vec<u8>) {
    for t in toks {
        match t {
            Tok::Lit(l) => buf.extend_from_slice(l),
            Tok::Topic => buf.extend_from_slice(topic.as_bytes()),
            Tok::Partition => buf.extend_from_slice(partition.to_string().as_bytes()),
            Tok::Offset => buf.extend_from_slice(r.offset.to_string().as_bytes()),
            Tok::Key => buf.extend_from_slice(r.key.as_deref().unwrap_or_default()),
            Tok::Value => buf.extend_from_slice(r.value.as_deref().unwrap_or_default()),
            Tok::Timestamp => buf.extend_from_slice(r.timestamp.to_string().as_bytes()),
            Tok::KeyLen => buf.extend_from_slice(
                r.key
                    .as_ref()
                    .map_or(-1, |k| k.len() as i64)
                    .to_string()
                    .as_bytes(),
            ),
            Tok::ValueLen => buf.extend_from_slice(
                r.value
                    .as_ref()
                    .map_or(-1, |v| v.len() as i64)
                    .to_string()
                    .as_bytes(),
            ),
            Tok::Headers => {
                for (i, (k, v)) in r.headers.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(k.as_bytes());
                    if let Some(v) = v {
                        buf.push(b'=');
                        buf.extend_from_slice(v);
                    }
                }
            }
        }
    }
}

fn render_json(topic: &str, partition: i32, r: &InRecord, buf: &mut Vec<u8>) {
    let text =
        |b: &Option<bytes::Bytes>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
    let headers: Vec<serde_json::Value> = r
        .headers
        .iter()
        .map(|(k, v)| serde_json::json!({ "key": k, "value": text(v) }))
        .collect();
    let v = serde_json::json!({
        "topic": topic,
        "partition": partition,
        "offset": r.offset,
        "timestamp": r.timestamp,
        "timestamp_type": if r.log_append_time { "LogAppendTime" } else { "CreateTime" },
        "key": text(&r.key),
        "value": text(&r.value),
        "headers": headers,
    });
    buf.extend_from_slice(v.to_string().as_bytes());
    buf.push(b'\n');
}

struct Consumer {
    client: Client,
    topic: TopicInfo,
    start: Start,
    follow: bool,
    max_wait_ms: i32,
    /// Next offset to fetch per assigned partition.
    positions: BTreeMap<i32, i64>,
    /// End offsets when the partitions were assigned (non-follow stop condition).
    ends: BTreeMap<i32, i64>,
    remaining: Option<u64>,
    toks: Option<Vec<Tok>>,
}

pub async fn run(args: ConsumeArgs) -> CliResult {
    let start = if args.from_beginning {
        Start::Beginning
    } else if let Some(o) = args.offset {
        Start::Offset(o)
    } else if let Some(t) = args.timestamp {
        Start::Timestamp(t)
    } else {
        Start::End
    };
    if args.group.is_some() && !args.partition.is_empty() {
        return Err(CliError::Usage(
            "--partition cannot be combined with --group (the group assigns partitions)".into(),
        ));
    }
    let toks = match args.common.output {
        OutputFormat::Json => None,
        OutputFormat::Table => Some(parse_format(args.format.as_deref().unwrap_or("%s\\n"))),
    };
    let mut stop = Stop::new()?;
    let mut client = connect(&args.common).await?;
    let topic = client.topic(&args.topic).await?;
    let mut c = Consumer {
        client,
        topic,
        start,
        follow: args.follow,
        max_wait_ms: args.max_wait_ms.max(0),
        positions: BTreeMap::new(),
        ends: BTreeMap::new(),
        remaining: args.count,
        toks,
    };
    if c.remaining == Some(0) {
        return Ok(());
    }
    match &args.group {
        None => {
            let parts: Vec<i32> = if args.partition.is_empty() {
                c.topic.partitions.iter().map(|p| p.partition).collect()
            } else {
                for p in &args.partition {
                    if !c.topic.partitions.iter().any(|x| x.partition == *p) {
                        return Err(ClientError::kafka(
                            3,
                            Some(format!(
                                "Partition {p} of topic '{}' does not exist.",
                                args.topic
                            )),
                        )
                        .into());
                    }
                }
                args.partition.clone()
            };
            c.assign(&parts, &BTreeMap::new()).await?;
            loop {
                tokio::select! {
                    _ = stop.recv() => break,
                    r = c.poll() => {
                        let (_, more) = r?;
                        if !more {
                            break;
                        }
                    }
                }
            }
            Ok(())
        }
        Some(group) => consume_group(c, group, &mut stop).await,
    }
}

/// SIGINT and SIGTERM, registered before any work so an early Ctrl-C still ends cleanly.
struct Stop {
    int: Signal,
    term: Signal,
}

impl Stop {
    fn new() -> CliResult<Stop> {
        let reg =
            |k| signal(k).map_err(|e| CliError::Failed(format!("cannot handle signals: {e}")));
        Ok(Stop {
            int: reg(SignalKind::interrupt())?,
            term: reg(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

async fn consume_group(mut c: Consumer, group: &str, stop: &mut Stop) -> CliResult {
    let cfg = MemberConfig::new(group, vec![c.topic.name.clone()]);
    let mut member = GroupMember::join(&mut c.client, cfg).await?;
    c.assign_from_group(&mut member).await?;
    let result: CliResult = loop {
        if member.needs_rejoin() {
            // Commit what was consumed (allowed while the group prepares the rebalance), then
            // join the new generation.
            let _ = member.commit(&c.committable()).await;
            if let Err(e) = member.rejoin(&mut c.client).await {
                break Err(e.into());
            }
            if let Err(e) = c.assign_from_group(&mut member).await {
                break Err(e);
            }
        }
        tokio::select! {
            _ = stop.recv() => break Ok(()),
            r = c.poll() => match r {
                Ok((advanced, more)) => {
                    if advanced {
                        if let Err(e) = member.commit(&c.committable()).await {
                            if matches!(e.code(), Some(22 | 25 | 27)) {
                                // The generation moved on: rejoin on the next turn.
                                continue;
                            }
                            break Err(e.into());
                        }
                    }
                    if !more {
                        break Ok(());
                    }
                }
                Err(e) => break Err(e),
            }
        }
    };
    // Leave even after an error so the group rebalances at once.
    let commit = member.commit(&c.committable()).await;
    let leave = member.leave().await;
    result?;
    commit?;
    leave?;
    Ok(())
}

impl Consumer {
    /// Offsets to commit: the next offset of every assigned partition.
    fn committable(&self) -> BTreeMap<(String, i32), i64> {
        self.positions
            .iter()
            .map(|(p, o)| ((self.topic.name.clone(), *p), *o))
            .collect()
    }

    async fn assign_from_group(&mut self, member: &mut GroupMember) -> CliResult {
        let parts: Vec<i32> = member
            .assignment()
            .get(&self.topic.name)
            .cloned()
            .unwrap_or_default();
        // The topic may have grown since we looked.
        self.topic = self.client.topic(&self.topic.name).await?;
        let group = member.group().to_string();
        let committed = Client::committed_offsets(
            member.coordinator(),
            &group,
            Some(&[(self.topic.name.clone(), parts.clone())]),
        )
        .await?;
        let committed: BTreeMap<i32, i64> = committed
            .into_iter()
            .filter(|((t, _), _)| *t == self.topic.name)
            .map(|((_, p), o)| (p, o))
            .collect();
        self.assign(&parts, &committed).await
    }

    /// Sets positions for `parts`: committed offsets where given, else the start policy.
    async fn assign(&mut self, parts: &[i32], committed: &BTreeMap<i32, i64>) -> CliResult {
        self.positions.clear();
        self.ends.clear();
        if parts.is_empty() {
            return Ok(());
        }
        let earliest = self
            .client
            .list_offsets(&self.topic, parts, EARLIEST)
            .await?;
        let latest = self.client.list_offsets(&self.topic, parts, LATEST).await?;
        let by_time = match self.start {
            Start::Timestamp(ts) => Some(self.client.list_offsets(&self.topic, parts, ts).await?),
            _ => None,
        };
        for p in parts {
            let lo = earliest.get(p).copied().unwrap_or(0);
            let hi = latest.get(p).copied().unwrap_or(lo).max(lo);
            let pos = match committed.get(p) {
                Some(o) => *o,
                None => match self.start {
                    Start::Beginning => lo,
                    Start::End => hi,
                    Start::Offset(n) if n >= 0 => n.clamp(lo, hi),
                    Start::Offset(n) => (hi + n).max(lo),
                    Start::Timestamp(_) => match by_time.as_ref().and_then(|m| m.get(p)) {
                        Some(o) if *o >= 0 => *o,
                        _ => hi,
                    },
                },
            };
            self.positions.insert(*p, pos);
            self.ends.insert(*p, hi);
        }
        Ok(())
    }

    fn active(&self) -> Vec<i32> {
        self.positions
            .iter()
            .filter(|(p, pos)| self.follow || self.ends.get(p).is_some_and(|e| **pos < *e))
            .map(|(p, _)| *p)
            .collect()
    }

    /// One fetch round over every leader. Returns (any position advanced, keep going).
    async fn poll(&mut self) -> CliResult<(bool, bool)> {
        let active = self.active();
        if active.is_empty() {
            if self.follow {
                // Nothing assigned (a group with more members than partitions): wait.
                tokio::time::sleep(Duration::from_millis(self.max_wait_ms as u64)).await;
                return Ok((false, true));
            }
            return Ok((false, false));
        }
        let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for p in active {
            let leader = self
                .topic
                .partitions
                .iter()
                .find(|x| x.partition == p)
                .map_or(-1, |x| x.leader);
            by_leader.entry(leader).or_default().push(p);
        }
        let mut advanced = false;
        let mut refresh = false;
        for (leader, parts) in by_leader {
            if leader < 0 {
                refresh = true;
                continue;
            }
            let name = TopicName(StrBytes::from_string(self.topic.name.clone()));
            let positions: Vec<(i32, i64)> = parts
                .iter()
                .map(|p| (*p, self.positions.get(p).copied().unwrap_or(0)))
                .collect();
            let wait = self.max_wait_ms;
            let conn = self.client.broker(leader).await?;
            let resp = conn
                .call_with_timeout(Duration::from_millis(wait as u64), |_| {
                    let mut r = FetchRequest::default();
                    r.replica_id = BrokerId(-1);
                    r.max_wait_ms = wait;
                    r.min_bytes = 1;
                    r.max_bytes = 50 * 1024 * 1024;
                    let mut t = FetchTopic::default();
                    t.topic = name;
                    t.partitions = positions
                        .iter()
                        .map(|(p, o)| {
                            let mut fp = FetchPartition::default();
                            fp.partition = *p;
                            fp.fetch_offset = *o;
                            fp.partition_max_bytes = 1024 * 1024;
                            fp
                        })
                        .collect();
                    r.topics = vec![t];
                    r
                })
                .await?;
            ClientError::check(resp.error_code, None)?;
            let mut buf = Vec::new();
            let mut stop = false;
            for t in resp.responses {
                for pd in t.partitions {
                    let p = pd.partition_index;
                    let Some(pos) = self.positions.get(&p).copied() else {
                        continue;
                    };
                    match pd.error_code {
                        0 => {}
                        1 => {
                            // OFFSET_OUT_OF_RANGE: reset as auto.offset.reset would.
                            let ts = match self.start {
                                Start::Beginning => EARLIEST,
                                _ => LATEST,
                            };
                            let o = self.client.list_offsets(&self.topic, &[p], ts).await?;
                            if let Some(o) = o.get(&p) {
                                self.positions.insert(p, *o);
                            }
                            continue;
                        }
                        3 | 5 | 6 | 74 | 75 => {
                            refresh = true;
                            continue;
                        }
                        code => return Err(ClientError::kafka(code, None).into()),
                    }
                    let mut next = pos;
                    if let Some(data) = pd.records {
                        let decoded = decode_batches(data)?;
                        let mut all = true;
                        for r in decoded.records.iter().filter(|r| r.offset >= pos) {
                            if self.remaining == Some(0) {
                                all = false;
                                break;
                            }
                            match &self.toks {
                                Some(toks) => render(toks, &self.topic.name, p, r, &mut buf),
                                None => render_json(&self.topic.name, p, r, &mut buf),
                            }
                            next = next.max(r.offset + 1);
                            if let Some(n) = self.remaining.as_mut() {
                                *n -= 1;
                            }
                        }
                        if all {
                            if let Some(n) = decoded.next_offset {
                                next = next.max(n);
                            }
                        }
                    }
                    if !self.follow && next == pos && pd.high_watermark <= pos {
                        // Nothing more will come below the high watermark: this partition is
                        // done even if its end moved back (records deleted, topic recreated).
                        self.ends.insert(p, pos);
                    }
                    if next != pos {
                        advanced = true;
                        self.positions.insert(p, next);
                    }
                    if self.remaining == Some(0) {
                        stop = true;
                    }
                }
            }
            if !buf.is_empty() {
                out_bytes(&buf)?;
            }
            if stop {
                return Ok((advanced, false));
            }
        }
        if refresh {
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.topic = self.client.topic(&self.topic.name).await?;
        }
        let more = self.follow || !self.active().is_empty();
        Ok((advanced, more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn kcat_formats() {
        let r = InRecord {
            offset: 7,
            timestamp: 99,
            log_append_time: false,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            headers: vec![
                ("a".into(), Some(Bytes::from_static(b"1"))),
                ("b".into(), None),
            ],
        };
        let toks = parse_format("%t/%p@%o %k=%s [%h] %T %K %S 100%%\\n");
        let mut buf = Vec::new();
        render(&toks, "top", 3, &r, &mut buf);
        assert_eq!(
            String::from_utf8(buf).expect("utf8"),
            "top/3@7 k=v [a=1,b] 99 1 1 100%\n"
        );
    }
}
