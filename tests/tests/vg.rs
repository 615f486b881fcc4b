//! Lab tests of the vg driver: a real LVM volume group on loop device PVs.
//!
//! This kernel has no device-mapper, so the VGs here have no LV: tagging and `vgchange -a`
//! work on them, LV activation would not (the LV paths are unit-tested on canned reports).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use labtests::lab::{self, Lab, LoopDev, Node, OutputExt};

const SVC: &str = "vgsvc";

/// A one-node lab with a VG on its own loop device PVs; the VG and PVs are removed on drop,
/// before the loop devices go.
struct VgLab {
    lab: Lab,
    vg: String,
    pvs: Vec<LoopDev>,
}

impl VgLab {
    fn new(pv_count: usize) -> VgLab {
        let lab = Lab::new(&["n1"]);
        let vg = lab::unique("vgt");
        let pvs: Vec<LoopDev> = (0..pv_count).map(|_| LoopDev::new(lab.dir(), 16)).collect();
        let s = VgLab { lab, vg, pvs };
        let paths: Vec<String> = s.pvs.iter().map(|p| p.path().to_string()).collect();
        for p in &paths {
            lvm(&["pvcreate", "-q", p]).assert_ok("pvcreate");
        }
        let mut argv = vec!["vgcreate", "-q", s.vg.as_str()];
        argv.extend(paths.iter().map(String::as_str));
        lvm(&argv).assert_ok("vgcreate");
        s.conf(&format!("[vg#1]\nvgname = {}\n", s.vg));
        // The other cluster nodes whose tags the tests set: only cluster node names are
        // ownership tags.
        for n in ["othernode", "intruder", "forcer", "racer", "n2"] {
            s.n1().append_node_toml(&format!("[nodes.{n}]"));
        }
        s
    }

    fn n1(&self) -> &Node {
        self.lab.node("n1")
    }

    fn conf(&self, sections: &str) {
        self.n1()
            .write_conf(SVC, &format!("[DEFAULT]\nnodes = n1\n\n{sections}"));
    }

    fn svcmgr(&self, args: &[&str]) -> Output {
        let mut v = vec!["-s", SVC];
        v.extend_from_slice(args);
        self.n1().svcmgr(&v)
    }

    /// The VG's tags as `vgs -o tags` reports them.
    fn tags(&self) -> String {
        let o = lvm(&["vgs", "--noheadings", "-o", "tags", &self.vg]);
        o.assert_ok("vgs -o tags");
        o.stdout_str().trim().to_string()
    }
}

impl Drop for VgLab {
    fn drop(&mut self) {
        quiet(&["vgremove", "-f", &self.vg]);
        for p in &self.pvs {
            quiet(&["pvremove", "-ff", "-y", p.path()]);
        }
    }
}

fn lvm_cmd(argv: &[&str]) -> Command {
    let mut c = Command::new(argv[0]);
    c.args(&argv[1..])
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .env("LC_ALL", "C");
    c
}

/// An LVM command on the host (every lab node sees the same loop devices).
fn lvm(argv: &[&str]) -> Output {
    lvm_cmd(argv)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", argv.join(" ")))
}

/// Teardown: report failures, never panic.
fn quiet(argv: &[&str]) {
    match lvm_cmd(argv).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => eprintln!("vg lab teardown: {}: {}", argv.join(" "), o.stderr_str()),
        Err(e) => eprintln!("vg lab teardown: {}: {e}", argv.join(" ")),
    }
}

/// The `vg#1` line of `print status`.
fn vg_line(s: &VgLab, rid: &str) -> String {
    let o = s.svcmgr(&["print", "status"]);
    o.assert_ok("print status");
    let text = o.stdout_str();
    let at = text
        .find(&format!("{rid} "))
        .unwrap_or_else(|| panic!("no {rid} line:\n{text}"));
    text[at..].to_string()
}

fn json_res(s: &VgLab) -> serde_json::Value {
    let o = s.svcmgr(&["print", "status", "--format", "json"]);
    o.assert_ok("print status json");
    let v: serde_json::Value = serde_json::from_str(&o.stdout_str()).expect("status json");
    v["resources"][0].clone()
}

