//! Service config sync between nodes (`sync#i0`): push on the owner (`syncnodes`), atomic
//! install on the receiver (`postsync`), per-peer records and the local status check.

mod generation;
mod push;
mod receive;
mod records;
mod rsync;
mod sha256;

pub use generation::Generation;
pub use push::{syncnodes, PushOutcome};
pub use receive::{postsync, Received};
pub use rsync::Rsync;

use std::path::{Path, PathBuf};

use chrono::Timelike;
use resources::Status;
use svcconf::TimeWindow;

use crate::model::{Flags, ResEntry};
use crate::service::Service;

pub const RID: &str = "sync#i0";
pub const LABEL: &str = "ssh svc config to nodes, drpnodes";

/// `(['03:59', '05:59'])`, one quoted pair per window.
pub fn format_windows(w: &[TimeWindow]) -> String {
    let pairs: Vec<String> = w
        .iter()
        .map(|w| {
            let (a, b) = w.bounds();
            format!("['{a}', '{b}']")
        })
        .collect();
    format!("({})", pairs.join(", "))
}

/// No window at all means no restriction.
pub fn in_windows(w: &[TimeWindow], minute_of_day: u16) -> bool {
    w.is_empty() || w.iter().any(|w| w.contains(minute_of_day))
}

pub fn minute_now() -> u16 {
    let t = chrono::Local::now();
    (t.hour() * 60 + t.minute()) as u16
}

/// Where a push goes: `syncnodes` / `sync nodes` / `sync all` to every other node of nodes
/// + drpnodes, `sync drp` (`syncdrp`) to the drpnodes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    All,
    Drp,
}

/// The peers a push to `to` reaches.
pub fn targets(svc: &Service, to: Targets) -> Vec<String> {
    let all = peers(svc);
    match to {
        Targets::All => all,
        Targets::Drp => all
            .into_iter()
            .filter(|n| svc.cfg.drpnodes.contains(n))
            .collect(),
    }
}

/// The other nodes of nodes + drpnodes.
pub fn peers(svc: &Service) -> Vec<String> {
    svc.cfg
        .all_nodes()
        .into_iter()
        .filter(|n| n != &svc.node.nodename)
        .collect()
}

fn gen_file(svc_var: &Path) -> PathBuf {
    svc_var.join("config.gen")
}

/// The service is up here, by its non-optional resources: the node syncs run from.
pub fn is_running(resources: &[ResEntry]) -> bool {
    matches!(
        Status::merge_all(
            resources
                .iter()
                .filter(|r| !r.flags.optional)
                .map(|r| r.status)
        ),
        Status::Up | Status::Warn
    )
}

/// The `sync#i0` entry: present when nodes + drpnodes has more than one node. Local files
/// only: no peer is contacted.
///
/// Where the service runs, it is down while a peer is not known to hold the current config
/// (`<peer> need update`). Elsewhere it is down when the local config differs from the last
/// one pushed or received here.
pub fn status_entry(svc: &Service, resources: &[ResEntry]) -> Option<ResEntry> {
    if svc.cfg.all_nodes().len() <= 1 {
        return None;
    }
    let var = svc.root.svc_var(&svc.name);
    let running = is_running(resources);
    let log: Vec<String> = match std::fs::read(&svc.cfg.path) {
        Ok(data) => {
            let sum = sha256::hex(&data);
            if running {
                let peers = peers(svc);
                records::stale(&var, &peers, &sum)
                    .iter()
                    .map(|p| format!("{p} need update"))
                    .collect()
            } else {
                match generation::load(&gen_file(&var)) {
                    Some(g) if g.sum == sum => vec![],
                    Some(_) => vec!["config changed here since the last sync".to_string()],
                    None => vec!["config never synced".to_string()],
                }
            }
        }
        Err(e) => {
            return Some(entry(
                Status::Undef,
                vec![format!("can not read {}: {e}", svc.cfg.path.display())],
            ))
        }
    };
    let status = if log.is_empty() {
        Status::Up
    } else {
        Status::Down
    };
    Some(entry(status, log))
}

fn entry(status: Status, log: Vec<String>) -> ResEntry {
    ResEntry {
        rid: RID.to_string(),
        rtype: "sync".to_string(),
        status,
        label: LABEL.to_string(),
        log,
        flags: Flags::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_message_and_membership() {
        let d = TimeWindow {
            start: 3 * 60 + 59,
            end: 5 * 60 + 59,
        };
        assert_eq!(format_windows(&[d]), "(['03:59', '05:59'])");
        let night = TimeWindow {
            start: 23 * 60,
            end: 60,
        };
        assert_eq!(
            format_windows(&[d, night]),
            "(['03:59', '05:59'], ['23:00', '01:00'])"
        );
        assert!(in_windows(&[d], 4 * 60));
        assert!(!in_windows(&[d], 6 * 60));
        assert!(in_windows(&[d, night], 30));
        assert!(!in_windows(&[d, night], 12 * 60));
        assert!(in_windows(&[], 12 * 60));
    }
}
