# shellcheck shell=bash
# Host-side guest management for run.sh: start QEMU guests, watch their consoles, relay
# events between them, enforce time limits. Only QEMU processes started here are ever killed.
# Needs: QEMU_ROOT KERNEL INITRD set by the caller.

# shellcheck disable=SC2034 # GUEST_KILLED is read by run.sh
declare -A GUEST_PID=() GUEST_DEADLINE=() GUEST_LOG=() GUEST_CTL=() GUEST_KILLED=() GUEST_STARTED=() GUEST_QEMU_LOG=()

# A QEMU that exits this soon after its start could not boot at all: a set-up error.
EARLY_EXIT=5

qemu_cmd() {
    echo env "LD_LIBRARY_PATH=$QEMU_ROOT/usr/lib/x86_64-linux-gnu:$QEMU_ROOT/lib/x86_64-linux-gnu" \
        "QEMU_MODULE_DIR=$QEMU_ROOT/usr/lib/x86_64-linux-gnu/qemu" \
        "$QEMU_ROOT/usr/bin/qemu-system-x86_64"
}

# start_guest NAME DIR LIMIT_SECONDS APPEND [QEMU ARGS...]
start_guest() {
    local name=$1 dir=$2 limit=$3 append=$4
    shift 4
    local log=$dir/$name.console ctl=$dir/$name.ctl
    rm -f "$log" "$ctl.in" "$ctl.out"
    mkfifo "$ctl.in" "$ctl.out"
    # shellcheck disable=SC2046
    $(qemu_cmd) -L "$QEMU_ROOT/usr/share/qemu" -L "$QEMU_ROOT/usr/share/seabios" \
        -nodefaults -nographic -no-reboot -accel tcg -cpu max -m 1024 -smp 1 \
        -kernel "$KERNEL" -initrd "$INITRD" \
        -append "console=ttyS0 loglevel=4 panic=-1 $append" \
        -serial "file:$log" -chardev "pipe,id=ctl,path=$ctl" -serial chardev:ctl \
        "$@" </dev/null >"$dir/$name.qemu.log" 2>&1 &
    GUEST_PID[$name]=$!
    GUEST_STARTED[$name]=$SECONDS
    GUEST_QEMU_LOG[$name]=$dir/$name.qemu.log
    GUEST_DEADLINE[$name]=$((SECONDS + limit))
    GUEST_LOG[$name]=$log
    GUEST_CTL[$name]=$ctl.in
    GUEST_KILLED[$name]=
}

# Redirections below close stderr (2>&-) instead of opening /dev/null, so that liveness
# checks and kills never depend on a device node.
guest_alive() { [[ -n ${GUEST_PID[$1]:-} ]] && kill -0 "${GUEST_PID[$1]}" 2>&-; }

# kill_guest NAME: SIGTERM, then SIGKILL after 5 s (a QEMU whose iSCSI target is gone can
# sit in its reconnect loop and not act on SIGTERM).
kill_guest() {
    local name=$1 pid=${GUEST_PID[$1]:-} i
    [[ -n $pid ]] || return 0
    if kill -0 "$pid" 2>&-; then
        kill "$pid" 2>&-
        GUEST_KILLED[$name]=1
        for ((i = 0; i < 25; i++)); do
            kill -0 "$pid" 2>&- || break
            sleep 0.2
        done
        kill -0 "$pid" 2>&- && kill -KILL "$pid" 2>&-
    fi
    wait "$pid" 2>&-
    GUEST_PID[$name]=
}

# Nodes first, while their iSCSI target still answers; storage last.
kill_all_guests() {
    local n
    for n in "${!GUEST_PID[@]}"; do [[ $n == storage ]] || kill_guest "$n"; done
    kill_guest storage
}

# Kill guests past their deadline; returns 1 if any was killed.
enforce_deadlines() {
    local n rc=0
    for n in "$@"; do
        if guest_alive "$n" && ((SECONDS > GUEST_DEADLINE[$n])); then
            echo "vmlab: $n exceeded its time limit, killing pid ${GUEST_PID[$n]}" >&2
            kill_guest "$n"
            echo "@@HOST killed on time limit" >>"${GUEST_LOG[$n]}"
            rc=1
        fi
    done
    return $rc
}

