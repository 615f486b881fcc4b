//! `postsync`: install a pushed config, under the service lock, only when it is complete
//! (length and checksum) and not older than the config in place.

use std::path::PathBuf;
use std::time::Duration;

use super::generation::{self, Generation, PayloadError, Verdict};
use super::{gen_file, records, sha256};
use crate::lock::{self, LockError};
use crate::paths::Root;

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("push refused, the config in place is unchanged")]
    Payload(#[source] PayloadError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(
        "refused stale push from {from}: generation {incoming} is not newer than generation \
         {local} in place (its config differs)"
    )]
    Stale {
        from: String,
        incoming: u64,
        local: u64,
    },
    #[error("push refused, nothing installed: the pushed config does not load")]
    Invalid(#[source] Box<svcconf::ConfigError>),
    #[error("can not install {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    Installed { gen: u64, from: String },
    Current { gen: u64, from: String },
}

pub fn postsync(
    root: &Root,
    svc: &str,
    raw: &[u8],
    waitlock: Duration,
) -> Result<Received, ReceiveError> {
    let (h, body) = generation::decode(raw).map_err(ReceiveError::Payload)?;
    let _lock = lock::acquire(&root.lock(svc), "postsync", waitlock)?;
    let var = root.svc_var(svc);
    let gpath = gen_file(&var);
    let conf = root.etc.join(format!("{svc}.conf"));
    let write_err = |path: &PathBuf| {
        let path = path.clone();
        move |source| ReceiveError::Write { path, source }
    };
    let local: Option<Generation> = match std::fs::read(&conf) {
        Ok(data) => generation::load(&gpath).map(|rec| {
            generation::current(Some(&rec), &sha256::hex(&data), generation::mtime_of(&conf)).0
        }),
        Err(_) => None,
    };
    let incoming = &h.generation;
    let verdict = generation::judge(incoming, local.as_ref());
    match verdict {
        Verdict::Stale => {
            let local = local.map_or(0, |l| l.gen);
            return Err(ReceiveError::Stale {
                from: h.from,
                incoming: incoming.gen,
                local,
            });
        }
        Verdict::Install => {
            check_loads(root, svc, &conf, &h.from, body)?;
            crate::paths::write_atomic(&conf, body).map_err(write_err(&conf))?
        }
        Verdict::Current => {}
    }
    // Keep the higher of the two generations for the same content.
    let keep = match &local {
        Some(l) if verdict == Verdict::Current && !incoming.newer_than(l) => l.clone(),
        _ => incoming.clone(),
    };
    if local.as_ref() != Some(&keep) {
        generation::save(&gpath, &keep).map_err(write_err(&gpath))?;
    }
    // The pusher holds what it pushed.
    records::save(&var, &h.from, incoming).map_err(write_err(&records::dir(&var)))?;
    Ok(match verdict {
        Verdict::Install => Received::Installed {
            gen: incoming.gen,
            from: h.from,
        },
        _ => Received::Current {
            gen: keep.gen,
            from: h.from,
        },
    })
}

