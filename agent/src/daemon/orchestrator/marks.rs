//! What the orchestrator keeps on disk per service, under `R/var/services/<svc>/`:
//! `orchestrator.json` (the last owner, so a restarted daemon still knows where it ran) and
//! `start_failed.json` (a start the orchestrator ran here failed: this node is no candidate
//! until `svcmgr -s SVC clear` removes it).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::decide::Memory;
use crate::paths::{write_atomic, Root};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartFailed {
    /// RFC 3339.
    pub time: String,
    /// The last line of the failed action's output.
    pub detail: String,
}

fn memory_file(root: &Root, svc: &str) -> PathBuf {
    root.svc_var(svc).join("orchestrator.json")
}

pub fn start_failed_file(root: &Root, svc: &str) -> PathBuf {
    root.svc_var(svc).join("start_failed.json")
}

pub fn load_memory(root: &Root, svc: &str) -> Memory {
    std::fs::read(memory_file(root, svc))
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or_default()
}

pub fn save_memory(root: &Root, svc: &str, m: &Memory) {
    let Ok(data) = serde_json::to_vec(m) else {
        return;
    };
    if let Err(e) = write_atomic(&memory_file(root, svc), &data) {
        tracing::warn!("orchestrator: {svc}: can not save its last owner: {e}");
    }
}

pub fn load_start_failed(root: &Root, svc: &str) -> Option<StartFailed> {
    let d = std::fs::read(start_failed_file(root, svc)).ok()?;
    serde_json::from_slice(&d).ok()
}

pub fn save_start_failed(root: &Root, svc: &str, detail: &str) {
    let m = StartFailed {
        time: crate::daemon::state::now_rfc3339(),
        detail: detail.to_string(),
    };
    let Ok(data) = serde_json::to_vec(&m) else {
        return;
    };
    if let Err(e) = write_atomic(&start_failed_file(root, svc), &data) {
        tracing::warn!("orchestrator: {svc}: can not record the failed start: {e}");
    }
}

/// `svcmgr -s SVC clear`: true when there was a mark to remove.
pub fn clear(root: &Root, svc: &str) -> std::io::Result<bool> {
    match std::fs::remove_file(start_failed_file(root, svc)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}
