//! One request: checked, routed, answered. Every error is an answer with a JSON message.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use serde::Serialize;

use super::routes::{self, Query, Route, RouteError};
use super::{ApiCtx, MAX_BODY};
use crate::daemon::actions::{Origin, SubmitError};
use crate::daemon::orchestrator::Request as OrchRequest;
use crate::daemon::state::{DaemonStatus, Subsystem};

pub type Body = BoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

fn json<T: Serialize>(code: StatusCode, v: &T) -> Response<Body> {
    let mut body = serde_json::to_vec_pretty(v).unwrap_or_else(|_| b"{}".to_vec());
    body.push(b'\n');
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(full(body))
        .unwrap_or_else(|_| Response::new(full("")))
}

fn error(code: StatusCode, msg: &str) -> Response<Body> {
    json(
        code,
        &serde_json::json!({ "error": msg, "status": code.as_u16() }),
    )
}

pub async fn handle(
    req: Request<Incoming>,
    ctx: Arc<ApiCtx>,
    allowed: bool,
) -> Result<Response<Body>, Infallible> {
    ctx.stats.requests.fetch_add(1, Ordering::Relaxed);
    if !allowed {
        return Ok(error(StatusCode::FORBIDDEN, "root only"));
    }
    let resp = answer(req, &ctx).await;
    if resp.status().is_client_error() {
        ctx.stats.bad.fetch_add(1, Ordering::Relaxed);
    }
    Ok(resp)
}

async fn answer(req: Request<Incoming>, ctx: &Arc<ApiCtx>) -> Response<Body> {
    // The size first: an oversized request is refused whatever it asks for.
    if let Some(resp) = refuse_length(&req) {
        return resp;
    }
    let route = match routes::route(req.method(), req.uri().path()) {
        Ok(r) => r,
        Err(RouteError::NotFound) => {
            return error(
                StatusCode::NOT_FOUND,
                &format!("no such path: {}", req.uri().path()),
            )
        }
        Err(RouteError::MethodNotAllowed) => {
            return error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        Err(RouteError::BadRequest(m)) => return error(StatusCode::BAD_REQUEST, &m),
    };
    let query = match routes::parse_query(req.uri().query()) {
        Ok(q) => q,
        Err(m) => return error(StatusCode::BAD_REQUEST, &m),
    };
    if let Err(resp) = read_body(req).await {
        return resp;
    }
    match route {
        Route::DaemonStatus => json(StatusCode::OK, &daemon_status(ctx)),
        Route::DaemonStop => {
            tracing::info!("daemon stop requested through the api");
            ctx.token.cancel();
            json(StatusCode::OK, &serde_json::json!({ "stopping": true }))
        }
        Route::Node => json(StatusCode::OK, &node_info(ctx)),
        Route::Services => {
            let s = ctx.monitor.services.borrow().clone();
            json(StatusCode::OK, &*s)
        }
        Route::ServiceStatus(svc) => service_status(ctx, svc, &query).await,
        Route::ServiceMonitor(svc) => match ctx.monitor.services.borrow().get(&svc) {
            Some(v) => json(StatusCode::OK, &v.monitor),
            None => error(
                StatusCode::NOT_FOUND,
                &format!("no service {svc} (or not evaluated yet)"),
            ),
        },
        Route::ServiceOrchestration(svc) => match ctx.orch.decisions.borrow().get(&svc) {
            Some(d) => json(StatusCode::OK, d),
            None => error(
                StatusCode::NOT_FOUND,
                &format!("no decision on {svc} (not evaluated yet)"),
            ),
        },
        Route::Orchestration => json(StatusCode::OK, &**ctx.orch.decisions.borrow()),
        Route::Refresh(svc) => {
            ctx.monitor.refresh();
            json(
                StatusCode::ACCEPTED,
                &serde_json::json!({ "refresh": true, "svc": svc }),
            )
        }
        Route::Target(svc) => set_target(ctx, svc, &query).await,
        Route::ClusterFreeze { svc, freeze } => cluster_freeze(ctx, svc, freeze).await,
        Route::Action { svc, action } => run_action(ctx, svc, action, &query).await,
        Route::Cluster => json(StatusCode::OK, &**ctx.hb.view.borrow()),
        Route::Events => events(ctx),
    }
}

fn too_big() -> Response<Body> {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("request body over {MAX_BODY} bytes"),
    )
}

