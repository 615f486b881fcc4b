//! One service evaluated for the daemon (blocking: run it on the blocking pool): its status
//! as `print status` computes it, what the monitor needs from its config, and whether an
//! action holds its lock, and which action ran last (its intent record).

use std::collections::BTreeMap;
use std::fs::File;

use nix::fcntl::{Flock, FlockArg};
use resources::Status;

use super::monitor::machine::{MonitorAction, ResCfg, SvcCfg};
use super::orchestrator::decide::OrchCfg;
use crate::model::SvcStatus;
use crate::paths::Root;
use crate::service::Service;

#[derive(Debug, Clone)]
pub struct Evaluation {
    pub svc: String,
    pub status: Result<SvcStatus, String>,
    pub cfg: SvcCfg,
    /// This node and the service's nodes, for `switch`.
    pub nodename: String,
    pub nodes: Vec<String>,
    pub busy: bool,
    /// The key (`pid started action`) of the action running, interrupted or last ended on
    /// the service (`intent::latest`).
    pub record: Option<String>,
    pub orch: Option<OrchCfg>,
    /// The orchestrator's failed-start mark, read once per pass.
    pub start_failed: Option<super::orchestrator::marks::StartFailed>,
}

impl Evaluation {
    pub fn statuses(&self) -> BTreeMap<String, Status> {
        match &self.status {
            Ok(st) => st
                .resources
                .iter()
                .map(|r| (r.rid.clone(), r.status))
                .collect(),
            Err(_) => BTreeMap::new(),
        }
    }

    /// Something of the service runs here: a resource up or partly up (an address on a
    /// link that is down, a container the runtime can not report on), leaving out the
    /// standby and disabled ones (up on every node by design) and the reservation guards
    /// (their state is the fence's, not the service's). A missing interface is down.
    pub fn running(&self) -> bool {
        let Ok(st) = &self.status else {
            return false;
        };
        st.resources.iter().any(|r| {
            matches!(r.status, Status::Up | Status::Warn)
                && !r.flags.standby
                && !r.flags.disabled
                && !r.rtype.ends_with(".scsireserv")
        })
    }

    /// The resources (reservation guards) saying another node preempted our key.
    pub fn preempted(&self) -> Vec<String> {
        let Ok(st) = &self.status else {
            return Vec::new();
        };
        st.resources
            .iter()
            .filter(|r| {
                r.log
                    .iter()
                    .any(|l| l.ends_with(resources::scsireserv::common::PREEMPTED))
            })
            .map(|r| r.rid.clone())
            .collect()
    }
}

/// Whether an action holds the service lock now.
pub fn busy(root: &Root, svc: &str) -> bool {
    let Ok(f) = File::open(root.lock(svc)) else {
        return false;
    };
    // A shared lock, dropped at once: refused while an action holds the exclusive one.
    Flock::lock(f, FlockArg::LockSharedNonblock).is_err()
}

/// `svc` evaluated on its own.
pub fn evaluate(root: &Root, svc: &str) -> Evaluation {
    evaluate_in_pass(root, svc, Default::default())
}

/// `svc` evaluated as one of a pass over several services: the node-wide queries (`ip -j addr
/// show`, `vgs`, `losetup`…) are run once for the whole pass, through `cache`.
pub fn evaluate_in_pass(
    root: &Root,
    svc: &str,
    cache: std::sync::Arc<resources::ctx::QueryCache>,
) -> Evaluation {
    let busy = busy(root, svc);
    let record = crate::intent::latest(root, svc).map(|i| i.key());
    let mut ev = Evaluation {
        svc: svc.to_string(),
        status: Err(String::new()),
        cfg: SvcCfg {
            monitored: Vec::new(),
            action: MonitorAction::None,
        },
        nodename: String::new(),
        nodes: Vec::new(),
        busy,
        record,
        orch: None,
        start_failed: super::orchestrator::marks::load_start_failed(root, svc),
    };
    let s = match Service::load_readonly(root, svc) {
        Ok(s) => s,
        Err(e) => {
            ev.status = Err(crate::engine::error_chain(e.as_ref()));
            return ev;
        }
    };
    let st = s.status(&s.ctx().with_query_cache(cache));
    s.cache_status(&st);
    ev.status = Ok(st);
    ev.cfg = monitor_cfg(&s);
    ev.nodename = s.node.nodename.clone();
    ev.nodes = s.cfg.nodes.clone();
    ev.orch = Some(orch_cfg(&s));
    ev
}

fn orch_cfg(s: &Service) -> OrchCfg {
    OrchCfg {
        mode: s.cfg.orchestrate,
        nodes: s.cfg.nodes.clone(),
        autostart_node: s.cfg.autostart_node.clone(),
        fenced: s
            .cfg
            .resources
            .iter()
            .any(|r| r.group == svcconf::Group::Vg && r.bool("scsireserv") && !r.common.disable),
        unfenced_failover: matches!(
            s.cfg.defaults.get("unfenced_failover").map(|v| &v.value),
            Some(svcconf::Value::Bool(true))
        ),
    }
}

fn monitor_cfg(s: &Service) -> SvcCfg {
    let action = match s.cfg.defaults.get("monitor_action").map(|v| &v.value) {
        Some(svcconf::Value::Str(a)) => MonitorAction::parse(a),
        _ => MonitorAction::None,
    };
    SvcCfg {
        monitored: s
            .items
            .iter()
            .filter(|it| it.rc.common.monitor && !it.rc.common.disable)
            .map(|it| ResCfg {
                rid: it.rc.rid.clone(),
                restart: it.rc.common.restart,
                delay: it
                    .rc
                    .duration("restart_delay")
                    .map_or(500, |d| d.as_millis() as u64),
            })
            .collect(),
        action,
    }
}

/// The node `switch` moves the service to: the next of its nodes after this one.
pub fn next_node(nodes: &[String], me: &str) -> Option<String> {
    let i = nodes.iter().position(|n| n == me)?;
    nodes
        .iter()
        .cycle()
        .skip(i + 1)
        .take(nodes.len() - 1)
        .find(|n| n.as_str() != me)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_node_wraps() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            next_node(&v(&["n1", "n2", "n3"]), "n1").as_deref(),
            Some("n2")
        );
        assert_eq!(
            next_node(&v(&["n1", "n2", "n3"]), "n3").as_deref(),
            Some("n1")
        );
        assert_eq!(next_node(&v(&["n1"]), "n1"), None);
        assert_eq!(next_node(&v(&["n1", "n2"]), "n9"), None);
    }

    #[test]
    fn busy_while_the_lock_is_held() {
        let d = std::env::temp_dir().join(format!("svcmgr-eval-{}", std::process::id()));
        let root = Root::under(&d);
        assert!(!busy(&root, "web"));
        let held =
            crate::lock::acquire(&root.lock("web"), "stop", std::time::Duration::from_secs(1))
                .unwrap();
        assert!(busy(&root, "web"));
        drop(held);
        assert!(!busy(&root, "web"));
        let _ = std::fs::remove_dir_all(&d);
    }
}
