package weir.compat;

import static weir.compat.Ctx.bytes;
import static weir.compat.Ctx.check;
import static weir.compat.Ctx.eq;
import static weir.compat.Ctx.expectFailure;

import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.GroupAuthorizationException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * SASL and authorization, for a run over a SASL listener (run.sh's sasl_ssl scenario): a second
 * mechanism, a wrong password, and a user who is not a super user being refused and then
 * allowed by ACLs. The identities come from properties files given to Smoke:
 * {@code --plain-config} (the same user over PLAIN) and {@code --user-config} (a user with no
 * ACLs; needs --acls).
 */
final class SecurityChecks {
    static void register(List<Smoke.Check> checks, String plainConfig, String userConfig, boolean acls) {
        if (plainConfig != null) {
            checks.add(new Smoke.Check("sasl PLAIN login", true, 60, ctx -> plain(ctx, plainConfig)));
        }
        checks.add(new Smoke.Check("sasl wrong password -> SaslAuthenticationException", true, 60,
                SecurityChecks::wrongPassword));
        if (userConfig != null && acls) {
            checks.add(new Smoke.Check("acl: a user without ACLs is refused, then allowed by ACLs", true, 90,
                    ctx -> denyThenAllow(ctx, userConfig)));
        }
    }

    static boolean sasl(Ctx ctx) {
        return ctx.security.getProperty("security.protocol", "PLAINTEXT").startsWith("SASL");
    }

    static Admin adminWith(Ctx ctx, Properties identity) {
        Properties p = new Properties();
        p.putAll(ctx.security);
        p.putAll(identity);
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, ctx.bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20000);
        return Admin.create(p);
    }

    static void plain(Ctx ctx, String path) throws Exception {
        try (Admin a = adminWith(ctx, Smoke.load(path))) {
            check(!a.describeCluster().nodes().get().isEmpty(), "no nodes over PLAIN");
        }
    }

    static void wrongPassword(Ctx ctx) throws Exception {
        if (!sasl(ctx)) {
            throw new Smoke.Skip("not a SASL listener");
        }
        Properties bad = new Properties();
        String jaas = ctx.security.getProperty("sasl.jaas.config");
        check(jaas != null && jaas.contains("password="), "no sasl.jaas.config with a password to spoil");
        bad.put("sasl.jaas.config", jaas.replaceAll("password=\"[^\"]*\"", "password=\"not-the-password\""));
        try (Admin a = adminWith(ctx, bad)) {
            expectFailure(SaslAuthenticationException.class, () -> a.describeCluster().nodes().get(),
                    "describeCluster with a wrong password");
        }
    }

    static void denyThenAllow(Ctx ctx, String path) throws Exception {
        if (!sasl(ctx)) {
            throw new Smoke.Skip("not a SASL listener");
        }
        Properties user = Smoke.load(path);
        String principal = "User:" + user.getProperty("weir.smoke.user");
        user.remove("weir.smoke.user");
        String t;
        String g = ctx.name("acl-group");
        try (Admin su = ctx.admin()) {
            t = ctx.topic(su, "acl-deny", 1);
        }
        Properties pp = new Properties();
        pp.putAll(ctx.security);
        pp.putAll(user);
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, ctx.bootstrap);
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 10000);
        pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 10000);
        pp.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5000);
        pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(pp)) {
            expectFailure(TopicAuthorizationException.class,
                    () -> p.send(new ProducerRecord<>(t, 0, null, bytes("denied"))).get(), "produce without ACLs");
        }
        try (Admin ua = adminWith(ctx, user)) {
            expectFailure(TopicAuthorizationException.class,
                    () -> ua.describeTopics(List.of(t)).allTopicNames().get(), "describeTopics without ACLs");
        }
        try (Admin su = ctx.admin()) {
            su.createAcls(List.of(
                    new AclBinding(new ResourcePattern(ResourceType.TOPIC, t, PatternType.LITERAL),
                            new AccessControlEntry(principal, "*", AclOperation.WRITE, AclPermissionType.ALLOW)),
                    new AclBinding(new ResourcePattern(ResourceType.TOPIC, t, PatternType.LITERAL),
                            new AccessControlEntry(principal, "*", AclOperation.READ, AclPermissionType.ALLOW))))
                    .all().get();
        }
        // Kafka's authorizer learns new ACLs through its metadata log: retry for a while.
        RecordMetadata md = null;
        long deadline = System.currentTimeMillis() + 15000;
        while (md == null) {
            try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(pp)) {
                md = p.send(new ProducerRecord<>(t, 0, null, bytes("allowed"))).get();
            } catch (Exception e) {
                if (System.currentTimeMillis() > deadline) {
                    throw e;
                }
                Thread.sleep(500);
            }
        }
        eq(0L, md.offset(), "offset of the allowed record");
        // READ on the topic (which implies DESCRIBE) but nothing on the group.
        Properties cp = new Properties();
        cp.putAll(ctx.security);
        cp.putAll(user);
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, ctx.bootstrap);
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, g);
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cp)) {
            c.subscribe(List.of(t));
            expectFailure(GroupAuthorizationException.class, () -> {
                long until = System.currentTimeMillis() + 15000;
                while (System.currentTimeMillis() < until) {
                    c.poll(java.time.Duration.ofMillis(200));
                }
            }, "joining a group without a group ACL");
        }
        try (Admin su = ctx.admin()) {
            su.createAcls(List.of(new AclBinding(new ResourcePattern(ResourceType.GROUP, g, PatternType.LITERAL),
                    new AccessControlEntry(principal, "*", AclOperation.READ, AclPermissionType.ALLOW)))).all().get();
        }
        deadline = System.currentTimeMillis() + 30000;
        while (true) {
            try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cp)) {
                c.subscribe(List.of(t));
                var got = Ctx.pollAtLeast(c, 1, 10000);
                eq(1, got.size(), "records read by the user once allowed");
                break;
            } catch (GroupAuthorizationException e) {
                if (System.currentTimeMillis() > deadline) {
                    throw e;
                }
                Thread.sleep(500);
            }
        }
    }

    private SecurityChecks() {}
}
