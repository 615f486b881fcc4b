//! Moving a service between nodes: `switch --to NODE`, `takeover`, `giveback`, and the
//! check made before any start that the service is not already up on another node.
//!
//! Remote invocations pass `--local`, so the peer does not probe back.

use anyhow::Context;
use resources::Status;

use super::status::use_color;
use super::Cli;
use crate::engine::error_chain;
use crate::exitcode;
use crate::paths::Root;
use crate::render;
use crate::service::Service;
use crate::ssh::{run_all, Peer, RemoteRun, Session, SshError};

/// Refuse a start while another node of `nodes` reports the service up (or partly up).
/// Peers that cannot be asked are skipped, with a warning.
pub fn refuse_if_up_elsewhere(s: &Service, cli: &Cli) -> anyhow::Result<()> {
    if cli.force || cli.local {
        return Ok(());
    }
    let names: Vec<String> = s
        .cfg
        .nodes
        .iter()
        .filter(|n| **n != s.node.nodename)
        .cloned()
        .collect();
    let up: Vec<String> = peer_avail(s, &names, RemoteRun::PROBE)
        .into_iter()
        .filter_map(|(name, st)| st.filter(|st| is_running(*st)).map(|_| name))
        .collect();
    if !up.is_empty() {
        anyhow::bail!(
            "service {} is up on {}: not starting it here too (use --force to start anyway, \
             or switch/takeover to move it)",
            s.name,
            up.join(", ")
        );
    }
    Ok(())
}

/// Up, or partly up: starting elsewhere would run it twice.
fn is_running(st: Status) -> bool {
    matches!(st, Status::Up | Status::Warn)
}

/// The avail status of the service on each of `names`, asked in parallel. None (with a
/// warning logged) when the peer could not tell.
fn peer_avail(s: &Service, names: &[String], t: RemoteRun) -> Vec<(String, Option<Status>)> {
    let peers: Vec<Peer> = names.iter().map(|n| Peer::new(&s.node, n)).collect();
    let args = [
        "-s",
        s.name.as_str(),
        "print",
        "status",
        "--format",
        "json",
        "--local",
    ];
    run_all(&peers, &args, t)
        .into_iter()
        .zip(names)
        .map(|(r, name)| {
            let st = match r {
                Ok((0, out)) => match avail_from_json(&out) {
                    Some(st) => Some(st),
                    None => {
                        tracing::warn!("{name}: unreadable status answer, skipped");
                        None
                    }
                },
                // No such service there, or a broken config: it does not run it.
                Ok((_, _)) => Some(Status::Down),
                Err(e) => {
                    tracing::warn!(
                        "{}; can not tell whether the service runs there, skipped",
                        error_chain(&e)
                    );
                    None
                }
            };
            (name.clone(), st)
        })
        .collect()
}

/// `avail` of a `print status --format json` answer (warnings may precede the document).
fn avail_from_json(out: &str) -> Option<Status> {
    let start = out
        .find("\n{")
        .map(|i| i + 1)
        .or_else(|| out.starts_with('{').then_some(0))?;
    let v: serde_json::Value = serde_json::Deserializer::from_str(&out[start..])
        .into_iter()
        .next()?
        .ok()?;
    serde_json::from_value(v.get("avail")?.clone()).ok()
}

/// Start or stop the whole service here, under the lock; true on success.
fn act_local(s: &Service, cli: &Cli, verb: &str) -> anyhow::Result<bool> {
    let items: Vec<_> = s.items.iter().collect();
    super::lifecycle::act_locked(s, &items, cli, verb, verb)
}

/// Run `svcmgr -s SVC <verb> --local` on a peer, its lines prefixed with its name.
fn act_remote(s: &Service, cli: &Cli, peer: &Peer, verb: &str) -> bool {
    act_remote_on(s, cli, peer, verb, peer.connect(RemoteRun::ACTION))
}

