//! What the daemon publishes (on `watch` channels) and serves on its API: plain data, the
//! same types on both sides of the socket. Keyed by node name from the start, so the cluster
//! view of the heartbeats can carry other nodes' entries next to this one's.

use std::collections::BTreeMap;

use resources::Status;
use serde::{Deserialize, Serialize};

use super::monitor::machine::SvcMon;

/// `GET /daemon/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    pub version: String,
    pub nodename: String,
    /// RFC 3339.
    pub started: String,
    pub uptime_secs: u64,
    pub subsystems: Vec<Subsystem>,
    /// Per heartbeat path: peers, counters (sent, received, dropped by reason).
    #[serde(default)]
    pub heartbeats: Vec<super::hb::view::PathView>,
}

/// One task of the daemon and how it is doing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Subsystem {
    pub name: String,
    /// `starting`, `running`, `stopped`.
    pub state: String,
    /// A short, subsystem-specific line (the monitor's tick count and loop lag).
    pub detail: String,
}

/// The monitor loop's progress (published on a watch channel; the watchdog follows it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MonitorHealth {
    pub ticks: u64,
    pub interval_ms: u64,
    /// How late the last tick woke up after its deadline.
    pub lag_ms: u64,
    /// How long the last evaluation of every service took.
    pub eval_ms: u64,
    /// RFC 3339 time of the last completed tick.
    pub last_tick: Option<String>,
    /// When the last completed pass started (what it saw is at least that fresh).
    #[serde(skip)]
    pub pass_started: Option<std::time::Instant>,
}

/// One service on one node as the daemon last saw it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceView {
    pub svcname: String,
    pub nodename: String,
    pub avail: Status,
    pub overall: Status,
    pub frozen: bool,
    /// Why the service could not be evaluated (a broken config), else None.
    pub error: Option<String>,
    pub monitor: MonitorView,
    /// Some resource of it is up here (standby ones aside): what failover decisions use.
    #[serde(default)]
    pub running: bool,
    /// A start the orchestrator ran here failed (its mark, until `clear`).
    #[serde(default)]
    pub start_failed: Option<super::orchestrator::marks::StartFailed>,
    /// Reservation guards whose key another node preempted while the service ran here.
    #[serde(default)]
    pub preempted: Vec<String>,
    /// Its orchestration settings, for the orchestrator (not served).
    #[serde(skip)]
    pub orch: Option<super::orchestrator::decide::OrchCfg>,
}

/// The monitor's state of a service, as `print status` and `mon` show it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MonitorView {
    /// `idle` (not expected up here), `watching`, `restarting`, `failed`, `frozen`.
    pub state: String,
    /// Per monitored resource: restarts left of the configured number.
    pub restarts: BTreeMap<String, RestartsLeft>,
    pub last_action: Option<LastAction>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RestartsLeft {
    pub left: u32,
    pub of: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LastAction {
    /// `restart container#1`, `freezestop`, `switch --to n2`.
    pub action: String,
    /// `ok`, `failed (exit 1)`, `running`.
    pub result: String,
    /// RFC 3339.
    pub at: String,
}

/// Every service of this node, by name (published by the monitor).
pub type Services = BTreeMap<String, ServiceView>;

/// The persisted part of a service's monitor state (`R/var/services/<svc>/monitor.json`):
/// a restarted daemon carries on where the last one was, it does not re-decide.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Persisted {
    pub version: u32,
    pub mon: SvcMon,
    /// The last action record (`intent::Intent::key`) seen, to tell an operator's action
    /// from none.
    pub seen_record: Option<String>,
}

/// One line of the event stream (`GET /events`, newline-delimited JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// RFC 3339.
    pub time: String,
    /// `status` (a service's avail/overall/frozen changed), `action` (started or done),
    /// `monitor` (a decision), `daemon` (starting, stopping), `node` (a peer's state changed).
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub svc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub avail: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub overall: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
    /// `node` events: the peer and its new state word.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub state: Option<String>,
}

impl Event {
    pub fn new(kind: &str, svc: Option<&str>) -> Event {
        Event {
            time: now_rfc3339(),
            kind: kind.to_string(),
            svc: svc.map(str::to_string),
            action: None,
            id: None,
            exit_code: None,
            avail: None,
            overall: None,
            message: None,
            node: None,
            state: None,
        }
    }
}

pub fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}
