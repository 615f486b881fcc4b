//! `start`, `stop`, `restart` and their per-group forms (`startip`, `stopfs`...): the
//! command line turned into an engine request.

use svcconf::Group;

use super::Cli;
use crate::engine::{self, ActionReport, ActionRequest, Verb};
use crate::exitcode;
use crate::paths::Root;

pub fn run(
    root: &Root,
    svc: &str,
    cli: &Cli,
    verb: &str,
    group: Option<Group>,
) -> anyhow::Result<i32> {
    let v = match verb {
        "start" => Verb::Start,
        "stop" => Verb::Stop,
        _ => Verb::Restart,
    };
    let mut req = request(svc, cli, v);
    req.selection = cli.selection(group);
    req.intent = match group {
        Some(g) => format!("{verb}{}", g.name()),
        None => verb.to_string(),
    };
    Ok(code(&engine::run(root, &req)?))
}

/// `startstandby`: the `standby = true` resources, which are up on every node.
pub fn startstandby(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    let s = crate::service::Service::load_readonly(root, svc)?;
    if !s.items.iter().any(|it| it.rc.common.standby) {
        println!("{svc}: no standby resource");
        return Ok(exitcode::OK);
    }
    let mut req = request(svc, cli, Verb::Start);
    req.selection.standby_only = true;
    req.intent = "startstandby".into();
    Ok(code(&engine::run(root, &req)?))
}

/// The request for `verb` with the command line's options.
pub(super) fn request(svc: &str, cli: &Cli, verb: Verb) -> ActionRequest {
    ActionRequest {
        selection: cli.selection(None),
        overrides: cli.overrides(),
        dry_run: cli.dry_run,
        disable_rollback: cli.disable_rollback,
        local: cli.local,
        waitlock: cli.waitlock(),
        ..ActionRequest::new(svc, verb)
    }
}

/// The exit code of an action: 0 done, 1 failed or refused (the error was logged).
pub(super) fn code(r: &ActionReport) -> i32 {
    if r.ok() {
        exitcode::OK
    } else {
        exitcode::FAILED
    }
}
