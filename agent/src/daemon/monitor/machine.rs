//! The monitor's decisions for one service, as pure logic: an observation in, decisions out.
//! The loop around it evaluates status, runs what is decided and reports back with `done`.
//!
//! A service is watched once it has been seen up here (`expect_up`). A monitored resource
//! seen down is restarted up to `restart` times, `restart_delay` apart; when the restarts
//! are used up (at once with `restart = 0`) the service's `monitor_action` is applied, once.
//! A resource that stays up for [`STABLE_MS`] gets its restarts back, so a resource dying
//! right after each restart is not restarted forever. A frozen service, a service an action
//! is running on, and a service an operator acted on since the last look (it is then watched
//! again only once seen up) are left alone.

use std::collections::BTreeMap;

use resources::Status;
use serde::{Deserialize, Serialize};

use crate::daemon::state::{LastAction, MonitorView, RestartsLeft};

/// Milliseconds on the daemon's monotonic clock.
pub type Millis = u64;

/// How long a restarted resource must stay up to get its restarts back.
pub const STABLE_MS: Millis = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorAction {
    None,
    Freezestop,
    Switch,
    Reboot,
    Crash,
}

impl MonitorAction {
    pub fn parse(s: &str) -> MonitorAction {
        match s {
            "freezestop" => MonitorAction::Freezestop,
            "switch" => MonitorAction::Switch,
            "reboot" => MonitorAction::Reboot,
            "crash" => MonitorAction::Crash,
            _ => MonitorAction::None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            MonitorAction::None => "none",
            MonitorAction::Freezestop => "freezestop",
            MonitorAction::Switch => "switch",
            MonitorAction::Reboot => "reboot",
            MonitorAction::Crash => "crash",
        }
    }
}

/// A resource with `monitor = true`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResCfg {
    pub rid: String,
    pub restart: u32,
    pub delay: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SvcCfg {
    pub monitored: Vec<ResCfg>,
    pub action: MonitorAction,
}

#[derive(Debug, Clone)]
pub struct Observation<'a> {
    pub now: Millis,
    pub frozen: bool,
    pub avail: Status,
    /// Every resource's status by rid.
    pub resources: &'a BTreeMap<String, Status>,
    /// An action holds the service lock right now.
    pub busy: bool,
    /// Someone else (an operator, a script) ran an action on the service since the last look.
    pub acted_on: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Restart { rid: String, attempt: u32, of: u32 },
    Apply { action: MonitorAction, rid: String },
}

