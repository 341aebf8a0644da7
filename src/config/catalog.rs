//! Static catalogue of Apache Kafka 4.1 topic-level and broker-level configuration entries.
//!
//! The data mirrors Kafka 4.1's `LogConfig` (topic configs), `ServerTopicConfigSynonyms`
//! (topic -> broker synonyms) and the broker `ConfigDef` assembled by `AbstractKafkaConfig`,
//! with `read_only` derived from `DynamicBrokerConfig.AllDynamicConfigs`.
//! Defaults are rendered the way Kafka's `ConfigDef.convertToString` renders them in
//! DescribeConfigs (lists comma-joined, classes by name, doubles in Java notation).
//! Internal configs (`defineInternal`) are left out, since DescribeConfigs never lists them.
//!
//! Validation follows `ConfigDef.parseType` plus the per-key validator, including Kafka's
//! error wording (`Invalid value X for configuration Y: ...`). Cross-config rules from
//! `LogConfig.validate` (e.g. min vs max compaction lag, tiered-storage retention ordering)
//! need several values at once and are not covered here.

/// Kafka's ConfigType values as used in DescribeConfigs v3+ (config_type field):
/// UNKNOWN=0, BOOLEAN=1, STRING=2, INT=3, SHORT=4, LONG=5, DOUBLE=6, LIST=7, CLASS=8, PASSWORD=9
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i8)]
pub enum ConfigType {
    Unknown = 0,
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

/// A topic-level configuration key.
#[derive(Debug)]
pub struct TopicConfigDef {
    /// Topic config name, e.g. `retention.ms`.
    pub name: &'static str,
    /// Broker properties that supply the default, most specific first
    /// (e.g. `log.retention.ms`, `log.retention.minutes`, `log.retention.hours`).
    pub broker_synonyms: &'static [&'static str],
    /// Kafka's default as DescribeConfigs shows it (`None` = null).
    pub default: Option<&'static str>,
    pub config_type: ConfigType,
    pub validator: Validator,
    /// One short sentence describing the key.
    pub doc: &'static str,
}

/// Value constraint applied after the value has been parsed according to its `ConfigType`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Validator {
    /// No constraint beyond the type.
    Any,
    /// Integer no smaller than the bound (`ConfigDef.Range.atLeast`).
    IntAtLeast(i64),
    /// Long no smaller than the bound (`ConfigDef.Range.atLeast`).
    LongAtLeast(i64),
    /// Integer within the inclusive bounds (`ConfigDef.Range.between`).
    IntBetween(i64, i64),
    /// Integer within the inclusive bounds or equal to the third value
    /// (gzip level: 1..=9 or -1).
    IntBetweenOr(i64, i64, i64),
    /// One of the listed strings, case-sensitive (`ConfigDef.ValidString`).
    OneOf(&'static [&'static str]),
    /// Comma-separated list whose items are all among the listed strings (`ConfigDef.ValidList`).
    ListOf(&'static [&'static str]),
    /// `true` or `false`, case-insensitive.
    Bool,
    /// Double within the inclusive bounds (`ConfigDef.Range.between`).
    DoubleBetween(f64, f64),
    /// Either `*` or a list of `partitionId:brokerId` pairs (`ThrottledReplicaListValidator`).
    ThrottledReplicas,
}

/// A broker-level configuration key.
#[derive(Debug)]
pub struct BrokerConfigDef {
    /// Broker property name, e.g. `log.retention.hours`.
    pub name: &'static str,
    /// Kafka's default as DescribeConfigs shows it (`None` = null).
    pub default: Option<&'static str>,
    pub config_type: ConfigType,
    /// As Kafka reports for a broker resource: false only for dynamically updatable configs.
    pub read_only: bool,
    /// Kafka hides the value of sensitive configs (passwords, and keys of unknown type).
    pub sensitive: bool,
    /// One short sentence describing the key.
    pub doc: &'static str,
}

const fn topic(
    name: &'static str,
    broker_synonyms: &'static [&'static str],
    default: &'static str,
    config_type: ConfigType,
    validator: Validator,
    doc: &'static str,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        broker_synonyms,
        default: Some(default),
        config_type,
        validator,
        doc,
    }
}

const COMPRESSION_TYPES: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
const TIMESTAMP_TYPES: &[&str] = &["CreateTime", "LogAppendTime"];
const CLEANUP_POLICIES: &[&str] = &["compact", "delete"];
const LONG_MAX: &str = "9223372036854775807";
const DEFAULT_RLMM_CLASS: &str =
    "org.apache.kafka.server.log.remote.metadata.storage.TopicBasedRemoteLogMetadataManager";

/// Every topic-level config Kafka 4.1 accepts (`LogConfig`), in alphabetical order.
pub static TOPIC_CONFIGS: &[TopicConfigDef] = &[
    topic(
        "cleanup.policy",
        &["log.cleanup.policy"],
        "delete",
        ConfigType::List,
        Validator::ListOf(CLEANUP_POLICIES),
        "Retention strategy for old segments: delete, compact, or both.",
    ),
    topic(
        "compression.gzip.level",
        &["compression.gzip.level"],
        "-1",
        ConfigType::Int,
        Validator::IntBetweenOr(1, 9, -1),
        "Compression level used when the topic recompresses data with gzip.",
    ),
    topic(
        "compression.lz4.level",
        &["compression.lz4.level"],
        "9",
        ConfigType::Int,
        Validator::IntBetween(1, 17),
        "Compression level used when the topic recompresses data with lz4.",
    ),
    topic(
        "compression.type",
        &["compression.type"],
        "producer",
        ConfigType::String,
        Validator::OneOf(COMPRESSION_TYPES),
        "Codec the topic stores data with; producer keeps whatever codec the producer used.",
    ),
    topic(
        "compression.zstd.level",
        &["compression.zstd.level"],
        "3",
        ConfigType::Int,
        Validator::IntBetween(-131072, 22),
        "Compression level used when the topic recompresses data with zstd.",
    ),
    topic(
        "delete.retention.ms",
        &["log.cleaner.delete.retention.ms"],
        "86400000",
        ConfigType::Long,
        Validator::LongAtLeast(0),
        "How long tombstones are kept in a compacted topic.",
    ),
    topic(
        "file.delete.delay.ms",
        &["log.segment.delete.delay.ms"],
        "60000",
        ConfigType::Long,
        Validator::LongAtLeast(0),
        "Delay before the files of a deleted segment are removed from disk.",
    ),
    topic(
        "flush.messages",
        &["log.flush.interval.messages"],
        LONG_MAX,
        ConfigType::Long,
        Validator::LongAtLeast(1),
        "Number of appended messages after which the log is forced to disk.",
    ),
    topic(
        "flush.ms",
        &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"],
        LONG_MAX,
        ConfigType::Long,
        Validator::LongAtLeast(0),
        "Time after which unflushed data is forced to disk.",
    ),
    topic(
        "follower.replication.throttled.replicas",
        &[],
        "",
        ConfigType::List,
        Validator::ThrottledReplicas,
        "Replicas (partition:broker pairs, or *) whose follower-side replication is throttled.",
    ),
    topic(
        "index.interval.bytes",
        &["log.index.interval.bytes"],
        "4096",
        ConfigType::Int,
        Validator::IntAtLeast(0),
        "Bytes of data between two entries of the offset index.",
    ),
    topic(
        "leader.replication.throttled.replicas",
        &[],
        "",
        ConfigType::List,
        Validator::ThrottledReplicas,
        "Replicas (partition:broker pairs, or *) whose leader-side replication is throttled.",
    ),
    topic(
        "local.retention.bytes",
        &["log.local.retention.bytes"],
        "-2",
        ConfigType::Long,
        Validator::LongAtLeast(-2),
        "Bytes a tiered partition keeps on local disk; -2 means use retention.bytes.",
    ),
    topic(
        "local.retention.ms",
        &["log.local.retention.ms"],
        "-2",
        ConfigType::Long,
        Validator::LongAtLeast(-2),
        "Time a tiered partition keeps segments on local disk; -2 means use retention.ms.",
    ),
    topic(
        "max.compaction.lag.ms",
        &["log.cleaner.max.compaction.lag.ms"],
        LONG_MAX,
        ConfigType::Long,
        Validator::LongAtLeast(1),
        "Longest time a record may stay ineligible for compaction.",
    ),
    topic(
        "max.message.bytes",
        &["message.max.bytes"],
        "1048588",
        ConfigType::Int,
        Validator::IntAtLeast(0),
        "Largest record batch the topic accepts.",
    ),
    topic(
        "message.timestamp.after.max.ms",
        &["log.message.timestamp.after.max.ms"],
        "3600000",
        ConfigType::Long,
        Validator::LongAtLeast(0),
        "How far ahead of the broker's clock a record timestamp may be.",
    ),
    topic(
        "message.timestamp.before.max.ms",
        &["log.message.timestamp.before.max.ms"],
        LONG_MAX,
        ConfigType::Long,
        Validator::LongAtLeast(0),
        "How far behind the broker's clock a record timestamp may be.",
    ),
    topic(
        "message.timestamp.type",
        &["log.message.timestamp.type"],
        "CreateTime",
        ConfigType::String,
        Validator::OneOf(TIMESTAMP_TYPES),
        "Timestamp source: the producer (CreateTime) or the broker at append (LogAppendTime).",
    ),
    topic(
        "min.cleanable.dirty.ratio",
        &["log.cleaner.min.cleanable.ratio"],
        "0.5",
        ConfigType::Double,
        Validator::DoubleBetween(0.0, 1.0),
        "Share of not-yet-compacted log that makes a partition eligible for compaction.",
    ),
    topic(
        "min.compaction.lag.ms",
        &["log.cleaner.min.compaction.lag.ms"],
        "0",
        ConfigType::Long,
        Validator::LongAtLeast(0),
        "Least time a record stays uncompacted.",
    ),
    topic(
        "min.insync.replicas",
        &["min.insync.replicas"],
        "1",
        ConfigType::Int,
        Validator::IntAtLeast(1),
        "In-sync replicas required before an acks=all write succeeds.",
    ),
    topic(
        "preallocate",
        &["log.preallocate"],
        "false",
        ConfigType::Boolean,
        Validator::Bool,
        "Whether segment files are preallocated on disk when they are created.",
    ),
    topic(
        "remote.log.copy.disable",
        &[],
        "false",
        ConfigType::Boolean,
        Validator::Bool,
        "Stops uploading new segments to remote storage while remote data stays readable.",
    ),
    topic(
        "remote.log.delete.on.disable",
        &[],
        "false",
        ConfigType::Boolean,
        Validator::Bool,
        "Whether remote data is deleted when tiered storage is turned off for the topic.",
    ),
    topic(
        "remote.storage.enable",
        &[],
        "false",
        ConfigType::Boolean,
        Validator::Bool,
        "Whether the topic uses tiered storage.",
    ),
    topic(
        "retention.bytes",
        &["log.retention.bytes"],
        "-1",
        ConfigType::Long,
        Validator::Any,
        "Size a partition may reach before old segments are deleted; -1 means no limit.",
    ),
    topic(
        "retention.ms",
        &[
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours",
        ],
        "604800000",
        ConfigType::Long,
        Validator::LongAtLeast(-1),
        "How long data is kept before it is deleted; -1 means forever.",
    ),
    topic(
        "segment.bytes",
        &["log.segment.bytes"],
        "1073741824",
        ConfigType::Int,
        Validator::IntAtLeast(1024 * 1024),
        "Size at which the active segment file is rolled.",
    ),
    topic(
        "segment.index.bytes",
        &["log.index.size.max.bytes"],
        "10485760",
        ConfigType::Int,
        Validator::IntAtLeast(4),
        "Size of the offset index file allocated for each segment.",
    ),
    topic(
        "segment.jitter.ms",
        &["log.roll.jitter.ms", "log.roll.jitter.hours"],
        "0",
        ConfigType::Long,
        Validator::LongAtLeast(0),
        "Random jitter subtracted from segment.ms to spread segment rolls out.",
    ),
    topic(
        "segment.ms",
        &["log.roll.ms", "log.roll.hours"],
        "604800000",
        ConfigType::Long,
        Validator::LongAtLeast(1),
        "Time after which a segment is rolled even if it is not full.",
    ),
    topic(
        "unclean.leader.election.enable",
        &["unclean.leader.election.enable"],
        "false",
        ConfigType::Boolean,
        Validator::Bool,
        "Whether an out-of-sync replica may become leader, at the risk of losing data.",
    ),
];

