//! Lab tests of the SCSI-3 persistent reservation guard (`scsireserv = true` on a vg):
//! real LVM volume groups on loop devices shared by two nodes, and the `sg_persist` /
//! `mpathpersist` emulators of this crate first on PATH, with one state directory for the
//! whole lab so both nodes see the same logical units.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use labtests::lab::{self, Lab, LoopDev, Node, OutputExt, VolumeGroup};

const SVC: &str = "prsvc";
const SG: &str = env!("CARGO_BIN_EXE_sg_persist");
const MPATH: &str = env!("CARGO_BIN_EXE_mpathpersist");
/// Written upper-case and with leading zeros in node.toml: the driver compares keys as
/// numbers, the tools print them lower-case without leading zeros.
const KEY1: &str = "0x8A3F01C2D4E5F607";
const KEY1_TOOL: &str = "0x8a3f01c2d4e5f607";
const KEY2: &str = "0x00000000000000b2";
const KEY2_TOOL: &str = "0xb2";

/// A lab whose nodes run the emulators: `bin/` holds `sg_persist` and `mpathpersist`
/// (symlinks to the built emulators, or test wrappers), `pr-state/` their shared state.
struct PrLab {
    // Dropped first: the VG and its PVs go before the lab's namespaces.
    vg: VolumeGroup,
    lab: Lab,
    state: PathBuf,
}

impl PrLab {
    /// `nodes` with their prkeys (None: the agent generates one), and a VG on one PV.
    fn new(nodes: &[(&str, Option<&str>)], bin: impl FnOnce(&Path)) -> PrLab {
        let names: Vec<&str> = nodes.iter().map(|(n, _)| *n).collect();
        let mut lab = Lab::new(&names);
        let vg = VolumeGroup::new(lab.dir(), 16);
        let state = lab.dir().join("pr-state");
        let bindir = lab.dir().join("prbin");
        std::fs::create_dir_all(&state).expect("pr state dir");
        std::fs::create_dir_all(&bindir).expect("pr bin dir");
        bin(&bindir);
        lab.add_path_dir(&bindir);
        for (n, key) in nodes {
            if let Some(k) = key {
                lab.node(n).append_node_toml(&format!("prkey = \"{k}\""));
            }
            lab.set_env(n, "SVCMGR_PR_EMU_DIR", state.to_str().expect("utf-8"));
            lab.set_env(n, "SVCMGR_PR_EMU_INITIATOR", n);
        }
        PrLab { vg, lab, state }
    }

    fn conf(&self, node: &str, extra: &str) {
        let nodes: Vec<&str> = self.lab.nodes().iter().map(|n| n.name.as_str()).collect();
        self.lab.node(node).write_conf(
            SVC,
            &format!(
                "[DEFAULT]\nnodes = {}\n\n[vg#1]\nvgname = {}\nscsireserv = true\n{extra}",
                nodes.join(" "),
                self.vg.name
            ),
        );
    }

    fn node(&self, n: &str) -> &Node {
        self.lab.node(n)
    }

    fn svcmgr(&self, node: &str, args: &[&str]) -> Output {
        let mut v = vec!["-s", SVC];
        v.extend_from_slice(args);
        self.node(node).svcmgr(&v)
    }

    fn dev(&self) -> &str {
        self.vg.pv()
    }

    /// The emulator's own answer, read as a third initiator from the host.
    fn emu(&self, args: &[&str], dev: &str) -> String {
        labtests::spc3::observe(Path::new(SG), &self.state, args, dev)
    }

    fn keys(&self, dev: &str) -> String {
        self.emu(&["--in", "--read-keys"], dev)
    }

    fn holder(&self, dev: &str) -> String {
        self.emu(&["--in", "--read-reservation"], dev)
    }

