#!/usr/bin/env bash
# Start Apache Kafka (the pinned 4.x release from fetch.sh) in KRaft combined mode on free
# 127.0.0.1 ports, no Docker: one node by default, or a cluster of N nodes that are all
# broker+controller (static voters). Formats each node's log dir with a fresh random cluster
# id, starts `java -cp libs/* kafka.Kafka server.properties` in the background, waits until
# every node answers a Metadata request listing all N brokers, and prints (also written to
# <dir>/env, to be sourced):
#
#   DIR=<dir>  BOOTSTRAP=127.0.0.1:<port>[,...]  PIDS="<pid> ..."  [<PROTO>_BOOTSTRAP=...]
#
# Stop with compat/kafka/stop.sh <dir> (or start.sh --stop <dir>).
#
# Usage: compat/kafka/start.sh [options]
#   --nodes N            number of nodes (default 1)
#   --dir DIR            where node configs, data and logs go (default: a new /tmp/weir-kafka.*)
#   --heap SIZE          -Xmx per node (default 512m; KAFKA_HEAP_OPTS overrides)
#   --listener PROTO     add a listener named PROTO (SSL, SASL_PLAINTEXT, SASL_SSL) on another
#                        free port per node, advertised too; its security settings come from
#                        --prop / --props
#   --prop K=V           a server property for every node (repeatable; last one wins)
#   --props FILE         a file of server properties appended to every node's config
#   --format-arg ARG     passed to `kafka-storage format` (repeatable), e.g.
#                        --format-arg --add-scram --format-arg 'SCRAM-SHA-512=[name=u,password=p]'
#   --timeout SECS       how long to wait for the nodes (default 90)
#   --stop DIR           stop the nodes started into DIR (same as stop.sh DIR)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

NODES=1
DIR=""
HEAP=512m
TIMEOUT=90
EXTRA_LISTENERS=()
PROPS=()
PROPS_FILES=()
FORMAT_ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) NODES="${2:?}"; shift 2 ;;
        --dir) DIR="${2:?}"; shift 2 ;;
        --heap) HEAP="${2:?}"; shift 2 ;;
        --listener) EXTRA_LISTENERS+=("${2:?}"); shift 2 ;;
        --prop) PROPS+=("${2:?}"); shift 2 ;;
        --props) PROPS_FILES+=("${2:?}"); shift 2 ;;
        --format-arg) FORMAT_ARGS+=("${2?}"); shift 2 ;;
        --timeout) TIMEOUT="${2:?}"; shift 2 ;;
        --stop) exec "$SCRIPT_DIR/stop.sh" "${2:?}" ;;
        -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "start.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done
[[ "$NODES" =~ ^[1-9][0-9]*$ ]] || { echo "start.sh: --nodes wants a positive number" >&2; exit 2; }

home="$("$SCRIPT_DIR/fetch.sh" --quiet)"
[ -n "$DIR" ] || DIR="$(mktemp -d /tmp/weir-kafka.XXXXXX)"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
if ls "$DIR"/node-*/pid >/dev/null 2>&1; then
    echo "start.sh: $DIR already holds nodes; stop them first (stop.sh $DIR)" >&2; exit 2
fi

# Distinct free ports: client, controller, and one per extra listener, for every node.
declare -A taken=()
pick_port() {
    local p
    while :; do
        p="$(free_port)"
        [ -z "${taken[$p]:-}" ] && { taken[$p]=1; echo "$p"; return; }
    done
}
declare -a CLIENT_PORT CONTROLLER_PORT
declare -A EXTRA_PORT=()
for ((i = 1; i <= NODES; i++)); do
    CLIENT_PORT[i]="$(pick_port)"; taken[${CLIENT_PORT[i]}]=1
    CONTROLLER_PORT[i]="$(pick_port)"; taken[${CONTROLLER_PORT[i]}]=1
    for l in ${EXTRA_LISTENERS[@]+"${EXTRA_LISTENERS[@]}"}; do
        EXTRA_PORT[$i,$l]="$(pick_port)"; taken[${EXTRA_PORT[$i,$l]}]=1
    done
done
voters=""
for ((i = 1; i <= NODES; i++)); do
    voters="${voters:+$voters,}$i@127.0.0.1:${CONTROLLER_PORT[i]}"
done
rf=$(( NODES < 3 ? NODES : 3 ))
minisr=$(( rf > 1 ? 2 : 1 ))

# A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (what
# `kafka-storage random-uuid` prints).
CLUSTER_ID="$(python3 -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="))')"

