//! The demo service used by `make demo` and `make bench`: the seed's busybox service on a
//! lab: an ip, a volume group, an ext4 filesystem and a podman container.

use crate::lab::{Lab, LoopDev, Node, OutputExt, VolumeGroup};

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

/// The seed's service with a private docker store: ip, vg, fs, and a docker container whose
/// daemon keeps its data root (`container_data_dir`) on the service's filesystem. The image
/// is imported into that store by the caller (`busybox docker import`, [`IMAGE_DATE`]).
pub fn busybox_docker(lab: &mut Lab, nodes: &str) -> (String, Disks) {
    let vg = VolumeGroup::new(lab.dir(), 16);
    let fs = LoopDev::new(lab.dir(), 256);
    fs.mkfs_ext4();
    let mnt = lab.dir().join("srv/busybox");
    let conf = format!(
        "[DEFAULT]\nnodes = {nodes}\ncontainer_data_dir = {mnt}/appdata\n\n\
         [ip#1]\nipname = {ip}\nipdev = eth0\nnetmask = 24\n\n\
         [vg#1]\nvgname = {vg}\n\n\
         [fs#1]\ndev = {dev}\nmnt = {mnt}\ntype = ext4\n\n\
         [container#1]\ntype = docker\nrun_image = {IMAGE_DATE}\nrun_args = --pull never\n\
         run_command = /bin/sh -c 'trap \"exit 0\" TERM; while :; do date; sleep 1 & wait $!; done'\n",
        ip = lab.subnet_ip(50),
        vg = vg.name,
        dev = fs.path(),
        mnt = mnt.display(),
    );
    (conf, Disks { vg, fs })
}

/// The seed's image name, imported from the lab's busybox tarball (no registry).
pub const IMAGE_DATE: &str = "opensvc/busybox:date";

/// A `sync_period` window that does not contain the node's current local time, and the
/// message `syncnodes` prints for it.
pub fn period_excluding_now(n: &Node) -> (String, String) {
    let now = n.sh(&["date", "+%H:%M"]).assert_ok("date").stdout_str();
    let (h, m) = now.trim().split_once(':').expect("HH:MM");
    let now: u32 = h.parse::<u32>().unwrap() * 60 + m.parse::<u32>().unwrap();
    let f = |x: u32| format!("{:02}:{:02}", (x % 1440) / 60, x % 60);
    let (a, b) = (f(now + 120), f(now + 180));
    (
        format!("{a}-{b}"),
        format!("skip sync: not in allowed period (['{a}', '{b}'])"),
    )
}
