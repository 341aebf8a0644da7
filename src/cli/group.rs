//! `weir group list|describe|delete|reset-offsets`, as `kafka-consumer-groups.sh` does them.

use std::collections::{BTreeMap, BTreeSet};

use clap::{ArgGroup, Args, Subcommand};
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, GroupId, ListGroupsRequest,
};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;

use super::output::{json, opt, out, Table};
use super::{connect, CliError, CliResult, Common, OutputFormat};
use crate::client::group::{commit_offsets, decode_assignment};
use crate::client::{Client, ClientError, Connection, EARLIEST, LATEST};

#[derive(Args, Debug)]
pub struct GroupArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub cmd: GroupCmd,
}

#[derive(Subcommand, Debug)]
pub enum GroupCmd {
    /// List groups on every broker.
    List,
    /// Members, assignments, committed offsets, log end offsets and lag.
    Describe {
        #[arg(required = true)]
        groups: Vec<String>,
        /// Also print the members with their assignments.
        #[arg(long)]
        members: bool,
    },
    /// Delete groups (they must have no members).
    Delete {
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Move an inactive group's committed offsets.
    #[command(group(ArgGroup::new("strategy").required(true).multiple(false)))]
    #[command(group(ArgGroup::new("scope").required(true).multiple(true)))]
    ResetOffsets {
        group: String,
        /// Topic, or TOPIC:P,P for some partitions. Repeatable.
        #[arg(long, group = "scope")]
        topic: Vec<String>,
        /// Every topic the group has committed offsets for.
        #[arg(long = "all-topics", group = "scope")]
        all_topics: bool,
        #[arg(long = "to-earliest", group = "strategy")]
        to_earliest: bool,
        #[arg(long = "to-latest", group = "strategy")]
        to_latest: bool,
        #[arg(long = "to-offset", group = "strategy", value_name = "N")]
        to_offset: Option<i64>,
        /// ISO 8601 time, YYYY-MM-DDTHH:mm:SS.sss with an optional zone (Z, +hh:mm; UTC if none),
        /// or epoch ms.
        #[arg(long = "to-datetime", group = "strategy", value_name = "TIME")]
        to_datetime: Option<String>,
        #[arg(
            long = "shift-by",
            group = "strategy",
            value_name = "N",
            allow_negative_numbers = true
        )]
        shift_by: Option<i64>,
        /// Commit the new offsets.
        #[arg(long, conflicts_with = "dry_run")]
        execute: bool,
        /// Only print the plan (the default).
        #[arg(long = "dry-run")]
        dry_run: bool,
    },
}

pub async fn run(args: GroupArgs) -> CliResult {
    let fmt = args.common.output;
    let mut client = connect(&args.common).await?;
    match args.cmd {
        GroupCmd::List => list(&mut client, fmt).await,
        GroupCmd::Describe { groups, members } => {
            let mut all = Vec::new();
            for g in &groups {
                all.push(describe(&mut client, g).await?);
            }
            match fmt {
                OutputFormat::Json => json(&all),
                OutputFormat::Table => {
                    for (i, d) in all.iter().enumerate() {
                        if i > 0 {
                            out("\n")?;
                        }
                        print_description(d, members)?;
                    }
                    Ok(())
                }
            }
        }
        GroupCmd::Delete { groups } => delete(&mut client, fmt, &groups).await,
        GroupCmd::ResetOffsets {
            group,
            topic,
            all_topics,
            to_earliest,
            to_latest,
            to_offset,
            to_datetime,
            shift_by,
            execute,
            dry_run,
        } => {
            let strategy = if to_earliest {
                Reset::Earliest
            } else if to_latest {
                Reset::Latest
            } else if let Some(o) = to_offset {
                Reset::Offset(o)
            } else if let Some(d) = to_datetime {
                Reset::Time(parse_datetime(&d).ok_or_else(|| {
                    CliError::Usage(format!(
                        "--to-datetime '{d}' is not YYYY-MM-DDTHH:mm:SS[.sss][zone] or epoch ms"
                    ))
                })?)
            } else if let Some(n) = shift_by {
                Reset::Shift(n)
            } else {
                return Err(CliError::Usage("give a reset strategy".into()));
            };
            if !execute && !dry_run {
                eprintln!(
                    "WARN: No action will be performed as the --execute option is missing. \
                     Add --dry-run to keep this behaviour without the warning."
                );
            }
            reset(
                &mut client,
                fmt,
                &group,
                &topic,
                all_topics,
                strategy,
                execute,
            )
            .await
        }
    }
}

#[derive(Serialize)]
struct Listed {
    group: String,
    protocol_type: String,
    state: Option<String>,
    group_type: Option<String>,
}

