//! Loop devices over sparse files: the lab's shared disks.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::node::lock;
use super::util::{host, host_try, parse_mountinfo, stdout, teardown, unique, wait_until};

/// Mount namespace files of the labs alive in this process, for loop device teardown.
pub(crate) static MOUNT_NAMESPACES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A loop device attached to a sparse file; detached (after lazy unmounts) on drop.
#[derive(Debug)]
pub struct LoopDev {
    dev: String,
    file: PathBuf,
}

impl LoopDev {
    /// A sparse file of `size_mb` MiB in `dir`, attached with `losetup -f --show`.
    pub fn new(dir: &Path, size_mb: u64) -> LoopDev {
        let file = dir.join(format!("{}.img", unique("disk")));
        let f = std::fs::File::create(&file)
            .unwrap_or_else(|e| panic!("create {}: {e}", file.display()));
        f.set_len(size_mb * 1024 * 1024)
            .expect("size the backing file");
        drop(f);
        let o = host(&[
            "losetup",
            "-f",
            "--show",
            file.to_str().expect("utf-8 path"),
        ]);
        let dev = stdout(&o).trim().to_string();
        assert!(dev.starts_with("/dev/loop"), "losetup printed {dev:?}");
        LoopDev { dev, file }
    }

    /// `/dev/loopN`.
    pub fn path(&self) -> &str {
        &self.dev
    }

    /// The backing file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// `mkfs.ext4` on the device.
    pub fn mkfs_ext4(&self) {
        host(&["mkfs.ext4", "-q", "-F", &self.dev]);
    }

    /// "major:minor" as mountinfo prints it.
    fn majmin(&self) -> Option<String> {
        let rdev = std::fs::metadata(&self.dev).ok()?.rdev();
        Some(format!(
            "{}:{}",
            nix::sys::stat::major(rdev),
            nix::sys::stat::minor(rdev)
        ))
    }

    /// Lazily unmount every mount of this device in one mount namespace (None: the host's).
    fn unmount_in(&self, majmin: &str, ns: Option<&Path>) {
        let prefix: Vec<String> = ns
            .map(|f| vec!["nsenter".to_string(), format!("--mount={}", f.display())])
            .unwrap_or_default();
        let run = |tail: &[&str]| {
            let mut argv: Vec<&str> = prefix.iter().map(String::as_str).collect();
            argv.extend_from_slice(tail);
            host_try(&argv)
        };
        let o = run(&["cat", "/proc/self/mountinfo"]);
        if !o.status.success() {
            return;
        }
        let mut points: Vec<String> = parse_mountinfo(&stdout(&o))
            .into_iter()
            .filter(|m| m.dev == majmin)
            .map(|m| m.mount_point)
            .collect();
        // Deepest first.
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let o = run(&["umount", "-l", &p]);
            if !o.status.success() {
                eprintln!("lab teardown: umount -l {p} failed for {}", self.dev);
            }
        }
    }

    fn attached(&self) -> bool {
        let o = host_try(&["losetup", "-j", self.file.to_str().unwrap_or_default()]);
        !stdout(&o).trim().is_empty()
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        if let Some(mm) = self.majmin() {
            let namespaces = lock(&MOUNT_NAMESPACES).clone();
            for ns in &namespaces {
                self.unmount_in(&mm, Some(ns));
            }
            self.unmount_in(&mm, None);
        }
        teardown(&["losetup", "-d", &self.dev]);
        // A lazy unmount releases the device asynchronously; autoclear then detaches it.
        if !wait_until(Duration::from_secs(5), "loop device to detach", || {
            !self.attached()
        }) {
            eprintln!(
                "lab teardown: {} still attached to {}",
                self.dev,
                self.file.display()
            );
        }
        let _ = std::fs::remove_file(&self.file);
    }
}
