# shellcheck shell=sh
# Guest helpers for the role scripts (busybox sh). Console markers, one per line:
#   @@STEP <name> OK|FAIL <detail>   one checked action
#   @@SIGNAL <event>                 the host forwards <event> to the other guests
#   @@OUTPUT <name> BEGIN|END        verbatim command output in between, lines prefixed "@@| "
#   @@READY <detail>                 storage target is serving
#   @@EVENTS ready                   the guest listens on its control port
#   @@RESULT PASS|FAIL               the role's verdict, last line before power off

EVENTS=/run/vmlab/events

mark() { echo "@@$*"; }

indent() { [ -n "$1" ] && printf '%s\n' "$1" | sed 's/^/    | /'; }

# The role failed: tell the peers (so they stop waiting) and leave the role subshell.
abort_role() {
    mark "SIGNAL abort"
    mark "RESULT FAIL"
    exit 1
}

# step NAME CMD...: CMD must succeed.
step() {
    _name=$1
    shift
    _out=$("$@" 2>&1)
    _rc=$?
    indent "$_out"
    if [ "$_rc" -eq 0 ]; then
        mark "STEP $_name OK"
        return 0
    fi
    mark "STEP $_name FAIL rc=$_rc: $*"
    abort_role
}

# step_refused NAME REGEX CMD...: CMD must fail and its output match REGEX (grep -Ei).
step_refused() {
    _name=$1
    _re=$2
    shift 2
    _out=$("$@" 2>&1)
    _rc=$?
    indent "$_out"
    if [ "$_rc" -ne 0 ] && printf '%s\n' "$_out" | grep -Eqi "$_re"; then
        mark "STEP $_name OK refused rc=$_rc: $(printf '%s\n' "$_out" | grep -Ei "$_re" | head -n1)"
        return 0
    fi
    mark "STEP $_name FAIL expected refusal matching /$_re/, got rc=$_rc: $*"
    abort_role
}

# capture NAME CMD...: record CMD's exact stdout (and stderr, when any, as NAME.stderr)
# for the host, whatever its exit status.
capture() {
    _name=$1
    shift
    "$@" >/tmp/capture.out 2>/tmp/capture.err
    _rc=$?
    mark "OUTPUT $_name BEGIN rc=$_rc cmd=$*"
    sed 's/^/@@| /' /tmp/capture.out
    mark "OUTPUT $_name END"
    if [ -s /tmp/capture.err ]; then
        mark "OUTPUT $_name.stderr BEGIN rc=$_rc cmd=$*"
        sed 's/^/@@| /' /tmp/capture.err
        mark "OUTPUT $_name.stderr END"
    fi
}

signal() { mark "SIGNAL $1"; }

# wait_for EVENT [SECONDS]: block until the host forwards EVENT from another guest.
wait_for() {
    _n=0
    _max=$((${2:-120} * 5))
    while ! grep -qx "$1" "$EVENTS" 2>/dev/null; do
        if grep -qx abort "$EVENTS" 2>/dev/null; then
            mark "STEP wait_$1 FAIL a peer aborted"
            mark "RESULT FAIL"
            exit 1
        fi
        _n=$((_n + 1))
        if [ "$_n" -gt "$_max" ]; then
            mark "STEP wait_$1 FAIL timeout"
            abort_role
        fi
        sleep 0.2
    done
    mark "STEP wait_$1 OK"
}

# lun_dev [LUN]: the block device of LIO's LUN (default 0, the shared data disk; 1 is the
# heartbeat disk), waiting for it to appear.
lun_dev() {
    _lun=${1:-0}
    _n=0
    while [ "$_n" -lt 100 ]; do
        for _b in /sys/block/sd*; do
            [ -e "$_b/device/vendor" ] || continue
            case $(cat "$_b/device/vendor") in
            LIO-ORG*)
                # The SCSI address H:C:T:L of the disk: its last field is the LUN.
                _addr=$(basename "$(readlink -f "$_b/device")")
                if [ "${_addr##*:}" = "$_lun" ]; then
                    echo "/dev/${_b##*/}"
                    return 0
                fi
                ;;
            esac
        done
        _n=$((_n + 1))
        sleep 0.2
    done
    return 1
}

# The control channel: the host writes event names, one a line, to the second serial port.
# Input reaching a serial port nobody has open is lost, so the host holds events back until
# this reader has the port open and says so.
start_events() {
    : >"$EVENTS"
    (
        exec </dev/ttyS1
        stty raw -echo
        mark "EVENTS ready"
        exec tr -d '\r' >>"$EVENTS"
    ) &
}

