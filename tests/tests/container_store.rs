//! Lab tests of the services' own container stores (`container_data_dir`) on real engines:
//! two nodes with private mount namespaces sharing one loop-device ext4 holding the store;
//! the same container (id, writable layer) relocated with a private dockerd and with podman.

use std::path::PathBuf;

use labtests::lab::{self, Lab, LoopDev, Node, OutputExt};
use serde_json::Value;

/// A container that exits on SIGTERM (busybox sh as pid 1 ignores it otherwise).
const RUN_COMMAND: &str = r#"/bin/sh -c "trap 'exit 0' TERM; while true; do sleep 1; done""#;
const IMAGE: &str = "localhost/bbx:lab";

struct Svc {
    name: String,
    mnt: PathBuf,
    dev: LoopDev,
}

impl Svc {
    fn new(lab: &Lab, prefix: &str) -> Svc {
        let dev = LoopDev::new(lab.dir(), 256);
        dev.mkfs_ext4();
        let name = lab::unique(prefix);
        Svc {
            mnt: lab.dir().join("srv").join(&name),
            name,
            dev,
        }
    }

    fn conf(&self, engine: &str, nodes: &str, extra: &str) -> String {
        format!(
            "[DEFAULT]\nnodes = {nodes}\ncontainer_data_dir = {mnt}/containers\n{extra}\n\
             [fs#1]\ndev = {dev}\nmnt = {mnt}\ntype = ext4\n\n\
             [container#1]\ntype = {engine}\nrun_image = {IMAGE}\nrun_args = --pull never\n\
             run_command = {RUN_COMMAND}\nstop_timeout = 8s\n",
            mnt = self.mnt.display(),
            dev = self.dev.path(),
        )
    }

    fn cname(&self) -> String {
        format!("{}.container.1", self.name)
    }

    /// `svcmgr -s SVC args...` on `n`. These nodes have no sshd: a start passes `--local`
    /// (the relocations here are made by hand, one node after the other; the peer check is
    /// tested in relocate.rs).
    fn svcmgr(&self, n: &Node, args: &[&str]) -> std::process::Output {
        let mut v = vec!["-s", self.name.as_str()];
        v.extend_from_slice(args);
        if args.first().is_some_and(|a| a.starts_with("start")) {
            v.push("--local");
        }
        n.svcmgr(&v)
    }

    /// (status, label, log) of container#1.
    fn container(&self, n: &Node) -> (String, String, Vec<String>) {
        let o = self.svcmgr(n, &["print", "status", "--format", "json"]);
        o.assert_ok("print status --format json");
        let st: Value = serde_json::from_str(&o.stdout_str()).expect("status json");
        let r = st["resources"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["rid"] == "container#1"))
            .unwrap_or_else(|| panic!("no container#1 in {st}"))
            .clone();
        let log = r["log"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|x| x.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default();
        let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
        (s("status"), s("label"), log)
    }

    /// The container's full id as the engine sees it through the service's store.
    fn id(&self, n: &Node, engine: &str) -> String {
        let o = self.svcmgr(
            n,
            &[engine, "inspect", "--format", "{{.Id}}", &self.cname()],
        );
        o.assert_ok("inspect through the service's store");
        o.stdout_str().trim().to_string()
    }
}

/// Position of `needle` in `log`, with the log in the panic message.
fn at(log: &str, needle: &str) -> usize {
    log.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{log}"))
}

/// Live (not zombie) processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let state = stat.rsplit(") ").next()?.chars().next()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            (state != 'Z' && cmd.contains(needle)).then_some(cmd)
        })
        .collect()
}

/// The lab first, the disks after: dropped in this order, no daemon holds a disk any more.
struct Rig {
    lab: Lab,
    svcs: Vec<Svc>,
}

fn two_nodes(engine: &str) -> Rig {
    let mut lab = Lab::new(&["n1", "n2"]);
    // runc and the lab's containers.conf for podman; docker needs nothing per node.
    if engine == "podman" {
        lab.podman_env();
    }
    let svc = Svc::new(&lab, "st");
    let conf = svc.conf(engine, "n1 n2", "");
    for n in lab.nodes() {
        n.write_conf(&svc.name, &conf);
    }
    Rig {
        lab,
        svcs: vec![svc],
    }
}

/// Import the lab image into the service's store through `svcmgr -s SVC ENGINE import`.
fn import(lab: &Lab, svc: &Svc, n: &Node, engine: &str) -> String {
    let tar = lab.image_tar();
    let o = svc.svcmgr(n, &[engine, "import", tar.to_str().expect("utf-8"), IMAGE]);
    o.assert_ok("import into the service's store");
    o.all_output()
}

