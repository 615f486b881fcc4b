//! The vg driver's command sequences for start, stop and a failed start's undo, through a
//! recording executor.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fake::Recorder;
use crate::{Ctx, Driver};

use super::Vg;

const VGS: [&str; 1] = ["vgs"];
const LVS: [&str; 1] = ["lvs"];
const ACTIVATE: [&str; 3] = ["vgchange", "-a", "y"];
const UNTAGGED: &str = "  vgdata;;wz--n-;0\n";
const TAGGED: &str = "  vgdata;n1;wz--n-;0\n";
const LV_DOWN: &str = "  vgdata;lv1;-wi-------;/dev/vgdata/lv1;-1;-1\n";
// kernel numbers no sysfs knows: no partition mapping to remove
const LV_UP: &str = "  vgdata;lv1;-wi-a-----;/dev/vgdata/lv1;4095;4095\n";

fn vg() -> Vg {
    let text = "[DEFAULT]\nnodes = n1\n[vg#1]\nvgname = vgdata\n";
    let l = svcconf::parse_service(text.as_bytes(), Path::new("t.conf"), "t", "n1")
        .unwrap_or_else(|e| panic!("{e}"));
    Vg::new(&l.config.resources[0]).unwrap()
}

fn ctx(rec: &Arc<Recorder>) -> Ctx {
    Ctx::new("t", "n1", PathBuf::from("/nonexistent")).with_executor(rec.clone())
}

/// The recorded command lines without the shell quoting of their display form.
fn calls(rec: &Recorder) -> Vec<String> {
    rec.calls().iter().map(|c| c.replace('\'', "")).collect()
}

const VGS_ONE: &str =
    "vgs --noheadings --separator ; -o vg_name,vg_tags,vg_attr,vg_missing_pv_count vgdata";
const LVS_ONE: &str = "lvs --noheadings --separator ; -o vg_name,lv_name,lv_attr,lv_path,lv_kernel_major,lv_kernel_minor vgdata";

#[test]
fn start_tags_checks_the_claim_and_activates() {
    let rec = Recorder::new();
    rec.once(&VGS, 0, UNTAGGED, "")
        .on(&VGS, 0, TAGGED)
        .on(&LVS, 0, LV_DOWN);
    assert!(vg().start(&ctx(&rec)).unwrap());
    assert_eq!(
        calls(&rec),
        [
            VGS_ONE,
            LVS_ONE,
            "vgchange --addtag @n1 vgdata",
            VGS_ONE,
            "vgchange -a y vgdata",
        ]
    );
}

#[test]
fn a_failed_activation_is_undone_deactivation_then_tag() {
    let rec = Recorder::new();
    rec.once(&VGS, 0, UNTAGGED, "")
        .on(&VGS, 0, TAGGED)
        .on(&LVS, 0, LV_DOWN)
        .once(&ACTIVATE, 5, "", "  device-mapper: reload ioctl failed");
    let e = vg().start(&ctx(&rec)).unwrap_err().to_string();
    assert!(e.contains("reload ioctl failed"), "{e}");
    assert_eq!(
        calls(&rec)[4..],
        [
            "vgchange -a y vgdata",
            "vgchange -a n vgdata",
            "vgchange --deltag @n1 vgdata",
        ]
    );
}

#[test]
fn stop_deactivates_then_drops_the_tag_and_an_idle_vg_is_left_alone() {
    let rec = Recorder::new();
    rec.on(&VGS, 0, TAGGED).on(&LVS, 0, LV_UP);
    assert!(vg().stop(&ctx(&rec)).unwrap());
    assert_eq!(
        calls(&rec),
        [
            VGS_ONE,
            LVS_ONE,
            "vgchange -a n vgdata",
            "vgchange --deltag @n1 vgdata",
        ]
    );
    let rec = Recorder::new();
    rec.on(&VGS, 0, UNTAGGED).on(&LVS, 0, LV_DOWN);
    assert!(!vg().stop(&ctx(&rec)).unwrap());
    assert_eq!(calls(&rec), [VGS_ONE, LVS_ONE]);
}
