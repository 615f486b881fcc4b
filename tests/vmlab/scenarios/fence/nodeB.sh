# shellcheck shell=sh disable=SC2154 # SVC, VG, LV, MNT come from lib.sh
# fence, node B (n2): its start is refused while A holds the LUN; a forced start preempts
# and aborts A's registration, takes the VG over and mounts A's filesystem.
KEY=0xb2
write_svcmgr_config n2 "$KEY"
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"

wait_for a_written
step status_down check_status "vg#1pr=down fs#1=down"
step_exit start_refused 1 'held by 0xa1.*use --preempt' svc start
step still_A_holder check_holder "$DEV" 0xa1
step keys_only_A check_keys "$DEV" 0xa1
step still_tagged_n1 check_tags n1
step not_mounted sh -c "! grep -q ' $MNT ' /proc/mounts"

step start_forced svc start --force
step holder_is_B check_holder "$DEV" "$KEY"
step keys_only_B check_keys "$DEV" "$KEY"
step tagged_n2 check_tags n2
step status_up check_status "vg#1pr=up vg#1=up fs#1=up avail=up"
step data_intact check_data "$MNT/data"
signal b_started

wait_for a_fenced
step write_after_takeover write_data "$MNT/data-b"
step still_holder check_holder "$DEV" "$KEY"

# B stops the service; a full read-only check then finds the filesystem A wrote, B took
# over (after replaying A's journal) and B wrote to, consistent.
step stop svc stop
step keys_none check_keys "$DEV" ""
step untagged check_tags ""
step activate_for_check vgchange -a y "$VG"
step fsck_full_clean e2fsck -fn "$LV"
step deactivate vgchange -a n "$VG"
