//! Sorting supplied setting names into the ones Weir uses and the ones it only reports.
//!
//! Kafka does not stop on a name it does not know: it starts and lists, once, the settings that
//! "were supplied but are not used" (`AbstractConfig.logUnused`). Real `server.properties` files
//! carry plenty of those (metric reporter and vendor settings, leftovers of older Kafka versions),
//! so Weir does the same, and says more where it can: which Kafka version removed a setting, and
//! which broker setting a topic-level name given to the broker stands for.

use std::collections::BTreeMap;

use super::catalog;

/// Why a supplied name is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// A setting Weir reads, or knows by name and deliberately ignores (thread counts, ...).
    Known,
    /// A setting Apache Kafka had and removed.
    Removed(&'static Removal),
    /// A topic-level setting given as a broker setting; `broker_default` is the broker setting
    /// that supplies its default, if Kafka has one (the first of `broker_synonyms`).
    TopicLevel {
        broker_default: Option<&'static str>,
    },
    /// Not a Kafka 4.x broker setting: a plugin's (metric reporters, authorizers from vendors),
    /// a vendor's (`confluent.*`) or a typo.
    Unknown,
}

/// A group of settings removed from Kafka in one version for one reason.
#[derive(Debug, PartialEq, Eq)]
pub struct Removal {
    /// The Kafka version whose broker no longer defines them.
    pub since: &'static str,
    pub why: &'static str,
    names: &'static [&'static str],
    /// Every name under this prefix belongs to the group (`zookeeper.`).
    prefix: Option<&'static str>,
}

/// Broker and topic settings that Kafka 3.9 documents and Kafka 4.0 / 4.1 no longer define
/// (checked against `KafkaConfig.configDef()` and `LogConfig.configNames()` of the 3.9 docs and
/// the 4.0.1, 4.1.0 and 4.2.1 jars, internal settings included).
static REMOVALS: &[Removal] = &[
    Removal {
        since: "4.0",
        why: "ZooKeeper mode is gone, Kafka 4 runs in KRaft mode only, see KIP-833",
        names: &[
            "broker.id.generation.enable",
            "reserved.broker.max.id",
            "control.plane.listener.name",
            "controlled.shutdown.max.retries",
            "controlled.shutdown.retry.backoff.ms",
            "leader.imbalance.per.broker.percentage",
            "password.encoder.secret",
            "password.encoder.old.secret",
            "password.encoder.keyfactory.algorithm",
            "password.encoder.cipher.algorithm",
            "password.encoder.key.length",
            "password.encoder.iterations",
        ],
        prefix: Some("zookeeper."),
    },
    Removal {
        since: "4.0",
        why: "the metadata.version feature, set with kafka-features.sh, decides the protocol level",
        names: &["inter.broker.protocol.version"],
        prefix: None,
    },
    Removal {
        since: "4.0",
        why: "the v0 and v1 message formats and down-conversion are gone, see KIP-724 and KIP-896",
        names: &[
            "log.message.format.version",
            "message.format.version",
            "log.message.downconversion.enable",
            "message.downconversion.enable",
        ],
        prefix: None,
    },
    Removal {
        since: "4.0",
        why: "replaced by log.message.timestamp.before.max.ms and \
              log.message.timestamp.after.max.ms, see KIP-937",
        names: &[
            "log.message.timestamp.difference.max.ms",
            "message.timestamp.difference.max.ms",
        ],
        prefix: None,
    },
    Removal {
        since: "4.0",
        why: "replaced by delegation.token.secret.key",
        names: &["delegation.token.master.key"],
        prefix: None,
    },
    Removal {
        since: "4.0",
        why: "the JMX reporter is listed in metric.reporters instead, see KIP-830",
        names: &["auto.include.jmx.reporter"],
        prefix: None,
    },
    Removal {
        since: "4.0",
        why: "offset commits are always written with acks=all, see KIP-1041",
        names: &["offsets.commit.required.acks"],
        prefix: None,
    },
    Removal {
        since: "4.0",
        why: "replaced by the eligible.leader.replicas.version feature",
        names: &["eligible.leader.replicas.enable"],
        prefix: None,
    },
    Removal {
        since: "4.1",
        why: "the new group coordinator is always on",
        names: &["group.coordinator.new.enable"],
        prefix: None,
    },
    Removal {
        since: "4.1",
        why: "share group settings were reworked when share groups left early access",
        names: &["group.share.max.groups", "share.fetch.max.fetch.records"],
        prefix: None,
    },
    Removal {
        since: "4.1",
        why: "an internal testing setting",
        names: &["metadata.log.segment.min.bytes"],
        prefix: None,
    },
];

