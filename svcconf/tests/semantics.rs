//! What a valid config means: scoping, references, inheritance, aliases, typed values.

use std::path::Path;
use std::time::Duration;

use svcconf::*;

fn load(text: &str, node: &str) -> Loaded {
    parse_service(text.as_bytes(), Path::new("s.conf"), "svc1", node)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The error of a config that must not load, as printed.
fn load_err(text: &str) -> String {
    match parse_service(text.as_bytes(), Path::new("s.conf"), "svc1", "n1") {
        Ok(l) => panic!("expected an error, got {:?}", l.config),
        Err(e) => e.to_string(),
    }
}

fn res<'a>(l: &'a Loaded, rid: &str) -> &'a ResourceConfig {
    l.config.resources.iter().find(|r| r.rid == rid).unwrap()
}

#[test]
fn scoping_precedence() {
    let t = "[DEFAULT]\nnodes = n1 n2\ndrpnodes = n3 n4\n\
             [ip#1]\nipdev = eth0\nipname = 10.0.0.9\nipname@nodes = 10.0.0.1\nipname@drpnodes = 10.0.0.3\nipname@n2 = 10.0.0.2\nipname@n4 = 10.0.0.4\n";
    let ip = |node: &str| {
        load(t, node).config.resources[0]
            .str("ipname")
            .unwrap()
            .to_string()
    };
    assert_eq!(ip("n2"), "10.0.0.2"); // @nodename beats @nodes
    assert_eq!(ip("n1"), "10.0.0.1"); // @nodes
    assert_eq!(ip("n3"), "10.0.0.3"); // @drpnodes
    assert_eq!(ip("n4"), "10.0.0.4"); // @nodename beats @drpnodes
    assert_eq!(ip("n9"), "10.0.0.9"); // plain
    let l = load(t, "n1");
    let setting = &l.config.resources[0].settings["ipname"];
    assert_eq!(setting.line, 7);
    assert_eq!(l.config.nodes, vec!["n1", "n2"]);
    assert_eq!(l.config.drpnodes, vec!["n3", "n4"]);
    assert_eq!(l.config.all_nodes(), vec!["n1", "n2", "n3", "n4"]);
}

#[test]
fn scoped_keyword_without_plain_form() {
    let t = "[ip#1]\nipdev = eth0\nipname@n1 = 10.0.0.1\nipname@n2 = 10.0.0.2\nnetmask@n2 = 24\n";
    let l = load(t, "n1");
    assert_eq!(l.config.resources[0].str("ipname"), Some("10.0.0.1"));
    assert_eq!(l.config.resources[0].prefix("netmask"), None);
    assert_eq!(
        load(t, "n2").config.resources[0].prefix("netmask"),
        Some(24)
    );
}

#[test]
fn references_all_forms() {
    let t = "[DEFAULT]\napp = shop\nnodes = n1 {nodename}x\n\
             [fs#1]\ndev = /dev/{svcname}/{rid}\nmnt = /srv/{DEFAULT.app}/{nodename}\ntype = ext4\nmnt_opt@n1 = ro\n\
             [fs#2]\ndev = /dev/x\nmnt = {fs#1.mnt}/data\ntype = {fs#1.type}\nmnt_opt = {fs#1.mnt_opts},noatime\n\
             [container#1]\ntype = docker\nrun_image = img\nrun_args = --name {svcname} --format '{{.Name}}' '{ x }'\ncomment = {DEFAULT.app} {rid}\n";
    let l = load(t, "n1");
    let fs1 = res(&l, "fs#1");
    assert_eq!(fs1.str("dev"), Some("/dev/svc1/fs#1"));
    assert_eq!(fs1.str("mnt"), Some("/srv/shop/n1"));
    let fs2 = res(&l, "fs#2");
    assert_eq!(fs2.str("mnt"), Some("/srv/shop/n1/data"));
    assert_eq!(fs2.str("mnt_opt"), Some("ro,noatime"));
    assert_eq!(fs2.rtype.as_deref(), Some("ext4"));
    assert_eq!(l.config.nodes, vec!["n1", "n1x"]);
    let c = res(&l, "container#1");
    assert_eq!(
        c.list("run_args"),
        ["--name", "svc1", "--format", "{{.Name}}", "{ x }"]
    );
    assert_eq!(c.str("comment"), Some("shop container#1"));
    assert_eq!(l.warnings, vec![]);
}

