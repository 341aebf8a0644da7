//! `weir produce`: one record per input line, batched per partition, sent to each partition's
//! leader.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Args;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use serde::Serialize;

use super::output::json;
use super::{connect, parse_kv, CliError, CliResult, Common, OutputFormat};
use crate::client::records::{encode_batch, parse_compression, partition_for_key, OutRecord};
use crate::client::{Client, ClientError, TopicInfo};

#[derive(Args, Debug)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub common: Common,
    /// Topic to produce to.
    pub topic: String,
    /// Read lines from this file instead of stdin.
    #[arg(long, short = 'f')]
    pub file: Option<PathBuf>,
    /// Split each line at the first SEP into key and value (lines without SEP are an error).
    #[arg(long = "key-separator", short = 'K', value_name = "SEP")]
    pub key_separator: Option<String>,
    /// A header added to every record, NAME=VALUE. Repeatable.
    #[arg(long = "header", short = 'H', value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// Send everything to this partition (default: murmur2 of the key, sticky for null keys).
    #[arg(long, short = 'p')]
    pub partition: Option<i32>,
    /// Acknowledgements: -1 (all), 0 (none) or 1 (leader).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub acks: i16,
    /// none, gzip, snappy, lz4 or zstd.
    #[arg(long, short = 'z', default_value = "none")]
    pub compression: String,
    /// Records per batch (per partition).
    #[arg(long = "batch-size", default_value_t = 1000)]
    pub batch_size: usize,
    /// How long to wait for more input lines before sending a partial batch (ms).
    #[arg(long = "linger-ms", default_value_t = 50)]
    pub linger_ms: u64,
}

#[derive(Serialize, Default)]
struct Summary {
    topic: String,
    records: u64,
    batches: u64,
    /// partition → offset of the first record sent there (acks != 0).
    first_offsets: BTreeMap<i32, i64>,
}

struct Producer {
    client: Client,
    topic: TopicInfo,
    acks: i16,
    compression: Compression,
    pending: BTreeMap<i32, Vec<OutRecord>>,
    sticky: i32,
    summary: Summary,
}

