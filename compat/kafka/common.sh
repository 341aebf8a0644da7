# Shared by compat/kafka/*.sh (sourced, not run): the pinned versions, where the jars live and
# how a Kafka JVM is started.

# Apache Kafka release used as the reference broker (bump deliberately; any 4.x in
# /work/.library/env/packages/maven-partial.tsv resolves). WEIR_KAFKA_VERSION overrides it.
KAFKA_VERSION="${WEIR_KAFKA_VERSION:-4.2.1}"
# The Log4j 2 release whose SLF4J 1.x binding routes Kafka's logging (Kafka 4.2 uses 2.25.x).
LOG4J_VERSION="2.25.4"

KAFKA_COMPAT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

kafka_home() { # version -> cache dir
    echo "${WEIR_COMPAT_CACHE:-$HOME/.cache/weir-compat}/kafka-$1"
}

# kafka_java <heap> <log4j2 config> <main class> [args...]: exec a JVM with the cached jars.
# KAFKA_HEAP_OPTS / KAFKA_JVM_PERFORMANCE_OPTS / KAFKA_OPTS override or extend the defaults,
# as in Kafka's own kafka-run-class.sh (whose GC settings are the defaults here too).
kafka_java() {
    local heap="$1" log4j="$2" main="$3" home
    shift 3
    home="$(kafka_home "$KAFKA_VERSION")"
    if [ ! -f "$home/.fetched" ]; then
        "$KAFKA_COMPAT_DIR/fetch.sh" --quiet >/dev/null || return 1
    fi
    local java="java" heap_opts perf_opts
    [ -n "${JAVA_HOME:-}" ] && java="$JAVA_HOME/bin/java"
    heap_opts="${KAFKA_HEAP_OPTS:--Xmx$heap}"
    perf_opts="${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"
    # shellcheck disable=SC2086  # the *_OPTS variables are word lists, as in Kafka's scripts
    exec "$java" $heap_opts $perf_opts "-Dlog4j2.configurationFile=$log4j" \
        -cp "$home/libs/*" ${KAFKA_OPTS:-} "$main" "$@"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
