// kafkajs smoke suite for Weir (see ../README.md).
//
//   node smoke.mjs --bootstrap 127.0.0.1:9092
//
// kafkajs is resolved from $KAFKAJS_NODE_MODULES (a node_modules directory;
// run.sh installs package.json's dependencies into a cache dir outside the
// repo) or else from next to this file. Prints `PASS kafkajs-X: <check>` /
// `FAIL kafkajs-X: <check>: <error>` per check, then
// `kafkajs-X: N passed, N failed, N skipped`; exits 1 if anything failed.
// SMOKE_VERBOSE=1 prints stack traces and kafkajs's own WARN/ERROR logs.

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import crypto from 'node:crypto';

const here = path.dirname(fileURLToPath(import.meta.url));
const modDir = process.env.KAFKAJS_NODE_MODULES || path.join(here, 'node_modules');
const require = createRequire(path.join(modDir, 'noop.js'));
const { Kafka, CompressionTypes, CompressionCodecs, logLevel, ConfigResourceTypes } = require('kafkajs');
const kafkajsVersion = require('kafkajs/package.json').version;
let snappyOk = false;
try {
  const SnappyCodec = require('kafkajs-snappy');
  CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;
  snappyOk = true;
} catch (e) { /* snappy check is skipped */ }

const args = process.argv.slice(2);
const bootstrap = args.includes('--bootstrap') ? args[args.indexOf('--bootstrap') + 1]
  : (process.env.WEIR_BOOTSTRAP || '127.0.0.1:9092');
const VERBOSE = !!process.env.SMOKE_VERBOSE;
const LABEL = `kafkajs-${kafkajsVersion}`;
const RUN = crypto.randomBytes(4).toString('hex');
const results = { PASS: 0, FAIL: 0, SKIP: 0 };

class Skip extends Error {}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function describeErr(e) {
  if (!e) return String(e);
  let s = `${e.name || 'Error'}: ${e.message}`;
  if (e.type) s += ` [type=${e.type}]`;
  if (e.code !== undefined) s += ` [code=${e.code}]`;
  if (e.retryCount !== undefined) s += ` [retries=${e.retryCount}]`;
  if (e.cause) s += ` <- ${describeErr(e.cause)}`;
  if (e.originalError) s += ` <- ${describeErr(e.originalError)}`;
  if (Array.isArray(e.errors)) s += ` <- [${e.errors.map(describeErr).join('; ')}]`;
  return s;
}

async function check(name, fn, timeoutMs = 30000) {
  const t0 = Date.now();
  let timer;
  const timeout = new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`timed out after ${timeoutMs / 1000}s`)), timeoutMs); });
  try {
    const r = await Promise.race([fn(), timeout]);
    results.PASS++;
    console.log(`PASS ${LABEL}: ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
    return r;
  } catch (e) {
    if (e instanceof Skip) {
      results.SKIP++;
      console.log(`SKIP ${LABEL}: ${name}: ${e.message}`);
      return undefined;
    }
    results.FAIL++;
    console.log(`FAIL ${LABEL}: ${name}: ${describeErr(e).replace(/\n/g, ' | ').slice(0, 600)} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
    if (VERBOSE && e.stack) console.log(e.stack.split('\n').map((l) => '    ' + l).join('\n'));
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

function expect(cond, msg) { if (!cond) throw new Error(msg); }
function eq(got, want, what) {
  const g = JSON.stringify(got); const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

const logCreator = () => ({ namespace, level, log }) => {
  if (!VERBOSE) return;
  const { message, ...extra } = log;
  console.log(`    [kafkajs ${namespace} ${level}] ${message} ${JSON.stringify(extra).slice(0, 400)}`);
};

const kafka = new Kafka({
  clientId: `weir-smoke-${LABEL}`,
  brokers: [bootstrap],
  logLevel: logLevel.WARN,
  logCreator,
  connectionTimeout: 5000,
  requestTimeout: 15000,
  retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
});

const T1 = `kj-admin-${RUN}`;
const TC = `kj-codec-${RUN}`;
const TG = `kj-group-${RUN}`;
const TI = `kj-idem-${RUN}`;
const TX = `kj-txn-${RUN}`;
const TO = `kj-txout-${RUN}`;
const TA = `kj-auto-${RUN}`;
const G = `kj-g-${RUN}`;
const ALL = [T1, TC, TG, TI, TX, TO, TA];

// Disconnect without letting a stuck client hang the suite.
const quietDisconnect = (c) => Promise.race([c.disconnect().catch(() => {}), sleep(5000)]);

// Collect `n` messages with a fresh consumer; returns them (resolves early once n arrived).
async function consumeN({ groupId, topic, n, fromBeginning = true, readUncommitted = false, settleMs = 1000,
  timeoutMs = 10000, autoCommit = false, keep = false }) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000, readUncommitted,
    maxWaitTimeInMs: 200, retry: { retries: 2 } });
  const msgs = [];
  let crashed = null;
  consumer.on(consumer.events.CRASH, (ev) => { crashed = ev.payload.error; });
  let ok = false;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning });
    await consumer.run({
      autoCommit,
      eachMessage: async ({ partition, message }) => { msgs.push({ partition, ...message }); },
    });
    const deadline = Date.now() + timeoutMs;
    while (msgs.length < n && Date.now() < deadline && !crashed) await sleep(100);
    if (!crashed) await sleep(settleMs);
    if (crashed) throw crashed;
    ok = true;
  } finally {
    if (!ok || !keep) await quietDisconnect(consumer);
  }
  return { msgs, consumer };
}

