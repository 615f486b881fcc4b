//! Running svcmgr itself on a peer.

use std::time::Duration;

use super::{connect, Captured, Session, SshError, Target};

/// Time bounds of one remote run.
#[derive(Debug, Clone, Copy)]
pub struct RemoteRun {
    pub connect: Duration,
    pub command: Duration,
}

impl RemoteRun {
    /// The cheap "is it up over there" probe made before a start. A peer that connects
    /// but does not answer in time blocks the start, so leave room for a slow status
    /// (a container runtime's query may take tens of seconds).
    pub const PROBE: RemoteRun = RemoteRun {
        connect: Duration::from_secs(2),
        command: Duration::from_secs(40),
    };
    /// Reading a peer's status.
    pub const QUERY: RemoteRun = RemoteRun {
        connect: Duration::from_secs(5),
        command: Duration::from_secs(60),
    };
    /// Config pushes (postsync): the peer may wait up to an hour for its lock.
    pub const ACTION: RemoteRun = RemoteRun {
        connect: Duration::from_secs(5),
        command: Duration::from_secs(3600 + 120),
    };
    /// Time a remote action may take once it holds its lock.
    pub const ACTION_MARGIN: Duration = Duration::from_secs(600);

    /// A remote action whose lock wait is bounded by `waitlock` seconds (`locks` locks
    /// taken one after the other, e.g. 2 for a switch run there).
    pub fn action(waitlock: u64, locks: u32) -> RemoteRun {
        RemoteRun {
            connect: Duration::from_secs(5),
            command: Duration::from_secs(waitlock.saturating_mul(u64::from(locks)))
                .saturating_add(Self::ACTION_MARGIN),
        }
    }
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

    /// Connect and run `svcmgr args...` with no input; stdout and stderr kept apart.
    pub fn capture(&self, args: &[&str], t: RemoteRun) -> Result<Captured, SshError> {
        connect(&self.target, t.connect)?.capture(&self.argv(args), t.command)
    }

    /// Open the session now (e.g. while something else runs), for `run_on`.
    pub fn connect(&self, t: RemoteRun) -> Result<Session, SshError> {
        connect(&self.target, t.connect)
    }
}

/// Run `svcmgr args...` on every peer at once (one scoped thread each) and collect what
/// each printed, in `peers` order. Every blocking ssh call of a peer is bounded by what is
/// left of its connect and command time, so a stuck peer ends in its own timeout error and
/// no thread outlives the call.
pub fn run_all(peers: &[Peer], args: &[&str], t: RemoteRun) -> Vec<Result<Captured, SshError>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = peers
            .iter()
            .map(|p| s.spawn(move || p.capture(args, t)))
            .collect();
        handles
            .into_iter()
            .zip(peers)
            .map(|(h, p)| {
                h.join().unwrap_or_else(|_| {
                    Err(SshError::Timeout {
                        node: p.name().to_string(),
                        command: super::command_line(&p.argv(args)),
                        timeout: t.connect + t.command,
                    })
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_time_follows_waitlock() {
        let t = RemoteRun::action(60, 1);
        assert_eq!(
            t.command,
            Duration::from_secs(60) + RemoteRun::ACTION_MARGIN
        );
        let t = RemoteRun::action(60, 2);
        assert_eq!(
            t.command,
            Duration::from_secs(120) + RemoteRun::ACTION_MARGIN
        );
        assert_eq!(RemoteRun::action(u64::MAX, 2).command, Duration::MAX);
    }
}
