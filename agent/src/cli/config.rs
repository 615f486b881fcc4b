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
pub fn validate_config(root: &Root, svc: &str) -> anyhow::Result<i32> {
    let s = Service::load_readonly(root, svc)?;
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
