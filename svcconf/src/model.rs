//! The validated, typed model of a service config and of node.toml.
//!
//! Produced by `crate::load_service` / `crate::load_node`; consumed by the drivers and the
//! engine. Every value here has already been scoped (`kw@node`), reference-expanded
//! (`{svcname}`...), inherited from DEFAULT where the keyword allows it, defaulted from the
//! keyword table and checked against its kind, so accessors do not fail.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Resource families, in start order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    Ip,
    /// `[disk#N] type = loop`: before vgs, which may sit on it.
    Loop,
    Vg,
    Fs,
    Container,
    /// `[app#N]`: started after containers, stopped before them (as OpenSVC).
    App,
    /// `[sync#N] type = rsync`: never started or stopped; run by syncnodes, syncdrp and the
    /// scheduler. Kept in `ServiceConfig::syncs`, not in `resources`.
    Sync,
}

impl Group {
    /// The section prefix users write (`ip#1`, `vg#1`; `disk#1` is parsed as Vg).
    pub fn name(self) -> &'static str {
        match self {
            Group::Ip => "ip",
            Group::Loop => "loop",
            Group::Vg => "vg",
            Group::Fs => "fs",
            Group::Container => "container",
            Group::App => "app",
            Group::Sync => "sync",
        }
    }

    /// Group named by a `--rid` selector or a section prefix (`disk` is an alias of `vg`).
    pub fn from_name(s: &str) -> Option<Group> {
        match s {
            "ip" => Some(Group::Ip),
            "vg" | "disk" => Some(Group::Vg),
            "loop" => Some(Group::Loop),
            "fs" => Some(Group::Fs),
            "container" => Some(Group::Container),
            "app" => Some(Group::App),
            "sync" => Some(Group::Sync),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Orchestrate {
    #[default]
    No,
    Start,
    Ha,
}

/// An allowed period for config pushes, in minutes since midnight. `end < start` spans midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub start: u16,
    pub end: u16,
}

impl TimeWindow {
    pub fn contains(&self, minute_of_day: u16) -> bool {
        if self.start <= self.end {
            (self.start..=self.end).contains(&minute_of_day)
        } else {
            minute_of_day >= self.start || minute_of_day <= self.end
        }
    }

    /// `03:59` style bounds, as printed in "not in allowed period (['03:59', '05:59'])".
    pub fn bounds(&self) -> (String, String) {
        let f = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        (f(self.start), f(self.end))
    }
}

/// A typed keyword value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
    Duration(Duration),
    List(Vec<String>),
    /// A command line split shell-like (never run through a shell).
    Argv(Vec<String>),
    /// A netmask, normalised to a prefix length.
    Prefix(u8),
}

/// One keyword's value and the line it came from (0 when it is a table default).
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub value: Value,
    pub line: usize,
}

/// Keywords every resource has (contract: optional, disable, monitor, restart, tags,
/// standby and the triggers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Common {
    pub optional: bool,
    pub disable: bool,
    pub monitor: bool,
    pub restart: u32,
    pub standby: bool,
    pub tags: Vec<String>,
    pub triggers: Triggers,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Triggers {
    pub pre_start: Option<Trigger>,
    pub post_start: Option<Trigger>,
    pub pre_stop: Option<Trigger>,
    pub post_stop: Option<Trigger>,
}

/// A trigger command; `blocking` when set through the `blocking_` form of the keyword:
/// its failure aborts the action.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub argv: Vec<String>,
    pub blocking: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceConfig {
    /// `ip#1`, `fs#2`, `disk#1` (as written).
    pub rid: String,
    pub group: Group,
    /// The `type` keyword when the group has one (`podman`/`docker` for containers, the fs type
    /// for fs, `vg` for disk).
    pub rtype: Option<String>,
    /// Line of the section header.
    pub line: usize,
    pub common: Common,
    /// Driver keywords by canonical name (aliases resolved).
    pub settings: BTreeMap<String, Setting>,
}

impl ResourceConfig {
    pub fn get(&self, kw: &str) -> Option<&Value> {
        self.settings.get(kw).map(|s| &s.value)
    }

