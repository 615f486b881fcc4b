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
pub fn print_schedule(root: &Root, svc: &str) -> anyhow::Result<i32> {
    use crate::daemon::scheduler;
    let s = crate::service::Service::load_readonly(root, svc)?;
    let defs = scheduler::tasks(&s);
    let states = scheduler::load_states(root, svc);
    let now = chrono::Local::now().naive_local();
    print!("{}", scheduler::render(svc, &defs, &states, now));
    Ok(exitcode::OK)
}

/// `svcmgr mon [--watch]`: the daemon, this node, one line per service.
pub fn mon(root: &Root, cli: &Cli) -> anyhow::Result<i32> {
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
