//! `set`, `unset`, `get` and `print config`: keywords by `section.keyword[@scope]`.

use anyhow::Context;
use svcconf::edit::{Doc, Key};

use super::{Cli, Format};
use crate::config_edit;
use crate::exitcode;
use crate::paths::Root;
use crate::service::NoSuchService;

fn kws(cli: &Cli, what: &str) -> anyhow::Result<()> {
    if cli.kw.is_empty() {
        anyhow::bail!("{what} needs at least one --kw");
    }
    Ok(())
}

/// `set --kw KEY=VALUE [--kw ...]`: every assignment or none.
pub fn set(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    kws(cli, "set")?;
    let assignments = cli
        .kw
        .iter()
        .map(|a| Key::parse_assignment(a))
        .collect::<Result<Vec<_>, _>>()?;
    config_edit::edit(root, svc, "set", cli.waitlock(), |doc| {
        for (k, v) in &assignments {
            doc.set(k, v)?;
        }
        Ok(())
    })?;
    Ok(exitcode::OK)
}

/// `unset --kw KEY [--kw ...]`; a key that is not set is said on stderr, not an error.
pub fn unset(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    kws(cli, "unset")?;
    let keys = cli
        .kw
        .iter()
        .map(|k| Key::parse(k))
        .collect::<Result<Vec<_>, _>>()?;
    config_edit::edit(root, svc, "unset", cli.waitlock(), |doc| {
        for k in &keys {
            if !doc.unset(k) {
                eprintln!("{k}: not set");
            }
        }
        Ok(())
    })?;
    Ok(exitcode::OK)
}

fn read(root: &Root, svc: &str) -> anyhow::Result<(std::path::PathBuf, Vec<u8>)> {
    let path = root.service_conf(svc);
    match std::fs::read(&path) {
        Ok(b) => Ok((path, b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(NoSuchService {
            name: svc.to_string(),
            path,
        }
        .into()),
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}

fn doc_of(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<Doc> {
    let text = String::from_utf8_lossy(bytes);
    Ok(Doc::parse(&text, path)?)
}

/// The site a config is evaluated from: this node, or the node of a `@node` scope.
fn site_for(root: &Root, svc: &str, scope_node: Option<&str>) -> anyhow::Result<svcconf::Site> {
    let node = crate::service::load_node(root)?;
    let mut site = crate::service::site(root, svc, &node);
    if let Some(n) = scope_node {
        site.nodename = n.to_string();
    }
    Ok(site)
}

/// `get --kw KEY [--eval]`: the value as written, or (`--eval`) as this node (or the node
/// of a `@node` scope) uses it. Unset: exit 1, nothing on stdout.
pub fn get(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    let [k] = cli.kw.as_slice() else {
        anyhow::bail!("get takes one --kw KEY");
    };
    let key = Key::parse(k)?;
    let (path, bytes) = read(root, svc)?;
    let value = if cli.eval {
        let (base, node) = match key.keyword.split_once('@') {
            Some((_, "nodes" | "drpnodes" | "encapnodes")) => anyhow::bail!(
                "get --eval evaluates for one node: use {}.{}@<nodename>",
                key.section,
                key.keyword.split('@').next().unwrap_or_default()
            ),
            Some((b, n)) => (b, Some(n)),
            None => (key.keyword.as_str(), None),
        };
        let site = site_for(root, svc, node)?;
        svcconf::evaluate_keyword(&bytes, &path, &site, &key.section, base)?
    } else {
        doc_of(&path, &bytes)?.get(&key)
    };
    match value {
        Some(v) => {
            println!("{v}");
            Ok(exitcode::OK)
        }
        None => {
            eprintln!("{key}: not set");
            Ok(exitcode::FAILED)
        }
    }
}

/// One keyword as INI text: continuation lines indented.
fn ini_line(k: &str, v: &str) -> String {
    let mut lines = v.split('\n');
    let first = lines.next().unwrap_or_default();
    let mut s = if first.is_empty() {
        format!("{k} =")
    } else {
        format!("{k} = {first}")
    };
    for l in lines {
        s.push('\n');
        if !l.is_empty() {
            s.push_str("    ");
            s.push_str(l);
        }
    }
    s
}

/// `print config [--eval] [--format json]`: the file as written; `--eval`: each keyword
/// written as this node uses it; json: `{section: {key: value}}` (keys sorted).
pub fn print_config(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    let (path, bytes) = read(root, svc)?;
    let sections: svcconf::Evaluated = if cli.eval {
        svcconf::evaluate_service(&bytes, &path, &site_for(root, svc, None)?)?
    } else if cli.format == Format::Json {
        let doc = doc_of(&path, &bytes)?;
        doc.section_names()
            .into_iter()
            .map(|s| {
                let kvs = doc
                    .keys(&s)
                    .into_iter()
                    .map(|k| {
                        let key = Key {
                            section: s.clone(),
                            keyword: k.clone(),
                        };
                        let v = doc.get(&key).unwrap_or_default();
                        (k, v)
                    })
                    .collect();
                (s, kvs)
            })
            .collect()
    } else {
        return super::config::print_config(root, svc);
    };
    match cli.format {
        Format::Json => {
            let obj: serde_json::Map<String, serde_json::Value> = sections
                .into_iter()
                .map(|(s, kvs)| {
                    let m: serde_json::Map<String, serde_json::Value> = kvs
                        .into_iter()
                        .map(|(k, v)| (k, serde_json::Value::String(v)))
                        .collect();
                    (s, serde_json::Value::Object(m))
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&obj)?);
        }
        Format::Text => {
            let blocks: Vec<String> = sections
                .iter()
                .map(|(s, kvs)| {
                    let mut b = format!("[{s}]\n");
                    for (k, v) in kvs {
                        b.push_str(&ini_line(k, v));
                        b.push('\n');
                    }
                    b
                })
                .collect();
            print!("{}", blocks.join("\n"));
        }
    }
    Ok(exitcode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_lines() {
        assert_eq!(ini_line("a", "1"), "a = 1");
        assert_eq!(ini_line("a", ""), "a =");
        assert_eq!(ini_line("a", "x\ny\n\nz"), "a = x\n    y\n\n    z");
        assert_eq!(ini_line("a", "\nx"), "a =\n    x");
    }
}
