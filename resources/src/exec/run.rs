//! Running one command to its end on the calling thread: its pipes are read with poll(2),
//! its exit is checked with a growing pause, and nothing is left waiting in a thread when
//! it hangs.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::cancel;
use super::{record_time, Cmd, ExecError, Output};

/// How long to keep reading an exited command's pipes: a process it left in the
/// background may hold them open (its output after that is not waited for).
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// After the command exited, the pipes are given up once they stay silent this long.
const PIPE_IDLE: Duration = Duration::from_millis(100);
/// How long a killed command may take to die before the agent stops waiting for it.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// The pause between two checks for the command's exit grows to this.
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// Why the command was killed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kill {
    Timeout,
    Interrupt,
}

pub fn output(cmd: &Cmd) -> Result<Output, ExecError> {
    cancel::reap_leftovers();
    let argv = cmd.display();
    let Some(mut command) = cmd.command(true) else {
        return Err(ExecError::Spawn {
            argv,
            reason: "empty command".into(),
        });
    };
    if cancel::cancelled() {
        return Err(ExecError::Interrupted {
            argv,
            started: false,
        });
    }
    command
        .stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let t0 = Instant::now();
    let mut child = cancel::spawn(&mut command, cmd.holds_lock).map_err(|e| ExecError::Spawn {
        argv: argv.clone(),
        reason: e.to_string(),
    })?;
    cancel::started(child.id(), &argv);
    let ran = supervise(&mut child, cmd, t0);
    cancel::ended(child.id());
    record_time(&argv, t0.elapsed());
    let (status, killed, out, err) = ran;
    let (stdout, stderr) = (lossy(out), lossy(err));
    let reaped = status.is_some();
    if !reaped {
        cancel::leave_behind(child);
    }
    match killed {
        Some(Kill::Timeout) => Err(ExecError::Timeout {
            argv,
            timeout: cmd.timeout,
            reaped,
            stdout,
            stderr,
        }),
        Some(Kill::Interrupt) => Err(ExecError::Interrupted {
            argv,
            started: true,
        }),
        None => {
            let status = status.ok_or_else(|| ExecError::Spawn {
                argv: argv.clone(),
                reason: "lost track of the child".into(),
            })?;
            Ok(Output {
                code: code_of(status),
                stdout,
                stderr,
            })
        }
    }
}

pub(super) fn code_of(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

fn lossy(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

/// One of the command's pipes, and what was read from (or is left to write to) it.
struct Pipe<T> {
    end: Option<T>,
    buf: Vec<u8>,
}

impl<T: AsFd> Pipe<T> {
    fn new(end: Option<T>) -> Pipe<T> {
        if let Some(e) = &end {
            let _ = fcntl(e.as_fd().as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
        }
        Pipe {
            end,
            buf: Vec::new(),
        }
    }
}

impl<T: AsFd + Read> Pipe<T> {
    /// Read what is there; returns whether anything came. EOF or an error closes it.
    fn drain(&mut self) -> bool {
        let mut got = false;
        let mut chunk = [0u8; 8192];
        while let Some(end) = self.end.as_mut() {
            match end.read(&mut chunk) {
                Ok(0) => self.end = None,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    got = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.end = None,
            }
        }
        got
    }
}

impl Pipe<ChildStdin> {
    /// Write what the pipe takes; closes it when all is written or the reader is gone.
    fn feed(&mut self) {
        while let Some(end) = self.end.as_mut() {
            if self.buf.is_empty() {
                self.end = None;
                break;
            }
            match end.write(&self.buf) {
                Ok(n) => {
                    self.buf.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.end = None,
            }
        }
    }
}

/// Wait for the command while reading its output, killing its process group when it
/// outlives its timeout or the process is interrupted. Returns its exit status (None when
/// even SIGKILL did not end it in time), why it was killed, and its stdout and stderr.
///
/// Only a timeout or an interrupt kills the group: once the command itself has exited,
/// what it started in the background (a trigger's `nohup app &`) is left running.
fn supervise(
    child: &mut Child,
    cmd: &Cmd,
    t0: Instant,
) -> (Option<ExitStatus>, Option<Kill>, Vec<u8>, Vec<u8>) {
    let pgid = Pid::from_raw(child.id() as i32);
    let mut out = Pipe::new(child.stdout.take());
    let mut err = Pipe::new(child.stderr.take());
    let mut inp = Pipe::new(child.stdin.take());
    inp.buf = cmd.stdin.clone().unwrap_or_default();
    inp.feed();
    let deadline = t0 + cmd.timeout;
    let mut pause = Duration::from_millis(1);
    let mut exited: Option<(ExitStatus, Instant)> = None;
    let mut last_data = Instant::now();
    loop {
        let now = Instant::now();
        if exited.is_none() {
            if let Ok(Some(st)) = child.try_wait() {
                exited = Some((st, now));
            }
        }
        if let Some((st, at)) = exited {
            let closed = out.end.is_none() && err.end.is_none();
            let given_up = now - at >= PIPE_GRACE || now - last_data.max(at) >= PIPE_IDLE;
            if closed || given_up {
                return (Some(st), None, out.buf, err.buf);
            }
        } else {
            let why = match cancel::kill_at() {
                Some(at) if now >= at => Some(Kill::Interrupt),
                _ if now >= deadline => Some(Kill::Timeout),
                _ => None,
            };
            if let Some(why) = why {
                let _ = killpg(pgid, Signal::SIGKILL);
                let status = reap_within(child, KILL_GRACE);
                out.drain();
                err.drain();
                return (status, Some(why), out.buf, err.buf);
            }
        }
        let wake = cancel::kill_at().map_or(deadline, |at| at.min(deadline));
        let wait = pause.min(wake.saturating_duration_since(now));
        if wait_for_pipes(&out, &err, &inp, wait) {
            pause = Duration::from_millis(1);
        } else {
            pause = (pause * 2).min(MAX_PAUSE);
        }
        if out.drain() | err.drain() {
            last_data = Instant::now();
        }
        inp.feed();
    }
}

/// Sleep until one of the open pipes is ready or `wait` passes; true if one is ready.
fn wait_for_pipes(
    out: &Pipe<impl AsFd>,
    err: &Pipe<impl AsFd>,
    inp: &Pipe<ChildStdin>,
    wait: Duration,
) -> bool {
    let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(3);
    for end in [
        out.end.as_ref().map(AsFd::as_fd),
        err.end.as_ref().map(AsFd::as_fd),
    ]
    .into_iter()
    .flatten()
    {
        fds.push(PollFd::new(end, PollFlags::POLLIN));
    }
    if let Some(w) = inp.end.as_ref() {
        fds.push(PollFd::new(w.as_fd(), PollFlags::POLLOUT));
    }
    if fds.is_empty() {
        std::thread::sleep(wait);
        return false;
    }
    let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
    matches!(poll(&mut fds, ms), Ok(n) if n > 0)
}

/// Wait up to `grace` for a killed child to be reaped.
fn reap_within(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + grace;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
