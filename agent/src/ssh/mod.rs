//! The ssh client used to reach peers (config pushes, relocation, the peer-up check):
//! ssh2 sessions with a connect timeout, an overall command deadline, public key auth from
//! an identity file and host key checking against a known_hosts file.

mod hostkey;
mod remote;

pub use remote::{run_all, Peer, RemoteRun};

use hostkey::{check_host_key, retry_known_key_types, HOST_KEY_ORDER};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ssh2::ExtendedData;

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("{node}: can not resolve {addr}")]
    Resolve {
        node: String,
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{node}: can not connect to {addr}")]
    Connect {
        node: String,
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{node}: ssh handshake with {addr} failed")]
    Handshake {
        node: String,
        addr: String,
        #[source]
        source: ssh2::Error,
    },
    #[error(
        "{node}: host key of {addr} is not in {known_hosts} (add it, or set \
         strict_host_key_checking = false in node.toml [ssh])"
    )]
    HostKeyUnknown {
        node: String,
        addr: String,
        known_hosts: String,
    },
    #[error(
        "{node}: host key of {addr} does not match the one in {known_hosts}: \
         the host changed, or someone is in the middle"
    )]
    HostKeyChanged {
        node: String,
        addr: String,
        known_hosts: String,
    },
    #[error("{node}: can not read known hosts {path}")]
    KnownHosts {
        node: String,
        path: String,
        #[source]
        source: ssh2::Error,
    },
    #[error("{node}: authentication as {user} with {identity} failed")]
    Auth {
        node: String,
        user: String,
        identity: String,
        #[source]
        source: Option<ssh2::Error>,
    },
    #[error("{node}: running {command} failed")]
    Channel {
        node: String,
        command: String,
        #[source]
        source: ssh2::Error,
    },
    #[error("{node}: {command} did not finish within {timeout:?}")]
    Timeout {
        node: String,
        command: String,
        timeout: Duration,
    },
    #[error("{node}: connection lost while running {command}")]
    Io {
        node: String,
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{node}: {command} was killed by signal {signal}")]
    Signal {
        node: String,
        command: String,
        signal: String,
    },
}

impl SshError {
    /// Whether the remote command may have run, in whole or in part: the error came
    /// after the command was handed to the peer. False means it never started there.
    pub fn may_have_run(&self) -> bool {
        matches!(
            self,
            SshError::Io { .. } | SshError::Timeout { .. } | SshError::Signal { .. }
        )
    }
}

/// What a remote command printed, stdout and stderr apart, and its exit status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Everything needed to reach one peer (from node.toml `[ssh]` and `[nodes.<peer>]`).
#[derive(Debug, Clone)]
pub struct Target {
    pub node: String,
    pub addr: String,
    pub port: u16,
    pub user: String,
    /// None: the usual files under ~/.ssh, the first one that exists.
    pub identity: Option<PathBuf>,
    /// None: ~/.ssh/known_hosts.
    pub known_hosts: Option<PathBuf>,
    pub strict: bool,
}

impl Target {
    pub fn from_node_config(node: &svcconf::NodeConfig, peer: &str) -> Target {
        let (addr, port) = node.peer_addr(peer);
        Target {
            node: peer.to_string(),
            addr,
            port,
            user: node.ssh.user.clone(),
            identity: node.ssh.identity.clone(),
            known_hosts: node.ssh.known_hosts.clone(),
            strict: node.ssh.strict_host_key_checking,
        }
    }

    fn addr_display(&self) -> String {
        format!("{}:{}", self.addr, self.port)
    }
}

fn home_ssh(file: &str) -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".ssh").join(file)
}

/// A connected, authenticated session to one peer.
pub struct Session {
    sess: ssh2::Session,
    node: String,
}

/// Connect within `connect_timeout` (TCP connect, handshake and auth each bounded by it),
/// check the host key, authenticate.
pub fn connect(t: &Target, connect_timeout: Duration) -> Result<Session, SshError> {
    let mut sess = handshake(t, connect_timeout, HOST_KEY_ORDER.join(","))?;
    if t.strict {
        if let Err(e) = check_host_key(&sess, t) {
            sess.sess = retry_known_key_types(t, connect_timeout, &sess, e)?;
        }
    }
    authenticate(&sess.sess, t)?;
    Ok(sess)
}

/// TCP connect and SSH handshake offering `host_key_algs`.
fn handshake(
    t: &Target,
    connect_timeout: Duration,
    host_key_algs: String,
) -> Result<Session, SshError> {
    let addr_s = t.addr_display();
    let addrs: Vec<SocketAddr> = (t.addr.as_str(), t.port)
        .to_socket_addrs()
        .map_err(|source| SshError::Resolve {
            node: t.node.clone(),
            addr: t.addr.clone(),
            source,
        })?
        .collect();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    let mut tcp = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, connect_timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let tcp = tcp.ok_or_else(|| SshError::Connect {
        node: t.node.clone(),
        addr: addr_s.clone(),
        source: last,
    })?;
    let _ = tcp.set_nodelay(true);
    let handshake = |source| SshError::Handshake {
        node: t.node.clone(),
        addr: addr_s.clone(),
        source,
    };
    let mut sess = ssh2::Session::new().map_err(handshake)?;
    sess.method_pref(ssh2::MethodType::HostKey, &host_key_algs)
        .map_err(handshake)?;
    sess.set_tcp_stream(tcp);
    sess.set_timeout(millis(connect_timeout));
    sess.handshake().map_err(handshake)?;
    Ok(Session {
        sess,
        node: t.node.clone(),
    })
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
}

