//! `freeze` / `thaw`: a frozen service is left alone by the daemon's orchestration; manual
//! actions still work. `clear`: forget a failed start, so this node is a failover
//! candidate again.

use anyhow::Context;

use super::Cli;
use crate::exitcode;
use crate::lock;
use crate::paths::{write_atomic, Root};
use crate::service::Service;

/// Here, then (without `--local`) on every node through the daemons when a daemon runs its
/// heartbeats here.
pub fn freeze(root: &Root, svc: &str, cli: &Cli, freeze: bool) -> anyhow::Result<i32> {
    let _span = crate::logging::service_span(svc).entered();
    let intent = if freeze { "freeze" } else { "thaw" };
    let lock = lock::acquire(&root.lock(svc), intent, cli.waitlock())?;
    // Recorded like any action: the daemon's monitor takes it as the operator's word.
    let s = Service::load_readonly(root, svc)?;
    let recorded = crate::intent::begin(root, svc, intent);
    let result = set_flag(&s.frozen_flag(), freeze);
    recorded.finish();
    drop(lock);
    if result.is_ok() && !cli.local {
        tell_the_cluster(root, svc, intent);
    }
    result
}

fn tell_the_cluster(root: &Root, svc: &str, intent: &str) {
    use crate::daemon::api::client;
    let t = std::time::Duration::from_secs(10);
    if !client::heartbeats_running(root) {
        tracing::info!(
            "{intent}: this node only (no daemon with heartbeats here to tell the others)"
        );
        return;
    }
    match client::request_ok(root, "POST", &format!("/services/{svc}/{intent}"), t) {
        Ok(_) => {
            tracing::info!("{intent}: the daemons apply it on every node (--local: this node only)")
        }
        Err(e) => tracing::warn!(
            "{intent}: done here, but the daemon did not take it for the other nodes: {e}"
        ),
    }
}

fn set_flag(flag: &std::path::Path, freeze: bool) -> anyhow::Result<i32> {
    match (freeze, flag.exists()) {
        (true, true) => tracing::info!("already frozen"),
        (false, false) => tracing::info!("already thawed"),
        (true, false) => {
            write_atomic(flag, chrono::Local::now().to_rfc3339().as_bytes())
                .with_context(|| format!("create {}", flag.display()))?;
            tracing::info!("frozen: the daemon will not start or fail over this service");
        }
        (false, true) => {
            std::fs::remove_file(flag).with_context(|| format!("remove {}", flag.display()))?;
            tracing::info!("thawed");
        }
    }
    Ok(exitcode::OK)
}

/// `clear`: remove the failed-start mark the orchestrator left on this node.
pub fn clear(root: &Root, svc: &str) -> anyhow::Result<i32> {
    let _span = crate::logging::service_span(svc).entered();
    Service::load_readonly(root, svc)?;
    let file = crate::daemon::orchestrator::marks::start_failed_file(root, svc);
    let was = crate::daemon::orchestrator::marks::load_start_failed(root, svc);
    if crate::daemon::orchestrator::marks::clear(root, svc)
        .with_context(|| format!("remove {}", file.display()))?
    {
        let when = was.map(|w| format!(" (failed {}: {})", w.time, w.detail));
        tracing::info!(
            "cleared the failed start{}: this node is a candidate again",
            when.unwrap_or_default()
        );
    } else {
        tracing::info!("no failed start to clear");
    }
    Ok(exitcode::OK)
}
