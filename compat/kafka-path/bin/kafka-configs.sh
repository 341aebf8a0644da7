#!/usr/bin/env bash
# kafka-configs.sh for Weir: translates Kafka's flags into `weir config ...`.
# Supports --describe and --alter for --entity-type topics|brokers --entity-name N (or
# --topic T / --broker ID), --add-config k=v,k2=[a,b] and --delete-config k,k2.
set -euo pipefail
# shellcheck source=weir-shim-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/weir-shim-common.sh"

action="" etype="" ename="" common=() extra=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bootstrap-server) weir_shim_need "$1" $#; common+=(--bootstrap-server "$2"); shift 2 ;;
        --command-config) weir_shim_need "$1" $#; common+=(--command-config "$2"); shift 2 ;;
        --describe) action=describe; shift ;;
        --alter) action=alter; shift ;;
        --entity-type) weir_shim_need "$1" $#; etype="$2"; shift 2 ;;
        --entity-name) weir_shim_need "$1" $#; ename="$2"; shift 2 ;;
        --topic) weir_shim_need "$1" $#; etype=topics; ename="$2"; shift 2 ;;
        --broker) weir_shim_need "$1" $#; etype=brokers; ename="$2"; shift 2 ;;
        --add-config)
            weir_shim_need "$1" $#
            while IFS= read -r kv; do
                # k=[a,b] is a list value: Kafka sends it as "a,b".
                v="${kv#*=}"
                if [[ "$kv" == *=* && "$v" == \[*\] ]]; then
                    v="${v#[}"
                    kv="${kv%%=*}=${v%]}"
                fi
                extra+=(--set "$kv")
            done < <(weir_shim_split_configs "$2")
            shift 2 ;;
        --delete-config)
            weir_shim_need "$1" $#
            while IFS= read -r k; do extra+=(--delete "$k"); done < <(weir_shim_split_configs "$2")
            shift 2 ;;
        --all) shift ;; # weir always lists every config
        --entity-default|--broker-defaults|--add-config-file|--user|--client|--ip|--group|--client-metrics|--broker-logger)
            weir_shim_usage_error "$1 is not supported by the weir shim" ;;
        --help|-h) echo "kafka-configs.sh (weir shim): --bootstrap-server HOST:PORT --entity-type topics|brokers --entity-name N (--describe | --alter --add-config k=v,... --delete-config k,...)"; exit 0 ;;
        --version) "$WEIR" --version; exit 0 ;;
        *) weir_shim_usage_error "unknown option $1" ;;
    esac
done

case "$etype" in
    topics|topic) target=(--topic "$ename") ;;
    brokers|broker) target=(--broker "$ename") ;;
    "") weir_shim_usage_error "--entity-type is required" ;;
    *) weir_shim_usage_error "--entity-type $etype is not supported by the weir shim (topics, brokers)" ;;
esac
[[ -n "$ename" ]] || weir_shim_usage_error "--entity-name is required"
case "$action" in
    describe) exec "$WEIR" config describe "${target[@]}" ${common[@]+"${common[@]}"} ;;
    alter) exec "$WEIR" config alter "${target[@]}" ${extra[@]+"${extra[@]}"} ${common[@]+"${common[@]}"} ;;
    *) weir_shim_usage_error "one of --describe, --alter is required" ;;
esac