const admin = kafka.admin();

await check('admin connect + describeCluster', async () => {
  await admin.connect();
  const c = await admin.describeCluster();
  expect(c.brokers.length >= 1, 'no brokers');
  expect(c.clusterId, 'no cluster id');
});

await check('admin createTopics (configEntries) + validateOnly', async () => {
  const created = await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic: T1, numPartitions: 3, replicationFactor: 1,
      configEntries: [{ name: 'retention.ms', value: '3600000' }, { name: 'cleanup.policy', value: 'delete' }] },
    ...[TC, TI, TX, TO].map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })),
    { topic: TG, numPartitions: 3, replicationFactor: 1 }],
  });
  eq(created, true, 'createTopics result');
  // waitForLeaders would wait for a topic that validateOnly didn't create
  await admin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: `kj-vo-${RUN}`, numPartitions: 1 }] });
  const topics = await admin.listTopics();
  expect(!topics.includes(`kj-vo-${RUN}`), 'validateOnly created the topic');
  expect(topics.includes(T1), 'topic not listed');
});

await check('admin createTopics on an existing topic returns false', async () => {
  const created = await admin.createTopics({ topics: [{ topic: T1, numPartitions: 3 }] });
  eq(created, false, 'createTopics result for an existing topic');
});

await check('admin fetchTopicMetadata', async () => {
  const md = await admin.fetchTopicMetadata({ topics: [T1] });
  eq(md.topics[0].name, T1, 'name');
  eq(md.topics[0].partitions.length, 3, 'partitions');
  for (const p of md.topics[0].partitions) eq(p.leader, p.replicas[0], 'leader');
});

const topicConfig = async (name) => {
  const r = await admin.describeConfigs({ includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name }] });
  eq(r.resources[0].errorCode, 0, 'resource error');
  return Object.fromEntries(r.resources[0].configEntries.map((e) => [e.configName, e]));
};

await check('admin describeConfigs TOPIC (all + named) and BROKER', async () => {
  const conf = await topicConfig(T1);
  eq(conf['retention.ms']?.configValue, '3600000', 'retention.ms');
  eq(conf['retention.ms']?.isDefault, false, 'retention.ms isDefault');
  eq(conf['cleanup.policy']?.configValue, 'delete', 'cleanup.policy');
  expect(conf['segment.bytes'], 'segment.bytes not listed');
  const named = await admin.describeConfigs({ includeSynonyms: true,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: T1, configNames: ['retention.ms'] }] });
  eq(named.resources[0].configEntries.map((e) => e.configName), ['retention.ms'], 'named config');
  const b = await admin.describeConfigs({ includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.BROKER, name: '1' }] });
  eq(b.resources[0].errorCode, 0, 'broker resource error');
  expect(b.resources[0].configEntries.length > 0, 'no broker configs');
});

await check('admin alterConfigs TOPIC', async () => {
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: T1,
    configEntries: [{ name: 'retention.ms', value: '7200000' }, { name: 'cleanup.policy', value: 'delete' }] }] });
  eq((await topicConfig(T1))['retention.ms']?.configValue, '7200000', 'retention.ms after alter');
});

await check('admin createPartitions 3 -> 5', async () => {
  await admin.createPartitions({ topicPartitions: [{ topic: T1, count: 5 }] });
  const md = await admin.fetchTopicMetadata({ topics: [T1] });
  eq(md.topics[0].partitions.length, 5, 'partitions');
});

