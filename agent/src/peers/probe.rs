//! Asking peers whether the service runs there: `svcmgr -s SVC print status --format json
//! --local` on each, in parallel, and what each answer means.

use resources::Status;

use crate::engine::error_chain;
use crate::exitcode;
use crate::service::Service;
use crate::ssh::{run_all, Captured, Peer, RemoteRun, SshError};

/// What a peer told about the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerState {
    /// Its avail status there.
    Known(Status),
    /// It could not be reached (name resolution or TCP connect failed): the reason.
    Unreachable(String),
    /// Reached, but the answer does not tell (ssh failure after connecting, timeout,
    /// a failed or unreadable `print status`): the reason.
    Unknown(String),
}

impl PeerState {
    /// Up, or partly up: starting elsewhere would run it twice.
    pub fn running(&self) -> bool {
        matches!(self, PeerState::Known(st) if is_running(*st))
    }
}

/// Up, or partly up.
pub fn is_running(st: Status) -> bool {
    matches!(st, Status::Up | Status::Warn)
}

/// Nothing of the service runs there (standby resources may).
pub fn is_down(st: Status) -> bool {
    matches!(
        st,
        Status::Down | Status::StdbyUp | Status::StdbyDown | Status::NotApplicable
    )
}

/// The state of the service on each of `names`, asked in parallel; the reason of each
/// state that is not Known is logged as a warning.
pub fn peer_states(s: &Service, names: &[String], t: RemoteRun) -> Vec<(String, PeerState)> {
    let peers: Vec<Peer> = names.iter().map(|n| Peer::new(&s.node, n)).collect();
    let args = [
        "-s",
        s.name.as_str(),
        "print",
        "status",
        "--format",
        "json",
        "--local",
    ];
    run_all(&peers, &args, t)
        .into_iter()
        .zip(names)
        .map(|(r, name)| {
            let st = state_of(&s.name, name, r);
            match &st {
                PeerState::Known(_) => {}
                PeerState::Unreachable(why) => tracing::warn!("{why}"),
                PeerState::Unknown(why) => tracing::warn!("{why}"),
            }
            (name.clone(), st)
        })
        .collect()
}

/// One peer's answer to the status query.
fn state_of(svc: &str, name: &str, r: Result<Captured, SshError>) -> PeerState {
    match r {
        Ok(c) if c.code == 0 => match avail_from_json(&c.stdout) {
            Some(st) => PeerState::Known(st),
            None => PeerState::Unknown(format!(
                "{name}: unreadable status answer: {}; can not tell whether {svc} runs there",
                first_line(&c.stdout, &c.stderr)
            )),
        },
        // A node without the config does not run the service.
        Ok(c) if c.code == exitcode::NO_SUCH_SERVICE => PeerState::Known(Status::Down),
        Ok(c) => PeerState::Unknown(format!(
            "{name}: print status exited with code {}: {}; can not tell whether {svc} runs there",
            c.code,
            first_line(&c.stderr, &c.stdout)
        )),
        Err(e @ (SshError::Resolve { .. } | SshError::Connect { .. })) => PeerState::Unreachable(
            format!("{}; can not tell whether {svc} runs there", error_chain(&e)),
        ),
        Err(e) => PeerState::Unknown(format!(
            "{}; can not tell whether {svc} runs there",
            error_chain(&e)
        )),
    }
}

/// The first non-blank line of `a`, else of `b`, for a message.
fn first_line<'a>(a: &'a str, b: &'a str) -> &'a str {
    a.lines()
        .chain(b.lines())
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(no output)")
}

/// `avail` of a `print status --format json` answer: stdout must be one JSON document.
pub fn avail_from_json(out: &str) -> Option<Status> {
    let v: serde_json::Value = serde_json::from_str(out).ok()?;
    serde_json::from_value(v.get("avail")?.clone()).ok()
}

/// The verdict of a check made before a start: the nodes that run the service, and those
/// that could not be asked or could not tell, with why. Unknown is never "not running".
#[derive(Debug, Default)]
pub struct Verdict {
    pub up: Vec<String>,
    pub unknown: Vec<(String, String)>,
}

impl Verdict {
    pub fn unknown_names(&self) -> Vec<&str> {
        self.unknown.iter().map(|(n, _)| n.as_str()).collect()
    }
}

