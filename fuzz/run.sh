#!/usr/bin/env bash
# Runs one fuzz target for a while and prints libFuzzer's final figures.
#
#   fuzz/run.sh <target> [seconds] [extra libFuzzer args...]
#
#   targets: request_decoder, record_batch       seconds: default 300
#
# Environment:
#   SANITIZER=address|none   (default address; `none` is faster but libFuzzer then has no malloc
#                            hooks, so -malloc_limit_mb is not enforced, only -rss_limit_mb)
#   TOOLCHAIN=stable         rustup toolchain; on a stable one RUSTC_BOOTSTRAP=1 is set, which
#                            lets stable accept the nightly-only flags cargo-fuzz passes
#   DEBUG_ASSERTIONS=1       build with debug assertions and overflow checks (default 1)
#   RSS_LIMIT_MB=2048, MALLOC_LIMIT_MB=2048: an allocation or RSS over these is a crash; the
#                            point of request_decoder is to show lying counts never get there
#
# The seeds in fuzz/seeds/<target>/ (committed; regenerate with fuzz/seeds.py) are copied into
# fuzz/corpus/<target>/ (not committed), which the run grows. Crashes land in
# fuzz/artifacts/<target>/, the full log in fuzz/logs/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

target="${1:-}"
if [[ -z "$target" || ! -f "fuzz_targets/$target.rs" ]]; then
    echo "usage: $0 <target> [seconds] [libFuzzer args...]" >&2
    echo "targets: $(cd fuzz_targets && ls *.rs | sed 's/\.rs$//' | tr '\n' ' ')" >&2
    exit 2
fi
seconds="${2:-300}"
shift $(( $# >= 2 ? 2 : 1 ))

toolchain="${TOOLCHAIN:-stable}"
sanitizer="${SANITIZER:-address}"
rss_limit="${RSS_LIMIT_MB:-2048}"
malloc_limit="${MALLOC_LIMIT_MB:-2048}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi
if [[ "$toolchain" != nightly* ]]; then
    export RUSTC_BOOTSTRAP=1
fi

build_flags=(--sanitizer "$sanitizer")
if [[ "${DEBUG_ASSERTIONS:-1}" == 1 ]]; then
    build_flags+=(--debug-assertions)
fi

mkdir -p "corpus/$target" "artifacts/$target" logs
cp -n "seeds/$target/"* "corpus/$target/" 2>/dev/null || true

echo "== building $target (toolchain $toolchain, sanitizer $sanitizer)" >&2
cargo "+$toolchain" fuzz build "${build_flags[@]}" "$target"

log="logs/$target-$(date +%Y%m%d-%H%M%S).log"
echo "== running $target for ${seconds}s, log in fuzz/$log" >&2
set +e
cargo "+$toolchain" fuzz run "${build_flags[@]}" "$target" "corpus/$target" -- \
    -max_total_time="$seconds" \
    -rss_limit_mb="$rss_limit" \
    -malloc_limit_mb="$malloc_limit" \
    -timeout=10 \
    -max_len=4096 \
    -print_final_stats=1 \
    "$@" 2>&1 | tee "$log" | grep --line-buffered -E '^#[0-9]+[[:space:]]+(INITED|pulse|DONE)|ERROR|SUMMARY|panicked|weir-fuzz'
status=${PIPESTATUS[0]}
set -e

echo "== final figures ($target, ${seconds}s)"
grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1 || true
grep -E '^(Done [0-9]+ runs|stat::)' "$log" || true
if ls "artifacts/$target/"crash-* "artifacts/$target/"oom-* "artifacts/$target/"timeout-* \
    "artifacts/$target/"leak-* >/dev/null 2>&1; then
    echo "== artifacts in fuzz/artifacts/$target/:"
    ls -la "artifacts/$target/"
fi
exit "$status"
