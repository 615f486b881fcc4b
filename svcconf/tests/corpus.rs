//! Real OpenSVC service configs (`tests/corpus/`, origins in `tests/corpus/ORIGINS`): each
//! loads, or is refused with the unsupported-kind error listing its unsupported sections.
//! The outcome of each, and what `validate config --partial` says of it, is compared with
//! `tests/corpus/<name>.expect`; `SVCCONF_CORPUS_UPDATE=1` rewrites those files.

// Errors carry their context as fields; the library allows their size the same way.
#![allow(clippy::result_large_err)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use svcconf::{parse_service_at, parse_service_partial_at, ConfigError, Loaded, Site};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus")
}

/// The `*.conf` names (without extension), sorted.
fn configs() -> Vec<String> {
    let dir = corpus_dir();
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("read_dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The site a config is loaded against: a two-node cluster, `node` being this node.
fn site(name: &str, node: &str) -> Site {
    Site {
        svcname: name.into(),
        nodename: node.into(),
        namespace: None,
        clustername: Some("cluster1".into()),
        cluster_nodes: vec!["node1".into(), "node2".into()],
        var: Some("/var/lib/svcmgr".into()),
        private_var: Some(format!("/var/lib/svcmgr/services/{name}").into()),
    }
}

/// The node a config is seen from: the first of its DEFAULT `nodes` when it names one,
/// node1 otherwise (`nodes = *`, a reference, no nodes).
fn node_for(text: &str) -> String {
    let mut in_default = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_default = t == "[DEFAULT]";
            continue;
        }
        if let Some((k, v)) = t.split_once('=') {
            if in_default && k.trim() == "nodes" {
                if let Some(first) = v.split_whitespace().next() {
                    if !first.contains(['{', '*']) {
                        return first.to_string();
                    }
                }
            }
        }
    }
    "node1".into()
}

/// What a load said, by category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Clean,
    Notes,
    Unsupported,
    Other,
}

fn warnings(out: &mut String, l: &Loaded) {
    for w in &l.warnings {
        writeln!(out, "  warning: {w}").unwrap();
    }
}

/// The golden text of one config, and its category.
fn outcome(name: &str) -> (String, Outcome) {
    let path = corpus_dir().join(format!("{name}.conf"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let shown = PathBuf::from(format!("tests/corpus/{name}.conf"));
    let node = node_for(&String::from_utf8_lossy(&bytes));
    let site = site(name, &node);
    let mut out = format!("# {name}.conf seen from {node}\n");
    let kind = match parse_service_at(&bytes, &shown, &site) {
        Ok(l) => {
            let rids = l.config.rids();
            if l.warnings.is_empty() {
                writeln!(out, "load: clean").unwrap();
            } else {
                writeln!(out, "load: with {} warning(s)", l.warnings.len()).unwrap();
                warnings(&mut out, &l);
            }
            writeln!(out, "resources: {}", rids.join(" ")).unwrap();
            if l.warnings.is_empty() {
                Outcome::Clean
            } else {
                Outcome::Notes
            }
        }
        Err(e) => {
            writeln!(out, "load: error: {e}").unwrap();
            let kind = match e {
                ConfigError::Unsupported { .. } => Outcome::Unsupported,
                _ => Outcome::Other,
            };
            match parse_service_partial_at(&bytes, &shown, &site) {
                Ok(p) => {
                    writeln!(out, "partial:").unwrap();
                    for line in p.summary() {
                        writeln!(out, "  {line}").unwrap();
                    }
                    warnings(&mut out, &p.loaded);
                }
                Err(e) => writeln!(out, "partial: error: {e}").unwrap(),
            }
            kind
        }
    };
    (out, kind)
}

/// Configs refused for something else than unsupported kinds, and why that is right.
const REFUSED_AS_WRITTEN: &[(&str, &str)] = &[
    (
        "templates-vip",
        "a template: the ip's name and dev are left blank, to be set at create",
    ),
    (
        "docs-howto-lxc",
        "[default] is not DEFAULT (configparser section names are case-sensitive, in OpenSVC \
         too); a 1.x lxc service besides",
    ),
];

#[test]
fn corpus_configs_load_or_are_refused_as_unsupported() {
    let names = configs();
    assert!(names.len() >= 30, "corpus has {} configs", names.len());
    let origins = std::fs::read_to_string(corpus_dir().join("ORIGINS")).expect("ORIGINS");
    let update = std::env::var_os("SVCCONF_CORPUS_UPDATE").is_some_and(|v| v == "1");
    let (mut mismatched, mut others) = (Vec::new(), Vec::new());
    let mut counts = [0usize; 4];
    for name in &names {
        assert!(
            origins
                .lines()
                .any(|l| l.split_whitespace().next() == Some(&format!("{name}.conf"))),
            "{name}.conf is not in ORIGINS"
        );
        let (text, kind) = outcome(name);
        counts[kind as usize] += 1;
        if kind == Outcome::Other && !REFUSED_AS_WRITTEN.iter().any(|(n, _)| n == name) {
            others.push(text.clone());
        }
        let golden = corpus_dir().join(format!("{name}.expect"));
        if update {
            std::fs::write(&golden, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if want != text {
            mismatched.push(format!(
                "{}:\n--- want\n{want}--- got\n{text}",
                golden.display()
            ));
        }
    }
    eprintln!(
        "corpus: {} configs: {} clean, {} with notes, {} unsupported kinds, {} other",
        names.len(),
        counts[0],
        counts[1],
        counts[2],
        counts[3]
    );
    assert!(
        mismatched.is_empty(),
        "outcomes differ from the golden files (SVCCONF_CORPUS_UPDATE=1 rewrites them):\n{}",
        mismatched.join("\n")
    );
    assert!(
        others.is_empty(),
        "configs failing with something else than unsupported kinds:\n{}",
        others.join("\n")
    );
}