// ---------------- producer / codecs ----------------
const producer = kafka.producer({ allowAutoTopicCreation: false });
await check('producer connect', async () => { await producer.connect(); });

const codecs = [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP], ['snappy', CompressionTypes.Snappy]];
const firstOffset = {};
const N = 5;
for (const [cname, ctype] of codecs) {
  await check(`produce acks=-1 compression=${cname} keys+headers`, async () => {
    if (cname === 'snappy' && !snappyOk) throw new Skip('kafkajs-snappy not installed');
    const r = await producer.send({ topic: TC, acks: -1, compression: ctype,
      messages: Array.from({ length: N }, (_, i) => ({ key: `k-${cname}-${i}`, value: `v-${cname}-${i}`.repeat(20),
        headers: { codec: cname, i: String(i) } })) });
    eq(r.length, 1, 'record metadata entries');
    eq(r[0].errorCode, 0, 'errorCode');
    firstOffset[cname] = Number(r[0].baseOffset);
  });
}

await check('consume by seek (each codec): keys, values, headers', async () => {
  const total = N * Object.keys(firstOffset).length;
  expect(total > 0, 'nothing produced');
  const consumer = kafka.consumer({ groupId: `kj-seek-${RUN}`, maxWaitTimeInMs: 200 });
  const msgs = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [TC] });
    await consumer.run({ autoCommit: false, eachMessage: async ({ message }) => { msgs.push(message); } });
    consumer.seek({ topic: TC, partition: 0, offset: '0' });
    const deadline = Date.now() + 10000;
    while (msgs.length < total && Date.now() < deadline) await sleep(100);
  } finally { await quietDisconnect(consumer); }
  eq(msgs.length, total, 'message count');
  for (const [cname] of codecs) {
    if (!(cname in firstOffset)) continue;
    for (let i = 0; i < N; i++) {
      const m = msgs.find((x) => Number(x.offset) === firstOffset[cname] + i);
      expect(m, `offset ${firstOffset[cname] + i} missing`);
      eq(m.key.toString(), `k-${cname}-${i}`, 'key');
      eq(m.value.toString(), `v-${cname}-${i}`.repeat(20), 'value');
      eq({ codec: m.headers.codec?.toString(), i: m.headers.i?.toString() }, { codec: cname, i: String(i) }, 'headers');
    }
  }
});

await check('admin fetchTopicOffsets / fetchTopicOffsetsByTimestamp', async () => {
  const total = N * Object.keys(firstOffset).length;
  const offs = await admin.fetchTopicOffsets(TC);
  eq(offs.map((o) => [o.partition, o.low, o.high]), [[0, '0', String(total)]], 'low/high');
  const early = await admin.fetchTopicOffsetsByTimestamp(TC, Date.now() - 3600_000);
  eq(early.map((o) => o.offset), ['0'], 'offset for an old timestamp');
  const late = await admin.fetchTopicOffsetsByTimestamp(TC, Date.now() + 3600_000);
  // Kafka answers -1 for "no such record"; kafkajs maps that to the high watermark
  expect(['-1', String(total)].includes(late[0].offset), `offset for a future timestamp: ${late[0].offset}`);
});

// ---------------- consumer group ----------------
await check('consumer group: subscribe fromBeginning, eachMessage, commitOffsets, disconnect', async () => {
  await producer.send({ topic: TG, acks: -1, messages: Array.from({ length: 30 }, (_, i) => ({ key: String(i), value: `first-${i}` })) });
  const consumer = kafka.consumer({ groupId: G, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 200 });
  const msgs = [];
  let crashed = null;
  consumer.on(consumer.events.CRASH, (ev) => { crashed = ev.payload.error; });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [TG], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachMessage: async ({ topic, partition, message }) => { msgs.push({ topic, partition, offset: message.offset, value: message.value.toString() }); } });
    const deadline = Date.now() + 10000;
    while (msgs.length < 30 && Date.now() < deadline && !crashed) await sleep(100);
    if (crashed) throw crashed;
    eq(msgs.map((m) => m.value).sort(), Array.from({ length: 30 }, (_, i) => `first-${i}`).sort(), 'values');
    const next = {};
    for (const m of msgs) next[m.partition] = Math.max(next[m.partition] ?? 0, Number(m.offset) + 1);
    await consumer.commitOffsets(Object.entries(next).map(([p, o]) => ({ topic: TG, partition: Number(p), offset: String(o) })));
  } finally { await quietDisconnect(consumer); }
});

