//! Daemon benchmarks on a lab node: RSS and CPU of an idle daemon with 50 services (against
//! the same daemon with none), the time from a monitored container's death to its restart
//! (against a start of the container by hand), `print status` through the API against local
//! evaluation, and the API's request latency (against connecting alone).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use labtests::lab::{self, wait_until, Lab, Node, OutputExt};

use super::{median, ms, nsenter_baseline, time_run};

const SERVICES: u8 = 50;
const WAIT: Duration = Duration::from_secs(120);
const CNAME: &str = "ct.container.1";

fn pct(v: &[f64], p: usize) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[(v.len() * p / 100).min(v.len() - 1)]
}

fn daemon_pid(n: &Node) -> i32 {
    let text = std::fs::read_to_string(n.root.join("var/daemon/lock")).expect("daemon lock");
    text.split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("daemon pid")
}

/// CPU seconds of `pid` itself and of its reaped children (the commands status evaluation
/// runs).
fn cpu_s(pid: i32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .expect("stat")
        .1
        .split_whitespace()
        .collect();
    // utime stime cutime cstime: fields 14-17, i.e. 11-14 after the command name.
    let t = |i: usize| fields[i].parse::<f64>().unwrap_or(0.0);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    ((t(11) + t(12)) / hz, (t(13) + t(14)) / hz)
}

fn rss_kb(pid: i32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What an idle daemon costs over a window.
struct Idle {
    rss_mb: f64,
    peak_mb: f64,
    /// % of one core: the daemon itself, the commands it ran.
    own: f64,
    children: f64,
}

fn idle(n: &Node, window: Duration) -> Idle {
    let pid = daemon_pid(n);
    let (c0, t0) = (cpu_s(pid), Instant::now());
    std::thread::sleep(window);
    let c1 = cpu_s(pid);
    let secs = t0.elapsed().as_secs_f64();
    Idle {
        rss_mb: rss_kb(pid, "VmRSS:") as f64 / 1024.0,
        peak_mb: rss_kb(pid, "VmHWM:") as f64 / 1024.0,
        own: (c1.0 - c0.0) / secs * 100.0,
        children: (c1.1 - c0.1) / secs * 100.0,
    }
}

fn start_daemon(n: &Node) {
    n.svcmgr(&["daemon", "start"]).assert_ok("daemon start");
    assert!(
        wait_until(WAIT, "daemon answering", || n
            .svcmgr(&["daemon", "status"])
            .status
            .success()),
        "daemon did not answer"
    );
}

/// One request on a new connection; the answer's size (0 when none).
fn request(sock: &Path, path: &str) -> usize {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: svcmgr\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "GET {path}: {:?}",
        String::from_utf8_lossy(&out[..out.len().min(80)])
    );
    out.len()
}

fn latency(sock: &Path, path: &str, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            request(sock, path);
            ms(t.elapsed())
        })
        .collect()
}

fn connect_only(sock: &Path, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            drop(UnixStream::connect(sock).expect("connect"));
            ms(t.elapsed())
        })
        .collect()
}

fn write_ip_services(lab: &Lab, n: &Node) {
    for i in 0..SERVICES {
        n.write_conf(
            &format!("s{i:02}"),
            &format!(
                "[DEFAULT]\nnodes = n1\n\n[ip#1]\nipname = {}\nipdev = eth0\nnetmask = 24\n\
                 monitor = true\n",
                lab.subnet_ip(100 + i)
            ),
        );
    }
}

