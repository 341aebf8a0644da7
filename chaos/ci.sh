#!/usr/bin/env bash
# CI's fault campaign, short: the checker's unit tests, then a 60 s single-node kill -9 campaign
# (acks=all, idempotence, flush.messages=1) and a 60 s 3-node kill -9 campaign (RF 3,
# min.insync.replicas=2), each of which must show no anomaly. About four minutes once built.
# Exit non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --example chaos
cargo build --release --bin weir --example chaos
chaos/run.sh --nodes 1 --nemesis kill --interval 12 --duration 60 --seed "${CHAOS_SEED:-1}" \
    --run-dir "${CHAOS_RUN_DIR:-$(mktemp -d /tmp/weir-chaos-ci.XXXXXX)}"
chaos/run.sh --nodes 3 --nemesis kill --interval 12 --duration 60 --seed "${CHAOS_SEED:-1}" \
    --run-dir "${CHAOS_RUN_DIR3:-$(mktemp -d /tmp/weir-chaos-ci3.XXXXXX)}"
