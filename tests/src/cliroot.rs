//! A throw-away svcmgr root (`SVCMGR_ROOT`) for tests of commands that touch only files:
//! config editing, logs. No namespaces, no devices; removed when dropped.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::lab::util::run_bounded;
use crate::lab::{svcmgr_bin, unique};

/// Bound of one command run: far above what any of these commands takes.
const TIMEOUT: Duration = Duration::from_secs(120);

pub struct TestRoot {
    pub dir: PathBuf,
}

impl TestRoot {
    /// A root whose node is `nodename`, with `peers` in node.toml.
    pub fn new(nodename: &str, peers: &[&str]) -> TestRoot {
        let dir = std::env::temp_dir().join(unique("svcmgr-cli-"));
        std::fs::create_dir_all(dir.join("etc")).expect("create test root");
        let mut toml = format!("nodename = \"{nodename}\"\n");
        for p in peers {
            toml.push_str(&format!("[nodes.{p}]\n"));
        }
        std::fs::write(dir.join("etc/node.toml"), toml).expect("write node.toml");
        TestRoot { dir }
    }

    pub fn conf(&self, svc: &str) -> PathBuf {
        self.dir.join("etc").join(format!("{svc}.conf"))
    }

    pub fn write_conf(&self, svc: &str, text: &str) {
        std::fs::write(self.conf(svc), text).expect("write config");
    }

    pub fn read_conf(&self, svc: &str) -> String {
        std::fs::read_to_string(self.conf(svc)).expect("read config")
    }

    /// `svcmgr args...` with this root, stdin closed (not a terminal).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(svcmgr_bin());
        c.args(args)
            .env("SVCMGR_ROOT", &self.dir)
            .env_remove("SVCMGR_BIN")
            .stdin(Stdio::null());
        c
    }

    pub fn svcmgr(&self, args: &[&str]) -> Output {
        run_bounded(
            self.cmd(args),
            TIMEOUT,
            &format!("svcmgr {}", args.join(" ")),
        )
    }

    /// Run a prepared command, bounded.
    pub fn run(&self, cmd: Command, what: &str) -> Output {
        run_bounded(cmd, TIMEOUT, what)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