#[test]
fn references_to_unknown_keywords_and_defaults() {
    let t = "[DEFAULT]\nbase = /srv\n[fs#1]\ndev = /d\nmnt = {DEFAULT.base}/{DEFAULT.orchestrate}/{fs#1.optional}\ntype = xfs\n";
    let l = load(t, "n1");
    assert_eq!(res(&l, "fs#1").str("mnt"), Some("/srv/no/false"));
    assert_eq!(l.warnings.len(), 1);
    assert_eq!(
        l.warnings[0].to_string(),
        "s.conf:2: [DEFAULT] base: unknown keyword, ignored"
    );
    // {rid} inside DEFAULT is DEFAULT, also when a resource inherits the value.
    let t = "[DEFAULT]\nprkey = {rid}\n[vg#1]\nvgname = v\n";
    assert_eq!(res(&load(t, "n1"), "vg#1").str("prkey"), Some("DEFAULT"));
}

#[test]
fn default_inheritance() {
    let t = "[DEFAULT]\nscsireserv = true\npr_backend = mpathpersist\nstart_timeout = 2m\n\
             [vg#1]\nvgname = a\n[vg#2]\nvgname = b\nscsireserv = no\n[disk#3]\ntype = vg\nname = c\nstart_timeout = 10s\n";
    let l = load(t, "n1");
    let (v1, v2, v3) = (res(&l, "vg#1"), res(&l, "vg#2"), res(&l, "disk#3"));
    assert!(v1.bool("scsireserv"));
    assert_eq!(v1.settings["scsireserv"].line, 2);
    assert!(!v2.bool("scsireserv"));
    assert!(v3.bool("scsireserv"));
    assert_eq!(v1.str("pr_backend"), Some("mpathpersist"));
    assert_eq!(v1.duration("start_timeout"), Some(Duration::from_secs(120)));
    assert_eq!(v3.duration("start_timeout"), Some(Duration::from_secs(10)));
    assert_eq!(
        l.config.defaults["start_timeout"].value,
        Value::Duration(Duration::from_secs(120))
    );
    assert!(
        !l.config.defaults.contains_key("scsireserv"),
        "resource keywords are not service settings"
    );
    assert!(l.warnings.is_empty());
    // Table defaults when nobody sets them.
    let l = load("[vg#1]\nvgname = a\n", "n1");
    let v = res(&l, "vg#1");
    assert_eq!(v.get("scsireserv"), Some(&Value::Bool(false)));
    assert_eq!(v.settings["scsireserv"].line, 0);
    assert_eq!(v.get("prkey"), None);
    assert_eq!(v.get("start_timeout"), None);
    // Non-inheritable keywords in DEFAULT are accepted and not inherited.
    let l = load("[DEFAULT]\nmonitor = true\n[vg#1]\nvgname = a\n", "n1");
    assert!(!res(&l, "vg#1").common.monitor);
    assert!(l.warnings.is_empty());
}

#[test]
fn aliases_and_disk() {
    let t = "[fs#1]\ndev = /d\nmnt = /m\ntype = ext4\nmnt_opts = rw,noatime\n[disk#1]\ntype = vg\nname = vgdata\n[vg#2]\nvgname = v2\n";
    let l = load(t, "n1");
    let fs = res(&l, "fs#1");
    assert_eq!(fs.str("mnt_opt"), Some("rw,noatime"));
    assert_eq!(fs.get("mnt_opts"), None);
    assert_eq!(fs.rtype.as_deref(), Some("ext4"));
    assert_eq!(fs.get("type"), None);
    let d = res(&l, "disk#1");
    assert_eq!(
        (d.group, d.rtype.as_deref(), d.str("vgname"), d.index()),
        (Group::Vg, Some("vg"), Some("vgdata"), 1)
    );
    let v = res(&l, "vg#2");
    assert_eq!((v.group, v.rtype.as_deref()), (Group::Vg, None));
}