vmlab_main() {
    _role=$1
    _scenario=$2
    start_events
    if [ "$_role" = storage ]; then
        (. /etc/vmlab/storage.sh)
        _rc=$?
    else
        _file=/etc/vmlab/scenarios/$_scenario/$_role.sh
        if [ ! -f "$_file" ]; then
            mark "STEP role_script FAIL no $_file"
            mark "RESULT FAIL"
            return
        fi
        # shellcheck disable=SC1090 # the scenario role script
        (
            step svcmgr_runs svcmgr --version
            . "$_file"
        )
        _rc=$?
    fi
    [ "$_rc" -eq 0 ] && mark "RESULT PASS"
}

# ---- helpers shared by scenarios -------------------------------------------------------

# The service every agent scenario runs: one VG on the shared LUN guarded by a SCSI-3
# reservation (vg#1pr), and an ext4 filesystem on one of its LVs.
SVC=data
VG=vgdata
LV=/dev/$VG/lv1
MNT=/srv/data

# write_svcmgr_config NODENAME PRKEY: this node's node.toml and the service configuration
# (the same on both nodes).
write_svcmgr_config() {
    mkdir -p /etc/svcmgr
    printf 'nodename = "%s"\nprkey = "%s"\n' "$1" "$2" >/etc/svcmgr/node.toml
    cat >/etc/svcmgr/$SVC.conf <<CONF
[DEFAULT]
nodes = n1 n2
[vg#1]
vgname = $VG
scsireserv = true
[fs#1]
dev = $LV
mnt = $MNT
type = ext4
CONF
}

# write_failover_config NODENAME PRKEY HBDEV PEER: write_svcmgr_config with orchestrate = ha,
# and a node.toml for the daemon: a cluster of n1 and n2 with a disk heartbeat on HBDEV (the
# guests have no network).
write_failover_config() {
    write_svcmgr_config "$1" "$2"
    sed -i '/^nodes = n1 n2$/a orchestrate = ha' /etc/svcmgr/$SVC.conf
    cat >>/etc/svcmgr/node.toml <<TOML
rejoin_grace_period = "20s"
[cluster]
name = "vmlab"
secret = "vmlab secret"
[nodes.$4]
[[hb]]
type = "disk"
dev = "$3"
interval = "1s"
timeout = "5s"
TOML
}

# wait_decision TEXT SECONDS: the daemon's decision on the service reads TEXT.
wait_decision() {
    _n=0
    while [ "$_n" -lt $(($2 * 2)) ]; do
        _d=$(svc print decision 2>&1)
        if printf '%s\n' "$_d" | grep -qx "decision: $1"; then
            printf '%s\n' "$_d"
            return 0
        fi
        _n=$((_n + 1))
        sleep 0.5
    done
    printf '%s\n' "$_d"
    return 1
}

# The agent on the service, colourless.
svc() { svcmgr -s "$SVC" "$@" --color never; }

# step_exit NAME CODE REGEX CMD...: CMD must exit with CODE, its output matching REGEX
# (grep -Ei).
step_exit() {
    _name=$1
    _want=$2
    _re=$3
    shift 3
    _out=$("$@" 2>&1)
    _rc=$?
    indent "$_out"
    if [ "$_rc" -eq "$_want" ] && printf '%s\n' "$_out" | grep -Eqi "$_re"; then
        mark "STEP $_name OK rc=$_rc: $(printf '%s\n' "$_out" | grep -Ei "$_re" | head -n1)"
        return 0
    fi
    mark "STEP $_name FAIL rc=$_rc, expected $_want and output matching /$_re/: $*"
    abort_role
}

# check_status "NAME=WORD..." [REGEX]: each resource or section has that status, and the
# tree (messages included) matches REGEX when given.
check_status() {
    _tree=$(svc print status)
    printf '%s\n' "$_tree"
    for _p in $1; do
        _got=$(printf '%s\n' "$_tree" | awk -v n="${_p%%=*}" '
            { for (i = 1; i < NF; i++) if ($i == n) {
                  for (j = i + 1; j <= NF; j++) if ($j !~ /^[.MDOE]+$/) { print $j; exit }
              } }')
        if [ "$_got" != "${_p#*=}" ]; then
            echo "${_p%%=*} is '$_got', expected '${_p#*=}'"
            return 1
        fi
    done
    [ -z "${2:-}" ] || printf '%s\n' "$_tree" | grep -Eq "$2"
}

# json_has TEXT FRAGMENT...: every fragment occurs in TEXT with all blanks removed.
json_has() {
    _flat=$(printf '%s' "$1" | tr -d ' \n\t')
    shift
    for _f in "$@"; do
        case $_flat in
        *"$_f"*) ;;
        *)
            echo "missing $_f"
            return 1
            ;;
        esac
    done
}

# check_prstatus CODE FRAGMENT...: `prstatus --format json` exits with CODE and its answer,
# blanks removed, holds every FRAGMENT.
check_prstatus() {
    _want=$1
    shift
    _j=$(svc prstatus --format json)
    _r=$?
    printf '%s\n' "$_j"
    echo "exit status $_r, expected $_want"
    [ "$_r" -eq "$_want" ] && json_has "$_j" "$@"
}

# check_tags TAGS: the VG's LVM tags are exactly TAGS (comma separated).
check_tags() {
    _t=$(vgs --noheadings -o vg_tags "$VG" | tr -d ' ')
    echo "tags of $VG: [$_t] expected: [$1]"
    [ "$_t" = "$1" ]
}

# The LVs of the service, created raw: setup only, before any agent runs.
make_volumes() {
    _dev=$1
    vgcreate -y "$VG" "$_dev" &&
        lvcreate -y -W n -n lv1 -L 32m "$VG" &&
        mkfs.ext4 -q "$LV"
}

# read_block DEV BLOCK / write_block DEV BLOCK: read one 4 KiB block with O_DIRECT into
# /tmp/block, and write it back unchanged with O_DIRECT (a write that cannot harm the data
# should the target accept it).
read_block() { dd if="$1" of=/tmp/block bs=4096 count=1 skip="$2" iflag=direct; }
write_block() { dd if=/tmp/block of="$1" bs=4096 count=1 seek="$2" oflag=direct conv=notrunc,fsync; }

# sg_persist, retried while the target reports a unit attention (after a preempt, the
# first command from a preempted nexus gets "Registrations preempted"; SG_IO does not retry).
pr_in() {
    _i=0
    while :; do
        _o=$(sg_persist -n --in "$@" 2>&1)
        _r=$?
        if [ "$_r" -ne 0 ] && [ "$_i" -lt 3 ] && printf '%s\n' "$_o" | grep -qi 'unit attention'; then
            _i=$((_i + 1))
            continue
        fi
        printf '%s\n' "$_o"
        return "$_r"
    done
}

# Registered keys, space separated and sorted ("" when none).
pr_keys() {
    pr_in --read-keys "$1" | sed -n 's/^ *\(0x[0-9a-fA-F]*\) *$/\1/p' | sort | tr '\n' ' ' |
        sed 's/ $//'
}

# check_keys DEV "KEY..." : the registered keys are exactly these.
check_keys() {
    _k=$(pr_keys "$1")
    echo "registered keys: [${_k}] expected: [$2]"
    [ "$_k" = "$2" ]
}

# check_holder DEV KEY|none : who holds the reservation (type 5 expected when held).
check_holder() {
    _r=$(pr_in --read-reservation "$1")
    printf '%s\n' "$_r"
    if [ "$2" = none ]; then
        printf '%s\n' "$_r" | grep -qi 'no reservation'
    else
        printf '%s\n' "$_r" | grep -qi "Key=$2\$" && printf '%s\n' "$_r" | grep -qi 'registrants only'
    fi
}

# Deterministic test data with its checksum next to it.
write_data() {
    seq 1 50000 >"$1" && md5sum "$1" | cut -d' ' -f1 >"$1.md5" && sync && cat "$1.md5"
}

check_data() {
    _want=$(seq 1 50000 | md5sum | cut -d' ' -f1)
    _got=$(md5sum "$1" | cut -d' ' -f1)
    echo "md5 $_got expected $_want (recorded $(cat "$1.md5"))"
    [ "$_got" = "$_want" ] && [ "$(cat "$1.md5")" = "$_want" ]
}

# One 4 KiB O_DIRECT write at block N of DEV.
direct_write() {
    dd if=/dev/urandom of="$1" bs=4096 count=1 seek="$2" oflag=direct conv=notrunc,fsync
}

# fenced_write DEV BLOCK: an O_DIRECT write of BLOCK (as read_block left it) must be
# refused by the target: EBADE ("Invalid exchange") and one more "reservation conflict" in
# the kernel log. A first attempt may instead fail with EIO without reaching the target:
# the block device's page cache still carries the error of a filesystem write the target
# refused earlier (the kernel reports it to the next direct write, once), so a second
# attempt is allowed.
fenced_write() {
    _before=$(dmesg | grep -c 'reservation conflict')
    for _try in 1 2; do
        _o=$(write_block "$1" "$2" 2>&1)
        _r=$?
        printf 'attempt %s: rc=%s\n%s\n' "$_try" "$_r" "$_o"
        [ "$_r" -ne 0 ] || return 1
        if printf '%s\n' "$_o" | grep -q 'Invalid exchange'; then
            _after=$(dmesg | grep -c 'reservation conflict')
            echo "kernel log: $_before reservation conflict(s) before, $_after after"
            [ "$_after" -gt "$_before" ]
            return
        fi
        printf '%s\n' "$_o" | grep -q 'Input/output error' || return 1
    done
    return 1
}

