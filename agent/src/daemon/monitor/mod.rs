//! The monitor task: every `monitor_interval` (sooner when a restart waits for its
//! `restart_delay`), evaluate every service, feed each one's [`machine::SvcMon`], carry out
//! its decisions through the actions runner, publish the services' view and the loop's
//! health. It owns the monitor state; others read what it publishes.

pub mod machine;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, watch, Semaphore};
use tokio_util::sync::CancellationToken;

use self::machine::{Decision, MonitorAction, Observation, SvcMon};
use super::actions::{ActionsHandle, Origin};
use super::evaluate::{evaluate_in_pass, next_node, Evaluation};
use super::state::{
    now_rfc3339, Event, LastAction, MonitorHealth, MonitorView, Persisted, ServiceView, Services,
};
use crate::paths::{write_atomic, Root};

/// Services evaluated at once.
const EVAL_PARALLEL: usize = 4;
/// Version of `monitor.json`.
const PERSIST_VERSION: u32 = 1;

/// What the monitor publishes.
#[derive(Debug, Clone)]
pub struct MonitorHandle {
    pub services: watch::Receiver<Arc<Services>>,
    pub health: watch::Receiver<MonitorHealth>,
    /// Asks for an evaluation pass now (after an action the monitor did not run itself).
    pub refresh: mpsc::Sender<()>,
}

impl MonitorHandle {
    /// A pass soon; a request already queued covers this one too.
    pub fn refresh(&self) {
        let _ = self.refresh.try_send(());
    }
}

/// Sent by the watchdog hook each time the loop progresses.
pub type Progress = Box<dyn FnMut() + Send>;

pub struct Monitor {
    pub root: Root,
    pub interval: Duration,
    pub actions: ActionsHandle,
    pub events: broadcast::Sender<Event>,
    pub token: CancellationToken,
    /// Called whenever the loop made progress (an evaluation done): the systemd watchdog.
    pub progress: Progress,
}

/// A decision carried out, reported back to the loop.
struct Done {
    svc: String,
    ok: bool,
    pids: Vec<u32>,
    result: String,
}

struct Entry {
    mon: SvcMon,
    seen_record: Option<String>,
    /// False until the first look: that one sets the baseline of `seen_record`.
    looked: bool,
    persisted: String,
    cfg: machine::SvcCfg,
    view: Option<ServiceView>,
}

impl Monitor {
    /// Start the loop; `first` is told once the first evaluation of every service is done.
    pub fn spawn(
        self,
        first: tokio::sync::oneshot::Sender<()>,
    ) -> (MonitorHandle, tokio::task::JoinHandle<()>) {
        let (svc_tx, svc_rx) = watch::channel(Arc::new(Services::new()));
        let (h_tx, h_rx) = watch::channel(MonitorHealth {
            interval_ms: self.interval.as_millis() as u64,
            ..MonitorHealth::default()
        });
        let (r_tx, r_rx) = mpsc::channel(1);
        let task = tokio::spawn(self.run(svc_tx, h_tx, r_rx, first));
        (
            MonitorHandle {
                services: svc_rx,
                health: h_rx,
                refresh: r_tx,
            },
            task,
        )
    }

