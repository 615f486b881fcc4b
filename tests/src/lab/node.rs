//! One lab node: its namespaces, its root directory and how to run commands in it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::netns::netns_path;
use super::util::{assert_ok, run_bounded, spawn_logged, stdout, svcmgr_bin, ProcId, BASE_PATH};

/// Bound on every node command run through [`Node::svcmgr`] and [`Node::sh`].
pub const NODE_CMD_TIMEOUT: Duration = Duration::from_secs(120);

/// Environment variables passed through from the test process to node commands.
const PASS_THROUGH: &[&str] = &["RUST_BACKTRACE", "RUST_LOG", "RUST_LIB_BACKTRACE"];

/// State shared by a lab and its nodes (nodes are used from several threads).
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub path_dirs: Mutex<Vec<PathBuf>>,
    pub env: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    pub spawned: Mutex<Vec<ProcId>>,
    pub spawn_logs: Mutex<BTreeMap<u32, PathBuf>>,
    pub spawn_seq: AtomicUsize,
    pub spawn_dir: PathBuf,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(spawn_dir: PathBuf) -> Shared {
        Shared {
            spawn_dir,
            ..Shared::default()
        }
    }
}

/// A lab node. Commands run in its network namespace and its private mount namespace.
#[derive(Debug)]
pub struct Node {
    pub name: String,
    /// Network namespace name (`/run/netns/<ns>`).
    pub ns: String,
    /// Address of eth0 (prefix length 24).
    pub ip: String,
    /// The node's `SVCMGR_ROOT` (with etc/, var/, log/).
    pub root: PathBuf,
    /// The file holding the node's mount namespace.
    pub mntns: PathBuf,
    /// The node's own home directory, mounted on /root inside the node.
    pub home: PathBuf,
    pub(crate) shared: Arc<Shared>,
}

impl Node {
    /// PATH as node commands see it: lab directories first.
    pub fn path_var(&self) -> String {
        let dirs = lock(&self.shared.path_dirs);
        let mut parts: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        parts.push(BASE_PATH.to_string());
        parts.join(":")
    }

    /// Every variable the lab sets for this node's commands (not the pass-through ones).
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("PATH".to_string(), self.path_var()),
            ("SVCMGR_ROOT".to_string(), self.root.display().to_string()),
        ];
        if let Some(extra) = lock(&self.shared.env).get(&self.name) {
            for (k, val) in extra {
                v.retain(|(k2, _)| k2 != k);
                v.push((k.clone(), val.clone()));
            }
        }
        v
    }

    /// `argv` wrapped in nsenter into the node's namespaces, environment set, not started.
    pub fn command(&self, argv: &[&str]) -> Command {
        assert!(!argv.is_empty(), "empty argv for node {}", self.name);
        let mut cmd = Command::new("/usr/bin/nsenter");
        cmd.arg(format!("--mount={}", self.mntns.display()))
            .arg(format!("--net={}", netns_path(&self.ns).display()))
            .arg("--")
            .args(argv)
            .env_clear()
            .env("HOME", "/root")
            .env("USER", "root")
            .env("LOGNAME", "root");
        for k in PASS_THROUGH {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
        for (k, v) in self.env_vars() {
            cmd.env(k, v);
        }
        cmd
    }

    /// `svcmgr args...` in the node, not started (for concurrency tests).
    pub fn svcmgr_cmd(&self, args: &[&str]) -> Command {
        let bin = svcmgr_bin();
        let mut argv = vec![bin.to_str().expect("utf-8 path")];
        argv.extend_from_slice(args);
        self.command(&argv)
    }

    /// Run `svcmgr args...` in the node; killed with a panic after 120 s.
    pub fn svcmgr(&self, args: &[&str]) -> Output {
        let what = format!("svcmgr {} on {}", args.join(" "), self.name);
        run_bounded(self.svcmgr_cmd(args), NODE_CMD_TIMEOUT, &what)
    }

    /// Run any command in the node; killed with a panic after 120 s.
    pub fn sh(&self, argv: &[&str]) -> Output {
        let what = format!("{} on {}", argv.join(" "), self.name);
        run_bounded(self.command(argv), NODE_CMD_TIMEOUT, &what)
    }

    /// A background process in the node, killed when the lab is dropped. Its stdout and
    /// stderr go to a log file ([`Node::spawn_log`]).
    pub fn spawn(&self, argv: &[&str], cwd: Option<&Path>) -> Child {
        let mut cmd = self.command(argv);
        if let Some(d) = cwd {
            cmd.current_dir(d);
        }
        let seq = self.shared.spawn_seq.fetch_add(1, Ordering::SeqCst);
        let log = self
            .shared
            .spawn_dir
            .join(format!("{}.{seq}.log", self.name));
        let child = spawn_logged(cmd, &log);
        if let Some(p) = ProcId::of(child.id()) {
            lock(&self.shared.spawned).push(p);
        }
        lock(&self.shared.spawn_logs).insert(child.id(), log);
        child
    }

    /// The log file of a child started with [`Node::spawn`].
    pub fn spawn_log(&self, child: &Child) -> Option<PathBuf> {
        lock(&self.shared.spawn_logs).get(&child.id()).cloned()
    }

    /// Write `root/etc/<svc>.conf`.
    pub fn write_conf(&self, svc: &str, text: &str) {
        let p = self.root.join("etc").join(format!("{svc}.conf"));
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    /// Append `text` to `root/etc/node.toml` (on a line of its own).
    pub fn append_node_toml(&self, text: &str) {
        let p = self.node_toml();
        let cur = std::fs::read_to_string(&p).unwrap_or_default();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&p)
            .unwrap_or_else(|e| panic!("open {}: {e}", p.display()));
        let sep = if cur.is_empty() || cur.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        let nl = if text.ends_with('\n') { "" } else { "\n" };
        write!(f, "{sep}{text}{nl}").unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    /// Path of `root/etc/node.toml`.
    pub fn node_toml(&self) -> PathBuf {
        self.root.join("etc").join("node.toml")
    }

    /// /proc/self/mountinfo as seen in the node's mount namespace.
    /// Whether `ip` is an address of the node's eth0.
    pub fn has_ip(&self, ip: &str) -> bool {
        let out = self.sh(&["ip", "-o", "addr", "show", "dev", "eth0"]);
        String::from_utf8_lossy(&out.stdout).contains(&format!("inet {ip}/"))
    }

    /// Whether something is mounted on `mnt` in the node's mount namespace.
    pub fn is_mounted(&self, mnt: &Path) -> bool {
        let want = mnt.display().to_string();
        self.mountinfo()
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
    }

    pub fn mountinfo(&self) -> String {
        let o = self.sh(&["cat", "/proc/self/mountinfo"]);
        assert_ok(&o, &format!("mountinfo of {}", self.name));
        stdout(&o)
    }
}
