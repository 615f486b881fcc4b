//! A test double for SCSI-3 persistent reservations.
//!
//! No SCSI device exists in the lab, yet the SCSI reservation driver runs the real command
//! lines of sg3_utils' `sg_persist` and multipath-tools' `mpathpersist`. The `sg_persist` and
//! `mpathpersist` binaries of this crate, put first on PATH, accept those command lines,
//! keep SPC-3 state per device in files (so every node of a lab sees the same logical
//! unit), and print exactly what the real tools print.
//!
//! Environment: `SVCMGR_PR_EMU_DIR` (state directory, required) and
//! `SVCMGR_PR_EMU_INITIATOR` (this node's initiator name, one I_T nexus, required).
//!
//! Not emulated: TransportID arguments (`--transport-id`), hex output (`--hex`),
//! `mpathpersist --batch-file`, multipathd's configured `reservation_key` checks and the
//! per-path registrations of a real multipath map (one initiator is one I_T nexus).

pub mod device;
pub mod format;
pub mod getopt;
pub mod mpath_cli;
pub mod mpath_tool;
pub mod rules;
pub mod sg_cli;
pub mod sg_tool;
pub mod state;
pub mod store;

use std::ffi::OsString;
use std::path::Path;

use crate::lab::OutputExt;

/// The environment variables the emulated tools read.
#[derive(Clone, Debug, Default)]
pub struct ProcessEnv {
    pub emu_dir: Option<OsString>,
    pub emu_initiator: Option<OsString>,
    /// sg_persist opens the device read-only for PR IN when `SG_PERSIST_IN_RDONLY` is set.
    pub sg_persist_in_rdonly: bool,
}

impl ProcessEnv {
    pub fn from_process() -> ProcessEnv {
        ProcessEnv {
            emu_dir: std::env::var_os(store::DIR_ENV),
            emu_initiator: std::env::var_os(store::INITIATOR_ENV),
            sg_persist_in_rdonly: std::env::var_os("SG_PERSIST_IN_RDONLY").is_some(),
        }
    }
}

/// The program arguments as UTF-8 strings, or the first one that is not.
pub fn utf8_args(args: impl Iterator<Item = OsString>) -> Result<Vec<String>, OsString> {
    args.map(OsString::into_string).collect()
}

/// The emulator's own answer to `sg_persist -n ARGS DEV` (`sg` the built emulator, state in
/// `state_dir`), read as a third initiator ("observer"): what a lab test checks the
/// logical unit holds.
pub fn observe(sg: &Path, state_dir: &Path, args: &[&str], dev: &str) -> String {
    let o = std::process::Command::new(sg)
        .arg("-n")
        .args(args)
        .arg(dev)
        .env(store::DIR_ENV, state_dir)
        .env(store::INITIATOR_ENV, "observer")
        .output()
        .expect("run the sg_persist emulator");
    o.assert_ok(&format!("emulator {args:?}"));
    o.stdout_str()
}
