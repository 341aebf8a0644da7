#!/usr/bin/env python3
"""Smoke suite for Weir with Python Kafka clients (see ../README.md).

    smoke.py --bootstrap 127.0.0.1:9092 --suite kafka-python
    smoke.py --bootstrap 127.0.0.1:9092 --suite confluent

`--suite kafka-python` works with kafka-python 2.0.x, 2.1+/2.2/2.3, 3.x and
kafka-python-ng (whichever provides the `kafka` module in this interpreter);
the checks adapt to the installed version's API. `--suite confluent` uses
confluent-kafka (bundled librdkafka).

Prints one `PASS <label>: <check>` / `FAIL <label>: <check>: <error>` /
`SKIP ...` line per check and ends with `<label>: N passed, N failed`.
Exits 1 if any check failed.
"""

import argparse
import os
import sys
import threading
import time
import traceback
import uuid
import warnings

warnings.filterwarnings("ignore")

RUN = uuid.uuid4().hex[:8]
LABEL = "python"
RESULTS = {"PASS": 0, "FAIL": 0, "SKIP": 0}
VERBOSE = bool(os.environ.get("SMOKE_VERBOSE"))
# Callables a check registers to be run if it times out (e.g. closing a
# consumer whose thread is stuck in a client-internal retry loop, so that it
# stops re-creating topics or rejoining groups behind later checks).
ON_TIMEOUT = []


class Skip(Exception):
    pass


def out(line):
    print(line, flush=True)


def check(name, timeout=30):
    """Decorator: run the function now as one check, with a watchdog."""

    def deco(fn):
        box = {}

        def target():
            try:
                box["ret"] = fn()
            except BaseException as e:  # noqa: BLE001
                box["exc"] = e
                box["tb"] = traceback.format_exc()

        ON_TIMEOUT.clear()
        t0 = time.time()
        th = threading.Thread(target=target, daemon=True, name=name)
        th.start()
        th.join(timeout)
        dt = time.time() - t0
        if th.is_alive():
            RESULTS["FAIL"] += 1
            out(f"FAIL {LABEL}: {name}: timed out after {timeout}s")
            for fn_ in list(ON_TIMEOUT):
                try:
                    fn_()
                except Exception:  # noqa: BLE001
                    pass
            return None
        exc = box.get("exc")
        if exc is None:
            RESULTS["PASS"] += 1
            out(f"PASS {LABEL}: {name} ({dt:.1f}s)")
            return box.get("ret")
        if isinstance(exc, Skip):
            RESULTS["SKIP"] += 1
            out(f"SKIP {LABEL}: {name}: {exc}")
            return None
        RESULTS["FAIL"] += 1
        msg = f"{type(exc).__name__}: {exc}".replace("\n", " | ")
        out(f"FAIL {LABEL}: {name}: {msg[:600]} ({dt:.1f}s)")
        if VERBOSE:
            for ln in box["tb"].rstrip().splitlines():
                out(f"    {ln}")
        return None

    return deco


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def finish():
    out(f"{LABEL}: {RESULTS['PASS']} passed, {RESULTS['FAIL']} failed, {RESULTS['SKIP']} skipped")
    sys.exit(1 if RESULTS["FAIL"] else 0)


def poll_until(fetch, n, timeout):
    """Call fetch() (returns a list) until n items or timeout; return items."""
    got = []
    deadline = time.time() + timeout
    while len(got) < n and time.time() < deadline:
        got.extend(fetch())
    return got


# --------------------------------------------------------------------------
# kafka-python / kafka-python-ng
# --------------------------------------------------------------------------

