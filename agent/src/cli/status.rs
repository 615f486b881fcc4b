//! `print status`, `status`, `ls`.

use std::io::IsTerminal;

use super::{Cli, ColorChoice, Format};
use crate::exitcode;
use crate::paths::Root;
use crate::render;
use crate::service::Service;

pub fn use_color(c: ColorChoice) -> bool {
    match c {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stdout().is_terminal(),
    }
}

/// Through the daemon's API when one runs (the tree is then followed by the monitor's
/// state), else evaluated here; stderr says which.
pub fn print_status(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    if let Some(h) = crate::daemon::pidlock::holder(root).filter(|_| !cli.refresh) {
        match via_daemon(root, svc) {
            Ok((st, mon, orch)) => {
                match cli.format {
                    Format::Json => println!("{}", serde_json::to_string_pretty(&st)?),
                    Format::Text => {
                        print!("{}", render::tree(&st, use_color(cli.color)));
                        if let Some(m) = mon {
                            println!("{}", monitor_line(&m));
                        }
                        if let Some(d) = orch {
                            println!("orchestrate: {}, {}", d.orchestrate, d.line);
                        }
                    }
                }
                eprintln!("status source: daemon (pid {})", h.pid);
                return Ok(exitcode::OK);
            }
            Err(e) if e.downcast_ref::<crate::service::NoSuchService>().is_some() => return Err(e),
            Err(e) => eprintln!(
                "warning: the daemon (pid {}) did not answer: {}",
                h.pid,
                crate::engine::error_chain(e.as_ref())
            ),
        }
    }
    let s = Service::load_readonly(root, svc)?;
    let st = s.status(&s.ctx());
    s.cache_status(&st);
    match cli.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&st)?),
        Format::Text => print!("{}", render::tree(&st, use_color(cli.color))),
    }
    if cli.refresh {
        eprintln!("status source: local evaluation (--refresh)");
    } else {
        eprintln!("status source: local evaluation (no daemon answering)");
    }
    Ok(exitcode::OK)
}

type DaemonAnswer = (
    crate::model::SvcStatus,
    Option<crate::daemon::state::MonitorView>,
    Option<crate::daemon::orchestrator::DecisionView>,
);

fn via_daemon(root: &Root, svc: &str) -> anyhow::Result<DaemonAnswer> {
    use crate::daemon::api::client::{request, request_ok};
    let t = std::time::Duration::from_secs(60);
    let a = request(root, "GET", &format!("/services/{svc}/status"), t)?;
    if a.status == 404 && !root.service_conf(svc).exists() {
        return Err(crate::service::NoSuchService {
            name: svc.to_string(),
            path: root.service_conf(svc),
        }
        .into());
    }
    let a = if a.status == 200 {
        a
    } else {
        request_ok(root, "GET", &format!("/services/{svc}/status"), t)?
    };
    let st = a.json()?;
    let mon = request_ok(root, "GET", &format!("/services/{svc}/monitor"), t)
        .ok()
        .and_then(|a| a.json().ok());
    let orch = request_ok(root, "GET", &format!("/services/{svc}/orchestration"), t)
        .ok()
        .and_then(|a| a.json().ok());
    Ok((st, mon, orch))
}

/// `monitor  watching  container#1 3/3 restarts left  last: restart container#1 ok (...)`
pub fn monitor_line(m: &crate::daemon::state::MonitorView) -> String {
    let mut s = format!("monitor: {}", m.state);
    for (rid, r) in &m.restarts {
        s.push_str(&format!(", {rid} {}/{} restarts left", r.left, r.of));
    }
    if let Some(l) = &m.last_action {
        s.push_str(&format!(", last: {} {} ({})", l.action, l.result, l.at));
    }
    s
}

/// Exit code = the overall status code; nothing printed. A service that cannot be loaded
/// (missing or broken config) is undef (5), never a clean "down": the error goes to stderr.
pub fn status_code(root: &Root, svc: &str) -> anyhow::Result<i32> {
    let s = match Service::load_readonly(root, svc) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("svcmgr: error: {}", crate::engine::error_chain(e.as_ref()));
            return Ok(resources::Status::Undef.code());
        }
    };
    let st = s.status(&s.ctx());
    s.cache_status(&st);
    Ok(st.overall.code())
}

/// Every service of the root evaluated here (in parallel), or why its config does not load.
pub fn evaluate_all(root: &Root) -> Vec<(String, Result<crate::model::SvcStatus, String>)> {
    let names = root.services();
    std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                scope.spawn(move || match Service::load_readonly(root, name) {
                    Ok(s) => Ok(s.status(&s.ctx())),
                    Err(e) => Err(format!("{e:#}")),
                })
            })
            .collect();
        names
            .iter()
            .cloned()
            .zip(handles.into_iter().map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("status evaluation failed".into()))
            }))
            .collect()
    })
}

/// One service of `ls --format json` (and `mon --format json` without a daemon).
pub fn list_entry(name: &str, r: &Result<crate::model::SvcStatus, String>) -> serde_json::Value {
    match r {
        Ok(st) => serde_json::json!({
            "svcname": name,
            "avail": st.avail,
            "overall": st.overall,
            "frozen": st.frozen,
            "error": null,
        }),
        Err(e) => serde_json::json!({
            "svcname": name,
            "avail": resources::Status::Undef,
            "overall": resources::Status::Undef,
            "frozen": false,
            "error": e,
        }),
    }
}

pub fn ls(root: &Root, cli: &Cli) -> anyhow::Result<i32> {
    let color = use_color(cli.color);
    let evaluated = evaluate_all(root);
    if cli.format == Format::Json {
        let list: Vec<serde_json::Value> =
            evaluated.iter().map(|(n, r)| list_entry(n, r)).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(exitcode::OK);
    }
    for (name, r) in &evaluated {
        let line = match r {
            Ok(st) => render::ls_line(name, Some(st), None, color),
            Err(e) => render::ls_line(name, None, Some(e), color),
        };
        println!("{line}");
    }
    Ok(exitcode::OK)
}