#[test]
fn common_keywords_and_triggers() {
    let t = "[ip#1]\nipname = n1.example.com\nipdev = eth0\nnetmask = 255.255.255.0\noptional = yes\ndisable = off\nmonitor = 1\nstandby = On\n\
             restart = 3\ntags = a b  c\npre_start = /bin/echo \"hello world\" 'it''s'\nblocking_post_start = /usr/bin/check --x=1\n\
             post_stop = echo a\\ b\npre_stop = \n";
    let l = load(t, "n1");
    let ip = &l.config.resources[0];
    let c = &ip.common;
    assert!(c.optional && !c.disable && c.monitor && c.standby);
    assert_eq!(c.restart, 3);
    assert_eq!(c.tags, ["a", "b", "c"]);
    let t = &c.triggers;
    assert_eq!(
        t.pre_start,
        Some(Trigger {
            argv: vec!["/bin/echo".into(), "hello world".into(), "its".into()],
            blocking: false
        })
    );
    assert_eq!(
        t.post_start,
        Some(Trigger {
            argv: vec!["/usr/bin/check".into(), "--x=1".into()],
            blocking: true
        })
    );
    assert_eq!(t.post_stop.as_ref().unwrap().argv, ["echo", "a b"]);
    assert_eq!(t.pre_stop, None);
    assert_eq!(ip.prefix("netmask"), Some(24));
    assert_eq!(ip.line, 1);
    for k in [
        "optional",
        "tags",
        "pre_start",
        "blocking_post_start",
        "type",
    ] {
        assert!(!ip.settings.contains_key(k), "{k} is not a driver setting");
    }
    let defaults = load("[ip#1]\nipname = 1.2.3.4\nipdev = e\n", "n1");
    assert_eq!(defaults.config.resources[0].common, Common::default());
}

#[test]
fn service_level_settings() {
    let l = load(
        "[DEFAULT]\nautostart_node = n2\norchestrate = ha\nsync_period = 22:00-02:00 12:00-12:30\n",
        "n1",
    );
    let c = &l.config;
    assert_eq!(c.nodes, vec!["n1"], "nodes defaults to this node");
    assert!(c.drpnodes.is_empty());
    assert_eq!(c.autostart_node.as_deref(), Some("n2"));
    assert_eq!(c.orchestrate, Orchestrate::Ha);
    assert_eq!(
        c.sync_period,
        vec![
            TimeWindow {
                start: 1320,
                end: 120
            },
            TimeWindow {
                start: 720,
                end: 750
            }
        ]
    );
    assert!(
        c.sync_period[0].contains(0)
            && c.sync_period[0].contains(1400)
            && !c.sync_period[0].contains(600)
    );
    assert!(c.resources.is_empty());
    let l = load("[ip#1]\nipname = 1.2.3.4\nipdev = e\n", "n7");
    let c = &l.config;
    assert_eq!(c.orchestrate, Orchestrate::No);
    assert_eq!(
        c.sync_period,
        vec![TimeWindow {
            start: 239,
            end: 359
        }]
    );
    assert_eq!(
        c.sync_period[0].bounds(),
        ("03:59".to_string(), "05:59".to_string())
    );
    assert_eq!(c.nodes, vec!["n7"]);
    assert_eq!(c.autostart_node, None);
    assert_eq!(c.defaults["orchestrate"].value, Value::Str("no".into()));
    assert_eq!(c.name, "svc1");
    assert_eq!(c.path, Path::new("s.conf"));
}

