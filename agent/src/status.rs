//! A service's status on this node: every resource queried in parallel, merged as
//! contract.md says, and the cache of the last result.

use resources::{Ctx, ResStatus, Status};

use crate::model::{Flags, Item, ResEntry, SvcStatus};
use crate::service::Service;

impl Service {
    /// Keep the last computed status in `R/var/services/<svc>/status.json` (for the daemon
    /// and peers): atomically, and only over an older evaluation (an unlocked `print status`
    /// that began before an action's final one must not overwrite it). A failure to write it
    /// never fails the action.
    pub fn cache_status(&self, st: &SvcStatus) {
        let path = self.root.svc_var(&self.name).join("status.json");
        let Ok(json) = serde_json::to_vec_pretty(st) else {
            return;
        };
        let Some(_guard) = crate::lock::acquire_private(
            &path.with_extension("json.lock"),
            "status",
            std::time::Duration::from_secs(2),
        )
        .ok() else {
            tracing::debug!("status cache busy, not updated");
            return;
        };
        if cached_updated_at(&path).is_some_and(|prev| prev > st.updated_at) {
            return;
        }
        let _ = crate::paths::write_atomic(&path, &json);
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
        let updated_at = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
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
        let running = crate::sync::is_running(&resources);
        let sync_resources: Vec<ResEntry> = crate::sync::status_entry(self, &resources)
            .into_iter()
            .chain(
                crate::sync::Rsync::all(self)
                    .iter()
                    .map(|r| r.status_entry(self, running)),
            )
            .collect();
        summarize(self, updated_at, resources, sync_resources)
    }
}

/// The evaluation time of the cached status.
fn cached_updated_at(path: &std::path::Path) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    Some(v.get("updated_at")?.as_str()?.to_string())
}

fn summarize(
    svc: &Service,
    updated_at: String,
    resources: Vec<ResEntry>,
    sync_resources: Vec<ResEntry>,
) -> SvcStatus {
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
    let prev = crate::intent::read(&svc.root, &svc.name);
    // A half-done action leaves the service in no state anyone chose.
    let unfinished = match &prev {
        Some(i) if !i.running() => Status::Warn,
        _ => Status::Undef,
    };
    let overall = Status::merge_all([avail, optional, sync_weight(sync), hb, unfinished]);
    SvcStatus {
        svcname: svc.name.clone(),
        updated_at,
        nodename: svc.node.nodename.clone(),
        overall,
        avail,
        frozen: svc.is_frozen(),
        resources,
        sync,
        sync_resources,
        hb,
        hb_resources: Vec::new(),
        action: prev.map(|i| i.describe()),
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
