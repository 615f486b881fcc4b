//! Lab tests of automatic failover (`orchestrate = ha`): daemons with heartbeats on every
//! node, a VG on a loop device shared by all, its SCSI-3 reservation through the lab's
//! `sg_persist` emulator (one state directory: every node sees the same logical unit), and
//! a service address on the lab subnet. A node dies with `kill -9` of its daemon and its
//! link down; its resources stay as they were, like a hung host's.
//!
//! Three nodes: n1 dies -> n2 preempts n1's key, starts the service, the address is on n2;
//! n1's key is gone from the device. n1 comes back -> it finds its key preempted and stops
//! the service there (address first) and freezes it: one owner, no restart loop.
//!
//! Three nodes, n3 frozen, the start failing on n2: n2 releases the reservation it took and
//! is no candidate any more, n3 says it is frozen; thawed, n3 takes the service; `clear` on
//! n2 makes it a candidate again.
//!
//! Three nodes, the owner partitioned with its daemon alive: for the fenced service n2
//! preempts and starts it, n1 sees its key gone at its next check and stands down; for an
//! unfenced service with `unfenced_failover = true`, n1 (alone: a minority) stops it before
//! the majority starts it. The time both nodes answered each address is measured.
//!
//! Three nodes, switch through the daemons: `switch --to n2 --wait` from n3 (the owner
//! stops it, then n2 starts it), `takeover`, `giveback`; a switch to a frozen node is
//! refused and the service stays.
//!
//! Two nodes, monitor_interval 1h: a service thawed and started through the CLI is seen by
//! the daemons at once (the CLI asks its daemon for a pass after an action); a freeze and a
//! thaw without --local reach the other node.
//!
//! Two nodes: a clean `daemon stop` of the owner -> no failover; a service without
//! reservations does not fail over and says why; fencing that fails -> no start, the
//! blocker is shown, the start comes once fencing works again.

use std::time::{Duration, Instant};

use labtests::failover::{
    all_see_up, daemon_log, decision, kill_node, prkey, start_daemons, wait_decision, FoLab,
    FENCED, UNFENCED, WAIT,
};
use labtests::hb::{api, link, stop_daemon, time_until, FAST};
use labtests::lab::{self, wait_until, Node, OutputExt};

fn fo_lab(nodes: &[&str]) -> FoLab {
    FoLab::new(
        nodes,
        std::path::Path::new(env!("CARGO_BIN_EXE_sg_persist")),
        std::path::Path::new(env!("CARGO_BIN_EXE_mpathpersist")),
    )
}

/// The services started on n1 through the CLI, and the other nodes' daemons saying so.
fn started_on_n1(s: &FoLab, services: &[&str]) {
    let n1 = s.lab.node("n1");
    for svc in services {
        n1.svcmgr(&["-s", svc, "start", "--local"])
            .assert_ok("start on n1");
        for n in s.lab.nodes().iter().filter(|n| n.name != "n1") {
            wait_decision(n, svc, "up on n1");
        }
    }
}

