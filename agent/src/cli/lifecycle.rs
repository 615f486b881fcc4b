//! `start`, `stop`, `restart` and their per-group forms (`startip`, `stopfs`...).

use std::time::Duration;

use svcconf::Group;

use super::Cli;
use crate::engine::{Options, Selection};
use crate::exitcode;
use crate::lock;
use crate::paths::Root;
use crate::service::{Item, Service};

pub fn run(
    root: &Root,
    svc: &str,
    cli: &Cli,
    verb: &str,
    group: Option<Group>,
) -> anyhow::Result<i32> {
    let s = Service::load(root, svc)?;
    crate::logging::init(svc, Some(&root.log_file(svc)));
    if verb == "start" {
        super::relocate::refuse_if_up_elsewhere(&s, cli)?;
    }
    let sel = Selection {
        rids: cli.rid.clone(),
        tags: cli.tags.clone(),
        group,
    };
    let items = s.select(&sel)?;
    let intent = match group {
        Some(g) => format!("{verb}{}", g.name()),
        None => verb.to_string(),
    };
    Ok(if act_locked(&s, &items, cli, verb, &intent)? {
        exitcode::OK
    } else {
        exitcode::FAILED
    })
}

/// Run `verb` ("start", "stop", anything else: restart) on `items` under the service lock
/// taken with `intent`, then refresh the status cache; true when the action succeeded.
pub(super) fn act_locked(
    s: &Service,
    items: &[&Item],
    cli: &Cli,
    verb: &str,
    intent: &str,
) -> anyhow::Result<bool> {
    let _lock = lock::acquire(
        &s.root.lock(&s.name),
        intent,
        Duration::from_secs(cli.waitlock),
    )?;
    let mut ctx = s.ctx();
    ctx.force = cli.force;
    ctx.dry_run = cli.dry_run;
    let opts = Options {
        disable_rollback: cli.disable_rollback,
        force: cli.force,
    };
    let result = match verb {
        "start" => s.start(&ctx, items, &opts),
        "stop" => s.stop(&ctx, items, &opts),
        _ => s
            .stop(&ctx, items, &opts)
            .and_then(|_| s.start(&ctx, items, &opts)),
    };
    ctx.invalidate();
    if !cli.dry_run {
        s.cache_status(&s.status(&ctx));
    }
    Ok(result.is_ok())
}
