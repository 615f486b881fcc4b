//! svcconf: service configs (INI) and node.toml -> a typed, validated model.
//! Pure library: no I/O but reading the files it is given.

pub mod model;

pub use model::*;