pub fn verdict(states: &[(String, PeerState)]) -> Verdict {
    let mut v = Verdict::default();
    for (name, st) in states {
        match st {
            st if st.running() => v.up.push(name.clone()),
            PeerState::Unknown(why) | PeerState::Unreachable(why) => {
                v.unknown.push((name.clone(), why.clone()))
            }
            PeerState::Known(_) => {}
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exitcode;

    fn ok(code: i32, stdout: &str, stderr: &str) -> Result<Captured, SshError> {
        Ok(Captured {
            code,
            stdout: stdout.into(),
            stderr: stderr.into(),
        })
    }

    #[test]
    fn avail_is_read_from_a_strict_document() {
        let doc = "{\n  \"svcname\": \"web\",\n  \"avail\": \"up\",\n  \"overall\": \"warn\"\n}\n";
        assert_eq!(avail_from_json(doc), Some(Status::Up));
        assert_eq!(
            avail_from_json("{\"avail\": \"stdby up\"}"),
            Some(Status::StdbyUp)
        );
        // Anything around the document makes it garbage: warnings go to stderr.
        assert_eq!(avail_from_json(&format!("warning: x\n{doc}")), None);
        assert_eq!(avail_from_json(&format!("{doc}trailing")), None);
        assert_eq!(avail_from_json("svcmgr: error: no such service\n"), None);
        assert_eq!(avail_from_json("{\"avail\": \"sideways\"}"), None);
        assert_eq!(avail_from_json("{\"overall\": \"up\"}"), None);
    }

    #[test]
    fn answers_and_what_they_mean() {
        let doc = "{\"avail\": \"warn\"}\n";
        assert_eq!(
            state_of("web", "n2", ok(0, doc, "warning: node.toml:3: unknown key")),
            PeerState::Known(Status::Warn)
        );
        let missing = "svcmgr: error: service web not found: no /r/etc/web.conf (nor .env)\n";
        assert_eq!(
            state_of("web", "n2", ok(exitcode::NO_SUCH_SERVICE, "", missing)),
            PeerState::Known(Status::Down)
        );
        // Any other failure is no answer, whatever it says.
        assert!(matches!(
            state_of("web", "n2", ok(1, "", missing)),
            PeerState::Unknown(_)
        ));
        // A wrong svcmgr path: the shell's 127 is no answer.
        let st = state_of(
            "web",
            "n2",
            ok(127, "", "\nbash: /opt/svcmgr: No such file or directory\n"),
        );
        assert_eq!(
            st,
            PeerState::Unknown(
                "n2: print status exited with code 127: bash: /opt/svcmgr: No such file or \
                 directory; can not tell whether web runs there"
                    .into()
            )
        );
        let st = state_of("web", "n2", ok(0, "garbage\n", ""));
        assert!(
            matches!(&st, PeerState::Unknown(w) if w.contains("unreadable status answer: garbage")),
            "{st:?}"
        );
    }

    #[test]
    fn only_resolve_and_connect_failures_are_unreachable() {
        let refused = SshError::Connect {
            node: "n2".into(),
            addr: "10.0.0.2:22".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        assert!(matches!(
            state_of("web", "n2", Err(refused)),
            PeerState::Unreachable(_)
        ));
        let slow = SshError::Timeout {
            node: "n2".into(),
            command: "svcmgr".into(),
            timeout: std::time::Duration::from_secs(40),
        };
        assert!(matches!(
            state_of("web", "n2", Err(slow)),
            PeerState::Unknown(_)
        ));
        let auth = SshError::Auth {
            node: "n2".into(),
            user: "root".into(),
            identity: "id".into(),
            source: None,
        };
        assert!(matches!(
            state_of("web", "n2", Err(auth)),
            PeerState::Unknown(_)
        ));
    }

    #[test]
    fn verdict_and_status_classes() {
        let states = vec![
            ("n2".to_string(), PeerState::Known(Status::Warn)),
            ("n3".to_string(), PeerState::Unknown("x".into())),
            ("n4".to_string(), PeerState::Unreachable("y".into())),
            ("n5".to_string(), PeerState::Known(Status::StdbyUp)),
        ];
        let v = verdict(&states);
        assert_eq!(v.up, vec!["n2"]);
        // An unreachable node is unknown too, never "not running".
        assert_eq!(v.unknown_names(), vec!["n3", "n4"]);
        assert_eq!(v.unknown[1].1, "y");
        assert!(is_running(Status::Up) && is_running(Status::Warn));
        assert!(!is_running(Status::StdbyUp) && !is_running(Status::Undef));
        assert!(is_down(Status::Down) && is_down(Status::StdbyUp));
        assert!(!is_down(Status::Warn) && !is_down(Status::Undef) && !is_down(Status::Up));
    }
}
