//! Engine tests on stateful fake drivers: ordering, rollback, optional resources,
//! idempotence, selection.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use resources::fake::{Fake, Journal};
use resources::Resource;
use svcconf::{Common, Group, NodeConfig, ResourceConfig, ServiceConfig};

use crate::engine::{Options, Selection};
use crate::model::Item;
use crate::paths::Root as TestRoot;
use crate::paths::Root;
use crate::service::Service;

fn rc(rid: &str, group: Group) -> ResourceConfig {
    ResourceConfig {
        rid: rid.into(),
        group,
        rtype: None,
        line: 1,
        common: Common::default(),
        settings: BTreeMap::new(),
    }
}

fn service(items: Vec<(ResourceConfig, Fake)>) -> Service {
    let mut items: Vec<Item> = items
        .into_iter()
        .map(|(rc, f)| Item {
            rc,
            res: Resource::Fake(f),
        })
        .collect();
    // The loader's order, not one of the test's own.
    items.sort_by_cached_key(|it| it.res.sort_key(&it.rc));
    Service {
        name: "t".into(),
        cfg: ServiceConfig {
            name: "t".into(),
            path: "/nonexistent/t.conf".into(),
            text: String::new(),
            nodes: vec!["n1".into()],
            drpnodes: vec![],
            autostart_node: None,
            orchestrate: Default::default(),
            sync_period: vec![],
            defaults: BTreeMap::new(),
            resources: vec![],
            syncs: vec![],
            subsets: vec![],
        },
        node: NodeConfig {
            nodename: "n1".into(),
            prkey: None,
            cluster: Default::default(),
            ssh: Default::default(),
            nodes: BTreeMap::new(),
            monitor_interval: None,
            hb: vec![],
            maintenance_grace_period: None,
            rejoin_grace_period: None,
            ready_period: None,
        },
        root: Root::under(std::path::Path::new("/nonexistent")),
        items,
    }
}

fn journal() -> Journal {
    Arc::new(Mutex::new(Vec::new()))
}

fn events(j: &Journal) -> Vec<String> {
    j.lock().unwrap().clone()
}

fn all(s: &Service) -> Vec<&Item> {
    s.select(&Selection::default()).unwrap()
}

#[test]
fn start_in_group_order_stop_in_reverse() {
    let j = journal();
    let s = service(vec![
        (rc("fs#1", Group::Fs), Fake::new("fs#1", &j)),
        (
            rc("container#1", Group::Container),
            Fake::new("container#1", &j),
        ),
        (rc("ip#1", Group::Ip), Fake::new("ip#1", &j)),
        (rc("vg#1", Group::Vg), Fake::new("vg#1", &j)),
    ]);
    let ctx = s.ctx();
    s.start(&ctx, &all(&s), &Options::default()).unwrap();
    s.stop(&ctx, &all(&s), &Options::default()).unwrap();
    assert_eq!(
        events(&j),
        [
            "start ip#1",
            "start vg#1",
            "start fs#1",
            "start container#1",
            "stop container#1",
            "stop fs#1",
            "stop vg#1",
            "stop ip#1"
        ]
    );
}

#[test]
fn failed_start_rolls_back_only_what_it_started() {
    let j = journal();
    let s = service(vec![
        (rc("ip#1", Group::Ip), Fake::new("ip#1", &j).up()),
        (rc("vg#1", Group::Vg), Fake::new("vg#1", &j)),
        (rc("fs#1", Group::Fs), Fake::new("fs#1", &j).failing_start()),
        (
            rc("container#1", Group::Container),
            Fake::new("container#1", &j),
        ),
    ]);
    let ctx = s.ctx();
    assert!(s.start(&ctx, &all(&s), &Options::default()).is_err());
    // ip#1 was up before the action: the rollback leaves it up.
    assert_eq!(events(&j), ["start vg#1", "fail-start fs#1", "stop vg#1"]);
}

#[test]
fn disable_rollback_leaves_started_resources_up() {
    let j = journal();
    let s = service(vec![
        (rc("ip#1", Group::Ip), Fake::new("ip#1", &j)),
        (rc("fs#1", Group::Fs), Fake::new("fs#1", &j).failing_start()),
    ]);
    let opts = Options {
        disable_rollback: true,
        ..Options::default()
    };
    assert!(s.start(&s.ctx(), &all(&s), &opts).is_err());
    assert_eq!(events(&j), ["start ip#1", "fail-start fs#1"]);
}

