//! `syncnodes` (push the service config to its peers) and `postsync` (receive one, on stdin).

use std::io::{IsTerminal, Read};

use anyhow::Context;

use super::Cli;
use crate::exitcode;
use crate::paths::Root;
use crate::service::Service;
use crate::sync::{self, PushOutcome};

/// A service config is a few kilobytes; refuse to buffer anything absurd.
const MAX_PUSH: u64 = 16 * 1024 * 1024;

pub fn syncnodes(root: &Root, svc: &str, cli: &Cli, to: sync::Targets) -> anyhow::Result<i32> {
    let _span = crate::logging::service_span(svc).entered();
    let s = Service::load_readonly(root, svc)?;
    Ok(
        match sync::syncnodes(&s, to, &cli.overrides(), cli.waitlock())? {
            PushOutcome::Skipped | PushOutcome::NoPeers => exitcode::OK,
            PushOutcome::Done { failed } if failed.is_empty() => exitcode::OK,
            PushOutcome::Done { .. } => exitcode::FAILED,
        },
    )
}

pub fn postsync(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    let _span = crate::logging::service_span(svc).entered();
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        anyhow::bail!("postsync reads a config push on stdin; it is run by syncnodes on a peer");
    }
    let mut raw = Vec::new();
    stdin
        .lock()
        .take(MAX_PUSH + 1)
        .read_to_end(&mut raw)
        .context("read the config push on stdin")?;
    if raw.len() as u64 > MAX_PUSH {
        anyhow::bail!("config push larger than {MAX_PUSH} bytes refused");
    }
    let r = sync::postsync(root, svc, &raw, cli.waitlock())?;
    match r {
        sync::Received::Installed { gen, from } => {
            tracing::info!(
                rid = sync::RID,
                "installed config generation {gen} from {from}"
            )
        }
        sync::Received::Current { gen, from } => tracing::info!(
            rid = sync::RID,
            "config from {from} already in place (generation {gen})"
        ),
    }
    Ok(exitcode::OK)
}