pub async fn run(args: ProduceArgs) -> CliResult {
    if !matches!(args.acks, -1..=1) {
        return Err(CliError::Usage("--acks must be -1, 0 or 1".into()));
    }
    let compression = parse_compression(&args.compression).ok_or_else(|| {
        CliError::Usage(format!(
            "--compression {} is not one of none, gzip, snappy, lz4, zstd",
            args.compression
        ))
    })?;
    if args.key_separator.as_deref() == Some("") {
        return Err(CliError::Usage("--key-separator must not be empty".into()));
    }
    let headers = args
        .headers
        .iter()
        .map(|h| parse_kv(h, "--header").map(|(k, v)| (k, Some(Bytes::from(v)))))
        .collect::<CliResult<Vec<_>>>()?;
    let batch_size = args.batch_size.max(1);
    let mut client = connect(&args.common).await?;
    let topic = client.topic(&args.topic).await?;
    if topic.partitions.is_empty() {
        return Err(ClientError::kafka(5, None).into());
    }
    if let Some(p) = args.partition {
        if !topic.partitions.iter().any(|x| x.partition == p) {
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
    let sticky = rand::random::<u32>() as i32 & 0x7fff_ffff;
    let mut producer = Producer {
        client,
        topic,
        acks: args.acks,
        compression,
        pending: BTreeMap::new(),
        sticky,
        summary: Summary {
            topic: args.topic.clone(),
            ..Default::default()
        },
    };
    let input: Box<dyn std::io::Read + Send> = match &args.file {
        Some(path) => Box::new(
            std::fs::File::open(path)
                .map_err(|e| CliError::Usage(format!("cannot open {}: {e}", path.display())))?,
        ),
        None => Box::new(std::io::stdin()),
    };
    let mut lines = read_lines(input);
    let linger = Duration::from_millis(args.linger_ms);
    let mut line_no = 0u64;
    loop {
        // Wait for the next line; if none comes within the linger time, send what is pending
        // (so interactive input goes out promptly). `recv` is cancel safe.
        let next = if producer.pending.is_empty() {
            lines.recv().await
        } else {
            match tokio::time::timeout(linger, lines.recv()).await {
                Ok(r) => r,
                Err(_) => {
                    producer.flush_all().await?;
                    continue;
                }
            }
        };
        let mut line = match next {
            Some(Ok(l)) => l,
            None => break,
            Some(Err(e)) => return Err(CliError::Failed(format!("cannot read input: {e}"))),
        };
        line_no += 1;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let (key, value) = match &args.key_separator {
            Some(sep) => match find(&line, sep.as_bytes()) {
                Some(i) => (
                    Some(Bytes::copy_from_slice(&line[..i])),
                    Bytes::copy_from_slice(&line[i + sep.len()..]),
                ),
                None => {
                    return Err(CliError::Failed(format!(
                        "no key separator '{sep}' on line {line_no}"
                    )))
                }
            },
            None => (None, Bytes::from(line)),
        };
        let partition = match (args.partition, &key) {
            (Some(p), _) => p,
            (None, Some(k)) => partition_for_key(k, producer.topic.partitions.len() as i32),
            (None, None) => producer.sticky_partition(),
        };
        let record = OutRecord {
            key,
            value: Some(value),
            headers: headers.clone(),
            timestamp: now_ms(),
        };
        let batch = producer.pending.entry(partition).or_default();
        batch.push(record);
        if batch.len() >= batch_size {
            producer.flush(partition).await?;
        }
    }
    producer.flush_all().await?;
    if args.common.output == OutputFormat::Json {
        json(&producer.summary)?;
    }
    Ok(())
}

impl Producer {
    fn sticky_partition(&self) -> i32 {
        let n = self.topic.partitions.len() as i32;
        self.topic.partitions[(self.sticky % n.max(1)) as usize].partition
    }

    async fn flush_all(&mut self) -> CliResult {
        let parts: Vec<i32> = self.pending.keys().copied().collect();
        for p in parts {
            self.flush(p).await?;
        }
        Ok(())
    }

    /// Sends one partition's pending records as one batch and waits for the acknowledgement.
    async fn flush(&mut self, partition: i32) -> CliResult {
        let Some(records) = self.pending.remove(&partition) else {
            return Ok(());
        };
        if records.is_empty() {
            return Ok(());
        }
        if records.iter().all(|r| r.key.is_none()) {
            // Sticky partitioning: the next keyless batch goes elsewhere.
            self.sticky = self.sticky.wrapping_add(1) & 0x7fff_ffff;
        }
        let n = records.len() as u64;
        let batch = encode_batch(&records, self.compression)?;
        // Leader moves (and a just-created topic's first moments) are retried after a
        // metadata refresh; nothing else is, so a batch is never written twice.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send(partition, batch.clone()).await {
                Err(ClientError::Kafka(e)) if matches!(e.code, 3 | 5 | 6) && attempt < 5 => {
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                    self.topic = self.client.topic(&self.topic.name).await?;
                }
                r => {
                    r?;
                    break;
                }
            }
        }
        self.summary.records += n;
        self.summary.batches += 1;
        Ok(())
    }

    /// One Produce request for one partition's batch, to its leader.
    async fn send(&mut self, partition: i32, batch: Bytes) -> Result<(), ClientError> {
        let leader = self
            .topic
            .partitions
            .iter()
            .find(|p| p.partition == partition)
            .map_or(-1, |p| p.leader);
        if leader < 0 {
            return Err(ClientError::kafka(5, None));
        }
        let name = TopicName(StrBytes::from_string(self.topic.name.clone()));
        let acks = self.acks;
        let build = move |_v: i16| {
            let mut pd = PartitionProduceData::default();
            pd.index = partition;
            pd.records = Some(batch);
            let mut td = TopicProduceData::default();
            td.name = name;
            td.partition_data = vec![pd];
            let mut r = ProduceRequest::default();
            r.acks = acks;
            r.timeout_ms = 30_000;
            r.topic_data = vec![td];
            r
        };
        let conn = self.client.broker(leader).await?;
        if acks == 0 {
            return conn.send_only(build).await;
        }
        let resp = conn.call(build).await?;
        for t in resp.responses {
            for p in t.partition_responses {
                let msg = p.error_message.as_ref().map(|m| m.as_str().to_string());
                let msg = msg.or_else(|| {
                    p.record_errors.first().and_then(|e| {
                        e.batch_index_error_message
                            .as_ref()
                            .map(|m| m.as_str().to_string())
                    })
                });
                ClientError::check(p.error_code, msg.as_deref())?;
                self.summary
                    .first_offsets
                    .entry(p.index)
                    .or_insert(p.base_offset);
            }
        }
        Ok(())
    }
}

/// Lines (without the newline) read by a thread, so blocking stdin never stalls the runtime.
fn read_lines(
    input: Box<dyn std::io::Read + Send>,
) -> tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    std::thread::spawn(move || {
        let reader = std::io::BufReader::with_capacity(64 * 1024, input);
        for line in std::io::BufRead::split(reader, b'\n') {
            let failed = line.is_err();
            if tx.blocking_send(line).is_err() || failed {
                return;
            }
        }
    });
    rx
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
