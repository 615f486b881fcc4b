//! Running selected resources in order with their triggers, and rolling back what a failed
//! start started.

use resources::exec::{self, Cmd};
use resources::scsireserv::Pr;
use resources::{Ctx, Override, Overrides};
use svcconf::Trigger;

use crate::model::Item;
use crate::service::Service;

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
    /// A safety check said no; the message names the override that would pass it.
    #[error("{0}")]
    Refused(String),
}

#[derive(Debug, Default, Clone)]
pub struct Options {
    pub disable_rollback: bool,
    pub overrides: Overrides,
    pub dry_run: bool,
}

impl Service {
    /// The config's `rollback` (default true); false is --disable-rollback.
    fn rollback(&self) -> bool {
        !matches!(
            self.cfg.defaults.get("rollback"),
            Some(svcconf::Setting {
                value: svcconf::Value::Bool(false),
                ..
            })
        )
    }

    /// Start `items` in order, the resources of a parallel subset at once. On a failure of
    /// a non-optional resource, stop what this action started, in reverse order, unless
    /// rollback is disabled.
    pub fn start(&self, ctx: &Ctx, items: &[&Item], opts: &Options) -> Result<(), ActionError> {
        let mut started: Vec<&Item> = Vec::new();
        // Optional vgs whose reservation failed: they are not activated without their fence.
        let mut unfenced: Vec<&str> = Vec::new();
        for batch in self.batches(items) {
            let mut runnable: Vec<&Item> = Vec::new();
            for it in batch {
                if it.rc.common.disable {
                    tracing::info!(rid = it.rid(), "disabled, skip");
                } else if unfenced.contains(&it.rid()) {
                    tracing::warn!(
                        rid = it.rid(),
                        "not activated: its reservation {} failed",
                        Pr::rid_of(it.rid())
                    );
                } else {
                    runnable.push(it);
                }
            }
            let mut failure = None;
            for (it, result) in runnable.iter().zip(run_batch(ctx, &runnable, start_one)) {
                let guarded = optional_guarded(items, it);
                match result {
                    Ok(true) => started.push(it),
                    Ok(false) => {}
                    Err(f) if guarded.is_some() => {
                        tracing::warn!(
                            rid = it.rid(),
                            "reservation failed, the optional {} will not be activated: {}",
                            guarded.unwrap_or_default(),
                            error_chain(&f.error)
                        );
                        unfenced.extend(guarded);
                    }
                    Err(f) if it.rc.common.optional => {
                        tracing::warn!(
                            rid = it.rid(),
                            "optional resource failed, continuing: {}",
                            f.error
                        );
                    }
                    Err(f) => {
                        tracing::error!(rid = it.rid(), "{}", error_chain(&f.error));
                        // The failed resource itself may be (partly) up: it is undone first.
                        if f.maybe_up {
                            started.push(it);
                        }
                        failure.get_or_insert(f.error);
                    }
                }
            }
            if let Some(e) = failure {
                self.roll_back(ctx, &started, opts);
                return Err(e);
            }
        }
        Ok(())
    }

    fn roll_back(&self, ctx: &Ctx, started: &[&Item], opts: &Options) {
        if exec::cancelled() {
            tracing::warn!(
                "interrupted: no rollback, resources started so far stay as they are (the \
                 intent says where the action stopped)"
            );
        } else if opts.disable_rollback || !self.rollback() {
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
    }

    /// Stop `items` in reverse start order, the resources of a parallel subset at once;
    /// stops after the first non-optional failure. Standby resources stay up unless forced.
    pub fn stop(&self, ctx: &Ctx, items: &[&Item], opts: &Options) -> Result<(), ActionError> {
        let reversed: Vec<&Item> = items.iter().rev().copied().collect();
        for batch in self.batches(&reversed) {
            let mut runnable: Vec<&Item> = Vec::new();
            for it in batch {
                if it.rc.common.disable {
                    tracing::info!(rid = it.rid(), "disabled, skip");
                } else if it.rc.common.standby
                    && !opts.overrides.overrides(
                        Override::StopStandby,
                        Some(it.rid()),
                        "standby resource",
                    )
                {
                    tracing::info!(
                        rid = it.rid(),
                        "standby resource stays up (use --stop-standby to stop it)"
                    );
                } else {
                    runnable.push(it);
                }
            }
            let mut failure = None;
            for (it, result) in runnable.iter().zip(run_batch(ctx, &runnable, stop_one)) {
                match result {
                    Ok(_) => {}
                    Err(e) if it.rc.common.optional => {
                        tracing::warn!(rid = it.rid(), "optional resource failed, continuing: {e}");
                    }
                    Err(e) => {
                        tracing::error!(rid = it.rid(), "{}", error_chain(&e));
                        failure.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = failure {
                return Err(e);
            }
        }
        Ok(())
    }

    /// `items` cut into what runs together: the consecutive resources of one parallel
    /// subset, else one resource at a time.
    fn batches<'a>(&self, items: &[&'a Item]) -> Vec<Vec<&'a Item>> {
        let key = |it: &Item| {
            self.cfg
                .parallel(&it.rc)
                .then(|| (it.rc.group, it.rc.str("subset").map(str::to_string)))
        };
        let mut out: Vec<Vec<&Item>> = Vec::new();
        for it in items {
            let k = key(it);
            match out.last_mut() {
                Some(last) if k.is_some() && key(last[0]) == k => last.push(it),
                _ => out.push(vec![it]),
            }
        }
        out
    }
}

/// Run `f` on every item of a batch: in order for one, each on its own thread for more
/// (in the caller's log span); the results in the items' order.
fn run_batch<'a, T: Send>(ctx: &Ctx, batch: &[&'a Item], f: fn(&Ctx, &Item) -> T) -> Vec<T> {
    if batch.len() <= 1 {
        return batch
            .iter()
            .map(|it| {
                let r = f(ctx, it);
                ctx.invalidate();
                r
            })
            .collect();
    }
    let span = tracing::Span::current();
    let out = std::thread::scope(|scope| {
        let handles: Vec<_> = batch
            .iter()
            .map(|it| {
                let span = span.clone();
                scope.spawn(move || {
                    let _entered = span.enter();
                    f(ctx, it)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    ctx.invalidate();
    out
}

/// The rid of the optional vg `pr` guards, when `pr` is a reservation.
fn optional_guarded<'a>(items: &[&'a Item], pr: &Item) -> Option<&'a str> {
    if !pr.is_reservation() {
        return None;
    }
    items
        .iter()
        .find(|v| !v.is_reservation() && Pr::rid_of(v.rid()) == pr.rid())
        .filter(|v| v.rc.common.optional)
        .map(|v| v.rid())
}

/// A failed start, and whether it may have left its resource (partly) up: the driver ran
/// and failed, or it started the resource and the post_start trigger failed.
struct StartFailure {
    error: ActionError,
    maybe_up: bool,
}

fn start_one(ctx: &Ctx, it: &Item) -> Result<bool, StartFailure> {
    crate::intent::step(it.rid());
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
    crate::intent::step(it.rid());
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
    // A trigger gets the time its resource's action gets.
    let timeout = it
        .rc
        .duration(if hook.ends_with("start") {
            "start_timeout"
        } else {
            "stop_timeout"
        })
        .unwrap_or(exec::DEFAULT_TIMEOUT);
    let cmd = Cmd::new(t.argv.clone())
        .timeout(timeout)
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
