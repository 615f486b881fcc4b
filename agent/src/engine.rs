//! The action engine: select resources, run them in order with their triggers, roll back
//! what a failed start started.

use resources::exec::{self, Cmd};
use resources::{Ctx, Resource};
use svcconf::{Group, Trigger};

use crate::service::{Item, Service};

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("{rid}: {source}")]
    Resource {
        rid: String,
        #[source]
        source: Box<resources::Error>,
    },
    #[error("{rid}: blocking {hook} trigger failed")]
    Trigger {
        rid: String,
        hook: &'static str,
        #[source]
        source: Box<exec::ExecError>,
    },
    #[error("no resource matches {0}")]
    NoMatch(String),
}

/// Which resources an action applies to.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    /// `--rid ip#1,fs`: exact rids or group names; a vg's rid also selects its reservation
    /// (`vg#1` selects `vg#1pr`: a VG is never activated unguarded).
    pub rids: Vec<String>,
    /// `--tags a,b`: resources carrying any of them.
    pub tags: Vec<String>,
    /// Set by `startip`-style actions.
    pub group: Option<Group>,
}

impl Selection {
    fn matches(&self, it: &Item) -> bool {
        let rid_ok = self.rids.is_empty()
            || self.rids.iter().any(|r| {
                r == &it.rc.rid
                    || Group::from_name(r).is_some_and(|g| g == it.rc.group)
                    || (matches!(it.res, Resource::Pr(_))
                        && it.rc.rid.strip_suffix("pr") == Some(r.as_str()))
            });
        let tag_ok =
            self.tags.is_empty() || self.tags.iter().any(|t| it.rc.common.tags.contains(t));
        let group_ok = self.group.is_none_or(|g| g == it.rc.group);
        rid_ok && tag_ok && group_ok
    }

    fn describe(&self) -> String {
        let mut v = Vec::new();
        if !self.rids.is_empty() {
            v.push(format!("--rid {}", self.rids.join(",")));
        }
        if !self.tags.is_empty() {
            v.push(format!("--tags {}", self.tags.join(",")));
        }
        if let Some(g) = self.group {
            v.push(format!("group {}", g.name()));
        }
        v.join(" ")
    }
}

#[derive(Debug, Default, Clone)]
pub struct Options {
    pub disable_rollback: bool,
    pub force: bool,
}

impl Service {
    pub fn select(&self, sel: &Selection) -> Result<Vec<&Item>, ActionError> {
        let v: Vec<&Item> = self.items.iter().filter(|it| sel.matches(it)).collect();
        if v.is_empty() && (!sel.rids.is_empty() || !sel.tags.is_empty()) {
            return Err(ActionError::NoMatch(sel.describe()));
        }
        Ok(v)
    }

    /// Start `items` in order. On a failure of a non-optional resource, stop what this
    /// action started, in reverse order, unless rollback is disabled.
    pub fn start(&self, ctx: &Ctx, items: &[&Item], opts: &Options) -> Result<(), ActionError> {
        let mut started: Vec<&Item> = Vec::new();
        for it in items {
            if it.rc.common.disable {
                tracing::info!(rid = it.rid(), "disabled, skip");
                continue;
            }
            let result = start_one(ctx, it);
            ctx.invalidate();
            match result {
                Ok(true) => started.push(it),
                Ok(false) => {}
                Err(f) if it.rc.common.optional => {
                    tracing::warn!(
                        rid = it.rid(),
                        "optional resource failed, continuing: {}",
                        f.error
                    );
                }
                Err(f) => {
                    let e = f.error;
                    tracing::error!(rid = it.rid(), "{}", error_chain(&e));
                    // The failed resource itself may be (partly) up: it is undone first.
                    if f.maybe_up {
                        started.push(it);
                    }
                    if opts.disable_rollback {
                        tracing::warn!("rollback disabled: resources started so far stay up");
                    } else if !started.is_empty() {
                        tracing::info!("rollback: stop what this action started");
                        for s in started.iter().rev() {
                            if let Err(re) = stop_one(ctx, s) {
                                tracing::error!(rid = s.rid(), "rollback: {}", error_chain(&re));
                            }
                            ctx.invalidate();
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Stop `items` in reverse start order; stops at the first non-optional failure.
    /// Standby resources stay up unless forced.
    pub fn stop(&self, ctx: &Ctx, items: &[&Item], opts: &Options) -> Result<(), ActionError> {
        for it in items.iter().rev() {
            if it.rc.common.disable {
                tracing::info!(rid = it.rid(), "disabled, skip");
                continue;
            }
            if it.rc.common.standby && !opts.force {
                tracing::info!(
                    rid = it.rid(),
                    "standby resource stays up (use --force to stop it)"
                );
                continue;
            }
            let result = stop_one(ctx, it);
            ctx.invalidate();
            match result {
                Ok(_) => {}
                Err(e) if it.rc.common.optional => {
                    tracing::warn!(rid = it.rid(), "optional resource failed, continuing: {e}");
                }
                Err(e) => {
                    tracing::error!(rid = it.rid(), "{}", error_chain(&e));
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// A failed start, and whether it may have left its resource (partly) up: the driver ran
/// and failed, or it started the resource and the post_start trigger failed.
struct StartFailure {
    error: ActionError,
    maybe_up: bool,
}

fn start_one(ctx: &Ctx, it: &Item) -> Result<bool, StartFailure> {
    let t = &it.rc.common.triggers;
    let failed = |error, maybe_up| StartFailure { error, maybe_up };
    trigger(ctx, it, "pre_start", t.pre_start.as_ref()).map_err(|e| failed(e, false))?;
    let changed = it.res.driver().start(ctx).map_err(|source| {
        let error = ActionError::Resource {
            rid: it.rid().to_string(),
            source: Box::new(source),
        };
        failed(error, true)
    })?;
    // A resource that was up before this action stays up when only its trigger failed.
    trigger(ctx, it, "post_start", t.post_start.as_ref()).map_err(|e| failed(e, changed))?;
    Ok(changed)
}

fn stop_one(ctx: &Ctx, it: &Item) -> Result<bool, ActionError> {
    let t = &it.rc.common.triggers;
    trigger(ctx, it, "pre_stop", t.pre_stop.as_ref())?;
    let changed = it
        .res
        .driver()
        .stop(ctx)
        .map_err(|source| ActionError::Resource {
            rid: it.rid().to_string(),
            source: Box::new(source),
        })?;
    trigger(ctx, it, "post_stop", t.post_stop.as_ref())?;
    Ok(changed)
}

/// Run a trigger; a failing blocking trigger aborts the action, others only warn.
fn trigger(
    ctx: &Ctx,
    it: &Item,
    hook: &'static str,
    t: Option<&Trigger>,
) -> Result<(), ActionError> {
    let Some(t) = t else { return Ok(()) };
    let cmd = Cmd::new(t.argv.clone())
        .timeout(exec::DEFAULT_TIMEOUT)
        .env("SVCMGR_SVCNAME", &ctx.svcname)
        .env("SVCMGR_RID", it.rid())
        .env("SVCMGR_HOOK", hook);
    match ctx.change(it.rid(), &cmd) {
        Ok(_) => Ok(()),
        Err(source) if t.blocking => Err(ActionError::Trigger {
            rid: it.rid().to_string(),
            hook,
            source: Box::new(source),
        }),
        Err(e) => {
            tracing::warn!(rid = it.rid(), "{hook} trigger failed, continuing: {e}");
            Ok(())
        }
    }
}

/// "outer: inner: innermost", each level once.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
