//! Moving a service between nodes: `switch --to NODE`, `takeover`, `giveback`, and the
//! check made before any start that the service is not already up on another node.
//!
//! A relocation holds this node's service lock from start to end (stop here, start there,
//! rollback), so no local start can slip in between. That cannot deadlock: the peer only
//! takes its own lock and status probes take none. Remote actions pass `--local`: the
//! peer does not probe back, so whoever asks it to start checks the other nodes first.
//!
//! A remote action that failed after the command reached the peer (connection lost,
//! timeout, killed by a signal, non-zero exit) may have done part of its work: the peer is
//! asked again on a fresh connection, and the service is started back here only when it
//! reports the service down there.

mod probe;

use std::io::Write;

use anyhow::Context;
use resources::Status;

use super::lifecycle::{act_held, take_lock};
use super::status::use_color;
use super::Cli;
use crate::engine::error_chain;
use crate::exitcode;
use crate::lock::Lock;
use crate::paths::Root;
use crate::render;
use crate::service::Service;
use crate::ssh::{run_all, Peer, RemoteRun, Session, SshError};
use probe::{is_down, is_running, peer_states, verdict, PeerState};

/// A console line. Written, never panicking: a closed stdout must not abort a relocation
/// half way (the lines also go to the log file).
fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Refuse a start while another node of nodes + drpnodes reports the service up (or partly
/// up), or while a node that was reached could not tell. Unreachable nodes are skipped,
/// with a warning. Run under the service lock.
pub fn refuse_if_up_elsewhere(s: &Service, cli: &Cli) -> anyhow::Result<()> {
    if cli.force || cli.local {
        return Ok(());
    }
    let v = check_others(s, &[]);
    if !v.up.is_empty() {
        anyhow::bail!(
            "service {} is up on {}: not starting it here too (use --force to start anyway, \
             or switch/takeover to move it)",
            s.name,
            v.up.join(", ")
        );
    }
    if !v.unknown.is_empty() {
        anyhow::bail!(
            "can not tell whether service {} runs on {} (see the warnings above): not \
             starting it here (use --force to start anyway)",
            s.name,
            v.unknown.join(", ")
        );
    }
    Ok(())
}

/// Probe every node of nodes + drpnodes but this one and `except`.
fn check_others(s: &Service, except: &[&str]) -> probe::Verdict {
    let names: Vec<String> = others(s)
        .into_iter()
        .filter(|n| !except.contains(&n.as_str()))
        .collect();
    verdict(&peer_states(s, &names, RemoteRun::PROBE))
}

/// nodes + drpnodes but this node.
fn others(s: &Service) -> Vec<String> {
    s.cfg
        .all_nodes()
        .into_iter()
        .filter(|n| *n != s.node.nodename)
        .collect()
}

/// The service's avail on this node.
fn local_avail(s: &Service) -> Status {
    s.status(&s.ctx()).avail
}

/// Start or stop the whole service here, under the held lock; true on success.
fn act_local(s: &Service, cli: &Cli, verb: &str, lock: &Lock) -> anyhow::Result<bool> {
    let items: Vec<_> = s.items.iter().collect();
    act_held(s, &items, cli, verb, lock)
}

/// How a remote action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Remote {
    Done,
    /// Failed before the command reached the peer: nothing was done there.
    NotRun,
    /// Failed after: the peer may have done part of it.
    Failed,
}

/// Run `svcmgr -s SVC <verb> --local` on a peer, its lines prefixed with its name.
fn act_remote(s: &Service, cli: &Cli, peer: &Peer, verb: &str) -> Remote {
    let t = RemoteRun::action(cli.waitlock, 1);
    act_remote_on(s, cli, peer, verb, peer.connect(t))
}

/// `act_remote` on a session opened beforehand.
fn act_remote_on(
    s: &Service,
    cli: &Cli,
    peer: &Peer,
    verb: &str,
    sess: Result<Session, SshError>,
) -> Remote {
    let wait = cli.waitlock.to_string();
    let mut args = vec!["-s", s.name.as_str(), verb, "--local", "--waitlock", &wait];
    if cli.disable_rollback {
        args.push("--disable-rollback");
    }
    tracing::info!("{verb} on {}", peer.name());
    relay(peer, sess, &args, RemoteRun::action(cli.waitlock, 1), verb)
}

