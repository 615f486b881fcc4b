# shellcheck shell=sh disable=SC2154 # SVC, VG, LV, MNT come from lib.sh
# fence, node A (n1): the agent starts the service; once node B forced its start, the
# target must refuse every write from A, and A's agent must say its reservation is gone.
KEY=0xa1
write_svcmgr_config n1 "$KEY"
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"

# setup, before any agent runs: the VG, its LV and the filesystem
step make_volumes make_volumes "$DEV"

step start svc start
step status_up check_status "vg#1pr=up vg#1=up fs#1=up avail=up"
step holder_is_A check_holder "$DEV" "$KEY"
step keys_only_A check_keys "$DEV" "$KEY"
step tagged_n1 check_tags n1
step write_data write_data "$MNT/data"
step read_block read_block "$LV" 100
step write_block_before write_block "$LV" 100
signal a_written

# B forced its start: every write from A must now be refused by the target.
wait_for b_started
step write_block_fenced fenced_write "$LV" 100
step_refused fs_write_fenced 'Read-only file system|Invalid exchange|I/O error|Input/output error' \
    dd if=/dev/zero of="$MNT/after-fence" bs=4096 count=1 oflag=direct conv=fsync
step status_preempted check_status "vg#1pr=warn avail=warn" \
    'reservation held by 0xb2 on /dev/sd[a-z]+: our key was preempted'
# The fenced node can still stop: it unmounts, deactivates, and leaves B's reservation and
# B's tag alone.
step stop_fenced svc stop
step status_down_after_stop check_status "vg#1pr=down fs#1=down"
step keys_only_B check_keys "$DEV" 0xb2
step tagged_n2 check_tags n2
signal a_fenced