/// 413 when the declared length is over the limit (a chunked body is cut at the limit).
fn refuse_length(req: &Request<Incoming>) -> Option<Response<Body>> {
    let len = req.headers().get(hyper::header::CONTENT_LENGTH)?;
    match len.to_str().ok().and_then(|l| l.parse::<u64>().ok()) {
        Some(n) if n > MAX_BODY as u64 => Some(too_big()),
        Some(_) => None,
        None => Some(error(StatusCode::BAD_REQUEST, "bad content-length")),
    }
}

/// Requests carry no body the API uses, but one is read (bounded) so a client sending one
/// gets 413 past the limit rather than a reset.
async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Body>> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_big())
        }
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("reading the body: {e}"),
        )),
    }
}

pub fn daemon_status(ctx: &ApiCtx) -> DaemonStatus {
    let h = ctx.monitor.health.borrow().clone();
    let running = *ctx.actions.running.borrow();
    let st = &ctx.stats;
    let view = ctx.hb.view.borrow().clone();
    DaemonStatus {
        pid: ctx.pid,
        version: env!("CARGO_PKG_VERSION").to_string(),
        nodename: ctx.nodename.clone(),
        started: ctx
            .started
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        uptime_secs: ctx.started_at.elapsed().as_secs(),
        subsystems: vec![
            Subsystem {
                name: "listener".into(),
                state: if ctx.token.is_cancelled() {
                    "stopping"
                } else {
                    "running"
                }
                .into(),
                detail: format!(
                    "{} requests, {} refused, {} bad",
                    st.requests.load(Ordering::Relaxed),
                    st.refused.load(Ordering::Relaxed),
                    st.bad.load(Ordering::Relaxed)
                ),
            },
            Subsystem {
                name: "monitor".into(),
                state: if h.ticks == 0 { "starting" } else { "running" }.into(),
                detail: format!(
                    "interval {}ms, {} ticks, loop lag {}ms, last evaluation {}ms",
                    h.interval_ms, h.ticks, h.lag_ms, h.eval_ms
                ),
            },
            Subsystem {
                name: "scheduler".into(),
                state: "running".into(),
                detail: {
                    let s = ctx.scheduler.borrow().clone();
                    format!("{} tasks run, {} running", s.runs, s.running)
                },
            },
            Subsystem {
                name: "actions".into(),
                state: "running".into(),
                detail: format!("{running} running"),
            },
            hb_subsystem(&view),
        ],
        heartbeats: view.paths.clone(),
    }
}

fn hb_subsystem(view: &crate::daemon::hb::view::ClusterView) -> Subsystem {
    let (state, detail) = match &view.disabled {
        Some(why) => ("disabled", why.clone()),
        None => {
            let up = view
                .nodes
                .values()
                .filter(|n| n.state == crate::daemon::membership::PeerState::Up)
                .count();
            (
                "running",
                format!(
                    "cluster {}, {} path(s), {up}/{} nodes up",
                    view.cluster,
                    view.paths.len(),
                    view.nodes.len()
                ),
            )
        }
    };
    Subsystem {
        name: "hb".into(),
        state: state.into(),
        detail,
    }
}

