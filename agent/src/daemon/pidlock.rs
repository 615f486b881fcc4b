//! One daemon per root: an flock on `R/var/daemon/lock`, held for the daemon's life, holding
//! `<pid> <started unix seconds>`. Readers test the lock without taking it for long.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::paths::Root;

pub fn lock_path(root: &Root) -> PathBuf {
    root.var.join("daemon").join("lock")
}

#[derive(Debug, thiserror::Error)]
pub enum PidLockError {
    #[error("a daemon already runs on this root (pid {pid}, lock {})", path.display())]
    Running { pid: u32, path: PathBuf },
    #[error("can not open daemon lock {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held by the running daemon until dropped.
#[derive(Debug)]
pub struct PidLock {
    _flock: Flock<File>,
}

/// Who holds the lock, read from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub started: i64,
}

fn parse_holder(text: &str) -> Option<Holder> {
    let mut it = text.split_whitespace();
    let pid = it.next()?.parse().ok()?;
    let started = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    Some(Holder { pid, started })
}

fn open(path: &Path) -> Result<File, PidLockError> {
    let err = |source| PidLockError::Open {
        path: path.to_path_buf(),
        source,
    };
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(err)?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(err)
}

/// Take the lock for this process, or name the daemon that has it.
pub fn acquire(root: &Root) -> Result<PidLock, PidLockError> {
    let path = lock_path(root);
    let file = open(&path)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(mut fl) => {
            let _ = fl.set_len(0);
            let _ = fl.rewind();
            let _ = writeln!(
                fl,
                "{} {}",
                std::process::id(),
                chrono::Utc::now().timestamp()
            );
            let _ = fl.flush();
            Ok(PidLock { _flock: fl })
        }
        Err((mut f, _)) => {
            let mut text = String::new();
            let _ = f.read_to_string(&mut text);
            Err(PidLockError::Running {
                pid: parse_holder(&text).map_or(0, |h| h.pid),
                path,
            })
        }
    }
}

/// The running daemon of `root`, if any.
pub fn holder(root: &Root) -> Option<Holder> {
    let path = lock_path(root);
    let Ok(mut f) = File::open(&path) else {
        return None;
    };
    let mut text = String::new();
    let _ = f.read_to_string(&mut text);
    // A shared lock is refused while the daemon holds its exclusive one.
    match Flock::lock(f, FlockArg::LockSharedNonblock) {
        Ok(_free) => None,
        Err(_) => Some(parse_holder(&text).unwrap_or(Holder { pid: 0, started: 0 })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_daemon_is_refused_naming_the_first() {
        let d = std::env::temp_dir().join(format!("svcmgr-pidlock-{}", std::process::id()));
        let root = Root::under(&d);
        assert_eq!(holder(&root), None);
        let held = acquire(&root).unwrap();
        let h = holder(&root).expect("held");
        assert_eq!(h.pid, std::process::id());
        let e = acquire(&root).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "a daemon already runs on this root (pid {}",
                std::process::id()
            )),
            "{e}"
        );
        drop(held);
        assert_eq!(holder(&root), None);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn holder_lines() {
        assert_eq!(
            parse_holder("12 1700000000\n"),
            Some(Holder {
                pid: 12,
                started: 1_700_000_000
            })
        );
        assert_eq!(
            parse_holder("12"),
            Some(Holder {
                pid: 12,
                started: 0
            })
        );
        assert_eq!(parse_holder(""), None);
        assert_eq!(parse_holder("x 1"), None);
    }
}