/// The removal that covers `name`, if Kafka removed it.
pub fn removal(name: &str) -> Option<&'static Removal> {
    REMOVALS
        .iter()
        .find(|r| r.names.contains(&name) || r.prefix.is_some_and(|p| name.starts_with(p)))
}

/// What `name`, given as a broker setting, is.
pub fn classify(name: &str) -> Class {
    if super::config_type(name).is_some() {
        return Class::Known;
    }
    if let Some(r) = removal(name) {
        return Class::Removed(r);
    }
    if let Some(def) = catalog::topic_config(name) {
        return Class::TopicLevel {
            broker_default: def.broker_synonyms.first().copied(),
        };
    }
    Class::Unknown
}

/// The supplied settings Weir does not use, by class, as [`split`] finds them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unused {
    pub unknown: Vec<String>,
    pub topic_level: Vec<(String, Option<&'static str>)>,
    pub removed: Vec<(String, &'static Removal)>,
}

impl Unused {
    pub fn is_empty(&self) -> bool {
        self.unknown.is_empty() && self.topic_level.is_empty() && self.removed.is_empty()
    }

    /// What `--strict` refuses, explained: unknown names and topic-level names, the likely
    /// typos and mix-ups. Removed settings are not mistakes, only history: they stay warnings.
    pub fn strict_refusal(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.unknown.is_empty() {
            parts.push(format!(
                "[{}] are not Kafka 4.x broker settings",
                self.unknown.join(", ")
            ));
        }
        for (name, broker_default) in &self.topic_level {
            parts.push(topic_level_hint(name, *broker_default));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// One line per finding, for the startup log: the unknown names together in one line (as
    /// Kafka lists them), each removal reason with its names, each topic-level name with the
    /// broker setting to use instead.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.unknown.is_empty() {
            out.push(format!(
                "These settings were supplied but are not used: '[{}]' (not Kafka 4.x broker \
                 settings; plugin and vendor settings have no effect on Weir). Start with \
                 --strict or weir.config.strict=true to refuse them.",
                self.unknown.join(", ")
            ));
        }
        for removal in REMOVALS {
            let names: Vec<&str> = self
                .removed
                .iter()
                .filter(|(_, r)| std::ptr::eq(*r, removal))
                .map(|(n, _)| n.as_str())
                .collect();
            if !names.is_empty() {
                out.push(format!(
                    "Ignoring [{}]: removed in Apache Kafka {}: {}.",
                    names.join(", "),
                    removal.since,
                    removal.why
                ));
            }
        }
        for (name, broker_default) in &self.topic_level {
            out.push(format!(
                "Ignoring {}.",
                topic_level_hint(name, *broker_default)
            ));
        }
        out
    }
}

fn topic_level_hint(name: &str, broker_default: Option<&str>) -> String {
    match broker_default {
        Some(b) => format!("{name}: a topic-level setting; the broker-wide default is {b}"),
        None => format!(
            "{name}: a topic-level setting with no broker-wide default; set it per topic \
             with kafka-configs.sh --entity-type topics or weir config alter --topic"
        ),
    }
}

/// Splits supplied settings into the ones Weir uses (returned) and the rest (`Unused`).
pub fn split(props: BTreeMap<String, String>) -> (BTreeMap<String, String>, Unused) {
    let mut used = BTreeMap::new();
    let mut unused = Unused::default();
    for (name, value) in props {
        match classify(&name) {
            Class::Known => {
                used.insert(name, value);
            }
            Class::Removed(r) => unused.removed.push((name, r)),
            Class::TopicLevel { broker_default } => unused.topic_level.push((name, broker_default)),
            Class::Unknown => unused.unknown.push(name),
        }
    }
    (used, unused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fall_into_their_class() {
        assert_eq!(classify("num.partitions"), Class::Known);
        assert_eq!(
            classify("num.network.threads"),
            Class::Known,
            "known, ignored"
        );
        assert_eq!(classify("authorizer.class.name"), Class::Known);
        assert_eq!(
            classify("listener.name.sasl_plaintext.plain.sasl.jaas.config"),
            Class::Known
        );
        assert_eq!(classify("transaction.version"), Class::Known, "Weir's own");
        for gone in [
            "zookeeper.connect",
            "zookeeper.session.timeout.ms",
            "zookeeper.ssl.client.enable",
            "log.message.format.version",
            "message.format.version",
            "inter.broker.protocol.version",
            "control.plane.listener.name",
            "log.message.timestamp.difference.max.ms",
        ] {
            assert!(
                matches!(classify(gone), Class::Removed(r) if r.since == "4.0"),
                "{gone}"
            );
        }
        assert_eq!(
            classify("flush.messages"),
            Class::TopicLevel {
                broker_default: Some("log.flush.interval.messages")
            }
        );
        assert_eq!(
            classify("retention.ms"),
            Class::TopicLevel {
                broker_default: Some("log.retention.ms")
            }
        );
        assert_eq!(
            classify("segment.bytes"),
            Class::TopicLevel {
                broker_default: Some("log.segment.bytes")
            }
        );
        assert_eq!(
            classify("leader.replication.throttled.replicas"),
            Class::TopicLevel {
                broker_default: None
            }
        );
        // A topic config whose broker default has the same name is a broker setting too.
        assert_eq!(classify("compression.type"), Class::Known);
        for unknown in [
            "confluent.support.metrics.enable",
            "metric.reporters.bogus",
            "cruise.control.metrics.reporter.bootstrap.servers",
            "log.retention.bogus",
        ] {
            assert_eq!(classify(unknown), Class::Unknown, "{unknown}");
        }
    }

    #[test]
    fn removed_names_are_not_in_the_kafka_4_catalogue() {
        // A removal listed here while Kafka 4 still defines the name would hide a real setting.
        for r in REMOVALS {
            for name in r.names {
                assert!(catalog::broker_config(name).is_none(), "{name}");
                assert!(catalog::topic_config(name).is_none(), "{name}");
            }
        }
        assert!(catalog::BROKER_CONFIGS
            .iter()
            .all(|d| !d.name.starts_with("zookeeper.")));
    }

    #[test]
    fn split_keeps_the_used_and_words_the_rest() {
        let props: BTreeMap<String, String> = [
            ("num.partitions", "3"),
            ("confluent.support.customer.id", "anonymous"),
            ("zookeeper.connect", "zk:2181"),
            ("zookeeper.connection.timeout.ms", "18000"),
            ("log.message.format.version", "2.8"),
            ("flush.messages", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (used, unused) = split(props);
        assert_eq!(used.keys().collect::<Vec<_>>(), ["num.partitions"]);
        assert_eq!(unused.unknown, ["confluent.support.customer.id"]);
        assert_eq!(
            unused.strict_refusal().unwrap(),
            "[confluent.support.customer.id] are not Kafka 4.x broker settings; flush.messages: \
             a topic-level setting; the broker-wide default is log.flush.interval.messages"
        );
        let w = unused.warnings();
        assert_eq!(w.len(), 4, "{w:#?}");
        assert!(
            w[0].contains("'[confluent.support.customer.id]'"),
            "{}",
            w[0]
        );
        assert!(
            w[1].contains("[zookeeper.connect, zookeeper.connection.timeout.ms]")
                && w[1].contains("Apache Kafka 4.0"),
            "{}",
            w[1]
        );
        assert!(
            w[2].contains("log.message.format.version") && w[2].contains("4.0"),
            "{}",
            w[2]
        );
        assert!(w[3].contains("log.flush.interval.messages"), "{}", w[3]);
        let (_, nothing) = split(BTreeMap::new());
        assert!(nothing.is_empty() && nothing.strict_refusal().is_none());
    }

    #[test]
    fn topic_requests_with_broker_names_get_the_topic_name() {
        assert_eq!(
            catalog::unknown_topic_config("log.retention.hours"),
            "Unknown topic config name: log.retention.hours (the topic-level setting is \
             retention.ms; log.retention.hours is its broker-wide default)"
        );
        assert!(
            catalog::unknown_topic_config("message.format.version").starts_with(
                "Unknown topic config name: message.format.version (removed in Apache Kafka 4.0"
            )
        );
        assert_eq!(
            catalog::unknown_topic_config("nope"),
            "Unknown topic config name: nope"
        );
    }
}