#[test]
fn seed_busybox_config() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/busybox.opensvc.com.env");
    let l = load_service(&path, "busybox.opensvc.com", "deb1.opensvc.com")
        .unwrap_or_else(|e| panic!("{e}"));
    let w: Vec<String> = l
        .warnings
        .iter()
        .map(|w| format!("{}:{}", w.line, w.keyword.as_deref().unwrap_or("")))
        .collect();
    // The seed's private docker store is understood; the 1.x names get a note.
    assert_eq!(w, vec!["4:service_type", "6:docker_data_dir"]);
    assert_eq!(
        l.warnings[0].to_string(),
        format!(
            "{}:4: [DEFAULT] service_type: deprecated name, read as env",
            path.display()
        )
    );
    let c = &l.config;
    let store = c.container_store().expect("docker_data_dir");
    assert_eq!(
        store.data_dir,
        Path::new("/opt/busybox.opensvc.com/appdata")
    );
    assert!(store.private_daemon);
    assert_eq!(store.daemon_args, ["--ip", "37.59.71.25"]);
    assert_eq!(store.holder().map(|h| h.0.as_str()), Some("fs#2"));
    assert_eq!(c.text, std::fs::read_to_string(&path).unwrap());
    assert_eq!(c.nodes, vec!["deb1.opensvc.com", "deb2.opensvc.com"]);
    assert_eq!(c.autostart_node.as_deref(), Some("deb1.opensvc.com"));
    assert_eq!(c.defaults["app"].value, Value::Str("OSVCLAB".into()));
    let rids: Vec<&str> = c.resources.iter().map(|r| r.rid.as_str()).collect();
    assert_eq!(rids, vec!["container#1", "ip#1", "vg#1", "fs#1", "fs#2"]);
    let ct = res(&l, "container#1");
    assert_eq!(
        (ct.group, ct.rtype.as_deref(), ct.str("run_image")),
        (Group::Container, Some("docker"), Some("b073e328878e"))
    );
    assert_eq!(res(&l, "ip#1").str("ipname"), Some("busybox.opensvc.com"));
    assert_eq!(res(&l, "vg#1").str("vgname"), Some("vgbusybox"));
    assert!(!res(&l, "vg#1").bool("scsireserv"));
    assert_eq!(res(&l, "fs#2").str("mnt_opt"), Some("rw"));
    assert_eq!(
        res(&l, "fs#2").str("dev"),
        Some("/dev/mapper/vgbusybox-lvbusyboxdata")
    );
    assert_eq!(res(&l, "fs#1").line, 21);
}

#[test]
fn parse_duration_is_exported() {
    assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("soon"), None);
}

/// Indented continuation lines are part of the value above, for every keyword kind that
/// takes a list or a command line.
#[test]
fn multi_line_values() {
    let t = "[DEFAULT]\nnodes = n1\n    n2\n\
             [container#1]\ntype = docker\nrun_image = img\n\
             run_args = --net=host\n    -v /data:/data\n\n    # the logs\n    -v /log:/log\n\
             run_command = /bin/sh -c\n    'while true; do date; sleep 1; done'\n\
             tags = a\n  b\n\
             pre_start = /bin/echo\n  one\n  two\n";
    let l = load(t, "n1");
    assert_eq!(l.warnings, vec![]);
    assert_eq!(l.config.nodes, ["n1", "n2"]);
    let c = res(&l, "container#1");
    assert_eq!(
        c.list("run_args"),
        ["--net=host", "-v", "/data:/data", "-v", "/log:/log"]
    );
    assert_eq!(c.settings["run_args"].line, 7);
    assert_eq!(
        c.list("run_command"),
        ["/bin/sh", "-c", "while true; do date; sleep 1; done"]
    );
    assert_eq!(c.common.tags, ["a", "b"]);
    assert_eq!(
        c.common.triggers.pre_start.as_ref().unwrap().argv,
        ["/bin/echo", "one", "two"]
    );
}

