//! `make bench`: the agent's own cost, measured on a real lab node.
//!
//! Every figure is a median over repeated cold runs of the release binary. "Agent overhead"
//! is an action's wall time minus the wall time of the child commands it ran (recorded by
//! the runner through SVCMGR_EXEC_TIMES) and minus the cost of entering the lab node's
//! namespaces (nsenter, measured separately).

use std::path::Path;
use std::time::{Duration, Instant};

mod cluster;
mod daemon;
mod failover;
mod heartbeat;

use labtests::fixture;
use labtests::lab::{self, Lab, LoopDev, Node, OutputExt};

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn p90(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[(v.len() * 9 / 10).min(v.len() - 1)]
}

/// `min A / median B / p90 C / max D ms`.
pub fn spread(v: &[f64]) -> String {
    let min = v.iter().cloned().fold(f64::MAX, f64::min);
    let max = v.iter().cloned().fold(0.0, f64::max);
    format!(
        "min {min:.0} / median {:.0} / p90 {:.0} / max {max:.0} ms",
        median(v.to_vec()),
        p90(v.to_vec())
    )
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Wall time of one run of `argv` in the node, in ms.
pub fn time_run(node: &Node, argv: &[&str]) -> f64 {
    let t0 = Instant::now();
    let out = node.command(argv).output().expect("spawn");
    let took = ms(t0.elapsed());
    out.assert_ok(&argv.join(" "));
    took
}

pub fn nsenter_baseline(node: &Node) -> f64 {
    median((0..30).map(|_| time_run(node, &["true"])).collect())
}

/// The intervals recorded since the file was last cleared (start µs, end µs, what), the
/// file removed.
pub fn take_spans(times: &Path) -> Vec<(u128, u128, String)> {
    let text = std::fs::read_to_string(times).unwrap_or_default();
    let _ = std::fs::remove_file(times);
    text.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            Some((
                f.next()?.parse().ok()?,
                f.next()?.parse().ok()?,
                f.next().unwrap_or("").to_string(),
            ))
        })
        .collect()
}

/// Wall time covered by `spans` (the union of their intervals: some overlap), in ms.
pub fn union_ms<'a>(spans: impl IntoIterator<Item = &'a (u128, u128, String)>) -> f64 {
    let mut v: Vec<(u128, u128)> = spans.into_iter().map(|s| (s.0, s.1)).collect();
    v.sort();
    let mut total = 0u128;
    let mut cur: Option<(u128, u128)> = None;
    for (s, e) in v {
        cur = match cur {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    if let Some((cs, ce)) = cur {
        total += ce - cs;
    }
    total as f64 / 1000.0
}

/// Wall time covered by the child commands recorded since the file was last cleared, in ms.
pub fn child_ms(times: &Path) -> f64 {
    union_ms(&take_spans(times))
}

fn bench_status(node: &Node, svc: &str, what: &str, base: f64) {
    let bin = lab::svcmgr_bin();
    let bin = bin.to_str().unwrap();
    let runs: Vec<f64> = (0..30)
        .map(|_| time_run(node, &[bin, "-s", svc, "print", "status"]) - base)
        .collect();
    println!(
        "print status, {what}, cold process: median {:.1} ms, p90 {:.1} ms (n=30)",
        median(runs.clone()),
        p90(runs)
    );
}

fn bench_cycle(node: &Node, svc: &str, what: &str, base: f64, times: &Path, cycles: usize) {
    let bin = lab::svcmgr_bin();
    let bin = bin.to_str().unwrap();
    let mut wall = Vec::new();
    let mut own = Vec::new();
    let _ = std::fs::remove_file(times);
    for _ in 0..cycles {
        for action in ["start", "stop"] {
            let w = time_run(node, &[bin, "-s", svc, action]) - base;
            let c = child_ms(times);
            wall.push(w);
            own.push(w - c);
        }
    }
    println!(
        "start+stop, {what}: action wall median {:.0} ms, agent overhead median {:.1} ms per action (n={})",
        median(wall),
        median(own),
        cycles * 2
    );
}

fn main() {
    if !lab::require_root("bench") {
        std::process::exit(1);
    }
    // `bench agent|daemon|heartbeat|failover|partitions`: only those figures; no argument: all of them.
    let only = std::env::args().nth(1);
    let wants = |what: &str| only.as_deref().is_none_or(|o| o == what);
    if wants("agent") {
        agent_benches();
    }
    if wants("daemon") {
        daemon::run();
    }
    if wants("failover") {
        failover::trials(labtests::hb::FAST, 10, "1s");
        failover::trials(labtests::hb::FAST, 10, "250ms");
        failover::trials(labtests::hb::DEFAULTS, 10, "1s");
    }
    if wants("partitions") {
        failover::partitions(labtests::hb::FAST, 50);
    }
    if wants("heartbeat") {
        heartbeat::detection(labtests::hb::FAST, 20);
        heartbeat::detection(labtests::hb::DEFAULTS, 10);
        heartbeat::datagram_size();
        heartbeat::load(3);
        heartbeat::load(16);
    }
}

fn agent_benches() {
    let mut lab = Lab::new(&["n1"]);
    let times = lab.dir().join("exec-times");
    lab.set_env("n1", "SVCMGR_EXEC_TIMES", times.to_str().unwrap());
    let n1 = lab.node("n1");
    let dev = LoopDev::new(lab.dir(), 32);
    dev.mkfs_ext4();
    let mnt = lab.dir().join("mnt/web");
    n1.write_conf(
        "web",
        &format!(
            "[DEFAULT]\nnodes = n1\n\n[ip#1]\nipname = {}\nipdev = eth0\nnetmask = 24\n\n\
             [fs#1]\ndev = {}\nmnt = {}\ntype = ext4\n",
            lab.subnet_ip(50),
            dev.path(),
            mnt.display()
        ),
    );
    let base = nsenter_baseline(n1);
    println!(
        "svcmgr benchmarks ({} cores), nsenter baseline {base:.1} ms subtracted",
        num_cores()
    );
    bench_status(n1, "web", "2 resources (ip, fs), down", base);
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    bench_status(n1, "web", "2 resources (ip, fs), up", base);
    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("stop");
    bench_cycle(n1, "web", "2 resources (ip, fs)", base, &times, 5);
    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("stop");
    drop(dev);

    let (conf, disks) = fixture::busybox(&mut lab, "n1");
    let n1 = lab.node("n1");
    n1.write_conf("busybox", &conf);
    let what = "4 resources (ip, vg, fs, container)";
    bench_status(n1, "busybox", &format!("{what}, down"), base);
    n1.svcmgr(&["-s", "busybox", "start"])
        .assert_ok("start busybox");
    bench_status(n1, "busybox", &format!("{what}, up"), base);
    n1.svcmgr(&["-s", "busybox", "stop"])
        .assert_ok("stop busybox");
    bench_cycle(n1, "busybox", what, base, &times, 3);
    drop(disks);
    drop(lab);

    cluster::relocation();
    cluster::relocation_private_dockerd();
    cluster::sync_fanout(&[1, 4, 16]);
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