    /// The `vg#1pr` entry of `print status --format json` on `node`.
    fn pr_json(&self, node: &str) -> serde_json::Value {
        let o = self.svcmgr(node, &["print", "status", "--format", "json"]);
        o.assert_ok("print status json");
        let v: serde_json::Value = serde_json::from_str(&o.stdout_str()).expect("status json");
        let res = v["resources"].as_array().expect("resources").clone();
        let rids: Vec<&str> = res.iter().filter_map(|r| r["rid"].as_str()).collect();
        assert_eq!(
            rids,
            ["vg#1pr", "vg#1"],
            "the reservation goes just before its vg"
        );
        res[0].clone()
    }
}

fn emulators(dir: &Path) {
    std::os::unix::fs::symlink(SG, dir.join("sg_persist")).expect("symlink sg_persist");
    std::os::unix::fs::symlink(MPATH, dir.join("mpathpersist")).expect("symlink mpathpersist");
}

/// Stdout and stderr, shell quotes dropped (the log echoes `'--param-rk=0x1'`).
fn all(o: &Output) -> String {
    format!("{}{}", o.stdout_str(), o.stderr_str()).replace('\'', "")
}

fn reserved_by(text: &str, key: &str) -> bool {
    text.contains("Reservation follows") && text.contains(&format!("Key={key}\n"))
}

