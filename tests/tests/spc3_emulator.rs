//! The `sg_persist` and `mpathpersist` emulators, driven as the reservation driver drives
//! the real tools: separate processes, two initiators, one shared device.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const SG: &str = env!("CARGO_BIN_EXE_sg_persist");
const MPATH: &str = env!("CARGO_BIN_EXE_mpathpersist");

/// A state directory and a device file, removed on drop even when the test fails.
struct Lab {
    root: PathBuf,
    state: PathBuf,
    dev: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let root = std::env::temp_dir().join(format!(
            "spc3emu-{}-{nanos:x}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let state = root.join("state");
        fs::create_dir_all(&state).expect("create state dir");
        let dev = root.join("disk.img");
        fs::write(&dev, vec![0u8; 4096]).expect("create device file");
        Lab { root, state, dev }
    }

    fn dev(&self) -> &str {
        self.dev.to_str().expect("utf-8 temp path")
    }

    fn run(&self, tool: &str, initiator: &str, args: &[&str]) -> Out {
        let out = Command::new(tool)
            .args(args)
            .env("SVCMGR_PR_EMU_DIR", &self.state)
            .env("SVCMGR_PR_EMU_INITIATOR", initiator)
            .env_remove("SG_PERSIST_IN_RDONLY")
            .output()
            .expect("spawn emulator");
        Out {
            code: out.status.code().expect("exit status, not a signal"),
            stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
        }
    }

    /// sg_persist -n with the device appended.
    fn sg(&self, initiator: &str, args: &[&str]) -> Out {
        let mut a = vec!["-n"];
        a.extend_from_slice(args);
        a.push(self.dev());
        self.run(SG, initiator, &a)
    }

    fn mpath(&self, initiator: &str, args: &[&str]) -> Out {
        let mut a = args.to_vec();
        a.push(self.dev());
        self.run(MPATH, initiator, &a)
    }

    fn keys(&self) -> String {
        self.sg("n1", &["-i", "-k"]).ok()
    }

    fn resv(&self) -> String {
        self.sg("n1", &["-i", "-r"]).ok()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    /// Asserts success with an empty stderr and returns stdout.
    fn ok(self) -> String {
        assert_eq!((self.code, self.stderr.as_str()), (0, ""), "{self:?}");
        self.stdout
    }

    fn conflict(&self, action: &str) {
        assert_eq!(self.code, 24, "{self:?}");
        assert_eq!(self.stdout, "");
        assert_eq!(
            self.stderr,
            format!("PR out ({action}): Reservation conflict\nsg_persist failed: Reservation conflict\n")
        );
    }
}

const NO_KEYS: &str = "  PR generation=0x0, there are NO registered reservation keys\n";

#[test]
fn fresh_device_has_no_keys_and_no_reservation() {
    let lab = Lab::new();
    assert_eq!(lab.keys(), NO_KEYS);
    assert_eq!(
        lab.resv(),
        "  PR generation=0x0, there is NO reservation held\n"
    );
    // Reading does not create a state file.
    assert!(!lab.state.join(state_name(&lab.dev)).exists());
}

fn state_name(dev: &Path) -> String {
    fs::canonicalize(dev)
        .unwrap()
        .to_str()
        .unwrap()
        .replace('/', "_")
}

#[test]
fn register_reserve_read_byte_exact() {
    let lab = Lab::new();
    lab.sg("n1", &["--out", "--register", "--param-sark=0x74ca0000"])
        .ok();
    assert_eq!(
        lab.keys(),
        "  PR generation=0x1, 1 registered reservation key follows:\n    0x74ca0000\n"
    );
    lab.sg("n2", &["-o", "-I", "-S", "0x74ca0002"]).ok();
    assert_eq!(
        lab.keys(),
        "  PR generation=0x2, 2 registered reservation keys follow:\n    0x74ca0000\n    0x74ca0002\n"
    );
    lab.sg(
        "n1",
        &[
            "--out",
            "--reserve",
            "--param-rk=0x74ca0000",
            "--prout-type=5",
        ],
    )
    .ok();
    assert_eq!(
        lab.resv(),
        "  PR generation=0x2, Reservation follows:\n    Key=0x74ca0000\n    \
         scope: LU_SCOPE,  type: Write Exclusive, registrants only\n"
    );
    // Reserve and release leave the generation alone.
    assert!(lab.keys().starts_with("  PR generation=0x2, "));
    let full = lab.sg("n2", &["-i", "-s"]).ok();
    assert_eq!(
        full,
        "  PR generation=0x2\n    Key=0x74ca0000\n      All target ports bit clear\n      \
         Relative port address: 0x1\n      << Reservation holder >>\n      \
         scope: LU_SCOPE,  type: Write Exclusive, registrants only\n        \
         iSCSI name: iqn.2024-01.svcemu:n1\n    Key=0x74ca0002\n      All target ports bit clear\n      \
         Relative port address: 0x1\n      not reservation holder\n        \
         iSCSI name: iqn.2024-01.svcemu:n2\n"
    );
    // The state file is named after the canonical device path, written by rename.
    let name = state_name(&lab.dev);
    let text = fs::read_to_string(lab.state.join(&name)).unwrap();
    assert!(text.contains("registration n1 0x74ca0000\n"), "{text}");
    assert!(!lab.state.join(format!("{name}.tmp")).exists());
}

#[test]
fn inquiry_line_unless_no_inquiry() {
    let lab = Lab::new();
    let out = lab.run(SG, "n1", &["--in", "--read-keys", lab.dev()]).ok();
    assert_eq!(
        out,
        format!("  SVCEMU    SPC3 PR emulator  0001\n  Peripheral device type: disk\n{NO_KEYS}")
    );
    let out = lab
        .run(
            SG,
            "n1",
            &[
                "--no-inquiry",
                "--in",
                "--read-keys",
                &format!("--device={}", lab.dev()),
            ],
        )
        .ok();
    assert_eq!(out, NO_KEYS);
    // No service action: read keys, with sg_persist's notice on stderr.
    let out = lab.run(SG, "n1", &["-n", lab.dev()]);
    assert_eq!((out.code, out.stdout.as_str()), (0, NO_KEYS));
    assert!(out.stderr.starts_with(">> No service action given"));
}

#[test]
fn keys_are_normalized() {
    let lab = Lab::new();
    lab.sg("n1", &["-o", "-G", "-S", "0X00AB"]).ok();
    lab.sg(
        "n2",
        &[
            "--out",
            "--register-ignore",
            "--param-sark=000000000000DEAD",
        ],
    )
    .ok();
    assert_eq!(
        lab.keys(),
        "  PR generation=0x2, 2 registered reservation keys follow:\n    0xab\n    0xdead\n"
    );
    lab.sg("n1", &["-o", "-R", "-K", "ab", "-T", "5"]).ok();
    assert!(lab.resv().contains("    Key=0xab\n"));
}

#[test]
fn register_with_wrong_key_conflicts() {
    let lab = Lab::new();
    lab.sg("n1", &["-o", "-G", "-S", "0x1"]).ok();
    lab.sg("n1", &["-o", "-G", "-K", "0x2", "-S", "0x3"])
        .conflict("Register");
    // An unregistered nexus must give a zero RESERVATION KEY.
    lab.sg("n2", &["-o", "-G", "-K", "0x1", "-S", "0x3"])
        .conflict("Register");
    assert_eq!(
        lab.keys(),
        "  PR generation=0x1, 1 registered reservation key follows:\n    0x1\n"
    );
    // With the right key it changes.
    lab.sg("n1", &["-o", "-G", "-K", "0x1", "-S", "0x4"]).ok();
    assert_eq!(
        lab.keys(),
        "  PR generation=0x2, 1 registered reservation key follows:\n    0x4\n"
    );
}

#[test]
fn register_ignore_replaces_any_key() {
    let lab = Lab::new();
    lab.sg("n1", &["-o", "-I", "-S", "0x1"]).ok();
    lab.sg("n1", &["-o", "-I", "-K", "0x77", "-S", "0x2"]).ok();
    assert_eq!(
        lab.keys(),
        "  PR generation=0x2, 1 registered reservation key follows:\n    0x2\n"
    );
}

#[test]
fn unregister_releases_the_holders_reservation() {
    let lab = Lab::new();
    lab.sg("n1", &["-o", "-G", "-S", "0x1"]).ok();
    lab.sg("n2", &["-o", "-G", "-S", "0x2"]).ok();
    lab.sg("n1", &["-o", "-R", "-K", "0x1", "-T", "5"]).ok();
    // A non-holder unregistering leaves the reservation.
    lab.sg("n2", &["-o", "-G", "-K", "0x2", "-S", "0"]).ok();
    assert!(lab.resv().contains("Reservation follows"));
    lab.sg("n1", &["-o", "-G", "-K", "0x1"]).ok();
    assert_eq!(
        lab.keys(),
        "  PR generation=0x4, there are NO registered reservation keys\n"
    );
    assert_eq!(
        lab.resv(),
        "  PR generation=0x4, there is NO reservation held\n"
    );
}

#[test]
fn reserve_rules() {
    let lab = Lab::new();
    // Not registered: conflict.
    lab.sg("n1", &["-o", "-R", "-K", "0x1", "-T", "5"])
        .conflict("Reserve");
    lab.sg("n1", &["-o", "-G", "-S", "0x1"]).ok();
    lab.sg("n2", &["-o", "-G", "-S", "0x2"]).ok();
    // Wrong own key: conflict.
    lab.sg("n1", &["-o", "-R", "-K", "0x2", "-T", "5"])
        .conflict("Reserve");
    lab.sg("n1", &["-o", "-R", "-K", "0x1", "-T", "5"]).ok();
    // Again by the holder, same type: success, nothing changes.
    lab.sg("n1", &["-o", "-R", "-K", "0x1", "-T", "5"]).ok();
    // The holder changing the type, or another registrant: conflict.
    lab.sg("n1", &["-o", "-R", "-K", "0x1", "-T", "6"])
        .conflict("Reserve");
    lab.sg("n2", &["-o", "-R", "-K", "0x2", "-T", "5"])
        .conflict("Reserve");
    assert_eq!(
        lab.resv(),
        "  PR generation=0x2, Reservation follows:\n    Key=0x1\n    \
         scope: LU_SCOPE,  type: Write Exclusive, registrants only\n"
    );
    // An obsolete type is an illegal request (sense key ILLEGAL REQUEST -> 5).
    let lab2 = Lab::new();
    lab2.sg("n1", &["-o", "-G", "-S", "0x1"]).ok();
    let out = lab2.sg("n1", &["-o", "-R", "-K", "0x1", "-T", "2"]);
    assert_eq!(out.code, 5, "{out:?}");
    assert_eq!(
        out.stderr,
        "PR out (Reserve): bad field in cdb (perhaps unsupported service action)\n\
         sg_persist failed: Illegal request\n"
    );
}

#[test]
fn release_rules() {
    let lab = Lab::new();
    lab.sg("n1", &["-o", "-G", "-S", "0x1"]).ok();
    lab.sg("n2", &["-o", "-G", "-S", "0x2"]).ok();
    lab.sg("n1", &["-o", "-R", "-K", "0x1", "-T", "5"]).ok();
    // A non-holder registrant: success, nothing released.
    lab.sg("n2", &["-o", "-L", "-K", "0x2", "-T", "5"]).ok();
    assert!(lab.resv().contains("Key=0x1"));
    // Unregistered: conflict.
    lab.sg("n3", &["-o", "-L", "-K", "0x3", "-T", "5"])
        .conflict("Release");
    // The holder with the wrong type: INVALID RELEASE OF PERSISTENT RESERVATION.
    let out = lab.sg("n1", &["-o", "-L", "-K", "0x1", "-T", "6"]);
    assert_eq!(out.code, 5, "{out:?}");
    assert_eq!(
        out.stderr,
        "PR out (Release): bad field in cdb (perhaps unsupported service action)\n\
         sg_persist failed: Illegal request\n"
    );
    assert!(lab.resv().contains("Key=0x1"));
    lab.sg(
        "n1",
        &["--out", "--release", "--param-rk=0x1", "--prout-type=5"],
    )
    .ok();
    assert_eq!(
        lab.resv(),
        "  PR generation=0x2, there is NO reservation held\n"
    );
    // Nothing held: success.
    lab.sg("n1", &["-o", "-L", "-K", "0x1", "-T", "5"]).ok();
}

#[test]
fn clear_removes_everything() {
    let lab = Lab::new();
    lab.sg("n1", &["-o", "-G", "-S", "0x1"]).ok();
    lab.sg("n2", &["-o", "-G", "-S", "0x2"]).ok();
    lab.sg("n1", &["-o", "-R", "-K", "0x1", "-T", "5"]).ok();
    lab.sg("n3", &["-o", "-C", "-K", "0x3"]).conflict("Clear");
    lab.sg("n2", &["--out", "--clear", "--param-rk=0x2"]).ok();
    assert_eq!(
        lab.keys(),
        "  PR generation=0x3, there are NO registered reservation keys\n"
    );
    assert_eq!(
        lab.resv(),
        "  PR generation=0x3, there is NO reservation held\n"
    );
}

#[test]
fn preempt_abort_takes_over_from_another_initiator() {
    for (long, short, name) in [
        ("--preempt-abort", "-A", "Preempt and abort"),
        ("--preempt", "-P", "Preempt"),
    ] {
        let lab = Lab::new();
        lab.sg("n1", &["-o", "-G", "-S", "0x74ca0000"]).ok();
        lab.sg("n2", &["-o", "-G", "-S", "0x74ca0002"]).ok();
        lab.sg("n1", &["-o", "-R", "-K", "0x74ca0000", "-T", "5"])
            .ok();
        // Unregistered, or naming a key nobody holds: conflict.
        lab.sg(
            "n3",
            &["-o", short, "-K", "0x3", "-S", "0x74ca0000", "-T", "5"],
        )
        .conflict(name);
        lab.sg(
            "n2",
            &["-o", short, "-K", "0x74ca0002", "-S", "0x99", "-T", "5"],
        )
        .conflict(name);
        lab.sg(
            "n2",
            &[
                "--out",
                long,
                "--param-rk=0x74ca0002",
                "--param-sark=0x74ca0000",
                "--prout-type=5",
            ],
        )
        .ok();
        assert_eq!(
            lab.keys(),
            "  PR generation=0x3, 1 registered reservation key follows:\n    0x74ca0002\n"
        );
        assert_eq!(
            lab.resv(),
            "  PR generation=0x3, Reservation follows:\n    Key=0x74ca0002\n    \
             scope: LU_SCOPE,  type: Write Exclusive, registrants only\n"
        );
        // The preempted node is no longer registered: its PR OUT commands conflict.
        lab.sg("n1", &["-o", "-R", "-K", "0x74ca0000", "-T", "5"])
            .conflict("Reserve");
    }
}

#[test]
fn preempt_a_non_holder_key_only_removes_registrations() {
    let lab = Lab::new();
    lab.sg("n1", &["-o", "-G", "-S", "0x1"]).ok();
    lab.sg("n2", &["-o", "-G", "-S", "0x2"]).ok();
    lab.sg("n3", &["-o", "-G", "-S", "0x3"]).ok();
    lab.sg("n1", &["-o", "-R", "-K", "0x1", "-T", "5"]).ok();
    lab.sg("n2", &["-o", "-P", "-K", "0x2", "-S", "0x3", "-T", "5"])
        .ok();
    assert_eq!(
        lab.keys(),
        "  PR generation=0x4, 2 registered reservation keys follow:\n    0x1\n    0x2\n"
    );
    assert!(lab.resv().contains("Key=0x1\n"));
    // A zero key under a single-holder reservation: invalid field in parameter list.
    let out = lab.sg("n2", &["-o", "-P", "-K", "0x2", "-S", "0", "-T", "5"]);
    assert_eq!(out.code, 19, "{out:?}");
    assert_eq!(
        out.stderr,
        "PR out (Preempt): bad field parameter list\n\
         sg_persist failed: Illegal request, Invalid field in parameter list\n"
    );
}

#[test]
fn missing_device_is_reported_like_sg_persist() {
    let lab = Lab::new();
    let missing = lab.root.join("nope");
    let missing = missing.to_str().unwrap();
    let out = lab.run(SG, "n1", &["-i", "-k", missing]);
    assert_eq!(out.code, 52, "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!("sg_persist: error opening file (ro): {missing}: No such file or directory\n")
    );
    let out = lab.run(SG, "n1", &["-n", "-o", "-G", "-S", "1", missing]);
    assert_eq!(out.code, 52, "{out:?}");
    assert_eq!(
        out.stderr,
        format!("sg_persist: error opening file {missing} (rw): No such file or directory\n")
    );
    let out = lab.run(MPATH, "n1", &["-i", "-k", missing]);
    assert_eq!(
        (out.code, out.stderr),
        (12, format!("{missing}: error opening file (rw) fd=-1\n"))
    );
}

#[test]
fn environment_is_required() {
    let lab = Lab::new();
    for (tool, var) in [
        (SG, "SVCMGR_PR_EMU_DIR"),
        (MPATH, "SVCMGR_PR_EMU_INITIATOR"),
    ] {
        let out = Command::new(tool)
            .args(["-i", "-k", lab.dev()])
            .env("SVCMGR_PR_EMU_DIR", &lab.state)
            .env("SVCMGR_PR_EMU_INITIATOR", "n1")
            .env_remove(var)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(out.stdout, b"");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(var), "{stderr}");
    }
}

#[test]
fn syntax_errors_use_the_tools_statuses() {
    let lab = Lab::new();
    // sg_persist: both --in and --out contradict (31); a bad key is a syntax error (1);
    // an unknown option prints usage and, as sg_persist does, exits 0.
    let out = lab.sg("n1", &["-i", "-o", "-k"]);
    assert_eq!(out.code, 31, "{out:?}");
    let out = lab.sg("n1", &["-o", "-G", "-S", "xyz"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "bad argument to '--param-sark'\n")
    );
    let out = lab.sg("n1", &["--frobnicate"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("unrecognized option '--frobnicate'"));
    // mpathpersist: every syntax error is MPATH_PR_SYNTAX_ERROR (1).
    let out = lab.mpath("n1", &["--frobnicate", "-i", "-k"]);
    assert_eq!(out.code, 1, "{out:?}");
    let out = lab.run(MPATH, "n1", &[]);
    assert_eq!(
        (out.code, out.stderr.lines().next()),
        (1, Some("No parameter used"))
    );
    // Nothing was registered along the way.
    assert_eq!(lab.keys(), NO_KEYS);
}

#[test]
fn mpathpersist_formats_and_statuses() {
    let lab = Lab::new();
    assert_eq!(
        lab.mpath("n1", &["-i", "-k"]).ok(),
        "  PR generation=0x0, \t0 registered reservation key.\n"
    );
    assert_eq!(
        lab.mpath("n1", &["-i", "-r"]).ok(),
        "  PR generation=0x0, there is NO reservation held \n"
    );
    lab.mpath("n1", &["--out", "--register-ignore", "--param-sark=0x1"])
        .ok();
    assert_eq!(
        lab.mpath("n2", &["-i", "-k"]).ok(),
        "  PR generation=0x1, \t1 registered reservation key follows:\n    0x1\n"
    );
    lab.mpath("n2", &["--out", "--register-ignore", "--param-sark=0x2"])
        .ok();
    lab.mpath(
        "n1",
        &["--out", "--reserve", "--param-rk=0x1", "--prout-type=5"],
    )
    .ok();
    assert_eq!(
        lab.mpath("n1", &["--in", "--read-keys"]).ok(),
        "  PR generation=0x2, \t2 registered reservation keys follow:\n    0x1\n    0x2\n"
    );
    assert_eq!(
        lab.mpath("n2", &["-i", "-r"]).ok(),
        "  PR generation=0x2, Reservation follows:\n   Key = 0x1\n  \
         scope = LU_SCOPE, type = Write Exclusive, registrants only\n"
    );
    // Conflict: MPATH_PR_RESERV_CONFLICT (11), reported on stdout.
    let out = lab.mpath(
        "n2",
        &["--out", "--reserve", "--param-rk=0x2", "--prout-type=5"],
    );
    assert_eq!(out.code, 11, "{out:?}");
    assert_eq!(
        out.stdout,
        "persistent reserve out: scsi status: Reservation Conflict\nPR out: command failed\n"
    );
    assert_eq!(out.stderr, "");
    // Illegal request: MPATH_PR_ILLEGAL_REQ (5).
    let out = lab.mpath("n1", &["-o", "-L", "-K", "1", "-T", "6"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (5, "PR out: command failed\n")
    );
    // Same device state as sg_persist sees.
    lab.mpath(
        "n2",
        &[
            "--out",
            "--preempt-abort",
            "--param-rk=0x2",
            "--param-sark=0x1",
            "--prout-type=5",
        ],
    )
    .ok();
    assert_eq!(
        lab.resv(),
        "  PR generation=0x3, Reservation follows:\n    Key=0x2\n    \
         scope: LU_SCOPE,  type: Write Exclusive, registrants only\n"
    );
}

#[test]
fn a_symlink_to_the_device_shares_its_state() {
    let lab = Lab::new();
    let link = lab.root.join("mapper-x");
    std::os::unix::fs::symlink(&lab.dev, &link).unwrap();
    lab.run(
        MPATH,
        "n1",
        &["-o", "-I", "-S", "5", link.to_str().unwrap()],
    )
    .ok();
    assert_eq!(
        lab.keys(),
        "  PR generation=0x1, 1 registered reservation key follows:\n    0x5\n"
    );
}

#[test]
fn concurrent_invocations_are_serialized() {
    let lab = Lab::new();
    let n = 12;
    let children: Vec<_> = (0..n)
        .map(|i| {
            Command::new(SG)
                .args(["-n", "-o", "-I", "-S", &format!("{:x}", i + 1), lab.dev()])
                .env("SVCMGR_PR_EMU_DIR", &lab.state)
                .env("SVCMGR_PR_EMU_INITIATOR", format!("node{i}"))
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let keys = lab.keys();
    assert!(
        keys.starts_with(&format!(
            "  PR generation=0x{n:x}, {n} registered reservation keys follow:\n"
        )),
        "{keys}"
    );
    for i in 1..=n {
        assert!(keys.contains(&format!("    0x{i:x}\n")), "{keys}");
    }
}
