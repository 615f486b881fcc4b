//! The other nodes of a service: asking them whether they run it, and the check made under
//! the service lock before any start.

mod probe;

pub use probe::{avail_from_json, is_down, is_running, peer_states, verdict, PeerState, Verdict};

use resources::{Override, Overrides, Status};

use crate::model::Item;
use crate::service::Service;
use crate::ssh::RemoteRun;

/// nodes + drpnodes but this node.
pub fn others(s: &Service) -> Vec<String> {
    s.cfg
        .all_nodes()
        .into_iter()
        .filter(|n| *n != s.node.nodename)
        .collect()
}

/// Probe every node of nodes + drpnodes but this one and `except`.
pub fn check_others(s: &Service, except: &[&str]) -> Verdict {
    let names: Vec<String> = others(s)
        .into_iter()
        .filter(|n| !except.contains(&n.as_str()))
        .collect();
    verdict(&peer_states(s, &names, RemoteRun::PROBE))
}

/// Before starting `items` here: no other node may run the service, and a node that cannot
/// be asked (unreachable, or reached but unable to tell) blocks the start unless a guard
/// proves exclusivity: SCSI reservations covering the service's disks, which refuse the
/// start themselves if another node holds them. `--ignore-peers` (or `--force`) overrides,
/// with a WARNING per node. `Err` is the refusal, naming the nodes and why.
pub fn check_exclusive(s: &Service, items: &[&Item], ov: &Overrides) -> Result<(), String> {
    let v = check_others(s, &[]);
    decide(s, items, ov, &v)
}

fn decide(s: &Service, items: &[&Item], ov: &Overrides, v: &Verdict) -> Result<(), String> {
    if !v.up.is_empty() {
        let why = format!("service {} is up on {}", s.name, v.up.join(", "));
        if !ov.overrides(Override::IgnorePeers, None, &why) {
            return Err(format!(
                "{why}: not starting it here too (use switch or takeover to move it, or \
                 --ignore-peers to start it anyway)"
            ));
        }
    }
    if v.unknown.is_empty() {
        return Ok(());
    }
    let who = v
        .unknown
        .iter()
        .map(|(n, e)| format!("{n} ({e})"))
        .collect::<Vec<_>>()
        .join(", ");
    let why = format!("can not tell whether service {} runs on {who}", s.name);
    if let Some(guard) = exclusivity_guard(s, items) {
        tracing::warn!("{why}: starting anyway, {guard}");
        return Ok(());
    }
    if ov.overrides(Override::IgnorePeers, None, &why) {
        return Ok(());
    }
    Err(format!(
        "{why}: not starting it here (a node that cannot be asked may run it; use \
         --ignore-peers once it is known not to)"
    ))
}

/// What proves this start cannot run the service twice although a peer cannot be asked:
/// every volume group of the service is guarded by a SCSI reservation taken by this action
/// (its start refuses when another node's key holds the disks) or already held here.
fn exclusivity_guard(s: &Service, items: &[&Item]) -> Option<String> {
    let prs: Vec<&Item> = s.items.iter().filter(|it| it.is_reservation()).collect();
    let guarded = |vg: &Item| prs.iter().any(|p| p.rid() == format!("{}pr", vg.rid()));
    let vgs = s
        .items
        .iter()
        .filter(|it| it.rc.group == svcconf::Group::Vg && !it.is_reservation());
    if prs.is_empty() || !vgs.clone().all(guarded) {
        return None;
    }
    let ctx = s.ctx();
    let covered = prs.iter().all(|p| {
        items.iter().any(|it| it.rid() == p.rid())
            || p.res.driver().status(&ctx).status == Status::Up
    });
    covered.then(|| {
        let rids: Vec<&str> = prs.iter().map(|p| p.rid()).collect();
        format!(
            "because {} refuse(s) the start if another node holds the disks",
            rids.join(", ")
        )
    })
}