def suite_kafka_python(bootstrap):
    global LABEL
    import kafka
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import ConfigResource, ConfigResourceType
    try:
        from kafka.admin import NewTopic, NewPartitions
    except ImportError:  # 3.x keeps them importable but out of __all__
        from kafka.admin._topics import NewTopic
        from kafka.admin._partitions import NewPartitions
    import kafka.errors as Errors

    try:
        from importlib.metadata import version as _v, PackageNotFoundError
        try:
            dist = "kafka-python-ng"
            ver = _v(dist)
        except PackageNotFoundError:
            dist = "kafka-python"
            ver = _v(dist)
    except Exception:  # noqa: BLE001
        dist, ver = "kafka-python", kafka.__version__
    LABEL = f"{dist}-{ver}"
    out(f"# {LABEL} against {bootstrap}")

    P_CFG = KafkaProducer.DEFAULT_CONFIG
    C_CFG = KafkaConsumer.DEFAULT_CONFIG
    has_idem = "enable_idempotence" in P_CFG
    has_txn = "transactional_id" in P_CFG
    common = dict(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    if os.environ.get("SMOKE_API_VERSION"):
        # e.g. SMOKE_API_VERSION=0.11 pins kafka-python's request versions to
        # what it would use with that broker version (older protocol versions)
        common["api_version"] = tuple(int(x) for x in os.environ["SMOKE_API_VERSION"].split("."))
        out(f"# {LABEL}: api_version pinned to {common['api_version']}")
    plain_producer = dict(common)
    if has_idem:
        # 2.1+ turns idempotence on by default; the plain producer tests acks=all
        # without it, the idempotent one below turns it on explicitly.
        plain_producer["enable_idempotence"] = False

    T1 = f"kp-admin-{RUN}"
    TC = f"kp-codec-{RUN}"
    TT = f"kp-time-{RUN}"
    TG = f"kp-group-{RUN}"
    TI = f"kp-idem-{RUN}"
    TX = f"kp-txn-{RUN}"
    G = f"kp-g-{RUN}"
    st = {}

    @check("admin connect + api version probe")
    def _():
        a = KafkaAdminClient(**common)
        st["admin"] = a
        bv = getattr(a, "_manager", None)
        bv = getattr(bv, "broker_version", None) or a.config.get("api_version")
        out(f"# {LABEL}: broker version guessed as {bv}")

    admin = st.get("admin")
    if admin is None:
        return

    def create(name, parts, configs=None):
        return admin.create_topics(
            [NewTopic(name=name, num_partitions=parts, replication_factor=1,
                      topic_configs=configs or {})], timeout_ms=10000)

    @check("create_topics (3 partitions, topic configs)")
    def _():
        r = create(T1, 3, {"retention.ms": "3600000", "cleanup.policy": "delete"})
        for t in (TC, TT, TI, TX):
            create(t, 1)
        create(TG, 3)
        out(f"#   create_topics -> {str(r)[:200]}")

    @check("create_topics validate_only")
    def _():
        admin.create_topics([NewTopic(name=f"kp-vo-{RUN}", num_partitions=1, replication_factor=1)],
                            timeout_ms=5000, validate_only=True)
        expect(f"kp-vo-{RUN}" not in admin.list_topics(), "validate_only created the topic")

    @check("create_topics on existing topic raises TopicAlreadyExistsError")
    def _():
        try:
            create(T1, 3)
        except Errors.TopicAlreadyExistsError:
            return
        raise AssertionError("no error for a duplicate topic")

    @check("list_topics / describe_topics")
    def _():
        topics = admin.list_topics()
        expect(T1 in topics, f"{T1} not in list_topics")
        d = admin.describe_topics([T1])
        d0 = d[0]
        parts = d0["partitions"] if isinstance(d0, dict) else d0.partitions
        eq(len(parts), 3, "partition count")

    def topic_configs(name, rtype="TOPIC"):
        res = ConfigResource(ConfigResourceType[rtype], name)
        try:
            r = admin.describe_configs([res], config_filter="all")
        except TypeError:
            r = admin.describe_configs([res])
        if isinstance(r, dict):  # 3.x
            return {k: v.get("value", v.get("config_value")) for k, v in r[rtype.lower()][name].items()}
        conf = {}
        for resp in r:
            for res_ in resp.resources:
                err = res_[0]
                expect(err == 0, f"describe_configs error {err}: {res_[1]}")
                for ent in res_[4]:
                    conf[ent[0]] = ent[1]
        return conf

    @check("describe_configs TOPIC")
    def _():
        conf = topic_configs(T1)
        eq(conf.get("retention.ms"), "3600000", "retention.ms")
        eq(conf.get("cleanup.policy"), "delete", "cleanup.policy")
        expect("segment.bytes" in conf, "default segment.bytes not listed")

    @check("describe_configs BROKER")
    def _():
        conf = topic_configs("1", "BROKER")
        expect(len(conf) > 0, "no broker configs")

    @check("alter_configs TOPIC")
    def _():
        res = ConfigResource(ConfigResourceType.TOPIC, T1, configs={"retention.ms": "7200000"})
        r = admin.alter_configs([res])
        out(f"#   alter_configs -> {str(r)[:200]}")
        eq(topic_configs(T1).get("retention.ms"), "7200000", "retention.ms after alter")

    @check("create_partitions 3 -> 5")
    def _():
        admin.create_partitions({T1: NewPartitions(total_count=5)}, timeout_ms=10000)
        deadline = time.time() + 5
        while True:
            d = admin.describe_topics([T1])[0]
            parts = d["partitions"] if isinstance(d, dict) else d.partitions
            if len(parts) == 5 or time.time() > deadline:
                break
            time.sleep(0.2)
        eq(len(parts), 5, "partition count after create_partitions")

    # ---------------- produce with every codec ----------------
    codecs = [None, "gzip", "snappy", "lz4", "zstd"]
    first_offsets = {}
    N = 5
    for codec in codecs:
        cname = codec or "none"

        @check(f"produce acks=all compression={cname} with keys+headers")
        def _(codec=codec, cname=cname):
            p = KafkaProducer(acks="all", compression_type=codec, linger_ms=20, **plain_producer)
            try:
                futs = [p.send(TC, key=f"k-{cname}-{i}".encode(), value=f"v-{cname}-{i}".encode() * 20,
                               headers=[("codec", cname.encode()), ("i", str(i).encode())])
                        for i in range(N)]
                p.flush(10)
                mds = [f.get(timeout=10) for f in futs]
            finally:
                p.close(5)
            offs = [m.offset for m in mds]
            eq(offs, list(range(offs[0], offs[0] + N)), "offsets")
            first_offsets[cname] = offs[0]

    tc0 = TopicPartition(TC, 0)
    for codec in codecs:
        cname = codec or "none"

        @check(f"consume assign+seek compression={cname}")
        def _(cname=cname):
            if cname not in first_offsets:
                raise Skip("produce failed")
            c = KafkaConsumer(enable_auto_commit=False, group_id=None, **common)
            try:
                c.assign([tc0])
                c.seek(tc0, first_offsets[cname])
                recs = poll_until(lambda: c.poll(500, max_records=N).get(tc0, []), N, 10)
            finally:
                c.close()
            expect(len(recs) >= N, f"got {len(recs)} records")
            for i, r in enumerate(recs[:N]):
                eq(r.offset, first_offsets[cname] + i, "offset")
                eq(r.key, f"k-{cname}-{i}".encode(), "key")
                eq(r.value, f"v-{cname}-{i}".encode() * 20, "value")
                eq(list(r.headers), [("codec", cname.encode()), ("i", str(i).encode())], "headers")

    # ---------------- offsets APIs ----------------
    tt0 = TopicPartition(TT, 0)
    base_ts = int(time.time() * 1000) - 60_000

    @check("produce with explicit timestamps")
    def _():
        p = KafkaProducer(acks="all", **plain_producer)
        try:
            for i in range(3):
                p.send(TT, value=b"t%d" % i, timestamp_ms=base_ts + i * 1000)
            p.flush(10)
        finally:
            p.close(5)

    @check("beginning_offsets / end_offsets")
    def _():
        c = KafkaConsumer(**common)
        try:
            eq(c.beginning_offsets([tt0])[tt0], 0, "beginning")
            eq(c.end_offsets([tt0])[tt0], 3, "end")
        finally:
            c.close()

    @check("offsets_for_times")
    def _():
        c = KafkaConsumer(**common)
        try:
            r = c.offsets_for_times({tt0: base_ts + 500})[tt0]
            expect(r is not None, "None for an existing timestamp")
            eq((r.offset, r.timestamp), (1, base_ts + 1000), "offset/timestamp")
            r = c.offsets_for_times({tt0: base_ts - 10_000})[tt0]
            eq((r.offset, r.timestamp), (0, base_ts), "earliest offset/timestamp")
            r = c.offsets_for_times({tt0: int(time.time() * 1000) + 3_600_000})[tt0]
            expect(r is None, f"future timestamp gave {r}")
        finally:
            c.close()

    # ---------------- consumer group ----------------
    gtps = [TopicPartition(TG, i) for i in range(3)]

    def produce_values(topic, values, **kw):
        p = KafkaProducer(acks="all", **plain_producer, **kw)
        try:
            for i, v in enumerate(values):
                p.send(topic, key=b"%d" % i, value=v)
            p.flush(10)
        finally:
            p.close(5)

    def group_consumer():
        return KafkaConsumer(TG, group_id=G, auto_offset_reset="earliest", enable_auto_commit=False,
                             session_timeout_ms=10000, heartbeat_interval_ms=1000, **common)

    @check("consumer group: no committed offset, auto_offset_reset=earliest", timeout=25)
    def _():
        produce_values(TG, [b"first-%d" % i for i in range(30)])
        c = KafkaConsumer(TG, group_id=G + "-reset", auto_offset_reset="earliest", enable_auto_commit=False,
                          session_timeout_ms=10000, heartbeat_interval_ms=1000, **common)
        ON_TIMEOUT.append(lambda: c.close(autocommit=False, timeout_ms=1000) if "timeout_ms" in
                          c.close.__code__.co_varnames else c.close(autocommit=False))
        try:
            recs = poll_until(lambda: [r for rs in c.poll(500).values() for r in rs], 30, 15)
        finally:
            c.close(autocommit=False)
        eq(sorted(r.value for r in recs), sorted(b"first-%d" % i for i in range(30)), "values")

    @check("commit offsets without membership (assign mode, generation -1)")
    def _():
        # Start G at offset 0 explicitly, so the group checks below don't
        # depend on the ListOffsets-based offset reset above.
        from kafka.structs import OffsetAndMetadata
        c = KafkaConsumer(group_id=G, enable_auto_commit=False, **common)
        try:
            c.assign(gtps)
            try:
                oam = {tp: OffsetAndMetadata(0, "", -1) for tp in gtps}
            except TypeError:  # 2.0.x: (offset, metadata)
                oam = {tp: OffsetAndMetadata(0, "") for tp in gtps}
            c.commit(oam)
            eq([c.committed(tp) for tp in gtps], [0, 0, 0], "committed")
        finally:
            c.close(autocommit=False)

    @check("consumer group: subscribe, consume all, commit, close", timeout=45)
    def _():
        c = group_consumer()
        try:
            recs = poll_until(lambda: [r for rs in c.poll(500).values() for r in rs], 30, 30)
            eq(sorted(r.value for r in recs), sorted(b"first-%d" % i for i in range(30)), "values")
            eq(c.assignment(), set(gtps), "assignment")
            c.commit()
            committed = sum(c.committed(tp) or 0 for tp in gtps)
            eq(committed, 30, "sum of committed offsets")
        finally:
            c.close(autocommit=False)

    @check("consumer group: reopen resumes from committed offsets", timeout=45)
    def _():
        produce_values(TG, [b"second-%d" % i for i in range(10)])
        c = group_consumer()
        st["gc"] = c
        recs = poll_until(lambda: [r for rs in c.poll(500).values() for r in rs], 10, 30)
        # anything more than the 10 new ones would be a redelivery
        recs += [r for rs in c.poll(1000).values() for r in rs]
        eq(sorted(r.value for r in recs), sorted(b"second-%d" % i for i in range(10)), "values")
        c.commit()

    @check("admin list groups")
    def _():
        if hasattr(admin, "list_groups"):
            ids = [g["group_id"] for g in admin.list_groups()]
        else:
            ids = [g[0] for g in admin.list_consumer_groups()]
        expect(G in ids, f"{G} not in {ids}")

    @check("admin describe group (active member)")
    def _():
        if hasattr(admin, "describe_groups"):
            d = admin.describe_groups([G])[G]
            state, members = d["group_state"], d["members"]
            out(f"#   describe_groups -> state={state} protocol={d.get('protocol_data')} members={len(members)}")
            a = members[0].get("member_assignment")
        else:
            d = admin.describe_consumer_groups([G])[0]
            state, members = d.state, d.members
            out(f"#   describe_consumer_groups -> state={state} protocol={d.protocol} members={len(members)}")
            a = members[0].member_assignment
        eq(state, "Stable", "state")
        eq(len(members), 1, "member count")
        out(f"#   assignment: {str(a)[:200]}")

    @check("admin list group offsets")
    def _():
        if hasattr(admin, "list_group_offsets"):
            offs = admin.list_group_offsets(G)[G]
        else:
            offs = admin.list_consumer_group_offsets(G)
        eq(sum(offs[tp].offset for tp in gtps), 40, "sum of committed offsets")

    @check("consumer group: close (leave group), admin delete group", timeout=30)
    def _():
        c = st.pop("gc", None)
        if c is not None:
            c.close(autocommit=False)
        if hasattr(admin, "delete_groups"):
            r = admin.delete_groups([G])
            eq(r.get(G), "OK", "delete_groups result")
        else:
            r = dict(admin.delete_consumer_groups([G]))
            expect(r.get(G) in (0, Errors.NoError) or getattr(r.get(G), "errno", 1) == 0, f"delete result {r}")

    # ---------------- idempotent producer ----------------
    @check("idempotent producer (enable_idempotence=True)")
    def _():
        if not has_idem:
            raise Skip(f"{LABEL} has no enable_idempotence")
        p = KafkaProducer(acks="all", enable_idempotence=True, compression_type="gzip", **common)
        try:
            futs = [p.send(TI, key=b"k", value=b"idem-%d" % i) for i in range(20)]
            p.flush(10)
            offs = [f.get(10).offset for f in futs]
        finally:
            p.close(5)
        eq(offs, list(range(20)), "offsets")
        c = KafkaConsumer(**common)
        try:
            tp = TopicPartition(TI, 0)
            c.assign([tp])
            c.seek(tp, 0)
            recs = poll_until(lambda: c.poll(500).get(tp, []), 20, 10)
        finally:
            c.close()
        eq([r.value for r in recs], [b"idem-%d" % i for i in range(20)], "values")

    # ---------------- transactions ----------------
    @check("transactional producer commit + abort, read_committed consumer", timeout=60)
    def _():
        if not has_txn:
            raise Skip(f"{LABEL} has no transactional_id")
        p = KafkaProducer(transactional_id=f"kp-tx-{RUN}", acks="all", **common)
        try:
            p.init_transactions()
            p.begin_transaction()
            for i in range(3):
                p.send(TX, value=b"committed-%d" % i)
            p.commit_transaction()
            p.begin_transaction()
            for i in range(3):
                p.send(TX, value=b"aborted-%d" % i)
            p.flush(10)
            p.abort_transaction()
            p.begin_transaction()
            p.send(TX, value=b"committed-last")
            p.commit_transaction()
        finally:
            p.close(5)
        tp = TopicPartition(TX, 0)
        for iso, want in (("read_committed", [b"committed-0", b"committed-1", b"committed-2", b"committed-last"]),
                          ("read_uncommitted", [b"committed-0", b"committed-1", b"committed-2",
                                                b"aborted-0", b"aborted-1", b"aborted-2", b"committed-last"])):
            c = KafkaConsumer(isolation_level=iso, **common)
            try:
                c.assign([tp])
                c.seek(tp, 0)
                recs = poll_until(lambda: c.poll(500).get(tp, []), len(want), 10)
                recs += c.poll(500).get(tp, [])
                if iso == "read_committed":
                    # the end offset includes the control records
                    eq(c.end_offsets([tp])[tp], 10, "end offset (7 records + 3 markers)")
            finally:
                c.close()
            eq([r.value for r in recs], want, iso)

    # ---------------- more admin APIs (where the installed version has them) ----------------
    # What Kafka reports as authorized operations with no authorizer configured:
    # AclEntry.supportedOperations(resource type) (CREATE=5 ALTER=7 DESCRIBE=8
    # CLUSTER_ACTION=9 DESCRIBE_CONFIGS=10 ALTER_CONFIGS=11 IDEMPOTENT_WRITE=12 ...).
    KAFKA_CLUSTER_OPS = {"CREATE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS",
                         "IDEMPOTENT_WRITE", "ALTER", "DESCRIBE"}
    KAFKA_TOPIC_OPS = {"READ", "WRITE", "CREATE", "DESCRIBE", "DELETE", "ALTER", "DESCRIBE_CONFIGS",
                       "ALTER_CONFIGS"}

    @check("describe_cluster (DescribeCluster / Metadata with cluster authorized operations)")
    def _():
        if not hasattr(admin, "describe_cluster"):
            raise Skip("no describe_cluster")
        c = admin.describe_cluster()
        out(f"#   describe_cluster -> {str(c)[:300]}")
        ops = c.get("authorized_operations", c.get("cluster_authorized_operations"))
        if isinstance(ops, (list, set)):
            names = {getattr(o, "name", o) for o in ops}
            expect(names <= KAFKA_CLUSTER_OPS, f"cluster ops beyond Kafka's: {sorted(names - KAFKA_CLUSTER_OPS)}")

    @check("describe_log_dirs")
    def _():
        if not hasattr(admin, "describe_log_dirs"):
            raise Skip("no describe_log_dirs")
        try:
            r = admin.describe_log_dirs()
        except Errors.IncompatibleBrokerVersion as e:
            # e.g. 2.3.x only speaks DescribeLogDirs v0, which Kafka 4 removed as well (KIP-896)
            raise Skip(f"client has no DescribeLogDirs version a Kafka 4 broker accepts ({e})")
        txt = str(r)
        expect(TC in txt, f"{TC} not in describe_log_dirs output")

    @check("delete_records + earliest offset moves")
    def _():
        if not hasattr(admin, "delete_records"):
            raise Skip("no delete_records")
        tp = TopicPartition(TC, 0)
        admin.delete_records({tp: 2}, timeout_ms=10000)
        c = KafkaConsumer(**common)
        try:
            eq(c.beginning_offsets([tp])[tp], 2, "log start offset after delete_records")
        finally:
            c.close()

    @check("list_partition_offsets (admin ListOffsets: earliest/latest/max_timestamp)")
    def _():
        if not hasattr(admin, "list_partition_offsets"):
            raise Skip("no list_partition_offsets")
        from kafka.admin import OffsetSpec
        tp = TopicPartition(TT, 0)
        r = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST})
        eq(r[tp].offset, 0, "earliest")
        r = admin.list_partition_offsets({tp: OffsetSpec.LATEST})
        eq(r[tp].offset, 3, "latest")
        r = admin.list_partition_offsets({tp: OffsetSpec.MAX_TIMESTAMP})
        eq((r[tp].offset, r[tp].timestamp), (2, base_ts + 2000), "max_timestamp")

    @check("describe_topic_partitions (DescribeTopicPartitions)")
    def _():
        if not hasattr(admin, "describe_topic_partitions"):
            raise Skip("no describe_topic_partitions")
        r = admin.describe_topic_partitions([T1])
        t = r["topics"][0]
        eq(t["error_code"], 0, "error_code")
        eq(len(t["partitions"]), 5, "partitions")
        ops = t.get("topic_authorized_operations")
        out(f"#   topic_authorized_operations={ops}")

    @check("list/describe transactions, describe_producers")
    def _():
        if not (has_txn and hasattr(admin, "describe_transactions")):
            raise Skip("no transaction admin APIs")
        tid = f"kp-tx-{RUN}"
        lst = admin.list_transactions()
        ids = [x.transactional_id for v in lst.values() for x in v]
        expect(tid in ids, f"{tid} not in list_transactions")
        d = admin.describe_transactions([tid])[tid]
        eq(d.state.name, "COMPLETE_COMMIT", "state")
        p = admin.describe_producers([TopicPartition(TX, 0)])[TopicPartition(TX, 0)]
        eq(len(p.active_producers), 1, "active producers")

    @check("static member: remove_group_members (LeaveGroup v3+) + delete_group_offsets (OffsetDelete)", timeout=40)
    def _():
        if not hasattr(admin, "remove_group_members"):
            raise Skip("no remove_group_members")
        from kafka.admin import MemberToRemove
        gid = f"kp-static-{RUN}"
        c = KafkaConsumer(TG, group_id=gid, group_instance_id="inst-1", auto_offset_reset="earliest",
                          enable_auto_commit=False, session_timeout_ms=10000, heartbeat_interval_ms=1000, **common)
        try:
            recs = poll_until(lambda: [r for rs in c.poll(500).values() for r in rs], 40, 20)
            eq(len(recs), 40, "records")
            c.commit()
            d = admin.describe_groups([gid])[gid]
            eq(d["members"][0]["group_instance_id"], "inst-1", "group_instance_id")
            r = admin.delete_group_offsets(gid, [TopicPartition(TG, 0)])
            eq(r[TopicPartition(TG, 0)].__name__, "GroupSubscribedToTopicError", "OffsetDelete while subscribed")
            r = admin.remove_group_members(gid, [MemberToRemove(group_instance_id="inst-1")])
            eq(r["inst-1"].__name__, "NoError", "remove_group_members")
            eq(admin.describe_groups([gid])[gid]["group_state"], "Empty", "state after removal")
            r = admin.delete_group_offsets(gid, [TopicPartition(TG, 0)])
            eq(r[TopicPartition(TG, 0)].__name__, "NoError", "OffsetDelete on the empty group")
            left = admin.list_group_offsets(gid)[gid]
            eq(sorted(tp.partition for tp in left), [1, 2], "partitions with offsets left")
        finally:
            c.close(autocommit=False)

    @check("delete_topics")
    def _():
        names = [T1, TC, TT, TG, TI, TX]
        admin.delete_topics(names, timeout_ms=10000)
        deadline = time.time() + 5
        while time.time() < deadline:
            left = set(names) & set(admin.list_topics())
            if not left:
                break
            time.sleep(0.3)
        expect(not left, f"still listed: {left}")

    try:
        admin.close()
    except Exception:  # noqa: BLE001
        pass


