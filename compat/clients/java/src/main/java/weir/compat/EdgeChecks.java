package weir.compat;

import static weir.compat.Ctx.bytes;
import static weir.compat.Ctx.check;
import static weir.compat.Ctx.eq;
import static weir.compat.Ctx.expectFailure;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.ListConsumerGroupsOptions;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.ConsumerGroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.apache.kafka.common.record.TimestampType;

/**
 * Edge cases where a broker can answer differently and still look healthy: config synonyms,
 * authorized operations, LogAppendTime, KIP-74 (a record larger than the fetch limits), leader
 * epochs in committed offsets, static membership, commits from a member that was removed, and
 * the admin errors for groups that do not exist or are still active.
 */
final class EdgeChecks {
    static void register(List<Smoke.Check> checks) {
        checks.add(new Smoke.Check("edge describeConfigs synonyms and documentation", false, 60, EdgeChecks::synonyms));
        checks.add(new Smoke.Check("edge authorized operations (cluster, topic)", false, 60, EdgeChecks::authorizedOps));
        checks.add(new Smoke.Check("edge createTopics replication factor 3 on one broker", false, 60,
                EdgeChecks::replicationFactor));
        checks.add(new Smoke.Check("edge producer auto-creates a topic", false, 60, EdgeChecks::autoCreate));
        checks.add(new Smoke.Check("edge LogAppendTime topic", false, 60, EdgeChecks::logAppendTime));
        checks.add(new Smoke.Check("edge record larger than fetch.max.bytes is still returned (KIP-74)", false, 60,
                EdgeChecks::oversizedFetch));
        checks.add(new Smoke.Check("edge committed offsets carry metadata and leader epoch", false, 60,
                EdgeChecks::committedLeaderEpoch));
        checks.add(new Smoke.Check("edge groups: unknown group errors, alter offsets of an active group", false, 90,
                EdgeChecks::groupErrors));
        checks.add(new Smoke.Check("edge classic static membership (group.instance.id)", false, 90,
                EdgeChecks::staticMembership));
        checks.add(new Smoke.Check("edge commit after the member was removed -> CommitFailedException", false, 90,
                EdgeChecks::commitAfterRemoval));
        checks.add(new Smoke.Check("edge KIP-848 group description (assignor, epochs, assignment)", false, 90,
                EdgeChecks::consumerGroupDescribe));
        checks.add(new Smoke.Check("edge KIP-848 group.remote.assignor=range, 2 members", false, 150,
                EdgeChecks::remoteRangeAssignor));
        checks.add(new Smoke.Check("edge KIP-848 broker-side regex subscription (SubscriptionPattern)", false, 90,
                EdgeChecks::brokerRegex));
        checks.add(new Smoke.Check("edge classic client-side regex subscription", false, 90, EdgeChecks::clientRegex));
        checks.add(new Smoke.Check("edge committed offsets of a deleted topic disappear", false, 90,
                EdgeChecks::offsetsOfDeletedTopic));
        checks.add(new Smoke.Check("edge describeConsumerGroups of an unknown group", false, 60,
                EdgeChecks::describeUnknownGroup));
        checks.add(new Smoke.Check("edge listOffsets earliestLocal / latestTiered (KIP-1005)", false, 60,
                EdgeChecks::tieredSpecs));
    }