/// Position of `needle` in `text`, with the text in the panic message.
fn at(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{text}"))
}

/// The real binary of an LVM tool, for shims that wrap it.
fn real_tool(name: &str) -> PathBuf {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found"))
}

/// A `vgchange` first on the nodes' PATH, running `script` before the real one.
fn vgchange_shim(s: &mut VgLab, script: &str) -> PathBuf {
    let dir = s.lab.dir().join("shim");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("vgchange");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\n{script}\nexec {} \"$@\"\n",
            real_tool("vgchange").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.lab.add_path_dir(&dir);
    dir
}

#[test]
fn start_status_stop_with_the_host_tag() {
    if !lab::require_root("start_status_stop_with_the_host_tag") {
        return;
    }
    let s = VgLab::new(1);
    let vg = s.vg.clone();
    let up = SVC.to_uppercase();

    s.svcmgr(&["validate", "config"]).assert_ok("validate");
    assert_eq!(s.svcmgr(&["status"]).code(), 1);
    let line = vg_line(&s, "vg#1");
    assert!(line.starts_with("vg#1"), "{line}");
    assert!(line.lines().next().unwrap().contains(" down "), "{line}");
    assert!(
        line.lines().next().unwrap().ends_with(&vg),
        "label is the VG name: {line}"
    );

    // dry-run changes nothing.
    let dry = s.svcmgr(&["start", "--dry-run"]);
    dry.assert_ok("dry-run start");
    dry.assert_logs("dry-run: vgchange --addtag @n1");
    assert_eq!(s.tags(), "");

    let out = s.svcmgr(&["start"]);
    out.assert_ok("start");
    let log = out.stdout_str();
    let tag_at = log
        .find(&format!("{up}.VG#1 vgchange --addtag @n1 {vg}"))
        .expect(&log);
    let act_at = log
        .find(&format!("{up}.VG#1 vgchange -a y {vg}"))
        .expect(&log);
    assert!(tag_at < act_at, "tag before activation:\n{log}");
    assert_eq!(s.tags(), "n1");
    assert_eq!(s.svcmgr(&["status"]).code(), 0);
    let r = json_res(&s);
    assert_eq!(r["rid"], "vg#1");
    assert_eq!(r["status"], "up");
    assert_eq!(r["label"], vg.as_str());

    let again = s.svcmgr(&["start"]);
    again.assert_ok("start again");
    again.assert_logs("already up");
    again.assert_no_log("vgchange");

    let out = s.svcmgr(&["stop"]);
    out.assert_ok("stop");
    let log = out.stdout_str();
    let deact_at = log
        .find(&format!("{up}.VG#1 vgchange -a n {vg}"))
        .expect(&log);
    let del_at = log
        .find(&format!("{up}.VG#1 vgchange --deltag @n1 {vg}"))
        .expect(&log);
    assert!(
        deact_at < del_at,
        "deactivation before the tag goes:\n{log}"
    );
    assert_eq!(s.tags(), "", "stop removes our tag");
    assert_eq!(s.svcmgr(&["status"]).code(), 1);

    let again = s.svcmgr(&["stop"]);
    again.assert_ok("stop again");
    again.assert_logs("already down");
    again.assert_no_log("vgchange");

    // startvg / stopvg select the group.
    s.svcmgr(&["startvg"]).assert_ok("startvg");
    assert_eq!(s.tags(), "n1");
    s.svcmgr(&["stopdisk"]).assert_ok("stopdisk");
    assert_eq!(s.tags(), "");
}

