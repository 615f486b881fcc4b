//! Golden tests: the exact text of every service config error and warning.

// Errors carry their context as fields; the library allows their size the same way.
#![allow(clippy::result_large_err)]

use std::path::Path;

use svcconf::{parse_service, parse_service_partial_at, ConfigError, Site};

fn err(text: &str) -> ConfigError {
    match parse_service(text.as_bytes(), Path::new("/etc/svcmgr/s.conf"), "s", "n1") {
        Ok(l) => panic!("expected an error, got {:?}", l.config),
        Err(e) => e,
    }
}

fn msg(text: &str) -> String {
    err(text).to_string()
}

const IP_OK: &str = "[ip#1]\nipname = 10.0.0.1\nipdev = eth0\n";

#[test]
fn unknown_resource_type() {
    let e = err("[DEFAULT]\nnodes = n1\n\n[foo#1]\nscript = x\n");
    assert_eq!(
        e.to_string(),
        "/etc/svcmgr/s.conf:4: [foo#1] unknown resource type 'foo' (expected one of: ip, vg, disk, fs, container, app, sync)"
    );
    assert_eq!(
        (e.line(), e.section(), e.keyword()),
        (Some(4), Some("foo#1"), None)
    );
    assert_eq!(e.file(), Path::new("/etc/svcmgr/s.conf"));
    // Unsupported kinds are reported before unknown ones.
    assert!(msg("[sync#1]\ntype = zfs\n[ipp#1]\n").contains("unsupported resource kinds"));
}

#[test]
fn bad_section_names() {
    for name in ["foo", "ip#", "#1", "ip#1#2", "ip #1", "default"] {
        assert_eq!(
            msg(&format!("[DEFAULT]\n[{name}]\n")),
            format!(
                "/etc/svcmgr/s.conf:2: [{name}] bad section name: expected DEFAULT or <type>#<n>"
            )
        );
    }
}

#[test]
fn unknown_keyword_is_a_warning() {
    let t = format!("{IP_OK}foo = bar\nfoo@n1 = baz\n");
    let l = parse_service(t.as_bytes(), Path::new("s.conf"), "s", "n1").unwrap();
    let w: Vec<String> = l.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        w,
        vec![
            "s.conf:4: [ip#1] foo: unknown keyword, ignored",
            "s.conf:5: [ip#1] foo@n1: unknown keyword, ignored"
        ]
    );
    assert_eq!(l.warnings[0].section.as_deref(), Some("ip#1"));
    assert_eq!(l.warnings[0].keyword.as_deref(), Some("foo"));
    assert_eq!(l.warnings[0].line, 4);
    // A keyword of another resource type is unknown here too.
    let l = parse_service(
        format!("{IP_OK}mnt = /x\n").as_bytes(),
        Path::new("s.conf"),
        "s",
        "n1",
    )
    .unwrap();
    assert_eq!(
        l.warnings[0].to_string(),
        "s.conf:4: [ip#1] mnt: unknown keyword, ignored"
    );
}

#[test]
fn missing_required_keyword_names_the_section_line() {
    let e = err("[DEFAULT]\nnodes = n1\n[ip#1]\nipname = 10.0.0.1\n\n[fs#1]\nmnt = /a\n");
    assert_eq!(
        e.to_string(),
        "/etc/svcmgr/s.conf:3: [ip#1] ipdev: missing required keyword"
    );
    assert_eq!(e.keyword(), Some("ipdev"));
    assert_eq!(
        msg("[fs#1]\ndev = /dev/a\n"),
        "/etc/svcmgr/s.conf:1: [fs#1] mnt: missing required keyword"
    );
    assert_eq!(
        msg("[container#1]\ntype = podman\n"),
        "/etc/svcmgr/s.conf:1: [container#1] run_image: missing required keyword"
    );
    assert_eq!(
        msg("[disk#1]\nvgname = v\n"),
        "/etc/svcmgr/s.conf:1: [disk#1] type: missing required keyword"
    );
    // Scoped for another node only: missing here.
    assert_eq!(
        msg("[ip#1]\nipname = 10.0.0.1\nipdev@n2 = eth0\n"),
        "/etc/svcmgr/s.conf:1: [ip#1] ipdev: missing required keyword"
    );
}