#[test]
fn owner_death_is_fenced_then_failed_over_and_the_old_owner_stands_down() {
    if !lab::require_root("owner_death_is_fenced_then_failed_over_and_the_old_owner_stands_down") {
        return;
    }
    let s = fo_lab(&["n1", "n2", "n3"]);
    let (n1, n2, n3) = (s.lab.node("n1"), s.lab.node("n2"), s.lab.node("n3"));
    s.write_confs(&[FENCED], "", "");
    let ip = s.ip(FENCED);
    let _daemons = start_daemons(&s, FAST, "");
    started_on_n1(&s, &[FENCED]);
    let k1 = prkey(n1);
    assert_eq!(s.holder(), Some(k1));

    let t0 = Instant::now();
    kill_node(n1);
    let lost = time_until(n2, "n1", "lost", t0, WAIT).expect("n2 never saw n1 lost");
    let ok = wait_until(WAIT, "the address on n2", || n2.has_ip(&ip));
    let failover = t0.elapsed();
    assert!(ok, "no failover to n2:\n{}", daemon_log(n2));
    assert!(!n3.has_ip(&ip), "the address is on n3 too");
    let k2 = prkey(n2);
    assert_eq!(s.holder(), Some(k2), "n2 does not hold the reservation");
    assert!(
        !s.keys().contains(&k1),
        "n1's key is still registered: {:?}",
        s.keys()
    );
    let start_line = || {
        daemon_log(n2)
            .lines()
            .find(|l| l.contains("orchestrator: fo: started here"))
            .map(str::to_string)
    };
    wait_until(WAIT, "the start's end in n2's log", || {
        start_line().is_some()
    });
    let log2 = daemon_log(n2);
    let started = start_line().unwrap_or_else(|| panic!("no start line in n2's log:\n{log2}"));
    println!(
        "failover n1 -> n2: n1 lost after {lost:?}, address on n2 after {failover:?} \
         (hb 250ms/1s, ready_period 1s); {started}"
    );
    wait_decision(n3, FENCED, "up on n2");
    assert!(
        log2.contains("orchestrator: fo: start here: n1 running it was lost, after preempting n1's reservation"),
        "n2's log does not say why it started:\n{log2}"
    );

    // n1 comes back with the service still up there: it finds its key preempted.
    link(n1, true);
    let t1 = Instant::now();
    n1.svcmgr(&["daemon", "start"]).assert_ok("daemon start n1");
    let ok = wait_until(WAIT, "the address gone from n1", || !n1.has_ip(&ip));
    assert!(
        ok,
        "n1 did not stand down:\n{}\n{}",
        daemon_log(n1),
        n1.svcmgr(&[
            "-s",
            FENCED,
            "print",
            "status",
            "--refresh",
            "--color",
            "never"
        ])
        .stdout_str()
    );
    println!(
        "n1 back: its address gone {:?} after its daemon started",
        t1.elapsed()
    );
    let log1 = daemon_log(n1);
    assert!(
        log1.contains("split brain: another node preempted our reservation (vg#1pr)"),
        "{log1}"
    );
    assert!(
        wait_until(WAIT, "n1 frozen", || api(n1, "/services")
            .is_some_and(|v| v[FENCED]["frozen"] == true)),
        "n1 did not freeze the service"
    );
    wait_decision(n1, FENCED, "up on n2");
    // No restart loop: a while later, still one owner.
    std::thread::sleep(Duration::from_secs(3));
    assert!(n2.has_ip(&ip) && !n1.has_ip(&ip) && !n3.has_ip(&ip));
    assert_eq!(s.holder(), Some(k2));
    let status = n1.svcmgr(&["-s", FENCED, "print", "status", "--color", "never"]);
    assert!(
        status.stdout_str().contains("orchestrate: ha, up on n2"),
        "{}",
        status.stdout_str()
    );
}

