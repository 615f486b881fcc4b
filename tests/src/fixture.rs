//! The demo service used by `make demo` and `make bench`: the seed's busybox service on a
//! lab: an ip, a volume group, an ext4 filesystem and a podman container.

use crate::lab::{Lab, LoopDev, VolumeGroup};

/// The disks behind the service; dropping them removes the VG and detaches the loops.
pub struct Disks {
    pub vg: VolumeGroup,
    pub fs: LoopDev,
}

/// Build the disks and podman on `lab` and return the service config with them.
pub fn busybox(lab: &mut Lab, nodes: &str) -> (String, Disks) {
    let image = lab.podman_env();
    let vg = VolumeGroup::new(lab.dir(), 16);
    let fs = LoopDev::new(lab.dir(), 64);
    fs.mkfs_ext4();
    let conf = format!(
        "[DEFAULT]\nnodes = {nodes}\n\n\
         [ip#1]\nipname = {ip}\nipdev = eth0\nnetmask = 24\n\n\
         [vg#1]\nvgname = {vg}\n\n\
         [fs#1]\ndev = {dev}\nmnt = {mnt}\ntype = ext4\n\n\
         [container#1]\ntype = podman\nrun_image = {image}\n\
         run_args = --network none -v {mnt}:/data\n\
         run_command = /bin/sh -c 'trap \"exit 0\" TERM; while :; do date >> /data/date.log; sleep 1 & wait $!; done'\n",
        ip = lab.subnet_ip(50),
        vg = vg.name,
        dev = fs.path(),
        mnt = lab.dir().join("srv/busybox").display(),
    );
    (conf, Disks { vg, fs })
}
