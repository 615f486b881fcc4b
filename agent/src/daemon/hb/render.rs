//! The heartbeat view as text: `print status`'s hb branch, `daemon status`'s path counters,
//! `mon`'s nodes and heartbeat tables. Pure functions of the published view.

use std::fmt::Write;

use resources::Status;

use super::view::{ClusterView, PathView};
use crate::model::{Flags, ResEntry};

/// `print status`'s hb branch: one entry per path, and their merge.
pub fn hb_entries(view: &ClusterView) -> (Status, Vec<ResEntry>) {
    if view.disabled.is_some() {
        return (Status::NotApplicable, Vec::new());
    }
    let entries: Vec<ResEntry> = view.paths.iter().map(path_entry).collect();
    (Status::merge_all(entries.iter().map(|e| e.status)), entries)
}

fn path_entry(p: &PathView) -> ResEntry {
    let (rx, stale) = p.rx_split();
    let tx: Vec<&str> = p
        .peers
        .iter()
        .filter(|(_, x)| x.tx)
        .map(|(n, _)| n.as_str())
        .collect();
    let mut log: Vec<String> = stale
        .iter()
        .map(|n| match p.peers[*n].last_seen_ms {
            Some(ms) => format!(
                "{n} stale on this path: last heard {ms}ms ago (timeout {}ms)",
                p.timeout_ms
            ),
            None => format!("{n} never heard on this path"),
        })
        .collect();
    // A round trip or its variation above a tenth of the timeout eats into the margin.
    let limit = p.timeout_ms as f64 / 10.0;
    let slow: Vec<String> = p
        .peers
        .iter()
        .filter(|(_, x)| x.rx)
        .filter_map(|(n, x)| {
            let (r, j) = (x.rtt_ms?, x.jitter_ms.unwrap_or(0.0));
            (r > limit || j > limit).then(|| {
                format!("{n} round trip {r:.1}ms, jitter {j:.1}ms: above {limit:.0}ms (a tenth of the timeout)")
            })
        })
        .collect();
    let slow_any = !slow.is_empty();
    log.extend(slow);
    let rtts: Vec<String> = p
        .peers
        .iter()
        .filter_map(|(n, x)| Some(format!("{n} {:.1}ms", x.rtt_ms?)))
        .collect();
    let status = if let Some(e) = &p.error {
        log.insert(0, e.clone());
        Status::Down
    } else if p.peers.is_empty() {
        Status::NotApplicable
    } else if stale.is_empty() && !slow_any {
        Status::Up
    } else if rx.is_empty() {
        Status::Down
    } else {
        Status::Warn
    };
    let words = |v: &[&str]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(" ")
        }
    };
    ResEntry {
        rid: p.name.clone(),
        rtype: p.kind.clone(),
        status,
        label: format!(
            "{} {} rx {} / tx {}{}",
            p.kind,
            p.target,
            words(&rx),
            words(&tx),
            if rtts.is_empty() {
                String::new()
            } else {
                format!(", rtt {}", rtts.join(" "))
            }
        ),
        log,
        flags: Flags::default(),
    }
}

/// `daemon status`: per path, the counters.
pub fn paths_counters(paths: &[PathView]) -> String {
    let mut s = String::new();
    for p in paths {
        let dropped = if p.dropped.is_empty() {
            "none".to_string()
        } else {
            p.dropped
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            s,
            "{:<11} {:<9} {} {}: sent {}, received {}, send errors {}, dropped: {dropped}",
            p.name,
            if p.error.is_some() {
                "failed"
            } else {
                "running"
            },
            p.kind,
            p.target,
            p.sent,
            p.received,
            p.send_errors
        );
        if let Some(e) = &p.error {
            let _ = writeln!(s, "{:<21} # {e}", "");
        }
    }
    s
}

