//! `print config`, `validate config`, `install`.

use anyhow::Context;

use crate::exitcode;
use crate::paths::Root;
use crate::service::Service;

pub fn print_config(root: &Root, svc: &str) -> anyhow::Result<i32> {
    let s = Service::load_readonly(root, svc)?;
    print!("{}", s.cfg.text);
    Ok(exitcode::OK)
}

/// Load the config and build every driver; warnings go to stderr, the first error fails.
/// `partial`: what would load without the sections of unsupported kinds.
pub fn validate_config(root: &Root, svc: &str, partial: bool) -> anyhow::Result<i32> {
    if partial {
        return validate_partial(root, svc);
    }
    let s = match Service::load_readonly(root, svc) {
        Ok(s) => s,
        Err(e) => {
            if matches!(
                e.downcast_ref::<svcconf::ConfigError>(),
                Some(
                    svcconf::ConfigError::Unsupported { .. }
                        | svcconf::ConfigError::UnsupportedReference { .. }
                )
            ) {
                // The error as every command prints it, then what to do about it.
                eprintln!("svcmgr: error: {}", crate::engine::error_chain(e.as_ref()));
                eprintln!(
                    "hint: svcmgr -s {svc} validate config --partial says what would load \
                     without them"
                );
                return Ok(exitcode::FAILED);
            }
            return Err(e);
        }
    };
    println!(
        "{}: valid, {} resource(s)",
        root.service_conf(svc).display(),
        s.items.len()
    );
    // What the file can not say: whether this host's LVM enforces the VGs' host tags.
    let ctx = s.ctx();
    for it in &s.items {
        if let resources::Resource::Vg(vg) = &it.res {
            if let Some(p) = vg.protection_problem(&ctx) {
                println!("warning: {}: {p}", it.rid());
            }
        }
    }
    Ok(exitcode::OK)
}

/// The sections of unsupported kinds left out, then the resources that would load; exit 0
/// when the rest is valid.
fn validate_partial(root: &Root, svc: &str) -> anyhow::Result<i32> {
    let p = crate::service::load_partial(root, svc)?;
    for w in &p.loaded.warnings {
        eprintln!("warning: {w}");
    }
    let c = &p.loaded.config;
    let n = c.resources.len() + c.syncs.len();
    let file = root.service_conf(svc);
    if p.skipped.is_empty() && p.dependents.is_empty() {
        println!("{}: valid, {n} resource(s)", file.display());
    } else {
        println!(
            "{}: valid without what svcmgr does not implement ({} left out), {n} \
             resource(s); a normal load refuses it",
            file.display(),
            p.skipped.len() + p.dependents.len()
        );
    }
    for line in p.summary() {
        println!("{line}");
    }
    Ok(exitcode::OK)
}

/// `<root>/etc/<svc>` -> this binary, so `<svc> ACTION` works.
pub fn install(root: &Root, svc: &str) -> anyhow::Result<i32> {
    let exe = std::env::current_exe().context("locate the svcmgr binary")?;
    let link = root.etc.join(svc);
    std::fs::create_dir_all(&root.etc).with_context(|| format!("create {}", root.etc.display()))?;
    match std::fs::read_link(&link) {
        Ok(target) if target == exe => {
            println!("{} already points to {}", link.display(), exe.display());
            return Ok(exitcode::OK);
        }
        Ok(_) => {
            std::fs::remove_file(&link).with_context(|| format!("replace {}", link.display()))?
        }
        Err(_) if link.exists() => {
            anyhow::bail!(
                "{} exists and is not a symlink: not replacing it",
                link.display()
            )
        }
        Err(_) => {}
    }
    std::os::unix::fs::symlink(&exe, &link)
        .with_context(|| format!("create {} -> {}", link.display(), exe.display()))?;
    println!("{} -> {}", link.display(), exe.display());
    Ok(exitcode::OK)
}
