//! The orchestration decision for one service on this node, as a pure function of what the
//! node knows: the membership, every node's word on the service, the config, and what the
//! orchestrator remembers (who ran it last). Every node computes the same ranking from the
//! same facts, so only the first eligible candidate acts; every other node says why it does
//! not, in a list of blockers with a code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use svcconf::Orchestrate;

use crate::daemon::membership::{PeerState, Rejoin};

/// One node's word on the service: the local monitor's for this node, the last beat's for
/// a peer.
#[derive(Debug, Clone, PartialEq)]
pub struct SvcOnNode {
    /// Some resource of it is up there.
    pub running: bool,
    pub frozen: bool,
    /// A start run by the orchestrator there failed, and nobody ran `clear` since.
    pub start_failed: bool,
    /// The action the orchestrator runs on it there (`start`), if any.
    pub action: Option<String>,
}

/// One node of the cluster as the orchestrator sees it (this node is `Up`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFacts {
    pub state: PeerState,
    /// Its daemon's version, from its beats.
    pub version: Option<String>,
    /// None: the node does not report the service (no config there).
    pub svc: Option<SvcOnNode>,
}

/// What the orchestrator remembers of a service (persisted: a restarted daemon does not
/// forget that the service ran on a node that is now lost).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// The node last seen running the service.
    pub owner: Option<String>,
    /// Whether the owner was running it when last heard (false: it was stopped there).
    pub owner_up: bool,
}

/// The service's orchestration settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OrchCfg {
    pub mode: Orchestrate,
    /// `nodes`, in preference order.
    pub nodes: Vec<String>,
    pub autostart_node: Option<String>,
    /// Its volume groups are guarded by SCSI-3 reservations (`scsireserv = true`).
    pub fenced: bool,
    pub unfenced_failover: bool,
}

pub struct Input<'a> {
    pub me: &'a str,
    pub version: &'a str,
    pub cfg: &'a OrchCfg,
    /// Every node of the cluster, this one included.
    pub facts: &'a BTreeMap<String, NodeFacts>,
    pub cluster_size: usize,
    pub rejoin: &'a Rejoin,
    pub memory: &'a Memory,
    /// orchestrate=start (and ha): the one start after the daemon started is not done yet.
    pub first_look: bool,
    /// The last fencing attempt failed: what it said, and seconds before the next try.
    pub fence_failed: Option<(&'a str, u64)>,
    /// Why the heartbeats do not run, when they do not.
    pub heartbeats_off: Option<&'a str>,
    /// An operator's `switch --to N` (takeover, giveback) being carried out.
    pub target: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    pub code: String,
    pub detail: String,
}