    pub fn str(&self, kw: &str) -> Option<&str> {
        match self.get(kw) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn bool(&self, kw: &str) -> bool {
        matches!(self.get(kw), Some(Value::Bool(true)))
    }

    pub fn int(&self, kw: &str) -> Option<i64> {
        match self.get(kw) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    pub fn duration(&self, kw: &str) -> Option<Duration> {
        match self.get(kw) {
            Some(Value::Duration(d)) => Some(*d),
            _ => None,
        }
    }

    pub fn list(&self, kw: &str) -> &[String] {
        match self.get(kw) {
            Some(Value::List(v)) | Some(Value::Argv(v)) => v,
            _ => &[],
        }
    }

    pub fn prefix(&self, kw: &str) -> Option<u8> {
        match self.get(kw) {
            Some(Value::Prefix(p)) => Some(*p),
            _ => None,
        }
    }

    /// The number after `#` (`fs#2` -> 2); 0 for a named rid (`container#web`): use `id`
    /// for naming and `order` for ordering.
    pub fn index(&self) -> u32 {
        self.id().parse().unwrap_or(0)
    }

    /// The part after `#`, the resource's own identity in its group (`2`, `web`).
    pub fn id(&self) -> &str {
        rid_id(&self.rid)
    }

    /// The resource's place among its group's.
    pub fn order(&self) -> RidOrder {
        RidOrder::of(&self.rid)
    }
}

/// The part after `#` of a rid (`fs#2` -> `2`, `container#web` -> `web`).
pub fn rid_id(rid: &str) -> &str {
    rid.split_once('#').map_or(rid, |(_, id)| id)
}

/// Order of rids within a group: numbered ones by number (`fs#2` before `fs#10`), then named
/// ones by name (`container#db` before `container#web`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RidOrder {
    Number(u64),
    Name(String),
}

impl RidOrder {
    pub fn of(rid: &str) -> RidOrder {
        let id = rid_id(rid);
        match id.parse() {
            Ok(n) if id.bytes().all(|b| b.is_ascii_digit()) => RidOrder::Number(n),
            _ => RidOrder::Name(id.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    pub name: String,
    pub path: PathBuf,
    /// The file's text, for `print config`.
    pub text: String,
    pub nodes: Vec<String>,
    pub drpnodes: Vec<String>,
    pub autostart_node: Option<String>,
    pub orchestrate: Orchestrate,
    pub sync_period: Vec<TimeWindow>,
    /// DEFAULT keywords that are not service-level ones (e.g. `scsireserv`) are inherited by
    /// resources during loading; what remains here is the service-level settings.
    pub defaults: BTreeMap<String, Setting>,
    /// In file order; the engine sorts them into start order.
    pub resources: Vec<ResourceConfig>,
    /// The data syncs (`[sync#N]`), in file order: not part of start, stop or avail.
    pub syncs: Vec<ResourceConfig>,
    /// The `[subset#<group>:<name>]` sections.
    pub subsets: Vec<SubsetConfig>,
}

/// A resource set: `[subset#<group>[.<type>]:<name>]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubsetConfig {
    pub group: Group,
    pub name: String,
    /// Its resources start and stop at once.
    pub parallel: bool,
    pub line: usize,
}

impl ServiceConfig {
    /// `<etc>/<svcname>.d`, where app scripts named by a relative path live (as OpenSVC's).
    pub fn scripts_dir(&self) -> PathBuf {
        let etc = self.path.parent().unwrap_or(std::path::Path::new("."));
        etc.join(format!("{}.d", self.name))
    }

    /// Whether the resource's subset (`subset = <name>`) runs its resources at once.
    pub fn parallel(&self, rc: &ResourceConfig) -> bool {
        rc.str("subset").is_some_and(|name| {
            self.subsets
                .iter()
                .any(|s| s.group == rc.group && s.name == name && s.parallel)
        })
    }

    /// Every resource's rid, the syncs' last, in file order.
    pub fn rids(&self) -> Vec<&str> {
        self.resources
            .iter()
            .chain(&self.syncs)
            .map(|r| r.rid.as_str())
            .collect()
    }

    /// nodes then drpnodes, without duplicates.
    pub fn all_nodes(&self) -> Vec<String> {
        let mut v = self.nodes.clone();
        for n in &self.drpnodes {
            if !v.contains(n) {
                v.push(n.clone());
            }
        }
        v
    }
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct NodeConfig {
    /// Defaulted to the host name by the loader.
    #[serde(default)]
    pub nodename: String,
    #[serde(default)]
    pub prkey: Option<String>,
    #[serde(default)]
    pub cluster: ClusterConfig,
    #[serde(default)]
    pub ssh: SshConfig,
    #[serde(default)]
    pub nodes: BTreeMap<String, PeerConfig>,
    /// The daemon's monitor period, a duration with a unit ("5s"); checked by the loader.
    #[serde(default)]
    pub monitor_interval: Option<String>,
    /// Heartbeat paths (`[[hb]]` tables); checked by the loader.
    #[serde(default)]
    pub hb: Vec<HbConfig>,
    /// How long peers wait for a node whose daemon announced a clean stop (default 60 s).
    #[serde(default)]
    pub maintenance_grace_period: Option<String>,
    /// After a daemon start, how long to wait for every peer before deciding (default 90 s).
    #[serde(default)]
    pub rejoin_grace_period: Option<String>,
    /// How long the node chosen to fail a service over waits, then looks again, before it
    /// starts it (default 1 s).
    #[serde(default)]
    pub ready_period: Option<String>,
}

/// One heartbeat path: `[[hb]]` in node.toml.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct HbConfig {
    #[serde(rename = "type")]
    pub kind: HbKind,
    /// UDP port (unicast; default 10000).
    #[serde(default)]
    pub port: Option<u16>,
    /// Send period, a duration with a unit (default 1s).
    #[serde(default)]
    pub interval: Option<String>,
    /// A path silent that long is stale (default 3s).
    #[serde(default)]
    pub timeout: Option<String>,
    /// Per-node addresses for this path (unicast); default the node's `[nodes.X] addr`.
    #[serde(default)]
    pub addr: BTreeMap<String, String>,
    /// The shared block device (disk).
    #[serde(default)]
    pub dev: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HbKind {
    Unicast,
    Disk,
}

impl HbKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HbKind::Unicast => "unicast",
            HbKind::Disk => "disk",
        }
    }
}

pub const HB_DEFAULT_PORT: u16 = 10000;

impl HbConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(HB_DEFAULT_PORT)
    }
    pub fn interval(&self) -> Duration {
        dur_or(self.interval.as_deref(), Duration::from_secs(1))
    }
    pub fn timeout(&self) -> Duration {
        dur_or(self.timeout.as_deref(), Duration::from_secs(3))
    }
}