pub fn run() {
    let mut lab = Lab::new(&["n1"]);
    let image = lab.podman_env();
    let n1 = lab.node("n1");
    // monitor_interval left at its default (5s): what a host runs.
    let window = Duration::from_secs(20);

    start_daemon(n1);
    let none = idle(n1, window);
    n1.svcmgr(&["daemon", "stop"]).assert_ok("daemon stop");

    write_ip_services(&lab, n1);
    for i in 0..SERVICES {
        n1.svcmgr(&["-s", &format!("s{i:02}"), "start"])
            .assert_ok("start");
    }
    start_daemon(n1);
    // Past the first evaluations: the steady state.
    std::thread::sleep(Duration::from_secs(6));
    let full = idle(n1, window);
    println!(
        "daemon idle, {SERVICES} services up (ip, monitor = true), monitor_interval 5s, {}s window: \
         RSS {:.1} MB (peak {:.1}; {:.2}x the daemon with no service, {:.1} MB, peak {:.1}; \
         target < 15 MB), CPU {:.2} % of one core = daemon {:.2} % + the commands it ran {:.2} % \
         (no service: {:.2} %; target < 1 %)",
        window.as_secs(),
        full.rss_mb,
        full.peak_mb,
        full.rss_mb / none.rss_mb.max(0.1),
        none.rss_mb,
        none.peak_mb,
        full.own + full.children,
        full.own,
        full.children,
        none.own + none.children,
    );

    // print status of one of them: through the daemon's API, then evaluated locally.
    let bin = lab::svcmgr_bin();
    let bin = bin.to_str().expect("utf-8 path");
    let base = nsenter_baseline(n1);
    let runs = |n: &Node| -> Vec<f64> {
        (0..30)
            .map(|_| time_run(n, &[bin, "-s", "s00", "print", "status"]) - base)
            .collect()
    };
    let o = n1.svcmgr(&["-s", "s00", "print", "status"]);
    assert!(
        o.stderr_str().contains("status source: daemon"),
        "{}",
        o.stderr_str()
    );
    let api = runs(n1);

    // The API's latency, from this process over the socket.
    let sock: PathBuf = n1.root.join("var/lsnr/api.sock");
    let conn = connect_only(&sock, 200);
    let d_status = latency(&sock, "/daemon/status", 200);
    let svc_status = latency(&sock, "/services/s00/status", 200);
    let list = latency(&sock, "/services", 100);
    n1.svcmgr(&["daemon", "stop"]).assert_ok("daemon stop");
    let local = runs(n1);
    println!(
        "print status, 1 resource (ip), cold process: through the API median {:.1} ms, local \
         evaluation {:.1} ms ({:.2}x; n=30 each, nsenter {base:.1} ms subtracted)",
        median(api.clone()),
        median(local.clone()),
        median(api) / median(local).max(0.001)
    );
    let line = |what: &str, v: &[f64]| {
        println!(
            "API GET {what}: p50 {:.2} ms, p99 {:.2} ms ({:.1}x / {:.1}x a bare connect, p50 {:.3} ms; n={})",
            pct(v, 50),
            pct(v, 99),
            pct(v, 50) / pct(&conn, 50).max(0.001),
            pct(v, 99) / pct(&conn, 99).max(0.001),
            pct(&conn, 50),
            v.len()
        )
    };
    line("/daemon/status", &d_status);
    line("/services/s00/status (evaluated)", &svc_status);
    line(&format!("/services ({SERVICES} services)"), &list);
    for i in 0..SERVICES {
        n1.svcmgr(&["-s", &format!("s{i:02}"), "stop"])
            .assert_ok("stop");
        let _ = std::fs::remove_file(n1.root.join(format!("etc/s{i:02}.conf")));
    }

    restart_time(n1, &image);
}

fn started_at(n: &Node) -> Option<String> {
    let o = n.sh(&[
        "podman",
        "container",
        "inspect",
        "--format",
        "{{.State.Running}} {{.State.StartedAt}}",
        CNAME,
    ]);
    let s = o.stdout_str();
    s.trim()
        .strip_prefix("true ")
        .map(str::to_string)
        .filter(|_| o.status.success())
}

/// Kill the monitored container `runs` times; each time, from the kill to running again.
fn restart_time(n1: &Node, image: &str) {
    let cmd = r#"/bin/sh -c "trap 'exit 0' TERM; while true; do sleep 1; done""#;
    let mut results = Vec::new();
    for interval in ["1s", "5s"] {
        let toml = n1.node_toml();
        let cur = std::fs::read_to_string(&toml).unwrap_or_default();
        let kept: String = cur
            .lines()
            .filter(|l| !l.starts_with("monitor_interval"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&toml, format!("monitor_interval = \"{interval}\"\n{kept}")).expect("toml");
        n1.write_conf(
            "ct",
            &format!(
                "[DEFAULT]\nnodes = n1\n\n[container#1]\ntype = podman\nrun_image = {image}\n\
                 run_args = --network none\nrun_command = {cmd}\nstop_timeout = 2s\n\
                 monitor = true\nrestart = 20\n"
            ),
        );
        // Baseline: the start the monitor runs, by hand.
        let bin = lab::svcmgr_bin();
        let bin = bin.to_str().expect("utf-8 path");
        let base = nsenter_baseline(n1);
        let mut by_hand = Vec::new();
        for _ in 0..3 {
            n1.svcmgr(&["-s", "ct", "stop"]).assert_ok("stop");
            by_hand.push(time_run(n1, &[bin, "-s", "ct", "start", "--rid", "container#1"]) - base);
        }
        start_daemon(n1);
        let watched = || {
            n1.svcmgr(&["-s", "ct", "print", "status"])
                .stdout_str()
                .contains("monitor: watching")
        };
        assert!(wait_until(WAIT, "watching", watched), "not watched");
        let mut took = Vec::new();
        for _ in 0..5 {
            let before = started_at(n1).expect("running");
            n1.sh(&["podman", "kill", CNAME]).assert_ok("podman kill");
            let t = Instant::now();
            assert!(
                wait_until(WAIT, "restarted", || started_at(n1)
                    .is_some_and(|s| s != before)),
                "not restarted"
            );
            took.push(ms(t.elapsed()));
            // Let the monitor see it up before the next kill.
            std::thread::sleep(Duration::from_millis(1500));
        }
        n1.svcmgr(&["daemon", "stop"]).assert_ok("daemon stop");
        n1.svcmgr(&["-s", "ct", "stop"]).assert_ok("stop");
        results.push((interval, took, median(by_hand)));
    }
    for (interval, took, hand) in results {
        println!(
            "monitored container killed -> running again, monitor_interval {interval}, \
             restart_delay 500ms: median {:.0} ms, max {:.0} ms (n={}; {:.1}x a start of the \
             container by hand, {hand:.0} ms; no engine events: detection waits for the next tick)",
            median(took.clone()),
            took.iter().cloned().fold(0.0, f64::max),
            took.len(),
            median(took.clone()) / hand.max(0.001)
        );
    }
}