/// `act_remote` on a session opened beforehand.
fn act_remote_on(
    s: &Service,
    cli: &Cli,
    peer: &Peer,
    verb: &str,
    sess: Result<Session, SshError>,
) -> bool {
    let wait = cli.waitlock.to_string();
    let mut args = vec!["-s", s.name.as_str(), verb, "--local", "--waitlock", &wait];
    if cli.disable_rollback {
        args.push("--disable-rollback");
    }
    tracing::info!("{verb} on {}", peer.name());
    let name = peer.name().to_string();
    match peer.run_on(sess, &args, None, RemoteRun::ACTION, |l| {
        println!("{name}: {l}")
    }) {
        Ok(0) => true,
        Ok(code) => {
            tracing::error!("{verb} on {name} failed (exit code {code})");
            false
        }
        Err(e) => {
            tracing::error!("{verb} on {name} failed: {}", error_chain(&e));
            false
        }
    }
}

/// This node's status tree and the peers' (asked in parallel), lines prefixed by node.
fn print_statuses(s: &Service, cli: &Cli, peers: &[Peer]) {
    let color = if use_color(cli.color) {
        "always"
    } else {
        "never"
    };
    let args = [
        "-s",
        s.name.as_str(),
        "print",
        "status",
        "--local",
        "--color",
        color,
    ];
    let (local, remote) = std::thread::scope(|sc| {
        let h = sc.spawn(|| run_all(peers, &args, RemoteRun::QUERY));
        let st = s.status(&s.ctx());
        s.cache_status(&st);
        (render::tree(&st, use_color(cli.color)), h.join())
    });
    for l in local.lines() {
        println!("{}: {l}", s.node.nodename);
    }
    for (p, r) in peers.iter().zip(remote.unwrap_or_default()) {
        match r {
            Ok((_, out)) => out.lines().for_each(|l| println!("{}: {l}", p.name())),
            Err(e) => println!("{}: status unavailable: {}", p.name(), error_chain(&e)),
        }
    }
}

