# Sourced by the kafka-*.sh shims: finds the weir binary and provides helpers.
# Not meant to be run directly.

weir_shim_find_bin() {
    if [[ -n "${WEIR_BIN:-}" ]]; then
        printf '%s\n' "$WEIR_BIN"
        return
    fi
    if command -v weir >/dev/null 2>&1; then
        command -v weir
        return
    fi
    local here root
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    root="$(cd "$here/../../.." && pwd)"
    # The repository's own build: release, or debug when that is newer (a stale release
    # binary may predate the client commands).
    local rel="$root/target/release/weir" dbg="$root/target/debug/weir"
    if [[ -x "$rel" && ( ! -x "$dbg" || ! "$dbg" -nt "$rel" ) ]]; then
        printf '%s\n' "$rel"
        return
    fi
    if [[ -x "$dbg" ]]; then
        printf '%s\n' "$dbg"
        return
    fi
    echo "$(basename "$0"): cannot find the weir binary (set WEIR_BIN, put weir on PATH, or cargo build)" >&2
    exit 2
}

WEIR="$(weir_shim_find_bin)"

weir_shim_usage_error() {
    echo "$(basename "$0"): $*" >&2
    exit 2
}

# Needs a value after a flag: weir_shim_need FLAG "$#"
weir_shim_need() {
    if [[ "$2" -lt 2 ]]; then
        weir_shim_usage_error "option $1 needs a value"
    fi
}

# Splits Kafka's "k=v,k2=[a,b],k3=v" config lists on commas outside brackets, one per line.
weir_shim_split_configs() {
    local s="$1" cur="" depth=0 i c
    for ((i = 0; i < ${#s}; i++)); do
        c="${s:i:1}"
        case "$c" in
            '[') depth=$((depth + 1)); cur+="$c" ;;
            ']') depth=$((depth - 1)); cur+="$c" ;;
            ',')
                if [[ $depth -eq 0 ]]; then
                    [[ -n "$cur" ]] && printf '%s\n' "$cur"
                    cur=""
                else
                    cur+="$c"
                fi
                ;;
            *) cur+="$c" ;;
        esac
    done
    [[ -n "$cur" ]] && printf '%s\n' "$cur"
    return 0
}

# Doubles % and \ (and writes newlines and tabs as \n and \t) so a literal is safe inside a
# weir --format string, even where $(...) would strip a trailing newline.
weir_shim_fmt_escape() {
    local s="${1//\\/\\\\}"
    s="${s//%/%%}"
    s="${s//$'\n'/\\n}"
    s="${s//$'\t'/\\t}"
    printf '%s' "$s"
}
