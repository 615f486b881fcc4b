//! What a driver gets to act: the service, the node, the action's options, the command
//! executor, and a per-run cache so a status run queries each system tool once (the daemon
//! shares one cache between all the services it evaluates in one pass).
//!
//! Every command a driver runs goes through `Ctx` (`query`, `output`, `change`), which hands
//! it to an [`Executor`]: the real one spawns it (`exec::output`), a test's fake records the
//! argv and answers from a script, so a driver's command sequence is testable without root.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::exec::{self, Cmd, ExecError, Output, Spawned};

type Cached = Arc<OnceLock<Result<Output, ExecError>>>;

/// Results of read-only queries, keyed by what makes the command: its argv and the
/// environment it adds (a container store is chosen by either). Shared by every `Ctx` given
/// the same cache.
#[derive(Debug, Default)]
pub struct QueryCache(Mutex<HashMap<QueryKey, Cached>>);

/// argv, added environment.
type QueryKey = (Vec<String>, Vec<(String, String)>);

impl QueryCache {
    fn cell(&self, cmd: &Cmd) -> Cached {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((cmd.argv.clone(), cmd.env.clone()))
            .or_default()
            .clone()
    }

    fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Runs a command and returns how it ended; a non-zero exit is an `Output`, not an error
/// (errors are: cannot spawn, timed out). The one seam between drivers and processes.
pub trait Executor: Send + Sync + std::fmt::Debug {
    fn output(&self, cmd: &Cmd) -> Result<Output, ExecError>;
    /// Start a daemon that outlives the action, its output appended to `log`.
    fn spawn(&self, cmd: &Cmd, log: &Path) -> Result<Box<dyn Spawned>, ExecError>;
}

/// Spawns the command (`exec::output`).
#[derive(Debug, Default)]
pub struct System;

impl Executor for System {
    fn output(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        exec::output(cmd)
    }

    fn spawn(&self, cmd: &Cmd, log: &Path) -> Result<Box<dyn Spawned>, ExecError> {
        Ok(Box::new(exec::spawn_detached(cmd, log)?))
    }
}

/// A safety check that an operator may override, each with its own option; `--force` (what
/// OpenSVC users type) overrides them all, and every check it overrides logs one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    /// Start although another node runs the service or cannot be asked.
    IgnorePeers,
    /// Preempt a reservation held by another key; remove other keys' registrations.
    Preempt,
    /// Remove other cluster nodes' LVM host tags from a volume group.
    StealTags,
    /// Stop standby resources too.
    StopStandby,
    /// Push a config outside `sync_period`, or from a node where the service is not up.
    SyncAnyway,
}

impl Override {
    pub const ALL: [Override; 5] = [
        Override::IgnorePeers,
        Override::Preempt,
        Override::StealTags,
        Override::StopStandby,
        Override::SyncAnyway,
    ];

    /// The command-line option.
    pub fn option(self) -> &'static str {
        match self {
            Override::IgnorePeers => "--ignore-peers",
            Override::Preempt => "--preempt",
            Override::StealTags => "--steal-tags",
            Override::StopStandby => "--stop-standby",
            Override::SyncAnyway => "--sync-anyway",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The overrides an action was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    set: u8,
    /// Given as `--force`: the log names it.
    forced: bool,
}

impl Overrides {
    /// `--force`: every override.
    pub fn force() -> Overrides {
        Overrides {
            set: Override::ALL.iter().fold(0, |a, o| a | o.bit()),
            forced: true,
        }
    }

    pub fn with(mut self, o: Override) -> Overrides {
        self.set |= o.bit();
        self
    }

    pub fn has(&self, o: Override) -> bool {
        self.set & o.bit() != 0
    }

    pub fn is_empty(&self) -> bool {
        self.set == 0
    }

    /// Whether the check `o` that would refuse because of `what` is overridden; when it is,
    /// one WARNING line says so, naming the option that did it.
    pub fn overrides(&self, o: Override, rid: Option<&str>, what: impl std::fmt::Display) -> bool {
        if !self.has(o) {
            return false;
        }
        let by = if self.forced {
            format!("--force (as {})", o.option())
        } else {
            o.option().to_string()
        };
        match rid {
            Some(rid) => tracing::warn!(rid, "overridden by {by}: {what}"),
            None => tracing::warn!("overridden by {by}: {what}"),
        }
        true
    }
}

#[derive(Debug)]
pub struct Ctx {
    pub svcname: String,
    pub nodename: String,
    /// Safety checks the operator overrode.
    pub overrides: Overrides,
    /// `--dry-run`: log what would change, change nothing.
    pub dry_run: bool,
    /// The cluster's node names (this node included): only their LVM tags are ownership.
    pub cluster_nodes: Vec<String>,
    /// Per-service state directory (`R/var/<svc>`).
    pub var_dir: PathBuf,
    exec: Arc<dyn Executor>,
    cache: Arc<QueryCache>,
}

impl Default for Ctx {
    fn default() -> Ctx {
        Ctx {
            svcname: String::new(),
            nodename: String::new(),
            overrides: Overrides::default(),
            cluster_nodes: Vec::new(),
            dry_run: false,
            var_dir: PathBuf::new(),
            exec: Arc::new(System),
            cache: Arc::default(),
        }
    }
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

