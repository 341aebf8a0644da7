#!/usr/bin/env python3
"""Tiny Kafka-protocol logging TCP proxy, for finding out which API versions a
client sends and which request a broker answered by closing the connection.

    kproxy.py --listen 127.0.0.1:19093 --upstream 127.0.0.1:9092 [--hexdump API_KEY ...]

Run the broker with `--override advertised.listeners=PLAINTEXT://127.0.0.1:19093`
so that clients come back through the proxy after Metadata. One line per request:

    c3 kafka-python-2.0.2 ListOffsets(2) v1 corr=7 req=61B -> resp=0B (upstream closed)

`--hexdump 2` also prints the request and response bodies of that API key.

`--shim-listoffsets` works around one broker bug for exploration only: it
rewrites ListOffsets v1-v3 requests to v4 and turns the v4 responses back into
the client's version (dropping leader_epoch), so a client that would otherwise
loop on that bug can get further and show the next problem.
Standard library only.
"""

import argparse
import asyncio
import struct
import sys
import time

API_NAMES = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch",
    10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
    15: "DescribeGroups", 16: "ListGroups", 17: "SaslHandshake", 18: "ApiVersions", 19: "CreateTopics",
    20: "DeleteTopics", 21: "DeleteRecords", 22: "InitProducerId", 23: "OffsetForLeaderEpoch",
    24: "AddPartitionsToTxn", 25: "AddOffsetsToTxn", 26: "EndTxn", 27: "WriteTxnMarkers",
    28: "TxnOffsetCommit", 29: "DescribeAcls", 30: "CreateAcls", 31: "DeleteAcls", 32: "DescribeConfigs",
    33: "AlterConfigs", 34: "AlterReplicaLogDirs", 35: "DescribeLogDirs", 36: "SaslAuthenticate",
    37: "CreatePartitions", 38: "CreateDelegationToken", 42: "DeleteGroups", 43: "ElectLeaders",
    44: "IncrementalAlterConfigs", 45: "AlterPartitionReassignments", 46: "ListPartitionReassignments",
    47: "OffsetDelete", 48: "DescribeClientQuotas", 49: "AlterClientQuotas",
    50: "DescribeUserScramCredentials", 51: "AlterUserScramCredentials", 60: "DescribeCluster",
    61: "DescribeProducers", 65: "DescribeTransactions", 66: "ListTransactions",
    68: "ConsumerGroupHeartbeat", 69: "ConsumerGroupDescribe", 71: "GetTelemetrySubscriptions",
    72: "PushTelemetry", 75: "DescribeTopicPartitions",
}

conn_no = 0


def hexdump(b, prefix="      "):
    for i in range(0, len(b), 32):
        chunk = b[i:i + 32]
        print(prefix + chunk.hex(" "), flush=True)


async def read_frame(reader):
    hdr = await reader.readexactly(4)
    (n,) = struct.unpack(">i", hdr)
    body = await reader.readexactly(n)
    return hdr + body


def _str_end(b, i):
    (n,) = struct.unpack_from(">h", b, i)
    return i + 2 + max(n, 0)


def lo_request_to_v4(fr, ver):
    """ListOffsets v1-3 frame -> v4 frame (adds isolation_level for v1 and
    current_leader_epoch=-1 per partition)."""
    i = _str_end(fr, 12)  # after client_id
    out = bytearray(fr[4:i])
    struct.pack_into(">h", out, 2, 4)
    out += fr[i:i + 4]  # replica_id
    i += 4
    if ver >= 2:
        out += fr[i:i + 1]
        i += 1
    else:
        out += b"\x00"
    (nt,) = struct.unpack_from(">i", fr, i)
    out += fr[i:i + 4]
    i += 4
    for _ in range(max(nt, 0)):
        j = _str_end(fr, i)
        out += fr[i:j]
        i = j
        (np_,) = struct.unpack_from(">i", fr, i)
        out += fr[i:i + 4]
        i += 4
        for _ in range(max(np_, 0)):
            out += fr[i:i + 4] + struct.pack(">i", -1) + fr[i + 4:i + 12]
            i += 12
    return struct.pack(">i", len(out)) + bytes(out)


