//! `svcmgr daemon run|start|stop|restart|status|running` and `svcmgr mon`.

use std::time::Duration;

use super::{Cli, Format};
use crate::daemon::api::client;
use crate::daemon::state::{DaemonStatus, Services};
use crate::daemon::{control, pidlock};
use crate::exitcode;
use crate::paths::Root;

pub fn run(root: &Root, cli: &Cli) -> anyhow::Result<i32> {
    if cli.svc.is_some() {
        anyhow::bail!("daemon commands take no service (-s)");
    }
    let sub = cli.words.get(1).map(String::as_str).unwrap_or("");
    if cli.words.len() > 2 {
        anyhow::bail!("daemon {sub}: unexpected '{}'", cli.words[2..].join(" "));
    }
    match sub {
        "run" => crate::daemon::run(root),
        "start" => control::start(root),
        "stop" => control::stop(root),
        "restart" => control::restart(root),
        "status" => control::status(root, cli.format == Format::Json),
        "running" => Ok(control::running(root)),
        other => {
            eprintln!(
                "svcmgr: unknown daemon command '{other}': run, start, stop, restart, status or running"
            );
            Ok(exitcode::USAGE)
        }
    }
}

/// `svcmgr -s SVC print schedule`: the tasks the daemon runs for the service (read from the
/// config and the last runs' record; no daemon needed).
pub fn print_schedule(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    use crate::daemon::scheduler;
    let s = crate::service::Service::load_readonly(root, svc)?;
    let defs = scheduler::tasks(&s);
    let states = scheduler::load_states(root, svc);
    let now = chrono::Local::now().naive_local();
    if cli.format == Format::Json {
        let rows = scheduler::rows(svc, &defs, &states, now);
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", scheduler::render(svc, &defs, &states, now));
    }
    Ok(exitcode::OK)
}

/// `svcmgr -s SVC print decision`: the orchestrator's decision on the service here, in
/// full: the verdict, each blocker with its code, the last owner, a failed start.
pub fn print_decision(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    use crate::daemon::orchestrator::decide::{Fence, Verdict};
    use crate::daemon::orchestrator::DecisionView;
    crate::service::Service::load_readonly(root, svc)?;
    if pidlock::holder(root).is_none() {
        anyhow::bail!("no daemon runs on this node: nothing orchestrates {svc} here");
    }
    let path = format!("/services/{svc}/orchestration");
    let d: DecisionView =
        client::request_ok(root, "GET", &path, Duration::from_secs(10))?.json()?;
    if cli.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(exitcode::OK);
    }
    println!("{svc}: orchestrate = {}", d.orchestrate);
    println!("decision: {}", d.line);
    println!("since: {}", d.since);
    match &d.verdict {
        Verdict::Idle { .. } => println!("verdict: idle"),
        Verdict::Start { fence, .. } => println!(
            "verdict: start here, {}",
            match fence {
                Fence::None => "nothing to fence".to_string(),
                Fence::Reservation { lost } => format!("after preempting {lost}'s reservation"),
                Fence::Quorum { lost } => format!("unfenced ({lost} outside this majority)"),
            }
        ),
        Verdict::Stop { why } => println!("verdict: stop here, {why}"),
        Verdict::Blocked { blockers } => {
            println!("verdict: blocked");
            for b in blockers {
                println!("  {:<15} {}", b.code, b.detail);
            }
        }
    }
    println!("last owner: {}", d.owner.as_deref().unwrap_or("none seen"));
    if let Some(f) = &d.start_failed {
        println!(
            "start failed here: {} ({}); svcmgr -s {svc} clear to retry",
            f.time, f.detail
        );
    }
    Ok(exitcode::OK)
}

/// `svcmgr mon [--watch]`: the daemon, this node, one line per service.
pub fn mon(root: &Root, cli: &Cli) -> anyhow::Result<i32> {
    if cli.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&mon_json(root)?)?);
        return Ok(exitcode::OK);
    }
    if !cli.watch {
        print!("{}", screen(root, cli));
        return Ok(exitcode::OK);
    }
    if pidlock::holder(root).is_none() {
        print!("{}", screen(root, cli));
        anyhow::bail!("--watch needs a running daemon (its event stream)");
    }
    let clear = "\x1b[H\x1b[2J";
    print!("{clear}{}", screen(root, cli));
    let mut last = std::time::Instant::now();
    client::follow_events(root, |_line| {
        // Redraw on events, at most ten times a second.
        if last.elapsed() >= Duration::from_millis(100) {
            print!("{clear}{}", screen(root, cli));
            last = std::time::Instant::now();
        }
        true
    })?;
    Ok(exitcode::OK)
}

