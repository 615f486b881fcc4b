# shellcheck shell=sh
# Storage role: export two fileio LUNs through LIO's iSCSI target (LUN 0 the shared data
# disk, LUN 1 a small disk for the daemons' disk heartbeat), then serve until "END".
IQN=iqn.2026-11.lab:storage
SIZE_MB=64
T=/sys/kernel/config/target
TPG=$T/iscsi/$IQN/tpgt_1
BS=$T/core/fileio_0/lun0
BS1=$T/core/fileio_1/lun1

step net sh -c 'ip link set lo up && ip addr add 10.0.2.15/24 dev eth0 &&
    ip link set eth0 up && ip route add default via 10.0.2.2'
# Without this directory LIO answers PERSISTENT RESERVE OUT with "not ready".
step pr_dir mkdir -p /var/target/pr /var/lib/vmlab
step backstore sh -c "mkdir -p $BS &&
    echo fd_dev_name=/var/lib/vmlab/lun0.img,fd_dev_size=$((SIZE_MB * 1024 * 1024)) >$BS/control &&
    echo vmlab-lun0 >$BS/wwn/vpd_unit_serial &&
    echo 1 >$BS/enable"
step backstore_hb sh -c "mkdir -p $BS1 &&
    echo fd_dev_name=/var/lib/vmlab/lun1.img,fd_dev_size=$((1024 * 1024)) >$BS1/control &&
    echo vmlab-lun1 >$BS1/wwn/vpd_unit_serial &&
    echo 1 >$BS1/enable"
step target sh -c "mkdir -p $TPG/lun/lun_0 $TPG/lun/lun_1 $TPG/np/10.0.2.15:3260 &&
    ln -s $BS $TPG/lun/lun_0/backstore &&
    ln -s $BS1 $TPG/lun/lun_1/backstore &&
    echo 0 >$TPG/attrib/authentication &&
    echo 1 >$TPG/attrib/generate_node_acls &&
    echo 0 >$TPG/attrib/demo_mode_write_protect &&
    echo 1 >$TPG/attrib/cache_dynamic_acls &&
    echo 1 >$TPG/enable"
mark "READY iqn=$IQN lun=0 size_mb=$SIZE_MB lun=1 size_mb=1"
wait_for END 3600
# What the target saw, for the log.
for f in res_holder res_pr_type res_pr_generation; do
    indent "$f: $(cat $BS/pr/$f 2>&1)"
done