/// `rollback = false` in the config is --disable-rollback.
#[test]
fn rollback_false_in_the_config_leaves_started_resources_up() {
    let j = journal();
    let mut s = service(vec![
        (rc("ip#1", Group::Ip), Fake::new("ip#1", &j)),
        (rc("fs#1", Group::Fs), Fake::new("fs#1", &j).failing_start()),
    ]);
    s.cfg.defaults.insert(
        "rollback".into(),
        svcconf::Setting {
            value: svcconf::Value::Bool(false),
            line: 3,
        },
    );
    assert!(s.start(&s.ctx(), &all(&s), &Options::default()).is_err());
    assert_eq!(events(&j), ["start ip#1", "fail-start fs#1"]);
}

#[test]
fn optional_failure_does_not_stop_the_action() {
    let j = journal();
    let mut opt = rc("fs#1", Group::Fs);
    opt.common.optional = true;
    let s = service(vec![
        (rc("ip#1", Group::Ip), Fake::new("ip#1", &j)),
        (opt, Fake::new("fs#1", &j).failing_start()),
        (
            rc("container#1", Group::Container),
            Fake::new("container#1", &j),
        ),
    ]);
    s.start(&s.ctx(), &all(&s), &Options::default()).unwrap();
    assert_eq!(
        events(&j),
        ["start ip#1", "fail-start fs#1", "start container#1"]
    );
}

#[test]
fn stop_aborts_at_the_first_failure() {
    let j = journal();
    let s = service(vec![
        (rc("ip#1", Group::Ip), Fake::new("ip#1", &j).up()),
        (
            rc("fs#1", Group::Fs),
            Fake::new("fs#1", &j).up().failing_stop(),
        ),
    ]);
    assert!(s.stop(&s.ctx(), &all(&s), &Options::default()).is_err());
    assert_eq!(events(&j), ["fail-stop fs#1"]);
}

#[test]
fn start_twice_is_idempotent() {
    let j = journal();
    let s = service(vec![(rc("ip#1", Group::Ip), Fake::new("ip#1", &j))]);
    let ctx = s.ctx();
    s.start(&ctx, &all(&s), &Options::default()).unwrap();
    s.start(&ctx, &all(&s), &Options::default()).unwrap();
    assert_eq!(events(&j), ["start ip#1"]);
}

#[test]
fn disabled_and_standby_resources() {
    let j = journal();
    let mut dis = rc("ip#1", Group::Ip);
    dis.common.disable = true;
    let mut sb = rc("fs#1", Group::Fs);
    sb.common.standby = true;
    let s = service(vec![
        (dis, Fake::new("ip#1", &j)),
        (sb, Fake::new("fs#1", &j)),
    ]);
    let ctx = s.ctx();
    s.start(&ctx, &all(&s), &Options::default()).unwrap();
    s.stop(&ctx, &all(&s), &Options::default()).unwrap();
    assert_eq!(
        events(&j),
        ["start fs#1"],
        "standby stays up on a plain stop"
    );
    let force = Options {
        overrides: resources::Overrides::default().with(resources::Override::StopStandby),
        ..Options::default()
    };
    s.stop(&ctx, &all(&s), &force).unwrap();
    assert_eq!(events(&j), ["start fs#1", "stop fs#1"]);
    let st = s.status(&ctx);
    assert_eq!(st.resources[0].status, resources::Status::NotApplicable);
    assert_eq!(st.resources[1].status, resources::Status::StdbyDown);
}

#[test]
fn selection_by_rid_group_and_tag() {
    let j = journal();
    let mut tagged = rc("fs#2", Group::Fs);
    tagged.common.tags = vec!["data".into()];
    let s = service(vec![
        (rc("ip#1", Group::Ip), Fake::new("ip#1", &j)),
        (rc("fs#1", Group::Fs), Fake::new("fs#1", &j)),
        (tagged, Fake::new("fs#2", &j)),
    ]);
    let rids = |sel: Selection| -> Vec<String> {
        s.select(&sel)
            .unwrap()
            .iter()
            .map(|i| i.rid().to_string())
            .collect()
    };
    let sel = |r: &[&str], t: &[&str], g| Selection {
        rids: r.iter().map(|s| s.to_string()).collect(),
        tags: t.iter().map(|s| s.to_string()).collect(),
        group: g,
        standby_only: false,
    };
    assert_eq!(
        rids(sel(&["ip#1", "fs"], &[], None)),
        ["ip#1", "fs#1", "fs#2"]
    );
    assert_eq!(rids(sel(&["fs#1"], &[], None)), ["fs#1"]);
    assert_eq!(rids(sel(&[], &["data"], None)), ["fs#2"]);
    assert_eq!(rids(sel(&[], &[], Some(Group::Ip))), ["ip#1"]);
    match s.select(&sel(&["vg#9"], &[], None)) {
        Err(e) => assert_eq!(e.to_string(), "no resource matches --rid vg#9"),
        Ok(_) => panic!("--rid vg#9 matched something"),
    }
}

