package weir.compat;

import static weir.compat.Ctx.bytes;
import static weir.compat.Ctx.check;
import static weir.compat.Ctx.eq;
import static weir.compat.Ctx.expectFailure;
import static weir.compat.Ctx.must;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.AlterConfigsOptions;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.FeatureMetadata;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.admin.UserScramCredentialsDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.ConsumerGroupState;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.ResourceNotFoundException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;

/** AdminClient: every admin API Weir serves, with the error cases clients rely on. */
final class AdminChecks {
    static void register(List<Smoke.Check> checks, boolean acls) {
        checks.add(new Smoke.Check("admin describeCluster", true, 60, AdminChecks::describeCluster));
        checks.add(new Smoke.Check("admin describeFeatures", true, 60, AdminChecks::describeFeatures));
        checks.add(new Smoke.Check("admin createTopics (configs, validateOnly, duplicate, invalid)", true, 60,
                AdminChecks::createTopics));
        checks.add(new Smoke.Check("admin describeTopics / listTopics", true, 60, AdminChecks::describeTopics));
        checks.add(new Smoke.Check("admin createPartitions", false, 60, AdminChecks::createPartitions));
        checks.add(new Smoke.Check("admin describeConfigs (topic, broker)", true, 60, AdminChecks::describeConfigs));
        checks.add(new Smoke.Check("admin incrementalAlterConfigs (set, delete, append, validateOnly)", false, 60,
                AdminChecks::incrementalAlterConfigs));
        checks.add(new Smoke.Check("admin listOffsets (earliest, latest, maxTimestamp, forTimestamp)", true, 60,
                AdminChecks::listOffsets));
        checks.add(new Smoke.Check("admin deleteRecords", false, 60, AdminChecks::deleteRecords));
        checks.add(new Smoke.Check("admin describeLogDirs", false, 60, AdminChecks::describeLogDirs));
        checks.add(new Smoke.Check("admin consumer groups (list, describe, offsets, alter, delete)", true, 90,
                AdminChecks::groups));
        checks.add(new Smoke.Check("admin deleteTopics", false, 60, AdminChecks::deleteTopics));
        checks.add(new Smoke.Check("admin SCRAM credentials (alter, describe, delete)", false, 60, AdminChecks::scram));
        if (acls) {
            checks.add(new Smoke.Check("admin ACLs (create, describe, delete)", false, 60, AdminChecks::acls));
        }
    }

    static int firstNode(Admin a) throws Exception {
        return a.describeCluster().nodes().get().iterator().next().id();
    }

