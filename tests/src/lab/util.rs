//! Small helpers shared by the lab modules: names, polling, bounded command runs,
//! output assertions and process bookkeeping.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Base PATH for every lab command; lab directories are prepended to it.
pub const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `true` when running as root. Otherwise a panic, or a loud skip when SVCMGR_SKIP_LAB=1.
pub fn require_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    // A lab test that cannot run fails, unless whoever runs the tests said to skip them.
    if std::env::var("SVCMGR_SKIP_LAB").as_deref() == Ok("1") {
        eprintln!("########## SKIP: lab test {test} needs root (SVCMGR_SKIP_LAB=1) ##########");
        return false;
    }
    panic!(
        "lab test {test} needs root: run the tests as root, or set SVCMGR_SKIP_LAB=1 to skip \
         the lab tests"
    );
}

/// `prefix` followed by 6 random lowercase hex characters.
pub fn unique(prefix: &str) -> String {
    let mut buf = [0u8; 3];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    format!("{prefix}{:02x}{:02x}{:02x}", buf[0], buf[1], buf[2])
}

/// Where the svcmgr binary of this build should be (no existence check).
pub(crate) fn svcmgr_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SVCMGR_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe
        .parent()
        .expect("test binary has a parent dir")
        .to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    dir.join("svcmgr")
}

/// The built svcmgr binary (`target/<profile>/svcmgr`, or `$SVCMGR_BIN`).
pub fn svcmgr_bin() -> PathBuf {
    let p = svcmgr_path();
    if !p.is_file() {
        panic!(
            "svcmgr binary not found at {}: run cargo build --workspace first",
            p.display()
        );
    }
    p
}

/// Poll `f` every 20 ms until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            eprintln!("lab: timed out after {timeout:?} waiting for {what}");
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Stdout of a finished command, lossy UTF-8.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr of a finished command, lossy UTF-8.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn describe(o: &Output, what: &str) -> String {
    format!(
        "{what}: {}\n--- stdout ---\n{}--- stderr ---\n{}",
        o.status,
        stdout(o),
        stderr(o)
    )
}

/// Panic with stdout and stderr unless the command succeeded.
#[track_caller]
pub fn assert_ok(o: &Output, what: &str) {
    if !o.status.success() {
        panic!("expected success: {}", describe(o, what));
    }
}

/// Panic with stdout and stderr unless the command failed.
#[track_caller]
pub fn assert_fails(o: &Output, what: &str) {
    if o.status.success() {
        panic!("expected failure: {}", describe(o, what));
    }
}

/// The same helpers as methods on `Output`.
pub trait OutputExt {
    fn stdout_str(&self) -> String;
    fn stderr_str(&self) -> String;
    fn assert_ok(&self, what: &str) -> &Self;
    fn assert_fails(&self, what: &str) -> &Self;
    /// The exit code; -1 when killed by a signal.
    fn code(&self) -> i32;
    /// Console output of an action: stdout then stderr.
    fn all_output(&self) -> String;
    /// Panic, showing both streams, unless stdout holds `text`.
    fn assert_logs(&self, text: &str) -> &Self;
    /// Panic, showing both streams, when stdout holds `text`.
    fn assert_no_log(&self, text: &str) -> &Self;
}

impl OutputExt for Output {
    fn stdout_str(&self) -> String {
        stdout(self)
    }
    fn stderr_str(&self) -> String {
        stderr(self)
    }
    #[track_caller]
    fn assert_ok(&self, what: &str) -> &Self {
        assert_ok(self, what);
        self
    }
    #[track_caller]
    fn assert_fails(&self, what: &str) -> &Self {
        assert_fails(self, what);
        self
    }
    fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
    fn all_output(&self) -> String {
        format!("{}{}", stdout(self), stderr(self))
    }
    #[track_caller]
    fn assert_logs(&self, text: &str) -> &Self {
        if !stdout(self).contains(text) {
            panic!(
                "{}",
                describe(self, &format!("expected {text:?} in stdout"))
            );
        }
        self
    }
    #[track_caller]
    fn assert_no_log(&self, text: &str) -> &Self {
        if stdout(self).contains(text) {
            panic!(
                "{}",
                describe(self, &format!("unexpected {text:?} in stdout"))
            );
        }
        self
    }
}

