//! svcconf: service configs (INI) and node.toml -> a typed, validated model.
//! Pure library: no I/O but reading the files it is given.
//!
//! Loading is two phases: `ini` tokenizes (keeping file and line), `validate` checks every
//! section and keyword against the table in `keywords` and builds the model.

// Errors carry their context as fields (file, line, section, keyword, value); they are built
// once per failed load, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod edit;
mod error;
mod ini;
pub mod keywords;
mod kinds;
pub mod model;
mod node;
mod node_check;
mod resolve;
mod store;
mod validate;
mod values;

use std::path::{Path, PathBuf};

pub use error::{ConfigError, ConfigWarning, Unsupported};
pub use model::*;
pub use node::{generate_prkey, load_node, node_text_with_prkey, parse_node};
pub use store::ContainerStore;
pub use values::{parse_bool, parse_duration, parse_retcodes};

/// A loaded service config and what was ignored on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: ServiceConfig,
    pub warnings: Vec<ConfigWarning>,
}

/// What a service config is loaded against: the service and the node it is seen from, and
/// what its references (`{clustername}`, `{var}`...) and `nodes = *` expand to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Site {
    pub svcname: String,
    /// Scoped keywords (`kw@n1`) and `{nodename}` depend on it.
    pub nodename: String,
    /// `{namespace}`; None is OpenSVC's `root`, the only namespace svcmgr has.
    pub namespace: Option<String>,
    /// node.toml's `[cluster] name`; None is OpenSVC's `default`.
    pub clustername: Option<String>,
    /// The cluster's nodes (node.toml's `[nodes.X]` and this node): `{clusternodes}` and
    /// `nodes = *`. Empty: this node alone.
    pub cluster_nodes: Vec<String>,
    /// `{var}`: the agent's state directory.
    pub var: Option<PathBuf>,
    /// `{private_var}`: the service's state directory.
    pub private_var: Option<PathBuf>,
}

impl Site {
    pub fn new(svcname: &str, nodename: &str) -> Site {
        Site {
            svcname: svcname.into(),
            nodename: nodename.into(),
            ..Site::default()
        }
    }

    /// The cluster's nodes, this node alone when none is known.
    pub fn clusternodes(&self, nodename: &str) -> Vec<String> {
        if self.cluster_nodes.is_empty() {
            vec![nodename.to_string()]
        } else {
            self.cluster_nodes.clone()
        }
    }
}

/// Read and load `path` as the config of service `svcname`, as seen from node `nodename`
/// (scoped keywords and `{nodename}` depend on it).
pub fn load_service(path: &Path, svcname: &str, nodename: &str) -> Result<Loaded, ConfigError> {
    load_service_at(path, &Site::new(svcname, nodename))
}

/// Read and load `path` as seen from `site`.
pub fn load_service_at(path: &Path, site: &Site) -> Result<Loaded, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        file: path.into(),
        source,
    })?;
    parse_service_at(&bytes, path, site)
}

/// Load a service config from its bytes; `path` is used in messages and kept in the model.
pub fn parse_service(
    bytes: &[u8],
    path: &Path,
    svcname: &str,
    nodename: &str,
) -> Result<Loaded, ConfigError> {
    parse_service_at(bytes, path, &Site::new(svcname, nodename))
}

/// Per section (in file order), its keywords and their texts as a node sees them.
pub type Evaluated = Vec<(String, Vec<(String, String)>)>;

/// A service config's keywords as `site` sees them: per section in file order, each keyword
/// written there with its text after scoping and references. Fails as loading would.
pub fn evaluate_service(bytes: &[u8], path: &Path, site: &Site) -> Result<Evaluated, ConfigError> {
    let (_, sections) = ini::tokenize(bytes, path)?;
    validate::evaluate(path, site, &sections)
}

/// One keyword's text as `site` sees it (scoping, inheritance, table default, references);
/// None when unset or when the section does not exist. Fails as loading would.
pub fn evaluate_keyword(
    bytes: &[u8],
    path: &Path,
    site: &Site,
    section: &str,
    keyword: &str,
) -> Result<Option<String>, ConfigError> {
    let (_, sections) = ini::tokenize(bytes, path)?;
    validate::evaluate_one(path, site, &sections, section, keyword)
}

/// What a config would load as without its sections of kinds svcmgr does not implement.
#[derive(Debug, Clone, PartialEq)]
pub struct Partial {
    /// What is left out, in file order: sections of unsupported kinds, and DEFAULT keywords
    /// asking what svcmgr has not (`topology = flex`), which are dropped alone.
    pub skipped: Vec<Unsupported>,
    /// Resources left out because they need a left-out section (a reference to it, a
    /// container mounting an OpenSVC volume): the section (`env.<key>`, `DEFAULT.<key>` for
    /// a key of those) and the load error it gets.
    pub dependents: Vec<(String, String)>,
    /// The rest, loaded.
    pub loaded: Loaded,
}

