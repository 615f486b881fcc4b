//! The fs driver: mount a block device, an image file (`mnt_opt = loop`) or any mount source
//! on a mount point.
//!
//! Status comes from /proc/self/mountinfo only, so a filesystem that returns I/O errors still
//! shows as mounted: never a false "down".

pub mod mountinfo;
mod users;

use users::{fuser, join_pids, remaining, users_to_kill};

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::stat::{major, minor, stat, SFlag};
use nix::unistd::Pid;
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
    /// None: detected with blkid at start, as `mount` without `-t` would.
    fstype: Option<String>,
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
            fstype: rc.rtype.clone(),
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

    /// Whether `m` is our filesystem: same device numbers, or the same mount source (btrfs
    /// shows an anonymous device number), or a loop device backed by our image file.
    fn is_ours(&self, m: &Mount) -> bool {
        if self.dev_numbers() == Some((m.major, m.minor)) || same_path(&m.source, &self.dev) {
            return true;
        }
        let is_file = std::fs::metadata(&self.dev).is_ok_and(|md| md.is_file());
        is_file
            && match (
                loop_backing_file(&m.source),
                std::fs::canonicalize(&self.dev),
            ) {
                (Some(backing), Ok(dev)) => Path::new(&backing) == dev,
                _ => false,
            }
    }

    /// The mount visible at our mount point, if any (the last one stacked there). The
    /// kernel names mount points with symlinks resolved: `mnt` is resolved only when it is
    /// not found as written, so a hung filesystem elsewhere is never touched.
    fn current(&self, mounts: &[Mount]) -> Option<Mount> {
        if let Some(m) = mountinfo::last_at(mounts, &self.mnt) {
            return Some(m.clone());
        }
        let canon = std::fs::canonicalize(&self.mnt).ok()?;
        let canon = canon.to_str()?;
        (canon != self.mnt)
            .then(|| mountinfo::last_at(mounts, canon).cloned())
            .flatten()
    }

    /// Unmount `m`; when busy, TERM then KILL the processes using it, bounded by
    /// `deadline`. `tree` is the service's mount point (as mountinfo names it): users are
    /// killed only when the filesystem at `m` is not mounted outside that tree too.
    fn umount(&self, ctx: &Ctx, m: &Mount, tree: &str, deadline: Instant) -> Result<()> {
        let path = m.mountpoint.as_str();
        for signal in [Signal::SIGTERM, Signal::SIGKILL, Signal::SIGKILL] {
            let umount = Cmd::new(["umount", path])
                .timeout(remaining(deadline))
                .holds_lock();
            let err = match ctx.change(&self.rid, &umount) {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            if mountinfo::last_at(&Self::mounts()?, path).is_none() {
                return Ok(());
            }
            self.may_kill_users_of(m, tree)?;
            if Instant::now() >= deadline {
                return Err(err.into());
            }
            let (users, spared) = users_to_kill(&fuser(ctx, path, deadline)?);
            if users.is_empty() && !spared.is_empty() {
                return Err(Error::Failed(format!(
                    "{path} is busy: used by svcmgr itself or its parent processes ({}), not killed",
                    join_pids(&spared)
                )));
            }
            if !users.is_empty() {
                self.signal(ctx, &users, signal, path);
                let until = (Instant::now() + USERS_GRACE).min(deadline);
                while Instant::now() < until {
                    // A slow fuser here only ends the wait: umount tells what is left.
                    match fuser(ctx, path, until) {
                        Ok(pids) if !users_to_kill(&pids).0.is_empty() => {}
                        _ => break,
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        let umount = Cmd::new(["umount", path])
            .timeout(remaining(deadline))
            .holds_lock();
        ctx.change(&self.rid, &umount)?;
        Ok(())
    }

    /// Refuse to kill the users of a mount whose filesystem is not only ours: a bind mount
    /// of a subtree, or a filesystem also mounted outside the service's tree (a bind of
    /// `/` itself). Its users may be any process on the node.
    fn may_kill_users_of(&self, m: &Mount, tree: &str) -> Result<()> {
        let why = if m.root != "/" {
            format!("a bind mount of {} from {}", m.root, m.source)
        } else if mountinfo::mounted_outside(&Self::mounts()?, m, tree) {
            format!("{} is also mounted outside {tree}", m.source)
        } else {
            return Ok(());
        };
        Err(Error::Failed(format!(
            "{} is busy ({why}): its users are not killed",
            m.mountpoint
        )))
    }

    /// The filesystem type on `dev`, read by blkid (a `type`-less fs section).
    fn detect_type(&self, ctx: &Ctx) -> Result<String> {
        let blkid = Cmd::new(["blkid", "-o", "value", "-s", "TYPE", self.dev.as_str()]);
        let found = match ctx.query(&blkid) {
            Ok(o) => o.stdout.trim().to_string(),
            // blkid exits 2 when it finds no filesystem.
            Err(exec::ExecError::Failed { code: 2, .. }) => String::new(),
            Err(e) => return Err(e.into()),
        };
        if found.is_empty() || found.contains(char::is_whitespace) {
            return Err(Error::Failed(format!(
                "type is not set and blkid finds no filesystem on {}: set type",
                self.dev
            )));
        }
        tracing::info!(rid = %self.rid, "type is not set: blkid finds {found} on {}", self.dev);
        Ok(found)
    }

    fn signal(&self, ctx: &Ctx, pids: &[i32], signal: Signal, path: &str) {
        let name = signal.as_str().trim_start_matches("SIG");
        let line = format!("kill -{name} {} (users of {path})", join_pids(pids));
        if ctx.dry_run {
            tracing::info!(rid = %self.rid, "dry-run: {line}");
            return;
        }
        tracing::info!(rid = %self.rid, "{line}");
        for &pid in pids {
            // Gone already (ESRCH) is what we want.
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }
}

/// The file behind a loop device (`/dev/loop3`), if `source` is one and is attached.
fn loop_backing_file(source: &str) -> Option<String> {
    let n = source.strip_prefix("/dev/loop")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let text = std::fs::read_to_string(format!("/sys/block/loop{n}/loop/backing_file")).ok()?;
    Some(text.trim_end_matches('\n').to_string())
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
        let fstype = match &self.fstype {
            Some(t) => t.clone(),
            None => self.detect_type(ctx)?,
        };
        if matches!(fstype.as_str(), "ext2" | "ext3" | "ext4") {
            // 0 clean, 1 fixed, 2 fixed and reboot advised: all mountable.
            let fsck = Cmd::new(["e2fsck", "-p", self.dev.as_str()])
                .timeout(FSCK_TIMEOUT)
                .ok_codes(&[0, 1, 2])
                .holds_lock();
            ctx.change(&self.rid, &fsck)?;
        }
        let mut argv = vec!["mount".to_string(), "-t".into(), fstype];
        if let Some(o) = &self.opts {
            argv.extend(["-o".into(), o.clone()]);
        }
        argv.extend([self.dev.clone(), self.mnt.clone()]);
        let mount = Cmd::new(argv).timeout(self.start_timeout).holds_lock();
        ctx.change(&self.rid, &mount)?;
        Ok(true)
    }

    fn stop(&self, ctx: &Ctx) -> Result<bool> {
        let mounts = Self::mounts()?;
        let top = match self.current(&mounts) {
            Some(m) if self.is_ours(&m) => m,
            Some(m) => {
                tracing::warn!(
                    rid = %self.rid,
                    "{} is mounted from {}, not from {}: not ours, left mounted",
                    m.mountpoint, m.source, self.dev
                );
                return Ok(false);
            }
            None => {
                tracing::info!(rid = %self.rid, "{} is already unmounted", self.mnt);
                return Ok(false);
            }
        };
        // From here on the mount point is named as the kernel does (symlinks resolved).
        let tree = top.mountpoint.as_str();
        let deadline = Instant::now() + self.stop_timeout;
        for sub in mountinfo::submounts(&mounts, tree) {
            self.umount(ctx, sub, tree, deadline)?;
        }
        self.umount(ctx, &top, tree, deadline)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A section without `type`: blkid tells, the fsck and mount follow what it found.
    #[test]
    fn type_detected_by_blkid() {
        let dir = std::env::temp_dir().join(format!("svcmgr-fs-blkid-{}", std::process::id()));
        let dev = dir.join("disk.img");
        let mnt = dir.join("mnt");
        std::fs::create_dir_all(&mnt).unwrap();
        std::fs::write(&dev, b"").unwrap();
        let mut fs = fs_on(dev.to_str().unwrap());
        fs.mnt = mnt.to_str().unwrap().into();
        fs.fstype = None;
        let rec = crate::fake::Recorder::new();
        let d = dev.to_str().unwrap();
        rec.once(&["blkid", "-o", "value", "-s", "TYPE", d], 0, "ext4\n", "");
        let ctx = Ctx::new("web", "n1", dir.clone()).with_executor(rec.clone());
        assert!(fs.start(&ctx).unwrap());
        assert_eq!(
            rec.calls(),
            [
                format!("blkid -o value -s TYPE {d}"),
                format!("e2fsck -p {d}"),
                format!("mount -t ext4 {d} {}", fs.mnt),
            ]
        );
        // Nothing found: an error that says what to do, nothing mounted.
        let rec = crate::fake::Recorder::new();
        rec.once(&["blkid"], 2, "", "");
        let ctx = Ctx::new("web", "n1", dir.clone()).with_executor(rec.clone());
        let e = fs.start(&ctx).unwrap_err().to_string();
        assert!(e.contains("blkid finds no filesystem on"), "{e}");
        assert_eq!(rec.calls().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn loop_sources_only() {
        assert_eq!(loop_backing_file("/dev/vda"), None);
        assert_eq!(loop_backing_file("/dev/loop"), None);
        assert_eq!(loop_backing_file("/dev/loop1x"), None);
        assert_eq!(loop_backing_file("/dev/loop/../vda"), None);
    }

    fn fs_on(dev: &str) -> Fs {
        Fs {
            rid: "fs#1".into(),
            dev: dev.into(),
            mnt: "/srv/web".into(),
            fstype: Some("ext4".into()),
            opts: None,
            start_timeout: exec::DEFAULT_TIMEOUT,
            stop_timeout: exec::DEFAULT_TIMEOUT,
        }
    }

    #[test]
    fn start_checks_then_mounts_and_a_damaged_filesystem_is_not_mounted() {
        let d = std::env::temp_dir().join(format!("svcmgr-fs-argv-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let dev = d.join("disk.img");
        std::fs::write(&dev, b"").unwrap();
        let fs = Fs {
            mnt: d.join("mnt").display().to_string(),
            opts: Some("noatime".into()),
            ..fs_on(&dev.display().to_string())
        };
        let rec = crate::fake::Recorder::new();
        let ctx = Ctx::new("t", "n1", d.clone()).with_executor(rec.clone());
        assert!(fs.start(&ctx).unwrap());
        let (dev, mnt) = (dev.display().to_string(), fs.mnt.clone());
        assert!(
            Path::new(&mnt).is_dir(),
            "the missing mount point is created"
        );
        assert_eq!(
            rec.calls(),
            [
                format!("e2fsck -p {dev}"),
                format!("mount -t ext4 -o noatime {dev} {mnt}")
            ]
        );
        // e2fsck exit 4: errors left uncorrected; the start stops there.
        let rec = crate::fake::Recorder::new();
        rec.on(&["e2fsck"], 4, "");
        let ctx = Ctx::new("t", "n1", d.clone()).with_executor(rec.clone());
        let e = fs.start(&ctx).unwrap_err().to_string();
        assert!(e.contains("exit status 4"), "{e}");
        assert_eq!(rec.calls(), [format!("e2fsck -p {dev}")]);
        let _ = std::fs::remove_dir_all(&d);
    }

    fn mount_of(major: u32, minor: u32, source: &str) -> Mount {
        Mount {
            major,
            minor,
            root: "/".into(),
            mountpoint: "/srv/web".into(),
            fstype: "btrfs".into(),
            source: source.into(),
        }
    }

    #[test]
    fn identity_by_source_when_device_numbers_differ() {
        let dir = std::env::temp_dir().join(format!("svcmgr-fs-id-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("web.img");
        std::fs::write(&img, b"").unwrap();
        let link = dir.join("disk-by-label");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&img, &link).unwrap();
        let fs = fs_on(link.to_str().unwrap());
        // An anonymous device number (btrfs) with our dev, named through a symlink, as source.
        assert!(fs.is_ours(&mount_of(0, 61, img.to_str().unwrap())));
        assert!(fs.is_ours(&mount_of(0, 61, link.to_str().unwrap())));
        assert!(!fs.is_ours(&mount_of(0, 61, "/dev/vdb")));
        // A loop device that is not backed by our file.
        assert!(!fs.is_ours(&mount_of(7, 999_999, "/dev/loop999999")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize("/srv/web/"), "/srv/web");
        assert_eq!(normalize("/srv//web/./"), "/srv/web");
        assert!(same_path("/srv/web/", "/srv/web"));
    }
}
