# shellcheck shell=sh disable=SC2154 # SVC, VG, LV, MNT come from lib.sh
# failover, node A second boot: B fenced A's key and runs the service. A's writes to the
# LUN are refused by the target, and A's own daemon, started again, does not start it.
KEY=0xa1
DEV=$(lun_dev 0) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
HB=$(lun_dev 1) || { mark "STEP hb_lun FAIL no heartbeat disk"; abort_role; }
write_failover_config n1 "$KEY" "$HB" n2
wait_for b_started 240
step keys_only_B check_keys "$DEV" 0xb2
# A block past the LV, in free extents: read, then written back unchanged.
step read_block read_block "$DEV" 15000
step write_refused fenced_write "$DEV" 15000
step daemon_start svcmgr daemon start
step decides_up_on_n2 wait_decision "up on n2" 120
step not_mounted sh -c "! grep -q ' $MNT ' /proc/mounts"
step still_B check_holder "$DEV" 0xb2
signal a_checked
