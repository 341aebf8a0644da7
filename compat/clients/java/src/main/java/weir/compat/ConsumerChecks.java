package weir.compat;

import static weir.compat.Ctx.check;
import static weir.compat.Ctx.eq;
import static weir.compat.Ctx.expectFailure;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

/**
 * Consumer: groups with the classic protocol (subscribe, commit and resume, a rebalance between
 * two members with an eager and a cooperative assignor) and with the KIP-848 consumer protocol
 * (group.protocol=consumer), plus assign/seek, offsetsForTimes and out-of-range handling.
 */
final class ConsumerChecks {
    static void register(List<Smoke.Check> checks) {
        checks.add(new Smoke.Check("consumer classic: subscribe, commit, resume from committed", true, 90,
                ctx -> subscribeCommitResume(ctx, "classic")));
        checks.add(new Smoke.Check("consumer classic: rebalance 2 members (range)", true, 120,
                ctx -> rebalance(ctx, "classic", "org.apache.kafka.clients.consumer.RangeAssignor")));
        checks.add(new Smoke.Check("consumer classic: rebalance 2 members (cooperative-sticky)", false, 120,
                ctx -> rebalance(ctx, "classic", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor")));
        checks.add(new Smoke.Check("consumer assign + seek, beginning/end offsets, position", true, 60,
                ConsumerChecks::seek));
        checks.add(new Smoke.Check("consumer offsetsForTimes", false, 60, ConsumerChecks::offsetsForTimes));
        checks.add(new Smoke.Check("consumer out-of-range fetch with auto.offset.reset=none", false, 60,
                ConsumerChecks::outOfRange));
        checks.add(new Smoke.Check("consumer group.protocol=consumer (KIP-848): subscribe, commit, resume", true, 120,
                ctx -> subscribeCommitResume(ctx, "consumer")));
        checks.add(new Smoke.Check("consumer group.protocol=consumer (KIP-848): rebalance 2 members", false, 150,
                ctx -> rebalance(ctx, "consumer", null)));
    }

    /** The settings of a group member with the given protocol. */
    static Object[] groupProps(Ctx ctx, String protocol, String group, String assignor) {
        List<Object> kv = new ArrayList<>(List.of("group.id", group));
        if (protocol.equals("consumer")) {
            // The KIP-848 protocol is production-ready from client 4.0 (early access in 3.7).
            if (ctx.clientVersionNumber() < 400) {
                throw new Smoke.Skip("group.protocol=consumer needs kafka-clients 4.0+, this is " + ctx.clientVersion);
            }
            kv.addAll(List.of("group.protocol", "consumer"));
        } else {
            if (ctx.clientVersionNumber() >= 307) {
                kv.addAll(List.of("group.protocol", "classic"));
            }
            if (assignor != null) {
                kv.addAll(List.of(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, assignor));
            }
        }
        return kv.toArray();
    }

    static void subscribeCommitResume(Ctx ctx, String protocol) throws Exception {
        String t;
        String g = ctx.name("group-" + protocol);
        Object[] props = groupProps(ctx, protocol, g, null);
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "sub-" + protocol, 2);
        }
        ctx.produce(t, 0, 5);
        ctx.produce(t, 1, 5);
        try (KafkaConsumer<byte[], byte[]> c = ctx.consumer(props)) {
            c.subscribe(List.of(t));
            List<ConsumerRecord<byte[], byte[]>> got = Ctx.pollAtLeast(c, 12, 60000);
            eq(12, got.size(), "records consumed");
            c.commitSync();
            TopicPartition p0 = new TopicPartition(t, 0);
            Map<TopicPartition, OffsetAndMetadata> committed = c.committed(Set.of(p0));
            check(committed.get(p0) != null, "nothing committed for " + p0);
            eq(6L, committed.get(p0).offset(), "committed offset of " + p0);
            if (protocol.equals("consumer")) {
                try (Admin a = ctx.admin()) {
                    ConsumerGroupDescription d = a.describeConsumerGroups(List.of(g)).all().get().get(g);
                    eq(1, d.members().size(), "members");
                    eq("CONSUMER", groupType(d), "group type");
                }
            }
        }
        ctx.produce(t, 0, 3);
        try (KafkaConsumer<byte[], byte[]> c = ctx.consumer(props)) {
            c.subscribe(List.of(t));
            List<ConsumerRecord<byte[], byte[]>> got = Ctx.pollAtLeast(c, 4, 60000);
            eq(4, got.size(), "records after resuming");
            eq(6L, got.get(0).offset(), "first offset after resuming");
            // nothing else may arrive: everything before was committed
            eq(0, Ctx.pollAtLeast(c, 1, 1500).size(), "extra records after resuming");
        }
    }

    /** ConsumerGroupDescription.type() (3.7+) by reflection, so this compiles against 3.6 too. */
    static String groupType(ConsumerGroupDescription d) throws Exception {
        Method m = d.getClass().getMethod("type");
        return String.valueOf(m.invoke(d)).toUpperCase();
    }

    /** A group member polling on its own thread, recording its assignment after every poll. */
    static final class Member implements Runnable {
        final KafkaConsumer<byte[], byte[]> c;
        final String topic;
        volatile Set<TopicPartition> assigned = Set.of();
        volatile boolean stop;
        volatile Throwable error;
        final AtomicInteger records = new AtomicInteger();
        final Thread thread;

        Member(Ctx ctx, String topic, Object[] props, String name) {
            this.c = ctx.consumer(props);
            this.topic = topic;
            this.thread = new Thread(this, name);
            this.thread.setDaemon(true);
            this.thread.start();
        }

        @Override
        public void run() {
            try {
                c.subscribe(List.of(topic));
                while (!stop) {
                    ConsumerRecords<byte[], byte[]> rs = c.poll(Duration.ofMillis(100));
                    records.addAndGet(rs.count());
                    if (!rs.isEmpty()) {
                        c.commitSync();
                    }
                    assigned = Set.copyOf(c.assignment());
                }
            } catch (WakeupException e) {
                // stop() woke it
            } catch (Throwable e) {
                error = e;
            } finally {
                c.close(Duration.ofSeconds(10));
            }
        }

        void stopAndJoin() throws InterruptedException {
            stop = true;
            c.wakeup();
            thread.join(20000);
        }
    }

    static void rebalance(Ctx ctx, String protocol, String assignor) throws Exception {
        String t;
        String g = ctx.name("rebalance-" + protocol);
        Object[] props = groupProps(ctx, protocol, g, assignor);
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "rebalance-" + protocol, 4);
        }
        Set<TopicPartition> all = new HashSet<>();
        for (int p = 0; p < 4; p++) {
            all.add(new TopicPartition(t, p));
            ctx.produce(t, p, 4); // 5 records each
        }
        Member m1 = new Member(ctx, t, props, "member-1");
        Member m2 = null;
        try {
            waitFor(() -> m1.assigned.equals(all), 60000, () -> "member 1 alone got " + m1.assigned, m1);
            m2 = new Member(ctx, t, props, "member-2");
            Member m2f = m2;
            waitFor(() -> m1.assigned.size() == 2 && m2f.assigned.size() == 2
                            && union(m1.assigned, m2f.assigned).equals(all),
                    90000, () -> "two members: " + m1.assigned + " / " + m2f.assigned, m1, m2f);
            waitFor(() -> m1.records.get() + m2f.records.get() >= 20, 30000,
                    () -> "records consumed by both: " + (m1.records.get() + m2f.records.get()), m1, m2f);
            m2.stopAndJoin();
            check(m2.error == null, "member 2 failed: " + (m2.error == null ? "" : Smoke.describe(m2.error)));
            waitFor(() -> m1.assigned.equals(all), 90000, () -> "member 1 after member 2 left: " + m1.assigned, m1);
            eq(20, m1.records.get() + m2.records.get(), "records consumed by the group");
        } finally {
            m1.stopAndJoin();
            if (m2 != null) {
                m2.stopAndJoin();
            }
        }
        check(m1.error == null, "member 1 failed: " + (m1.error == null ? "" : Smoke.describe(m1.error)));
        try (Admin a = ctx.admin()) {
            Map<TopicPartition, OffsetAndMetadata> offs = a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get();
            for (TopicPartition tp : all) {
                check(offs.get(tp) != null, "no committed offset for " + tp);
                eq(5L, offs.get(tp).offset(), "committed offset for " + tp);
            }
        }
    }

    static Set<TopicPartition> union(Set<TopicPartition> a, Set<TopicPartition> b) {
        Set<TopicPartition> u = new HashSet<>(a);
        u.addAll(b);
        return u;
    }

    interface Cond {
        boolean ok();
    }

    interface Msg {
        String get();
    }

    static void waitFor(Cond cond, long ms, Msg msg, Member... members) throws InterruptedException {
        long deadline = System.currentTimeMillis() + ms;
        while (!cond.ok()) {
            for (Member m : members) {
                if (m.error != null) {
                    throw new AssertionError(m.thread.getName() + " failed: " + Smoke.describe(m.error), m.error);
                }
            }
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("timed out: " + msg.get());
            }
            Thread.sleep(100);
        }
    }

    static void seek(Ctx ctx) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "seek", 1);
        }
        ctx.produce(t, 0, 9); // offsets 0..9
        TopicPartition tp = new TopicPartition(t, 0);
        try (KafkaConsumer<byte[], byte[]> c = ctx.consumer()) {
            c.assign(List.of(tp));
            eq(0L, c.beginningOffsets(List.of(tp)).get(tp), "beginning offset");
            eq(10L, c.endOffsets(List.of(tp)).get(tp), "end offset");
            c.seek(tp, 5);
            List<ConsumerRecord<byte[], byte[]>> got = Ctx.pollAtLeast(c, 5, 20000);
            eq(5L, got.get(0).offset(), "first offset after seek(5)");
            eq("v5", Ctx.str(got.get(0).value()), "value at offset 5");
            eq(10L, c.position(tp), "position after reading to the end");
            c.seekToBeginning(List.of(tp));
            eq(0L, c.position(tp), "position after seekToBeginning");
            c.seekToEnd(List.of(tp));
            eq(10L, c.position(tp), "position after seekToEnd");
            c.seek(tp, 9);
            got = Ctx.pollAtLeast(c, 1, 20000);
            eq(9L, got.get(0).offset(), "offset after seek(9)");
        }
    }

    static void offsetsForTimes(Ctx ctx) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "times", 1);
        }
        long base = System.currentTimeMillis() - 60000;
        AdminChecks.produceTimed(ctx, t, 10, base);
        TopicPartition tp = new TopicPartition(t, 0);
        try (KafkaConsumer<byte[], byte[]> c = ctx.consumer()) {
            Map<TopicPartition, OffsetAndTimestamp> r = c.offsetsForTimes(Map.of(tp, base + 2500));
            OffsetAndTimestamp o = r.get(tp);
            check(o != null, "no offset for base+2.5s");
            eq(3L, o.offset(), "offset for base+2.5s");
            eq(base + 3000, o.timestamp(), "timestamp for base+2.5s");
            eq(0L, c.offsetsForTimes(Map.of(tp, 0L)).get(tp).offset(), "offset for timestamp 0");
            eq(null, c.offsetsForTimes(Map.of(tp, base + 100000)).get(tp), "offset past the last timestamp");
        }
    }

    static void outOfRange(Ctx ctx) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "range", 1);
        }
        ctx.produce(t, 0, 4);
        TopicPartition tp = new TopicPartition(t, 0);
        try (KafkaConsumer<byte[], byte[]> c = ctx.consumer(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none")) {
            c.assign(List.of(tp));
            c.seek(tp, 1000);
            OffsetOutOfRangeException e = expectFailure(OffsetOutOfRangeException.class, () -> {
                long deadline = System.currentTimeMillis() + 15000;
                while (System.currentTimeMillis() < deadline) {
                    c.poll(Duration.ofMillis(200));
                }
            }, "poll at offset 1000 of 5");
            eq(1000L, e.offsetOutOfRangePartitions().get(tp), "out-of-range offset reported");
        }
        try (KafkaConsumer<byte[], byte[]> c = ctx.consumer(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest")) {
            c.assign(List.of(tp));
            c.seek(tp, 1000);
            long deadline = System.currentTimeMillis() + 15000;
            while (c.position(tp) != 5L && System.currentTimeMillis() < deadline) {
                c.poll(Duration.ofMillis(200));
            }
            eq(5L, c.position(tp), "position after a reset to latest");
        }
    }

    private ConsumerChecks() {}
}
