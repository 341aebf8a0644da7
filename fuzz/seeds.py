#!/usr/bin/env python3
"""Writes the fuzz seed inputs into fuzz/seeds/<target>/ (standard library only).

request_decoder seeds are request frames without the 4-byte length prefix: a valid request or
two per served API, plus hostile ones whose array counts claim far more elements than the bytes
that follow (the inputs the allocation guard exists for).

record_batch seeds are the `records` bytes of one produced partition: valid magic v2 batches and
a few near misses. record_decode seeds are valid batches compressed with each codec.

Run:  python3 fuzz/seeds.py               (rewrites fuzz/seeds/ from scratch)
      python3 fuzz/seeds.py --poc DIR     (writes the known crash reproductions into DIR)
"""

import gzip
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
          magic=2, good_crc=True, payload=None):
    """A v2 batch. `payload` replaces the concatenated records (compressed batches)."""
    n = len(records) if count is None else count
    after_crc = (
        i16(attributes)
        + i32(n - 1 if last_offset_delta is None else last_offset_delta)
        + i64(base_ts)
        + i64(base_ts + max(n - 1, 0))
        + i64(producer_id)
        + i16(producer_epoch)
        + i32(base_sequence)
        + i32(n)
        + (b"".join(records) if payload is None else payload)
    )
    crc = crc32c(after_crc) if good_crc else crc32c(after_crc) ^ 0xDEADBEEF
    after_len = i32(0) + i8(magic) + u32(crc) + after_crc  # leader epoch, magic, crc
    return i64(0) + i32(len(after_len)) + after_len


# ---- compression codecs, written by hand where the standard library has none ----