#[test]
fn foreign_tag_refused_unless_forced() {
    if !lab::require_root("foreign_tag_refused_unless_forced") {
        return;
    }
    let s = VgLab::new(1);
    let vg = s.vg.clone();
    lvm(&["vgchange", "--addtag", "@othernode", &vg]).assert_ok("foreign tag");

    // Owned elsewhere, nothing active here: down, and the owner is named.
    let r = json_res(&s);
    assert_eq!(r["status"], "down");
    assert_eq!(r["log"][0], "tagged for node othernode", "{r}");

    let out = s.svcmgr(&["start"]);
    out.assert_fails("start with a foreign tag");
    assert_eq!(out.code(), 1);
    let text = out.all_output();
    assert!(
        text.contains(&format!(
            "volume group {vg} is tagged for node othernode: not starting it (use --steal-tags"
        )),
        "{text}"
    );
    assert!(!text.contains("--addtag"), "nothing changed:\n{text}");
    assert_eq!(s.tags(), "othernode");

    let out = s.svcmgr(&["start", "--steal-tags"]);
    out.assert_ok("start --steal-tags");
    out.assert_logs(&format!(
        "overridden by --steal-tags: volume group {vg} is tagged for node othernode"
    ));
    assert!(
        out.stdout_str()
            .contains(&format!("vgchange --deltag @othernode {vg}")),
        "{}",
        out.stdout_str()
    );
    assert_eq!(s.tags(), "n1", "the stale tag is gone, ours is set");
    assert_eq!(s.svcmgr(&["status"]).code(), 0);

    // Another node tags it behind our back while we hold it: warn.
    lvm(&["vgchange", "--addtag", "@intruder", &vg]).assert_ok("second tag");
    assert_eq!(s.svcmgr(&["status"]).code(), 2);
    let r = json_res(&s);
    assert_eq!(r["status"], "warn");
    assert_eq!(r["log"][0], "also tagged for node intruder", "{r}");
    // Stop only drops our own tag.
    s.svcmgr(&["stop"]).assert_ok("stop");
    assert_eq!(s.tags(), "intruder");
}

#[test]
fn disk_section_with_type_vg_and_name_alias() {
    if !lab::require_root("disk_section_with_type_vg_and_name_alias") {
        return;
    }
    let s = VgLab::new(1);
    s.conf(&format!("[disk#1]\ntype = vg\nname = {}\n", s.vg));
    let out = s.svcmgr(&["start"]);
    out.assert_ok("start");
    assert!(
        out.stdout_str()
            .contains(&format!("VGSVC.DISK#1 vgchange --addtag @n1 {}", s.vg)),
        "{}",
        out.stdout_str()
    );
    assert_eq!(s.tags(), "n1");
    let r = json_res(&s);
    assert_eq!(r["rid"], "disk#1");
    assert_eq!(r["status"], "up");
    assert_eq!(r["label"], s.vg.as_str());
    s.svcmgr(&["stop"]).assert_ok("stop");
    assert_eq!(s.tags(), "");
}

#[test]
fn missing_pv_refuses_start() {
    if !lab::require_root("missing_pv_refuses_start") {
        return;
    }
    let mut s = VgLab::new(2);
    let vg = s.vg.clone();
    let gone = s.pvs.pop().expect("second pv");
    let uuid = lvm(&["pvs", "--noheadings", "-o", "pv_uuid", gone.path()])
        .stdout_str()
        .trim()
        .to_string();
    assert!(!uuid.is_empty());
    // The disk vanishes: detach its loop device.
    drop(gone);

    let r = json_res(&s);
    assert_eq!(r["status"], "warn", "{r}");
    assert_eq!(
        r["log"][0],
        format!("volume group {vg} is missing 1 physical volume(s)").as_str()
    );

    for args in [&["start"][..], &["start", "--force"][..]] {
        let out = s.svcmgr(args);
        out.assert_fails("start with a missing pv");
        assert_eq!(out.code(), 1);
        let text = out.all_output();
        assert!(
            text.contains(&format!(
                "volume group {vg} is missing 1 physical volume(s) (uuid {uuid})"
            )),
            "{text}"
        );
        assert!(!text.contains("--addtag"), "{text}");
    }
    assert_eq!(s.tags(), "");
}

