#!/usr/bin/env bash
# kafka-topics.sh for Weir: translates Kafka's flags into `weir topic ...`.
# Supports --create, --delete, --list, --describe, --alter with --topic, --partitions,
# --replication-factor, --config k=v, --delete-config k, --if-not-exists, --if-exists,
# --exclude-internal, --under-replicated-partitions, --unavailable-partitions,
# --bootstrap-server, --command-config.
set -euo pipefail
# shellcheck source=weir-shim-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/weir-shim-common.sh"

action="" topics=() common=() extra=() configs=() delete_configs=()
describe_filters=()
partitions="" rf="" if_not_exists=0 if_exists=0 exclude_internal=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bootstrap-server) weir_shim_need "$1" $#; common+=(--bootstrap-server "$2"); shift 2 ;;
        --command-config) weir_shim_need "$1" $#; common+=(--command-config "$2"); shift 2 ;;
        --zookeeper) weir_shim_usage_error "--zookeeper is not supported (Weir has no ZooKeeper); use --bootstrap-server" ;;
        --create) action=create; shift ;;
        --delete) action=delete; shift ;;
        --list) action=list; shift ;;
        --describe) action=describe; shift ;;
        --alter) action=alter; shift ;;
        --topic) weir_shim_need "$1" $#; topics+=("$2"); shift 2 ;;
        --partitions) weir_shim_need "$1" $#; partitions="$2"; shift 2 ;;
        --replication-factor) weir_shim_need "$1" $#; rf="$2"; shift 2 ;;
        --config) weir_shim_need "$1" $#; configs+=("$2"); shift 2 ;;
        --delete-config) weir_shim_need "$1" $#; delete_configs+=("$2"); shift 2 ;;
        --if-not-exists) if_not_exists=1; shift ;;
        --if-exists) if_exists=1; shift ;;
        --exclude-internal) exclude_internal=1; shift ;;
        --help|-h) echo "kafka-topics.sh (weir shim): --create|--delete|--list|--describe|--alter --bootstrap-server HOST:PORT --topic T [--partitions N] [--replication-factor N] [--config k=v]..."; exit 0 ;;
        --version) "$WEIR" --version; exit 0 ;;
        --under-replicated-partitions) describe_filters+=(--under-replicated-partitions); shift ;;
        --unavailable-partitions) describe_filters+=(--unavailable-partitions); shift ;;
        --topic-id|--replica-assignment|--at-min-isr-partitions|--under-min-isr-partitions|--topics-with-overrides)
            weir_shim_usage_error "$1 is not supported by the weir shim" ;;
        *) weir_shim_usage_error "unknown option $1" ;;
    esac
done

case "$action" in
    create)
        [[ ${#topics[@]} -eq 1 ]] || weir_shim_usage_error "--create needs one --topic"
        [[ -n "$partitions" ]] && extra+=(--partitions "$partitions")
        [[ -n "$rf" ]] && extra+=(--replication-factor "$rf")
        for c in ${configs[@]+"${configs[@]}"}; do extra+=(--config "$c"); done
        [[ $if_not_exists -eq 1 ]] && extra+=(--if-not-exists)
        exec "$WEIR" topic create "${topics[0]}" ${extra[@]+"${extra[@]}"} ${common[@]+"${common[@]}"}
        ;;
    delete)
        [[ ${#topics[@]} -ge 1 ]] || weir_shim_usage_error "--delete needs --topic"
        [[ $if_exists -eq 1 ]] && extra+=(--if-exists)
        exec "$WEIR" topic delete "${topics[@]}" ${extra[@]+"${extra[@]}"} ${common[@]+"${common[@]}"}
        ;;
    list)
        [[ $exclude_internal -eq 1 ]] || extra+=(--internal)
        exec "$WEIR" topic list ${extra[@]+"${extra[@]}"} ${common[@]+"${common[@]}"}
        ;;
    describe)
        exec "$WEIR" topic describe ${topics[@]+"${topics[@]}"} ${describe_filters[@]+"${describe_filters[@]}"} ${common[@]+"${common[@]}"}
        ;;
    alter)
        [[ ${#topics[@]} -eq 1 ]] || weir_shim_usage_error "--alter needs one --topic"
        [[ -n "$partitions" ]] && extra+=(--partitions "$partitions")
        for c in ${configs[@]+"${configs[@]}"}; do extra+=(--config "$c"); done
        for c in ${delete_configs[@]+"${delete_configs[@]}"}; do extra+=(--delete-config "$c"); done
        if [[ $if_exists -eq 1 ]]; then
            # Kafka: --if-exists makes altering a missing topic a no-op.
            "$WEIR" topic describe "${topics[0]}" ${common[@]+"${common[@]}"} >/dev/null 2>&1 || exit 0
        fi
        exec "$WEIR" topic alter "${topics[0]}" ${extra[@]+"${extra[@]}"} ${common[@]+"${common[@]}"}
        ;;
    *) weir_shim_usage_error "one of --create, --delete, --list, --describe, --alter is required" ;;
esac