/// Start on n1, write /state in the container, stop; start on n2: the same container, its
/// file, listed by the engine on n2. `daemon`: what identifies the engine's processes.
fn relocate(engine: &str, daemon_needle: impl Fn(&Lab, &Svc, &Node) -> String) {
    let rig = two_nodes(engine);
    let (lab, svc) = (&rig.lab, &rig.svcs[0]);
    let (n1, n2) = (lab.node("n1"), lab.node("n2"));

    // No store yet: the engine CLI says why and runs nothing.
    let o = svc.svcmgr(n1, &[engine, "ps"]);
    assert_eq!(o.code(), 1, "{}", o.all_output());
    assert!(
        o.all_output().contains(&format!(
            "container data dir {}/containers is not available: fs#1 ({}) is not mounted",
            svc.mnt.display(),
            svc.mnt.display()
        )),
        "{}",
        o.all_output()
    );
    svc.svcmgr(n1, &["startfs"]).assert_ok("startfs");
    let imported = import(lab, svc, n1, engine);
    if engine == "docker" {
        // The private daemon started on demand, as in the seed's first `docker pull`.
        at(&imported, "starting docker daemon");
    }
    let (st, label, log) = svc.container(n1);
    assert_eq!((st.as_str(), label.as_str()), ("down", IMAGE));
    assert_eq!(log, ["can not find container id"]);

    let out = svc.svcmgr(n1, &["start"]);
    out.assert_ok("start on n1");
    let log = out.all_output();
    if engine == "docker" {
        let sock = n1
            .root
            .join("var/services")
            .join(&svc.name)
            .join("docker.sock");
        at(
            &log,
            &format!(
                "docker -H unix://{} run -d --name {}",
                sock.display(),
                svc.cname()
            ),
        );
    } else {
        at(
            &log,
            &format!(
                "podman --root {}/containers --runroot /run/svcmgr/",
                svc.mnt.display()
            ),
        );
    }
    let id = svc.id(n1, engine);
    let (st, label, _) = svc.container(n1);
    assert_eq!(
        (st, label),
        ("up".to_string(), format!("{}@{IMAGE}", &id[..12]))
    );
    svc.svcmgr(
        n1,
        &[engine, "exec", &svc.cname(), "sh", "-c", "echo s > /state"],
    )
    .assert_ok("write /state in the container");

    let out = svc.svcmgr(n1, &["stop"]);
    out.assert_ok("stop on n1");
    let log = out.all_output();
    let umount = at(&log, &format!("FS#1 umount {}", svc.mnt.display()));
    if engine == "docker" {
        let shut = at(
            &log,
            "no more container handled by docker daemon. shut it down",
        );
        assert!(shut < umount, "{log}");
    }
    assert!(!n1.is_mounted(&svc.mnt));
    let left = processes_with(&daemon_needle(lab, svc, n1));
    assert!(left.is_empty(), "left running on n1: {left:?}");
    let (st, _, log) = svc.container(n1);
    assert_eq!(st, "down");
    let passive = if engine == "docker" {
        "docker daemon is not running".to_string()
    } else {
        format!(
            "container data dir {}/containers is not available",
            svc.mnt.display()
        )
    };
    assert!(log[0].starts_with(&passive), "{log:?}");
    assert!(svc.container(n2).2[0].starts_with(&passive));

    let out = svc.svcmgr(n2, &["start"]);
    out.assert_ok("start on n2");
    let log = out.all_output();
    let start = at(&log, &format!(" start {id}"));
    if engine == "docker" {
        assert!(at(&log, "starting docker daemon") < start, "{log}");
    }
    assert!(
        !log.contains(" run -d"),
        "the existing container is started:\n{log}"
    );
    assert_eq!(svc.id(n2, engine), id, "same container on n2");
    let (st, label, _) = svc.container(n2);
    assert_eq!(
        (st, label),
        ("up".to_string(), format!("{}@{IMAGE}", &id[..12]))
    );
    let state = svc.svcmgr(n2, &[engine, "exec", &svc.cname(), "cat", "/state"]);
    assert_eq!(state.assert_ok("read /state on n2").stdout_str(), "s\n");
    let ps = svc.svcmgr(n2, &[engine, "ps"]);
    assert!(ps.assert_ok("ps on n2").stdout_str().contains(&id[..12]));
    svc.svcmgr(n2, &["stop"]).assert_ok("stop on n2");
    assert!(processes_with(&daemon_needle(lab, svc, n2)).is_empty());
}

#[test]
fn docker_private_daemon_relocates_the_same_container() {
    if !lab::require_root("docker_private_daemon_relocates_the_same_container") {
        return;
    }
    relocate("docker", |_, svc, n| {
        n.root
            .join("var/services")
            .join(&svc.name)
            .display()
            .to_string()
    });
}

