//! Lab tests of the foundation: an ip + fs service on real network and mount namespaces.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use labtests::lab::{self, LoopDev, Node, OutputExt};

fn conf(ip: &str, dev: &str, mnt: &Path, extra_fs: &str) -> String {
    format!(
        "[DEFAULT]\nnodes = n1\n\n[ip#1]\nipname = {ip}\nipdev = eth0\nnetmask = 24\n\n\
         [fs#1]\ndev = {dev}\nmnt = {}\ntype = ext4\n{extra_fs}\n",
        mnt.display()
    )
}

struct Setup {
    lab: lab::Lab,
    dev: LoopDev,
    ip: String,
    mnt: std::path::PathBuf,
}

fn setup(nodes: &[&str], extra_fs: &str) -> Setup {
    let lab = lab::Lab::new(nodes);
    let dev = LoopDev::new(lab.dir(), 32);
    dev.mkfs_ext4();
    let ip = lab.subnet_ip(50);
    let mnt = lab.dir().join("mnt/web");
    lab.node("n1")
        .write_conf("web", &conf(&ip, dev.path(), &mnt, extra_fs));
    Setup { lab, dev, ip, mnt }
}

#[test]
fn start_status_stop_cycle() {
    if !lab::require_root("start_status_stop_cycle") {
        return;
    }
    let s = setup(&["n1"], "");
    let n1 = s.lab.node("n1");

    n1.svcmgr(&["-s", "web", "validate", "config"])
        .assert_ok("validate");
    let st = n1.svcmgr(&["-s", "web", "print", "status"]);
    st.assert_ok("print status");
    assert!(
        st.stdout_str().contains("overall                   down"),
        "{}",
        st.stdout_str()
    );
    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 1);

    let out = n1.svcmgr(&["-s", "web", "start"]);
    out.assert_ok("start");
    let log = out.stdout_str();
    let ip_at = log.find("WEB.IP#1 ip addr add").expect(&log);
    let fs_at = log.find("WEB.FS#1 mount -t ext4").expect(&log);
    assert!(ip_at < fs_at, "ip starts before fs:\n{log}");
    assert!(log.contains("WEB.IP#1 checking"), "{log}");
    assert!(n1.has_ip(&s.ip));
    assert!(n1.is_mounted(&s.mnt));
    assert!(!s.lab.node("n1").is_mounted(Path::new("/nonexistent")));
    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 0);

    // Idempotent: a second start changes nothing and says so.
    let again = n1.svcmgr(&["-s", "web", "start"]);
    again.assert_ok("start again");
    assert!(
        again.stdout_str().contains("already up"),
        "{}",
        again.stdout_str()
    );
    assert!(!again.stdout_str().contains("ip addr add"));

    let json = n1.svcmgr(&["-s", "web", "print", "status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout_str()).unwrap();
    assert_eq!(v["overall"], "up");
    assert_eq!(v["resources"][0]["rid"], "ip#1");
    assert_eq!(v["resources"][1]["status"], "up");

    let ls = n1.svcmgr(&["ls"]);
    assert!(ls.stdout_str().starts_with("web"), "{}", ls.stdout_str());
    assert!(ls.stdout_str().contains(" up"), "{}", ls.stdout_str());

    let out = n1.svcmgr(&["-s", "web", "stop"]);
    out.assert_ok("stop");
    let log = out.stdout_str();
    assert!(
        log.find("WEB.FS#1 umount").expect(&log) < log.find("WEB.IP#1 ip addr del").expect(&log),
        "fs stops before ip:\n{log}"
    );
    assert!(!n1.has_ip(&s.ip));
    assert!(!n1.is_mounted(&s.mnt));
    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 1);
    // The log file holds the same lines.
    let file = std::fs::read_to_string(n1.root.join("log/web.log")).unwrap();
    assert!(file.contains("WEB.FS#1 umount"), "{file}");
    drop(s.dev);
}