#[test]
fn two_nodes_refuse_preempt_and_leave_the_winner_alone() {
    if !lab::require_root("two_nodes_refuse_preempt_and_leave_the_winner_alone") {
        return;
    }
    let s = PrLab::new(&[("n1", Some(KEY1)), ("n2", Some(KEY2))], emulators);
    s.conf("n1", "");
    s.conf("n2", "");
    let dev = s.dev().to_string();

    // Nobody holds anything yet: down on both nodes, no message.
    let pr = s.pr_json("n1");
    assert_eq!(pr["status"], "down", "{pr}");
    assert_eq!(pr["label"], format!("{KEY1} on 0/1 device"));
    assert_eq!(pr["type"], "vg.scsireserv");

    // n1 starts: register, reserve, then the VG.
    let out = s.svcmgr("n1", &["start"]);
    out.assert_ok("n1 start");
    let log = all(&out);
    let register = format!(
        "PRSVC.VG#1PR sg_persist -n --out --register-ignore --param-sark={KEY1_TOOL} {dev}"
    );
    let reserve = format!(
        "PRSVC.VG#1PR sg_persist -n --out --reserve --param-rk={KEY1_TOOL} --prout-type=5 {dev}"
    );
    let reg_at = log.find(&register).unwrap_or_else(|| panic!("{log}"));
    let res_at = log.find(&reserve).unwrap_or_else(|| panic!("{log}"));
    let vg_at = log
        .find("PRSVC.VG#1 vgchange")
        .unwrap_or_else(|| panic!("{log}"));
    assert!(reg_at < res_at && res_at < vg_at, "order:\n{log}");
    assert!(
        reserved_by(&s.holder(&dev), KEY1_TOOL),
        "{}",
        s.holder(&dev)
    );
    assert!(s.keys(&dev).contains(KEY1_TOOL));

    let pr = s.pr_json("n1");
    assert_eq!(pr["status"], "up", "{pr}");
    assert_eq!(pr["label"], format!("{KEY1} on 1/1 device"));
    let tree = s.svcmgr("n1", &["print", "status"]).stdout_str();
    assert!(
        tree.contains(&format!(
            "vg#1pr         .... up         {KEY1} on 1/1 device"
        )),
        "{tree}"
    );

    // Idempotent.
    let again = s.svcmgr("n1", &["start"]);
    again.assert_ok("n1 start again");
    assert!(all(&again).contains("already reserved"), "{}", all(&again));
    assert!(
        !all(&again).contains("--register-ignore"),
        "{}",
        all(&again)
    );

    // The passive node sees its reservation down, not a warning.
    let pr = s.pr_json("n2");
    assert_eq!(pr["status"], "down", "{pr}");
    assert_eq!(pr["log"], serde_json::json!([]));

    // n2 without --preempt: refused, n1's reservation intact, n2 never registered.
    let out = s.svcmgr("n2", &["start"]);
    out.assert_fails("n2 start without --preempt");
    let log = all(&out);
    assert!(
        log.contains(&format!("reservation on {dev} is held by {KEY1_TOOL}"))
            && log.contains("use --preempt to take it over"),
        "{log}"
    );
    assert!(!log.contains("--register-ignore"), "{log}");
    assert!(
        reserved_by(&s.holder(&dev), KEY1_TOOL),
        "{}",
        s.holder(&dev)
    );
    assert!(!s.keys(&dev).contains(KEY2_TOOL), "{}", s.keys(&dev));

    // n2 with --preempt preempts (and aborts): it alone is registered and holds.
    let out = s.svcmgr("n2", &["start", "--preempt", "--steal-tags"]);
    out.assert_ok("n2 start --preempt");
    out.assert_logs(&format!(
        "overridden by --preempt: reservation on {dev} held by {KEY1_TOOL}"
    ));
    let log = all(&out);
    assert!(
        log.contains(&format!(
            "sg_persist -n --out --preempt-abort --param-rk={KEY2_TOOL} --param-sark={KEY1_TOOL} --prout-type=5 {dev}"
        )),
        "{log}"
    );
    assert!(
        reserved_by(&s.holder(&dev), KEY2_TOOL),
        "{}",
        s.holder(&dev)
    );
    let keys = s.keys(&dev);
    assert!(
        keys.contains("1 registered reservation key follows:") && keys.contains(KEY2_TOOL),
        "{keys}"
    );
    assert_eq!(s.pr_json("n2")["status"], "up");

    // n1 lost it: a warning naming the new holder.
    let pr = s.pr_json("n1");
    assert_eq!(pr["status"], "warn", "{pr}");
    assert_eq!(
        pr["log"],
        serde_json::json!([format!(
            "reservation held by {KEY2_TOOL} on {dev}: our key was preempted"
        )])
    );
    assert_eq!(pr["label"], format!("{KEY1} on 0/1 device"));
    assert_ne!(s.svcmgr("n1", &["status"]).code(), 0);

    // n1 stops: n2's reservation is left alone.
    let out = s.svcmgr("n1", &["stop"]);
    out.assert_ok("n1 stop after preemption");
    let log = all(&out);
    assert!(log.contains("left untouched"), "{log}");
    assert!(!log.contains("--release"), "{log}");
    assert!(
        reserved_by(&s.holder(&dev), KEY2_TOOL),
        "{}",
        s.holder(&dev)
    );
    assert!(s.keys(&dev).contains(KEY2_TOOL));
    // Stopped here: a reservation held elsewhere is the normal passive state again.
    assert_eq!(s.pr_json("n1")["status"], "down");

    // prstatus / prstop / prstart on n2 act on the reservation alone.
    let st = s.svcmgr("n2", &["prstatus"]);
    assert_eq!(st.code(), 0, "{}", all(&st));
    let text = st.stdout_str();
    assert!(
        text.starts_with(&format!("vg#1pr         up         {KEY2} on 1/1 device\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("  {dev} (sg_persist): keys {KEY2_TOOL}; reservation {KEY2_TOOL} (Write Exclusive, registrants only)")),
        "{text}"
    );
    let out = s.svcmgr("n2", &["prstop"]);
    out.assert_ok("n2 prstop");
    let log = all(&out);
    assert!(
        log.contains(&format!(
            "sg_persist -n --out --release --param-rk={KEY2_TOOL} --prout-type=5 {dev}"
        )) && log.contains(&format!(
            "sg_persist -n --out --register --param-rk={KEY2_TOOL} --param-sark=0 {dev}"
        )),
        "{log}"
    );
    assert!(
        !log.contains("vgchange"),
        "prstop leaves the VG alone:\n{log}"
    );
    assert!(s.holder(&dev).contains("there is NO reservation held"));
    assert!(s
        .keys(&dev)
        .contains("there are NO registered reservation keys"));
    let st = s.svcmgr("n2", &["prstatus"]);
    assert_eq!(st.code(), 1, "{}", all(&st));
    let json: serde_json::Value = serde_json::from_str(
        &s.svcmgr("n2", &["print", "status", "--format", "json"])
            .stdout_str(),
    )
    .unwrap();
    assert_eq!(json["resources"][1]["rid"], "vg#1");
    assert_eq!(
        json["resources"][1]["status"], "up",
        "the VG is still active on n2"
    );

    s.svcmgr("n2", &["prstart"]).assert_ok("n2 prstart");
    assert!(reserved_by(&s.holder(&dev), KEY2_TOOL));
    s.svcmgr("n2", &["stop"]).assert_ok("n2 stop");
    assert!(s.holder(&dev).contains("there is NO reservation held"));
    assert!(s
        .keys(&dev)
        .contains("there are NO registered reservation keys"));
    assert_eq!(s.pr_json("n2")["status"], "down");
    // Stopping what is stopped succeeds and says so.
    let out = s.svcmgr("n2", &["prstop"]);
    out.assert_ok("prstop again");
    assert!(all(&out).contains("already down"), "{}", all(&out));

    // Selecting the vg selects its reservation too: the VG is never activated unguarded.
    let out = s.svcmgr("n2", &["start", "--rid", "vg#1"]);
    out.assert_ok("start --rid vg#1");
    assert!(reserved_by(&s.holder(&dev), KEY2_TOOL), "{}", all(&out));
    let log = all(&out);
    assert!(
        log.find(".VG#1PR ").unwrap_or(usize::MAX) < log.find(".VG#1 vgchange").unwrap_or(0),
        "the reservation is taken before the VG is activated:\n{log}"
    );
    s.svcmgr("n2", &["stop", "--rid", "vg#1"])
        .assert_ok("stop --rid vg#1");
    assert!(s.holder(&dev).contains("there is NO reservation held"));
}

#[test]
fn prkey_generated_once_and_mpathpersist_backend() {
    if !lab::require_root("prkey_generated_once_and_mpathpersist_backend") {
        return;
    }
    let s = PrLab::new(&[("n1", None)], emulators);
    s.conf("n1", "pr_backend = mpathpersist\n");
    let dev = s.dev().to_string();
    let n1 = s.node("n1");
    let node_toml = n1.node_toml();
    assert!(!std::fs::read_to_string(&node_toml)
        .unwrap()
        .contains("prkey"));

    // A read-only action leaves node.toml alone and shows the reservation keyless.
    let st = s.svcmgr("n1", &["print", "status"]);
    st.assert_ok("print status before any action");
    st.assert_logs("(no key yet)");
    assert!(!std::fs::read_to_string(&node_toml)
        .unwrap()
        .contains("prkey"));

    // Two first actions at once agree on one key.
    let outs: Vec<Output> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                sc.spawn(|| {
                    n1.svcmgr_cmd(&["-s", SVC, "start", "--dry-run"])
                        .output()
                        .expect("run svcmgr")
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("join")).collect()
    });
    for o in &outs {
        o.assert_ok("concurrent first start --dry-run");
    }
    let text = std::fs::read_to_string(&node_toml).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("prkey = ")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    let key = lines[0]
        .trim_start_matches("prkey = \"")
        .trim_end_matches('"')
        .to_string();
    assert!(key.starts_with("0x") && key.len() == 18, "{key}");
    let st = s.svcmgr("n1", &["print", "status"]);
    st.assert_logs(&format!("{key} on 0/1 device"));
    // Stable across runs.
    s.svcmgr("n1", &["print", "status"])
        .assert_ok("print status");
    assert_eq!(std::fs::read_to_string(&node_toml).unwrap(), text);

    // --dry-run says what it would run and changes nothing.
    let out = s.svcmgr("n1", &["start", "--dry-run"]);
    out.assert_ok("start --dry-run");
    assert!(
        all(&out).contains("dry-run: mpathpersist --out --register-ignore"),
        "{}",
        all(&out)
    );
    assert!(s
        .keys(&dev)
        .contains("there are NO registered reservation keys"));
    assert_eq!(s.pr_json("n1")["status"], "down");

    // The forced backend: mpathpersist command lines, same SPC-3 state.
    let out = s.svcmgr("n1", &["start"]);
    out.assert_ok("start");
    let tool_key = format!("0x{}", key[2..].trim_start_matches('0'));
    let log = all(&out);
    assert!(
        log.contains(&format!(
            "mpathpersist --out --register-ignore --param-sark={tool_key} {dev}"
        )),
        "{log}"
    );
    assert!(
        reserved_by(&s.holder(&dev), &tool_key),
        "{}",
        s.holder(&dev)
    );
    let st = s.svcmgr("n1", &["prstatus"]);
    assert_eq!(st.code(), 0, "{}", all(&st));
    assert!(
        st.stdout_str()
            .contains(&format!("{dev} (mpathpersist): keys {tool_key}")),
        "{}",
        st.stdout_str()
    );
    let js = s.svcmgr("n1", &["prstatus", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&js.stdout_str()).expect("prstatus json");
    assert_eq!(v[0]["rid"], "vg#1pr");
    assert_eq!(v[0]["status"], "up");
    assert_eq!(v[0]["devices"][0]["backend"], "mpathpersist");
    assert_eq!(v[0]["devices"][0]["reservation"]["key"], tool_key.as_str());
    // Held through mpathpersist without a reservation_key in multipath.conf (this host
    // has none): the status says what is missing.
    let pr = s.pr_json("n1");
    if !std::path::Path::new("/etc/multipath.conf").exists() {
        assert_eq!(pr["status"], "warn", "{pr}");
        assert!(
            pr["log"]
                .to_string()
                .contains("/etc/multipath.conf is missing"),
            "{pr}"
        );
    }
    s.svcmgr("n1", &["stop"]).assert_ok("stop");
    assert!(s
        .keys(&dev)
        .contains("there are NO registered reservation keys"));
}

/// A `sg_persist` that lets another initiator ("n9") grab the reservation just before the
/// agent's own reserve: the race a start must survive with a conflict error and a rollback.
fn racing_sg_persist(dir: &Path) {
    let script = format!(
        "#!/bin/sh\nfor dev; do :; done\ncase \" $* \" in\n*\" --reserve \"*)\n  \
         SVCMGR_PR_EMU_INITIATOR=n9 {SG} -n --out --register-ignore --param-sark=0x99 \"$dev\" || exit 98\n  \
         SVCMGR_PR_EMU_INITIATOR=n9 {SG} -n --out --reserve --param-rk=0x99 --prout-type=5 \"$dev\" || exit 98\n;;\n\
         esac\nexec {SG} \"$@\"\n"
    );
    let p = dir.join("sg_persist");
    std::fs::write(&p, script).expect("write wrapper");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod wrapper");
    std::os::unix::fs::symlink(MPATH, dir.join("mpathpersist")).expect("symlink mpathpersist");
}

#[test]
fn conflict_on_reserve_rolls_back_the_registration() {
    if !lab::require_root("conflict_on_reserve_rolls_back_the_registration") {
        return;
    }
    let s = PrLab::new(&[("n1", Some(KEY1))], racing_sg_persist);
    s.conf("n1", "");
    let dev = s.dev().to_string();
    let out = s.svcmgr("n1", &["start"]);
    out.assert_fails("start losing the race");
    let log = all(&out);
    assert!(
        log.contains(&format!(
            "reservation conflict on {dev}: the device refused sg_persist -n --out --reserve --param-rk={KEY1_TOOL} --prout-type=5 {dev} (exit status 24)"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("rollback: unregister {dev}")),
        "{log}"
    );
    assert!(
        !log.contains("PRSVC.VG#1 vgchange"),
        "the VG must not start:\n{log}"
    );
    assert!(reserved_by(&s.holder(&dev), "0x99"), "{}", s.holder(&dev));
    let keys = s.keys(&dev);
    assert!(
        !keys.contains(KEY1_TOOL),
        "our registration was rolled back: {keys}"
    );
}

/// A `sg_persist` whose PR IN reads answer UNIT ATTENTION (exit status 6) while the
/// counter in `ua-pending` is above zero, each such read taking one off.
fn unit_attention_sg_persist(dir: &Path) {
    let pending = dir.join("ua-pending");
    let script = format!(
        "#!/bin/sh\ncase \" $* \" in\n*\" --in \"*)\n  \
         n=$(cat {p} 2>/dev/null || echo 0)\n  \
         if [ \"$n\" -gt 0 ]; then echo $((n - 1)) > {p}; \
         echo 'persistent reserve in: Unit Attention' >&2; exit 6; fi\n;;\nesac\nexec {SG} \"$@\"\n",
        p = pending.display()
    );
    let p = dir.join("sg_persist");
    std::fs::write(&p, script).expect("write wrapper");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod wrapper");
    std::os::unix::fs::symlink(MPATH, dir.join("mpathpersist")).expect("symlink mpathpersist");
}

#[test]
fn unit_attentions_are_read_away_within_bounds() {
    if !lab::require_root("unit_attentions_are_read_away_within_bounds") {
        return;
    }
    let s = PrLab::new(&[("n1", Some(KEY1))], unit_attention_sg_persist);
    s.conf("n1", "");
    let dev = s.dev().to_string();
    let pending = s.lab.dir().join("prbin/ua-pending");
    let left = || {
        std::fs::read_to_string(&pending)
            .unwrap()
            .trim()
            .to_string()
    };

    std::fs::write(&pending, "3").unwrap();
    s.svcmgr("n1", &["start"])
        .assert_ok("start through 3 unit attentions");
    assert_eq!(left(), "0");
    assert!(
        reserved_by(&s.holder(&dev), KEY1_TOOL),
        "{}",
        s.holder(&dev)
    );
    s.svcmgr("n1", &["stop"]).assert_ok("stop");

    // A device that never stops reporting them: the start gives up after 10 reads, and the
    // rollback's stop of the failed reservation after 10 more. (A dry run: it reads the
    // same, but skips the status refresh after the action, which reads too.)
    std::fs::write(&pending, "50").unwrap();
    let out = s.svcmgr("n1", &["start", "--dry-run"]);
    out.assert_fails("start against endless unit attentions");
    let log = all(&out);
    assert!(
        log.contains(&format!(
            "sg_persist -n --in --read-keys {dev}: exit status 6"
        )),
        "{log}"
    );
    assert_eq!(left(), "30");
    assert!(s
        .keys(&dev)
        .contains("there are NO registered reservation keys"));
}

#[test]
fn a_failure_on_one_device_rolls_back_the_others() {
    if !lab::require_root("a_failure_on_one_device_rolls_back_the_others") {
        return;
    }
    let s = PrLab::new(&[("n1", Some(KEY1))], emulators);
    // A second PV in the same VG.
    let pv2 = LoopDev::new(s.lab.dir(), 16);
    let lvm = |argv: &[&str]| {
        let o = Command::new(argv[0])
            .args(&argv[1..])
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            .output()
            .expect("lvm");
        o.assert_ok(&argv.join(" "));
        o
    };
    lvm(&["pvcreate", "-q", pv2.path()]);
    let cleanup = PvGuard {
        vg: s.vg.name.clone(),
        pv: pv2.path().to_string(),
    };
    lvm(&["vgextend", "-q", &s.vg.name, pv2.path()]);
    s.conf("n1", "");
    // The PV the driver handles last, in pvs order, is held by another node.
    let pvs = lvm(&[
        "pvs",
        "--noheadings",
        "--separator",
        ";",
        "-o",
        "pv_name,vg_name",
    ])
    .stdout_str();
    let ours: Vec<String> = pvs
        .lines()
        .filter_map(|l| l.trim().split_once(';'))
        .filter(|(_, vg)| *vg == s.vg.name)
        .map(|(pv, _)| pv.to_string())
        .collect();
    assert_eq!(ours.len(), 2, "{pvs}");
    let (first, last) = (&ours[0], &ours[1]);
    for args in [
        &["--out", "--register-ignore", "--param-sark=0x77"][..],
        &["--out", "--reserve", "--param-rk=0x77", "--prout-type=5"][..],
    ] {
        let o = Command::new(SG)
            .arg("-n")
            .args(args)
            .arg(last)
            .env("SVCMGR_PR_EMU_DIR", &s.state)
            .env("SVCMGR_PR_EMU_INITIATOR", "n7")
            .output()
            .expect("emulator");
        o.assert_ok("n7 takes the last PV");
    }

    let out = s.svcmgr("n1", &["start"]);
    out.assert_fails("start with one PV held elsewhere");
    let log = all(&out);
    assert!(
        log.contains(&format!("reservation on {last} is held by 0x77")),
        "{log}"
    );
    assert!(log.contains(&format!("rollback: release {first}")), "{log}");
    assert!(
        log.contains(&format!("rollback: unregister {first}")),
        "{log}"
    );
    assert!(
        s.holder(first).contains("there is NO reservation held"),
        "{}",
        s.holder(first)
    );
    assert!(
        s.keys(first)
            .contains("there are NO registered reservation keys"),
        "{}",
        s.keys(first)
    );
    assert!(reserved_by(&s.holder(last), "0x77"));
    assert!(!s.keys(last).contains(KEY1_TOOL));

    // Nothing of ours anywhere and never started here: down, like a passive node.
    let pr = s.pr_json("n1");
    assert_eq!(pr["status"], "down", "nothing of ours anywhere: {pr}");
    assert_eq!(pr["label"], format!("{KEY1} on 0/2 devices"));
    s.svcmgr("n1", &["prstart", "--force"])
        .assert_ok("prstart --force");
    let pr = s.pr_json("n1");
    assert_eq!(pr["status"], "up", "{pr}");
    assert_eq!(pr["label"], format!("{KEY1} on 2/2 devices"));
    s.svcmgr("n1", &["prstop"]).assert_ok("prstop");
    drop(cleanup);
}

/// Takes a PV added by a test back out of the VG before the VG guard removes the VG.
struct PvGuard {
    vg: String,
    pv: String,
}

impl Drop for PvGuard {
    fn drop(&mut self) {
        for argv in [
            &["vgreduce", "-q", &self.vg, &self.pv][..],
            &["pvremove", "-ff", "-y", &self.pv][..],
        ] {
            let ok = Command::new(argv[0])
                .args(&argv[1..])
                .env("LVM_SUPPRESS_FD_WARNINGS", "1")
                .output()
                .is_ok_and(|o| o.status.success());
            if !ok {
                eprintln!("scsireserv lab teardown: {} failed", argv.join(" "));
            }
        }
    }
}

#[test]
fn leftover_registrations_are_reported_and_removed_with_force() {
    if !lab::require_root("leftover_registrations_are_reported_and_removed_with_force") {
        return;
    }
    let s = PrLab::new(&[("n1", Some(KEY1))], emulators);
    s.conf("n1", "");
    let dev = s.dev().to_string();
    // A node whose stop could not unregister: under type 5 it could still write.
    s.emu(&["--out", "--register-ignore", "--param-sark=0xc3"], &dev);

    let out = s.svcmgr("n1", &["start"]);
    out.assert_ok("start with a leftover registration");
    assert!(
        all(&out).contains("0xc3 also registered on"),
        "{}",
        all(&out)
    );
    let pr = s.pr_json("n1");
    assert_eq!(pr["status"], "warn", "{pr}");
    assert!(s.keys(&dev).contains("0xc3"));

    let out = s.svcmgr("n1", &["start", "--force"]);
    out.assert_ok("start --force removes it");
    assert!(
        all(&out).contains("remove the registration of 0xc3"),
        "{}",
        all(&out)
    );
    assert!(!s.keys(&dev).contains("0xc3"), "{}", s.keys(&dev));
    assert!(reserved_by(&s.holder(&dev), KEY1_TOOL));
    assert_eq!(s.pr_json("n1")["status"], "up");
    s.svcmgr("n1", &["stop"]).assert_ok("stop");
}
