# shellcheck shell=sh disable=SC2154 # KEY_node* come from service.sh
# relocate, node B: takes the service over after A stopped it, without preempting.
. /etc/vmlab/scenarios/relocate/service.sh
KEY=$KEY_nodeB
write_svcmgr_config nodeB "$KEY"
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"

wait_for a_stopped
# start
step keys_none check_keys "$DEV" ""
step register sg_persist --out --register-ignore --param-sark=$KEY "$DEV"
step reserve sg_persist --out --reserve --param-rk=$KEY --prout-type=5 "$DEV"
step holder_is_B check_holder "$DEV" $KEY
step vgchange vgchange -ay --devices "$DEV" $VG
step fsck_clean e2fsck -fn "$LV"
step mount sh -c "mkdir -p $MNT && mount -t ext4 $LV $MNT"
step data_intact check_data $MNT/data
step write_more write_data $MNT/data2
signal b_started

wait_for a_checked
step still_holder check_holder "$DEV" $KEY
step keys_only_B check_keys "$DEV" "$KEY"