/// Kafka treats keys of unknown type as sensitive, as well as passwords.
const fn is_sensitive(config_type: ConfigType) -> bool {
    matches!(config_type, ConfigType::Password | ConfigType::Unknown)
}

/// A broker config that can only change with a restart (read-only in DescribeConfigs).
const fn fixed(
    name: &'static str,
    default: Option<&'static str>,
    config_type: ConfigType,
    doc: &'static str,
) -> BrokerConfigDef {
    BrokerConfigDef {
        name,
        default,
        config_type,
        read_only: true,
        sensitive: is_sensitive(config_type),
        doc,
    }
}

/// A broker config that Kafka can update dynamically (not read-only in DescribeConfigs).
const fn dynamic(
    name: &'static str,
    default: Option<&'static str>,
    config_type: ConfigType,
    doc: &'static str,
) -> BrokerConfigDef {
    BrokerConfigDef {
        read_only: false,
        ..fixed(name, default, config_type, doc)
    }
}

/// Broker configs of a Kafka 4.1 KRaft node: every non-internal key of the broker `ConfigDef`,
/// plus `super.users`, which the standard authorizer reads outside that `ConfigDef`.
pub static BROKER_CONFIGS: &[BrokerConfigDef] = &[
    // Tiered storage (remote log manager).
    fixed(
        "remote.log.storage.system.enable",
        Some("false"),
        ConfigType::Boolean,
        "Turns on the tiered-storage subsystem on this broker.",
    ),
    fixed(
        "remote.log.storage.manager.impl.prefix",
        Some("rsm.config."),
        ConfigType::String,
        "Property prefix whose entries are handed to the remote storage manager plugin.",
    ),
    fixed(
        "remote.log.metadata.manager.impl.prefix",
        Some("rlmm.config."),
        ConfigType::String,
        "Property prefix whose entries are handed to the remote log metadata manager plugin.",
    ),
    fixed(
        "remote.log.storage.manager.class.name",
        None,
        ConfigType::String,
        "Implementation class of the remote storage manager plugin.",
    ),
    fixed(
        "remote.log.storage.manager.class.path",
        None,
        ConfigType::String,
        "Extra class path from which the remote storage manager plugin is loaded.",
    ),
    fixed(
        "remote.log.metadata.manager.class.name",
        Some(DEFAULT_RLMM_CLASS),
        ConfigType::String,
        "Implementation class of the remote log metadata manager plugin.",
    ),
    fixed(
        "remote.log.metadata.manager.class.path",
        None,
        ConfigType::String,
        "Extra class path from which the remote log metadata manager plugin is loaded.",
    ),
    fixed(
        "remote.log.metadata.manager.listener.name",
        None,
        ConfigType::String,
        "Listener the built-in remote log metadata manager uses to reach the local broker.",
    ),
    fixed(
        "remote.log.metadata.custom.metadata.max.bytes",
        Some("128"),
        ConfigType::Int,
        "Largest custom metadata a remote storage plugin may attach to an uploaded segment.",
    ),
    dynamic(
        "remote.log.index.file.cache.total.size.bytes",
        Some("1073741824"),
        ConfigType::Long,
        "Disk budget for the cache of index files fetched from remote storage.",
    ),
    fixed(
        "remote.log.manager.thread.pool.size",
        Some("2"),
        ConfigType::Int,
        "Threads that schedule follower tasks tracking the highest remotely stored offset.",
    ),
    dynamic(
        "remote.log.manager.copier.thread.pool.size",
        Some("10"),
        ConfigType::Int,
        "Threads that copy finished segments to remote storage.",
    ),
    dynamic(
        "remote.log.manager.expiration.thread.pool.size",
        Some("10"),
        ConfigType::Int,
        "Threads that delete expired segments from remote storage.",
    ),
    fixed(
        "remote.log.manager.task.interval.ms",
        Some("30000"),
        ConfigType::Long,
        "How often the remote log manager runs its copy and expiry tasks.",
    ),
    dynamic(
        "remote.log.reader.threads",
        Some("10"),
        ConfigType::Int,
        "Threads serving reads of data held in remote storage.",
    ),
    fixed(
        "remote.log.reader.max.pending.tasks",
        Some("100"),
        ConfigType::Int,
        "Queue bound for remote read tasks waiting for a reader thread.",
    ),
    dynamic(
        "log.local.retention.ms",
        Some("-2"),
        ConfigType::Long,
        "Broker default local retention time for tiered topics; -2 means log.retention.ms.",
    ),
    dynamic(
        "log.local.retention.bytes",
        Some("-2"),
        ConfigType::Long,
        "Broker default local retention size for tiered topics; -2 means log.retention.bytes.",
    ),
    dynamic(
        "remote.log.manager.copy.max.bytes.per.second",
        Some("9223372036854775807"),
        ConfigType::Long,
        "Broker-wide throttle on bytes uploaded to remote storage per second.",
    ),
    fixed(
        "remote.log.manager.copy.quota.window.num",
        Some("11"),
        ConfigType::Int,
        "Number of samples kept for the remote copy quota.",
    ),
    fixed(
        "remote.log.manager.copy.quota.window.size.seconds",
        Some("1"),
        ConfigType::Int,
        "Length of each sample window of the remote copy quota.",
    ),
    dynamic(
        "remote.log.manager.fetch.max.bytes.per.second",
        Some("9223372036854775807"),
        ConfigType::Long,
        "Broker-wide throttle on bytes read from remote storage per second.",
    ),
    fixed(
        "remote.log.manager.fetch.quota.window.num",
        Some("11"),
        ConfigType::Int,
        "Number of samples kept for the remote fetch quota.",
    ),
    fixed(
        "remote.log.manager.fetch.quota.window.size.seconds",
        Some("1"),
        ConfigType::Int,
        "Length of each sample window of the remote fetch quota.",
    ),
    dynamic(
        "remote.fetch.max.wait.ms",
        Some("500"),
        ConfigType::Int,
        "Longest time a fetch that needs remote data waits before answering.",
    ),
    dynamic(
        "remote.list.offsets.request.timeout.ms",
        Some("30000"),
        ConfigType::Long,
        "Longest time a ListOffsets lookup against remote storage may take.",
    ),
    // General server settings.
    fixed(
        "broker.id",
        Some("-1"),
        ConfigType::Int,
        "Legacy broker identifier; in KRaft mode it mirrors node.id.",
    ),
    dynamic(
        "message.max.bytes",
        Some("1048588"),
        ConfigType::Int,
        "Largest record batch the broker accepts, unless a topic overrides max.message.bytes.",
    ),
    dynamic(
        "num.io.threads",
        Some("8"),
        ConfigType::Int,
        "Request handler threads that execute client requests, including disk I/O.",
    ),
    fixed(
        "num.replica.alter.log.dirs.threads",
        None,
        ConfigType::Int,
        "Threads that move replicas between log directories; unset means one per log directory.",
    ),
    dynamic(
        "background.threads",
        Some("10"),
        ConfigType::Int,
        "Threads used for assorted background housekeeping jobs.",
    ),
    fixed(
        "request.timeout.ms",
        Some("30000"),
        ConfigType::Int,
        "Time the broker waits for answers to requests it sends to other nodes.",
    ),
    fixed(
        "socket.connection.setup.timeout.ms",
        Some("10000"),
        ConfigType::Long,
        "Initial timeout for establishing outbound connections.",
    ),
    fixed(
        "socket.connection.setup.timeout.max.ms",
        Some("30000"),
        ConfigType::Long,
        "Upper bound for the exponentially growing outbound connect timeout.",
    ),
    fixed(
        "authorizer.class.name",
        Some(""),
        ConfigType::String,
        "Class that authorizes requests; empty means no authorization is done.",
    ),
    fixed(
        "early.start.listeners",
        None,
        ConfigType::String,
        "Listeners that may accept connections before the authorizer has finished starting.",
    ),
    fixed(
        "broker.rack",
        None,
        ConfigType::String,
        "Rack or zone label of this broker, used for rack-aware replica placement.",
    ),
    fixed(
        "controlled.shutdown.enable",
        Some("true"),
        ConfigType::Boolean,
        "Whether the broker hands off leadership gracefully before shutting down.",
    ),
    fixed(
        "delete.topic.enable",
        Some("true"),
        ConfigType::Boolean,
        "Whether topics may be deleted through the admin API.",
    ),
    dynamic(
        "compression.type",
        Some("producer"),
        ConfigType::String,
        "Broker default codec for stored data; producer keeps whatever the producer used.",
    ),
    dynamic(
        "compression.gzip.level",
        Some("-1"),
        ConfigType::Int,
        "Broker default gzip level used when data is recompressed with gzip.",
    ),
    dynamic(
        "compression.lz4.level",
        Some("9"),
        ConfigType::Int,
        "Broker default lz4 level used when data is recompressed with lz4.",
    ),
    dynamic(
        "compression.zstd.level",
        Some("3"),
        ConfigType::Int,
        "Broker default zstd level used when data is recompressed with zstd.",
    ),
    fixed(
        "max.incremental.fetch.session.cache.slots",
        Some("1000"),
        ConfigType::Int,
        "How many incremental fetch sessions the broker keeps cached.",
    ),
    fixed(
        "fetch.max.bytes",
        Some("57671680"),
        ConfigType::Int,
        "Upper bound on the bytes returned in one fetch response.",
    ),
    fixed(
        "max.request.partition.size.limit",
        Some("2000"),
        ConfigType::Int,
        "Most partitions a single request may name.",
    ),
    // KRaft node identity and roles.
    fixed(
        "process.roles",
        None,
        ConfigType::List,
        "Roles this node plays in KRaft mode: broker, controller, or both.",
    ),
    fixed(
        "node.id",
        None,
        ConfigType::Int,
        "Unique id of this node within the cluster.",
    ),
    fixed(
        "initial.broker.registration.timeout.ms",
        Some("60000"),
        ConfigType::Int,
        "How long a new broker waits for the controller to accept its registration.",
    ),
    fixed(
        "broker.heartbeat.interval.ms",
        Some("2000"),
        ConfigType::Int,
        "Interval between broker heartbeats to the active controller.",
    ),
    fixed(
        "broker.session.timeout.ms",
        Some("9000"),
        ConfigType::Int,
        "How long a broker may go without heartbeating before it is fenced.",
    ),
    fixed(
        "controller.listener.names",
        None,
        ConfigType::String,
        "Listener names the controllers use; brokers reach the quorum through the first.",
    ),
    fixed(
        "sasl.mechanism.controller.protocol",
        Some("GSSAPI"),
        ConfigType::String,
        "SASL mechanism used when talking to controllers.",
    ),
    // KRaft metadata log.
    fixed(
        "metadata.log.max.record.bytes.between.snapshots",
        Some("20971520"),
        ConfigType::Long,
        "New metadata bytes that trigger a fresh metadata snapshot.",
    ),
    fixed(
        "metadata.log.max.snapshot.interval.ms",
        Some("3600000"),
        ConfigType::Long,
        "Longest wait before snapshotting new metadata records; 0 disables this trigger.",
    ),
    fixed(
        "metadata.log.dir",
        None,
        ConfigType::String,
        "Directory for the KRaft metadata log; unset means the first log directory.",
    ),
    fixed(
        "metadata.log.segment.bytes",
        Some("1073741824"),
        ConfigType::Int,
        "Segment size of the metadata log.",
    ),
    fixed(
        "metadata.log.segment.ms",
        Some("604800000"),
        ConfigType::Long,
        "Time after which a metadata log segment is rolled.",
    ),
    fixed(
        "metadata.max.retention.bytes",
        Some("104857600"),
        ConfigType::Long,
        "Size limit for retained metadata log and snapshots before old ones are removed.",
    ),
    fixed(
        "metadata.max.retention.ms",
        Some("604800000"),
        ConfigType::Long,
        "Age limit for metadata log segments and snapshots before they are removed.",
    ),
    fixed(
        "metadata.max.idle.interval.ms",
        Some("500"),
        ConfigType::Int,
        "How often the active controller writes a no-op record to show it is alive.",
    ),
    // Listeners and the socket server.
    dynamic(
        "listeners",
        Some("PLAINTEXT://:9092"),
        ConfigType::String,
        "Addresses and listener names the node binds to.",
    ),
    fixed(
        "advertised.listeners",
        None,
        ConfigType::String,
        "Addresses published to clients and other nodes; defaults to the listeners.",
    ),
    dynamic(
        "listener.security.protocol.map",
        Some("SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"),
        ConfigType::String,
        "Maps each listener name to its security protocol.",
    ),
    fixed(
        "socket.send.buffer.bytes",
        Some("102400"),
        ConfigType::Int,
        "SO_SNDBUF for server sockets; -1 uses the OS default.",
    ),
    fixed(
        "socket.receive.buffer.bytes",
        Some("102400"),
        ConfigType::Int,
        "SO_RCVBUF for server sockets; -1 uses the OS default.",
    ),
    fixed(
        "socket.request.max.bytes",
        Some("104857600"),
        ConfigType::Int,
        "Largest request the broker will read from a socket.",
    ),
    fixed(
        "socket.listen.backlog.size",
        Some("50"),
        ConfigType::Int,
        "Pending-connection backlog of each listening socket.",
    ),
    dynamic(
        "max.connections.per.ip",
        Some("2147483647"),
        ConfigType::Int,
        "Most connections allowed from a single IP address.",
    ),
    dynamic(
        "max.connections.per.ip.overrides",
        Some(""),
        ConfigType::String,
        "Per-host or per-IP exceptions to max.connections.per.ip.",
    ),
    dynamic(
        "max.connections",
        Some("2147483647"),
        ConfigType::Int,
        "Most connections the broker allows in total.",
    ),
    dynamic(
        "max.connection.creation.rate",
        Some("2147483647"),
        ConfigType::Int,
        "Most new connections accepted per second across the broker.",
    ),
    fixed(
        "connections.max.idle.ms",
        Some("600000"),
        ConfigType::Long,
        "Idle time after which a connection is closed.",
    ),
    fixed(
        "connection.failed.authentication.delay.ms",
        Some("100"),
        ConfigType::Int,
        "Delay before closing a connection whose authentication failed.",
    ),
    fixed(
        "queued.max.requests",
        Some("500"),
        ConfigType::Int,
        "Requests that may wait for an I/O thread before network threads stop reading.",
    ),
    fixed(
        "queued.max.request.bytes",
        Some("-1"),
        ConfigType::Long,
        "Bytes of queued requests allowed before reading pauses; -1 means no limit.",
    ),
    dynamic(
        "num.network.threads",
        Some("3"),
        ConfigType::Int,
        "Threads per listener that read requests and write responses.",
    ),
    // Replication.
    fixed(
        "controller.socket.timeout.ms",
        Some("30000"),
        ConfigType::Int,
        "Socket timeout for controller-to-broker channels.",
    ),
    fixed(
        "default.replication.factor",
        Some("1"),
        ConfigType::Int,
        "Replication factor for topics created without one, including auto-created topics.",
    ),
    fixed(
        "replica.lag.time.max.ms",
        Some("30000"),
        ConfigType::Long,
        "How long a follower may lag or stay silent before it leaves the ISR.",
    ),
    fixed(
        "replica.socket.timeout.ms",
        Some("30000"),
        ConfigType::Int,
        "Socket timeout for replica fetch requests.",
    ),
    fixed(
        "replica.socket.receive.buffer.bytes",
        Some("65536"),
        ConfigType::Int,
        "Socket receive buffer for replica fetchers.",
    ),
    fixed(
        "replica.fetch.max.bytes",
        Some("1048576"),
        ConfigType::Int,
        "Bytes a follower fetches per partition in one request.",
    ),
    fixed(
        "replica.fetch.wait.max.ms",
        Some("500"),
        ConfigType::Int,
        "Longest time a follower fetch waits on the leader for data.",
    ),
    fixed(
        "replica.fetch.backoff.ms",
        Some("1000"),
        ConfigType::Int,
        "Pause after a failed follower fetch.",
    ),
    fixed(
        "replica.fetch.min.bytes",
        Some("1"),
        ConfigType::Int,
        "Least data a follower fetch waits for.",
    ),
    fixed(
        "replica.fetch.response.max.bytes",
        Some("10485760"),
        ConfigType::Int,
        "Upper bound on the bytes in one follower fetch response.",
    ),
    dynamic(
        "num.replica.fetchers",
        Some("1"),
        ConfigType::Int,
        "Fetcher threads per source broker used for replication.",
    ),
    fixed(
        "replica.high.watermark.checkpoint.interval.ms",
        Some("5000"),
        ConfigType::Long,
        "How often high watermarks are checkpointed to disk.",
    ),
    fixed(
        "fetch.purgatory.purge.interval.requests",
        Some("1000"),
        ConfigType::Int,
        "Purge interval, in requests, of the fetch purgatory.",
    ),
    fixed(
        "producer.purgatory.purge.interval.requests",
        Some("1000"),
        ConfigType::Int,
        "Purge interval, in requests, of the produce purgatory.",
    ),
    fixed(
        "delete.records.purgatory.purge.interval.requests",
        Some("1"),
        ConfigType::Int,
        "Purge interval, in requests, of the delete-records purgatory.",
    ),
    fixed(
        "auto.leader.rebalance.enable",
        Some("true"),
        ConfigType::Boolean,
        "Whether leadership is moved back to preferred replicas automatically.",
    ),
    fixed(
        "leader.imbalance.check.interval.seconds",
        Some("300"),
        ConfigType::Long,
        "How often the controller checks for leader imbalance.",
    ),
    dynamic(
        "unclean.leader.election.enable",
        Some("false"),
        ConfigType::Boolean,
        "Broker default for letting out-of-sync replicas become leader, risking data loss.",
    ),
    fixed(
        "security.inter.broker.protocol",
        Some("PLAINTEXT"),
        ConfigType::String,
        "Security protocol between brokers; exclusive with inter.broker.listener.name.",
    ),
    fixed(
        "inter.broker.listener.name",
        None,
        ConfigType::String,
        "Listener brokers use to talk to each other.",
    ),
    fixed(
        "replica.selector.class",
        None,
        ConfigType::String,
        "Plugin that picks the replica a consumer should fetch from.",
    ),
    // Group coordinator.
    fixed(
        "group.coordinator.rebalance.protocols",
        Some("classic,consumer,streams"),
        ConfigType::List,
        "Group protocols the group coordinator accepts.",
    ),
    fixed(
        "group.coordinator.threads",
        Some("4"),
        ConfigType::Int,
        "Threads run by the group coordinator.",
    ),
    fixed(
        "group.coordinator.append.linger.ms",
        Some("5"),
        ConfigType::Int,
        "How long the group coordinator waits to batch writes to the offsets topic.",
    ),
    fixed(
        "offsets.commit.timeout.ms",
        Some("5000"),
        ConfigType::Int,
        "Time an offset commit waits for replication before it fails.",
    ),
    fixed(
        "offsets.load.buffer.size",
        Some("5242880"),
        ConfigType::Int,
        "Read batch size used while loading offsets into the cache.",
    ),
    fixed(
        "offsets.topic.replication.factor",
        Some("3"),
        ConfigType::Short,
        "Replication factor of the internal __consumer_offsets topic.",
    ),
    fixed(
        "offsets.topic.num.partitions",
        Some("50"),
        ConfigType::Int,
        "Partition count of __consumer_offsets; cannot change after creation.",
    ),
    fixed(
        "offsets.topic.segment.bytes",
        Some("104857600"),
        ConfigType::Int,
        "Segment size of __consumer_offsets.",
    ),
    fixed(
        "offsets.topic.compression.codec",
        Some("0"),
        ConfigType::Int,
        "Codec id used for writes to __consumer_offsets (0 = none).",
    ),
    fixed(
        "offset.metadata.max.bytes",
        Some("4096"),
        ConfigType::Int,
        "Largest metadata string allowed with an offset commit.",
    ),
    fixed(
        "offsets.retention.minutes",
        Some("10080"),
        ConfigType::Int,
        "How long committed offsets of an empty group are kept.",
    ),
    fixed(
        "offsets.retention.check.interval.ms",
        Some("600000"),
        ConfigType::Long,
        "How often stale offsets are looked for.",
    ),
    fixed(
        "group.min.session.timeout.ms",
        Some("6000"),
        ConfigType::Int,
        "Smallest session timeout a classic group member may request.",
    ),
    fixed(
        "group.max.session.timeout.ms",
        Some("1800000"),
        ConfigType::Int,
        "Largest session timeout a classic group member may request.",
    ),
    fixed(
        "group.initial.rebalance.delay.ms",
        Some("3000"),
        ConfigType::Int,
        "Delay before the first rebalance of a new classic group.",
    ),
    fixed(
        "group.max.size",
        Some("2147483647"),
        ConfigType::Int,
        "Most members a classic group may hold.",
    ),
    fixed(
        "group.consumer.session.timeout.ms",
        Some("45000"),
        ConfigType::Int,
        "Session timeout for members of consumer-protocol groups.",
    ),
    fixed(
        "group.consumer.min.session.timeout.ms",
        Some("45000"),
        ConfigType::Int,
        "Smallest allowed session timeout for consumer-protocol groups.",
    ),
    fixed(
        "group.consumer.max.session.timeout.ms",
        Some("60000"),
        ConfigType::Int,
        "Largest allowed session timeout for consumer-protocol groups.",
    ),
    fixed(
        "group.consumer.heartbeat.interval.ms",
        Some("5000"),
        ConfigType::Int,
        "Heartbeat interval given to consumer-protocol group members.",
    ),
    fixed(
        "group.consumer.min.heartbeat.interval.ms",
        Some("5000"),
        ConfigType::Int,
        "Smallest allowed heartbeat interval for consumer-protocol groups.",
    ),
    fixed(
        "group.consumer.max.heartbeat.interval.ms",
        Some("15000"),
        ConfigType::Int,
        "Largest allowed heartbeat interval for consumer-protocol groups.",
    ),
    fixed(
        "group.consumer.max.size",
        Some("2147483647"),
        ConfigType::Int,
        "Most members a consumer-protocol group may hold.",
    ),
    fixed(
        "group.consumer.assignors",
        Some("uniform,range"),
        ConfigType::List,
        "Server-side assignors for consumer-protocol groups; the first is the default.",
    ),
    fixed(
        "group.consumer.migration.policy",
        Some("bidirectional"),
        ConfigType::String,
        "Whether classic and consumer-protocol groups may convert into each other.",
    ),
    fixed(
        "group.share.session.timeout.ms",
        Some("45000"),
        ConfigType::Int,
        "Session timeout for share group members.",
    ),
    fixed(
        "group.share.min.session.timeout.ms",
        Some("45000"),
        ConfigType::Int,
        "Smallest allowed session timeout for share groups.",
    ),
    fixed(
        "group.share.max.session.timeout.ms",
        Some("60000"),
        ConfigType::Int,
        "Largest allowed session timeout for share groups.",
    ),
    fixed(
        "group.share.heartbeat.interval.ms",
        Some("5000"),
        ConfigType::Int,
        "Heartbeat interval given to share group members.",
    ),
    fixed(
        "group.share.min.heartbeat.interval.ms",
        Some("5000"),
        ConfigType::Int,
        "Smallest allowed heartbeat interval for share groups.",
    ),
    fixed(
        "group.share.max.heartbeat.interval.ms",
        Some("15000"),
        ConfigType::Int,
        "Largest allowed heartbeat interval for share groups.",
    ),
    fixed(
        "group.share.max.size",
        Some("200"),
        ConfigType::Int,
        "Most members a share group may hold.",
    ),
    fixed(
        "group.share.assignors",
        Some("simple"),
        ConfigType::List,
        "Server-side assignor used by share groups.",
    ),
    fixed(
        "group.streams.session.timeout.ms",
        Some("45000"),
        ConfigType::Int,
        "Session timeout for streams group members.",
    ),
    fixed(
        "group.streams.min.session.timeout.ms",
        Some("45000"),
        ConfigType::Int,
        "Smallest allowed session timeout for streams groups.",
    ),
    fixed(
        "group.streams.max.session.timeout.ms",
        Some("60000"),
        ConfigType::Int,
        "Largest allowed session timeout for streams groups.",
    ),
    fixed(
        "group.streams.heartbeat.interval.ms",
        Some("5000"),
        ConfigType::Int,
        "Heartbeat interval given to streams group members.",
    ),
    fixed(
        "group.streams.min.heartbeat.interval.ms",
        Some("5000"),
        ConfigType::Int,
        "Smallest allowed heartbeat interval for streams groups.",
    ),
    fixed(
        "group.streams.max.heartbeat.interval.ms",
        Some("15000"),
        ConfigType::Int,
        "Largest allowed heartbeat interval for streams groups.",
    ),
    fixed(
        "group.streams.max.size",
        Some("2147483647"),
        ConfigType::Int,
        "Most members a streams group may hold.",
    ),
    fixed(
        "group.streams.num.standby.replicas",
        Some("0"),
        ConfigType::Int,
        "Standby task replicas assigned in streams groups.",
    ),
    fixed(
        "group.streams.max.standby.replicas",
        Some("2"),
        ConfigType::Int,
        "Upper bound on standby replicas a streams group may request.",
    ),
    // Log cleaner.
    dynamic(
        "log.cleaner.threads",
        Some("1"),
        ConfigType::Int,
        "Background threads doing log compaction.",
    ),
    dynamic(
        "log.cleaner.io.max.bytes.per.second",
        Some("1.7976931348623157E308"),
        ConfigType::Double,
        "I/O throttle for the log cleaner, reads and writes combined.",
    ),
    dynamic(
        "log.cleaner.dedupe.buffer.size",
        Some("134217728"),
        ConfigType::Long,
        "Memory shared by all cleaner threads for key deduplication.",
    ),
    dynamic(
        "log.cleaner.io.buffer.size",
        Some("524288"),
        ConfigType::Int,
        "Memory shared by all cleaner threads for I/O buffers.",
    ),
    dynamic(
        "log.cleaner.io.buffer.load.factor",
        Some("0.9"),
        ConfigType::Double,
        "Target fill ratio of the cleaner's dedupe hash table.",
    ),
    dynamic(
        "log.cleaner.backoff.ms",
        Some("15000"),
        ConfigType::Long,
        "Sleep time of the cleaner when there is nothing to clean.",
    ),
    dynamic(
        "log.cleaner.min.cleanable.ratio",
        Some("0.5"),
        ConfigType::Double,
        "Broker default dirty-to-total ratio that makes a log eligible for cleaning.",
    ),
    fixed(
        "log.cleaner.enable",
        Some("true"),
        ConfigType::Boolean,
        "Deprecated switch for the log cleaner; should stay true.",
    ),
    dynamic(
        "log.cleaner.delete.retention.ms",
        Some("86400000"),
        ConfigType::Long,
        "Broker default for how long tombstones survive in compacted topics.",
    ),
    dynamic(
        "log.cleaner.min.compaction.lag.ms",
        Some("0"),
        ConfigType::Long,
        "Broker default for how long a record stays uncompacted.",
    ),
    dynamic(
        "log.cleaner.max.compaction.lag.ms",
        Some("9223372036854775807"),
        ConfigType::Long,
        "Broker default for the longest a record may stay ineligible for compaction.",
    ),
    // Log defaults (most are broker-level synonyms of topic configs).
    fixed(
        "num.partitions",
        Some("1"),
        ConfigType::Int,
        "Partition count for topics created without one.",
    ),
    fixed(
        "log.dir",
        Some("/tmp/kafka-logs"),
        ConfigType::String,
        "Data directory used when log.dirs is unset.",
    ),
    fixed(
        "log.dirs",
        None,
        ConfigType::String,
        "Comma-separated data directories; overrides log.dir.",
    ),
    dynamic(
        "log.segment.bytes",
        Some("1073741824"),
        ConfigType::Int,
        "Broker default segment file size.",
    ),
    dynamic(
        "log.roll.ms",
        None,
        ConfigType::Long,
        "Broker default segment roll time in ms; takes precedence over log.roll.hours.",
    ),
    fixed(
        "log.roll.hours",
        Some("168"),
        ConfigType::Int,
        "Broker default segment roll time in hours.",
    ),
    dynamic(
        "log.roll.jitter.ms",
        None,
        ConfigType::Long,
        "Broker default roll jitter in ms; takes precedence over log.roll.jitter.hours.",
    ),
    fixed(
        "log.roll.jitter.hours",
        Some("0"),
        ConfigType::Int,
        "Broker default roll jitter in hours.",
    ),
    dynamic(
        "log.retention.ms",
        None,
        ConfigType::Long,
        "Broker default retention in ms, preferred over minutes/hours; -1 keeps data forever.",
    ),
    fixed(
        "log.retention.minutes",
        None,
        ConfigType::Int,
        "Broker default retention in minutes; used when log.retention.ms is unset.",
    ),
    fixed(
        "log.retention.hours",
        Some("168"),
        ConfigType::Int,
        "Broker default retention in hours; lowest-priority retention setting.",
    ),
    dynamic(
        "log.retention.bytes",
        Some("-1"),
        ConfigType::Long,
        "Broker default size cap per partition before old segments go; -1 means no limit.",
    ),
    fixed(
        "log.retention.check.interval.ms",
        Some("300000"),
        ConfigType::Long,
        "How often the broker looks for segments to delete.",
    ),
    dynamic(
        "log.cleanup.policy",
        Some("delete"),
        ConfigType::List,
        "Broker default cleanup policy: delete, compact, or both.",
    ),
    dynamic(
        "log.index.size.max.bytes",
        Some("10485760"),
        ConfigType::Int,
        "Broker default maximum size of an offset index file.",
    ),
    dynamic(
        "log.index.interval.bytes",
        Some("4096"),
        ConfigType::Int,
        "Broker default spacing, in bytes, between offset index entries.",
    ),
    dynamic(
        "log.flush.interval.messages",
        Some("9223372036854775807"),
        ConfigType::Long,
        "Broker default message count that forces an fsync.",
    ),
    dynamic(
        "log.segment.delete.delay.ms",
        Some("60000"),
        ConfigType::Long,
        "Broker default delay before a deleted segment's files are removed.",
    ),
    fixed(
        "log.flush.scheduler.interval.ms",
        Some("9223372036854775807"),
        ConfigType::Long,
        "How often the flusher checks logs that need an fsync.",
    ),
    dynamic(
        "log.flush.interval.ms",
        None,
        ConfigType::Long,
        "Broker default time data may stay unflushed; unset uses the scheduler interval.",
    ),
    fixed(
        "log.flush.offset.checkpoint.interval.ms",
        Some("60000"),
        ConfigType::Int,
        "How often the recovery-point checkpoint is written.",
    ),
    fixed(
        "log.flush.start.offset.checkpoint.interval.ms",
        Some("60000"),
        ConfigType::Int,
        "How often the log-start-offset checkpoint is written.",
    ),
    dynamic(
        "log.preallocate",
        Some("false"),
        ConfigType::Boolean,
        "Broker default for preallocating new segment files.",
    ),
    dynamic(
        "num.recovery.threads.per.data.dir",
        Some("2"),
        ConfigType::Int,
        "Threads per data directory for log recovery at startup and flushing at shutdown.",
    ),
    fixed(
        "auto.create.topics.enable",
        Some("true"),
        ConfigType::Boolean,
        "Whether metadata requests for unknown topics create them.",
    ),
    dynamic(
        "min.insync.replicas",
        Some("1"),
        ConfigType::Int,
        "Broker default number of in-sync replicas needed for acks=all writes.",
    ),
    dynamic(
        "log.message.timestamp.type",
        Some("CreateTime"),
        ConfigType::String,
        "Broker default timestamp type: CreateTime or LogAppendTime.",
    ),
    dynamic(
        "log.message.timestamp.before.max.ms",
        Some("9223372036854775807"),
        ConfigType::Long,
        "Broker default for how far in the past a record timestamp may be.",
    ),
    dynamic(
        "log.message.timestamp.after.max.ms",
        Some("3600000"),
        ConfigType::Long,
        "Broker default for how far in the future a record timestamp may be.",
    ),
    fixed(
        "create.topic.policy.class.name",
        None,
        ConfigType::Class,
        "Policy plugin that vets topic creation requests.",
    ),
    fixed(
        "alter.config.policy.class.name",
        None,
        ConfigType::Class,
        "Policy plugin that vets config change requests.",
    ),
    fixed(
        "log.dir.failure.timeout.ms",
        Some("30000"),
        ConfigType::Long,
        "How long a broker may fail to report a failed log directory before shutting down.",
    ),
    // Share groups.
    fixed(
        "group.share.delivery.count.limit",
        Some("5"),
        ConfigType::Int,
        "Delivery attempts after which a share-group record is archived.",
    ),
    fixed(
        "group.share.record.lock.duration.ms",
        Some("30000"),
        ConfigType::Int,
        "Default acquisition lock time for share-group records.",
    ),
    fixed(
        "group.share.min.record.lock.duration.ms",
        Some("15000"),
        ConfigType::Int,
        "Smallest record lock time a share group may configure.",
    ),
    fixed(
        "group.share.max.record.lock.duration.ms",
        Some("60000"),
        ConfigType::Int,
        "Largest record lock time a share group may configure.",
    ),
    fixed(
        "group.share.partition.max.record.locks",
        Some("2000"),
        ConfigType::Int,
        "Most records a share partition may hold locked at once.",
    ),
    fixed(
        "share.fetch.purgatory.purge.interval.requests",
        Some("1000"),
        ConfigType::Int,
        "Purge interval, in requests, of the share fetch purgatory.",
    ),
    fixed(
        "group.share.max.share.sessions",
        Some("2000"),
        ConfigType::Int,
        "Most share sessions the broker caches.",
    ),
    // Share coordinator.
    fixed(
        "share.coordinator.state.topic.num.partitions",
        Some("50"),
        ConfigType::Int,
        "Partition count of the internal share-group state topic.",
    ),
    fixed(
        "share.coordinator.state.topic.replication.factor",
        Some("3"),
        ConfigType::Short,
        "Replication factor of the internal share-group state topic.",
    ),
    fixed(
        "share.coordinator.state.topic.min.isr",
        Some("2"),
        ConfigType::Short,
        "min.insync.replicas of the internal share-group state topic.",
    ),
    fixed(
        "share.coordinator.state.topic.segment.bytes",
        Some("104857600"),
        ConfigType::Int,
        "Segment size of the internal share-group state topic.",
    ),
    fixed(
        "share.coordinator.threads",
        Some("1"),
        ConfigType::Int,
        "Threads run by the share coordinator.",
    ),
    fixed(
        "share.coordinator.snapshot.update.records.per.snapshot",
        Some("500"),
        ConfigType::Int,
        "Delta records written per share partition before a new snapshot.",
    ),
    fixed(
        "share.coordinator.load.buffer.size",
        Some("5242880"),
        ConfigType::Int,
        "Read batch size used while loading share-group state.",
    ),
    fixed(
        "share.coordinator.state.topic.compression.codec",
        Some("0"),
        ConfigType::Int,
        "Codec id used for writes to the share-group state topic (0 = none).",
    ),
    fixed(
        "share.coordinator.append.linger.ms",
        Some("5"),
        ConfigType::Int,
        "How long the share coordinator waits to batch writes.",
    ),
    fixed(
        "share.coordinator.write.timeout.ms",
        Some("5000"),
        ConfigType::Int,
        "Time a share state write waits for replication.",
    ),
    // Transaction state log and producer state.
    fixed(
        "transaction.state.log.min.isr",
        Some("2"),
        ConfigType::Int,
        "min.insync.replicas of the internal __transaction_state topic.",
    ),
    fixed(
        "transaction.state.log.load.buffer.size",
        Some("5242880"),
        ConfigType::Int,
        "Read batch size used while loading transaction state.",
    ),
    fixed(
        "transaction.state.log.replication.factor",
        Some("3"),
        ConfigType::Short,
        "Replication factor of the internal __transaction_state topic.",
    ),
    fixed(
        "transaction.state.log.num.partitions",
        Some("50"),
        ConfigType::Int,
        "Partition count of __transaction_state; cannot change after creation.",
    ),
    fixed(
        "transaction.state.log.segment.bytes",
        Some("104857600"),
        ConfigType::Int,
        "Segment size of __transaction_state.",
    ),
    dynamic(
        "transaction.partition.verification.enable",
        Some("true"),
        ConfigType::Boolean,
        "Whether leaders check a partition joined the transaction before transactional writes.",
    ),
    dynamic(
        "producer.id.expiration.ms",
        Some("86400000"),
        ConfigType::Int,
        "Idle time after which a producer id's state is dropped from a partition.",
    ),
    // Transaction coordinator.
    fixed(
        "transactional.id.expiration.ms",
        Some("604800000"),
        ConfigType::Int,
        "Idle time after which a transactional id is expired by the coordinator.",
    ),
    fixed(
        "transaction.max.timeout.ms",
        Some("900000"),
        ConfigType::Int,
        "Largest transaction timeout a producer may request.",
    ),
    fixed(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        Some("10000"),
        ConfigType::Int,
        "How often timed-out transactions are rolled back.",
    ),
    fixed(
        "transaction.remove.expired.transaction.cleanup.interval.ms",
        Some("3600000"),
        ConfigType::Int,
        "How often expired transactional ids are purged.",
    ),
    fixed(
        "transaction.two.phase.commit.enable",
        Some("false"),
        ConfigType::Boolean,
        "Whether producers may use two-phase commit with external coordinators.",
    ),
    // Controller quorum (Raft).
    fixed(
        "controller.quorum.voters",
        Some(""),
        ConfigType::List,
        "Static list of controller voters as id@host:port; superseded by bootstrap servers.",
    ),
    fixed(
        "controller.quorum.bootstrap.servers",
        Some(""),
        ConfigType::List,
        "host:port list used to discover the controller quorum.",
    ),
    fixed(
        "controller.quorum.election.timeout.ms",
        Some("1000"),
        ConfigType::Int,
        "Time without a leader before a voter starts an election.",
    ),
    fixed(
        "controller.quorum.fetch.timeout.ms",
        Some("2000"),
        ConfigType::Int,
        "Time without a successful fetch before a voter suspects the leader.",
    ),
    fixed(
        "controller.quorum.election.backoff.max.ms",
        Some("1000"),
        ConfigType::Int,
        "Longest backoff before a new election is started.",
    ),
    fixed(
        "controller.quorum.append.linger.ms",
        Some("25"),
        ConfigType::Int,
        "How long the quorum leader waits to batch metadata writes.",
    ),
    fixed(
        "controller.quorum.request.timeout.ms",
        Some("2000"),
        ConfigType::Int,
        "Timeout for requests sent within the controller quorum.",
    ),
    fixed(
        "controller.quorum.retry.backoff.ms",
        Some("20"),
        ConfigType::Int,
        "Pause before retrying a failed quorum request.",
    ),
    // Metrics.
    fixed(
        "metrics.num.samples",
        Some("2"),
        ConfigType::Int,
        "Samples kept to compute metrics.",
    ),
    fixed(
        "metrics.sample.window.ms",
        Some("30000"),
        ConfigType::Long,
        "Length of a metrics sample window.",
    ),
    dynamic(
        "metric.reporters",
        Some("org.apache.kafka.common.metrics.JmxReporter"),
        ConfigType::List,
        "Classes that receive broker metrics.",
    ),
    fixed(
        "metrics.recording.level",
        Some("INFO"),
        ConfigType::String,
        "Highest recording level of metrics that are collected.",
    ),
    fixed(
        "kafka.metrics.reporters",
        Some(""),
        ConfigType::List,
        "Legacy Yammer metrics reporter classes.",
    ),
    fixed(
        "kafka.metrics.polling.interval.secs",
        Some("10"),
        ConfigType::Int,
        "Polling interval for the legacy metrics reporters.",
    ),
    fixed(
        "telemetry.max.bytes",
        Some("1048576"),
        ConfigType::Int,
        "Largest client telemetry payload accepted.",
    ),
    // Quotas.
    fixed(
        "quota.window.num",
        Some("11"),
        ConfigType::Int,
        "Samples kept for client quotas.",
    ),
    fixed(
        "replication.quota.window.num",
        Some("11"),
        ConfigType::Int,
        "Samples kept for replication quotas.",
    ),
    fixed(
        "alter.log.dirs.replication.quota.window.num",
        Some("11"),
        ConfigType::Int,
        "Samples kept for alter-log-dirs replication quotas.",
    ),
    fixed(
        "controller.quota.window.num",
        Some("11"),
        ConfigType::Int,
        "Samples kept for controller mutation quotas.",
    ),
    fixed(
        "quota.window.size.seconds",
        Some("1"),
        ConfigType::Int,
        "Length of each client quota sample.",
    ),
    fixed(
        "replication.quota.window.size.seconds",
        Some("1"),
        ConfigType::Int,
        "Length of each replication quota sample.",
    ),
    fixed(
        "alter.log.dirs.replication.quota.window.size.seconds",
        Some("1"),
        ConfigType::Int,
        "Length of each alter-log-dirs quota sample.",
    ),
    fixed(
        "controller.quota.window.size.seconds",
        Some("1"),
        ConfigType::Int,
        "Length of each controller mutation quota sample.",
    ),
    fixed(
        "client.quota.callback.class",
        None,
        ConfigType::Class,
        "Plugin that computes client quotas instead of the built-in logic.",
    ),
    // Security: TLS, SASL and OAuth.
    fixed(
        "connections.max.reauth.ms",
        Some("0"),
        ConfigType::Long,
        "Longest session lifetime before a SASL client must re-authenticate; 0 disables it.",
    ),
    fixed(
        "sasl.server.max.receive.size",
        Some("524288"),
        ConfigType::Int,
        "Largest SASL packet accepted before authentication completes.",
    ),
    fixed(
        "security.providers",
        None,
        ConfigType::String,
        "Security provider creator classes to register.",
    ),
    dynamic(
        "principal.builder.class",
        Some("org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder"),
        ConfigType::Class,
        "Class that builds the principal for an authenticated connection.",
    ),
    dynamic(
        "ssl.client.auth",
        Some("none"),
        ConfigType::String,
        "Whether TLS clients must present a certificate: required, requested, or none.",
    ),
    fixed(
        "ssl.principal.mapping.rules",
        Some("DEFAULT"),
        ConfigType::String,
        "Rules mapping certificate subject names to short principal names.",
    ),
    fixed(
        "ssl.allow.dn.changes",
        Some("false"),
        ConfigType::Boolean,
        "Whether a reloaded keystore may change the certificate's distinguished name.",
    ),
    fixed(
        "ssl.allow.san.changes",
        Some("false"),
        ConfigType::Boolean,
        "Whether a reloaded keystore may change the certificate's subject alternative names.",
    ),
    dynamic(
        "ssl.protocol",
        Some("TLSv1.3"),
        ConfigType::String,
        "TLS protocol used to create the SSL context.",
    ),
    dynamic(
        "ssl.provider",
        None,
        ConfigType::String,
        "Security provider for TLS; unset uses the JVM default.",
    ),
    dynamic(
        "ssl.enabled.protocols",
        Some("TLSv1.2,TLSv1.3"),
        ConfigType::List,
        "TLS protocol versions allowed on connections.",
    ),
    dynamic(
        "ssl.keystore.type",
        Some("JKS"),
        ConfigType::String,
        "Format of the key store file.",
    ),
    dynamic(
        "ssl.keystore.location",
        None,
        ConfigType::String,
        "Path of the key store file.",
    ),
    dynamic(
        "ssl.keystore.password",
        None,
        ConfigType::Password,
        "Password of the key store.",
    ),
    dynamic(
        "ssl.key.password",
        None,
        ConfigType::Password,
        "Password of the private key in the key store.",
    ),
    dynamic(
        "ssl.keystore.key",
        None,
        ConfigType::Password,
        "Private key given inline in PEM form.",
    ),
    dynamic(
        "ssl.keystore.certificate.chain",
        None,
        ConfigType::Password,
        "Certificate chain given inline in PEM form.",
    ),
    dynamic(
        "ssl.truststore.type",
        Some("JKS"),
        ConfigType::String,
        "Format of the trust store file.",
    ),
    dynamic(
        "ssl.truststore.location",
        None,
        ConfigType::String,
        "Path of the trust store file.",
    ),
    dynamic(
        "ssl.truststore.password",
        None,
        ConfigType::Password,
        "Password of the trust store.",
    ),
    dynamic(
        "ssl.truststore.certificates",
        None,
        ConfigType::Password,
        "Trusted certificates given inline in PEM form.",
    ),
    dynamic(
        "ssl.keymanager.algorithm",
        Some("SunX509"),
        ConfigType::String,
        "Key manager factory algorithm for TLS.",
    ),
    dynamic(
        "ssl.trustmanager.algorithm",
        Some("PKIX"),
        ConfigType::String,
        "Trust manager factory algorithm for TLS.",
    ),
    dynamic(
        "ssl.endpoint.identification.algorithm",
        Some("https"),
        ConfigType::String,
        "Algorithm used to check the peer's host name against its certificate.",
    ),
    dynamic(
        "ssl.secure.random.implementation",
        None,
        ConfigType::String,
        "SecureRandom implementation for TLS.",
    ),
    dynamic(
        "ssl.cipher.suites",
        Some(""),
        ConfigType::List,
        "Cipher suites allowed on TLS connections; empty means all supported.",
    ),
    dynamic(
        "ssl.engine.factory.class",
        None,
        ConfigType::Class,
        "Custom factory for SSLEngine instances.",
    ),
    dynamic(
        "sasl.mechanism.inter.broker.protocol",
        Some("GSSAPI"),
        ConfigType::String,
        "SASL mechanism brokers use with each other.",
    ),
    dynamic(
        "sasl.enabled.mechanisms",
        Some("GSSAPI"),
        ConfigType::List,
        "SASL mechanisms the broker offers to clients.",
    ),
    fixed(
        "sasl.server.callback.handler.class",
        None,
        ConfigType::Class,
        "Server-side SASL callback handler class.",
    ),
    dynamic(
        "sasl.kerberos.principal.to.local.rules",
        Some("DEFAULT"),
        ConfigType::List,
        "Rules mapping Kerberos principals to short names.",
    ),
    dynamic(
        "sasl.jaas.config",
        None,
        ConfigType::Password,
        "Inline JAAS login configuration.",
    ),
    fixed(
        "sasl.client.callback.handler.class",
        None,
        ConfigType::Class,
        "Client-side SASL callback handler class.",
    ),
    fixed(
        "sasl.login.class",
        None,
        ConfigType::Class,
        "Class implementing the SASL login module.",
    ),
    fixed(
        "sasl.login.callback.handler.class",
        None,
        ConfigType::Class,
        "Callback handler used by the SASL login module.",
    ),
    dynamic(
        "sasl.kerberos.service.name",
        None,
        ConfigType::String,
        "Kerberos service name the broker runs as.",
    ),
    dynamic(
        "sasl.kerberos.kinit.cmd",
        Some("/usr/bin/kinit"),
        ConfigType::String,
        "Path of the kinit command.",
    ),
    dynamic(
        "sasl.kerberos.ticket.renew.window.factor",
        Some("0.8"),
        ConfigType::Double,
        "Fraction of a Kerberos ticket's lifetime after which renewal is attempted.",
    ),
    dynamic(
        "sasl.kerberos.ticket.renew.jitter",
        Some("0.05"),
        ConfigType::Double,
        "Random jitter added to the Kerberos renewal time.",
    ),
    dynamic(
        "sasl.kerberos.min.time.before.relogin",
        Some("60000"),
        ConfigType::Long,
        "Least time between Kerberos re-login attempts.",
    ),
    dynamic(
        "sasl.login.refresh.window.factor",
        Some("0.8"),
        ConfigType::Double,
        "Fraction of a login credential's lifetime after which it is refreshed.",
    ),
    dynamic(
        "sasl.login.refresh.window.jitter",
        Some("0.05"),
        ConfigType::Double,
        "Random jitter added to the credential refresh time.",
    ),
    dynamic(
        "sasl.login.refresh.min.period.seconds",
        Some("60"),
        ConfigType::Short,
        "Least time between credential refreshes.",
    ),
    dynamic(
        "sasl.login.refresh.buffer.seconds",
        Some("300"),
        ConfigType::Short,
        "Time before credential expiry at which a refresh is forced.",
    ),
    fixed(
        "sasl.login.connect.timeout.ms",
        None,
        ConfigType::Int,
        "Connect timeout for an external OAuth login endpoint.",
    ),
    fixed(
        "sasl.login.read.timeout.ms",
        None,
        ConfigType::Int,
        "Read timeout for an external OAuth login endpoint.",
    ),
    fixed(
        "sasl.login.retry.backoff.max.ms",
        Some("10000"),
        ConfigType::Long,
        "Longest backoff between retries to the OAuth login endpoint.",
    ),
    fixed(
        "sasl.login.retry.backoff.ms",
        Some("100"),
        ConfigType::Long,
        "Initial backoff between retries to the OAuth login endpoint.",
    ),
    fixed(
        "sasl.oauthbearer.jwt.retriever.class",
        Some("org.apache.kafka.common.security.oauthbearer.DefaultJwtRetriever"),
        ConfigType::Class,
        "Class that obtains JWTs for OAUTHBEARER logins.",
    ),
    fixed(
        "sasl.oauthbearer.jwt.validator.class",
        Some("org.apache.kafka.common.security.oauthbearer.DefaultJwtValidator"),
        ConfigType::Class,
        "Class that validates JWTs for OAUTHBEARER.",
    ),
    fixed(
        "sasl.oauthbearer.scope",
        None,
        ConfigType::String,
        "Scope requested when fetching an OAuth token.",
    ),
    fixed(
        "sasl.oauthbearer.client.credentials.client.id",
        None,
        ConfigType::String,
        "Client id for the OAuth client-credentials grant.",
    ),
    fixed(
        "sasl.oauthbearer.client.credentials.client.secret",
        None,
        ConfigType::Password,
        "Client secret for the OAuth client-credentials grant.",
    ),
    fixed(
        "sasl.oauthbearer.assertion.algorithm",
        Some("RS256"),
        ConfigType::String,
        "Signing algorithm for self-made JWT client assertions.",
    ),
    fixed(
        "sasl.oauthbearer.assertion.claim.aud",
        None,
        ConfigType::String,
        "aud claim placed in JWT client assertions.",
    ),
    fixed(
        "sasl.oauthbearer.assertion.claim.exp.seconds",
        Some("300"),
        ConfigType::Int,
        "Lifetime given to JWT client assertions.",
    ),
    fixed(
        "sasl.oauthbearer.assertion.claim.iss",
        None,
        ConfigType::String,
        "iss claim placed in JWT client assertions.",
    ),
    fixed(
        "sasl.oauthbearer.assertion.claim.jti.include",
        Some("false"),
        ConfigType::Boolean,
        "Whether JWT client assertions carry a unique jti claim.",
    ),
    fixed(
        "sasl.oauthbearer.assertion.claim.nbf.seconds",
        Some("60"),
        ConfigType::Int,
        "How far back the nbf claim of a JWT client assertion is set.",
    ),
    fixed(
        "sasl.oauthbearer.assertion.claim.sub",
        None,
        ConfigType::String,
        "sub claim placed in JWT client assertions.",
    ),
    fixed(
        "sasl.oauthbearer.assertion.file",
        None,
        ConfigType::String,
        "File holding a ready-made JWT client assertion.",
    ),
    fixed(
        "sasl.oauthbearer.assertion.private.key.file",
        None,
        ConfigType::String,
        "Private key file used to sign JWT client assertions.",
    ),
    fixed(
        "sasl.oauthbearer.assertion.private.key.passphrase",
        None,
        ConfigType::Password,
        "Passphrase of the assertion signing key.",
    ),
    fixed(
        "sasl.oauthbearer.assertion.template.file",
        None,
        ConfigType::String,
        "Template file with extra JWT assertion header and claims.",
    ),
    fixed(
        "sasl.oauthbearer.scope.claim.name",
        Some("scope"),
        ConfigType::String,
        "JWT claim holding the token's scopes.",
    ),
    fixed(
        "sasl.oauthbearer.sub.claim.name",
        Some("sub"),
        ConfigType::String,
        "JWT claim holding the token's subject.",
    ),
    fixed(
        "sasl.oauthbearer.token.endpoint.url",
        None,
        ConfigType::String,
        "OAuth token endpoint URL, or a file URL with a token.",
    ),
    fixed(
        "sasl.oauthbearer.jwks.endpoint.url",
        None,
        ConfigType::String,
        "URL of the JWKS used to verify token signatures.",
    ),
    fixed(
        "sasl.oauthbearer.jwks.endpoint.refresh.ms",
        Some("3600000"),
        ConfigType::Long,
        "How often the JWKS is refreshed.",
    ),
    fixed(
        "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms",
        Some("100"),
        ConfigType::Long,
        "Initial backoff between JWKS fetch retries.",
    ),
    fixed(
        "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
        Some("10000"),
        ConfigType::Long,
        "Longest backoff between JWKS fetch retries.",
    ),
    fixed(
        "sasl.oauthbearer.clock.skew.seconds",
        Some("30"),
        ConfigType::Int,
        "Clock skew tolerated when checking token times.",
    ),
    fixed(
        "sasl.oauthbearer.expected.audience",
        None,
        ConfigType::List,
        "Audiences a token must name to be accepted.",
    ),
    fixed(
        "sasl.oauthbearer.expected.issuer",
        None,
        ConfigType::String,
        "Issuer a token must name to be accepted.",
    ),
    // Delegation tokens.
    fixed(
        "delegation.token.secret.key",
        None,
        ConfigType::Password,
        "Secret used to sign delegation tokens; unset disables them.",
    ),
    fixed(
        "delegation.token.max.lifetime.ms",
        Some("604800000"),
        ConfigType::Long,
        "Longest lifetime a delegation token can be renewed to.",
    ),
    fixed(
        "delegation.token.expiry.time.ms",
        Some("86400000"),
        ConfigType::Long,
        "Validity period after which a token must be renewed.",
    ),
    fixed(
        "delegation.token.expiry.check.interval.ms",
        Some("3600000"),
        ConfigType::Long,
        "How often expired delegation tokens are removed.",
    ),
    // Transaction partition verification.
    fixed(
        "add.partitions.to.txn.retry.backoff.max.ms",
        Some("100"),
        ConfigType::Int,
        "Longest retry backoff when adding partitions to a transaction.",
    ),
    fixed(
        "add.partitions.to.txn.retry.backoff.ms",
        Some("20"),
        ConfigType::Int,
        "Initial retry backoff when adding partitions to a transaction.",
    ),
    // Authorizer-owned. Not part of the broker ConfigDef, so Kafka reports it (when set) with
    // config type UNKNOWN and, by its own rule for unknown types, as sensitive.
    fixed(
        "super.users",
        None,
        ConfigType::Unknown,
        "Semicolon-separated principals that bypass ACL checks.",
    ),
    fixed(
        "allow.everyone.if.no.acl.found",
        None,
        ConfigType::Unknown,
        "Whether a resource with no ACLs is open to every principal (default false).",
    ),
];

