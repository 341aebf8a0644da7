#!/usr/bin/env bash
# Run librdkafka's own regression test suite (v2.12.0) against an already
# running Kafka-compatible broker (Weir).
#
# The suite is taken from the npm package node-rdkafka@3.6.1, which vendors
# librdkafka v2.12.0 under deps/librdkafka. It is fetched with `npm pack`,
# extracted and built once into a cache directory outside the repo, and
# reused on later runs. See compat/librdkafka/README.md.
#
# Usage: compat/librdkafka/run.sh [options]   (run with --help for details)

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

NPM_PKG="node-rdkafka"
NPM_VER="3.6.1"
RDK_VER="2.12.0"

CACHE="${WEIR_COMPAT_CACHE:-$HOME/.cache/weir-compat}"
JOBS="${WEIR_COMPAT_JOBS:-2}"

BOOTSTRAP="${WEIR_BOOTSTRAP:-localhost:9092}"
KAFKA_VER="${TEST_KAFKA_VERSION:-4.1.0}"
ALLOW_FILE="$SCRIPT_DIR/tests.allow"
TESTS_ARG=""
RUN_ALL=0
LOCAL_MODE=""          # "" = run local and broker sub-tests, "only", "skip"
TIMEOUT=600
RESULTS=""
SCENARIO="default"
IDEMPOTENT=0
GROUP_PROTOCOL=""
BUILD_ONLY=0
LIST_ONLY=0
BROKER_CHECK=1
MOCK_BROKERS=0
EXTRA_CONF=()
EXTRA_ARGS=()

usage() {
    cat <<EOF
Usage: $0 [options]

Runs librdkafka v$RDK_VER's test suite (tests/test-runner), one test number
at a time, in full (non-quick) mode against a running broker.

Test selection (default: numbers listed in compat/librdkafka/tests.allow):
  --tests "0001 0002 ..."  run exactly these test numbers (NUM:SECS sets that
                           number's timeout, e.g. 0045:1200)
  --allow FILE             read test numbers from FILE (one per line, # comments)
  --all                    every automated test number in the suite (0000-0999;
                           the manual 8xxx tests only run when named in --tests)
  --list                   print the suite's test numbers with their sub-tests
                           and flags (LOCAL / KNOWN_ISSUE / SOCKEM / scenario), exit

Broker / suite configuration:
  --bootstrap HOST:PORT    broker to test (default: localhost:9092, env WEIR_BOOTSTRAP)
  --kafka-version X.Y.Z    version the suite assumes the broker is
                           (default 4.1.0; env TEST_KAFKA_VERSION)
  --scenario NAME          test scenario (default "default"; "noautocreate" runs
                           the tests written for auto.create.topics.enable=false)
  --group-protocol P       classic (default) or consumer (KIP-848) for consumers
  --idempotent             run every producer with enable.idempotence=true (-P)
  --conf KEY=VALUE         append a line to the generated test.conf (repeatable),
                           e.g. --conf test.timeout.multiplier=2
  --runner-arg ARG         pass ARG through to test-runner (repeatable)

Local (broker-less, mock cluster) sub-tests:
  --local-only             run only sub-tests flagged TEST_F_LOCAL (test-runner -l);
                           needs no broker, skips the bootstrap reachability check
  --skip-local             skip sub-tests flagged TEST_F_LOCAL (test-runner -L), so
                           only broker-facing sub-tests count
  (default: both local and broker sub-tests of each selected number run)

Running:
  --timeout SECS           per-test-number timeout (default 600); test-runner
                           also enforces each sub-test's own timeout
  --results DIR            where logs go (default \$CACHE/results/<timestamp>)
  --no-broker-check        do not check that the bootstrap address accepts TCP
  --mock-broker N          instead of --bootstrap, start librdkafka's own mock
                           cluster with N brokers and test against it: a
                           self-test of this harness and a baseline, not Weir
  --build-only             fetch + build the suite, then exit
  -h, --help               this text

Environment: WEIR_COMPAT_CACHE (cache dir, default ~/.cache/weir-compat),
WEIR_COMPAT_JOBS (make -j, default 2), WEIR_COMPAT_NO_APT=1 (never apt-get;
missing optional libs are disabled instead). Suite variables such as
TEST_DEBUG, TEST_LEVEL, SUBTESTS, KAFKA_PATH are passed through unchanged.

Output: one line per test number (PASS 0001 / FAIL 0002 <reason> /
SKIP 0028 <reason>), then "N passed, N failed". Exit 1 if any failed.
EOF
}

die() { echo "run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --bootstrap) BOOTSTRAP="${2:?}"; shift 2 ;;
        --bootstrap=*) BOOTSTRAP="${1#*=}"; shift ;;
        --tests) TESTS_ARG="${2:?}"; shift 2 ;;
        --tests=*) TESTS_ARG="${1#*=}"; shift ;;
        --allow) ALLOW_FILE="${2:?}"; shift 2 ;;
        --allow=*) ALLOW_FILE="${1#*=}"; shift ;;
        --all) RUN_ALL=1; shift ;;
        --list) LIST_ONLY=1; shift ;;
        --kafka-version) KAFKA_VER="${2:?}"; shift 2 ;;
        --kafka-version=*) KAFKA_VER="${1#*=}"; shift ;;
        --scenario) SCENARIO="${2:?}"; shift 2 ;;
        --scenario=*) SCENARIO="${1#*=}"; shift ;;
        --group-protocol) GROUP_PROTOCOL="${2:?}"; shift 2 ;;
        --group-protocol=*) GROUP_PROTOCOL="${1#*=}"; shift ;;
        --idempotent) IDEMPOTENT=1; shift ;;
        --conf) EXTRA_CONF+=("${2:?}"); shift 2 ;;
        --conf=*) EXTRA_CONF+=("${1#*=}"); shift ;;
        --runner-arg) EXTRA_ARGS+=("${2:?}"); shift 2 ;;
        --runner-arg=*) EXTRA_ARGS+=("${1#*=}"); shift ;;
        --local-only|-l) LOCAL_MODE="only"; shift ;;
        --skip-local|-L) LOCAL_MODE="skip"; shift ;;
        --timeout) TIMEOUT="${2:?}"; shift 2 ;;
        --timeout=*) TIMEOUT="${1#*=}"; shift ;;
        --results) RESULTS="${2:?}"; shift 2 ;;
        --results=*) RESULTS="${1#*=}"; shift ;;
        --no-broker-check) BROKER_CHECK=0; shift ;;
        --mock-broker) MOCK_BROKERS="${2:?}"; shift 2 ;;
        --mock-broker=*) MOCK_BROKERS="${1#*=}"; shift ;;
        --build-only) BUILD_ONLY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

