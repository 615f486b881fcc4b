//! Where the emulated logical units keep their state: one file per device under
//! `$SVCMGR_PR_EMU_DIR`, named after the canonical device path, read and written under an
//! exclusive flock, replaced through a temporary file and a rename.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::rules::{persistent_reserve_out, Failure, ProutRequest};
use super::state::{valid_initiator, DeviceState, StateParseError};

/// Directory holding the state files (required).
pub const DIR_ENV: &str = "SVCMGR_PR_EMU_DIR";
/// Name of the initiator (I_T nexus) this process speaks for (required).
pub const INITIATOR_ENV: &str = "SVCMGR_PR_EMU_INITIATOR";

/// The emulator's configuration, from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmulatorEnv {
    pub state_dir: PathBuf,
    pub initiator: String,
}

impl EmulatorEnv {
    pub fn from_values(
        dir: Option<OsString>,
        initiator: Option<OsString>,
    ) -> Result<EmulatorEnv, StoreError> {
        let dir = dir
            .filter(|d| !d.is_empty())
            .ok_or(StoreError::MissingEnv(DIR_ENV))?;
        let initiator = initiator
            .filter(|i| !i.is_empty())
            .ok_or(StoreError::MissingEnv(INITIATOR_ENV))?;
        let initiator = initiator
            .into_string()
            .map_err(|i| StoreError::BadInitiator(i.to_string_lossy().into_owned()))?;
        if !valid_initiator(&initiator) {
            return Err(StoreError::BadInitiator(initiator));
        }
        let state_dir = PathBuf::from(dir);
        if !state_dir.is_dir() {
            return Err(StoreError::NoStateDir(state_dir));
        }
        Ok(EmulatorEnv {
            state_dir,
            initiator,
        })
    }
}

