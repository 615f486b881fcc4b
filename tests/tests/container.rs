//! Lab tests of the container driver on real podman (per-node storage, runc, an imported
//! busybox image), and of an ip + fs + container service.

use std::path::PathBuf;
use std::time::Duration;

use labtests::lab::{self, Lab, LoopDev, Node, OutputExt};
use serde_json::Value;

/// A container that exits on SIGTERM (busybox sh as pid 1 ignores it otherwise).
const RUN_COMMAND: &str = r#"/bin/sh -c "trap 'exit 0' TERM; while true; do sleep 1; done""#;
const CNAME: &str = "web.container.1";

fn container_section(image: &str, extra: &str) -> String {
    format!(
        "[container#1]\ntype = podman\nrun_image = {image}\nrun_args = --network none\n\
         run_command = {RUN_COMMAND}\nstop_timeout = 8s\n{extra}"
    )
}

fn container_conf(image: &str, extra: &str) -> String {
    format!(
        "[DEFAULT]\nnodes = n1\n\n{}",
        container_section(image, extra)
    )
}

/// `print status --format json` of service `web`.
fn status_json(n: &Node) -> Value {
    let o = n.svcmgr(&["-s", "web", "print", "status", "--format", "json"]);
    o.assert_ok("print status --format json");
    serde_json::from_str(&o.stdout_str())
        .unwrap_or_else(|e| panic!("status json: {e}\n{}", o.stdout_str()))
}

/// (status, label, log) of one resource.
fn res(n: &Node, rid: &str) -> (String, String, Vec<String>) {
    let st = status_json(n);
    let r = st["resources"]
        .as_array()
        .expect("resources array")
        .iter()
        .find(|r| r["rid"] == rid)
        .unwrap_or_else(|| panic!("no {rid} in {st}"))
        .clone();
    let log = r["log"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|x| x.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    (
        r["status"].as_str().unwrap_or("").to_string(),
        r["label"].as_str().unwrap_or("").to_string(),
        log,
    )
}

/// The container as podman sees it, `None` when it does not exist.
fn podman_inspect(n: &Node, name: &str) -> Option<Value> {
    let o = n.sh(&["podman", "container", "inspect", "--format", "json", name]);
    if !o.status.success() {
        assert!(
            o.stderr_str().contains("no such container"),
            "podman inspect {name}: {}",
            o.stderr_str()
        );
        return None;
    }
    let v: Value = serde_json::from_str(&o.stdout_str()).expect("inspect json");
    v.as_array().and_then(|a| a.first()).cloned()
}

fn podman_id(n: &Node, name: &str) -> String {
    let c = podman_inspect(n, name).unwrap_or_else(|| panic!("container {name} is missing"));
    c["Id"].as_str().expect("Id").to_string()
}

fn podman_running(n: &Node, name: &str) -> bool {
    podman_inspect(n, name).is_some_and(|c| c["State"]["Running"] == true)
}

/// Position of `needle` in `log`, with the log in the panic message.
fn at(log: &str, needle: &str) -> usize {
    log.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{log}"))
}

fn podman_lab() -> (Lab, String) {
    let mut lab = Lab::new(&["n1"]);
    let image = lab.podman_env();
    (lab, image)
}

#[test]
fn container_start_stop_and_restart_reuses_it() {
    if !lab::require_root("container_start_stop_and_restart_reuses_it") {
        return;
    }
    let (lab, image) = podman_lab();
    let n1 = lab.node("n1");
    n1.write_conf("web", &container_conf(&image, ""));
    n1.svcmgr(&["-s", "web", "validate", "config"])
        .assert_ok("validate config");

    let (st, label, log) = res(n1, "container#1");
    assert_eq!((st.as_str(), label.as_str()), ("down", image.as_str()));
    assert_eq!(log, ["can not find container id"]);
    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 1);

    let out = n1.svcmgr(&["-s", "web", "start"]);
    out.assert_ok("start");
    let log = out.all_output();
    let run_at = at(
        &log,
        &format!("WEB.CONTAINER#1 podman run -d --name {CNAME} --network none {image} /bin/sh -c"),
    );
    assert!(run_at < at(&log, "wait for container up status"), "{log}");
    assert!(podman_running(n1, CNAME));
    let id = podman_id(n1, CNAME);
    let (st, label, _) = res(n1, "container#1");
    assert_eq!(st, "up");
    assert_eq!(label, format!("{}@{image}", &id[..12]));
    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 0);
    let tree = n1.svcmgr(&["-s", "web", "print", "status"]).stdout_str();
    assert!(
        tree.contains(&format!(
            "container#1    .... up         {}@{image}",
            &id[..12]
        )),
        "{tree}"
    );

    // Idempotent start: nothing run, same container.
    let again = n1.svcmgr(&["-s", "web", "start"]);
    again.assert_ok("second start");
    assert!(
        again.all_output().contains("is already up"),
        "{}",
        again.all_output()
    );
    assert!(!again.all_output().contains("podman run"));
    assert_eq!(podman_id(n1, CNAME), id);

    // Stop: grace = stop_timeout 8s minus the 5s margin; the container by its full id.
    let out = n1.svcmgr(&["-s", "web", "stop"]);
    out.assert_ok("stop");
    let log = out.all_output();
    assert!(
        at(&log, &format!("podman stop -t 3 {id}")) < at(&log, "wait for container down status")
    );
    assert!(
        !log.contains("podman kill"),
        "the container obeys SIGTERM:\n{log}"
    );
    let c = podman_inspect(n1, CNAME).expect("a stopped container stays");
    assert_eq!(c["State"]["Running"], false);
    let (st, label, log) = res(n1, "container#1");
    assert_eq!(st, "down");
    assert_eq!(label, format!("{}@{image}", &id[..12]));
    assert!(log[0].contains("exited"), "{log:?}");
    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 1);

    let again = n1.svcmgr(&["-s", "web", "stop"]);
    again.assert_ok("second stop");
    assert!(
        again.all_output().contains("is already down"),
        "{}",
        again.all_output()
    );

    // Restart of the existing stopped container: `start`, same id.
    let out = n1.svcmgr(&["-s", "web", "start"]);
    out.assert_ok("restart");
    let log = out.all_output();
    at(&log, &format!("WEB.CONTAINER#1 podman start {id}"));
    assert!(!log.contains("podman run"), "{log}");
    assert_eq!(podman_id(n1, CNAME), id, "start reuses the container");
    assert_eq!(res(n1, "container#1").0, "up");

    n1.svcmgr(&["-s", "web", "stopcontainer"])
        .assert_ok("stopcontainer");
    assert!(!podman_running(n1, CNAME));
}

