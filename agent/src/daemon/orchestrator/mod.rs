//! The orchestrator task: on every change of the local services (the monitor) or of the
//! cluster (the heartbeats), and at least every [`TICK`], decide for every service what
//! this node does ([`decide`]), publish the decisions with their blockers, log a decision
//! when it changes, and carry it out as child actions ([`plan`]): a start after
//! `ready_period` of the same verdict (fencing the lost owner first), the stop half of a
//! switch, a stand-down, a cluster-wide freeze. Operators' requests (switch targets,
//! cluster-wide freezes) arrive through the API and travel to the other nodes in the beats:
//! the newest one wins.

pub mod decide;
pub mod marks;
mod plan;
mod requests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::decide::{Fence, Memory, NodeFacts, SvcOnNode, Verdict};
use self::plan::{Done, Plan};
use super::actions::ActionsHandle;
use super::hb::view::ClusterView;
use super::membership::{PeerState, Rejoin};
use super::monitor::MonitorHandle;
use super::state::{now_rfc3339, Event};
use crate::paths::Root;

/// The longest time between two passes.
const TICK: Duration = Duration::from_millis(250);
/// How often the reservation keys of the fenced services running here are read while a
/// peer is lost.
const KEY_CHECK: Duration = Duration::from_millis(500);
/// For how long after a peer's last beat (milliseconds) the keys are read that often.
const KEY_WATCH_MS: u64 = 60_000;
/// Fencing retries back off from 1 s to this.
const FENCE_RETRY_MAX: Duration = Duration::from_secs(30);

/// One service's decision, as `GET /orchestration` and `print status` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionView {
    pub svc: String,
    pub orchestrate: String,
    pub verdict: Verdict,
    /// `Verdict::describe`, with the ready wait or the running start when there is one.
    pub line: String,
    /// RFC 3339: since when the verdict is this one.
    pub since: String,
    pub owner: Option<String>,
    pub start_failed: Option<marks::StartFailed>,
}

pub type Decisions = BTreeMap<String, DecisionView>;

/// What this node's beats carry of the orchestrator, per service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalSvc {
    pub start_failed: bool,
    pub action: Option<String>,
    /// The switch target being carried out, and when it was set (ms since the epoch).
    pub target: Option<(String, u64)>,
    /// The newest cluster-wide freeze (true) or thaw, and when it was asked.
    pub freeze: Option<(bool, u64)>,
}

pub type Local = BTreeMap<String, LocalSvc>;

#[derive(Debug, Clone)]
pub struct OrchHandle {
    pub decisions: watch::Receiver<Arc<Decisions>>,
    /// Operators' requests through the API.
    pub requests: mpsc::Sender<Request>,
}

/// What an operator asks the orchestrators of every node.
#[derive(Debug)]
pub enum Request {
    /// `switch --to N`, `takeover`, `giveback`.
    Target { svc: String, to: String },
    /// `freeze` / `thaw` without `--local`.
    Freeze { svc: String, freeze: bool },
}

pub struct Orchestrator {
    pub root: Root,
    pub node: svcconf::NodeConfig,
    pub monitor: MonitorHandle,
    pub cluster: watch::Receiver<Arc<ClusterView>>,
    pub actions: ActionsHandle,
    pub events: broadcast::Sender<Event>,
    pub token: CancellationToken,
    /// Published for the heartbeats.
    pub local: watch::Sender<Arc<Local>>,
}

