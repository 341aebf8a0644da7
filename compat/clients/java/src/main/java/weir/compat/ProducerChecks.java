package weir.compat;

import static weir.compat.Ctx.bytes;
import static weir.compat.Ctx.check;
import static weir.compat.Ctx.eq;
import static weir.compat.Ctx.expectFailure;
import static weir.compat.Ctx.str;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;

/** Producer: acks, keys/headers/timestamps read back, every compression type, idempotence. */
final class ProducerChecks {
    static void register(List<Smoke.Check> checks) {
        checks.add(new Smoke.Check("producer acks=all with key, headers, timestamp", true, 60, ProducerChecks::acksAll));
        checks.add(new Smoke.Check("producer acks=0 and acks=1", false, 60, ProducerChecks::acks01));
        for (String codec : List.of("none", "gzip", "snappy", "lz4", "zstd")) {
            checks.add(new Smoke.Check("producer compression.type=" + codec, codec.equals("zstd"), 60,
                    ctx -> compression(ctx, codec)));
        }
        checks.add(new Smoke.Check("producer idempotent (acks=all, 3 partitions, in order, no duplicates)", true, 90,
                ProducerChecks::idempotent));
        checks.add(new Smoke.Check("producer oversized record -> RecordTooLargeException", false, 60,
                ProducerChecks::tooLarge));
    }

    static void acksAll(Ctx ctx) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "acks-all", 1);
        }
        long ts = System.currentTimeMillis() - 5000;
        RecordMetadata md;
        try (KafkaProducer<byte[], byte[]> p = ctx.producer(ProducerConfig.ACKS_CONFIG, "all")) {
            List<Header> headers = List.of(new RecordHeader("h1", bytes("one")), new RecordHeader("h2", null),
                    new RecordHeader("h1", bytes("again")));
            md = p.send(new ProducerRecord<>(t, 0, ts, bytes("key"), bytes("value"), headers)).get();
            p.send(new ProducerRecord<>(t, 0, null, null, bytes("no key"))).get();
            p.send(new ProducerRecord<>(t, 0, bytes("tombstone"), null)).get();
        }
        eq(0L, md.offset(), "offset of the first record");
        eq(ts, md.timestamp(), "timestamp in metadata");
        List<ConsumerRecord<byte[], byte[]>> got = ctx.readAll(t, 0, 3);
        eq(3, got.size(), "records read back");
        ConsumerRecord<byte[], byte[]> r = got.get(0);
        eq("key", str(r.key()), "key");
        eq("value", str(r.value()), "value");
        eq(ts, r.timestamp(), "timestamp");
        eq(TimestampType.CREATE_TIME, r.timestampType(), "timestamp type");
        Header[] hs = r.headers().toArray();
        eq(3, hs.length, "header count");
        eq("h1", hs[0].key(), "header 0 key");
        eq("one", str(hs[0].value()), "header 0 value");
        eq("h2", hs[1].key(), "header 1 key");
        eq(null, hs[1].value(), "header 1 value (null)");
        eq("again", str(hs[2].value()), "header 2 value");
        eq(null, got.get(1).key(), "null key");
        eq("no key", str(got.get(1).value()), "value of the keyless record");
        eq(null, got.get(2).value(), "tombstone value");
    }

    static void acks01(Ctx ctx) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "acks01", 1);
        }
        try (KafkaProducer<byte[], byte[]> p = ctx.producer(ProducerConfig.ACKS_CONFIG, "0",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false")) {
            for (int i = 0; i < 20; i++) {
                p.send(new ProducerRecord<>(t, 0, null, bytes("zero" + i)));
            }
            p.flush();
        }
        try (KafkaProducer<byte[], byte[]> p = ctx.producer(ProducerConfig.ACKS_CONFIG, "1",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false")) {
            RecordMetadata md = null;
            for (int i = 0; i < 20; i++) {
                md = p.send(new ProducerRecord<>(t, 0, null, bytes("one" + i))).get();
            }
            eq(39L, md.offset(), "offset of the last acks=1 record after 20 acks=0 records");
        }
        eq(40, ctx.readAll(t, 0, 40).size(), "records read back");
    }

    static void compression(Ctx ctx, String codec) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "codec-" + codec, 1);
        }
        int n = 200;
        try (KafkaProducer<byte[], byte[]> p = ctx.producer(ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.COMPRESSION_TYPE_CONFIG, codec, ProducerConfig.LINGER_MS_CONFIG, 50)) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                fs.add(p.send(new ProducerRecord<>(t, 0, bytes("k" + i),
                        bytes(codec + "-" + i + "-" + "x".repeat(100 + i)))));
            }
            for (Future<RecordMetadata> f : fs) {
                f.get();
            }
        }
        List<ConsumerRecord<byte[], byte[]>> got = ctx.readAll(t, 0, n);
        eq(n, got.size(), "records read back");
        for (int i = 0; i < n; i++) {
            eq((long) i, got.get(i).offset(), "offset");
            eq(codec + "-" + i + "-" + "x".repeat(100 + i), str(got.get(i).value()), "value " + i);
        }
    }

    static void idempotent(Ctx ctx) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "idempotent", 3);
        }
        int n = 600;
        try (KafkaProducer<byte[], byte[]> p = ctx.producer(ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true",
                ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5,
                ProducerConfig.LINGER_MS_CONFIG, 5, ProducerConfig.BATCH_SIZE_CONFIG, 1024)) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                fs.add(p.send(new ProducerRecord<>(t, i % 3, null, bytes(Integer.toString(i)))));
            }
            for (Future<RecordMetadata> f : fs) {
                f.get();
            }
        }
        for (int part = 0; part < 3; part++) {
            List<ConsumerRecord<byte[], byte[]>> got = ctx.readAll(t, part, n / 3);
            eq(n / 3, got.size(), "records in partition " + part);
            Map<String, Integer> seen = new HashMap<>();
            int prev = -1;
            for (ConsumerRecord<byte[], byte[]> r : got) {
                int v = Integer.parseInt(str(r.value()));
                check(v > prev, "partition " + part + ": " + v + " after " + prev);
                check(seen.put(str(r.value()), 1) == null, "duplicate " + v);
                prev = v;
            }
        }
    }

    static void tooLarge(Ctx ctx) throws Exception {
        String t;
        try (Admin a = ctx.admin()) {
            t = ctx.topic(a, "too-large", 1);
        }
        // The broker's limit (message.max.bytes, 1 MiB by default) and not the client's decides:
        // the producer is allowed 3 MiB requests.
        try (KafkaProducer<byte[], byte[]> p = ctx.producer(ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 3 << 20, ProducerConfig.BUFFER_MEMORY_CONFIG, 8 << 20,
                ProducerConfig.COMPRESSION_TYPE_CONFIG, "none")) {
            RecordMetadata ok = p.send(new ProducerRecord<>(t, 0, null, new byte[900 * 1024])).get();
            eq(0L, ok.offset(), "offset of the 900 KiB record");
            expectFailure(RecordTooLargeException.class,
                    () -> p.send(new ProducerRecord<>(t, 0, null, new byte[2 << 20])).get(), "2 MiB record");
            RecordMetadata after = p.send(new ProducerRecord<>(t, 0, null, bytes("small"))).get();
            eq(1L, after.offset(), "offset of the record after the refused one");
        }
    }

    private ProducerChecks() {}
}
