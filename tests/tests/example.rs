//! The shipped example (packaging/examples/busybox.conf, the seed's service) runs in the lab
//! once its site-specific values (node names, address, devices, image) are replaced.

use labtests::lab::{self, Lab, LoopDev, OutputExt, VolumeGroup};

/// Replace the value of `key` in `section` of an INI text.
fn set(text: &str, section: &str, key: &str, value: &str) -> String {
    let mut cur = String::new();
    let mut found = false;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            let t = l.trim();
            if t.starts_with('[') {
                cur = t.trim_matches(|c| c == '[' || c == ']').to_string();
            } else if cur == section && t.split('=').next().map(str::trim) == Some(key) {
                found = true;
                return format!("{key} = {value}");
            }
            l.to_string()
        })
        .collect();
    assert!(found, "[{section}] {key} not in the example");
    out.join("\n") + "\n"
}

#[test]
fn shipped_busybox_example_runs_in_the_lab() {
    if !lab::require_root("shipped_busybox_example_runs_in_the_lab") {
        return;
    }
    let mut lab = Lab::new(&["n1"]);
    let image = lab.podman_env();
    let vg = VolumeGroup::new(lab.dir(), 16);
    let (root, data) = (LoopDev::new(lab.dir(), 32), LoopDev::new(lab.dir(), 32));
    root.mkfs_ext4();
    data.mkfs_ext4();
    let base = lab.dir().join("opt/busybox").display().to_string();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/examples/busybox.conf"
    ))
    .unwrap();
    let mut conf = set(&text, "DEFAULT", "nodes", "n1");
    conf = set(&conf, "DEFAULT", "autostart_node", "n1");
    conf = set(&conf, "ip#1", "ipname", &lab.subnet_ip(60));
    conf = set(&conf, "ip#1", "ipdev", "eth0");
    conf = conf.replace("[ip#1]\n", "[ip#1]\nnetmask = 24\n");
    conf = set(&conf, "vg#1", "vgname", &vg.name);
    conf = set(&conf, "fs#1", "dev", root.path());
    conf = set(&conf, "fs#1", "mnt", &base);
    conf = set(&conf, "fs#2", "dev", data.path());
    conf = set(&conf, "fs#2", "mnt", &format!("{base}/appdata"));
    conf = set(&conf, "container#1", "run_image", &image);
    conf = set(
        &conf,
        "container#1",
        "run_args",
        &format!("--network none --volume {base}/appdata:/data"),
    );
    conf = set(
        &conf,
        "container#1",
        "run_command",
        "/bin/sh -c 'trap \"exit 0\" TERM; while :; do date >> /data/date.log; sleep 1 & wait $!; done'",
    );
    let n1 = lab.node("n1");
    n1.write_conf("busybox", &conf);
    n1.svcmgr(&["-s", "busybox", "validate", "config"])
        .assert_ok("validate");

    let out = n1.svcmgr(&["-s", "busybox", "start"]);
    out.assert_ok("start");
    let log = out.stdout_str();
    let order: Vec<usize> = [
        "IP#1 ip addr add",
        "VG#1 vgchange -a y",
        "FS#1 mount",
        "FS#2 create missing mountpoint",
        "FS#2 mount",
        "CONTAINER#1 podman run",
    ]
    .iter()
    .map(|s| log.find(s).unwrap_or_else(|| panic!("{s} not in:\n{log}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "start order:\n{log}");
    assert_eq!(
        n1.svcmgr(&["-s", "busybox", "status"]).status.code(),
        Some(0)
    );
    assert!(lab::wait_until(
        std::time::Duration::from_secs(10),
        "the container writes into fs#2",
        || {
            n1.sh(&["cat", &format!("{base}/appdata/date.log")])
                .status
                .success()
        }
    ));

    let out = n1.svcmgr(&["-s", "busybox", "stop"]);
    out.assert_ok("stop");
    let log = out.stdout_str();
    let stop: Vec<usize> = [
        "CONTAINER#1 podman stop",
        "FS#2 umount",
        "FS#1 umount",
        "VG#1 vgchange -a n",
        "IP#1 ip addr del",
    ]
    .iter()
    .map(|s| log.find(s).unwrap_or_else(|| panic!("{s} not in:\n{log}")))
    .collect();
    assert!(stop.windows(2).all(|w| w[0] < w[1]), "stop order:\n{log}");
    assert_eq!(
        n1.svcmgr(&["-s", "busybox", "status"]).status.code(),
        Some(1)
    );
    drop((root, data, vg));
}
