//! Changing a service config: under the service lock, the current file read and parsed (a
//! file that does not parse is not rewritten), the edit applied line-preservingly, the
//! result validated as `validate config` would (keywords, values, drivers), then written
//! atomically. Peers see the change through the file's checksum: `sync#i0` shows them as
//! needing an update until the next push, which bumps the config generation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use svcconf::edit::Doc;
use svcconf::ConfigWarning;

use crate::paths::{write_atomic, Root};
use crate::service::NoSuchService;

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Written,
    /// The text came out the same: nothing written.
    Unchanged,
}

/// A new warning of the edited config that is an error for an edit: a keyword the table
/// does not know (`validate config` only warns, since an old file may carry them).
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: [{section}] {keyword}: unknown keyword", file.display())]
pub struct UnknownKeyword {
    pub file: PathBuf,
    pub line: usize,
    pub section: String,
    pub keyword: String,
}

/// Why an edit was refused before anything was written.
#[derive(Debug, thiserror::Error)]
#[error("{} does not parse: not changing it (fix it with edit config)", file.display())]
pub struct BrokenConfig {
    pub file: PathBuf,
}

/// The config of `svc` as it would load, with its warnings, from `bytes` (not written).
/// Errors as `validate config`: the reader's, then each driver's.
pub fn check(
    root: &Root,
    svc: &str,
    path: &Path,
    bytes: &[u8],
) -> anyhow::Result<Vec<ConfigWarning>> {
    let node = crate::service::load_node(root)?;
    let site = crate::service::site(root, svc, &node);
    let loaded = svcconf::parse_service_at(bytes, path, &site)?;
    for rc in &loaded.config.resources {
        resources::Resource::new(&loaded.config, rc)
            .with_context(|| format!("{}: [{}]", path.display(), rc.rid))?;
    }
    Ok(loaded.warnings)
}

fn warn_key(w: &ConfigWarning) -> (Option<String>, Option<String>, String) {
    (w.section.clone(), w.keyword.clone(), w.msg.clone())
}

/// Check `new` against what `old` already had: errors and unknown keywords it brings fail;
/// the warnings it adds are returned (printed by the caller).
pub fn check_change(
    root: &Root,
    svc: &str,
    path: &Path,
    old: Option<&[u8]>,
    new: &[u8],
) -> anyhow::Result<Vec<ConfigWarning>> {
    let before: Vec<_> = old
        .and_then(|o| check(root, svc, path, o).ok())
        .unwrap_or_default()
        .iter()
        .map(warn_key)
        .collect();
    let added: Vec<ConfigWarning> = check(root, svc, path, new)?
        .into_iter()
        .filter(|w| !before.contains(&warn_key(w)))
        .collect();
    if let Some(w) = added.iter().find(|w| w.msg.starts_with("unknown keyword")) {
        return Err(UnknownKeyword {
            file: w.file.clone(),
            line: w.line,
            section: w.section.clone().unwrap_or_default(),
            keyword: w.keyword.clone().unwrap_or_default(),
        }
        .into());
    }
    Ok(added)
}

/// Apply `f` to the config of `svc` under its lock; write the result when it validates.
pub fn edit(
    root: &Root,
    svc: &str,
    intent: &str,
    waitlock: Duration,
    f: impl FnOnce(&mut Doc) -> anyhow::Result<()>,
) -> anyhow::Result<Outcome> {
    let _lock = crate::lock::acquire_private(&root.lock(svc), intent, waitlock)?;
    let path = root.service_conf(svc);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(NoSuchService {
                name: svc.to_string(),
                path,
            }
            .into())
        }
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    let text = String::from_utf8(bytes.clone()).map_err(|_| BrokenConfig { file: path.clone() });
    let mut doc = text
        .map_err(anyhow::Error::from)
        .and_then(|t| Ok(Doc::parse(&t, &path)?))
        .map_err(|e| e.context(BrokenConfig { file: path.clone() }))?;
    f(&mut doc)?;
    let new = doc.text();
    if new.as_bytes() == bytes {
        return Ok(Outcome::Unchanged);
    }
    install_checked(root, svc, &path, Some(&bytes), new.as_bytes())?;
    Ok(Outcome::Written)
}

/// Validate `new` (see `check_change`), print its new warnings, write it atomically.
/// The caller holds the service lock.
pub fn install_checked(
    root: &Root,
    svc: &str,
    path: &Path,
    old: Option<&[u8]>,
    new: &[u8],
) -> anyhow::Result<()> {
    for w in check_change(root, svc, path, old, new)? {
        eprintln!("warning: {w}");
    }
    write_atomic(path, new).with_context(|| format!("write {}", path.display()))
}
