//! Running svcmgr itself on a peer.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{connect, Session, SshError, Target};

/// Time bounds of one remote run.
#[derive(Debug, Clone, Copy)]
pub struct RemoteRun {
    pub connect: Duration,
    pub command: Duration,
}

impl RemoteRun {
    /// The cheap "is it up over there" probe made before a start.
    pub const PROBE: RemoteRun = RemoteRun {
        connect: Duration::from_secs(2),
        command: Duration::from_secs(10),
    };
    /// Reading a peer's status.
    pub const QUERY: RemoteRun = RemoteRun {
        connect: Duration::from_secs(5),
        command: Duration::from_secs(60),
    };
    /// Actions (start, stop, postsync): the peer may wait up to an hour for its lock.
    pub const ACTION: RemoteRun = RemoteRun {
        connect: Duration::from_secs(5),
        command: Duration::from_secs(3600 + 120),
    };
}

/// A peer node and the svcmgr binary to run there.
#[derive(Debug, Clone)]
pub struct Peer {
    pub target: Target,
    pub svcmgr: String,
}

impl Peer {
    pub fn new(node: &svcconf::NodeConfig, peer: &str) -> Peer {
        let svcmgr = node.ssh.svcmgr.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "svcmgr".into())
        });
        Peer {
            target: Target::from_node_config(node, peer),
            svcmgr,
        }
    }

    pub fn name(&self) -> &str {
        &self.target.node
    }

    /// `<svcmgr> args...`
    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        std::iter::once(self.svcmgr.clone())
            .chain(args.iter().map(|a| a.to_string()))
            .collect()
    }

    /// Connect and run `svcmgr args...` there; returns its exit status.
    pub fn run(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
        t: RemoteRun,
        on_line: impl FnMut(&str),
    ) -> Result<i32, SshError> {
        self.run_on(connect(&self.target, t.connect), args, stdin, t, on_line)
    }

    /// `run` on a session connected beforehand (or fail with its connection error).
    pub fn run_on(
        &self,
        sess: Result<Session, SshError>,
        args: &[&str],
        stdin: Option<&[u8]>,
        t: RemoteRun,
        on_line: impl FnMut(&str),
    ) -> Result<i32, SshError> {
        sess?.exec(&self.argv(args), stdin, t.command, on_line)
    }

    /// Open the session now (e.g. while something else runs), for `run_on`.
    pub fn connect(&self, t: RemoteRun) -> Result<Session, SshError> {
        connect(&self.target, t.connect)
    }
}

/// Run `svcmgr args...` on every peer at once (one thread each) and collect the exit codes
/// and outputs, in `peers` order. A peer that has not answered when `t` (connect + command) has passed
/// is reported as timed out; its thread is left behind.
pub fn run_all(
    peers: &[Peer],
    args: &[&str],
    t: RemoteRun,
) -> Vec<Result<(i32, String), SshError>> {
    let (tx, rx) = mpsc::channel();
    for (i, p) in peers.iter().enumerate() {
        let tx = tx.clone();
        let p = p.clone();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        std::thread::spawn(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut out = String::new();
            let r = p.run(&a, None, t, |l| {
                out.push_str(l);
                out.push('\n');
            });
            let _ = tx.send((i, r.map(|code| (code, out))));
        });
    }
    drop(tx);
    let mut out: Vec<Option<Result<(i32, String), SshError>>> =
        peers.iter().map(|_| None).collect();
    let deadline = Instant::now() + t.connect + t.command;
    while out.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, r)) => out[i] = Some(r),
            Err(_) => break,
        }
    }
    out.into_iter()
        .zip(peers)
        .map(|(r, p)| {
            r.unwrap_or_else(|| {
                Err(SshError::Timeout {
                    node: p.name().to_string(),
                    command: super::command_line(&p.argv(args)),
                    timeout: t.connect + t.command,
                })
            })
        })
        .collect()
}
