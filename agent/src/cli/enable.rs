//! `enable` / `disable` [--rid R]: the `disable` keyword, set through the config editor. A
//! disabled resource is skipped by actions and shown n/a with the `D` flag.
//!
//! `disable` alone sets it in DEFAULT (every resource inherits it); `enable` alone removes
//! it everywhere. With `--rid` (rids or groups), only those sections: `enable --rid` on a
//! service disabled in DEFAULT writes `disable = false` in the section, since removing the
//! section's own value would leave it disabled.

use svcconf::edit::{Doc, Key};

use super::Cli;
use crate::config_edit;
use crate::exitcode;
use crate::paths::Root;

/// The sections `--rid` names: a section name, or a group (`fs`: every `fs#...`).
fn targets(doc: &Doc, rids: &[String]) -> anyhow::Result<Vec<String>> {
    let names = doc.section_names();
    let mut out: Vec<String> = Vec::new();
    for r in rids {
        let found: Vec<&String> = names
            .iter()
            .filter(|n| *n == r || n.split_once('#').is_some_and(|(g, _)| g == r))
            .filter(|n| n.contains('#'))
            .collect();
        if found.is_empty() {
            anyhow::bail!("no resource section matches --rid {r}");
        }
        for f in found {
            if !out.contains(f) {
                out.push(f.clone());
            }
        }
    }
    Ok(out)
}

fn key(section: &str) -> Key {
    Key {
        section: section.to_string(),
        keyword: "disable".to_string(),
    }
}

fn default_disabled(doc: &Doc) -> bool {
    doc.get(&key("DEFAULT"))
        .and_then(|v| svcconf::parse_bool(&v))
        .unwrap_or(false)
}

/// The change, as a pure function of the document (tested below).
fn apply(doc: &mut Doc, rids: &[String], disable: bool) -> anyhow::Result<()> {
    if rids.is_empty() {
        if disable {
            doc.set(&key("DEFAULT"), "true")?;
        } else {
            for s in doc.section_names() {
                doc.unset(&key(&s));
            }
        }
        return Ok(());
    }
    let sections = targets(doc, rids)?;
    let inherited = default_disabled(doc);
    for s in sections {
        match (disable, inherited) {
            (true, _) => doc.set(&key(&s), "true")?,
            (false, true) => doc.set(&key(&s), "false")?,
            (false, false) => {
                doc.unset(&key(&s));
            }
        }
    }
    Ok(())
}

pub fn run(root: &Root, svc: &str, cli: &Cli, disable: bool) -> anyhow::Result<i32> {
    let intent = if disable { "disable" } else { "enable" };
    config_edit::edit(root, svc, intent, cli.waitlock(), |doc| {
        apply(doc, &cli.rid, disable)
    })?;
    Ok(exitcode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const CONF: &str = "[DEFAULT]\nnodes = n1\n\n[ip#1]\nipname = a\n\n[fs#1]\nmnt = /a\n\n[fs#2]\nmnt = /b\ndisable = true\n";

    #[test]
    fn what_each_form_writes() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: &[(&str, &[&str], bool, &str)] = &[
            (CONF, &["ip#1"], true, "[DEFAULT]\nnodes = n1\n\n[ip#1]\nipname = a\ndisable = true\n\n[fs#1]\nmnt = /a\n\n[fs#2]\nmnt = /b\ndisable = true\n"),
            (CONF, &["fs"], true, "[DEFAULT]\nnodes = n1\n\n[ip#1]\nipname = a\n\n[fs#1]\nmnt = /a\ndisable = true\n\n[fs#2]\nmnt = /b\ndisable = true\n"),
            (CONF, &[], true, "[DEFAULT]\nnodes = n1\ndisable = true\n\n[ip#1]\nipname = a\n\n[fs#1]\nmnt = /a\n\n[fs#2]\nmnt = /b\ndisable = true\n"),
            (CONF, &["fs#2"], false, "[DEFAULT]\nnodes = n1\n\n[ip#1]\nipname = a\n\n[fs#1]\nmnt = /a\n\n[fs#2]\nmnt = /b\n"),
            ("[DEFAULT]\ndisable = yes\n[ip#1]\nipname = a\n", &["ip#1"], false, "[DEFAULT]\ndisable = yes\n[ip#1]\nipname = a\ndisable = false\n"),
            ("[DEFAULT]\ndisable = true\n[ip#1]\nipname = a\ndisable = true\n", &[], false, "[DEFAULT]\n[ip#1]\nipname = a\n"),
        ];
        for (input, rids, disable, want) in cases {
            let mut d = Doc::parse(input, Path::new("t.conf")).unwrap();
            apply(&mut d, &v(rids), *disable).unwrap();
            assert_eq!(d.text(), *want, "{rids:?} disable={disable}");
        }
        let mut d = Doc::parse(CONF, Path::new("t.conf")).unwrap();
        let e = apply(&mut d, &v(&["container"]), true).unwrap_err();
        assert_eq!(e.to_string(), "no resource section matches --rid container");
        let e = apply(&mut d, &v(&["DEFAULT"]), true).unwrap_err();
        assert_eq!(e.to_string(), "no resource section matches --rid DEFAULT");
    }
}