    async fn run(
        mut self,
        svc_tx: watch::Sender<Arc<Services>>,
        h_tx: watch::Sender<MonitorHealth>,
        mut refresh: mpsc::Receiver<()>,
        first: tokio::sync::oneshot::Sender<()>,
    ) {
        let epoch = Instant::now();
        let now_ms = move || epoch.elapsed().as_millis() as u64;
        let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
        let mut own_pids: VecDeque<u32> = VecDeque::new();
        let (done_tx, mut done_rx) = mpsc::channel::<Done>(64);
        let mut first = Some(first);
        let mut deadline = tokio::time::Instant::now();
        let mut health = h_tx.borrow().clone();
        loop {
            let wake = earliest(&entries, now_ms(), epoch).map_or(deadline, |w| w.min(deadline));
            tokio::select! {
                // A finished decision first: the next look must know its pids.
                biased;
                _ = self.token.cancelled() => break,
                Some(d) = done_rx.recv() => {
                    self.finished(&mut entries, &mut own_pids, d, now_ms());
                    publish(&svc_tx, &entries);
                    continue;
                }
                _ = tokio::time::sleep_until(wake) => {}
                Some(()) = refresh.recv() => {}
            }
            let woke = tokio::time::Instant::now();
            let lag = woke.saturating_duration_since(wake);
            let evals = self.evaluate_all().await;
            let names: BTreeSet<String> = evals.iter().map(|e| e.svc.clone()).collect();
            entries.retain(|k, _| names.contains(k));
            for ev in evals {
                let e = entries
                    .entry(ev.svc.clone())
                    .or_insert_with(|| load_entry(&self.root, &ev.svc));
                self.step(e, &ev, &own_pids, now_ms(), &done_tx);
            }
            publish(&svc_tx, &entries);
            if woke >= deadline {
                deadline = woke + self.interval;
            }
            health.ticks += 1;
            health.lag_ms = lag.as_millis() as u64;
            health.eval_ms = woke.elapsed().as_millis() as u64;
            health.last_tick = Some(now_rfc3339());
            health.pass_started = Some(woke.into_std());
            h_tx.send_replace(health.clone());
            (self.progress)();
            if let Some(f) = first.take() {
                let _ = f.send(());
            }
        }
    }

    async fn evaluate_all(&mut self) -> Vec<Evaluation> {
        let names = self.root.services();
        let slots = Arc::new(Semaphore::new(EVAL_PARALLEL));
        // One snapshot of the node's state for the whole pass: each system tool is asked
        // once, not once per service.
        let cache = Arc::new(resources::ctx::QueryCache::default());
        let mut set = tokio::task::JoinSet::new();
        for name in names {
            let root = self.root.clone();
            let slots = slots.clone();
            let cache = cache.clone();
            set.spawn(async move {
                let _slot = slots.acquire_owned().await;
                tokio::task::spawn_blocking(move || evaluate_in_pass(&root, &name, cache)).await
            });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            // A status computation that panicked is skipped this time (and counted in logs).
            match r {
                Ok(Ok(ev)) => out.push(ev),
                _ => tracing::error!("monitor: a service evaluation failed"),
            }
            (self.progress)();
        }
        out.sort_by(|a, b| a.svc.cmp(&b.svc));
        out
    }

    fn step(
        &self,
        e: &mut Entry,
        ev: &Evaluation,
        own_pids: &VecDeque<u32>,
        now: u64,
        done_tx: &mpsc::Sender<Done>,
    ) {
        let prev = e.view.clone();
        let st = match &ev.status {
            Ok(st) => st,
            Err(msg) => {
                e.view = Some(error_view(ev, msg));
                return;
            }
        };
        e.cfg = ev.cfg.clone();
        let acted_on = e.looked
            && !ev.busy
            && ev.record != e.seen_record
            && ev.record.as_deref().is_some_and(|r| !by(r, own_pids));
        if !ev.busy {
            e.seen_record = ev.record.clone();
        }
        e.looked = true;
        let statuses = ev.statuses();
        let obs = Observation {
            now,
            frozen: st.frozen,
            avail: st.avail,
            resources: &statuses,
            busy: ev.busy,
            acted_on,
        };
        let decisions = e.mon.observe(&e.cfg, &obs);
        for d in decisions {
            self.carry_out(e, ev, d, done_tx.clone());
        }
        let view = ServiceView {
            svcname: st.svcname.clone(),
            nodename: st.nodename.clone(),
            avail: st.avail,
            overall: st.overall,
            frozen: st.frozen,
            error: None,
            monitor: e.mon.view(&e.cfg, st.frozen),
            running: ev.running(),
            start_failed: ev.start_failed.clone(),
            preempted: ev.preempted(),
            orch: ev.orch.clone(),
        };
        if prev.as_ref().map(|p| (p.avail, p.overall, p.frozen))
            != Some((view.avail, view.overall, view.frozen))
        {
            let mut evt = Event::new("status", Some(&ev.svc));
            evt.avail = Some(view.avail);
            evt.overall = Some(view.overall);
            evt.message = st.frozen.then(|| "frozen".to_string());
            let _ = self.events.send(evt);
        }
        e.view = Some(view);
        persist(&self.root, &ev.svc, e);
    }

