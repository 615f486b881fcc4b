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
    let lock = take_lock(&s, cli, &intent)?;
    // Under the lock: a start here and a start elsewhere checked before either took its
    // lock could both pass.
    if matches!(verb, "start" | "restart") {
        super::relocate::refuse_if_up_elsewhere(&s, cli)?;
    }
    Ok(if act_held(&s, &items, cli, verb, &lock)? {
        exitcode::OK
    } else {
        exitcode::FAILED
    })
}

/// The service lock, taken with `intent`, waiting up to `--waitlock`.
pub(super) fn take_lock(s: &Service, cli: &Cli, intent: &str) -> anyhow::Result<lock::Lock> {
    Ok(lock::acquire(
        &s.root.lock(&s.name),
        intent,
        Duration::from_secs(cli.waitlock),
    )?)
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
    let lock = take_lock(s, cli, intent)?;
    act_held(s, items, cli, verb, &lock)
}

/// `act_locked` under a lock the caller holds (and keeps after this action, e.g. for
/// the whole of a relocation).
pub(super) fn act_held(
    s: &Service,
    items: &[&Item],
    cli: &Cli,
    verb: &str,
    _held: &lock::Lock,
) -> anyhow::Result<bool> {
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
