# shellcheck shell=sh disable=SC2154 # KEY_node* come from service.sh
# fence, node A: owns the service, then gets preempted and must no longer write the LUN.
. /etc/vmlab/scenarios/fence/service.sh
KEY=$KEY_nodeA
write_svcmgr_config nodeA "$KEY"
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"

# start: reserve the LUN, build and mount the filesystem, write data
step register sg_persist --out --register-ignore --param-sark=$KEY "$DEV"
step reserve sg_persist --out --reserve --param-rk=$KEY --prout-type=5 "$DEV"
step holder_is_A check_holder "$DEV" $KEY
step vgcreate vgcreate -y --devices "$DEV" $VG "$DEV"
step lvcreate lvcreate -y -W n --devices "$DEV" -n lv1 -L 32m $VG
step lvcreate_probe lvcreate -y -W n --devices "$DEV" -n probe -L 4m $VG
step mkfs mkfs.ext4 -q "$LV"
step mount sh -c "mkdir -p $MNT && mount -t ext4 $LV $MNT"
step write_data write_data $MNT/data
step direct_write_before direct_write "$PROBE" 0
signal a_written

# B preempts us; every write from here on must be refused by the target.
wait_for b_preempted
step_refused direct_write_fenced 'Invalid exchange|reservation conflict' direct_write "$PROBE" 1
step conflict_logged conflict_logged
step_refused fs_direct_write_fenced 'error|failed|Invalid exchange|conflict' \
    dd if=/dev/zero of=$MNT/after-fence bs=4096 count=1 oflag=direct conv=fsync
signal a_fenced
