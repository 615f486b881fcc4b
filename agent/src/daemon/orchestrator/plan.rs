//! What the orchestrator runs on a service: child actions of this binary (`svcmgr -s SVC
//! …`, under the service lock like any CLI action), one after the other, each only when the
//! one before succeeded, and what undoes a failed start.

use std::time::Duration;

use tokio::time::Instant;

use super::decide::Fence;
use crate::daemon::actions::{ActionsHandle, Origin};

/// What the orchestrator runs on a service: child actions, one after the other, each
/// only when the one before succeeded.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Fence when needed, then start. `--local`: the heartbeats, not ssh probes, told
    /// who runs what; `--steal-tags` once the lost owner is fenced (or the operator allowed
    /// unfenced failover): its LVM host tag is stale.
    Start(Fence),
    /// The stop half of a switch.
    Stop,
    /// A cluster-wide freeze (true) or thaw, applied here.
    Freeze(bool),
    /// Another node preempted our reservation while the service ran here, or this node is
    /// in a minority partition with an unfenced service: freeze it here so nothing restarts
    /// it, stop its address first, then the rest.
    StandDown,
}

impl Plan {
    pub fn steps(&self) -> Vec<Vec<&'static str>> {
        match self {
            Plan::Start(Fence::None) => vec![vec!["start", "--local"]],
            Plan::Start(Fence::Reservation { .. }) => vec![
                vec!["prstart", "--preempt", "--local"],
                vec!["start", "--local", "--steal-tags"],
            ],
            Plan::Start(Fence::Quorum { .. }) => vec![vec!["start", "--local", "--steal-tags"]],
            Plan::Stop => vec![vec!["stop", "--local"]],
            Plan::Freeze(true) => vec![vec!["freeze", "--local"]],
            Plan::Freeze(false) => vec![vec!["thaw", "--local"]],
            Plan::StandDown => vec![
                vec!["freeze", "--local"],
                vec!["stopip", "--local"],
                vec!["stop", "--local"],
            ],
        }
    }

    /// What undoes the steps before a failed one: a start that failed after the fencing
    /// releases the reservation it took, so the next candidate takes it without preempting
    /// a live node.
    pub fn undo(&self, failed: usize) -> Option<Vec<&'static str>> {
        match self {
            Plan::Start(Fence::Reservation { .. }) if failed > 0 => Some(vec!["prstop", "--local"]),
            _ => None,
        }
    }
}

/// One step carried out.
pub struct Step {
    pub action: String,
    pub code: i32,
    pub detail: String,
    pub took: Duration,
}

/// A plan carried out (up to its first failed step), reported back to the loop.
pub struct Done {
    pub svc: String,
    pub plan: Plan,
    pub steps: Vec<Step>,
    pub undo: Option<Step>,
}

async fn run_step(actions: &ActionsHandle, svc: &str, argv: &[&str]) -> Step {
    let t = Instant::now();
    let args: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
    let (code, detail) = match actions.run(svc, args, Origin::Orchestrator).await {
        Ok(o) => (o.code, failure_line(&o.output)),
        Err(e) => (-1, e.to_string()),
    };
    Step {
        action: argv.join(" "),
        code,
        detail,
        took: t.elapsed(),
    }
}

/// Run `plan`'s steps (and its undo after a failed one).
pub async fn carry_out(actions: &ActionsHandle, svc: String, plan: Plan) -> Done {
    let mut steps = Vec::new();
    let mut undo = None;
    for (i, argv) in plan.steps().iter().enumerate() {
        let step = run_step(actions, &svc, argv).await;
        let failed = step.code != 0;
        steps.push(step);
        if failed {
            if let Some(u) = plan.undo(i) {
                undo = Some(run_step(actions, &svc, &u).await);
            }
            break;
        }
    }
    Done {
        svc,
        plan,
        steps,
        undo,
    }
}

/// What a failed action said: its last ERROR line without the time and level (the
/// resource's name stays), else its last line.
fn failure_line(out: &str) -> String {
    let lines = || out.lines().rev().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find_map(|l| {
            let (_, rest) = l.split_once(" ERROR ")?;
            Some(rest.trim().to_string())
        })
        .or_else(|| lines().next().map(str::to_string))
        .unwrap_or_else(|| "no output".to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn failure_line_is_the_last_error() {
        let out = "18:49:18 INFO    FO.VG#1PR preempt\n\
                   18:49:18 ERROR   FO.VG#1PR reservation conflict on /dev/loop0\n\
                   18:49:18 INFO    FO.VG#1PR rollback: already down\n";
        assert_eq!(
            super::failure_line(out),
            "FO.VG#1PR reservation conflict on /dev/loop0"
        );
        assert_eq!(super::failure_line("a\nb\n\n"), "b");
        assert_eq!(super::failure_line(""), "no output");
    }
}