#[test]
fn partial_actions_rid_and_dry_run() {
    if !lab::require_root("partial_actions_rid_and_dry_run") {
        return;
    }
    let s = setup(&["n1"], "");
    let n1 = s.lab.node("n1");

    let dry = n1.svcmgr(&["-s", "web", "start", "--dry-run"]);
    dry.assert_ok("dry-run start");
    assert!(
        dry.stdout_str().contains("dry-run: ip addr add"),
        "{}",
        dry.stdout_str()
    );
    assert!(!n1.has_ip(&s.ip) && !n1.is_mounted(&s.mnt));

    n1.svcmgr(&["-s", "web", "startip"]).assert_ok("startip");
    assert!(n1.has_ip(&s.ip) && !n1.is_mounted(&s.mnt));
    assert_eq!(
        n1.svcmgr(&["-s", "web", "status"]).code(),
        2,
        "ip up + fs down = warn"
    );

    n1.svcmgr(&["-s", "web", "start", "--rid", "fs#1"])
        .assert_ok("start --rid fs#1");
    assert!(n1.is_mounted(&s.mnt));
    n1.svcmgr(&["-s", "web", "stopfs"]).assert_ok("stopfs");
    assert!(n1.has_ip(&s.ip) && !n1.is_mounted(&s.mnt));
    n1.svcmgr(&["-s", "web", "stop", "--rid", "ip"])
        .assert_ok("stop --rid ip");
    assert!(!n1.has_ip(&s.ip));

    let bad = n1.svcmgr(&["-s", "web", "start", "--rid", "vg#7"]);
    bad.assert_fails("start --rid vg#7");
    assert!(
        bad.stderr_str().contains("no resource matches --rid vg#7"),
        "{}",
        bad.stderr_str()
    );

    // The symlink named after the service.
    n1.svcmgr(&["-s", "web", "install"]).assert_ok("install");
    let link = n1.root.join("etc/web");
    let out = n1.sh(&[link.to_str().unwrap(), "print", "status"]);
    out.assert_ok("web print status via symlink");
    assert!(
        out.stdout_str().starts_with("web\noverall"),
        "{}",
        out.stdout_str()
    );

    // freeze / thaw show on the overall line.
    n1.svcmgr(&["-s", "web", "freeze"]).assert_ok("freeze");
    assert!(n1
        .svcmgr(&["-s", "web", "print", "status"])
        .stdout_str()
        .contains("down frozen"));
    n1.svcmgr(&["-s", "web", "thaw"]).assert_ok("thaw");
    assert!(!n1
        .svcmgr(&["-s", "web", "print", "status"])
        .stdout_str()
        .contains("frozen"));
}

#[test]
fn start_refused_when_another_host_answers_for_the_ip() {
    if !lab::require_root("start_refused_when_another_host_answers_for_the_ip") {
        return;
    }
    let s = setup(&["n1", "n2"], "");
    let (n1, n2) = (s.lab.node("n1"), s.lab.node("n2"));
    n2.sh(&["ip", "addr", "add", &format!("{}/24", s.ip), "dev", "eth0"])
        .assert_ok("n2 takes the ip");

    let out = n1.svcmgr(&["-s", "web", "start"]);
    out.assert_fails("start with a duplicate ip");
    let text = out.stdout_str();
    assert!(text.contains("is already up on another host"), "{text}");
    assert!(!n1.has_ip(&s.ip), "the ip was not added");
    assert!(!n1.is_mounted(&s.mnt), "nothing after ip was started");
}

#[test]
fn stop_kills_processes_holding_the_mount() {
    if !lab::require_root("stop_kills_processes_holding_the_mount") {
        return;
    }
    let s = setup(&["n1"], "");
    let n1 = s.lab.node("n1");
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    // A process whose cwd is on the filesystem keeps it busy; one ignoring TERM needs KILL.
    // (cd inside the node: a cwd set before nsenter would be the host's directory.)
    let mnt = s.mnt.display().to_string();
    let mut holder = n1.spawn(&["sh", "-c", &format!("cd {mnt} && exec sleep 600")], None);
    let mut stubborn = n1.spawn(
        &[
            "sh",
            "-c",
            &format!("cd {mnt} && trap '' TERM && while :; do sleep 1; done"),
        ],
        None,
    );
    std::thread::sleep(Duration::from_millis(200));

    let out = n1.svcmgr(&["-s", "web", "stop"]);
    out.assert_ok("stop with users");
    assert!(
        out.stdout_str().contains("fuser -k -TERM -m"),
        "{}",
        out.stdout_str()
    );
    assert!(!n1.is_mounted(&s.mnt));
    assert!(lab::wait_until(
        Duration::from_secs(10),
        "holders gone",
        || {
            holder.try_wait().ok().flatten().is_some()
                && stubborn.try_wait().ok().flatten().is_some()
        }
    ));
}

