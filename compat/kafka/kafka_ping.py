#!/usr/bin/env python3
"""Ask a Kafka broker for its Metadata (v1, no topics) and print how many brokers it knows.

Used by start.sh to decide that a node answers requests and that every node of a cluster has
registered: exit 0 when at least --brokers brokers are listed, 1 otherwise (including when the
connection fails or the answer is short). Plain sockets only: this runs before any client is
installed.
"""
import argparse
import socket
import struct
import sys


def metadata_broker_count(host: str, port: int, timeout: float) -> int:
    client_id = b"weir-kafka-ping"
    # Request header v1: api_key, api_version, correlation_id, client_id; body: an empty
    # topics array (v1+: no topics, brokers only).
    body = struct.pack(">hhih", 3, 1, 7, len(client_id)) + client_id + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _read(s, 4))[0]
        if size < 8 or size > 1 << 20:
            raise ValueError(f"implausible response size {size}")
        resp = _read(s, size)
    correlation, count = struct.unpack(">ii", resp[:8])
    if correlation != 7:
        raise ValueError(f"correlation id {correlation}")
    return count


def _read(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("address", help="host:port")
    ap.add_argument("--brokers", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=3.0)
    a = ap.parse_args()
    host, _, port = a.address.rpartition(":")
    try:
        n = metadata_broker_count(host, int(port), a.timeout)
    except (OSError, ValueError) as e:
        print(f"no answer: {e}", file=sys.stderr)
        return 1
    print(n)
    return 0 if n >= a.brokers else 1


if __name__ == "__main__":
    sys.exit(main())
