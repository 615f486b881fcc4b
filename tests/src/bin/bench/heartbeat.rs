//! Heartbeat benchmarks: detection time (link down -> lost) over repeated trials at two
//! settings, the size of a beat with 50 services, CPU and bytes/s per node at 3 and 16 nodes.

use std::time::{Duration, Instant};

use labtests::hb::{self, api, link, path_sum, Daemons, Timing};
use labtests::lab::{wait_until, Lab, Node};

use super::{ms, spread};

const WAIT: Duration = Duration::from_secs(60);

fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("n{i}")).collect()
}

fn all_up(lab: &Lab) {
    for a in lab.nodes() {
        for b in lab.nodes().iter().filter(|b| b.name != a.name) {
            assert!(
                hb::time_until(a, &b.name, "up", Instant::now(), WAIT).is_some(),
                "{} never saw {} up",
                a.name,
                b.name
            );
        }
    }
}

/// Link down on n3, time until n1 shows it lost; `trials` times.
pub fn detection(t: Timing, trials: usize) {
    let lab = Lab::new(&["n1", "n2", "n3"]);
    let _d = Daemons::start(&lab, t, None);
    all_up(&lab);
    let (n1, n3) = (lab.node("n1"), lab.node("n3"));
    let (mut from_down, mut from_last) = (Vec::new(), Vec::new());
    for i in 0..trials {
        assert!(hb::time_until(n1, "n3", "up", Instant::now(), WAIT).is_some());
        // Vary the phase of the cut against the beats.
        std::thread::sleep(Duration::from_millis(500 + (i as u64 * 137) % 1000));
        let t0 = Instant::now();
        link(n3, false);
        let d = hb::time_until(n1, "n3", "lost", t0, WAIT).expect("n3 never lost");
        // How long n1 had not heard n3 when it declared it lost.
        let silent = api(n1, "/cluster")
            .and_then(|v| v["nodes"]["n3"]["last_seen_ms"].as_u64())
            .unwrap_or(0);
        from_down.push(ms(d));
        from_last.push(silent as f64);
        link(n3, true);
    }
    println!(
        "hb detection, interval {} timeout {}, n={trials}: link down -> lost {}; silence when declared lost {}",
        t.interval,
        t.timeout,
        spread(&from_down),
        spread(&from_last)
    );
}

/// Bytes per datagram when the sender runs 50 services (names of 16 characters).
pub fn datagram_size() {
    let lab = Lab::new(&["n1", "n2"]);
    let n1 = lab.node("n1");
    for i in 0..50 {
        n1.write_conf(&format!("service-name-{i:03}"), "[DEFAULT]\nnodes = n1\n");
    }
    let _d = Daemons::start(&lab, hb::FAST, None);
    all_up(&lab);
    assert!(
        wait_until(WAIT, "n2 sees n1's 50 services", || {
            api(lab.node("n2"), "/cluster").is_some_and(|v| {
                v["nodes"]["n1"]["services"]
                    .as_array()
                    .is_some_and(|a| a.len() == 50)
            })
        }),
        "the services never reached n2"
    );
    let (s0, b0) = counters(n1);
    std::thread::sleep(Duration::from_secs(3));
    let (s1, b1) = counters(n1);
    println!(
        "hb datagram with 50 services: {} bytes",
        (b1 - b0) / (s1 - s0).max(1)
    );
}

fn counters(n: &Node) -> (u64, u64) {
    (
        path_sum(n, |p| p["sent"].as_u64()),
        path_sum(n, |p| p["bytes_sent"].as_u64()),
    )
}

fn cpu_ticks(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is 14th, stime 15th.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

/// CPU per daemon and bytes/s per node (sent + received) with `n` nodes at the defaults.
pub fn load(n: usize) {
    let names = names(n);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let lab = Lab::new(&refs);
    let _d = Daemons::start(&lab, hb::DEFAULTS, None);
    let n1 = lab.node("n1");
    assert!(
        wait_until(WAIT, "every node up on n1", || {
            api(n1, "/cluster").is_some_and(|v| {
                v["nodes"]
                    .as_object()
                    .is_some_and(|m| m.len() == n && m.values().all(|x| x["state"] == "up"))
            })
        }),
        "not every node came up"
    );
    let pids: Vec<i32> = lab.nodes().iter().filter_map(hb::daemon_pid).collect();
    let bytes = |x: &Node| {
        path_sum(x, |p| p["bytes_sent"].as_u64()) + path_sum(x, |p| p["bytes_received"].as_u64())
    };
    let (c0, b0, t0) = (
        pids.iter().map(|p| cpu_ticks(*p)).sum::<u64>(),
        bytes(n1),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs(10));
    let (c1, b1) = (pids.iter().map(|p| cpu_ticks(*p)).sum::<u64>(), bytes(n1));
    let secs = t0.elapsed().as_secs_f64();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    println!(
        "hb load, {n} nodes, interval 1s: CPU {:.2}% of one core per daemon (idle monitor included), \
         {:.0} bytes/s per node (sent + received)",
        (c1 - c0) as f64 / hz / secs / pids.len() as f64 * 100.0,
        (b1 - b0) as f64 / secs
    );
}