#[test]
fn bad_values_per_kind() {
    let cases = [
        (
            "netmask = 33",
            "netmask",
            "33",
            "expected a prefix length 0-32 or a dotted netmask",
        ),
        (
            "netmask = 255.0.255.0",
            "netmask",
            "255.0.255.0",
            "expected a prefix length 0-32 or a dotted netmask",
        ),
        (
            "optional = maybe",
            "optional",
            "maybe",
            "expected true or false",
        ),
        ("restart = often", "restart", "often", "expected an integer"),
        (
            "restart = -1",
            "restart",
            "-1",
            "expected a non-negative integer",
        ),
        (
            "start_timeout = 5 minutes",
            "start_timeout",
            "5 minutes",
            "expected a duration such as 30s, 5m, 500ms",
        ),
        (
            "pre_start = echo 'unclosed",
            "pre_start",
            "echo 'unclosed",
            "expected a command line with balanced quotes",
        ),
    ];
    for (line, kw, value, expected) in cases {
        assert_eq!(
            msg(&format!("{IP_OK}{line}\n")),
            format!("/etc/svcmgr/s.conf:4: [ip#1] {kw}: bad value '{value}': {expected}")
        );
    }
    assert_eq!(
        msg("[ip#1]\nipname = not a host\nipdev = eth0\n"),
        "/etc/svcmgr/s.conf:2: [ip#1] ipname: bad value 'not a host': expected an IPv4 address or a host name"
    );
    assert_eq!(
        msg("[DEFAULT]\norchestrate = always\n"),
        "/etc/svcmgr/s.conf:2: [DEFAULT] orchestrate: bad value 'always': expected one of no, start, ha"
    );
    assert_eq!(
        msg("[container#1]\ntype = lcx\nrun_image = x\n"),
        "/etc/svcmgr/s.conf:2: [container#1] type: bad value 'lcx': expected one of oci, docker, podman"
    );
    assert_eq!(
        msg("[disk#1]\ntype = zpoool\nvgname = v\n"),
        "/etc/svcmgr/s.conf:2: [disk#1] type: bad value 'zpoool': expected one of vg, lvm"
    );
    assert_eq!(
        msg("[fs#1]\ndev = \nmnt = /a\ntype = ext4\n"),
        "/etc/svcmgr/s.conf:2: [fs#1] dev: bad value '': expected a non-empty value"
    );
    let e = err(&format!("{IP_OK}netmask@n1 = 40\n"));
    assert_eq!(e.to_string(), "/etc/svcmgr/s.conf:4: [ip#1] netmask@n1: bad value '40': expected a prefix length 0-32 or a dotted netmask");
    assert_eq!(
        (e.line(), e.section(), e.keyword()),
        (Some(4), Some("ip#1"), Some("netmask@n1"))
    );
}

#[test]
fn bad_time_windows() {
    for w in ["04:00", "25:00-26:00", "03:59-05:59,06:00-07:00", "4h-5h"] {
        assert_eq!(
            msg(&format!("[DEFAULT]\nsync_period = {w}\n")),
            format!("/etc/svcmgr/s.conf:2: [DEFAULT] sync_period: bad value '{w}': expected HH:MM-HH:MM windows separated by spaces")
        );
    }
}

#[test]
fn inherited_bad_value_names_default() {
    assert_eq!(
        msg("[DEFAULT]\nscsireserv = perhaps\n[vg#1]\nvgname = v\n"),
        "/etc/svcmgr/s.conf:2: [DEFAULT] scsireserv: bad value 'perhaps': expected true or false"
    );
}