    /// Run commands through `exec` instead of spawning them (tests).
    pub fn with_executor(mut self, exec: Arc<dyn Executor>) -> Ctx {
        self.exec = exec;
        self
    }

    /// Share query results with every other `Ctx` given `cache` (one evaluation pass over
    /// several services: each system tool is asked once for all of them).
    pub fn with_query_cache(mut self, cache: Arc<QueryCache>) -> Ctx {
        self.cache = cache;
        self
    }

    /// Run a command without logging; a non-zero exit is returned in `Output`.
    pub fn output(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        self.exec.output(cmd)
    }

    /// Run a command without logging; an exit code outside `ok_codes` is an error.
    pub fn query(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        exec::check(cmd, self.exec.output(cmd)?)
    }

    /// Run a command that changes the system: echoed as a `SVC.RID` log line, then its
    /// output; under `--dry-run` only logged.
    pub fn change(&self, rid: &str, cmd: &Cmd) -> Result<Output, ExecError> {
        if self.dry_run {
            tracing::info!(rid, "dry-run: {}", cmd.display());
            return Ok(Output::default());
        }
        tracing::info!(rid, "{}", cmd.display());
        let out = self.exec.output(cmd);
        match &out {
            Ok(o) => exec::log_output(rid, o, cmd.ok_codes.contains(&o.code)),
            Err(e) => tracing::error!(rid, "{e}"),
        }
        exec::check(cmd, out?)
    }

    /// Start a daemon (echoed as a `SVC.RID` log line, like `change`); `None` under
    /// `--dry-run`.
    pub fn spawn(
        &self,
        rid: &str,
        cmd: &Cmd,
        log: &Path,
    ) -> Result<Option<Box<dyn Spawned>>, ExecError> {
        if self.dry_run {
            tracing::info!(rid, "dry-run: {}", cmd.display());
            return Ok(None);
        }
        tracing::info!(rid, "{}", cmd.display());
        self.exec.spawn(cmd, log).map(Some)
    }

    /// A read-only query, run at most once per `Ctx` (the result is shared by every
    /// resource asking the same argv). Concurrent askers wait for the first run.
    pub fn query_cached(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        self.cache.cell(cmd).get_or_init(|| self.query(cmd)).clone()
    }

    /// Forget cached query results (after an action changed the system).
    pub fn invalidate(&self) {
        self.cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Answers every command with its argv, counting the runs.
    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    impl Executor for Counting {
        fn output(&self, cmd: &Cmd) -> Result<Output, ExecError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Output {
                code: 0,
                stdout: cmd.argv.join(" "),
                stderr: String::new(),
            })
        }
        fn spawn(&self, cmd: &Cmd, _log: &Path) -> Result<Box<dyn Spawned>, ExecError> {
            panic!("no spawn expected: {}", cmd.display())
        }
    }

    #[test]
    fn a_shared_query_cache_asks_once_per_argv_and_environment() {
        let exec = Arc::new(Counting::default());
        let cache = Arc::new(QueryCache::default());
        let ctx = |svc: &str| {
            Ctx::new(svc, "n1", PathBuf::new())
                .with_executor(exec.clone())
                .with_query_cache(cache.clone())
        };
        let (a, b) = (ctx("a"), ctx("b"));
        let ip = Cmd::new(["ip", "-j", "addr", "show"]);
        assert_eq!(a.query_cached(&ip).unwrap().stdout, "ip -j addr show");
        assert_eq!(b.query_cached(&ip).unwrap().stdout, "ip -j addr show");
        assert_eq!(
            exec.0.load(Ordering::SeqCst),
            1,
            "one run for both services"
        );
        // Same argv against another store (environment): its own run.
        let ps = Cmd::new(["podman", "ps"]);
        a.query_cached(&ps).unwrap();
        b.query_cached(&ps.clone().env("CONTAINERS_CONF", "/b"))
            .unwrap();
        assert_eq!(exec.0.load(Ordering::SeqCst), 3);
        // A Ctx of its own shares nothing.
        let c = Ctx::new("c", "n1", PathBuf::new()).with_executor(exec.clone());
        c.query_cached(&ip).unwrap();
        assert_eq!(exec.0.load(Ordering::SeqCst), 4);
        a.invalidate();
        b.query_cached(&ip).unwrap();
        assert_eq!(exec.0.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn force_sets_every_override_and_named_ones_only_theirs() {
        let f = Overrides::force();
        assert!(Override::ALL.iter().all(|o| f.has(*o)));
        let p = Overrides::default().with(Override::Preempt);
        assert!(p.has(Override::Preempt) && !p.has(Override::IgnorePeers));
        assert!(Overrides::default().is_empty());
        assert!(!Overrides::default().overrides(Override::Preempt, None, "x"));
        assert!(p.overrides(Override::Preempt, Some("vg#1pr"), "held by 0xb2"));
    }
}
