//! A loaded service: its config, its drivers in start order, and the status computation.

use std::path::PathBuf;

use anyhow::Context;
use resources::{Ctx, ResStatus, Resource, Status};
use serde::Serialize;
use svcconf::{NodeConfig, ResourceConfig, ServiceConfig};

use crate::paths::Root;

/// No config for the service on this node: exit code `exitcode::NO_SUCH_SERVICE`.
#[derive(Debug, thiserror::Error)]
#[error("service {name} not found: no {} (nor .env)", path.display())]
pub struct NoSuchService {
    pub name: String,
    pub path: PathBuf,
}

pub struct Item {
    pub rc: ResourceConfig,
    pub res: Resource,
}

impl Item {
    pub fn rid(&self) -> &str {
        &self.rc.rid
    }
}

pub struct Service {
    pub name: String,
    pub cfg: ServiceConfig,
    pub node: NodeConfig,
    pub root: Root,
    /// In start order.
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Flags {
    pub monitor: bool,
    pub disabled: bool,
    pub optional: bool,
    pub encap: bool,
    pub standby: bool,
}

impl Flags {
    /// The 4-character flags column: M monitor, D disabled, O optional, E encap.
    pub fn column(&self) -> String {
        [
            (self.monitor, 'M'),
            (self.disabled, 'D'),
            (self.optional, 'O'),
            (self.encap, 'E'),
        ]
        .iter()
        .map(|&(on, c)| if on { c } else { '.' })
        .collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResEntry {
    pub rid: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub status: Status,
    pub label: String,
    pub log: Vec<String>,
    pub flags: Flags,
}

#[derive(Debug, Clone, Serialize)]
pub struct SvcStatus {
    pub svcname: String,
    pub nodename: String,
    pub overall: Status,
    pub avail: Status,
    pub frozen: bool,
    pub resources: Vec<ResEntry>,
    pub sync: Status,
    pub sync_resources: Vec<ResEntry>,
    pub hb: Status,
}

/// The nodename: node.toml's, else the host name.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

pub fn load_node(root: &Root) -> anyhow::Result<NodeConfig> {
    let (node, warnings) = svcconf::load_node(&root.node_toml(), &hostname())?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(node)
}

impl Service {
    /// Load for an action: a missing node reservation key is generated (and written to
    /// node.toml) when a vg has `scsireserv`.
    pub fn load(root: &Root, name: &str) -> anyhow::Result<Service> {
        Self::load_with(root, name, true)
    }

    /// Load for a read-only action: nothing is written, no lock is taken.
    pub fn load_readonly(root: &Root, name: &str) -> anyhow::Result<Service> {
        Self::load_with(root, name, false)
    }

    fn load_with(root: &Root, name: &str, for_action: bool) -> anyhow::Result<Service> {
        let mut node = load_node(root)?;
        let path: PathBuf = root.service_conf(name);
        if !path.exists() {
            return Err(NoSuchService {
                name: name.to_string(),
                path,
            }
            .into());
        }
        let loaded = svcconf::load_service(&path, name, &node.nodename)?;
        for w in &loaded.warnings {
            eprintln!("warning: {w}");
        }
        let cfg = loaded.config;
        let mut items = Vec::new();
        for rc in &cfg.resources {
            let res = Resource::new(&cfg, rc)
                .with_context(|| format!("{}: [{}]", path.display(), rc.rid))?;
            let pr = crate::prkey::reservation_item(root, &mut node, rc, for_action);
            items.extend(pr.with_context(|| format!("{}: [{}]", path.display(), rc.rid))?);
            items.push(Item {
                rc: rc.clone(),
                res,
            });
        }
        items.sort_by_cached_key(|it| it.res.sort_key(&it.rc));
        Ok(Service {
            name: name.to_string(),
            cfg,
            node,
            root: root.clone(),
            items,
        })
    }

    pub fn ctx(&self) -> Ctx {
        Ctx::new(
            &self.name,
            &self.node.nodename,
            self.root.svc_var(&self.name),
        )
    }

    pub fn frozen_flag(&self) -> PathBuf {
        self.root.svc_var(&self.name).join("frozen")
    }

    /// Keep the last computed status in `R/var/services/<svc>/status.json` (for the daemon
    /// and peers); a failure to write it never fails the action.
    pub fn cache_status(&self, st: &SvcStatus) {
        if let Ok(json) = serde_json::to_vec_pretty(st) {
            let _ = crate::paths::write_atomic(
                &self.root.svc_var(&self.name).join("status.json"),
                &json,
            );
        }
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen_flag().exists()
    }

    fn entry(&self, it: &Item, ctx: &Ctx) -> ResEntry {
        let c = &it.rc.common;
        let flags = Flags {
            monitor: c.monitor,
            disabled: c.disable,
            optional: c.optional,
            encap: false,
            standby: c.standby,
        };
        let d = it.res.driver();
        let st = if c.disable {
            ResStatus::new(Status::NotApplicable)
        } else {
            let mut s = d.status(ctx);
            if c.standby {
                s.status = s.status.as_standby();
            }
            s
        };
        ResEntry {
            rid: it.rc.rid.clone(),
            rtype: match &it.rc.rtype {
                Some(t) => format!("{}.{t}", it.rc.group.name()),
                None => it.rc.group.name().to_string(),
            },
            status: st.status,
            label: d.label(),
            log: st.log,
            flags,
        }
    }

    /// Every resource's status, queried in parallel, merged as contract.md says.
    pub fn status(&self, ctx: &Ctx) -> SvcStatus {
        let resources: Vec<ResEntry> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .items
                .iter()
                .map(|it| s.spawn(move || self.entry(it, ctx)))
                .collect();
            handles
                .into_iter()
                .zip(&self.items)
                .map(|(h, it)| {
                    h.join().unwrap_or_else(|_| ResEntry {
                        rid: it.rc.rid.clone(),
                        rtype: it.rc.group.name().into(),
                        status: Status::Undef,
                        label: it.res.driver().label(),
                        log: vec!["status check panicked".into()],
                        flags: Flags::default(),
                    })
                })
                .collect()
        });
        let sync_resources: Vec<ResEntry> = crate::sync::status_entry(self, &resources)
            .into_iter()
            .collect();
        summarize(self, resources, sync_resources)
    }
}

fn summarize(svc: &Service, resources: Vec<ResEntry>, sync_resources: Vec<ResEntry>) -> SvcStatus {
    let avail = Status::merge_all(
        resources
            .iter()
            .filter(|r| !r.flags.optional)
            .map(|r| r.status),
    );
    let optional = Status::merge_all(
        resources
            .iter()
            .filter(|r| r.flags.optional)
            .map(|r| r.status),
    );
    let sync = Status::merge_all(sync_resources.iter().map(|r| r.status));
    let hb = Status::NotApplicable;
    let overall = Status::merge_all([avail, optional, sync_weight(sync), hb]);
    SvcStatus {
        svcname: svc.name.clone(),
        nodename: svc.node.nodename.clone(),
        overall,
        avail,
        frozen: svc.is_frozen(),
        resources,
        sync,
        sync_resources,
        hb,
    }
}

/// In overall, sync up is neutral and sync down a warning.
fn sync_weight(s: Status) -> Status {
    match s {
        Status::Up => Status::Undef,
        Status::Down => Status::Warn,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_counts_as_neutral_or_warn() {
        assert_eq!(
            Status::merge_all([Status::Up, sync_weight(Status::Up)]),
            Status::Up
        );
        assert_eq!(
            Status::merge_all([Status::Down, sync_weight(Status::Up)]),
            Status::Down
        );
        assert_eq!(
            Status::merge_all([Status::Up, sync_weight(Status::Down)]),
            Status::Warn
        );
        assert_eq!(
            Status::merge_all([Status::Up, sync_weight(Status::NotApplicable)]),
            Status::Up
        );
    }

    #[test]
    fn flags_column() {
        let f = Flags {
            monitor: true,
            optional: true,
            ..Flags::default()
        };
        assert_eq!(f.column(), "M.O.");
    }
}
