//! Lab tests of relocation: the peer-up check before start, `switch --to`, `giveback`,
//! `takeover`, and the rollback of a failed switch. Three nodes: n1, n2 (nodes), n3 (drpnode).

use std::path::PathBuf;

use labtests::lab::{self, Lab, LoopDev, Node, OutputExt};

struct Setup {
    lab: Lab,
    _disk: LoopDev,
    ip: String,
    mnt: PathBuf,
}

fn setup(ip_host: u8, extra_fs: &str) -> Setup {
    let mut lab = Lab::new(&["n1", "n2", "n3"]);
    lab.enable_ssh();
    let disk = LoopDev::new(lab.dir(), 32);
    disk.mkfs_ext4();
    let ip = lab.subnet_ip(ip_host);
    let mnt = lab.dir().join("mnt/web");
    let conf = format!(
        "[DEFAULT]\nnodes = n1 n2\ndrpnodes = n3\n\n[ip#1]\nipname = {ip}\nipdev = eth0\n\
         netmask = 24\n\n[fs#1]\ndev = {}\nmnt = {}\ntype = ext4\n{extra_fs}\n",
        disk.path(),
        mnt.display()
    );
    for n in ["n1", "n2", "n3"] {
        lab.node(n).write_conf("web", &conf);
    }
    Setup {
        lab,
        _disk: disk,
        ip,
        mnt,
    }
}

fn runs(s: &Setup, n: &str) -> bool {
    let node = s.lab.node(n);
    let (ip, mnt) = (node.has_ip(&s.ip), node.is_mounted(&s.mnt));
    assert_eq!(ip, mnt, "{n}: ip {ip} but fs {mnt}: half started");
    ip
}

fn avail_line(n: &Node) -> String {
    let st = n
        .svcmgr(&["-s", "web", "print", "status"])
        .assert_ok("print status")
        .stdout_str();
    st.lines()
        .find(|l| l.starts_with("|- avail"))
        .unwrap_or_else(|| panic!("no avail line in\n{st}"))
        .to_string()
}

fn code(n: &Node, args: &[&str]) -> i32 {
    n.svcmgr(args).status.code().unwrap_or(-1)
}

/// The MAC address that answers ARP for `ip`, seen from `from`.
fn arp_answer(from: &Node, ip: &str) -> String {
    let o = from.sh(&["arping", "-c", "1", "-w", "3", "-I", "eth0", ip]);
    o.assert_ok(&format!("arping {ip} from {}", from.name));
    let out = o.stdout_str();
    let start = out.find('[').unwrap_or_else(|| panic!("no reply in {out}"));
    let end = out[start..].find(']').expect("]") + start;
    out[start + 1..end].to_lowercase()
}

/// eth0's MAC address (from ip: /sys in a node shows the host's devices).
fn mac(n: &Node) -> String {
    let out = n
        .sh(&["ip", "-o", "link", "show", "dev", "eth0"])
        .assert_ok("ip link")
        .stdout_str();
    let mut words = out.split_whitespace();
    words
        .find(|w| *w == "link/ether")
        .and_then(|_| words.next())
        .unwrap_or_else(|| panic!("no MAC in {out}"))
        .to_lowercase()
}