/// How the node that starts the service keeps the lost owner from writing its disks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "lowercase")]
pub enum Fence {
    /// Nothing to fence: the other nodes are up and report the service down.
    None,
    /// Preempt-and-abort the lost node's reservation key, then check that it is gone.
    Reservation { lost: String },
    /// No fencing: this node's partition holds a strict majority and the service sets
    /// `unfenced_failover = true`.
    Quorum { lost: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing to do, and why.
    Idle { why: String },
    /// This node starts the service.
    Start { fence: Fence, why: String },
    /// This node stops the service it runs (the stop half of a switch).
    Stop { why: String },
    /// This node does not start it although it is up nowhere: why not.
    Blocked { blockers: Vec<Blocker> },
}

impl Verdict {
    /// One line, for the log and `print status`.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Idle { why } => why.clone(),
            Verdict::Start { fence, why } => match fence {
                Fence::None => format!("start here: {why}"),
                Fence::Reservation { lost } => {
                    format!("start here: {why}, after preempting {lost}'s reservation")
                }
                Fence::Quorum { lost } => format!(
                    "start here: {why}, unfenced (unfenced_failover=true, {lost} outside \
                     this majority partition)"
                ),
            },
            Verdict::Stop { why } => format!("stop here: {why}"),
            Verdict::Blocked { blockers } => format!(
                "not starting: {}",
                blockers
                    .iter()
                    .map(|b| b.detail.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
    }
}

fn blocked(code: &str, detail: String) -> Verdict {
    Verdict::Blocked {
        blockers: vec![Blocker {
            code: code.to_string(),
            detail,
        }],
    }
}

fn major(v: &str) -> &str {
    v.split('.').next().unwrap_or(v)
}

/// Why a start is needed at all.
enum Trigger {
    /// The owner is lost while it ran the service: it must be fenced first.
    OwnerLost(String),
    /// The start failed on the owner (or wherever it was last tried).
    Failed(String),
    /// orchestrate=start|ha, first look after the daemon started.
    Autostart,
}

pub fn decide(i: &Input) -> Verdict {
    if i.cfg.mode == Orchestrate::No {
        return Verdict::Idle {
            why: "orchestrate=no: the daemon does not start or move it".into(),
        };
    }
    if let Some(t) = i.target {
        return switch(i, t);
    }
    let running = running_on(i);
    if !running.is_empty() {
        return Verdict::Idle {
            why: format!("up on {}", running.join(", ")),
        };
    }
    if let Some(why) = i.heartbeats_off {
        if i.cfg.nodes.iter().any(|n| n != i.me) {
            return blocked(
                "no heartbeats",
                format!("heartbeats are off ({why}): no way to tell what the other nodes run"),
            );
        }
    }
    if !i.rejoin.done {
        return blocked(
            "rejoin",
            format!(
                "rejoin wait ({} not heard, {} s left)",
                i.rejoin.waiting_for.join(", "),
                i.rejoin.remaining_ms.div_ceil(1000)
            ),
        );
    }
    if let Some((who, a)) = acting(i) {
        let doing = match a {
            "start" => "starting",
            "stop" => "stopping",
            "freeze" => "freezing",
            "thaw" => "thawing",
            other => other,
        };
        return blocked("peer acting", format!("peer acting ({who} {doing})"));
    }
    let trigger = match trigger(i) {
        Ok(t) => t,
        Err(v) => return v,
    };
    let lost = match &trigger {
        Trigger::OwnerLost(o) => Some(o.as_str()),
        _ => None,
    };
    let order = candidates_order(i.cfg, &trigger);
    let mut reasons: Vec<(String, String)> = Vec::new();
    let mut leader = None;
    for n in &order {
        match ineligible(i, n, lost) {
            Some(why) => reasons.push((n.clone(), why)),
            None => {
                leader = Some(n.as_str());
                break;
            }
        }
    }
    let mut blockers = Vec::new();
    if let Some((_, why)) = reasons.iter().find(|(n, _)| n == i.me) {
        blockers.push(own_blocker(why));
    }
    let Some(leader) = leader else {
        let list = reasons
            .iter()
            .map(|(n, w)| format!("{n}: {w}"))
            .collect::<Vec<_>>()
            .join(", ");
        blockers.push(Blocker {
            code: "no candidate".into(),
            detail: format!("no candidate ({list})"),
        });
        return Verdict::Blocked { blockers };
    };
    if leader != i.me {
        blockers.push(Blocker {
            code: "not leader".into(),
            detail: format!("not leader ({leader} ranks first)"),
        });
        return Verdict::Blocked { blockers };
    }
    let why = match &trigger {
        Trigger::OwnerLost(o) => format!("{o} running it was lost"),
        Trigger::Failed(n) => format!("the start failed on {n}"),
        Trigger::Autostart => "first look after the daemon started".to_string(),
    };
    let Some(lost) = lost else {
        return Verdict::Start {
            fence: Fence::None,
            why,
        };
    };
    if i.cfg.fenced {
        if let Some((err, retry)) = i.fence_failed {
            return blocked(
                "fencing failed",
                format!("fencing failed: {err} (next try in {retry} s)"),
            );
        }
        return Verdict::Start {
            fence: Fence::Reservation {
                lost: lost.to_string(),
            },
            why,
        };
    }
    if !i.cfg.unfenced_failover {
        return blocked(
            "no fencing",
            format!(
                "not failing over from {lost}: no fencing (scsireserv) and unfenced_failover=false"
            ),
        );
    }
    let up = i
        .facts
        .values()
        .filter(|f| f.state == PeerState::Up)
        .count();
    if up * 2 <= i.cluster_size {
        return blocked(
            "no quorum",
            format!(
                "no quorum ({up} of {} nodes up, {} needed)",
                i.cluster_size,
                i.cluster_size / 2 + 1
            ),
        );
    }
    Verdict::Start {
        fence: Fence::Quorum {
            lost: lost.to_string(),
        },
        why,
    }
}

/// Whether this node must stop the service it runs here, and why: another node preempted
/// its reservation key (`preempted`: the guards saying so), or, for an `ha` service
/// allowed to fail over unfenced, the nodes this one lost may form a majority (which will
/// start it without fencing: it must not run here too).
pub fn stand_down(i: &Input, preempted: &[String]) -> Option<String> {
    let mine = i.facts.get(i.me)?.svc.as_ref()?;
    if !mine.running || mine.frozen || mine.action.is_some() {
        return None;
    }
    if i.cfg.fenced && !preempted.is_empty() {
        return Some(format!(
            "split brain: another node preempted our reservation ({})",
            preempted.join(", ")
        ));
    }
    if i.cfg.mode != Orchestrate::Ha
        || i.cfg.fenced
        || !i.cfg.unfenced_failover
        || i.heartbeats_off.is_some()
    {
        return None;
    }
    let up = i
        .facts
        .values()
        .filter(|f| f.state == PeerState::Up)
        .count();
    let lost: Vec<&str> = i
        .facts
        .iter()
        .filter(|(_, f)| f.state == PeerState::Lost)
        .map(|(n, _)| n.as_str())
        .collect();
    // Only when the lost nodes may hold a strict majority: then they may start it.
    (lost.len() * 2 > i.cluster_size).then(|| {
        format!(
            "minority partition ({up} of {} nodes up, {} lost) with unfenced_failover=true: \
             the majority may start it",
            i.cluster_size,
            lost.join(", ")
        )
    })
}

/// A node (`here` for this one) whose orchestrator runs an action on the service, and it.
fn acting<'a>(i: &'a Input) -> Option<(String, &'a str)> {
    i.facts.iter().find_map(|(n, f)| {
        let a = f.svc.as_ref()?.action.as_deref()?;
        let who = if n == i.me {
            "here".to_string()
        } else {
            n.clone()
        };
        (f.state == PeerState::Up).then_some((who, a))
    })
}

/// The nodes running the service, among those heard (up or in maintenance).
fn running_on<'a>(i: &'a Input) -> Vec<&'a str> {
    i.facts
        .iter()
        .filter(|(_, f)| matches!(f.state, PeerState::Up | PeerState::Maintenance))
        .filter(|(_, f)| f.svc.as_ref().is_some_and(|s| s.running))
        .map(|(n, _)| n.as_str())
        .collect()
}

