//! Lab tests of the app driver with real scripts: a `simple` app tracked by its pid, a
//! `forking` one driven by its launcher script, a child that ignores SIGTERM killed after
//! stop_timeout, a check command deciding the status, and a start that fails at once.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use labtests::lab::{self, Lab, Node, OutputExt};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

/// (status, log) of one resource of `svc`.
fn res(n: &Node, svc: &str, rid: &str) -> (String, Vec<String>) {
    let o = n.svcmgr(&["-s", svc, "print", "status", "--format", "json"]);
    o.assert_ok("print status --format json");
    let st: Value = serde_json::from_str(&o.stdout_str())
        .unwrap_or_else(|e| panic!("status json: {e}\n{}", o.stdout_str()));
    let r = st["resources"]
        .as_array()
        .expect("resources")
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
    (r["status"].as_str().unwrap_or("").to_string(), log)
}

fn script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Pids of the live processes whose command line contains `marker`.
fn pids_with(marker: &str) -> Vec<u32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmdline).contains(marker) {
            v.push(pid);
        }
    }
    v
}

/// Kills what a failed test left running.
struct Reaper(String);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in pids_with(&self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[test]
fn simple_app_is_tracked_and_killed_with_its_group() {
    if !lab::require_root("simple_app_is_tracked_and_killed_with_its_group") {
        return;
    }
    let lab = Lab::new(&["n1"]);
    let n = lab.node("n1");
    let marker = lab::unique("app-simple");
    let _reaper = Reaper(marker.clone());
    let bin = lab.dir().join("bin");
    // The app starts a child that ignores SIGTERM, then waits.
    script(
        &bin.join("stubborn"),
        &format!(
            "echo started $$\nsh -c 'trap \"\" TERM; while :; do sleep 0.2; done' {marker}-child &\n\
             while :; do sleep 0.2; done\n"
        ),
    );
    n.write_conf(
        "web",
        &format!(
            "[DEFAULT]\nnodes = n1\n\n[app#1]\ntype = simple\nstart = {} {marker}\n\
             stop_timeout = 1s\nenvironment = app_mode=lab\n",
            bin.join("stubborn").display()
        ),
    );
    assert_eq!(res(n, "web", "app#1").0, "down");
    n.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    assert_eq!(res(n, "web", "app#1").0, "up");
    assert!(
        lab::wait_until(WAIT, "the app's child", || pids_with(&format!(
            "{marker}-child"
        ))
        .len()
            == 1),
        "the app's child did not start"
    );
    // A second start does not run a second copy.
    n.svcmgr(&["-s", "web", "start"])
        .assert_ok("second start")
        .assert_logs("already running");
    let pid_file = n.root.join("var/services/web/app#1.pid");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(environ.contains("APP_MODE=lab"), "{environ}");
    assert!(environ.contains("SVCMGR_RID=app#1"), "{environ}");
    let log = std::fs::read_to_string(n.root.join("var/services/web/app#1.log")).unwrap();
    assert!(log.contains(&format!("started {pid}")), "{log}");

    // Stop: SIGTERM ends the app, its child ignores it and is SIGKILLed after 1 s.
    n.svcmgr(&["-s", "web", "stop"])
        .assert_ok("stop")
        .assert_logs("SIGKILL");
    assert!(pids_with(&marker).is_empty(), "processes left after stop");
    assert_eq!(res(n, "web", "app#1").0, "down");
    assert!(!pid_file.exists());

    // A process that dies on its own: down, and the status says which pid went away.
    n.svcmgr(&["-s", "web", "start"]).assert_ok("start again");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(lab::wait_until(WAIT, "app down", || res(n, "web", "app#1")
        .0
        == "down"));
    let (_, log) = res(n, "web", "app#1");
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("pid {pid} is gone"))),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("processes it started still run")),
        "{log:?}"
    );
    n.svcmgr(&["-s", "web", "stop"])
        .assert_ok("stop the leftover child");
    assert!(pids_with(&marker).is_empty(), "processes left after stop");
}

#[test]
fn simple_app_that_exits_at_once_fails_the_start() {
    if !lab::require_root("simple_app_that_exits_at_once_fails_the_start") {
        return;
    }
    let lab = Lab::new(&["n1"]);
    let n = lab.node("n1");
    n.write_conf(
        "web",
        "[DEFAULT]\nnodes = n1\n\n[app#1]\ntype = simple\n\
         start = /bin/sh -c 'echo cannot bind port 80 >&2; exit 3'\n",
    );
    let o = n.svcmgr(&["-s", "web", "start"]);
    o.assert_fails("start of an app that exits");
    assert!(
        o.all_output()
            .contains("exited at once with code 3 (last output: cannot bind port 80)"),
        "{}",
        o.all_output()
    );
    assert_eq!(res(n, "web", "app#1").0, "down");
}