#[test]
fn no_failover_on_clean_stop_without_fencing_or_while_fencing_fails() {
    if !lab::require_root("no_failover_on_clean_stop_without_fencing_or_while_fencing_fails") {
        return;
    }
    let s = fo_lab(&["n1", "n2"]);
    let (n1, n2) = (s.lab.node("n1"), s.lab.node("n2"));
    s.write_confs(&[FENCED, UNFENCED], "", "");
    let _daemons = start_daemons(&s, FAST, "");
    started_on_n1(&s, &[FENCED, UNFENCED]);

    // A clean daemon stop on the owner: maintenance, no failover.
    stop_daemon(n1);
    assert!(time_until(n2, "n1", "maintenance", Instant::now(), WAIT).is_some());
    std::thread::sleep(Duration::from_secs(3));
    for svc in [FENCED, UNFENCED] {
        assert!(!n2.has_ip(&s.ip(svc)), "{svc} failed over on a clean stop");
        assert!(
            decision(n2, svc).contains("up on n1"),
            "{}",
            decision(n2, svc)
        );
    }
    n1.svcmgr(&["daemon", "start"]).assert_ok("daemon start n1");
    all_see_up(&s.lab);

    // n1 dies while preemption fails: no start, the blocker says why.
    std::fs::write(&s.fail_flag, "").expect("fail flag");
    let k1 = prkey(n1);
    kill_node(n1);
    wait_decision(n2, FENCED, "fencing failed: ");
    wait_decision(
        n2,
        UNFENCED,
        "not failing over from n1: no fencing (scsireserv) and unfenced_failover=false",
    );
    let status = n2.svcmgr(&["-s", UNFENCED, "print", "status", "--color", "never"]);
    assert!(
        status
            .stdout_str()
            .contains("orchestrate: ha, not starting: not failing over from n1: no fencing"),
        "{}",
        status.stdout_str()
    );
    let full = n2.svcmgr(&["-s", UNFENCED, "print", "decision"]);
    full.assert_ok("print decision");
    for want in [
        "nofence: orchestrate = ha\n",
        "verdict: blocked\n  no fencing      not failing over from n1: no fencing (scsireserv) and \
         unfenced_failover=false\n",
        "last owner: n1\n",
    ] {
        assert!(full.stdout_str().contains(want), "{}", full.stdout_str());
    }
    assert!(!n2.has_ip(&s.ip(FENCED)), "started without fencing");
    assert_eq!(s.holder(), Some(k1), "n1 lost its reservation");
    let blocked = decision(n2, FENCED);
    println!("while fencing fails, n2 says: {blocked}");
    assert!(
        blocked.contains(&format!("reservation conflict on {}", s.vg.pv())),
        "{blocked}"
    );

    // Fencing works again: the retry fences n1 and starts the service.
    std::fs::remove_file(&s.fail_flag).expect("remove fail flag");
    let t = Instant::now();
    let ok = wait_until(WAIT, "the address on n2", || n2.has_ip(&s.ip(FENCED)));
    assert!(ok, "no start after fencing recovered:\n{}", daemon_log(n2));
    println!("started {:?} after fencing recovered", t.elapsed());
    assert_eq!(s.holder(), Some(prkey(n2)));
    assert!(!s.keys().contains(&k1));
    // The unfenced one stays down, and keeps saying why.
    assert!(!n2.has_ip(&s.ip(UNFENCED)));
    assert!(decision(n2, UNFENCED).contains("no fencing"));
}

fn frozen_on(n: &Node, svc: &str, want: bool) -> bool {
    wait_until(
        WAIT,
        &format!("{svc} frozen={want} in {}'s daemon", n.name),
        || api(n, "/services").is_some_and(|v| v[svc]["frozen"] == want),
    )
}

#[test]
fn a_failed_start_passes_the_service_on_and_a_frozen_node_does_nothing() {
    if !lab::require_root("a_failed_start_passes_the_service_on_and_a_frozen_node_does_nothing") {
        return;
    }
    let s = fo_lab(&["n1", "n2", "n3"]);
    let (n1, n2, n3) = (s.lab.node("n1"), s.lab.node("n2"), s.lab.node("n3"));
    // The address can not be configured on n2.
    s.write_confs(&[FENCED], "", "ipdev@n2 = nosuchdev0\n");
    let ip = s.ip(FENCED);
    let _daemons = start_daemons(&s, FAST, "");
    started_on_n1(&s, &[FENCED]);
    n3.svcmgr(&["-s", FENCED, "freeze", "--local"])
        .assert_ok("freeze on n3");
    assert!(frozen_on(n3, FENCED, true));

    kill_node(n1);
    let none = "no candidate (n1: lost, n2: start failed, n3: frozen)";
    wait_decision(n2, FENCED, "start failed here (svcmgr clear to retry)");
    wait_decision(n2, FENCED, none);
    wait_decision(n3, FENCED, &format!("frozen here; {none}"));
    let log2 = daemon_log(n2);
    assert!(
        log2.contains("undo after the failed start --local --steal-tags: prstop --local done"),
        "{log2}"
    );
    assert!(!n2.has_ip(&ip) && !n3.has_ip(&ip));
    assert_eq!(
        s.holder(),
        None,
        "n2 kept the reservation of its failed start"
    );
    assert!(!s.keys().contains(&prkey(n1)), "n1 was not fenced");
    let status = n2.svcmgr(&["-s", FENCED, "print", "status", "--color", "never"]);
    assert!(
        status
            .stdout_str()
            .contains("orchestrate: ha, not starting: start failed here"),
        "{}",
        status.stdout_str()
    );

    // Thawed, n3 is the first eligible candidate.
    n3.svcmgr(&["-s", FENCED, "thaw", "--local"])
        .assert_ok("thaw on n3");
    let ok = wait_until(WAIT, "the address on n3", || n3.has_ip(&ip));
    assert!(ok, "n3 did not take it:\n{}", daemon_log(n3));
    assert_eq!(s.holder(), Some(prkey(n3)));
    wait_decision(n2, FENCED, "up on n3");
    n2.svcmgr(&["-s", FENCED, "clear"]).assert_ok("clear on n2");
    assert!(!n2.root.join("var/services/fo/start_failed.json").exists());
}