/// Looks up a topic-level config by its exact name.
pub fn topic_config(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|def| def.name == name)
}

/// Looks up a broker-level config by its exact name.
pub fn broker_config(name: &str) -> Option<&'static BrokerConfigDef> {
    BROKER_CONFIGS.iter().find(|def| def.name == name)
}

/// Validate a topic config value as Kafka would on CreateTopics/AlterConfigs; Err carries a
/// message in Kafka's style, e.g.
/// "Invalid value abc for configuration retention.ms: Not a number of type LONG".
pub fn validate_topic_value(name: &str, value: &str) -> Result<(), String> {
    validate_topic_value_as(name, name, value)
}

/// The same check, with the message naming `shown` instead: a broker-wide default such as
/// `log.segment.bytes` is validated by its topic config's rules, but the operator wrote the
/// broker name, so that is the name the message must carry.
pub fn validate_topic_value_as(name: &str, shown: &str, value: &str) -> Result<(), String> {
    let def = topic_config(name).ok_or_else(|| unknown_topic_config(name))?;
    let parsed = parse_value(def, shown, value)?;
    check_value(def, shown, &parsed)
}

/// Kafka's answer to an unknown topic config name, plus a hint when the name is the broker-wide
/// default of a topic config (`log.retention.ms` for `retention.ms`) or a setting Kafka removed.
/// The Kafka text comes first and unchanged, so anything matching on it still matches.
pub fn unknown_topic_config(name: &str) -> String {
    let base = format!("Unknown topic config name: {name}");
    if let Some(def) = TOPIC_CONFIGS
        .iter()
        .find(|d| d.broker_synonyms.contains(&name))
    {
        return format!(
            "{base} (the topic-level setting is {}; {name} is its broker-wide default)",
            def.name
        );
    }
    match super::classify::removal(name) {
        Some(r) => format!("{base} (removed in Apache Kafka {}: {})", r.since, r.why),
        None => base,
    }
}

