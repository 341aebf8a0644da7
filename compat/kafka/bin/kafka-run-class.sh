#!/usr/bin/env bash
# Apache Kafka's command-line tools from the jars compat/kafka/fetch.sh caches, without a Kafka
# distribution. Every bin/kafka-*.sh here is a link to this script; the name it was run as picks
# the main class, as Kafka's own bin/ scripts do:
#
#   compat/kafka/bin/kafka-topics.sh --bootstrap-server 127.0.0.1:9092 --list
#   compat/kafka/bin/kafka-run-class.sh org.apache.kafka.tools.TopicCommand --help
#
# So KAFKA_PATH=compat/kafka works for suites that call $KAFKA_PATH/bin/kafka-*.sh. Main classes
# are those of Kafka 4.2 (several tools moved from the Scala core to kafka-tools in 4.x).
set -euo pipefail
# shellcheck source=../common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../common.sh"

name="$(basename "$0")"
heap=256m
case "$name" in
    kafka-run-class.sh)
        [ $# -ge 1 ] || { echo "usage: $0 <main class> [args...]" >&2; exit 2; }
        main="$1"; shift ;;
    kafka-server-start.sh) main=kafka.Kafka; heap=512m ;;
    kafka-storage.sh) main=kafka.tools.StorageTool ;;
    kafka-configs.sh) main=kafka.admin.ConfigCommand ;;
    kafka-dump-log.sh) main=kafka.tools.DumpLogSegments ;;
    kafka-topics.sh) main=org.apache.kafka.tools.TopicCommand ;;
    kafka-acls.sh) main=org.apache.kafka.tools.AclCommand ;;
    kafka-consumer-groups.sh) main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    kafka-console-producer.sh) main=org.apache.kafka.tools.ConsoleProducer ;;
    kafka-console-consumer.sh) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    kafka-producer-perf-test.sh) main=org.apache.kafka.tools.ProducerPerformance ;;
    kafka-consumer-perf-test.sh) main=org.apache.kafka.tools.ConsumerPerformance ;;
    kafka-e2e-latency.sh) main=org.apache.kafka.tools.EndToEndLatency ;;
    kafka-features.sh) main=org.apache.kafka.tools.FeatureCommand ;;
    kafka-metadata-quorum.sh) main=org.apache.kafka.tools.MetadataQuorumCommand ;;
    kafka-get-offsets.sh) main=org.apache.kafka.tools.GetOffsetShell ;;
    kafka-delete-records.sh) main=org.apache.kafka.tools.DeleteRecordsCommand ;;
    kafka-log-dirs.sh) main=org.apache.kafka.tools.LogDirsCommand ;;
    kafka-transactions.sh) main=org.apache.kafka.tools.TransactionsCommand ;;
    kafka-broker-api-versions.sh) main=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
    kafka-cluster.sh) main=org.apache.kafka.tools.ClusterTool ;;
    kafka-delegation-tokens.sh) main=org.apache.kafka.tools.DelegationTokenCommand ;;
    kafka-leader-election.sh) main=org.apache.kafka.tools.LeaderElectionCommand ;;
    kafka-reassign-partitions.sh) main=org.apache.kafka.tools.reassign.ReassignPartitionsCommand ;;
    kafka-client-metrics.sh) main=org.apache.kafka.tools.ClientMetricsCommand ;;
    kafka-verifiable-producer.sh) main=org.apache.kafka.tools.VerifiableProducer ;;
    kafka-verifiable-consumer.sh) main=org.apache.kafka.tools.VerifiableConsumer ;;
    kafka-replica-verification.sh) main=org.apache.kafka.tools.ReplicaVerificationTool ;;
    *) echo "kafka-run-class.sh: no main class known for '$name'" >&2; exit 2 ;;
esac
log4j="$KAFKA_COMPAT_DIR/config/tools-log4j2.properties"
[ "$main" = kafka.Kafka ] && log4j="$KAFKA_COMPAT_DIR/config/server-log4j2.properties"
kafka_java "$heap" "$log4j" "$main" "$@"
