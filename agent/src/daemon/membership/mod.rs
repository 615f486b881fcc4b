//! Cluster membership: who is up, lost or in maintenance, and whether the daemon is still
//! rejoining. Behind [`Membership`] so that another source (corosync's CPG and votequorum,
//! for larger clusters) can stand in for our heartbeats; [`HbMembership`] is the heartbeat
//! one, a pure state machine fed with what the paths heard and the time.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// A peer's state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerState {
    /// Never heard since this daemon started.
    Unknown,
    Up,
    /// Heard before; every path stale for its timeout.
    Lost,
    /// Its daemon announced a clean stop, within `maintenance_grace_period`.
    Maintenance,
}

impl PeerState {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerState::Unknown => "unknown",
            PeerState::Up => "up",
            PeerState::Lost => "lost",
            PeerState::Maintenance => "maintenance",
        }
    }
}

/// After a daemon start, no orchestration decision until every peer was heard or
/// `rejoin_grace_period` passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejoin {
    pub done: bool,
    /// Peers not heard yet while not done.
    pub waiting_for: Vec<String>,
    pub remaining_ms: u64,
}

/// What the orchestrator asks of a membership source.
pub trait Membership: Send {
    /// Every configured peer (not this node) and its state at `now`.
    fn peers(&self, now: Instant) -> BTreeMap<String, PeerState>;
    fn rejoin(&self, now: Instant) -> Rejoin;
}

/// One heartbeat path as membership sees it.
#[derive(Debug, Clone)]
pub struct PathTimeout {
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
struct Track {
    /// Last beat accepted, per path.
    last_rx: Vec<Option<Instant>>,
    /// The newest (boot id, seq) on any path: an older beat does not change the state.
    newest: (u64, u64),
    stopping: Option<Instant>,
}

pub struct HbMembership {
    paths: Vec<PathTimeout>,
    peers: BTreeMap<String, Track>,
    started: Instant,
    maintenance_grace: Duration,
    rejoin_grace: Duration,
}

impl HbMembership {
    pub fn new(
        peers: &[String],
        paths: Vec<PathTimeout>,
        started: Instant,
        maintenance_grace: Duration,
        rejoin_grace: Duration,
    ) -> HbMembership {
        let track = Track {
            last_rx: vec![None; paths.len()],
            newest: (0, 0),
            stopping: None,
        };
        HbMembership {
            peers: peers.iter().map(|p| (p.clone(), track.clone())).collect(),
            paths,
            started,
            maintenance_grace,
            rejoin_grace,
        }
    }

    /// An authenticated, in-order beat from `peer` on `path`.
    pub fn heard(
        &mut self,
        path: usize,
        peer: &str,
        boot_seq: (u64, u64),
        stopping: bool,
        now: Instant,
    ) {
        let Some(t) = self.peers.get_mut(peer) else {
            return;
        };
        if let Some(slot) = t.last_rx.get_mut(path) {
            *slot = Some(now);
        }
        if boot_seq > t.newest {
            t.newest = boot_seq;
            t.stopping = match (stopping, t.stopping) {
                (true, None) => Some(now),
                (true, kept) => kept,
                (false, _) => None,
            };
        }
    }

    pub fn state(&self, peer: &str, now: Instant) -> Option<PeerState> {
        let t = self.peers.get(peer)?;
        if let Some(at) = t.stopping {
            return Some(
                if now.saturating_duration_since(at) < self.maintenance_grace {
                    PeerState::Maintenance
                } else {
                    PeerState::Lost
                },
            );
        }
        if t.last_rx.iter().all(Option::is_none) {
            return Some(PeerState::Unknown);
        }
        let fresh = (0..self.paths.len()).any(|i| self.path_fresh(t, i, now));
        Some(if fresh {
            PeerState::Up
        } else {
            PeerState::Lost
        })
    }

    fn path_fresh(&self, t: &Track, path: usize, now: Instant) -> bool {
        t.last_rx[path]
            .is_some_and(|at| now.saturating_duration_since(at) < self.paths[path].timeout)
    }

    /// Whether `path` to `peer` is fresh: heard within its timeout.
    pub fn fresh(&self, peer: &str, path: usize, now: Instant) -> bool {
        self.peers
            .get(peer)
            .is_some_and(|t| path < self.paths.len() && self.path_fresh(t, path, now))
    }

