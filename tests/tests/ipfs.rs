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
    st.assert_logs("overall                   down");
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
    again.assert_logs("already up");
    assert!(!again.stdout_str().contains("ip addr add"));

    let json = n1.svcmgr(&["-s", "web", "print", "status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout_str()).unwrap();
    assert_eq!(v["overall"], "up");
    assert_eq!(v["resources"][0]["rid"], "ip#1");
    assert_eq!(v["resources"][1]["status"], "up");

    let ls = n1.svcmgr(&["ls"]);
    assert!(ls.stdout_str().starts_with("web"), "{}", ls.stdout_str());
    ls.assert_logs(" up");

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
    dry.assert_logs("dry-run: ip addr add");
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
    let log = out.stdout_str();
    assert!(killed(&log, "TERM", holder.id(), &mnt), "{log}");
    assert!(
        killed(&log, "KILL", stubborn.id(), &mnt),
        "the TERM-proof one needs KILL:\n{log}"
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

/// Unmounts what a test mounted by hand in a node, even when the test fails.
struct MountGuard<'a> {
    node: &'a Node,
    mnt: std::path::PathBuf,
}

impl Drop for MountGuard<'_> {
    fn drop(&mut self) {
        if self.node.is_mounted(&self.mnt) {
            let _ = self
                .node
                .sh(&["umount", "-l", self.mnt.to_str().unwrap_or_default()]);
        }
    }
}

/// Whether the log has a `kill -SIG pid... (users of mnt)` line naming `pid`.
fn killed(log: &str, sig: &str, pid: u32, mnt: &str) -> bool {
    let (head, tail) = (format!("kill -{sig} "), format!(" (users of {mnt})"));
    log.lines().any(|l| {
        l.split_once(head.as_str())
            .and_then(|(_, rest)| rest.strip_suffix(tail.as_str()))
            .is_some_and(|pids| pids.split(' ').any(|p| p == pid.to_string()))
    })
}

/// fs#1 of service web shows up, the service is up, and a second start mounts nothing.
#[track_caller]
fn assert_fs_up_and_start_is_a_no_op(n1: &Node) {
    let st = n1.svcmgr(&["-s", "web", "print", "status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&st.stdout_str()).unwrap();
    assert_eq!(v["resources"][1]["status"], "up", "{}", st.stdout_str());
    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 0);
    let again = n1.svcmgr(&["-s", "web", "start"]);
    again.assert_ok("start again");
    again.assert_no_log("mount -t");
}

fn alive(child: &mut std::process::Child) -> bool {
    matches!(child.try_wait(), Ok(None))
}

#[test]
fn stop_run_from_inside_the_mount_point_does_not_kill_itself() {
    if !lab::require_root("stop_run_from_inside_the_mount_point_does_not_kill_itself") {
        return;
    }
    let s = setup(&["n1"], "");
    let n1 = s.lab.node("n1");
    let (mnt, bin) = (s.mnt.display().to_string(), lab::svcmgr_bin());
    let bin = bin.display();
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start");

    // svcmgr itself starts with its cwd on the filesystem it stops.
    let out = n1.sh(&["sh", "-c", &format!("cd {mnt} && exec {bin} -s web stop")]);
    out.assert_ok("stop run with its cwd in the mount point");
    let log = out.all_output();
    assert!(log.contains("WEB.FS#1 umount"), "{log}");
    assert!(!log.contains("kill -"), "nothing to kill:\n{log}");
    assert!(!n1.is_mounted(&s.mnt));

    // A shell staying in the mount point is svcmgr's parent: spared, so the stop fails.
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start again");
    let script =
        format!("cd {mnt} && {bin} -s web stop; echo \"svcmgr exit $?\"; echo shell alive");
    let out = n1.sh(&["sh", "-c", &script]);
    out.assert_ok("the shell around svcmgr");
    let text = out.all_output();
    assert!(text.contains("shell alive"), "{text}");
    assert!(!text.contains("svcmgr exit 0"), "{text}");
    assert!(
        text.contains(&format!(
            "{mnt} is busy: used by svcmgr itself or its parent"
        )),
        "{text}"
    );
    assert!(!text.contains("kill -"), "{text}");
    assert!(n1.is_mounted(&s.mnt));
    n1.svcmgr(&["-s", "web", "stop"])
        .assert_ok("stop from outside");
    assert!(!n1.is_mounted(&s.mnt));
}

#[test]
fn busy_bind_submount_fails_the_stop_and_kills_nothing() {
    if !lab::require_root("busy_bind_submount_fails_the_stop_and_kills_nothing") {
        return;
    }
    let s = setup(&["n1"], "");
    let n1 = s.lab.node("n1");
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    // A directory of the lab's (not the service's) filesystem, bound below the service.
    let src = s.lab.dir().join("bind-src");
    std::fs::create_dir(&src).unwrap();
    let sub = s.mnt.join("sub");
    let (src_s, sub_s) = (src.display().to_string(), sub.display().to_string());
    n1.sh(&["mkdir", &sub_s]).assert_ok("mkdir sub");
    n1.sh(&["mount", "--bind", &src_s, &sub_s])
        .assert_ok("bind mount");
    let _guard = MountGuard {
        node: n1,
        mnt: sub.clone(),
    };
    let mut inside = n1.spawn(
        &["sh", "-c", &format!("cd {sub_s} && exec sleep 600")],
        None,
    );
    let mut outside = n1.spawn(
        &["sh", "-c", &format!("cd {src_s} && exec sleep 600")],
        None,
    );
    std::thread::sleep(Duration::from_millis(200));

    let out = n1.svcmgr(&["-s", "web", "stop"]);
    out.assert_fails("stop with a busy bind submount");
    let text = out.all_output();
    assert!(
        text.contains(&format!("{sub_s} is busy (a bind mount of ")),
        "{text}"
    );
    assert!(!text.contains("kill -"), "{text}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(&mut inside), "the bind's user was killed");
    assert!(
        alive(&mut outside),
        "a user of the bind's source was killed"
    );
    assert!(n1.is_mounted(&s.mnt) && n1.is_mounted(&sub));

    // Once its user is gone, the bind and the filesystem go; the outsider stays.
    let _ = inside.kill();
    let _ = inside.wait();
    n1.svcmgr(&["-s", "web", "stop"])
        .assert_ok("stop once the bind is free");
    assert!(!n1.is_mounted(&sub) && !n1.is_mounted(&s.mnt));
    assert!(
        alive(&mut outside),
        "a user of the bind's source was killed"
    );
}

#[test]
fn mount_point_behind_a_symlink() {
    if !lab::require_root("mount_point_behind_a_symlink") {
        return;
    }
    let lab = lab::Lab::new(&["n1"]);
    let n1 = lab.node("n1");
    let dev = LoopDev::new(lab.dir(), 32);
    dev.mkfs_ext4();
    let real = lab.dir().join("real");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, lab.dir().join("link")).unwrap();
    let mnt = lab.dir().join("link/web");
    let real_mnt = std::fs::canonicalize(&real).unwrap().join("web");
    n1.write_conf("web", &conf(&lab.subnet_ip(54), dev.path(), &mnt, ""));

    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    assert!(n1.is_mounted(&real_mnt), "{}", n1.mountinfo());
    assert_fs_up_and_start_is_a_no_op(n1);

    // A user that only dies of KILL: the stop must see the umount fail and go on.
    let mut stubborn = n1.spawn(
        &[
            "sh",
            "-c",
            &format!(
                "cd {} && trap '' TERM && while :; do sleep 1; done",
                mnt.display()
            ),
        ],
        None,
    );
    std::thread::sleep(Duration::from_millis(200));
    let out = n1.svcmgr(&["-s", "web", "stop"]);
    out.assert_ok("stop");
    let log = out.stdout_str();
    let real_s = real_mnt.display().to_string();
    assert!(log.contains(&format!("WEB.FS#1 umount {real_s}")), "{log}");
    assert!(killed(&log, "KILL", stubborn.id(), &real_s), "{log}");
    assert!(!n1.is_mounted(&real_mnt), "{}", n1.mountinfo());
    assert!(lab::wait_until(Duration::from_secs(5), "user gone", || {
        !alive(&mut stubborn)
    }));
    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 1);
    let again = n1.svcmgr(&["-s", "web", "stop"]);
    again.assert_ok("stop again");
    again.assert_no_log("umount");
}

#[test]
fn loop_mounted_image_file() {
    if !lab::require_root("loop_mounted_image_file") {
        return;
    }
    let lab = lab::Lab::new(&["n1"]);
    let n1 = lab.node("n1");
    let img = lab.dir().join(format!("{}.img", lab::unique("image")));
    std::fs::File::create(&img)
        .and_then(|f| f.set_len(32 << 20))
        .unwrap();
    let img_s = img.display().to_string();
    lab::assert_ok(
        &std::process::Command::new("mkfs.ext4")
            .args(["-q", "-F", &img_s])
            .output()
            .unwrap(),
        "mkfs.ext4 on the image",
    );
    let mnt = lab.dir().join("mnt/web");
    n1.write_conf(
        "web",
        &conf(&lab.subnet_ip(55), &img_s, &mnt, "mnt_opt = loop\n"),
    );
    let _guard = MountGuard {
        node: n1,
        mnt: mnt.clone(),
    };
    let attached = || {
        let o = n1.sh(&["losetup", "-j", &img_s]);
        !o.stdout_str().trim().is_empty()
    };

    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 1);
    let out = n1.svcmgr(&["-s", "web", "start"]);
    out.assert_ok("start");
    out.assert_logs("mount -t ext4 -o loop");
    assert!(n1.is_mounted(&mnt) && attached());
    assert_fs_up_and_start_is_a_no_op(n1);

    let out = n1.svcmgr(&["-s", "web", "stop"]);
    out.assert_ok("stop");
    out.assert_logs("WEB.FS#1 umount");
    assert!(!n1.is_mounted(&mnt));
    assert!(lab::wait_until(
        Duration::from_secs(5),
        "loop device released",
        || !attached()
    ));
    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 1);
}