case "$MOCK_BROKERS" in ''|*[!0-9]*) die "--mock-broker wants a broker count" ;; esac
case "$TIMEOUT" in ''|*[!0-9]*) die "--timeout wants whole seconds" ;; esac

WORK="$CACHE/librdkafka-$RDK_VER"
SRC="$WORK/package/deps/librdkafka"
TDIR="$SRC/tests"
RUNNER="$TDIR/test-runner"
BUILD_STAMP="$WORK/.weir-built"
DEPS_STAMP="$WORK/.weir-deps-tried"
LOGDIR="$WORK/build-logs"

log() { echo "[run.sh] $*" >&2; }

# ---------------------------------------------------------------------------
# Fetch + build (cached, serialised with a lock so parallel runs don't race)
# ---------------------------------------------------------------------------

fetch_suite() {
    if [ -f "$WORK/.weir-extracted" ]; then
        return
    fi
    command -v npm >/dev/null || die "npm not found (needed to fetch $NPM_PKG@$NPM_VER)"
    log "fetching $NPM_PKG@$NPM_VER with npm pack into $WORK"
    rm -rf "$WORK/package"
    mkdir -p "$WORK"
    local tgz
    tgz="$(cd "$WORK" && npm pack --silent "$NPM_PKG@$NPM_VER" | tail -n1)"
    [ -f "$WORK/$tgz" ] || die "npm pack did not produce a tarball ($tgz)"
    tar -xzf "$WORK/$tgz" -C "$WORK"
    [ -f "$SRC/configure" ] && [ -f "$TDIR/test.c" ] ||
        die "package has no deps/librdkafka/tests"
    if ! grep -q 'define RD_KAFKA_VERSION 0x020c00ff' "$SRC/src/rdkafka.h"; then
        die "vendored librdkafka is not v$RDK_VER"
    fi
    chmod +x "$SRC/configure" "$SRC/mklove/"*.sh 2>/dev/null || true
    touch "$WORK/.weir-extracted"
}