#[test]
fn container_killed_behind_our_back_shows_down() {
    if !lab::require_root("container_killed_behind_our_back_shows_down") {
        return;
    }
    let (lab, image) = podman_lab();
    let n1 = lab.node("n1");
    n1.write_conf("web", &container_conf(&image, "name = {svcname}-app\n"));
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    let id = podman_id(n1, "web-app");
    assert_eq!(res(n1, "container#1").0, "up");

    n1.sh(&["podman", "kill", "web-app"])
        .assert_ok("podman kill");
    assert!(lab::wait_until(
        Duration::from_secs(30),
        "container down",
        || { !podman_running(n1, "web-app") }
    ));
    let (st, _, log) = res(n1, "container#1");
    assert_eq!(st, "down", "{log:?}");
    assert_eq!(log, ["container web-app is exited (code 137)"]);
    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 1);

    // Stopping a dead container is a no-op; starting brings the same one back.
    let stop = n1.svcmgr(&["-s", "web", "stop"]);
    stop.assert_ok("stop of a dead container");
    assert!(stop.all_output().contains("is already down"));
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start again");
    assert_eq!(podman_id(n1, "web-app"), id);
    assert_eq!(res(n1, "container#1").0, "up");
}

#[test]
fn container_missing_image_fails_start_with_podmans_error() {
    if !lab::require_root("container_missing_image_fails_start_with_podmans_error") {
        return;
    }
    let (lab, _image) = podman_lab();
    let n1 = lab.node("n1");
    let missing = format!("localhost/{}:none", lab::unique("nosuch"));
    // --pull never: the registry is never asked.
    let conf = container_conf(&missing, "").replace(
        "run_args = --network none",
        "run_args = --network none --pull never",
    );
    n1.write_conf("web", &conf);
    let out = n1.svcmgr(&["-s", "web", "start"]);
    assert_eq!(out.code(), 1, "{}", out.all_output());
    let log = out.all_output();
    assert!(
        log.contains(&format!("{missing}: image not known")),
        "podman's error is in the message:\n{log}"
    );
    assert!(!log.contains("wait for container up status"), "{log}");
    assert!(podman_inspect(n1, CNAME).is_none());
    let (st, label, _) = res(n1, "container#1");
    assert_eq!((st.as_str(), label.as_str()), ("down", missing.as_str()));
}

