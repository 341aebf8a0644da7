#!/usr/bin/env bash
# Go clients against Weir: franz-go's own kgo integration tests (which run against whatever
# broker KGO_SEEDS names), and smoke programs for Sarama, segmentio/kafka-go and franz-go's
# kadm admin client. See compat/clients/README.md ("Go clients").
#
# Go modules come from the Go module proxy into a cache outside the repo
# ($WEIR_COMPAT_CACHE/go: GOPATH, GOMODCACHE, GOCACHE), pinned by go.mod/go.sum here. Starts
# target/release/weir on free loopback ports (PLAINTEXT plus a SASL_PLAINTEXT listener with
# SCRAM-SHA-256 and OAUTHBEARER, as franz-go's CI broker has) unless --bootstrap is given,
# prints one PASS/FAIL/SKIP line per test or check and "N passed, N failed, N skipped", stops
# the broker and exits 1 if anything failed.

set -uo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../../.." && pwd)"
CACHE="${WEIR_COMPAT_CACHE:-$HOME/.cache/weir-compat}"
GOCACHE_ROOT="$CACHE/go"
PYTHON="${PYTHON:-python3}"

ALL_SUITES="franz-go sarama sarama-v4 kafka-go kadm"
CI_SUITES="franz-go sarama kafka-go kadm"
SUITES="$ALL_SUITES"
BOOTSTRAP=""
SASL_BOOTSTRAP=""
WEIR_BIN="${WEIR_BIN:-$REPO/target/release/weir}"
BUILD=1
CI=0
CLUSTER=0
DEBUG=0
SUITE_TIMEOUT="${WEIR_COMPAT_SUITE_TIMEOUT:-240}"
# franz-go's kgo tests produce 500,000 records in each of their ETL tests by default; --ci
# lowers that (KGO_TEST_RECORDS) so the whole package runs in about a minute.
KGO_TIMEOUT="${WEIR_COMPAT_KGO_TIMEOUT:-1200}"
KGO_RECORDS="${KGO_TEST_RECORDS:-}"

usage() {
    cat <<EOF
Usage: $0 [options]

  --suites "a b ..."   suites to run (default: $ALL_SUITES)
  --ci                 quick subset for CI: $CI_SUITES, with franz-go's
                       ETL tests at 50,000 records (a few minutes in all)
  --cluster            start a 3-node Weir cluster instead of one broker and run
                       franz-go's tests with replication factor 3 (default suite:
                       franz-go)
  --bootstrap H:P      use an already running broker instead of starting one
                       (franz-go's SCRAM/OAUTHBEARER tests then skip unless
                       --sasl-bootstrap names a SASL_PLAINTEXT listener with
                       user testuser:testpass and OAUTHBEARER enabled)
  --sasl-bootstrap H:P see above
  --weir PATH          broker binary (default: target/release/weir, built with
                       'cargo build --release --bin weir' unless --no-build)
  --no-build           don't run cargo build first
  --debug              start the broker with RUST_LOG=debug
  -h, --help

Env: WEIR_COMPAT_CACHE (default ~/.cache/weir-compat; Go's caches go in its go/ subdir),
WEIR_COMPAT_SUITE_TIMEOUT (seconds per smoke suite, default 240),
WEIR_COMPAT_KGO_TIMEOUT (seconds for franz-go's tests, default 1200),
KGO_TEST_RECORDS, KGO_LOG_LEVEL (passed to franz-go's tests).
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --suites) SUITES="$2"; shift 2 ;;
        --ci) CI=1; SUITES="$CI_SUITES"; shift ;;
        --cluster) CLUSTER=1; shift ;;
        --bootstrap) BOOTSTRAP="$2"; shift 2 ;;
        --sasl-bootstrap) SASL_BOOTSTRAP="$2"; shift 2 ;;
        --weir) WEIR_BIN="$2"; BUILD=0; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --debug) DEBUG=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [ "$CI" = 1 ] && [ -z "$KGO_RECORDS" ]; then KGO_RECORDS=50000; fi
if [ "$CLUSTER" = 1 ] && [ "$SUITES" = "$ALL_SUITES" ]; then SUITES="franz-go"; fi

log() { echo "# $*"; }