def lo_response_from_v4(fr, ver):
    """ListOffsets v4 response frame -> v1-3 (drops leader_epoch; v1 has no throttle)."""
    out = bytearray(fr[4:8])  # correlation id
    i = 8
    if ver >= 2:
        out += fr[i:i + 4]
    i += 4
    (nt,) = struct.unpack_from(">i", fr, i)
    out += fr[i:i + 4]
    i += 4
    for _ in range(max(nt, 0)):
        j = _str_end(fr, i)
        out += fr[i:j]
        i = j
        (np_,) = struct.unpack_from(">i", fr, i)
        out += fr[i:i + 4]
        i += 4
        for _ in range(max(np_, 0)):
            out += fr[i:i + 22]
            i += 26
    return struct.pack(">i", len(out)) + bytes(out)


SHIM_LISTOFFSETS = False


async def handle(creader, cwriter, up_host, up_port, dump_keys):
    global conn_no
    conn_no += 1
    cid = conn_no
    try:
        ureader, uwriter = await asyncio.open_connection(up_host, up_port)
    except OSError as e:
        print(f"c{cid} upstream connect failed: {e}", flush=True)
        cwriter.close()
        return
    pending = {}  # corr -> (desc, t0, key)
    shimmed = {}  # corr -> original ListOffsets version

    async def c2u():
        try:
            while True:
                fr = await read_frame(creader)
                key, ver, corr = struct.unpack(">hhi", fr[4:12])
                (clen,) = struct.unpack(">h", fr[12:14])
                client = fr[14:14 + clen].decode(errors="replace") if clen > 0 else "-"
                desc = f"c{cid} {client} {API_NAMES.get(key, '?')}({key}) v{ver} corr={corr} req={len(fr) - 4}B"
                pending[corr] = (desc, time.time(), key)
                if key in dump_keys:
                    print(f"{desc} request:", flush=True)
                    hexdump(fr[4:])
                if SHIM_LISTOFFSETS and key == 2 and 1 <= ver <= 3:
                    shimmed[corr] = ver
                    fr = lo_request_to_v4(fr, ver)
                uwriter.write(fr)
                await uwriter.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            try:
                uwriter.close()
            except Exception:  # noqa: BLE001
                pass

    async def u2c():
        try:
            while True:
                fr = await read_frame(ureader)
                (corr,) = struct.unpack(">i", fr[4:8])
                desc, t0, key = pending.pop(corr, (f"c{cid} ? corr={corr}", time.time(), -1))
                if corr in shimmed:
                    fr = lo_response_from_v4(fr, shimmed.pop(corr))
                    desc += " [shimmed via v4]"
                print(f"{desc} -> resp={len(fr) - 4}B {1000 * (time.time() - t0):.0f}ms", flush=True)
                if key in dump_keys:
                    hexdump(fr[4:])
                cwriter.write(fr)
                await cwriter.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            for desc, _, _ in pending.values():
                print(f"{desc} -> no response (upstream closed)", flush=True)
            pending.clear()
        finally:
            try:
                cwriter.close()
            except Exception:  # noqa: BLE001
                pass

    await asyncio.gather(c2u(), u2c())


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--hexdump", type=int, nargs="*", default=[])
    ap.add_argument("--shim-listoffsets", action="store_true")
    a = ap.parse_args()
    global SHIM_LISTOFFSETS
    SHIM_LISTOFFSETS = a.shim_listoffsets
    lh, lp = a.listen.rsplit(":", 1)
    uh, up = a.upstream.rsplit(":", 1)
    srv = await asyncio.start_server(lambda r, w: handle(r, w, uh, int(up), set(a.hexdump)), lh, int(lp))
    print(f"kproxy {a.listen} -> {a.upstream}", flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