/// A value after `ConfigDef.parseType`-style parsing.
enum Parsed<'a> {
    Bool,
    Integer(i64),
    Double(f64),
    Text(&'a str),
    List(Vec<&'a str>),
}

fn invalid(name: &str, shown: impl std::fmt::Display, reason: &str) -> String {
    format!("Invalid value {shown} for configuration {name}: {reason}")
}

/// Java's `String.trim`: strips every leading and trailing char at or below U+0020.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Kafka's type names as they appear in its "Not a number of type ..." messages.
fn type_label(config_type: ConfigType) -> &'static str {
    match config_type {
        ConfigType::Unknown => "UNKNOWN",
        ConfigType::Boolean => "BOOLEAN",
        ConfigType::String => "STRING",
        ConfigType::Int => "INT",
        ConfigType::Short => "SHORT",
        ConfigType::Long => "LONG",
        ConfigType::Double => "DOUBLE",
        ConfigType::List => "LIST",
        ConfigType::Class => "CLASS",
        ConfigType::Password => "PASSWORD",
    }
}

fn parse_value<'a>(def: &TopicConfigDef, shown: &str, raw: &'a str) -> Result<Parsed<'a>, String> {
    let trimmed = java_trim(raw);
    let not_a_number = || {
        invalid(
            shown,
            raw,
            &format!("Not a number of type {}", type_label(def.config_type)),
        )
    };
    Ok(match def.config_type {
        ConfigType::Boolean => {
            if trimmed.eq_ignore_ascii_case("true") || trimmed.eq_ignore_ascii_case("false") {
                Parsed::Bool
            } else {
                return Err(invalid(
                    shown,
                    raw,
                    "Expected value to be either true or false",
                ));
            }
        }
        ConfigType::Int => {
            Parsed::Integer(trimmed.parse::<i32>().map_err(|_| not_a_number())?.into())
        }
        ConfigType::Short => {
            Parsed::Integer(trimmed.parse::<i16>().map_err(|_| not_a_number())?.into())
        }
        ConfigType::Long => Parsed::Integer(trimmed.parse::<i64>().map_err(|_| not_a_number())?),
        ConfigType::Double => Parsed::Double(parse_java_double(trimmed).ok_or_else(not_a_number)?),
        ConfigType::List => {
            if trimmed.is_empty() {
                Parsed::List(Vec::new())
            } else {
                // Kafka splits on the regex `\s*,\s*`; the ends are already trimmed.
                Parsed::List(trimmed.split(',').map(str::trim).collect())
            }
        }
        ConfigType::String | ConfigType::Class | ConfigType::Password | ConfigType::Unknown => {
            Parsed::Text(trimmed)
        }
    })
}

