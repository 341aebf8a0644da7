#!/usr/bin/env bash
# Run librdkafka's test suite (compat/librdkafka/run.sh) against a 3-node Weir
# cluster, the broker the suite's "default" scenario expects (trivup starts 3
# brokers with num.partitions=4, replication factor 3, broker.rack=RACK<id>
# and the rack-aware replica selector).
#
#   * copies the weir binary ($WEIR_BIN, default target/release/weir) into a
#     temp dir, so a rebuild cannot replace it mid-run;
#   * writes one KRaft combined-mode server.properties per node
#     (process.roles=broker,controller, node 1 = the active controller) on free
#     127.0.0.1 ports, each with its own log dir;
#   * starts node 1, then nodes 2 and 3, and waits until every node's
#     Metadata lists 3 brokers;
#   * runs run.sh --bootstrap <all three> with the remaining arguments;
#   * with --sasl, every listener speaks SASL_PLAINTEXT instead: clients log
#     in as testuser/testpass (test.conf gets security.protocol and sasl.*),
#     the nodes' replication and controller links log in as "broker", and
#     connections.max.reauth.ms=10000 plus an authorizer with
#     allow.everyone.if.no.acl.found are set, as trivup configures its SASL
#     brokers (what 0142 reauthentication needs);
#   * stops the nodes (SIGTERM, SIGKILL after 10 s; node 1, the controller,
#     last) and prints where the logs
#     are. A node that died during the run is reported and fails the run.
#
# Usage: compat/librdkafka/run-cluster.sh [options] [run.sh arguments]
#        (--help for details)

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"
RUN_SH="$SCRIPT_DIR/run.sh"

WEIR_SRC="${WEIR_BIN:-$REPO/target/release/weir}"
CACHE="${WEIR_COMPAT_CACHE:-$HOME/.cache/weir-compat}"
NODES=3
RF=3
MIN_ISR=1
AUTOCREATE=""          # "" = true unless run.sh gets --scenario noautocreate
KEEP=0
CI_MODE=0
RESULTS=""
SASL_MECH=""           # "" = PLAINTEXT listeners; else the clients' SASL mechanism
EXTRA_PROPS=()
RUN_ARGS=()

# --ci: numbers that pass against the 3-node cluster and exercise what a
# replicated cluster changes (leaders spread over 3 nodes, RF 3 produce with
# acks=all, fetch from the partition leader, group/offset coordinator on the
# leader of a __consumer_offsets partition, idempotent producer ids from the
# controller, admin requests routed to the controller, fetch from the follower
# in the consumer's rack), kept under 8 minutes
# on 2 cores (measured: see RESULTS.md, "3-node cluster").
CI_TESTS="0001 0002 0003 0008 0012 0013 0014 0017 0018 0030 0031 0036 0040 0042 0044 0048 0054 0056 0060 0069 0086 0090 0093 0101 0112 0127"

usage() {
    cat <<EOF
Usage: $0 [options] [run.sh arguments ...]

Starts a ${NODES}-node Weir cluster (KRaft combined mode, node 1 the active
controller) on free 127.0.0.1 ports and runs compat/librdkafka/run.sh against
it with --bootstrap set to all nodes. Every argument this script does not know
is passed to run.sh (e.g. --tests "0001 0012", --skip-local, --scenario
noautocreate, --conf K=V). Without --tests, run.sh runs tests.allow.

Options:
  --ci                 run the CI subset ($CI_TESTS),
                       broker-facing sub-tests only (--skip-local); < 8 minutes
  --rf N               default.replication.factor (default $RF)
  --min-isr N          min.insync.replicas (default $MIN_ISR)
  --nodes N            number of nodes (default $NODES)
  --sasl               SASL_PLAINTEXT listeners (clients, replication and the
                       controller), users testuser/testpass and broker/broker-secret,
                       PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 enabled,
                       connections.max.reauth.ms=10000, StandardAuthorizer with
                       allow.everyone.if.no.acl.found=true (super user User:broker);
                       the clients' test.conf uses PLAIN
  --sasl-mechanism M   as --sasl, the clients using mechanism M (PLAIN,
                       SCRAM-SHA-256, SCRAM-SHA-512, or OAUTHBEARER: then the
                       nodes also enable OAUTHBEARER with unsecured JWS tokens and
                       the clients send one for principal admin, as trivup does)
  --prop NAME=VALUE    extra broker property for every node (repeatable)
  --results DIR        where logs go (default \$CACHE/results/cluster-<timestamp>);
                       node logs in DIR/node<N>.log, suite logs in DIR/suite/
  --keep               keep the nodes' data directories
  -h, --help           this text

Every node gets: num.partitions=4, auto.create.topics.enable=true (false when
run.sh gets --scenario noautocreate), offsets.topic.replication.factor and
transaction.state.log.replication.factor = min(3, nodes), broker.rack=RACK<id>,
replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector.

Environment: WEIR_BIN (broker binary), WEIR_COMPAT_CACHE, RUST_LOG (node
log level, default info); everything run.sh reads (KAFKA_PATH, TESTS_SKIP, ...)
is passed through.
EOF
}

