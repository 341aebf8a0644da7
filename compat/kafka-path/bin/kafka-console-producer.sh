#!/usr/bin/env bash
# kafka-console-producer.sh for Weir: translates Kafka's flags into `weir produce ...`.
# Supports --bootstrap-server (or --broker-list), --topic, --property parse.key=true,
# --property key.separator=SEP, --compression-codec [CODEC], --request-required-acks N,
# --producer-property acks=N / compression.type=C, --producer.config FILE, --batch-size N.
set -euo pipefail
# shellcheck source=weir-shim-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/weir-shim-common.sh"

topic="" common=() extra=() parse_key=false key_sep=$'\t'
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bootstrap-server|--broker-list) weir_shim_need "$1" $#; common+=(--bootstrap-server "$2"); shift 2 ;;
        --producer.config|--command-config) weir_shim_need "$1" $#; common+=(--command-config "$2"); shift 2 ;;
        --topic) weir_shim_need "$1" $#; topic="$2"; shift 2 ;;
        --property|--reader-property)
            weir_shim_need "$1" $#
            case "$2" in
                parse.key=*) parse_key="${2#parse.key=}" ;;
                key.separator=*) key_sep="${2#key.separator=}" ;;
                *) ;; # other reader properties are ignored
            esac
            shift 2 ;;
        --producer-property)
            weir_shim_need "$1" $#
            case "$2" in
                acks=all) extra+=(--acks=-1) ;;
                acks=*) extra+=(--acks="${2#acks=}") ;;
                compression.type=*) extra+=(--compression "${2#compression.type=}") ;;
                *) ;;
            esac
            shift 2 ;;
        --request-required-acks) weir_shim_need "$1" $#; a="$2"; [[ "$a" == all ]] && a=-1; extra+=(--acks="$a"); shift 2 ;;
        --compression-codec)
            if [[ $# -ge 2 && "$2" != --* ]]; then extra+=(--compression "$2"); shift 2
            else extra+=(--compression gzip); shift; fi ;;
        --batch-size) weir_shim_need "$1" $#; extra+=(--batch-size "$2"); shift 2 ;;
        --sync) shift ;;
        --timeout|--request-timeout-ms|--message-send-max-retries|--retry-backoff-ms|--max-block-ms|--max-memory-bytes|--max-partition-memory-bytes|--metadata-expiry-ms|--socket-buffer-size|--line-reader)
            weir_shim_need "$1" $#; shift 2 ;; # accepted, not needed
        --help|-h) echo "kafka-console-producer.sh (weir shim): --bootstrap-server HOST:PORT --topic T [--property parse.key=true --property key.separator=SEP]"; exit 0 ;;
        --version) "$WEIR" --version; exit 0 ;;
        *) weir_shim_usage_error "unknown option $1" ;;
    esac
done
[[ -n "$topic" ]] || weir_shim_usage_error "--topic is required"
if [[ "$parse_key" == true ]]; then
    extra+=(--key-separator "$key_sep")
fi
exec "$WEIR" produce "$topic" ${extra[@]+"${extra[@]}"} ${common[@]+"${common[@]}"}
