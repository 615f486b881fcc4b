//! Heartbeat labs: node.toml with `[cluster]` and `[[hb]]` for every node of a lab, the
//! daemons of all nodes (stopped on drop), and the daemon's `GET /cluster` read through
//! its API socket.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lab::{wait_until, Lab, Node, OutputExt};

pub const PORT: u16 = 10000;

/// Heartbeat timing of a lab.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub interval: &'static str,
    pub timeout: &'static str,
}

pub const FAST: Timing = Timing {
    interval: "250ms",
    timeout: "1s",
};
pub const DEFAULTS: Timing = Timing {
    interval: "1s",
    timeout: "3s",
};

/// `me`'s node.toml: every other lab node under `[nodes.X]`, a unicast path, and a disk path
/// on `disk` when given.
pub fn node_toml(lab: &Lab, me: &Node, t: Timing, disk: Option<&str>) -> String {
    node_toml_with(lab, me, t, disk, "")
}

/// `node_toml` with `top` (top-level keys, e.g. `monitor_interval = "1h"`) added.
pub fn node_toml_with(lab: &Lab, me: &Node, t: Timing, disk: Option<&str>, top: &str) -> String {
    let mut s = format!(
        "nodename = \"{}\"\nmaintenance_grace_period = \"60s\"\nrejoin_grace_period = \"5s\"\n\
         {top}[cluster]\nname = \"{}\"\nsecret = \"lab secret\"\n",
        me.name,
        lab.id()
    );
    for n in lab.nodes().iter().filter(|n| n.name != me.name) {
        s.push_str(&format!("[nodes.{}]\naddr = \"{}\"\n", n.name, n.ip));
    }
    let timing = format!(
        "interval = \"{}\"\ntimeout = \"{}\"\n",
        t.interval, t.timeout
    );
    s.push_str(&format!(
        "[[hb]]\ntype = \"unicast\"\nport = {PORT}\n{timing}"
    ));
    if let Some(dev) = disk {
        s.push_str(&format!(
            "[[hb]]\ntype = \"disk\"\ndev = \"{dev}\"\n{timing}"
        ));
    }
    s
}

/// The daemons of every node of a lab, stopped (killed if need be) on drop.
pub struct Daemons<'a> {
    nodes: Vec<&'a Node>,
}

impl<'a> Daemons<'a> {
    pub fn start(lab: &'a Lab, t: Timing, disk: Option<&str>) -> Daemons<'a> {
        Daemons::start_with(lab, t, disk, "")
    }

    /// `start` with top-level node.toml keys added.
    pub fn start_with(lab: &'a Lab, t: Timing, disk: Option<&str>, top: &str) -> Daemons<'a> {
        let mut d = Daemons { nodes: Vec::new() };
        for n in lab.nodes() {
            std::fs::write(n.node_toml(), node_toml_with(lab, n, t, disk, top))
                .expect("write node.toml");
            d.nodes.push(n);
            n.svcmgr(&["daemon", "start"]).assert_ok("daemon start");
        }
        d
    }
}

impl Drop for Daemons<'_> {
    fn drop(&mut self) {
        for n in &self.nodes {
            stop_daemon(n);
        }
    }
}

pub fn daemon_pid(n: &Node) -> Option<i32> {
    let lock = std::fs::read_to_string(n.root.join("var/daemon/lock")).ok()?;
    lock.split_whitespace().next()?.parse().ok()
}

/// `daemon stop`, else SIGKILL to the pid in the daemon's lock file.
pub fn stop_daemon(n: &Node) {
    let o = n.svcmgr(&["daemon", "stop"]);
    if o.status.success() {
        return;
    }
    if let Some(pid) = daemon_pid(n) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// `GET path` on the node's API socket (as root, like the CLI).
pub fn api(n: &Node, path: &str) -> Option<Value> {
    let mut s = UnixStream::connect(n.root.join("var/lsnr/api.sock")).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (_, body) = buf.split_once("\r\n\r\n")?;
    serde_json::from_str(body).ok()
}

/// The state word `from` shows for node `of` ("" when the daemon does not answer).
pub fn state(from: &Node, of: &str) -> String {
    api(from, "/cluster")
        .and_then(|v| v["nodes"][of]["state"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Datagrams dropped for `reason`, every path added up.
pub fn dropped(n: &Node, reason: &str) -> u64 {
    path_sum(n, |p| p["dropped"][reason].as_u64())
}

/// A per-path counter (`sent`, `bytes_sent`...), every path added up.
pub fn path_sum(n: &Node, f: impl Fn(&Value) -> Option<u64>) -> u64 {
    api(n, "/cluster")
        .and_then(|v| Some(v["paths"].as_array()?.iter().filter_map(&f).sum()))
        .unwrap_or(0)
}

/// Time from `since` until `from` shows `of` as `want`; None after `wait`.
pub fn time_until(
    from: &Node,
    of: &str,
    want: &str,
    since: Instant,
    wait: Duration,
) -> Option<Duration> {
    wait_until(wait, &format!("{} sees {of} {want}", from.name), || {
        state(from, of) == want
    })
    .then(|| since.elapsed())
}

/// eth0 of the node up or down.
pub fn link(n: &Node, up: bool) {
    n.sh(&["ip", "link", "set", "eth0", if up { "up" } else { "down" }])
        .assert_ok("ip link set");
}
