//! Lab test of the heartbeats: three nodes with daemons on one bridge. All up; n3's link
//! down -> n1 and n2 report it lost (the time is measured and printed), back up -> up; a
//! forged datagram (valid format, wrong key) and a captured-then-replayed one are dropped and
//! counted; `daemon stop` on n2 -> n1 shows it in maintenance, not lost; with a second path
//! (disk heartbeat on a shared loop device) n3's link down is a warning, n3 stays up.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use agent::daemon::hb::codec::{ClusterKey, Sealer};
use agent::daemon::hb::message::Beat;
use labtests::hb::{api, dropped, link, state, stop_daemon, Daemons, FAST, PORT};
use labtests::lab::{self, wait_until, Lab, LoopDev, Node, OutputExt};
use serde_json::Value;

/// Bound on every wait (the paths use interval 250ms, timeout 1s).
const WAIT: Duration = Duration::from_secs(30);

fn time_until(from: &Node, of: &str, want: &str, since: Instant) -> Option<Duration> {
    labtests::hb::time_until(from, of, want, since, WAIT)
}

/// Run `f` with a UDP socket bound in the node's network namespace (on a scratch thread:
/// the test's own thread never changes namespace).
fn in_netns<T: Send + 'static>(
    n: &Node,
    port: u16,
    f: impl FnOnce(UdpSocket) -> T + Send + 'static,
) -> T {
    let path = format!("/run/netns/{}", n.ns);
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open netns");
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let sock = UdpSocket::bind(("0.0.0.0", port)).expect("bind udp in netns");
        f(sock)
    })
    .join()
    .expect("netns thread")
}