#[test]
fn container_that_exits_at_once_fails_start() {
    if !lab::require_root("container_that_exits_at_once_fails_start") {
        return;
    }
    let (lab, image) = podman_lab();
    let n1 = lab.node("n1");
    let conf = container_conf(&image, "").replace(RUN_COMMAND, "/bin/false");
    n1.write_conf("web", &conf);
    let out = n1.svcmgr(&["-s", "web", "start"]);
    assert_eq!(out.code(), 1, "{}", out.all_output());
    let log = out.all_output();
    // podman shows "stopped" until its cleanup marks the container "exited".
    let ended = ["exited", "stopped"]
        .iter()
        .any(|s| log.contains(&format!("container {CNAME} did not stay up: {s} (code 1)")));
    assert!(ended, "{log}");
    assert!(
        !log.contains("is not up after"),
        "failed at once, not at the timeout:\n{log}"
    );
    assert_eq!(res(n1, "container#1").0, "down");
}

#[test]
fn container_bad_config_fails_validate() {
    if !lab::require_root("container_bad_config_fails_validate") {
        return;
    }
    let (lab, image) = podman_lab();
    let n1 = lab.node("n1");
    let cases = [
        (
            container_conf(&image, "").replace("type = podman", "type = lxc"),
            "type",
        ),
        (
            container_conf(&image, "").replace(&format!("run_image = {image}\n"), ""),
            "run_image",
        ),
    ];
    for (conf, kw) in cases {
        n1.write_conf("web", &conf);
        let v = n1.svcmgr(&["-s", "web", "validate", "config"]);
        assert_eq!(v.code(), 1, "{conf}\n{}", v.all_output());
        let msg = v.all_output();
        assert!(msg.contains("web.conf") && msg.contains(kw), "{msg}");
        let s = n1.svcmgr(&["-s", "web", "start"]);
        assert_eq!(s.code(), 1, "{}", s.all_output());
        assert!(!s.all_output().contains("podman run"));
    }
    let ps = n1.sh(&["podman", "ps", "-a", "--format", "{{.Names}}"]);
    ps.assert_ok("podman ps");
    assert_eq!(ps.stdout_str().trim(), "", "nothing was started");
}

#[test]
fn container_image_change_warns_then_recreates() {
    if !lab::require_root("container_image_change_warns_then_recreates") {
        return;
    }
    let (lab, image) = podman_lab();
    let n1 = lab.node("n1");
    let other = format!("localhost/{}:lab", lab::unique("other"));
    n1.sh(&["podman", "tag", &image, &other])
        .assert_ok("podman tag");
    n1.write_conf("web", &container_conf(&image, ""));
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    let id = podman_id(n1, CNAME);

    n1.write_conf("web", &container_conf(&other, ""));
    let (st, _, log) = res(n1, "container#1");
    assert_eq!(st, "warn");
    assert_eq!(
        log,
        [format!(
            "running image {image} differs from run_image {other}"
        )]
    );
    let again = n1.svcmgr(&["-s", "web", "start"]);
    again.assert_ok("start while running another image");
    assert!(again.all_output().contains("is already up"));
    assert_eq!(podman_id(n1, CNAME), id);

    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("stop");
    let out = n1.svcmgr(&["-s", "web", "start"]);
    out.assert_ok("start with the new image");
    let log = out.all_output();
    let rm = at(&log, &format!("podman rm -f {id}"));
    assert!(rm < at(&log, "podman run -d"), "{log}");
    assert!(log.contains("recreate it"), "{log}");
    let new_id = podman_id(n1, CNAME);
    assert_ne!(new_id, id, "a new container");
    let (st, label, _) = res(n1, "container#1");
    assert_eq!(st, "up");
    assert_eq!(label, format!("{}@{other}", &new_id[..12]));
}