    static void synonyms(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String t = ctx.name("synonyms");
            a.createTopics(List.of(new NewTopic(t, 1, (short) -1).configs(Map.of("retention.ms", "3600000"))))
                    .all().get();
            ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, t);
            var c = a.describeConfigs(List.of(r), new DescribeConfigsOptions().includeSynonyms(true)
                    .includeDocumentation(true)).all().get().get(r);
            ConfigEntry e = c.get("retention.ms");
            List<String> syn = e.synonyms().stream().map(s -> s.name() + ":" + s.source()).collect(Collectors.toList());
            // What Kafka 4.2 answers: a topic override lists only itself, while a default lists
            // the broker setting it comes from.
            eq(List.of("retention.ms:DYNAMIC_TOPIC_CONFIG"), syn, "synonyms of retention.ms");
            check(e.documentation() != null && !e.documentation().isEmpty(), "no documentation for retention.ms");
            eq(ConfigEntry.ConfigType.LONG, e.type(), "retention.ms type");
            ConfigEntry cp = c.get("cleanup.policy");
            eq(ConfigEntry.ConfigType.LIST, cp.type(), "cleanup.policy type");
            List<String> cpSyn = cp.synonyms().stream().map(s -> s.name() + ":" + s.source()).collect(Collectors.toList());
            eq(List.of("log.cleanup.policy:DEFAULT_CONFIG"), cpSyn, "synonyms of cleanup.policy (a default)");
        }
    }

    static void authorizedOps(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            Set<AclOperation> cluster = a.describeCluster(new DescribeClusterOptions().includeAuthorizedOperations(true))
                    .authorizedOperations().get();
            String t = ctx.topic(a, "authops", 1);
            Set<AclOperation> topic = a.describeTopics(List.of(t), new DescribeTopicsOptions().includeAuthorizedOperations(true))
                    .allTopicNames().get().get(t).authorizedOperations();
            Smoke.out("# authorized operations: cluster " + sorted(cluster) + ", topic " + sorted(topic));
            // Without an authorizer and for a super user alike, Kafka lists every operation
            // that applies to the resource type.
            eq(List.of("ALTER", "ALTER_CONFIGS", "CLUSTER_ACTION", "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS",
                    "IDEMPOTENT_WRITE"), sorted(cluster), "cluster authorized operations");
            eq(List.of("ALTER", "ALTER_CONFIGS", "CREATE", "DELETE", "DESCRIBE", "DESCRIBE_CONFIGS", "READ", "WRITE"),
                    sorted(topic), "topic authorized operations");
        }
    }

    static List<String> sorted(Set<AclOperation> ops) {
        return ops == null ? null : ops.stream().map(Enum::name).sorted().collect(Collectors.toList());
    }

    static void replicationFactor(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            int brokers = a.describeCluster().nodes().get().size();
            if (brokers >= 3) {
                throw new Smoke.Skip("cluster has " + brokers + " brokers");
            }
            expectFailure(InvalidReplicationFactorException.class,
                    () -> a.createTopics(List.of(new NewTopic(ctx.name("rf3"), 1, (short) 3))).all().get(),
                    "replication factor 3 with " + brokers + " broker(s)");
        }
    }

    static void autoCreate(Ctx ctx) throws Exception {
        String t = ctx.name("auto");
        try (KafkaProducer<byte[], byte[]> p = ctx.producer(ProducerConfig.ACKS_CONFIG, "all")) {
            RecordMetadata md = p.send(new ProducerRecord<>(t, null, bytes("created"))).get();
            eq(0L, md.offset(), "offset in the auto-created topic");
        }
        try (Admin a = ctx.admin()) {
            var d = a.describeTopics(List.of(t)).allTopicNames().get().get(t);
            eq(1, d.partitions().size(), "partitions of the auto-created topic (num.partitions)");
        }
    }

    static void logAppendTime(Ctx ctx) throws Exception {
        String t = ctx.name("lat");
        try (Admin a = ctx.admin()) {
            a.createTopics(List.of(new NewTopic(t, 1, (short) -1)
                    .configs(Map.of("message.timestamp.type", "LogAppendTime")))).all().get();
            Ctx.awaitLeaders(a, t, 1);
        }
        long before = System.currentTimeMillis();
        RecordMetadata md;
        try (KafkaProducer<byte[], byte[]> p = ctx.producer(ProducerConfig.ACKS_CONFIG, "all")) {
            md = p.send(new ProducerRecord<>(t, 0, 1000L, null, bytes("old timestamp"))).get();
        }
        long after = System.currentTimeMillis();
        check(md.timestamp() >= before - 1000 && md.timestamp() <= after + 1000,
                "metadata timestamp " + md.timestamp() + " not the append time (" + before + ".." + after + ")");
        List<ConsumerRecord<byte[], byte[]>> got = ctx.readAll(t, 0, 1);
        eq(TimestampType.LOG_APPEND_TIME, got.get(0).timestampType(), "timestamp type");
        eq(md.timestamp(), got.get(0).timestamp(), "timestamp read back");
    }

    static void oversizedFetch(Ctx ctx) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "kip74", 1);
        }
        try (KafkaProducer<byte[], byte[]> p = ctx.producer(ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.COMPRESSION_TYPE_CONFIG, "none")) {
            p.send(new ProducerRecord<>(t, 0, null, new byte[200 * 1024])).get();
            p.send(new ProducerRecord<>(t, 0, null, bytes("small"))).get();
        }
        List<ConsumerRecord<byte[], byte[]>> got = ctx.readAll(t, 0, 2,
                ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 1024, ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 1024);
        eq(2, got.size(), "records read with 1 KiB fetch limits");
        eq(200 * 1024, got.get(0).value().length, "size of the large record");
    }

    static void committedLeaderEpoch(Ctx ctx) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "epoch", 1);
        }
        ctx.produce(t, 0, 2);
        String g = ctx.name("epoch-group");
        TopicPartition tp = new TopicPartition(t, 0);
        try (KafkaConsumer<byte[], byte[]> c = ctx.consumer("group.id", g)) {
            c.assign(List.of(tp));
            List<ConsumerRecord<byte[], byte[]>> got = Ctx.pollAtLeast(c, 3, 20000);
            eq(3, got.size(), "records");
            check(got.get(2).leaderEpoch().isPresent(), "record without a leader epoch");
            c.commitSync(Map.of(tp, new OffsetAndMetadata(3, got.get(2).leaderEpoch(), "m")));
            OffsetAndMetadata om = c.committed(Set.of(tp)).get(tp);
            eq(3L, om.offset(), "committed offset");
            eq("m", om.metadata(), "committed metadata");
            eq(got.get(2).leaderEpoch(), om.leaderEpoch(), "committed leader epoch");
        }
    }

    static void groupErrors(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String missing = ctx.name("no-such-group");
            expectFailure(GroupIdNotFoundException.class,
                    () -> a.deleteConsumerGroups(List.of(missing)).all().get(), "delete an unknown group");
            Map<TopicPartition, OffsetAndMetadata> none = a.listConsumerGroupOffsets(missing).partitionsToOffsetAndMetadata().get();
            eq(0, none.size(), "offsets of an unknown group");
            check(a.listConsumerGroups(new ListConsumerGroupsOptions().inStates(Set.of(ConsumerGroupState.STABLE)))
                    .all().get().stream().noneMatch(l -> l.groupId().equals(missing)), "unknown group listed");

            String t = ctx.topic(a, "active", 1);
            ctx.produce(t, 0, 1);
            String g = ctx.name("active-group");
            try (KafkaConsumer<byte[], byte[]> c = ctx.consumer("group.id", g)) {
                c.subscribe(List.of(t));
                eq(2, Ctx.pollAtLeast(c, 2, 30000).size(), "records");
                var stable = a.listConsumerGroups(new ListConsumerGroupsOptions().inStates(Set.of(ConsumerGroupState.STABLE)))
                        .all().get();
                check(stable.stream().anyMatch(l -> l.groupId().equals(g)), "active group not listed as STABLE");
                expectFailure(UnknownMemberIdException.class,
                        () -> a.alterConsumerGroupOffsets(g, Map.of(new TopicPartition(t, 0), new OffsetAndMetadata(0)))
                                .all().get(),
                        "alter the offsets of an active group");
            }
        }
    }

    static void staticMembership(Ctx ctx) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "static", 2);
        }
        String g = ctx.name("static-group");
        Object[] props = ConsumerChecks.groupProps(ctx, "classic", g, null);
        Object[] withInstance = concat(props, "group.instance.id", "instance-1",
                ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 30000);
        String memberId;
        try (KafkaConsumer<byte[], byte[]> c = ctx.consumer(withInstance)) {
            c.subscribe(List.of(t));
            ConsumerChecks.waitFor(() -> {
                c.poll(Duration.ofMillis(100));
                return c.assignment().size() == 2;
            }, 30000, () -> "assignment " + c.assignment());
            try (Admin a = ctx.admin()) {
                ConsumerGroupDescription d = a.describeConsumerGroups(List.of(g)).all().get().get(g);
                eq(1, d.members().size(), "members");
                MemberDescription m = d.members().iterator().next();
                eq(java.util.Optional.of("instance-1"), m.groupInstanceId(), "group instance id");
                memberId = m.consumerId();
            }
        }
        // A static member's close does not leave the group: it stays until its session times out.
        try (Admin a = ctx.admin()) {
            ConsumerGroupDescription d = a.describeConsumerGroups(List.of(g)).all().get().get(g);
            eq(1, d.members().size(), "members after the static member closed");
        }
        try (KafkaConsumer<byte[], byte[]> c = ctx.consumer(withInstance)) {
            c.subscribe(List.of(t));
            ConsumerChecks.waitFor(() -> {
                c.poll(Duration.ofMillis(100));
                return c.assignment().size() == 2;
            }, 30000, () -> "assignment after rejoining " + c.assignment());
            try (Admin a = ctx.admin()) {
                ConsumerGroupDescription d = a.describeConsumerGroups(List.of(g)).all().get().get(g);
                eq(1, d.members().size(), "members after the static member rejoined");
                check(!d.members().iterator().next().consumerId().equals(memberId),
                        "rejoined static member kept its member id " + memberId);
            }
        }
    }

    static Object[] concat(Object[] a, Object... b) {
        Object[] r = new Object[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    static void commitAfterRemoval(Ctx ctx) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "kicked", 1);
        }
        ctx.produce(t, 0, 3);
        String g = ctx.name("kicked-group");
        Object[] props = concat(ConsumerChecks.groupProps(ctx, "classic", g, null),
                ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, 2000, ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1);
        try (KafkaConsumer<byte[], byte[]> c = ctx.consumer(props)) {
            c.subscribe(List.of(t));
            eq(1, Ctx.pollAtLeast(c, 1, 30000).size(), "first record");
            // Past max.poll.interval.ms the client leaves the group (LeaveGroup); the member's
            // commit then fails: the broker no longer knows its member id / generation.
            Thread.sleep(5000);
            expectFailure(CommitFailedException.class, c::commitSync, "commit after max.poll.interval.ms");
        }
    }

    static void consumerGroupDescribe(Ctx ctx) throws Exception {
        String g = ctx.name("cgd-group");
        Object[] props = ConsumerChecks.groupProps(ctx, "consumer", g, null);
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "cgd", 3);
        }
        try (KafkaConsumer<byte[], byte[]> c = ctx.consumer(props)) {
            c.subscribe(List.of(t));
            ConsumerChecks.waitFor(() -> {
                c.poll(Duration.ofMillis(100));
                return c.assignment().size() == 3;
            }, 60000, () -> "assignment " + c.assignment());
            try (Admin a = ctx.admin()) {
                ConsumerGroupDescription d = a.describeConsumerGroups(List.of(g)).all().get().get(g);
                eq("CONSUMER", ConsumerChecks.groupType(d), "type");
                eq("uniform", d.partitionAssignor(), "server-side assignor");
                eq(ConsumerGroupState.STABLE, d.state(), "state");
                eq(1, d.members().size(), "members");
                MemberDescription m = d.members().iterator().next();
                Set<TopicPartition> want = new HashSet<>();
                for (int p = 0; p < 3; p++) {
                    want.add(new TopicPartition(t, p));
                }
                eq(want, m.assignment().topicPartitions(), "member assignment");
                Object groupEpoch = d.getClass().getMethod("groupEpoch").invoke(d);
                Object targetEpoch = d.getClass().getMethod("targetAssignmentEpoch").invoke(d);
                Smoke.out("# KIP-848 group epoch " + groupEpoch + ", target assignment epoch " + targetEpoch);
                eq(groupEpoch, targetEpoch, "group epoch vs target assignment epoch");
            }
        }
    }

    static void remoteRangeAssignor(Ctx ctx) throws Exception {
        String g = ctx.name("range848-group");
        Object[] props = concat(ConsumerChecks.groupProps(ctx, "consumer", g, null), "group.remote.assignor", "range");
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "range848", 4);
        }
        ConsumerChecks.Member m1 = new ConsumerChecks.Member(ctx, t, props, "range-1");
        ConsumerChecks.Member m2 = new ConsumerChecks.Member(ctx, t, props, "range-2");
        try {
            ConsumerChecks.waitFor(() -> m1.assigned.size() == 2 && m2.assigned.size() == 2, 90000,
                    () -> m1.assigned + " / " + m2.assigned, m1, m2);
            // range: each member gets a contiguous block of partitions
            for (ConsumerChecks.Member m : List.of(m1, m2)) {
                List<Integer> ps = m.assigned.stream().map(TopicPartition::partition).sorted().collect(Collectors.toList());
                eq(ps.get(0) + 1, ps.get(1), "range assignment " + ps);
            }
            try (Admin a = ctx.admin()) {
                eq("range", a.describeConsumerGroups(List.of(g)).all().get().get(g).partitionAssignor(), "assignor");
            }
        } finally {
            m1.stopAndJoin();
            m2.stopAndJoin();
        }
    }

    /** KafkaConsumer.subscribe(SubscriptionPattern) (4.0+), by reflection to compile against 3.6. */
    static void brokerRegex(Ctx ctx) throws Exception {
        Object[] base = ConsumerChecks.groupProps(ctx, "consumer", ctx.name("regex848-group"), null);
        String prefix = ctx.name("rx");
        try (Admin a = ctx.admin()) {
            for (String s : List.of("-a", "-b", "-other")) {
                String t = prefix + s;
                a.createTopics(List.of(new NewTopic(t, 1, (short) -1))).all().get();
                Ctx.awaitLeaders(a, t, 1);
            }
        }
        Class<?> patternClass = Class.forName("org.apache.kafka.clients.consumer.SubscriptionPattern");
        Object pattern = patternClass.getConstructor(String.class).newInstance(prefix + "-[ab]");
        try (KafkaConsumer<byte[], byte[]> c = ctx.consumer(base)) {
            c.getClass().getMethod("subscribe", patternClass).invoke(c, pattern);
            Set<TopicPartition> want = Set.of(new TopicPartition(prefix + "-a", 0), new TopicPartition(prefix + "-b", 0));
            ConsumerChecks.waitFor(() -> {
                c.poll(Duration.ofMillis(100));
                return c.assignment().equals(want);
            }, 60000, () -> "assignment " + c.assignment());
        }
    }

    static void clientRegex(Ctx ctx) throws Exception {
        String prefix = ctx.name("crx");
        try (Admin a = ctx.admin()) {
            for (String s : List.of("-a", "-b", "-other")) {
                String t = prefix + s;
                a.createTopics(List.of(new NewTopic(t, 1, (short) -1))).all().get();
                Ctx.awaitLeaders(a, t, 1);
            }
        }
        Object[] props = ConsumerChecks.groupProps(ctx, "classic", ctx.name("crx-group"), null);
        try (KafkaConsumer<byte[], byte[]> c = ctx.consumer(props)) {
            c.subscribe(java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(prefix) + "-[ab]"));
            Set<TopicPartition> want = Set.of(new TopicPartition(prefix + "-a", 0), new TopicPartition(prefix + "-b", 0));
            ConsumerChecks.waitFor(() -> {
                c.poll(Duration.ofMillis(100));
                return c.assignment().equals(want);
            }, 60000, () -> "assignment " + c.assignment());
        }
    }

    static void offsetsOfDeletedTopic(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String keep = ctx.topic(a, "keep", 1);
            String gone = ctx.topic(a, "gone", 1);
            String g = ctx.name("deleted-topic-group");
            a.alterConsumerGroupOffsets(g, Map.of(new TopicPartition(keep, 0), new OffsetAndMetadata(0),
                    new TopicPartition(gone, 0), new OffsetAndMetadata(0))).all().get();
            eq(2, a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get().size(), "committed partitions");
            a.deleteTopics(List.of(gone)).all().get();
            long deadline = System.currentTimeMillis() + 15000;
            Map<TopicPartition, OffsetAndMetadata> offs;
            while (true) {
                offs = a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get();
                if (offs.size() == 1 || System.currentTimeMillis() > deadline) {
                    break;
                }
                Thread.sleep(200);
            }
            eq(Set.of(new TopicPartition(keep, 0)), offs.keySet(), "committed partitions after deleting " + gone);
        }
    }

    static void describeUnknownGroup(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String g = ctx.name("never-seen");
            if (ctx.clientVersionNumber() >= 400) {
                // DescribeGroups v6 (4.0+ clients): GROUP_ID_NOT_FOUND.
                expectFailure(GroupIdNotFoundException.class,
                        () -> a.describeConsumerGroups(List.of(g)).all().get(), "describe an unknown group");
            } else {
                // Older versions: a group in state Dead with no members.
                ConsumerGroupDescription d = a.describeConsumerGroups(List.of(g)).all().get().get(g);
                eq(ConsumerGroupState.DEAD, d.state(), "state of an unknown group");
                eq(0, d.members().size(), "members of an unknown group");
            }
        }
    }

    /** OffsetSpec.earliestLocal() / latestTiered() (ListOffsets v9, 3.9+), by reflection. */
    static void tieredSpecs(Ctx ctx) throws Exception {
        Method earliestLocal;
        Method latestTiered;
        try {
            earliestLocal = org.apache.kafka.clients.admin.OffsetSpec.class.getMethod("earliestLocal");
            latestTiered = org.apache.kafka.clients.admin.OffsetSpec.class.getMethod("latestTiered");
        } catch (NoSuchMethodException e) {
            throw new Smoke.Skip("OffsetSpec.earliestLocal / latestTiered need kafka-clients 3.9+");
        }
        try (Admin a = ctx.admin()) {
            String t = ctx.topic(a, "tiered", 1);
            ctx.produce(t, 0, 9);
            TopicPartition tp = new TopicPartition(t, 0);
            a.deleteRecords(Map.of(tp, org.apache.kafka.clients.admin.RecordsToDelete.beforeOffset(3))).all().get();
            var el = a.listOffsets(Map.of(tp, (org.apache.kafka.clients.admin.OffsetSpec) earliestLocal.invoke(null)))
                    .all().get().get(tp);
            eq(3L, el.offset(), "earliestLocal after deleteRecords(3)");
            var lt = a.listOffsets(Map.of(tp, (org.apache.kafka.clients.admin.OffsetSpec) latestTiered.invoke(null)))
                    .all().get().get(tp);
            eq(-1L, lt.offset(), "latestTiered without tiered storage");
        }
    }

    private EdgeChecks() {}
}