# ---------------------------------------------------------------- Go toolchain and modules
command -v go >/dev/null || { echo "FAIL go: no Go toolchain on PATH"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
export GOPATH="$GOCACHE_ROOT" GOMODCACHE="$GOCACHE_ROOT/mod" GOCACHE="$GOCACHE_ROOT/build"
# -modcacherw: the module cache stays deletable; GOTOOLCHAIN=local: never fetch a toolchain.
export GOFLAGS="-modcacherw" GOTOOLCHAIN=local
mkdir -p "$GOCACHE_ROOT/bin"

STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="$CACHE/clients/results/go-$STAMP"
mkdir -p "$RESULTS"
ln -sfn "$RESULTS" "$CACHE/clients/results/go-latest"

log "$(go version); modules in $GOMODCACHE"
BIN="$GOCACHE_ROOT/bin"
if ! (cd "$SCRIPT_DIR" && nice go build -o "$BIN/weir-go-smoke" ./smoke && nice go build -o "$BIN/weir-go-testreport" ./testreport) \
        >"$RESULTS/go-build.log" 2>&1; then
    echo "FAIL go: building the smoke programs failed (see $RESULTS/go-build.log)"
    tail -20 "$RESULTS/go-build.log" | sed 's/^/    /'
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
fi

# ---------------------------------------------------------------- broker
free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

BROKER_PIDS=()
DATA_DIR=""
cleanup() {
    local pid
    for pid in "${BROKER_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${BROKER_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    done
    [ -n "$DATA_DIR" ] && rm -rf "$DATA_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_started LOG PID: until the broker logs that it started (or dies).
wait_started() {
    for _ in $(seq 300); do
        grep -q "weir started" "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    echo "broker did not start; log $1:" >&2; cat "$1" >&2; exit 1
}

if [ -z "$BOOTSTRAP" ]; then
    if [ "$BUILD" = 1 ]; then
        log "cargo build --release --bin weir"
        (cd "$REPO" && cargo build --release --bin weir) >"$RESULTS/build.log" 2>&1 \
            || { echo "cargo build failed; see $RESULTS/build.log" >&2; tail -20 "$RESULTS/build.log" >&2; exit 1; }
    fi
    [ -x "$WEIR_BIN" ] || { echo "no broker binary at $WEIR_BIN" >&2; exit 1; }
    DATA_DIR="$(mktemp -d /tmp/weir-compat-go.XXXXXX)"
    if [ "$DEBUG" = 1 ]; then export RUST_LOG=debug; fi
    if [ "$CLUSTER" = 0 ]; then
        BPORT="$(free_port)"
        SPORT="$(free_port)"
        # The settings franz-go's own CI gives its single Kafka broker: internal topics with
        # one replica, and a SASL listener with SCRAM-SHA-256 (testuser) and unsecured
        # OAUTHBEARER.
        "$WEIR_BIN" \
            --override "listeners=PLAINTEXT://127.0.0.1:$BPORT,SASL_PLAINTEXT://127.0.0.1:$SPORT" \
            --override "log.dirs=$DATA_DIR" \
            --override "sasl.enabled.mechanisms=SCRAM-SHA-256,OAUTHBEARER" \
            --override "sasl.users=testuser:testpass" \
            --override "offsets.topic.replication.factor=1" \
            --override "transaction.state.log.replication.factor=1" \
            --override "transaction.state.log.min.isr=1" \
            >"$RESULTS/broker.log" 2>&1 &
        BROKER_PIDS+=($!)
        wait_started "$RESULTS/broker.log" $!
        log "$(grep -m1 "weir started" "$RESULTS/broker.log" | sed 's/^[^ ]* *//')"
        BOOTSTRAP="127.0.0.1:$BPORT"
        SASL_BOOTSTRAP="127.0.0.1:$SPORT"
    else
        # Three combined broker+controller nodes from KRaft properties, as README.md's
        # "A replicated cluster" starts them; franz-go's tests then use replication factor 3.
        declare -a BP CP
        for n in 1 2 3; do BP[$n]="$(free_port)"; CP[$n]="$(free_port)"; done
        voters="1@127.0.0.1:${CP[1]},2@127.0.0.1:${CP[2]},3@127.0.0.1:${CP[3]}"
        for n in 1 2 3; do
            printf '%s\n' "node.id=$n" "process.roles=broker,controller" \
                "listeners=PLAINTEXT://127.0.0.1:${BP[$n]},CONTROLLER://127.0.0.1:${CP[$n]}" \
                "controller.listener.names=CONTROLLER" \
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT" \
                "controller.quorum.voters=$voters" "log.dirs=$DATA_DIR/node$n" \
                "default.replication.factor=3" "min.insync.replicas=2" >"$DATA_DIR/node$n.properties"
            "$WEIR_BIN" serve "$DATA_DIR/node$n.properties" >"$RESULTS/broker-$n.log" 2>&1 &
            BROKER_PIDS+=($!)
        done
        for n in 1 2 3; do wait_started "$RESULTS/broker-$n.log" "${BROKER_PIDS[$((n - 1))]}"; done
        BOOTSTRAP="127.0.0.1:${BP[1]},127.0.0.1:${BP[2]},127.0.0.1:${BP[3]}"
        # Started is not registered: topics with replication factor 3 (and the offsets topic)
        # need all three brokers registered and unfenced at the controller.
        active=0
        for _ in $(seq 150); do
            active=$("$WEIR_BIN" cluster info --bootstrap-server "127.0.0.1:${BP[1]}" 2>/dev/null | grep -c ' active')
            [ "$active" -ge 3 ] && break
            sleep 0.2
        done
        [ "$active" -ge 3 ] || { echo "only $active of 3 brokers became active (see $RESULTS/broker-*.log)" >&2; exit 1; }
        log "3-node cluster on $BOOTSTRAP"
    fi
fi
log "bootstrap $BOOTSTRAP${SASL_BOOTSTRAP:+, SASL $SASL_BOOTSTRAP}; results in $RESULTS"

# ---------------------------------------------------------------- suites
PASS=0; FAIL=0; SKIP=0
run_suite() {
    local s="$1" limit="$2" out="$RESULTS/$1.log" rc
    shift 2
    log "suite $s"
    local t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@" >"$out" 2>&1
    rc=$?
    log "suite $s took $((SECONDS - t0))s"
    grep -E '^(PASS|FAIL|SKIP|#) ' "$out"
    local p f k
    p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out"); k=$(grep -c '^SKIP ' "$out")
    PASS=$((PASS + p)); FAIL=$((FAIL + f)); SKIP=$((SKIP + k))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $s: suite exited with status $rc (see $out)"; tail -5 "$out" | sed 's/^/    /'
        FAIL=$((FAIL + 1))
    elif ! grep -qE 'passed, [0-9]+ failed' "$out"; then
        echo "FAIL $s: suite ended early, status $rc (see $out)"; tail -5 "$out" | sed 's/^/    /'
        FAIL=$((FAIL + 1))
    fi
}

# franz-go's tests, run by `go test` in the package's own directory (some read their sources).
run_franz_go() {
    local envs=(KGO_TEST_RF=1 "KGO_SEEDS=$BOOTSTRAP" KGO_TEST_STABLE_FETCH=true)
    [ "$CLUSTER" = 1 ] && envs[0]=KGO_TEST_RF=3
    if [ -n "$SASL_BOOTSTRAP" ]; then
        envs+=("KGO_TEST_SCRAM_SEEDS=$SASL_BOOTSTRAP" "KGO_TEST_SCRAM=testuser:testpass"
               "KGO_TEST_OAUTH_SEEDS=$SASL_BOOTSTRAP")
    fi
    [ -n "$KGO_RECORDS" ] && envs+=("KGO_TEST_RECORDS=$KGO_RECORDS")
    (cd "$SCRIPT_DIR" && env "${envs[@]}" nice go test -json -count=1 -timeout "$((KGO_TIMEOUT - 30))s" \
        github.com/twmb/franz-go/pkg/kgo) \
        | "$BIN/weir-go-testreport" -suite franz-go -raw "$RESULTS/franz-go.raw.log"
}

for s in $SUITES; do
    case "$s" in
        franz-go)
            log "franz-go kgo tests: KGO_TEST_RECORDS=${KGO_RECORDS:-500000 (default)}; raw output in $RESULTS/franz-go.raw.log"
            # go test aborts itself 30 s before this outer limit, which is only the last resort.
            export BOOTSTRAP SASL_BOOTSTRAP KGO_RECORDS KGO_TIMEOUT SCRIPT_DIR BIN RESULTS CLUSTER
            export -f run_franz_go
            run_suite "$s" "$KGO_TIMEOUT" bash -c run_franz_go ;;
        sarama)
            run_suite "$s" "$SUITE_TIMEOUT" "$BIN/weir-go-smoke" --suite sarama --bootstrap "$BOOTSTRAP" ;;
        sarama-v4)
            run_suite "$s" "$SUITE_TIMEOUT" "$BIN/weir-go-smoke" --suite sarama --sarama-version 4.0.0 --label sarama-v4 --bootstrap "$BOOTSTRAP" ;;
        kafka-go|kadm)
            run_suite "$s" "$SUITE_TIMEOUT" "$BIN/weir-go-smoke" --suite "$s" --bootstrap "$BOOTSTRAP" ;;
        *) echo "unknown suite: $s" >&2; exit 2 ;;
    esac
done

for pid in "${BROKER_PIDS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "FAIL broker: pid $pid exited during the run (see $RESULTS/broker*.log)"; FAIL=$((FAIL + 1))
    fi
done
if [ "${#BROKER_PIDS[@]}" -gt 0 ]; then
    warns=$(cat "$RESULTS"/broker*.log | grep -cE ' (WARN|ERROR) ' || true)
    log "broker logs: $RESULTS/broker*.log (${warns:-0} WARN/ERROR lines)"
fi
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" -eq 0 ]