for ((i = 1; i <= NODES; i++)); do
    nd="$DIR/node-$i"
    mkdir -p "$nd/data"
    listeners="PLAINTEXT://127.0.0.1:${CLIENT_PORT[i]},CONTROLLER://127.0.0.1:${CONTROLLER_PORT[i]}"
    advertised="PLAINTEXT://127.0.0.1:${CLIENT_PORT[i]}"
    protomap="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    for l in ${EXTRA_LISTENERS[@]+"${EXTRA_LISTENERS[@]}"}; do
        listeners="$listeners,$l://127.0.0.1:${EXTRA_PORT[$i,$l]}"
        advertised="$advertised,$l://127.0.0.1:${EXTRA_PORT[$i,$l]}"
        protomap="$protomap,$l:$l"
    done
    {
        echo "# Written by compat/kafka/start.sh: node $i of $NODES, cluster $CLUSTER_ID"
        echo "process.roles=broker,controller"
        echo "node.id=$i"
        echo "controller.quorum.voters=$voters"
        echo "controller.listener.names=CONTROLLER"
        echo "inter.broker.listener.name=PLAINTEXT"
        echo "listeners=$listeners"
        echo "advertised.listeners=$advertised"
        echo "listener.security.protocol.map=$protomap"
        echo "log.dirs=$nd/data"
        echo "num.partitions=1"
        echo "default.replication.factor=1"
        echo "offsets.topic.replication.factor=$rf"
        echo "transaction.state.log.replication.factor=$rf"
        echo "transaction.state.log.min.isr=$minisr"
        echo "share.coordinator.state.topic.replication.factor=$rf"
        echo "share.coordinator.state.topic.min.isr=$minisr"
        # Tests start consumers right after a broker comes up: no 3 s wait before the first
        # rebalance (Kafka's config/server.properties sets this to 0 for development too).
        echo "group.initial.rebalance.delay.ms=0"
        for f in ${PROPS_FILES[@]+"${PROPS_FILES[@]}"}; do cat "$f"; done
        for p in ${PROPS[@]+"${PROPS[@]}"}; do echo "$p"; done
    } >"$nd/server.properties"
    if ! KAFKA_HEAP_OPTS="-Xmx256m" "$SCRIPT_DIR/bin/kafka-storage.sh" format -t "$CLUSTER_ID" \
            -c "$nd/server.properties" ${FORMAT_ARGS[@]+"${FORMAT_ARGS[@]}"} >"$nd/format.log" 2>&1; then
        echo "start.sh: formatting node $i failed:" >&2; cat "$nd/format.log" >&2; exit 1
    fi
done

PIDS=""
for ((i = 1; i <= NODES; i++)); do
    nd="$DIR/node-$i"
    KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx$HEAP}" nohup "$SCRIPT_DIR/bin/kafka-server-start.sh" \
        "$nd/server.properties" >"$nd/kafka.log" 2>&1 </dev/null &
    echo $! >"$nd/pid"
    PIDS="${PIDS:+$PIDS }$!"
done

BOOTSTRAP=""
for ((i = 1; i <= NODES; i++)); do BOOTSTRAP="${BOOTSTRAP:+$BOOTSTRAP,}127.0.0.1:${CLIENT_PORT[i]}"; done

deadline=$((SECONDS + TIMEOUT))
for ((i = 1; i <= NODES; i++)); do
    nd="$DIR/node-$i"
    until "$SCRIPT_DIR/kafka_ping.py" "127.0.0.1:${CLIENT_PORT[i]}" --brokers "$NODES" --timeout 2 >/dev/null 2>&1; do
        if ! kill -0 "$(cat "$nd/pid")" 2>/dev/null; then
            echo "start.sh: node $i exited; end of its log:" >&2; tail -30 "$nd/kafka.log" >&2
            "$SCRIPT_DIR/stop.sh" "$DIR" >/dev/null 2>&1 || true
            exit 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            echo "start.sh: node $i did not answer within ${TIMEOUT}s; end of its log:" >&2
            tail -30 "$nd/kafka.log" >&2
            "$SCRIPT_DIR/stop.sh" "$DIR" >/dev/null 2>&1 || true
            exit 1
        fi
        sleep 0.5
    done
done

{
    echo "DIR=$DIR"
    echo "BOOTSTRAP=$BOOTSTRAP"
    echo "PIDS=\"$PIDS\""
    echo "CLUSTER_ID=$CLUSTER_ID"
    echo "KAFKA_VERSION=$KAFKA_VERSION"
    for l in ${EXTRA_LISTENERS[@]+"${EXTRA_LISTENERS[@]}"}; do
        b=""
        for ((i = 1; i <= NODES; i++)); do b="${b:+$b,}127.0.0.1:${EXTRA_PORT[$i,$l]}"; done
        echo "${l}_BOOTSTRAP=$b"
    done
} >"$DIR/env"
cat "$DIR/env"