impl Decision {
    pub fn describe(&self) -> String {
        match self {
            Decision::Restart { rid, .. } => format!("restart {rid}"),
            Decision::Apply { action, .. } => action.word().to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResMon {
    pub restarts_used: u32,
    /// No new try before this time (runtime only).
    #[serde(skip)]
    pub next_try: Millis,
    /// Up continuously since (runtime only).
    #[serde(skip)]
    pub up_since: Option<Millis>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SvcMon {
    pub expect_up: bool,
    pub res: BTreeMap<String, ResMon>,
    /// The decision being carried out.
    #[serde(skip)]
    pub in_flight: Option<Decision>,
    /// The resource whose restarts ran out (the monitor action was applied for it).
    pub failed: Option<String>,
    pub last: Option<LastAction>,
}

fn is_down(s: Status) -> bool {
    matches!(s, Status::Down | Status::StdbyDown)
}

fn is_up(s: Status) -> bool {
    matches!(s, Status::Up | Status::StdbyUp)
}

impl SvcMon {
    pub fn observe(&mut self, cfg: &SvcCfg, obs: &Observation) -> Vec<Decision> {
        if obs.busy || self.in_flight.is_some() {
            return Vec::new();
        }
        if obs.acted_on {
            // The operator's word wins over what the monitor expected.
            self.expect_up = false;
            self.failed = None;
            self.res.clear();
        }
        if obs.avail == Status::Up {
            self.expect_up = true;
        }
        if obs.frozen || !self.expect_up {
            return Vec::new();
        }
        for r in &cfg.monitored {
            let Some(&st) = obs.resources.get(&r.rid) else {
                continue;
            };
            let m = self.res.entry(r.rid.clone()).or_default();
            if is_up(st) {
                let since = *m.up_since.get_or_insert(obs.now);
                if obs.now.saturating_sub(since) >= STABLE_MS {
                    m.restarts_used = 0;
                    if self.failed.as_deref() == Some(&r.rid) {
                        self.failed = None;
                    }
                }
                continue;
            }
            if !is_down(st) {
                continue;
            }
            m.up_since = None;
            if self.failed.is_some() {
                // The monitor action was applied already: not again, not in a loop.
                continue;
            }
            let d = if m.restarts_used < r.restart {
                if obs.now < m.next_try {
                    continue;
                }
                m.restarts_used += 1;
                Decision::Restart {
                    rid: r.rid.clone(),
                    attempt: m.restarts_used,
                    of: r.restart,
                }
            } else {
                self.failed = Some(r.rid.clone());
                Decision::Apply {
                    action: cfg.action,
                    rid: r.rid.clone(),
                }
            };
            // One decision at a time per service: the next look sees its effect.
            if d != (Decision::Apply {
                action: MonitorAction::None,
                rid: r.rid.clone(),
            }) {
                self.in_flight = Some(d.clone());
            }
            return vec![d];
        }
        Vec::new()
    }

    /// The decision in flight ended (`ok`: the action's exit code was 0).
    pub fn done(&mut self, cfg: &SvcCfg, now: Millis, ok: bool) {
        let Some(d) = self.in_flight.take() else {
            return;
        };
        match &d {
            Decision::Restart { rid, .. } => {
                let delay = cfg
                    .monitored
                    .iter()
                    .find(|r| &r.rid == rid)
                    .map_or(0, |r| r.delay);
                let m = self.res.entry(rid.clone()).or_default();
                m.next_try = now + delay;
            }
            Decision::Apply { .. } => {
                if ok {
                    // Stopped here on purpose: nothing to watch until it is up again.
                    self.expect_up = false;
                }
            }
        }
    }

    /// The earliest time a waiting restart may be tried.
    pub fn next_wakeup(&self, now: Millis) -> Option<Millis> {
        self.res
            .values()
            .filter(|m| m.next_try > now)
            .map(|m| m.next_try)
            .min()
    }

    pub fn view(&self, cfg: &SvcCfg, frozen: bool) -> MonitorView {
        let state = if frozen {
            "frozen"
        } else if !self.expect_up {
            "idle"
        } else if self.failed.is_some() {
            "failed"
        } else if self.in_flight.is_some() || self.res.values().any(|m| m.restarts_used > 0) {
            "restarting"
        } else {
            "watching"
        };
        MonitorView {
            state: state.to_string(),
            restarts: cfg
                .monitored
                .iter()
                .map(|r| {
                    let used = self.res.get(&r.rid).map_or(0, |m| m.restarts_used);
                    (
                        r.rid.clone(),
                        RestartsLeft {
                            left: r.restart.saturating_sub(used),
                            of: r.restart,
                        },
                    )
                })
                .collect(),
            last_action: self.last.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::{Down, Up, Warn};

    fn cfg(restart: u32, action: MonitorAction) -> SvcCfg {
        SvcCfg {
            monitored: vec![ResCfg {
                rid: "container#1".into(),
                restart,
                delay: 500,
            }],
            action,
        }
    }

    fn res(st: Status) -> BTreeMap<String, Status> {
        [("ip#1".to_string(), Up), ("container#1".to_string(), st)]
            .into_iter()
            .collect()
    }

    /// One step of a scenario: (time, avail, container status, frozen, busy, acted_on).
    type Step = (Millis, Status, Status, bool, bool, bool);

    fn restart(attempt: u32, of: u32) -> Decision {
        Decision::Restart {
            rid: "container#1".into(),
            attempt,
            of,
        }
    }

    fn apply(action: MonitorAction) -> Decision {
        Decision::Apply {
            action,
            rid: "container#1".into(),
        }
    }

    /// Run the steps; after each decision the action is reported done (ok) at the same time.
    fn run(c: &SvcCfg, steps: &[Step]) -> (SvcMon, Vec<(Millis, Decision)>) {
        let mut m = SvcMon::default();
        let mut out = Vec::new();
        for &(now, avail, st, frozen, busy, acted_on) in steps {
            let r = res(st);
            let obs = Observation {
                now,
                frozen,
                avail,
                resources: &r,
                busy,
                acted_on,
            };
            for d in m.observe(c, &obs) {
                out.push((now, d));
                m.done(c, now, true);
            }
        }
        (m, out)
    }

    #[test]
    fn scenarios() {
        use MonitorAction::*;
        let f = false;
        #[allow(clippy::type_complexity)]
        let table: Vec<(&str, SvcCfg, Vec<Step>, Vec<(Millis, Decision)>, &str)> = vec![
            (
                "never seen up: not touched",
                cfg(3, None),
                vec![(0, Down, Down, f, f, f), (1000, Down, Down, f, f, f)],
                vec![],
                "idle",
            ),
            (
                "seen up, goes down: restarted at once",
                cfg(3, None),
                vec![(0, Up, Up, f, f, f), (1000, Warn, Down, f, f, f)],
                vec![(1000, restart(1, 3))],
                "restarting",
            ),
            (
                "restart_delay between tries, then the action, once",
                cfg(2, Freezestop),
                vec![
                    (0, Up, Up, f, f, f),
                    (1000, Down, Down, f, f, f),
                    (1200, Down, Down, f, f, f),
                    (1500, Down, Down, f, f, f),
                    (2000, Down, Down, f, f, f),
                    (3000, Down, Down, f, f, f),
                    (9000, Down, Down, f, f, f),
                ],
                vec![
                    (1000, restart(1, 2)),
                    (1500, restart(2, 2)),
                    (2000, apply(Freezestop)),
                ],
                "idle",
            ),
            (
                "restart = 0: the action at once; none is applied once and stays failed",
                cfg(0, None),
                vec![
                    (0, Up, Up, f, f, f),
                    (10, Down, Down, f, f, f),
                    (20, Down, Down, f, f, f),
                ],
                vec![(10, apply(None))],
                "failed",
            ),
            (
                "frozen: never touched",
                cfg(3, Switch),
                vec![(0, Up, Up, true, f, f), (10, Down, Down, true, f, f)],
                vec![],
                "frozen",
            ),
            (
                "an action holding the lock: wait for it",
                cfg(3, None),
                vec![(0, Up, Up, f, f, f), (10, Down, Down, f, true, f)],
                vec![],
                "watching",
            ),
            (
                "an operator stopped it: not restarted",
                cfg(3, None),
                vec![(0, Up, Up, f, f, f), (10, Down, Down, f, f, true)],
                vec![],
                "idle",
            ),
            (
                "an operator started it again: watched again",
                cfg(3, None),
                vec![
                    (0, Up, Up, f, f, f),
                    (10, Down, Down, f, f, true),
                    (20, Up, Up, f, f, true),
                    (30, Down, Down, f, f, f),
                ],
                vec![(30, restart(1, 3))],
                "restarting",
            ),
            (
                "stable for a minute: restarts given back",
                cfg(1, Freezestop),
                vec![
                    (0, Up, Up, f, f, f),
                    (10, Down, Down, f, f, f),
                    (1000, Up, Up, f, f, f),
                    (61_000, Up, Up, f, f, f),
                    (62_000, Down, Down, f, f, f),
                ],
                vec![(10, restart(1, 1)), (62_000, restart(1, 1))],
                "restarting",
            ),
            (
                "dies right after each restart: no hot loop",
                cfg(1, None),
                vec![
                    (0, Up, Up, f, f, f),
                    (10, Down, Down, f, f, f),
                    (600, Up, Up, f, f, f),
                    (700, Down, Down, f, f, f),
                    (5000, Down, Down, f, f, f),
                ],
                vec![(10, restart(1, 1)), (700, apply(None))],
                "failed",
            ),
        ];
        for (what, c, steps, want, state) in table {
            let (m, got) = run(&c, &steps);
            assert_eq!(got, want, "{what}");
            let frozen = steps.last().is_some_and(|s| s.3);
            assert_eq!(m.view(&c, frozen).state, state, "{what}");
        }
    }

    #[test]
    fn nothing_new_while_a_decision_runs() {
        let c = cfg(3, MonitorAction::None);
        let mut m = SvcMon::default();
        let up = res(Up);
        let down = res(Down);
        let obs = |now, avail, r| Observation {
            now,
            frozen: false,
            avail,
            resources: r,
            busy: false,
            acted_on: false,
        };
        assert!(m.observe(&c, &obs(0, Up, &up)).is_empty());
        assert_eq!(m.observe(&c, &obs(10, Down, &down)), vec![restart(1, 3)]);
        assert!(m.observe(&c, &obs(20, Down, &down)).is_empty());
        m.done(&c, 30, false);
        assert_eq!(m.next_wakeup(30), Some(530));
        assert!(m.observe(&c, &obs(100, Down, &down)).is_empty());
        assert_eq!(m.observe(&c, &obs(530, Down, &down)), vec![restart(2, 3)]);
        let v = m.view(&c, false);
        assert_eq!(v.restarts["container#1"], RestartsLeft { left: 1, of: 3 });
    }
}
