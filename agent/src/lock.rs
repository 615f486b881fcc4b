//! The per-service action lock: an flock on `R/var/lock/<svc>` holding the holder's pid and
//! intent, so a waiter that times out can say who holds it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("can not open lock {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "timed out after {waited:?} waiting for lock {path}, held by pid {holder_pid} ({holder_intent}); \
         raise --waitlock to wait longer"
    )]
    Timeout {
        path: PathBuf,
        waited: Duration,
        holder_pid: String,
        holder_intent: String,
    },
}

/// Held until dropped. Commands that must not run twice (fsck, mount, vgchange) inherit
/// it, so one that outlives a killed agent keeps the service locked until it ends.
#[derive(Debug)]
pub struct Lock {
    flock: Flock<File>,
    intent: String,
}

impl Lock {
    /// The action it was taken for.
    pub fn intent(&self) -> &str {
        &self.intent
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        resources::exec::forget_fd(self.flock.as_raw_fd());
    }
}

/// Take the service lock at `path` for `intent`, waiting up to `wait`.
pub fn acquire(path: &Path, intent: &str, wait: Duration) -> Result<Lock, LockError> {
    take(path, intent, wait, true)
}

/// A lock no command inherits (for short critical sections of the agent itself).
pub fn acquire_private(path: &Path, intent: &str, wait: Duration) -> Result<Lock, LockError> {
    take(path, intent, wait, false)
}

fn take(path: &Path, intent: &str, wait: Duration, inherited: bool) -> Result<Lock, LockError> {
    let open_err = |source| LockError::Open {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(open_err)?;
    }
    let deadline = Instant::now() + wait;
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(open_err)?;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut fl) => {
                // Best effort: the holder info only improves a waiter's message.
                let _ = fl.set_len(0);
                let _ = fl.rewind();
                let _ = writeln!(fl, "{} {}", std::process::id(), intent);
                let _ = fl.flush();
                if inherited {
                    resources::exec::inherit_fd(fl.as_raw_fd());
                }
                return Ok(Lock {
                    flock: fl,
                    intent: intent.to_string(),
                });
            }
            Err((f, _errno)) => {
                file = f;
                if Instant::now() >= deadline {
                    let mut info = String::new();
                    let _ = file.rewind();
                    let _ = file.read_to_string(&mut info);
                    let mut parts = info.trim().splitn(2, ' ');
                    let pid = parts.next().filter(|s| !s.is_empty()).unwrap_or("unknown");
                    let intent = parts.next().unwrap_or("unknown action");
                    return Err(LockError::Timeout {
                        path: path.to_path_buf(),
                        waited: wait,
                        holder_pid: pid.to_string(),
                        holder_intent: intent.to_string(),
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_taker_times_out_naming_the_holder() {
        let p = std::env::temp_dir().join(format!("svcmgr-lock-{}/svc", std::process::id()));
        let held = acquire(&p, "start", Duration::from_secs(1)).unwrap();
        let e = acquire(&p, "stop", Duration::from_millis(100)).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("pid {} (start)", std::process::id())),
            "{msg}"
        );
        drop(held);
        acquire(&p, "stop", Duration::from_millis(100)).unwrap();
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }
}
