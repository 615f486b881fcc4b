# shellcheck shell=sh disable=SC2154 # KEY_node* come from service.sh
# relocate, node A: starts the service, stops it cleanly (release + unregister), and is then
# refused writes while B owns the LUN.
. /etc/vmlab/scenarios/relocate/service.sh
KEY=$KEY_nodeA
write_svcmgr_config nodeA "$KEY"
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"

# start
step register sg_persist --out --register-ignore --param-sark=$KEY "$DEV"
step reserve sg_persist --out --reserve --param-rk=$KEY --prout-type=5 "$DEV"
step vgcreate vgcreate -y --devices "$DEV" $VG "$DEV"
step lvcreate lvcreate -y -W n --devices "$DEV" -n lv1 -L 32m $VG
step mkfs mkfs.ext4 -q "$LV"
step mount sh -c "mkdir -p $MNT && mount -t ext4 $LV $MNT"
step write_data write_data $MNT/data

# stop
step umount umount $MNT
step vg_deactivate vgchange -an --devices "$DEV" $VG
step release sg_persist --out --release --param-rk=$KEY --prout-type=5 "$DEV"
step unregister sg_persist --out --register --param-rk=$KEY --param-sark=0 "$DEV"
step keys_none check_keys "$DEV" ""
step holder_none check_holder "$DEV" none
signal a_stopped

# B owns the LUN now: A, no longer registered, must not write to it.
wait_for b_started
SIZE=$(blockdev --getsize64 "$DEV")
step_refused direct_write_refused 'Invalid exchange|reservation conflict' \
    direct_write "$DEV" $((SIZE / 4096 - 1))
step conflict_logged conflict_logged
signal a_checked
