package weir.compat;

import static weir.compat.Ctx.bytes;
import static weir.compat.Ctx.check;
import static weir.compat.Ctx.eq;
import static weir.compat.Ctx.str;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;

/**
 * Transactions: commit and abort seen through read_committed and read_uncommitted consumers,
 * the last stable offset, consume-transform-produce, fencing, and the admin APIs that describe
 * transactions and producers. With a 4.x client and a broker that finalizes
 * transaction.version=2 these run transactions v2 (KIP-890).
 */
final class TxnChecks {
    static void register(List<Smoke.Check> checks) {
        checks.add(new Smoke.Check("txn commit + abort, read_committed vs read_uncommitted, LSO", true, 90,
                TxnChecks::commitAbort));
        checks.add(new Smoke.Check("txn consume-transform-produce (sendOffsetsToTransaction)", true, 90,
                TxnChecks::consumeTransformProduce));
        checks.add(new Smoke.Check("txn fencing by a second producer with the same transactional.id", false, 90,
                TxnChecks::fencing));
        checks.add(new Smoke.Check("admin listTransactions / describeTransactions / describeProducers", false, 90,
                TxnChecks::adminTransactions));
    }

    static KafkaProducer<byte[], byte[]> txProducer(Ctx ctx, String id) {
        KafkaProducer<byte[], byte[]> p = ctx.producer(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id,
                ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.initTransactions();
        return p;
    }

    static void sendTxn(KafkaProducer<byte[], byte[]> p, String t, String prefix, int n, boolean commit)
            throws Exception {
        p.beginTransaction();
        for (int i = 0; i < n; i++) {
            p.send(new ProducerRecord<>(t, 0, null, bytes(prefix + i)));
        }
        p.flush();
        if (commit) {
            p.commitTransaction();
        } else {
            p.abortTransaction();
        }
    }

    static List<String> values(List<ConsumerRecord<byte[], byte[]>> rs) {
        List<String> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : rs) {
            out.add(str(r.value()));
        }
        return out;
    }

