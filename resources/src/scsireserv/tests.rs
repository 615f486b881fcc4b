//! The reservation's command sequences, through a recording executor.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fake::Recorder;
use crate::{Ctx, Driver, Status};

use super::Pr;

const KEYS_0: &str = include_str!("testdata/lio-read-keys-0.txt");
const KEYS_1: &str = include_str!("testdata/lio-read-keys-1.txt");
const HELD: &str = include_str!("testdata/lio-read-reservation-held.txt");
const NONE: &str = include_str!("testdata/lio-read-reservation-none.txt");

const PVS: [&str; 1] = ["pvs"];
const KEYS: [&str; 4] = ["sg_persist", "-n", "--in", "--read-keys"];
const RESV: [&str; 4] = ["sg_persist", "-n", "--in", "--read-reservation"];

fn pr() -> Pr {
    let text = "[DEFAULT]\nnodes = n1\n[vg#1]\nvgname = vgx\nscsireserv = true\nprkey = 0xa1\n";
    let l = svcconf::parse_service(text.as_bytes(), Path::new("t.conf"), "t", "n1")
        .unwrap_or_else(|e| panic!("{e}"));
    Pr::new(&l.config.resources[0], None).unwrap()
}

fn var(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("svcmgr-pr-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ctx(var: &Path, rec: &Arc<Recorder>) -> Ctx {
    Ctx::new("t", "n1", var.to_path_buf()).with_executor(rec.clone())
}

#[test]
fn start_registers_reserves_and_checks_then_stop_releases_unregisters_and_checks() {
    let rec = Recorder::new();
    rec.on(&PVS, 0, "  /dev/sdb;vgx\n")
        // start: free, then reserved by us
        .once(&KEYS, 0, KEYS_0, "")
        .once(&RESV, 0, NONE, "")
        .once(&RESV, 0, NONE, "")
        .once(&KEYS, 0, KEYS_1, "")
        .once(&RESV, 0, HELD, "")
        // stop: held by us, then nothing left
        .once(&KEYS, 0, KEYS_1, "")
        .once(&RESV, 0, HELD, "")
        .once(&KEYS, 0, KEYS_0, "")
        .once(&RESV, 0, NONE, "");
    let v = var("cycle");
    let ctx = ctx(&v, &rec);
    let p = pr();
    assert!(p.start(&ctx).unwrap());
    assert!(p.stop(&ctx).unwrap());
    let pvs = "pvs --noheadings --separator ; -o pv_name,vg_name";
    // The display lines quote for the shell; the argv is what matters here.
    let calls: Vec<String> = rec.calls().iter().map(|c| c.replace('\'', "")).collect();
    assert_eq!(
        calls,
        [
            pvs,
            "sg_persist -n --in --read-keys /dev/sdb",
            "sg_persist -n --in --read-reservation /dev/sdb",
            "sg_persist -n --out --register-ignore --param-sark=0xa1 /dev/sdb",
            "sg_persist -n --in --read-reservation /dev/sdb",
            "sg_persist -n --out --reserve --param-rk=0xa1 --prout-type=5 /dev/sdb",
            "sg_persist -n --in --read-keys /dev/sdb",
            "sg_persist -n --in --read-reservation /dev/sdb",
            pvs,
            "sg_persist -n --in --read-keys /dev/sdb",
            "sg_persist -n --in --read-reservation /dev/sdb",
            "sg_persist -n --out --release --param-rk=0xa1 --prout-type=5 /dev/sdb",
            "sg_persist -n --out --register --param-rk=0xa1 --param-sark=0 /dev/sdb",
            "sg_persist -n --in --read-keys /dev/sdb",
            "sg_persist -n --in --read-reservation /dev/sdb",
        ]
    );
    let _ = std::fs::remove_dir_all(&v);
}

#[test]
fn a_stop_that_leaves_our_key_registered_fails() {
    let rec = Recorder::new();
    // The device accepts the release and the unregistration but our key stays.
    rec.on(&PVS, 0, "  /dev/sdb;vgx\n")
        .once(&RESV, 0, HELD, "")
        .on(&KEYS, 0, KEYS_1)
        .on(&RESV, 0, NONE);
    let v = var("stays");
    let e = pr().stop(&ctx(&v, &rec)).unwrap_err().to_string();
    assert!(
        e.contains("0xa1 still registered on /dev/sdb after release"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&v);
}

#[test]
fn a_stop_that_can_not_find_the_devices_it_reserved_fails() {
    let rec = Recorder::new();
    rec.on(&PVS, 0, "");
    let v = var("gone");
    let ctx = ctx(&v, &rec);
    // Never started here: nothing to release.
    assert!(!pr().stop(&ctx).unwrap());
    std::fs::write(v.join("vg#1pr.started"), b"").unwrap();
    let e = pr().stop(&ctx).unwrap_err().to_string();
    assert!(e.contains("may still be registered"), "{e}");
    let _ = std::fs::remove_dir_all(&v);
}

#[test]
fn a_guard_that_can_not_be_read_is_a_warning() {
    let rec = Recorder::new();
    rec.on(&PVS, 0, "  /dev/sdb;vgx\n").on(&KEYS, 127, "");
    let v = var("unread");
    let st = pr().status(&ctx(&v, &rec));
    assert_eq!(st.status, Status::Warn, "{:?}", st.log);
    // ... and a start that can not read the keys does not go on.
    assert!(pr().start(&ctx(&v, &rec)).is_err());
    assert!(!rec.calls().iter().any(|c| c.contains("--out")));
    let rec2 = Recorder::new();
    rec2.on(&PVS, 5, "");
    let st = pr().status(&ctx(&v, &rec2));
    assert_eq!(st.status, Status::Warn, "{:?}", st.log);
    let _ = std::fs::remove_dir_all(&v);
}
