//! Cluster benchmarks: the relocation of the demo service between two nodes, and config
//! pushes to 1, 4 and 16 peers (one namespace and one sshd each).

use labtests::fixture;
use labtests::lab::{self, Lab, OutputExt};

use super::{child_ms, median, nsenter_baseline, take_spans, time_run, union_ms};

/// `switch --to n2` then back, the busybox service (ip, vg, fs, container): wall time, the
/// time covered by child commands on both nodes, and the rest, the agent's own cost (ssh
/// sessions and the remote agent's start-up included).
pub fn relocation() {
    let mut lab = Lab::new(&["n1", "n2"]);
    let times = lab.dir().join("exec-times");
    for n in ["n1", "n2"] {
        lab.set_env(n, "SVCMGR_EXEC_TIMES", times.to_str().unwrap());
    }
    lab.enable_ssh();
    let (conf, disks) = fixture::busybox(&mut lab, "n1 n2");
    let (n1, n2) = (lab.node("n1"), lab.node("n2"));
    n1.write_conf("busybox", &conf);
    n1.svcmgr(&["-s", "busybox", "start"]).assert_ok("start");
    n1.svcmgr(&["-s", "busybox", "syncnodes", "--force"])
        .assert_ok("syncnodes");
    let base = nsenter_baseline(n1);
    let bin = lab::svcmgr_bin();
    let bin = bin.to_str().unwrap();
    let (mut wall, mut child, mut own) = (Vec::new(), Vec::new(), Vec::new());
    let _ = std::fs::remove_file(&times);
    for _ in 0..3 {
        for (from, to) in [(n1, "n2"), (n2, "n1")] {
            let w = time_run(from, &[bin, "-s", "busybox", "switch", "--to", to]) - base;
            let c = child_ms(&times);
            wall.push(w);
            child.push(c);
            own.push(w - c);
        }
    }
    println!(
        "relocation (switch), 4 resources, 2 nodes: wall median {:.0} ms = child commands {:.0} ms \
         + agent overhead {:.0} ms (n={}; includes both nodes' status at the end)",
        median(wall),
        median(child),
        median(own.clone()),
        own.len()
    );
    n1.svcmgr(&["-s", "busybox", "stop"]).assert_ok("stop");
    drop(disks);
}

/// The seed's relocation by hand with a private dockerd: `stop` on one node, `start` on the
/// other (ip, vg, fs, and a docker container whose store is on the fs), back and forth. The
/// time is split into the private daemon's start and stop (until it answers / exits), the
/// container's docker commands, the other commands (ip, vgchange, e2fsck, mount...), and the
/// agent's own share (the rest: process start-up, config, peer check over ssh, status).
pub fn relocation_private_dockerd() {
    let mut lab = Lab::new(&["n1", "n2"]);
    let times = lab.dir().join("exec-times");
    for n in ["n1", "n2"] {
        lab.set_env(n, "SVCMGR_EXEC_TIMES", times.to_str().unwrap());
    }
    lab.enable_ssh();
    let (conf, disks) = fixture::busybox_docker(&mut lab, "n1 n2");
    let tar = lab.image_tar();
    let (n1, n2) = (lab.node("n1"), lab.node("n2"));
    for n in [n1, n2] {
        n.write_conf("busybox", &conf);
    }
    n1.svcmgr(&["-s", "busybox", "start", "--rid", "fs"])
        .assert_ok("startfs");
    n1.svcmgr(&[
        "-s",
        "busybox",
        "docker",
        "import",
        tar.to_str().unwrap(),
        fixture::IMAGE_DATE,
    ])
    .assert_ok("docker import");
    n1.svcmgr(&["-s", "busybox", "start"]).assert_ok("start");
    let base = nsenter_baseline(n1);
    let bin = lab::svcmgr_bin();
    let bin = bin.to_str().unwrap();
    let mut rows: Vec<[f64; 5]> = Vec::new();
    let _ = std::fs::remove_file(&times);
    for _ in 0..3 {
        for (from, to) in [(n1, n2), (n2, n1)] {
            let w = time_run(from, &[bin, "-s", "busybox", "stop"])
                + time_run(to, &[bin, "-s", "busybox", "start"])
                - 2.0 * base;
            let spans = take_spans(&times);
            let is_daemon = |s: &&(u128, u128, String)| s.2.starts_with("dockerd: ");
            let is_docker = |s: &&(u128, u128, String)| is_daemon(s) || s.2.starts_with("docker ");
            let daemon = union_ms(spans.iter().filter(is_daemon));
            let engine = union_ms(spans.iter().filter(is_docker));
            let all = union_ms(&spans);
            rows.push([w, daemon, engine - daemon, all - engine, w - all]);
        }
    }
    let col = |i: usize| median(rows.iter().map(|r| r[i]).collect());
    println!(
        "relocation by hand (stop on one node, start on the other), private dockerd, 4 resources: \
         wall median {:.0} ms = dockerd start+stop {:.0} ms + container (docker commands) {:.0} ms \
         + ip/vg/fs commands {:.0} ms + agent {:.0} ms (n={}; two svcmgr runs each, peer check over ssh included)",
        col(0),
        col(1),
        col(2),
        col(3),
        col(4),
        rows.len()
    );
    n1.svcmgr(&["-s", "busybox", "stop"]).assert_ok("stop");
    drop(lab);
    drop(disks);
}

