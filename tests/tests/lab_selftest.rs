//! Self-test of the lab library: each test builds its own lab (they run in parallel).

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use labtests::lab::{assert_ok, require_root, stdout, Lab, LoopDev, OutputExt};

/// Everything a lab with id `id` could leave behind on the host.
fn leftovers(id: &str) -> Vec<String> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/run/netns") {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.contains(id) {
                v.push(format!("netns {n}"));
            }
        }
    }
    for p in [format!("/run/{id}"), format!("/tmp/{id}")] {
        if Path::new(&p).exists() {
            v.push(format!("path {p}"));
        }
    }
    let mi = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    v.extend(
        mi.lines()
            .filter(|l| l.contains(id))
            .map(|l| format!("mount {l}")),
    );
    v
}

fn alive(pid: i32) -> bool {
    // A zombie is dead for our purpose: it no longer runs nor holds namespaces.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s[s.rfind(')').unwrap_or(0)..].starts_with(") Z"))
        .unwrap_or(false)
}

fn link_names(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn nodes_reach_each_other_and_not_the_host() {
    if !require_root("nodes_reach_each_other_and_not_the_host") {
        return;
    }
    let lab = Lab::new(&["n1", "n2"]);
    let (n1, n2) = (lab.node("n1"), lab.node("n2"));
    assert_eq!(n1.ip, "10.77.0.10");
    assert_eq!(n2.ip, "10.77.0.11");
    assert_eq!(lab.subnet_ip(100), "10.77.0.100");

    n1.sh(&["arping", "-c", "1", "-w", "3", "-I", "eth0", &n2.ip])
        .assert_ok("arping n1 -> n2");
    n2.sh(&["busybox", "ping", "-c", "1", "-W", "3", &n1.ip])
        .assert_ok("ping n2 -> n1");
    // Nobody holds .99 on the lab subnet: arping must fail, so the success above means something.
    let ghost = lab.subnet_ip(99);
    n1.sh(&["arping", "-c", "1", "-w", "1", "-I", "eth0", &ghost])
        .assert_fails("arping to an unused lab address");

    // Only lo and eth0 exist in a node; the host's interfaces are not visible.
    let links = n1.sh(&["ip", "-o", "link", "show"]);
    assert_ok(&links, "ip link in n1");
    assert_eq!(link_names(&stdout(&links)), ["eth0", "lo"]);
    // The node's eth0 is not the host's: its address is the lab one only.
    let addr = n1.sh(&["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
    assert!(stdout(&addr).contains("10.77.0.10/24"), "{}", stdout(&addr));
    assert_eq!(stdout(&addr).lines().count(), 1, "{}", stdout(&addr));

    // The node root and node.toml.
    let toml = std::fs::read_to_string(n1.root.join("etc/node.toml")).expect("node.toml");
    assert_eq!(toml, "nodename = \"n1\"\n");
    for d in ["etc", "var", "log"] {
        assert!(n2.root.join(d).is_dir());
    }
    assert!(n1.root.starts_with(lab.dir()));
    let env = n1.sh(&["env"]);
    assert!(stdout(&env).contains(&format!("SVCMGR_ROOT={}\n", n1.root.display())));
}

#[test]
fn mounts_are_private_to_a_node() {
    if !require_root("mounts_are_private_to_a_node") {
        return;
    }
    let lab = Lab::new(&["n1", "n2"]);
    let (n1, n2) = (lab.node("n1"), lab.node("n2"));
    let mnt = lab.dir().join("shared-mnt");
    std::fs::create_dir(&mnt).expect("mkdir");
    let m = mnt.to_str().expect("utf-8");
    n1.sh(&["mount", "-t", "tmpfs", "labtmp", m])
        .assert_ok("mount tmpfs in n1");
    n1.sh(&["touch", &format!("{m}/only-in-n1")])
        .assert_ok("touch");

    assert!(
        n1.mountinfo().contains(&format!(" {m} ")),
        "n1 sees its mount"
    );
    assert!(
        !n2.mountinfo().contains(&format!(" {m} ")),
        "n2 must not see n1's mount"
    );
    let host = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !host.contains(&format!(" {m} ")),
        "host must not see n1's mount"
    );
    assert!(
        !mnt.join("only-in-n1").exists(),
        "file is inside n1's tmpfs only"
    );

    // Each node has its own /root.
    n1.sh(&["touch", "/root/marker"])
        .assert_ok("touch /root/marker");
    assert!(n1.home.join("marker").exists());
    assert!(!n2.home.join("marker").exists());
    n2.sh(&["test", "-e", "/root/marker"])
        .assert_fails("n2 sees n1's /root");

    n1.sh(&["umount", m]).assert_ok("umount in n1");
    assert!(!n1.mountinfo().contains(&format!(" {m} ")));
}

#[test]
fn ssh_between_nodes() {
    if !require_root("ssh_between_nodes") {
        return;
    }
    let mut lab = Lab::new(&["n1", "n2"]);
    lab.enable_ssh();
    let ssh_env = |lab: &Lab| {
        let mut argv = lab.ssh_argv("n2");
        argv.push("env".into());
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        lab.node("n1").sh(&argv)
    };
    let o = ssh_env(&lab);
    assert_ok(&o, "ssh n1 -> n2 env");
    let n2_root = format!("SVCMGR_ROOT={}\n", lab.node("n2").root.display());
    assert!(stdout(&o).contains(&n2_root), "{}", stdout(&o));

    // Environment changes reach ssh sessions (the sshd is restarted with a new SetEnv).
    let bin = lab.dir().join("bin");
    std::fs::create_dir(&bin).expect("mkdir bin");
    lab.add_path_dir(&bin);
    lab.set_env("n2", "SVCMGR_PR_EMU_INITIATOR", "n2");
    let o = ssh_env(&lab);
    assert_ok(&o, "ssh after env change");
    let out = stdout(&o);
    assert!(out.contains("SVCMGR_PR_EMU_INITIATOR=n2\n"), "{out}");
    assert!(out.contains(&format!("PATH={}:", bin.display())), "{out}");

    // node.toml [ssh] and [nodes.*].
    let toml = std::fs::read_to_string(lab.node("n1").node_toml()).expect("node.toml");
    assert!(toml.starts_with("nodename = \"n1\"\n"), "{toml}");
    assert!(
        toml.contains("[ssh]\nuser = \"root\"\nport = 22\n"),
        "{toml}"
    );
    assert!(toml.contains("strict_host_key_checking = true"), "{toml}");
    assert!(
        toml.contains("[nodes.n2]\naddr = \"10.77.0.11\"\n"),
        "{toml}"
    );
    assert!(!toml.contains("[nodes.n1]"), "{toml}");
    let setup = lab.ssh().expect("ssh setup");
    let kh = std::fs::read_to_string(&setup.known_hosts).expect("known_hosts");
    assert!(
        kh.lines().any(|l| l.starts_with("10.77.0.10 ssh-ed25519 ")),
        "{kh}"
    );
    assert!(
        kh.lines().any(|l| l.starts_with("10.77.0.11 ssh-ed25519 ")),
        "{kh}"
    );

    // Strict host key checking: an unknown host key is refused.
    let empty_kh = lab.dir().join("empty_known_hosts");
    std::fs::write(&empty_kh, "").expect("write");
    let mut argv = lab.ssh_argv("n2");
    for a in argv.iter_mut() {
        if a.starts_with("UserKnownHostsFile=") {
            *a = format!("UserKnownHostsFile={}", empty_kh.display());
        }
    }
    argv.push("true".into());
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    lab.node("n1")
        .sh(&argv)
        .assert_fails("ssh with an empty known_hosts");

    // Peer down, then back.
    lab.kill_sshd("n2");
    ssh_env(&lab).assert_fails("ssh to a node whose sshd was killed");
    lab.start_sshd("n2");
    ssh_env(&lab).assert_ok("ssh after sshd restart");
}

#[test]
fn podman_container_in_a_node() {
    if !require_root("podman_container_in_a_node") {
        return;
    }
    let mut lab = Lab::new(&["n1", "n2"]);
    let image = lab.podman_env();
    assert_eq!(image, format!("localhost/busybox-{}:lab", lab.id()));
    assert_eq!(lab.podman_env(), image, "second call reuses the image");
    let (n1, n2) = (lab.node("n1"), lab.node("n2"));
    let name = format!("{}-c1", lab.id());
    n1.sh(&[
        "podman",
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        &image,
        "/bin/sleep",
        "1000",
    ])
    .assert_ok("podman run");
    let names = |n: &labtests::lab::Node| {
        let o = n.sh(&["podman", "ps", "--format", "{{.Names}}"]);
        assert_ok(&o, "podman ps");
        stdout(&o)
    };
    assert!(names(n1).lines().any(|l| l == name), "running in n1");
    // Nodes have their own container stores, as separate machines do.
    assert!(!names(n2).lines().any(|l| l == name), "not visible from n2");
    let st = n1.sh(&["podman", "inspect", "--format", "{{.State.Status}}", &name]);
    assert_eq!(stdout(&st).trim(), "running");
    n1.sh(&["podman", "rm", "-f", "-t", "0", &name])
        .assert_ok("podman rm");
    assert!(!names(n1).lines().any(|l| l == name), "removed");
    n1.sh(&["podman", "inspect", &name])
        .assert_fails("inspect a removed container");
}

#[test]
fn loop_device_fs_in_a_node() {
    if !require_root("loop_device_fs_in_a_node") {
        return;
    }
    let lab = Lab::new(&["n1", "n2"]);
    let disk = LoopDev::new(lab.dir(), 16);
    disk.mkfs_ext4();
    let (n1, n2) = (lab.node("n1"), lab.node("n2"));
    let mnt = lab.dir().join("data");
    std::fs::create_dir(&mnt).expect("mkdir");
    let m = mnt.to_str().expect("utf-8");
    n1.sh(&["mount", disk.path(), m]).assert_ok("mount in n1");
    n1.sh(&["touch", &format!("{m}/written-by-n1")])
        .assert_ok("write");
    assert!(n1.mountinfo().contains(&format!(" {m} ")));
    assert!(!n2.mountinfo().contains(&format!(" {m} ")));
    n1.sh(&["umount", m]).assert_ok("umount in n1");
    // The same disk is shared: n2 mounts it and finds n1's file.
    n2.sh(&["mount", disk.path(), m]).assert_ok("mount in n2");
    n2.sh(&["test", "-e", &format!("{m}/written-by-n1")])
        .assert_ok("n2 sees the data");
    n2.sh(&["umount", m]).assert_ok("umount in n2");
}

#[test]
fn drop_leaves_nothing_behind() {
    if !require_root("drop_leaves_nothing_behind") {
        return;
    }
    let mut lab = Lab::new(&["n1", "n2"]);
    let id = lab.id().to_string();
    lab.enable_ssh();
    let image = lab.podman_env();
    let n1 = lab.node("n1");
    // A container left running.
    let name = format!("{id}-left");
    n1.sh(&[
        "podman",
        "run",
        "-d",
        "--name",
        &name,
        &image,
        "/bin/sleep",
        "1000",
    ])
    .assert_ok("podman run");
    let cpid: i32 = stdout(&n1.sh(&["podman", "inspect", "--format", "{{.State.Pid}}", &name]))
        .trim()
        .parse()
        .expect("container pid");
    assert!(alive(cpid));
    // A background process, and a detached grandchild nobody tracks by pid.
    let mut child = n1.spawn(&["sleep", "1000"], Some(lab.dir()));
    let orphan = n1.sh(&["sh", "-c", "setsid sleep 1001 >/dev/null 2>&1 & echo $!"]);
    let opid: i32 = stdout(&orphan).trim().parse().expect("orphan pid");
    assert!(alive(opid));
    // A disk mounted in a node and dropped after the lab; another dropped (still mounted) before.
    let disk = LoopDev::new(lab.dir(), 8);
    disk.mkfs_ext4();
    let early = LoopDev::new(lab.dir(), 8);
    early.mkfs_ext4();
    for (d, dir) in [(&disk, "m1"), (&early, "m2")] {
        let p = lab.dir().join(dir);
        std::fs::create_dir(&p).expect("mkdir");
        n1.sh(&["mount", d.path(), p.to_str().expect("utf-8")])
            .assert_ok("mount");
    }
    let early_file = early.file().to_path_buf();
    drop(early);
    let o = std::process::Command::new("losetup")
        .args(["-j", early_file.to_str().expect("utf-8")])
        .output()
        .expect("losetup -j");
    assert_eq!(
        stdout(&o).trim(),
        "",
        "loop device detached while its lab lives"
    );

    let disk_file = disk.file().to_path_buf();
    assert!(
        leftovers(&id).len() > 3,
        "the lab exists: {:?}",
        leftovers(&id)
    );
    drop(lab);
    assert_eq!(leftovers(&id), Vec::<String>::new());
    assert!(!alive(cpid), "container process survived");
    assert!(!alive(opid), "orphan process survived");
    let _ = child.wait();
    drop(disk);
    let o = std::process::Command::new("losetup")
        .args(["-j", disk_file.to_str().expect("utf-8")])
        .output()
        .expect("losetup -j");
    assert_eq!(stdout(&o).trim(), "", "loop device still attached");
}

#[test]
fn half_built_lab_is_torn_down() {
    if !require_root("half_built_lab_is_torn_down") {
        return;
    }
    let r = std::panic::catch_unwind(|| Lab::new_failing_after(&["n1", "n2", "n3"], 2));
    let msg = *r
        .expect_err("must fail")
        .downcast::<String>()
        .expect("string panic");
    let id = msg
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.strip_suffix(':'))
        .expect("lab id in the message")
        .to_string();
    assert!(id.starts_with("lab") && id.len() == 9, "{msg}");
    assert_eq!(leftovers(&id), Vec::<String>::new());
}

#[test]
fn panicking_test_still_cleans_up() {
    if !require_root("panicking_test_still_cleans_up") {
        return;
    }
    let mut id = String::new();
    let mut kept = None;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = Lab::new(&["n1"]);
        id = lab.id().to_string();
        kept = Some(lab.node("n1").spawn(&["sleep", "1000"], None));
        assert!(labtests::lab::wait_until(
            Duration::from_millis(200),
            "nothing",
            || false
        ));
    }));
    assert!(r.is_err());
    assert!(!id.is_empty());
    assert_eq!(leftovers(&id), Vec::<String>::new());
    let st = kept.expect("spawned").wait().expect("wait");
    assert_eq!(
        st.signal(),
        Some(9),
        "spawned process killed by the lab: {st:?}"
    );
}

