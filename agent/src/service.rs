//! A loaded service: its config, its drivers in start order, and the status computation.

use std::path::PathBuf;

use anyhow::Context;
use resources::{Ctx, Resource};
use svcconf::{NodeConfig, ServiceConfig};

use crate::model::Item;
use crate::paths::Root;

/// No config for the service on this node: exit code `exitcode::NO_SUCH_SERVICE`.
#[derive(Debug, thiserror::Error)]
#[error("service {name} not found: no {} (nor .env)", path.display())]
pub struct NoSuchService {
    pub name: String,
    pub path: PathBuf,
}

/// This node is not one of the service's nodes: it must not act on it.
#[derive(Debug, thiserror::Error)]
#[error("{why} (in {})", file.display())]
pub struct NotANode {
    pub why: String,
    pub file: PathBuf,
}

#[derive(Debug, PartialEq, Eq)]
enum Membership {
    Listed,
    /// Listed by its short name (`n1` for nodename `n1.example.com`), or the other way round.
    ShortName(String),
    Not(String),
}

/// Whether `nodename` is one of `listed` (nodes + drpnodes): by its exact name, else by a
/// short-name match when exactly one listed name matches.
fn member_name(listed: &[String], nodename: &str) -> Membership {
    if listed.iter().any(|n| n == nodename) {
        return Membership::Listed;
    }
    let short = |n: &str| n.split('.').next().unwrap_or(n).to_string();
    let matches: Vec<&String> = listed
        .iter()
        .filter(|n| short(n) == short(nodename))
        .collect();
    match matches.as_slice() {
        [one] => Membership::ShortName(one.to_string()),
        [] => Membership::Not(format!(
            "this node ({nodename}) is not one of the service's nodes or drpnodes ({}): not \
             acting on it (set nodename in node.toml, or add the node to nodes)",
            listed.join(" ")
        )),
        many => Membership::Not(format!(
            "this node ({nodename}) is not one of the service's nodes or drpnodes, and its \
             short name matches several of them ({}): set nodename in node.toml",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        )),
    }
}

pub struct Service {
    pub name: String,
    pub cfg: ServiceConfig,
    pub node: NodeConfig,
    pub root: Root,
    /// In start order.
    pub items: Vec<Item>,
}

/// The nodename: node.toml's, else the host name.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

pub fn load_node(root: &Root) -> anyhow::Result<NodeConfig> {
    let (node, warnings) = svcconf::load_node(&root.node_toml(), &hostname())?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(node)
}

impl Service {
    /// Load for an action: a missing node reservation key is generated (and written to
    /// node.toml) when a vg has `scsireserv`.
    pub fn load(root: &Root, name: &str) -> anyhow::Result<Service> {
        Self::load_with(root, name, true)
    }

    /// Load for a read-only action: nothing is written, no lock is taken.
    pub fn load_readonly(root: &Root, name: &str) -> anyhow::Result<Service> {
        Self::load_with(root, name, false)
    }

    fn load_with(root: &Root, name: &str, for_action: bool) -> anyhow::Result<Service> {
        let mut node = load_node(root)?;
        let path = existing_conf(root, name)?;
        let mut loaded = svcconf::load_service_at(&path, &site(root, name, &node))?;
        match member_name(&loaded.config.all_nodes(), &node.nodename) {
            Membership::Listed => {}
            Membership::ShortName(listed) => {
                tracing::info!(
                    "nodename {} is {listed} of the service's nodes (matched by its short name)",
                    node.nodename
                );
                node.nodename = listed;
                // Scoped keywords (kw@n1) follow the name the config knows this node by.
                loaded = svcconf::load_service_at(&path, &site(root, name, &node))?;
            }
            Membership::Not(why) if for_action => {
                return Err(NotANode {
                    why,
                    file: path.clone(),
                }
                .into())
            }
            Membership::Not(why) => eprintln!("warning: {why}"),
        }
        for w in &loaded.warnings {
            eprintln!("warning: {w}");
        }
        let cfg = loaded.config;
        let mut items = Vec::new();
        for rc in &cfg.resources {
            let res = Resource::new(&cfg, rc)
                .with_context(|| format!("{}: [{}]", path.display(), rc.rid))?;
            let pr = crate::prkey::reservation_item(root, &mut node, rc, for_action);
            items.extend(pr.with_context(|| format!("{}: [{}]", path.display(), rc.rid))?);
            items.push(Item {
                rc: rc.clone(),
                res,
            });
        }
        items.sort_by_cached_key(|it| it.res.sort_key(&it.rc));
        Ok(Service {
            name: name.to_string(),
            cfg,
            node,
            root: root.clone(),
            items,
        })
    }

