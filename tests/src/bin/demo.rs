//! `make demo`: the seed's session on a two-node lab: a service started on n1, stopped there,
//! started on n2, with the status printed on each node along the way.

use labtests::fixture;
use labtests::lab::{self, Lab, Node};

fn run(node: &Node, args: &[&str]) -> bool {
    println!("\nroot@{}# busybox {}", node.name, args.join(" "));
    let mut full = vec!["-s", "busybox"];
    full.extend_from_slice(args);
    let out = node.svcmgr(&full);
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    out.status.success()
}

fn main() {
    if !lab::require_root("demo") {
        eprintln!("make demo builds network namespaces and loop devices: run it as root");
        std::process::exit(1);
    }
    let mut lab = Lab::new(&["n1", "n2"]);
    let (conf, disks) = fixture::busybox(&mut lab, "n1 n2");
    let (n1, n2) = (lab.node("n1"), lab.node("n2"));
    for n in [n1, n2] {
        n.write_conf("busybox", &conf);
    }
    println!(
        "two-node lab: n1 {} and n2 {} on one bridge; shared disks: PV {} (VG {}), ext4 {}",
        n1.ip,
        n2.ip,
        disks.vg.pv(),
        disks.vg.name,
        disks.fs.path()
    );
    println!("service config (both nodes):\n{conf}");
    let steps: Vec<(&Node, &[&str])> = vec![
        (n1, &["start"]),
        (n1, &["print", "status"]),
        (n2, &["print", "status"]),
        (n1, &["stop"]),
        (n2, &["start"]),
        (n1, &["print", "status"]),
        (n2, &["print", "status"]),
        (n2, &["stop"]),
    ];
    for (node, args) in steps {
        if !run(node, args) {
            eprintln!(
                "demo step failed on {}: busybox {}",
                node.name,
                args.join(" ")
            );
            std::process::exit(1);
        }
    }
    drop(disks);
    println!("\ndemo done: the lab is torn down");
}
