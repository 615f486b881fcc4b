//! The node's SCSI-3 persistent reservation key, and the `<vgrid>pr` resources it keys.
//!
//! The key is `prkey` in node.toml. When absent it is generated once from /dev/urandom and
//! written back, under a lock, so two first runs at the same time agree on one key.

use std::io::Read;

use std::time::Duration;

use anyhow::Context;
use resources::scsireserv::Pr;
use resources::{Driver, Resource};
use svcconf::{Group, NodeConfig, ResourceConfig};

use crate::model::Item;
use crate::paths::Root;

const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The node's key, generated and written to node.toml first when it has none.
pub fn ensure(root: &Root, node: &mut NodeConfig) -> anyhow::Result<String> {
    if let Some(k) = &node.prkey {
        return Ok(k.clone());
    }
    let path = root.node_toml();
    let _lock = crate::lock::acquire(
        &root.var.join("lock").join(".prkey"),
        "prkey generation",
        LOCK_WAIT,
    )?;
    // Another process may have written a key since `node` was loaded.
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    let (fresh, _warnings) = svcconf::parse_node(&text, &path, &node.nodename)?;
    let key = match fresh.prkey {
        Some(k) => k,
        None => {
            let key = svcconf::generate_prkey(random_u64()?);
            crate::paths::write_atomic_mode(
                &path,
                svcconf::node_text_with_prkey(&text, &key).as_bytes(),
                0o600,
            )
            .with_context(|| format!("write the generated prkey {key} to {}", path.display()))?;
            tracing::info!(
                "generated the node's reservation key {key} into {}",
                path.display()
            );
            key
        }
    };
    node.prkey = Some(key.clone());
    Ok(key)
}

fn random_u64() -> anyhow::Result<u64> {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .context("read /dev/urandom")?;
    Ok(u64::from_le_bytes(b))
}