/// A push is installed only if it loads as this node would load it; its errors name the
/// pushed file and the pusher (and go back to it on the push's stderr).
fn check_loads(
    root: &Root,
    svc: &str,
    conf: &std::path::Path,
    from: &str,
    body: &[u8],
) -> Result<(), ReceiveError> {
    let nodename = crate::service::load_node(root)
        .map(|n| n.nodename)
        .unwrap_or_else(|_| crate::service::hostname());
    let shown = PathBuf::from(format!("{} (pushed by {from})", conf.display()));
    svcconf::parse_service(body, &shown, svc, &nodename)
        .map(|_| ())
        .map_err(|e| ReceiveError::Invalid(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config that loads, told apart by `v`.
    fn cfg(v: &str) -> Vec<u8> {
        format!("[DEFAULT]\nnodes = n1\n# {v}\n").into_bytes()
    }

    fn push(data: &[u8], gen: u64, stamp: i64) -> Vec<u8> {
        let g = Generation {
            gen,
            stamp,
            sum: sha256::hex(data),
        };
        generation::encode(&g, "n1", data)
    }

    #[test]
    fn install_refuse_stale_and_damaged() {
        let d = std::env::temp_dir().join(format!("svcmgr-recv-{}", std::process::id()));
        let root = Root::under(&d);
        let conf = root.etc.join("web.conf");
        let w = Duration::from_secs(1);
        // A hand-written, untracked config is replaced by any push.
        std::fs::create_dir_all(&root.etc).unwrap();
        std::fs::write(&conf, "hand").unwrap();
        let r = postsync(&root, "web", &push(&cfg("v2"), 2, 10), w).unwrap();
        assert_eq!(
            r,
            Received::Installed {
                gen: 2,
                from: "n1".into()
            }
        );
        assert_eq!(std::fs::read(&conf).unwrap(), cfg("v2"));
        assert_eq!(records::load(&root.svc_var("web"), "n1").unwrap().gen, 2);
        // The same again: nothing to do.
        let r = postsync(&root, "web", &push(&cfg("v2"), 2, 10), w).unwrap();
        assert_eq!(
            r,
            Received::Current {
                gen: 2,
                from: "n1".into()
            }
        );
        // An older generation with other content is refused.
        let e = postsync(&root, "web", &push(&cfg("v1"), 1, 5), w).unwrap_err();
        assert!(
            matches!(
                e,
                ReceiveError::Stale {
                    incoming: 1,
                    local: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(std::fs::read(&conf).unwrap(), cfg("v2"));
        // A cut push changes nothing.
        let mut cut = push(&cfg("v3 longer"), 3, 20);
        cut.truncate(cut.len() - 3);
        let e = postsync(&root, "web", &cut, w).unwrap_err();
        assert!(matches!(
            e,
            ReceiveError::Payload(PayloadError::Truncated { .. })
        ));
        assert_eq!(std::fs::read(&conf).unwrap(), cfg("v2"));
        // A local edit bumps the local generation: a push of the old next number loses.
        std::fs::write(&conf, "local edit").unwrap();
        let e = postsync(&root, "web", &push(&cfg("v3"), 2, 30), w).unwrap_err();
        assert!(matches!(e, ReceiveError::Stale { .. }), "{e}");
        let r = postsync(&root, "web", &push(&cfg("v4"), 4, 40), w).unwrap();
        assert_eq!(
            r,
            Received::Installed {
                gen: 4,
                from: "n1".into()
            }
        );
        assert_eq!(std::fs::read(&conf).unwrap(), cfg("v4"));
        // No temp file left behind.
        let names: Vec<String> = std::fs::read_dir(&root.etc)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["web.conf"]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_push_that_does_not_load_is_refused_with_its_error() {
        let d = std::env::temp_dir().join(format!("svcmgr-recv-bad-{}", std::process::id()));
        let root = Root::under(&d);
        let conf = root.etc.join("web.conf");
        let w = Duration::from_secs(1);
        postsync(&root, "web", &push(&cfg("v1"), 1, 10), w).unwrap();
        let bad = b"[DEFAULT]\nnodes = n1\n[fs#1]\nmnt = /x\nnot a line\n";
        let e = postsync(&root, "web", &push(bad, 2, 20), w).unwrap_err();
        let msg = crate::engine::error_chain(&e);
        assert!(msg.starts_with("push refused, nothing installed"), "{msg}");
        assert!(msg.contains("web.conf (pushed by n1)"), "{msg}");
        assert!(
            msg.contains("web.conf (pushed by n1):5: syntax error"),
            "{msg}"
        );
        assert_eq!(std::fs::read(&conf).unwrap(), cfg("v1"));
        let gen = generation::load(&gen_file(&root.svc_var("web"))).unwrap();
        assert_eq!(gen.gen, 1);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
