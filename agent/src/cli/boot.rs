//! `boot`: run at host boot, before the daemon starts anything. LVM may have autoactivated
//! the shared volume groups on every node after a power cut (and this node's key may still
//! be registered from before): deactivate each service's VGs and release its reservations
//! here, unless something of the service already runs on this node.

use resources::Status;
use svcconf::Group;

use super::lifecycle::{code, request};
use super::Cli;
use crate::engine::{self, Verb};
use crate::exitcode;
use crate::paths::Root;
use crate::service::Service;

pub fn boot(root: &Root, svc: Option<&str>, cli: &Cli) -> anyhow::Result<i32> {
    let svcs = match svc {
        Some(s) => vec![s.to_string()],
        None => root.services(),
    };
    let mut worst = exitcode::OK;
    for svc in &svcs {
        match boot_one(root, svc, cli) {
            Ok(c) => worst = worst.max(c),
            Err(e) => {
                eprintln!("svcmgr: {svc}: boot: {}", engine::error_chain(e.as_ref()));
                worst = exitcode::FAILED;
            }
        }
    }
    Ok(worst)
}

fn boot_one(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    let s = Service::load_readonly(root, svc)?;
    if !s.items.iter().any(|it| it.rc.group == Group::Vg) {
        return Ok(exitcode::OK);
    }
    let st = s.status(&s.ctx());
    let running: Vec<&str> = st
        .resources
        .iter()
        .filter(|r| !r.rtype.starts_with("vg") && matches!(r.status, Status::Up | Status::Warn))
        .map(|r| r.rid.as_str())
        .collect();
    if !running.is_empty() {
        println!(
            "{svc}: boot: {} up on this node: volume groups left as they are",
            running.join(", ")
        );
        return Ok(exitcode::OK);
    }
    let mut req = request(svc, cli, Verb::Stop);
    req.selection = cli.selection(Some(Group::Vg));
    req.intent = "boot".into();
    req.local = true;
    Ok(code(&engine::run(root, &req)?))
}
