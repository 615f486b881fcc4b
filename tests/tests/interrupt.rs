//! Lab tests of an action interrupted in the middle (SIGTERM, SIGKILL) while a slow
//! e2fsck runs: never a second e2fsck on the device, and the half-done action is reported.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use labtests::lab::{self, LoopDev, OutputExt};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// An e2fsck that records when each run begins and ends (`begin PID` / `end PID` lines in
/// `runs`), takes `secs`, then runs the real one.
fn slow_fsck(dir: &Path, secs: u32) -> PathBuf {
    let real = ["/usr/sbin/e2fsck", "/sbin/e2fsck"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("e2fsck (e2fsprogs) installed");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let runs = dir.join("fsck-runs");
    let script = format!(
        "#!/bin/sh\necho begin $$ >> {r}\nsleep {secs}\necho end $$ >> {r}\nexec {real} \"$@\"\n",
        r = runs.display()
    );
    let path = bin.join("e2fsck");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    runs
}

fn runs(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Each run ended before the next began.
fn never_overlapping(r: &[String]) -> bool {
    r.chunks(2)
        .all(|p| p.len() == 2 && p[0].starts_with("begin") && p[1].starts_with("end"))
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("svcmgr did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Setup {
    lab: lab::Lab,
    _dev: LoopDev,
    mnt: PathBuf,
    runs: PathBuf,
}

fn setup(fsck_secs: u32) -> Setup {
    let mut lab = lab::Lab::new(&["n1"]);
    let dev = LoopDev::new(lab.dir(), 32);
    dev.mkfs_ext4();
    let runs = slow_fsck(lab.dir(), fsck_secs);
    let bin = lab.dir().join("bin");
    lab.add_path_dir(&bin);
    let mnt = lab.dir().join("mnt/web");
    lab.node("n1").write_conf(
        "web",
        &format!(
            "[DEFAULT]\nnodes = n1\n\n[fs#1]\ndev = {}\nmnt = {}\ntype = ext4\n",
            dev.path(),
            mnt.display()
        ),
    );
    Setup {
        lab,
        _dev: dev,
        mnt,
        runs,
    }
}

/// `start` in the background, once its e2fsck has begun.
fn start_until_fsck(s: &Setup) -> Child {
    let child = s
        .lab
        .node("n1")
        .svcmgr_cmd(&["-s", "web", "start"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("e2fsck to begin", Duration::from_secs(30), || {
        !runs(&s.runs).is_empty()
    });
    child
}

#[test]
fn sigterm_lets_the_running_fsck_end_stops_and_reports_the_interrupted_start() {
    if !lab::require_root("sigterm_lets_the_running_fsck_end") {
        return;
    }
    let s = setup(2);
    let n1 = s.lab.node("n1");
    let mut child = start_until_fsck(&s);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let st = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(st.code(), Some(128 + 15), "{st:?}");
    // The running e2fsck was allowed to end before the lock was released, and nothing
    // after it ran: not mounted.
    assert_eq!(runs(&s.runs).len(), 2, "{:?}", runs(&s.runs));
    assert!(!n1.is_mounted(&s.mnt));

    let out = n1.svcmgr(&["-s", "web", "print", "status"]);
    let text = out.stdout_str();
    assert!(
        text.lines().nth(1).is_some_and(|l| l
            .starts_with(&format!("# interrupted start (pid {}, ", child.id()))
            && l.ends_with(") at fs#1")),
        "{text}"
    );
    assert!(text.contains("overall                   warn"), "{text}");

    // A rerun says what it found, runs e2fsck once more (never two at a time) and ends
    // the record.
    let again = n1.svcmgr(&["-s", "web", "start"]);
    again.assert_ok("start after the interrupted one");
    again.assert_logs("the previous action did not end: interrupted start");
    assert!(n1.is_mounted(&s.mnt));
    let r = runs(&s.runs);
    assert!(r.len() == 4 && never_overlapping(&r), "{r:?}");
    let text = n1.svcmgr(&["-s", "web", "print", "status"]).stdout_str();
    assert!(!text.contains("# "), "{text}");
    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("stop");
}

#[test]
fn a_second_signal_kills_the_running_command_at_once() {
    if !lab::require_root("a_second_signal_kills_the_running_command_at_once") {
        return;
    }
    let s = setup(60);
    let mut child = start_until_fsck(&s);
    let pid = Pid::from_raw(child.id() as i32);
    kill(pid, Signal::SIGINT).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    kill(pid, Signal::SIGINT).unwrap();
    let st = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(st.code(), Some(128 + 2), "{st:?}");
    let r = runs(&s.runs);
    assert_eq!(r.len(), 1, "the e2fsck emulator was not killed: {r:?}");
    let fsck_pid: i32 = r[0].trim_start_matches("begin ").parse().unwrap();
    wait_until(
        "the killed e2fsck to be gone",
        Duration::from_secs(10),
        || {
            kill(Pid::from_raw(fsck_pid), None).is_err()
                || std::fs::read_to_string(format!("/proc/{fsck_pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z "))
        },
    );
}

#[test]
fn a_fsck_left_by_a_killed_agent_keeps_the_service_locked() {
    if !lab::require_root("a_fsck_left_by_a_killed_agent_keeps_the_service_locked") {
        return;
    }
    let s = setup(4);
    let n1 = s.lab.node("n1");
    let mut child = start_until_fsck(&s);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    wait_exit(&mut child, Duration::from_secs(10));
    // The e2fsck outlived its agent and holds the lock: no second one can start.
    let out = n1.svcmgr(&["-s", "web", "start", "--waitlock", "0"]);
    out.assert_fails("start while the first e2fsck runs");
    assert!(
        out.all_output().contains("timed out"),
        "{}",
        out.all_output()
    );
    let text = n1.svcmgr(&["-s", "web", "print", "status"]).stdout_str();
    assert!(text.contains("still running: e2fsck"), "{text}");
    // Once it ended, the start goes through, after one e2fsck at a time.
    let again = n1.svcmgr(&["-s", "web", "start", "--waitlock", "30"]);
    again.assert_ok("start once the first e2fsck ended");
    let r = runs(&s.runs);
    assert!(r.len() == 4 && never_overlapping(&r), "{r:?}");
    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("stop");
}
