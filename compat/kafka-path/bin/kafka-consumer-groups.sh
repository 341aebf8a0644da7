#!/usr/bin/env bash
# kafka-consumer-groups.sh for Weir: translates Kafka's flags into `weir group ...`.
# Supports --list, --describe --group G [--members], --delete --group G..., and
# --reset-offsets --group G (--topic T[:P,P] | --all-topics) (--to-earliest | --to-latest |
# --to-offset N | --to-datetime ISO | --shift-by N) [--execute | --dry-run].
set -euo pipefail
# shellcheck source=weir-shim-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/weir-shim-common.sh"

action="" groups=() common=() extra=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bootstrap-server) weir_shim_need "$1" $#; common+=(--bootstrap-server "$2"); shift 2 ;;
        --command-config) weir_shim_need "$1" $#; common+=(--command-config "$2"); shift 2 ;;
        --list) action=list; shift ;;
        --describe) action=describe; shift ;;
        --delete) action=delete; shift ;;
        --reset-offsets) action=reset; shift ;;
        --group) weir_shim_need "$1" $#; groups+=("$2"); shift 2 ;;
        --members) extra+=(--members); shift ;;
        --topic) weir_shim_need "$1" $#; extra+=(--topic "$2"); shift 2 ;;
        --all-topics) extra+=(--all-topics); shift ;;
        --to-earliest) extra+=(--to-earliest); shift ;;
        --to-latest) extra+=(--to-latest); shift ;;
        --to-current) weir_shim_usage_error "--to-current is not supported by the weir shim" ;;
        --to-offset) weir_shim_need "$1" $#; extra+=(--to-offset "$2"); shift 2 ;;
        --to-datetime) weir_shim_need "$1" $#; extra+=(--to-datetime "$2"); shift 2 ;;
        --shift-by) weir_shim_need "$1" $#; extra+=(--shift-by="$2"); shift 2 ;;
        --execute) extra+=(--execute); shift ;;
        --dry-run) extra+=(--dry-run); shift ;;
        --offsets|--state|--verbose) shift ;; # describe shows offsets and state anyway
        --timeout) weir_shim_need "$1" $#; shift 2 ;;
        --all-groups|--delete-offsets|--by-duration|--from-file|--export)
            weir_shim_usage_error "$1 is not supported by the weir shim" ;;
        --help|-h) echo "kafka-consumer-groups.sh (weir shim): --bootstrap-server HOST:PORT (--list | --describe --group G | --delete --group G | --reset-offsets --group G --topic T --to-earliest --execute)"; exit 0 ;;
        --version) "$WEIR" --version; exit 0 ;;
        *) weir_shim_usage_error "unknown option $1" ;;
    esac
done

case "$action" in
    list) exec "$WEIR" group list ${common[@]+"${common[@]}"} ;;
    describe)
        [[ ${#groups[@]} -ge 1 ]] || weir_shim_usage_error "--describe needs --group"
        exec "$WEIR" group describe "${groups[@]}" ${extra[@]+"${extra[@]}"} ${common[@]+"${common[@]}"} ;;
    delete)
        [[ ${#groups[@]} -ge 1 ]] || weir_shim_usage_error "--delete needs --group"
        exec "$WEIR" group delete "${groups[@]}" ${common[@]+"${common[@]}"} ;;
    reset)
        [[ ${#groups[@]} -eq 1 ]] || weir_shim_usage_error "--reset-offsets needs one --group"
        exec "$WEIR" group reset-offsets "${groups[0]}" ${extra[@]+"${extra[@]}"} ${common[@]+"${common[@]}"} ;;
    *) weir_shim_usage_error "one of --list, --describe, --delete, --reset-offsets is required" ;;
esac