#[test]
fn container_runtime_unreachable_is_an_error_not_down() {
    if !lab::require_root("container_runtime_unreachable_is_an_error_not_down") {
        return;
    }
    let mut lab = Lab::new(&["n1"]);
    // docker with a daemon socket nobody listens on.
    let sock = lab.dir().join("no-docker.sock");
    lab.set_env("n1", "DOCKER_HOST", &format!("unix://{}", sock.display()));
    let n1 = lab.node("n1");
    n1.write_conf(
        "web",
        &container_conf("busybox", "").replace("type = podman", "type = docker"),
    );
    let (st, label, log) = res(n1, "container#1");
    assert_eq!((st.as_str(), label.as_str()), ("warn", "busybox"));
    assert!(
        log.len() == 1 && log[0].contains("Cannot connect to the Docker daemon"),
        "{log:?}"
    );
    for action in ["stop", "start"] {
        let o = n1.svcmgr(&["-s", "web", action]);
        assert_eq!(o.code(), 1, "{action}: {}", o.all_output());
        let out = o.all_output();
        assert!(out.contains("Cannot connect to the Docker daemon"), "{out}");
        assert!(!out.contains("already down"), "{out}");
    }

    // No runtime binary at all.
    let empty = lab.dir().join("empty-bin");
    std::fs::create_dir_all(&empty).expect("mkdir");
    lab.set_env("n1", "PATH", &empty.display().to_string());
    let n1 = lab.node("n1");
    n1.write_conf("web", &container_conf("busybox", ""));
    let (st, _, log) = res(n1, "container#1");
    assert_eq!(st, "warn");
    assert!(
        log[0].contains("podman") && log[0].contains("cannot execute"),
        "{log:?}"
    );
    let o = n1.svcmgr(&["-s", "web", "stop"]);
    assert_eq!(o.code(), 1, "{}", o.all_output());
    assert!(o.all_output().contains("cannot execute"));
}

#[test]
fn container_hex_name_never_touches_an_id_prefix_match() {
    if !lab::require_root("container_hex_name_never_touches_an_id_prefix_match") {
        return;
    }
    let (lab, image) = podman_lab();
    let n1 = lab.node("n1");
    // An unrelated container on another image; our name is the start of its id, which
    // podman also accepts to designate it.
    let other = format!("localhost/{}:lab", lab::unique("other"));
    n1.sh(&["podman", "tag", &image, &other])
        .assert_ok("podman tag");
    let unrelated = lab::unique("unrelated");
    n1.sh(&[
        "podman",
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &unrelated,
        &other,
        "/bin/sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 1; done",
    ])
    .assert_ok("podman run unrelated");
    let unrelated_id = podman_id(n1, &unrelated);
    let hex = unrelated_id[..4].to_string();
    let found = n1.sh(&[
        "podman",
        "container",
        "inspect",
        "--format",
        "{{.Name}}",
        &hex,
    ]);
    found.assert_ok("the runtime resolves the prefix");
    assert_eq!(found.stdout_str().trim(), unrelated);
    n1.write_conf("web", &container_conf(&image, &format!("name = {hex}\n")));

    let (st, _, log) = res(n1, "container#1");
    assert_eq!(st, "down", "{log:?}");
    assert_eq!(log, ["can not find container id"]);
    let stop = n1.svcmgr(&["-s", "web", "stop"]);
    stop.assert_ok("stop with no container of ours");
    assert!(stop.all_output().contains("does not exist, already down"));
    assert!(podman_running(n1, &unrelated), "stop left it alone");

    let out = n1.svcmgr(&["-s", "web", "start"]);
    out.assert_ok("start");
    let log = out.all_output();
    assert!(!log.contains("already up"), "{log}");
    at(&log, &format!("podman run -d --name {hex} "));
    let ours = podman_id(n1, &hex);
    assert_ne!(ours, unrelated_id);
    let (st, label, _) = res(n1, "container#1");
    assert_eq!(
        (st.as_str(), label),
        ("up", format!("{}@{image}", &ours[..12]))
    );

    let out = n1.svcmgr(&["-s", "web", "stop"]);
    out.assert_ok("stop");
    let log = out.all_output();
    at(&log, &format!("podman stop -t 3 {ours}"));
    assert!(!log.contains(&unrelated_id), "{log}");
    assert!(!podman_running(n1, &hex));
    assert!(podman_running(n1, &unrelated), "stop left it alone");

    // Our container gone, the unrelated one stopped with another image: a start must not
    // take it for ours to recreate (`rm -f`).
    n1.sh(&["podman", "rm", "-f", &ours])
        .assert_ok("podman rm ours");
    n1.sh(&["podman", "stop", "-t", "0", &unrelated])
        .assert_ok("podman stop unrelated");
    let out = n1.svcmgr(&["-s", "web", "start"]);
    out.assert_ok("start after removal");
    let log = out.all_output();
    assert!(!log.contains("podman rm"), "{log}");
    assert!(!log.contains("recreate"), "{log}");
    at(&log, &format!("podman run -d --name {hex} "));
    assert_eq!(podman_id(n1, &unrelated), unrelated_id, "still there");
    assert!(!podman_running(n1, &unrelated));
    assert_eq!(res(n1, "container#1").0, "up");
    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("final stop");
    assert_eq!(podman_id(n1, &unrelated), unrelated_id);
}