    fn carry_out(&self, e: &mut Entry, ev: &Evaluation, d: Decision, done_tx: mpsc::Sender<Done>) {
        let svc = ev.svc.clone();
        let what = d.describe();
        {
            let _span = crate::logging::service_span(&svc).entered();
            match &d {
                Decision::Restart { rid, attempt, of } => {
                    tracing::warn!(rid = rid.as_str(), "monitor: down, restart {attempt}/{of}")
                }
                Decision::Apply { action, rid } => tracing::error!(
                    rid = rid.as_str(),
                    "monitor: still down, no restart left: monitor_action {}",
                    action.word()
                ),
            }
        }
        let mut evt = Event::new("monitor", Some(&svc));
        evt.action = Some(what.clone());
        let _ = self.events.send(evt);
        let steps: Vec<Vec<String>> = match &d {
            Decision::Restart { rid, .. } => vec![args(&["start", "--local", "--rid", rid])],
            Decision::Apply { action, .. } => match action {
                MonitorAction::None => {
                    e.mon.last = Some(LastAction {
                        action: what,
                        result: "logged".into(),
                        at: now_rfc3339(),
                    });
                    return;
                }
                MonitorAction::Freezestop => {
                    vec![args(&["freeze", "--local"]), args(&["stop", "--local"])]
                }
                MonitorAction::Switch => match next_node(&ev.nodes, &ev.nodename) {
                    Some(n) => vec![args(&["switch", "--to", &n])],
                    None => Vec::new(),
                },
                MonitorAction::Reboot | MonitorAction::Crash => Vec::new(),
            },
        };
        e.mon.last = Some(LastAction {
            action: what.clone(),
            result: "running".into(),
            at: now_rfc3339(),
        });
        let actions = self.actions.clone();
        let sysrq = match &d {
            Decision::Apply {
                action: MonitorAction::Reboot,
                ..
            } => Some('b'),
            Decision::Apply {
                action: MonitorAction::Crash,
                ..
            } => Some('c'),
            _ => None,
        };
        let no_target = steps.is_empty() && sysrq.is_none();
        tokio::spawn(async move {
            let mut done = Done {
                svc: svc.clone(),
                ok: true,
                pids: Vec::new(),
                result: "ok".into(),
            };
            if no_target {
                done.ok = false;
                done.result = "no other node to switch to".into();
            }
            if let Some(c) = sysrq {
                done.ok = false;
                done.result = match sysrq_trigger(c).await {
                    Ok(()) => "triggered".into(),
                    Err(e) => format!("failed: /proc/sysrq-trigger: {e}"),
                };
            }
            for a in steps {
                match actions.run(&svc, a, Origin::Monitor).await {
                    Ok(o) => {
                        done.pids.extend(o.pid);
                        if o.code != 0 {
                            done.ok = false;
                            done.result = format!("failed (exit {})", o.code);
                            break;
                        }
                    }
                    Err(e) => {
                        done.ok = false;
                        done.result = format!("not run: {e}");
                        break;
                    }
                }
            }
            let _ = done_tx.send(done).await;
        });
    }

