package weir.compat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** What every check gets: client factories with the run's settings, names, and assertions. */
final class Ctx {
    final String bootstrap;
    final Properties security;
    final String clientVersion;
    /** Prefix of every topic, group and transactional id this run creates. */
    final String run;
    private int seq;
    private final List<AutoCloseable> open = Collections.synchronizedList(new ArrayList<>());

    Ctx(String bootstrap, Properties security, String clientVersion, String run) {
        this.bootstrap = bootstrap;
        this.security = security;
        this.clientVersion = clientVersion;
        this.run = run;
    }

    /** A fresh name for a topic / group / transactional id. */
    synchronized String name(String what) {
        return run + "-" + what + "-" + (++seq);
    }

    /** The client's major.minor as a number: 3.6 -> 306, 4.4 -> 404. */
    int clientVersionNumber() {
        String[] p = clientVersion.split("[.-]");
        return Integer.parseInt(p[0]) * 100 + Integer.parseInt(p[1]);
    }

    private Properties base() {
        Properties p = new Properties();
        p.putAll(security);
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return p;
    }

    Admin admin() {
        Properties p = base();
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        return track(Admin.create(p));
    }

    KafkaProducer<byte[], byte[]> producer(Object... kv) {
        Properties p = base();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30000);
        put(p, kv);
        return track(new KafkaProducer<>(p));
    }

    KafkaConsumer<byte[], byte[]> consumer(Object... kv) {
        Properties p = base();
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        put(p, kv);
        return track(new KafkaConsumer<>(p));
    }

    private static void put(Properties p, Object[] kv) {
        for (int i = 0; i + 1 < kv.length; i += 2) {
            if (kv[i + 1] == null) {
                p.remove(kv[i]);
            } else {
                p.put(kv[i], kv[i + 1]);
            }
        }
    }

    private <T extends AutoCloseable> T track(T c) {
        open.add(c);
        return c;
    }

    /** Closes what a check left open (a failed or timed-out check skips its own close). */
    void closeLeftovers() {
        List<AutoCloseable> all;
        synchronized (open) {
            all = new ArrayList<>(open);
            open.clear();
        }
        for (AutoCloseable c : all) {
            try {
                if (c instanceof KafkaProducer<?, ?> pr) {
                    pr.close(Duration.ofSeconds(2));
                } else if (c instanceof KafkaConsumer<?, ?> co) {
                    co.close(Duration.ofSeconds(2));
                } else if (c instanceof Admin a) {
                    a.close(Duration.ofSeconds(2));
                } else {
                    c.close();
                }
            } catch (Exception ignored) {
                // closing on the way out: the check's own outcome is what is reported
            }
        }
    }

    /** Creates a topic with the broker's default replication factor and waits until it is usable. */
    String topic(Admin admin, String what, int partitions) throws Exception {
        String t = name(what);
        admin.createTopics(List.of(new NewTopic(t, partitions, (short) -1))).all().get();
        awaitLeaders(admin, t, partitions);
        return t;
    }

    /**
     * Apache Kafka answers CreateTopics once the controller has committed the topic; the
     * leader's replica manager takes over the partitions a moment later and answers
     * NOT_LEADER_OR_FOLLOWER until then. The Java idempotent producer can wedge on that (one
     * in-flight batch refused, the next ones accepted, then OUT_OF_ORDER_SEQUENCE_NUMBER
     * retried until delivery.timeout.ms). ListOffsets is answered by the leader's replica
     * manager and retried by the admin client, so its success means every partition is led.
     */
    static void awaitLeaders(Admin admin, String topic, int partitions) throws Exception {
        Map<TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> q = new java.util.HashMap<>();
        for (int p = 0; p < partitions; p++) {
            q.put(new TopicPartition(topic, p), org.apache.kafka.clients.admin.OffsetSpec.latest());
        }
        // Older admin clients (3.6) do not retry a topic their metadata does not list yet.
        long deadline = System.currentTimeMillis() + 15000;
        while (true) {
            try {
                admin.listOffsets(q).all().get();
                return;
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException)
                        || System.currentTimeMillis() > deadline) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    /** Sends count records "v0".."v(count-1)" to one partition and waits for every ack. */
    void produce(String topic, int partition, int count) throws Exception {
        try (KafkaProducer<byte[], byte[]> p = producer(ProducerConfig.ACKS_CONFIG, "all")) {
            for (int i = 0; i < count; i++) {
                p.send(new ProducerRecord<>(topic, partition, bytes("k" + i), bytes("v" + i)));
            }
            p.flush();
            // a failed send would surface here
            p.send(new ProducerRecord<>(topic, partition, null, bytes("last"))).get();
        }
    }

    /** Polls an assigned/subscribed consumer until it has at least n records or the time is up. */
    static List<ConsumerRecord<byte[], byte[]>> pollAtLeast(KafkaConsumer<byte[], byte[]> c, int n, long ms) {
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + ms;
        while (got.size() < n && System.currentTimeMillis() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                got.add(r);
            }
        }
        return got;
    }

    /** Reads partition p of topic from offset 0 with a fresh assigned consumer. */
    List<ConsumerRecord<byte[], byte[]>> readAll(String topic, int partition, int n, Object... kv) {
        try (KafkaConsumer<byte[], byte[]> c = consumer(kv)) {
            TopicPartition tp = new TopicPartition(topic, partition);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            return pollAtLeast(c, n, 20000);
        }
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String str(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static void check(boolean cond, String what) {
        if (!cond) {
            throw new AssertionError(what);
        }
    }

    static void eq(Object expected, Object actual, String what) {
        if (!Objects.equals(expected, actual)) {
            throw new AssertionError(what + ": expected " + expected + ", got " + actual);
        }
    }

    /** Runs f, which must fail with (a cause of) type want; returns that exception. */
    static <E extends Throwable> E expectFailure(Class<E> want, ThrowingRunnable f, String what) {
        try {
            f.run();
        } catch (Throwable t) {
            Throwable cur = t;
            while (cur != null) {
                if (want.isInstance(cur)) {
                    return want.cast(cur);
                }
                if (cur.getCause() == cur) {
                    break;
                }
                cur = cur.getCause();
            }
            throw new AssertionError(what + ": expected " + want.getSimpleName() + ", got " + Smoke.describe(t), t);
        }
        throw new AssertionError(what + ": expected " + want.getSimpleName() + ", but it succeeded");
    }

    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws Exception;
    }

    static <T> T get(org.apache.kafka.common.KafkaFuture<T> f) throws InterruptedException, ExecutionException {
        return f.get();
    }

    static <T> boolean containsAll(Collection<T> have, Collection<T> want) {
        return have.containsAll(want);
    }

    static <K, V> V must(Map<K, V> m, K k, String what) {
        V v = m.get(k);
        if (v == null) {
            throw new AssertionError(what + ": no entry for " + k + " in " + m.keySet());
        }
        return v;
    }
}
