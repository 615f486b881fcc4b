//! `create` (from `--kw`, or `--config FILE|-`) and `delete` (the service, or `--rid`
//! sections), validated as `set` validates a change.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use svcconf::edit::{Doc, Key};

use super::Cli;
use crate::config_edit;
use crate::exitcode;
use crate::paths::{write_atomic, Root};
use crate::peers;
use crate::service::Service;

/// The config text `create` starts from, and the name its errors use for it.
fn source(cli: &Cli, target: &Path) -> anyhow::Result<(String, PathBuf)> {
    match cli.config.as_deref() {
        None => Ok(("[DEFAULT]\n".to_string(), target.to_path_buf())),
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("read the config from stdin")?;
            Ok((s, target.to_path_buf()))
        }
        Some(f) => {
            let s = std::fs::read_to_string(f).with_context(|| format!("read {f}"))?;
            Ok((s, PathBuf::from(f)))
        }
    }
}

pub fn create(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    let assignments = cli
        .kw
        .iter()
        .map(|a| Key::parse_assignment(a))
        .collect::<Result<Vec<_>, _>>()?;
    let _lock = crate::lock::acquire_private(&root.lock(svc), "create", cli.waitlock())?;
    let path = root.service_conf(svc);
    if path.exists() {
        anyhow::bail!(
            "service {svc} already exists ({}): change it with set or edit config",
            path.display()
        );
    }
    let (text, named) = source(cli, &path)?;
    let mut doc = Doc::parse(&text, &named)?;
    for (k, v) in &assignments {
        doc.set(k, v)?;
    }
    let nodes = Key::parse("nodes").expect("a valid key");
    if cli.config.is_none() && doc.get(&nodes).is_none() {
        // What loading assumes anyway, written down so peers read the same.
        let node = crate::service::load_node(root)?;
        doc.set(&nodes, &node.nodename)?;
    }
    let new = doc.text();
    for w in config_edit::check_change(root, svc, &named, None, new.as_bytes())? {
        eprintln!("warning: {w}");
    }
    write_atomic(&path, new.as_bytes()).with_context(|| format!("write {}", path.display()))?;
    println!("created {}", path.display());
    Ok(exitcode::OK)
}

/// Refuse when the service runs here, or on a peer that says so (peers that can not be
/// asked are warned about: they can not tell).
fn check_down(s: &Service, cli: &Cli) -> anyhow::Result<()> {
    let st = s.status(&s.ctx());
    if peers::is_running(st.avail) {
        anyhow::bail!(
            "service {} is {} here: stop it before deleting it (--force deletes it anyway)",
            s.name,
            st.avail
        );
    }
    if cli.local {
        return Ok(());
    }
    let v = peers::check_others(s, &[]);
    if !v.up.is_empty() {
        anyhow::bail!(
            "service {} is up on {}: stop it there before deleting it (or delete with \
             --local to remove only this node's config)",
            s.name,
            v.up.join(", ")
        );
    }
    for (n, why) in &v.unknown {
        eprintln!(
            "warning: can not tell whether service {} runs on {n}: {why}",
            s.name
        );
    }
    Ok(())
}

pub fn delete(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    if !cli.rid.is_empty() {
        return delete_sections(root, svc, cli);
    }
    let _lock = crate::lock::acquire_private(&root.lock(svc), "delete", cli.waitlock())?;
    if !cli.force {
        let s = Service::load_readonly(root, svc).context(
            "can not load the service to check that it is down (--force deletes it anyway)",
        )?;
        check_down(&s, cli)?;
    }
    let path = root.service_conf(svc);
    std::fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?;
    let link = root.etc.join(svc);
    if link
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        std::fs::remove_file(&link).with_context(|| format!("remove {}", link.display()))?;
    }
    let var = root.svc_var(svc);
    if var.exists() {
        std::fs::remove_dir_all(&var).with_context(|| format!("remove {}", var.display()))?;
    }
    println!("deleted {}", path.display());
    Ok(exitcode::OK)
}

/// `delete --rid`: the sections named, each down here (a resource left running would no
/// longer be managed).
fn delete_sections(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    if let Some(r) = cli.rid.iter().find(|r| *r == "DEFAULT") {
        anyhow::bail!("[{r}] can not be deleted: unset its keywords instead");
    }
    config_edit::edit(root, svc, "delete", cli.waitlock(), |doc| {
        let names = doc.section_names();
        if let Some(r) = cli.rid.iter().find(|r| !names.contains(r)) {
            anyhow::bail!(
                "no section [{r}] in the config (delete --rid takes section names: {})",
                names.join(", ")
            );
        }
        if !cli.force {
            let s = Service::load_readonly(root, svc)?;
            let st = s.status(&s.ctx());
            let up: Vec<String> = st
                .resources
                .iter()
                .filter(|e| cli.rid.contains(&e.rid) && peers::is_running(e.status))
                .map(|e| format!("{} is {}", e.rid, e.status))
                .collect();
            if !up.is_empty() {
                anyhow::bail!(
                    "{}: stop it before deleting its section (--force deletes it anyway)",
                    up.join(", ")
                );
            }
        }
        for r in &cli.rid {
            doc.remove_section(r);
        }
        Ok(())
    })?;
    Ok(exitcode::OK)
}
