//! `svcmgr daemon start|stop|restart|status|running`: the daemon seen from the command line.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::api::client;
use super::pidlock;
use super::state::DaemonStatus;
use crate::exitcode;
use crate::paths::Root;

/// How long `daemon start` waits for the new daemon to answer, and `stop` for it to end.
const START_WAIT: Duration = Duration::from_secs(30);
const STOP_WAIT: Duration = Duration::from_secs(30);
const API_TIMEOUT: Duration = Duration::from_secs(10);

pub fn log_file(root: &Root) -> std::path::PathBuf {
    root.log.join("daemon.log")
}

/// `daemon running`: exit 0 when a daemon holds this root, 1 when not.
pub fn running(root: &Root) -> i32 {
    match pidlock::holder(root) {
        Some(_) => exitcode::OK,
        None => exitcode::FAILED,
    }
}

/// Whether the daemon of `root` answers on its socket.
pub fn answers(root: &Root) -> bool {
    client::request_ok(root, "GET", "/daemon/status", Duration::from_secs(2)).is_ok()
}

/// `daemon start`: a detached `daemon run`, its output appended to `R/log/daemon.log`;
/// returns once it answers on its socket.
pub fn start(root: &Root) -> anyhow::Result<i32> {
    if let Some(h) = pidlock::holder(root) {
        anyhow::bail!("a daemon already runs on this root (pid {})", h.pid);
    }
    let exe = std::env::current_exe().context("can not find this program's own path")?;
    let log = log_file(root);
    std::fs::create_dir_all(&root.log)
        .with_context(|| format!("can not create {}", root.log.display()))?;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("can not open {}", log.display()))?;
    let err = out.try_clone()?;
    let mut child = Command::new(&exe)
        .args(["daemon", "run"])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Away from the terminal's process group: ^C on the caller does not reach it.
        .process_group(0)
        .spawn()
        .with_context(|| format!("can not run {} daemon run", exe.display()))?;
    let deadline = Instant::now() + START_WAIT;
    loop {
        if let Some(st) = child.try_wait()? {
            anyhow::bail!("the daemon exited at once ({st}); see {}", log.display());
        }
        if answers(root) {
            println!("daemon started, pid {}", child.id());
            // Reaped by init once we exit; the handle is simply dropped.
            return Ok(exitcode::OK);
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "the daemon (pid {}) did not answer within {}s; see {}",
                child.id(),
                START_WAIT.as_secs(),
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `daemon stop`: ask through the API, else SIGTERM; wait until the lock is free. Services
/// are left as they are. Not running is success.
pub fn stop(root: &Root) -> anyhow::Result<i32> {
    let Some(h) = pidlock::holder(root) else {
        println!("no daemon running");
        return Ok(exitcode::OK);
    };
    if client::request_ok(root, "POST", "/daemon/stop", API_TIMEOUT).is_err() && h.pid > 0 {
        let pid = nix::unistd::Pid::from_raw(h.pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }
    let deadline = Instant::now() + STOP_WAIT;
    while pidlock::holder(root).is_some() {
        if Instant::now() >= deadline {
            anyhow::bail!(
                "the daemon (pid {}) did not stop within {}s",
                h.pid,
                STOP_WAIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("daemon stopped (pid {})", h.pid);
    Ok(exitcode::OK)
}

pub fn restart(root: &Root) -> anyhow::Result<i32> {
    stop(root)?;
    start(root)
}

/// `daemon status`: pid, uptime, version, subsystems; exit 1 when not running.
pub fn status(root: &Root, json: bool) -> anyhow::Result<i32> {
    let Some(h) = pidlock::holder(root) else {
        println!("daemon not running");
        return Ok(exitcode::FAILED);
    };
    let a = client::request_ok(root, "GET", "/daemon/status", API_TIMEOUT)
        .with_context(|| format!("the daemon (pid {}) does not answer", h.pid))?;
    if json {
        println!("{}", String::from_utf8_lossy(&a.body).trim_end());
        return Ok(exitcode::OK);
    }
    let st: DaemonStatus = a.json().context("bad answer from the daemon")?;
    print!("{}", render_status(&st));
    Ok(exitcode::OK)
}

pub fn render_status(st: &DaemonStatus) -> String {
    let mut s = format!(
        "daemon      running\npid         {}\nversion     {}\nnode        {}\nstarted     {}\nuptime      {}\n",
        st.pid,
        st.version,
        st.nodename,
        st.started,
        human_duration(st.uptime_secs)
    );
    for sub in &st.subsystems {
        s.push_str(&format!(
            "{:<11} {:<9} {}\n",
            sub.name, sub.state, sub.detail
        ));
    }
    s.push_str(&super::hb::render::paths_counters(&st.heartbeats));
    s
}

pub fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s:02}s"),
        (0, _, _) => format!("{h}h{m:02}m"),
        _ => format!("{d}d{h:02}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (secs, want) in [
            (5, "5s"),
            (65, "1m05s"),
            (3600 * 2 + 60, "2h01m"),
            (86400 * 3 + 3600, "3d01h"),
        ] {
            assert_eq!(human_duration(secs), want);
        }
    }
}
