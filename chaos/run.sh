#!/usr/bin/env bash
# One fault campaign: start N weir brokers, create the topic, run the workload, apply a nemesis
# schedule, heal, run the final read and the checker. See chaos/README.md.
#
#   chaos/run.sh --nodes 1 --nemesis kill --duration 60 --seeds 2
#   chaos/run.sh --nodes 1 --nemesis kill --txn
#   chaos/run.sh --nodes 1 --nemesis lose-tail --flush default --positive-control
#   chaos/run.sh --nodes 3 --nemesis partition        # once replication lands
#
# Options (defaults in brackets):
#   --nodes N [1]             brokers, at 127.0.0.1 .. 127.0.0.N, port 9092 (controller 9093)
#   --nemesis KIND [kill]     kill | pause | partition | clock | lose-tail | none
#   --interval S [15]         seconds between faults
#   --duration S [60]         seconds of load
#   --seed S [1]              first seed (faults, nodes, workload choices)
#   --seeds K [1]             run K campaigns, seeds S .. S+K-1
#   --txn                     transactional producers (some transactions aborted on purpose)
#   --flush 1|default [1]     flush.messages=1 (fsync before ack) or Kafka's default (page cache)
#   --positive-control        acks=1, no idempotence, min.insync.replicas=1, unclean election on;
#                             the checker must find lost writes (--expect-lost)
#   --rate R [300] --producers P [4] --consumers C [4] --partitions N [4]
#   --pause-secs S [12]       SIGSTOP length (above the consumers' 10 s session timeout)
#   --down-secs S [1-3]       how long a killed node stays down (above broker.session.timeout.ms
#                             = 9 s, the controller moves its leaderships meanwhile)
#   --hold-secs S [10]        how long a partition lasts
#   --run-dir DIR             where logs and histories go [target/chaos/<time>]
# Environment: WEIR, CHAOS_BIN (binaries; built with cargo if missing), RUST_LOG [warn].
# Exit status: 0 if every campaign passed, 1 if any failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
orig_args=("$@")

nodes=1 nemesis=kill interval=15 duration=60 seed=1 seeds=1 txn="" flush=1 positive=""
rate=300 producers=4 consumers=4 partitions=4 pause_secs=12 hold_secs=10 run_dir="" down_secs=""
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) nodes=$2; shift 2 ;;
        --nemesis) nemesis=$2; shift 2 ;;
        --interval) interval=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --seeds) seeds=$2; shift 2 ;;
        --txn) txn=1; shift ;;
        --flush) flush=$2; shift 2 ;;
        --positive-control) positive=1; shift ;;
        --rate) rate=$2; shift 2 ;;
        --producers) producers=$2; shift 2 ;;
        --consumers) consumers=$2; shift 2 ;;
        --partitions) partitions=$2; shift 2 ;;
        --pause-secs) pause_secs=$2; shift 2 ;;
        --down-secs) down_secs=$2; shift 2 ;;
        --hold-secs) hold_secs=$2; shift 2 ;;
        --run-dir) run_dir=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
case "$nemesis" in kill|pause|partition|clock|lose-tail|none) ;; *)
    echo "run.sh: unknown nemesis $nemesis" >&2; exit 2 ;;
esac

# Partitions need iptables rules that touch nobody else: re-run inside a private network
# namespace (as root `unshare -n`; otherwise a user namespace maps us to root in it).
if [ "$nemesis" = partition ] && [ -z "${CHAOS_IN_NETNS:-}" ]; then
    "$here/install-deps.sh"
    if [ "$(id -u)" -eq 0 ]; then userns=(); else userns=(-r); fi
    exec unshare "${userns[@]}" -n env CHAOS_IN_NETNS=1 "$0" "${orig_args[@]}"
fi
if [ -n "${CHAOS_IN_NETNS:-}" ]; then
    ip link set lo up
fi
if [ "$nemesis" = clock ]; then "$here/install-deps.sh"; fi

WEIR=${WEIR:-$root/target/release/weir}
CHAOS_BIN=${CHAOS_BIN:-$root/target/release/examples/chaos}
if [ ! -x "$WEIR" ] || [ ! -x "$CHAOS_BIN" ]; then
    (cd "$root" && cargo build --release --bin weir --example chaos) || exit 1
fi
faketime_lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)

