//! What one heartbeat says about its sender: plain data, serialized with postcard inside the
//! sealed envelope of [`super::codec`]. Changing a field or the order of an enum's variants
//! (postcard writes variant indexes) needs a new `codec::VERSION`.

use resources::Status;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BeatKind {
    /// The daemon runs.
    Alive,
    /// The daemon is stopping cleanly: peers hold it in maintenance, not lost.
    Stopping,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Beat {
    pub kind: BeatKind,
    /// The sender's daemon version.
    pub version: String,
    pub uptime_secs: u64,
    /// 1-minute load average × 100.
    pub load_centi: u32,
    pub mem_total_mb: u32,
    pub mem_avail_mb: u32,
    pub services: Vec<SvcBeat>,
    /// Services left out to keep the datagram under the size limit.
    pub omitted: u32,
    /// Per network path and peer, the last beat received (for the peer's RTT).
    pub acks: Vec<Ack>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The `[[hb]]` index.
    pub path: u8,
    pub peer: String,
    pub seq: u64,
    /// How long before this beat was sealed that one arrived.
    pub held_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SvcBeat {
    pub name: String,
    pub avail: Status,
    pub overall: Status,
    pub frozen: bool,
    /// First 8 bytes of the SHA-256 of the service's config file, 0 when unreadable.
    pub csum: u64,
    /// The monitor's state word (`idle`, `watching`, ...).
    pub monitor: String,
    /// Some resource of it is up there (standby ones aside).
    pub running: bool,
    /// A start the orchestrator ran there failed (no candidate until `clear`).
    pub start_failed: bool,
    /// The action the orchestrator runs on it there (`start`), else empty.
    pub action: String,
    /// The switch target that node knows of (`switch --to`), else empty, and when it was
    /// set there (ms since the epoch): the newest one wins.
    pub target: String,
    pub target_gen: u64,
    /// The cluster-wide freeze (1) or thaw (2) that node knows of, 0 none, and when it was
    /// asked (ms since the epoch): the newest one wins.
    pub freeze: u8,
    pub freeze_gen: u64,
}

impl Beat {
    pub fn alive(version: &str) -> Beat {
        Beat {
            kind: BeatKind::Alive,
            version: version.to_string(),
            uptime_secs: 0,
            load_centi: 0,
            mem_total_mb: 0,
            mem_avail_mb: 0,
            services: Vec::new(),
            omitted: 0,
            acks: Vec::new(),
        }
    }
}
