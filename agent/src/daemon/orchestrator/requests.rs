//! Operators' requests to every node's orchestrator — switch targets and cluster-wide
//! freezes — as they travel in the beats: each carries the time it was asked, the newest
//! one wins, and one already carried out here is not taken again.

use super::decide;
use crate::daemon::hb::message::SvcBeat;
use crate::daemon::hb::view::ClusterView;
use crate::daemon::membership::PeerState;

pub fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The service's entries in the last beats of the peers that are up.
fn from_peers<'a>(
    cluster: &'a ClusterView,
    me: &'a str,
    svc: &'a str,
) -> impl Iterator<Item = &'a SvcBeat> {
    cluster
        .nodes
        .iter()
        .filter(move |(n, v)| n.as_str() != me && v.state == PeerState::Up)
        .filter_map(move |(_, v)| v.services.iter().find(|s| s.name == svc))
}

/// The newest switch target of the service among this node's and its peers' (newer than
/// the last one reached or given up here).
pub fn newest_target(
    current: Option<(String, u64)>,
    done: u64,
    cluster: &ClusterView,
    me: &str,
    svc: &str,
) -> Option<(String, u64)> {
    let heard = from_peers(cluster, me, svc)
        .filter(|s| !s.target.is_empty())
        .map(|s| (s.target.clone(), s.target_gen));
    let newest = current.into_iter().chain(heard).max_by_key(|t| t.1);
    newest.filter(|t| t.1 > done)
}

/// The newest cluster-wide freeze or thaw among this node's and its peers'.
pub fn newest_freeze(
    current: Option<(bool, u64)>,
    cluster: &ClusterView,
    me: &str,
    svc: &str,
) -> Option<(bool, u64)> {
    let heard = from_peers(cluster, me, svc)
        .filter(|s| s.freeze != 0)
        .map(|s| (s.freeze == 1, s.freeze_gen));
    current.into_iter().chain(heard).max_by_key(|f| f.1)
}

pub enum TargetOutcome {
    Reached,
    Failed,
}

/// Whether the switch target is reached (the service runs there alone) or given up (the
/// service stopped for it and the start failed there). A target that can not take it
/// stays pending, and the decision says why.
pub fn target_outcome(i: &decide::Input) -> Option<TargetOutcome> {
    let t = i.target?;
    let svc = i.facts.get(t)?.svc.as_ref()?;
    let elsewhere = i
        .facts
        .iter()
        .any(|(n, f)| n != t && f.svc.as_ref().is_some_and(|s| s.running));
    if svc.running && !elsewhere {
        Some(TargetOutcome::Reached)
    } else if svc.start_failed && !elsewhere && !svc.running {
        Some(TargetOutcome::Failed)
    } else {
        None
    }
}
