//! Host key checking against a known_hosts file, and the retry with another key type
//! when the host is listed with a key of a type the server did not offer first.

use std::path::PathBuf;
use std::time::Duration;

use ssh2::{CheckResult, KnownHostFileKind};

use super::{handshake, home_ssh, Session, SshError, Target};

/// Host key algorithms, in OpenSSH's order, grouped by key type (the RSA signatures share
/// one key).
pub(super) const HOST_KEY_ORDER: [&str; 5] = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512,rsa-sha2-256,ssh-rsa",
];

/// The negotiated key did not match known_hosts. The host may be listed there with a key
/// of another type (a host has several, and libssh2 compares any entry for the host, of any
/// type, as a mismatch), so ask for each other type in turn and accept the first that
/// matches: passing needs the private key of a listed key. When none matches, a mismatch
/// seen on any type is reported as a changed key, the alarm case. When one matches but the
/// host is also listed with another key of the type it offered first, that key changed:
/// accepted (another listed key proves the host), with a warning.
pub(super) fn retry_known_key_types(
    t: &Target,
    connect_timeout: Duration,
    first: &Session,
    err: SshError,
) -> Result<ssh2::Session, SshError> {
    if !matches!(
        err,
        SshError::HostKeyUnknown { .. } | SshError::HostKeyChanged { .. }
    ) {
        return Err(err);
    }
    let first_key = first.sess.host_key().map(|(k, kind)| (k.to_vec(), kind));
    let mut worst = err;
    for algs in HOST_KEY_ORDER {
        if first_key
            .as_ref()
            .is_some_and(|(_, k)| algs.starts_with(key_type_alg(*k)))
        {
            continue;
        }
        // A server without a key of this type fails the handshake: try the next.
        let Ok(other) = handshake(t, connect_timeout, algs.to_string()) else {
            continue;
        };
        match check_host_key(&other, t) {
            Ok(()) => {
                if let Some((key, _)) = &first_key {
                    warn_if_same_type_changed(&other, t, key);
                }
                return Ok(other.sess);
            }
            Err(e @ SshError::HostKeyChanged { .. }) => worst = e,
            Err(_) => {}
        }
    }
    Err(worst)
}

/// Warn when known_hosts lists the host with a key of `key`'s type but another key.
fn warn_if_same_type_changed(sess: &Session, t: &Target, key: &[u8]) {
    let Some(kind) = blob_key_type(key) else {
        return;
    };
    let path = known_hosts_path(t);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let changed = text
        .lines()
        .filter(|l| line_key_type(l) == Some(kind))
        .any(|l| {
            // One line at a time: libssh2 then compares that entry's key only.
            let Ok(mut kh) = sess.sess.known_hosts() else {
                return false;
            };
            kh.read_str(l, KnownHostFileKind::OpenSSH).is_ok()
                && matches!(kh.check_port(&t.addr, t.port, key), CheckResult::Mismatch)
        });
    if changed {
        tracing::warn!(
            "{}: the {kind} host key of {} does not match the one in {}: accepted the host \
             by another key listed there; the {kind} key changed, update known_hosts",
            t.node,
            t.addr_display(),
            path.display()
        );
    }
}

/// The key type named at the start of an SSH public key blob (`ssh-ed25519`, ...).
fn blob_key_type(blob: &[u8]) -> Option<&str> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    std::str::from_utf8(blob.get(4..4 + len)?).ok()
}

/// The key type field of a known_hosts line (`[@marker] hosts keytype key [comment]`).
fn line_key_type(line: &str) -> Option<&str> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut f = line.split_whitespace();
    let first = f.next()?;
    if first.starts_with('@') {
        f.next()?;
    }
    f.next()
}

fn key_type_alg(k: ssh2::HostKeyType) -> &'static str {
    match k {
        ssh2::HostKeyType::Ed25519 => "ssh-ed25519",
        ssh2::HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        ssh2::HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        ssh2::HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        ssh2::HostKeyType::Rsa => "rsa-sha2-512",
        _ => "unknown",
    }
}

fn known_hosts_path(t: &Target) -> PathBuf {
    t.known_hosts
        .clone()
        .unwrap_or_else(|| home_ssh("known_hosts"))
}

pub(super) fn check_host_key(sess: &Session, t: &Target) -> Result<(), SshError> {
    let path = known_hosts_path(t);
    let path_s = path.display().to_string();
    let kh_err = |source| SshError::KnownHosts {
        node: t.node.clone(),
        path: path_s.clone(),
        source,
    };
    let mut kh = sess.sess.known_hosts().map_err(kh_err)?;
    if path.exists() {
        kh.read_file(&path, KnownHostFileKind::OpenSSH)
            .map_err(kh_err)?;
    }
    let (key, _) = sess
        .sess
        .host_key()
        .ok_or_else(|| SshError::HostKeyUnknown {
            node: t.node.clone(),
            addr: t.addr_display(),
            known_hosts: path_s.clone(),
        })?;
    match kh.check_port(&t.addr, t.port, key) {
        CheckResult::Match => Ok(()),
        CheckResult::Mismatch => Err(SshError::HostKeyChanged {
            node: t.node.clone(),
            addr: t.addr_display(),
            known_hosts: path_s,
        }),
        CheckResult::NotFound | CheckResult::Failure => Err(SshError::HostKeyUnknown {
            node: t.node.clone(),
            addr: t.addr_display(),
            known_hosts: path_s,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_type_of_a_blob() {
        let mut blob = 11u32.to_be_bytes().to_vec();
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&[0, 0, 0, 32]);
        assert_eq!(blob_key_type(&blob), Some("ssh-ed25519"));
        assert_eq!(blob_key_type(&[0, 0, 0, 40, b's']), None);
        assert_eq!(blob_key_type(&[0, 0]), None);
    }

    #[test]
    fn key_type_of_a_known_hosts_line() {
        assert_eq!(
            line_key_type("10.0.0.2 ssh-ed25519 AAAAC3Nz host"),
            Some("ssh-ed25519")
        );
        assert_eq!(
            line_key_type("@cert-authority *.lab ecdsa-sha2-nistp256 AAAA"),
            Some("ecdsa-sha2-nistp256")
        );
        assert_eq!(
            line_key_type("|1|c2FsdA==|aGFzaA== ssh-rsa AAAAB3"),
            Some("ssh-rsa")
        );
        assert_eq!(line_key_type("# a comment"), None);
        assert_eq!(line_key_type("   "), None);
        assert_eq!(line_key_type("lonely-host"), None);
    }
}