#[test]
fn volume_group_that_does_not_exist() {
    if !lab::require_root("volume_group_that_does_not_exist") {
        return;
    }
    let s = VgLab::new(1);
    let ghost = lab::unique("vgghost");
    s.conf(&format!("[vg#1]\nvgname = {ghost}\n"));

    let out = s.svcmgr(&["start"]);
    out.assert_fails("start of a missing VG");
    assert_eq!(out.code(), 1);
    let text = out.all_output();
    assert!(
        text.contains(&format!("volume group {ghost} not found")),
        "{text}"
    );
    // LVM's own words come along.
    assert!(
        text.contains(&format!("Volume group \"{ghost}\" not found")),
        "{text}"
    );

    assert_eq!(s.svcmgr(&["status"]).code(), 1);
    let r = json_res(&s);
    assert_eq!(r["status"], "down");
    assert_eq!(
        r["log"][0],
        format!("volume group {ghost} not found").as_str()
    );
    // Nothing to stop is not an error.
    s.svcmgr(&["stop"]).assert_ok("stop of a missing VG");
}

#[test]
fn vg_section_without_vgname_is_a_config_error() {
    if !lab::require_root("vg_section_without_vgname_is_a_config_error") {
        return;
    }
    let s = VgLab::new(1);
    s.conf("[vg#1]\nscsireserv = false\n");
    let out = s.svcmgr(&["validate", "config"]);
    assert_eq!(out.code(), 1, "{}", out.all_output());
    let text = out.all_output();
    assert!(text.contains("vgname"), "{text}");
    assert!(text.contains("vg#1"), "{text}");
    let out = s.svcmgr(&["start"]);
    assert_eq!(out.code(), 1, "{}", out.all_output());
    assert!(!out.all_output().contains("vgchange"));
}

#[test]
fn failed_activation_takes_our_tag_back() {
    if !lab::require_root("failed_activation_takes_our_tag_back") {
        return;
    }
    let mut s = VgLab::new(1);
    vgchange_shim(
        &mut s,
        "case \"$*\" in *'-a y'*) echo 'simulated activation failure' >&2; exit 5;; esac",
    );
    let out = s.svcmgr(&["start"]);
    out.assert_fails("start with a failing activation");
    let text = out.all_output();
    let fail_at = at(&text, "simulated activation failure");
    // What a partial activation left active goes down before the tag goes.
    let deact_at = at(&text, &format!("VGSVC.VG#1 vgchange -a n {}", s.vg));
    let del_at = at(&text, &format!("vgchange --deltag @n1 {}", s.vg));
    assert!(fail_at < deact_at && deact_at < del_at, "{text}");
    assert_eq!(s.tags(), "", "the tag was taken back");
}

#[test]
fn failed_activation_and_failed_deactivation_still_take_our_tag_back() {
    if !lab::require_root("failed_activation_and_failed_deactivation_still_take_our_tag_back") {
        return;
    }
    let mut s = VgLab::new(1);
    vgchange_shim(
        &mut s,
        "case \"$*\" in *'-a y'*) echo 'simulated activation failure' >&2; exit 5;; \
         *'-a n'*) echo 'simulated deactivation failure' >&2; exit 5;; esac",
    );
    let out = s.svcmgr(&["start"]);
    out.assert_fails("start with failing activation and deactivation");
    assert_eq!(out.code(), 1);
    let text = out.all_output();
    let warn_at = at(&text, "can not deactivate after the failed activation");
    assert!(text.contains("simulated deactivation failure"), "{text}");
    let del_at = at(&text, &format!("vgchange --deltag @n1 {}", s.vg));
    assert!(warn_at < del_at, "{text}");
    // The error is the activation's, not the clean-up's.
    let failed = format!(
        "vg#1: vgchange -a y {}: exit status 5: simulated activation failure",
        s.vg
    );
    assert!(del_at < at(&text, &failed), "{text}");
    assert_eq!(s.tags(), "");
}