    static void describeCluster(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            DescribeClusterResult r = a.describeCluster();
            String id = r.clusterId().get();
            check(id != null && !id.isEmpty(), "cluster id is empty");
            Collection<Node> nodes = r.nodes().get();
            check(!nodes.isEmpty(), "no nodes");
            for (Node n : nodes) {
                check(n.id() >= 0 && n.port() > 0 && !n.host().isEmpty(), "bad node " + n);
            }
            Node controller = r.controller().get();
            check(controller != null, "no controller");
        }
    }

    static void describeFeatures(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            FeatureMetadata f = a.describeFeatures().featureMetadata().get();
            check(f.finalizedFeatures().containsKey("metadata.version"),
                    "metadata.version not finalized: " + f.finalizedFeatures());
            check(f.supportedFeatures().containsKey("metadata.version"),
                    "metadata.version not supported: " + f.supportedFeatures());
            check(f.finalizedFeaturesEpoch().isPresent(), "no finalized features epoch");
            var tv = f.finalizedFeatures().get("transaction.version");
            Smoke.out("# finalized transaction.version: " + (tv == null ? "none" : tv.maxVersionLevel()));
        }
    }

    static void createTopics(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String t = ctx.name("create");
            a.createTopics(List.of(new NewTopic(t, 3, (short) -1).configs(Map.of("retention.ms", "3600000"))))
                    .all().get();
            expectFailure(TopicExistsException.class,
                    () -> a.createTopics(List.of(new NewTopic(t, 1, (short) -1))).all().get(), "duplicate create");

            String v = ctx.name("validate-only");
            var res = a.createTopics(List.of(new NewTopic(v, 4, (short) -1)),
                    new CreateTopicsOptions().validateOnly(true));
            res.all().get();
            eq(4, res.numPartitions(v).get(), "validateOnly numPartitions");
            check(!a.listTopics().names().get().contains(v), "validateOnly created the topic");

            expectFailure(InvalidConfigurationException.class,
                    () -> a.createTopics(List.of(new NewTopic(ctx.name("bad-config"), 1, (short) -1)
                            .configs(Map.of("cleanup.policy", "bogus")))).all().get(),
                    "create with cleanup.policy=bogus");
            expectFailure(InvalidPartitionsException.class,
                    () -> a.createTopics(List.of(new NewTopic(ctx.name("zero-partitions"), 0, (short) -1)))
                            .all().get(),
                    "create with 0 partitions");
        }
    }

    static void describeTopics(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String t = ctx.topic(a, "describe", 3);
            check(a.listTopics().names().get().contains(t), "listTopics lacks " + t);
            TopicDescription d = a.describeTopics(List.of(t)).allTopicNames().get().get(t);
            eq(3, d.partitions().size(), "partition count");
            check(!d.isInternal(), "topic is internal");
            check(d.topicId() != null && !Uuid.ZERO_UUID.equals(d.topicId()), "no topic id");
            for (var p : d.partitions()) {
                check(p.leader() != null && p.leader().id() >= 0, "partition " + p.partition() + " has no leader");
                check(!p.isr().isEmpty(), "partition " + p.partition() + " has an empty ISR");
            }
            // by id too
            var byId = a.describeTopics(org.apache.kafka.common.TopicCollection.ofTopicIds(List.of(d.topicId())))
                    .allTopicIds().get().get(d.topicId());
            eq(t, byId.name(), "describe by topic id");
            expectFailure(UnknownTopicOrPartitionException.class,
                    () -> a.describeTopics(List.of(ctx.name("no-such-topic"))).allTopicNames().get(),
                    "describe unknown topic");
        }
    }

    static void createPartitions(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String t = ctx.topic(a, "partitions", 2);
            a.createPartitions(Map.of(t, NewPartitions.increaseTo(5))).all().get();
            long deadline = System.currentTimeMillis() + 10000;
            int n = 0;
            while (System.currentTimeMillis() < deadline) {
                n = a.describeTopics(List.of(t)).allTopicNames().get().get(t).partitions().size();
                if (n == 5) {
                    break;
                }
                Thread.sleep(200);
            }
            eq(5, n, "partitions after increaseTo(5)");
            expectFailure(InvalidPartitionsException.class,
                    () -> a.createPartitions(Map.of(t, NewPartitions.increaseTo(3))).all().get(),
                    "decrease partitions");
            expectFailure(UnknownTopicOrPartitionException.class,
                    () -> a.createPartitions(Map.of(ctx.name("nope"), NewPartitions.increaseTo(3))).all().get(),
                    "createPartitions on an unknown topic");
        }
    }

    static Config topicConfig(Admin a, String t) throws Exception {
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, t);
        return a.describeConfigs(List.of(r)).all().get().get(r);
    }

    /**
     * The topic's config once {@code name} has {@code value}, or after 10 s: Kafka applies an
     * alteration through its metadata log, and DescribeConfigs may answer from the state before.
     */
    static Config awaitTopicConfig(Admin a, String t, String name, String value) throws Exception {
        long deadline = System.currentTimeMillis() + 10000;
        while (true) {
            Config c = topicConfig(a, t);
            ConfigEntry e = c.get(name);
            if ((e != null && value.equals(e.value())) || System.currentTimeMillis() > deadline) {
                return c;
            }
            Thread.sleep(100);
        }
    }

    static void describeConfigs(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String t = ctx.name("configs");
            a.createTopics(List.of(new NewTopic(t, 1, (short) -1).configs(Map.of("retention.ms", "3600000"))))
                    .all().get();
            Config c = topicConfig(a, t);
            ConfigEntry e = c.get("retention.ms");
            check(e != null, "no retention.ms in " + c.entries().size() + " entries");
            eq("3600000", e.value(), "retention.ms");
            eq(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, e.source(), "retention.ms source");
            ConfigEntry seg = c.get("segment.bytes");
            check(seg != null && seg.value() != null, "no segment.bytes");
            eq(ConfigEntry.ConfigSource.DEFAULT_CONFIG, seg.source(), "segment.bytes source");
            ConfigEntry cp = c.get("cleanup.policy");
            check(cp != null, "no cleanup.policy");
            eq("delete", cp.value(), "cleanup.policy");

            ConfigResource b = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(firstNode(a)));
            Config bc = a.describeConfigs(List.of(b)).all().get().get(b);
            check(bc.entries().size() > 10, "broker config has only " + bc.entries().size() + " entries");
            ConfigEntry np = bc.get("num.partitions");
            check(np != null && np.value() != null, "broker config lacks num.partitions");
            ConfigEntry ldirs = bc.get("log.dirs");
            check(ldirs != null, "broker config lacks log.dirs");
        }
    }

    static void incrementalAlterConfigs(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String t = ctx.topic(a, "alter", 1);
            ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, t);
            a.incrementalAlterConfigs(Map.of(r, List.of(
                    new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("max.message.bytes", "2000000"), AlterConfigOp.OpType.SET))))
                    .all().get();
            Config c = awaitTopicConfig(a, t, "retention.ms", "7200000");
            eq("7200000", c.get("retention.ms").value(), "retention.ms after SET");
            eq("2000000", c.get("max.message.bytes").value(), "max.message.bytes after SET");

            a.incrementalAlterConfigs(Map.of(r, List.of(
                    new AlterConfigOp(new ConfigEntry("retention.ms", null), AlterConfigOp.OpType.DELETE),
                    new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.APPEND))))
                    .all().get();
            c = awaitTopicConfig(a, t, "retention.ms", "604800000");
            eq(ConfigEntry.ConfigSource.DEFAULT_CONFIG, c.get("retention.ms").source(), "retention.ms source after DELETE");
            eq("604800000", c.get("retention.ms").value(), "retention.ms after DELETE");
            eq("delete,compact", c.get("cleanup.policy").value(), "cleanup.policy after APPEND");

            a.incrementalAlterConfigs(Map.of(r, List.of(
                    new AlterConfigOp(new ConfigEntry("retention.ms", "1000"), AlterConfigOp.OpType.SET))),
                    new AlterConfigsOptions().validateOnly(true)).all().get();
            eq("604800000", topicConfig(a, t).get("retention.ms").value(), "retention.ms after a validateOnly SET");

            expectFailure(InvalidConfigurationException.class,
                    () -> a.incrementalAlterConfigs(Map.of(r, List.of(
                            new AlterConfigOp(new ConfigEntry("retention.ms", "soon"), AlterConfigOp.OpType.SET))))
                            .all().get(),
                    "SET retention.ms=soon");
            ConfigResource missing = new ConfigResource(ConfigResource.Type.TOPIC, ctx.name("nope"));
            expectFailure(UnknownTopicOrPartitionException.class,
                    () -> a.incrementalAlterConfigs(Map.of(missing, List.of(
                            new AlterConfigOp(new ConfigEntry("retention.ms", "1000"), AlterConfigOp.OpType.SET))))
                            .all().get(),
                    "alter an unknown topic");
        }
    }

    /** Sends n records with timestamps base, base+1000, ... to partition 0. */
    static void produceTimed(Ctx ctx, String t, int n, long base) throws Exception {
        try (KafkaProducer<byte[], byte[]> p = ctx.producer(ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.LINGER_MS_CONFIG, 0)) {
            for (int i = 0; i < n; i++) {
                p.send(new ProducerRecord<>(t, 0, base + i * 1000L, bytes("k" + i), bytes("v" + i))).get();
            }
        }
    }

    static void listOffsets(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String t = ctx.topic(a, "offsets", 1);
            TopicPartition tp = new TopicPartition(t, 0);
            long base = System.currentTimeMillis() - 60000;
            eq(0L, a.listOffsets(Map.of(tp, OffsetSpec.latest())).all().get().get(tp).offset(), "latest, empty");
            produceTimed(ctx, t, 10, base);
            ListOffsetsResult.ListOffsetsResultInfo e = a.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get().get(tp);
            eq(0L, e.offset(), "earliest");
            eq(10L, a.listOffsets(Map.of(tp, OffsetSpec.latest())).all().get().get(tp).offset(), "latest");
            ListOffsetsResult.ListOffsetsResultInfo m = a.listOffsets(Map.of(tp, OffsetSpec.maxTimestamp())).all().get().get(tp);
            eq(9L, m.offset(), "maxTimestamp offset");
            eq(base + 9000, m.timestamp(), "maxTimestamp timestamp");
            ListOffsetsResult.ListOffsetsResultInfo f =
                    a.listOffsets(Map.of(tp, OffsetSpec.forTimestamp(base + 2500))).all().get().get(tp);
            eq(3L, f.offset(), "forTimestamp(base+2.5s) offset");
            eq(base + 3000, f.timestamp(), "forTimestamp(base+2.5s) timestamp");
            ListOffsetsResult.ListOffsetsResultInfo none =
                    a.listOffsets(Map.of(tp, OffsetSpec.forTimestamp(base + 100000))).all().get().get(tp);
            eq(-1L, none.offset(), "forTimestamp past the last record");
        }
    }

    static void deleteRecords(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String t = ctx.topic(a, "delete-records", 1);
            TopicPartition tp = new TopicPartition(t, 0);
            produceTimed(ctx, t, 10, System.currentTimeMillis());
            long low = a.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(5))).lowWatermarks().get(tp).get()
                    .lowWatermark();
            eq(5L, low, "low watermark after deleteRecords(5)");
            eq(5L, a.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get().get(tp).offset(), "earliest after deleteRecords");
            List<ConsumerRecord<byte[], byte[]>> got = ctx.readAll(t, 0, 5);
            check(!got.isEmpty(), "nothing read after deleteRecords");
            eq(5L, got.get(0).offset(), "first offset read after deleteRecords");
            expectFailure(OffsetOutOfRangeException.class,
                    () -> a.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(1000))).all().get(),
                    "deleteRecords beyond the high watermark");
            // -1 means "up to the high watermark"
            eq(10L, a.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(-1))).lowWatermarks().get(tp).get()
                    .lowWatermark(), "low watermark after deleteRecords(-1)");
        }
    }

    static void describeLogDirs(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String t = ctx.topic(a, "logdirs", 2);
            ctx.produce(t, 0, 10);
            int node = a.describeTopics(List.of(t)).allTopicNames().get().get(t).partitions().get(0).leader().id();
            Map<Integer, Map<String, LogDirDescription>> all = a.describeLogDirs(List.of(node)).allDescriptions().get();
            Map<String, LogDirDescription> dirs = must(all, node, "describeLogDirs");
            check(!dirs.isEmpty(), "no log dirs");
            ReplicaInfo found = null;
            for (LogDirDescription d : dirs.values()) {
                check(d.error() == null, "log dir error " + d.error());
                ReplicaInfo ri = d.replicaInfos().get(new TopicPartition(t, 0));
                if (ri != null) {
                    found = ri;
                }
            }
            check(found != null, t + "-0 not in any log dir");
            check(found.size() > 0, t + "-0 has size 0 after 11 records");
            check(!found.isFuture(), "replica reported as future");
        }
    }

    static void groups(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String t = ctx.topic(a, "groups", 2);
            ctx.produce(t, 0, 4);
            ctx.produce(t, 1, 4);
            String g = ctx.name("group");
            try (KafkaConsumer<byte[], byte[]> c = ctx.consumer("group.id", g)) {
                c.subscribe(List.of(t));
                var got = Ctx.pollAtLeast(c, 10, 30000);
                eq(10, got.size(), "records consumed");
                c.commitSync();
                // while the member is in the group: describe shows it, delete is refused
                ConsumerGroupDescription d = a.describeConsumerGroups(List.of(g)).all().get().get(g);
                eq(1, d.members().size(), "members while consuming");
                eq(ConsumerGroupState.STABLE, d.state(), "state while consuming");
                check(d.coordinator() != null, "no coordinator");
                expectFailure(GroupNotEmptyException.class,
                        () -> a.deleteConsumerGroups(List.of(g)).all().get(), "delete a group with a member");
            }
            Collection<ConsumerGroupListing> listed = a.listConsumerGroups().all().get();
            check(listed.stream().anyMatch(l -> l.groupId().equals(g)), "listConsumerGroups lacks " + g);
            ConsumerGroupDescription d = a.describeConsumerGroups(List.of(g)).all().get().get(g);
            eq(ConsumerGroupState.EMPTY, d.state(), "state after close");
            eq(0, d.members().size(), "members after close");

            TopicPartition p0 = new TopicPartition(t, 0);
            TopicPartition p1 = new TopicPartition(t, 1);
            Map<TopicPartition, OffsetAndMetadata> offs =
                    a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get();
            eq(5L, must(offs, p0, "committed offsets").offset(), "committed offset p0");
            eq(5L, must(offs, p1, "committed offsets").offset(), "committed offset p1");

            a.alterConsumerGroupOffsets(g, Map.of(p0, new OffsetAndMetadata(2, "meta"))).all().get();
            offs = a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get();
            eq(2L, offs.get(p0).offset(), "p0 after alterConsumerGroupOffsets");
            eq("meta", offs.get(p0).metadata(), "p0 metadata after alterConsumerGroupOffsets");

            a.deleteConsumerGroupOffsets(g, Set.of(p1)).all().get();
            offs = a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get();
            check(!offs.containsKey(p1) || offs.get(p1) == null, "p1 still committed after deleteConsumerGroupOffsets: " + offs);
            check(offs.get(p0) != null, "p0 lost by deleteConsumerGroupOffsets(p1)");

            a.deleteConsumerGroups(List.of(g)).all().get();
            listed = a.listConsumerGroups().all().get();
            check(listed.stream().noneMatch(l -> l.groupId().equals(g)), "group still listed after delete");
        }
    }

    static void deleteTopics(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String t = ctx.topic(a, "delete", 2);
            ctx.produce(t, 0, 3);
            a.deleteTopics(List.of(t)).all().get();
            long deadline = System.currentTimeMillis() + 10000;
            while (a.listTopics().names().get().contains(t) && System.currentTimeMillis() < deadline) {
                Thread.sleep(200);
            }
            check(!a.listTopics().names().get().contains(t), "topic still listed after delete");
            expectFailure(UnknownTopicOrPartitionException.class,
                    () -> a.deleteTopics(List.of(ctx.name("no-such-topic"))).all().get(), "delete unknown topic");
        }
    }

    static void scram(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String user = ctx.name("user");
            a.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(user,
                    new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192), "secret"))).all().get();
            UserScramCredentialsDescription d = null;
            long until = System.currentTimeMillis() + 10000;
            while (d == null) {
                try {
                    d = a.describeUserScramCredentials(List.of(user)).all().get().get(user);
                } catch (java.util.concurrent.ExecutionException e) {
                    if (!(e.getCause() instanceof ResourceNotFoundException) || System.currentTimeMillis() > until) {
                        throw e;
                    }
                    Thread.sleep(200);
                }
            }
            check(d != null, "user not described");
            eq(1, d.credentialInfos().size(), "credential count");
            eq(ScramMechanism.SCRAM_SHA_256, d.credentialInfos().get(0).mechanism(), "mechanism");
            eq(8192, d.credentialInfos().get(0).iterations(), "iterations");
            a.alterUserScramCredentials(List.of(new UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_256)))
                    .all().get();
            // Kafka applies the deletion through its metadata log: the describe may see it late.
            // Gone means ResourceNotFoundException or an empty credential list.
            long deadline = System.currentTimeMillis() + 10000;
            while (true) {
                try {
                    var left = a.describeUserScramCredentials(List.of(user)).all().get().get(user);
                    // Kafka 4.2 answers a user whose last credential went with no credentials.
                    if (left == null || left.credentialInfos().isEmpty()) {
                        break;
                    }
                    if (System.currentTimeMillis() > deadline) {
                        throw new AssertionError("deleted user still described: " + left);
                    }
                    Thread.sleep(200);
                } catch (java.util.concurrent.ExecutionException e) {
                    check(e.getCause() instanceof ResourceNotFoundException,
                            "describe a deleted user: expected ResourceNotFoundException, got " + Smoke.describe(e));
                    break;
                }
            }
        }
    }

    static void acls(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String t = ctx.name("acl-topic");
            String principal = "User:" + ctx.name("principal");
            AclBinding lit = new AclBinding(new ResourcePattern(ResourceType.TOPIC, t, PatternType.LITERAL),
                    new AccessControlEntry(principal, "*", AclOperation.READ, AclPermissionType.ALLOW));
            AclBinding pre = new AclBinding(new ResourcePattern(ResourceType.GROUP, ctx.run, PatternType.PREFIXED),
                    new AccessControlEntry(principal, "*", AclOperation.READ, AclPermissionType.ALLOW));
            AclBinding deny = new AclBinding(new ResourcePattern(ResourceType.TOPIC, t, PatternType.LITERAL),
                    new AccessControlEntry(principal, "127.0.0.2", AclOperation.WRITE, AclPermissionType.DENY));
            a.createAcls(List.of(lit, pre, deny)).all().get();
            AclBindingFilter byPrincipal = new AclBindingFilter(ResourcePatternFilter.ANY,
                    new AccessControlEntryFilter(principal, null, AclOperation.ANY, AclPermissionType.ANY));
            Collection<AclBinding> found = List.of();
            long deadline = System.currentTimeMillis() + 10000;
            while (System.currentTimeMillis() < deadline) {
                found = a.describeAcls(byPrincipal).values().get();
                if (found.size() == 3) {
                    break;
                }
                Thread.sleep(200);
            }
            eq(Set.of(lit, pre, deny), Set.copyOf(found), "describeAcls by principal");
            AclBindingFilter topicOnly = new AclBindingFilter(
                    new ResourcePatternFilter(ResourceType.TOPIC, t, PatternType.LITERAL), AccessControlEntryFilter.ANY);
            eq(2, a.describeAcls(topicOnly).values().get().size(), "describeAcls on the topic");
            // MATCH: the prefixed group ACL applies to a group named under the prefix
            AclBindingFilter match = new AclBindingFilter(
                    new ResourcePatternFilter(ResourceType.GROUP, ctx.run + "-g", PatternType.MATCH),
                    AccessControlEntryFilter.ANY);
            check(a.describeAcls(match).values().get().contains(pre), "MATCH filter misses the prefixed ACL");

            Collection<AclBinding> deleted = a.deleteAcls(List.of(topicOnly)).all().get();
            eq(Set.of(lit, deny), Set.copyOf(deleted), "deleteAcls on the topic");
            a.deleteAcls(List.of(byPrincipal)).all().get();
            deadline = System.currentTimeMillis() + 10000;
            while (System.currentTimeMillis() < deadline) {
                found = a.describeAcls(byPrincipal).values().get();
                if (found.isEmpty()) {
                    break;
                }
                Thread.sleep(200);
            }
            eq(0, found.size(), "ACLs left after deleteAcls");
        }
    }

    private AdminChecks() {}
}