/// Until `until`, every 20 ms: how long `ip` was configured on both nodes at once.
fn overlap(a: &Node, b: &Node, ip: &str, until: impl Fn() -> bool) -> Duration {
    let mut both = Duration::ZERO;
    let deadline = Instant::now() + WAIT;
    let mut last = Instant::now();
    while !until() && Instant::now() < deadline {
        let twice = a.has_ip(ip) && b.has_ip(ip);
        let now = Instant::now();
        if twice {
            both += now - last;
        }
        last = now;
        std::thread::sleep(Duration::from_millis(20));
    }
    both
}

#[test]
fn a_partitioned_owner_stands_down() {
    if !lab::require_root("a_partitioned_owner_stands_down") {
        return;
    }
    let s = fo_lab(&["n1", "n2", "n3"]);
    let (n1, n2, n3) = (s.lab.node("n1"), s.lab.node("n2"), s.lab.node("n3"));
    s.write_confs(&[FENCED, UNFENCED], "unfenced_failover = true\n", "");
    let _daemons = start_daemons(&s, FAST, "");
    started_on_n1(&s, &[FENCED, UNFENCED]);
    let (ipf, ipu) = (s.ip(FENCED), s.ip(UNFENCED));

    // A partition: n1's link down, its daemon alive.
    let t0 = Instant::now();
    link(n1, false);
    let unfenced_both = overlap(n1, n2, &ipu, || n2.has_ip(&ipu) && !n1.has_ip(&ipu));
    let unfenced_moved = t0.elapsed();
    assert!(
        n2.has_ip(&ipu) && !n1.has_ip(&ipu),
        "unfenced: not moved\n{}\n{}",
        daemon_log(n1),
        daemon_log(n2)
    );
    assert!(
        daemon_log(n1).contains("minority partition (1 of 3 nodes up, n2, n3 lost)"),
        "{}",
        daemon_log(n1)
    );
    let fenced_both = overlap(n1, n2, &ipf, || n2.has_ip(&ipf) && !n1.has_ip(&ipf));
    let fenced_moved = t0.elapsed();
    assert!(
        n2.has_ip(&ipf) && !n1.has_ip(&ipf),
        "fenced: not moved\n{}\n{}",
        daemon_log(n1),
        daemon_log(n2)
    );
    assert_eq!(s.holder(), Some(prkey(n2)));
    println!(
        "partition of the owner: unfenced service on n2 and gone from n1 after \
         {unfenced_moved:?} (on both {unfenced_both:?}); fenced one after {fenced_moved:?} \
         (on both {fenced_both:?}; n1 reads its key every 0.5 s while a peer is lost)"
    );
    assert_eq!(
        unfenced_both,
        Duration::ZERO,
        "the minority stopped it after the majority started it"
    );

    // Healed: one owner each, no restart loop.
    link(n1, true);
    all_see_up(&s.lab);
    std::thread::sleep(Duration::from_secs(3));
    for ip in [&ipf, &ipu] {
        assert!(n2.has_ip(ip) && !n1.has_ip(ip) && !n3.has_ip(ip), "{ip}");
    }
    for svc in [FENCED, UNFENCED] {
        wait_decision(n1, svc, "up on n2");
    }
}