async fn list(client: &mut Client, fmt: OutputFormat) -> CliResult {
    let nodes: Vec<i32> = client.brokers().map(|b| b.node_id).collect();
    let mut groups: BTreeMap<String, Listed> = BTreeMap::new();
    for node in nodes {
        let conn = client.broker(node).await?;
        let resp = conn.call(|_| ListGroupsRequest::default()).await?;
        ClientError::check(resp.error_code, None)?;
        for g in resp.groups {
            let id = g.group_id.0.as_str().to_string();
            let state = g.group_state.as_str();
            let gtype = g.group_type.as_str();
            groups.insert(
                id.clone(),
                Listed {
                    group: id,
                    protocol_type: g.protocol_type.as_str().to_string(),
                    state: (!state.is_empty()).then(|| state.to_string()),
                    group_type: (!gtype.is_empty()).then(|| gtype.to_string()),
                },
            );
        }
    }
    let groups: Vec<Listed> = groups.into_values().collect();
    match fmt {
        OutputFormat::Json => json(&groups),
        OutputFormat::Table => {
            let mut t = Table::new(&["GROUP", "STATE", "TYPE", "PROTOCOL-TYPE"]);
            for g in &groups {
                t.row(vec![
                    g.group.clone(),
                    opt(g.state.as_deref()),
                    opt(g.group_type.as_deref()),
                    g.protocol_type.clone(),
                ]);
            }
            t.print()
        }
    }
}

#[derive(Serialize)]
struct Member {
    member_id: String,
    group_instance_id: Option<String>,
    client_id: String,
    host: String,
    assignment: BTreeMap<String, Vec<i32>>,
}

#[derive(Serialize)]
struct PartitionLag {
    topic: String,
    partition: i32,
    current_offset: Option<i64>,
    log_end_offset: Option<i64>,
    lag: Option<i64>,
    member_id: Option<String>,
    host: Option<String>,
    client_id: Option<String>,
}

#[derive(Serialize)]
struct Description {
    group: String,
    state: String,
    protocol_type: String,
    protocol: String,
    coordinator: i32,
    members: Vec<Member>,
    offsets: Vec<PartitionLag>,
}

struct GroupState {
    state: String,
    protocol_type: String,
    protocol: String,
    members: Vec<Member>,
}

async fn describe_group(conn: &mut Connection, group: &str) -> CliResult<GroupState> {
    let resp = conn
        .call(|_| {
            let mut r = DescribeGroupsRequest::default();
            r.groups = vec![GroupId(StrBytes::from_string(group.to_string()))];
            r
        })
        .await?;
    let Some(g) = resp.groups.into_iter().next() else {
        return Err(CliError::Failed("empty DescribeGroups response".into()));
    };
    ClientError::check(g.error_code, g.error_message.as_ref().map(|m| m.as_str()))?;
    let consumer = g.protocol_type.as_str() == "consumer";
    let mut members = Vec::new();
    for m in g.members {
        let assignment = if consumer {
            decode_assignment(&m.member_assignment).unwrap_or_default()
        } else {
            BTreeMap::new()
        };
        members.push(Member {
            member_id: m.member_id.as_str().to_string(),
            group_instance_id: m.group_instance_id.map(|i| i.as_str().to_string()),
            client_id: m.client_id.as_str().to_string(),
            host: m.client_host.as_str().to_string(),
            assignment,
        });
    }
    Ok(GroupState {
        state: g.group_state.as_str().to_string(),
        protocol_type: g.protocol_type.as_str().to_string(),
        protocol: g.protocol_data.as_str().to_string(),
        members,
    })
}

fn not_found(group: &str) -> CliError {
    ClientError::kafka(
        69,
        Some(format!("Consumer group '{group}' does not exist.")),
    )
    .into()
}