#[test]
fn duplicates() {
    assert_eq!(
        msg(&format!("[DEFAULT]\n{IP_OK}\n{IP_OK}")),
        "/etc/svcmgr/s.conf:6: [ip#1] duplicate section (first at line 2)"
    );
    assert_eq!(
        msg("[ip#1]\nipname = 10.0.0.1\nipdev = eth0\nipname = 10.0.0.2\n"),
        "/etc/svcmgr/s.conf:4: [ip#1] ipname: duplicate keyword (first at line 2)"
    );
    // An alias and its keyword are the same keyword.
    assert_eq!(
        msg("[fs#1]\ndev = /d\nmnt = /m\ntype = ext4\nmnt_opt = rw\nmnt_opts = ro\n"),
        "/etc/svcmgr/s.conf:6: [fs#1] mnt_opts: duplicate keyword (first at line 5)"
    );
    assert_eq!(
        msg("[ip#1]\nipname@n1 = 10.0.0.1\nipname@n1 = 10.0.0.2\nipdev = eth0\n"),
        "/etc/svcmgr/s.conf:3: [ip#1] ipname@n1: duplicate keyword (first at line 2)"
    );
    // Different scopes are not duplicates.
    assert!(parse_service(
        b"[ip#1]\nipname = a\nipname@n1 = b\nipdev = e\n",
        Path::new("s"),
        "s",
        "n1"
    )
    .is_ok());
}

#[test]
fn binary_and_empty_files() {
    let e = parse_service(
        b"[DEFAULT]\nnodes = n1\n\x7fELF\x02\x01\x01\x00\x00",
        Path::new("s.conf"),
        "s",
        "n1",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "s.conf: not a text file (binary data at line 3)"
    );
    assert_eq!(e.line(), Some(3));
    let e = parse_service(b"\xff\xd8\xff\xe0", Path::new("s.conf"), "s", "n1").unwrap_err();
    assert_eq!(
        e.to_string(),
        "s.conf: not a text file (binary data at line 1)"
    );
    for empty in ["", "\n\n", "# nothing\n; here\n   \n"] {
        let e = err(empty);
        assert_eq!(
            e.to_string(),
            "/etc/svcmgr/s.conf: empty config: no [DEFAULT] section and no resource"
        );
        assert_eq!(e.line(), None);
    }
}

#[test]
fn syntax_errors() {
    assert_eq!(
        msg("[DEFAULT]\nnodes = n1\n[ip#1\n"),
        "/etc/svcmgr/s.conf:3: syntax error: section header must end with ']'"
    );
    assert_eq!(
        msg("[DEFAULT]\nnodes n1\n"),
        "/etc/svcmgr/s.conf:2: syntax error: expected 'key = value'"
    );
    assert_eq!(
        msg("nodes = n1\n[DEFAULT]\n"),
        "/etc/svcmgr/s.conf:1: nodes: keyword outside of any section"
    );
}

#[test]
fn references_errors() {
    let fs = |mnt: &str| format!("[fs#1]\ndev = /d\ntype = ext4\nmnt = {mnt}\n");
    // OpenSVC's own references to what svcmgr has not say so.
    let e = err(&fs("/srv/{dns[0]}"));
    assert_eq!(
        e.to_string(),
        "/etc/svcmgr/s.conf:4: [fs#1] mnt: reference {dns[0]} is OpenSVC's cluster DNS, which svcmgr has not"
    );
    assert_eq!(
        (e.line(), e.section(), e.keyword()),
        (Some(4), Some("fs#1"), Some("mnt"))
    );
    assert_eq!(
        msg(&fs("/srv/{clusterid}")),
        "/etc/svcmgr/s.conf:4: [fs#1] mnt: reference {clusterid} is OpenSVC's cluster id \
         (node.conf cluster.id; node.toml has none), which svcmgr has not"
    );
    assert_eq!(
        msg(&fs("/srv/{foo}")),
        "/etc/svcmgr/s.conf:4: [fs#1] mnt: unknown reference {foo}"
    );
    assert_eq!(
        msg(&fs("{fs#9.mnt}")),
        "/etc/svcmgr/s.conf:4: [fs#1] mnt: unknown reference {fs#9.mnt}"
    );
    assert_eq!(
        msg(&fs("{fs#1.mnt_opt}")),
        "/etc/svcmgr/s.conf:4: [fs#1] mnt: unknown reference {fs#1.mnt_opt}"
    );
    assert_eq!(
        msg(&fs("{DEFAULT.nothing}")),
        "/etc/svcmgr/s.conf:4: [fs#1] mnt: unknown reference {DEFAULT.nothing}"
    );
    assert_eq!(
        msg(&fs("/x/{fs#1.mnt}")),
        "/etc/svcmgr/s.conf:4: [fs#1] mnt: reference cycle: fs#1.mnt -> fs#1.mnt"
    );
    let two = "[fs#1]\ndev = /d\ntype = ext4\nmnt = {fs#2.mnt}/a\n[fs#2]\ndev = /d\ntype = ext4\nmnt = {fs#1.mnt}/b\n";
    assert_eq!(
        msg(two),
        "/etc/svcmgr/s.conf:8: [fs#2] mnt: reference cycle: fs#1.mnt -> fs#2.mnt -> fs#1.mnt"
    );
    // A chain of 11 references is too deep, 10 is fine.
    let chain = |n: usize| {
        let mut t = String::from("[DEFAULT]\n");
        for i in 0..n {
            t.push_str(&format!("v{i} = {{DEFAULT.v{}}}\n", i + 1));
        }
        t.push_str(&format!("v{n} = end\napp = {{DEFAULT.v0}}\n"));
        t
    };
    let ok = parse_service(chain(9).as_bytes(), Path::new("s"), "s", "n1").unwrap();
    assert_eq!(
        ok.config.defaults["app"].value,
        svcconf::Value::Str("end".into())
    );
    let e = err(&chain(10));
    assert!(
        e.to_string().ends_with("references nested deeper than 10"),
        "{e}"
    );
    assert_eq!(e.section(), Some("DEFAULT"));
}

