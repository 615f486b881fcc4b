# shellcheck shell=sh disable=SC2154 # SVC, VG, LV, MNT come from lib.sh
# relocate, node A (n1): the agent starts the service and stops it cleanly (release and
# unregister); A, no longer registered, is then refused writes while B owns the LUN.
KEY=0xa1
write_svcmgr_config n1 "$KEY"
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"

# setup, before any agent runs: the VG, its LV and the filesystem
step make_volumes make_volumes "$DEV"

step start svc start
step status_up check_status "vg#1pr=up vg#1=up fs#1=up avail=up"
step holder_is_A check_holder "$DEV" "$KEY"
step write_data write_data "$MNT/data"

step stop svc stop
step status_down check_status "vg#1pr=down vg#1=down fs#1=down avail=down"
step keys_none check_keys "$DEV" ""
step holder_none check_holder "$DEV" none
step untagged check_tags ""
signal a_stopped

# B owns the LUN now: A, no longer registered, must not write to it.
wait_for b_started
SIZE=$(blockdev --getsize64 "$DEV")
step read_block read_block "$DEV" $((SIZE / 4096 - 1))
step write_block_refused fenced_write "$DEV" $((SIZE / 4096 - 1))
step status_passive check_status "vg#1pr=down fs#1=down"
signal a_checked
