//! `make demo`: the seed's session on a two-node lab. The busybox service (ip, vg, fs and a
//! docker container in the service's own store, `container_data_dir` on the fs) starts on
//! n1, the container writes a file, the config is pushed to n2 (skipped outside the allowed
//! period, then forced); the service is stopped on n1 and started on n2 by hand: the same
//! container id on both nodes, the file read back on n2; then `switch` moves it back.

use labtests::fixture;
use labtests::lab::{self, Lab, Node, OutputExt};

const CNAME: &str = "busybox.container.1";

fn run(node: &Node, args: &[&str]) -> String {
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            if a.contains([' ', '>', '{', '$']) {
                format!("'{a}'")
            } else {
                a.to_string()
            }
        })
        .collect();
    println!("\nroot@{}# busybox {}", node.name, shown.join(" "));
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
    out.stdout_str()
}

fn main() {
    if !lab::require_root("demo") {
        eprintln!("make demo builds network namespaces and loop devices: run it as root");
        std::process::exit(1);
    }
    let mut lab = Lab::new(&["n1", "n2"]);
    lab.enable_ssh();
    let (conf, disks) = fixture::busybox_docker(&mut lab, "n1 n2");
    let tar = lab.image_tar();
    let tar = tar.to_str().expect("utf-8 path");
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
         PV {} (VG {}), ext4 {} holding the service's docker store",
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

    let write = "echo written on n1 before the relocation > /state";
    let id_args = ["docker", "inspect", "--format", "{{.Id}}", CNAME];
    run(n1, &["start", "--rid", "ip,vg,fs"]);
    run(n1, &["docker", "images"]);
    run(n1, &["docker", "import", tar, fixture::IMAGE_DATE]);
    run(n1, &["print", "status"]);
    run(n1, &["startcontainer"]);
    run(n1, &["print", "status"]);
    run(n1, &["docker", "exec", CNAME, "sh", "-c", write]);
    let id_n1 = run(n1, &id_args);
    run(n1, &["syncnodes"]);
    run(n1, &["syncnodes", "--force"]);
    run(n2, &["print", "status"]);
    run(n1, &["stop"]);
    run(n1, &["print", "status"]);
    run(n2, &["start"]);
    run(n2, &["print", "status"]);
    let id_n2 = run(n2, &id_args);
    let state = run(n2, &["docker", "exec", CNAME, "cat", "/state"]);
    run(n2, &["docker", "ps"]);
    println!(
        "\ncontainer id on n1 before the relocation: {}\ncontainer id on n2 after it:            {}\n\
         /state read on n2: {}",
        id_n1.trim(),
        id_n2.trim(),
        state.trim()
    );
    if id_n1 != id_n2 || state.trim() != "written on n1 before the relocation" {
        eprintln!("demo failed: the container did not move with its state");
        std::process::exit(1);
    }
    run(n2, &["switch", "--to", "n1"]);
    run(n1, &["print", "status"]);
    run(n1, &["stop"]);
    drop(lab);
    drop(disks);
    println!("\ndemo done: the same container, its state with it; the lab is torn down");
}
