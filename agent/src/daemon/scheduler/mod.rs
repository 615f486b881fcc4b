//! Scheduled tasks of each service: `sync` (`syncnodes`, by `sync_schedule`, default
//! `04:00-06:00`, on services with more than one node; syncnodes itself pushes only where the
//! service is up and inside `sync_period`) and `status` (refresh the status cache, by
//! `status_schedule`, default `@10m`). The last run and result of each task are kept in
//! `R/var/services/<svc>/schedule.json`; `print schedule` shows them with the next run.
//! A task still running is not started again.

pub mod grammar;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::actions::{ActionsHandle, Origin};
use crate::paths::{write_atomic, Root};
use crate::service::Service;

/// How often the scheduler looks at the clock.
const TICK: Duration = Duration::from_secs(5);
const TIME_FMT: &str = "%Y-%m-%d %H:%M:%S";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Sync,
    Status,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Sync => "sync",
            Task::Status => "status",
        }
    }
    pub fn keyword(self) -> &'static str {
        match self {
            Task::Sync => "sync_schedule",
            Task::Status => "status_schedule",
        }
    }
    fn default_schedule(self) -> &'static str {
        match self {
            Task::Sync => "04:00-06:00",
            Task::Status => "@10m",
        }
    }
}

/// One task of a service as configured.
#[derive(Debug, Clone)]
pub struct TaskDef {
    pub task: Task,
    pub text: String,
    pub schedule: Result<grammar::Schedule, grammar::ScheduleError>,
}

