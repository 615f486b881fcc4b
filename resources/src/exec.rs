//! The one place a child process is spawned (style.md rule 3).
//!
//! Every external command is an argv vector run with `LC_ALL=C`, in its own process group,
//! with a timeout that kills that whole group. Mutating commands are echoed as
//! `SVC.RID argv` log lines, followed by their output.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How long to wait for a killed or exited command's pipes to reach end of file: a daemon it
/// left behind may hold them open.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// How long a killed command may take to die before the agent stops waiting for it.
const KILL_GRACE: Duration = Duration::from_secs(5);

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Cmd {
    pub argv: Vec<String>,
    pub timeout: Duration,
    pub stdin: Option<Vec<u8>>,
    /// Exit codes that mean success (default: 0 only).
    pub ok_codes: Vec<i32>,
    /// Added to the inherited environment.
    pub env: Vec<(String, String)>,
}

impl Cmd {
    pub fn new<I, S>(argv: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            argv: argv.into_iter().map(Into::into).collect(),
            timeout: DEFAULT_TIMEOUT,
            stdin: None,
            ok_codes: vec![0],
            env: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, val: &str) -> Cmd {
        self.env.push((key.into(), val.into()));
        self
    }

    pub fn timeout(mut self, t: Duration) -> Cmd {
        self.timeout = t;
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(data.into());
        self
    }

    pub fn ok_codes(mut self, codes: &[i32]) -> Cmd {
        self.ok_codes = codes.to_vec();
        self
    }

    /// The command line as a user would type it (shell-quoted where needed).
    pub fn display(&self) -> String {
        shlex::try_join(self.argv.iter().map(String::as_str))
            .unwrap_or_else(|_| self.argv.join(" "))
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Exit code; 128 + signal number when killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecError {
    #[error("{argv}: cannot execute: {reason}")]
    Spawn { argv: String, reason: String },
    #[error("{argv}: timed out after {timeout:?}, {}", if *.reaped { "killed" } else {
        "killed but still not dead (stuck in uninterruptible I/O?)"
    })]
    Timeout {
        argv: String,
        timeout: Duration,
        /// False when even SIGKILL did not end it within a few seconds (a process blocked
        /// on a dead disk path): it is left behind rather than blocking the agent.
        reaped: bool,
        stdout: String,
        stderr: String,
    },
    #[error("{argv}: exit status {code}{}", stderr_suffix(.stderr))]
    Failed {
        argv: String,
        code: i32,
        stdout: String,
        stderr: String,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    let s = stderr.trim();
    if s.is_empty() {
        String::new()
    } else {
        format!(": {}", s.lines().collect::<Vec<_>>().join(" / "))
    }
}