#[test]
fn start_elsewhere_refused_and_switch_moves_ip_and_fs() {
    if !lab::require_root("start_elsewhere_refused_and_switch_moves_ip_and_fs") {
        return;
    }
    let s = setup(70, "");
    let (n1, n2, n3) = (s.lab.node("n1"), s.lab.node("n2"), s.lab.node("n3"));
    n1.svcmgr(&["-s", "web", "syncnodes", "--force"])
        .assert_ok("push the config");
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start on n1");
    assert!(runs(&s, "n1"));

    // Up on n1: a start on n2 is refused, and starts nothing.
    let o = n2.svcmgr(&["-s", "web", "start"]);
    o.assert_fails("start on n2 while up on n1");
    assert!(
        o.stderr_str().contains("service web is up on n1"),
        "{}",
        o.stderr_str()
    );
    assert!(!runs(&s, "n2"));

    // switch: stop on n1, start on n2 (its lines prefixed), then both statuses.
    let o = n1.svcmgr(&["-s", "web", "switch", "--to", "n2"]);
    o.assert_ok("switch --to n2");
    let out = o.stdout_str();
    assert!(
        out.lines()
            .any(|l| l.starts_with("n2: ") && l.contains("WEB.IP#1 ip addr add")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("n2: ") && l.contains("WEB.FS#1 mount")),
        "{out}"
    );
    assert!(out.contains("n1: |- avail                  down"), "{out}");
    assert!(out.contains("n2: |- avail                  up"), "{out}");
    assert!(runs(&s, "n2"));
    assert!(!runs(&s, "n1"));
    assert_eq!(arp_answer(n3, &s.ip), mac(n2));
    n3.sh(&["busybox", "ping", "-c", "1", "-W", "3", &s.ip])
        .assert_ok("ping the service ip from n3");
    assert!(avail_line(n2).ends_with(" up"), "{}", avail_line(n2));
    assert!(avail_line(n1).ends_with(" down"), "{}", avail_line(n1));
    assert_eq!(code(n1, &["-s", "web", "status"]), 1, "n1 is down");
    // n2 now pushes (n3 already holds this config): n2's sync is complete and overall up.
    n2.svcmgr(&["-s", "web", "syncnodes", "--force"])
        .assert_ok("push from n2");
    assert_eq!(code(n2, &["-s", "web", "status"]), 0, "n2 is up");

    // The refusal works the other way round; --local skips the check (not used here).
    let o = n1.svcmgr(&["-s", "web", "start"]);
    o.assert_fails("start on n1 while up on n2");
    assert!(o.stderr_str().contains("is up on n2"), "{}", o.stderr_str());

    // giveback from the drpnode: back to n1, the first of nodes.
    n3.svcmgr(&["-s", "web", "giveback"])
        .assert_ok("giveback from n3");
    assert!(runs(&s, "n1"));
    assert!(!runs(&s, "n2"));
    assert!(!runs(&s, "n3"));
    assert_eq!(arp_answer(n3, &s.ip), mac(n1));

    // takeover: pulled to n2.
    let o = n2.svcmgr(&["-s", "web", "takeover"]);
    o.assert_ok("takeover on n2");
    assert!(o
        .stdout_str()
        .lines()
        .any(|l| l.starts_with("n1: ") && l.contains("WEB.FS#1")));
    assert!(runs(&s, "n2"));
    assert!(!runs(&s, "n1"));
}

#[test]
fn failed_remote_start_restarts_here() {
    if !lab::require_root("failed_remote_start_restarts_here") {
        return;
    }
    // n2 cannot mount: its device does not exist there.
    let s = setup(71, "dev@n2 = /dev/svcmgr-missing-disk\n");
    let (n1, n2) = (s.lab.node("n1"), s.lab.node("n2"));
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start on n1");

    let o = n1.svcmgr(&["-s", "web", "switch", "--to", "n2"]);
    o.assert_fails("switch to a node that cannot start it");
    let out = o.stdout_str();
    assert!(out.contains("start on n2 failed"), "{out}");
    assert!(
        out.contains("rollback: start the service again on n1"),
        "{out}"
    );
    assert!(
        out.contains("rollback: the service is up again on n1"),
        "{out}"
    );
    assert!(runs(&s, "n1"), "the service is back on n1");
    assert!(!n2.has_ip(&s.ip), "n2 rolled its own partial start back");

    // Rollback disabled: the service stays down on n1, and n2 keeps what it started.
    let o = n1.svcmgr(&["-s", "web", "switch", "--to", "n2", "--disable-rollback"]);
    o.assert_fails("switch without rollback");
    assert!(
        o.stdout_str().contains("rollback disabled"),
        "{}",
        o.stdout_str()
    );
    assert!(!runs(&s, "n1"));
    assert!(n2.has_ip(&s.ip));

    // A destination that is no node of the service is refused before anything stops.
    n2.svcmgr(&["-s", "web", "stop"]).assert_ok("stop on n2");
    n1.svcmgr(&["-s", "web", "start"])
        .assert_ok("start on n1 again");
    let o = n1.svcmgr(&["-s", "web", "switch", "--to", "n9"]);
    o.assert_fails("switch to a stranger");
    assert!(
        o.stderr_str().contains("n9 is not a node of service web"),
        "{}",
        o.stderr_str()
    );
    assert!(runs(&s, "n1"));
}
