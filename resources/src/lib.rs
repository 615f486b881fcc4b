//! resources: the drivers that make a service real on this node, the one command runner, and
//! the status algebra. Nothing here knows about the CLI or other nodes.

pub mod app;
pub mod container;
pub mod ctx;
pub mod error;
pub mod exec;
#[cfg(any(test, feature = "fakes"))]
pub mod fake;
pub mod fs;
pub mod ip;
pub mod loopdisk;
pub mod scsireserv;
pub mod status;
pub mod vg;

pub use ctx::{Ctx, Override, Overrides};
pub use error::{Error, Result};
pub use status::{ResStatus, Status};

use svcconf::{Group, ResourceConfig, RidOrder, ServiceConfig};

/// What every driver does. `start`/`stop` return whether they changed anything: `false`
/// means the resource already was in the wanted state, so a rollback must not undo it.
pub trait Driver: Send + Sync {
    fn rid(&self) -> &str;
    /// The status line's description (`busybox@eth0`, `/dev/loop0@/srv/web`).
    fn label(&self) -> String;
    fn status(&self, ctx: &Ctx) -> ResStatus;
    fn start(&self, ctx: &Ctx) -> Result<bool>;
    fn stop(&self, ctx: &Ctx) -> Result<bool>;
}

/// The closed set of drivers.
pub enum Resource {
    Ip(ip::Ip),
    Fs(fs::Fs),
    Container(container::Container),
    Vg(vg::Vg),
    Loop(loopdisk::LoopDisk),
    App(app::App),
    /// Built by the service loader next to a vg with `scsireserv`, not by `new`.
    Pr(scsireserv::Pr),
    #[cfg(any(test, feature = "fakes"))]
    Fake(fake::Fake),
}

impl Resource {
    /// Build the driver of a validated resource section of `svc`.
    pub fn new(svc: &ServiceConfig, rc: &ResourceConfig) -> Result<Resource> {
        Ok(match rc.group {
            Group::Ip => Resource::Ip(ip::Ip::new(rc)?),
            Group::Fs => Resource::Fs(fs::Fs::new(rc)?),
            Group::Container => Resource::Container(
                container::Container::new(rc, svc.container_store().as_ref())?
                    .sharing(container::namespaces(svc, rc)?),
            ),
            Group::Vg => Resource::Vg(vg::Vg::new(rc)?),
            Group::Loop => Resource::Loop(loopdisk::LoopDisk::new(rc)?),
            Group::App => Resource::App(app::App::new(rc, &svc.scripts_dir())?),
            Group::Sync => {
                return Err(Error::Failed(format!(
                    "{}: a sync is run by syncnodes, not started or stopped",
                    rc.rid
                )))
            }
        })
    }

    pub fn driver(&self) -> &dyn Driver {
        match self {
            Resource::Ip(r) => r,
            Resource::Fs(r) => r,
            Resource::Container(r) => r,
            Resource::Vg(r) => r,
            Resource::Loop(r) => r,
            Resource::App(r) => r,
            Resource::Pr(r) => r,
            #[cfg(any(test, feature = "fakes"))]
            Resource::Fake(r) => r,
        }
    }

    /// Start order: group first, then what the driver says (fs: parents before children),
    /// then the rid (numbers, then names); a vg's reservation (`vg#1pr`) goes just before
    /// its vg.
    /// Start order: by group; within a group, the resources without a subset, then each
    /// subset in name order; then filesystems by mount point, others by rid.
    pub fn sort_key(&self, rc: &ResourceConfig) -> (Group, String, String, RidOrder, u8) {
        let within = match self {
            Resource::Fs(f) => f.mnt().to_string(),
            _ => String::new(),
        };
        let subset = rc.str("subset").unwrap_or_default().to_string();
        // A vg's reservation (`vg#1pr`, type scsireserv) goes just before its vg.
        match rc.rid.strip_suffix("pr") {
            Some(vg) if rc.rtype.as_deref() == Some("scsireserv") => {
                (rc.group, subset, within, RidOrder::of(vg), 0)
            }
            _ => (rc.group, subset, within, rc.order(), 1),
        }
    }
}