fn dur_or(s: Option<&str>, default: Duration) -> Duration {
    s.and_then(crate::values::parse_duration).unwrap_or(default)
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct ClusterConfig {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct SshConfig {
    #[serde(default = "default_ssh_user")]
    pub user: String,
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    #[serde(default)]
    pub identity: Option<PathBuf>,
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
    #[serde(default = "default_true")]
    pub strict_host_key_checking: bool,
    /// The binary run on peers; None: this binary's own absolute path.
    #[serde(default)]
    pub svcmgr: Option<String>,
}

impl Default for SshConfig {
    fn default() -> Self {
        SshConfig {
            user: default_ssh_user(),
            port: default_ssh_port(),
            identity: None,
            known_hosts: None,
            strict_host_key_checking: true,
            svcmgr: None,
        }
    }
}

fn default_ssh_user() -> String {
    "root".into()
}
fn default_ssh_port() -> u16 {
    22
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct PeerConfig {
    #[serde(default)]
    pub addr: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
}

impl NodeConfig {
    /// `monitor_interval`, default 5 s (the loader rejected a bad value).
    pub fn monitor_interval(&self) -> Duration {
        self.monitor_interval
            .as_deref()
            .and_then(crate::values::parse_duration)
            .unwrap_or(Duration::from_secs(5))
    }

    pub fn maintenance_grace_period(&self) -> Duration {
        dur_or(
            self.maintenance_grace_period.as_deref(),
            Duration::from_secs(60),
        )
    }

    pub fn rejoin_grace_period(&self) -> Duration {
        dur_or(self.rejoin_grace_period.as_deref(), Duration::from_secs(90))
    }

    pub fn ready_period(&self) -> Duration {
        dur_or(self.ready_period.as_deref(), Duration::from_secs(1))
    }

    /// The cluster's nodes, sorted: the `[nodes.X]` tables plus this node. A node's index in
    /// this list is its disk heartbeat slot.
    pub fn cluster_nodes(&self) -> Vec<String> {
        let mut v: Vec<String> = self.nodes.keys().cloned().collect();
        if !v.contains(&self.nodename) {
            v.push(self.nodename.clone());
        }
        v.sort();
        v
    }

    /// The address of `node` on heartbeat path `hb`: its `addr.<node>`, else its
    /// `[nodes.X] addr`, else the node name.
    pub fn hb_addr(&self, hb: &HbConfig, node: &str) -> String {
        hb.addr
            .get(node)
            .cloned()
            .or_else(|| self.nodes.get(node).and_then(|p| p.addr.clone()))
            .unwrap_or_else(|| node.to_string())
    }

    /// Address and port to reach a peer over ssh.
    pub fn peer_addr(&self, node: &str) -> (String, u16) {
        let p = self.nodes.get(node);
        let addr = p
            .and_then(|p| p.addr.clone())
            .unwrap_or_else(|| node.to_string());
        let port = p.and_then(|p| p.port).unwrap_or(self.ssh.port);
        (addr, port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rid_order_numbers_then_names() {
        let mut v = vec![
            "fs#web",
            "fs#10",
            "fs#2",
            "fs#db",
            "fs#0",
            "fs#01x",
            "fs#99999999999",
        ];
        v.sort_by_key(|r| RidOrder::of(r));
        assert_eq!(
            v,
            [
                "fs#0",
                "fs#2",
                "fs#10",
                "fs#99999999999",
                "fs#01x",
                "fs#db",
                "fs#web"
            ]
        );
        assert_eq!(rid_id("container#web"), "web");
        assert_eq!(RidOrder::of("ip#1"), RidOrder::Number(1));
    }
}
