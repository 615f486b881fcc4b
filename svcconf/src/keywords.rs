//! The one keyword table. `validate config`, `print config` and the docs come from it.
//! Adding a keyword is adding one `kw(...)` line to `TABLE`.

use crate::model::Group;

/// Where a keyword may be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The `[DEFAULT]` section (service-level keywords).
    Default,
    /// Every resource section.
    AnyResource,
    /// One resource family.
    Group(Group),
    /// The `[env]` section: user keys only, read through `{env.key}`.
    Env,
    /// A `[subset#<group>:<name>]` section: how a resource set runs.
    Subset,
}

/// How a keyword's text is checked and typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    /// An IPv4 address or a host name.
    Host,
    Bool,
    Int,
    Duration,
    /// Whitespace-separated words.
    List,
    /// A command line, split shell-like.
    Argv,
    /// A prefix length or a dotted netmask, stored as a prefix length.
    Netmask,
    Candidates(&'static [&'static str]),
    /// `HH:MM-HH:MM` windows separated by spaces.
    Windows,
    /// An absolute path.
    AbsPath,
    /// Node names separated by spaces, each once.
    Nodes,
    /// `VAR=value` words, split shell-like.
    EnvList,
    /// `<host path>:<container path>[:<options>]` words, split shell-like.
    Mounts,
    /// A byte count with an optional unit (`512m`, `2GiB`, `100kb`), stored as an Int.
    Size,
    /// `<exit code>:<status>` words (`0:up 1:down 3:n/a`).
    Retcodes,
}

