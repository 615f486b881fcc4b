#!/bin/bash
# Run VM lab scenarios: run.sh [scenario...]   (default: every directory under scenarios/)
# Env: SVCMGR_BIN (agent binary), SVCMGR_VMLAB_CACHE (package cache),
#      SVCMGR_VMLAB_LOGDIR (logs; default target/vmlab/<timestamp>),
#      SVCMGR_VMLAB_LIMIT (seconds per node guest, default 240).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LIMIT=${SVCMGR_VMLAB_LIMIT:-240}
LOGDIR=${SVCMGR_VMLAB_LOGDIR:-$REPO/target/vmlab/$(date +%Y%m%d-%H%M%S)-$$}

# shellcheck source=lib/guests.sh
. "$HERE/lib/guests.sh"

trap kill_all_guests EXIT
trap 'exit 130' INT TERM

if [[ -z ${SVCMGR_BIN:-} ]]; then
    SVCMGR_BIN=$REPO/target/release/svcmgr
    [[ -x $SVCMGR_BIN ]] || SVCMGR_BIN=$REPO/target/debug/svcmgr
fi
[[ -x $SVCMGR_BIN ]] || { echo "vmlab: no svcmgr binary (build it or set SVCMGR_BIN)" >&2; exit 2; }

if (($#)); then
    SCENARIOS=("$@")
else
    mapfile -t SCENARIOS < <(cd "$HERE/scenarios" && ls -d -- */ | tr -d /)
fi
for s in "${SCENARIOS[@]}"; do
    [[ -d $HERE/scenarios/$s ]] || { echo "vmlab: unknown scenario $s" >&2; exit 2; }
done

mkdir -p "$LOGDIR"
t0=$SECONDS
FETCHED=$("$HERE/fetch.sh") || { echo "vmlab: fetch failed" >&2; exit 2; }
QEMU_ROOT=$(sed -n 's/^qemu=//p' <<<"$FETCHED")
GUEST_ROOT=$(sed -n 's/^guest=//p' <<<"$FETCHED")
"$HERE/check-tree.sh" "$QEMU_ROOT" "$GUEST_ROOT" || exit 2
KERNEL=$(ls "$GUEST_ROOT"/boot/vmlinuz-* | head -n1)
INITRD=$("$HERE/build-initramfs.sh" "$GUEST_ROOT" "$SVCMGR_BIN" "$LOGDIR/build") ||
    { echo "vmlab: initramfs build failed" >&2; exit 2; }
echo "vmlab: prepared in $((SECONDS - t0)) s; logs in $LOGDIR"

# Print the verbatim outputs a scenario captured, and keep each in its own file.
save_outputs() {
    local dir=$1 n f name
    mkdir -p "$dir/outputs"
    for n in "${@:2}"; do
        console "$n" | awk -v dir="$dir/outputs" '
            /@@OUTPUT [^ ]+ BEGIN/ { match($0, /@@OUTPUT [^ ]+/); name = substr($0, RSTART + 9, RLENGTH - 9)
                                     f = dir "/" name ".txt"; printf "" > f; next }
            /@@OUTPUT [^ ]+ END/   { close(f); f = ""; next }
            f != "" && /^@@\| /    { print substr($0, 5) >> f }
            f != "" && /^@@\|$/    { print "" >> f }'
    done
    rmdir "$dir/outputs" 2>&- && return
    for f in "$dir"/outputs/*.txt; do
        [[ -e $f ]] || continue
        name=$(basename "$f" .txt)
        echo "----- $name ($(console_cmd_of "$dir" "$name"))"
        cat "$f"
    done
}
console_cmd_of() { cat "$1"/*.console | tr -d '\r' | sed -n "s/^.*@@OUTPUT $2 BEGIN \(.*\)$/\1/p" | head -n1; }

# run_scenario NAME: sets RESULT to PASS or FAIL.
run_scenario() {
    local s=$1 dir=$LOGDIR/$1 port ready iqn n ok=1 nodes=()
    mkdir -p "$dir"
    # Node roles: node<X>.sh, and node<X>.boot<N>.sh for a later boot of the same node.
    mapfile -t nodes < <(cd "$HERE/scenarios/$s" && ls node*.sh | sed 's/\.sh$//' | LC_ALL=C sort)
    for _ in 1 2 3; do
        port=$(pick_port)
        start_guest storage "$dir" $((LIMIT * 2)) "svcmgr.role=storage svcmgr.scenario=$s" \
            -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-10.0.2.15:3260" \
            -device virtio-net-pci,netdev=n0
        if ready=$(wait_marker storage '@@READY .*|@@RESULT FAIL'); then break; fi
        fail_if_not_booted storage
        kill_guest storage
        grep -q 'host forwarding' "$dir/storage.qemu.log" 2>/dev/null || break
    done
    if [[ ${ready:-} != @@READY* ]]; then
        echo "vmlab: $s: storage guest not ready" >&2
        ok=0
    else
        iqn=$(sed -n 's/.*iqn=\([^ ]*\).*/\1/p' <<<"$ready")
        echo "vmlab: $s: storage ready at $((SECONDS - T_SCEN)) s (127.0.0.1:$port $iqn)" >&2
        # A node guest: its own initiator name (shared by later boots of the same node),
        # the LUNs passed straight through (scsi-block) over QEMU's iSCSI initiator, each at
        # its own LUN number (0: the data disk, 1: the heartbeat disk).
        start_node() {
            echo "vmlab: $s: booting $1 at $((SECONDS - T_SCEN)) s" >&2
            start_guest "$1" "$dir" "$LIMIT" "svcmgr.role=$1 svcmgr.scenario=$s" \
                -iscsi "initiator-name=iqn.2026-11.lab:${1%%.*}" \
                -device virtio-scsi-pci,id=vs0 \
                -drive "file=iscsi://127.0.0.1:$port/$iqn/0,if=none,id=d1,format=raw,cache=none" \
                -device scsi-block,drive=d1,bus=vs0.0,lun=0 \
                -drive "file=iscsi://127.0.0.1:$port/$iqn/1,if=none,id=d2,format=raw,cache=none" \
                -device scsi-block,drive=d2,bus=vs0.0,lun=1
        }
        relay "${nodes[@]}"
        for n in "${nodes[@]}"; do
            if [[ -n ${GUEST_KILLED[$n]} ]] || ! console "$n" | grep -q '@@RESULT PASS'; then
                ok=0
            fi
            echo "vmlab: $s: $n done at $((SECONDS - T_SCEN)) s: $(console "$n" | grep -o '@@RESULT.*' | tail -n1)" >&2
        done
    fi
    send_event storage END
    local w
    for ((w = 0; w < 50; w++)); do guest_alive storage || break; sleep 0.2; done
    kill_guest storage
    save_outputs "$dir" "${nodes[@]}" >&2
    if ((!ok)); then
        for n in storage "${nodes[@]}"; do
            echo "===== $s: $n console (last 40 lines; $dir/$n.console)" >&2
            console "$n" | tail -n 40 >&2
            [[ -s $dir/$n.qemu.log ]] && { echo "== qemu:" >&2; tail -n 5 "$dir/$n.qemu.log" >&2; }
        done
        RESULT=FAIL
    else
        RESULT=PASS
    fi
}

declare -a ROWS=()
failed=0
npass=0
for s in "${SCENARIOS[@]}"; do
    echo "vmlab: === $s" >&2
    T_SCEN=$SECONDS
    RESULT=FAIL
    run_scenario "$s"
    if [[ $RESULT == PASS ]]; then npass=$((npass + 1)); else failed=1; fi
    ROWS+=("$(printf '%-12s %-6s %5d' "$s" "$RESULT" $((SECONDS - T_SCEN)))")
done

echo
printf '%-12s %-6s %5s\n' scenario result seconds
printf '%s\n' "${ROWS[@]}"
echo "total $((SECONDS - t0)) s; logs in $LOGDIR"
echo "vmlab: $npass passed, $((${#SCENARIOS[@]} - npass)) failed"
exit $failed
