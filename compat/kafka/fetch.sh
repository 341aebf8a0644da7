#!/usr/bin/env bash
# Fetch Apache Kafka's broker and tools (a pinned 4.x release, every runtime dependency) from
# Maven Central into a cache outside the repository:
#
#   ${WEIR_COMPAT_CACHE:-~/.cache/weir-compat}/kafka-<version>/libs/*.jar
#
# Idempotent: when the cache already holds this version (a stamp file written after a complete
# copy), it does nothing. Prints the cache directory on stdout.
#
# Usage: compat/kafka/fetch.sh [--version V] [--quiet]
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

QUIET=0
while [ $# -gt 0 ]; do
    case "$1" in
        --version) KAFKA_VERSION="${2:?}"; shift 2 ;;
        --quiet) QUIET=1; shift ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fetch.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done

home="$(kafka_home "$KAFKA_VERSION")"
stamp="$home/.fetched"
want="kafka=$KAFKA_VERSION log4j=$LOG4J_VERSION pom=$(sha256sum "$SCRIPT_DIR/pom.xml" | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$home/libs" ]; then
    echo "$home"
    exit 0
fi

command -v mvn >/dev/null || { echo "fetch.sh: mvn (Maven) not found" >&2; exit 1; }
[ "$QUIET" = 1 ] || echo "fetch.sh: fetching Apache Kafka $KAFKA_VERSION into $home/libs" >&2
mkdir -p "$home"
tmp="$(mktemp -d "$home/libs.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# copy-dependencies with the runtime scope: the broker (kafka_2.13 + kafka-server and the
# coordinators they pull in), kafka-storage (format), kafka-tools (the CLI tools) and the Log4j
# binding. Jars come from the local Maven repository (~/.m2) once downloaded.
if ! mvn -q -B -f "$SCRIPT_DIR/pom.xml" dependency:copy-dependencies \
        -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$LOG4J_VERSION" \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$home/fetch.log" 2>&1; then
    echo "fetch.sh: mvn dependency:copy-dependencies failed; see $home/fetch.log" >&2
    tail -20 "$home/fetch.log" >&2
    exit 1
fi
[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || { echo "fetch.sh: kafka_2.13-$KAFKA_VERSION.jar missing after the copy" >&2; exit 1; }
rm -rf "$home/libs"
mv "$tmp" "$home/libs"
echo "$want" >"$stamp"
[ "$QUIET" = 1 ] || echo "fetch.sh: $(find "$home/libs" -name '*.jar' | wc -l) jars in $home/libs" >&2
echo "$home"