    static void commitAbort(Ctx ctx) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "txn", 1);
        }
        TopicPartition tp = new TopicPartition(t, 0);
        try (KafkaProducer<byte[], byte[]> p = txProducer(ctx, ctx.name("txid"))) {
            sendTxn(p, t, "c1-", 5, true);
            sendTxn(p, t, "a-", 5, false);
            sendTxn(p, t, "c2-", 5, true);

            List<String> committed = values(ctx.readAll(t, 0, 10, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"));
            List<String> want = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                want.add("c1-" + i);
            }
            for (int i = 0; i < 5; i++) {
                want.add("c2-" + i);
            }
            eq(want, committed, "read_committed values");
            // control records take offsets too: 15 data records + 3 markers
            List<ConsumerRecord<byte[], byte[]>> all = ctx.readAll(t, 0, 15, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
            eq(15, all.size(), "read_uncommitted record count");
            eq("a-0", str(all.get(5).value()), "aborted records visible to read_uncommitted");
            eq(6L, all.get(5).offset(), "offset after the first commit marker");

            // An open transaction holds the last stable offset back for read_committed.
            p.beginTransaction();
            p.send(new ProducerRecord<>(t, 0, null, bytes("open"))).get();
            try (KafkaConsumer<byte[], byte[]> rc = ctx.consumer(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
                    KafkaConsumer<byte[], byte[]> ru = ctx.consumer(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted")) {
                long lso = rc.endOffsets(List.of(tp)).get(tp);
                long hw = ru.endOffsets(List.of(tp)).get(tp);
                eq(18L, lso, "read_committed end offset (LSO) with a transaction open");
                eq(19L, hw, "read_uncommitted end offset (high watermark)");
                rc.assign(List.of(tp));
                rc.seek(tp, 17);
                List<ConsumerRecord<byte[], byte[]>> none = Ctx.pollAtLeast(rc, 1, 1500);
                eq(0, none.size(), "read_committed records past the LSO");
                p.commitTransaction();
                List<ConsumerRecord<byte[], byte[]>> open = Ctx.pollAtLeast(rc, 1, 15000);
                eq(List.of("open"), values(open), "read_committed after the commit");
            }
        }
    }

    static void consumeTransformProduce(Ctx ctx) throws Exception {
        String in;
        String out;
        try (Admin a = ctx.admin()) {
            in = ctx.topic(a, "ctp-in", 1);
            out = ctx.topic(a, "ctp-out", 1);
        }
        ctx.produce(in, 0, 9); // 10 records: k0..k8 + "last"
        String g = ctx.name("ctp-group");
        TopicPartition inTp = new TopicPartition(in, 0);
        try (KafkaProducer<byte[], byte[]> p = txProducer(ctx, ctx.name("ctp-txid"));
                KafkaConsumer<byte[], byte[]> c = ctx.consumer("group.id", g,
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed")) {
            c.subscribe(List.of(in));
            List<ConsumerRecord<byte[], byte[]>> got = Ctx.pollAtLeast(c, 10, 30000);
            eq(10, got.size(), "input records");
            // first batch aborted: neither the output nor the offsets may stick
            p.beginTransaction();
            for (ConsumerRecord<byte[], byte[]> r : got.subList(0, 5)) {
                p.send(new ProducerRecord<>(out, 0, r.key(), bytes("aborted:" + str(r.value()))));
            }
            p.sendOffsetsToTransaction(Map.of(inTp, new OffsetAndMetadata(5)), c.groupMetadata());
            p.abortTransaction();
            try (Admin a = ctx.admin()) {
                Map<TopicPartition, OffsetAndMetadata> offs = a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get();
                check(offs.get(inTp) == null, "aborted sendOffsetsToTransaction committed " + offs.get(inTp));
            }
            p.beginTransaction();
            for (ConsumerRecord<byte[], byte[]> r : got) {
                p.send(new ProducerRecord<>(out, 0, r.key(), bytes("t:" + str(r.value()))));
            }
            p.sendOffsetsToTransaction(Map.of(inTp, new OffsetAndMetadata(10)), c.groupMetadata());
            p.commitTransaction();
            try (Admin a = ctx.admin()) {
                Map<TopicPartition, OffsetAndMetadata> offs = a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get();
                check(offs.get(inTp) != null, "no committed offset after the transaction");
                eq(10L, offs.get(inTp).offset(), "committed offset");
            }
        }
        List<String> outVals = values(ctx.readAll(out, 0, 10, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"));
        eq(10, outVals.size(), "committed output records");
        check(outVals.stream().allMatch(v -> v.startsWith("t:")), "aborted output visible: " + outVals);
    }

    static void fencing(Ctx ctx) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "fence", 1);
        }
        String id = ctx.name("fence-txid");
        try (KafkaProducer<byte[], byte[]> p1 = txProducer(ctx, id)) {
            sendTxn(p1, t, "p1-", 2, true);
            p1.beginTransaction();
            p1.send(new ProducerRecord<>(t, 0, null, bytes("zombie"))).get();
            try (KafkaProducer<byte[], byte[]> p2 = txProducer(ctx, id)) {
                // p2's InitProducerId aborted p1's open transaction and bumped the epoch.
                KafkaException e = Ctx.expectFailure(KafkaException.class, () -> {
                    p1.send(new ProducerRecord<>(t, 0, null, bytes("zombie2"))).get();
                    p1.commitTransaction();
                }, "the fenced producer's send + commit");
                Throwable cur = e;
                boolean fenced = false;
                while (cur != null) {
                    fenced |= cur instanceof ProducerFencedException || cur instanceof InvalidProducerEpochException;
                    cur = cur.getCause() == cur ? null : cur.getCause();
                }
                check(fenced, "expected ProducerFencedException / InvalidProducerEpochException, got " + Smoke.describe(e));
                sendTxn(p2, t, "p2-", 2, true);
            }
        }
        List<String> vals = values(ctx.readAll(t, 0, 4, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"));
        eq(List.of("p1-0", "p1-1", "p2-0", "p2-1"), vals, "committed records");
    }

    static void adminTransactions(Ctx ctx) throws Exception {
        try (Admin a = ctx.admin()) {
            String t = ctx.topic(a, "txn-admin", 1);
            TopicPartition tp = new TopicPartition(t, 0);
            String id = ctx.name("admin-txid");
            try (KafkaProducer<byte[], byte[]> p = txProducer(ctx, id)) {
                p.beginTransaction();
                p.send(new ProducerRecord<>(t, 0, null, bytes("x"))).get();
                TransactionDescription d = a.describeTransactions(List.of(id)).description(id).get();
                eq(TransactionState.ONGOING, d.state(), "state of an open transaction");
                check(d.topicPartitions().contains(tp), "open transaction lacks " + tp + ": " + d.topicPartitions());
                check(d.producerId() >= 0, "producer id");
                check(d.transactionStartTimeMs().isPresent(), "no start time for an open transaction");
                List<ProducerState> ps = a.describeProducers(List.of(tp)).partitionResult(tp).get().activeProducers();
                eq(1, ps.size(), "active producers");
                eq(d.producerId(), ps.get(0).producerId(), "producer id in describeProducers");
                eq(0, ps.get(0).lastSequence(), "last sequence");
                check(ps.get(0).currentTransactionStartOffset().isPresent()
                                && ps.get(0).currentTransactionStartOffset().getAsLong() == 0L,
                        "current transaction start offset: " + ps.get(0).currentTransactionStartOffset());
                Collection<TransactionListing> ongoing = a.listTransactions(
                        new org.apache.kafka.clients.admin.ListTransactionsOptions()
                                .filterStates(List.of(TransactionState.ONGOING))).all().get();
                check(ongoing.stream().anyMatch(l -> l.transactionalId().equals(id)), "listTransactions(ONGOING) lacks " + id);
                p.commitTransaction();

                long deadline = System.currentTimeMillis() + 10000;
                while (System.currentTimeMillis() < deadline) {
                    d = a.describeTransactions(List.of(id)).description(id).get();
                    if (d.state() == TransactionState.COMPLETE_COMMIT) {
                        break;
                    }
                    Thread.sleep(100);
                }
                eq(TransactionState.COMPLETE_COMMIT, d.state(), "state after commit");
                check(d.topicPartitions().isEmpty(), "partitions after commit: " + d.topicPartitions());
                Map<String, TransactionListing> all = new HashMap<>();
                for (TransactionListing l : a.listTransactions().all().get()) {
                    all.put(l.transactionalId(), l);
                }
                check(all.containsKey(id), "listTransactions lacks " + id);
                eq(TransactionState.COMPLETE_COMMIT, all.get(id).state(), "listed state");
                ps = a.describeProducers(List.of(tp)).partitionResult(tp).get().activeProducers();
                check(ps.get(0).currentTransactionStartOffset().isEmpty(),
                        "transaction start offset after commit: " + ps.get(0).currentTransactionStartOffset());
            }
        }
    }

    private TxnChecks() {}
}