/// Run `svcmgr args...` on `peer` over `sess`, relaying its lines; `what` names it in
/// the error logged on failure.
fn relay(
    peer: &Peer,
    sess: Result<Session, SshError>,
    args: &[&str],
    t: RemoteRun,
    what: &str,
) -> Remote {
    let name = peer.name().to_string();
    match peer.run_on(sess, args, None, t, |l| say(format_args!("{name}: {l}"))) {
        Ok(0) => Remote::Done,
        Ok(code) => {
            tracing::error!("{what} on {name} failed (exit code {code})");
            Remote::Failed
        }
        Err(e) => {
            tracing::error!("{what} on {name} failed: {}", error_chain(&e));
            if e.may_have_run() {
                Remote::Failed
            } else {
                Remote::NotRun
            }
        }
    }
}

/// After a remote action that failed: is the service down on `peer`? Asked on a fresh
/// connection. Nothing else (up, partly up, no answer) lets the caller start it elsewhere;
/// an ERROR says so.
fn down_after_failure(s: &Service, peer: &Peer, outcome: Remote) -> bool {
    if outcome == Remote::NotRun {
        return true;
    }
    let name = peer.name().to_string();
    let st = peer_states(s, std::slice::from_ref(&name), RemoteRun::QUERY)
        .pop()
        .map(|(_, st)| st);
    match st {
        Some(PeerState::Known(st)) if is_down(st) => {
            tracing::info!("the service is {st} on {name}");
            true
        }
        Some(PeerState::Known(st)) => {
            tracing::error!(
                "the service state on {name} is unknown (avail {st} after a failed action): \
                 check {name}, and start or stop it where it should run"
            );
            false
        }
        _ => {
            tracing::error!(
                "the service state on {name} is unknown (no answer after a failed action): \
                 check {name}, and start or stop it where it should run"
            );
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
    let here = &s.node.nodename;
    for l in local.lines() {
        say(format_args!("{here}: {l}"));
    }
    for (p, r) in peers.iter().zip(remote.unwrap_or_default()) {
        let name = p.name();
        match r {
            Ok(c) => c
                .stderr
                .lines()
                .chain(c.stdout.lines())
                .for_each(|l| say(format_args!("{name}: {l}"))),
            Err(e) => say(format_args!(
                "{name}: status unavailable: {}",
                error_chain(&e)
            )),
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
    check_destination(&s, &to)?;
    let lock = take_lock(&s, cli, &format!("switch --to {to}"))?;
    relocate_to(&s, cli, &to, &lock)
}

fn check_destination(s: &Service, to: &str) -> anyhow::Result<()> {
    if to == s.node.nodename {
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
    Ok(())
}

/// Stop here, start on `to`; start here again when that fails and `to` reports the
/// service down (unless rollback is disabled). Under the held service lock.
fn relocate_to(s: &Service, cli: &Cli, to: &str, lock: &Lock) -> anyhow::Result<i32> {
    let here = s.node.nodename.clone();
    // The remote start skips its own peer check (--local): when the service is not up
    // here, make sure no third node runs it before starting it on `to`.
    if !cli.force && !is_running(local_avail(s)) {
        let v = check_others(s, &[to]);
        if !v.up.is_empty() {
            anyhow::bail!(
                "service {} is up on {}, not on {here}: switch from there (or takeover on {to})",
                s.name,
                v.up.join(", ")
            );
        }
        if !v.unknown.is_empty() {
            anyhow::bail!(
                "can not tell whether service {} runs on {} (see the warnings above): not \
                 starting it on {to} (use --force to switch anyway)",
                s.name,
                v.unknown.join(", ")
            );
        }
    }
    let peer = Peer::new(&s.node, to);
    let t = RemoteRun::action(cli.waitlock, 1);
    // Connect to the destination while stopping here: the ssh handshake leaves the
    // critical path of the relocation.
    let (stopped, sess) = std::thread::scope(|sc| {
        let pre = sc.spawn(|| peer.connect(t));
        let stopped = act_local(s, cli, "stop", lock);
        (stopped, pre.join())
    });
    if !stopped? {
        tracing::error!("stop on {here} failed: not starting on {to}");
        return Ok(exitcode::FAILED);
    }
    let sess = sess.map_err(|_| anyhow::anyhow!("ssh connect thread to {to} panicked"))?;
    let outcome = act_remote_on(s, cli, &peer, "start", sess);
    if outcome != Remote::Done {
        if cli.disable_rollback {
            tracing::warn!("rollback disabled: the service stays down on {here}");
        } else if down_after_failure(s, &peer, outcome) {
            rollback(s, cli, &here, lock)?;
        } else {
            tracing::error!("not starting the service on {here} again: it may run on {to}");
        }
    }
    print_statuses(s, cli, std::slice::from_ref(&peer));
    Ok(if outcome == Remote::Done {
        exitcode::OK
    } else {
        exitcode::FAILED
    })
}

/// After a failed start elsewhere: start again here, and say so.
fn rollback(s: &Service, cli: &Cli, here: &str, lock: &Lock) -> anyhow::Result<()> {
    tracing::info!("rollback: start the service again on {here}");
    if act_local(s, cli, "start", lock)? {
        tracing::info!("rollback: the service is up again on {here}");
    } else {
        tracing::error!("rollback: start on {here} failed too");
    }
    Ok(())
}

pub fn takeover(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    let s = load(root, svc, cli)?;
    let lock = take_lock(&s, cli, "takeover")?;
    take_here(&s, cli, &lock)
}

/// Stop the service where it runs, then start it here; when the start here fails, start it
/// again where it was. Under the held service lock.
fn take_here(s: &Service, cli: &Cli, lock: &Lock) -> anyhow::Result<i32> {
    let here = s.node.nodename.clone();
    let states = peer_states(s, &others(s), RemoteRun::QUERY);
    let v = verdict(&states);
    if !v.unknown.is_empty() && !cli.force {
        anyhow::bail!(
            "can not tell whether service {} runs on {} (see the warnings above): not \
             taking it over (use --force to take it anyway)",
            s.name,
            v.unknown.join(", ")
        );
    }
    let owners: Vec<Peer> = v.up.iter().map(|n| Peer::new(&s.node, n)).collect();
    if owners.is_empty() {
        tracing::info!("the service runs on no other node");
    }
    for o in &owners {
        let outcome = act_remote(s, cli, o, "stop");
        if outcome != Remote::Done {
            let why = match outcome {
                Remote::NotRun => "",
                _ => " (the service may still run there)",
            };
            tracing::error!("stop on {} failed{why}: not starting on {here}", o.name());
            print_statuses(s, cli, &owners);
            return Ok(exitcode::FAILED);
        }
    }
    let ok = act_local(s, cli, "start", lock)?;
    if !ok {
        if cli.disable_rollback {
            tracing::warn!("rollback disabled: the service stays down where it was");
        } else {
            for o in &owners {
                tracing::info!("rollback: start the service again on {}", o.name());
                match act_remote(s, cli, o, "start") {
                    Remote::Done => {
                        tracing::info!("rollback: the service is up again on {}", o.name())
                    }
                    // When it is not down there, its state is unknown (logged).
                    outcome => {
                        if down_after_failure(s, o, outcome) {
                            tracing::error!("rollback: start on {} failed too", o.name());
                        }
                    }
                }
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
    let lock = take_lock(&s, cli, "giveback")?;
    if first == s.node.nodename {
        return take_here(&s, cli, &lock);
    }
    if is_running(local_avail(&s)) {
        return relocate_to(&s, cli, &first, &lock);
    }
    let states = peer_states(&s, &others(&s), RemoteRun::QUERY);
    if states.iter().any(|(n, st)| *n == first && st.running()) {
        tracing::info!("the service already runs on {first}");
        return Ok(exitcode::OK);
    }
    let first_peer = Peer::new(&s.node, &first);
    let owner = verdict(&states).up.first().map(|n| Peer::new(&s.node, n));
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
            // The switch there waits for its lock, then for the lock on the first node.
            let t = RemoteRun::action(cli.waitlock, 2);
            let outcome = relay(o, o.connect(t), &args, t, "switch");
            if outcome == Remote::Failed {
                tracing::error!(
                    "the switch on {} did not complete: check where the service runs",
                    o.name()
                );
            }
            outcome == Remote::Done
        }
        None => {
            // Starting it on the first node is only safe when every node told.
            let unsure: Vec<&str> = states
                .iter()
                .filter(|(_, st)| !matches!(st, PeerState::Known(_)))
                .map(|(n, _)| n.as_str())
                .collect();
            if !unsure.is_empty() && !cli.force {
                anyhow::bail!(
                    "can not tell whether service {} runs on {} (see the warnings above): \
                     not starting it on {first} (use --force to start it anyway)",
                    s.name,
                    unsure.join(", ")
                );
            }
            tracing::info!("the service runs nowhere: start it on {first}");
            let outcome = act_remote(&s, cli, &first_peer, "start");
            if outcome == Remote::Failed {
                // Says whether it is down there, or that its state is unknown.
                down_after_failure(&s, &first_peer, outcome);
            }
            print_statuses(&s, cli, std::slice::from_ref(&first_peer));
            outcome == Remote::Done
        }
    };
    Ok(if ok { exitcode::OK } else { exitcode::FAILED })
}