async fn describe(client: &mut Client, group: &str) -> CliResult<Description> {
    let (node, mut conn) = client.coordinator(group, 0).await?;
    let st = describe_group(&mut conn, group).await?;
    let committed = Client::committed_offsets(&mut conn, group, None).await?;
    if st.state == "Dead" && committed.is_empty() {
        return Err(not_found(group));
    }
    // Every partition that is committed or assigned.
    let mut owner: BTreeMap<(String, i32), usize> = BTreeMap::new();
    for (i, m) in st.members.iter().enumerate() {
        for (t, ps) in &m.assignment {
            for p in ps {
                owner.insert((t.clone(), *p), i);
            }
        }
    }
    let mut parts: BTreeSet<(String, i32)> = committed.keys().cloned().collect();
    parts.extend(owner.keys().cloned());
    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (t, p) in &parts {
        by_topic.entry(t.clone()).or_default().push(*p);
    }
    let mut ends: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for (t, ps) in &by_topic {
        let Ok(info) = client.topic(t).await else {
            continue; // deleted topic: no end offsets
        };
        let ps: Vec<i32> = ps
            .iter()
            .copied()
            .filter(|p| info.partitions.iter().any(|x| x.partition == *p))
            .collect();
        for (p, o) in client.list_offsets(&info, &ps, LATEST).await? {
            ends.insert((t.clone(), p), o);
        }
    }
    let offsets = parts
        .into_iter()
        .map(|key| {
            let cur = committed.get(&key).copied();
            let end = ends.get(&key).copied();
            let m = owner.get(&key).and_then(|i| st.members.get(*i));
            PartitionLag {
                topic: key.0.clone(),
                partition: key.1,
                current_offset: cur,
                log_end_offset: end,
                lag: match (cur, end) {
                    (Some(c), Some(e)) => Some((e - c).max(0)),
                    _ => None,
                },
                member_id: m.map(|m| m.member_id.clone()),
                host: m.map(|m| m.host.clone()),
                client_id: m.map(|m| m.client_id.clone()),
            }
        })
        .collect();
    Ok(Description {
        group: group.to_string(),
        state: st.state,
        protocol_type: st.protocol_type,
        protocol: st.protocol,
        coordinator: node,
        members: st.members,
        offsets,
    })
}

fn print_description(d: &Description, members: bool) -> CliResult {
    let mut s = format!(
        "Group: {}  State: {}  Protocol: {}  Members: {}  Coordinator: {}\n",
        d.group,
        d.state,
        if d.protocol.is_empty() {
            "-"
        } else {
            &d.protocol
        },
        d.members.len(),
        d.coordinator
    );
    if d.members.is_empty() {
        s.push_str(&format!(
            "Consumer group '{}' has no active members.\n",
            d.group
        ));
    }
    s.push('\n');
    let mut t = Table::new(&[
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]);
    for o in &d.offsets {
        t.row(vec![
            d.group.clone(),
            o.topic.clone(),
            o.partition.to_string(),
            opt(o.current_offset),
            opt(o.log_end_offset),
            opt(o.lag),
            opt(o.member_id.as_deref()),
            opt(o.host.as_deref()),
            opt(o.client_id.as_deref()),
        ]);
    }
    s.push_str(&t.render());
    if members {
        let mut m = Table::new(&["CONSUMER-ID", "HOST", "CLIENT-ID", "ASSIGNMENT"]);
        for x in &d.members {
            let a = x
                .assignment
                .iter()
                .map(|(t, ps)| format!("{t}({})", super::output::ids(ps)))
                .collect::<Vec<_>>()
                .join(",");
            m.row(vec![
                x.member_id.clone(),
                x.host.clone(),
                x.client_id.clone(),
                if a.is_empty() { "-".into() } else { a },
            ]);
        }
        s.push('\n');
        s.push_str(&m.render());
    }
    out(&s)
}

