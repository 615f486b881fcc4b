//! What the heartbeat subsystem publishes (watch channel, `GET /cluster`): the nodes, each
//! path's view of each peer, the counters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::message::SvcBeat;
use crate::daemon::membership::{PeerState, Rejoin};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ClusterView {
    pub nodename: String,
    pub cluster: String,
    /// Why heartbeats do not run (no secret, no [[hb]]), else None.
    pub disabled: Option<String>,
    /// Every node of the cluster, this one included.
    pub nodes: BTreeMap<String, NodeView>,
    pub paths: Vec<PathView>,
    pub rejoin: Option<Rejoin>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeView {
    pub state: PeerState,
    /// From the node's last beat.
    pub version: Option<String>,
    pub uptime_secs: Option<u64>,
    pub load: Option<f64>,
    pub mem_total_mb: Option<u32>,
    pub mem_avail_mb: Option<u32>,
    pub boot_id: Option<u64>,
    /// Milliseconds since the last beat on any path.
    pub last_seen_ms: Option<u64>,
    pub services: Vec<SvcBeat>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PathView {
    /// `hb#1`.
    pub name: String,
    /// `unicast`, `disk`.
    pub kind: String,
    /// `:10000`, `/dev/loop3`.
    pub target: String,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Why the path can not work at all (bind failed, device unreadable), else None.
    pub error: Option<String>,
    pub peers: BTreeMap<String, PathPeer>,
    pub sent: u64,
    pub received: u64,
    pub send_errors: u64,
    /// Bytes of the datagrams sent and accepted (for the rate per node).
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Dropped datagrams by reason (`auth`, `replay`, ...).
    pub dropped: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PathPeer {
    /// Heard within the path's timeout.
    pub rx: bool,
    /// The last send to it worked.
    pub tx: bool,
    pub last_seen_ms: Option<u64>,
    pub received: u64,
    /// Smoothed round-trip time and its variation (network paths).
    pub rtt_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
}

impl PathView {
    /// Peers heard on this path, and peers that are not.
    pub fn rx_split(&self) -> (Vec<&str>, Vec<&str>) {
        let (ok, stale): (Vec<_>, Vec<_>) = self.peers.iter().partition(|(_, p)| p.rx);
        (
            ok.into_iter().map(|(n, _)| n.as_str()).collect(),
            stale.into_iter().map(|(n, _)| n.as_str()).collect(),
        )
    }
}
