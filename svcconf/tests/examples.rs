//! Every shipped example config parses, without warnings, on each of its nodes.

use std::path::{Path, PathBuf};

use svcconf::{parse_service, Group, Loaded};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/examples")
}

/// `*.conf` files of the examples directory, sorted.
fn examples() -> Vec<PathBuf> {
    let dir = examples_dir();
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("read_dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    v.sort();
    v
}

fn load(path: &Path, node: &str) -> Loaded {
    let svc = path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("utf-8 name");
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_service(&bytes, path, svc, node).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_example_parses_on_every_node() {
    let files = examples();
    assert!(
        !files.is_empty(),
        "no example in {}",
        examples_dir().display()
    );
    for f in &files {
        let first = load(f, "somenode");
        let nodes = first.config.all_nodes();
        assert!(!nodes.is_empty(), "{}: no nodes", f.display());
        for n in &nodes {
            let l = load(f, n);
            let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
            assert!(w.is_empty(), "{} on {n}: warnings: {w:?}", f.display());
            assert!(
                !l.config.resources.is_empty(),
                "{}: no resources",
                f.display()
            );
        }
    }
}

#[test]
fn busybox_has_the_four_resource_types() {
    let l = load(&examples_dir().join("busybox.conf"), "deb1.opensvc.com");
    let c = &l.config;
    assert_eq!(c.name, "busybox");
    assert_eq!(c.nodes, ["deb1.opensvc.com", "deb2.opensvc.com"]);
    let mut rids: Vec<(&str, Group, Option<&str>)> = c
        .resources
        .iter()
        .map(|r| (r.rid.as_str(), r.group, r.rtype.as_deref()))
        .collect();
    rids.sort();
    assert_eq!(
        rids,
        [
            ("container#1", Group::Container, Some("podman")),
            ("fs#1", Group::Fs, Some("ext4")),
            ("fs#2", Group::Fs, Some("ext4")),
            ("ip#1", Group::Ip, None),
            ("vg#1", Group::Vg, None),
        ]
    );
    let ct = c.resources.iter().find(|r| r.rid == "container#1").unwrap();
    assert_eq!(ct.str("run_image"), Some("docker.io/opensvc/busybox:date"));
    assert_eq!(
        ct.list("run_command"),
        ["/bin/sh", "-c", "while true; do date; sleep 1; done"]
    );
    let vg = c.resources.iter().find(|r| r.rid == "vg#1").unwrap();
    assert_eq!(vg.str("vgname"), Some("vgbusybox"));
    assert!(!vg.bool("scsireserv"));
}

/// The node.toml the package installs as /etc/svcmgr/node.toml: it parses without warnings
/// and sets nothing but the defaults it shows.
#[test]
fn example_node_toml_is_the_defaults() {
    let path = examples_dir().join("node.toml");
    let text = std::fs::read_to_string(&path).expect("node.toml");
    let (cfg, warnings) =
        svcconf::parse_node(&text, &path, "host1").unwrap_or_else(|e| panic!("{e}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let (defaults, _) = svcconf::parse_node("", &path, "host1").expect("empty");
    assert_eq!(cfg.nodename, "host1");
    assert_eq!(cfg.monitor_interval.as_deref(), Some("5s"));
    assert_eq!(cfg.ssh, defaults.ssh);
    assert_eq!(cfg.cluster, defaults.cluster);
    assert!(cfg.prkey.is_none() && cfg.nodes.is_empty());
    // Each commented-out line is valid TOML once uncommented (with its section).
    let uncommented: String = text
        .lines()
        .map(|l| {
            l.strip_prefix("# ")
                .filter(|r| r.starts_with('[') || r.contains(" = "))
                .unwrap_or(l)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let (all, warnings) = svcconf::parse_node(&uncommented, &path, "host1")
        .unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(all.nodename, "n1");
    assert!(all.nodes.contains_key("n2"));
}
