//! The action intent: `R/var/services/<svc>/action.json`, written before an action acts and
//! removed when it has ended (done or failed), so an agent killed in the middle leaves a
//! record of what it was doing: the action, its pid and start time, the resource it was on
//! and the commands it was running. `print status` and the next action report it. An action
//! that ended leaves its record, with the time it ended, in `last_action.json`: the daemon's
//! monitor tells an operator's action from its own by it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use resources::exec::{self, Running};
use serde::{Deserialize, Serialize};

use crate::paths::{write_atomic, Root};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub action: String,
    pub pid: u32,
    /// Seconds since the epoch.
    pub started: u64,
    /// The resource being acted on.
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub children: Vec<Child>,
    /// Set when the action was interrupted (SIGINT/SIGTERM) and stopped early.
    #[serde(default)]
    pub interrupted: bool,
    /// Seconds since the epoch; set in `last_action.json` only.
    #[serde(default)]
    pub ended: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Child {
    pub pid: u32,
    pub argv: String,
}

/// The intent of the action this process runs, and where it is kept.
static CURRENT: Mutex<Option<(PathBuf, Intent)>> = Mutex::new(None);

fn save(path: &Path, i: &Intent) {
    if let Ok(json) = serde_json::to_vec_pretty(i) {
        if let Err(e) = write_atomic(path, &json) {
            tracing::warn!("can not write the action intent {}: {e}", path.display());
        }
    }
}

fn update(f: impl FnOnce(&mut Intent)) {
    let mut cur = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((path, i)) = cur.as_mut() {
        f(i);
        save(path, i);
    }
}

fn children_changed(live: &[Running]) {
    update(|i| {
        i.children = live
            .iter()
            .map(|r| Child {
                pid: r.pid,
                argv: r.argv.clone(),
            })
            .collect()
    });
}

pub fn path(root: &Root, svc: &str) -> PathBuf {
    root.svc_var(svc).join("action.json")
}

fn last_path(root: &Root, svc: &str) -> PathBuf {
    root.svc_var(svc).join("last_action.json")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The action running or interrupted now, else the last one that ended.
pub fn latest(root: &Root, svc: &str) -> Option<Intent> {
    read(root, svc).or_else(|| {
        let text = std::fs::read(last_path(root, svc)).ok()?;
        serde_json::from_slice(&text).ok()
    })
}

/// The intent left by an earlier action, if any.
pub fn read(root: &Root, svc: &str) -> Option<Intent> {
    let text = std::fs::read(path(root, svc)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Record that `action` begins; the record lasts until [`Recorded::finish`].
pub fn begin(root: &Root, svc: &str, action: &str) -> Recorded {
    exec::observe(children_changed);
    let i = Intent {
        action: action.to_string(),
        pid: std::process::id(),
        started: now(),
        step: None,
        children: Vec::new(),
        interrupted: false,
        ended: None,
    };
    let p = path(root, svc);
    save(&p, &i);
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some((p, i));
    Recorded
}

/// The resource the action is on now.
pub fn step(rid: &str) {
    update(|i| i.step = Some(rid.to_string()));
}

/// An action's intent, on disk while it runs (kept in [`CURRENT`]).
#[must_use]
pub struct Recorded;

impl Recorded {
    /// The action ended. Interrupted, its record stays (marked so); otherwise it goes.
    pub fn finish(self) {
        let mut cur = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
        let Some((path, mut i)) = cur.take() else {
            return;
        };
        if exec::cancelled() {
            i.interrupted = true;
            save(&path, &i);
            return;
        }
        i.ended = Some(now());
        i.children.clear();
        if let Some(dir) = path.parent() {
            save(&dir.join("last_action.json"), &i);
        }
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("can not remove {}: {e}", path.display());
            }
        }
    }
}

/// Whether `pid` is a live process (not a zombie).
pub fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
    !stat.is_empty() && state != Some('Z')
}

impl Intent {
    /// `interrupted start (pid 1234, 12:03:01)`, `start running (pid …)`, with where it
    /// stopped and what it left running.
    pub fn describe(&self) -> String {
        let at = chrono::DateTime::from_timestamp(self.started as i64, 0)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        let running = self.running();
        let mut s = if running {
            format!("{} running (pid {}, since {at})", self.action, self.pid)
        } else {
            format!("interrupted {} (pid {}, {at})", self.action, self.pid)
        };
        if let Some(step) = self.step.as_deref().filter(|_| !running) {
            s.push_str(&format!(" at {step}"));
        }
        let left: Vec<String> = self
            .children
            .iter()
            .filter(|c| !running && alive(c.pid))
            .map(|c| format!("{} (pid {})", c.argv, c.pid))
            .collect();
        if !left.is_empty() {
            s.push_str(&format!("; still running: {}", left.join(", ")));
        }
        s
    }

    /// What tells this action from any other: `pid started action`.
    pub fn key(&self) -> String {
        format!("{} {} {}", self.pid, self.started, self.action)
    }

    /// Whether the action that wrote it still runs.
    pub fn running(&self) -> bool {
        alive(self.pid) && !self.interrupted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(pid: u32, interrupted: bool) -> Intent {
        Intent {
            action: "start".into(),
            pid,
            started: 0,
            step: Some("fs#1".into()),
            children: vec![Child {
                pid: std::process::id(),
                argv: "e2fsck -p /dev/vg/lv".into(),
            }],
            interrupted,
            ended: None,
        }
    }

    #[test]
    fn describes_a_running_and_an_interrupted_action() {
        let me = std::process::id();
        let d = intent(me, false).describe();
        assert!(
            d.starts_with(&format!("start running (pid {me}, since ")),
            "{d}"
        );
        assert!(!d.contains("still running"), "{d}");
        // A dead pid, or a pid that said it was interrupted: where it stopped, and the
        // command it left (this test process stands for a live e2fsck).
        for i in [intent(u32::MAX - 1, false), intent(me, true)] {
            let d = i.describe();
            assert!(d.starts_with("interrupted start (pid "), "{d}");
            assert!(
                d.ends_with(&format!(
                    " at fs#1; still running: e2fsck -p /dev/vg/lv (pid {me})"
                )),
                "{d}"
            );
        }
    }

    #[test]
    fn an_intent_round_trips_and_tolerates_missing_fields() {
        let i = intent(7, false);
        let back: Intent = serde_json::from_str(&serde_json::to_string(&i).unwrap()).unwrap();
        assert_eq!(back, i);
        let old: Intent = serde_json::from_str(r#"{"action":"stop","pid":3,"started":5}"#).unwrap();
        assert_eq!((old.step, old.children.len()), (None, 0));
    }

    #[test]
    fn an_ended_action_is_the_latest_until_the_next_begins() {
        let d = std::env::temp_dir().join(format!("svcmgr-intent-{}", std::process::id()));
        let root = Root::under(&d);
        assert!(latest(&root, "web").is_none());
        let rec = begin(&root, "web", "stop");
        let running = latest(&root, "web").expect("running");
        assert_eq!((running.action.as_str(), running.ended), ("stop", None));
        assert!(running
            .key()
            .starts_with(&format!("{} ", std::process::id())));
        rec.finish();
        assert!(read(&root, "web").is_none(), "action.json stays");
        let last = latest(&root, "web").expect("last");
        assert_eq!(last.key(), running.key());
        assert!(last.ended.is_some());
        let _ = std::fs::remove_dir_all(&d);
    }
}