/// Parses a double the way `Double.parseDouble` does for decimal input: an optional sign,
/// `NaN`, `Infinity`, or a decimal literal with an optional exponent and `f`/`d` suffix.
/// Rust-only spellings such as `inf` or `nan` are rejected. Hex literals are not supported.
fn parse_java_double(s: &str) -> Option<f64> {
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = match unsigned {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        _ => {
            let body = unsigned
                .strip_suffix(['f', 'F', 'd', 'D'])
                .unwrap_or(unsigned);
            let starts_ok = body
                .as_bytes()
                .first()
                .is_some_and(|b| b.is_ascii_digit() || *b == b'.');
            let chars_ok = body
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
            if !starts_ok || !chars_ok {
                return None;
            }
            body.parse::<f64>().ok()?
        }
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Renders a double like Java's `Double.toString` (e.g. `2.0`, `1.0E-5`, `NaN`).
fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let magnitude = v.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let plain = format!("{v}");
        return if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        };
    }
    let sci = format!("{v:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    if mantissa.contains('.') {
        format!("{mantissa}E{exponent}")
    } else {
        format!("{mantissa}.0E{exponent}")
    }
}

/// Renders a range bound the way Kafka prints the `Number` it was given
/// (the bounds in `LogConfig` are integers, so `between(0, 1)` prints as `0` and `1`).
fn bound(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        java_double(v)
    }
}