impl Partial {
    /// One line per fact: what is left out, then the resources and syncs that load.
    pub fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        for u in &self.skipped {
            out.push(format!("without: {u}"));
        }
        for (section, why) in &self.dependents {
            let what = match section.split_once('.') {
                Some((sec, key)) => format!("[{sec}] {key}"),
                None => format!("[{section}]"),
            };
            out.push(format!("without: {what}, it needs what is left out: {why}"));
        }
        let rids = self.loaded.config.rids();
        if rids.is_empty() {
            out.push("would load: no resource".into());
        } else {
            out.push(format!("would load: {}", rids.join(" ")));
        }
        out
    }
}

/// Load a service config from its bytes as seen from `site`, leaving out what a normal load
/// refuses as unsupported (all of it listed), and what needs a left-out section or a
/// reference svcmgr has not (`{dns}`): what would run without them. Any other error fails
/// as loading would.
pub fn parse_service_partial_at(
    bytes: &[u8],
    path: &Path,
    site: &Site,
) -> Result<Partial, ConfigError> {
    let (text, sections) = ini::tokenize(bytes, path)?;
    let skipped = match kinds::check(path, &sections) {
        Ok(()) => Vec::new(),
        Err(ConfigError::Unsupported { sections, .. }) => sections,
        Err(e) => return Err(e),
    };
    // A section written twice is an error, also when one of the two is left out (the
    // load of the rest says so when both stay).
    let mut first: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for s in sections.iter().filter(|s| !kinds::is_internal_sync(s)) {
        let Some(f) = first.insert(&s.name, s.line) else {
            continue;
        };
        if skipped
            .iter()
            .any(|u| u.section == s.name && u.section != "DEFAULT")
        {
            return Err(ConfigError::DuplicateSection {
                file: path.into(),
                line: s.line,
                section: s.name.clone(),
                first: f,
            });
        }
    }
    let left_out = |s: &ini::RawSection| {
        s.name != "DEFAULT"
            && skipped
                .iter()
                .any(|u| u.line == s.line && u.section == s.name)
    };
    let mut kept: Vec<ini::RawSection> = Vec::new();
    for mut s in sections {
        if left_out(&s) {
            continue;
        }
        if s.name == "DEFAULT" {
            s.entries.retain(|e| {
                !skipped
                    .iter()
                    .any(|u| u.section == "DEFAULT" && u.line == e.line)
            });
        }
        kept.push(s);
    }
    // What references may not reach: the left-out sections, then the [env] and [DEFAULT]
    // keys left out for needing them (`env.<key>`, `DEFAULT.<key>`).
    let mut left_out: Vec<String> = skipped.iter().map(|u| u.section.clone()).collect();
    let mut dependents = Vec::new();
    loop {
        match validate::validate(path, site, text.clone(), &kept) {
            Ok(loaded) => {
                return Ok(Partial {
                    skipped,
                    dependents,
                    loaded,
                })
            }
            Err(e) => {
                let Some(section) = needs_left_out(&e, &left_out) else {
                    return Err(e);
                };
                let section = section.to_string();
                let dropped = if section == "env" || section == "DEFAULT" {
                    // A key of [env] or [DEFAULT] needing what is left out: drop the key
                    // alone, and then what reads it.
                    let key = e.keyword().unwrap_or_default().to_string();
                    let sec = kept.iter_mut().find(|s| s.name == section);
                    let dropped = sec.is_some_and(|sec| {
                        let before = sec.entries.len();
                        sec.entries.retain(|x| x.key != key);
                        sec.entries.len() < before
                    });
                    left_out.push(format!("{section}.{key}"));
                    dependents.push((format!("{section}.{key}"), e.to_string()));
                    dropped
                } else {
                    let before = kept.len();
                    kept.retain(|s| s.name != section);
                    dependents.push((section, e.to_string()));
                    kept.len() < before
                };
                if !dropped {
                    return Err(e);
                }
            }
        }
    }
}

/// The section whose error `e` comes of something left out: a reference to a left-out
/// section (or [env] key), a volume mount of a container when a volume is left out
/// (OpenSVC mounts its volumes by name, a relative source), a namespace shared with a
/// left-out container.
fn needs_left_out<'e>(e: &'e ConfigError, left_out: &[String]) -> Option<&'e str> {
    let out = |name: &str| left_out.iter().any(|l| l == name);
    let (section, needs) = match e {
        ConfigError::UnknownReference {
            section, reference, ..
        } => {
            let target = reference.split_once('.').map_or("", |(s, _)| s);
            let key = reference.split('[').next().unwrap_or(reference);
            (section, out(target) || out(key))
        }
        // What svcmgr has not at all: the section needing it goes too.
        ConfigError::UnsupportedReference { section, .. } => (section, true),
        ConfigError::BadValue {
            section,
            keyword,
            value,
            ..
        } => {
            let volumes = left_out.iter().any(|s| s.starts_with("volume#"));
            let mounts = volumes && keyword.starts_with("volume_mounts");
            (section, mounts || out(value))
        }
        _ => return None,
    };
    (needs && (section.contains('#') || section == "env" || section == "DEFAULT"))
        .then_some(section.as_str())
}

/// Load a service config from its bytes as seen from `site`.
pub fn parse_service_at(bytes: &[u8], path: &Path, site: &Site) -> Result<Loaded, ConfigError> {
    let (text, sections) = ini::tokenize(bytes, path)?;
    validate::validate(path, site, text, &sections)
}