#[test]
fn not_scopable() {
    let e = err("[DEFAULT]\nnodes = n1 n2\nnodes@n1 = n1\n");
    assert_eq!(
        e.to_string(),
        "/etc/svcmgr/s.conf:3: [DEFAULT] nodes: keyword is not scopable"
    );
    assert_eq!(
        msg("[DEFAULT]\ndrpnodes@nodes = n3\n"),
        "/etc/svcmgr/s.conf:2: [DEFAULT] drpnodes: keyword is not scopable"
    );
    assert_eq!(
        msg("[container#1]\ntype@n1 = docker\n"),
        "/etc/svcmgr/s.conf:2: [container#1] type: keyword is not scopable"
    );
}

#[test]
fn trigger_conflict() {
    assert_eq!(
        msg(&format!(
            "{IP_OK}pre_start = /bin/a\nblocking_pre_start = /bin/b\n"
        )),
        "/etc/svcmgr/s.conf:5: [ip#1] blocking_pre_start: conflicts with pre_start (line 4)"
    );
}

#[test]
fn read_error_keeps_the_cause() {
    let e = svcconf::load_service(Path::new("/nonexistent/s.conf"), "s", "n1").unwrap_err();
    assert_eq!(e.to_string(), "/nonexistent/s.conf: cannot read");
    let src = std::error::Error::source(&e).expect("io cause");
    assert!(src.to_string().contains("No such file"), "{src}");
}

#[test]
fn a_node_named_twice_is_an_error() {
    assert_eq!(
        msg("[DEFAULT]\nnodes = n1 n2 n2\n"),
        "/etc/svcmgr/s.conf:2: [DEFAULT] nodes: bad value 'n1 n2 n2': expected node names separated by spaces, each named once"
    );
    assert_eq!(
        msg("[DEFAULT]\nnodes = n1\ndrpnodes = n3 n3\n"),
        "/etc/svcmgr/s.conf:3: [DEFAULT] drpnodes: bad value 'n3 n3': expected node names separated by spaces, each named once"
    );
}

#[test]
fn a_relative_mount_point_is_an_error() {
    assert_eq!(
        msg("[DEFAULT]\nnodes = n1\n[fs#1]\ndev = /dev/sdb\nmnt = srv/web\ntype = ext4\n"),
        "/etc/svcmgr/s.conf:5: [fs#1] mnt: bad value 'srv/web': expected an absolute path"
    );
}