    fn finished(
        &self,
        entries: &mut BTreeMap<String, Entry>,
        own_pids: &mut VecDeque<u32>,
        d: Done,
        now: u64,
    ) {
        for p in &d.pids {
            own_pids.push_back(*p);
            if own_pids.len() > 64 {
                own_pids.pop_front();
            }
        }
        let Some(e) = entries.get_mut(&d.svc) else {
            return;
        };
        let cfg = e.cfg.clone();
        e.mon.done(&cfg, now, d.ok);
        if let Some(last) = e.mon.last.as_mut() {
            last.result = d.result.clone();
        }
        {
            let _span = crate::logging::service_span(&d.svc).entered();
            let what = e.mon.last.as_ref().map_or("", |l| l.action.as_str());
            if d.ok {
                tracing::info!("monitor: {what}: {}", d.result);
            } else {
                tracing::error!("monitor: {what}: {}", d.result);
            }
        }
        if let Some(v) = e.view.as_mut() {
            v.monitor = e.mon.view(&cfg, v.frozen);
        }
        persist(&self.root, &d.svc, e);
    }
}

fn publish(tx: &watch::Sender<Arc<Services>>, entries: &BTreeMap<String, Entry>) {
    let services: Services = entries
        .iter()
        .filter_map(|(k, e)| e.view.clone().map(|v| (k.clone(), v)))
        .collect();
    tx.send_replace(Arc::new(services));
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Whether an intent record `pid started action` is one of the monitor's own actions.
fn by(record: &str, own: &VecDeque<u32>) -> bool {
    record
        .split_whitespace()
        .next()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| own.contains(&p))
}

fn earliest(
    entries: &BTreeMap<String, Entry>,
    now: u64,
    epoch: Instant,
) -> Option<tokio::time::Instant> {
    let ms = entries
        .values()
        .filter_map(|e| e.mon.next_wakeup(now))
        .min()?;
    Some(tokio::time::Instant::from_std(
        epoch + Duration::from_millis(ms),
    ))
}

fn error_view(ev: &Evaluation, msg: &str) -> ServiceView {
    ServiceView {
        svcname: ev.svc.clone(),
        nodename: ev.nodename.clone(),
        avail: resources::Status::Undef,
        overall: resources::Status::Undef,
        frozen: false,
        error: Some(msg.to_string()),
        monitor: MonitorView {
            state: "idle".into(),
            ..MonitorView::default()
        },
        running: false,
        start_failed: None,
        preempted: Vec::new(),
        orch: None,
    }
}

fn monitor_file(root: &Root, svc: &str) -> std::path::PathBuf {
    root.svc_var(svc).join("monitor.json")
}

fn load_entry(root: &Root, svc: &str) -> Entry {
    let p: Option<Persisted> = std::fs::read(monitor_file(root, svc))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|p: &Persisted| p.version == PERSIST_VERSION);
    let looked = p.is_some();
    let p = p.unwrap_or_default();
    Entry {
        mon: p.mon,
        seen_record: p.seen_record,
        looked,
        persisted: String::new(),
        cfg: machine::SvcCfg {
            monitored: Vec::new(),
            action: MonitorAction::None,
        },
        view: None,
    }
}

/// Write `monitor.json` when it changed (temp file and rename).
fn persist(root: &Root, svc: &str, e: &mut Entry) {
    let p = Persisted {
        version: PERSIST_VERSION,
        mon: e.mon.clone(),
        seen_record: e.seen_record.clone(),
    };
    let Ok(text) = serde_json::to_string_pretty(&p) else {
        return;
    };
    if text != e.persisted {
        if let Err(err) = write_atomic(&monitor_file(root, svc), text.as_bytes()) {
            tracing::warn!("monitor: can not save the state of {svc}: {err}");
        }
        e.persisted = text;
    }
}

async fn sysrq_trigger(c: char) -> std::io::Result<()> {
    tracing::error!("monitor: writing '{c}' to /proc/sysrq-trigger");
    tokio::task::spawn_blocking(move || std::fs::write("/proc/sysrq-trigger", c.to_string()))
        .await
        .map_err(std::io::Error::other)?
}