async fn delete(client: &mut Client, fmt: OutputFormat, groups: &[String]) -> CliResult {
    let mut deleted = Vec::new();
    let mut errors: Vec<CliError> = Vec::new();
    for g in groups {
        let r = async {
            let (_, mut conn) = client.coordinator(g, 0).await?;
            let resp = conn
                .call(|_| {
                    let mut r = DeleteGroupsRequest::default();
                    r.groups_names = vec![GroupId(StrBytes::from_string(g.clone()))];
                    r
                })
                .await?;
            for res in resp.results {
                let msg = match res.error_code {
                    69 => Some(format!("Consumer group '{g}' does not exist.")),
                    68 => Some(format!("The group '{g}' is not empty.")),
                    _ => None,
                };
                if res.error_code != 0 {
                    return Err(ClientError::kafka(res.error_code, msg));
                }
            }
            Ok(())
        }
        .await;
        match r {
            Ok(()) => deleted.push(g.clone()),
            Err(e) => errors.push(e.into()),
        }
    }
    match fmt {
        OutputFormat::Json => json(&serde_json::json!({ "deleted": deleted }))?,
        OutputFormat::Table if !deleted.is_empty() => {
            let names = deleted
                .iter()
                .map(|g| format!("'{g}'"))
                .collect::<Vec<_>>()
                .join(", ");
            out(&format!(
                "Deletion of requested consumer groups ({names}) was successful.\n"
            ))?;
        }
        OutputFormat::Table => {}
    }
    // Every failure is reported; the last one also sets the exit code.
    let last = errors.pop();
    for e in errors {
        eprintln!("error: {e}");
    }
    match last {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[derive(Clone, Copy, Debug)]
enum Reset {
    Earliest,
    Latest,
    Offset(i64),
    Time(i64),
    Shift(i64),
}

#[derive(Serialize)]
struct Planned {
    group: String,
    topic: String,
    partition: i32,
    new_offset: i64,
}

async fn reset(
    client: &mut Client,
    fmt: OutputFormat,
    group: &str,
    topics: &[String],
    all_topics: bool,
    strategy: Reset,
    execute: bool,
) -> CliResult {
    let (_, mut conn) = client.coordinator(group, 0).await?;
    let st = describe_group(&mut conn, group).await?;
    if !st.members.is_empty() || !matches!(st.state.as_str(), "Empty" | "Dead") {
        return Err(CliError::Failed(format!(
            "Assignments can only be reset if the group '{group}' is inactive, but the current state is {}.",
            st.state
        )));
    }
    let committed = Client::committed_offsets(&mut conn, group, None).await?;
    // Topic → partitions to reset.
    let mut scope: BTreeMap<String, Option<Vec<i32>>> = BTreeMap::new();
    if all_topics {
        for (t, _) in committed.keys() {
            scope.insert(t.clone(), None);
        }
    }
    for spec in topics {
        match spec.split_once(':') {
            Some((t, ps)) => {
                let ps = ps
                    .split(',')
                    .map(|p| p.trim().parse::<i32>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| {
                        CliError::Usage(format!("--topic '{spec}' is not TOPIC or TOPIC:P,P"))
                    })?;
                scope.insert(t.to_string(), Some(ps));
            }
            None => {
                scope.insert(spec.clone(), None);
            }
        }
    }
    let mut plan = Vec::new();
    for (t, ps) in scope {
        let info = client.topic(&t).await?;
        let ps: Vec<i32> =
            ps.unwrap_or_else(|| info.partitions.iter().map(|p| p.partition).collect());
        let lo = client.list_offsets(&info, &ps, EARLIEST).await?;
        let hi = client.list_offsets(&info, &ps, LATEST).await?;
        let at = match strategy {
            Reset::Time(ts) => Some(client.list_offsets(&info, &ps, ts).await?),
            _ => None,
        };
        for p in ps {
            let l = lo.get(&p).copied().unwrap_or(0);
            let h = hi.get(&p).copied().unwrap_or(l).max(l);
            let cur = committed.get(&(t.clone(), p)).copied();
            let new = match strategy {
                Reset::Earliest => l,
                Reset::Latest => h,
                Reset::Offset(o) => o.clamp(l, h),
                Reset::Time(_) => match at.as_ref().and_then(|m| m.get(&p)) {
                    Some(o) if *o >= 0 => *o,
                    _ => h,
                },
                Reset::Shift(n) => cur.unwrap_or(l).saturating_add(n).clamp(l, h),
            };
            plan.push(Planned {
                group: group.to_string(),
                topic: t.clone(),
                partition: p,
                new_offset: new,
            });
        }
    }
    if execute {
        let offsets: BTreeMap<(String, i32), i64> = plan
            .iter()
            .map(|p| ((p.topic.clone(), p.partition), p.new_offset))
            .collect();
        commit_offsets(&mut conn, group, -1, "", &offsets).await?;
    }
    match fmt {
        OutputFormat::Json => json(&plan),
        OutputFormat::Table => {
            let mut t = Table::new(&["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]);
            for p in &plan {
                t.row(vec![
                    p.group.clone(),
                    p.topic.clone(),
                    p.partition.to_string(),
                    p.new_offset.to_string(),
                ]);
            }
            t.print()
        }
    }
}

/// Parses `YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm|-hh:mm|+hhmm]` (UTC without a zone) or epoch ms.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    let (date, rest) = s.split_once(['T', ' '])?;
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let mo: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&day) {
        return None;
    }
    // Split the zone off the time.
    let (time, offset_min) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (t, z) = rest.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let z = z[1..].replace(':', "");
        if z.len() != 4 {
            return None;
        }
        let h: i64 = z[..2].parse().ok()?;
        let m: i64 = z[2..].parse().ok()?;
        (t, sign * (h * 60 + m))
    } else {
        (rest, 0)
    };
    let mut t = time.split(':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let (sec, ms) = match t.next() {
        Some(sec) => match sec.split_once('.') {
            Some((s, frac)) => {
                let frac = format!("{frac:0<3}");
                (s.parse::<i64>().ok()?, frac.get(..3)?.parse::<i64>().ok()?)
            }
            None => (sec.parse::<i64>().ok()?, 0),
        },
        None => (0, 0),
    };
    if t.next().is_some() || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(secs * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00.000"), Some(0));
        assert_eq!(
            parse_datetime("2024-02-29T12:34:56.789Z"),
            Some(1_709_210_096_789)
        );
        assert_eq!(
            parse_datetime("2024-02-29T14:34:56.789+02:00"),
            Some(1_709_210_096_789)
        );
        assert_eq!(parse_datetime("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_datetime("2024-13-01T00:00:00"), None);
        assert_eq!(parse_datetime("yesterday"), None);
    }
}