fn authenticate(sess: &ssh2::Session, t: &Target) -> Result<(), SshError> {
    let candidates: Vec<PathBuf> = match &t.identity {
        Some(p) => vec![p.clone()],
        None => ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .map(|f| home_ssh(f))
            .filter(|p| p.exists())
            .collect(),
    };
    let mut last = None;
    for id in &candidates {
        match sess.userauth_pubkey_file(&t.user, None, id, None) {
            Ok(()) if sess.authenticated() => return Ok(()),
            Ok(()) => {}
            Err(e) => last = Some(e),
        }
    }
    Err(SshError::Auth {
        node: t.node.clone(),
        user: t.user.clone(),
        identity: match candidates.len() {
            0 => "no identity file (none configured, none in ~/.ssh)".to_string(),
            _ => candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        },
        source: last,
    })
}

/// Quote one word for the remote shell: single quotes, `'` as `'\''`.
pub fn shell_quote(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+#".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

pub fn command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where the remote command's stderr goes.
enum Streams<'a> {
    /// Merged into stdout, lines handed over as they arrive.
    Merged(&'a mut dyn FnMut(&str)),
    /// Kept apart, collected. Both are read after each other, so this is for commands
    /// with small output (status queries): stderr beyond the channel window (2 MiB)
    /// would stall until the deadline.
    Apart {
        out: &'a mut Vec<u8>,
        err: &'a mut Vec<u8>,
    },
}

impl Session {
    /// Run `argv` on the peer; `stdin` is sent then closed. Output (stderr merged into
    /// stdout) is handed to `on_line` line by line as it arrives. Returns the exit status.
    /// The whole run is bounded by `timeout`.
    pub fn exec(
        &self,
        argv: &[String],
        stdin: Option<&[u8]>,
        timeout: Duration,
        mut on_line: impl FnMut(&str),
    ) -> Result<i32, SshError> {
        self.exec_streams(argv, stdin, timeout, Streams::Merged(&mut on_line))
    }

    /// Run `argv` on the peer with no input, stdout and stderr collected apart (for
    /// answers parsed as documents, with warnings on stderr). Bounded by `timeout`.
    pub fn capture(&self, argv: &[String], timeout: Duration) -> Result<Captured, SshError> {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = self.exec_streams(
            argv,
            None,
            timeout,
            Streams::Apart {
                out: &mut out,
                err: &mut err,
            },
        )?;
        Ok(Captured {
            code,
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
        })
    }

    fn exec_streams(
        &self,
        argv: &[String],
        stdin: Option<&[u8]>,
        timeout: Duration,
        streams: Streams<'_>,
    ) -> Result<i32, SshError> {
        let command = command_line(argv);
        let deadline = Instant::now() + timeout;
        // Before the exec request is granted the command can not have started.
        let chan_err = |source| SshError::Channel {
            node: self.node.clone(),
            command: command.clone(),
            source,
        };
        let timed_out = || SshError::Timeout {
            node: self.node.clone(),
            command: command.clone(),
            timeout,
        };
        // After it, any failure leaves the peer's side unknown.
        let io_err = |source: std::io::Error| {
            if source.kind() == std::io::ErrorKind::TimedOut || Instant::now() >= deadline {
                timed_out()
            } else {
                SshError::Io {
                    node: self.node.clone(),
                    command: command.clone(),
                    source,
                }
            }
        };
        let ssh_err = |e: ssh2::Error| io_err(e.into());
        let remaining = || deadline.saturating_duration_since(Instant::now());
        self.sess.set_timeout(millis(remaining()));
        let mut ch = self.sess.channel_session().map_err(chan_err)?;
        let mode = match streams {
            Streams::Merged(_) => ExtendedData::Merge,
            Streams::Apart { .. } => ExtendedData::Normal,
        };
        ch.handle_extended_data(mode).map_err(chan_err)?;
        ch.exec(&command).map_err(|e| {
            // Refused by the peer: nothing ran. Any other failure (the connection lost
            // while waiting for the answer) may come after the peer started it.
            if e.code() == ssh2::ErrorCode::Session(REQUEST_DENIED) {
                chan_err(e)
            } else {
                ssh_err(e)
            }
        })?;
        if let Some(data) = stdin {
            self.sess.set_timeout(millis(remaining()));
            ch.write_all(data).map_err(io_err)?;
            ch.flush().map_err(io_err)?;
        }
        ch.send_eof().map_err(ssh_err)?;
        let mut buf = [0u8; 16 * 1024];
        let mut read_all = |r: &mut dyn Read, sink: &mut dyn FnMut(&[u8])| loop {
            if remaining().is_zero() {
                return Err(timed_out());
            }
            self.sess.set_timeout(millis(remaining()));
            let n = r.read(&mut buf).map_err(io_err)?;
            if n == 0 {
                return Ok(());
            }
            sink(&buf[..n]);
        };
        match streams {
            Streams::Merged(on_line) => {
                let mut pending: Vec<u8> = Vec::new();
                read_all(&mut ch, &mut |data| {
                    pending.extend_from_slice(data);
                    while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=pos).collect();
                        on_line(
                            String::from_utf8_lossy(&line[..line.len() - 1]).trim_end_matches('\r'),
                        );
                    }
                })?;
                if !pending.is_empty() {
                    on_line(&String::from_utf8_lossy(&pending));
                }
            }
            Streams::Apart { out, err } => {
                read_all(&mut ch, &mut |d| out.extend_from_slice(d))?;
                read_all(&mut ch.stderr(), &mut |d| err.extend_from_slice(d))?;
            }
        }
        self.sess.set_timeout(millis(remaining()));
        ch.wait_close().map_err(ssh_err)?;
        let signal = ch.exit_signal().map_err(ssh_err)?.exit_signal;
        finish(
            &self.node,
            &command,
            signal,
            ch.exit_status().map_err(ssh_err)?,
        )
    }
}

/// LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED
const REQUEST_DENIED: std::ffi::c_int = -22;

/// The outcome of a remote command from what the peer reported when it closed the
/// channel: a signal (killed, e.g. by the OOM killer) is a failure whatever the status
/// reads (libssh2 reports 0 when no exit-status came).
fn finish(node: &str, command: &str, signal: Option<String>, status: i32) -> Result<i32, SshError> {
    match signal {
        Some(signal) => Err(SshError::Signal {
            node: node.to_string(),
            command: command.to_string(),
            signal,
        }),
        None => Ok(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_words_intact() {
        assert_eq!(shell_quote("/usr/bin/svcmgr"), "/usr/bin/svcmgr");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$(reboot)"), "'$(reboot)'");
        let argv: Vec<String> = ["svcmgr", "-s", "web", "start", "--local"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(command_line(&argv), "svcmgr -s web start --local");
    }

    #[test]
    fn a_signal_is_a_failure_even_with_status_zero() {
        let e = finish("n2", "svcmgr -s web start", Some("KILL".into()), 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "n2: svcmgr -s web start was killed by signal KILL"
        );
        assert!(e.may_have_run());
        assert_eq!(finish("n2", "x", None, 0).unwrap(), 0);
        assert_eq!(finish("n2", "x", None, 3).unwrap(), 3);
    }

    #[test]
    fn errors_before_the_exec_mean_nothing_ran() {
        let io = || std::io::Error::other("x");
        let before = [
            SshError::Connect {
                node: "n2".into(),
                addr: "a".into(),
                source: io(),
            },
            SshError::HostKeyUnknown {
                node: "n2".into(),
                addr: "a".into(),
                known_hosts: "k".into(),
            },
            SshError::Auth {
                node: "n2".into(),
                user: "root".into(),
                identity: "i".into(),
                source: None,
            },
        ];
        assert!(before.iter().all(|e| !e.may_have_run()));
        let after = [
            SshError::Io {
                node: "n2".into(),
                command: "c".into(),
                source: io(),
            },
            SshError::Timeout {
                node: "n2".into(),
                command: "c".into(),
                timeout: Duration::from_secs(1),
            },
        ];
        assert!(after.iter().all(SshError::may_have_run));
    }

    #[test]
    fn unreachable_peer_fails_fast_naming_it() {
        // A port nobody listens on, on loopback: refused at once.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let t = Target {
            node: "n9".into(),
            addr: "127.0.0.1".into(),
            port,
            user: "root".into(),
            identity: None,
            known_hosts: None,
            strict: true,
        };
        let start = Instant::now();
        let e = connect(&t, Duration::from_secs(2))
            .err()
            .expect("must fail");
        assert!(start.elapsed() < Duration::from_secs(3));
        let msg = e.to_string();
        assert!(
            msg.starts_with("n9: can not connect to 127.0.0.1:"),
            "{msg}"
        );
    }

    #[test]
    fn peer_address_from_node_config() {
        let (node, _) = svcconf::parse_node(
            "nodename = \"n1\"\n[ssh]\nport = 2222\n[nodes.n2]\naddr = \"10.0.0.2\"\n",
            std::path::Path::new("node.toml"),
            "h",
        )
        .unwrap();
        let t = Target::from_node_config(&node, "n2");
        assert_eq!((t.addr.as_str(), t.port), ("10.0.0.2", 2222));
        let t = Target::from_node_config(&node, "n3");
        assert_eq!((t.addr.as_str(), t.port), ("n3", 2222));
        assert!(t.strict);
    }
}