/// `mon`: one line per node, then one per path and peer.
pub fn mon_tables(view: &ClusterView) -> String {
    let mut s = String::new();
    if let Some(why) = &view.disabled {
        let _ = writeln!(s, "nodes: {why}");
        return s;
    }
    let _ = writeln!(
        s,
        "{:<16} {:<12} {:>9} {:>6} {:<10}",
        "NODE", "STATE", "UPTIME", "LOAD", "VERSION"
    );
    for (name, n) in &view.nodes {
        let _ = writeln!(
            s,
            "{:<16} {:<12} {:>9} {:>6} {:<10}",
            name,
            n.state.as_str(),
            n.uptime_secs
                .map_or("-".into(), crate::daemon::control::human_duration),
            n.load.map_or("-".into(), |l| format!("{l:.2}")),
            n.version.as_deref().unwrap_or("-")
        )
        .map(|_| ());
    }
    if let Some(r) = view.rejoin.as_ref().filter(|r| !r.done) {
        let _ = writeln!(
            s,
            "# rejoining: waiting for {} ({}s left)",
            r.waiting_for.join(" "),
            r.remaining_ms / 1000
        );
    }
    let _ = writeln!(
        s,
        "\n{:<6} {:<8} {:<16} {:<6} {:>10} {:>9}  DROPS",
        "PATH", "TYPE", "PEER", "RX", "LAST SEEN", "RTT"
    );
    for p in &view.paths {
        let drops = p
            .dropped
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        for (peer, x) in &p.peers {
            let _ = writeln!(
                s,
                "{:<6} {:<8} {:<16} {:<6} {:>10} {:>9}  {}",
                p.name,
                p.kind,
                peer,
                if x.rx { "ok" } else { "stale" },
                x.last_seen_ms
                    .map_or("never".into(), |ms| format!("{ms}ms")),
                x.rtt_ms.map_or("-".into(), |r| format!("{r:.1}ms")),
                if drops.is_empty() { "-" } else { &drops }
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::hb::view::PathPeer;

    fn path(peers: &[(&str, bool, bool, Option<u64>)]) -> PathView {
        PathView {
            name: "hb#1".into(),
            kind: "unicast".into(),
            target: ":10000".into(),
            interval_ms: 1000,
            timeout_ms: 3000,
            peers: peers
                .iter()
                .map(|&(n, rx, tx, seen)| {
                    (
                        n.to_string(),
                        PathPeer {
                            rx,
                            tx,
                            last_seen_ms: seen,
                            received: 1,
                            ..PathPeer::default()
                        },
                    )
                })
                .collect(),
            ..PathView::default()
        }
    }

    #[test]
    fn path_lines() {
        let cases = [
            (
                path(&[("n2", true, true, Some(10)), ("n3", true, true, Some(20))]),
                Status::Up,
                "unicast :10000 rx n2 n3 / tx n2 n3",
                vec![],
            ),
            (
                path(&[
                    ("n2", true, true, Some(10)),
                    ("n3", false, true, Some(3200)),
                ]),
                Status::Warn,
                "unicast :10000 rx n2 / tx n2 n3",
                vec!["n3 stale on this path: last heard 3200ms ago (timeout 3000ms)"],
            ),
            (
                path(&[("n2", false, false, None)]),
                Status::Down,
                "unicast :10000 rx - / tx -",
                vec!["n2 never heard on this path"],
            ),
            (
                path(&[]),
                Status::NotApplicable,
                "unicast :10000 rx - / tx -",
                vec![],
            ),
        ];
        for (p, status, label, log) in cases {
            let e = path_entry(&p);
            assert_eq!((e.status, e.label.as_str()), (status, label));
            assert_eq!(e.log, log);
        }
        let mut slow = path(&[("n2", true, true, Some(10))]);
        let n2 = slow.peers.get_mut("n2").unwrap();
        (n2.rtt_ms, n2.jitter_ms) = (Some(350.0), Some(5.0));
        let e = path_entry(&slow);
        assert_eq!(
            (e.status, e.label.as_str()),
            (Status::Warn, "unicast :10000 rx n2 / tx n2, rtt n2 350.0ms")
        );
        assert_eq!(
            e.log,
            ["n2 round trip 350.0ms, jitter 5.0ms: above 300ms (a tenth of the timeout)"]
        );
        slow.peers.get_mut("n2").unwrap().rtt_ms = Some(0.4);
        assert_eq!(path_entry(&slow).status, Status::Up);
        let mut failed = path(&[("n2", true, true, Some(1))]);
        failed.error = Some("can not bind udp port 10000".into());
        assert_eq!(path_entry(&failed).status, Status::Down);
    }
}