fn node_info(ctx: &ApiCtx) -> serde_json::Value {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<f64> = load
        .split_whitespace()
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb = |key: &str| -> Option<u64> {
        mem.lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    serde_json::json!({
        "nodename": ctx.nodename,
        "load": load,
        "mem_total_kb": kb("MemTotal:"),
        "mem_avail_kb": kb("MemAvailable:"),
    })
}

async fn service_status(ctx: &Arc<ApiCtx>, svc: String, q: &Query) -> Response<Body> {
    if q.cached {
        return match ctx.monitor.services.borrow().get(&svc) {
            Some(v) => json(StatusCode::OK, v),
            None => error(StatusCode::NOT_FOUND, &format!("no service {svc}")),
        };
    }
    let root = ctx.root.clone();
    let name = svc.clone();
    let r = tokio::task::spawn_blocking(move || {
        let s = crate::service::Service::load_readonly(&root, &name)?;
        let st = s.status(&s.ctx());
        s.cache_status(&st);
        anyhow::Ok(st)
    })
    .await;
    match r {
        Ok(Ok(mut st)) => {
            // The heartbeats are the daemon's to tell: they join the tree and the overall.
            let (hb, entries) = crate::daemon::hb::render::hb_entries(&ctx.hb.view.borrow());
            st.hb = hb;
            st.hb_resources = entries;
            st.overall = resources::Status::merge_all([st.overall, hb]);
            json(StatusCode::OK, &st)
        }
        Ok(Err(e)) => {
            let code = if e.downcast_ref::<crate::service::NoSuchService>().is_some() {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            error(code, &crate::engine::error_chain(e.as_ref()))
        }
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the status evaluation failed",
        ),
    }
}

/// `POST /services/SVC/freeze` (`/thaw`): every node's orchestrator freezes (thaws) it.
async fn cluster_freeze(ctx: &Arc<ApiCtx>, svc: String, freeze: bool) -> Response<Body> {
    if !ctx.root.service_conf(&svc).exists() {
        return error(StatusCode::NOT_FOUND, &format!("no service {svc}"));
    }
    let req = OrchRequest::Freeze {
        svc: svc.clone(),
        freeze,
    };
    match ctx.orch.requests.send(req).await {
        Ok(()) => json(
            StatusCode::ACCEPTED,
            &serde_json::json!({ "svc": svc, "frozen": freeze }),
        ),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping"),
    }
}

/// `POST /services/SVC/target?to=N`: the orchestrators move the service to N.
async fn set_target(ctx: &Arc<ApiCtx>, svc: String, q: &Query) -> Response<Body> {
    let Some(to) = q.to.clone() else {
        return error(StatusCode::BAD_REQUEST, "target needs ?to=NODE");
    };
    let cfg = ctx
        .monitor
        .services
        .borrow()
        .get(&svc)
        .and_then(|v| v.orch.clone());
    let Some(cfg) = cfg else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("no service {svc} (or not evaluated yet)"),
        );
    };
    if cfg.mode == svcconf::Orchestrate::No {
        return error(
            StatusCode::CONFLICT,
            &format!("{svc} has orchestrate=no: the daemons do not move it"),
        );
    }
    if !cfg.nodes.contains(&to) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("{to} is not one of {svc}'s nodes ({})", cfg.nodes.join(" ")),
        );
    }
    let req = OrchRequest::Target {
        svc: svc.clone(),
        to: to.clone(),
    };
    match ctx.orch.requests.send(req).await {
        Ok(()) => json(
            StatusCode::ACCEPTED,
            &serde_json::json!({ "svc": svc, "target": to }),
        ),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping"),
    }
}

async fn run_action(ctx: &Arc<ApiCtx>, svc: String, action: String, q: &Query) -> Response<Body> {
    if !ctx.root.service_conf(&svc).exists() {
        return error(StatusCode::NOT_FOUND, &format!("no service {svc}"));
    }
    let args = match routes::action_args(&action, q) {
        Ok(a) => a,
        Err(m) => return error(StatusCode::BAD_REQUEST, &m),
    };
    let submit_err = |e: SubmitError| error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
    if q.wait {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let id = match ctx.actions.submit(&svc, args, Origin::Api, Some(tx)).await {
            Ok(id) => id,
            Err(e) => return submit_err(e),
        };
        match rx.await {
            Ok(o) => json(
                StatusCode::OK,
                &serde_json::json!({ "id": id, "exit_code": o.code, "output": o.output }),
            ),
            Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping"),
        }
    } else {
        match ctx.actions.submit(&svc, args, Origin::Api, None).await {
            Ok(id) => json(
                StatusCode::ACCEPTED,
                &serde_json::json!({ "id": id, "accepted": true }),
            ),
            Err(e) => submit_err(e),
        }
    }
}

/// Newline-delimited JSON, one event a line, until the client goes or the daemon stops. A
/// client too slow to keep up misses events and gets a line saying how many.
fn events(ctx: &Arc<ApiCtx>) -> Response<Body> {
    let mut rx = ctx.events.subscribe();
    let token = ctx.token.clone();
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(16);
    tokio::spawn(async move {
        loop {
            let line = tokio::select! {
                _ = token.cancelled() => break,
                r = rx.recv() => match r {
                    Ok(ev) => serde_json::to_string(&ev).unwrap_or_default(),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        serde_json::json!({ "kind": "lagged", "missed": n }).to_string()
                    }
                    Err(_) => break,
                },
            };
            if tx
                .send(Frame::data(Bytes::from(line + "\n")))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/x-ndjson")
        .body(body.boxed())
        .unwrap_or_else(|_| Response::new(full("")))
}
