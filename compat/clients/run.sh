#!/usr/bin/env bash
# Smoke-test Weir with Kafka clients other than librdkafka's test suite:
# kafka-python (newest 3.x, 2.3.x, 2.0.x), kafka-python-ng, confluent-kafka
# (wheel-bundled librdkafka) and kafkajs. See compat/clients/README.md.
#
# Installs the clients into a cache dir outside the repo, starts
# target/release/weir on a free loopback port with a temp data dir (unless
# --bootstrap is given), runs every suite, prints one PASS/FAIL/SKIP line per
# check and a final "N passed, N failed, N skipped" line, stops the broker and
# exits 1 if anything failed.

set -uo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"
CACHE="${WEIR_COMPAT_CACHE:-$HOME/.cache/weir-compat}/clients"
PYTHON="${PYTHON:-python3}"

# Pinned client versions (bump deliberately; the newest at the time of writing).
KAFKA_PYTHON_LATEST="kafka-python==3.0.12"
CONFLUENT_KAFKA="confluent-kafka==2.16.1"
KAFKA_PYTHON_23="kafka-python==2.3.3"
KAFKA_PYTHON_20="kafka-python==2.0.2"
KAFKA_PYTHON_NG="kafka-python-ng==2.2.3"
CODECS="python-snappy==0.7.3 lz4==4.4.5 zstandard==0.25.0"

ALL_SUITES="kafka-python kafka-python-2.3 kafka-python-2.0 kafka-python-ng confluent kafkajs"
SUITES="$ALL_SUITES"
BOOTSTRAP=""
WEIR_BIN="${WEIR_BIN:-$REPO/target/release/weir}"
BUILD=1
PROXY=0
SHIM=0
DEBUG=0
SUITE_TIMEOUT="${WEIR_COMPAT_SUITE_TIMEOUT:-240}"
INSTALL_ONLY=0

usage() {
    cat <<EOF
Usage: $0 [options]

  --suites "a b ..."   suites to run (default: $ALL_SUITES)
  --bootstrap H:P      use an already running broker instead of starting one
  --weir PATH          broker binary (default: target/release/weir, built with
                       'cargo build --release --bin weir' unless --no-build)
  --no-build           don't run cargo build first
  --proxy              route clients through tools/kproxy.py and keep its
                       per-request log (API key/version/size) in the results
  --shim-listoffsets   (implies --proxy) rewrite ListOffsets v1-3 to v4 in the
                       proxy, to see past that Weir bug (exploration only)
  --debug              start the broker with RUST_LOG=debug
  --install-only       install the clients into the cache and exit
  -h, --help

Env: WEIR_COMPAT_CACHE (default ~/.cache/weir-compat; this script uses its
clients/ subdir), PYTHON (default python3), SMOKE_VERBOSE=1 (tracebacks),
WEIR_COMPAT_SUITE_TIMEOUT (seconds per suite, default 240).
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --suites) SUITES="$2"; shift 2 ;;
        --bootstrap) BOOTSTRAP="$2"; shift 2 ;;
        --weir) WEIR_BIN="$2"; BUILD=0; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --proxy) PROXY=1; shift ;;
        --shim-listoffsets) PROXY=1; SHIM=1; shift ;;
        --debug) DEBUG=1; shift ;;
        --install-only) INSTALL_ONLY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

log() { echo "# $*"; }
mkdir -p "$CACHE"

# ---------------------------------------------------------------- install
# venv_for SUITE -> directory name; packages for each venv
venv_dir() {
    case "$1" in
        kafka-python|confluent) echo "$CACHE/py-latest" ;;
        kafka-python-2.3) echo "$CACHE/py-kp23" ;;
        kafka-python-2.0) echo "$CACHE/py-kp20" ;;
        kafka-python-ng) echo "$CACHE/py-ng" ;;
    esac
}
venv_pkgs() {
    case "$1" in
        "$CACHE/py-latest") echo "$KAFKA_PYTHON_LATEST $CONFLUENT_KAFKA $CODECS" ;;
        "$CACHE/py-kp23") echo "$KAFKA_PYTHON_23 $CODECS" ;;
        "$CACHE/py-kp20") echo "$KAFKA_PYTHON_20 $CODECS" ;;
        "$CACHE/py-ng") echo "$KAFKA_PYTHON_NG $CODECS" ;;
    esac
}

ensure_venv() {
    local dir="$1" pkgs stamp
    pkgs="$(venv_pkgs "$dir")"
    stamp="$dir/.weir-installed"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pkgs" ]; then
        return 0
    fi
    log "installing into $dir: $pkgs"
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir" || return 1
    "$dir/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
    # --only-binary: confluent-kafka must come as a wheel with librdkafka inside
    # (never compiled here); the codec libraries have wheels too.
    # shellcheck disable=SC2086
    if "$dir/bin/pip" install -q --disable-pip-version-check \
        --only-binary confluent-kafka,lz4,zstandard,cramjam $pkgs; then
        echo "$pkgs" > "$stamp"
    else
        echo "pip install failed for $dir" >&2
        return 1
    fi
}

ensure_node() {
    local dir="$CACHE/node"
    mkdir -p "$dir"
    if [ -f "$dir/.weir-installed" ] && cmp -s "$SCRIPT_DIR/node/package.json" "$dir/package.json"; then
        return 0
    fi
    log "installing kafkajs into $dir"
    cp "$SCRIPT_DIR/node/package.json" "$dir/package.json"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null) || return 1
    touch "$dir/.weir-installed"
}

