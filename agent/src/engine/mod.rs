//! The action engine: an [`ActionRequest`] in, an [`ActionReport`] out.
//!
//! `run` takes the service lock first, then loads the config (an action never runs on a
//! config replaced by a push in between), refuses when this node is not one of the service's
//! nodes, checks under the lock that no other node runs the service before a start, and runs
//! the selected resources in order. The CLI and the daemon build the same request.

mod runner;
mod select;
#[cfg(test)]
mod tests;

use std::time::Duration;

use resources::Overrides;

pub use runner::{error_chain, ActionError, Options};
pub use select::Selection;

use crate::intent;
use crate::lock::{self, Lock};
use crate::model::Item;
use crate::paths::Root;
use crate::service::{NoSuchService, Service};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Start,
    Stop,
    /// Stop, then start.
    Restart,
}

impl Verb {
    pub fn word(self) -> &'static str {
        match self {
            Verb::Start => "start",
            Verb::Stop => "stop",
            Verb::Restart => "restart",
        }
    }

    pub fn starts(self) -> bool {
        matches!(self, Verb::Start | Verb::Restart)
    }
}

/// Which resources of the service an action takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every selected resource.
    #[default]
    All,
    /// The SCSI reservations (`<vgrid>pr`) alone: `prstart`, `prstop`.
    Reservations,
}

#[derive(Debug, Clone)]
pub struct ActionRequest {
    pub svc: String,
    pub verb: Verb,
    pub selection: Selection,
    pub scope: Scope,
    /// The action as the lock, the intent and the log name it (`startip`, `prstop`).
    pub intent: String,
    pub overrides: Overrides,
    pub dry_run: bool,
    pub disable_rollback: bool,
    /// Do not ask other nodes (a relocation's remote half: the caller checked them).
    pub local: bool,
    pub waitlock: Duration,
}

impl ActionRequest {
    pub fn new(svc: &str, verb: Verb) -> ActionRequest {
        ActionRequest {
            svc: svc.to_string(),
            verb,
            selection: Selection::default(),
            scope: Scope::All,
            intent: verb.word().to_string(),
            overrides: Overrides::default(),
            dry_run: false,
            disable_rollback: false,
            local: false,
            waitlock: Duration::from_secs(60),
        }
    }

    pub fn options(&self) -> Options {
        Options {
            disable_rollback: self.disable_rollback,
            overrides: self.overrides,
            dry_run: self.dry_run,
        }
    }
}

/// How an action ended.
#[derive(Debug)]
pub struct ActionReport {
    pub svc: String,
    pub intent: String,
    /// None: done. Some: the first failure, with its resource, command and stderr.
    pub failure: Option<ActionError>,
}

impl ActionReport {
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// Run `req`: lock, load, check, act, refresh the status cache. `Err` when the action could
/// not begin (no such service, the lock, a broken config, a selection matching nothing);
/// refusals and failures of the action itself are in the report (and logged).
pub fn run(root: &Root, req: &ActionRequest) -> anyhow::Result<ActionReport> {
    let path = root.service_conf(&req.svc);
    if !path.exists() {
        return Err(NoSuchService {
            name: req.svc.clone(),
            path,
        }
        .into());
    }
    let span = crate::logging::service_span(&req.svc);
    let _entered = span.enter();
    let held = lock::acquire(&root.lock(&req.svc), &req.intent, req.waitlock)?;
    if let Some(prev) = intent::read(root, &req.svc) {
        tracing::warn!("the previous action did not end: {}", prev.describe());
    }
    let s = Service::load(root, &req.svc)?;
    let report = |failure| ActionReport {
        svc: req.svc.clone(),
        intent: req.intent.clone(),
        failure,
    };
    let items = pick(&s, req)?;
    // Standby resources are up on every node by design: starting only them asks no peer.
    let standby_only = items.iter().all(|it| it.rc.common.standby);
    if req.verb.starts() && !req.local && !standby_only {
        if let Err(why) = crate::peers::check_exclusive(&s, &items, &req.overrides) {
            tracing::error!("{why}");
            return Ok(report(Some(ActionError::Refused(why))));
        }
    }
    Ok(report(
        act(&s, &items, req.verb, &req.options(), &held).err(),
    ))
}

/// The resources `req` acts on.
fn pick<'a>(s: &'a Service, req: &ActionRequest) -> Result<Vec<&'a Item>, ActionError> {
    let picked = s.select(&req.selection)?;
    Ok(match req.scope {
        Scope::All => picked,
        Scope::Reservations => {
            let prs: Vec<&Item> = picked
                .into_iter()
                .filter(|it| it.is_reservation())
                .collect();
            if prs.is_empty() {
                return Err(ActionError::NoMatch(format!(
                    "a SCSI reservation of service {} (set scsireserv = true on a vg resource)",
                    s.name
                )));
            }
            prs
        }
    })
}

/// Run `verb` on `items` under a lock the caller holds (and may keep after this action,
/// e.g. for the whole of a relocation), then refresh the status cache.
pub fn act(
    s: &Service,
    items: &[&Item],
    verb: Verb,
    opts: &Options,
    held: &Lock,
) -> Result<(), ActionError> {
    let ctx = s.ctx_for(opts);
    let recorded = (!opts.dry_run).then(|| intent::begin(&s.root, &s.name, held.intent()));
    let result = match verb {
        Verb::Start => s.start(&ctx, items, opts),
        Verb::Stop => s.stop(&ctx, items, opts),
        Verb::Restart => s
            .stop(&ctx, items, opts)
            .and_then(|_| s.start(&ctx, items, opts)),
    };
    ctx.invalidate();
    if let Some(r) = recorded {
        r.finish();
    }
    // Interrupted, the action stops here: no more command runs, so no status either.
    if !opts.dry_run && !resources::exec::cancelled() {
        s.cache_status(&s.status(&ctx));
    }
    result
}