#[test]
fn cli_actions_reach_the_daemons_at_once() {
    if !lab::require_root("cli_actions_reach_the_daemons_at_once") {
        return;
    }
    let s = fo_lab(&["n1", "n2"]);
    let (n1, n2) = (s.lab.node("n1"), s.lab.node("n2"));
    s.write_confs(&[UNFENCED], "", "");
    // Frozen everywhere before the daemons start: none of them starts it at its first look.
    for n in [n1, n2] {
        n.svcmgr(&["-s", UNFENCED, "freeze"]).assert_ok("freeze");
    }
    // No monitor pass after the first one within the test: only the CLI's requests.
    let _daemons = start_daemons(&s, FAST, "monitor_interval = \"1h\"\n");
    wait_decision(n2, UNFENCED, "frozen here");
    n1.svcmgr(&["-s", UNFENCED, "thaw", "--local"])
        .assert_ok("thaw");
    assert!(wait_until(WAIT, "n1's daemon sees it thawed", || {
        api(n1, "/services").is_some_and(|v| v[UNFENCED]["frozen"] == false)
    }));
    n1.svcmgr(&["-s", UNFENCED, "start", "--local"])
        .assert_ok("start");
    wait_decision(n2, UNFENCED, "up on n1");
    // Without --local, a freeze (thaw) reaches every node through the daemons.
    let frozen = |n: &Node, want: bool| {
        wait_until(WAIT, &format!("{} frozen={want}", n.name), || {
            api(n, "/services").is_some_and(|v| v[UNFENCED]["frozen"] == want)
        })
    };
    n1.svcmgr(&["-s", UNFENCED, "freeze"])
        .assert_ok("freeze")
        .assert_logs("the daemons apply it on every node");
    assert!(frozen(n2, true), "n2 not frozen:\n{}", daemon_log(n2));
    n2.svcmgr(&["-s", UNFENCED, "thaw"]).assert_ok("thaw");
    assert!(frozen(n1, false), "n1 not thawed:\n{}", daemon_log(n1));
}

#[test]
fn switch_takeover_and_giveback_through_the_daemons() {
    if !lab::require_root("switch_takeover_and_giveback_through_the_daemons") {
        return;
    }
    let s = fo_lab(&["n1", "n2", "n3"]);
    let (n1, n2, n3) = (s.lab.node("n1"), s.lab.node("n2"), s.lab.node("n3"));
    s.write_confs(&[FENCED], "", "");
    let ip = s.ip(FENCED);
    let _daemons = start_daemons(&s, FAST, "");
    started_on_n1(&s, &[FENCED]);
    let only_on = |owner: &Node| {
        for n in s.lab.nodes() {
            assert_eq!(
                n.has_ip(&ip),
                n.name == owner.name,
                "address on {}, expected on {} only:\n{}",
                n.name,
                owner.name,
                daemon_log(n)
            );
        }
        assert_eq!(
            s.holder(),
            Some(prkey(owner)),
            "reservation of {}",
            owner.name
        );
    };
    let o = n3.svcmgr(&["-s", FENCED, "switch", "--to", "n2", "--wait"]);
    o.assert_ok("switch --to n2 --wait");
    assert!(
        o.stderr_str().contains("fo: up on n2"),
        "{}",
        o.stderr_str()
    );
    only_on(n2);
    let log1 = daemon_log(n1);
    assert!(
        log1.contains("orchestrator: fo: stop here: switching to n2"),
        "{log1}"
    );
    n3.svcmgr(&["-s", FENCED, "takeover", "--wait"])
        .assert_ok("takeover --wait");
    only_on(n3);
    n1.svcmgr(&["-s", FENCED, "giveback", "--wait"])
        .assert_ok("giveback --wait");
    only_on(n1);
    // A target that can not take it: refused, and the service stays where it is.
    n2.svcmgr(&["-s", FENCED, "freeze", "--local"])
        .assert_ok("freeze n2");
    assert!(wait_until(WAIT, "n1 hears n2 frozen", || {
        api(n1, "/cluster").is_some_and(|v| {
            v["nodes"]["n2"]["services"]
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s["name"] == FENCED && s["frozen"] == true))
        })
    }));
    let o = n1.svcmgr(&["-s", FENCED, "switch", "--to", "n2", "--wait"]);
    assert_eq!(o.status.code(), Some(1), "{}", o.stderr_str());
    assert!(
        o.stderr_str()
            .contains("switch to n2: n2 can not take it (frozen); it stays where it is"),
        "{}",
        o.stderr_str()
    );
    only_on(n1);
}