fn load(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<Service> {
    if cli.dry_run {
        // Half of a relocation runs on another node: a dry run could not be honest.
        anyhow::bail!("--dry-run is not supported by switch, takeover and giveback");
    }
    let s = Service::load(root, svc)?;
    crate::logging::init(svc, Some(&root.log_file(svc)));
    Ok(s)
}

pub fn switch(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    let to = cli
        .to
        .clone()
        .context("switch needs the destination: switch --to NODE")?;
    let s = load(root, svc, cli)?;
    relocate_to(&s, cli, &to)
}

/// Stop here, start on `to`; restart here when that fails (unless rollback is disabled).
fn relocate_to(s: &Service, cli: &Cli, to: &str) -> anyhow::Result<i32> {
    let here = &s.node.nodename;
    if to == here {
        anyhow::bail!("{to} is this node: use start");
    }
    if !s.cfg.all_nodes().iter().any(|n| n == to) {
        anyhow::bail!(
            "{to} is not a node of service {} (nodes: {}; drpnodes: {})",
            s.name,
            s.cfg.nodes.join(" "),
            s.cfg.drpnodes.join(" ")
        );
    }
    let peer = Peer::new(&s.node, to);
    // Connect to the destination while stopping here: the ssh handshake leaves the
    // critical path of the relocation.
    let (stopped, sess) = std::thread::scope(|sc| {
        let pre = sc.spawn(|| peer.connect(RemoteRun::ACTION));
        let stopped = act_local(s, cli, "stop");
        (stopped, pre.join())
    });
    if !stopped? {
        tracing::error!("stop on {here} failed: not starting on {to}");
        return Ok(exitcode::FAILED);
    }
    let sess = sess.map_err(|_| anyhow::anyhow!("ssh connect thread to {to} panicked"))?;
    let ok = act_remote_on(s, cli, &peer, "start", sess);
    if !ok {
        rollback(s, cli, here)?;
    }
    print_statuses(s, cli, std::slice::from_ref(&peer));
    Ok(if ok { exitcode::OK } else { exitcode::FAILED })
}

/// After a failed start elsewhere: start again here, and say so.
fn rollback(s: &Service, cli: &Cli, here: &str) -> anyhow::Result<()> {
    if cli.disable_rollback {
        tracing::warn!("rollback disabled: the service stays down on {here}");
        return Ok(());
    }
    tracing::info!("rollback: start the service again on {here}");
    if act_local(s, cli, "start")? {
        tracing::info!("rollback: the service is up again on {here}");
    } else {
        tracing::error!("rollback: start on {here} failed too");
    }
    Ok(())
}

pub fn takeover(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    let s = load(root, svc, cli)?;
    take_here(&s, cli)
}

/// Stop the service where it runs, then start it here; when the start here fails, start it
/// again where it was.
fn take_here(s: &Service, cli: &Cli) -> anyhow::Result<i32> {
    let here = s.node.nodename.clone();
    let names: Vec<String> = crate::sync::peers(s);
    let owners: Vec<Peer> = peer_avail(s, &names, RemoteRun::QUERY)
        .into_iter()
        .filter(|(_, st)| st.is_some_and(is_running))
        .map(|(n, _)| Peer::new(&s.node, &n))
        .collect();
    if owners.is_empty() {
        tracing::info!("the service runs on no other node");
    }
    for o in &owners {
        if !act_remote(s, cli, o, "stop") {
            tracing::error!("stop on {} failed: not starting on {here}", o.name());
            print_statuses(s, cli, &owners);
            return Ok(exitcode::FAILED);
        }
    }
    let ok = act_local(s, cli, "start")?;
    if !ok {
        if cli.disable_rollback {
            tracing::warn!("rollback disabled: the service stays down where it was");
        } else {
            for o in &owners {
                tracing::info!("rollback: start the service again on {}", o.name());
                act_remote(s, cli, o, "start");
            }
        }
    }
    print_statuses(s, cli, &owners);
    Ok(if ok { exitcode::OK } else { exitcode::FAILED })
}

/// Back to the first node of `nodes`, run from any node.
pub fn giveback(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    let s = load(root, svc, cli)?;
    let first = s
        .cfg
        .nodes
        .first()
        .cloned()
        .context("giveback needs a nodes list")?;
    if first == s.node.nodename {
        return take_here(&s, cli);
    }
    if is_running(s.status(&s.ctx()).avail) {
        return relocate_to(&s, cli, &first);
    }
    let names = crate::sync::peers(&s);
    let states = peer_avail(&s, &names, RemoteRun::QUERY);
    if states
        .iter()
        .any(|(n, st)| *n == first && st.is_some_and(is_running))
    {
        tracing::info!("the service already runs on {first}");
        return Ok(exitcode::OK);
    }
    let first_peer = Peer::new(&s.node, &first);
    let owner = states
        .into_iter()
        .find(|(_, st)| st.is_some_and(is_running))
        .map(|(n, _)| Peer::new(&s.node, &n));
    let ok = match &owner {
        // The owner moves it: its stop and the start on the first node stay one switch.
        Some(o) => {
            let wait = cli.waitlock.to_string();
            let mut args = vec!["-s", s.name.as_str(), "switch", "--to", &first];
            args.extend(["--waitlock", &wait]);
            if cli.disable_rollback {
                args.push("--disable-rollback");
            }
            tracing::info!("switch on {} to {first}", o.name());
            let name = o.name().to_string();
            matches!(
                o.run(&args, None, RemoteRun::ACTION, |l| println!("{name}: {l}")),
                Ok(0)
            )
        }
        None => {
            tracing::info!("the service runs nowhere: start it on {first}");
            let ok = act_remote(&s, cli, &first_peer, "start");
            print_statuses(&s, cli, std::slice::from_ref(&first_peer));
            ok
        }
    };
    Ok(if ok { exitcode::OK } else { exitcode::FAILED })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avail_is_read_past_leading_warnings() {
        let doc = "{\n  \"svcname\": \"web\",\n  \"avail\": \"up\",\n  \"overall\": \"warn\"\n}\n";
        assert_eq!(avail_from_json(doc), Some(Status::Up));
        let warned = format!("warning: node.toml:3: unknown key 'x', ignored\n{doc}");
        assert_eq!(avail_from_json(&warned), Some(Status::Up));
        assert_eq!(
            avail_from_json("{\"avail\": \"stdby up\"}"),
            Some(Status::StdbyUp)
        );
        assert_eq!(avail_from_json("svcmgr: error: no such service\n"), None);
        assert_eq!(avail_from_json("{\"avail\": \"sideways\"}"), None);
    }

    #[test]
    fn partly_up_counts_as_running() {
        assert!(is_running(Status::Up));
        assert!(is_running(Status::Warn));
        assert!(!is_running(Status::Down));
        assert!(!is_running(Status::StdbyUp));
        assert!(!is_running(Status::NotApplicable));
    }
}