run_dir=${run_dir:-$root/target/chaos/$(date +%Y%m%d-%H%M%S)-$nemesis-n$nodes${txn:+-txn}${positive:+-positive}}
mkdir -p "$run_dir"
echo "run.sh: run directory $run_dir"

addr() { echo "127.0.0.$1"; }
bootstrap=$(for n in $(seq "$nodes"); do printf '%s:9092,' "$(addr "$n")"; done)
bootstrap=${bootstrap%,}

declare -A pid
dir=""

log() { echo "[$(date +%T)] $*" | tee -a "$dir/run.log"; }
event() { # event NAME NODE DETAIL
    printf '{"time_ns":%s,"event":"%s","node":%s,"detail":"%s"}\n' \
        "$(date +%s%N)" "$1" "${2:-null}" "${3:-}" >> "$dir/nemesis.jsonl"
    log "nemesis: $1 ${2:+n$2} ${3:-}"
}

write_config() { # write_config NODE
    local n=$1 f="$dir/n$1/server.properties"
    mkdir -p "$dir/n$n/data"
    {
        echo "node.id=$n"
        echo "log.dirs=$dir/n$n/data"
        echo "num.partitions=$partitions"
        echo "auto.create.topics.enable=false"
        echo "group.initial.rebalance.delay.ms=0"
        if [ "$flush" = 1 ]; then echo "log.flush.interval.messages=1"; fi
        if [ "$nodes" -gt 1 ]; then
            local voters
            voters=$(for m in $(seq "$nodes"); do printf '%s@%s:9093,' "$m" "$(addr "$m")"; done)
            echo "process.roles=broker,controller"
            echo "listeners=PLAINTEXT://$(addr "$n"):9092,CONTROLLER://$(addr "$n"):9093"
            echo "advertised.listeners=PLAINTEXT://$(addr "$n"):9092"
            echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
            echo "controller.listener.names=CONTROLLER"
            echo "inter.broker.listener.name=PLAINTEXT"
            echo "controller.quorum.voters=${voters%,}"
            echo "default.replication.factor=$nodes"
            echo "offsets.topic.replication.factor=$nodes"
            echo "transaction.state.log.replication.factor=$nodes"
            if [ -n "$positive" ]; then
                echo "min.insync.replicas=1"
                echo "transaction.state.log.min.isr=1"
                echo "unclean.leader.election.enable=true"
            else
                echo "min.insync.replicas=2"
                echo "transaction.state.log.min.isr=2"
                echo "unclean.leader.election.enable=false"
            fi
        else
            echo "listeners=PLAINTEXT://$(addr "$n"):9092"
            echo "advertised.listeners=PLAINTEXT://$(addr "$n"):9092"
            if [ -n "$positive" ]; then
                echo "min.insync.replicas=1"
                echo "unclean.leader.election.enable=true"
            fi
        fi
    } > "$f"
}

# The sizes of the active segments when a node last came up: the lose-tail nemesis treats these
# as written back to disk and everything after them as unsynced page cache.
record_synced() {
    local n=$1
    find "$dir/n$n/data" -path '*/chaos-*' -name '*.log' -printf '%p %s\n' 2>/dev/null \
        > "$dir/n$n/synced-sizes"
}

start_node() { # start_node NODE [SKEW_SECONDS]
    local n=$1 skew=${2:-} t0 t1
    t0=$(date +%s%N)
    if [ -n "$skew" ]; then
        LD_PRELOAD=$faketime_lib FAKETIME="$(printf %+d "$skew")" FAKETIME_DONT_FAKE_MONOTONIC=1 \
            RUST_LOG=${RUST_LOG:-warn} "$WEIR" serve "$dir/n$n/server.properties" \
            >> "$dir/n$n/weir.log" 2>&1 &
    else
        RUST_LOG=${RUST_LOG:-warn} "$WEIR" serve "$dir/n$n/server.properties" \
            >> "$dir/n$n/weir.log" 2>&1 &
    fi
    pid[$n]=$!
    for _ in $(seq 300); do
        (exec 3<>"/dev/tcp/$(addr "$n")/9092") 2>/dev/null && break
        if ! kill -0 "${pid[$n]}" 2>/dev/null; then
            log "node $n exited at start; its log:"; tail -20 "$dir/n$n/weir.log"; return 1
        fi
        sleep 0.05
    done
    t1=$(date +%s%N)
    event start "$n" "listening after $(( (t1 - t0) / 1000000 )) ms${skew:+, clock skew $skew s}"
    record_synced "$n"
}

