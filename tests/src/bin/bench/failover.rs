//! Failover time from node death (`kill -9` of the owner's daemon and its link down) to the
//! service's address on the other node, over repeated trials, split into detection (until
//! the survivor shows the owner lost), ready wait, fencing (`prstart --preempt`) and start,
//! with reservation fencing. Between trials the dead node comes back, stands down (its key
//! was preempted), is thawed, and is the next trial's survivor.

use std::path::Path;
use std::time::{Duration, Instant};

use labtests::failover::{self, daemon_log, kill_node, FoLab, FENCED, WAIT};
use labtests::hb::{self, api, link, Timing};
use labtests::lab::{wait_until, Node, OutputExt};

use super::{ms, spread};

/// `(fencing ms, start ms)` from the survivor's last "started here" line.
fn phases(n: &Node) -> Option<(f64, f64)> {
    let log = daemon_log(n);
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("orchestrator: fo: started here ("))?;
    let num = |after: &str| -> Option<f64> {
        let rest = &line[line.find(after)? + after.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    Some((
        num("prstart --preempt --local ")?,
        num("start --local --steal-tags ")?,
    ))
}

fn stats(name: &str, v: &[f64]) -> String {
    format!("{name} {}", spread(v))
}

/// The old owner stood down (address gone, frozen here); thawed for the next trial.
fn thaw_after_stand_down(owner: &Node, ip: &str) {
    assert!(wait_until(WAIT, "the old owner stood down", || {
        !owner.has_ip(ip) && api(owner, "/services").is_some_and(|v| v[FENCED]["frozen"] == true)
    }));
    owner
        .svcmgr(&["-s", FENCED, "thaw", "--local"])
        .assert_ok("thaw");
    assert!(wait_until(WAIT, "thawed in the daemon's view", || {
        api(owner, "/services").is_some_and(|v| v[FENCED]["frozen"] == false)
    }));
}

fn lab() -> FoLab {
    let exe = std::env::current_exe().expect("own path");
    let dir = exe.parent().unwrap_or(Path::new("."));
    FoLab::new(
        &["n1", "n2"],
        &dir.join("sg_persist"),
        &dir.join("mpathpersist"),
    )
}

/// The owner partitioned (link down, daemon alive), `trials` times: the survivor fences and
/// starts the service, the old owner reads its key gone and stands down. Measured: how
/// long the address was configured on both nodes (polled), when each side acted, and
/// whether the old owner's key was still registered once the survivor held the device.
pub fn partitions(t: Timing, trials: usize) {
    let s = lab();
    s.write_confs(&[FENCED], "", "");
    let ip = s.ip(FENCED);
    let _d = failover::start_daemons(&s, t, "");
    let (n1, n2) = (s.lab.node("n1"), s.lab.node("n2"));
    n1.svcmgr(&["-s", FENCED, "start", "--local"])
        .assert_ok("start on n1");
    let (mut both, mut moved, mut gone) = (vec![], vec![], vec![]);
    let mut old_key_left = 0;
    let (mut owner, mut other) = (n1, n2);
    for i in 0..trials {
        failover::wait_decision(other, FENCED, &format!("up on {}", owner.name));
        std::thread::sleep(Duration::from_millis(300 + (i as u64 * 137) % 700));
        let t0 = Instant::now();
        link(owner, false);
        let (mut twice, mut on_other, mut off_owner) = (Duration::ZERO, None, None);
        let mut last = Instant::now();
        while (on_other.is_none() || off_owner.is_none()) && t0.elapsed() < WAIT {
            let (a, b) = (owner.has_ip(&ip), other.has_ip(&ip));
            let now = Instant::now();
            if a && b {
                twice += now - last;
            }
            last = now;
            if b && on_other.is_none() {
                on_other = Some(t0.elapsed());
            }
            if !a && off_owner.is_none() {
                off_owner = Some(t0.elapsed());
            }
        }
        let (Some(m), Some(g)) = (on_other, off_owner) else {
            panic!(
                "partition {i}: not moved:\n{}\n{}",
                daemon_log(owner),
                daemon_log(other)
            );
        };
        both.push(ms(twice));
        moved.push(ms(m));
        gone.push(ms(g));
        if s.keys().contains(&failover::prkey(owner)) {
            old_key_left += 1;
        }
        link(owner, true);
        thaw_after_stand_down(owner, &ip);
        std::mem::swap(&mut owner, &mut other);
    }
    println!(
        "partitions of the owner, 2 nodes, hb {}/{} (n={trials}): address on both {}",
        t.interval,
        t.timeout,
        stats("", &both).trim_start()
    );
    println!(
        "  {}; {}; old owner's key still registered after the move: {old_key_left} of {trials}",
        stats("on the survivor after", &moved),
        stats("gone from the old owner after", &gone)
    );
}

/// `ready`: the node.toml `ready_period` (default 1 s).
pub fn trials(t: Timing, trials: usize, ready: &str) {
    let s = lab();
    s.write_confs(&[FENCED], "", "");
    let ip = s.ip(FENCED);
    let _d = failover::start_daemons(&s, t, &format!("ready_period = \"{ready}\"\n"));
    let (n1, n2) = (s.lab.node("n1"), s.lab.node("n2"));
    n1.svcmgr(&["-s", FENCED, "start", "--local"])
        .assert_ok("start on n1");
    let (mut total, mut detect, mut fence, mut start) = (vec![], vec![], vec![], vec![]);
    let (mut owner, mut other) = (n1, n2);
    for i in 0..trials {
        failover::wait_decision(other, FENCED, &format!("up on {}", owner.name));
        std::thread::sleep(Duration::from_millis(300 + (i as u64 * 137) % 700));
        let starts = |n: &Node| {
            daemon_log(n)
                .matches("orchestrator: fo: started here (")
                .count()
        };
        let before = starts(other);
        let t0 = Instant::now();
        kill_node(owner);
        let lost = hb::time_until(other, &owner.name, "lost", t0, WAIT).expect("never lost");
        assert!(
            wait_until(WAIT, "the address on the survivor", || other.has_ip(&ip)),
            "no failover:\n{}",
            daemon_log(other)
        );
        total.push(ms(t0.elapsed()));
        detect.push(ms(lost));
        assert!(wait_until(WAIT, "the start's log line", || starts(other) > before));
        let (f, st) = phases(other).expect("phases");
        fence.push(f);
        start.push(st);
        // The dead node comes back, stands down, and is thawed for the next trial.
        link(owner, true);
        owner.svcmgr(&["daemon", "start"]).assert_ok("daemon start");
        thaw_after_stand_down(owner, &ip);
        std::mem::swap(&mut owner, &mut other);
    }
    println!(
        "failover with reservation fencing, 2 nodes, hb {}/{}, ready_period {ready} (n={trials}): {}",
        t.interval,
        t.timeout,
        stats("total", &total)
    );
    println!(
        "  {}; {}; {}",
        stats("detection", &detect),
        stats("fencing", &fence),
        stats("start", &start)
    );
}