const DOCKER_ID: &str = "5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f";

/// `docker container inspect` of a container named `CNAME` with the given state.
fn docker_inspect_json(state: &str) -> String {
    format!(
        r#"[{{"Id":"{DOCKER_ID}","Name":"/{CNAME}","Image":"sha256:b073e328878e6e8b",
"Config":{{"Image":"busybox"}},"State":{state}}}]"#
    )
}

/// A `docker` first on the node's PATH answering from `state.json` in `dir`: a container
/// in docker's crash loop, which `start` leaves as it is and `stop` ends. Every call is
/// appended to `calls`.
fn docker_shim(lab: &mut Lab) -> PathBuf {
    let dir = lab.dir().join("docker-shim");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let restarting = docker_inspect_json(
        r#"{"Status":"restarting","Running":true,"Paused":false,"Restarting":true,"Pid":0,"ExitCode":1,"Error":""}"#,
    );
    let exited = docker_inspect_json(
        r#"{"Status":"exited","Running":false,"Paused":false,"Restarting":false,"Pid":0,"ExitCode":137,"Error":""}"#,
    );
    std::fs::write(dir.join("state.json"), restarting).expect("write state");
    std::fs::write(dir.join("exited.json"), exited).expect("write exited");
    let d = dir.display();
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> {d}/calls\n\
         case \"$1 $2\" in 'container inspect')\n\
         if [ \"$3\" = {CNAME} ]; then cat {d}/state.json; exit 0; fi\n\
         echo \"[]\"; echo \"Error: No such container: $3\" >&2; exit 1;; esac\n\
         case \"$1\" in start) echo \"$2\"; exit 0;;\n\
         stop) cp {d}/exited.json {d}/state.json; echo \"$4\"; exit 0;; esac\n\
         echo \"unexpected docker call: $*\" >&2; exit 2\n"
    );
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let p = bin.join("docker");
    std::fs::write(&p, script).expect("write shim");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    lab.add_path_dir(&bin);
    dir
}

#[test]
fn docker_restarting_container_is_not_up() {
    if !lab::require_root("docker_restarting_container_is_not_up") {
        return;
    }
    let mut lab = Lab::new(&["n1"]);
    let dir = docker_shim(&mut lab);
    let n1 = lab.node("n1");
    n1.write_conf(
        "web",
        &container_conf("busybox", "start_timeout = 2s\n")
            .replace("type = podman", "type = docker"),
    );

    let (st, label, log) = res(n1, "container#1");
    assert_eq!(st, "warn", "{log:?}");
    assert_eq!(log, [format!("container {CNAME} is restarting (code 1)")]);
    assert_eq!(label, format!("{}@busybox", &DOCKER_ID[..12]));
    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 2);

    let out = n1.svcmgr(&["-s", "web", "start", "--disable-rollback"]);
    assert_eq!(out.code(), 1, "{}", out.all_output());
    let log = out.all_output();
    assert!(!log.contains("already up"), "{log}");
    at(&log, &format!("WEB.CONTAINER#1 docker start {DOCKER_ID}"));
    at(
        &log,
        &format!("container {CNAME} is not up after 2s (start_timeout): restarting (code 1)"),
    );

    let out = n1.svcmgr(&["-s", "web", "stop"]);
    out.assert_ok("stop of a restarting container");
    let log = out.all_output();
    at(
        &log,
        &format!("WEB.CONTAINER#1 docker stop -t 3 {DOCKER_ID}"),
    );
    assert!(!log.contains("docker kill"), "{log}");
    let (st, _, log) = res(n1, "container#1");
    assert_eq!(st, "down");
    assert_eq!(log, [format!("container {CNAME} is exited (code 137)")]);
    let calls = std::fs::read_to_string(dir.join("calls")).expect("calls");
    assert!(!calls.contains("unexpected"), "{calls}");
    assert!(
        calls.lines().all(|l| l.starts_with("container inspect ")
            || l == format!("start {DOCKER_ID}")
            || l == format!("stop -t 3 {DOCKER_ID}")),
        "{calls}"
    );
}

