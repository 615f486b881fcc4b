//! svcconf: service configs (INI) and node.toml -> a typed, validated model.
//! Pure library: no I/O but reading the files it is given.
//!
//! Loading is two phases: `ini` tokenizes (keeping file and line), `validate` checks every
//! section and keyword against the table in `keywords` and builds the model.

// Errors carry their context as fields (file, line, section, keyword, value); they are built
// once per failed load, so their size does not matter.
#![allow(clippy::result_large_err)]

mod error;
mod ini;
pub mod keywords;
pub mod model;
mod node;
mod resolve;
mod store;
mod validate;
mod values;

use std::path::Path;

pub use error::{ConfigError, ConfigWarning};
pub use model::*;
pub use node::{generate_prkey, load_node, node_text_with_prkey, parse_node};
pub use store::ContainerStore;
pub use values::parse_duration;

/// A loaded service config and what was ignored on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: ServiceConfig,
    pub warnings: Vec<ConfigWarning>,
}

/// Read and load `path` as the config of service `svcname`, as seen from node `nodename`
/// (scoped keywords and `{nodename}` depend on it).
pub fn load_service(path: &Path, svcname: &str, nodename: &str) -> Result<Loaded, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        file: path.into(),
        source,
    })?;
    parse_service(&bytes, path, svcname, nodename)
}

/// Load a service config from its bytes; `path` is used in messages and kept in the model.
pub fn parse_service(
    bytes: &[u8],
    path: &Path,
    svcname: &str,
    nodename: &str,
) -> Result<Loaded, ConfigError> {
    let (text, sections) = ini::tokenize(bytes, path)?;
    validate::validate(path, svcname, nodename, text, &sections)
}