#[test]
fn containers_die_even_when_podman_cleanup_fails() {
    if !require_root("containers_die_even_when_podman_cleanup_fails") {
        return;
    }
    let mut lab = Lab::new(&["n1"]);
    let id = lab.id().to_string();
    let image = lab.podman_env();
    let n1 = lab.node("n1");
    let name = format!("{id}-stuck");
    n1.sh(&[
        "podman",
        "run",
        "-d",
        "--name",
        &name,
        &image,
        "/bin/sleep",
        "1000",
    ])
    .assert_ok("podman run");
    let inspect = n1.sh(&[
        "podman",
        "inspect",
        "--format",
        "{{.State.Pid}} {{.Id}}",
        &name,
    ]);
    let out = stdout(&inspect);
    let mut f = out.split_whitespace();
    let cpid: i32 = f.next().and_then(|p| p.parse().ok()).expect("pid");
    let cid = f.next().expect("container id").to_string();
    assert!(alive(cpid));
    // Break podman for this node: the teardown's `podman rm` fails and the fallback must act.
    lab.set_env("n1", "CONTAINERS_CONF", "/nonexistent/containers.conf");
    lab.node("n1")
        .sh(&["podman", "ps"])
        .assert_fails("podman with a missing CONTAINERS_CONF");
    drop(lab);
    assert!(
        !alive(cpid),
        "container process survived a failed podman cleanup"
    );
    assert!(
        !Path::new("/run/runc").join(&cid).exists(),
        "runc state left"
    );
    assert_eq!(leftovers(&id), Vec::<String>::new());
}
