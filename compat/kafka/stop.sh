#!/usr/bin/env bash
# Stop the Kafka nodes that compat/kafka/start.sh started into DIR: SIGTERM to each (a
# controlled shutdown), SIGKILL to any still running after --grace seconds (default 30).
# --clean also removes DIR.
#
# Usage: compat/kafka/stop.sh [--clean] [--grace SECS] DIR
set -uo pipefail

CLEAN=0
GRACE=30
DIR=""
while [ $# -gt 0 ]; do
    case "$1" in
        --clean) CLEAN=1; shift ;;
        --grace) GRACE="${2:?}"; shift 2 ;;
        -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) DIR="$1"; shift ;;
    esac
done
[ -n "$DIR" ] && [ -d "$DIR" ] || { echo "stop.sh: no such directory: ${DIR:-<none>}" >&2; exit 2; }

pids=()
for f in "$DIR"/node-*/pid; do
    [ -f "$f" ] || continue
    p="$(cat "$f")"
    # Only a process that is still the Kafka node this directory started (pid reuse).
    if kill -0 "$p" 2>/dev/null && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "$(dirname "$f")/server.properties"; then
        kill -TERM "$p" 2>/dev/null && pids+=("$p")
    fi
    rm -f "$f"
done
for ((t = 0; t < GRACE * 10; t++)); do
    alive=0
    for p in ${pids[@]+"${pids[@]}"}; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
done
for p in ${pids[@]+"${pids[@]}"}; do
    kill -0 "$p" 2>/dev/null && { echo "stop.sh: pid $p still running after ${GRACE}s: SIGKILL" >&2; kill -KILL "$p"; }
done
[ "$CLEAN" = 1 ] && rm -rf "$DIR"
echo "stopped ${#pids[@]} node(s)"