/// CPU time (user + system) used by this process's finished children, in ms.
fn children_cpu_ms() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    let u = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let ms = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1000.0 + t.tv_usec() as f64 / 1000.0;
    ms(u.user_time()) + ms(u.system_time())
}

/// `syncnodes --force` from n0 to its first `peers` nodes, for each size. All the peers'
/// sshd and agents share this machine's cores with the pushing agent, so the wall time of
/// a wide push here is bounded by their CPU; the pushing agent's own CPU is shown apart.
pub fn sync_fanout(sizes: &[usize]) {
    let max = sizes.iter().copied().max().unwrap_or(1);
    let names: Vec<String> = (0..=max).map(|i| format!("n{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut lab = Lab::new(&refs);
    lab.enable_ssh();
    let n0 = lab.node("n0");
    let base = nsenter_baseline(n0);
    let bin = lab::svcmgr_bin();
    let bin = bin.to_str().unwrap();
    let mut one = None;
    let mut ssh_one = None;
    for &peers in sizes {
        let svc = format!("s{peers}");
        n0.write_conf(
            &svc,
            &format!("[DEFAULT]\nnodes = {}\n", names[..=peers].join(" ")),
        );
        let mut cpu = Vec::new();
        let runs: Vec<f64> = (0..5)
            .map(|_| {
                let before = children_cpu_ms();
                let w = time_run(n0, &[bin, "-s", &svc, "syncnodes", "--force"]) - base;
                cpu.push(children_cpu_ms() - before);
                w
            })
            .collect();
        let m = median(runs);
        let ratio = *one.get_or_insert(m);
        println!(
            "syncnodes --force to {peers:>2} peer(s): median {m:.0} ms ({:.2}x one peer; \
             pushing agent's own CPU {:.0} ms; n=5)",
            m / ratio,
            median(cpu)
        );
        // The same fan-out with the OpenSSH client running `true`: what the lab's shared
        // cores cost any ssh-based tool, for scale.
        let runs: Vec<f64> = (0..5)
            .map(|_| {
                let t0 = std::time::Instant::now();
                let children: Vec<_> = names[1..=peers]
                    .iter()
                    .map(|p| {
                        let mut argv = lab.ssh_argv(p);
                        argv.push("true".into());
                        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                        n0.command(&argv).spawn().expect("spawn ssh")
                    })
                    .collect();
                for mut c in children {
                    assert!(c.wait().expect("wait ssh").success(), "ssh true failed");
                }
                t0.elapsed().as_secs_f64() * 1000.0 - base
            })
            .collect();
        let m = median(runs);
        let ratio = *ssh_one.get_or_insert(m);
        println!(
            "  for scale, OpenSSH 'ssh peer true' to {peers:>2} peer(s) at once: median {m:.0} ms \
             ({:.2}x one peer)",
            m / ratio
        );
    }
}