/// The state file name for a canonical device path: '/' becomes '_' and every byte that is
/// not [A-Za-z0-9.-] becomes %XX, so distinct paths never share a file
/// (/dev/loop3 -> `_dev_loop3`, /tmp/a_b -> `_tmp_a%5Fb`).
pub fn state_file_name(canonical: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut name = String::new();
    for &b in canonical.as_os_str().as_bytes() {
        match b {
            b'/' => name.push('_'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' => name.push(char::from(b)),
            _ => name.push_str(&format!("%{b:02X}")),
        }
    }
    name
}

/// A device's state file, locked for the life of this value.
pub struct LockedDevice {
    _lock: Flock<File>,
    state_path: PathBuf,
}

impl LockedDevice {
    /// Locks the state of `device` (which must exist) and returns the lock.
    pub fn lock(env: &EmulatorEnv, device: &Path) -> Result<LockedDevice, StoreError> {
        let canonical = fs::canonicalize(device).map_err(|source| StoreError::Io {
            what: "canonicalize device",
            path: device.to_path_buf(),
            source,
        })?;
        let name = state_file_name(&canonical);
        let state_path = env.state_dir.join(&name);
        // The state file itself is replaced by rename, so the lock lives on a stable
        // companion file.
        let lock_path = env.state_dir.join(format!("{name}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| StoreError::Io {
                what: "open lock file",
                path: lock_path.clone(),
                source,
            })?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| StoreError::Lock {
                path: lock_path,
                errno,
            })?;
        Ok(LockedDevice {
            _lock: lock,
            state_path,
        })
    }

    pub fn state_path(&self) -> &Path {
        &self.state_path
    }

    /// The stored state; a device never written to is a fresh logical unit.
    pub fn load(&self) -> Result<DeviceState, StoreError> {
        match fs::read_to_string(&self.state_path) {
            Ok(text) => DeviceState::from_text(&text).map_err(|source| StoreError::Parse {
                path: self.state_path.clone(),
                source,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(DeviceState::default()),
            Err(source) => Err(StoreError::Io {
                what: "read state",
                path: self.state_path.clone(),
                source,
            }),
        }
    }

    /// Performs the PR OUT `req` from `initiator` on `state` (SPC-3 rules) and saves the
    /// state when it changed. The inner result is the command's SCSI outcome.
    pub fn prout(
        &self,
        state: &mut DeviceState,
        initiator: &str,
        req: &ProutRequest,
    ) -> Result<Result<(), Failure>, StoreError> {
        let before = state.clone();
        let outcome = persistent_reserve_out(state, initiator, req);
        if *state != before {
            self.save(state)?;
        }
        Ok(outcome)
    }

    /// Writes `state` to a temporary file, syncs it and renames it over the state file.
    pub fn save(&self, state: &DeviceState) -> Result<(), StoreError> {
        let mut tmp_name = self.state_path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let io_err = |what, path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { what, path, source }
        };
        let mut f = File::create(&tmp).map_err(io_err("create temporary state", &tmp))?;
        f.write_all(state.to_text().as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io_err("write temporary state", &tmp))?;
        fs::rename(&tmp, &self.state_path).map_err(io_err("rename state", &self.state_path))
    }
}

/// Why the emulator could not reach a device's state.
#[derive(Debug)]
pub enum StoreError {
    MissingEnv(&'static str),
    BadInitiator(String),
    NoStateDir(PathBuf),
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    Lock {
        path: PathBuf,
        errno: Errno,
    },
    Parse {
        path: PathBuf,
        source: StateParseError,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::MissingEnv(var) => {
                write!(
                    f,
                    "environment variable {var} must be set (SPC-3 PR emulator)"
                )
            }
            StoreError::BadInitiator(name) => write!(
                f,
                "{INITIATOR_ENV}={name:?} is not a valid initiator name \
                 (1-223 characters of [A-Za-z0-9._:-])"
            ),
            StoreError::NoStateDir(dir) => {
                write!(f, "{DIR_ENV}={} is not a directory", dir.display())
            }
            StoreError::Io { what, path, .. } => write!(f, "{what} {}", path.display()),
            StoreError::Lock { path, .. } => write!(f, "flock {}", path.display()),
            StoreError::Parse { path, .. } => write!(f, "corrupt state file {}", path.display()),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io { source, .. } => Some(source),
            StoreError::Lock { errno, .. } => Some(errno),
            StoreError::Parse { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The error and its causes on one line, "outer: cause: cause".
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        s.push_str(": ");
        s.push_str(&e.to_string());
        cur = e.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_injective_and_readable() {
        assert_eq!(state_file_name(Path::new("/dev/loop3")), "_dev_loop3");
        assert_eq!(state_file_name(Path::new("/tmp/a_b")), "_tmp_a%5Fb");
        assert_eq!(state_file_name(Path::new("/tmp/a/b")), "_tmp_a_b");
        assert_eq!(state_file_name(Path::new("/x y.img")), "_x%20y.img");
    }

    #[test]
    fn environment_is_checked() {
        let tmp = std::env::temp_dir();
        let ok = EmulatorEnv::from_values(Some(tmp.clone().into()), Some("n1".into())).unwrap();
        assert_eq!(ok.initiator, "n1");
        let missing = EmulatorEnv::from_values(None, Some("n1".into())).unwrap_err();
        assert!(missing.to_string().contains(DIR_ENV));
        let missing = EmulatorEnv::from_values(Some(tmp.clone().into()), Some("".into()));
        assert!(missing.unwrap_err().to_string().contains(INITIATOR_ENV));
        let bad = EmulatorEnv::from_values(Some(tmp.into()), Some("a b".into()));
        assert!(matches!(bad, Err(StoreError::BadInitiator(_))));
        let nodir =
            EmulatorEnv::from_values(Some("/nonexistent/svcemu-state".into()), Some("n1".into()));
        assert!(matches!(nodir, Err(StoreError::NoStateDir(_))));
    }
}
