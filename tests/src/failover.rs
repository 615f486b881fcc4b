//! Failover labs: daemons with heartbeats on every node, a VG on a loop device shared by
//! all, its SCSI-3 reservation through the `sg_persist` emulator (one state directory:
//! every node sees the same logical unit), services with an address on the lab subnet.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::hb::{api, daemon_pid, link, time_until, Daemons, Timing};
use crate::lab::{wait_until, Lab, Node, VolumeGroup};

/// Bound on every wait.
pub const WAIT: Duration = Duration::from_secs(40);
/// The service guarded by a reservation.
pub const FENCED: &str = "fo";
/// The service without one.
pub const UNFENCED: &str = "nofence";

pub struct FoLab {
    // Dropped first: the VG and its PV go before the lab's namespaces.
    pub vg: VolumeGroup,
    pub lab: Lab,
    state: PathBuf,
    sg: PathBuf,
    /// While this file exists, the emulator refuses every preemption.
    pub fail_flag: PathBuf,
}

impl FoLab {
    /// `sg` and `mpath`: the built emulators.
    pub fn new(nodes: &[&str], sg: &Path, mpath: &Path) -> FoLab {
        let mut lab = Lab::new(nodes);
        let vg = VolumeGroup::new(lab.dir(), 16);
        let state = lab.dir().join("pr-state");
        let bindir = lab.dir().join("prbin");
        let fail_flag = lab.dir().join("fail-preempt");
        std::fs::create_dir_all(&state).expect("pr state dir");
        std::fs::create_dir_all(&bindir).expect("pr bin dir");
        failing_sg_persist(&bindir, &fail_flag, sg, mpath);
        lab.add_path_dir(&bindir);
        for n in nodes {
            lab.set_env(n, "SVCMGR_PR_EMU_DIR", state.to_str().expect("utf-8"));
            lab.set_env(n, "SVCMGR_PR_EMU_INITIATOR", n);
        }
        FoLab {
            vg,
            lab,
            state,
            sg: sg.to_path_buf(),
            fail_flag,
        }
    }

    pub fn ip(&self, svc: &str) -> String {
        self.lab.subnet_ip(if svc == FENCED { 200 } else { 201 })
    }

    /// The services on every node: an address, and for FENCED the reserved VG; `defaults`
    /// goes in DEFAULT, `ip` in the address's section.
    pub fn write_confs(&self, services: &[&str], defaults: &str, ip: &str) {
        let nodes: Vec<&str> = self.lab.nodes().iter().map(|n| n.name.as_str()).collect();
        for svc in services {
            let mut text = format!(
                "[DEFAULT]\nnodes = {}\norchestrate = ha\n{defaults}\n[ip#1]\nipname = {}\n\
                 ipdev = eth0\nnetmask = 24\n{ip}",
                nodes.join(" "),
                self.ip(svc)
            );
            if *svc == FENCED {
                text.push_str(&format!(
                    "\n[vg#1]\nvgname = {}\nscsireserv = true\n",
                    self.vg.name
                ));
            }
            for n in self.lab.nodes() {
                n.write_conf(svc, &text);
            }
        }
    }

    fn emu(&self, args: &[&str]) -> String {
        crate::spc3::observe(&self.sg, &self.state, args, self.vg.pv())
    }

    /// The keys registered on the PV, as numbers.
    pub fn keys(&self) -> Vec<u64> {
        self.emu(&["--in", "--read-keys"])
            .lines()
            .filter_map(|l| hex(l.trim()))
            .collect()
    }

    /// The reservation holder's key.
    pub fn holder(&self) -> Option<u64> {
        let out = self.emu(&["--in", "--read-reservation"]);
        out.lines()
            .find_map(|l| l.trim().strip_prefix("Key="))
            .and_then(hex)
    }
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

/// The node's reservation key (generated into node.toml by its first action).
pub fn prkey(n: &Node) -> u64 {
    let text = std::fs::read_to_string(n.node_toml()).expect("node.toml");
    text.lines()
        .find_map(|l| l.strip_prefix("prkey = \""))
        .and_then(|v| hex(v.trim_end_matches('"')))
        .unwrap_or_else(|| panic!("no prkey in {}'s node.toml:\n{text}", n.name))
}

/// The emulator, refusing preemptions while `flag` exists (as an array answering
/// RESERVATION CONFLICT would).
fn failing_sg_persist(dir: &Path, flag: &Path, sg: &Path, mpath: &Path) {
    let script = format!(
        "#!/bin/sh\ncase \" $* \" in\n*\" --preempt-abort \"*|*\" --preempt \"*)\n  \
         if [ -e {} ]; then echo 'persistent reserve out: scsi status: Reservation Conflict' >&2; exit 24; fi\n;;\n\
         esac\nexec {} \"$@\"\n",
        flag.display(),
        sg.display()
    );
    let p = dir.join("sg_persist");
    std::fs::write(&p, script).expect("write wrapper");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod wrapper");
    std::os::unix::fs::symlink(mpath, dir.join("mpathpersist")).expect("symlink mpathpersist");
}

/// The orchestrator's one-line decision on `svc` as `n` shows it ("" when it does not answer).
pub fn decision(n: &Node, svc: &str) -> String {
    api(n, &format!("/services/{svc}/orchestration"))
        .and_then(|v| v["line"].as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn wait_decision(n: &Node, svc: &str, want: &str) {
    let ok = wait_until(
        WAIT,
        &format!("{} decides '{want}' on {svc}", n.name),
        || decision(n, svc).contains(want),
    );
    assert!(
        ok,
        "{} never decided '{want}' on {svc}; last: {}\n{}",
        n.name,
        decision(n, svc),
        daemon_log(n)
    );
}

pub fn daemon_log(n: &Node) -> String {
    std::fs::read_to_string(n.root.join("log/daemon.log")).unwrap_or_default()
}

/// The daemons of every node of the lab, with `top` added to their node.toml, once every
/// node sees every other up.
pub fn start_daemons<'a>(s: &'a FoLab, t: Timing, top: &str) -> Daemons<'a> {
    let d = Daemons::start_with(&s.lab, t, None, top);
    all_see_up(&s.lab);
    d
}

/// A node's death: its daemon killed, its link down; its resources stay as they are.
pub fn kill_node(n: &Node) {
    let pid = daemon_pid(n).expect("daemon pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9 the daemon");
    link(n, false);
}

pub fn all_see_up(lab: &Lab) {
    for a in lab.nodes() {
        for b in lab.nodes().iter().filter(|b| b.name != a.name) {
            assert!(
                time_until(a, &b.name, "up", Instant::now(), WAIT).is_some(),
                "{} never saw {} up",
                a.name,
                b.name
            );
        }
    }
}