die() { echo "run-cluster.sh: $*" >&2; exit 2; }
log() { echo "[run-cluster.sh] $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --ci) CI_MODE=1; shift ;;
        --sasl) SASL_MECH="${SASL_MECH:-PLAIN}"; shift ;;
        --sasl-mechanism) SASL_MECH="${2:?}"; shift 2 ;;
        --sasl-mechanism=*) SASL_MECH="${1#*=}"; shift ;;
        --rf) RF="${2:?}"; shift 2 ;;
        --rf=*) RF="${1#*=}"; shift ;;
        --min-isr) MIN_ISR="${2:?}"; shift 2 ;;
        --min-isr=*) MIN_ISR="${1#*=}"; shift ;;
        --nodes) NODES="${2:?}"; shift 2 ;;
        --nodes=*) NODES="${1#*=}"; shift ;;
        --prop) EXTRA_PROPS+=("${2:?}"); shift 2 ;;
        --prop=*) EXTRA_PROPS+=("${1#*=}"); shift ;;
        --results) RESULTS="${2:?}"; shift 2 ;;
        --results=*) RESULTS="${1#*=}"; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --bootstrap|--bootstrap=*|--mock-broker|--mock-broker=*)
            die "$1: the bootstrap is the cluster this script starts" ;;
        --scenario) RUN_ARGS+=("$1" "${2:?}")
            [ "$2" = noautocreate ] && AUTOCREATE=false; shift 2 ;;
        --scenario=*) RUN_ARGS+=("$1")
            [ "${1#*=}" = noautocreate ] && AUTOCREATE=false; shift ;;
        *) RUN_ARGS+=("$1"); shift ;;
    esac
done
AUTOCREATE="${AUTOCREATE:-true}"
for v in "$RF" "$MIN_ISR" "$NODES"; do
    case "$v" in ''|*[!0-9]*) die "--rf, --min-isr and --nodes want numbers" ;; esac
done
[ "$NODES" -ge 1 ] || die "--nodes must be at least 1"
case "$SASL_MECH" in
    ''|PLAIN|SCRAM-SHA-256|SCRAM-SHA-512|OAUTHBEARER) ;;
    *) die "--sasl-mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER, not $SASL_MECH" ;;
esac
# The client side of --sasl: passed to run.sh as test.conf lines.
CLIENT_USER=testuser
CLIENT_PASS=testpass
if [ "$SASL_MECH" = OAUTHBEARER ]; then
    # librdkafka's built-in unsecured token, as run-security.sh's
    # sasl_oauthbearer scenario (and trivup) configure it.
    RUN_ARGS=(--conf security.protocol=SASL_PLAINTEXT --conf "sasl.mechanisms=$SASL_MECH"
        --conf enable.sasl.oauthbearer.unsecure.jwt=true
        --conf "sasl.oauthbearer.config=principal=admin scope=requiredScope"
        ${RUN_ARGS[@]+"${RUN_ARGS[@]}"})