impl Kind {
    /// The "expected ..." part of a bad-value message.
    pub fn expected(&self) -> String {
        match self {
            Kind::Str => "expected a non-empty value".into(),
            Kind::Host => "expected an IPv4 address or a host name".into(),
            Kind::Bool => "expected true or false".into(),
            Kind::Int => "expected an integer".into(),
            Kind::Duration => "expected a duration such as 30s, 5m, 500ms".into(),
            Kind::List => "expected words separated by spaces".into(),
            Kind::Argv => "expected a command line with balanced quotes".into(),
            Kind::Netmask => "expected a prefix length 0-32 or a dotted netmask".into(),
            Kind::Candidates(c) => format!("expected one of {}", c.join(", ")),
            Kind::Windows => "expected HH:MM-HH:MM windows separated by spaces".into(),
            Kind::AbsPath => "expected an absolute path".into(),
            Kind::Nodes => "expected node names separated by spaces, each named once".into(),
            Kind::EnvList => "expected VAR=value words".into(),
            Kind::Size => "expected a size such as 4096, 512k, 64m, 2g".into(),
            Kind::Retcodes => {
                "expected <exit code>:<status> words, status one of up, down, warn, n/a".into()
            }
            Kind::Mounts => {
                "expected <host path>:<container path>[:<options>] words with absolute paths (a relative source is an OpenSVC volume: svcmgr has none)".into()
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyword {
    pub section: Section,
    /// Only for resources whose `type` is this.
    pub rtype: Option<&'static str>,
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub required: bool,
    /// The table default, as text (checked like a user value).
    pub default: Option<&'static str>,
    /// `kw@node`, `kw@nodes`, `kw@drpnodes` forms allowed.
    pub scopable: bool,
    /// A resource keyword that takes the DEFAULT section's value when the resource lacks it.
    pub inherit: bool,
    pub doc: &'static str,
}

impl Keyword {
    pub fn matches(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

/// Table entry builder: the common case (optional, no default, scopable, not inherited).
const fn kw(section: Section, name: &'static str, kind: Kind, doc: &'static str) -> Keyword {
    Keyword {
        section,
        rtype: None,
        name,
        aliases: &[],
        kind,
        required: false,
        default: None,
        scopable: true,
        inherit: false,
        doc,
    }
}

impl Keyword {
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn default(mut self, d: &'static str) -> Self {
        self.default = Some(d);
        self
    }
    const fn aliases(mut self, a: &'static [&'static str]) -> Self {
        self.aliases = a;
        self
    }
    const fn not_scopable(mut self) -> Self {
        self.scopable = false;
        self
    }
    const fn inherit(mut self) -> Self {
        self.inherit = true;
        self
    }
}

use Kind::*;
use Section::{AnyResource as ANY, Default as DEF};
const IP: Section = Section::Group(Group::Ip);
const VG: Section = Section::Group(Group::Vg);
const LOOP: Section = Section::Group(Group::Loop);
const FS: Section = Section::Group(Group::Fs);
const CONTAINER: Section = Section::Group(Group::Container);
const APP: Section = Section::Group(Group::App);
const SYNC: Section = Section::Group(Group::Sync);
const SUBSET: Section = Section::Subset;

pub const ORCHESTRATE: &[&str] = &["no", "start", "ha"];
pub const PR_BACKENDS: &[&str] = &["sg_persist", "mpathpersist"];
/// `oci`: podman or docker, whichever the node has (podman first), as OpenSVC's.
pub const CONTAINER_TYPES: &[&str] = &["oci", "docker", "podman"];
pub const APP_TYPES: &[&str] = &["forking", "simple"];
pub const APP_KILL: &[&str] = &["parent", "tree"];
pub const SYNC_TYPES: &[&str] = &["rsync"];
pub const MONITOR_ACTIONS: &[&str] = &["none", "freezestop", "switch", "reboot", "crash"];

#[rustfmt::skip]
static TABLE: &[Keyword] = &[
    // DEFAULT: the service.
    kw(DEF, "nodes", Nodes, "Failover candidate nodes, in preference order.").not_scopable(),
    kw(DEF, "drpnodes", Nodes, "Disaster-recovery nodes; they get config pushes too.").not_scopable().aliases(&["drpnode"]),
    kw(DEF, "autostart_node", Str, "Node where the daemon starts the service at boot."),
    kw(DEF, "orchestrate", Candidates(ORCHESTRATE), "Daemon orchestration: no, start or ha.").default("no"),
    kw(DEF, "unfenced_failover", Bool, "Let orchestrate=ha start the service on a node whose owner was lost without reservation fencing (scsireserv), when this node's partition holds a strict majority of the cluster's nodes. Default false: without fencing, no automatic failover.").default("false"),
    kw(DEF, "sync_period", Windows, "Allowed windows for config pushes.").default("03:59-05:59"),
    kw(DEF, "app", Str, "Application code, informative."),
    kw(DEF, "id", Str, "OpenSVC's object uuid, informative.").not_scopable(),
    kw(DEF, "env", Str, "The service's environment (PRD, DEV...), informative.").aliases(&["service_type"]),
    kw(DEF, "topology", Candidates(&["failover"]), "failover: one node at a time (flex services are not supported).").default("failover").not_scopable().aliases(&["cluster_type"]),
    kw(DEF, "mode", Str, "OpenSVC 1.x's service mode (hosted, docker, lxc...): deprecated, ignored (OpenSVC 2 reads every service as hosted)."),
    kw(DEF, "comment", Str, "Free text, informative."),
    kw(DEF, "start_timeout", Duration, "Default start timeout of every resource.").inherit(),
    kw(DEF, "stop_timeout", Duration, "Default stop timeout of every resource.").inherit(),
    kw(DEF, "container_data_dir", AbsPath, "The service's own container store, on one of its filesystems: docker's --data-root (private dockerd), podman's --root. Containers keep their id and state across relocations.").aliases(&["docker_data_dir"]),
    kw(DEF, "docker_daemon_private", Bool, "Run a dockerd of the service's own; default: true when container_data_dir is set."),
    kw(DEF, "docker_daemon_args", Argv, "Extra arguments of the private dockerd (e.g. --ip 10.0.0.25); they replace svcmgr's defaults for the same options."),
    kw(DEF, "monitor_action", Candidates(MONITOR_ACTIONS), "What the daemon does when a monitored resource stays down after its restarts: none (log it), freezestop (freeze, stop the service), switch (relocate it to the next node), reboot or crash the node.").default("none"),
    kw(DEF, "sync_schedule", Str, "When the daemon runs syncnodes (OpenSVC schedule syntax, e.g. 04:00-06:00@121, @10m, ~00:00-06:00 sat,sun); the push itself still honours sync_period.").default("04:00-06:00"),
    kw(DEF, "status_schedule", Str, "When the daemon refreshes the status cache (OpenSVC schedule syntax).").default("@10m"),
    kw(DEF, "rollback", Bool, "false: a failed start leaves what it started up, as --disable-rollback.").default("true"),
    kw(DEF, "flex_primary", Str, "OpenSVC's flex topology only: a failover service does not use it (as in OpenSVC)."),
    kw(DEF, "flex_min", Str, "OpenSVC's flex topology only: a failover service does not use it (as in OpenSVC).").aliases(&["flex_min_nodes"]),
    kw(DEF, "flex_max", Str, "OpenSVC's flex topology only: a failover service does not use it (as in OpenSVC).").aliases(&["flex_max_nodes"]),
    kw(DEF, "flex_target", Str, "OpenSVC's flex topology only: a failover service does not use it (as in OpenSVC)."),
    kw(DEF, "dockerd_exe", Str, "The private daemon's binary, looked up on PATH.").default("dockerd"),
    // Every resource.
    kw(ANY, "optional", Bool, "A failure is logged and does not stop the action.").default("false"),
    kw(ANY, "disable", Bool, "The resource is ignored by actions and status; in DEFAULT, every resource (a resource's own value wins).").default("false").inherit(),
    kw(ANY, "monitor", Bool, "The daemon restarts or fails the service over when it goes down.").default("false"),
    kw(ANY, "standby", Bool, "Kept up on every node, even where the service is down.").default("false"),
    kw(ANY, "restart", Int, "Restart attempts by the daemon before failing over.").default("0"),
    kw(ANY, "restart_delay", Duration, "Wait between two restarts of the resource by the daemon.").default("500ms").inherit(),
    kw(ANY, "tags", List, "Words selecting the resource with --tags."),
    kw(ANY, "pre_start", Argv, "Command run before start; its failure is logged."),
    kw(ANY, "post_start", Argv, "Command run after start; its failure is logged."),
    kw(ANY, "pre_stop", Argv, "Command run before stop; its failure is logged."),
    kw(ANY, "post_stop", Argv, "Command run after stop; its failure is logged."),
    kw(ANY, "blocking_pre_start", Argv, "Command run before start; its failure aborts the action."),
    kw(ANY, "blocking_post_start", Argv, "Command run after start; its failure aborts the action."),
    kw(ANY, "blocking_pre_stop", Argv, "Command run before stop; its failure aborts the action."),
    kw(ANY, "blocking_post_stop", Argv, "Command run after stop; its failure aborts the action."),
    kw(ANY, "start_timeout", Duration, "Start timeout of this resource.").inherit(),
    kw(ANY, "stop_timeout", Duration, "Stop timeout of this resource.").inherit(),
    kw(ANY, "comment", Str, "Free text, informative."),
    kw(ANY, "always_on", List, "OpenSVC 1.x: where the resource is kept up even when the service is down: nodes, drpnodes or node names. Deprecated: read as standby on those nodes (standby@drpnodes = true is the 2.x spelling)."),
    kw(ANY, "subset", Str, "The resource set the resource belongs to: within a resource group, resources without a subset act first, then each subset in name order, its resources together (at once when its [subset#<group>:<name>] section sets parallel = true)."),
    kw(SUBSET, "parallel", Bool, "Start and stop the subset's resources at once rather than one after the other.").default("false").not_scopable(),
    kw(ANY, "pre_provision", Argv, "OpenSVC's provision trigger; not run (svcmgr does not provision)."),
    kw(ANY, "post_provision", Argv, "OpenSVC's provision trigger; not run (svcmgr does not provision)."),
    kw(ANY, "pre_unprovision", Argv, "OpenSVC's unprovision trigger; not run (svcmgr does not provision)."),
    kw(ANY, "post_unprovision", Argv, "OpenSVC's unprovision trigger; not run (svcmgr does not provision)."),
    kw(ANY, "shared", Bool, "OpenSVC's provisioning: provision once for all nodes; informative here (svcmgr does not provision).").default("false"),
    // ip
    kw(IP, "ipname", Host, "IPv4 address or host name to plumb.").required().aliases(&["name"]),
    kw(IP, "ipdev", Str, "Interface carrying the address.").required().aliases(&["dev"]),
    kw(IP, "netmask", Netmask, "Prefix length or dotted netmask; default: the interface's."),
    kw(IP, "check_carrier", Bool, "An interface without carrier makes the ip down and refuses its start; false for a bridge or switch port without link.").default("true"),
    kw(IP, "alias", Bool, "Label the address <ipdev>:<n> (ip aliasing); false: no label.").default("true"),
    kw(IP, "gateway", Host, "OpenSVC's zone provisioning gateway; not used by the host ip driver (as in OpenSVC)."),
    // vg ([disk#n] type = vg)
    kw(VG, "type", Candidates(&["vg", "lvm"]), "Disk type; required in [disk#n] sections: vg or lvm (OpenSVC's name), or loop.").not_scopable(),
    kw(VG, "vgname", Str, "LVM volume group name.").required().aliases(&["name"]),
    kw(VG, "pvs", List, "The physical volumes OpenSVC's provision action creates the group on; informative here (svcmgr does not provision)."),
    kw(VG, "scsireserv", Bool, "Hold SCSI-3 persistent reservations on the PVs.").default("false").inherit(),
    kw(VG, "no_preempt_abort", Bool, "Preempt reservations without the abort form.").default("false").inherit(),
    kw(VG, "prkey", Str, "Reservation key; default: the node's prkey.").inherit(),
    kw(VG, "pr_backend", Candidates(PR_BACKENDS), "Reservation tool.").inherit(),
    // loop ([disk#n] type = loop)
    kw(LOOP, "type", Candidates(&["loop"]), "Disk type: loop.").not_scopable(),
    kw(LOOP, "file", AbsPath, "The image file the loop device is attached to.").required(),
    kw(LOOP, "size", Str, "The image size OpenSVC's provision action creates; informative here (svcmgr does not provision)."),
    // fs
    kw(FS, "dev", Str, "Device to mount.").required(),
    kw(FS, "mnt", AbsPath, "Mount point.").required(),
    kw(FS, "type", Str, "Filesystem type (ext4, xfs...); unset: detected with blkid at start."),
    kw(FS, "mnt_opt", Str, "Mount options.").aliases(&["mnt_opts"]),
    kw(FS, "size", Str, "The size of the logical volume OpenSVC's provision action creates; informative here (svcmgr does not provision)."),
    kw(FS, "vg", Str, "The volume group OpenSVC's provision action creates the logical volume in; informative here (svcmgr does not provision)."),
    kw(FS, "mkfs_opt", Str, "The mkfs options of OpenSVC's provision action; informative here (svcmgr does not provision)."),
    // container
    kw(CONTAINER, "type", Candidates(CONTAINER_TYPES), "Container engine: docker, podman, or oci (podman if on PATH, else docker).").default("oci").not_scopable(),
    kw(CONTAINER, "run_image", Str, "Image to run.").required().aliases(&["image"]),
    kw(CONTAINER, "run_args", Argv, "Extra arguments of the engine's run command."),
    kw(CONTAINER, "run_command", Argv, "Command run in the container; default: the image's.").aliases(&["command"]),
    kw(CONTAINER, "name", Str, "Container name; default: <svcname>.container.<id of the rid>."),
    kw(CONTAINER, "entrypoint", Str, "The run command's --entrypoint: the program the command's words are given to."),
    kw(CONTAINER, "hostname", Host, "The run command's --hostname."),
    kw(CONTAINER, "volume_mounts", Mounts, "Host directories mounted in the container: <host path>:<container path>[:<options>] words, each a --volume."),
    kw(CONTAINER, "environment", EnvList, "VAR=value words, each a -e; the names are upper-cased (as OpenSVC)."),
    kw(CONTAINER, "rm", Bool, "Remove the container after stopping it; start then runs a new one.").default("false"),
    kw(CONTAINER, "interactive", Bool, "The run command's --interactive (keep stdin open)."),
    kw(CONTAINER, "tty", Bool, "The run command's --tty."),
    kw(CONTAINER, "netns", Str, "The run command's --net: host, none, a network name, or container#<id> to share that container's network namespace (--net=container:<its name>)."),
    kw(CONTAINER, "pidns", Str, "The run command's --pid: host, or container#<id> to share that container's pid namespace."),
    kw(CONTAINER, "ipcns", Str, "The run command's --ipc: none, private, shareable, host, or container#<id>."),
    kw(CONTAINER, "utsns", Candidates(&["host"]), "host: the run command's --uts=host (the host's hostname)."),
    kw(CONTAINER, "userns", Candidates(&["host"]), "host: the run command's --userns=host."),
    kw(CONTAINER, "privileged", Bool, "The run command's --privileged."),
    kw(CONTAINER, "user", Str, "The run command's --user."),
    // app
    kw(APP, "type", Candidates(APP_TYPES), "forking: the start command daemonizes and returns; simple: the start command is the app, kept running in the background and tracked by its pid.").default("forking").not_scopable(),
    kw(APP, "script", Str, "The launcher run as '<script> start|stop|status|info' where start, stop, check or info is true; a relative path is looked up in <etc>/<svcname>.d/."),
    kw(APP, "start", Argv, "true: run '<script> start'; false: nothing; else the command line run on start (never through a shell). A number is true (OpenSVC 1.x sequence numbers).").default("false"),
    kw(APP, "stop", Argv, "true: run '<script> stop'; false: nothing; else the command line run on stop.").default("false"),
    kw(APP, "check", Argv, "true: run '<script> status'; false: none; else the command line whose exit code gives the status (see retcodes). A simple app without check is up while its process runs.").default("false"),
    kw(APP, "info", Argv, "true: run '<script> info'; else the command line printing key: value lines for print resinfo.").default("false"),
    kw(APP, "timeout", Duration, "Default timeout of the app's start, stop, check and info commands."),
    kw(APP, "check_timeout", Duration, "Timeout of the check command; default: timeout, else 30s."),
    kw(APP, "info_timeout", Duration, "Timeout of the info command; default: timeout, else 30s."),
    kw(APP, "retcodes", Retcodes, "How check's exit codes map to statuses: <code>:<status> words; other codes are warn.").default("0:up 1:down"),
    kw(APP, "status_log", Bool, "Show the check command's output in the status.").default("false"),
    kw(APP, "kill", Candidates(APP_KILL), "On stop of a simple app: tree signals the app's whole process group, parent only its process.").default("tree"),
    kw(APP, "user", Str, "Run the commands as this user (name or uid)."),
    kw(APP, "group", Str, "Run the commands with this group (name or gid); default: the user's."),
    kw(APP, "cwd", AbsPath, "Working directory of the commands; default: /."),
    kw(APP, "umask", Str, "The commands' umask, in octal (022)."),
    kw(APP, "environment", EnvList, "VAR=value words added to the commands' environment; the names are upper-cased (as OpenSVC)."),
    kw(APP, "limit_as", Size, "RLIMIT_AS of the commands (a size: 512m, 2g)."),
    kw(APP, "limit_vmem", Size, "RLIMIT_AS of the commands (OpenSVC's other name for limit_as)."),
    kw(APP, "limit_core", Size, "RLIMIT_CORE (a size)."),
    kw(APP, "limit_cpu", Duration, "RLIMIT_CPU (a duration, whole seconds)."),
    kw(APP, "limit_data", Size, "RLIMIT_DATA (a size)."),
    kw(APP, "limit_fsize", Size, "RLIMIT_FSIZE (a size)."),
    kw(APP, "limit_memlock", Size, "RLIMIT_MEMLOCK (a size)."),
    kw(APP, "limit_nofile", Int, "RLIMIT_NOFILE (open files)."),
    kw(APP, "limit_nproc", Int, "RLIMIT_NPROC (processes)."),
    kw(APP, "limit_rss", Size, "RLIMIT_RSS (a size)."),
    kw(APP, "limit_stack", Size, "RLIMIT_STACK (a size)."),
    kw(SYNC, "type", Candidates(SYNC_TYPES), "The sync driver: rsync over ssh from the node where the service is up (unset: rsync, as in OpenSVC).").default("rsync").not_scopable(),
    kw(SYNC, "src", List, "Files or directories sent, passed to rsync as they are (shell globs expanded; a trailing / matters, see rsync(1)).").required(),
    kw(SYNC, "dst", Str, "Where they go on each target node (a trailing / matters).").required(),
    kw(SYNC, "dstfs", AbsPath, "A mount point that must hold a mounted filesystem on the target node, else the node is not synced (keeps a sync from filling the parent filesystem)."),
    kw(SYNC, "target", List, "Which nodes receive the data from the node where the service is up: nodes, drpnodes or both.").required(),
    kw(SYNC, "options", Argv, "rsync options added to the defaults (-HAXpogDtrlvx --stats --delete --force)."),
    kw(SYNC, "reset_options", Bool, "Use options alone, without the default rsync options.").default("false"),
    kw(SYNC, "bwlimit", Int, "Bandwidth limit of the transfer, in KB/s (rsync --bwlimit)."),
    kw(SYNC, "snap", Bool, "OpenSVC's snapshot of the source before the sync; svcmgr has none: true is refused.").default("false"),
    kw(SYNC, "sync_max_delay", Duration, "A target not synced for longer is late: the sync is down where the service is up.").default("25h"),
    kw(SYNC, "schedule", Str, "Accepted from OpenSVC configs but not used per resource: the daemon runs every sync of the service with its sync task (sync_schedule), syncnodes runs them at once."),
    kw(SYNC, "timeout", Duration, "rsync's I/O timeout (--timeout); a transfer still running one minute past it is killed.").default("1h"),
];

/// Old names still read, each with a one-line note: (written, read as).
pub const DEPRECATED: &[(&str, &str)] = &[
    ("service_type", "env"),
    ("docker_data_dir", "container_data_dir"),
    ("drpnode", "drpnodes"),
    ("cluster_type", "topology"),
    ("flex_min_nodes", "flex_min"),
    ("flex_max_nodes", "flex_max"),
];

/// Keywords read with a one-line note (old ones without a new name, OpenSVC features
/// svcmgr does not have): (written, note).
pub const NOTED: &[(&str, &str)] = &[
    ("pre_provision", "not run: svcmgr does not provision"),
    ("post_provision", "not run: svcmgr does not provision"),
    ("pre_unprovision", "not run: svcmgr does not provision"),
    ("post_unprovision", "not run: svcmgr does not provision"),
    (
        "mode",
        "deprecated keyword, ignored (OpenSVC 2 reads every service as hosted)",
    ),
    (
        "always_on",
        "deprecated keyword, read as standby on the nodes listed (2.x: standby@<nodes> = true)",
    ),
];

/// Every keyword, in table order.
pub fn all() -> &'static [Keyword] {
    TABLE
}

fn rtype_ok(k: &Keyword, rtype: Option<&str>) -> bool {
    k.rtype.is_none() || k.rtype == rtype
}

/// The keywords of a section: for a resource, its group's (those matching `rtype`) then the
/// ones of every resource; for DEFAULT, the service-level ones.
pub fn for_section(
    section: Section,
    rtype: Option<&str>,
) -> impl Iterator<Item = &'static Keyword> + '_ {
    let groups = TABLE
        .iter()
        .filter(move |k| k.section == section && rtype_ok(k, rtype));
    let common = TABLE
        .iter()
        .filter(move |k| matches!(section, Section::Group(_)) && k.section == ANY);
    groups.chain(common)
}

/// The keyword `name` (or alias) in `section`. In DEFAULT, resource keywords are found too
/// (they are inherited or harmless there).
pub fn lookup(section: Section, rtype: Option<&str>, name: &str) -> Option<&'static Keyword> {
    if let Some(k) = for_section(section, rtype).find(|k| k.matches(name)) {
        return Some(k);
    }
    match section {
        Section::Default => TABLE.iter().find(|k| k.section != DEF && k.matches(name)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_resolves_aliases_per_group() {
        assert_eq!(lookup(VG, None, "name").unwrap().name, "vgname");
        assert_eq!(
            lookup(CONTAINER, Some("docker"), "name").unwrap().name,
            "name"
        );
        assert_eq!(lookup(FS, None, "mnt_opts").unwrap().name, "mnt_opt");
        assert_eq!(lookup(IP, None, "tags").unwrap().section, ANY);
        assert!(lookup(IP, None, "mnt").is_none());
        assert!(lookup(DEF, None, "ipname").is_some());
        assert_eq!(lookup(DEF, None, "start_timeout").unwrap().section, DEF);
        assert_eq!(
            lookup(DEF, None, "docker_data_dir").unwrap().name,
            "container_data_dir"
        );
    }

    #[test]
    fn table_defaults_are_valid_values() {
        for k in all() {
            if let Some(d) = k.default {
                assert!(crate::values::convert(k.kind, d).is_ok(), "{}: {d}", k.name);
            }
        }
    }

    #[test]
    fn names_are_unique_per_section() {
        for (i, a) in all().iter().enumerate() {
            for b in &all()[i + 1..] {
                if a.section == b.section && a.rtype == b.rtype {
                    assert!(!b.matches(a.name), "{} twice", a.name);
                    for al in a.aliases {
                        assert!(!b.matches(al), "{al} twice");
                    }
                }
            }
        }
    }
}
