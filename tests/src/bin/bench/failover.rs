//! Failover time from node death (`kill -9` of the owner's daemon and its link down) to the
//! service's address on the other node, over repeated trials, split into detection (until
//! the survivor shows the owner lost), ready wait, fencing (`prstart --preempt`) and start,
//! with reservation fencing. Between trials the dead node comes back, stands down (its key
//! was preempted), is thawed, and is the next trial's survivor.

use std::path::Path;
use std::time::{Duration, Instant};

use labtests::failover::{self, all_see_up, daemon_log, kill_node, FoLab, FENCED, WAIT};
use labtests::hb::{self, api, link, Daemons, Timing};
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

pub fn trials(t: Timing, trials: usize) {
    let exe = std::env::current_exe().expect("own path");
    let dir = exe.parent().unwrap_or(Path::new("."));
    let s = FoLab::new(
        &["n1", "n2"],
        &dir.join("sg_persist"),
        &dir.join("mpathpersist"),
    );
    s.write_confs(&[FENCED], "", "");
    let ip = s.ip(FENCED);
    let _d = Daemons::start(&s.lab, t, None);
    all_see_up(&s.lab);
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
        assert!(wait_until(WAIT, "the old owner stood down", || {
            !owner.has_ip(&ip)
                && api(owner, "/services").is_some_and(|v| v[FENCED]["frozen"] == true)
        }));
        owner
            .svcmgr(&["-s", FENCED, "thaw", "--local"])
            .assert_ok("thaw");
        assert!(wait_until(WAIT, "thawed in the daemon's view", || {
            api(owner, "/services").is_some_and(|v| v[FENCED]["frozen"] == false)
        }));
        std::mem::swap(&mut owner, &mut other);
    }
    println!(
        "failover with reservation fencing, 2 nodes, hb {}/{}, ready_period 1s (n={trials}): {}",
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
