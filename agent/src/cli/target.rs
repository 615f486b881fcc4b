//! `switch --to N`, `takeover`, `giveback` through the daemons: with a daemon running its
//! heartbeats here and `orchestrate = start|ha`, the local daemon sets a switch target that
//! every orchestrator carries out (the node running the service stops it, then the target
//! starts it); `--wait` returns once it is done, or fails with the reason it can not be.
//! Otherwise the switch runs from here over ssh, as without a daemon.

use std::time::{Duration, Instant};

use crate::daemon::api::client;
use crate::daemon::orchestrator::DecisionView;
use crate::exitcode;
use crate::paths::Root;
use crate::service::Service;

/// How long `--wait` waits for a switch.
const WAIT_MAX: Duration = Duration::from_secs(600);
const T: Duration = Duration::from_secs(10);

pub enum Dest {
    To(String),
    /// This node.
    Here,
    /// The first of `nodes`.
    Preferred,
}

/// None: no daemon orchestrates the service here; the caller switches over ssh.
pub fn through_daemon(
    root: &Root,
    svc: &str,
    dest: Dest,
    wait: bool,
) -> Option<anyhow::Result<i32>> {
    let s = Service::load_readonly(root, svc).ok()?;
    if s.cfg.orchestrate == svcconf::Orchestrate::No || !client::heartbeats_running(root) {
        return None;
    }
    let to = match dest {
        Dest::To(n) => n,
        Dest::Here => s.node.nodename.clone(),
        Dest::Preferred => s.cfg.nodes.first()?.clone(),
    };
    Some(request(root, svc, &to, wait))
}

fn request(root: &Root, svc: &str, to: &str, wait: bool) -> anyhow::Result<i32> {
    let path = format!("/services/{svc}/target?to={to}");
    client::request_ok(root, "POST", &path, T)?;
    if !wait {
        println!(
            "{svc}: switch to {to} handed to the daemons (svcmgr -s {svc} print decision to \
             follow it)"
        );
        return Ok(exitcode::OK);
    }
    let done = format!("up on {to}");
    let deadline = Instant::now() + WAIT_MAX;
    let mut last = String::new();
    let mut switching = false;
    loop {
        let path = format!("/services/{svc}/orchestration");
        let d: Option<DecisionView> = client::request_ok(root, "GET", &path, T)
            .ok()
            .and_then(|a| a.json().ok());
        if let Some(d) = d {
            if d.line != last {
                eprintln!("{svc}: {}", d.line);
                last = d.line.clone();
            }
            if d.line == done {
                return Ok(exitcode::OK);
            }
            if d.line.contains("can not take it") {
                anyhow::bail!("{svc}: {}", d.line);
            }
            if d.line.contains("switch") {
                switching = true;
            } else if switching && !d.line.contains("running here") {
                anyhow::bail!("{svc}: the switch to {to} was given up: {}", d.line);
            }
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "{svc}: the switch to {to} is not done after {} s (last: {last})",
                WAIT_MAX.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