fn site(node: &str) -> Site {
    Site {
        svcname: "web".into(),
        nodename: node.into(),
        namespace: None,
        clustername: Some("prod".into()),
        cluster_nodes: vec!["n1.example.com".into(), "n2".into(), "n3".into()],
        var: Some("/var/lib/svcmgr".into()),
        private_var: Some("/var/lib/svcmgr/services/web".into()),
    }
}

fn load_at(text: &str, node: &str) -> Loaded {
    parse_service_at(text.as_bytes(), Path::new("web.conf"), &site(node))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// OpenSVC's computed references and the `[env]` section, each to its expected text.
#[test]
fn references_builtins_and_env() {
    let t = "[DEFAULT]\nnodes = {clusternodes}\n\
             [env]\nfqdn = web.acme.com\nnic = eth0\nnic@n2 = eth1\nnic@encapnodes = eth9\nport = 80\n\
             [ip#1]\nipname = {env.fqdn}\nipdev = {env.nic}\ncomment = {rid} {rindex} {ipname} {ipdev}\n\
             [fs#data]\ndev = /dev/{namespace}/{name}\nmnt = {var}/{svcname}/{rindex}\ntype = ext4\n\
             comment = {nodename} {short_nodename} {clustername} {fqdn} {domain} {kind} {path}\n\
             [container#1]\ntype = docker\nrun_image = img\n\
             run_command = /bin/sh -c 'echo ${HOME} {upper:env.nic} {#clusternodes} {clusternodes[1]}'\n\
             comment = {private_var} {title:short_svcname}\n";
    let l = load_at(t, "n1.example.com");
    assert_eq!(l.config.nodes, ["n1.example.com", "n2", "n3"]);
    let ip = res(&l, "ip#1");
    assert_eq!(ip.str("ipname"), Some("web.acme.com"));
    assert_eq!(ip.str("ipdev"), Some("eth0"));
    assert_eq!(ip.str("comment"), Some("ip#1 1 web.acme.com eth0"));
    let fs = res(&l, "fs#data");
    assert_eq!(fs.str("dev"), Some("/dev/root/web"));
    assert_eq!(fs.str("mnt"), Some("/var/lib/svcmgr/web/data"));
    assert_eq!(
        fs.str("comment"),
        Some("n1.example.com n1 prod web.root.svc.prod root.svc.prod svc web")
    );
    let c = res(&l, "container#1");
    assert_eq!(
        c.list("run_command"),
        ["/bin/sh", "-c", "echo ${HOME} ETH0 3 n2"]
    );
    assert_eq!(c.str("comment"), Some("/var/lib/svcmgr/services/web Web"));
    // Scoped [env] keys follow the node; @encapnodes is never this node, and says so.
    assert_eq!(res(&load_at(t, "n2"), "ip#1").str("ipdev"), Some("eth1"));
    let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        ["web.conf:7: [env] nic@encapnodes: ignored: svcmgr has no encapsulated nodes"]
    );
}

#[test]
fn nodes_star_is_the_cluster() {
    let t = "[DEFAULT]\nnodes = *\n[ip#1]\nipname = 10.0.0.1\nipdev = eth0\n";
    assert_eq!(
        load_at(t, "n2").config.nodes,
        ["n1.example.com", "n2", "n3"]
    );
    // Without a known cluster: this node.
    assert_eq!(load(t, "n7").config.nodes, ["n7"]);
    let t = "[DEFAULT]\nnodes = {clusternodes}\ndrpnodes = n9\n[ip#1]\nipname = 10.0.0.1\nipdev = eth0\n";
    assert_eq!(load(t, "n7").config.nodes, ["n7"]);
}