struct Full {
    lab: Lab,
    dev: LoopDev,
    image: String,
    ip: String,
    mnt: PathBuf,
}

fn full_conf(f: &Full, image: &str, run_args: &str) -> String {
    let dev = f.dev.path();
    let cmd = r#"/bin/sh -c "touch /data/alive; trap 'exit 0' TERM; while true; do sleep 1; done""#;
    format!(
        "[DEFAULT]\nnodes = n1\n\n\
         [container#1]\ntype = podman\nrun_image = {image}\n\
         run_args = --network none --volume {mnt}:/data {run_args}\nrun_command = {cmd}\n\n\
         [fs#1]\ndev = {dev}\nmnt = {mnt}\ntype = ext4\n\n\
         [ip#1]\nipname = {ip}\nipdev = eth0\nnetmask = 24\n",
        mnt = f.mnt.display(),
        ip = f.ip,
    )
}

#[test]
fn full_service_orders_start_and_stop_and_rolls_back() {
    if !lab::require_root("full_service_orders_start_and_stop_and_rolls_back") {
        return;
    }
    let (lab, image) = podman_lab();
    let dev = LoopDev::new(lab.dir(), 32);
    dev.mkfs_ext4();
    let f = Full {
        ip: lab.subnet_ip(60),
        mnt: lab.dir().join("mnt/web"),
        lab,
        dev,
        image,
    };
    let n1 = f.lab.node("n1");
    n1.write_conf("web", &full_conf(&f, &f.image, ""));

    let out = n1.svcmgr(&["-s", "web", "start"]);
    out.assert_ok("start");
    let log = out.all_output();
    let ip_at = at(&log, "WEB.IP#1 ip addr add");
    let fs_at = at(&log, "WEB.FS#1 mount -t ext4");
    let ct_at = at(&log, "WEB.CONTAINER#1 podman run -d");
    assert!(
        ip_at < fs_at && fs_at < ct_at,
        "start order ip, fs, container:\n{log}"
    );
    assert!(n1.has_ip(&f.ip));
    assert!(n1.is_mounted(&f.mnt));
    // The container wrote into the mounted filesystem: it started after the mount.
    n1.sh(&["test", "-e", &f.mnt.join("alive").display().to_string()])
        .assert_ok("file written by the container on the fs");
    let st = status_json(n1);
    assert_eq!(st["avail"], "up", "{st}");
    assert_eq!(n1.svcmgr(&["-s", "web", "status"]).code(), 0);

    let id = podman_id(n1, CNAME);
    let out = n1.svcmgr(&["-s", "web", "stop"]);
    out.assert_ok("stop");
    let log = out.all_output();
    let ct_at = at(&log, &format!("WEB.CONTAINER#1 podman stop -t 10 {id}"));
    let fs_at = at(&log, "WEB.FS#1 umount");
    let ip_at = at(&log, "WEB.IP#1 ip addr del");
    assert!(
        ct_at < fs_at && fs_at < ip_at,
        "stop order container, fs, ip:\n{log}"
    );
    assert!(!n1.has_ip(&f.ip));
    assert!(!n1.is_mounted(&f.mnt));
    assert!(!podman_running(n1, CNAME));
    assert_eq!(status_json(n1)["avail"], "down");

    // Rollback: the container cannot start, so fs and ip go down again, fs first.
    n1.sh(&["podman", "rm", "-f", CNAME]).assert_ok("podman rm");
    let missing = format!("localhost/{}:none", lab::unique("nosuch"));
    n1.write_conf("web", &full_conf(&f, &missing, "--pull never"));
    let out = n1.svcmgr(&["-s", "web", "start"]);
    assert_eq!(out.code(), 1, "{}", out.all_output());
    let log = out.all_output();
    let fail_at = at(&log, "image not known");
    let rb_at = at(&log, "rollback");
    let umount_at = at(&log, "WEB.FS#1 umount");
    let del_at = at(&log, "WEB.IP#1 ip addr del");
    assert!(
        fail_at < rb_at && rb_at < umount_at && umount_at < del_at,
        "{log}"
    );
    assert!(!n1.has_ip(&f.ip));
    assert!(!n1.is_mounted(&f.mnt));
    for rid in ["ip#1", "fs#1", "container#1"] {
        assert_eq!(res(n1, rid).0, "down", "{rid} after rollback");
    }

    // --disable-rollback leaves ip and fs up.
    let out = n1.svcmgr(&["-s", "web", "start", "--disable-rollback"]);
    assert_eq!(out.code(), 1, "{}", out.all_output());
    assert!(n1.has_ip(&f.ip));
    assert!(n1.is_mounted(&f.mnt));
    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("final stop");
    assert!(!n1.is_mounted(&f.mnt));
}