#[test]
fn failed_fs_start_rolls_back_the_ip() {
    if !lab::require_root("failed_fs_start_rolls_back_the_ip") {
        return;
    }
    let lab = lab::Lab::new(&["n1"]);
    let n1 = lab.node("n1");
    let ip = lab.subnet_ip(51);
    let mnt = lab.dir().join("mnt/web");
    n1.write_conf("web", &conf(&ip, "/dev/svcmgr-no-such-disk", &mnt, ""));

    let out = n1.svcmgr(&["-s", "web", "start"]);
    out.assert_fails("start with a missing device");
    let log = out.stdout_str();
    assert!(
        log.contains("device /dev/svcmgr-no-such-disk does not exist"),
        "{log}"
    );
    assert!(log.contains("rollback"), "{log}");
    assert!(log.contains("WEB.IP#1 ip addr del"), "{log}");
    assert!(!n1.has_ip(&ip));

    // With --disable-rollback the ip stays up.
    n1.svcmgr(&["-s", "web", "start", "--disable-rollback"])
        .assert_fails("start");
    assert!(n1.has_ip(&ip));
}

#[test]
fn blocking_trigger_aborts_and_plain_trigger_warns() {
    if !lab::require_root("blocking_trigger_aborts_and_plain_trigger_warns") {
        return;
    }
    let s = setup(&["n1"], "blocking_pre_start = false\n");
    let n1 = s.lab.node("n1");
    let out = n1.svcmgr(&["-s", "web", "start"]);
    out.assert_fails("start with a failing blocking trigger");
    assert!(
        out.stdout_str()
            .contains("blocking pre_start trigger failed"),
        "{}",
        out.stdout_str()
    );
    assert!(
        !n1.is_mounted(&s.mnt) && !n1.has_ip(&s.ip),
        "aborted and rolled back"
    );

    let conf2 = conf(&s.ip, s.dev.path(), &s.mnt, "post_start = sh -c 'exit 3'\n");
    n1.write_conf("web", &conf2);
    let out = n1.svcmgr(&["-s", "web", "start"]);
    out.assert_ok("start with a failing plain trigger");
    assert!(
        out.stdout_str()
            .contains("post_start trigger failed, continuing"),
        "{}",
        out.stdout_str()
    );
    assert!(n1.is_mounted(&s.mnt));
    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("stop");
}

#[test]
fn concurrent_actions_serialize_on_the_lock() {
    if !lab::require_root("concurrent_actions_serialize_on_the_lock") {
        return;
    }
    // The trigger holds the lock for a while.
    let s = setup(&["n1"], "pre_start = sleep 2\n");
    let n1 = s.lab.node("n1");
    let a = n1.svcmgr_cmd(&["-s", "web", "start"]).output_async();
    std::thread::sleep(Duration::from_millis(500));
    let b = n1.svcmgr(&["-s", "web", "start"]);
    let a = a.join().unwrap();
    a.assert_ok("first start");
    b.assert_ok("second start, after waiting for the lock");
    // Exactly one of them mounted.
    let mounts = a.stdout_str().matches("mount -t ext4").count()
        + b.stdout_str().matches("mount -t ext4").count();
    assert_eq!(mounts, 1, "a:\n{}\nb:\n{}", a.stdout_str(), b.stdout_str());

    // A holder that keeps the lock longer than --waitlock: the error names its pid.
    let holder = n1.svcmgr_cmd(&["-s", "web", "restart"]).spawn().unwrap();
    let holder_pid = holder.id();
    std::thread::sleep(Duration::from_millis(500));
    let out = n1.svcmgr(&["-s", "web", "stop", "--waitlock", "1"]);
    out.assert_fails("stop with --waitlock 1");
    let err = out.stderr_str();
    assert!(
        err.contains("held by pid") && err.contains("(restart)"),
        "{err}"
    );
    // The pid is the holder's (nsenter execs svcmgr, so they are the same process).
    assert!(err.contains(&format!("pid {holder_pid} ")), "{err}");
    let _ = holder.wait_with_output();
}

/// Run a command on a thread, returning its output later.
trait OutputAsync {
    fn output_async(self) -> std::thread::JoinHandle<Output>;
}

impl OutputAsync for std::process::Command {
    fn output_async(mut self) -> std::thread::JoinHandle<Output> {
        std::thread::spawn(move || self.output().expect("spawn"))
    }
}

