//! A real LVM volume group on a loop-device PV, removed on drop (before its loop device).
//! This kernel has no device-mapper: the VG carries no LV.

use std::path::Path;
use std::process::{Command, Output};

use super::{unique, LoopDev};

pub struct VolumeGroup {
    pub name: String,
    // Declared after `name` and dropped after `Drop::drop` removed the VG.
    pv: LoopDev,
}

fn lvm(argv: &[&str]) -> std::io::Result<Output> {
    Command::new(argv[0])
        .args(&argv[1..])
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .env("LC_ALL", "C")
        .output()
}

impl VolumeGroup {
    pub fn new(dir: &Path, size_mb: u64) -> VolumeGroup {
        let pv = LoopDev::new(dir, size_mb);
        let vg = VolumeGroup {
            name: unique("vglab"),
            pv,
        };
        for argv in [
            &["pvcreate", "-q", vg.pv.path()][..],
            &["vgcreate", "-q", &vg.name, vg.pv.path()][..],
        ] {
            let o = lvm(argv).unwrap_or_else(|e| panic!("{}: {e}", argv.join(" ")));
            assert!(
                o.status.success(),
                "{}: {}",
                argv.join(" "),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        vg
    }

    pub fn pv(&self) -> &str {
        self.pv.path()
    }
}

impl Drop for VolumeGroup {
    fn drop(&mut self) {
        for argv in [
            &["vgremove", "-f", &self.name][..],
            &["pvremove", "-ff", "-y", self.pv.path()][..],
        ] {
            match lvm(argv) {
                Ok(o) if o.status.success() => {}
                Ok(o) => eprintln!(
                    "lab teardown: {}: {}",
                    argv.join(" "),
                    String::from_utf8_lossy(&o.stderr)
                ),
                Err(e) => eprintln!("lab teardown: {}: {e}", argv.join(" ")),
            }
        }
    }
}
