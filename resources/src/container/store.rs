//! Which store a container resource uses: the engine's default one, or the service's own on
//! its filesystem (`container_data_dir`), so a container keeps its id and its writable layer
//! when the service moves: podman with `--root` on the data dir, docker through a private
//! dockerd with `--data-root` on it.

use std::path::{Path, PathBuf};

use svcconf::ContainerStore;

use super::dockerd::{Dockerd, RUN_BASE};
use super::inspect::Runtime;
use crate::fs::mountinfo;
use crate::{Ctx, Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Store {
    /// The engine's own configuration (system dockerd, the node's podman storage).
    System,
    /// `podman --root <data dir> --runroot … --tmpdir …`.
    Podman { root: PathBuf, holder: Holder },
    /// A dockerd of the service's own.
    Dockerd { daemon: Dockerd, holder: Holder },
}

/// The service filesystem holding the data dir (rid, mount point), if any.
pub type Holder = Option<(String, PathBuf)>;

impl Store {
    pub fn new(rt: Runtime, store: Option<&ContainerStore>) -> Result<Store> {
        let Some(s) = store else {
            return Ok(Store::System);
        };
        let holder = s.holder().cloned();
        Ok(match rt {
            Runtime::Podman => Store::Podman {
                root: s.data_dir.clone(),
                holder,
            },
            Runtime::Docker if s.private_daemon => Store::Dockerd {
                daemon: Dockerd::new(&s.dockerd_exe, &s.data_dir, &s.daemon_args)?,
                holder,
            },
            Runtime::Docker => Store::System,
        })
    }

    /// podman's volatile paths: recorded in the store's database, so the same on every node.
    fn podman_run(ctx: &Ctx) -> PathBuf {
        Path::new(RUN_BASE).join(&ctx.svcname).join("podman")
    }

    /// Arguments between the engine's binary and its subcommand.
    pub fn global_args(&self, ctx: &Ctx) -> Vec<String> {
        match self {
            Store::System => Vec::new(),
            Store::Dockerd { .. } => Dockerd::client_args(ctx),
            Store::Podman { root, .. } => {
                let run = Self::podman_run(ctx);
                [
                    ("--root", root.clone()),
                    ("--runroot", run.join("run")),
                    ("--tmpdir", run.join("tmp")),
                ]
                .into_iter()
                .flat_map(|(k, v)| [k.to_string(), v.display().to_string()])
                .collect()
            }
        }
    }

    /// `bin GLOBAL_ARGS args…`.
    pub fn argv(&self, rt: Runtime, ctx: &Ctx, args: &[String]) -> Vec<String> {
        let mut v = vec![rt.bin().to_string()];
        v.extend(self.global_args(ctx));
        v.extend(args.iter().cloned());
        v
    }

    /// Why the store cannot be used now: its filesystem is not mounted (an engine would
    /// create a fresh, empty store in the bare mount point).
    pub fn unavailable(&self) -> Option<String> {
        let (dir, holder) = match self {
            Store::System => return None,
            Store::Podman { root, holder } => (root, holder),
            Store::Dockerd { daemon, holder } => (&daemon.data_root, holder),
        };
        let (rid, mnt) = holder.as_ref()?;
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mounts = mountinfo::parse(&text);
        let spelt = [Some(mnt.clone()), std::fs::canonicalize(mnt).ok()];
        let mounted = spelt
            .iter()
            .flatten()
            .any(|m| mountinfo::last_at(&mounts, &m.display().to_string()).is_some());
        (!mounted).then(|| {
            format!(
                "container data dir {} is not available: {rid} ({}) is not mounted",
                dir.display(),
                mnt.display()
            )
        })
    }

    /// What the status says without asking the engine: a store that cannot hold a running
    /// container (`# docker daemon is not running`, as on a passive node).
    pub fn down_reason(&self, ctx: &Ctx) -> Option<String> {
        match self {
            Store::System => None,
            Store::Dockerd { .. } if Dockerd::running(ctx).is_none() => {
                Some("docker daemon is not running".into())
            }
            Store::Dockerd { .. } => None,
            Store::Podman { .. } => self.unavailable(),
        }
    }

    /// Before a start or an engine command: the data dir mounted and the private daemon up.
    /// True when a daemon was started.
    pub fn prepare(&self, ctx: &Ctx, rid: &str) -> Result<bool> {
        if let Some(why) = self.unavailable() {
            return Err(Error::Failed(why));
        }
        match self {
            Store::Dockerd { daemon, .. } => daemon.ensure_started(ctx, rid),
            _ => Ok(false),
        }
    }

    /// After a container stop: the private daemon stops when it runs no container any more.
    pub fn after_stop(&self, ctx: &Ctx, rid: &str) -> Result<bool> {
        match self {
            Store::Dockerd { .. } => Dockerd::stop_if_idle(ctx, rid),
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(data_dir: &str, mounts: &[(&str, &str)], private: bool) -> ContainerStore {
        ContainerStore {
            data_dir: data_dir.into(),
            private_daemon: private,
            daemon_args: Vec::new(),
            dockerd_exe: "dockerd".into(),
            fs_mounts: mounts
                .iter()
                .map(|(r, m)| (r.to_string(), PathBuf::from(m)))
                .collect(),
        }
    }

    #[test]
    fn podman_store_args_and_docker_socket() {
        let ctx = Ctx::new("web", "n1", "/r/var/services/web".into());
        let s = store("/srv/web/c", &[("fs#1", "/srv/web")], true);
        let p = Store::new(Runtime::Podman, Some(&s)).unwrap();
        assert_eq!(
            p.argv(Runtime::Podman, &ctx, &["ps".into()]).join(" "),
            "podman --root /srv/web/c --runroot /run/svcmgr/web/podman/run \
             --tmpdir /run/svcmgr/web/podman/tmp ps"
        );
        let d = Store::new(Runtime::Docker, Some(&s)).unwrap();
        assert_eq!(
            d.argv(Runtime::Docker, &ctx, &["ps".into()]).join(" "),
            "docker -H unix:///r/var/services/web/docker.sock ps"
        );
        let shared = store("/srv/web/c", &[], false);
        assert_eq!(
            Store::new(Runtime::Docker, Some(&shared)).unwrap(),
            Store::System
        );
        assert_eq!(Store::new(Runtime::Podman, None).unwrap(), Store::System);
    }

    #[test]
    fn a_store_on_an_unmounted_filesystem_is_unavailable() {
        let dir = std::env::temp_dir().join(format!("svcmgr-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mnt = dir.display().to_string();
        let data = format!("{mnt}/c");
        let s = Store::new(
            Runtime::Podman,
            Some(&store(&data, &[("fs#1", &mnt)], true)),
        )
        .unwrap();
        assert_eq!(
            s.unavailable().unwrap(),
            format!("container data dir {data} is not available: fs#1 ({mnt}) is not mounted")
        );
        let ctx = Ctx::new("web", "n1", dir.clone());
        assert!(s.prepare(&ctx, "container#1").is_err());
        // / is always a mount point; a store off the service's filesystems is not checked.
        let root = Store::new(Runtime::Podman, Some(&store("/c", &[("fs#1", "/")], true)));
        assert_eq!(root.unwrap().unavailable(), None);
        let off = Store::new(Runtime::Podman, Some(&store("/c", &[], true)));
        assert_eq!(off.unwrap().unavailable(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_private_daemon_not_running_is_down() {
        let dir = std::env::temp_dir().join(format!("svcmgr-store-d-{}", std::process::id()));
        let ctx = Ctx::new("web", "n1", dir);
        let s = Store::new(Runtime::Docker, Some(&store("/c", &[], true))).unwrap();
        assert_eq!(
            s.down_reason(&ctx).as_deref(),
            Some("docker daemon is not running")
        );
        assert_eq!(Store::System.down_reason(&ctx), None);
        // Nothing to stop: no command run.
        let rec = crate::fake::Recorder::new();
        let ctx = ctx.with_executor(rec.clone());
        assert!(!s.after_stop(&ctx, "container#1").unwrap());
        assert!(rec.calls().is_empty());
    }
}