kill9() { local n=$1; kill -9 "${pid[$n]}" 2>/dev/null; wait "${pid[$n]}" 2>/dev/null; }

# Power loss without fsync, modelled: cut each chaos partition's newest segment back to a point
# between its size at the last start and its current size (Weir's recovery then truncates the
# torn batch). Only meaningful for --flush default: with flush.messages=1 an acknowledged
# record was on disk before the ack.
lose_tail() {
    local n=$1 f size base keep
    for d in "$dir/n$n/data"/chaos-*; do
        f=$(ls "$d"/*.log 2>/dev/null | sort | tail -1)
        [ -n "$f" ] || continue
        size=$(stat -c %s "$f")
        base=$(awk -v f="$f" '$1 == f {print $2}' "$dir/n$n/synced-sizes")
        base=${base:-0}
        [ "$size" -gt "$base" ] || continue
        keep=$(( base + (size - base) * (RANDOM % 50) / 100 ))
        truncate -s "$keep" "$f"
        log "lose-tail: $(basename "$d"): $size -> $keep bytes (synced at start: $base)"
    done
}

partition_rules() { # apply one partition; prints what it did
    iptables -F INPUT
    if [ "$nodes" -eq 1 ]; then
        # One node: cut the clients off it (both ways, or its replies only).
        if [ $((RANDOM % 2)) -eq 0 ]; then
            iptables -A INPUT -p tcp --dport 9092 -j DROP; echo "clients <-/-> n1"
        else
            iptables -A INPUT -p tcp --sport 9092 -j DROP; echo "n1 -/-> clients (one-way)"
        fi
        return
    fi
    local order minority=() majority=() a b
    mapfile -t order < <(seq "$nodes" | while read -r x; do echo "$RANDOM $x"; done | sort -n | cut -d' ' -f2)
    case $((RANDOM % 3)) in
        0) minority=("${order[0]}"); majority=("${order[@]:1}"); kind=isolate ;;
        1) local k=$(( (nodes - 1) / 2 )); minority=("${order[@]:0:$k}"); majority=("${order[@]:$k}"); kind=majority-minority ;;
        2) minority=("${order[0]}"); majority=("${order[@]:1}"); kind=one-way ;;
    esac
    for a in "${minority[@]}"; do
        for b in "${majority[@]}"; do
            iptables -A INPUT -s "$(addr "$a")" -d "$(addr "$b")" -j DROP
            [ "$kind" = one-way ] || iptables -A INPUT -s "$(addr "$b")" -d "$(addr "$a")" -j DROP
        done
    done
    echo "$kind: {${minority[*]}} | {${majority[*]}}"
}

heal_all() {
    if [ "$nemesis" = partition ]; then iptables -F INPUT; fi
    for n in $(seq "$nodes"); do
        kill -CONT "${pid[$n]}" 2>/dev/null
        if ! kill -0 "${pid[$n]}" 2>/dev/null; then start_node "$n"; fi
    done
    event heal-all
}

stop_all() {
    for n in "${!pid[@]}"; do kill -CONT "${pid[$n]}" 2>/dev/null; kill -TERM "${pid[$n]}" 2>/dev/null; done
    for n in "${!pid[@]}"; do wait "${pid[$n]}" 2>/dev/null; done
    pid=()
}

workload_pid=""
cleanup() {
    [ -n "$workload_pid" ] && kill "$workload_pid" 2>/dev/null
    stop_all
}
trap cleanup EXIT

campaign() { # campaign SEED -> 0 pass, 1 fail
    local s=$1 t_end now fault n what
    RANDOM=$s
    dir="$run_dir/seed-$s"
    mkdir -p "$dir"
    : > "$dir/nemesis.jsonl"
    log "campaign seed $s: $nodes node(s), nemesis $nemesis every ${interval}s, ${duration}s, flush=$flush${txn:+, transactions}${positive:+, POSITIVE CONTROL}"
    for n in $(seq "$nodes"); do write_config "$n"; done
    for n in $(seq "$nodes"); do start_node "$n" || return 1; done
    # A cluster is usable once every broker has registered and is unfenced.
    local tries=0
    until [ "$("$WEIR" cluster info --bootstrap-server "$bootstrap" --output json 2>/dev/null \
            | grep -o '"fenced": *false' | wc -l)" -ge "$nodes" ]; do
        tries=$((tries + 1))
        [ "$tries" -lt 150 ] || { log "brokers did not all register"; return 1; }
        sleep 0.2
    done

    local topic_cfg=()
    [ -n "$positive" ] && topic_cfg=(--config min.insync.replicas=1 --config unclean.leader.election.enable=true)
    "$WEIR" topic create chaos --bootstrap-server "$bootstrap" --partitions "$partitions" \
        --replication-factor "$nodes" "${topic_cfg[@]}" >> "$dir/run.log" 2>&1 \
        || { log "topic create failed"; return 1; }

    local wargs=(--bootstrap "$bootstrap" --history "$dir/history.jsonl" --duration "$duration"
        --producers "$producers" --consumers "$consumers" --rate "$rate" --seed "$s" --no-final-read)
    [ -n "$txn" ] && wargs+=(--txn)
    [ -n "$positive" ] && wargs+=(--acks 1 --no-idempotence)
    "$CHAOS_BIN" workload "${wargs[@]}" > "$dir/workload.log" 2>&1 &
    workload_pid=$!
    log "workload pid $workload_pid"

    t_end=$(( $(date +%s) + duration ))
    while :; do
        sleep "$(( interval / 2 + RANDOM % (interval + 1) ))"
        now=$(date +%s)
        [ $(( now + 5 )) -lt "$t_end" ] || break
        [ "$nemesis" = none ] && continue
        n=$(( 1 + RANDOM % nodes ))
        case "$nemesis" in
            kill)
                kill9 "$n"; event kill "$n"
                # --down-secs keeps the node down (past the session timeout, leadership moves).
                if [ -n "$down_secs" ]; then sleep "$down_secs"; else sleep "$(( 1 + RANDOM % 3 ))"; fi
                start_node "$n" || return 1 ;;
            lose-tail)
                kill9 "$n"; event lose-tail "$n"; lose_tail "$n"
                sleep 1; start_node "$n" || return 1 ;;
            pause)
                kill -STOP "${pid[$n]}"; event pause "$n" "${pause_secs}s"
                sleep "$pause_secs"; kill -CONT "${pid[$n]}"; event resume "$n" ;;
            partition)
                what=$(partition_rules); event partition "" "$what"
                sleep "$hold_secs"; iptables -F INPUT; event heal ;;
            clock)
                local skews=(-3600 -300 -30 30 300 3600 86400)
                fault=${skews[$((RANDOM % ${#skews[@]}))]}
                kill9 "$n"; event skew-kill "$n" "$fault"
                sleep 1; start_node "$n" "$fault" || return 1 ;;
        esac
    done
    while [ "$(date +%s)" -lt "$t_end" ]; do sleep 1; done
    heal_all

    local wrc frc crc
    wait "$workload_pid"; wrc=$?; workload_pid=""
    log "workload exited $wrc"
    "$CHAOS_BIN" final-read --bootstrap "$bootstrap" --history "$dir/history.jsonl" --timeout 120 \
        >> "$dir/workload.log" 2>&1
    frc=$?
    log "final read exited $frc"
    local cargs=("$dir/history.jsonl" --nemesis "$dir/nemesis.jsonl")
    [ -n "$positive" ] && cargs+=(--expect-lost)
    "$CHAOS_BIN" check "${cargs[@]}" > "$dir/check.txt" 2>&1
    crc=$?
    cat "$dir/check.txt" | tee -a "$dir/run.log"
    stop_all
    if [ "$wrc" -eq 0 ] && [ "$frc" -eq 0 ] && [ "$crc" -eq 0 ]; then
        log "campaign seed $s: PASS"; return 0
    fi
    log "campaign seed $s: FAIL (workload $wrc, final read $frc, checker $crc)"; return 1
}

status=0
summary=()
for s in $(seq "$seed" $(( seed + seeds - 1 ))); do
    if campaign "$s"; then summary+=("seed $s: PASS"); else summary+=("seed $s: FAIL"); status=1; stop_all; fi
done
dir=$run_dir
printf '%s\n' "${summary[@]}" | tee "$run_dir/summary.txt"
echo "run.sh: results in $run_dir"
exit $status