    /// The context of a read-only run (status).
    pub fn ctx(&self) -> Ctx {
        let mut ctx = Ctx::new(
            &self.name,
            &self.node.nodename,
            self.root.svc_var(&self.name),
        );
        ctx.cluster_nodes = self.cluster_nodes();
        ctx
    }

    /// The context of an action.
    pub fn ctx_for(&self, opts: &crate::engine::Options) -> Ctx {
        let mut ctx = self.ctx();
        ctx.overrides = opts.overrides;
        ctx.dry_run = opts.dry_run;
        ctx
    }

    /// Every node this node knows of: the service's nodes and drpnodes, node.toml's peers,
    /// and itself.
    pub fn cluster_nodes(&self) -> Vec<String> {
        let mut v = self.cfg.all_nodes();
        for n in self.node.nodes.keys().chain([&self.node.nodename]) {
            if !v.contains(n) {
                v.push(n.clone());
            }
        }
        v
    }

    pub fn frozen_flag(&self) -> PathBuf {
        self.root.svc_var(&self.name).join("frozen")
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen_flag().exists()
    }
}

/// The service's config file, or NoSuchService when it has none.
fn existing_conf(root: &Root, name: &str) -> Result<PathBuf, NoSuchService> {
    let path = root.service_conf(name);
    if !path.exists() {
        return Err(NoSuchService {
            name: name.to_string(),
            path,
        });
    }
    Ok(path)
}

/// `validate config --partial`: the config without its sections of unsupported kinds (a
/// normal load refuses them), each remaining resource's driver built as a load builds it.
pub fn load_partial(root: &Root, name: &str) -> anyhow::Result<svcconf::Partial> {
    let mut node = load_node(root)?;
    let path = existing_conf(root, name)?;
    let bytes = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
    let mut p = svcconf::parse_service_partial_at(&bytes, &path, &site(root, name, &node))?;
    if let Membership::ShortName(listed) = member_name(&p.loaded.config.all_nodes(), &node.nodename)
    {
        // Scoped keywords (kw@n1) follow the name the config knows this node by.
        node.nodename = listed;
        p = svcconf::parse_service_partial_at(&bytes, &path, &site(root, name, &node))?;
    }
    for rc in &p.loaded.config.resources {
        Resource::new(&p.loaded.config, rc)
            .with_context(|| format!("{}: [{}]", path.display(), rc.rid))?;
    }
    Ok(p)
}

/// What the config's references and `nodes = *` see: node.toml's cluster and this root.
pub(crate) fn site(root: &Root, name: &str, node: &NodeConfig) -> svcconf::Site {
    let mut cluster_nodes: Vec<String> = node.nodes.keys().cloned().collect();
    if !cluster_nodes.contains(&node.nodename) {
        cluster_nodes.push(node.nodename.clone());
    }
    cluster_nodes.sort();
    svcconf::Site {
        svcname: name.to_string(),
        nodename: node.nodename.clone(),
        namespace: None,
        clustername: node.cluster.name.clone(),
        cluster_nodes,
        var: Some(root.var.clone()),
        private_var: Some(root.svc_var(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn membership_exact_short_and_refused() {
        assert_eq!(member_name(&v(&["n1", "n2"]), "n1"), Membership::Listed);
        assert_eq!(
            member_name(&v(&["n1", "n2"]), "n1.example.com"),
            Membership::ShortName("n1".into())
        );
        assert_eq!(
            member_name(&v(&["n1.example.com", "n2"]), "n1"),
            Membership::ShortName("n1.example.com".into())
        );
        let Membership::Not(why) = member_name(&v(&["n1", "n2"]), "n3") else {
            panic!("n3 accepted")
        };
        assert_eq!(
            why,
            "this node (n3) is not one of the service's nodes or drpnodes (n1 n2): not acting \
             on it (set nodename in node.toml, or add the node to nodes)"
        );
        let Membership::Not(why) = member_name(&v(&["n1.a", "n1.b"]), "n1.c") else {
            panic!("ambiguous accepted")
        };
        assert!(why.contains("matches several of them (n1.a n1.b)"), "{why}");
    }
}