/// The tasks of a loaded service.
pub fn tasks(s: &Service) -> Vec<TaskDef> {
    let mut v = Vec::new();
    let mut add = |task: Task| {
        let text = match s.cfg.defaults.get(task.keyword()).map(|x| &x.value) {
            Some(svcconf::Value::Str(t)) => t.clone(),
            _ => task.default_schedule().to_string(),
        };
        v.push(TaskDef {
            task,
            schedule: grammar::parse(&text),
            text,
        });
    };
    if s.cfg.all_nodes().len() > 1 {
        add(Task::Sync);
    }
    add(Task::Status);
    v
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskState {
    pub last_run: Option<String>,
    pub last_result: Option<String>,
}

pub type States = BTreeMap<String, TaskState>;

fn state_file(root: &Root, svc: &str) -> std::path::PathBuf {
    root.svc_var(svc).join("schedule.json")
}

pub fn load_states(root: &Root, svc: &str) -> States {
    std::fs::read(state_file(root, svc))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn parse_time(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, TIME_FMT).ok()
}

/// A stable per-task number: where a `~` range puts the task.
pub fn seed(svc: &str, task: Task) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in svc.bytes().chain(task.name().bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The next run of `def` for `svc`, or why there is none.
pub fn next_run(
    def: &TaskDef,
    svc: &str,
    st: &TaskState,
    now: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, String> {
    let sch = def.schedule.as_ref().map_err(|e| e.to_string())?;
    let last = st.last_run.as_deref().and_then(parse_time);
    Ok(sch.next(now, last, seed(svc, def.task)))
}

/// `print schedule`: one line per task.
/// One line of `print schedule`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleRow {
    pub action: String,
    pub keyword: String,
    pub schedule: String,
    pub last_run: Option<String>,
    /// The next run's local time, `never`, or why it can not be computed.
    pub next_run: String,
    pub last_result: Option<String>,
}

pub fn rows(svc: &str, defs: &[TaskDef], states: &States, now: NaiveDateTime) -> Vec<ScheduleRow> {
    defs.iter()
        .map(|d| {
            let st = states.get(d.task.name()).cloned().unwrap_or_default();
            let next_run = match next_run(d, svc, &st, now) {
                Ok(Some(t)) => t.format(TIME_FMT).to_string(),
                Ok(None) => "never".into(),
                Err(e) => e,
            };
            ScheduleRow {
                action: d.task.name().into(),
                keyword: d.task.keyword().into(),
                schedule: d.text.clone(),
                last_run: st.last_run,
                next_run,
                last_result: st.last_result,
            }
        })
        .collect()
}

pub fn render(svc: &str, defs: &[TaskDef], states: &States, now: NaiveDateTime) -> String {
    let mut out = format!(
        "{:<8} {:<16} {:<26} {:<20} {:<20} {}\n",
        "ACTION", "KEYWORD", "SCHEDULE", "LAST RUN", "NEXT RUN", "LAST RESULT"
    );
    for r in rows(svc, defs, states, now) {
        out.push_str(&format!(
            "{:<8} {:<16} {:<26} {:<20} {:<20} {}\n",
            r.action,
            r.keyword,
            r.schedule,
            r.last_run.as_deref().unwrap_or("-"),
            r.next_run,
            r.last_result.as_deref().unwrap_or("-")
        ));
    }
    out
}

/// What the scheduler publishes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchedulerHealth {
    pub runs: u64,
    pub running: usize,
}

struct Finished {
    svc: String,
    task: Task,
    started: NaiveDateTime,
    result: String,
}

pub fn spawn(
    root: Root,
    actions: ActionsHandle,
    token: CancellationToken,
) -> (
    watch::Receiver<SchedulerHealth>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = watch::channel(SchedulerHealth::default());
    (rx, tokio::spawn(run(root, actions, token, tx)))
}

async fn run(
    root: Root,
    actions: ActionsHandle,
    token: CancellationToken,
    health: watch::Sender<SchedulerHealth>,
) {
    let (done_tx, mut done_rx) = mpsc::channel::<Finished>(64);
    let mut running: BTreeSet<(String, &'static str)> = BTreeSet::new();
    let mut h = SchedulerHealth::default();
    let mut warned: BTreeMap<(String, &'static str), String> = BTreeMap::new();
    loop {
        tokio::select! {
            biased;
            _ = token.cancelled() => break,
            Some(f) = done_rx.recv() => {
                running.remove(&(f.svc.clone(), f.task.name()));
                let r = root.clone();
                let _ = tokio::task::spawn_blocking(move || record(&r, &f)).await;
                h.running = running.len();
                health.send_replace(h.clone());
                continue;
            }
            _ = tokio::time::sleep(TICK) => {}
        }
        let r = root.clone();
        let due = tokio::task::spawn_blocking(move || due_tasks(&r))
            .await
            .unwrap_or_default();
        for (svc, def, result) in due {
            let key = (svc.clone(), def.task.name());
            if let Err(e) = result {
                // Said once per distinct error, not every tick.
                if warned.get(&key) != Some(&e) {
                    let _s = crate::logging::service_span(&svc).entered();
                    tracing::warn!("scheduler: {}: {e}", def.task.keyword());
                    warned.insert(key, e);
                }
                continue;
            }
            warned.remove(&key);
            if running.contains(&key) {
                continue;
            }
            running.insert(key);
            h.runs += 1;
            let started = chrono::Local::now().naive_local();
            let (actions, root, done) = (actions.clone(), root.clone(), done_tx.clone());
            tokio::spawn(async move {
                let result = match def.task {
                    Task::Sync => match actions
                        .run(&svc, vec!["syncnodes".into()], Origin::Scheduler)
                        .await
                    {
                        Ok(o) if o.code == 0 => "ok".to_string(),
                        Ok(o) => format!("failed (exit {})", o.code),
                        Err(e) => format!("not run: {e}"),
                    },
                    Task::Status => {
                        let name = svc.clone();
                        match tokio::task::spawn_blocking(move || {
                            super::evaluate::evaluate(&root, &name)
                        })
                        .await
                        {
                            Ok(ev) => match ev.status {
                                Ok(st) => format!("ok ({})", st.overall.as_str()),
                                Err(e) => format!("failed: {e}"),
                            },
                            Err(_) => "failed".into(),
                        }
                    }
                };
                let _ = done
                    .send(Finished {
                        svc,
                        task: def.task,
                        started,
                        result,
                    })
                    .await;
            });
        }
        h.running = running.len();
        health.send_replace(h.clone());
    }
}

/// Every task whose next run is now or past (or whose schedule is invalid: `Err`).
fn due_tasks(root: &Root) -> Vec<(String, TaskDef, Result<(), String>)> {
    let now = chrono::Local::now().naive_local();
    let mut out = Vec::new();
    for svc in root.services() {
        let Ok(s) = Service::load_readonly(root, &svc) else {
            continue;
        };
        let states = load_states(root, &svc);
        for def in tasks(&s) {
            let st = states.get(def.task.name()).cloned().unwrap_or_default();
            match next_run(&def, &svc, &st, now) {
                Ok(Some(t)) if t <= now => out.push((svc.clone(), def, Ok(()))),
                Ok(_) => {}
                Err(e) => out.push((svc.clone(), def, Err(e))),
            }
        }
    }
    out
}

fn record(root: &Root, f: &Finished) {
    let mut states = load_states(root, &f.svc);
    states.insert(
        f.task.name().to_string(),
        TaskState {
            last_run: Some(f.started.format(TIME_FMT).to_string()),
            last_result: Some(f.result.clone()),
        },
    );
    if let Ok(text) = serde_json::to_vec_pretty(&states) {
        let _ = write_atomic(&state_file(root, &f.svc), &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_and_next_runs() {
        let now = NaiveDateTime::parse_from_str("2026-12-03 12:00:00", TIME_FMT).unwrap();
        let defs = vec![
            TaskDef {
                task: Task::Sync,
                text: "04:00-06:00".into(),
                schedule: grammar::parse("04:00-06:00"),
            },
            TaskDef {
                task: Task::Status,
                text: "bogus".into(),
                schedule: grammar::parse("bogus"),
            },
        ];
        let mut states = States::new();
        states.insert(
            "sync".into(),
            TaskState {
                last_run: Some("2026-12-03 04:30:00".into()),
                last_result: Some("ok".into()),
            },
        );
        let out = render("web", &defs, &states, now);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[1],
            format!(
                "{:<8} {:<16} {:<26} {:<20} {:<20} ok",
                "sync",
                "sync_schedule",
                "04:00-06:00",
                "2026-12-03 04:30:00",
                "2026-12-04 04:00:00"
            ),
            "{out}"
        );
        assert!(
            lines[2].contains("bad schedule 'bogus': bad time 'bogus' (HH:MM)"),
            "{out}"
        );
        assert_ne!(seed("web", Task::Sync), seed("web", Task::Status));
    }
}
