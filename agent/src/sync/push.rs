//! `syncnodes`: push the service config to every peer at once, each over its own ssh session,
//! the file streamed to `svcmgr -s SVC postsync` on the peer's stdin.

use std::io::Write;
use std::path::PathBuf;

use resources::{Override, Overrides, Status};

use super::{format_windows, gen_file, generation, in_windows, minute_now, records, RID};
use crate::engine::error_chain;
use crate::service::Service;
use crate::ssh::{command_line, Peer, RemoteRun};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(
        "the service is not up on this node ({status}): push from the node where it is up, \
         or use --sync-anyway"
    )]
    NotOwner { status: String },
    #[error("can not read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    #[error("can not record the config generation in {path}")]
    SaveGen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// Outside the allowed period.
    Skipped,
    NoPeers,
    /// Peers that did not get the config.
    Done {
        failed: Vec<String>,
    },
}

pub fn syncnodes(
    svc: &Service,
    to: super::Targets,
    ov: &Overrides,
    waitlock: std::time::Duration,
) -> Result<PushOutcome, SyncError> {
    let windows = &svc.cfg.sync_period;
    if !in_windows(windows, minute_now()) {
        let why = format!("not in allowed period {}", format_windows(windows));
        if !ov.overrides(Override::SyncAnyway, Some(RID), &why) {
            tracing::info!(rid = RID, "skip sync: {why}");
            return Ok(PushOutcome::Skipped);
        }
    }
    let avail = svc.status(&svc.ctx()).avail;
    if avail != Status::Up {
        let why = format!("the service is not up on this node ({avail})");
        if !ov.overrides(Override::SyncAnyway, Some(RID), &why) {
            return Err(SyncError::NotOwner {
                status: avail.as_str().to_string(),
            });
        }
    }
    let peers = super::targets(svc, to);
    if peers.is_empty() {
        tracing::info!(rid = RID, "no peer node to push to");
        return Ok(PushOutcome::NoPeers);
    }
    let mut failed = push_config(svc, &peers, waitlock)?;
    let rsyncs = super::Rsync::all(svc);
    if !rsyncs.is_empty() {
        // The data transfers hold the service lock: no stop can unmount the source under
        // them, and two runs never send the same files at once.
        let _lock = crate::lock::acquire(&svc.root.lock(&svc.name), "syncnodes", waitlock)?;
        for r in &rsyncs {
            for peer in r.run(svc, to) {
                if !failed.contains(&peer) {
                    failed.push(peer);
                }
            }
        }
    }
    Ok(PushOutcome::Done { failed })
}

/// Push the config to `peers` at once; the peers that did not get it.
fn push_config(
    svc: &Service,
    peers: &[String],
    waitlock: std::time::Duration,
) -> Result<Vec<String>, SyncError> {
    // Reading the config and recording its generation happen under the service lock, as a
    // postsync installing a peer's push does: the record always describes the file. The
    // pushes themselves run unlocked (each peer takes its own lock).
    let lock = crate::lock::acquire(&svc.root.lock(&svc.name), "syncnodes", waitlock)?;
    let path = &svc.cfg.path;
    let data = std::fs::read(path).map_err(|source| SyncError::Read {
        path: path.clone(),
        source,
    })?;
    let var = svc.root.svc_var(&svc.name);
    let gpath = gen_file(&var);
    let sum = super::sha256::hex(&data);
    let (gen, changed) = generation::current(
        generation::load(&gpath).as_ref(),
        &sum,
        generation::mtime_of(path),
    );
    if changed {
        generation::save(&gpath, &gen).map_err(|source| SyncError::SaveGen {
            path: gpath.clone(),
            source,
        })?;
    }
    drop(lock);
    let payload = generation::encode(&gen, &svc.node.nodename, &data);
    let args = ["-s", svc.name.as_str(), "postsync", "--waitlock", "3600"];
    let failed: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = peers
            .iter()
            .map(|name| {
                let peer = Peer::new(&svc.node, name);
                let payload = &payload;
                s.spawn(crate::logging::in_span(move || {
                    tracing::info!(
                        "exec '{}' on node {}",
                        command_line(&peer.argv(&args)),
                        peer.name()
                    );
                    let r = peer.run(&args, Some(payload), RemoteRun::ACTION, |line| {
                        // A closed console must not abort the push.
                        let _ = writeln!(std::io::stdout().lock(), "{}: {line}", peer.name());
                    });
                    (peer, r)
                }))
            })
            .collect();
        handles
            .into_iter()
            .zip(peers)
            .filter_map(|(h, name)| {
                let ok = match h.join() {
                    Ok((_, Ok(0))) => match records::save(&var, name, &gen) {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::error!(
                                rid = RID,
                                "{name}: pushed, but can not record it: {e}"
                            );
                            false
                        }
                    },
                    Ok((_, Ok(code))) => {
                        tracing::error!(rid = RID, "{name}: postsync failed (exit code {code})");
                        false
                    }
                    Ok((_, Err(e))) => {
                        tracing::error!(rid = RID, "{}", error_chain(&e));
                        false
                    }
                    Err(_) => {
                        tracing::error!(rid = RID, "{name}: push thread panicked");
                        false
                    }
                };
                (!ok).then(|| name.clone())
            })
            .collect()
    });
    if failed.is_empty() {
        tracing::info!(
            rid = RID,
            "config generation {} pushed to {}",
            gen.gen,
            peers.join(", ")
        );
    } else {
        tracing::error!(
            rid = RID,
            "not all peers were updated: {} failed",
            failed.join(", ")
        );
    }
    Ok(failed)
}
