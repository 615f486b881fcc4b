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

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use resources::{Override, Overrides, Status};

use crate::engine::{self, error_chain, Options, Verb};
use crate::exitcode;
use crate::lock::{self, Lock};
use crate::paths::Root;
use crate::peers::{check_others, is_down, is_running, others, peer_states, verdict, PeerState};
use crate::render;
use crate::service::Service;
use crate::ssh::{run_all, Peer, RemoteRun, Session, SshError};

/// A relocation request: the service and how to move it.
#[derive(Debug, Clone)]
pub struct Relocation {
    pub svc: String,
    pub overrides: Overrides,
    pub disable_rollback: bool,
    pub waitlock: Duration,
    /// Colour the status trees printed at the end.
    pub color: bool,
}

impl Relocation {
    fn options(&self) -> Options {
        Options {
            disable_rollback: self.disable_rollback,
            overrides: self.overrides,
            dry_run: false,
        }
    }

    fn waitlock_secs(&self) -> u64 {
        self.waitlock.as_secs()
    }
}

/// A console line. Written, never panicking: a closed stdout must not abort a relocation
/// half way (the lines also go to the log file).
fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// The service's avail on this node.
fn local_avail(s: &Service) -> Status {
    s.status(&s.ctx()).avail
}

/// Start or stop the whole service here, under the held lock; true on success.
fn act_local(s: &Service, r: &Relocation, verb: Verb, lock: &Lock) -> bool {
    let items: Vec<_> = s.items.iter().collect();
    engine::act(s, &items, verb, &r.options(), lock).is_ok()
}

/// The overrides to pass on to a peer's half of the relocation (it runs with `--local`: the
/// peer check is this node's).
fn override_args(ov: &Overrides) -> Vec<&'static str> {
    [
        Override::Preempt,
        Override::StealTags,
        Override::StopStandby,
    ]
    .into_iter()
    .filter(|o| ov.has(*o))
    .map(Override::option)
    .collect()
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
fn act_remote(s: &Service, r: &Relocation, peer: &Peer, verb: &str) -> Remote {
    let t = RemoteRun::action(r.waitlock_secs(), 1);
    act_remote_on(s, r, peer, verb, peer.connect(t))
}