/// A switch to `t`: the node running it stops it once `t` can take it, then `t` starts it.
fn switch(i: &Input, t: &str) -> Verdict {
    let running = running_on(i);
    if running == [t] {
        return Verdict::Idle {
            why: format!("up on {t}"),
        };
    }
    if let Some(why) = ineligible(i, t, None) {
        // Stopped here for a target that then could not take it: it comes back here.
        if running.is_empty()
            && i.memory.owner.as_deref() == Some(i.me)
            && ineligible(i, i.me, None).is_none()
        {
            return Verdict::Start {
                fence: Fence::None,
                why: format!("the switch to {t} can not be done ({t}: {why}): back here"),
            };
        }
        return blocked(
            "switch target",
            format!("switch to {t}: {t} can not take it ({why}); it stays where it is"),
        );
    }
    if let Some((who, a)) = acting(i) {
        return blocked("peer acting", format!("switching to {t}: {who} runs {a}"));
    }
    if running.contains(&i.me) && i.me != t {
        return Verdict::Stop {
            why: format!("switching to {t}"),
        };
    }
    if !running.is_empty() {
        return Verdict::Idle {
            why: format!(
                "switching to {t}: waiting for {} to stop it",
                running.join(", ")
            ),
        };
    }
    if i.me == t {
        return Verdict::Start {
            fence: Fence::None,
            why: format!("switch to {t}"),
        };
    }
    Verdict::Idle {
        why: format!("switching to {t}: {t} starts it"),
    }
}