fn check_range(name: &str, n: i64, min: i64, max: Option<i64>) -> Result<(), String> {
    if n < min {
        return Err(invalid(name, n, &format!("Value must be at least {min}")));
    }
    match max {
        Some(max) if n > max => Err(invalid(
            name,
            n,
            &format!("Value must be no more than {max}"),
        )),
        _ => Ok(()),
    }
}

fn check_one_of(name: &str, item: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&item) {
        Ok(())
    } else {
        Err(invalid(
            name,
            item,
            &format!("String must be one of: {}", allowed.join(", ")),
        ))
    }
}

fn is_replica_pair(item: &str) -> bool {
    // Matches the Java regex `([0-9]+:[0-9]+)?` against the whole item.
    item.is_empty()
        || item.split_once(':').is_some_and(|(partition, broker)| {
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            digits(partition) && digits(broker)
        })
}

fn check_value(def: &TopicConfigDef, name: &str, parsed: &Parsed<'_>) -> Result<(), String> {
    match (def.validator, parsed) {
        (Validator::IntAtLeast(min) | Validator::LongAtLeast(min), Parsed::Integer(n)) => {
            check_range(name, *n, min, None)
        }
        (Validator::IntBetween(min, max), Parsed::Integer(n)) => {
            check_range(name, *n, min, Some(max))
        }
        (Validator::IntBetweenOr(min, max, other), Parsed::Integer(n)) => {
            if *n > max || (*n < min && *n != other) {
                Err(invalid(
                    name,
                    n,
                    &format!("Value must be between {min} and {max} or equal to {other}"),
                ))
            } else {
                Ok(())
            }
        }
        (Validator::DoubleBetween(min, max), Parsed::Double(v)) => {
            // Comparisons are false for NaN, so Kafka lets NaN through; so do we.
            if *v < min {
                Err(invalid(
                    name,
                    java_double(*v),
                    &format!("Value must be at least {}", bound(min)),
                ))
            } else if *v > max {
                Err(invalid(
                    name,
                    java_double(*v),
                    &format!("Value must be no more than {}", bound(max)),
                ))
            } else {
                Ok(())
            }
        }
        (Validator::OneOf(allowed), Parsed::Text(s)) => check_one_of(name, s, allowed),
        (Validator::ListOf(allowed), Parsed::List(items)) => items
            .iter()
            .try_for_each(|item| check_one_of(name, item, allowed)),
        (Validator::ThrottledReplicas, Parsed::List(items)) => {
            if items.iter().all(|item| is_replica_pair(item)) || items.concat() == "*" {
                Ok(())
            } else {
                Err(invalid(
                    name,
                    format!("[{}]", items.join(", ")),
                    &format!(
                        "{name} must be the literal '*' or a list of replicas in the following \
                         format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."
                    ),
                ))
            }
        }
        // The type check done while parsing is the whole constraint.
        (Validator::Any | Validator::Bool, _) => Ok(()),
        // A validator that does not fit the value's type is a catalogue bug, not bad input.
        _ => Err(format!(
            "Internal error: validator {:?} does not apply to configuration {name} of type {}",
            def.validator,
            type_label(def.config_type)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn lookups_find_known_names_only() {
        let retention = topic_config("retention.ms").expect("retention.ms");
        assert_eq!(retention.config_type, ConfigType::Long);
        assert_eq!(retention.default, Some("604800000"));
        assert!(topic_config("log.retention.ms").is_none());
        assert!(topic_config("message.format.version").is_none());

        let hours = broker_config("log.retention.hours").expect("log.retention.hours");
        assert_eq!(hours.default, Some("168"));
        assert_eq!(hours.config_type, ConfigType::Int);
        assert!(hours.read_only);
        assert!(!broker_config("log.retention.ms").unwrap().read_only);
        assert!(broker_config("ssl.keystore.password").unwrap().sensitive);
        assert!(!broker_config("ssl.keystore.location").unwrap().sensitive);
        assert!(broker_config("retention.ms").is_none());
    }

    #[test]
    fn retention_ms_synonyms_in_priority_order() {
        let def = topic_config("retention.ms").unwrap();
        assert_eq!(
            def.broker_synonyms,
            [
                "log.retention.ms",
                "log.retention.minutes",
                "log.retention.hours"
            ]
        );
        assert_eq!(
            topic_config("segment.ms").unwrap().broker_synonyms,
            ["log.roll.ms", "log.roll.hours"]
        );
        assert!(topic_config("remote.storage.enable")
            .unwrap()
            .broker_synonyms
            .is_empty());
    }

    #[test]
    fn every_topic_synonym_is_a_broker_config() {
        for def in TOPIC_CONFIGS {
            for synonym in def.broker_synonyms {
                assert!(
                    broker_config(synonym).is_some(),
                    "{} -> {synonym} missing from BROKER_CONFIGS",
                    def.name
                );
            }
        }
    }

    #[test]
    fn primary_synonyms_are_dynamic_broker_configs() {
        // Kafka makes the first broker synonym of every topic config dynamically updatable.
        for def in TOPIC_CONFIGS {
            if let Some(first) = def.broker_synonyms.first() {
                assert!(!broker_config(first).unwrap().read_only, "{first}");
            }
        }
    }

    #[test]
    fn stock_server_properties_keys_are_known() {
        let keys = [
            "process.roles",
            "node.id",
            "controller.quorum.bootstrap.servers",
            "listeners",
            "inter.broker.listener.name",
            "advertised.listeners",
            "controller.listener.names",
            "listener.security.protocol.map",
            "num.network.threads",
            "num.io.threads",
            "socket.send.buffer.bytes",
            "socket.receive.buffer.bytes",
            "socket.request.max.bytes",
            "log.dirs",
            "num.partitions",
            "num.recovery.threads.per.data.dir",
            "offsets.topic.replication.factor",
            "share.coordinator.state.topic.replication.factor",
            "share.coordinator.state.topic.min.isr",
            "transaction.state.log.replication.factor",
            "transaction.state.log.min.isr",
            "log.retention.hours",
            "log.segment.bytes",
            "log.retention.check.interval.ms",
        ];
        for key in keys {
            assert!(broker_config(key).is_some(), "{key}");
        }
    }

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for def in TOPIC_CONFIGS {
            assert!(seen.insert(def.name), "duplicate topic config {}", def.name);
        }
        let mut seen = HashSet::new();
        for def in BROKER_CONFIGS {
            assert!(
                seen.insert(def.name),
                "duplicate broker config {}",
                def.name
            );
        }
    }

    #[test]
    fn every_topic_default_passes_its_own_validator() {
        for def in TOPIC_CONFIGS {
            let default = def.default.expect("topic configs all have defaults");
            assert_eq!(
                validate_topic_value(def.name, default),
                Ok(()),
                "{}",
                def.name
            );
        }
    }

    #[test]
    fn docs_are_short_sentences() {
        let docs = TOPIC_CONFIGS
            .iter()
            .map(|d| (d.name, d.doc))
            .chain(BROKER_CONFIGS.iter().map(|d| (d.name, d.doc)));
        for (name, doc) in docs {
            assert!(doc.ends_with('.') && doc.len() < 120, "{name}: {doc}");
        }
    }

    fn rejection(name: &str, value: &str) -> String {
        validate_topic_value(name, value).expect_err("value should be rejected")
    }

    #[test]
    fn rejects_bad_values_with_kafka_messages() {
        assert_eq!(
            rejection("retention.ms", "abc"),
            "Invalid value abc for configuration retention.ms: Not a number of type LONG"
        );
        assert_eq!(
            rejection("retention.ms", "-2"),
            "Invalid value -2 for configuration retention.ms: Value must be at least -1"
        );
        assert_eq!(
            rejection("segment.bytes", "1000"),
            "Invalid value 1000 for configuration segment.bytes: Value must be at least 1048576"
        );
        assert_eq!(
            rejection("max.message.bytes", "3000000000"),
            "Invalid value 3000000000 for configuration max.message.bytes: \
             Not a number of type INT"
        );
        assert_eq!(
            rejection("cleanup.policy", "delete,purge"),
            "Invalid value purge for configuration cleanup.policy: \
             String must be one of: compact, delete"
        );
        assert_eq!(
            rejection("compression.type", "GZIP"),
            "Invalid value GZIP for configuration compression.type: \
             String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"
        );
        assert_eq!(
            rejection("preallocate", "yes"),
            "Invalid value yes for configuration preallocate: \
             Expected value to be either true or false"
        );
        assert_eq!(
            rejection("min.cleanable.dirty.ratio", "2"),
            "Invalid value 2.0 for configuration min.cleanable.dirty.ratio: \
             Value must be no more than 1"
        );
        assert_eq!(
            rejection("compression.gzip.level", "0"),
            "Invalid value 0 for configuration compression.gzip.level: \
             Value must be between 1 and 9 or equal to -1"
        );
        assert_eq!(
            rejection("compression.lz4.level", "18"),
            "Invalid value 18 for configuration compression.lz4.level: \
             Value must be no more than 17"
        );
        assert_eq!(
            rejection("leader.replication.throttled.replicas", "0:1,x"),
            "Invalid value [0:1, x] for configuration leader.replication.throttled.replicas: \
             leader.replication.throttled.replicas must be the literal '*' or a list of replicas \
             in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."
        );
        assert_eq!(
            rejection("min.cleanable.dirty.ratio", "inf"),
            "Invalid value inf for configuration min.cleanable.dirty.ratio: \
             Not a number of type DOUBLE"
        );
        assert_eq!(
            rejection("no.such.config", "1"),
            "Unknown topic config name: no.such.config"
        );
    }

    #[test]
    fn accepts_good_values() {
        let good = [
            ("retention.ms", "-1"),
            ("retention.ms", " 86400000 "),
            ("retention.bytes", "-5"),
            ("cleanup.policy", "compact, delete"),
            ("cleanup.policy", ""),
            ("compression.type", "zstd"),
            ("compression.gzip.level", "-1"),
            ("compression.gzip.level", "9"),
            ("compression.zstd.level", "-131072"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("min.cleanable.dirty.ratio", "1e-1"),
            ("unclean.leader.election.enable", "TRUE"),
            ("message.timestamp.type", "LogAppendTime"),
            ("leader.replication.throttled.replicas", "*"),
            ("follower.replication.throttled.replicas", "0:1, 1:2"),
            ("max.message.bytes", "+2097152"),
        ];
        for (name, value) in good {
            assert_eq!(validate_topic_value(name, value), Ok(()), "{name}={value}");
        }
    }

    #[test]
    fn java_number_rendering() {
        assert_eq!(java_double(2.0), "2.0");
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(1e-5), "1.0E-5");
        assert_eq!(java_double(f64::MAX), "1.7976931348623157E308");
        assert_eq!(parse_java_double("1.5d"), Some(1.5));
        assert_eq!(parse_java_double("nan"), None);
        assert!(parse_java_double("NaN").unwrap().is_nan());
        assert_eq!(bound(1.0), "1");
    }
}