# Debian -dev package : configure flag to use when it is unavailable : the
# config.h macro a build with it defines. RapidJSON is only used by the tests
# (0053 validates the statistics JSON with it; 0101 and 0110 skip themselves
# without it); configure turns it off by itself when its header is missing.
DEPS=(
    "zlib1g-dev:--disable-zlib:WITH_ZLIB"
    "libssl-dev:--disable-ssl:WITH_SSL"
    "libzstd-dev:--disable-zstd:WITH_ZSTD"
    "liblz4-dev:--disable-lz4-ext:WITH_LZ4_EXT"
    "libsasl2-dev:--disable-gssapi:WITH_SASL_CYRUS"
    "libcurl4-openssl-dev:--disable-curl:WITH_CURL"
    "rapidjson-dev::WITH_RAPIDJSON"
)
dep_pkg() { echo "${1%%:*}"; }
dep_flag() { local r="${1#*:}"; echo "${r%%:*}"; }
dep_macro() { echo "${1##*:}"; }

have_deb() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

ensure_deps() {
    command -v dpkg-query >/dev/null || return 0
    local missing=() d
    for d in "${DEPS[@]}"; do
        have_deb "$(dep_pkg "$d")" || missing+=("$(dep_pkg "$d")")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "${WEIR_COMPAT_NO_APT:-0}" = 1 ] || [ "$(id -u)" != 0 ] ||
        ! command -v apt-get >/dev/null; then
        log "not installing ${missing[*]}: those features will be disabled"
        return 0
    fi
    log "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$LOGDIR/apt.log" 2>&1 || true
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >>"$LOGDIR/apt.log" 2>&1; then
        # Try them one by one so one unavailable package doesn't block the rest.
        for d in "${missing[@]}"; do
            apt-get install -y -qq --no-install-recommends "$d" \
                >>"$LOGDIR/apt.log" 2>&1 || log "apt-get could not install $d"
        done
    fi
}

# Prints the packages of DEPS that are installed now but that the cached
# build was configured without (its config.h lacks their macro), e.g. a cache
# built before rapidjson-dev was added to DEPS.
stale_features() {
    command -v dpkg-query >/dev/null || return 0
    [ -f "$SRC/config.h" ] || return 0
    local d
    for d in "${DEPS[@]}"; do
        if have_deb "$(dep_pkg "$d")" &&
            ! grep -q "^#define $(dep_macro "$d") 1" "$SRC/config.h"; then
            printf '%s ' "$(dep_pkg "$d")"
        fi
    done
}