# --------------------------------------------------------------------------
# confluent-kafka
# --------------------------------------------------------------------------

def suite_confluent(bootstrap):
    global LABEL
    import confluent_kafka
    from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer,
                                 TopicPartition, ConsumerGroupTopicPartitions)
    from confluent_kafka.admin import (AdminClient, ConfigResource, NewPartitions, NewTopic,
                                       ConfigEntry, AlterConfigOpType)

    v = confluent_kafka.version()
    v = v[0] if isinstance(v, tuple) else v
    LABEL = f"confluent-kafka-{v}(librdkafka-{confluent_kafka.libversion()[0]})"
    out(f"# {LABEL} against {bootstrap}")
    base = {"bootstrap.servers": bootstrap, "broker.address.family": "v4"}
    admin = AdminClient(dict(base))

    T1 = f"ck-admin-{RUN}"
    TC = f"ck-codec-{RUN}"
    TG = f"ck-group-{RUN}"
    TX = f"ck-txn-{RUN}"
    TO = f"ck-txout-{RUN}"
    TN = f"ck-kip848-{RUN}"
    G = f"ck-g-{RUN}"
    G2 = f"ck-g848-{RUN}"
    ALL = [T1, TC, TG, TX, TO, TN]

    def wait_all(fs, timeout=15):
        return {k: f.result(timeout=timeout) for k, f in fs.items()}

    @check("AdminClient create_topics (with configs) + validate_only")
    def _():
        wait_all(admin.create_topics([NewTopic(T1, 3, 1, config={"retention.ms": "3600000",
                                                                 "max.message.bytes": "2000000"})]))
        wait_all(admin.create_topics([NewTopic(t, 1, 1) for t in (TC, TX, TO)] +
                                     [NewTopic(t, 3, 1) for t in (TG, TN)]))
        wait_all(admin.create_topics([NewTopic(f"ck-vo-{RUN}", 1, 1)], validate_only=True))
        md = admin.list_topics(timeout=10)
        expect(f"ck-vo-{RUN}" not in md.topics, "validate_only created the topic")
        eq(len(md.topics[T1].partitions), 3, "partitions")

    @check("create_topics duplicate -> TOPIC_ALREADY_EXISTS")
    def _():
        f = admin.create_topics([NewTopic(T1, 3, 1)])[T1]
        try:
            f.result(10)
        except KafkaException as e:
            eq(e.args[0].code(), KafkaError.TOPIC_ALREADY_EXISTS, "error code")
            return
        raise AssertionError("no error")

    @check("describe_topics / describe_cluster")
    def _():
        from confluent_kafka import TopicCollection
        d = wait_all(admin.describe_topics(TopicCollection([T1])))[T1]
        eq(len(d.partitions), 3, "partitions")
        expect(d.topic_id is not None, "no topic id")
        c = admin.describe_cluster().result(10)
        expect(len(c.nodes) >= 1 and c.cluster_id, f"cluster {c}")

    def topic_conf(name, rtype=ConfigResource.Type.TOPIC):
        r = admin.describe_configs([ConfigResource(rtype, name)])
        return list(r.values())[0].result(10)

    @check("describe_configs TOPIC + BROKER")
    def _():
        conf = topic_conf(T1)
        eq(conf["retention.ms"].value, "3600000", "retention.ms")
        eq(conf["max.message.bytes"].value, "2000000", "max.message.bytes")
        expect(conf["retention.ms"].source == 1, f"retention.ms source {conf['retention.ms'].source}")
        expect(not conf["segment.bytes"].is_default or conf["segment.bytes"].source == 5,
               "segment.bytes source")
        b = topic_conf("1", ConfigResource.Type.BROKER)
        expect(len(b) > 0, "no broker configs")

    @check("incremental_alter_configs TOPIC (SET + DELETE)")
    def _():
        res = ConfigResource(ConfigResource.Type.TOPIC, T1, incremental_configs=[
            ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("max.message.bytes", None, incremental_operation=AlterConfigOpType.DELETE)])
        wait_all(admin.incremental_alter_configs([res]))
        conf = topic_conf(T1)
        eq(conf["retention.ms"].value, "7200000", "retention.ms")
        expect(conf["max.message.bytes"].value != "2000000", "max.message.bytes not deleted")

    @check("create_partitions 3 -> 6")
    def _():
        wait_all(admin.create_partitions([NewPartitions(T1, 6)]))
        deadline = time.time() + 5
        while len(admin.list_topics(T1, timeout=5).topics[T1].partitions) != 6 and time.time() < deadline:
            time.sleep(0.2)
        eq(len(admin.list_topics(T1, timeout=5).topics[T1].partitions), 6, "partitions")

    # ---------------- produce / consume per codec ----------------
    codecs = ["none", "gzip", "snappy", "lz4", "zstd"]
    first = {}
    N = 5
    for codec in codecs:
        @check(f"produce acks=all compression={codec} keys+headers")
        def _(codec=codec):
            p = Producer({**base, "acks": "all", "compression.type": codec, "linger.ms": 20,
                          "enable.idempotence": False})
            dr = []
            for i in range(N):
                p.produce(TC, key=f"k-{codec}-{i}", value=f"v-{codec}-{i}" * 20,
                          headers=[("codec", codec.encode()), ("i", str(i).encode())],
                          on_delivery=lambda err, m: dr.append((err, m)))
            left = p.flush(10)
            eq(left, 0, "undelivered")
            errs = [e for e, _ in dr if e]
            expect(not errs, f"delivery errors {errs}")
            offs = sorted(m.offset() for _, m in dr)
            eq(offs, list(range(offs[0], offs[0] + N)), "offsets")
            first[codec] = offs[0]

    for codec in codecs:
        @check(f"consume assign+offset compression={codec}")
        def _(codec=codec):
            if codec not in first:
                raise Skip("produce failed")
            c = Consumer({**base, "group.id": f"ck-unused-{RUN}", "enable.auto.commit": False})
            try:
                c.assign([TopicPartition(TC, 0, first[codec])])
                msgs = poll_until(lambda: [m for m in [c.poll(0.5)] if m is not None], N, 10)
            finally:
                c.close()
            errs = [m.error() for m in msgs if m.error()]
            expect(not errs, f"errors {errs}")
            expect(len(msgs) >= N, f"got {len(msgs)}")
            for i, m in enumerate(msgs[:N]):
                eq(m.offset(), first[codec] + i, "offset")
                eq(m.key(), f"k-{codec}-{i}".encode(), "key")
                eq(m.value(), (f"v-{codec}-{i}" * 20).encode(), "value")
                eq(m.headers(), [("codec", codec.encode()), ("i", str(i).encode())], "headers")

    @check("seek + get_watermark_offsets + offsets_for_times + list_offsets")
    def _():
        from confluent_kafka.admin import OffsetSpec
        c = Consumer({**base, "group.id": f"ck-unused-{RUN}", "enable.auto.commit": False})
        try:
            lo, hi = c.get_watermark_offsets(TopicPartition(TC, 0), timeout=10)
            eq((lo, hi), (0, N * len(codecs)), "watermarks")
            # seek: assign at 0, then seek to the zstd batch
            c.assign([TopicPartition(TC, 0, 0)])
            m = poll_until(lambda: [m for m in [c.poll(0.5)] if m is not None], 1, 10)[0]
            c.seek(TopicPartition(TC, 0, first["zstd"]))
            m = poll_until(lambda: [m for m in [c.poll(0.5)] if m is not None], 1, 10)[0]
            eq(m.offset(), first["zstd"], "offset after seek")
            ts = m.timestamp()[1]
            r = c.offsets_for_times([TopicPartition(TC, 0, ts)], timeout=10)[0]
            expect(r.error is None, f"offsets_for_times error {r.error}")
            expect(r.offset <= first["zstd"], f"offsets_for_times offset {r.offset}")
            r = c.offsets_for_times([TopicPartition(TC, 0, int(time.time() * 1000) + 3_600_000)], timeout=10)[0]
            eq(r.offset, -1, "offsets_for_times future -> -1 (end)")
        finally:
            c.close()
        tp = TopicPartition(TC, 0)
        r = wait_all(admin.list_offsets({tp: OffsetSpec.latest()}))
        eq(list(r.values())[0].offset, N * len(codecs), "list_offsets latest")
        r = wait_all(admin.list_offsets({tp: OffsetSpec.earliest()}))
        eq(list(r.values())[0].offset, 0, "list_offsets earliest")
        r = wait_all(admin.list_offsets({tp: OffsetSpec.max_timestamp()}))
        expect(list(r.values())[0].offset >= 0, "list_offsets max_timestamp")

    # ---------------- consumer group (classic) ----------------
    def produce_values(topic, values):
        p = Producer({**base, "acks": "all"})
        for i, v in enumerate(values):
            p.produce(topic, key=str(i), value=v)
        eq(p.flush(10), 0, "undelivered")

    def group_consumer(gid=G, extra=None):
        conf = {**base, "group.id": gid, "auto.offset.reset": "earliest", "enable.auto.commit": False,
                "session.timeout.ms": 10000}
        conf.update(extra or {})
        c = Consumer(conf)
        c.subscribe([TG if gid == G else TN])
        return c

    def consume(c, n, timeout=20, settle=1.0):
        msgs = poll_until(lambda: [m for m in [c.poll(0.5)] if m is not None and not m.error()], n, timeout)
        end = time.time() + settle
        while time.time() < end:
            m = c.poll(0.2)
            if m is not None and not m.error():
                msgs.append(m)
        return msgs

    st = {}

    @check("consumer group: subscribe, consume, commit, close", timeout=45)
    def _():
        produce_values(TG, [b"first-%d" % i for i in range(30)])
        c = group_consumer()
        try:
            msgs = consume(c, 30)
            eq(sorted(m.value() for m in msgs), sorted(b"first-%d" % i for i in range(30)), "values")
            c.commit(asynchronous=False)
            comm = c.committed([TopicPartition(TG, i) for i in range(3)], timeout=10)
            eq(sum(tp.offset for tp in comm), 30, "committed sum")
        finally:
            c.close()

    @check("consumer group: reopen resumes from committed", timeout=45)
    def _():
        produce_values(TG, [b"second-%d" % i for i in range(10)])
        c = group_consumer()
        st["c"] = c
        msgs = consume(c, 10)
        eq(sorted(m.value() for m in msgs), sorted(b"second-%d" % i for i in range(10)), "values")
        c.commit(asynchronous=False)

    @check("list_consumer_groups / describe_consumer_groups (classic)")
    def _():
        r = admin.list_consumer_groups().result(10)
        ids = [g.group_id for g in r.valid]
        expect(G in ids, f"{G} not in {ids}; errors {r.errors}")
        d = wait_all(admin.describe_consumer_groups([G]))[G]
        out(f"#   state={d.state} type={getattr(d, 'type', None)} members={len(d.members)} "
            f"assignor={d.partition_assignor}")
        eq(len(d.members), 1, "members")
        eq(len(d.members[0].assignment.topic_partitions), 3, "assigned partitions")

    @check("list_consumer_group_offsets / alter_consumer_group_offsets")
    def _():
        r = wait_all(admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(G)]))[G]
        eq(sum(tp.offset for tp in r.topic_partitions if tp.topic == TG), 40, "committed sum")
        c = st.pop("c", None)
        if c:
            c.close()
        # group is empty now: rewind partition 0 to 0
        wait_all(admin.alter_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(G, [TopicPartition(TG, 0, 0)])]))
        r = wait_all(admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(G, [TopicPartition(TG, 0)])]))[G]
        eq(r.topic_partitions[0].offset, 0, "offset after alter")

    @check("delete_consumer_groups")
    def _():
        wait_all(admin.delete_consumer_groups([G]))
        ids = [g.group_id for g in admin.list_consumer_groups().result(10).valid]
        expect(G not in ids, "group still listed")

    # ---------------- idempotence + transactions ----------------
    @check("idempotent producer")
    def _():
        p = Producer({**base, "enable.idempotence": True, "compression.type": "lz4"})
        for i in range(20):
            p.produce(TO, value=b"idem-%d" % i)
        eq(p.flush(10), 0, "undelivered")

    @check("transactions: init/begin/commit/abort + read_committed", timeout=60)
    def _():
        p = Producer({**base, "transactional.id": f"ck-tx-{RUN}", "transaction.timeout.ms": 30000})
        p.init_transactions(15)
        p.begin_transaction()
        for i in range(3):
            p.produce(TX, value=b"committed-%d" % i)
        p.commit_transaction(15)
        p.begin_transaction()
        for i in range(3):
            p.produce(TX, value=b"aborted-%d" % i)
        p.flush(10)
        p.abort_transaction(15)
        p.begin_transaction()
        p.produce(TX, value=b"committed-last")
        p.commit_transaction(15)
        for iso, want in (("read_committed", [b"committed-0", b"committed-1", b"committed-2", b"committed-last"]),
                          ("read_uncommitted", [b"committed-0", b"committed-1", b"committed-2",
                                                b"aborted-0", b"aborted-1", b"aborted-2", b"committed-last"])):
            c = Consumer({**base, "group.id": f"ck-unused-{RUN}", "isolation.level": iso,
                          "enable.partition.eof": True})
            try:
                c.assign([TopicPartition(TX, 0, 0)])
                msgs = []
                deadline = time.time() + 10
                while time.time() < deadline:
                    m = c.poll(0.5)
                    if m is None:
                        continue
                    if m.error():
                        if m.error().code() == KafkaError._PARTITION_EOF:
                            break
                        raise AssertionError(m.error())
                    msgs.append(m.value())
            finally:
                c.close()
            eq(msgs, want, iso)

    @check("transactions: consume-transform-produce with send_offsets_to_transaction", timeout=60)
    def _():
        gid = f"ck-eos-{RUN}"
        c = Consumer({**base, "group.id": gid, "auto.offset.reset": "earliest", "enable.auto.commit": False,
                      "isolation.level": "read_committed"})
        c.subscribe([TX])
        p = Producer({**base, "transactional.id": f"ck-eos-{RUN}"})
        try:
            p.init_transactions(15)
            msgs = consume(c, 4, settle=0.5)
            eq(len(msgs), 4, "input records")
            p.begin_transaction()
            for m in msgs:
                p.produce(TO, value=m.value().upper())
            offsets = [TopicPartition(TX, 0, max(m.offset() for m in msgs) + 1)]
            p.send_offsets_to_transaction(offsets, c.consumer_group_metadata(), 15)
            p.commit_transaction(15)
            comm = c.committed([TopicPartition(TX, 0)], timeout=10)[0]
            # last input record is committed-last at offset 8 (3 + marker + 3 + marker)
            eq(comm.offset, 9, "group offset committed through the transaction")
            # and the output is visible to a read_committed reader
            r = Consumer({**base, "group.id": f"ck-unused-{RUN}", "isolation.level": "read_committed"})
            try:
                lo, hi = r.get_watermark_offsets(TopicPartition(TO, 0), timeout=10)
                eq(hi, 20 + 4 + 1, "output high watermark (20 idempotent + 4 + marker)")
            finally:
                r.close()
        finally:
            c.close()

    # ---------------- authorized operations, records, filters ----------------
    # Kafka with no authorizer answers AclEntry.supportedOperations(type):
    KAFKA_OPS = {
        "cluster": {"CREATE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE",
                    "ALTER", "DESCRIBE"},
        "topic": {"READ", "WRITE", "CREATE", "DESCRIBE", "DELETE", "ALTER", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"},
        "group": {"READ", "DESCRIBE", "DELETE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"},
    }

    def ops_check(kind, ops):
        names = {getattr(o, "name", str(o)) for o in (ops or [])}
        out(f"#   {kind} authorized operations: {sorted(names)}")
        expect(names, f"no {kind} authorized operations returned")
        extra = names - KAFKA_OPS[kind]
        expect(not extra, f"{kind} authorized operations Kafka doesn't report for a {kind}: {sorted(extra)}")

    @check("describe_cluster(include_authorized_operations) matches Kafka's cluster operations")
    def _():
        c = admin.describe_cluster(include_authorized_operations=True).result(10)
        ops_check("cluster", c.authorized_operations)

    @check("describe_topics(include_authorized_operations) matches Kafka's topic operations")
    def _():
        from confluent_kafka import TopicCollection
        d = wait_all(admin.describe_topics(TopicCollection([T1]), include_authorized_operations=True))[T1]
        ops_check("topic", d.authorized_operations)

    @check("describe_consumer_groups(include_authorized_operations) matches Kafka's group operations")
    def _():
        gid = f"ck-ops-{RUN}"
        c = Consumer({**base, "group.id": gid, "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition(TG, 0, 1)], asynchronous=False)
        finally:
            c.close()
        d = wait_all(admin.describe_consumer_groups([gid], include_authorized_operations=True))[gid]
        ops_check("group", d.authorized_operations)

    @check("delete_records + watermarks")
    def _():
        r = wait_all(admin.delete_records([TopicPartition(TC, 0, 3)]))
        eq(list(r.values())[0].low_watermark, 3, "low watermark returned")
        c = Consumer({**base, "group.id": f"ck-unused-{RUN}"})
        try:
            eq(c.get_watermark_offsets(TopicPartition(TC, 0), timeout=10)[0], 3, "low watermark")
        finally:
            c.close()

    @check("list_consumer_groups with states / types filters (ListGroups v4/v5)")
    def _():
        from confluent_kafka import ConsumerGroupState, ConsumerGroupType
        r = admin.list_consumer_groups(states={ConsumerGroupState.EMPTY}).result(10)
        expect(not r.errors, f"errors {r.errors}")
        expect(all(g.state == ConsumerGroupState.EMPTY for g in r.valid), "state filter not applied")
        expect(f"ck-eos-{RUN}" in [g.group_id for g in r.valid], "empty group missing")
        r = admin.list_consumer_groups(types={ConsumerGroupType.CONSUMER}).result(10)
        expect(not r.errors, f"errors {r.errors}")
        expect(f"ck-eos-{RUN}" not in [g.group_id for g in r.valid], "classic group listed as consumer type")

    # ---------------- KIP-848 consumer protocol ----------------
    @check("group.protocol=consumer (KIP-848): subscribe, consume, commit, describe", timeout=60)
    def _():
        produce_values(TN, [b"n-%d" % i for i in range(12)])
        conf = {**base, "group.id": G2, "group.protocol": "consumer", "auto.offset.reset": "earliest",
                "enable.auto.commit": False}
        c = Consumer(conf)
        c.subscribe([TN])
        try:
            msgs = consume(c, 12, timeout=30)
            eq(sorted(m.value() for m in msgs), sorted(b"n-%d" % i for i in range(12)), "values")
            c.commit(asynchronous=False)
            d = wait_all(admin.describe_consumer_groups([G2]))[G2]
            out(f"#   state={d.state} type={getattr(d, 'type', None)} members={len(d.members)}")
            eq(str(getattr(d, "type", "")).split(".")[-1], "CONSUMER", "group type")
            eq(len(d.members), 1, "members")
            eq(len(d.members[0].assignment.topic_partitions), 3, "assigned partitions")
        finally:
            c.close()
        c = Consumer(conf)
        c.subscribe([TN])
        try:
            produce_values(TN, [b"m-%d" % i for i in range(3)])
            msgs = consume(c, 3, timeout=30)
            eq(sorted(m.value() for m in msgs), sorted(b"m-%d" % i for i in range(3)), "resumed values")
        finally:
            c.close()

    @check("delete_topics")
    def _():
        wait_all(admin.delete_topics(ALL, operation_timeout=10))
        deadline = time.time() + 5
        while time.time() < deadline:
            left = set(ALL) & set(admin.list_topics(timeout=5).topics)
            if not left:
                break
            time.sleep(0.3)
        expect(not left, f"still listed: {left}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", default=os.environ.get("WEIR_BOOTSTRAP", "127.0.0.1:9092"))
    ap.add_argument("--suite", choices=["kafka-python", "confluent"], required=True)
    args = ap.parse_args()
    try:
        if args.suite == "kafka-python":
            suite_kafka_python(args.bootstrap)
        else:
            suite_confluent(args.bootstrap)
    except Exception as e:  # noqa: BLE001  (import errors and the like)
        RESULTS["FAIL"] += 1
        out(f"FAIL {LABEL}: suite setup: {type(e).__name__}: {e}")
        if VERBOSE:
            traceback.print_exc()
    finish()


if __name__ == "__main__":
    main()