#[test]
fn podman_private_store_relocates_the_same_container() {
    if !lab::require_root("podman_private_store_relocates_the_same_container") {
        return;
    }
    relocate("podman", |_, svc, _| {
        svc.mnt.join("containers").display().to_string()
    });
}

#[test]
fn dockerd_that_does_not_start_fails_the_start_and_rolls_back() {
    if !lab::require_root("dockerd_that_does_not_start_fails_the_start_and_rolls_back") {
        return;
    }
    let lab = Lab::new(&["n1"]);
    let svc = Svc::new(&lab, "bad");
    let rig = Rig {
        lab,
        svcs: vec![svc],
    };
    let (n1, svc) = (rig.lab.node("n1"), &rig.svcs[0]);
    n1.write_conf(
        &svc.name,
        &svc.conf("docker", "n1", "docker_daemon_args = --no-such-flag\n"),
    );
    let out = svc.svcmgr(n1, &["start"]);
    assert_eq!(out.code(), 1, "{}", out.all_output());
    let log = out.all_output();
    let dlog: PathBuf = n1
        .root
        .join("var/services")
        .join(&svc.name)
        .join("dockerd.log");
    let failed = at(
        &log,
        &format!(
            "dockerd exited with status 1; the last lines of {}:",
            dlog.display()
        ),
    );
    assert!(log.contains("unknown flag: --no-such-flag"), "{log}");
    let rollback = at(&log, "rollback");
    let umount = at(&log, "FS#1 umount");
    assert!(failed < rollback && rollback < umount, "{log}");
    assert!(!n1.is_mounted(&svc.mnt));
    assert!(processes_with(&dlog.parent().unwrap().display().to_string()).is_empty());
    assert_eq!(svc.container(n1).2, ["docker daemon is not running"]);

    // svcmgr's own daemon options are refused at load; a data dir off the service's
    // filesystems is a warning.
    n1.write_conf(
        &svc.name,
        &svc.conf(
            "docker",
            "n1",
            "docker_daemon_args = -H tcp://0.0.0.0:2375\n",
        ),
    );
    let v = svc.svcmgr(n1, &["validate", "config"]);
    assert_eq!(v.code(), 1, "{}", v.all_output());
    assert!(
        v.all_output()
            .contains("[DEFAULT] docker_daemon_args: -H (--host) is set by svcmgr"),
        "{}",
        v.all_output()
    );
    let off = svc.conf("docker", "n1", "").replace(
        &format!("{}/containers", svc.mnt.display()),
        "/var/tmp/elsewhere",
    );
    n1.write_conf(&svc.name, &off);
    let v = svc.svcmgr(n1, &["validate", "config"]);
    v.assert_ok("validate config");
    assert!(
        v.all_output().contains(
            "container_data_dir: /var/tmp/elsewhere is not on a filesystem of the service"
        ),
        "{}",
        v.all_output()
    );
}

#[test]
fn two_services_private_daemons_on_one_node_are_isolated() {
    if !lab::require_root("two_services_private_daemons_on_one_node_are_isolated") {
        return;
    }
    let lab = Lab::new(&["n1"]);
    let svcs = vec![Svc::new(&lab, "a"), Svc::new(&lab, "b")];
    let rig = Rig { lab, svcs };
    let n1 = rig.lab.node("n1");
    let (a, b) = (&rig.svcs[0], &rig.svcs[1]);
    for s in [a, b] {
        n1.write_conf(&s.name, &s.conf("docker", "n1", ""));
        s.svcmgr(n1, &["startfs"]).assert_ok("startfs");
        import(&rig.lab, s, n1, "docker");
        s.svcmgr(n1, &["start"]).assert_ok("start");
    }
    let names = |s: &Svc| {
        let o = s.svcmgr(n1, &["docker", "ps", "-a", "--format", "{{.Names}}"]);
        o.assert_ok("docker ps -a").stdout_str()
    };
    assert_eq!(names(a).trim(), a.cname());
    assert_eq!(names(b).trim(), b.cname());
    let sock = |s: &Svc| -> PathBuf { n1.root.join("var/services").join(&s.name) };
    assert_eq!(
        processes_with(&format!("unix://{}/", sock(a).display())).len(),
        1
    );

    let out = a.svcmgr(n1, &["stop"]);
    out.assert_ok("stop a");
    assert!(processes_with(&sock(a).display().to_string()).is_empty());
    assert_eq!(b.container(n1).0, "up", "b untouched by a's stop");
    assert_eq!(names(b).trim(), b.cname());
    b.svcmgr(n1, &["stop"]).assert_ok("stop b");
    assert!(processes_with(&sock(b).display().to_string()).is_empty());
}