# fail_if_not_booted NAME: when the QEMU of NAME exited on its own within EARLY_EXIT seconds,
# report a set-up error with the first line it printed and end the run (exit 2): no scenario
# can run on a lab that cannot boot.
fail_if_not_booted() {
    local name=$1 log=${GUEST_QEMU_LOG[$1]:-}
    [[ -n ${GUEST_STARTED[$name]:-} ]] || return 0
    guest_alive "$name" && return 0
    [[ -n ${GUEST_KILLED[$name]} ]] && return 0
    ((SECONDS - GUEST_STARTED[$name] <= EARLY_EXIT)) || return 0
    [[ -s $log ]] || return 0
    echo "vmlab: set-up error: $(head -n1 "$log")" >&2
    exit 2
}

console() { [[ -f ${GUEST_LOG[$1]:-} ]] && tr -d '\r' <"${GUEST_LOG[$1]}"; }

# wait_marker NAME REGEX: wait for a console line matching REGEX; print it.
wait_marker() {
    local name=$1 re=$2 line
    while :; do
        line=$(console "$name" | grep -Eo "$re" | head -n1)
        if [[ -n $line ]]; then
            echo "$line"
            return 0
        fi
        guest_alive "$name" || return 1
        enforce_deadlines "$name" || return 1
        sleep 0.3
    done
}

# send_event NAME EVENT: write one line to the guest's control serial port.
send_event() {
    guest_alive "$1" || return 0
    timeout 5 bash -c 'printf "%s\n" "$1" >"$2"' _ "$2" "${GUEST_CTL[$1]}" ||
        echo "vmlab: could not send $2 to $1" >&2
}

# predecessor ROLE ROLES...: the earlier boot of the same node ("nodeA" for "nodeA.boot2").
predecessor() {
    local role=$1 r prev=
    shift
    [[ $role == *.* ]] || return 0
    for r in "$@"; do
        [[ $r == "$role" ]] && break
        [[ ${r%%.*} == "${role%%.*}" ]] && prev=$r
    done
    echo "$prev"
}

# relay ROLE...: boot the node roles (a later boot of a node once its earlier boot has
# exited, via the caller's start_node ROLE), forward each "@@SIGNAL ev" a role prints to all
# the other roles (held back until the receiver prints "@@EVENTS ready"), enforce deadlines,
# and return once every role has run and exited.
relay() {
    local -A seen=() pending=() started=()
    local n m ev i pred busy
    for n in "$@"; do
        seen[$n]=0
        pending[$n]=
    done
    while :; do
        busy=0
        for n in "$@"; do
            [[ -n ${started[$n]:-} ]] && continue
            pred=$(predecessor "$n" "$@")
            if [[ -z $pred ]] || { [[ -n ${started[$pred]:-} ]] && ! guest_alive "$pred"; }; then
                start_node "$n"
                started[$n]=1
            fi
        done
        for n in "$@"; do
            [[ -n ${started[$n]:-} ]] || continue
            mapfile -t sigs < <(console "$n" | sed -n 's/^.*@@SIGNAL \([^ ]*\).*$/\1/p')
            for ((i = seen[$n]; i < ${#sigs[@]}; i++)); do
                ev=${sigs[$i]}
                echo "vmlab:   $n -> $ev" >&2
                for m in "$@"; do [[ $m == "$n" ]] || pending[$m]+="$ev "; done
            done
            seen[$n]=${#sigs[@]}
        done
        for n in "$@"; do
            if [[ -z ${started[$n]:-} ]]; then
                busy=1
                continue
            fi
            if [[ -n ${pending[$n]} ]] && console "$n" | grep -q '@@EVENTS ready'; then
                for ev in ${pending[$n]}; do send_event "$n" "$ev"; done
                pending[$n]=
            fi
            fail_if_not_booted "$n"
            guest_alive "$n" && busy=1
        done
        enforce_deadlines "$@"
        ((busy)) || return 0
        sleep 0.3
    done
}

# A free TCP port on 127.0.0.1 (not listening in /proc/net/tcp*).
pick_port() {
    local p hex i
    for ((i = 0; i < 50; i++)); do
        p=$((20000 + RANDOM % 25000))
        printf -v hex '%04X' "$p"
        if ! awk 'NR > 1 {print $2}' /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -qi ":$hex\$"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}