#[test]
fn heartbeats_membership_and_drops() {
    if !lab::require_root("heartbeats_membership_and_drops") {
        return;
    }
    let lab = Lab::new(&["n1", "n2", "n3"]);
    let (n1, n2, n3) = (lab.node("n1"), lab.node("n2"), lab.node("n3"));
    let t0 = Instant::now();
    let daemons = Daemons::start(&lab, FAST, None);
    for (a, b) in [
        (n1, "n2"),
        (n1, "n3"),
        (n2, "n1"),
        (n2, "n3"),
        (n3, "n1"),
        (n3, "n2"),
    ] {
        assert!(
            time_until(a, b, "up", t0).is_some(),
            "{} never saw {b} up",
            a.name
        );
    }
    println!("all up {:?} after the first daemon start", t0.elapsed());
    // Every node was heard: the rejoin wait is over before its grace period.
    let rejoin = api(n1, "/cluster").expect("cluster")["rejoin"].clone();
    assert_eq!(rejoin["done"], true, "{rejoin}");

    // n3's link down: lost on n1 and n2, once every path (here the one) is stale.
    let t = Instant::now();
    link(n3, false);
    let d1 = time_until(n1, "n3", "lost", t).expect("n1 never saw n3 lost");
    let d2 = time_until(n2, "n3", "lost", t).expect("n2 never saw n3 lost");
    println!("n3 link down -> lost: seen by n1 after {d1:?}, by n2 after {d2:?} (timeout 1s)");
    let log = std::fs::read_to_string(n1.root.join("log/daemon.log")).unwrap_or_default();
    assert!(
        log.contains("node n3: up -> lost (every path stale: hb#1 last heard"),
        "n1's log does not explain the loss:\n{log}"
    );
    link(n3, true);
    assert!(
        time_until(n1, "n3", "up", Instant::now()).is_some(),
        "n3 not back up on n1"
    );
    assert!(
        time_until(n2, "n3", "up", Instant::now()).is_some(),
        "n3 not back up on n2"
    );

    // A datagram in the right format from n3's address, sealed with the wrong key.
    let auth_before = dropped(n1, "auth");
    let forged = Sealer::new(ClusterKey::new(lab.id(), "not the secret"), "n3", u64::MAX)
        .seal(&Beat::alive("9.9.9"))
        .expect("seal");
    let to = format!("{}:{PORT}", n1.ip);
    in_netns(n3, 0, move |s| {
        s.send_to(&forged, &to).expect("send forged");
    });
    assert!(
        wait_until(WAIT, "auth drop counted on n1", || dropped(n1, "auth")
            > auth_before),
        "n1 did not count the forged datagram"
    );
    assert_eq!(
        state(n1, "n3"),
        "up",
        "a forged datagram changed n3's state"
    );

    // A clean stop of n2's daemon: n1 holds n2 in maintenance, not lost, past the timeout.
    stop_daemon(n2);
    assert!(
        time_until(n1, "n2", "maintenance", Instant::now()).is_some(),
        "n2 not in maintenance on n1"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        state(n1, "n2"),
        "maintenance",
        "n2 lost despite its announced stop"
    );

    // With n2's daemon gone, take its port: capture a genuine datagram n1 sends to n2, then
    // replay it to n3, which has already received the same one directly from n1.
    let before = dropped(n3, "replay") + dropped(n3, "reorder");
    let to = format!("{}:{PORT}", n3.ip);
    let n1_ip: std::net::IpAddr = n1.ip.parse().expect("n1 ip");
    in_netns(n2, PORT, move |s| {
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = vec![0u8; 65536];
        let n = (0..100)
            .find_map(|_| {
                let (n, from) = s.recv_from(&mut buf).expect("capture a datagram");
                (from.ip() == n1_ip).then_some(n)
            })
            .expect("no datagram from n1");
        for _ in 0..2 {
            s.send_to(&buf[..n], &to).expect("replay");
        }
    });
    assert!(
        wait_until(WAIT, "replay drop counted on n3", || {
            dropped(n3, "replay") + dropped(n3, "reorder") >= before + 2
        }),
        "n3 did not count the replayed datagrams"
    );
    drop(daemons);

    // Two paths: unicast plus a disk heartbeat on a shared loop device.
    let disk = LoopDev::new(lab.dir(), 1);
    n1.write_conf("web", "[DEFAULT]\nnodes = n1\n");
    let t0 = Instant::now();
    let daemons = Daemons::start(&lab, FAST, Some(disk.path()));
    for (a, b) in [(n1, "n2"), (n1, "n3"), (n2, "n3")] {
        assert!(
            time_until(a, b, "up", t0).is_some(),
            "{} never saw {b} up (two paths)",
            a.name
        );
    }
    let both_rx = |v: &Value| {
        v["paths"]
            .as_array()
            .is_some_and(|p| p.len() == 2 && p.iter().all(|p| p["peers"]["n3"]["rx"] == true))
    };
    assert!(
        wait_until(WAIT, "n3 heard on both paths", || api(n1, "/cluster")
            .is_some_and(|v| both_rx(&v))),
        "n1 does not hear n3 on both paths: {:?}",
        api(n1, "/cluster")
    );
    link(n3, false);
    let stale_net = |v: &Value| {
        v["paths"][0]["peers"]["n3"]["rx"] == false && v["paths"][1]["peers"]["n3"]["rx"] == true
    };
    assert!(
        wait_until(WAIT, "hb#1 stale, hb#2 fresh for n3", || api(
            n1, "/cluster"
        )
        .is_some_and(|v| stale_net(&v))),
        "{:?}",
        api(n1, "/cluster")
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        state(n1, "n3"),
        "up",
        "n3 lost although its disk path works"
    );
    // What an operator sees: the path warns and names the stale peer, the node stays up.
    let o = n1.svcmgr(&["-s", "web", "print", "status"]);
    o.assert_ok("print status");
    let tree = o.stdout_str();
    println!("{tree}");
    let line = |rid: &str| {
        tree.lines()
            .find(|l| l.contains(rid))
            .unwrap_or("")
            .to_string()
    };
    assert!(
        line("hb#1").contains("warn") && line("hb#1").contains("unicast :10000 rx n2 / tx"),
        "{tree}"
    );
    assert!(
        tree.contains("# n3 stale on this path: last heard"),
        "{tree}"
    );
    // The round trip to n2, measured from the beats' acknowledgements.
    assert!(line("hb#1").contains(", rtt n2 "), "{tree}");
    assert!(
        line("hb#2").contains("up") && line("hb#2").contains("rx n2 n3 / tx n2 n3"),
        "{tree}"
    );
    let mon = n1.svcmgr(&["mon"]).stdout_str();
    println!("{mon}");
    let n3_line = mon.lines().find(|l| l.starts_with("n3 ")).unwrap_or("");
    assert!(n3_line.split_whitespace().nth(1) == Some("up"), "{mon}");
    assert!(
        mon.lines()
            .any(|l| l.starts_with("hb#1") && l.contains("n3") && l.contains("stale")),
        "{mon}"
    );
    let st = n1.svcmgr(&["daemon", "status"]);
    st.assert_ok("daemon status");
    println!("{}", st.stdout_str());
    assert!(
        st.stdout_str()
            .lines()
            .any(|l| l.starts_with("hb#2") && l.contains("disk") && l.contains("received")),
        "{}",
        st.stdout_str()
    );
    link(n3, true);
    drop(daemons);
}
