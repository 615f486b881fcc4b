//! The fs driver: mount a block device (or any mount source) on a mount point.
//!
//! Status comes from /proc/self/mountinfo only, comparing device numbers, so a filesystem
//! that returns I/O errors still shows as mounted: never a false "down".

pub mod mountinfo;

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::stat::{major, minor, stat, SFlag};
use svcconf::ResourceConfig;

use crate::exec::{self, Cmd};
use crate::{Ctx, Driver, Error, ResStatus, Result, Status};
use mountinfo::Mount;

const FSCK_TIMEOUT: Duration = Duration::from_secs(3600);
/// How long to wait for the users of a mount point to exit after a signal.
const USERS_GRACE: Duration = Duration::from_secs(3);

pub struct Fs {
    rid: String,
    dev: String,
    mnt: String,
    fstype: String,
    opts: Option<String>,
    start_timeout: Duration,
    stop_timeout: Duration,
}

impl Fs {
    pub fn new(rc: &ResourceConfig) -> Result<Fs> {
        let need = |kw: &str| {
            rc.str(kw)
                .map(str::to_string)
                .ok_or_else(|| Error::Failed(format!("{}: {kw} is not set", rc.rid)))
        };
        Ok(Fs {
            rid: rc.rid.clone(),
            dev: need("dev")?,
            mnt: normalize(&need("mnt")?),
            fstype: rc
                .rtype
                .clone()
                .ok_or_else(|| Error::Failed(format!("{}: type is not set", rc.rid)))?,
            opts: rc.str("mnt_opt").map(str::to_string),
            start_timeout: rc
                .duration("start_timeout")
                .unwrap_or(exec::DEFAULT_TIMEOUT),
            stop_timeout: rc.duration("stop_timeout").unwrap_or(exec::DEFAULT_TIMEOUT),
        })
    }

    pub fn mnt(&self) -> &str {
        &self.mnt
    }

