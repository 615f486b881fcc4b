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
    let status = if let Some(e) = &p.error {
        log.insert(0, e.clone());
        Status::Down
    } else if p.peers.is_empty() {
        Status::NotApplicable
    } else if stale.is_empty() {
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
            "{} {} rx {} / tx {}",
            p.kind,
            p.target,
            words(&rx),
            words(&tx)
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
        "\n{:<6} {:<8} {:<16} {:<6} {:>10}  DROPS",
        "PATH", "TYPE", "PEER", "RX", "LAST SEEN"
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
                "{:<6} {:<8} {:<16} {:<6} {:>10}  {}",
                p.name,
                p.kind,
                peer,
                if x.rx { "ok" } else { "stale" },
                x.last_seen_ms
                    .map_or("never".into(), |ms| format!("{ms}ms")),
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
        let mut failed = path(&[("n2", true, true, Some(1))]);
        failed.error = Some("can not bind udp port 10000".into());
        assert_eq!(path_entry(&failed).status, Status::Down);
    }
}