/// A `vgchange` shim that lets our `--addtag @n1` through, then tags the VG for `racer`, as
/// a node starting at the same moment would.
fn racing_tagger(s: &mut VgLab, racer: &str) {
    let real = real_tool("vgchange");
    vgchange_shim(
        s,
        &format!(
            "case \"$*\" in *'--addtag @n1 '*) {real} \"$@\" || exit $?; \
             {real} --addtag @{racer} {vg} >/dev/null || exit $?; exit 0;; esac",
            real = real.display(),
            vg = s.vg,
        ),
    );
}

#[test]
fn concurrent_tag_makes_start_yield() {
    if !lab::require_root("concurrent_tag_makes_start_yield") {
        return;
    }
    let mut s = VgLab::new(1);
    let vg = s.vg.clone();
    racing_tagger(&mut s, "racer");

    let out = s.svcmgr(&["start"]);
    out.assert_fails("start racing another node");
    assert_eq!(out.code(), 1);
    let text = out.all_output();
    let add_at = at(&text, &format!("vgchange --addtag @n1 {vg}"));
    let del_at = at(&text, &format!("vgchange --deltag @n1 {vg}"));
    assert!(add_at < del_at, "{text}");
    assert!(
        text.contains(&format!(
            "volume group {vg} was tagged for node racer while this node was tagging it"
        )),
        "{text}"
    );
    assert!(
        !text.contains("vgchange -a y"),
        "never activated:
{text}"
    );
    assert_eq!(s.tags(), "racer", "only the other node's tag is left");

    // --force removes the stale tag first, then the one that raced in again.
    let out = s.svcmgr(&["start", "--force"]);
    out.assert_ok("start --force racing another node");
    let text = out.all_output();
    assert_eq!(
        text.matches(&format!("vgchange --deltag @racer {vg}"))
            .count(),
        2,
        "{text}"
    );
    assert!(text.contains("added meanwhile (--steal-tags)"), "{text}");
    let act_at = at(&text, &format!("vgchange -a y {vg}"));
    assert!(
        at(&text, &format!("vgchange --addtag @n1 {vg}")) < act_at,
        "{text}"
    );
    assert_eq!(s.tags(), "n1");
    assert_eq!(s.svcmgr(&["status"]).code(), 0);
}

#[test]
fn our_tag_removed_right_after_tagging_refuses_start() {
    if !lab::require_root("our_tag_removed_right_after_tagging_refuses_start") {
        return;
    }
    let mut s = VgLab::new(1);
    let vg = s.vg.clone();
    // A forced start elsewhere swaps our tag for its own right after we set it.
    let real = real_tool("vgchange");
    vgchange_shim(
        &mut s,
        &format!(
            "case \"$*\" in *'--addtag @n1 '*) {real} \"$@\" || exit $?; \
             {real} --deltag @n1 --addtag @forcer {vg} >/dev/null || exit $?; exit 0;; esac",
            real = real.display(),
        ),
    );
    for args in [&["start"][..], &["start", "--force"][..]] {
        lvm(&["vgchange", "--deltag", "@forcer", &vg]).assert_ok("reset tags");
        let out = s.svcmgr(args);
        out.assert_fails("start that lost its tag");
        assert_eq!(out.code(), 1);
        let text = out.all_output();
        assert!(
            text.contains(&format!(
                "volume group {vg} lost the tag @n1 right after it was added \
                 (now tagged for node forcer): not starting it"
            )),
            "{text}"
        );
        assert!(!text.contains("vgchange -a y"), "{text}");
        assert_eq!(s.tags(), "forcer");
    }
}

