# shellcheck shell=sh disable=SC2154 # KEY_node* come from service.sh
# fence, node B: cannot reserve while A holds the LUN, preempts A, takes the data over.
. /etc/vmlab/scenarios/fence/service.sh
KEY=$KEY_nodeB
write_svcmgr_config nodeB "$KEY"
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"

wait_for a_written
# start, while A still holds the LUN: the reservation is refused, so the takeover preempts A
step register sg_persist --out --register-ignore --param-sark=$KEY "$DEV"
step keys_both check_keys "$DEV" "$KEY_nodeA $KEY"
step_refused reserve_refused 'conflict' sg_persist --out --reserve --param-rk=$KEY --prout-type=5 "$DEV"
step preempt_abort sg_persist --out --preempt-abort --param-rk=$KEY --param-sark=$KEY_nodeA --prout-type=5 "$DEV"
step keys_only_B check_keys "$DEV" "$KEY"
step holder_is_B check_holder "$DEV" $KEY
signal b_preempted

wait_for a_fenced
# start, continued
step vgchange vgchange -ay --devices "$DEV" $VG
step fsck fsck_recover "$LV"
step mount sh -c "mkdir -p $MNT && mount -t ext4 $LV $MNT"
step data_intact check_data $MNT/data
step write_after_takeover direct_write "$PROBE" 2