#[test]
fn stop_leaves_a_foreign_filesystem_mounted_and_warns() {
    if !lab::require_root("stop_leaves_a_foreign_filesystem_mounted_and_warns") {
        return;
    }
    let s = setup(&["n1"], "");
    let n1 = s.lab.node("n1");
    let mnt = s.mnt.display().to_string();
    n1.sh(&["mkdir", "-p", &mnt]).assert_ok("mkdir");
    n1.sh(&["mount", "-t", "tmpfs", "svcmgr-foreign", &mnt])
        .assert_ok("mount a foreign tmpfs");
    let _guard = MountGuard {
        node: n1,
        mnt: s.mnt.clone(),
    };
    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 2, "fs warn");

    let out = n1.svcmgr(&["-s", "web", "stop"]);
    out.assert_ok("stop");
    let log = out.all_output();
    assert!(
        log.contains(&format!(
            "WARNING WEB.FS#1 {mnt} is mounted from svcmgr-foreign, not from {}: not ours, left mounted",
            s.dev.path()
        )),
        "{log}"
    );
    assert!(!log.contains("umount"), "{log}");
    assert!(n1.is_mounted(&s.mnt));
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
    // n2 has no sshd: it cannot be asked, which blocks a plain start.
    let refused = n1.svcmgr(&["-s", "web", "start"]);
    refused.assert_fails("start on n1 while n2 cannot be asked");
    refused.assert_logs("can not tell whether service web runs on n2");
    assert!(!n1.has_ip(&ip));
    n1.svcmgr(&["-s", "web", "start", "--ignore-peers"])
        .assert_ok("start on n1")
        .assert_logs("overridden by --ignore-peers: can not tell whether service web runs on n2");
    n3.sh(&["ping", "-c", "1", "-W", "2", &ip])
        .assert_ok("n3 reaches the ip on n1");
    assert_eq!(neigh_mac(n3, &ip), mac_of(n1));

    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("stop on n1");
    let out = n2.svcmgr(&["-s", "web", "start", "--ignore-peers"]);
    out.assert_ok("start on n2");
    out.assert_logs("send gratuitous ARP");
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