/// `act_remote` on a session opened beforehand.
fn act_remote_on(
    s: &Service,
    r: &Relocation,
    peer: &Peer,
    verb: &str,
    sess: Result<Session, SshError>,
) -> Remote {
    let wait = r.waitlock_secs().to_string();
    let mut args = vec!["-s", s.name.as_str(), verb, "--local", "--waitlock", &wait];
    if r.disable_rollback {
        args.push("--disable-rollback");
    }
    args.extend(override_args(&r.overrides));
    tracing::info!("{verb} on {}", peer.name());
    relay(
        peer,
        sess,
        &args,
        RemoteRun::action(r.waitlock_secs(), 1),
        verb,
    )
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
fn print_statuses(s: &Service, r: &Relocation, peers: &[Peer]) {
    let color = if r.color { "always" } else { "never" };
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
        (render::tree(&st, r.color), h.join())
    });
    let here = &s.node.nodename;
    for l in local.lines() {
        say(format_args!("{here}: {l}"));
    }
    for (p, answer) in peers.iter().zip(remote.unwrap_or_default()) {
        let name = p.name();
        match answer {
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

/// The service, loaded under its lock taken with `intent` for the whole relocation.
fn load_locked(root: &Root, r: &Relocation, intent: &str) -> anyhow::Result<(Service, Lock)> {
    let held = lock::acquire(&root.lock(&r.svc), intent, r.waitlock)?;
    let s = Service::load(root, &r.svc)?;
    Ok((s, held))
}

/// `switch --to NODE`.
pub fn switch(root: &Root, r: &Relocation, to: &str) -> anyhow::Result<i32> {
    let _span = crate::logging::service_span(&r.svc).entered();
    let (s, lock) = load_locked(root, r, &format!("switch --to {to}"))?;
    check_destination(&s, to)?;
    relocate_to(&s, r, to, &lock)
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
fn relocate_to(s: &Service, r: &Relocation, to: &str, lock: &Lock) -> anyhow::Result<i32> {
    let here = s.node.nodename.clone();
    // The remote start skips its own peer check (--local): when the service is not up
    // here, make sure no third node runs it before starting it on `to`.
    if !is_running(local_avail(s)) {
        let v = check_others(s, &[to]);
        if !v.up.is_empty() {
            let why = format!(
                "service {} is up on {}, not on {here}",
                s.name,
                v.up.join(", ")
            );
            if !r.overrides.overrides(Override::IgnorePeers, None, &why) {
                anyhow::bail!("{why}: switch from there (or takeover on {to})");
            }
        }
        if !v.unknown.is_empty() {
            let why = unknown_why(s, &v);
            if !r.overrides.overrides(Override::IgnorePeers, None, &why) {
                anyhow::bail!(
                    "{why}: not starting it on {to} (use --ignore-peers once it is known not to \
                     run there)"
                );
            }
        }
    }
    let peer = Peer::new(&s.node, to);
    let t = RemoteRun::action(r.waitlock_secs(), 1);
    // Connect to the destination while stopping here: the ssh handshake leaves the
    // critical path of the relocation.
    let (stopped, sess) = std::thread::scope(|sc| {
        let pre = sc.spawn(crate::logging::in_span(|| peer.connect(t)));
        let stopped = act_local(s, r, Verb::Stop, lock);
        (stopped, pre.join())
    });
    if !stopped {
        tracing::error!("stop on {here} failed: not starting on {to}");
        return Ok(exitcode::FAILED);
    }
    let sess = sess.map_err(|_| anyhow::anyhow!("ssh connect thread to {to} panicked"))?;
    let outcome = act_remote_on(s, r, &peer, "start", sess);
    if outcome != Remote::Done {
        if r.disable_rollback {
            tracing::warn!("rollback disabled: the service stays down on {here}");
        } else if down_after_failure(s, &peer, outcome) {
            rollback(s, r, &here, lock);
        } else {
            tracing::error!("not starting the service on {here} again: it may run on {to}");
        }
    }
    print_statuses(s, r, std::slice::from_ref(&peer));
    Ok(if outcome == Remote::Done {
        exitcode::OK
    } else {
        exitcode::FAILED
    })
}

/// After a failed start elsewhere: start again here, and say so.
fn rollback(s: &Service, r: &Relocation, here: &str, lock: &Lock) {
    tracing::info!("rollback: start the service again on {here}");
    if act_local(s, r, Verb::Start, lock) {
        tracing::info!("rollback: the service is up again on {here}");
    } else {
        tracing::error!("rollback: start on {here} failed too");
    }
}

/// "can not tell whether service X runs on n2 (why), n3 (why)".
fn unknown_why(s: &Service, v: &crate::peers::Verdict) -> String {
    let who: Vec<String> = v
        .unknown
        .iter()
        .map(|(n, e)| format!("{n} ({e})"))
        .collect();
    format!(
        "can not tell whether service {} runs on {}",
        s.name,
        who.join(", ")
    )
}

/// `takeover`: stop the service where it runs, start it here.
pub fn takeover(root: &Root, r: &Relocation) -> anyhow::Result<i32> {
    let _span = crate::logging::service_span(&r.svc).entered();
    let (s, lock) = load_locked(root, r, "takeover")?;
    take_here(&s, r, &lock)
}

/// Stop the service where it runs, then start it here; when the start here fails, start it
/// again on the node it was stopped on, if that is safe. Under the held service lock.
fn take_here(s: &Service, r: &Relocation, lock: &Lock) -> anyhow::Result<i32> {
    let here = s.node.nodename.clone();
    let states = peer_states(s, &others(s), RemoteRun::QUERY);
    let v = verdict(&states);
    if !v.unknown.is_empty() {
        let why = unknown_why(s, &v);
        if !r.overrides.overrides(Override::IgnorePeers, None, &why) {
            anyhow::bail!(
                "{why}: not taking it over (use --ignore-peers once it is known not to run there)"
            );
        }
    }
    let owners: Vec<Peer> = v.up.iter().map(|n| Peer::new(&s.node, n)).collect();
    if owners.is_empty() {
        tracing::info!("the service runs on no other node");
    }
    let mut stopped: Vec<&Peer> = Vec::new();
    for o in &owners {
        let outcome = act_remote(s, r, o, "stop");
        if outcome != Remote::Done {
            let why = match outcome {
                Remote::NotRun => "",
                _ => " (the service may still run there)",
            };
            tracing::error!("stop on {} failed{why}: not starting on {here}", o.name());
            if !stopped.is_empty() {
                let names: Vec<&str> = stopped.iter().map(|p| p.name()).collect();
                tracing::warn!(
                    "the service stays down on {}: it may still run on {}",
                    names.join(", "),
                    o.name()
                );
            }
            print_statuses(s, r, &owners);
            return Ok(exitcode::FAILED);
        }
        stopped.push(o);
    }
    let ok = act_local(s, r, Verb::Start, lock);
    if !ok {
        if r.disable_rollback {
            tracing::warn!("rollback disabled: the service stays down where it was");
        } else if let Some(first) = stopped.first() {
            give_back_after_failure(s, r, first, stopped.len());
        }
    }
    print_statuses(s, r, &owners);
    Ok(if ok { exitcode::OK } else { exitcode::FAILED })
}

/// After a failed takeover start: start the service again on `owner`, the first node it was
/// stopped on, only when it is down here and no other node runs it (the service may have
/// been up on several nodes; restarting all of them would recreate that split).
fn give_back_after_failure(s: &Service, r: &Relocation, owner: &Peer, stopped: usize) {
    if stopped > 1 {
        tracing::warn!(
            "the service was up on {stopped} nodes: rollback restarts it on {} only",
            owner.name()
        );
    }
    if !is_down(local_avail(s)) {
        tracing::error!(
            "rollback: the service is not down here after the failed start: not starting it \
             on {}",
            owner.name()
        );
        return;
    }
    let v = check_others(s, &[owner.name()]);
    if !v.up.is_empty() || !v.unknown.is_empty() {
        tracing::error!(
            "rollback: another node runs the service or cannot tell: not starting it on {}",
            owner.name()
        );
        return;
    }
    tracing::info!("rollback: start the service again on {}", owner.name());
    match act_remote(s, r, owner, "start") {
        Remote::Done => tracing::info!("rollback: the service is up again on {}", owner.name()),
        // When it is not down there, its state is unknown (logged).
        outcome => {
            if down_after_failure(s, owner, outcome) {
                tracing::error!("rollback: start on {} failed too", owner.name());
            }
        }
    }
}

/// `giveback`: back to the first node of `nodes`, run from any node.
pub fn giveback(root: &Root, r: &Relocation) -> anyhow::Result<i32> {
    let _span = crate::logging::service_span(&r.svc).entered();
    let (s, lock) = load_locked(root, r, "giveback")?;
    let first = s
        .cfg
        .nodes
        .first()
        .cloned()
        .context("giveback needs a nodes list")?;
    if first == s.node.nodename {
        return take_here(&s, r, &lock);
    }
    if is_running(local_avail(&s)) {
        return relocate_to(&s, r, &first, &lock);
    }
    let states = peer_states(&s, &others(&s), RemoteRun::QUERY);
    if states.iter().any(|(n, st)| *n == first && st.running()) {
        tracing::info!("the service already runs on {first}");
        return Ok(exitcode::OK);
    }
    let first_peer = Peer::new(&s.node, &first);
    let v = verdict(&states);
    let owner = v.up.first().map(|n| Peer::new(&s.node, n));
    let ok = match &owner {
        // The owner moves it: its stop and the start on the first node stay one switch.
        Some(o) => {
            let wait = r.waitlock_secs().to_string();
            let mut args = vec!["-s", s.name.as_str(), "switch", "--to", &first];
            args.extend(["--waitlock", &wait]);
            if r.disable_rollback {
                args.push("--disable-rollback");
            }
            args.extend(override_args(&r.overrides));
            tracing::info!("switch on {} to {first}", o.name());
            // The switch there waits for its lock, then for the lock on the first node.
            let t = RemoteRun::action(r.waitlock_secs(), 2);
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
            if !v.unknown.is_empty() {
                let why = unknown_why(&s, &v);
                if !r.overrides.overrides(Override::IgnorePeers, None, &why) {
                    anyhow::bail!(
                        "{why}: not starting it on {first} (use --ignore-peers once it is known \
                         not to run there)"
                    );
                }
            }
            tracing::info!("the service runs nowhere: start it on {first}");
            let outcome = act_remote(&s, r, &first_peer, "start");
            if outcome == Remote::Failed {
                // Says whether it is down there, or that its state is unknown.
                down_after_failure(&s, &first_peer, outcome);
            }
            print_statuses(&s, r, std::slice::from_ref(&first_peer));
            outcome == Remote::Done
        }
    };
    drop(lock);
    Ok(if ok { exitcode::OK } else { exitcode::FAILED })
}