let liveConsumer = null;
await check('consumer group: reconnect resumes from committed offsets', async () => {
  await producer.send({ topic: TG, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ key: String(i), value: `second-${i}` })) });
  const { msgs, consumer } = await consumeN({ groupId: G, topic: TG, n: 10, autoCommit: true, keep: true });
  liveConsumer = consumer;
  eq(msgs.map((m) => m.value.toString()).sort(), Array.from({ length: 10 }, (_, i) => `second-${i}`).sort(), 'values');
});

await check('admin listGroups / describeGroups (active member)', async () => {
  const l = await admin.listGroups();
  expect(l.groups.some((g) => g.groupId === G), `${G} not listed`);
  const d = await admin.describeGroups([G]);
  const g = d.groups[0];
  console.log(`#   describeGroups -> state=${g.state} protocolType=${g.protocolType} protocol=${g.protocol} members=${g.members.length}`);
  eq(g.errorCode, 0, 'errorCode');
  eq(g.state, 'Stable', 'state');
  eq(g.members.length, 1, 'members');
});

await check('consumer disconnect (autoCommit) + admin fetchOffsets', async () => {
  if (liveConsumer) await quietDisconnect(liveConsumer);
  const r = await admin.fetchOffsets({ groupId: G, topics: [TG] });
  const sum = r[0].partitions.reduce((a, p) => a + Number(p.offset), 0);
  eq(sum, 40, 'sum of committed offsets');
});

await check('admin resetOffsets earliest + setOffsets, consumer re-reads', async () => {
  await admin.resetOffsets({ groupId: G, topic: TG, earliest: true });
  let r = await admin.fetchOffsets({ groupId: G, topics: [TG] });
  // kafkajs commits the EARLIEST sentinel itself; Kafka stores it as given
  // (kafkajs's own resetOffsets.spec.js expects '-2' from a real broker)
  eq(r[0].partitions.map((p) => p.offset).sort(), ['-2', '-2', '-2'], 'offsets after reset');
  await admin.setOffsets({ groupId: G, topic: TG, partitions: [{ partition: 0, offset: '1' }] });
  r = await admin.fetchOffsets({ groupId: G, topics: [TG] });
  eq(r[0].partitions.find((p) => p.partition === 0).offset, '1', 'offset after setOffsets');
  await admin.resetOffsets({ groupId: G, topic: TG, earliest: true });
  const { msgs } = await consumeN({ groupId: G, topic: TG, n: 40, autoCommit: false });
  eq(msgs.length, 40, 'records re-read after reset');
});

await check('admin deleteGroups', async () => {
  const r = await admin.deleteGroups([G]);
  eq(r.map((x) => [x.groupId, x.errorCode]), [[G, 0]], 'deleteGroups result');
  const l = await admin.listGroups();
  expect(!l.groups.some((g) => g.groupId === G), 'group still listed');
});

await check('admin deleteTopicRecords moves the low watermark', async () => {
  await admin.deleteTopicRecords({ topic: TC, partitions: [{ partition: 0, offset: '2' }] });
  const offs = await admin.fetchTopicOffsets(TC);
  eq(offs[0].low, '2', 'low watermark');
});

await check('producer auto-creates a topic (Metadata allowAutoTopicCreation=true)', async () => {
  const p = kafka.producer({ allowAutoTopicCreation: true });
  await p.connect();
  try {
    const r = await p.send({ topic: TA, acks: -1, messages: [{ value: 'auto' }] });
    eq(r[0].errorCode, 0, 'errorCode');
  } finally { await p.disconnect(); }
  expect((await admin.listTopics()).includes(TA), 'auto-created topic not listed');
});

await check('consumer eachBatch with pause/resume', async () => {
  const consumer = kafka.consumer({ groupId: `kj-batch-${RUN}`, maxWaitTimeInMs: 200 });
  const seen = [];
  let paused = false;
  try {
  await consumer.connect();
  await consumer.subscribe({ topics: [TG], fromBeginning: true });
  await consumer.run({
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch, heartbeat }) => {
      for (const m of batch.messages) seen.push(`${batch.partition}:${m.offset}`);
      await heartbeat();
      if (!paused) {
        paused = true;
        consumer.pause([{ topic: TG }]);
      }
    },
  });
  const deadline = Date.now() + 10000;
  while (!paused && Date.now() < deadline) await sleep(50);
  await sleep(500);
  expect(consumer.paused().length === 1, `paused() = ${JSON.stringify(consumer.paused())}`);
  consumer.resume([{ topic: TG }]);
  while (new Set(seen).size < 40 && Date.now() < deadline) await sleep(100);
  } finally { await quietDisconnect(consumer); }
  eq(new Set(seen).size, 40, 'distinct records seen');
});

