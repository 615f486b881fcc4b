//! What a driver gets to act: the service, the node, the action's options, and a per-run
//! cache so a status run queries each system tool once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use crate::exec::{self, Cmd, ExecError, Output};

type Cached = Arc<OnceLock<Result<Output, ExecError>>>;

#[derive(Debug, Default)]
pub struct Ctx {
    pub svcname: String,
    pub nodename: String,
    /// `--force`: override safety refusals that say so.
    pub force: bool,
    /// `--dry-run`: log what would change, change nothing.
    pub dry_run: bool,
    /// Per-service state directory (`R/var/<svc>`).
    pub var_dir: PathBuf,
    cache: Mutex<HashMap<Vec<String>, Cached>>,
}

impl Ctx {
    pub fn new(svcname: &str, nodename: &str, var_dir: PathBuf) -> Ctx {
        Ctx {
            svcname: svcname.into(),
            nodename: nodename.into(),
            var_dir,
            ..Ctx::default()
        }
    }

    /// Run a command that changes the system, or only log it under `--dry-run`.
    pub fn change(&self, rid: &str, cmd: &Cmd) -> Result<Output, ExecError> {
        if self.dry_run {
            tracing::info!(rid, "dry-run: {}", cmd.display());
            return Ok(Output::default());
        }
        exec::run(rid, cmd)
    }

    /// A read-only query, run at most once per `Ctx` (the result is shared by every
    /// resource asking the same argv). Concurrent askers wait for the first run.
    pub fn query_cached(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        let cell = {
            let mut map = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(cmd.argv.clone()).or_default().clone()
        };
        cell.get_or_init(|| exec::query(cmd)).clone()
    }

    /// Forget cached query results (after an action changed the system).
    pub fn invalidate(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