#[test]
fn forking_app_runs_its_script_and_check_drives_status() {
    if !lab::require_root("forking_app_runs_its_script_and_check_drives_status") {
        return;
    }
    let lab = Lab::new(&["n1"]);
    let n = lab.node("n1");
    let marker = lab::unique("app-forking");
    let _reaper = Reaper(marker.clone());
    let state = lab.dir().join("forking.pid");
    let health = lab.dir().join("health");
    // A classic init-style launcher in <etc>/<svc>.d/, named by a relative path.
    script(
        &n.root.join("etc/db.d/db.sh"),
        &format!(
            "case $1 in\n\
             start) sh -c 'while :; do sleep 0.2; done' {marker} >/dev/null 2>&1 &\n\
                    echo $! > {s} ;;\n\
             stop) kill $(cat {s}) && rm -f {s} ;;\n\
             status) [ -f {h} ] && exit $(cat {h}); [ -f {s} ] && kill -0 $(cat {s}) ;;\n\
             esac\n",
            s = state.display(),
            h = health.display()
        ),
    );
    n.write_conf(
        "db",
        "[DEFAULT]\nnodes = n1\n\n[app#1]\nscript = db.sh\nstart = 10\nstop = 90\n\
         check = true\nretcodes = 0:up 1:down 3:n/a\nstatus_log = true\n",
    );
    assert_eq!(res(n, "db", "app#1").0, "down");
    n.svcmgr(&["-s", "db", "start"])
        .assert_ok("start")
        .assert_logs("db.sh start");
    assert_eq!(res(n, "db", "app#1").0, "up");
    assert_eq!(pids_with(&marker).len(), 1);
    // retcodes: 3 is n/a, an unlisted code is warn and says so.
    std::fs::write(&health, "3").unwrap();
    assert_eq!(res(n, "db", "app#1").0, "n/a");
    std::fs::write(&health, "7").unwrap();
    let (st, log) = res(n, "db", "app#1");
    assert_eq!(st, "warn");
    assert!(
        log.iter().any(|l| l == "check exited with code 7"),
        "{log:?}"
    );
    std::fs::remove_file(&health).unwrap();
    n.svcmgr(&["-s", "db", "stop"])
        .assert_ok("stop")
        .assert_logs("db.sh stop");
    assert!(lab::wait_until(WAIT, "daemon gone", || pids_with(&marker).is_empty()));
    assert_eq!(res(n, "db", "app#1").0, "down");
}

#[test]
fn a_parallel_subset_starts_its_apps_at_once_after_the_subset_before_it() {
    if !lab::require_root("a_parallel_subset_starts_its_apps_at_once_after_the_subset_before_it") {
        return;
    }
    let lab = Lab::new(&["n1"]);
    let n = lab.node("n1");
    let log = lab.dir().join("order.log");
    for name in ["db", "a", "b"] {
        let flag = lab.dir().join(format!("{name}.up"));
        script(
            &n.root.join(format!("etc/sets.d/{name}.sh")),
            &format!(
                "case $1 in\n\
                 start) echo '{name} begin' >> {l}; sleep 1; echo '{name} end' >> {l}; touch {f} ;;\n\
                 stop) echo '{name} stop' >> {l}; sleep 0.5; rm -f {f} ;;\n\
                 status) [ -f {f} ] ;;\n\
                 esac\n",
                l = log.display(),
                f = flag.display()
            ),
        );
    }
    // The rids sort the other way round: the subsets' names decide.
    n.write_conf(
        "sets",
        "[DEFAULT]\nnodes = n1\n\n\
         [app#1]\nscript = b.sh\nstart = 10\nstop = 90\ncheck = true\nsubset = 02web\n\n\
         [app#2]\nscript = a.sh\nstart = 10\nstop = 90\ncheck = true\nsubset = 02web\n\n\
         [app#3]\nscript = db.sh\nstart = 10\nstop = 90\ncheck = true\nsubset = 01db\n\n\
         [subset#app:02web]\nparallel = true\n",
    );
    let lines = || -> Vec<String> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    };
    n.svcmgr(&["-s", "sets", "start"]).assert_ok("start");
    let l = lines();
    assert_eq!(l[..2], ["db begin", "db end"], "{l:?}");
    let mut begins = l[2..4].to_vec();
    begins.sort();
    assert_eq!(begins, ["a begin", "b begin"], "not at once: {l:?}");
    for rid in ["app#1", "app#2", "app#3"] {
        assert_eq!(res(n, "sets", rid).0, "up", "{rid}");
    }
    std::fs::remove_file(&log).unwrap();
    n.svcmgr(&["-s", "sets", "stop"]).assert_ok("stop");
    let l = lines();
    assert_eq!(l.len(), 3, "{l:?}");
    assert_eq!(l[2], "db stop", "db stops after the web subset: {l:?}");
}