#[test]
fn status_merges_avail_and_optional() {
    let j = journal();
    let mut opt = rc("fs#1", Group::Fs);
    opt.common.optional = true;
    let s = service(vec![
        (rc("ip#1", Group::Ip), Fake::new("ip#1", &j).up()),
        (opt, Fake::new("fs#1", &j)),
    ]);
    let st = s.status(&s.ctx());
    assert_eq!(st.avail, resources::Status::Up);
    assert_eq!(st.overall, resources::Status::Warn);
}

#[test]
fn rollback_also_stops_the_resource_that_failed_partly_up() {
    let j = journal();
    let s = service(vec![
        (rc("ip#1", Group::Ip), Fake::new("ip#1", &j)),
        (
            rc("fs#1", Group::Fs),
            Fake::new("fs#1", &j).failing_start_partly_up(),
        ),
    ]);
    assert!(s.start(&s.ctx(), &all(&s), &Options::default()).is_err());
    assert_eq!(
        events(&j),
        ["start ip#1", "fail-start fs#1", "stop fs#1", "stop ip#1"]
    );
}

#[test]
fn failing_blocking_post_start_undoes_its_resource_unless_it_was_up_before() {
    let j = journal();
    let mut failing = rc("fs#1", Group::Fs);
    failing.common.triggers.post_start = Some(svcconf::Trigger {
        argv: vec!["false".into()],
        blocking: true,
    });
    let s = service(vec![
        (rc("ip#1", Group::Ip), Fake::new("ip#1", &j)),
        (failing.clone(), Fake::new("fs#1", &j)),
    ]);
    assert!(s.start(&s.ctx(), &all(&s), &Options::default()).is_err());
    assert_eq!(
        events(&j),
        ["start ip#1", "start fs#1", "stop fs#1", "stop ip#1"]
    );

    // Up before the action: only its trigger failed, it stays up.
    let j = journal();
    let s = service(vec![
        (rc("ip#1", Group::Ip), Fake::new("ip#1", &j)),
        (failing, Fake::new("fs#1", &j).up()),
    ]);
    assert!(s.start(&s.ctx(), &all(&s), &Options::default()).is_err());
    assert_eq!(events(&j), ["start ip#1", "stop ip#1"]);
}

#[test]
fn loader_orders_filesystems_parent_before_child_whatever_their_rids() {
    let d = std::env::temp_dir().join(format!("svcmgr-order-{}", std::process::id()));
    let r = TestRoot::under(&d);
    std::fs::create_dir_all(&r.etc).unwrap();
    std::fs::write(r.node_toml(), "nodename = \"n1\"\n").unwrap();
    std::fs::write(
        r.etc.join("web.conf"),
        "[DEFAULT]\nnodes = n1\n\n[fs#1]\ndev = /dev/b\nmnt = /srv/x/data/sub\ntype = ext4\n\n\
         [fs#2]\ndev = /dev/a\nmnt = /srv/x\ntype = ext4\n\n[container#1]\ntype = podman\n\
         run_image = i\n\n[fs#3]\ndev = /dev/c\nmnt = /srv/x/data\ntype = ext4\n\n\
         [ip#2]\nipname = 10.0.0.2\nipdev = eth0\n\n[ip#1]\nipname = 10.0.0.1\nipdev = eth0\n",
    )
    .unwrap();
    let s = Service::load_readonly(&r, "web").unwrap();
    let rids: Vec<&str> = s.items.iter().map(|it| it.rid()).collect();
    assert_eq!(
        rids,
        ["ip#1", "ip#2", "fs#2", "fs#3", "fs#1", "container#1"]
    );
    std::fs::remove_dir_all(&d).unwrap();
}

fn reservation(vg: &str, j: &Journal) -> (ResourceConfig, Fake) {
    let mut r = rc(&format!("{vg}pr"), Group::Vg);
    r.rtype = Some("scsireserv".into());
    (r, Fake::new(&format!("{vg}pr"), j).failing_start())
}

#[test]
fn an_optional_vg_is_not_activated_without_its_reservation() {
    let j = journal();
    let mut vg1 = rc("vg#1", Group::Vg);
    vg1.common.optional = true;
    let s = service(vec![
        reservation("vg#1", &j),
        (vg1, Fake::new("vg#1", &j)),
        (rc("fs#1", Group::Fs), Fake::new("fs#1", &j)),
    ]);
    let ctx = s.ctx();
    s.start(&ctx, &all(&s), &Options::default()).unwrap();
    assert_eq!(events(&j), ["fail-start vg#1pr", "start fs#1"]);
}