    fn mounts() -> Result<Vec<Mount>> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| Error::io("/proc/self/mountinfo", e))?;
        Ok(mountinfo::parse(&text))
    }

    /// The device numbers of `dev` when it is a block device.
    fn dev_numbers(&self) -> Option<(u32, u32)> {
        let st = stat(self.dev.as_str()).ok()?;
        let is_block = SFlag::from_bits_truncate(st.st_mode).contains(SFlag::S_IFBLK);
        is_block.then(|| (major(st.st_rdev) as u32, minor(st.st_rdev) as u32))
    }

    fn is_ours(&self, m: &Mount) -> bool {
        match self.dev_numbers() {
            Some((ma, mi)) => m.major == ma && m.minor == mi,
            None => same_path(&m.source, &self.dev),
        }
    }

    fn at_mountpoint(&self, mp: &str) -> bool {
        mp == self.mnt || same_path(mp, &self.mnt)
    }

    /// The mount visible at our mount point, if any (the last one stacked there).
    fn current(&self, mounts: &[Mount]) -> Option<Mount> {
        mounts
            .iter()
            .rev()
            .find(|m| self.at_mountpoint(&m.mountpoint))
            .cloned()
    }

    fn is_mounted(path: &str) -> Result<bool> {
        Ok(Self::mounts()?.iter().any(|m| m.mountpoint == path))
    }

    /// Unmount `path`; when busy, TERM then KILL the processes using it, bounded by
    /// `deadline`.
    fn umount(&self, ctx: &Ctx, path: &str, deadline: Instant) -> Result<()> {
        for signal in ["TERM", "KILL", "KILL"] {
            let err = match ctx.change(
                &self.rid,
                &Cmd::new(["umount", path]).timeout(self.stop_timeout),
            ) {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            if !Self::is_mounted(path)? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(err.into());
            }
            // fuser -m on a path that is not a mount point would hit its whole parent
            // filesystem: is_mounted above guarantees it is one.
            let sig = format!("-{signal}");
            ctx.change(
                &self.rid,
                &Cmd::new(["fuser", "-k", sig.as_str(), "-m", path]).ok_codes(&[0, 1]),
            )?;
            let until = (Instant::now() + USERS_GRACE).min(deadline);
            while Instant::now() < until {
                let users = exec::output(&Cmd::new(["fuser", "-m", path]))?;
                if users.code != 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        ctx.change(
            &self.rid,
            &Cmd::new(["umount", path]).timeout(self.stop_timeout),
        )?;
        Ok(())
    }
}

/// Lexical normalisation: no trailing slash, no `.` or doubled slashes.
fn normalize(p: &str) -> String {
    let path: PathBuf = Path::new(p)
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    path.to_string_lossy().into_owned()
}

fn same_path(a: &str, b: &str) -> bool {
    if normalize(a) == normalize(b) {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

impl Driver for Fs {
    fn rid(&self) -> &str {
        &self.rid
    }

    fn label(&self) -> String {
        format!("{}@{}", self.dev, self.mnt)
    }

    fn status(&self, _ctx: &Ctx) -> ResStatus {
        let mounts = match Self::mounts() {
            Ok(m) => m,
            Err(e) => return ResStatus::with(Status::Undef, e.to_string()),
        };
        match self.current(&mounts) {
            Some(m) if self.is_ours(&m) => ResStatus::new(Status::Up),
            Some(m) => ResStatus::with(
                Status::Warn,
                format!("{} is mounted from {}", self.mnt, m.source),
            ),
            None if !Path::new(&self.dev).exists() => {
                ResStatus::with(Status::Down, format!("device {} does not exist", self.dev))
            }
            None => ResStatus::new(Status::Down),
        }
    }

    fn start(&self, ctx: &Ctx) -> Result<bool> {
        match self.current(&Self::mounts()?) {
            Some(m) if self.is_ours(&m) => {
                tracing::info!(rid = %self.rid, "{} is already mounted on {}", self.dev, self.mnt);
                return Ok(false);
            }
            Some(m) => {
                return Err(Error::Refused(format!(
                    "mount point {} is already in use by {}",
                    self.mnt, m.source
                )))
            }
            None => {}
        }
        if !Path::new(&self.dev).exists() {
            return Err(Error::Failed(format!("device {} does not exist", self.dev)));
        }
        if !Path::new(&self.mnt).is_dir() {
            tracing::info!(rid = %self.rid, "create missing mountpoint {}", self.mnt);
            if !ctx.dry_run {
                std::fs::create_dir_all(&self.mnt).map_err(|e| Error::io(&self.mnt, e))?;
            }
        }
        if matches!(self.fstype.as_str(), "ext2" | "ext3" | "ext4") {
            // 0 clean, 1 fixed, 2 fixed and reboot advised: all mountable.
            let fsck = Cmd::new(["e2fsck", "-p", self.dev.as_str()])
                .timeout(FSCK_TIMEOUT)
                .ok_codes(&[0, 1, 2]);
            ctx.change(&self.rid, &fsck)?;
        }
        let mut argv = vec!["mount".to_string(), "-t".into(), self.fstype.clone()];
        if let Some(o) = &self.opts {
            argv.extend(["-o".into(), o.clone()]);
        }
        argv.extend([self.dev.clone(), self.mnt.clone()]);
        ctx.change(&self.rid, &Cmd::new(argv).timeout(self.start_timeout))?;
        Ok(true)
    }

    fn stop(&self, ctx: &Ctx) -> Result<bool> {
        let mounts = Self::mounts()?;
        match self.current(&mounts) {
            Some(m) if self.is_ours(&m) => {}
            _ => {
                tracing::info!(rid = %self.rid, "{} is already unmounted", self.mnt);
                return Ok(false);
            }
        }
        let deadline = Instant::now() + self.stop_timeout;
        for sub in mountinfo::submounts(&mounts, &self.mnt) {
            self.umount(ctx, &sub.mountpoint, deadline)?;
        }
        self.umount(ctx, &self.mnt, deadline)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize("/srv/web/"), "/srv/web");
        assert_eq!(normalize("/srv//web/./"), "/srv/web");
        assert!(same_path("/srv/web/", "/srv/web"));
    }
}