def snappy_raw(data):
    """Raw snappy, literals only (valid, just not compressed)."""
    out = bytearray(uvarint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


SNAPPY_XERIAL_MAGIC = b"\x82SNAPPY\x00" + i32(1) + i32(1)


def snappy_xerial(data):
    """Xerial-framed snappy, what the Java client sends: magic, then length-prefixed blocks."""
    block = snappy_raw(data)
    return SNAPPY_XERIAL_MAGIC + i32(len(block)) + block


def zstd_raw(data):
    """A zstd frame holding one raw (stored) block; single segment, no checksum."""
    assert 256 <= len(data) < 65536 + 256 or len(data) < 256
    if len(data) < 256:
        header = b"\x20" + bytes([len(data)])  # FHD: single segment, 1-byte content size
    else:
        header = b"\x60" + struct.pack("<H", len(data) - 256)  # 2-byte content size
    block_header = struct.pack("<I", 1 | (len(data) << 3))[:3]  # last block, raw
    return struct.pack("<I", 0xFD2FB528) + header + block_header + data


def xxh32(data, seed=0):
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    m = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & m

    i, n = 0, len(data)
    if n >= 16:
        v = [(seed + p1 + p2) & m, (seed + p2) & m, seed, (seed - p1) & m]
        while i + 16 <= n:
            for k in range(4):
                lane = struct.unpack_from("<I", data, i + 4 * k)[0]
                v[k] = (rotl((v[k] + lane * p2) & m, 13) * p1) & m
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & m
    else:
        h = (seed + p5) & m
    h = (h + n) & m
    while i + 4 <= n:
        h = (rotl((h + struct.unpack_from("<I", data, i)[0] * p3) & m, 17) * p4) & m
        i += 4
    while i < n:
        h = (rotl((h + data[i] * p5) & m, 11) * p1) & m
        i += 1
    h ^= h >> 15
    h = (h * p2) & m
    h ^= h >> 13
    h = (h * p3) & m
    h ^= h >> 16
    return h


def lz4_frame(data):
    """An LZ4 frame holding one uncompressed block; no checksums."""
    descriptor = bytes([0x60, 0x40])  # version 01, independent blocks; 64 KiB max block
    hc = (xxh32(descriptor) >> 8) & 0xFF
    return (struct.pack("<I", 0x184D2204) + descriptor + bytes([hc])
            + struct.pack("<I", 0x80000000 | len(data)) + data + struct.pack("<I", 0))


GZIP, SNAPPY, LZ4, ZSTD = 1, 2, 3, 4


def compressed_batch(records, codec, compress):
    return batch(records, attributes=codec, payload=compress(b"".join(records)))


SMALL_BATCH = batch([record(0, b"k0", b"v" * 20)])
THREE_BATCH = batch([record(i, b"k%d" % i, b"value-%d" % i, [(b"h", b"x")]) for i in range(3)])

# ---- request frames (after the length prefix) ----

FLEXIBLE_FROM = {  # first flexible version per API (request header v2 from there)
    0: 9, 1: 12, 2: 6, 3: 9, 18: 3, 19: 5, 20: 4, 21: 2, 23: 4, 32: 4, 33: 2, 35: 2, 37: 2,
    44: 1, 60: 0, 75: 0, 8: 8, 11: 6, 22: 2, 24: 3, 68: 0,
}

API = {
    "produce": 0, "fetch": 1, "list_offsets": 2, "metadata": 3, "api_versions": 18,
    "create_topics": 19, "delete_topics": 20, "offset_for_leader_epoch": 23,
    "delete_records": 21, "describe_configs": 32, "alter_configs": 33,
    "incremental_alter_configs": 44, "describe_log_dirs": 35, "create_partitions": 37,
    "describe_cluster": 60, "describe_topic_partitions": 75, "offset_commit": 8,
    "join_group": 11, "init_producer_id": 22, "add_partitions_to_txn": 24,
    "consumer_group_heartbeat": 68,
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
    s["api_versions_v3"] = frame("api_versions", 3, cstring("weir-seed") + cstring("1.0") + TAGS)

    # Metadata
    s["metadata_v1"] = frame("metadata", 1, array([string("t"), string("orders")]))
    s["metadata_v12"] = frame(
        "metadata", 12,
        carray([UUID0 + cstring("t") + TAGS]) + boolean(True) + boolean(False) + TAGS)

    # Produce
    s["produce_v3"] = frame(
        "produce", 3,
        string(None) + i16(-1) + i32(30000)
        + array([string("t") + array([i32(0) + bytes_(SMALL_BATCH)])]))
    s["produce_v9"] = frame(
        "produce", 9,
        cstring(None) + i16(1) + i32(30000)
        + carray([cstring("t") + carray([i32(0) + cbytes(SMALL_BATCH) + TAGS]) + TAGS]) + TAGS)

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

    # ListOffsets
    s["list_offsets_v7"] = frame(
        "list_offsets", 7,
        i32(-1) + i8(0) + carray([cstring("t") + carray([i32(0) + i32(-1) + i64(-2) + TAGS]) + TAGS])
        + TAGS)

    # CreateTopics
    s["create_topics_v5"] = frame(
        "create_topics", 5,
        carray([cstring("t") + i32(-1) + i16(-1)
                + carray([i32(0) + carray([i32(1)]) + TAGS])
                + carray([cstring("retention.ms") + cstring("1000") + TAGS]) + TAGS])
        + i32(30000) + boolean(True) + TAGS)

    # DeleteTopics
    s["delete_topics_v6"] = frame(
        "delete_topics", 6,
        carray([cstring("t") + UUID0 + TAGS, cstring(None) + UUID1 + TAGS]) + i32(30000) + TAGS)

    # OffsetForLeaderEpoch
    s["offset_for_leader_epoch_v4"] = frame(
        "offset_for_leader_epoch", 4,
        i32(-1) + carray([cstring("t") + carray([i32(0) + i32(0) + i32(0) + TAGS]) + TAGS]) + TAGS)

    # DescribeConfigs
    s["describe_configs_v4"] = frame(
        "describe_configs", 4,
        carray([i8(2) + cstring("t") + carray([cstring("retention.ms")]) + TAGS])
        + boolean(True) + boolean(True) + TAGS)

    # AlterConfigs
    s["alter_configs_v2"] = frame(
        "alter_configs", 2,
        carray([i8(2) + cstring("t") + carray([cstring("retention.ms") + cstring("60000") + TAGS])
                + TAGS]) + boolean(True) + TAGS)

    # IncrementalAlterConfigs (operation: 0 set, 1 delete, 2 append, 3 subtract)
    s["incremental_alter_configs_v1"] = frame(
        "incremental_alter_configs", 1,
        carray([i8(2) + cstring("t")
                + carray([cstring("cleanup.policy") + i8(2) + cstring("compact") + TAGS]) + TAGS])
        + boolean(False) + TAGS)

    # DeleteRecords
    s["delete_records_v2"] = frame(
        "delete_records", 2,
        carray([cstring("t") + carray([i32(0) + i64(10) + TAGS]) + TAGS]) + i32(30000) + TAGS)

    # DescribeLogDirs
    s["describe_log_dirs_v4"] = frame(
        "describe_log_dirs", 4, carray([cstring("t") + carray([i32(0), i32(1)]) + TAGS]) + TAGS)

    # CreatePartitions
    s["create_partitions_v0"] = frame(
        "create_partitions", 0,
        array([string("t") + i32(4) + array(None)]) + i32(30000) + boolean(False))

    # DescribeCluster
    s["describe_cluster_v2"] = frame("describe_cluster", 2, boolean(True) + i8(1) + boolean(True) + TAGS)

    # DescribeTopicPartitions
    s["describe_topic_partitions_v0"] = frame(
        "describe_topic_partitions", 0,
        carray([cstring("t") + TAGS]) + i32(2000) + i8(1) + cstring("t") + i32(0) + TAGS + TAGS)

    # Groups and transactions
    subscription_v1 = (i16(1) + array([string("t")]) + bytes_(None)
                       + array([string("t") + array([i32(0)])]))  # ConsumerProtocolSubscription
    s["join_group_v5"] = frame(
        "join_group", 5,
        string("g") + i32(45000) + i32(300000) + string("") + string(None) + string("consumer")
        + array([string("range") + bytes_(subscription_v1)]))
    s["offset_commit_v8"] = frame(
        "offset_commit", 8,
        cstring("g") + i32(1) + cstring("m-1") + cstring(None)
        + carray([cstring("t") + carray([i32(0) + i64(42) + i32(-1) + cstring("") + TAGS]) + TAGS])
        + TAGS)
    s["init_producer_id_v4"] = frame(
        "init_producer_id", 4, cstring("txn-1") + i32(60000) + i64(-1) + i16(-1) + TAGS)
    s["add_partitions_to_txn_v3"] = frame(
        "add_partitions_to_txn", 3,
        cstring("txn-1") + i64(1000) + i16(0) + carray([cstring("t") + carray([i32(0)]) + TAGS])
        + TAGS)
    s["consumer_group_heartbeat_v0"] = frame(
        "consumer_group_heartbeat", 0,
        cstring("g") + cstring("") + i32(0) + cstring(None) + cstring(None) + i32(300000)
        + carray([cstring("t")]) + cstring("uniform") + carray([]) + TAGS)

    # ---- hostile: counts that lie ----
    s["hostile_metadata_v1_2e31_topics"] = frame("metadata", 1, HUGE_I32)
    s["hostile_metadata_v12_compact_ffffffff"] = frame("metadata", 12, HUGE_UVARINT)
    s["hostile_produce_v9_huge_partitions"] = frame(
        "produce", 9, cstring(None) + i16(-1) + i32(30000)
        + uvarint(2) + cstring("t") + HUGE_UVARINT)
    s["hostile_create_topics_v2_huge_configs"] = frame(
        "create_topics", 2, i32(1) + string("t") + i32(1) + i16(1) + array([]) + HUGE_I32)
    s["hostile_fetch_v12_huge_partitions"] = frame(
        "fetch", 12,
        i32(-1) + i32(500) + i32(1) + i32(52428800) + i8(0) + i32(0) + i32(-1)
        + uvarint(2) + cstring("t") + HUGE_UVARINT)
    s["hostile_incremental_alter_configs_v1_huge_configs"] = frame(
        "incremental_alter_configs", 1, uvarint(2) + i8(2) + cstring("t") + HUGE_UVARINT)
    s["hostile_create_partitions_v0_huge_broker_ids"] = frame(
        "create_partitions", 0, i32(1) + string("t") + i32(2) + i32(1) + HUGE_I32)
    s["hostile_join_group_v5_subscription_2e31_topics"] = frame(
        "join_group", 5,
        string("g") + i32(45000) + i32(300000) + string("") + string(None) + string("consumer")
        + array([string("range") + bytes_(i16(0) + HUGE_I32)]))
    s["hostile_header_client_id_32767"] = (
        i16(API["metadata"]) + i16(1) + i32(1) + i16(0x7FFF) + b"x")
    return s


def batch_seeds():
    s = {}
    s["batch_1_record"] = SMALL_BATCH
    s["batch_3_records_headers"] = THREE_BATCH
    s["batch_transactional_gzip_attr"] = batch([record(0, b"k", b"v")], attributes=0x10 | 1,
                                               producer_id=7, producer_epoch=1, base_sequence=0)
    s["batch_control"] = batch([record(0, b"\x00\x00\x00\x00", b"\x00\x00\x00\x00\x00\x00")],
                               attributes=0x20)
    s["batch_bad_crc"] = batch([record(0, b"k", b"v")], good_crc=False)
    s["batch_offset_delta_mismatch"] = batch([record(0, b"k", b"v")], last_offset_delta=5)
    s["batch_zero_records"] = batch([], count=0, last_offset_delta=-1)
    s["batch_huge_length"] = SMALL_BATCH[:8] + i32(0x7FFFFFFF) + SMALL_BATCH[12:]
    return s


def decode_seeds():
    recs = [record(i, b"k%d" % i, b"value-%d" % i, [(b"h", b"x")]) for i in range(3)]
    s = {}
    s["gzip"] = compressed_batch(recs, GZIP, lambda d: gzip.compress(d, mtime=0))
    s["snappy_raw"] = compressed_batch(recs, SNAPPY, snappy_raw)
    s["snappy_xerial"] = compressed_batch(recs, SNAPPY, snappy_xerial)
    s["lz4"] = compressed_batch(recs, LZ4, lz4_frame)
    s["zstd"] = compressed_batch(recs, ZSTD, zstd_raw)
    s["keyless_uncompressed"] = batch([record(0, b"k", b"v"), record(1, None, b"v")])
    return s


def poc_inputs():
    """Inputs that crashed Weir when written (see fuzz/README.md); not seeds."""
    s = {}
    # record_decode: Xerial snappy block declaring 2^32-1 uncompressed bytes. kafka-protocol
    # resizes its output buffer to the declared length (zero-filling it) before decompressing.
    one = [record(0, b"k", b"v")]
    s["record_decode-snappy_xerial_declared_4GiB"] = batch(
        one, attributes=SNAPPY,
        payload=SNAPPY_XERIAL_MAGIC + i32(5) + b"\xff\xff\xff\xff\x0f")
    # record_decode: 20000 minimal records gzip to a few hundred bytes; the decoder reserves
    # record_count Records (~20000 x sizeof(Record)) up front, more than the guard's budget for
    # the input length, and fills them.
    minimal = [record(0, None, None)] * 20000
    s["record_decode-gzip_20000_records"] = batch(
        minimal, attributes=GZIP, last_offset_delta=19999,
        payload=gzip.compress(b"".join(minimal), 9, mtime=0))
    # record_decode, uncompressed: one record claiming 2^31-1 headers. The decoder calls
    # IndexMap::with_capacity(count); hashbrown writes its control bytes, which sit at the end of
    # the allocation, as soon as it allocates.
    body = i8(0) + varlong(0) + varint(0) + varint(-1) + varint(-1) + varint(0x7FFFFFFF)
    s["record_decode-uncompressed_header_count_2e31"] = batch([varint(len(body)) + body])
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
    if len(sys.argv) == 3 and sys.argv[1] == "--poc":
        os.makedirs(sys.argv[2], exist_ok=True)
        for name, data in sorted(poc_inputs().items()):
            path = os.path.join(sys.argv[2], name)
            with open(path, "wb") as f:
                f.write(data)
            print(f"{path}: {len(data)} bytes", file=sys.stderr)
        sys.exit(0)
    write("request_decoder", request_seeds())
    write("record_batch", batch_seeds())
    write("record_decode", decode_seeds())