/// The reservation resource guarding `vg` when it has `scsireserv = true`: rid `<vgrid>pr`,
/// the vg's common keywords without its triggers, keyed by the vg's `prkey` or the node's.
///
/// Only actions (`for_action`) generate a missing node key: a read-only action leaves
/// node.toml alone and shows the reservation as keyless.
pub fn reservation_item(
    root: &Root,
    node: &mut NodeConfig,
    vg: &ResourceConfig,
    for_action: bool,
) -> anyhow::Result<Option<Item>> {
    if vg.group != Group::Vg || !vg.bool("scsireserv") {
        return Ok(None);
    }
    let node_key = match (vg.str("prkey"), for_action) {
        (Some(_), _) => None,
        (None, true) => Some(ensure(root, node)?),
        (None, false) => node.prkey.clone(),
    };
    let pr = Pr::new(vg, node_key.as_deref())?;
    let mut rc = vg.clone();
    rc.rid = pr.rid().to_string();
    rc.rtype = Some("scsireserv".into());
    rc.common.triggers = Default::default();
    // The fence is never optional: an optional vg whose reservation fails is not
    // activated (the runner skips it), it does not go on without its fence.
    rc.common.optional = false;
    Ok(Some(Item {
        rc,
        res: Resource::Pr(pr),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::path::PathBuf;

    fn temp_root(name: &str) -> (PathBuf, Root) {
        let d = std::env::temp_dir().join(format!("svcmgr-prkey-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let r = Root::under(&d);
        std::fs::create_dir_all(&r.etc).unwrap();
        (d, r)
    }

    fn load(r: &Root) -> NodeConfig {
        svcconf::load_node(&r.node_toml(), "host").unwrap().0
    }

    #[test]
    fn generated_once_written_back_and_stable() {
        let (d, r) = temp_root("gen");
        let text = "# this node\nnodename = \"n1\"\n[cluster]\nname = \"demo\"\nsecret = \"s\"\n";
        std::fs::write(r.node_toml(), text).unwrap();
        std::fs::set_permissions(r.node_toml(), std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut node = load(&r);
        let key = ensure(&r, &mut node).unwrap();
        assert_eq!(node.prkey.as_deref(), Some(key.as_str()));
        assert!(key.starts_with("0x") && key.len() == 18, "{key}");
        assert_ne!(key, "0x0000000000000000");
        let written = std::fs::read_to_string(r.node_toml()).unwrap();
        assert_eq!(
            written,
            format!("# this node\nnodename = \"n1\"\nprkey = \"{key}\"\n[cluster]\nname = \"demo\"\nsecret = \"s\"\n")
        );
        let mode = std::fs::metadata(r.node_toml())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        // A later run reads it back and does not write again.
        let mut again = load(&r);
        assert_eq!(ensure(&r, &mut again).unwrap(), key);
        assert_eq!(std::fs::read_to_string(r.node_toml()).unwrap(), written);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_existing_key_is_kept() {
        let (d, r) = temp_root("keep");
        std::fs::write(r.node_toml(), "prkey = \"0xAB\"\n").unwrap();
        let mut node = load(&r);
        assert_eq!(ensure(&r, &mut node).unwrap(), "0xAB");
        assert_eq!(
            std::fs::read_to_string(r.node_toml()).unwrap(),
            "prkey = \"0xAB\"\n"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn concurrent_first_runs_agree() {
        let (d, r) = temp_root("race");
        std::fs::write(r.node_toml(), "nodename = \"n1\"\n").unwrap();
        // Every thread loaded the config before any key existed.
        let nodes: Vec<NodeConfig> = (0..8).map(|_| load(&r)).collect();
        let keys: Vec<String> = std::thread::scope(|s| {
            let hs: Vec<_> = nodes
                .into_iter()
                .map(|mut n| {
                    let r = &r;
                    s.spawn(move || ensure(r, &mut n).unwrap())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| k == &keys[0]), "{keys:?}");
        assert_eq!(load(&r).prkey.as_deref(), Some(keys[0].as_str()));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_node_toml_is_created_private() {
        let (d, r) = temp_root("new");
        let mut node = load(&r);
        let key = ensure(&r, &mut node).unwrap();
        assert_eq!(
            std::fs::read_to_string(r.node_toml()).unwrap(),
            format!("prkey = \"{key}\"\n")
        );
        let mode = std::fs::metadata(r.node_toml())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn read_only_loads_write_nothing_and_cannot_act() {
        let (d, r) = temp_root("readonly");
        std::fs::write(r.node_toml(), "nodename = \"n1\"\n").unwrap();
        std::fs::write(
            r.etc.join("web.conf"),
            "[DEFAULT]\nnodes = n1\n\n[vg#1]\nvgname = vga\nscsireserv = true\n",
        )
        .unwrap();
        let s = crate::service::Service::load_readonly(&r, "web").unwrap();
        assert_eq!(
            std::fs::read_to_string(r.node_toml()).unwrap(),
            "nodename = \"n1\"\n",
            "node.toml untouched"
        );
        assert!(!r.var.join("lock").exists(), "no lock taken");
        let pr = &s.items[0];
        assert_eq!(pr.rid(), "vg#1pr");
        assert!(pr.res.driver().label().contains("no key yet"));
        let e = pr.res.driver().start(&s.ctx()).unwrap_err();
        assert!(e.to_string().contains("no reservation key"), "{e}");
        // An action load generates it.
        crate::service::Service::load(&r, "web").unwrap();
        assert!(load(&r).prkey.is_some());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn reservation_items_sort_just_before_their_vg() {
        let (d, r) = temp_root("items");
        std::fs::write(r.node_toml(), "nodename = \"n1\"\n").unwrap();
        std::fs::write(
            r.etc.join("web.conf"),
            "[DEFAULT]\nnodes = n1\nscsireserv = true\n\n[fs#1]\ndev = /dev/x\nmnt = /srv/x\ntype = ext4\n\n\
             [vg#2]\nvgname = vgb\nprkey = 0x00AB\npre_start = /bin/true\n\n[vg#1]\nvgname = vga\n\n\
             [vg#3]\nvgname = vgc\nscsireserv = false\n\n[ip#1]\nipname = 10.0.0.1\nipdev = eth0\n",
        )
        .unwrap();
        let s = crate::service::Service::load(&r, "web").unwrap();
        let rids: Vec<&str> = s.items.iter().map(|it| it.rid()).collect();
        assert_eq!(
            rids,
            ["ip#1", "vg#1pr", "vg#1", "vg#2pr", "vg#2", "vg#3", "fs#1"]
        );
        let node_key = load(&r).prkey.expect("generated into node.toml");
        let labels: Vec<String> = s.items.iter().map(|it| it.res.driver().label()).collect();
        assert_eq!(labels[1], node_key);
        assert_eq!(
            labels[3], "0x00AB",
            "the resource's prkey overrides the node's"
        );
        let pr2 = &s.items[3];
        assert_eq!(pr2.rc.rtype.as_deref(), Some("scsireserv"));
        assert!(pr2.rc.common.triggers.pre_start.is_none());
        assert!(s.items[4].rc.common.triggers.pre_start.is_some());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_bad_resource_key_is_a_load_error() {
        let (d, r) = temp_root("badkey");
        std::fs::write(r.node_toml(), "nodename = \"n1\"\n").unwrap();
        std::fs::write(
            r.etc.join("web.conf"),
            "[DEFAULT]\nnodes = n1\n\n[vg#1]\nvgname = vga\nscsireserv = true\nprkey = 0x0\n",
        )
        .unwrap();
        let e = crate::service::Service::load(&r, "web")
            .err()
            .expect("refused");
        let msg = format!("{e:#}");
        assert!(
            msg.contains("[vg#1]") && msg.contains("bad reservation key '0x0'"),
            "{msg}"
        );
        // The resource had its own key: the node's was not needed, so none was generated.
        assert_eq!(load(&r).prkey, None);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_unparsable_node_toml_is_not_overwritten() {
        let (d, r) = temp_root("bad");
        std::fs::write(r.node_toml(), "nodename = \n").unwrap();
        let mut node = NodeConfig {
            nodename: "n1".into(),
            ..load(&Root::under(Path::new("/nonexistent-svcmgr-root")))
        };
        assert!(ensure(&r, &mut node).is_err());
        assert_eq!(
            std::fs::read_to_string(r.node_toml()).unwrap(),
            "nodename = \n"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