fn reader(mut r: impl Read + Send + 'static) -> (Arc<Mutex<Vec<u8>>>, thread::JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b = Arc::clone(&buf);
    let h = thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b.lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(&chunk[..n]);
        }
    });
    (buf, h)
}

fn take(buf: &Arc<Mutex<Vec<u8>>>) -> Vec<u8> {
    std::mem::take(&mut *buf.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Why a bounded run did not produce an exit status.
#[derive(Debug)]
pub(crate) enum RunError {
    Spawn(std::io::Error),
    Timeout { partial: Output },
}

/// Run `cmd` (stdin closed, output captured) in its own process group; after `timeout`
/// kill the whole group and return what was gathered so far.
pub(crate) fn try_run_bounded(mut cmd: Command, timeout: Duration) -> Result<Output, RunError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(RunError::Spawn)?;
    let (out, out_h) = reader(child.stdout.take().expect("piped stdout"));
    let (err, err_h) = reader(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + timeout;
    let (status, timed_out) = loop {
        match child.try_wait() {
            Ok(Some(st)) => break (st, false),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) | Err(_) => {
                let _ = kill(Pid::from_raw(-(child.id() as i32)), Signal::SIGKILL);
                let _ = child.kill();
                let st = child.wait().unwrap_or_else(|_| ExitStatusExt::from_raw(9));
                break (st, true);
            }
        }
    };
    // A background grandchild may hold the pipes open: do not wait for EOF forever.
    let eof_deadline = Instant::now() + Duration::from_secs(if timed_out { 1 } else { 2 });
    while !(out_h.is_finished() && err_h.is_finished()) && Instant::now() < eof_deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let output = Output {
        status,
        stdout: take(&out),
        stderr: take(&err),
    };
    if timed_out {
        Err(RunError::Timeout { partial: output })
    } else {
        Ok(output)
    }
}

/// [`try_run_bounded`], panicking (with the output so far) on timeout or spawn failure.
pub(crate) fn run_bounded(cmd: Command, timeout: Duration, what: &str) -> Output {
    let shown = format!("{cmd:?}");
    match try_run_bounded(cmd, timeout) {
        Ok(o) => o,
        Err(RunError::Spawn(e)) => panic!("{what}: cannot spawn {shown}: {e}"),
        Err(RunError::Timeout { partial }) => panic!(
            "{what}: timed out after {timeout:?}, killed: {shown}\n--- stdout so far ---\n{}--- stderr so far ---\n{}",
            stdout(&partial),
            stderr(&partial)
        ),
    }
}

/// Run a host command for lab setup; panic with its output on failure.
#[track_caller]
pub(crate) fn host(argv: &[&str]) -> Output {
    let o = host_try(argv);
    assert_ok(&o, &format!("lab setup: {}", argv.join(" ")));
    o
}

/// Run a host command for lab setup or teardown; never panics on a non-zero exit.
pub(crate) fn host_try(argv: &[&str]) -> Output {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", BASE_PATH)
        .env("LC_ALL", "C");
    match try_run_bounded(cmd, Duration::from_secs(60)) {
        Ok(o) => o,
        Err(e) => Output {
            status: ExitStatusExt::from_raw(1 << 8),
            stdout: Vec::new(),
            stderr: format!("{} did not complete: {e:?}", argv.join(" ")).into_bytes(),
        },
    }
}

/// Teardown step: run it, log (never panic) when it fails.
pub(crate) fn teardown(argv: &[&str]) -> bool {
    let o = host_try(argv);
    if !o.status.success() {
        eprintln!(
            "lab teardown: {} failed: {}: {}",
            argv.join(" "),
            o.status,
            stderr(&o).trim()
        );
    }
    o.status.success()
}

/// A process identified by pid and start time, so a recycled pid is never killed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProcId {
    pub pid: i32,
    start: u64,
}

fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; starttime is field 22 overall.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl ProcId {
    pub fn of(pid: u32) -> Option<ProcId> {
        let pid = pid as i32;
        start_time(pid).map(|start| ProcId { pid, start })
    }

    pub fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start)
    }

    /// SIGKILL the process (and its group when it leads one) if it is still the same process.
    pub fn kill(&self) {
        if self.alive() {
            let _ = kill(Pid::from_raw(-self.pid), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
    }
}

/// Namespace identity (device, inode) of a namespace file such as /run/netns/NS.
pub(crate) fn ns_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Pids of processes whose `kind` namespace ("net", "mnt") is one of `ids`.
pub(crate) fn pids_in_ns(kind: &str, ids: &[(u64, u64)]) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            ns_id(Path::new(&format!("/proc/{pid}/ns/{kind}"))).is_some_and(|id| ids.contains(&id))
        })
        .collect()
}