build_suite() {
    mkdir -p "$LOGDIR"
    if [ -f "$BUILD_STAMP" ] && [ -x "$RUNNER" ]; then
        # Try to install what is missing once per DEPS list (not on every run
        # when apt-get is unavailable or fails), so a package added to DEPS
        # after the cache was built gets installed too.
        if [ "$(cat "$DEPS_STAMP" 2>/dev/null)" != "${DEPS[*]}" ]; then
            ensure_deps
            echo "${DEPS[*]}" >"$DEPS_STAMP"
        fi
        local stale
        stale="$(stale_features)"
        [ -z "$stale" ] && return
        log "cached build lacks ${stale% }, installed now: rebuilding"
        rm -f "$BUILD_STAMP" "$SRC/config.cache"
        (cd "$SRC" && make clean) >"$LOGDIR/make-clean.log" 2>&1 || true
    else
        ensure_deps
        echo "${DEPS[*]}" >"$DEPS_STAMP"
    fi
    local flags=(--no-download) d f
    for d in "${DEPS[@]}"; do
        f="$(dep_flag "$d")"
        if [ -n "$f" ] && command -v dpkg-query >/dev/null && ! have_deb "$(dep_pkg "$d")"; then
            flags+=("$f")
        fi
    done
    local t0=$SECONDS
    log "configuring librdkafka ($SRC) with: ${flags[*]}"
    (cd "$SRC" && ./configure "${flags[@]}") >"$LOGDIR/configure.log" 2>&1 ||
        { tail -n 30 "$LOGDIR/configure.log" >&2; die "configure failed, see $LOGDIR/configure.log"; }
    log "building libs (make -j$JOBS libs), log: $LOGDIR/make-libs.log"
    (cd "$SRC" && make -j"$JOBS" libs) >"$LOGDIR/make-libs.log" 2>&1 ||
        { tail -n 30 "$LOGDIR/make-libs.log" >&2; die "make libs failed, see $LOGDIR/make-libs.log"; }
    log "building test-runner (make -C tests -j$JOBS build), log: $LOGDIR/make-tests.log"
    (cd "$SRC" && make -C tests -j"$JOBS" build) >"$LOGDIR/make-tests.log" 2>&1 ||
        { tail -n 30 "$LOGDIR/make-tests.log" >&2; die "building tests failed, see $LOGDIR/make-tests.log"; }
    [ -x "$RUNNER" ] || die "build finished but $RUNNER is missing"
    local with
    with="$(grep -oE '^#define WITH_(ZLIB|SSL|ZSTD|LZ4_EXT|SASL_CYRUS|CURL|RAPIDJSON) 1' "$SRC/config.h" |
        awk '{ printf "%s%s", (n++ ? " " : ""), $2 }')"
    echo "configure ${flags[*]}; with: $with; built in $((SECONDS - t0))s on $(date -u +%FT%TZ)" >"$BUILD_STAMP"
    log "build done in $((SECONDS - t0))s"
}

mkdir -p "$WORK"
exec 9>"$WORK/.lock"
if command -v flock >/dev/null; then
    flock 9
fi
fetch_suite
build_suite
if command -v flock >/dev/null; then
    flock -u 9
fi
exec 9>&-

if [ "$BUILD_ONLY" = 1 ]; then
    log "suite built: $RUNNER ($(cat "$BUILD_STAMP"))"
    exit 0
fi

# ---------------------------------------------------------------------------
# Test catalogue, from the tests[] table in test.c
# ---------------------------------------------------------------------------

# Prints "<subtest-name> <flags...>" for every entry in tests[].
catalogue() {
    awk '
        /^struct test tests\[\] = \{/ { on = 1; next }
        on && /\{NULL\}/ { flush(); on = 0 }
        !on { next }
        /_TEST\(/ { flush(); cur = $0; next }
        cur != "" { cur = cur " " $0 }
        function flush() {
            if (cur == "") return
            s = cur; cur = ""
            if (!match(s, /_TEST\([0-9][0-9][0-9][0-9][A-Za-z0-9_]*/)) return
            name = substr(s, RSTART + 6, RLENGTH - 6)
            f = ""
            if (s ~ /TEST_F_LOCAL/) f = f " LOCAL"
            if (s ~ /TEST_F_KNOWN_ISSUE[,| )]/) f = f " KNOWN_ISSUE"
            if (s ~ /TEST_F_MANUAL/) f = f " MANUAL"
            if (s ~ /TEST_F_SOCKEM/) f = f " SOCKEM"
            if (match(s, /\.scenario *= *"[^"]*"/)) {
                sc = substr(s, RSTART, RLENGTH); gsub(/.*= *"|"/, "", sc)
                f = f " scenario=" sc
            }
            print name f
        }
    ' "$TDIR/test.c"
}

CATALOGUE="$(catalogue)"
SUITE_NUMS="$(printf '%s\n' "$CATALOGUE" | cut -c1-4 | sort -u)"

if [ "$LIST_ONLY" = 1 ]; then
    printf '%s\n' "$CATALOGUE"
    exit 0
fi

# Normalise tokens NUM or NUM:SECS into "NNNN" / "NNNN:SECS".
normalise() {
    local tok n t
    for tok in $1; do
        n="${tok%%:*}"; t=""
        [ "$n" != "$tok" ] && t="${tok#*:}"
        case "$n" in ''|*[!0-9]*) die "not a test number: '$tok'" ;; esac
        case "$t" in *[!0-9]*) die "bad per-test timeout in '$tok'" ;; esac
        printf '%04d%s\n' "$((10#$n))" "${t:+:$t}"
    done
}