impl ExecError {
    /// The exit code of a command that ran and failed.
    pub fn code(&self) -> Option<i32> {
        match self {
            ExecError::Failed { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Run a command without logging; a non-zero exit is returned in `Output`, not as an error.
/// Errors are only: cannot spawn, or timed out.
pub fn output(cmd: &Cmd) -> Result<Output, ExecError> {
    let argv = cmd.display();
    let Some((prog, args)) = cmd.argv.split_first() else {
        return Err(ExecError::Spawn {
            argv,
            reason: "empty command".into(),
        });
    };
    let mut command = Command::new(prog);
    command
        .args(args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .env("LC_ALL", "C")
        .stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let t0 = Instant::now();
    let mut child = command.spawn().map_err(|e| ExecError::Spawn {
        argv: argv.clone(),
        reason: e.to_string(),
    })?;
    let pgid = Pid::from_raw(child.id() as i32);

    if let (Some(data), Some(mut w)) = (cmd.stdin.clone(), child.stdin.take()) {
        thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    let out_rx = drain(child.stdout.take());
    let err_rx = drain(child.stderr.take());

    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let (status, timed_out, reaped) = match rx.recv_timeout(cmd.timeout) {
        Ok(r) => (r, false, true),
        Err(_) => {
            let _ = killpg(pgid, Signal::SIGKILL);
            match rx.recv_timeout(KILL_GRACE) {
                Ok(r) => (r, true, true),
                Err(e) => (Err(std::io::Error::other(e)), true, false),
            }
        }
    };
    // The leader is gone; stop whatever it left in its group so the pipes close.
    let _ = killpg(pgid, Signal::SIGKILL);
    let stdout = out_rx.recv_timeout(PIPE_GRACE).unwrap_or_default();
    let stderr = err_rx.recv_timeout(PIPE_GRACE).unwrap_or_default();
    record_time(&argv, t0.elapsed());
    if timed_out {
        return Err(ExecError::Timeout {
            argv,
            timeout: cmd.timeout,
            reaped,
            stdout,
            stderr,
        });
    }
    let status = status.map_err(|e| ExecError::Spawn {
        argv: argv.clone(),
        reason: e.to_string(),
    })?;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(Output {
        code,
        stdout,
        stderr,
    })
}

/// A long-running daemon started by [`spawn_detached`].
pub trait Spawned: Send + std::fmt::Debug {
    fn pid(&self) -> u32;
    /// Its exit code once it has ended (128 + signal number when killed), None while it runs.
    fn exited(&mut self) -> Option<i32>;
}

/// A daemon spawned by this process. Dropping the handle leaves the daemon running; a thread
/// reaps it whenever it ends, so a long-lived agent keeps no zombie.
#[derive(Debug)]
pub struct Detached {
    child: Option<std::process::Child>,
    pid: u32,
}

impl Spawned for Detached {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn exited(&mut self) -> Option<i32> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(
            status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        )
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            thread::spawn(move || {
                let _ = c.wait();
            });
        }
    }
}

/// Start a daemon that outlives the action: `LC_ALL=C`, stdin from /dev/null, stdout and
/// stderr appended to `log` (its directory created), in a process group of its own so a
/// terminal's Ctrl-C aimed at svcmgr does not reach it. No timeout: the caller polls it.
pub fn spawn_detached(cmd: &Cmd, log: &std::path::Path) -> Result<Detached, ExecError> {
    let argv = cmd.display();
    let err = |reason: String| ExecError::Spawn {
        argv: argv.clone(),
        reason,
    };
    let Some((prog, args)) = cmd.argv.split_first() else {
        return Err(err("empty command".into()));
    };
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| err(format!("{}: {e}", log.display())))?;
    let errf = out
        .try_clone()
        .map_err(|e| err(format!("{}: {e}", log.display())))?;
    let child = Command::new(prog)
        .args(args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(errf)
        .process_group(0)
        .spawn()
        .map_err(|e| err(e.to_string()))?;
    Ok(Detached {
        pid: child.id(),
        child: Some(child),
    })
}

/// Replace this process with `cmd` (its stdio, exit code and signals become the user's):
/// for commands run on the user's behalf, such as an engine's CLI. Returns only on failure.
pub fn exec_replace(cmd: &Cmd) -> ExecError {
    let argv = cmd.display();
    let Some((prog, args)) = cmd.argv.split_first() else {
        return ExecError::Spawn {
            argv,
            reason: "empty command".into(),
        };
    };
    let e = Command::new(prog)
        .args(args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .exec();
    ExecError::Spawn {
        argv,
        reason: e.to_string(),
    }
}

/// When `SVCMGR_EXEC_TIMES` names a file, append each command's wall-clock interval to it
/// (and any other wait on the system, such as an ARP probe), so a benchmark can subtract
/// the time spent waiting from an action's total. Intervals, not durations: commands run
/// in parallel overlap.
pub fn record_time(argv: &str, took: Duration) {
    static SINK: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    let Some(path) = SINK.get_or_init(|| std::env::var_os("SVCMGR_EXEC_TIMES").map(Into::into))
    else {
        return;
    };
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let start = end.saturating_sub(took);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{}\t{}\t{argv}", start.as_micros(), end.as_micros());
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// `out` as a result: an exit code outside `cmd.ok_codes` is an error.
pub fn check(cmd: &Cmd, out: Output) -> Result<Output, ExecError> {
    if cmd.ok_codes.contains(&out.code) {
        Ok(out)
    } else {
        Err(ExecError::Failed {
            argv: cmd.display(),
            code: out.code,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// The `SVC.RID` lines of a command's output (stderr as errors when it failed).
pub fn log_output(rid: &str, o: &Output, ok: bool) {
    let stdout = o.stdout.trim_end();
    let stderr = o.stderr.trim_end();
    if !stdout.is_empty() {
        tracing::info!(rid, "output:\n{stdout}");
    }
    if !stderr.is_empty() {
        if ok {
            tracing::info!(rid, "err:\n{stderr}");
        } else {
            tracing::error!(rid, "err:\n{stderr}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn captures_stdout_stderr_and_code() {
        let o = output(&Cmd::new(["sh", "-c", "echo out; echo err >&2; exit 3"])).unwrap();
        assert_eq!(o.code, 3);
        assert_eq!(o.stdout, "out\n");
        assert_eq!(o.stderr, "err\n");
    }

    #[test]
    fn locale_is_c() {
        let o = output(&Cmd::new(["sh", "-c", "echo $LC_ALL"])).unwrap();
        assert_eq!(o.stdout.trim(), "C");
    }

    #[test]
    fn nonzero_is_a_typed_error_with_argv_and_stderr() {
        let cmd = Cmd::new(["sh", "-c", "echo boom >&2; exit 4"]);
        let e = check(&cmd, output(&cmd).unwrap()).unwrap_err();
        assert_eq!(e.code(), Some(4));
        assert_eq!(
            e.to_string(),
            "sh -c 'echo boom >&2; exit 4': exit status 4: boom"
        );
    }

    #[test]
    fn ok_codes_accepted() {
        let cmd = Cmd::new(["sh", "-c", "exit 1"]).ok_codes(&[0, 1]);
        let o = check(&cmd, output(&cmd).unwrap()).unwrap();
        assert_eq!(o.code, 1);
    }

    #[test]
    fn missing_binary_is_a_spawn_error() {
        let e = output(&Cmd::new(["/nonexistent/svcmgr-no-such-tool"])).unwrap_err();
        assert!(matches!(e, ExecError::Spawn { .. }), "{e:?}");
        assert!(e.to_string().contains("cannot execute"));
    }

    #[test]
    fn timeout_kills_the_whole_process_group() {
        let dir = std::env::temp_dir().join(format!("svcmgr-exec-{}", std::process::id()));
        let pidfile = dir.with_extension("pid");
        // The grandchild would outlive a kill of the shell alone.
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let t0 = Instant::now();
        let e = output(&Cmd::new(["sh", "-c", &script]).timeout(Duration::from_millis(300)))
            .unwrap_err();
        assert!(matches!(e, ExecError::Timeout { .. }), "{e:?}");
        assert!(t0.elapsed() < Duration::from_secs(20));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let _ = std::fs::remove_file(&pidfile);
        // Reaped by init eventually; it must at least not be running any more.
        let gone = (0..100).any(|_| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit(") ").next().unwrap_or("").chars().next();
            if stat.is_empty() || state == Some('Z') {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
            false
        });
        assert!(gone, "grandchild {pid} survived the timeout");
    }

    #[test]
    fn stdin_is_fed() {
        let o = output(&Cmd::new(["cat"]).stdin("hello")).unwrap();
        assert_eq!(o.stdout, "hello");
    }

    #[test]
    fn detached_daemon_logs_to_its_file_and_reports_its_exit() {
        let dir = std::env::temp_dir().join(format!("svcmgr-detached-{}", std::process::id()));
        let log = dir.join("sub/d.log");
        let mut d = spawn_detached(
            &Cmd::new(["sh", "-c", "echo out; echo err >&2; exit 3"]).env("X", "y"),
            &log,
        )
        .unwrap();
        let code = (0..500).find_map(|_| {
            std::thread::sleep(Duration::from_millis(10));
            d.exited()
        });
        assert_eq!(code, Some(3));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "out\nerr\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn detached_daemon_has_its_own_process_group_and_keeps_running() {
        let dir = std::env::temp_dir().join(format!("svcmgr-detached2-{}", std::process::id()));
        let mut d = spawn_detached(&Cmd::new(["sleep", "30"]), &dir.join("d.log")).unwrap();
        let pid = Pid::from_raw(d.pid() as i32);
        assert_eq!(nix::unistd::getpgid(Some(pid)).unwrap(), pid);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(d.exited(), None);
        nix::sys::signal::kill(pid, Signal::SIGKILL).unwrap();
        let code = (0..500).find_map(|_| {
            std::thread::sleep(Duration::from_millis(10));
            d.exited()
        });
        assert_eq!(code, Some(128 + 9));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn detached_spawn_and_exec_of_a_missing_binary_are_errors() {
        let cmd = Cmd::new(["/nonexistent/svcmgr-no-such-daemon"]);
        let e = spawn_detached(&cmd, &std::env::temp_dir().join("svcmgr-none.log")).unwrap_err();
        assert!(e.to_string().contains("cannot execute"), "{e}");
        let e = exec_replace(&cmd);
        assert!(matches!(e, ExecError::Spawn { .. }), "{e:?}");
        let _ = std::fs::remove_file(std::env::temp_dir().join("svcmgr-none.log"));
    }

    #[test]
    fn display_quotes() {
        assert_eq!(Cmd::new(["echo", "a b", "c"]).display(), "echo 'a b' c");
    }
}
