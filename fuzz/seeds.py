#!/usr/bin/env python3
"""Writes the fuzz seed inputs into fuzz/seeds/<target>/ (standard library only).

request_decoder seeds are request frames without the 4-byte length prefix: a valid request or
two per served API, plus hostile ones whose array counts claim far more elements than the bytes
that follow (the inputs the allocation guard exists for).

record_batch seeds are the `records` bytes of one produced partition: valid magic v2 batches and
a few near misses.

Run:  python3 fuzz/seeds.py          (rewrites fuzz/seeds/ from scratch)
"""

import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "seeds")

# ---- primitive encoders (Kafka protocol) ----


def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def u32(v):
    return struct.pack(">I", v)


def i64(v):
    return struct.pack(">q", v)


def boolean(v):
    return b"\x01" if v else b"\x00"


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(v):  # zigzag, 32-bit
    return uvarint(((v << 1) ^ (v >> 31)) & 0xFFFFFFFF)


def varlong(v):  # zigzag, 64-bit
    return uvarint(((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF)


def string(s):
    if s is None:
        return i16(-1)
    b = s.encode()
    return i16(len(b)) + b


def cstring(s):
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def bytes_(b):
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def cbytes(b):
    if b is None:
        return uvarint(0)
    return uvarint(len(b) + 1) + b


def array(items):
    if items is None:
        return i32(-1)
    return i32(len(items)) + b"".join(items)


def carray(items):
    if items is None:
        return uvarint(0)
    return uvarint(len(items) + 1) + b"".join(items)


TAGS = b"\x00"  # empty tagged-field section
UUID0 = bytes(16)
UUID1 = bytes(range(1, 17))

# ---- record batch (magic v2) ----


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def record(offset_delta, key, value, headers=()):
    body = (
        i8(0)  # attributes
        + varlong(offset_delta)  # timestamp delta
        + varint(offset_delta)
        + (varint(-1) if key is None else varint(len(key)) + key)
        + (varint(-1) if value is None else varint(len(value)) + value)
        + varint(len(headers))
        + b"".join(varint(len(k)) + k + varint(len(v)) + v for k, v in headers)
    )
    return varint(len(body)) + body


def batch(records, base_ts=1_700_000_000_000, attributes=0, producer_id=-1,
          producer_epoch=-1, base_sequence=-1, last_offset_delta=None, count=None,
          magic=2, good_crc=True):
    n = len(records)
    after_crc = (
        i16(attributes)
        + i32(n - 1 if last_offset_delta is None else last_offset_delta)
        + i64(base_ts)
        + i64(base_ts + max(n - 1, 0))
        + i64(producer_id)
        + i16(producer_epoch)
        + i32(base_sequence)
        + i32(n if count is None else count)
        + b"".join(records)
    )
    crc = crc32c(after_crc) if good_crc else crc32c(after_crc) ^ 0xDEADBEEF
    after_len = i32(0) + i8(magic) + u32(crc) + after_crc  # leader epoch, magic, crc
    return i64(0) + i32(len(after_len)) + after_len


SMALL_BATCH = batch([record(0, b"k0", b"v" * 20)])
THREE_BATCH = batch([record(i, b"k%d" % i, b"value-%d" % i, [(b"h", b"x")]) for i in range(3)])

# ---- request frames (after the length prefix) ----

FLEXIBLE_FROM = {  # first flexible version per API (request header v2 from there)
    0: 9, 1: 12, 2: 6, 3: 9, 18: 3, 19: 5, 20: 4, 23: 4, 32: 4, 35: 2, 37: 2, 60: 0, 75: 0,
}

API = {
    "produce": 0, "fetch": 1, "list_offsets": 2, "metadata": 3, "api_versions": 18,
    "create_topics": 19, "delete_topics": 20, "offset_for_leader_epoch": 23,
    "describe_configs": 32, "describe_log_dirs": 35, "create_partitions": 37,
    "describe_cluster": 60, "describe_topic_partitions": 75,
}


def frame(api, version, body, client_id="weir-seed", correlation_id=1):
    key = API[api]
    header = i16(key) + i16(version) + i32(correlation_id) + string(client_id)
    if version >= FLEXIBLE_FROM[key]:
        header += TAGS
    return header + body


HUGE_I32 = i32(0x7FFFFFFF)  # non-flexible array count 2^31-1
HUGE_UVARINT = b"\xff\xff\xff\xff\x0f"  # compact array count 0xffffffff (2^32-2 elements)


def request_seeds():
    s = {}

    # ApiVersions
    s["api_versions_v0"] = frame("api_versions", 0, b"")
    s["api_versions_v3"] = frame("api_versions", 3, cstring("weir-seed") + cstring("1.0") + TAGS)
    s["api_versions_v4"] = frame("api_versions", 4, cstring("librdkafka") + cstring("2.11.1") + TAGS)
    s["api_versions_v9_fallback"] = frame("api_versions", 9, b"")

    # Metadata
    s["metadata_v0"] = frame("metadata", 0, array([string("t")]))
    s["metadata_v1"] = frame("metadata", 1, array([string("t"), string("orders")]))
    s["metadata_v1_all_topics"] = frame("metadata", 1, array(None))
    s["metadata_v12"] = frame(
        "metadata", 12,
        carray([UUID0 + cstring("t") + TAGS]) + boolean(True) + boolean(False) + TAGS)
    s["metadata_v13_by_id"] = frame(
        "metadata", 13, carray([UUID1 + cstring(None) + TAGS]) + boolean(False) + boolean(True) + TAGS)

    # Produce
    s["produce_v3"] = frame(
        "produce", 3,
        string(None) + i16(-1) + i32(30000)
        + array([string("t") + array([i32(0) + bytes_(SMALL_BATCH)])]))
    s["produce_v9"] = frame(
        "produce", 9,
        cstring(None) + i16(1) + i32(30000)
        + carray([cstring("t") + carray([i32(0) + cbytes(SMALL_BATCH) + TAGS]) + TAGS]) + TAGS)
    s["produce_v13"] = frame(
        "produce", 13,
        cstring(None) + i16(-1) + i32(30000)
        + carray([UUID1 + carray([i32(0) + cbytes(THREE_BATCH) + TAGS,
                                  i32(1) + cbytes(None) + TAGS]) + TAGS]) + TAGS)

    # Fetch
    def fpart(v, p):
        out = i32(p)
        if v >= 9:
            out += i32(-1)  # current leader epoch
        out += i64(0)  # fetch offset
        if v >= 12:
            out += i32(-1)  # last fetched epoch
        out += i64(-1)  # log start offset (v5+)
        out += i32(1 << 20)
        if v >= 12:
            out += TAGS
        return out

    s["fetch_v4"] = frame(
        "fetch", 4,
        i32(-1) + i32(500) + i32(1) + i32(52428800) + i8(0)
        + array([string("t") + array([i32(0) + i64(0) + i32(1 << 20)])]))
    s["fetch_v12"] = frame(
        "fetch", 12,
        i32(-1) + i32(500) + i32(1) + i32(52428800) + i8(1) + i32(0) + i32(-1)
        + carray([cstring("t") + carray([fpart(12, 0), fpart(12, 1)]) + TAGS])
        + carray([]) + cstring("") + TAGS)
    s["fetch_v13"] = frame(
        "fetch", 13,
        i32(-1) + i32(500) + i32(1) + i32(52428800) + i8(0) + i32(7) + i32(2)
        + carray([UUID1 + carray([fpart(13, 0)]) + TAGS])
        + carray([UUID1 + carray([i32(3)]) + TAGS]) + cstring("rack-a") + TAGS)

    # ListOffsets
    s["list_offsets_v1"] = frame(
        "list_offsets", 1, i32(-1) + array([string("t") + array([i32(0) + i64(-1)])]))
    s["list_offsets_v7"] = frame(
        "list_offsets", 7,
        i32(-1) + i8(0) + carray([cstring("t") + carray([i32(0) + i32(-1) + i64(-2) + TAGS]) + TAGS])
        + TAGS)

    # CreateTopics
    s["create_topics_v2"] = frame(
        "create_topics", 2,
        array([string("t") + i32(3) + i16(1) + array([])
               + array([string("cleanup.policy") + string("compact")])])
        + i32(30000) + boolean(False))
    s["create_topics_v5"] = frame(
        "create_topics", 5,
        carray([cstring("t") + i32(-1) + i16(-1)
                + carray([i32(0) + carray([i32(1)]) + TAGS])
                + carray([cstring("retention.ms") + cstring("1000") + TAGS]) + TAGS])
        + i32(30000) + boolean(True) + TAGS)

    # DeleteTopics
    s["delete_topics_v1"] = frame("delete_topics", 1, array([string("t")]) + i32(30000))
    s["delete_topics_v6"] = frame(
        "delete_topics", 6,
        carray([cstring("t") + UUID0 + TAGS, cstring(None) + UUID1 + TAGS]) + i32(30000) + TAGS)

    # OffsetForLeaderEpoch
    s["offset_for_leader_epoch_v2"] = frame(
        "offset_for_leader_epoch", 2, array([string("t") + array([i32(0) + i32(-1) + i32(0)])]))
    s["offset_for_leader_epoch_v4"] = frame(
        "offset_for_leader_epoch", 4,
        i32(-1) + carray([cstring("t") + carray([i32(0) + i32(0) + i32(0) + TAGS]) + TAGS]) + TAGS)

    # DescribeConfigs
    s["describe_configs_v1"] = frame(
        "describe_configs", 1,
        array([i8(2) + string("t") + array(None), i8(4) + string("1") + array([string("log.dirs")])])
        + boolean(False))
    s["describe_configs_v4"] = frame(
        "describe_configs", 4,
        carray([i8(2) + cstring("t") + carray([cstring("retention.ms")]) + TAGS])
        + boolean(True) + boolean(True) + TAGS)

    # DescribeLogDirs
    s["describe_log_dirs_v1"] = frame("describe_log_dirs", 1, array(None))
    s["describe_log_dirs_v4"] = frame(
        "describe_log_dirs", 4, carray([cstring("t") + carray([i32(0), i32(1)]) + TAGS]) + TAGS)

    # CreatePartitions
    s["create_partitions_v0"] = frame(
        "create_partitions", 0,
        array([string("t") + i32(4) + array(None)]) + i32(30000) + boolean(False))
    s["create_partitions_v3"] = frame(
        "create_partitions", 3,
        carray([cstring("t") + i32(2) + carray([carray([i32(1)]) + TAGS]) + TAGS])
        + i32(30000) + boolean(True) + TAGS)

    # DescribeCluster
    s["describe_cluster_v0"] = frame("describe_cluster", 0, boolean(False) + TAGS)
    s["describe_cluster_v2"] = frame("describe_cluster", 2, boolean(True) + i8(1) + boolean(True) + TAGS)

    # DescribeTopicPartitions
    s["describe_topic_partitions_v0"] = frame(
        "describe_topic_partitions", 0,
        carray([cstring("t") + TAGS]) + i32(2000) + i8(1) + cstring("t") + i32(0) + TAGS + TAGS)

    # ---- hostile: counts that lie ----
    s["hostile_metadata_v1_2e31_topics"] = frame("metadata", 1, HUGE_I32)
    s["hostile_metadata_v12_compact_ffffffff"] = frame("metadata", 12, HUGE_UVARINT)
    s["hostile_metadata_v12_tagged_ffffffff"] = frame(
        "metadata", 12, carray([]) + boolean(True) + boolean(False) + HUGE_UVARINT)
    s["hostile_produce_v9_huge_partitions"] = frame(
        "produce", 9, cstring(None) + i16(-1) + i32(30000)
        + uvarint(2) + cstring("t") + HUGE_UVARINT)
    s["hostile_produce_v3_huge_topics"] = frame(
        "produce", 3, string(None) + i16(-1) + i32(30000) + HUGE_I32)
    s["hostile_create_topics_v2_huge_configs"] = frame(
        "create_topics", 2, i32(1) + string("t") + i32(1) + i16(1) + array([]) + HUGE_I32)
    s["hostile_create_topics_v5_huge_configs"] = frame(
        "create_topics", 5, uvarint(2) + cstring("t") + i32(1) + i16(1) + carray([]) + HUGE_UVARINT)
    s["hostile_fetch_v12_huge_partitions"] = frame(
        "fetch", 12,
        i32(-1) + i32(500) + i32(1) + i32(52428800) + i8(0) + i32(0) + i32(-1)
        + uvarint(2) + cstring("t") + HUGE_UVARINT)
    s["hostile_describe_configs_v1_huge_keys"] = frame(
        "describe_configs", 1, i32(1) + i8(2) + string("t") + HUGE_I32)
    s["hostile_create_partitions_v0_huge_broker_ids"] = frame(
        "create_partitions", 0, i32(1) + string("t") + i32(2) + i32(1) + HUGE_I32)
    s["hostile_list_offsets_v1_huge_partitions"] = frame(
        "list_offsets", 1, i32(-1) + i32(1) + string("t") + HUGE_I32)
    s["hostile_header_client_id_32767"] = (
        i16(API["metadata"]) + i16(1) + i32(1) + i16(0x7FFF) + b"x")
    return s


def batch_seeds():
    s = {}
    s["batch_1_record"] = SMALL_BATCH
    s["batch_3_records_headers"] = THREE_BATCH
    s["batch_idempotent"] = batch([record(0, None, b"v")], producer_id=1000, producer_epoch=0,
                                  base_sequence=0)
    s["batch_transactional_gzip_attr"] = batch([record(0, b"k", b"v")], attributes=0x10 | 1,
                                               producer_id=7, producer_epoch=1, base_sequence=0)
    s["batch_log_append_time_attr"] = batch([record(0, b"k", b"v")], attributes=0x08)
    s["batch_control"] = batch([record(0, b"\x00\x00\x00\x00", b"\x00\x00\x00\x00\x00\x00")],
                               attributes=0x20)
    s["batch_bad_crc"] = batch([record(0, b"k", b"v")], good_crc=False)
    s["batch_magic_1"] = batch([record(0, b"k", b"v")], magic=1)
    s["batch_offset_delta_mismatch"] = batch([record(0, b"k", b"v")], last_offset_delta=5)
    s["batch_zero_records"] = batch([], count=0, last_offset_delta=-1)
    s["batch_two_batches"] = SMALL_BATCH + SMALL_BATCH
    s["batch_truncated"] = THREE_BATCH[:-3]
    s["batch_huge_length"] = SMALL_BATCH[:8] + i32(0x7FFFFFFF) + SMALL_BATCH[12:]
    return s


def write(target, seeds):
    d = os.path.join(OUT, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(seeds)} seeds in {os.path.relpath(d)}", file=sys.stderr)


if __name__ == "__main__":
    assert crc32c(b"123456789") == 0xE3069283  # CRC32C check value
    write("request_decoder", request_seeds())
    write("record_batch", batch_seeds())