if [ "$RUN_ALL" = 1 ]; then
    SELECTED="$(printf '%s\n' "$SUITE_NUMS" | grep -v '^8')"
    SOURCE="--all"
elif [ -n "$TESTS_ARG" ]; then
    SELECTED="$(normalise "$(echo "$TESTS_ARG" | tr ',' ' ')")"
    SOURCE="--tests"
else
    [ -f "$ALLOW_FILE" ] || die "allow file not found: $ALLOW_FILE"
    SELECTED="$(normalise "$(sed -e 's/#.*//' "$ALLOW_FILE" | tr ',' ' ')")"
    SOURCE="$ALLOW_FILE"
fi
# de-duplicate, keep order
SELECTED="$(printf '%s\n' "$SELECTED" | awk -F: 'NF && !seen[$1]++')"

if [ -z "$SELECTED" ]; then
    echo "no tests selected (is $SOURCE empty?)" >&2
    echo "0 passed, 0 failed"
    exit 0
fi

# ---------------------------------------------------------------------------
# Optional: librdkafka's built-in mock cluster as the broker (--mock-broker)
# ---------------------------------------------------------------------------

MOCK_PID=""
cleanup_mock() {
    if [ -n "$MOCK_PID" ]; then
        kill "$MOCK_PID" 2>/dev/null || true
        wait "$MOCK_PID" 2>/dev/null || true
    fi
}
if [ "$MOCK_BROKERS" -gt 0 ]; then
    MOCK_BIN="$WORK/weir-mock-broker"
    if [ ! -x "$MOCK_BIN" ]; then
        cat >"$WORK/weir-mock-broker.c" <<'EOC'