#[test]
fn implicit_reference_section_is_own_then_default() {
    let t = "[DEFAULT]\napp = shop\nmnt_root = /srv\n\
             [fs#1]\ndev = /dev/x\ntype = ext4\nmnt = {mnt_root}/{app}\ncomment = {dev} {mnt}\n";
    let l = load(t, "n1");
    assert_eq!(res(&l, "fs#1").str("mnt"), Some("/srv/shop"));
    assert_eq!(res(&l, "fs#1").str("comment"), Some("/dev/x /srv/shop"));
}

/// OpenSVC's disk types and a type-less fs: `lvm` is a vg, `loop` its own kind, and the fs
/// type may be left to blkid or scoped.
#[test]
fn disk_types_and_fs_type() {
    let t = "[DEFAULT]\nnodes = n1\ndrpnodes = n3\n\
             [disk#0]\ntype = loop\nfile = /srv/{svcname}.img\nsize = 1g\n\
             [disk#1]\ntype = lvm\nname = vg{svcname}\n\
             [fs#1]\ndev = /dev/vgsvc1/lv\nmnt = /srv/a\n\
             [fs#2]\ndev = /dev/vgsvc1/lv2\nmnt = /srv/b\ntype = ext4\ntype@drpnodes = xfs\n";
    let l = load(t, "n1");
    assert_eq!(l.warnings, vec![]);
    let d0 = res(&l, "disk#0");
    assert_eq!(
        (d0.group, d0.str("file")),
        (Group::Loop, Some("/srv/svc1.img"))
    );
    let d1 = res(&l, "disk#1");
    assert_eq!((d1.group, d1.str("vgname")), (Group::Vg, Some("vgsvc1")));
    assert_eq!(d1.rtype.as_deref(), Some("lvm"));
    assert_eq!(res(&l, "fs#1").rtype, None);
    assert_eq!(res(&l, "fs#2").rtype.as_deref(), Some("ext4"));
    assert_eq!(res(&load(t, "n3"), "fs#2").rtype.as_deref(), Some("xfs"));
    // A loop disk has no vg keywords, and `loop` is no section prefix.
    let e = parse_service(
        b"[disk#0]\ntype = loop\nfile = /x\nvgname = v\n",
        Path::new("s.conf"),
        "s",
        "n1",
    )
    .unwrap();
    assert_eq!(
        e.warnings[0].to_string(),
        "s.conf:4: [disk#0] vgname: unknown keyword, ignored"
    );
    let e = parse_service(b"[loop#0]\nfile = /x\n", Path::new("s.conf"), "s", "n1").unwrap_err();
    assert!(
        e.to_string().contains("unknown resource type 'loop'"),
        "{e}"
    );
}

#[test]
fn evaluated_keywords_per_node() {
    let t = "[DEFAULT]\nnodes = n1 n2\nenv = PRD\n\
             [env]\nport = 80\n\
             [fs#1]\ndev = /dev/{svcname}/lv\nmnt = /srv/{env.port}\ntype = ext4\n\
             mnt_opt = rw\nmnt_opt@n2 = ro\nfoo = {nodename}\n";
    let eval = |node: &str| {
        evaluate_service(t.as_bytes(), Path::new("s.conf"), &Site::new("svc1", node))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let n2 = eval("n2");
    let names: Vec<&str> = n2.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names, ["DEFAULT", "env", "fs#1"]);
    let fs: Vec<(&str, &str)> = n2[2]
        .1
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Scopes merged into one keyword; unknown keywords evaluated too.
    assert_eq!(
        fs,
        [
            ("dev", "/dev/svc1/lv"),
            ("mnt", "/srv/80"),
            ("type", "ext4"),
            ("mnt_opt", "ro"),
            ("foo", "n2")
        ]
    );
    assert_eq!(
        eval("n1")[2].1[3],
        ("mnt_opt".to_string(), "rw".to_string())
    );
    let bad = "[DEFAULT]\nnodes = n1\n[fs#1]\nmnt = {nope}\n";
    let e = evaluate_service(bad.as_bytes(), Path::new("s.conf"), &Site::new("s", "n1"));
    assert_eq!(
        e.unwrap_err().to_string(),
        "s.conf:4: [fs#1] mnt: unknown reference {nope}"
    );
}

