//! The one place a child process is spawned (style.md rule 3).
//!
//! Every external command is an argv vector run with `LC_ALL=C`, in its own process group,
//! with a timeout that kills that whole group. Mutating commands are echoed as
//! `SVC.RID argv` log lines, followed by their output.

mod cancel;
mod run;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub use cancel::{cancel, cancelled, forget_fd, inherit_fd, observe, running, Running};

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
    /// The command inherits the service lock (see [`inherit_fd`]): for commands that must
    /// not run twice on a device (fsck, mount, vgchange), so one left running by a killed
    /// agent keeps the service locked. Never for what may daemonize (triggers, engines).
    pub holds_lock: bool,
    /// Working directory; None: the agent's.
    pub cwd: Option<std::path::PathBuf>,
    /// Run as (uid, gid); None: as the agent.
    pub creds: Option<(u32, u32)>,
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
            holds_lock: false,
            cwd: None,
            creds: None,
        }
    }

    pub fn cwd(mut self, dir: impl Into<std::path::PathBuf>) -> Cmd {
        self.cwd = Some(dir.into());
        self
    }

    pub fn creds(mut self, uid: u32, gid: u32) -> Cmd {
        self.creds = Some((uid, gid));
        self
    }

    /// The process to spawn: argv, `LC_ALL=C` when `c_locale` (unless the command's own
    /// environment sets it), the environment, working directory and credentials. None for
    /// an empty argv.
    pub(crate) fn command(&self, c_locale: bool) -> Option<Command> {
        let (prog, args) = self.argv.split_first()?;
        let mut c = Command::new(prog);
        c.args(args);
        if c_locale {
            c.env("LC_ALL", "C");
        }
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.cwd {
            c.current_dir(dir);
        }
        if let Some((uid, gid)) = self.creds {
            c.gid(gid).uid(uid);
        }
        Some(c)
    }

    pub fn holds_lock(mut self) -> Cmd {
        self.holds_lock = true;
        self
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
    /// The process is being interrupted (SIGINT/SIGTERM): the command was killed, or not
    /// started.
    #[error("{argv}: {}", if *.started { "killed: the action was interrupted" } else {
        "not run: the action was interrupted"
    })]
    Interrupted { argv: String, started: bool },
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
/// Errors are only: cannot spawn, timed out, or interrupted.
pub use run::output;

/// A long-running daemon started by [`spawn_detached`].
pub trait Spawned: Send + std::fmt::Debug {
    fn pid(&self) -> u32;
    /// Its exit code once it has ended (128 + signal number when killed), None while it runs.
    fn exited(&mut self) -> Option<i32>;
}

/// A daemon spawned by this process. Dropping the handle leaves the daemon running; it is
/// reaped by a later command once it ends, so a long-lived agent keeps no zombie.
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
        Some(run::code_of(status))
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            cancel::leave_behind(c);
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
    let Some(mut command) = cmd.command(true) else {
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
    command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(errf)
        .process_group(0);
    // A daemon never holds the service lock.
    let child = cancel::spawn(&mut command, false).map_err(|e| err(e.to_string()))?;
    Ok(Detached {
        pid: child.id(),
        child: Some(child),
    })
}

/// Replace this process with `cmd` (its stdio, exit code and signals become the user's):
/// for commands run on the user's behalf, such as an engine's CLI. Returns only on failure.
pub fn exec_replace(cmd: &Cmd) -> ExecError {
    let argv = cmd.display();
    let Some(mut command) = cmd.command(false) else {
        return ExecError::Spawn {
            argv,
            reason: "empty command".into(),
        };
    };
    let e = command.exec();
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
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;
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
        let pid = take_pid(&pidfile);
        // Reaped by init eventually; it must at least not be running any more.
        let gone = (0..100).any(|_| {
            if !alive(pid) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
            false
        });
        assert!(gone, "grandchild {pid} survived the timeout");
    }

    /// The pid a test script wrote to `path`; the file is removed.
    fn take_pid(path: &std::path::Path) -> i32 {
        let pid = std::fs::read_to_string(path)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let _ = std::fs::remove_file(path);
        pid
    }

    fn alive(pid: i32) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(") ").next().unwrap_or("").chars().next();
        !stat.is_empty() && state != Some('Z')
    }

    #[test]
    fn what_a_command_leaves_in_the_background_keeps_running() {
        let pidfile = std::env::temp_dir().join(format!("svcmgr-bg-{}.pid", std::process::id()));
        // The background sleep keeps the pipes open: the command still returns.
        let script = format!("sleep 30 & echo $! > {}; echo started", pidfile.display());
        let o = output(&Cmd::new(["sh", "-c", &script])).unwrap();
        assert_eq!((o.code, o.stdout.as_str()), (0, "started\n"));
        let pid = take_pid(&pidfile);
        assert!(alive(pid), "the background child {pid} was killed");
        nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    }

    #[test]
    fn large_output_and_input_do_not_deadlock() {
        let data = "x".repeat(1 << 20);
        let o = output(&Cmd::new(["sh", "-c", "cat; cat >&2"]).stdin(data.clone())).unwrap();
        assert_eq!(o.stdout.len(), data.len());
        assert_eq!(o.stderr.len(), 0);
        let o = output(&Cmd::new([
            "sh",
            "-c",
            "head -c 300000 /dev/zero >&2; echo done",
        ]))
        .unwrap();
        assert_eq!((o.stderr.len(), o.stdout.as_str()), (300000, "done\n"));
    }

    #[test]
    fn only_commands_that_hold_the_lock_inherit_it() {
        use std::os::fd::AsRawFd;
        let path = std::env::temp_dir().join(format!("svcmgr-inherit-{}", std::process::id()));
        let f = std::fs::File::create(&path).unwrap();
        inherit_fd(f.as_raw_fd());
        let fds = |c: Cmd| output(&c).unwrap().stdout;
        let ls = ["sh", "-c", "ls -l /proc/self/fd/"];
        let name = path.display().to_string();
        assert!(fds(Cmd::new(ls).holds_lock()).contains(&name));
        assert!(!fds(Cmd::new(ls)).contains(&name));
        forget_fd(f.as_raw_fd());
        assert!(!fds(Cmd::new(ls).holds_lock()).contains(&name));
        let _ = std::fs::remove_file(&path);
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
