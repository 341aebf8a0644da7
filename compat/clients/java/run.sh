#!/usr/bin/env bash
# The Java client suite (compat/clients/java, see ../README.md): builds weir.compat.Smoke once
# per pinned kafka-clients release with Maven (dependencies cached in ~/.m2), starts a broker
# per listener scenario on free loopback ports — target/release/weir, or with --against-kafka
# the reference Apache Kafka from compat/kafka — runs the suite with every client version over
# every listener, prints one PASS/FAIL/SKIP line per check and "N passed, N failed, N skipped",
# and exits 1 if anything failed.
#
# Scenarios (--listeners):
#   plaintext  PLAINTEXT, no authorizer (a default broker)
#   sasl_ssl   SASL_SSL (TLS with a CA made here by openssl; SCRAM-SHA-512 for the suite, PLAIN
#              checked too) plus the StandardAuthorizer with testuser a super user and alice
#              a user without ACLs: the ACL checks run here
set -uo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../../.." && pwd)"
CACHE="${WEIR_COMPAT_CACHE:-$HOME/.cache/weir-compat}"

# Pinned kafka-clients: the newest release that resolves, and the oldest 3.x line still in wide use.
CLIENT_NEW="4.4.0"
CLIENT_OLD="3.6.2"

CLIENTS="$CLIENT_NEW $CLIENT_OLD"
LISTENERS="plaintext sasl_ssl"
AGAINST=weir
BOOTSTRAP=""
WEIR_BIN="${WEIR_BIN:-$REPO/target/release/weir}"
BUILD=1
CI=0
ONLY=""
CHECK_TIMEOUT="${WEIR_JAVA_RUN_TIMEOUT:-900}"

usage() {
    cat <<EOF
Usage: $0 [options]

  --clients "V ..."     kafka-clients versions (default: $CLIENTS)
  --listeners "L ..."   scenarios: plaintext sasl_ssl (default: both)
  --against-kafka       run against Apache Kafka (compat/kafka/start.sh) instead of Weir
  --bootstrap H:P       use a running broker (plaintext scenario only)
  --weir PATH           broker binary (default target/release/weir; built unless --no-build)
  --no-build            don't run cargo build first
  --only REGEX          only checks whose name matches
  --ci                  the quick CI subset: plaintext, kafka-clients $CLIENT_NEW, checks marked ci
  -h, --help

Env: WEIR_COMPAT_CACHE (default ~/.cache/weir-compat), SMOKE_VERBOSE=1 (stack traces and
client INFO logs on stderr, kept in the run's log files).
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --clients) CLIENTS="${2:?}"; shift 2 ;;
        --listeners) LISTENERS="${2:?}"; shift 2 ;;
        --against-kafka) AGAINST=kafka; shift ;;
        --bootstrap) BOOTSTRAP="${2:?}"; shift 2 ;;
        --weir) WEIR_BIN="${2:?}"; BUILD=0; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --only) ONLY="${2:?}"; shift 2 ;;
        --ci) CI=1; CLIENTS="$CLIENT_NEW"; LISTENERS="plaintext"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [ -n "$BOOTSTRAP" ] && [ "$LISTENERS" != plaintext ]; then
    echo "--bootstrap runs the plaintext scenario only: add --listeners plaintext" >&2; exit 2
fi

log() { echo "# $*"; }
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="$CACHE/results/java-$AGAINST-$STAMP"
mkdir -p "$RESULTS"
ln -sfn "$RESULTS" "$CACHE/results/java-latest"
WORK="$(mktemp -d /tmp/weir-java-suite.XXXXXX)"

