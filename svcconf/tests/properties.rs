//! Property tests of the parts that read outside input: the partial load, the reference
//! expander and the scoping resolver (the INI reader's are next to it, in `ini.rs`).

#![allow(clippy::result_large_err)]

use std::path::Path;

use proptest::prelude::*;
use svcconf::{parse_service, parse_service_partial_at, ConfigError, Site};

fn parse(text: &str, node: &str) -> Result<svcconf::Loaded, ConfigError> {
    parse_service(text.as_bytes(), Path::new("p.conf"), "svc", node)
}

/// Section headers, supported kinds and not, a few sharing a rid.
const HEADERS: &[&str] = &[
    "[DEFAULT]",
    "[env]",
    "[ip#1]",
    "[fs#1]",
    "[fs#2]",
    "[disk#1]",
    "[container#0]",
    "[container#1]",
    "[app#1]",
    "[sync#1]",
    "[volume#1]",
    "[task#1]",
    "[subset#fs:g1]",
    "[share#1]",
    "[default]",
];

/// Lines of any section: types supported and not, references to other sections, volume
/// mounts, shared namespaces, DEFAULT keywords of unsupported topologies.
const LINES: &[&str] = &[
    "type = netns",
    "type = drbd",
    "type = vg",
    "type = loop",
    "type = flag",
    "type = docker",
    "type = lxc",
    "type = rsync",
    "type = ext4",
    "ipname = 10.0.0.1",
    "ipdev = eth0",
    "dev = /dev/sdb",
    "dev = {disk#1.name}",
    "dev = {env.d}",
    "mnt = /srv/a",
    "mnt = {fs#1.mnt}/b",
    "name = vg1",
    "file = /srv/a.img",
    "image = busybox",
    "netns = container#0",
    "netns = container#1",
    "volume_mounts = data/x:/x",
    "volume_mounts = /a:/a",
    "secrets_environment = A=s/a",
    "start = /bin/true",
    "src = /a",
    "dst = /b",
    "target = nodes",
    "d = {volume#1.name}",
    "d = /dev/sdc",
    "topology = flex",
    "mode = lxc",
    "mode = hosted",
    "nodes = n1 n2",
    "subset = g1",
    "size = 1g",
    "e = {dns[0]}",
    "dev = /dev/{clusterid}",
];

