//! What the process knows about its children: the commands running now (for the action
//! intent), the request to interrupt them (SIGINT/SIGTERM), the descriptors they inherit
//! (the service lock), and the ones left behind unreaped.

use std::os::fd::RawFd;
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Instant, SystemTime};

use nix::fcntl::{fcntl, FcntlArg, FdFlag};

/// A command running now.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub pid: u32,
    pub argv: String,
    pub since: SystemTime,
}

static LIVE: Mutex<Vec<Running>> = Mutex::new(Vec::new());
static OBSERVER: OnceLock<fn(&[Running])> = OnceLock::new();
/// Once set, no command starts, and running ones are killed at this instant.
static CANCEL: Mutex<Option<Instant>> = Mutex::new(None);
static INHERIT: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());
/// Serializes spawns, so a descriptor opened for inheritance reaches only the children
/// meant to have it.
static SPAWN: Mutex<()> = Mutex::new(());
/// Children killed on a timeout that did not die in time (blocked in the kernel): reaped
/// later, by the next command, instead of by a thread waiting on each.
static LEFTOVERS: Mutex<Vec<Child>> = Mutex::new(Vec::new());

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Call `f` with the running commands each time one starts or ends (set once per process).
pub fn observe(f: fn(&[Running])) {
    let _ = OBSERVER.set(f);
}

/// The commands running now, oldest first.
pub fn running() -> Vec<Running> {
    locked(&LIVE).clone()
}

pub(super) fn started(pid: u32, argv: &str) {
    let mut live = locked(&LIVE);
    live.push(Running {
        pid,
        argv: argv.to_string(),
        since: SystemTime::now(),
    });
    notify(&live);
}

pub(super) fn ended(pid: u32) {
    let mut live = locked(&LIVE);
    live.retain(|r| r.pid != pid);
    notify(&live);
}

fn notify(live: &[Running]) {
    if let Some(f) = OBSERVER.get() {
        f(live);
    }
}

/// Interrupt: from now on no command starts, and the running ones are killed `grace` from
/// now (or earlier, if an earlier interrupt said so).
pub fn cancel(grace: std::time::Duration) {
    let at = Instant::now() + grace;
    let mut c = locked(&CANCEL);
    *c = Some(c.map_or(at, |prev| prev.min(at)));
}

pub fn cancelled() -> bool {
    locked(&CANCEL).is_some()
}

/// When the running commands must be killed, if the process is being interrupted.
pub(super) fn kill_at() -> Option<Instant> {
    *locked(&CANCEL)
}

/// Children of commands marked [`super::Cmd::holds_lock`] inherit `fd` (the service lock),
/// so a command left running by a killed agent keeps the service locked until it ends.
pub fn inherit_fd(fd: RawFd) {
    locked(&INHERIT).push(fd);
}

/// `fd` is about to be closed: stop passing it on.
pub fn forget_fd(fd: RawFd) {
    locked(&INHERIT).retain(|f| *f != fd);
}

/// Spawn `command`, passing the inheritable descriptors only when `inherit`.
pub(super) fn spawn(command: &mut Command, inherit: bool) -> std::io::Result<Child> {
    let _one_at_a_time = locked(&SPAWN);
    let fds = if inherit {
        locked(&INHERIT).clone()
    } else {
        Vec::new()
    };
    for fd in &fds {
        let _ = fcntl(*fd, FcntlArg::F_SETFD(FdFlag::empty()));
    }
    let child = command.spawn();
    for fd in &fds {
        let _ = fcntl(*fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
    child
}

pub(super) fn leave_behind(child: Child) {
    locked(&LEFTOVERS).push(child);
}

/// Reap the children left behind that have ended since.
pub(super) fn reap_leftovers() {
    locked(&LEFTOVERS).retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_)) | Err(_)));
}