/// `mon --format json`: the daemon's status, services, decisions and cluster view; without
/// a daemon, `daemon` is null and the services are evaluated here.
fn mon_json(root: &Root) -> anyhow::Result<serde_json::Value> {
    let t = Duration::from_secs(10);
    if pidlock::holder(root).is_some() {
        let get = |path: &str| -> anyhow::Result<serde_json::Value> {
            Ok(client::request_ok(root, "GET", path, t)?.json()?)
        };
        return Ok(serde_json::json!({
            "daemon": get("/daemon/status")?,
            "services": get("/services")?,
            "orchestration": get("/orchestration")?,
            "cluster": get("/cluster")?,
        }));
    }
    let services: serde_json::Map<String, serde_json::Value> = super::status::evaluate_all(root)
        .iter()
        .map(|(n, r)| (n.clone(), super::status::list_entry(n, r)))
        .collect();
    Ok(serde_json::json!({ "daemon": null, "services": services }))
}

fn screen(root: &Root, cli: &Cli) -> String {
    let t = Duration::from_secs(10);
    let daemon = pidlock::holder(root).and_then(|_| {
        let st: DaemonStatus = client::request_ok(root, "GET", "/daemon/status", t)
            .ok()?
            .json()
            .ok()?;
        let svcs: Services = client::request_ok(root, "GET", "/services", t)
            .ok()?
            .json()
            .ok()?;
        Some((st, svcs))
    });
    let mut out = String::new();
    match &daemon {
        Some((st, _)) => {
            let lag = st
                .subsystems
                .iter()
                .find(|s| s.name == "monitor")
                .map_or(String::new(), |s| s.detail.clone());
            out.push_str(&format!(
                "Daemon    pid {}  up {}  {}\n",
                st.pid,
                control::human_duration(st.uptime_secs),
                lag
            ));
        }
        None => out.push_str("Daemon    not running: local status\n"),
    }
    out.push_str(&node_line());
    out.push('\n');
    out.push_str(&format!(
        "{:<24} {:<10} {:<10} {:<7} {:<11} {}\n",
        "SERVICE", "AVAIL", "OVERALL", "FROZEN", "MONITOR", "LAST ACTION"
    ));
    match daemon {
        Some((_, svcs)) => {
            for v in svcs.values() {
                let last = v.monitor.last_action.as_ref().map_or(String::new(), |l| {
                    format!("{}: {} ({})", l.action, l.result, l.at)
                });
                let last = v.error.clone().unwrap_or(last);
                out.push_str(&format!(
                    "{:<24} {:<10} {:<10} {:<7} {:<11} {}\n",
                    v.svcname,
                    v.avail.as_str(),
                    v.overall.as_str(),
                    if v.frozen { "frozen" } else { "-" },
                    v.monitor.state,
                    last
                ));
            }
        }
        None => {
            for name in root.services() {
                let line = match crate::service::Service::load_readonly(root, &name) {
                    Ok(s) => {
                        let st = s.status(&s.ctx());
                        format!(
                            "{:<24} {:<10} {:<10} {:<7} {:<11}\n",
                            name,
                            st.avail.as_str(),
                            st.overall.as_str(),
                            if st.frozen { "frozen" } else { "-" },
                            "-"
                        )
                    }
                    Err(e) => format!("{name:<24} {:<10} {e:#}\n", "undef"),
                };
                out.push_str(&line);
            }
        }
    }
    let _ = cli;
    let cluster = pidlock::holder(root).and_then(|_| {
        client::request_ok(root, "GET", "/cluster", t)
            .ok()?
            .json::<crate::daemon::hb::view::ClusterView>()
            .ok()
    });
    if let Some(c) = cluster {
        out.push('\n');
        out.push_str(&crate::daemon::hb::render::mon_tables(&c));
    }
    out
}

fn node_line() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb = |key: &str| -> u64 {
        mem.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let (total, avail) = (kb("MemTotal:"), kb("MemAvailable:"));
    format!(
        "Node      {}  load {}  mem {} MiB used of {} MiB\n",
        crate::service::hostname(),
        load.join(" "),
        total.saturating_sub(avail) / 1024,
        total / 1024
    )
}