BROKER_PID=""
KAFKA_DIR=""
stop_broker() {
    if [ -n "$BROKER_PID" ]; then
        kill "$BROKER_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$BROKER_PID" 2>/dev/null
        wait "$BROKER_PID" 2>/dev/null
        BROKER_PID=""
    fi
    if [ -n "$KAFKA_DIR" ]; then
        "$REPO/compat/kafka/stop.sh" --grace 20 "$KAFKA_DIR" >/dev/null 2>&1
        cp "$KAFKA_DIR/node-1/kafka.log" "$RESULTS/$(basename "$KAFKA_DIR")-broker.log" 2>/dev/null
        KAFKA_DIR=""
    fi
}
cleanup() {
    stop_broker
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build the suite
declare -A CP=()
for v in $CLIENTS; do
    out="$SCRIPT_DIR/target/clients-$v"
    log "building the suite against kafka-clients $v"
    if ! (cd "$SCRIPT_DIR" && mvn -q -B -Dkafka.clients.version="$v" package \
            dependency:build-classpath -Dmdep.outputFile="$out/classpath.txt" -Dmdep.includeScope=runtime) \
            >"$RESULTS/build-$v.log" 2>&1; then
        echo "FAIL java-$v: maven build (see $RESULTS/build-$v.log)"; tail -20 "$RESULTS/build-$v.log" | sed 's/^/    /'
        echo "0 passed, 1 failed, 0 skipped"; exit 1
    fi
    CP[$v]="$out/classes:$(cat "$out/classpath.txt")"
done

if [ "$AGAINST" = weir ] && [ -z "$BOOTSTRAP" ]; then
    if [ "$BUILD" = 1 ]; then
        log "cargo build --release --bin weir"
        (cd "$REPO" && cargo build --release --bin weir) >"$RESULTS/cargo-build.log" 2>&1 \
            || { echo "cargo build failed; see $RESULTS/cargo-build.log" >&2; exit 1; }
    fi
    [ -x "$WEIR_BIN" ] || { echo "no broker binary at $WEIR_BIN" >&2; exit 1; }
fi

# ---------------------------------------------------------------- TLS material (sasl_ssl)
SSL="$WORK/ssl"
make_certs() {
    mkdir -p "$SSL"
    (
        set -e
        cd "$SSL"
        openssl req -new -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
            -subj "/CN=weir-java-suite-ca"
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >broker.ext
        # unencrypted PKCS#8 key: both brokers read it from a PEM keystore without a password
        openssl genpkey -algorithm RSA -out broker.key
        openssl req -new -key broker.key -out broker.csr -subj "/CN=localhost"
        openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
            -extfile broker.ext -out broker.pem
        cat broker.key broker.pem >broker.keystore.pem
    ) >"$RESULTS/openssl.log" 2>&1
}

# client property files for the sasl_ssl scenario
write_client_configs() {
    local tls="ssl.truststore.type=PEM
ssl.truststore.location=$SSL/ca.pem"
    printf 'security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="testuser" password="testpass";\n%s\n' "$tls" >"$WORK/scram.properties"
    printf 'sasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="testuser" password="testpass";\n' >"$WORK/plain.properties"
    printf 'weir.smoke.user=alice\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";\n' >"$WORK/alice.properties"
}

# ---------------------------------------------------------------- brokers
# start_<broker> <scenario>: sets SCEN_BOOTSTRAP.
start_weir() {
    local scen="$1" pp sp data="$WORK/weir-$1"
    mkdir -p "$data"
    pp="$(free_port)"
    sp="$(free_port)"
    while [ "$sp" = "$pp" ]; do sp="$(free_port)"; done
    {
        echo "log.dirs=$data/data"
        # the reference Kafka runs with this too (compat/kafka/start.sh): no 3 s join delay
        echo "group.initial.rebalance.delay.ms=0"
        if [ "$scen" = plaintext ]; then
            echo "listeners=PLAINTEXT://127.0.0.1:$pp"
        else
            echo "listeners=PLAINTEXT://127.0.0.1:$pp,SASL_SSL://127.0.0.1:$sp"
            echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL"
            echo "sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN"
            echo "sasl.users=testuser:testpass,alice:alice-secret"
            echo "ssl.keystore.type=PEM"
            echo "ssl.keystore.location=$SSL/broker.keystore.pem"
            echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
            echo "super.users=User:testuser;User:ANONYMOUS"
        fi
    } >"$data/server.properties"
    cp "$data/server.properties" "$RESULTS/$scen-weir.properties"
    # weir reads WEIR_<NAME> environment variables as settings: drop ours.
    env -u WEIR_BIN -u WEIR_COMPAT_CACHE -u WEIR_JAVA_RUN_TIMEOUT RUST_LOG="${RUST_LOG:-info}" \
        "$WEIR_BIN" serve "$data/server.properties" >"$RESULTS/$scen-broker.log" 2>&1 &
    BROKER_PID=$!
    local port="$pp"
    [ "$scen" = sasl_ssl ] && port="$sp"
    for _ in $(seq 100); do
        kill -0 "$BROKER_PID" 2>/dev/null || break
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { SCEN_BOOTSTRAP="127.0.0.1:$port"; return 0; }
        sleep 0.1
    done
    echo "weir did not start; log:" >&2; tail -20 "$RESULTS/$scen-broker.log" >&2
    return 1
}

start_kafka() {
    local scen="$1" args=() out
    KAFKA_DIR="$WORK/kafka-$scen"
    if [ "$scen" = sasl_ssl ]; then
        cat >"$WORK/kafka-sasl.properties" <<EOF
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_testuser="testpass" user_alice="alice-secret";
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$SSL/broker.keystore.pem
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:testuser;User:ANONYMOUS
EOF
        args=(--listener SASL_SSL --props "$WORK/kafka-sasl.properties"
            --format-arg --add-scram --format-arg 'SCRAM-SHA-512=[name=testuser,password=testpass]'
            --format-arg --add-scram --format-arg 'SCRAM-SHA-512=[name=alice,password=alice-secret]')
    fi
    if ! out="$("$REPO/compat/kafka/start.sh" --dir "$KAFKA_DIR" "${args[@]}" 2>"$RESULTS/$scen-kafka-start.log")"; then
        echo "Apache Kafka did not start:" >&2; cat "$RESULTS/$scen-kafka-start.log" >&2
        return 1
    fi
    cp "$KAFKA_DIR/node-1/server.properties" "$RESULTS/$scen-kafka.properties"
    if [ "$scen" = sasl_ssl ]; then
        SCEN_BOOTSTRAP="$(echo "$out" | sed -n 's/^SASL_SSL_BOOTSTRAP=//p')"
    else
        SCEN_BOOTSTRAP="$(echo "$out" | sed -n 's/^BOOTSTRAP=//p')"
    fi
    log "Apache Kafka $(echo "$out" | sed -n 's/^KAFKA_VERSION=//p') in $KAFKA_DIR"
}

# ---------------------------------------------------------------- run
PASS=0; FAIL=0; SKIP=0
run_suite() { # scen version bootstrap extra-args...
    local scen="$1" v="$2" b="$3" out rc label
    shift 3
    label="java-$v/$scen"
    out="$RESULTS/$scen-$v.log"
    local jopts=(-Xmx256m)
    [ -n "${SMOKE_VERBOSE:-}" ] && jopts+=(-Dorg.slf4j.simpleLogger.defaultLogLevel=info)
    local extra=()
    [ "$CI" = 1 ] && extra+=(--ci)
    [ -n "$ONLY" ] && extra+=(--only "$ONLY")
    log "suite $label against $b"
    local t0=$SECONDS
    timeout --kill-after=10 "$CHECK_TIMEOUT" java "${jopts[@]}" -cp "${CP[$v]}" weir.compat.Smoke \
        --bootstrap "$b" --label "$label" "$@" ${extra[@]+"${extra[@]}"} >"$out" 2>"$out.stderr"
    rc=$?
    grep -E '^(PASS|FAIL|SKIP|#) ' "$out"
    log "suite $label took $((SECONDS - t0))s"
    local p f k
    p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out"); k=$(grep -c '^SKIP ' "$out")
    PASS=$((PASS + p)); FAIL=$((FAIL + f)); SKIP=$((SKIP + k))
    if ! grep -qE 'passed, [0-9]+ failed' "$out"; then
        echo "FAIL $label: suite ended early, status $rc (see $out.stderr)"; tail -5 "$out.stderr" | sed 's/^/    /'
        FAIL=$((FAIL + 1))
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $label: suite exited with status $rc (see $out.stderr)"; FAIL=$((FAIL + 1))
    fi
}

log "results in $RESULTS"
for scen in $LISTENERS; do
    case "$scen" in plaintext|sasl_ssl) ;; *) echo "unknown scenario: $scen" >&2; exit 2 ;; esac
    SCEN_BOOTSTRAP=""
    args=()
    if [ "$scen" = sasl_ssl ]; then
        make_certs || { echo "FAIL $scen: openssl (see $RESULTS/openssl.log)"; FAIL=$((FAIL + 1)); continue; }
        write_client_configs
        args=(--client-config "$WORK/scram.properties" --plain-config "$WORK/plain.properties"
            --user-config "$WORK/alice.properties" --acls)
    fi
    if [ -n "$BOOTSTRAP" ]; then
        SCEN_BOOTSTRAP="$BOOTSTRAP"
    elif ! "start_$AGAINST" "$scen"; then
        echo "FAIL $scen: broker did not start"; FAIL=$((FAIL + 1)); stop_broker; continue
    fi
    for v in $CLIENTS; do
        run_suite "$scen" "$v" "$SCEN_BOOTSTRAP" ${args[@]+"${args[@]}"}
    done
    if [ -n "$BROKER_PID" ] && ! kill -0 "$BROKER_PID" 2>/dev/null; then
        echo "FAIL $scen: the broker exited during the run (see $RESULTS/$scen-broker.log)"; FAIL=$((FAIL + 1))
    fi
    stop_broker
done

echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" -eq 0 ]