#[derive(Default)]
struct SvcState {
    memory: Memory,
    first_look: bool,
    view: Option<DecisionView>,
    /// Since when the verdict has been Start.
    pending: Option<Instant>,
    /// The action word of the plan running (`start`, `stop`).
    in_flight: Option<&'static str>,
    /// A plan ended then: nothing is decided on the service until a monitor pass started
    /// after it (the status it published before is from before the action).
    settling: Option<std::time::Instant>,
    /// The last fencing failure, when to try again, and how many failed in a row.
    fence_failed: Option<(String, Instant, u32)>,
    /// The switch target being carried out, and its time (ms since the epoch).
    target: Option<(String, u64)>,
    /// The time of the last target reached or given up: older ones heard again are ignored.
    target_done: u64,
    /// The newest cluster-wide freeze (true) or thaw heard of, and its time.
    freeze: Option<(bool, u64)>,
    /// The time of the last one applied here.
    freeze_done: u64,
}

impl Orchestrator {
    /// `local` is created by the caller (the heartbeats read it).
    pub fn spawn(self) -> (OrchHandle, tokio::task::JoinHandle<()>) {
        let (tx, rx) = watch::channel(Arc::new(Decisions::new()));
        let (t_tx, t_rx) = mpsc::channel(16);
        (
            OrchHandle {
                decisions: rx,
                requests: t_tx,
            },
            tokio::spawn(self.run(tx, t_rx)),
        )
    }