/* Starts librdkafka's mock cluster, prints its bootstrap list, then idles. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "rdkafka.h"
#include "rdkafka_mock.h"
int main(int argc, char **argv) {
        char errstr[256];
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(),
                                      errstr, sizeof(errstr));
        rd_kafka_mock_cluster_t *mc;
        if (!rk) {
                fprintf(stderr, "%s\n", errstr);
                return 1;
        }
        mc = rd_kafka_mock_cluster_new(rk, argc > 1 ? atoi(argv[1]) : 1);
        if (!mc)
                return 1;
        printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
        fflush(stdout);
        for (;;)
                pause();
}
EOC
        gcc -O1 -I"$SRC/src" "$WORK/weir-mock-broker.c" -o "$MOCK_BIN" \
            -L"$SRC/src" -lrdkafka || die "could not build the mock broker"
    fi
    mkdir -p "$WORK/tmp"
    mock_out="$(mktemp "$WORK/tmp/mock.XXXXXX")"
    LD_LIBRARY_PATH="$SRC/src" "$MOCK_BIN" "$MOCK_BROKERS" >"$mock_out" 2>/dev/null &
    MOCK_PID=$!
    trap cleanup_mock EXIT
    for _ in $(seq 50); do
        [ -s "$mock_out" ] && break
        sleep 0.1
    done
    BOOTSTRAP="$(head -n1 "$mock_out")"
    rm -f "$mock_out"
    case "$BOOTSTRAP" in *:[0-9]*) ;; *) die "mock broker did not start" ;; esac
    log "mock cluster ($MOCK_BROKERS broker(s)) at $BOOTSTRAP, pid $MOCK_PID"
fi

# ---------------------------------------------------------------------------
# Results dir + test.conf
# ---------------------------------------------------------------------------

if [ -z "$RESULTS" ]; then
    RESULTS="$CACHE/results/librdkafka-$(date +%Y%m%d-%H%M%S)"
    mkdir -p "$RESULTS"
    ln -sfn "$RESULTS" "$CACHE/results/latest"
fi
mkdir -p "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"

CONF="$RESULTS/test.conf"
{
    echo "# Generated by compat/librdkafka/run.sh"
    echo "bootstrap.servers=$BOOTSTRAP"
    # As the suite's own trivup harness does: a "localhost" that also resolves
    # to ::1 would otherwise give connection-refused errors, which the tests'
    # error callback turns into failures. Override with --conf.
    case "$BOOTSTRAP" in *\[*) ;; *) echo "broker.address.family=v4" ;; esac
    for kv in ${EXTRA_CONF[@]+"${EXTRA_CONF[@]}"}; do
        echo "$kv"
    done
} >"$CONF"

RUNNER_ARGS=(-p1)
[ "$LOCAL_MODE" = only ] && RUNNER_ARGS+=(-l)
[ "$LOCAL_MODE" = skip ] && RUNNER_ARGS+=(-L)
[ "$IDEMPOTENT" = 1 ] && RUNNER_ARGS+=(-P)
[ "$SCENARIO" != default ] && RUNNER_ARGS+=(-s "$SCENARIO")
RUNNER_ARGS+=(${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"})

export RDKAFKA_TEST_CONF="$CONF"
export TEST_KAFKA_VERSION="$KAFKA_VER"
export RDKAFKA_GITVER="v$RDK_VER"
# Used by the kafka-topics.sh helper when KAFKA_PATH is set (broker >= 3.0).
export BROKERS="${BROKERS:-$BOOTSTRAP}"
export LD_LIBRARY_PATH="$SRC/src:$SRC/src-cpp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -n "$GROUP_PROTOCOL" ]; then
    export TEST_CONSUMER_GROUP_PROTOCOL="$GROUP_PROTOCOL"
fi

{
    echo "suite:       librdkafka v$RDK_VER ($NPM_PKG@$NPM_VER), $RUNNER"
    echo "bootstrap:   $BOOTSTRAP"
    echo "kafka ver:   $KAFKA_VER"
    echo "selection:   $SOURCE"
    echo "runner args: ${RUNNER_ARGS[*]}"
    echo "timeout:     ${TIMEOUT}s per test number (unless NUM:SECS)"
    echo "results:     $RESULTS"
} | tee "$RESULTS/run-info.txt" >&2

if [ "$BROKER_CHECK" = 1 ] && [ "$LOCAL_MODE" != only ]; then
    host="${BOOTSTRAP%%,*}"; host="${host##*://}"
    port="${host##*:}"; host="${host%:*}"; host="${host#[}"; host="${host%]}"
    if ! timeout 5 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then
        die "no broker accepting connections at $BOOTSTRAP (use --local-only for broker-less tests, or --no-broker-check)"
    fi
fi

# ---------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------

strip_ansi() { sed -e 's/\x1b\[[0-9;]*m//g' -e 's/\r$//'; }

# Summary lines look like: "| 0001_multiobj   |   PASSED |   1.234s | reason"
summary_rows() {
    awk -F'|' '
        /SUMMARY$/ { on = 1; next }
        on && /^#====/ { n++; if (n == 2) on = 0; next }
        on && NF >= 4 {
            name = $2; st = $3; why = ""
            for (i = 5; i <= NF; i++) why = why (i > 5 ? "|" : "") $i
            gsub(/^ +| +$/, "", name); gsub(/^ +| +$/, "", st); gsub(/^ +| +$/, "", why)
            if (name == "<MAIN>") next
            print st "\t" name "\t" why
        }
    ' "$1"
}

# test-runner prints its summary table on stdout; line-buffer it so the table
# survives an abort() (the suite aborts when a failed test leaks threads).
STDBUF=""
command -v stdbuf >/dev/null && STDBUF="stdbuf -oL -eL"

PASSED=0
FAILED=0
SKIPPED=0
: >"$RESULTS/summary.txt"

for entry in $SELECTED; do
    num="${entry%%:*}"
    tmo="$TIMEOUT"
    [ "$entry" != "$num" ] && tmo="${entry#*:}"
    logf="$RESULTS/$num.log"
    if ! printf '%s\n' "$SUITE_NUMS" | grep -qx "$num"; then
        line="FAIL $num no such test number in librdkafka v$RDK_VER"
        FAILED=$((FAILED + 1))
        echo "$line" | tee -a "$RESULTS/summary.txt"
        continue
    fi
    log "running $num ..."
    t0=$SECONDS
    set +e
    (cd "$TDIR" && TESTS="$num" timeout -k 15 "$tmo" $STDBUF ./test-runner "${RUNNER_ARGS[@]}") \
        </dev/null 2>&1 | strip_ansi >"$logf"
    rc=${PIPESTATUS[0]}
    set -e
    dur=$((SECONDS - t0))
    echo "# run.sh: exit code $rc after ${dur}s" >>"$logf"

    rows="$(summary_rows "$logf")"
    npass="$(printf '%s\n' "$rows" | grep -c '^PASSED' || true)"
    nfail="$(printf '%s\n' "$rows" | grep -cE '^(FAILED|RUNNING)' || true)"
    # timeout(1) gives 124, or 137 if it had to SIGKILL. test-runner itself
    # also SIGKILLs itself (137) when a sub-test exceeds its own timeout; that
    # case has a summary table and is handled below.
    if [ "$rc" = 124 ] || { [ "$rc" = 137 ] && [ "$dur" -ge "$tmo" ]; }; then
        reason="timed out after ${tmo}s"
        running="$(grep -o 'test(s) running:.*' "$logf" | tail -n1 | sed 's/test(s) running: *//')"
        [ -n "$running" ] && reason="$reason (still running: $running)"
        line="FAIL $num $reason"
    elif [ "$rc" = 0 ] && [ "$nfail" = 0 ] && [ "$npass" -gt 0 ]; then
        line="PASS $num"
    elif [ "$rc" = 0 ] && [ "$nfail" = 0 ]; then
        why="$(printf '%s\n' "$rows" | awk -F'\t' '$1 == "SKIPPED" && $3 != "" { print $2 ": " $3; exit }')"
        # A sub-test that started and then called TEST_SKIP() ends SKIPPED as a
        # whole, even if most of it ran: say so, the log has the details.
        sub="${why%%:*}"
        if [ -n "$why" ] && grep -q "Running test $sub =" "$logf"; then
            why="$sub (ran, then skipped itself): ${why#*: }"
        fi
        if [ -z "$why" ]; then
            # Silent skips carry no reason: show the sub-tests and their flags.
            subs="$(printf '%s\n' "$CATALOGUE" | awk -v n="$num" 'substr($1, 1, 4) == n {
                f = ""; for (i = 2; i <= NF; i++) f = f (f == "" ? "" : ",") $i
                printf "%s%s%s", (out++ ? " " : ""), $1, (f == "" ? "" : "[" f "]") }')"
            why="no sub-test ran (local filter / scenario / flags): $subs"
        fi
        line="SKIP $num $why"
    else
        why="$(printf '%s\n' "$rows" | awk -F'\t' '($1 == "FAILED" || $1 == "RUNNING") && $3 != "" { print $2 ": " $3; exit }')"
        if [ -z "$why" ]; then
            # No summary table or no reason in it (test-runner aborted, or a
            # sub-test hit its own timeout): use the first failure banner,
            # '### Test "NAME (...)" failed at ...', and the line after it.
            why="$(awk '/^### Test ".*" failed at / && !/^### Test "<MAIN>"/ {
                        n = $0; sub(/^### Test "/, "", n); sub(/[ "].*/, "", n)
                        if ((getline l) > 0) print n ": " l; else print n; exit }' "$logf")"
        fi
        if [ -z "$why" ]; then
            if [ "$rc" -gt 128 ]; then
                why="killed by signal $((rc - 128))"
            else
                why="exit code $rc"
            fi
            last="$(grep -v '^# run.sh' "$logf" | grep -v '^\s*$' | tail -n1)"
            [ -n "$last" ] && why="$why; last output: $last"
        fi
        line="FAIL $num $why"
    fi
    # Keep the line short: the start names the sub-test, the end says what broke.
    line="$(printf '%s' "$line" | tr -s ' \t' ' ' | awk '{
        if (length($0) > 230) $0 = substr($0, 1, 80) " ... " substr($0, length($0) - 144)
        print }')"
    case "$line" in
        PASS*) PASSED=$((PASSED + 1)) ;;
        SKIP*) SKIPPED=$((SKIPPED + 1)) ;;
        *) FAILED=$((FAILED + 1)) ;;
    esac
    echo "$line" >>"$RESULTS/summary.txt"
    log "$line (${dur}s)"
done

echo
cat "$RESULTS/summary.txt"
echo "logs: $RESULTS"
if [ "$SKIPPED" -gt 0 ]; then
    echo "$SKIPPED skipped (not counted below)"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