#[test]
fn bad_input_fails_with_one_line_errors_and_starts_nothing() {
    if !lab::require_root("bad_input_fails_with_one_line_errors_and_starts_nothing") {
        return;
    }
    let lab = lab::Lab::new(&["n1"]);
    let n1 = lab.node("n1");
    let ip = lab.subnet_ip(52);
    let good_ip = format!("[ip#1]\nipname = {ip}\nipdev = eth0\nnetmask = 24\n");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unknown type",
            format!("{good_ip}\n[foo#1]\nx = 1\n").into_bytes(),
            "bad.conf:6: [foo#1] unknown resource type 'foo'",
        ),
        (
            "missing keyword",
            "[DEFAULT]\nnodes = n1\n[ip#1]\nipname = 10.77.0.53\n".into(),
            "bad.conf:3: [ip#1] ipdev: missing required keyword",
        ),
        (
            "bad netmask",
            format!("[ip#1]\nipname = {ip}\nipdev = eth0\nnetmask = 33\n").into_bytes(),
            "bad.conf:4: [ip#1] netmask: bad value '33'",
        ),
        (
            "duplicate section",
            format!("{good_ip}[ip#1]\nipname = {ip}\n").into_bytes(),
            "bad.conf:5: [ip#1] duplicate section (first at line 1)",
        ),
        (
            "binary",
            b"[ip#1]\nipname = \x00\x01\x02\n".to_vec(),
            "bad.conf: not a text file",
        ),
        ("empty", Vec::new(), "bad.conf: empty config"),
    ];
    for (what, text, want) in cases {
        std::fs::write(n1.root.join("etc/bad.conf"), &text).unwrap();
        for action in [&["validate", "config"][..], &["start"][..]] {
            let mut args = vec!["-s", "bad"];
            args.extend_from_slice(action);
            let out = n1.svcmgr(&args);
            assert_eq!(out.status.code(), Some(1), "{what}: {}", out.stderr_str());
            let err = out.stderr_str();
            assert_eq!(err.trim_end().lines().count(), 1, "{what}: one line: {err}");
            assert!(err.contains(want), "{what}: want {want:?} in {err:?}");
            assert!(
                out.stdout_str().is_empty(),
                "{what}: nothing done: {}",
                out.stdout_str()
            );
        }
        assert!(!n1.has_ip(&ip), "{what}: nothing started");
    }
    // An unknown keyword is a warning naming file and line; the config stays valid.
    std::fs::write(
        n1.root.join("etc/warn.conf"),
        format!("{good_ip}colour = blue\n"),
    )
    .unwrap();
    let out = n1.svcmgr(&["-s", "warn", "validate", "config"]);
    out.assert_ok("unknown keyword is only a warning");
    assert!(
        out.stderr_str()
            .contains("warn.conf:5: [ip#1] colour: unknown keyword, ignored"),
        "{}",
        out.stderr_str()
    );
}

fn mac_of(node: &Node) -> String {
    // (sysfs in the node's mount namespace shows the host's network namespace: ask ip.)
    let out = node.sh(&["ip", "-j", "link", "show", "eth0"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout_str()).unwrap();
    v[0]["address"].as_str().unwrap_or("").to_string()
}

fn neigh_mac(node: &Node, ip: &str) -> String {
    let out = node.sh(&["ip", "neigh", "show", ip, "dev", "eth0"]);
    out.stdout_str()
        .split_whitespace()
        .skip_while(|w| *w != "lladdr")
        .nth(1)
        .unwrap_or("")
        .to_string()
}

#[test]
fn relocated_ip_is_announced_to_neighbours() {
    if !lab::require_root("relocated_ip_is_announced_to_neighbours") {
        return;
    }
    let lab = lab::Lab::new(&["n1", "n2", "n3"]);
    let ip = lab.subnet_ip(53);
    let conf =
        format!("[DEFAULT]\nnodes = n1 n2\n\n[ip#1]\nipname = {ip}\nipdev = eth0\nnetmask = 24\n");
    let (n1, n2, n3) = (lab.node("n1"), lab.node("n2"), lab.node("n3"));
    n1.write_conf("web", &conf);
    n2.write_conf("web", &conf);
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start on n1");
    n3.sh(&["ping", "-c", "1", "-W", "2", &ip])
        .assert_ok("n3 reaches the ip on n1");
    assert_eq!(neigh_mac(n3, &ip), mac_of(n1));

    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("stop on n1");
    let out = n2.svcmgr(&["-s", "web", "start"]);
    out.assert_ok("start on n2");
    assert!(
        out.stdout_str().contains("send gratuitous ARP"),
        "{}",
        out.stdout_str()
    );
    // n3 learnt the new owner from the announce, without sending anything itself.
    assert!(
        lab::wait_until(
            Duration::from_secs(3),
            "n3's neighbour entry moves to n2",
            || { neigh_mac(n3, &ip) == mac_of(n2) }
        ),
        "n3 still has {} for {ip}; n2 is {}",
        neigh_mac(n3, &ip),
        mac_of(n2)
    );
    n3.sh(&["ping", "-c", "1", "-W", "2", &ip])
        .assert_ok("n3 reaches the ip on n2");
}