/// Regression: a continuation line of `run_args` was dropped while `validate config` said
/// "valid", so the container ran without its volume. Also OpenSVC 2.x names (`image`,
/// `command`, `volume_mounts`, `environment`) and named rids, each its own container.
#[test]
fn container_multi_line_values_and_2x_keywords() {
    if !lab::require_root("container_multi_line_values_and_2x_keywords") {
        return;
    }
    let (lab, image) = podman_lab();
    let n1 = lab.node("n1");
    let data = lab.dir().join("data");
    let logs = lab.dir().join("logs");
    for d in [&data, &logs] {
        std::fs::create_dir_all(d).expect("host dir");
    }
    std::fs::write(data.join("hello"), "from the host\n").expect("host file");
    let conf = format!(
        "[DEFAULT]\nnodes = n1\n\n\
         [container#web]\ntype = podman\nrun_image = {image}\n\
         run_args = --network none\n    -v {data}:/data\n    # the logs too\n    -v {logs}:/logs\n\
         run_command = /bin/sh -c\n    \"trap 'exit 0' TERM; while true; do sleep 1; done\"\n\
         stop_timeout = 8s\n\n\
         [container#db]\ntype = podman\nimage = {image}\nrun_args = --network none\n\
         command = /bin/sh -c \"trap 'exit 0' TERM; echo $DB_MODE > /data/mode; while true; do sleep 1; done\"\n\
         volume_mounts = {data}:/data\nenvironment = db_mode=primary\n    other=1\n\
         stop_timeout = 8s\n",
        data = data.display(),
        logs = logs.display(),
    );
    n1.write_conf("web", &conf);
    let v = n1.svcmgr(&["-s", "web", "validate", "config"]);
    v.assert_ok("validate config");
    assert!(
        !v.all_output().contains("warning"),
        "no keyword lost: {}",
        v.all_output()
    );
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    for name in ["web.container.web", "web.container.db"] {
        assert!(podman_running(n1, name), "{name} runs");
    }
    let cat = n1.sh(&["podman", "exec", "web.container.web", "cat", "/data/hello"]);
    cat.assert_ok("the volume of the continuation line is mounted");
    assert_eq!(cat.stdout_str(), "from the host\n");
    n1.sh(&["podman", "exec", "web.container.web", "ls", "/logs"])
        .assert_ok("the line after a comment is kept too");
    let env = n1.sh(&[
        "podman",
        "exec",
        "web.container.db",
        "/bin/sh",
        "-c",
        "echo $DB_MODE",
    ]);
    env.assert_ok("environment");
    assert_eq!(env.stdout_str().trim(), "primary");
    // `command` really ran: it wrote the file through the volume_mounts volume.
    let mut mode = String::new();
    for _ in 0..100 {
        mode = std::fs::read_to_string(data.join("mode")).unwrap_or_default();
        if !mode.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(mode.trim(), "primary");
    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("stop");
    for name in ["web.container.web", "web.container.db"] {
        assert!(!podman_running(n1, name), "{name} stopped");
    }
}