/// Why a start is needed, or the idle verdict saying why none is.
fn trigger(i: &Input) -> Result<Trigger, Verdict> {
    let Some(owner) = i.memory.owner.as_deref() else {
        if i.first_look {
            return Ok(Trigger::Autostart);
        }
        return Err(Verdict::Idle {
            why: "down everywhere, never seen running: start it once, the daemon keeps it \
                  running from then on"
                .into(),
        });
    };
    let facts = i.facts.get(owner);
    let state = facts.map_or(PeerState::Unknown, |f| f.state);
    let failed = facts
        .and_then(|f| f.svc.as_ref())
        .is_some_and(|s| s.start_failed);
    match state {
        PeerState::Lost | PeerState::Unknown if i.memory.owner_up => {
            Ok(Trigger::OwnerLost(owner.to_string()))
        }
        PeerState::Lost | PeerState::Unknown => Err(Verdict::Idle {
            why: format!(
                "stopped on {owner} before it was {}: the daemon leaves it down",
                state.as_str()
            ),
        }),
        _ if facts.is_some_and(|f| f.svc.is_none()) => Err(Verdict::Idle {
            why: format!("{owner}, its last owner, does not report it (yet)"),
        }),
        _ if failed => Ok(Trigger::Failed(owner.to_string())),
        // At boot: it ran when this daemon last looked (the node went down with it).
        _ if i.first_look && i.memory.owner_up => Ok(Trigger::Autostart),
        _ => Err(Verdict::Idle {
            why: format!("stopped on {owner}, its last owner: the daemon leaves it down"),
        }),
    }
}

fn candidates_order(cfg: &OrchCfg, trigger: &Trigger) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if let (Trigger::Autostart, Some(a)) = (trigger, &cfg.autostart_node) {
        v.push(a.clone());
    }
    for n in &cfg.nodes {
        if !v.contains(n) {
            v.push(n.clone());
        }
    }
    v
}

/// Why `n` may not start the service, or None.
fn ineligible(i: &Input, n: &str, lost: Option<&str>) -> Option<String> {
    if lost == Some(n) {
        return Some("lost".into());
    }
    let Some(f) = i.facts.get(n) else {
        return Some("not a cluster node".into());
    };
    if f.state != PeerState::Up {
        return Some(f.state.as_str().into());
    }
    let Some(s) = &f.svc else {
        return Some("no config".into());
    };
    if s.frozen {
        return Some("frozen".into());
    }
    if s.start_failed {
        return Some("start failed".into());
    }
    match f.version.as_deref() {
        Some(v) if major(v) == major(i.version) => None,
        Some(v) => Some(format!("version {v}")),
        None => Some("version unknown".into()),
    }
}

fn own_blocker(why: &str) -> Blocker {
    let (code, detail) = match why {
        "frozen" => ("frozen", "frozen here".to_string()),
        "start failed" => (
            "start failed",
            "start failed here (svcmgr clear to retry)".to_string(),
        ),
        other => ("ineligible", format!("this node: {other}")),
    };
    Blocker {
        code: code.into(),
        detail,
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
