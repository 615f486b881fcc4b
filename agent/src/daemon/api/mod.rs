//! The local API: HTTP/1.1 + JSON on the unix socket `R/var/lsnr/api.sock`, mode 0600, root
//! only (the peer's uid from SO_PEERCRED; others get 403, logged). Requests are bounded
//! (headers read within a timeout, bodies up to 1 MiB, a cap on connections); whatever
//! arrives malformed gets an error answer, never a panic.

pub mod client;
mod handlers;
pub mod routes;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::UnixListener;
use tokio::sync::{broadcast, Semaphore};
use tokio_util::sync::CancellationToken;

use super::actions::ActionsHandle;
use super::monitor::MonitorHandle;
use super::state::Event;
use crate::paths::Root;

/// Largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// Connections served at once; more wait in the socket's listen backlog, unaccepted (a burst
/// of clients is served in turn, never closed unanswered).
const MAX_CONNS: usize = 128;
/// A client has this long to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

pub fn socket_path(root: &Root) -> PathBuf {
    root.var.join("lsnr").join("api.sock")
}

/// What the handlers read; each piece is owned by its subsystem.
pub struct ApiCtx {
    pub root: Root,
    pub pid: u32,
    pub nodename: String,
    pub started: chrono::DateTime<chrono::Local>,
    pub started_at: Instant,
    pub monitor: MonitorHandle,
    pub scheduler: tokio::sync::watch::Receiver<super::scheduler::SchedulerHealth>,
    pub actions: ActionsHandle,
    pub hb: super::hb::HbHandle,
    pub orch: super::orchestrator::OrchHandle,
    pub events: broadcast::Sender<Event>,
    pub token: CancellationToken,
    pub stats: Stats,
}

/// Counters of refused and failed requests, and a rate limit on the lines logging them.
#[derive(Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub refused: AtomicU64,
    pub bad: AtomicU64,
    /// Times every connection slot was busy and accepting waited for one.
    pub full: AtomicU64,
    last_log: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl Stats {
    /// Log `msg` at most once a second; the lines dropped in between are counted in the next.
    pub fn log_limited(&self, msg: &str) {
        let mut last = self.last_log.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|l| now.duration_since(l) < Duration::from_secs(1)) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = Some(now);
        let n = self.suppressed.swap(0, Ordering::Relaxed);
        if n > 0 {
            tracing::warn!("api: {msg} ({n} similar lines suppressed)");
        } else {
            tracing::warn!("api: {msg}");
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("can not listen on {}", path.display())]
pub struct ListenError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Bind the socket (a stale one from a dead daemon is replaced: we hold the daemon lock) and
/// make it mode 0600. A client connecting in between still meets the uid check.
pub fn bind(root: &Root) -> Result<UnixListener, ListenError> {
    let path = socket_path(root);
    let err = |source| ListenError {
        path: path.clone(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(err)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).map_err(err)?;
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let l = UnixListener::bind(&path).map_err(err)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(l)
}

/// Serve until the token is cancelled.
pub async fn serve(listener: UnixListener, ctx: Arc<ApiCtx>) {
    let conns = Arc::new(Semaphore::new(MAX_CONNS));
    loop {
        let permit = match conns.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                ctx.stats.full.fetch_add(1, Ordering::Relaxed);
                ctx.stats.log_limited(&format!(
                    "{MAX_CONNS} connections open: new ones wait until one ends"
                ));
                tokio::select! {
                    _ = ctx.token.cancelled() => break,
                    p = conns.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                }
            }
        };
        let accepted = tokio::select! {
            _ = ctx.token.cancelled() => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                ctx.stats.log_limited(&format!("accept: {e}"));
                // EMFILE and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let uid = stream.peer_cred().ok().map(|c| c.uid());
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let allowed = uid == Some(0);
            if !allowed {
                ctx.stats.refused.fetch_add(1, Ordering::Relaxed);
                ctx.stats.log_limited(&format!(
                    "refused a client with uid {}: root only (403)",
                    uid.map_or("unknown".to_string(), |u| u.to_string())
                ));
            }
            let svc_ctx = ctx.clone();
            let service = hyper::service::service_fn(move |req| {
                handlers::handle(req, svc_ctx.clone(), allowed)
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        ctx.stats.bad.fetch_add(1, Ordering::Relaxed);
                        ctx.stats.log_limited(&format!("connection: {e}"));
                    }
                }
                _ = ctx.token.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
                }
            }
        });
    }
    let _ = std::fs::remove_file(socket_path(&ctx.root));
}
