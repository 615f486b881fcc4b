//! svcmgr: the cluster failover agent. A library with a thin binary: the engine takes an
//! `ActionRequest` and returns an `ActionReport`; `cli` is the only module that knows clap.

pub mod cli;
pub mod config_edit;
pub mod daemon;
pub mod engine;
pub mod exitcode;
pub mod intent;
pub mod interrupt;
pub mod lock;
pub mod logging;
pub mod logview;
pub mod model;
pub mod paths;
pub mod peers;
pub mod prkey;
pub mod relocate;
pub mod render;
pub mod service;
pub mod ssh;
pub mod status;
pub mod sync;