elif [ -n "$SASL_MECH" ]; then
    RUN_ARGS=(--conf security.protocol=SASL_PLAINTEXT --conf "sasl.mechanisms=$SASL_MECH"
        --conf "sasl.username=$CLIENT_USER" --conf "sasl.password=$CLIENT_PASS"
        ${RUN_ARGS[@]+"${RUN_ARGS[@]}"})
fi
if [ "$CI_MODE" = 1 ]; then
    RUN_ARGS=(--tests "$CI_TESTS" --skip-local ${RUN_ARGS[@]+"${RUN_ARGS[@]}"})
fi

[ -x "$WEIR_SRC" ] || die "no weir binary at $WEIR_SRC (set WEIR_BIN)"

# Build the suite first (no-op when cached), so build time does not count
# against the cluster.
"$RUN_SH" --build-only >/dev/null

if [ -z "$RESULTS" ]; then
    RESULTS="$CACHE/results/cluster-$(date +%Y%m%d-%H%M%S)"
fi
mkdir -p "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"

WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/weir-cluster.XXXXXX")"
WEIR="$WORKDIR/weir"
cp "$WEIR_SRC" "$WEIR"

PIDS=()
# stop_pids PID...: SIGTERM, wait up to 10 s, SIGKILL what is left.
stop_pids() {
    local pid alive
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 100); do
        alive=0
        for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "$@"; do
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid still running 10 s after SIGTERM: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
}
# Nodes 2..N first (their controlled shutdown needs the controller), node 1 last.
stop_cluster() {
    [ ${#PIDS[@]} -gt 0 ] || return 0
    [ ${#PIDS[@]} -gt 1 ] && stop_pids "${PIDS[@]:1}"
    stop_pids "${PIDS[0]}"
    PIDS=()
}
cleanup() {
    stop_cluster
    if [ "$KEEP" = 1 ]; then
        log "kept data directories in $WORKDIR"
    else
        rm -rf "$WORKDIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# 2 distinct ports per node (client listener, controller listener).
declare -a PORT CPORT
used=" "
NEXT=""
next_port() {   # sets NEXT (no subshell, so `used` is kept)
    while :; do
        NEXT="$(free_port)"
        case "$used" in *" $NEXT "*) continue ;; esac
        used="$used$NEXT "
        return
    done
}
for n in $(seq "$NODES"); do
    next_port; PORT[$n]="$NEXT"
    next_port; CPORT[$n]="$NEXT"
done

VOTERS=""
BOOTSTRAP=""
for n in $(seq "$NODES"); do
    VOTERS="${VOTERS:+$VOTERS,}$n@127.0.0.1:${CPORT[$n]}"
    BOOTSTRAP="${BOOTSTRAP:+$BOOTSTRAP,}127.0.0.1:${PORT[$n]}"
done
INTERNAL_RF=$(( NODES < 3 ? NODES : 3 ))

# Listener named after its protocol, as trivup names them.
CLIENT_LISTENER=PLAINTEXT
[ -n "$SASL_MECH" ] && CLIENT_LISTENER=SASL_PLAINTEXT
BROKER_USER=broker
BROKER_PASS=broker-secret

# The SASL part of a node's server.properties (--sasl).
sasl_props() {
    local jaas_scram jaas_plain
    jaas_scram="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$BROKER_USER\" password=\"$BROKER_PASS\";"
    jaas_plain="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$BROKER_USER\" password=\"$BROKER_PASS\";"
    # OAUTHBEARER only on request: its unsecured tokens name any principal.
    if [ "$SASL_MECH" = OAUTHBEARER ]; then
        echo "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"
    else
        echo "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
    fi
    # One user store for PLAIN and SCRAM: the test client and the nodes themselves.
    echo "sasl.users=$CLIENT_USER:$CLIENT_PASS,$BROKER_USER:$BROKER_PASS"
    # Replication (and coordinator/marker calls) log in with SCRAM, the
    # controller links with PLAIN, each with its listener's JAAS credentials.
    echo "inter.broker.listener.name=$CLIENT_LISTENER"
    echo "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512"
    echo "listener.name.$(echo "$CLIENT_LISTENER" | tr 'A-Z' 'a-z').scram-sha-512.sasl.jaas.config=$jaas_scram"
    echo "sasl.mechanism.controller.protocol=PLAIN"
    echo "listener.name.controller.plain.sasl.jaas.config=$jaas_plain"
    # trivup's SASL brokers (interactive_broker_version.py --max-reauth-ms
    # default, authorizer on every broker).
    echo "connections.max.reauth.ms=10000"
    echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    echo "allow.everyone.if.no.acl.found=true"
    # trivup: the unsecured token's principal (admin) is a super user too.
    echo "super.users=User:$BROKER_USER;User:admin"
}

for n in $(seq "$NODES"); do
    mkdir -p "$WORKDIR/node$n/data"
    {
        echo "# Generated by compat/librdkafka/run-cluster.sh, node $n of $NODES"
        echo "node.id=$n"
        echo "process.roles=broker,controller"
        echo "listeners=$CLIENT_LISTENER://127.0.0.1:${PORT[$n]},CONTROLLER://127.0.0.1:${CPORT[$n]}"
        echo "advertised.listeners=$CLIENT_LISTENER://127.0.0.1:${PORT[$n]}"
        echo "controller.listener.names=CONTROLLER"
        if [ -n "$SASL_MECH" ]; then
            echo "listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
            sasl_props
        else
            echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
        fi
        echo "controller.quorum.voters=$VOTERS"
        echo "log.dirs=$WORKDIR/node$n/data"
        echo "num.partitions=4"
        echo "auto.create.topics.enable=$AUTOCREATE"
        echo "delete.topic.enable=true"
        echo "default.replication.factor=$RF"
        echo "min.insync.replicas=$MIN_ISR"
        echo "offsets.topic.replication.factor=$INTERNAL_RF"
        echo "transaction.state.log.replication.factor=$INTERNAL_RF"
        echo "transaction.state.log.min.isr=$(( INTERNAL_RF < 2 ? 1 : 2 ))"
        echo "broker.rack=RACK$n"
        echo "replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector"
        for kv in ${EXTRA_PROPS[@]+"${EXTRA_PROPS[@]}"}; do echo "$kv"; done
    } >"$WORKDIR/node$n/server.properties"
    cp "$WORKDIR/node$n/server.properties" "$RESULTS/node$n.properties"
done

# weir reads WEIR_<NAME> environment variables as settings: drop ours.
UNSET_ARGS=()
for v in $(compgen -e | grep '^WEIR_' || true); do UNSET_ARGS+=(-u "$v"); done

start_node() {
    local n="$1"
    env ${UNSET_ARGS[@]+"${UNSET_ARGS[@]}"} RUST_LOG="${RUST_LOG:-info}" \
        "$WEIR" serve "$WORKDIR/node$n/server.properties" >"$RESULTS/node$n.log" 2>&1 &
    PIDS+=($!)
}

listening() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

node_died() {
    local i
    for i in "${!PIDS[@]}"; do
        if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
            echo "$((i + 1))"
            return 0
        fi
    done
    return 1
}

fail_start() {
    log "cluster did not start: $1"
    for n in $(seq "$NODES"); do
        echo "--- node $n ($RESULTS/node$n.log), last lines:" >&2
        tail -n 15 "$RESULTS/node$n.log" >&2 || true
    done
    exit 1
}

log "starting $NODES nodes from $WEIR_SRC; bootstrap $BOOTSTRAP; logs in $RESULTS"
t0=$SECONDS
start_node 1
for _ in $(seq 100); do
    listening "${CPORT[1]}" && break
    d="$(node_died)" && fail_start "node $d exited"
    sleep 0.1
done
listening "${CPORT[1]}" || fail_start "node 1's controller listener is not up after 10 s"
for n in $(seq 2 "$NODES"); do start_node "$n"; done

# Ready = every node's Metadata (v1, the raw request below) lists all nodes.
# (`weir cluster info` uses DescribeCluster, which today may describe only the
# node asked; its output is kept in cluster-info.txt for the record.)
# With a user and password it first logs in with SASL PLAIN (SaslHandshake v1,
# SaslAuthenticate v0).
cat >"$WORKDIR/metadata_brokers.py" <<'EOPY'
import socket, struct, sys
h, p = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((h, int(p)), timeout=3)
def call(key, ver, corr, payload):
    body = struct.pack(">hhih", key, ver, corr, 4) + b"weir" + payload
    s.sendall(struct.pack(">i", len(body)) + body)
    n = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
    return s.recv(n, socket.MSG_WAITALL)
if len(sys.argv) > 3:
    d = call(17, 1, 5, struct.pack(">h", 5) + b"PLAIN")
    if struct.unpack(">h", d[4:6])[0] != 0:
        sys.exit("SaslHandshake refused PLAIN")
    tok = b"\0" + sys.argv[2].encode() + b"\0" + sys.argv[3].encode()
    d = call(36, 0, 6, struct.pack(">i", len(tok)) + tok)
    if struct.unpack(">h", d[4:6])[0] != 0:
        sys.exit("SaslAuthenticate failed")
d = call(3, 1, 7, struct.pack(">i", -1))
cnt = struct.unpack(">i", d[4:8])[0]
off, out = 8, []
for _ in range(cnt):
    nid = struct.unpack(">i", d[off:off + 4])[0]; off += 4
    hl = struct.unpack(">h", d[off:off + 2])[0]; off += 2 + hl + 4
    rl = struct.unpack(">h", d[off:off + 2])[0]; off += 2
    rack = d[off:off + rl].decode() if rl >= 0 else None; off += max(rl, 0)
    out.append("%d(%s)" % (nid, rack))
print(len(out), " ".join(out))
EOPY
ready=0
for _ in $(seq 120); do
    d="$(node_died)" && fail_start "node $d exited"
    ok=1
    for n in $(seq "$NODES"); do
        seen="$(python3 "$WORKDIR/metadata_brokers.py" "127.0.0.1:${PORT[$n]}" \
            ${SASL_MECH:+"$CLIENT_USER" "$CLIENT_PASS"} 2>/dev/null || echo 0)"
        [ "${seen%% *}" = "$NODES" ] || { ok=0; break; }
    done
    if [ "$ok" = 1 ]; then
        ready=1
        break
    fi
    sleep 0.5
done
[ "$ready" = 1 ] || fail_start "not every node's Metadata lists $NODES brokers after 60 s"
CLI_CONF=()
if [ -n "$SASL_MECH" ]; then
    {
        echo "security.protocol=SASL_PLAINTEXT"
        echo "sasl.mechanism=PLAIN"
        echo "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$CLIENT_USER\" password=\"$CLIENT_PASS\";"
    } >"$WORKDIR/client.properties"
    CLI_CONF=(--command-config "$WORKDIR/client.properties")
fi
{
    echo "Metadata brokers (as every node answers): $seen"
    "$WEIR" cluster info -b "$BOOTSTRAP" ${CLI_CONF[@]+"${CLI_CONF[@]}"} 2>&1 || true
} >"$RESULTS/cluster-info.txt"
log "cluster ready in $((SECONDS - t0))s:"
sed 's/^/    /' "$RESULTS/cluster-info.txt" >&2

status=0
"$RUN_SH" --bootstrap "$BOOTSTRAP" --results "$RESULTS/suite" \
    ${RUN_ARGS[@]+"${RUN_ARGS[@]}"} || status=$?

dead=""
for i in "${!PIDS[@]}"; do
    kill -0 "${PIDS[$i]}" 2>/dev/null || dead="$dead $((i + 1))"
done
stop_cluster
for n in $(seq "$NODES"); do
    c="$(grep -cE ' (ERROR|WARN) ' "$RESULTS/node$n.log" || true)"
    [ "$c" -gt 0 ] && log "node $n logged $c WARN/ERROR lines"
done
if [ -n "$dead" ]; then
    log "node(s)$dead died during the run; see their logs"
    for n in $dead; do tail -n 20 "$RESULTS/node$n.log" >&2; done
    [ "$status" = 0 ] && status=1
fi
echo "cluster logs: $RESULTS/node<N>.log (properties: node<N>.properties); suite logs: $RESULTS/suite"
exit "$status"
