//! Exit codes, in one place (`status` maps the service status itself: see resources::Status).

/// The action did what was asked (or there was nothing to do).
pub const OK: i32 = 0;
/// The action failed, the config is invalid, or the lock could not be taken.
pub const FAILED: i32 = 1;
/// The command line itself is wrong.
pub const USAGE: i32 = 2;
/// The service has no config on this node (peers' probes read it as "does not run here").
pub const NO_SUCH_SERVICE: i32 = 4;
