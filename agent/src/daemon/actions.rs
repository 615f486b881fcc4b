//! Actions run as child processes of this same binary (`svcmgr -s SVC start ...`): they take
//! the service lock like any CLI action, log to the service log as usual, and a crashing
//! action cannot take the daemon down. The daemon's children are svcmgr itself, awaited
//! asynchronously, so they are spawned here rather than through the drivers' executor.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::sync::{broadcast, mpsc, oneshot, watch, Semaphore};
use tokio_util::sync::CancellationToken;

use super::state::Event;

/// How many actions may run at once (each waits for its service's lock anyway).
const MAX_RUNNING: usize = 8;
/// Output kept of an action for a waiting caller: its last bytes.
const OUTPUT_TAIL: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Api,
    Monitor,
    Scheduler,
    Orchestrator,
}

#[derive(Debug)]
pub struct Job {
    pub svc: String,
    /// After `-s SVC`: `["start", "--rid", "container#1"]`.
    pub args: Vec<String>,
    pub origin: Origin,
    /// Told the job id once the action is accepted.
    pub accepted: Option<oneshot::Sender<u64>>,
    /// Told how it ended, when someone waits.
    pub done: Option<oneshot::Sender<Outcome>>,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: u64,
    pub pid: Option<u32>,
    /// The exit code; 128 + signal when killed; -1 when it could not be spawned.
    pub code: i32,
    pub output: String,
}

/// Sends jobs to the runner task.
#[derive(Debug, Clone)]
pub struct ActionsHandle {
    tx: mpsc::Sender<Job>,
    pub running: watch::Receiver<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the daemon is stopping")]
    Closed,
    #[error("too many actions queued")]
    Full,
}

impl ActionsHandle {
    /// Queue `args` on `svc`; the job id, or why not.
    pub async fn submit(
        &self,
        svc: &str,
        args: Vec<String>,
        origin: Origin,
        done: Option<oneshot::Sender<Outcome>>,
    ) -> Result<u64, SubmitError> {
        let (acc_tx, acc_rx) = oneshot::channel();
        let job = Job {
            svc: svc.to_string(),
            args,
            origin,
            accepted: Some(acc_tx),
            done,
        };
        self.tx.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SubmitError::Full,
            mpsc::error::TrySendError::Closed(_) => SubmitError::Closed,
        })?;
        acc_rx.await.map_err(|_| SubmitError::Closed)
    }

    /// Run and wait for the end.
    pub async fn run(
        &self,
        svc: &str,
        args: Vec<String>,
        origin: Origin,
    ) -> Result<Outcome, SubmitError> {
        let (tx, rx) = oneshot::channel();
        self.submit(svc, args, origin, Some(tx)).await?;
        rx.await.map_err(|_| SubmitError::Closed)
    }
}

pub fn spawn(
    exe: PathBuf,
    events: broadcast::Sender<Event>,
    token: CancellationToken,
) -> (ActionsHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(64);
    let (running_tx, running_rx) = watch::channel(0usize);
    let task = tokio::spawn(runner(exe, rx, events, running_tx, token));
    (
        ActionsHandle {
            tx,
            running: running_rx,
        },
        task,
    )
}

async fn runner(
    exe: PathBuf,
    mut rx: mpsc::Receiver<Job>,
    events: broadcast::Sender<Event>,
    running: watch::Sender<usize>,
    token: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_RUNNING));
    let (end_tx, mut end_rx) = mpsc::channel::<u64>(MAX_RUNNING * 2);
    let mut live: BTreeMap<u64, String> = BTreeMap::new();
    let mut next_id = 1u64;
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            Some(id) = end_rx.recv() => {
                live.remove(&id);
            }
            job = rx.recv() => {
                let Some(mut job) = job else { break };
                let id = next_id;
                next_id += 1;
                if let Some(a) = job.accepted.take() {
                    let _ = a.send(id);
                }
                live.insert(id, job.svc.clone());
                let ctx = RunCtx {
                    exe: exe.clone(),
                    events: events.clone(),
                    slots: slots.clone(),
                    end: end_tx.clone(),
                };
                tokio::spawn(ctx.run(id, job));
            }
        }
        running.send_replace(live.len());
    }
    // Running children are left to finish: they hold their service's lock, not ours.
}

