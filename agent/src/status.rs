//! A service's status on this node: every resource queried in parallel, merged as
//! contract.md says, and the cache of the last result.

use resources::{Ctx, ResStatus, Status};

use crate::model::{Flags, Item, ResEntry, SvcStatus};
use crate::service::Service;

impl Service {
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
