//! The per-host daemon: one per root. Subsystems are tasks behind small handles (the API
//! listener, the monitor, the actions runner); state is published on `watch` channels,
//! events on a bounded broadcast channel; one cancellation token stops everything. Actions
//! run as child processes of this binary. Starting or stopping the daemon never starts or
//! stops a service: a new daemon adopts what it finds.

pub mod actions;
pub mod api;
pub mod control;
pub mod evaluate;
pub mod hb;
pub mod membership;
pub mod monitor;
pub mod orchestrator;
pub mod pidlock;
pub mod scheduler;
pub mod state;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::paths::Root;

/// Events kept for slow readers of the stream before they lag.
const EVENTS_BUFFER: usize = 256;

/// `svcmgr daemon run`: the daemon in the foreground until SIGTERM, SIGINT or `daemon stop`.
pub fn run(root: &Root) -> anyhow::Result<i32> {
    let lock = pidlock::acquire(root)?;
    let node = crate::service::load_node(root)?;
    let exe = std::env::current_exe().context("can not find this program's own path")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .context("can not start the async runtime")?;
    let r = rt.block_on(serve(root.clone(), node, exe));
    // Children may still run (they hold their own locks): do not wait for them.
    rt.shutdown_timeout(Duration::from_secs(2));
    drop(lock);
    r
}

async fn serve(
    root: Root,
    node: svcconf::NodeConfig,
    exe: std::path::PathBuf,
) -> anyhow::Result<i32> {
    let token = CancellationToken::new();
    let (events, _) = broadcast::channel(EVENTS_BUFFER);
    let listener = api::bind(&root)?;
    let interval = node.monitor_interval();
    tracing::info!(
        "daemon starting: pid {}, node {}, monitor_interval {:?}",
        std::process::id(),
        node.nodename,
        interval
    );
    let (actions, actions_task) = actions::spawn(exe, events.clone(), token.clone());
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let (mon, mon_task) = monitor::Monitor {
        root: root.clone(),
        interval,
        actions: actions.clone(),
        events: events.clone(),
        token: token.clone(),
        progress: watchdog(),
    }
    .spawn(first_tx);
    let (sched, sched_task) = scheduler::spawn(root.clone(), actions.clone(), token.clone());
    let (local_tx, local_rx) = tokio::sync::watch::channel(Default::default());
    let (hb, hb_task) = hb::Heartbeats {
        root: root.clone(),
        node: node.clone(),
        services: mon.services.clone(),
        orch: local_rx,
        events: events.clone(),
        token: token.clone(),
    }
    .spawn();
    let (orch, orch_task) = orchestrator::Orchestrator {
        root: root.clone(),
        node: node.clone(),
        monitor: mon.clone(),
        cluster: hb.view.clone(),
        actions: actions.clone(),
        events: events.clone(),
        token: token.clone(),
        local: local_tx,
    }
    .spawn();
    let ctx = Arc::new(api::ApiCtx {
        root: root.clone(),
        pid: std::process::id(),
        nodename: node.nodename.clone(),
        started: chrono::Local::now(),
        started_at: Instant::now(),
        monitor: mon,
        scheduler: sched,
        actions,
        hb,
        orch,
        events: events.clone(),
        token: token.clone(),
        stats: api::Stats::default(),
    });
    let api_task = tokio::spawn(api::serve(listener, ctx));
    let ready_token = token.clone();
    tokio::spawn(async move {
        // The socket listens already; ready once every service was evaluated once.
        if first_rx.await.is_ok() && !ready_token.is_cancelled() {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
            tracing::info!("daemon ready");
        }
    });
    let mut ev = state::Event::new("daemon", None);
    ev.message = Some("started".into());
    let _ = events.send(ev);
    wait_for_stop(&token).await;
    tracing::info!("daemon stopping (services are left as they are)");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    token.cancel();
    for (name, t) in [
        ("api", api_task),
        ("monitor", mon_task),
        ("scheduler", sched_task),
        ("hb", hb_task),
        ("orchestrator", orch_task),
        ("actions", actions_task),
    ] {
        if tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .is_err()
        {
            tracing::warn!("daemon: the {name} task did not stop in time");
        }
    }
    tracing::info!("daemon stopped");
    Ok(crate::exitcode::OK)
}

async fn wait_for_stop(token: &CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        token.cancelled().await;
        return;
    };
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = term.recv() => return,
            _ = int.recv() => return,
            // A closed terminal is no reason to stop.
            _ = hup.recv() => continue,
        }
    }
}

/// The systemd watchdog hook: `WATCHDOG=1` at most every half period, sent only from the
/// monitor loop as it progresses. Without a watchdog, a no-op.
fn watchdog() -> monitor::Progress {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return Box::new(|| {});
    };
    let half = period / 2;
    let mut last: Option<Instant> = None;
    Box::new(move || {
        if last.is_none_or(|l| l.elapsed() >= half) {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            last = Some(Instant::now());
        }
    })
}
