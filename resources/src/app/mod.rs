//! The app driver (`[app#N]`), OpenSVC's most used resource: an application started and
//! stopped by commands of its own.
//!
//! `type = forking`: the start command daemonizes and returns; its exit code is the start's
//! result. Status comes from `check` (exit codes through `retcodes`), n/a without it.
//! `type = simple`: the start command is the application. It runs in the background in a
//! process group of its own, its output appended to `<var>/<rid>.log`, its pid and start
//! time kept in `<var>/<rid>.pid`. Without `check` it is up while that process runs. Stop
//! runs `stop` if set, then signals the process group (or only the process, `kill =
//! parent`) with SIGTERM and, after `stop_timeout`, SIGKILL.

mod launch;
mod track;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use svcconf::ResourceConfig;

use crate::exec::{self, ExecError};
use crate::{Ctx, Driver, Error, ResStatus, Result, Status};

pub use launch::{Launch, Launcher};
use track::Tracked;

/// Default timeout of check and info commands.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);
/// Default wait for a simple app's processes to end after SIGTERM.
const TERM_WAIT: Duration = Duration::from_secs(10);
/// How long a simple app must survive its spawn for the start to succeed.
const SETTLE: Duration = Duration::from_millis(200);
/// How long SIGKILLed processes may take to disappear.
const KILL_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Forking,
    Simple,
}

pub struct App {
    rid: String,
    kind: Kind,
    launch: Launch,
    retcodes: Vec<(i32, String)>,
    status_log: bool,
    kill_tree: bool,
    start_timeout: Duration,
    stop_timeout: Duration,
    check_timeout: Duration,
    /// How long a simple app's processes get between SIGTERM and SIGKILL.
    term_wait: Duration,
}

impl App {
    /// `etc_d`: the service's `<etc>/<svcname>.d`, where a relative `script` lives.
    pub fn new(rc: &ResourceConfig, etc_d: &std::path::Path) -> Result<App> {
        let timeout = rc.duration("timeout");
        let launch =
            Launch::new(rc, etc_d).map_err(|e| Error::Failed(format!("{}: {e}", rc.rid)))?;
        let stop_timeout = rc.duration("stop_timeout").or(timeout);
        Ok(App {
            rid: rc.rid.clone(),
            kind: match rc.rtype.as_deref() {
                Some("simple") => Kind::Simple,
                _ => Kind::Forking,
            },
            launch,
            retcodes: svcconf::parse_retcodes(rc.str("retcodes").unwrap_or("0:up 1:down"))
                .unwrap_or_else(|| vec![(0, "up".into()), (1, "down".into())]),
            status_log: rc.bool("status_log"),
            kill_tree: rc.str("kill") != Some("parent"),
            start_timeout: rc
                .duration("start_timeout")
                .or(timeout)
                .unwrap_or(exec::DEFAULT_TIMEOUT),
            stop_timeout: stop_timeout.unwrap_or(exec::DEFAULT_TIMEOUT),
            check_timeout: rc
                .duration("check_timeout")
                .or(timeout)
                .unwrap_or(CHECK_TIMEOUT),
            term_wait: stop_timeout.unwrap_or(TERM_WAIT),
        })
    }

    fn pid_file(&self, ctx: &Ctx) -> PathBuf {
        track::pid_file(&ctx.var_dir, &self.rid)
    }

    fn log_file(&self, ctx: &Ctx) -> PathBuf {
        ctx.var_dir.join(format!("{}.log", self.rid))
    }

    /// A simple app's process, if it runs.
    fn running(&self, ctx: &Ctx) -> Option<Tracked> {
        Tracked::read(&self.pid_file(ctx)).filter(Tracked::alive)
    }

    fn failed(&self, msg: impl std::fmt::Display) -> Error {
        Error::Failed(format!("{}: {msg}", self.rid))
    }

    /// Build the command of `which`, None when there is nothing to run.
    fn command(
        &self,
        ctx: &Ctx,
        which: &Launcher,
        word: &str,
        timeout: Duration,
    ) -> Result<Option<exec::Cmd>> {
        let Some(argv) = self.launch.argv(which, word).map_err(|e| self.failed(e))? else {
            return Ok(None);
        };
        let prog = std::path::Path::new(&argv[0]);
        if prog.is_absolute() && !prog.exists() {
            return Err(self.failed(format!("{} does not exist", prog.display())));
        }
        self.launch
            .cmd(ctx, argv, timeout)
            .map(Some)
            .map_err(|e| self.failed(e))
    }