#[test]
fn what_a_trigger_starts_in_the_background_outlives_it_and_its_timeout_is_start_timeout() {
    if !lab::require_root("what_a_trigger_starts_in_the_background_outlives_it") {
        return;
    }
    let pidfile = std::env::temp_dir().join(lab::unique("svcmgr-trigger-bg-"));
    let trigger = format!(
        "post_start = sh -c 'nohup sleep 300 >/dev/null 2>&1 & echo $! > {}'\n",
        pidfile.display()
    );
    let s = setup(&["n1"], &trigger);
    let n1 = s.lab.node("n1");
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("the trigger wrote its child's pid")
        .trim()
        .parse()
        .unwrap();
    let _ = std::fs::remove_file(&pidfile);
    let alive =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| !st.contains(") Z "));
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    assert!(
        alive,
        "the trigger's background child {pid} was killed with it"
    );
    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("stop");

    // A trigger gets its resource's start_timeout, not a fixed minute.
    let slow = conf(
        &s.ip,
        s.dev.path(),
        &s.mnt,
        "start_timeout = 1s\nblocking_pre_start = sleep 30\n",
    );
    n1.write_conf("web", &slow);
    let out = n1.svcmgr(&["-s", "web", "start"]);
    out.assert_fails("start with a trigger outliving start_timeout");
    assert!(
        out.all_output().contains("timed out after 1s"),
        "{}",
        out.all_output()
    );
}
