//! `make demo`: the seed's session on a two-node lab. The busybox service (ip, vg, fs,
//! container) starts on n1; its config is pushed to n2 (skipped outside the allowed period,
//! then forced); it is stopped on n1 and started on n2 by hand; then `switch` moves it back.

use labtests::fixture;
use labtests::lab::{self, Lab, Node};

fn run(node: &Node, args: &[&str]) {
    println!("\nroot@{}# busybox {}", node.name, args.join(" "));
    let mut full = vec!["-s", "busybox"];
    full.extend_from_slice(args);
    let out = node.svcmgr(&full);
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        eprintln!(
            "demo step failed on {}: busybox {}",
            node.name,
            args.join(" ")
        );
        std::process::exit(1);
    }
}

fn main() {
    if !lab::require_root("demo") {
        eprintln!("make demo builds network namespaces and loop devices: run it as root");
        std::process::exit(1);
    }
    let mut lab = Lab::new(&["n1", "n2"]);
    lab.enable_ssh();
    let (conf, disks) = fixture::busybox(&mut lab, "n1 n2");
    let (n1, n2) = (lab.node("n1"), lab.node("n2"));
    // An allowed sync period that excludes now, so the first push is skipped as in the seed.
    let (period, _) = fixture::period_excluding_now(n1);
    let conf = conf.replacen(
        "nodes = n1 n2\n",
        &format!("nodes = n1 n2\nsync_period = {period}\n"),
        1,
    );
    n1.write_conf("busybox", &conf);
    println!(
        "two-node lab: n1 {} and n2 {} on one bridge, an sshd on each; shared disks: \
         PV {} (VG {}), ext4 {}",
        n1.ip,
        n2.ip,
        disks.vg.pv(),
        disks.vg.name,
        disks.fs.path()
    );
    println!(
        "\nroot@n1# cat {}/etc/busybox.conf\n{conf}",
        n1.root.display()
    );

    let steps: Vec<(&Node, &[&str])> = vec![
        (n1, &["start"]),
        (n1, &["print", "status"]),
        (n1, &["syncnodes"]),
        (n1, &["syncnodes", "--force"]),
        (n1, &["print", "status"]),
        (n2, &["print", "status"]),
        (n1, &["stop"]),
        (n1, &["print", "status"]),
        (n2, &["start"]),
        (n2, &["print", "status"]),
        (n2, &["switch", "--to", "n1"]),
        (n1, &["stop"]),
    ];
    for (node, args) in steps {
        run(node, args);
    }
    drop(disks);
    println!("\ndemo done: the lab is torn down");
}
