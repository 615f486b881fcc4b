# shellcheck shell=sh disable=SC2154 # SVC, VG, LV, MNT come from lib.sh
# relocate, node B (n2): after A stopped the service, a plain start (no --force) takes it
# over; the data is intact; B's stop leaves the LUN free.
KEY=0xb2
write_svcmgr_config n2 "$KEY"
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"

wait_for a_stopped
# A unmounted cleanly: the agent's e2fsck finds the filesystem clean, no journal to replay.
start_clean() {
    _o=$(svc start 2>&1)
    _r=$?
    printf '%s\n' "$_o"
    [ "$_r" -eq 0 ] && printf '%s\n' "$_o" | grep -q 'lv1: clean' &&
        ! printf '%s\n' "$_o" | grep -q 'recovering journal'
}
step start start_clean
step status_up check_status "vg#1pr=up vg#1=up fs#1=up avail=up"
step holder_is_B check_holder "$DEV" "$KEY"
step keys_only_B check_keys "$DEV" "$KEY"
step tagged_n2 check_tags n2
step data_intact check_data "$MNT/data"
step write_more write_data "$MNT/data2"
signal b_started

wait_for a_checked
step still_holder check_holder "$DEV" "$KEY"
step stop svc stop
step keys_none check_keys "$DEV" ""
step holder_none check_holder "$DEV" none
step untagged check_tags ""