    async fn run(
        mut self,
        tx: watch::Sender<Arc<Decisions>>,
        mut requests: mpsc::Receiver<Request>,
    ) {
        let mut services = self.monitor.services.clone();
        let (done_tx, mut done_rx) = mpsc::channel::<Done>(64);
        let mut states: BTreeMap<String, SvcState> = BTreeMap::new();
        let mut key_check = None;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.token.cancelled() => break,
                Some(d) = done_rx.recv() => self.finished(&mut states, d),
                Some(r) = requests.recv() => match r {
                    Request::Target { svc, to } => {
                        tracing::info!("orchestrator: {svc}: switch to {to} requested");
                        states.entry(svc).or_default().target = Some((to, requests::epoch_ms()));
                    }
                    Request::Freeze { svc, freeze } => {
                        let what = if freeze { "freeze" } else { "thaw" };
                        tracing::info!("orchestrator: {svc}: cluster-wide {what} requested");
                        states.entry(svc).or_default().freeze = Some((freeze, requests::epoch_ms()));
                    }
                },
                r = services.changed() => if r.is_err() { break },
                r = self.cluster.changed() => if r.is_err() { break },
                _ = tick.tick() => {}
            }
            // While a peer is lost and a fenced service runs here, the key is checked every
            // KEY_CHECK rather than every monitor_interval: the lost peer may preempt it.
            if self.pass(&mut states, &done_tx)
                && key_check.is_none_or(|t: Instant| t.elapsed() >= KEY_CHECK)
            {
                key_check = Some(Instant::now());
                self.monitor.refresh();
            }
            let decisions: Decisions = states
                .iter()
                .filter_map(|(k, s)| Some((k.clone(), s.view.clone()?)))
                .collect();
            tx.send_if_modified(|cur| {
                if **cur == decisions {
                    return false;
                }
                *cur = Arc::new(decisions);
                true
            });
        }
    }

    /// One decision per service; true when a fenced service runs here while a peer was lost
    /// within the last KEY_WATCH_MS.
    fn pass(&self, states: &mut BTreeMap<String, SvcState>, done_tx: &mpsc::Sender<Done>) -> bool {
        let services = self.monitor.services.borrow().clone();
        let fresh_since = self.monitor.health.borrow().pass_started;
        let cluster = self.cluster.borrow().clone();
        let mut watch_keys = false;
        let recently_lost = cluster.nodes.values().any(|n| {
            n.state == PeerState::Lost && n.last_seen_ms.is_some_and(|ms| ms < KEY_WATCH_MS)
        });
        let me = self.node.nodename.as_str();
        let version = env!("CARGO_PKG_VERSION");
        let rejoin = cluster.rejoin.clone().unwrap_or(Rejoin {
            done: true,
            waiting_for: Vec::new(),
            remaining_ms: 0,
        });
        let now = Instant::now();
        let cluster_size = self.node.cluster_nodes().len();
        states.retain(|k, _| services.contains_key(k));
        let mut local = Local::new();
        for (name, view) in services.iter() {
            let Some(cfg) = &view.orch else { continue };
            let st = states.entry(name.clone()).or_insert_with(|| SvcState {
                memory: marks::load_memory(&self.root, name),
                first_look: true,
                ..SvcState::default()
            });
            // Read by the monitor's pass: after a plan, nothing is decided before the next.
            let start_failed = view.start_failed.clone();
            let action = st.in_flight.map(str::to_string);
            st.target =
                requests::newest_target(st.target.take(), st.target_done, &cluster, me, name);
            st.freeze = requests::newest_freeze(st.freeze, &cluster, me, name);
            local.insert(
                name.clone(),
                LocalSvc {
                    start_failed: start_failed.is_some(),
                    action: action.clone(),
                    target: st.target.clone(),
                    freeze: st.freeze,
                },
            );
            if st
                .settling
                .is_some_and(|t| fresh_since.is_none_or(|f| f <= t))
            {
                continue;
            }
            st.settling = None;
            if let Some((want, gen)) = st.freeze.filter(|f| f.1 > st.freeze_done) {
                if view.frozen == want {
                    st.freeze_done = gen;
                } else if st.in_flight.is_none() {
                    st.in_flight = Some(if want { "freeze" } else { "thaw" });
                    self.launch(name, Plan::Freeze(want), done_tx.clone());
                }
            }
            let mut facts = peer_facts(&cluster, me, name);
            facts.insert(
                me.to_string(),
                NodeFacts {
                    state: PeerState::Up,
                    version: Some(version.to_string()),
                    svc: Some(SvcOnNode {
                        running: view.running,
                        frozen: view.frozen,
                        start_failed: start_failed.is_some(),
                        action,
                    }),
                },
            );
            let fence_failed = st
                .fence_failed
                .as_ref()
                .filter(|(_, at, _)| *at > now)
                .map(|(e, at, _)| (e.as_str(), at.duration_since(now).as_secs() + 1));
            let input = decide::Input {
                me,
                version,
                cfg,
                facts: &facts,
                cluster_size,
                rejoin: &rejoin,
                memory: &st.memory,
                first_look: st.first_look,
                fence_failed,
                heartbeats_off: cluster.disabled.as_deref(),
                target: st.target.as_ref().map(|t| t.0.as_str()),
            };
            watch_keys |= cfg.fenced && view.running && recently_lost;
            if let Some(why) = decide::stand_down(&input, &view.preempted) {
                tracing::error!(
                    "orchestrator: {name}: {why}: freezing it here, stopping its address, then \
                     the rest"
                );
                let mut ev = Event::new("orchestrator", Some(name));
                ev.message = Some(format!("{why}: stopping here"));
                let _ = self.events.send(ev);
                st.in_flight = Some("stop");
                self.launch(name, Plan::StandDown, done_tx.clone());
            }
            let mut verdict = decide::decide(&input);
            if let Some(outcome) = requests::target_outcome(&input) {
                let (t, gen) = st.target.take().expect("a target");
                st.target_done = gen;
                match outcome {
                    requests::TargetOutcome::Reached => {
                        tracing::info!("orchestrator: {name}: switch to {t} done")
                    }
                    requests::TargetOutcome::Failed => {
                        tracing::warn!(
                            "orchestrator: {name}: switch to {t} given up: the start failed there"
                        );
                        // The target is the owner whose start failed: the others take it.
                        st.memory.owner = Some(t);
                        st.memory.owner_up = false;
                        marks::save_memory(&self.root, name, &st.memory);
                    }
                }
            }
            // The first look lasts until its start is launched or no start is due.
            if rejoin.done && !matches!(verdict, Verdict::Start { .. }) {
                st.first_look = false;
            }
            remember_owner(&self.root, name, &mut st.memory, &facts);
            let ready = self.node.ready_period();
            let mut line = verdict.describe();
            if let Verdict::Start { fence, .. } = &verdict {
                let since = *st.pending.get_or_insert(now);
                if st.in_flight.is_none() && now.duration_since(since) >= ready {
                    st.in_flight = Some("start");
                    st.first_look = false;
                    line = format!("{line} (starting)");
                    self.launch(name, Plan::Start(fence.clone()), done_tx.clone());
                } else {
                    let left = ready.saturating_sub(now.duration_since(since));
                    line = format!("{line} (ready wait, {} ms left)", left.as_millis());
                }
            } else {
                st.pending = None;
            }
            let launched = matches!(verdict, Verdict::Start { .. })
                || (matches!(verdict, Verdict::Stop { .. }) && st.in_flight.is_none());
            if let (Verdict::Stop { .. }, None) = (&verdict, st.in_flight) {
                st.in_flight = Some("stop");
                line = format!("{line} (stopping)");
                self.launch(name, Plan::Stop, done_tx.clone());
            }
            if let (Some(a), false) = (st.in_flight, launched) {
                // The plan runs: its own verdict comes with the next status.
                verdict = Verdict::Idle {
                    why: format!("{a} running here"),
                };
                line = verdict.describe();
            }
            let changed = st.view.as_ref().is_none_or(|v| v.verdict != verdict);
            if changed {
                tracing::info!("orchestrator: {name}: {line}");
                let mut ev = Event::new("orchestrator", Some(name));
                ev.message = Some(line.clone());
                let _ = self.events.send(ev);
            }
            let since = match (&st.view, changed) {
                (Some(v), false) => v.since.clone(),
                _ => now_rfc3339(),
            };
            st.view = Some(DecisionView {
                svc: name.clone(),
                orchestrate: mode_word(cfg.mode).into(),
                verdict,
                line,
                since,
                owner: st.memory.owner.clone(),
                start_failed,
            });
        }
        self.local.send_if_modified(|cur| {
            if **cur == local {
                return false;
            }
            *cur = Arc::new(local);
            true
        });
        watch_keys
    }

    fn launch(&self, svc: &str, plan: Plan, done_tx: mpsc::Sender<Done>) {
        let actions = self.actions.clone();
        let svc = svc.to_string();
        tokio::spawn(async move {
            let _ = done_tx
                .send(plan::carry_out(&actions, svc, plan).await)
                .await;
        });
    }

    fn finished(&self, states: &mut BTreeMap<String, SvcState>, d: Done) {
        let Some(st) = states.get_mut(&d.svc) else {
            return;
        };
        st.in_flight = None;
        st.pending = None;
        st.settling = Some(std::time::Instant::now());
        self.monitor.refresh();
        let times = d
            .steps
            .iter()
            .map(|s| format!("{} {} ms", s.action, s.took.as_millis()))
            .collect::<Vec<_>>()
            .join(", ");
        let failed = d.steps.iter().position(|s| s.code != 0);
        let Some(i) = failed else {
            st.fence_failed = None;
            match &d.plan {
                Plan::Start(_) => tracing::info!("orchestrator: {}: started here ({times})", d.svc),
                Plan::Stop => tracing::info!("orchestrator: {}: stopped here ({times})", d.svc),
                Plan::Freeze(_) => tracing::info!("orchestrator: {}: {times}", d.svc),
                Plan::StandDown => tracing::warn!(
                    "orchestrator: {}: stopped and frozen here ({times}); `svcmgr -s {} thaw` \
                     once the other node's ownership is checked",
                    d.svc,
                    d.svc
                ),
            }
            return;
        };
        let step = &d.steps[i];
        if let Some(u) = &d.undo {
            let how = if u.code == 0 {
                "done".to_string()
            } else {
                format!("failed (exit {}: {})", u.code, u.detail)
            };
            tracing::warn!(
                "orchestrator: {}: undo after the failed {}: {} {how}",
                d.svc,
                step.action,
                u.action
            );
        }
        match &d.plan {
            // The first step of a fenced start is the fencing: retried, with a backoff.
            Plan::Start(Fence::Reservation { lost }) if i == 0 => {
                let n = st.fence_failed.as_ref().map_or(0, |f| f.2) + 1;
                let wait = (Duration::from_secs(1) * 2u32.pow(n.min(6) - 1)).min(FENCE_RETRY_MAX);
                tracing::error!(
                    "orchestrator: {}: fencing {lost} failed (attempt {n}, next in {} s): {}",
                    d.svc,
                    wait.as_secs(),
                    step.detail
                );
                st.fence_failed = Some((step.detail.clone(), Instant::now() + wait, n));
            }
            Plan::Start(_) => {
                tracing::error!(
                    "orchestrator: {}: start failed here ({}: exit {}: {}); this node is no \
                     candidate until `svcmgr -s {} clear`",
                    d.svc,
                    step.action,
                    step.code,
                    step.detail,
                    d.svc
                );
                marks::save_start_failed(&self.root, &d.svc, &step.detail);
            }
            Plan::Freeze(_) => tracing::error!(
                "orchestrator: {}: the cluster-wide {} failed here (exit {}: {})",
                d.svc,
                step.action,
                step.code,
                step.detail
            ),
            Plan::Stop => tracing::error!(
                "orchestrator: {}: the stop for the switch failed here ({}: exit {}: {})",
                d.svc,
                step.action,
                step.code,
                step.detail
            ),
            Plan::StandDown => tracing::error!(
                "orchestrator: {}: could not stop it here after losing the reservation ({}: \
                 exit {}: {})",
                d.svc,
                step.action,
                step.code,
                step.detail
            ),
        }
    }
}