#[test]
fn disable_in_default_disables_every_resource() {
    let t = "[DEFAULT]\nnodes = n1\ndisable = true\n\
             [ip#1]\nipname = 10.0.0.1\nipdev = eth0\n\
             [ip#2]\nipname = 10.0.0.2\nipdev = eth0\ndisable = false\n";
    let l = load(t, "n1");
    assert!(res(&l, "ip#1").common.disable);
    assert!(
        !res(&l, "ip#2").common.disable,
        "the resource's own value wins"
    );
    let l = load(&t.replace("disable = true\n", ""), "n1");
    assert!(!res(&l, "ip#1").common.disable);
}

#[test]
fn deprecated_1x_keywords_load_with_a_note() {
    let t = "[DEFAULT]\nnodes = n1 n2\ndrpnodes = n3\ncluster_type = failover\nmode = hosted\n\
             [fs#1]\ndev = /dev/sdb\nmnt = /srv/a\nalways_on = drpnodes\n\
             [fs#2]\ndev = /dev/sdc\nmnt = /srv/b\nalways_on = n1\n";
    let l = load(t, "n3");
    let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        vec![
            "s.conf:4: [DEFAULT] cluster_type: deprecated name, read as topology",
            "s.conf:5: [DEFAULT] mode: deprecated keyword, ignored (OpenSVC 2 reads every service as hosted)",
            "s.conf:9: [fs#1] always_on: deprecated keyword, read as standby on the nodes listed (2.x: standby@<nodes> = true)",
            "s.conf:13: [fs#2] always_on: deprecated keyword, read as standby on the nodes listed (2.x: standby@<nodes> = true)",
        ]
    );
    assert!(res(&l, "fs#1").common.standby);
    assert!(!res(&l, "fs#2").common.standby);
    assert!(!res(&l, "fs#1").settings.contains_key("always_on"));
    let l = load(t, "n1");
    assert!(!res(&l, "fs#1").common.standby);
    assert!(res(&l, "fs#2").common.standby);
    // A 1.x flex service is refused: svcmgr has failover services only.
    assert_eq!(
        load_err("[DEFAULT]\ncluster_type = flex\n"),
        "s.conf: unsupported resource kinds (svcmgr has no driver for them): \
         line 2 [DEFAULT] cluster_type = flex"
    );
}

/// Keywords of OpenSVC features svcmgr does not have, accepted as OpenSVC writes them.
#[test]
fn opensvc_keywords_without_a_feature_here() {
    let t = "[DEFAULT]\nnodes = n1\nrollback = false\nflex_primary = n1\nflex_min_nodes = 1\n\
             [disk#1]\ntype = vg\nname = vg1\npvs = /dev/loop0\n\
             [fs#1]\ntype = ext4\ndev = /dev/vg1/lv\nmnt = /srv/a\nsize = 1g\nvg = vg1\n\
             mkfs_opt = -m 1\nsubset = g1\npost_provision = /bin/true\n";
    let l = load(t, "n1");
    let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        vec![
            "s.conf:5: [DEFAULT] flex_min_nodes: deprecated name, read as flex_min",
            "s.conf:18: [fs#1] post_provision: not run: svcmgr does not provision",
        ]
    );
    assert_eq!(l.config.defaults["rollback"].value, Value::Bool(false));
    assert!(res(&l, "fs#1").common.triggers.post_start.is_none());
    // Secrets and configs objects: the resource is of a kind svcmgr does not have.
    assert_eq!(
        load_err("[container#1]\nimage = i\nsecrets_environment = PW=sec/pw\n"),
        "s.conf: unsupported resource kinds (svcmgr has no driver for them): line 1 \
         [container#1] container with secrets_environment (OpenSVC secret and config objects)"
    );
}