#[test]
fn deactivation_is_retried_and_bounded() {
    if !lab::require_root("deactivation_is_retried_and_bounded") {
        return;
    }
    let mut s = VgLab::new(1);
    let counter = s.lab.dir().join("deactivations");
    let limit = s.lab.dir().join("busy_until");
    std::fs::write(&limit, "2").unwrap();
    vgchange_shim(
        &mut s,
        &format!(
            "case \"$*\" in *'-a n'*) n=$(($(cat {c} 2>/dev/null || echo 0) + 1)); echo $n > {c}; \
             if [ $n -le $(cat {l}) ]; then echo 'Logical volume in use' >&2; exit 5; fi;; esac",
            c = counter.display(),
            l = limit.display()
        ),
    );
    s.svcmgr(&["start"]).assert_ok("start");

    // Busy twice, then free: stop succeeds on the third attempt.
    let out = s.svcmgr(&["stop"]);
    out.assert_ok("stop with a briefly busy VG");
    let text = out.all_output();
    assert!(text.contains("deactivation attempt 1/5 failed"), "{text}");
    assert!(text.contains("deactivation attempt 2/5 failed"), "{text}");
    assert_eq!(std::fs::read_to_string(&counter).unwrap().trim(), "3");
    assert_eq!(s.tags(), "");

    // Busy for good: stop fails after 5 attempts and keeps our tag.
    std::fs::write(&counter, "0").unwrap();
    std::fs::write(&limit, "1000").unwrap();
    s.svcmgr(&["start"]).assert_ok("start again");
    let out = s.svcmgr(&["stop"]);
    out.assert_fails("stop with a VG busy for good");
    assert_eq!(out.code(), 1);
    assert!(out.all_output().contains("Logical volume in use"));
    assert_eq!(std::fs::read_to_string(&counter).unwrap().trim(), "5");
    assert_eq!(s.tags(), "n1", "the tag stays while the VG may be in use");
}

#[test]
fn a_tag_naming_no_cluster_node_is_not_ownership() {
    if !lab::require_root("a_tag_naming_no_cluster_node_is_not_ownership") {
        return;
    }
    let s = VgLab::new(1);
    let vg = s.vg.clone();
    // A site's own tag (backups, inventory): not a node of this cluster.
    lvm(&["vgchange", "--addtag", "@backup_weekly", &vg]).assert_ok("site tag");
    let r = json_res(&s);
    assert_eq!(r["status"], "down", "{r}");
    assert!(
        r["log"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l.as_str().unwrap().starts_with("/etc/lvm/lvm.conf")),
        "nothing but the lvm.conf advice: {r}"
    );
    s.svcmgr(&["start"]).assert_ok("start with a site tag");
    let mut tags: Vec<String> = s.tags().split(',').map(str::to_string).collect();
    tags.sort();
    assert_eq!(tags, ["backup_weekly", "n1"], "the site tag is kept");
    assert_eq!(s.svcmgr(&["status"]).code(), 0);
    s.svcmgr(&["stop", "--force"]).assert_ok("stop");
    assert_eq!(s.tags(), "backup_weekly", "never removed, even forced");
}

#[test]
fn boot_releases_what_a_power_cut_left_and_lvm_conf_is_checked() {
    if !lab::require_root("boot_releases_what_a_power_cut_left") {
        return;
    }
    let s = VgLab::new(1);
    // This host's lvm.conf sets no volume_list: the tags protect nothing, and both
    // validate config and the status say so, with the fix.
    let lvmconf = lvm(&["lvmconfig", "--type", "full", "activation/volume_list"]);
    if lvmconf.stdout_str().trim().is_empty() {
        let v = s.svcmgr(&["validate", "config"]);
        v.assert_ok("validate config");
        v.assert_logs("warning: vg#1: /etc/lvm/lvm.conf sets no activation/volume_list");
        v.assert_logs("volume_list = [");
        let r = json_res(&s);
        assert!(
            r["log"]
                .to_string()
                .contains("sets no activation/volume_list"),
            "{r}"
        );
    }
    // Up before the power cut: the tag of this node stays on the VG.
    s.svcmgr(&["start"]).assert_ok("start");
    assert_eq!(s.tags(), "n1");
    // At boot, nothing of the service runs here yet: its VG is released.
    let out = s.n1().svcmgr(&["boot"]);
    out.assert_ok("boot");
    out.assert_logs("vgchange -a n");
    assert_eq!(
        s.tags(),
        "",
        "boot leaves the VG to whichever node starts it"
    );
    let out = s.svcmgr(&["boot"]);
    out.assert_ok("boot again");
    assert!(
        !out.all_output().contains("vgchange -a n"),
        "{}",
        out.all_output()
    );
}