/// Kill every process living in one of the given namespaces, bounded in time.
pub(crate) fn kill_ns_processes(net: &[(u64, u64)], mnt: &[(u64, u64)]) {
    let find = || {
        let mut v = pids_in_ns("net", net);
        v.extend(pids_in_ns("mnt", mnt));
        v.sort_unstable();
        v.dedup();
        v
    };
    let done = wait_until(Duration::from_secs(5), "lab processes to exit", || {
        let pids = find();
        for &pid in &pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        pids.is_empty()
    });
    if !done {
        eprintln!("lab teardown: processes still alive: {:?}", find());
    }
}

/// Spawn a child with its stdin closed and stdout+stderr appended to `log`.
pub(crate) fn spawn_logged(mut cmd: Command, log: &Path) -> Child {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
    let f2 = f.try_clone().expect("dup log fd");
    cmd.stdin(Stdio::null())
        .stdout(f)
        .stderr(f2)
        .process_group(0);
    cmd.spawn()
        .unwrap_or_else(|e| panic!("lab: cannot spawn {cmd:?}: {e}"))
}

/// Decode the octal escapes (`\040` etc.) used in /proc/*/mountinfo.
pub(crate) fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One mountinfo line reduced to what teardown needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountEntry {
    pub dev: String,
    pub mount_point: String,
}

pub(crate) fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let dev = f.nth(2)?.to_string();
            let mount_point = unescape_mount(f.nth(1)?);
            Some(MountEntry { dev, mount_point })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_is_prefix_plus_six_hex() {
        let a = unique("lab");
        assert_eq!(a.len(), 9);
        assert!(a.starts_with("lab"));
        assert!(a[3..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(unique("x"), unique("x"));
    }

    #[test]
    fn mountinfo_parsing_and_unescape() {
        let t = "36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw\n\
                 41 27 7:3 / /tmp/x rw,relatime - ext4 /dev/loop3 rw\n";
        let m = parse_mountinfo(t);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].dev, "98:0");
        assert_eq!(m[0].mount_point, "/mnt/a b");
        assert_eq!(m[1].dev, "7:3");
        assert_eq!(m[1].mount_point, "/tmp/x");
        assert_eq!(unescape_mount("a\\134b\\"), "a\\b\\");
    }

    #[test]
    fn run_bounded_times_out_and_panics() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo partial; sleep 30"]);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_bounded(cmd, Duration::from_millis(300), "slow")
        }));
        let msg = *r
            .expect_err("must time out")
            .downcast::<String>()
            .expect("string panic");
        assert!(msg.contains("timed out"), "{msg}");
        assert!(msg.contains("partial"), "{msg}");
    }

    #[test]
    fn svcmgr_path_is_next_to_deps() {
        if std::env::var_os("SVCMGR_BIN").is_some() {
            return;
        }
        let exe = std::env::current_exe().expect("exe");
        let profile = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        assert_eq!(svcmgr_path(), profile.join("svcmgr"));
    }

    #[test]
    fn wait_until_bounded() {
        let t = Instant::now();
        assert!(!wait_until(Duration::from_millis(100), "never", || false));
        assert!(t.elapsed() < Duration::from_secs(2));
        let mut n = 0;
        assert!(wait_until(Duration::from_secs(1), "third try", || {
            n += 1;
            n == 3
        }));
    }

    #[test]
    fn assert_helpers() {
        let ok = Command::new("true").output().expect("true");
        let bad = Command::new("sh")
            .args(["-c", "echo oops >&2; exit 3"])
            .output()
            .expect("sh");
        ok.assert_ok("true");
        bad.assert_fails("exit 3");
        let r = std::panic::catch_unwind(|| assert_ok(&bad, "exit 3"));
        let msg = *r
            .expect_err("must panic")
            .downcast::<String>()
            .expect("string panic");
        assert!(msg.contains("oops") && msg.contains("exit 3"), "{msg}");
    }
}
