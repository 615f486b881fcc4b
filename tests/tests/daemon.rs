//! Lab tests of the per-host daemon: one daemon on a netns node with podman, its monitor
//! restarting a killed container, freezestop after the restarts, switch to the other node
//! after them (two nodes, ssh), a daemon restart that touches nothing, the API refusing a
//! non-root client and surviving malformed requests.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use labtests::lab::{self, wait_until, Lab, Node, OutputExt};
use serde_json::Value;

const RUN_COMMAND: &str = r#"/bin/sh -c "trap 'exit 0' TERM; while true; do sleep 1; done""#;
const CNAME: &str = "web.container.1";
/// Bound on every wait below (the monitor runs every second in these tests).
const WAIT: Duration = Duration::from_secs(90);

fn conf(image: &str, action: &str, restart: u32) -> String {
    format!(
        "[DEFAULT]\nnodes = n1\nmonitor_action = {action}\n\n[container#1]\ntype = podman\n\
         run_image = {image}\nrun_args = --network none\nrun_command = {RUN_COMMAND}\n\
         stop_timeout = 8s\nmonitor = true\nrestart = {restart}\nrestart_delay = 200ms\n"
    )
}

/// The daemon of a node, started with `daemon start`; stopped (killed if need be) on drop,
/// before the lab tears the node down.
struct Daemon<'a> {
    node: &'a Node,
}

