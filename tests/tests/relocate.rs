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
        o.all_output().contains("service web is up on n1"),
        "{}",
        o.all_output()
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
    assert!(o.all_output().contains("is up on n2"), "{}", o.all_output());

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
    o.assert_logs("rollback disabled");
    assert!(!runs(&s, "n1"));
    assert!(n2.has_ip(&s.ip));

    // A destination that is no node of the service is refused before anything stops.
    n2.svcmgr(&["-s", "web", "stop"]).assert_ok("stop on n2");
    n1.svcmgr(&["-s", "web", "start"])
        .assert_ok("start on n1 again");
    let o = n1.svcmgr(&["-s", "web", "switch", "--to", "n9"]);
    o.assert_fails("switch to a stranger");
    assert!(
        o.all_output().contains("n9 is not a node of service web"),
        "{}",
        o.all_output()
    );
    assert!(runs(&s, "n1"));
}

/// Make `n` run `path` as svcmgr on its peers (node.toml `[ssh] svcmgr`).
fn use_remote_svcmgr(n: &Node, path: &str) {
    let toml = std::fs::read_to_string(n.node_toml()).expect("node.toml");
    let mut found = false;
    let text: String = toml
        .lines()
        .map(|l| {
            if l.starts_with("svcmgr = ") {
                found = true;
                format!("svcmgr = \"{path}\"\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert!(found, "no svcmgr line in\n{toml}");
    std::fs::write(n.node_toml(), text).expect("write node.toml");
}

/// A stand-in for svcmgr on the peers: it runs the real one, except that a `start` does
/// what the mode file says: `kill-before` (SIGKILLed before doing anything), `kill-after`
/// (SIGKILLed after the start completed), `slow` (3 s pause first). Returns (script, mode file).
fn wrapper(s: &Setup) -> (String, PathBuf) {
    let dir = s.lab.dir();
    let mode = dir.join(lab::unique("wrapper-mode"));
    let script = dir.join(lab::unique("svcmgr-wrapper"));
    let bin = lab::svcmgr_bin();
    let text = format!(
        "#!/bin/sh\nmode=$(cat '{mode}' 2>/dev/null)\ncase \" $* \" in\n*\" start \"*)\n\
         \tcase \"$mode\" in\n\tkill-before) kill -9 $$ ;;\n\
         \tkill-after) '{bin}' \"$@\"; kill -9 $$ ;;\n\tslow) sleep 3 ;;\n\tesac ;;\nesac\n\
         exec '{bin}' \"$@\"\n",
        mode = mode.display(),
        bin = bin.display()
    );
    std::fs::write(&script, text).expect("write wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .expect("chmod wrapper");
    (script.display().to_string(), mode)
}

#[test]
fn killed_remote_start_is_a_failure_and_rolls_back_only_when_down_there() {
    if !lab::require_root("killed_remote_start_is_a_failure_and_rolls_back_only_when_down_there") {
        return;
    }
    let s = setup(72, "");
    let n1 = s.lab.node("n1");
    let (script, mode) = wrapper(&s);
    use_remote_svcmgr(n1, &script);
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start on n1");

    // The remote svcmgr is SIGKILLed before it did anything: a failure, n2 reports the
    // service down on a fresh connection, so it is started again on n1.
    std::fs::write(&mode, "kill-before").unwrap();
    let o = n1.svcmgr(&["-s", "web", "switch", "--to", "n2"]);
    o.assert_fails("switch whose remote start is killed");
    let out = o.stdout_str();
    assert!(out.contains("was killed by signal KILL"), "{out}");
    assert!(out.contains("the service is down on n2"), "{out}");
    assert!(
        out.contains("rollback: the service is up again on n1"),
        "{out}"
    );
    assert!(runs(&s, "n1"));
    assert!(!runs(&s, "n2"));

    // Killed after its start completed: n2 reports the service up, so n1 must not start
    // it again, and says the state there needs a look.
    std::fs::write(&mode, "kill-after").unwrap();
    let o = n1.svcmgr(&["-s", "web", "switch", "--to", "n2"]);
    o.assert_fails("switch whose remote start is killed after the fact");
    let out = o.stdout_str();
    assert!(out.contains("was killed by signal KILL"), "{out}");
    assert!(out.contains("the service state on n2 is unknown"), "{out}");
    assert!(!out.contains("rollback: start"), "{out}");
    assert!(runs(&s, "n2"), "n2 keeps what it started");
    assert!(!runs(&s, "n1"), "not started twice");
}

#[test]
fn restart_checks_peers_and_a_local_start_waits_for_a_running_switch() {
    if !lab::require_root("restart_checks_peers_and_a_local_start_waits_for_a_running_switch") {
        return;
    }
    let s = setup(73, "");
    let (n1, n2) = (s.lab.node("n1"), s.lab.node("n2"));
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start on n1");

    // restart on n2 starts: refused like start while up on n1.
    let o = n2.svcmgr(&["-s", "web", "restart"]);
    o.assert_fails("restart on n2 while up on n1");
    assert!(
        o.all_output().contains("service web is up on n1"),
        "{}",
        o.all_output()
    );
    assert!(!runs(&s, "n2"));

    // A start on n1 launched while n1 switches to a slow n2: it waits for the switch to
    // release the lock, then finds the service up on n2.
    let (script, mode) = wrapper(&s);
    use_remote_svcmgr(n1, &script);
    std::fs::write(&mode, "slow").unwrap();
    let mut switch = n1
        .svcmgr_cmd(&["-s", "web", "switch", "--to", "n2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn switch");
    let stopped = lab::wait_until(std::time::Duration::from_secs(30), "n1 stopped", || {
        !s.lab.node("n1").has_ip(&s.ip)
    });
    let o = n1.svcmgr(&["-s", "web", "start"]);
    let switched = switch.wait().expect("wait switch");
    assert!(stopped, "the switch never stopped n1");
    assert!(switched.success(), "switch failed: {switched:?}");
    o.assert_fails("start on n1 during the switch");
    assert!(
        o.all_output().contains("service web is up on n2"),
        "{}",
        o.all_output()
    );
    assert!(runs(&s, "n2"));
    assert!(!runs(&s, "n1"), "started twice");
}

#[test]
fn peers_that_can_not_tell_block_a_start() {
    if !lab::require_root("peers_that_can_not_tell_block_a_start") {
        return;
    }
    let s = setup(74, "");
    let (n1, n3) = (s.lab.node("n1"), s.lab.node("n3"));

    // A wrong svcmgr path on the peers: the shell's exit 127 is no answer.
    use_remote_svcmgr(n1, "/nonexistent/svcmgr");
    let o = n1.svcmgr(&["-s", "web", "start"]);
    o.assert_fails("start while the peers can not tell");
    let all = o.all_output();
    assert!(
        all.contains(
            "can not tell whether service web runs on n2 (n2: print status exited with code 127"
        ) && all.contains("), n3 (n3: print status exited with code 127")
            && all.contains("use --ignore-peers"),
        "{all}"
    );
    let out = o.stdout_str();
    assert!(
        out.contains("WARNING")
            && out.contains("n2: print status exited with code 127: ")
            && out.contains("/nonexistent/svcmgr"),
        "{out}"
    );
    assert!(!runs(&s, "n1"));
    // ... --force starts anyway, saying what it overrode.
    n1.svcmgr(&["-s", "web", "start", "--force"])
        .assert_ok("forced start")
        .assert_logs("overridden by --force (as --ignore-peers): can not tell whether");
    assert!(runs(&s, "n1"));
    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("stop on n1");
    use_remote_svcmgr(n1, lab::svcmgr_bin().to_str().unwrap());

    // The drpnode is asked too: up on n3, a start on n1 is refused, and so is a switch
    // run from n1, where it does not run, to n2.
    n3.svcmgr(&["-s", "web", "start", "--local"])
        .assert_ok("start on n3");
    let o = n1.svcmgr(&["-s", "web", "start"]);
    o.assert_fails("start on n1 while up on the drpnode");
    assert!(
        o.all_output().contains("service web is up on n3"),
        "{}",
        o.all_output()
    );
    let o = n1.svcmgr(&["-s", "web", "switch", "--to", "n2"]);
    o.assert_fails("switch from a node that does not run it");
    assert!(
        o.all_output()
            .contains("service web is up on n3, not on n1"),
        "{}",
        o.all_output()
    );
    assert!(!runs(&s, "n1") && !runs(&s, "n2"));
    n3.svcmgr(&["-s", "web", "stop"]).assert_ok("stop on n3");

    // Peers that can not be reached at all block a start too (sshd restarting on a node
    // that runs the service must not make it start twice), naming the peer and the error.
    s.lab.kill_sshd("n2");
    s.lab.kill_sshd("n3");
    let o = n1.svcmgr(&["-s", "web", "start"]);
    o.assert_fails("start with the peers unreachable");
    o.assert_logs("can not tell whether service web runs on n2 (n2: can not connect to");
    assert!(!runs(&s, "n1"));
    n1.svcmgr(&["-s", "web", "start", "--ignore-peers"])
        .assert_ok("start with the peers unreachable, overridden")
        .assert_logs("overridden by --ignore-peers");
    assert!(runs(&s, "n1"));
}

#[test]
fn giveback_refuses_while_a_node_is_unreachable() {
    if !lab::require_root("giveback_refuses_while_a_node_is_unreachable") {
        return;
    }
    let s = setup(75, "");
    let n3 = s.lab.node("n3");
    s.lab.kill_sshd("n2");
    let o = n3.svcmgr(&["-s", "web", "giveback"]);
    o.assert_fails("giveback with n2 unreachable");
    assert!(
        o.all_output()
            .contains("can not tell whether service web runs on n2"),
        "{}",
        o.all_output()
    );
    assert!(!runs(&s, "n1"));
    n3.svcmgr(&["-s", "web", "giveback", "--ignore-peers"])
        .assert_ok("giveback past the unreachable node");
    assert!(runs(&s, "n1"));
}

#[test]
fn a_closed_stdout_does_not_abort_a_switch() {
    if !lab::require_root("a_closed_stdout_does_not_abort_a_switch") {
        return;
    }
    let s = setup(76, "");
    let n1 = s.lab.node("n1");
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start on n1");
    // As in `svcmgr switch ... | true`: every write to stdout fails with EPIPE.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut cmd = n1.svcmgr_cmd(&["-s", "web", "switch", "--to", "n2"]);
    cmd.stdout(writer).stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn switch");
    drop(cmd);
    let o = child.wait_with_output().expect("wait switch");
    let err = o.all_output();
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.status.success(), "{:?}: {err}", o.status);
    assert!(runs(&s, "n2"));
    assert!(!runs(&s, "n1"));
    // The relocation's lines still reach the log file.
    let log = std::fs::read_to_string(n1.root.join("log/web.log")).expect("log");
    assert!(log.contains("start on n2"), "{log}");
}

#[test]
fn a_changed_key_of_one_type_is_accepted_by_another_with_a_warning() {
    if !lab::require_root("a_changed_key_of_one_type_is_accepted_by_another_with_a_warning") {
        return;
    }
    let s = setup(77, "");
    let (n1, n2, n3) = (s.lab.node("n1"), s.lab.node("n2"), s.lab.node("n3"));
    let ssh = s.lab.ssh().expect("ssh");
    let known = std::fs::read_to_string(&ssh.known_hosts).unwrap();
    let line_of = |n: &Node| {
        known
            .lines()
            .find(|l| l.starts_with(&format!("{} ", n.ip)))
            .expect("host line")
            .to_string()
    };
    let pub_key = |n: &Node, file: &str| {
        let text = std::fs::read_to_string(ssh.dir.join(&n.name).join(file)).unwrap();
        let mut f = text.split_whitespace();
        format!("{} {}", f.next().unwrap(), f.next().unwrap())
    };
    // n2 listed with n3's ed25519 key (changed) and its own ECDSA key (right).
    let kh = s.lab.dir().join(lab::unique("known_hosts"));
    std::fs::write(
        &kh,
        format!(
            "{ip} {}\n{ip} {}\n{}\n",
            pub_key(n3, "ssh_host_ed25519_key.pub"),
            pub_key(n2, "ssh_host_ecdsa_key.pub"),
            line_of(n3),
            ip = n2.ip
        ),
    )
    .unwrap();
    let toml = std::fs::read_to_string(n1.node_toml()).unwrap();
    let t = toml.replace(
        &format!("known_hosts = \"{}\"", ssh.known_hosts.display()),
        &format!("known_hosts = \"{}\"", kh.display()),
    );
    assert_ne!(t, toml);
    std::fs::write(n1.node_toml(), t).unwrap();
    let o = n1.svcmgr(&["-s", "web", "start"]);
    o.assert_ok("start, n2 asked over its ECDSA key");
    let out = o.stdout_str();
    assert!(
        out.lines().any(|l| l.contains("WARNING")
            && l.contains("n2: the ssh-ed25519 host key of")
            && l.contains("changed")),
        "{out}"
    );
    assert!(!out.contains("n3: the"), "{out}");
    assert!(runs(&s, "n1"));
}