declare -A SETUP_FAILED=()
for s in $SUITES; do
    case "$s" in
        kafkajs)
            ensure_node || SETUP_FAILED[$s]="npm install failed" ;;
        kafka-python|kafka-python-2.3|kafka-python-2.0|kafka-python-ng|confluent)
            d="$(venv_dir "$s")"
            ensure_venv "$d" || SETUP_FAILED[$s]="pip install into $d failed" ;;
        *) echo "unknown suite: $s" >&2; exit 2 ;;
    esac
done
[ "$INSTALL_ONLY" = 1 ] && { log "installed"; exit 0; }

# ---------------------------------------------------------------- broker
STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="$CACHE/results/$STAMP"
mkdir -p "$RESULTS"
ln -sfn "$RESULTS" "$CACHE/results/latest"

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

BROKER_PID=""
PROXY_PID=""
DATA_DIR=""
cleanup() {
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
    if [ -n "$BROKER_PID" ]; then
        kill "$BROKER_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$BROKER_PID" 2>/dev/null
    fi
    [ -n "$DATA_DIR" ] && rm -rf "$DATA_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$BOOTSTRAP" ]; then
    if [ "$BUILD" = 1 ]; then
        log "cargo build --release --bin weir"
        (cd "$REPO" && cargo build --release --bin weir) >"$RESULTS/build.log" 2>&1 \
            || { echo "cargo build failed; see $RESULTS/build.log" >&2; tail -20 "$RESULTS/build.log" >&2; exit 1; }
    fi
    [ -x "$WEIR_BIN" ] || { echo "no broker binary at $WEIR_BIN" >&2; exit 1; }
    BPORT="$(free_port)"
    DATA_DIR="$(mktemp -d /tmp/weir-compat-clients.XXXXXX)"
    ADV=()
    if [ "$PROXY" = 1 ]; then
        PPORT="$(free_port)"
        ADV=(--override "advertised.listeners=PLAINTEXT://127.0.0.1:$PPORT")
    fi
    if [ "$DEBUG" = 1 ]; then export RUST_LOG=debug; fi
    "$WEIR_BIN" --override "listeners=PLAINTEXT://127.0.0.1:$BPORT" \
        --override "log.dirs=$DATA_DIR" "${ADV[@]}" >"$RESULTS/broker.log" 2>&1 &
    BROKER_PID=$!
    for _ in $(seq 300); do
        grep -q "weir started" "$RESULTS/broker.log" 2>/dev/null && break
        kill -0 "$BROKER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q "weir started" "$RESULTS/broker.log"; then
        echo "broker did not start; log:" >&2; cat "$RESULTS/broker.log" >&2; exit 1
    fi
    log "$(grep -m1 "weir started" "$RESULTS/broker.log" | sed 's/^[^ ]* *//')"
    BOOTSTRAP="127.0.0.1:$BPORT"
    if [ "$PROXY" = 1 ]; then
        SHIM_ARG=()
        [ "$SHIM" = 1 ] && SHIM_ARG=(--shim-listoffsets)
        "$PYTHON" "$SCRIPT_DIR/tools/kproxy.py" --listen "127.0.0.1:$PPORT" --upstream "$BOOTSTRAP" \
            "${SHIM_ARG[@]}" >"$RESULTS/proxy.log" 2>&1 &
        PROXY_PID=$!
        sleep 0.5
        BOOTSTRAP="127.0.0.1:$PPORT"
        log "clients go through kproxy on $BOOTSTRAP (log: $RESULTS/proxy.log)"
    fi
elif [ "$PROXY" = 1 ]; then
    echo "--proxy needs the broker started by this script (advertised.listeners)" >&2; exit 2
fi
log "bootstrap $BOOTSTRAP; results in $RESULTS"

# ---------------------------------------------------------------- suites
PASS=0; FAIL=0; SKIP=0
run_suite() {
    local s="$1" out="$RESULTS/$1.log" rc
    shift
    if [ -n "${SETUP_FAILED[$s]:-}" ]; then
        echo "FAIL $s: setup: ${SETUP_FAILED[$s]}"; FAIL=$((FAIL + 1)); return
    fi
    log "suite $s"
    local t0=$SECONDS
    timeout --kill-after=10 "$SUITE_TIMEOUT" "$@" >"$out" 2>&1
    rc=$?
    log "suite $s took $((SECONDS - t0))s"
    # the per-check lines and comments, not the suite's own totals line
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

for s in $SUITES; do
    case "$s" in
        kafkajs)
            run_suite "$s" env KAFKAJS_NODE_MODULES="$CACHE/node/node_modules" \
                node "$SCRIPT_DIR/node/smoke.mjs" --bootstrap "$BOOTSTRAP" ;;
        confluent)
            run_suite "$s" "$(venv_dir "$s")/bin/python" "$SCRIPT_DIR/python/smoke.py" \
                --bootstrap "$BOOTSTRAP" --suite confluent ;;
        *)
            run_suite "$s" "$(venv_dir "$s")/bin/python" "$SCRIPT_DIR/python/smoke.py" \
                --bootstrap "$BOOTSTRAP" --suite kafka-python ;;
    esac
done

if [ -n "$BROKER_PID" ] && ! kill -0 "$BROKER_PID" 2>/dev/null; then
    echo "FAIL broker: exited during the run (see $RESULTS/broker.log)"; FAIL=$((FAIL + 1))
fi
warns=$(grep -cE ' (WARN|ERROR) ' "$RESULTS/broker.log" 2>/dev/null || true)
log "broker log: $RESULTS/broker.log (${warns:-0} WARN/ERROR lines)"
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" -eq 0 ]