struct RunCtx {
    exe: PathBuf,
    events: broadcast::Sender<Event>,
    slots: Arc<Semaphore>,
    end: mpsc::Sender<u64>,
}

impl RunCtx {
    async fn run(self, id: u64, job: Job) {
        let _slot = self.slots.acquire().await;
        let action = job.args.join(" ");
        let mut ev = Event::new("action", Some(&job.svc));
        ev.action = Some(action.clone());
        ev.id = Some(id);
        ev.message = Some(format!(
            "started by the {}",
            match job.origin {
                Origin::Api => "api",
                Origin::Monitor => "monitor",
                Origin::Scheduler => "scheduler",
                Origin::Orchestrator => "orchestrator",
            }
        ));
        let _ = self.events.send(ev.clone());
        let outcome = run_child(&self.exe, id, &job).await;
        ev.time = super::state::now_rfc3339();
        ev.exit_code = Some(outcome.code);
        ev.message = Some("done".into());
        let _ = self.events.send(ev);
        if let Some(done) = job.done {
            let _ = done.send(outcome);
        }
        let _ = self.end.send(id).await;
    }
}

async fn run_child(exe: &std::path::Path, id: u64, job: &Job) -> Outcome {
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("-s")
        .arg(&job.svc)
        .args(&job.args)
        .args(["--color", "never"])
        // Only the daemon talks to systemd.
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a signal meant for the daemon does not reach it.
        .process_group(0)
        .kill_on_drop(false);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                id,
                pid: None,
                code: -1,
                output: format!("can not run {}: {e}", exe.display()),
            }
        }
    };
    let pid = child.id();
    let out = child.stdout.take();
    let err = child.stderr.take();
    let (o, e) = tokio::join!(read_tail(out), read_tail(err));
    let code = match child.wait().await {
        Ok(st) => {
            use std::os::unix::process::ExitStatusExt;
            st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
        }
        Err(_) => -1,
    };
    Outcome {
        id,
        pid,
        code,
        output: format!("{o}{e}"),
    }
}

/// Everything `r` gives until end of file, keeping only the last [`OUTPUT_TAIL`] bytes.
async fn read_tail<R: tokio::io::AsyncRead + Unpin>(r: Option<R>) -> String {
    let Some(mut r) = r else {
        return String::new();
    };
    let mut kept: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > OUTPUT_TAIL {
            let cut = kept.len() - OUTPUT_TAIL;
            kept.drain(..cut);
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_crashing_child_is_an_outcome_not_a_daemon_crash() {
        let (ev_tx, mut ev_rx) = broadcast::channel(16);
        let token = CancellationToken::new();
        // /bin/false takes any arguments and fails: enough to see the exit code travel back.
        let (h, task) = spawn("/bin/false".into(), ev_tx, token.clone());
        let o = h
            .run("web", vec!["start".into()], Origin::Api)
            .await
            .unwrap();
        assert_eq!(o.code, 1);
        assert!(o.pid.is_some());
        let started = ev_rx.recv().await.unwrap();
        assert_eq!(started.action.as_deref(), Some("start"));
        let done = ev_rx.recv().await.unwrap();
        assert_eq!(done.exit_code, Some(1));
        let (h2, _t2) = spawn(
            "/nonexistent/svcmgr".into(),
            broadcast::channel(4).0,
            token.clone(),
        );
        let o = h2
            .run("web", vec!["stop".into()], Origin::Monitor)
            .await
            .unwrap();
        assert_eq!(o.code, -1);
        assert!(
            o.output.contains("can not run /nonexistent/svcmgr"),
            "{}",
            o.output
        );
        token.cancel();
        task.await.unwrap();
    }
}