#[test]
fn indented_keyword_line_is_a_continuation_and_warned() {
    let t = "[ip#1]\nipdev = eth0\nnetmask = 24\n  ipname@n1 = 10.0.0.1\nipname = 10.0.0.2\n";
    let l = parse_service(t.as_bytes(), Path::new("s.conf"), "s", "n1");
    // netmask swallowed the line: its value is no longer a netmask.
    assert_eq!(
        l.unwrap_err().to_string(),
        "s.conf:3: [ip#1] netmask: bad value '24\nipname@n1 = 10.0.0.1': expected a prefix length 0-32 or a dotted netmask"
    );
    let t = "[container#1]\ntype = docker\nrun_image = i\nrun_args = -a\n    name = x\n  -b\n";
    let l = parse_service(t.as_bytes(), Path::new("s.conf"), "s", "n1").unwrap();
    let w: Vec<String> = l.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        w,
        ["s.conf:5: [container#1] run_args: indented line 'name = x' continues this value (from line 4); remove its indentation to set name"]
    );
    // Words of an environment list that look like assignments are not keywords.
    let t = "[container#1]\ntype = docker\nrun_image = i\nrun_args = -e\n  A=1\n";
    let l = parse_service(t.as_bytes(), Path::new("s.conf"), "s", "n1").unwrap();
    assert_eq!(l.warnings, vec![]);
}

#[test]
fn env_references_errors() {
    assert_eq!(
        msg("[env]\na = 1\n[fs#1]\ndev = /d\ntype = ext4\nmnt = /{env.b}\n"),
        "/etc/svcmgr/s.conf:6: [fs#1] mnt: unknown reference {env.b}"
    );
    assert_eq!(
        msg("[env]\na = {env.b}\nb = x{env.a}\n[fs#1]\ndev = /d\ntype = ext4\nmnt = /{env.a}\n"),
        "/etc/svcmgr/s.conf:3: [env] b: reference cycle: fs#1.mnt -> env.a -> env.b -> env.a"
    );
    assert_eq!(
        msg("[env]\na = 1\na = 2\n"),
        "/etc/svcmgr/s.conf:3: [env] a: duplicate keyword (first at line 2)"
    );
    // An index past the end, an unknown modifier: unknown references.
    assert_eq!(
        msg("[DEFAULT]\nnodes = n1\n[fs#1]\ndev = /d\ntype = ext4\nmnt = /{nodes[3]}\n"),
        "/etc/svcmgr/s.conf:6: [fs#1] mnt: unknown reference {nodes[3]}"
    );
    assert_eq!(
        msg("[fs#1]\ndev = /d\ntype = ext4\nmnt = /{shout:svcname}\n"),
        "/etc/svcmgr/s.conf:4: [fs#1] mnt: unknown reference {shout:svcname}"
    );
}

/// OpenSVC kinds svcmgr has no driver for: all listed at once, with their lines.
#[test]
fn unsupported_kinds_are_listed_together() {
    let t = "[DEFAULT]\nnodes = n1\n[app#1]\ntype = winservice\n[volume#data]\nsize = 1g\n\
             [ip#1]\ntype = cni\n[disk#1]\ntype = drbd\n[fs#1]\ntype = flag\n\
             [container#1]\ntype = lxc\n[task#db]\ncommand = true\n\
             [fs#2]\ndev = /d\nmnt = /m\n";
    let e = err(t);
    assert_eq!(
        e.to_string(),
        "/etc/svcmgr/s.conf: unsupported resource kinds (svcmgr has no driver for them): \
         line 3 [app#1] app type = winservice, line 5 [volume#data] volume, line 7 [ip#1] ip type = cni, \
         line 9 [disk#1] disk type = drbd, line 11 [fs#1] fs type = flag, \
         line 13 [container#1] container type = lxc, line 15 [task#db] task"
    );
    assert_eq!(e.line(), Some(3));
    match e {
        ConfigError::Unsupported { sections, .. } => assert_eq!(sections.len(), 7),
        other => panic!("{other}"),
    }
    // A typo in a type is a bad value, not a missing driver.
    assert_eq!(
        msg("[container#1]\ntype = dockr\nimage = i\n"),
        "/etc/svcmgr/s.conf:2: [container#1] type: bad value 'dockr': expected one of oci, docker, podman"
    );
}

