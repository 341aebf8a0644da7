#!/usr/bin/env bash
# kafka-console-consumer.sh for Weir: translates Kafka's flags into `weir consume ...`.
# Supports --bootstrap-server, --topic, --from-beginning, --group, --max-messages N,
# --partition N, --offset earliest|latest|N, --timeout-ms (stop at the end instead of
# waiting), --property print.key/print.value/print.partition/print.offset/print.timestamp/
# print.headers=true|false, key.separator, line.separator, --consumer.config FILE.
set -euo pipefail
# shellcheck source=weir-shim-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/weir-shim-common.sh"

topic="" common=() extra=() follow=1
print_key=false print_value=true print_partition=false print_offset=false
print_timestamp=false print_headers=false key_sep=$'\t' line_sep=$'\n'
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bootstrap-server) weir_shim_need "$1" $#; common+=(--bootstrap-server "$2"); shift 2 ;;
        --consumer.config|--command-config) weir_shim_need "$1" $#; common+=(--command-config "$2"); shift 2 ;;
        --topic) weir_shim_need "$1" $#; topic="$2"; shift 2 ;;
        --from-beginning) extra+=(--from-beginning); shift ;;
        --group) weir_shim_need "$1" $#; extra+=(--group "$2"); shift 2 ;;
        --max-messages) weir_shim_need "$1" $#; extra+=(--count "$2"); shift 2 ;;
        --partition) weir_shim_need "$1" $#; extra+=(--partition "$2"); shift 2 ;;
        --offset)
            weir_shim_need "$1" $#
            case "$2" in
                earliest) extra+=(--from-beginning) ;;
                latest) extra+=(--from-end) ;;
                *) extra+=(--offset "$2") ;;
            esac
            shift 2 ;;
        --timeout-ms) weir_shim_need "$1" $#; follow=0; shift 2 ;;
        --property)
            weir_shim_need "$1" $#
            case "$2" in
                print.key=*) print_key="${2#print.key=}" ;;
                print.value=*) print_value="${2#print.value=}" ;;
                print.partition=*) print_partition="${2#print.partition=}" ;;
                print.offset=*) print_offset="${2#print.offset=}" ;;
                print.timestamp=*) print_timestamp="${2#print.timestamp=}" ;;
                print.headers=*) print_headers="${2#print.headers=}" ;;
                key.separator=*) key_sep="${2#key.separator=}" ;;
                line.separator=*) line_sep="${2#line.separator=}" ;;
                *) ;;
            esac
            shift 2 ;;
        --consumer-property|--formatter|--formatter-config|--isolation-level)
            weir_shim_need "$1" $#; shift 2 ;; # accepted, not needed
        --skip-message-on-error|--enable-systest-events) shift ;;
        --help|-h) echo "kafka-console-consumer.sh (weir shim): --bootstrap-server HOST:PORT --topic T [--from-beginning] [--group G] [--max-messages N]"; exit 0 ;;
        --version) "$WEIR" --version; exit 0 ;;
        --include|--whitelist) weir_shim_usage_error "$1 (topic patterns) is not supported by the weir shim" ;;
        *) weir_shim_usage_error "unknown option $1" ;;
    esac
done
[[ -n "$topic" ]] || weir_shim_usage_error "--topic is required"

# DefaultMessageFormatter's layout: timestamp, partition, offset, headers, key, value.
sep="$(weir_shim_fmt_escape "$key_sep")"
fmt=""
[[ "$print_timestamp" == true ]] && fmt+="CreateTime:%T$sep"
[[ "$print_partition" == true ]] && fmt+="Partition:%p$sep"
[[ "$print_offset" == true ]] && fmt+="Offset:%o$sep"
[[ "$print_headers" == true ]] && fmt+="%h$sep"
[[ "$print_key" == true ]] && fmt+="%k$sep"
if [[ "$print_value" == true ]]; then
    fmt+="%s"
else
    fmt="${fmt%"$sep"}"
fi
fmt+="$(weir_shim_fmt_escape "$line_sep")"
[[ $follow -eq 1 ]] && extra+=(--follow)
exec "$WEIR" consume "$topic" --format "$fmt" ${extra[@]+"${extra[@]}"} ${common[@]+"${common[@]}"}