#[test]
fn a_failed_reservation_blocks_its_vg_and_rolls_back() {
    let j = journal();
    let s = service(vec![
        (rc("ip#1", Group::Ip), Fake::new("ip#1", &j)),
        reservation("vg#1", &j),
        (rc("vg#1", Group::Vg), Fake::new("vg#1", &j)),
    ]);
    let ctx = s.ctx();
    let e = s.start(&ctx, &all(&s), &Options::default()).unwrap_err();
    assert!(e.to_string().starts_with("vg#1pr"), "{e}");
    assert_eq!(events(&j), ["start ip#1", "fail-start vg#1pr", "stop ip#1"]);
}

#[test]
fn the_status_cache_keeps_the_newer_evaluation() {
    let d = std::env::temp_dir().join(format!("svcmgr-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let mut s = service(vec![]);
    s.root = Root::under(&d);
    let ctx = s.ctx();
    let older = s.status(&ctx);
    std::thread::sleep(std::time::Duration::from_millis(5));
    let newer = s.status(&ctx);
    assert!(newer.updated_at > older.updated_at);
    let cached = || -> String {
        let p = s.root.svc_var("t").join("status.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        v["updated_at"].as_str().unwrap().to_string()
    };
    // An action's final evaluation, then a print status that began before it ended.
    s.cache_status(&newer);
    s.cache_status(&older);
    assert_eq!(cached(), newer.updated_at);
    let latest = s.status(&ctx);
    s.cache_status(&latest);
    assert_eq!(cached(), latest.updated_at);
    let _ = std::fs::remove_dir_all(&d);
}

fn in_subset(rid: &str, subset: &str) -> ResourceConfig {
    let mut r = rc(rid, Group::Container);
    r.settings.insert(
        "subset".into(),
        svcconf::Setting {
            value: svcconf::Value::Str(subset.into()),
            line: 1,
        },
    );
    r
}

/// container#1 (no subset), container#2 and #3 in the parallel subset "web", container#4 in
/// "db" (one at a time).
fn subsets_service(j: &Journal, failing: Option<&str>) -> Service {
    let fake = |rid: &str| {
        let f = Fake::new(rid, j);
        if failing == Some(rid) {
            f.failing_start()
        } else {
            f
        }
    };
    let mut s = service(vec![
        (in_subset("container#2", "web"), fake("container#2")),
        (rc("container#1", Group::Container), fake("container#1")),
        (in_subset("container#3", "web"), fake("container#3")),
        (in_subset("container#4", "db"), fake("container#4")),
    ]);
    s.cfg.subsets = vec![
        svcconf::SubsetConfig {
            group: Group::Container,
            name: "web".into(),
            parallel: true,
            line: 1,
        },
        svcconf::SubsetConfig {
            group: Group::Container,
            name: "db".into(),
            parallel: false,
            line: 2,
        },
    ];
    s
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn subsets_in_name_order_a_parallel_one_together() {
    let j = journal();
    let s = subsets_service(&j, None);
    let ctx = s.ctx();
    s.start(&ctx, &all(&s), &Options::default()).unwrap();
    let ev = events(&j);
    assert_eq!(ev[..2], ["start container#1", "start container#4"]);
    assert_eq!(
        sorted(ev[2..].to_vec()),
        ["start container#2", "start container#3"]
    );
    j.lock().unwrap().clear();
    s.stop(&ctx, &all(&s), &Options::default()).unwrap();
    let ev = events(&j);
    assert_eq!(
        sorted(ev[..2].to_vec()),
        ["stop container#2", "stop container#3"]
    );
    assert_eq!(ev[2..], ["stop container#4", "stop container#1"]);
}

#[test]
fn a_failure_in_a_parallel_subset_rolls_back_the_whole_batch() {
    let j = journal();
    let s = subsets_service(&j, Some("container#2"));
    let ctx = s.ctx();
    assert!(s.start(&ctx, &all(&s), &Options::default()).is_err());
    let ev = events(&j);
    // Both of "web" ran at once: container#3 started although container#2 failed, and the
    // rollback stops it with the rest, in reverse order.
    assert_eq!(ev[..2], ["start container#1", "start container#4"]);
    assert_eq!(
        sorted(ev[2..4].to_vec()),
        ["fail-start container#2", "start container#3"]
    );
    assert_eq!(
        ev[4..],
        ["stop container#3", "stop container#4", "stop container#1"]
    );
}
