# shellcheck shell=sh
# Storage role: export one fileio LUN through LIO's iSCSI target, then serve until "END".
IQN=iqn.2026-11.lab:storage
SIZE_MB=64
T=/sys/kernel/config/target
TPG=$T/iscsi/$IQN/tpgt_1
BS=$T/core/fileio_0/lun0

step net sh -c 'ip link set lo up && ip addr add 10.0.2.15/24 dev eth0 &&
    ip link set eth0 up && ip route add default via 10.0.2.2'
# Without this directory LIO answers PERSISTENT RESERVE OUT with "not ready".
step pr_dir mkdir -p /var/target/pr /var/lib/vmlab
step backstore sh -c "mkdir -p $BS &&
    echo fd_dev_name=/var/lib/vmlab/lun0.img,fd_dev_size=$((SIZE_MB * 1024 * 1024)) >$BS/control &&
    echo vmlab-lun0 >$BS/wwn/vpd_unit_serial &&
    echo 1 >$BS/enable"
step target sh -c "mkdir -p $TPG/lun/lun_0 $TPG/np/10.0.2.15:3260 &&
    ln -s $BS $TPG/lun/lun_0/backstore &&
    echo 0 >$TPG/attrib/authentication &&
    echo 1 >$TPG/attrib/generate_node_acls &&
    echo 0 >$TPG/attrib/demo_mode_write_protect &&
    echo 1 >$TPG/attrib/cache_dynamic_acls &&
    echo 1 >$TPG/enable"
mark "READY iqn=$IQN lun=0 size_mb=$SIZE_MB"
wait_for END 3600
# What the target saw, for the log.
for f in res_holder res_pr_type res_pr_generation; do
    indent "$f: $(cat $BS/pr/$f 2>&1)"
done