/// The peers' word on `svc`, from their last beats.
fn peer_facts(cluster: &ClusterView, me: &str, svc: &str) -> BTreeMap<String, NodeFacts> {
    cluster
        .nodes
        .iter()
        .filter(|(n, _)| n.as_str() != me)
        .map(|(n, v)| {
            let s = v
                .services
                .iter()
                .find(|s| s.name == svc)
                .map(|s| SvcOnNode {
                    running: s.running,
                    frozen: s.frozen,
                    start_failed: s.start_failed,
                    action: (!s.action.is_empty()).then(|| s.action.clone()),
                });
            (
                n.clone(),
                NodeFacts {
                    state: v.state,
                    version: v.version.clone(),
                    svc: s,
                },
            )
        })
        .collect()
}

/// The owner is the node running it (the first by name if several do); one heard saying it
/// stopped it keeps the title with `owner_up = false`; a lost one keeps what it had. Saved
/// when it changes.
fn remember_owner(root: &Root, svc: &str, m: &mut Memory, facts: &BTreeMap<String, NodeFacts>) {
    let heard = |f: &NodeFacts| matches!(f.state, PeerState::Up | PeerState::Maintenance);
    let running = |f: &NodeFacts| heard(f) && f.svc.as_ref().is_some_and(|s| s.running);
    let before = m.clone();
    if let Some((n, _)) = facts.iter().find(|(_, f)| running(f)) {
        m.owner = Some(n.clone());
        m.owner_up = true;
    } else if let Some(f) = m.owner.as_ref().and_then(|o| facts.get(o)) {
        // Only the owner's own word that it is down: a daemon that just started sends no
        // service before its first evaluation.
        if heard(f) && f.svc.is_some() {
            m.owner_up = false;
        }
    }
    if *m != before {
        marks::save_memory(root, svc, m);
    }
}

fn mode_word(m: svcconf::Orchestrate) -> &'static str {
    match m {
        svcconf::Orchestrate::No => "no",
        svcconf::Orchestrate::Start => "start",
        svcconf::Orchestrate::Ha => "ha",
    }
}