    /// Run the check command: its status, or None when no check is configured.
    fn check(&self, ctx: &Ctx) -> Option<ResStatus> {
        let cmd = match self.command(ctx, &self.launch.check, "status", self.check_timeout) {
            Ok(Some(c)) => c,
            Ok(None) => return None,
            Err(e) => return Some(ResStatus::with(Status::Warn, e.to_string())),
        };
        let mut st = match ctx.output(&cmd) {
            Ok(o) => {
                let mut st = ResStatus::new(launch::status_of(&self.retcodes, o.code));
                if st.status == Status::Warn {
                    st.log.push(format!("check exited with code {}", o.code));
                }
                if self.status_log {
                    st.log.extend(
                        o.stdout
                            .lines()
                            .chain(o.stderr.lines())
                            .filter(|l| !l.trim().is_empty())
                            .map(str::to_string),
                    );
                }
                st
            }
            Err(ExecError::Timeout { timeout, .. }) => {
                ResStatus::with(Status::Warn, format!("check timed out after {timeout:?}"))
            }
            Err(e) => ResStatus::with(Status::Warn, e.to_string()),
        };
        st.log.dedup();
        Some(st)
    }

    fn start_simple(&self, ctx: &Ctx) -> Result<bool> {
        if let Some(t) = self.running(ctx) {
            tracing::info!(rid = %self.rid, "already running (pid {})", t.pid);
            return Ok(false);
        }
        let Some(cmd) = self.command(ctx, &self.launch.start, "start", self.start_timeout)? else {
            tracing::info!(rid = %self.rid, "start is not set: nothing to run");
            return Ok(false);
        };
        let log = self.log_file(ctx);
        let Some(mut child) = ctx.spawn(&self.rid, &cmd, &log)? else {
            return Ok(true);
        };
        let pid = child.pid() as i32;
        let tracked = Tracked::of(pid).unwrap_or(Tracked { pid, start: 0 });
        tracked
            .write(&self.pid_file(ctx))
            .map_err(|e| self.failed(format!("{}: {e}", self.pid_file(ctx).display())))?;
        let t0 = Instant::now();
        while t0.elapsed() < SETTLE {
            if let Some(code) = child.exited() {
                let _ = std::fs::remove_file(self.pid_file(ctx));
                return Err(self.failed(format!(
                    "{} exited at once with code {code}{}",
                    cmd.display(),
                    last_lines(&log)
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::info!(rid = %self.rid, "running as pid {pid}, output in {}", log.display());
        Ok(true)
    }

    fn stop_simple(&self, ctx: &Ctx) -> Result<bool> {
        let tracked = Tracked::read(&self.pid_file(ctx));
        let running = tracked.filter(Tracked::alive);
        let mut changed = false;
        if running.is_some() {
            if let Some(cmd) = self.command(ctx, &self.launch.stop, "stop", self.stop_timeout)? {
                // The processes are signalled next anyway: a failed stop command is no reason
                // to leave them running.
                if let Err(e) = ctx.change(&self.rid, &cmd) {
                    tracing::warn!(rid = %self.rid, "stop command failed, signalling the processes: {e}");
                }
                changed = true;
            }
        }
        // The app's process may be gone while processes it started still run in its group.
        let t = match tracked {
            Some(t) if running.is_some() || (self.kill_tree && !t.group().is_empty()) => t,
            _ => {
                let _ = std::fs::remove_file(self.pid_file(ctx));
                tracing::info!(rid = %self.rid, "already stopped");
                return Ok(changed);
            }
        };
        if ctx.dry_run {
            tracing::info!(rid = %self.rid, "dry-run: SIGTERM to {}", self.target(t));
            return Ok(true);
        }
        self.signal(t, Signal::SIGTERM);
        if !self.wait_gone(t, self.term_wait) {
            tracing::warn!(
                rid = %self.rid,
                "{} still running {:?} after SIGTERM: SIGKILL",
                self.target(t),
                self.term_wait
            );
            self.signal(t, Signal::SIGKILL);
            if !self.wait_gone(t, KILL_WAIT) {
                return Err(self.failed(format!(
                    "{} still running after SIGKILL (stuck in uninterruptible I/O?)",
                    self.target(t)
                )));
            }
        }
        let _ = std::fs::remove_file(self.pid_file(ctx));
        Ok(true)
    }

    fn target(&self, t: Tracked) -> String {
        if self.kill_tree {
            format!("process group {}", t.pid)
        } else {
            format!("pid {}", t.pid)
        }
    }

    fn signal(&self, t: Tracked, sig: Signal) {
        tracing::info!(rid = %self.rid, "{sig} to {}", self.target(t));
        let r = if self.kill_tree {
            killpg(Pid::from_raw(t.pid), sig)
        } else {
            kill(Pid::from_raw(t.pid), sig)
        };
        if let Err(e) = r {
            tracing::debug!(rid = %self.rid, "{sig} to {}: {e}", self.target(t));
        }
    }

    /// Wait until the process (or its whole group) is gone.
    fn wait_gone(&self, t: Tracked, limit: Duration) -> bool {
        let gone = || {
            if self.kill_tree {
                t.group().is_empty()
            } else {
                !t.alive()
            }
        };
        let t0 = Instant::now();
        while !gone() {
            if t0.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }
}

/// The end of a log, for an error message: ` (last output: a / b)` or nothing.
fn last_lines(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    if tail.is_empty() {
        String::new()
    } else {
        format!(" (last output: {})", tail.join(" / "))
    }
}

impl Driver for App {
    fn rid(&self) -> &str {
        &self.rid
    }

    fn label(&self) -> String {
        let kind = match self.kind {
            Kind::Forking => "forking",
            Kind::Simple => "simple",
        };
        let what = match (&self.launch.start, &self.launch.script) {
            (_, Some(s)) => s.display().to_string(),
            (Launcher::Argv(v), None) => v[0].clone(),
            _ => String::new(),
        };
        let base = what.rsplit('/').next().unwrap_or(&what);
        format!("{kind}: {base}")
    }

    fn status(&self, ctx: &Ctx) -> ResStatus {
        if let Some(st) = self.check(ctx) {
            return st;
        }
        match self.kind {
            Kind::Forking => ResStatus::with(Status::NotApplicable, "check is not set"),
            Kind::Simple => match Tracked::read(&self.pid_file(ctx)) {
                Some(t) if t.alive() => ResStatus::new(Status::Up),
                Some(t) => {
                    let mut st = ResStatus::with(
                        Status::Down,
                        format!(
                            "pid {} is gone (see {})",
                            t.pid,
                            self.log_file(ctx).display()
                        ),
                    );
                    let left = t.group();
                    if !left.is_empty() {
                        let pids: Vec<String> = left.iter().map(i32::to_string).collect();
                        st.log.push(format!(
                            "processes it started still run: {} (stop kills them)",
                            pids.join(" ")
                        ));
                    }
                    st
                }
                None => ResStatus::new(Status::Down),
            },
        }
    }

    fn start(&self, ctx: &Ctx) -> Result<bool> {
        if self.kind == Kind::Simple {
            return self.start_simple(ctx);
        }
        if self.check(ctx).is_some_and(|s| s.status == Status::Up) {
            tracing::info!(rid = %self.rid, "already started");
            return Ok(false);
        }
        let Some(cmd) = self.command(ctx, &self.launch.start, "start", self.start_timeout)? else {
            tracing::info!(rid = %self.rid, "start is not set: nothing to run");
            return Ok(false);
        };
        ctx.change(&self.rid, &cmd)?;
        Ok(true)
    }

    fn stop(&self, ctx: &Ctx) -> Result<bool> {
        if self.kind == Kind::Simple {
            return self.stop_simple(ctx);
        }
        if self.check(ctx).is_some_and(|s| s.status == Status::Down) {
            tracing::info!(rid = %self.rid, "already stopped");
            return Ok(false);
        }
        let cmd = match self.command(ctx, &self.launch.stop, "stop", self.stop_timeout) {
            Ok(Some(c)) => c,
            Ok(None) => {
                tracing::info!(rid = %self.rid, "stop is not set: nothing to run");
                return Ok(false);
            }
            // A launcher that is gone (its filesystem already unmounted) stops nothing.
            Err(e) if e.to_string().ends_with("does not exist") => {
                tracing::warn!(rid = %self.rid, "{e}: nothing to run");
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        ctx.change(&self.rid, &cmd)?;
        Ok(true)
    }
}