// ---------------- idempotent + transactional producers ----------------
await check('idempotent producer (idempotent: true, gzip)', async () => {
  const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await p.connect();
  try {
    for (let b = 0; b < 4; b++) {
      const r = await p.send({ topic: TI, acks: -1, compression: CompressionTypes.GZIP,
        messages: Array.from({ length: 5 }, (_, i) => ({ value: `idem-${b * 5 + i}` })) });
      eq(r[0].baseOffset, String(b * 5), `batch ${b} base offset`);
    }
  } finally { await p.disconnect(); }
});

await check('transaction: send + commit, send + abort, read_committed consumer', async () => {
  const p = kafka.producer({ transactionalId: `kj-tx-${RUN}`, idempotent: true, maxInFlightRequests: 1,
    allowAutoTopicCreation: false });
  await p.connect();
  try {
    let tx = await p.transaction();
    await tx.send({ topic: TX, messages: [0, 1, 2].map((i) => ({ value: `committed-${i}` })) });
    await tx.commit();
    tx = await p.transaction();
    await tx.send({ topic: TX, messages: [0, 1, 2].map((i) => ({ value: `aborted-${i}` })) });
    await tx.abort();
    tx = await p.transaction();
    await tx.send({ topic: TX, messages: [{ value: 'committed-last' }] });
    await tx.commit();
  } finally { await p.disconnect(); }
  const { msgs } = await consumeN({ groupId: `kj-rc-${RUN}`, topic: TX, n: 4, settleMs: 1500 });
  eq(msgs.map((m) => m.value.toString()), ['committed-0', 'committed-1', 'committed-2', 'committed-last'], 'read_committed');
  const { msgs: all } = await consumeN({ groupId: `kj-ru-${RUN}`, topic: TX, n: 7, readUncommitted: true, settleMs: 1500 });
  eq(all.map((m) => m.value.toString()), ['committed-0', 'committed-1', 'committed-2', 'aborted-0', 'aborted-1', 'aborted-2', 'committed-last'], 'read_uncommitted');
}, 60000);

await check('transaction: consume-transform-produce with sendOffsets', async () => {
  const gid = `kj-eos-${RUN}`;
  const { msgs } = await consumeN({ groupId: gid, topic: TX, n: 4, settleMs: 500 });
  const p = kafka.producer({ transactionalId: `kj-eos-${RUN}`, idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  try {
    const tx = await p.transaction();
    await tx.send({ topic: TO, messages: msgs.map((m) => ({ value: m.value.toString().toUpperCase() })) });
    const next = String(Math.max(...msgs.map((m) => Number(m.offset))) + 1);
    await tx.sendOffsets({ consumerGroupId: gid, topics: [{ topic: TX, partitions: [{ partition: 0, offset: next }] }] });
    await tx.commit();
    const r = await admin.fetchOffsets({ groupId: gid, topics: [TX] });
    eq(r[0].partitions[0].offset, next, 'offset committed through the transaction');
  } finally { await p.disconnect(); }
  const out = await consumeN({ groupId: `kj-eos-out-${RUN}`, topic: TO, n: 4, settleMs: 500 });
  eq(out.msgs.map((m) => m.value.toString()), ['COMMITTED-0', 'COMMITTED-1', 'COMMITTED-2', 'COMMITTED-LAST'], 'output');
}, 60000);

await check('admin deleteTopics', async () => {
  await producer.disconnect();
  await admin.deleteTopics({ topics: ALL, timeout: 10000 });
  const deadline = Date.now() + 5000;
  let left;
  do {
    const topics = await admin.listTopics();
    left = ALL.filter((t) => topics.includes(t));
    if (left.length) await sleep(300);
  } while (left.length && Date.now() < deadline);
  eq(left, [], 'topics still listed');
});

try { await admin.disconnect(); } catch (e) { /* ignore */ }
console.log(`${LABEL}: ${results.PASS} passed, ${results.FAIL} failed, ${results.SKIP} skipped`);
process.exit(results.FAIL ? 1 : 0);