impl<'a> Daemon<'a> {
    fn start(node: &'a Node) -> Daemon<'a> {
        let d = Daemon { node };
        node.svcmgr(&["daemon", "start"]).assert_ok("daemon start");
        d
    }

    fn pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.node.root.join("var/daemon/lock")).ok()?;
        text.split_whitespace().next()?.parse().ok()
    }

    fn status(&self) -> Value {
        let o = self.node.svcmgr(&["daemon", "status", "--format", "json"]);
        o.assert_ok("daemon status");
        serde_json::from_str(&o.stdout_str()).expect("daemon status json")
    }

    /// The monitor's tick count.
    fn ticks(&self) -> u64 {
        let st = self.status();
        let detail = st["subsystems"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == "monitor"))
            .and_then(|s| s["detail"].as_str())
            .unwrap_or("")
            .to_string();
        detail
            .split(", ")
            .find_map(|p| p.strip_suffix(" ticks"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    fn wait_ticks(&self, more: u64) {
        let target = self.ticks() + more;
        assert!(
            wait_until(WAIT, "monitor ticks", || self.ticks() >= target),
            "the monitor did not tick {more} times"
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.node.root.join("log/daemon.log")).unwrap_or_default()
    }

    fn socket(&self) -> PathBuf {
        self.node.root.join("var/lsnr/api.sock")
    }
}

impl Drop for Daemon<'_> {
    fn drop(&mut self) {
        let o = self.node.svcmgr(&["daemon", "stop"]);
        if !o.status.success() {
            if let Some(pid) = self.pid() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

fn podman_state(n: &Node) -> Option<Value> {
    let o = n.sh(&["podman", "container", "inspect", "--format", "json", CNAME]);
    if !o.status.success() {
        return None;
    }
    let v: Value = serde_json::from_str(&o.stdout_str()).ok()?;
    v.as_array()?.first().map(|c| c["State"].clone())
}

fn running(n: &Node) -> bool {
    podman_state(n).is_some_and(|s| s["Running"] == true)
}

fn status_json(n: &Node) -> Value {
    let o = n.svcmgr(&["-s", "web", "print", "status", "--format", "json"]);
    o.assert_ok("print status");
    serde_json::from_str(&o.stdout_str()).expect("status json")
}

fn monitor_line(n: &Node) -> String {
    let o = n.svcmgr(&["-s", "web", "print", "status"]);
    o.assert_ok("print status");
    assert!(
        o.stderr_str().contains("status source: daemon (pid "),
        "{}",
        o.stderr_str()
    );
    o.stdout_str()
        .lines()
        .find(|l| l.starts_with("monitor: "))
        .unwrap_or("")
        .to_string()
}

fn web_log(n: &Node) -> String {
    std::fs::read_to_string(n.root.join("log/web.log")).unwrap_or_default()
}

fn podman_lab() -> (Lab, String) {
    let mut lab = Lab::new(&["n1"]);
    let image = lab.podman_env();
    (lab, image)
}

fn wait_monitor(n: &Node, state: &str) {
    assert!(
        wait_until(WAIT, state, || monitor_line(n)
            .starts_with(&format!("monitor: {state}"))),
        "monitor never {state}: {}",
        monitor_line(n)
    );
}

#[test]
fn daemon_restarts_a_killed_monitored_container() {
    if !lab::require_root("daemon_restarts_a_killed_monitored_container") {
        return;
    }
    let (lab, image) = podman_lab();
    let n1 = lab.node("n1");
    n1.append_node_toml("monitor_interval = \"1s\"");
    n1.write_conf("web", &conf(&image, "none", 2));
    let d = Daemon::start(n1);
    let pid = d.pid().expect("daemon pid");

    // One daemon per root: a second one names the first.
    let second = n1.svcmgr(&["daemon", "run"]);
    second.assert_fails("second daemon run");
    assert!(
        second
            .stderr_str()
            .contains(&format!("a daemon already runs on this root (pid {pid}")),
        "{}",
        second.stderr_str()
    );
    assert_eq!(n1.svcmgr(&["daemon", "running"]).code(), 0);
    let start_again = n1.svcmgr(&["daemon", "start"]);
    start_again.assert_fails("daemon start while running");

    // Down and never seen up: the daemon does not start it.
    d.wait_ticks(2);
    assert!(
        podman_state(n1).is_none(),
        "the daemon started a down service"
    );
    assert_eq!(
        monitor_line(n1),
        "monitor: idle, container#1 2/2 restarts left"
    );

    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    wait_monitor(n1, "watching");
    n1.sh(&["podman", "kill", CNAME]).assert_ok("podman kill");
    assert!(
        wait_until(WAIT, "container restarted", || running(n1)),
        "not restarted; daemon log:\n{}\nservice log:\n{}",
        d.log(),
        web_log(n1)
    );
    let log = web_log(n1);
    assert!(
        log.contains("WEB.CONTAINER#1 monitor: down, restart 1/2"),
        "{log}"
    );
    assert!(
        wait_until(WAIT, "restart reported", || web_log(n1)
            .contains("WEB monitor: restart container#1: ok")),
        "{log}"
    );
    let st = status_json(n1);
    assert_eq!(st["avail"], "up", "{st}");
    let line = monitor_line(n1);
    assert!(
        line.starts_with(
            "monitor: restarting, container#1 1/2 restarts left, last: restart container#1 ok"
        ),
        "{line}"
    );

    // An operator's stop is respected: not restarted.
    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("stop");
    d.wait_ticks(3);
    assert!(!running(n1), "restarted after an operator's stop");
    assert!(monitor_line(n1).starts_with("monitor: idle"));
}

#[test]
fn daemon_freezestops_when_restarts_run_out() {
    if !lab::require_root("daemon_freezestops_when_restarts_run_out") {
        return;
    }
    let (lab, image) = podman_lab();
    let n1 = lab.node("n1");
    n1.append_node_toml("monitor_interval = \"1s\"");
    n1.write_conf("web", &conf(&image, "freezestop", 1));
    let _d = Daemon::start(n1);
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    wait_monitor(n1, "watching");
    n1.sh(&["podman", "kill", CNAME]).assert_ok("podman kill");
    assert!(wait_until(WAIT, "restart", || web_log(n1)
        .contains("WEB monitor: restart container#1: ok")));
    assert!(wait_until(WAIT, "running again", || running(n1)));
    n1.sh(&["podman", "kill", CNAME])
        .assert_ok("second podman kill");
    assert!(
        wait_until(WAIT, "frozen and down", || {
            let st = status_json(n1);
            st["frozen"] == true && st["avail"] == "down"
        }),
        "{}",
        web_log(n1)
    );
    let log = web_log(n1);
    assert!(
        log.contains("monitor: still down, no restart left: monitor_action freezestop"),
        "{log}"
    );
    assert!(wait_until(WAIT, "freezestop done", || web_log(n1)
        .contains("WEB monitor: freezestop: ok")));
    // Frozen: never touched again.
    let len = web_log(n1).len();
    n1.svcmgr(&["daemon", "status"]).assert_ok("daemon status");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(web_log(n1).len(), len, "{}", &web_log(n1)[len..]);
    assert!(!running(n1));
}

/// `monitor_interval` at the top of node.toml (the lab's ssh set-up appends tables to it).
fn fast_monitor(n: &Node) {
    let p = n.node_toml();
    let cur = std::fs::read_to_string(&p).unwrap_or_default();
    std::fs::write(&p, format!("monitor_interval = \"1s\"\n{cur}")).expect("node.toml");
}

#[test]
fn daemon_switches_to_the_next_node_when_restarts_run_out() {
    if !lab::require_root("daemon_switches_to_the_next_node_when_restarts_run_out") {
        return;
    }
    let mut lab = Lab::new(&["n1", "n2"]);
    lab.enable_ssh();
    let image = lab.podman_env();
    let (n1, n2) = (lab.node("n1"), lab.node("n2"));
    let conf = conf(&image, "switch", 1).replace("nodes = n1\n", "nodes = n1 n2\n");
    for n in [n1, n2] {
        fast_monitor(n);
        n.write_conf("web", &conf);
    }
    let d = Daemon::start(n1);
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    wait_monitor(n1, "watching");
    n1.sh(&["podman", "kill", CNAME]).assert_ok("podman kill");
    assert!(
        wait_until(WAIT, "restarted", || web_log(n1)
            .contains("WEB monitor: restart container#1: ok")),
        "{}",
        web_log(n1)
    );
    assert!(wait_until(WAIT, "running again", || running(n1)));
    n1.sh(&["podman", "kill", CNAME])
        .assert_ok("second podman kill");
    assert!(
        wait_until(WAIT, "running on n2", || running(n2)),
        "daemon log:\n{}\nservice log:\n{}",
        d.log(),
        web_log(n1)
    );
    assert!(
        wait_until(WAIT, "switch reported", || web_log(n1)
            .contains("WEB monitor: switch: ok")),
        "{}",
        web_log(n1)
    );
    let log = web_log(n1);
    assert!(
        log.contains("monitor: still down, no restart left: monitor_action switch"),
        "{log}"
    );
    assert!(!running(n1), "still running on n1");
    let o = n2.svcmgr(&["-s", "web", "print", "status", "--format", "json"]);
    let st: Value = serde_json::from_str(&o.assert_ok("n2 status").stdout_str()).expect("json");
    assert_eq!(st["avail"], "up", "{st}");
    // Moved, not failed: n1's monitor leaves the service to n2.
    d.wait_ticks(3);
    assert!(!running(n1), "n1 started it again");
    assert!(running(n2));
}

#[test]
fn daemon_restart_touches_no_service() {
    if !lab::require_root("daemon_restart_touches_no_service") {
        return;
    }
    let (lab, image) = podman_lab();
    let n1 = lab.node("n1");
    n1.append_node_toml("monitor_interval = \"1s\"");
    n1.write_conf("web", &conf(&image, "none", 2));
    let d = Daemon::start(n1);
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    wait_monitor(n1, "watching");
    let started_at = podman_state(n1).expect("container")["StartedAt"].clone();
    let before = web_log(n1).len();
    let pid = d.pid();

    n1.svcmgr(&["daemon", "restart"])
        .assert_ok("daemon restart");
    assert_ne!(d.pid(), pid, "the same daemon");
    d.wait_ticks(3);
    n1.svcmgr(&["daemon", "stop"]).assert_ok("daemon stop");
    assert_eq!(n1.svcmgr(&["daemon", "running"]).code(), 1);
    let st = n1.svcmgr(&["-s", "web", "print", "status", "--format", "json"]);
    assert!(st.stderr_str().contains("status source: local evaluation"));
    let st: Value = serde_json::from_str(&st.stdout_str()).expect("json");
    assert_eq!(st["avail"], "up");
    assert_eq!(
        podman_state(n1).expect("container")["StartedAt"],
        started_at
    );
    let log = web_log(n1);
    assert_eq!(&log[before..], "", "the daemon acted on the service");

    // Started again: it adopts the running service as watched, without acting.
    n1.svcmgr(&["daemon", "start"]).assert_ok("daemon start");
    wait_monitor(n1, "watching");
    assert_eq!(&web_log(n1)[before..], "");
}

/// Send `req` on a new connection and return the answer's head (empty when the daemon
/// closed the connection unanswered). `eof`: close our side after the request, as a client
/// that sent a truncated request and gave up.
fn raw(sock: &PathBuf, req: &[u8], eof: bool) -> String {
    let mut s = UnixStream::connect(sock).expect("connect to the api");
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = s.write_all(req);
    if eof {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status_code(answer: &str) -> Option<u16> {
    answer.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[test]
fn api_refuses_non_root_and_survives_malformed_requests() {
    if !lab::require_root("api_refuses_non_root_and_survives_malformed_requests") {
        return;
    }
    let lab = Lab::new(&["n1"]);
    let n1 = lab.node("n1");
    n1.write_conf("web", "[DEFAULT]\nnodes = n1\n");
    let d = Daemon::start(n1);
    let pid = d.pid().expect("pid");
    let sock = d.socket();
    let mode = std::fs::metadata(&sock)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // A non-root client: the socket's mode keeps it out; past the mode, the uid check.
    let bin = labtests::lab::svcmgr_bin();
    let as_nobody = || {
        n1.sh(&[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            bin.to_str().expect("utf-8"),
            "daemon",
            "status",
        ])
    };
    let o = as_nobody();
    o.assert_fails("daemon status as nobody");
    assert!(
        o.stderr_str().contains("Permission denied"),
        "{}",
        o.stderr_str()
    );
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let o = as_nobody();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600)).unwrap();
    o.assert_fails("daemon status as nobody through a 0666 socket");
    assert!(
        o.stderr_str()
            .contains("the daemon answered GET /daemon/status with 403: root only"),
        "{}",
        o.stderr_str()
    );
    assert!(
        wait_until(WAIT, "refusal logged", || d
            .log()
            .contains("api: refused a client with uid 65534: root only (403)")),
        "{}",
        d.log()
    );

    // A flood of malformed requests: each answered 4xx or closed, the daemon serves on.
    let big_header = format!(
        "GET /services HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    let mut urandom = std::fs::File::open("/dev/urandom").expect("urandom");
    let fixed: Vec<(Vec<u8>, &[u16])> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), &[400]),
        (b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), &[404]),
        (
            b"GET /services/..%2fetc/status HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            &[400, 404],
        ),
        (
            b"GET /services/web/status?rid=%zz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            &[400],
        ),
        (
            b"POST /services/web/actions/rm HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            &[400],
        ),
        (
            b"GET /services HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec(),
            &[400],
        ),
        (
            b"POST /daemon/stop HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n".to_vec(),
            &[413],
        ),
        (big_header.into_bytes(), &[431, 400]),
        (b"GET /services HTTP/1.1\r\nHost".to_vec(), &[]),
    ];
    let mut answered = 0;
    for round in 0..25 {
        for (req, codes) in &fixed {
            let a = raw(&sock, req, codes.is_empty());
            match status_code(&a) {
                Some(c) => {
                    assert!(
                        codes.contains(&c),
                        "{:?} -> {c}\n{a}",
                        String::from_utf8_lossy(&req[..req.len().min(80)])
                    );
                    answered += 1;
                }
                None => assert!(
                    codes.is_empty(),
                    "round {round}: {:?} unanswered: {a}",
                    String::from_utf8_lossy(&req[..req.len().min(60)])
                ),
            }
        }
        let mut junk = vec![0u8; 512];
        urandom.read_exact(&mut junk).unwrap();
        let a = raw(&sock, &junk, true);
        if let Some(c) = status_code(&a) {
            assert!((400..500).contains(&c), "random bytes -> {a}");
        }
    }
    assert!(answered >= 25 * 8, "only {answered} answers");
    assert_eq!(d.pid(), Some(pid), "the daemon changed");
    let ok = raw(
        &sock,
        b"GET /daemon/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        false,
    );
    assert_eq!(status_code(&ok), Some(200), "{ok}");
    let st = d.status();
    assert_eq!(st["pid"], pid);
    let listener = &st["subsystems"][0]["detail"];
    assert!(
        listener.as_str().is_some_and(|s| s.contains(" bad")),
        "{st}"
    );
}

#[test]
fn api_serves_a_burst_of_clients_in_turn_never_unanswered() {
    if !lab::require_root("api_serves_a_burst_of_clients_in_turn_never_unanswered") {
        return;
    }
    let lab = Lab::new(&["n1"]);
    let n1 = lab.node("n1");
    let d = Daemon::start(n1);
    let sock = d.socket();
    let get = b"GET /daemon/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

    // A burst of clients that connect and go: the requests right behind them are answered.
    for _ in 0..3000 {
        drop(UnixStream::connect(&sock).expect("connect"));
    }
    for i in 0..20 {
        let a = raw(&sock, get, false);
        assert_eq!(
            status_code(&a),
            Some(200),
            "request {i} after the burst: {a:?}"
        );
    }

    // Every slot held by an idle client: a new request waits, then is answered once one
    // of them goes, not closed unanswered.
    let idle: Vec<UnixStream> = (0..128)
        .map(|_| UnixStream::connect(&sock).expect("connect"))
        .collect();
    let waiting = {
        let sock = sock.clone();
        std::thread::spawn(move || raw(&sock, get, false))
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(!waiting.is_finished(), "answered with every slot busy?");
    drop(idle);
    let a = waiting.join().expect("request thread");
    assert_eq!(status_code(&a), Some(200), "the waiting request: {a:?}");
}
