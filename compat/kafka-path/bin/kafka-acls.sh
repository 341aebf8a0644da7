#!/usr/bin/env bash
# kafka-acls.sh for Weir: translates Kafka's flags into `weir acl ...`.
# --add / --remove / --list with --allow-principal, --deny-principal, --allow-host,
# --deny-host, --operation, --topic, --group, --cluster, --transactional-id,
# --resource-pattern-type, --principal, --force.
set -euo pipefail
# shellcheck source=weir-shim-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/weir-shim-common.sh"

action="" common=() extra=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bootstrap-server) weir_shim_need "$1" $#; common+=(--bootstrap-server "$2"); shift 2 ;;
        --command-config) weir_shim_need "$1" $#; common+=(--command-config "$2"); shift 2 ;;
        --add) action=create; shift ;;
        --remove) action=delete; shift ;;
        --list) action=list; shift ;;
        --allow-principal|--deny-principal|--allow-host|--deny-host|--operation|--topic|--group|--transactional-id|--resource-pattern-type|--principal)
            weir_shim_need "$1" $#; extra+=("$1" "$2"); shift 2 ;;
        --cluster|--force) extra+=("$1"); shift ;;
        --authorizer-properties|--authorizer) weir_shim_need "$1" $#; shift 2 ;;
        --producer|--consumer|--idempotent|--delegation-token|--user-principal)
            weir_shim_usage_error "$1 is not supported by the weir shim" ;;
        --help|-h) echo "kafka-acls.sh (weir shim): --bootstrap-server HOST:PORT (--add | --remove | --list) [--allow-principal P] [--operation OP] --topic T ..."; exit 0 ;;
        --version) "$WEIR" --version; exit 0 ;;
        *) weir_shim_usage_error "unknown option $1" ;;
    esac
done
[[ -n "$action" ]] || weir_shim_usage_error "one of --add, --remove, --list is required"
exec "$WEIR" acl "$action" ${extra[@]+"${extra[@]}"} ${common[@]+"${common[@]}"}