/// `--partial`: the same config without its unsupported sections.
#[test]
fn partial_load_leaves_out_the_unsupported_sections() {
    let site = Site::new("s", "n1");
    let partial = |t: &str| parse_service_partial_at(t.as_bytes(), Path::new("s.conf"), &site);
    let t = "[DEFAULT]\nnodes = n1\n[task#backup]\ncommand = /bin/true\n[ip#1]\nipname = 10.0.0.1\nipdev = eth0\n\
             [disk#1]\ntype = drbd\nres = r0\n[fs#1]\ndev = /dev/drbd0\nmnt = /srv/a\n\
             [sync#1]\nsrc = /srv/a/\ndst = /srv/a\ntarget = drpnodes\n";
    let p = partial(t).unwrap();
    assert_eq!(
        p.summary(),
        vec![
            "without: line 3 [task#backup] task",
            "without: line 8 [disk#1] disk type = drbd",
            "would load: ip#1 fs#1 sync#1",
        ]
    );
    // The normal load keeps refusing.
    assert!(matches!(err(t), ConfigError::Unsupported { .. }));
    // A config without unsupported sections loads as it is.
    let p = partial(IP_OK).unwrap();
    assert!(p.skipped.is_empty());
    assert_eq!(p.summary(), vec!["would load: ip#1"]);
    // Any other error of the rest is the normal load's.
    let e = partial("[task#1]\ncommand = x\n[fs#1]\ndev = /d\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "s.conf:3: [fs#1] mnt: missing required keyword"
    );
    // A resource needing a left-out section is left out too, with its error.
    let p = partial(
        "[disk#1]\ntype = md\n[fs#1]\ndev = {disk#1.name}\nmnt = /m\n[fs#2]\ndev = /d\nmnt = /n\n",
    )
    .unwrap();
    assert_eq!(
        p.summary(),
        vec![
            "without: line 1 [disk#1] disk type = md",
            "without: [fs#1], it needs what is left out: s.conf:4: [fs#1] dev: unknown reference {disk#1.name}",
            "would load: fs#2",
        ]
    );
    // ... and an [env] key needing one, then what reads that key.
    let p =
        partial("[disk#1]\ntype = md\n[env]\nd = {disk#1.name}\n[fs#1]\ndev = {env.d}\nmnt = /m\n")
            .unwrap();
    assert_eq!(
        p.summary(),
        vec![
            "without: line 1 [disk#1] disk type = md",
            "without: [env] d, it needs what is left out: s.conf:4: [env] d: unknown reference {disk#1.name}",
            "without: [fs#1], it needs what is left out: s.conf:6: [fs#1] dev: unknown reference {env.d}",
            "would load: no resource",
        ]
    );
    // ... as a container mounting an OpenSVC volume (by name: a relative source).
    let p =
        partial("[volume#1]\nname = data\n[container#1]\nimage = i\nvolume_mounts = data/db:/db\n")
            .unwrap();
    assert_eq!(p.dependents.len(), 1);
    assert_eq!(p.dependents[0].0, "container#1");
    // Without a left-out volume, a relative source is a bad value of the rest.
    assert!(partial(
        "[task#1]\ncommand = x\n[container#1]\nimage = i\nvolume_mounts = data/db:/db\n"
    )
    .unwrap_err()
    .to_string()
    .contains("a relative source is an OpenSVC volume: svcmgr has none"));
    // A DEFAULT keyword asking what svcmgr has not is listed and dropped alone.
    let t = "[DEFAULT]\nnodes = n1\ntopology = flex\nmode = lxc\n[ip#1]\nipname = 10.0.0.1\nipdev = eth0\n";
    assert_eq!(
        msg(t),
        "/etc/svcmgr/s.conf: unsupported resource kinds (svcmgr has no driver for them): \
         line 3 [DEFAULT] topology = flex, line 4 [DEFAULT] mode = lxc"
    );
    let p = partial(t).unwrap();
    assert_eq!(p.loaded.config.nodes, vec!["n1"]);
    assert_eq!(
        p.summary(),
        vec![
            "without: line 3 [DEFAULT] topology = flex",
            "without: line 4 [DEFAULT] mode = lxc",
            "would load: ip#1",
        ]
    );
    assert!(
        partial("[DEFAULT]\nmode = hosted\ncluster_type = failover\n")
            .unwrap()
            .skipped
            .is_empty()
    );
    let p = partial("[task#1]\ncommand = x\n").unwrap();
    assert_eq!(
        p.summary(),
        vec!["without: line 1 [task#1] task", "would load: no resource"]
    );
}

/// `[sync#i0]` is svcmgr's own sync: OpenSVC configs carry it (`disable = true`).
#[test]
fn internal_sync_section_is_noted() {
    let t = "[DEFAULT]\nnodes = n1\n[sync#i0]\ndisable = true\n[ip#1]\nipname = 10.0.0.1\nipdev = eth0\n";
    let l = parse_service(t.as_bytes(), Path::new("s.conf"), "s", "n1").unwrap();
    let w: Vec<String> = l.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        w,
        ["s.conf:3: [sync#i0] svcmgr's config sync is built in: this section's keywords are not used"]
    );
    assert_eq!(l.config.resources.len(), 1);
}