proptest! {
    /// The partial load of any mix of sections never panics, and agrees with the normal
    /// load: what it leaves out is exactly what the normal load refuses as unsupported (or
    /// needs a reference svcmgr has not); with nothing left out, both say the same.
    #[test]
    fn partial_load_of_arbitrary_sections(
        secs in proptest::collection::vec(
            (0..HEADERS.len(), proptest::collection::vec(0..LINES.len(), 0..6)),
            0..8,
        ),
    ) {
        let mut t = String::new();
        for (h, lines) in &secs {
            t.push_str(HEADERS[*h]);
            t.push('\n');
            for l in lines {
                t.push_str(LINES[*l]);
                t.push('\n');
            }
        }
        let site = Site::new("svc", "n1");
        let normal = parse(&t, "n1");
        let partial = parse_service_partial_at(t.as_bytes(), Path::new("p.conf"), &site);
        match (&normal, &partial) {
            (Ok(n), Ok(p)) => {
                prop_assert!(p.skipped.is_empty() && p.dependents.is_empty());
                prop_assert_eq!(n, &p.loaded);
            }
            (Err(ConfigError::Unsupported { sections, .. }), Ok(p)) => {
                prop_assert_eq!(sections, &p.skipped);
                let c = &p.loaded.config;
                for r in c.resources.iter().chain(&c.syncs) {
                    prop_assert!(!p.skipped.iter().any(|u| u.section == r.rid), "{} loaded", r.rid);
                    prop_assert!(!p.dependents.iter().any(|(d, _)| *d == r.rid), "{} loaded", r.rid);
                }
                prop_assert!(!p.summary().is_empty());
            }
            // The rest has another error; with a reference svcmgr has not, the partial
            // load goes on past the section needing it.
            (Err(ConfigError::Unsupported { .. }), Err(_))
            | (Err(ConfigError::UnsupportedReference { .. }), Err(_)) => {}
            (Err(n), Err(p)) => prop_assert_eq!(n.to_string(), p.to_string()),
            // A reference svcmgr has not: partial leaves out what needs it.
            (Err(ConfigError::UnsupportedReference { .. }), Ok(p)) => {
                prop_assert!(!p.dependents.is_empty());
            }
            (Err(n), Ok(p)) => prop_assert!(false, "normal: {}, partial: {:?}", n, p.summary()),
            (Ok(_), Err(p)) => prop_assert!(false, "normal loads, partial: {}", p),
        }
    }

    /// Any value, braces and all, loads or fails with an error: never a panic.
    #[test]
    fn arbitrary_values_never_panic(
        v in "[{}a-z0-9.#:\\[\\]$@ _-]{0,60}",
        w in "[{}a-z0-9.#:\\[\\]$@ _-]{0,60}",
    ) {
        let t = format!("[DEFAULT]\ncomment = {v}\n[env]\na = {w}\nb = {v}\n[fs#1]\ndev = /d\ntype = ext4\nmnt = /{w}\n");
        let _ = parse(&t, "n1");
    }

    /// A ring of references ends with an error naming every link of the cycle.
    #[test]
    fn reference_rings_are_cycles(n in 1usize..9, via_env in any::<bool>()) {
        let sec = if via_env { "env" } else { "DEFAULT" };
        let mut t = format!("[{sec}]\n");
        for i in 0..n {
            t.push_str(&format!("k{i} = x{{{sec}.k{}}}\n", (i + 1) % n));
        }
        t.push_str("[fs#1]\ndev = /d\ntype = ext4\n");
        t.push_str(&format!("mnt = /{{{sec}.k0}}\n"));
        match parse(&t, "n1") {
            Err(ConfigError::ReferenceCycle { chain, .. }) => {
                for i in 0..n {
                    let link = format!("{sec}.k{i}");
                    prop_assert!(chain.contains(&link), "{}", chain);
                }
                let closing = format!("-> {sec}.k0");
                prop_assert!(chain.ends_with(&closing), "{}", chain);
            }
            other => prop_assert!(false, "expected a cycle, got {:?}", other.map(|l| l.config.defaults)),
        }
    }

    /// Whatever scoped forms are written, the value used is the most specific one that
    /// applies: @nodename > @nodes > @drpnodes > plain.
    #[test]
    fn scoping_picks_the_most_specific(
        forms in proptest::collection::btree_set(0usize..5, 0..5),
        node in 0usize..4,
    ) {
        // Scopes, in precedence order for the node under test; n1 n2 are nodes, n3 a drpnode.
        let nodes = ["n1", "n2", "n3", "n4"];
        let me = nodes[node];
        let scopes = [format!("@{me}"), "@nodes".into(), "@drpnodes".into(), String::new(), "@other".into()];
        let mut t = String::from("[DEFAULT]\nnodes = n1 n2\ndrpnodes = n3\n[ip#1]\nipdev = eth0\n");
        for f in &forms {
            t.push_str(&format!("ipname{} = 10.0.0.{f}\n", scopes[*f]));
        }
        let applies = |f: usize| match f {
            0 => true,
            1 => node < 2,
            2 => node == 2,
            3 => true,
            _ => false,
        };
        let want = forms.iter().copied().filter(|f| applies(*f)).min();
        match (parse(&t, me), want) {
            (Ok(l), Some(f)) => {
                let want_ip = format!("10.0.0.{f}");
                prop_assert_eq!(l.config.resources[0].str("ipname"), Some(want_ip.as_str()));
            }
            (Err(ConfigError::MissingRequired { keyword, .. }), None) => {
                prop_assert_eq!(keyword, "ipname");
            }
            (got, want) => prop_assert!(false, "{:?} for {:?}", got.map(|l| l.config.resources), want),
        }
    }
}