    /// How long ago `peer` was last heard on `path`.
    pub fn last_seen(&self, peer: &str, path: usize, now: Instant) -> Option<Duration> {
        let at = (*self.peers.get(peer)?.last_rx.get(path)?)?;
        Some(now.saturating_duration_since(at))
    }
}

impl Membership for HbMembership {
    fn peers(&self, now: Instant) -> BTreeMap<String, PeerState> {
        self.peers
            .keys()
            .filter_map(|p| Some((p.clone(), self.state(p, now)?)))
            .collect()
    }

    fn rejoin(&self, now: Instant) -> Rejoin {
        let waiting_for: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, t)| t.last_rx.iter().all(Option::is_none))
            .map(|(p, _)| p.clone())
            .collect();
        let elapsed = now.saturating_duration_since(self.started);
        let done = waiting_for.is_empty() || elapsed >= self.rejoin_grace;
        Rejoin {
            remaining_ms: if done {
                0
            } else {
                (self.rejoin_grace - elapsed).as_millis() as u64
            },
            waiting_for: if done { Vec::new() } else { waiting_for },
            done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PeerState::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn m(t0: Instant) -> HbMembership {
        HbMembership::new(
            &["n2".into(), "n3".into()],
            vec![
                PathTimeout { timeout: ms(1000) },
                PathTimeout { timeout: ms(3000) },
            ],
            t0,
            ms(5000),
            ms(10_000),
        )
    }

    #[test]
    fn lost_only_when_every_path_is_stale() {
        let t0 = Instant::now();
        let mut m = m(t0);
        assert_eq!(m.state("n2", t0), Some(Unknown));
        assert_eq!(m.state("n9", t0), None);
        m.heard(0, "n2", (1, 1), false, t0);
        m.heard(1, "n2", (1, 1), false, t0);
        // (offset ms, expected): path 0 stale at 1000, path 1 at 3000.
        for (at, want, p0, p1) in [
            (999, Up, true, true),
            (1000, Up, false, true),
            (2999, Up, false, true),
            (3000, Lost, false, false),
        ] {
            let now = t0 + ms(at);
            assert_eq!(m.state("n2", now), Some(want), "at {at}");
            assert_eq!(
                (m.fresh("n2", 0, now), m.fresh("n2", 1, now)),
                (p0, p1),
                "at {at}"
            );
        }
        m.heard(0, "n2", (1, 2), false, t0 + ms(4000));
        assert_eq!(m.state("n2", t0 + ms(4000)), Some(Up));
        assert_eq!(m.last_seen("n2", 1, t0 + ms(4000)), Some(ms(4000)));
    }

    #[test]
    fn maintenance_then_lost_after_the_grace_period() {
        let t0 = Instant::now();
        let mut m = m(t0);
        m.heard(0, "n2", (1, 1), false, t0);
        m.heard(0, "n2", (1, 2), true, t0 + ms(100));
        // An older alive beat read late from the other path does not undo the announcement.
        m.heard(1, "n2", (1, 1), false, t0 + ms(200));
        assert_eq!(m.state("n2", t0 + ms(200)), Some(Maintenance));
        assert_eq!(m.state("n2", t0 + ms(5099)), Some(Maintenance));
        assert_eq!(m.state("n2", t0 + ms(5100)), Some(Lost));
        // The restarted daemon (a later boot id) is up again.
        m.heard(0, "n2", (2, 1), false, t0 + ms(6000));
        assert_eq!(m.state("n2", t0 + ms(6000)), Some(Up));
    }

    #[test]
    fn rejoin_until_every_peer_heard_or_grace() {
        let t0 = Instant::now();
        let mut m = m(t0);
        let r = m.rejoin(t0 + ms(1000));
        assert_eq!(
            (r.done, r.waiting_for.clone(), r.remaining_ms),
            (false, vec!["n2".to_string(), "n3".to_string()], 9000)
        );
        m.heard(0, "n2", (1, 1), false, t0);
        assert_eq!(m.rejoin(t0 + ms(1000)).waiting_for, ["n3"]);
        assert!(m.rejoin(t0 + ms(10_000)).done);
        m.heard(1, "n3", (1, 1), false, t0 + ms(2000));
        let r = m.rejoin(t0 + ms(2000));
        assert!(r.done && r.waiting_for.is_empty());
        assert_eq!(
            m.peers(t0 + ms(2000)),
            // n2 was heard at t0 on the 1 s path only: lost by now.
            [("n2".to_string(), Lost), ("n3".to_string(), Up)].into()
        );
    }
}