#[test]
fn rsync_syncs_load_apart_from_the_resources() {
    let ok = "[DEFAULT]\nnodes = n1 n2\ndrpnodes = n3\n[sync#1]\ntype = rsync\nsrc = /srv/data/\n\
              dst = /srv/data\ndstfs = /srv\ntarget = nodes drpnodes\noptions = --exclude=*.tmp\n\
              bwlimit = 1000\nsync_max_delay = 2h\n";
    let l = parse_service(ok.as_bytes(), Path::new("s.conf"), "s", "n1").unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert!(l.config.resources.is_empty());
    assert_eq!(l.config.syncs.len(), 1);
    let s = &l.config.syncs[0];
    assert_eq!(
        (s.rid.as_str(), s.rtype.as_deref()),
        ("sync#1", Some("rsync"))
    );
    assert_eq!(s.list("target"), ["nodes", "drpnodes"]);

    let base = "[sync#1]\ntype = rsync\nsrc = /a\ndst = /b\n";
    for (extra, want) in [
        (
            "target = all\n",
            "/etc/svcmgr/s.conf:5: [sync#1] target: bad value 'all': expected nodes, drpnodes or both",
        ),
        (
            "target = nodes\nsnap = true\n",
            "/etc/svcmgr/s.conf:6: [sync#1] snap: bad value 'true': expected false (svcmgr takes no snapshot of the source)",
        ),
        ("", "/etc/svcmgr/s.conf:1: [sync#1] target: missing required keyword"),
    ] {
        assert_eq!(msg(&format!("{base}{extra}")), want);
    }
    // Without type, a sync is rsync (as in OpenSVC).
    let l = parse_service(
        b"[sync#1]\nsrc = /a\ndst = /b\ntarget = drpnodes\n",
        Path::new("s.conf"),
        "s",
        "n1",
    )
    .unwrap();
    assert_eq!(l.config.syncs[0].rtype.as_deref(), Some("rsync"));
    assert_eq!(
        msg("[sync#1]\nsrc = /a\n"),
        "/etc/svcmgr/s.conf:1: [sync#1] dst: missing required keyword"
    );
}

/// Resource sets: `[subset#<group>[.<type>]:<name>]` with `parallel`; a malformed name or
/// an unknown group is refused with the line.
#[test]
fn subsets_load_and_bad_ones_are_refused() {
    let t = "[DEFAULT]\nnodes = n1\n[app#1]\nstart = /bin/true\nsubset = web\n\
             [subset#app.simple:web]\nparallel = true\n[subset#app:db]\n";
    let c = parse_service(t.as_bytes(), Path::new("/etc/svcmgr/s.conf"), "s", "n1")
        .expect("loads")
        .config;
    let sets: Vec<(String, bool)> = c
        .subsets
        .iter()
        .map(|s| (s.name.clone(), s.parallel))
        .collect();
    assert_eq!(sets, [("web".to_string(), true), ("db".to_string(), false)]);
    assert!(c.parallel(&c.resources[0]));
    for (bad, line) in [("[subset#app]\n", 3), ("[subset#nosuch:web]\n", 3)] {
        let e = err(&format!("[DEFAULT]\nnodes = n1\n{bad}"));
        assert!(
            e.to_string()
                .starts_with(&format!("/etc/svcmgr/s.conf:{line}: ")),
            "{e}"
        );
    }
    assert_eq!(
        err("[DEFAULT]\nnodes = n1\n[subset#app:web]\nparallel = maybe\n").to_string(),
        "/etc/svcmgr/s.conf:4: [subset#app:web] parallel: bad value 'maybe': expected true or false"
    );
}
