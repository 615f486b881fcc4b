//! Command line: `svcmgr -s SVC ACTION [OPTIONS]`, action words may be split
//! (`print status` == `print_status`), and a symlink named after a service runs
//! `svcmgr -s <name>`.

mod actions_doc;
mod boot;
mod completion;
mod config;
mod create;
mod daemon;
mod edit;
mod enable;
mod engine_cli;
mod kw;
mod lifecycle;
mod logs;
mod manpage;
mod pr;
mod state;
mod status;
mod sync;
mod target;
mod words;

use std::path::Path;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use resources::{Override, Overrides};
use svcconf::Group;

use crate::engine::Selection;
use crate::exitcode;
use crate::paths::Root;
use crate::relocate::{self, Relocation};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Parser)]
#[command(
    name = "svcmgr",
    version,
    about = "Cluster failover agent: keeps each service running on exactly one node",
    after_help = ACTIONS_HELP
)]
pub struct Cli {
    /// The service to act on.
    #[arg(short = 's', long = "service", value_name = "SVC")]
    pub svc: Option<String>,
    /// Act on these resources only: rids (ip#1) or groups (fs), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub rid: Vec<String>,
    /// Act on resources carrying any of these tags, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Every override below at once (each check it overrides logs one line).
    #[arg(long)]
    pub force: bool,
    /// Start although another node runs the service or cannot be asked.
    #[arg(long)]
    pub ignore_peers: bool,
    /// Take SCSI reservations held by other keys (preempt and abort) and remove other
    /// keys' registrations.
    #[arg(long)]
    pub preempt: bool,
    /// Remove other cluster nodes' LVM host tags from the volume groups.
    #[arg(long)]
    pub steal_tags: bool,
    /// Stop standby resources too.
    #[arg(long)]
    pub stop_standby: bool,
    /// Push the config outside sync_period, or from a node where the service is not up.
    #[arg(long)]
    pub sync_anyway: bool,
    /// Seconds to wait for the service lock.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub waitlock: u64,
    /// Log what would be done, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Leave what a failed start started up.
    #[arg(long)]
    pub disable_rollback: bool,
    /// Do not contact other nodes.
    #[arg(long)]
    pub local: bool,
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// `mon`: redraw on every event of the daemon.
    #[arg(long)]
    pub watch: bool,
    /// switch, takeover, giveback through the daemons: return once the move is done.
    #[arg(long)]
    pub wait: bool,
    /// `set`/`unset`/`get`: a keyword, `section.keyword[@node]=value` (a bare keyword is
    /// in DEFAULT); repeatable.
    #[arg(long, value_name = "KEY[=VALUE]")]
    pub kw: Vec<String>,
    /// `get`, `print config`: values as this node uses them (scoping, references, defaults).
    #[arg(long)]
    pub eval: bool,
    /// `validate config`: report what would load without the sections of kinds svcmgr does
    /// not implement (a normal load refuses them); exit 0 when the rest is valid.
    #[arg(long)]
    pub partial: bool,
    /// `create`: the config to start from, a file or `-` for stdin.
    #[arg(long, value_name = "FILE|-")]
    pub config: Option<String>,
    /// `logs`: print what is appended, until interrupted.
    #[arg(long)]
    pub follow: bool,
    /// `logs`: records since a date, a time today or a duration ago (2026-12-03 08:00,
    /// 08:00, 10m).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// `logs`: this level and above (error, warning, info, debug).
    #[arg(long, value_name = "L")]
    pub level: Option<String>,
    /// Destination node of `switch`.
    #[arg(long, value_name = "NODE")]
    pub to: Option<String>,
    /// `print status`: evaluate the status now, here, rather than ask the daemon.
    #[arg(short = 'r', long)]
    pub refresh: bool,
    /// The action, e.g. `print status`, `start`, `stop`. None: the service list.
    #[arg(value_name = "ACTION")]
    pub words: Vec<String>,
}

const ACTIONS_HELP: &str = "\
Actions:
  print status [-r] [--format json]
                                 status tree of the service (no -s: one line per service);
                                 -r: evaluated here and now, not asked to the daemon
  status                         exit code = status: 0 up, 1 down, 2 warn, 3 n/a, 5 undef, 6 stdby up, 7 stdby down
  print config [--eval] [--format json] | validate config [--partial]
  set --kw KEY=VALUE [--kw ...]  change keywords (KEY: section.keyword[@node], bare keyword: DEFAULT),
                                 validated first, written atomically under the service lock
  unset --kw KEY [--kw ...]      remove keywords
  get --kw KEY [--eval]          a keyword's value as written, or as this node uses it
  edit config                    $VISUAL/$EDITOR on a copy, installed only when it validates
  enable | disable [--rid R]     the disable keyword: a disabled resource is skipped by actions, shown n/a
                                 with the D flag; no --rid: the whole service (DEFAULT)
  create [--kw ...] [--config FILE|-]
                                 a new service from keywords and/or a config file (validated)
  delete [--rid R,...]           the service's config and state here (refused while it runs here
                                 or on a peer that says so), or only the sections named
  print schedule                 the daemon's tasks of the service: schedule, last run, next run, last result
  start | stop | restart         all resources, in order (ip, vg, fs, container) / reverse
  startstandby                   the standby resources only (no peer is asked)
  startip | stopip | startvg | stopvg | startdisk | stopdisk | startfs | stopfs
  startcontainer | stopcontainer
  freeze | thaw                  stop / allow the daemon's orchestration of the service
  install                        create the symlink <root>/etc/<svc> -> svcmgr
  syncnodes [--sync-anyway]      push the service config to the other nodes (within sync_period);
                                 also: sync nodes, sync all (syncall); sync drp (syncdrp): drpnodes only
  postsync                       receive a config push on stdin (run by syncnodes on peers)
  switch --to NODE               stop here, start on NODE; restart here if that fails
  takeover | giveback            move the service here / back to the first of its nodes
  prstart | prstop | prstatus    the SCSI-3 reservations (vg#Npr) alone; prstatus exits with their status code
  boot                           at host boot: deactivate the volume groups LVM autoactivated, release reservations
                                 (no -s: every service; skipped for a service with resources up here)
  docker ARGS | podman ARGS      the engine's CLI on the service's container store (container_data_dir)
  ls                             list services
  logs [--follow] [--since T] [--rid R] [--level L] [--format json]
                                 the service's log (no -s: the node's log)
  daemon run|start|stop|restart|status|running
                                 the per-host daemon (monitor, local API); see README
  mon [--watch]                  the daemon, this node and every service on one screen
  completion bash|zsh|fish       the shell's completion script (services, rids, actions)

Overrides (each refusal names the one that passes it; --force sets them all):
  --ignore-peers   start although another node runs the service or cannot be asked
  --preempt        take SCSI reservations held by other keys, remove their registrations
  --steal-tags     remove other cluster nodes' LVM host tags from the volume groups
  --stop-standby   stop standby resources too
  --sync-anyway    push the config outside sync_period or from a node not running it";

/// Argument vector with the symlink dispatch applied.
pub fn args_from_argv0(argv: Vec<String>) -> Vec<String> {
    let name = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.is_empty() || name == "svcmgr" {
        return engine_cli::shield(argv);
    }
    let mut v = vec!["svcmgr".to_string(), "-s".into(), name];
    v.extend(argv.into_iter().skip(1));
    engine_cli::shield(v)
}

impl Cli {
    pub fn overrides(&self) -> Overrides {
        if self.force {
            return Overrides::force();
        }
        [
            (self.ignore_peers, Override::IgnorePeers),
            (self.preempt, Override::Preempt),
            (self.steal_tags, Override::StealTags),
            (self.stop_standby, Override::StopStandby),
            (self.sync_anyway, Override::SyncAnyway),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .fold(Overrides::default(), |ov, (_, o)| ov.with(o))
    }

    pub fn selection(&self, group: Option<Group>) -> Selection {
        Selection {
            rids: self.rid.clone(),
            tags: self.tags.clone(),
            group,
            standby_only: false,
        }
    }

    pub fn waitlock(&self) -> Duration {
        Duration::from_secs(self.waitlock)
    }

    fn relocation(&self, svc: &str) -> anyhow::Result<Relocation> {
        if self.dry_run {
            // Half of a relocation runs on another node: a dry run could not be honest.
            anyhow::bail!("--dry-run is not supported by switch, takeover and giveback");
        }
        Ok(Relocation {
            svc: svc.to_string(),
            overrides: self.overrides(),
            disable_rollback: self.disable_rollback,
            waitlock: self.waitlock(),
            color: status::use_color(self.color),
        })
    }
}

/// The binary's entry: parse, set up logging, dispatch, map errors to exit codes.
pub fn main() -> i32 {
    completion::answer_if_asked();
    let args = args_from_argv0(std::env::args().collect());
    let cli = Cli::parse_from(args);
    if acts(&cli.words) {
        crate::interrupt::handle();
    }
    crate::logging::init(&Root::from_env());
    let result = run(cli);
    if let Some(code) = crate::interrupt::exit_code() {
        return code;
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("svcmgr: error: {}", crate::engine::error_chain(e.as_ref()));
            if e.downcast_ref::<crate::service::NoSuchService>().is_some() {
                exitcode::NO_SUCH_SERVICE
            } else {
                exitcode::FAILED
            }
        }
    }
}

/// Actions that change nothing: no reason to tell the daemon.
const READ_ONLY: &[&str] = &[
    "",
    "print_status",
    "status",
    "print_config",
    "print_schedule",
    "print_decision",
    "validate_config",
    "get",
    "prstatus",
    "ls",
    "mon",
    "logs",
    "man",
];

pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let action = words::canonical(&cli.words.join("_")).to_string();
    let svc = cli.svc.clone();
    let r = dispatch(cli);
    // The daemon re-evaluates at once what an action changed, rather than at its next
    // monitor pass: peers learn a service started here before this node can die with it.
    if let Some(svc) = svc.filter(|_| {
        !READ_ONLY.contains(&action.as_str())
            && !action.starts_with("daemon")
            && !action.starts_with("completion")
    }) {
        let root = Root::from_env();
        if crate::daemon::pidlock::holder(&root).is_some() {
            let path = format!("/services/{svc}/refresh");
            let _ = crate::daemon::api::client::request(
                &root,
                "POST",
                &path,
                std::time::Duration::from_secs(2),
            );
        }
    }
    r
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let typed = cli.words.join("_");
    let action = words::canonical(&typed).to_string();
    let root = Root::from_env();
    let needs_svc = |what: &str| -> anyhow::Result<String> {
        let svc = cli
            .svc
            .clone()
            .ok_or_else(|| anyhow::anyhow!("{what} needs a service: svcmgr -s SVC {what}"))?;
        check_service_name(&svc)?;
        Ok(svc)
    };
    if let Some(rt) = engine_cli::engine(&cli.words) {
        let svc = needs_svc(&cli.words[0])?;
        return engine_cli::run(&root, &svc, rt, &cli.words[1..], &cli);
    }
    match action.as_str() {
        "" if cli.svc.is_none() => {
            let code = status::ls(&root, &cli)?;
            eprintln!(
                "hint: svcmgr -s SVC print status for a service's resources; svcmgr --help \
                 lists the actions"
            );
            Ok(code)
        }
        "" => {
            eprintln!(
                "svcmgr: -s {} needs an action, e.g. print status (svcmgr --help lists them)",
                cli.svc.as_deref().unwrap_or_default()
            );
            Ok(exitcode::USAGE)
        }
        a if a == "daemon" || a.starts_with("daemon_") => daemon::run(&root, &cli),
        "mon" => daemon::mon(&root, &cli),
        a if a == "completion" || a.starts_with("completion_") => {
            completion::print_script(&cli.words)
        }
        "man" => manpage::print(),
        "logs" => {
            if let Some(svc) = &cli.svc {
                check_service_name(svc)?;
            }
            logs::logs(&root, cli.svc.as_deref(), &cli)
        }
        "ls" => status::ls(&root, &cli),
        "print_status" if cli.svc.is_none() => status::ls(&root, &cli),
        "print_status" => status::print_status(&root, &needs_svc(&action)?, &cli),
        "status" => status::status_code(&root, &needs_svc(&action)?),
        "print_schedule" => daemon::print_schedule(&root, &needs_svc(&action)?, &cli),
        "print_decision" => daemon::print_decision(&root, &needs_svc(&action)?, &cli),
        "print_config" => kw::print_config(&root, &needs_svc(&action)?, &cli),
        "create" => create::create(&root, &needs_svc(&action)?, &cli),
        "delete" => create::delete(&root, &needs_svc(&action)?, &cli),
        "enable" => enable::run(&root, &needs_svc(&action)?, &cli, false),
        "disable" => enable::run(&root, &needs_svc(&action)?, &cli, true),
        "edit_config" => edit::edit_config(&root, &needs_svc(&action)?, &cli),
        "set" => kw::set(&root, &needs_svc(&action)?, &cli),
        "unset" => kw::unset(&root, &needs_svc(&action)?, &cli),
        "get" => kw::get(&root, &needs_svc(&action)?, &cli),
        "validate_config" => config::validate_config(&root, &needs_svc(&action)?, cli.partial),
        "install" => config::install(&root, &needs_svc(&action)?),
        "prstart" => pr::run(
            &root,
            &needs_svc(&action)?,
            &cli,
            crate::engine::Verb::Start,
        ),
        "prstop" => pr::run(&root, &needs_svc(&action)?, &cli, crate::engine::Verb::Stop),
        "prstatus" => pr::status(&root, &needs_svc(&action)?, &cli),
        "boot" => {
            if let Some(svc) = &cli.svc {
                check_service_name(svc)?;
            }
            boot::boot(&root, cli.svc.as_deref(), &cli)
        }
        "syncnodes" | "syncall" => {
            sync::syncnodes(&root, &needs_svc(&action)?, &cli, crate::sync::Targets::All)
        }
        "syncdrp" => sync::syncnodes(&root, &needs_svc(&action)?, &cli, crate::sync::Targets::Drp),
        "startstandby" => lifecycle::startstandby(&root, &needs_svc(&action)?, &cli),
        "postsync" => sync::postsync(&root, &needs_svc(&action)?, &cli),
        "switch" => {
            let to = cli
                .to
                .clone()
                .ok_or_else(|| anyhow::anyhow!("switch needs the destination: switch --to NODE"))?;
            let svc = needs_svc(&action)?;
            target::through_daemon(&root, &svc, target::Dest::To(to.clone()), cli.wait)
                .unwrap_or_else(|| relocate::switch(&root, &cli.relocation(&svc)?, &to))
        }
        "takeover" => {
            let svc = needs_svc(&action)?;
            target::through_daemon(&root, &svc, target::Dest::Here, cli.wait)
                .unwrap_or_else(|| relocate::takeover(&root, &cli.relocation(&svc)?))
        }
        "giveback" => {
            let svc = needs_svc(&action)?;
            target::through_daemon(&root, &svc, target::Dest::Preferred, cli.wait)
                .unwrap_or_else(|| relocate::giveback(&root, &cli.relocation(&svc)?))
        }
        "freeze" => state::freeze(&root, &needs_svc(&action)?, &cli, true),
        "thaw" => state::freeze(&root, &needs_svc(&action)?, &cli, false),
        "clear" => state::clear(&root, &needs_svc(&action)?),
        "start" | "stop" | "restart" => {
            lifecycle::run(&root, &needs_svc(&action)?, &cli, &action, None)
        }
        other => match group_action(other) {
            Some((verb, group)) => {
                lifecycle::run(&root, &needs_svc(other)?, &cli, verb, Some(group))
            }
            None => {
                let hint = match words::suggest(&typed) {
                    Some(s) => format!(": did you mean '{s}'?"),
                    None => " (svcmgr --help lists the actions)".to_string(),
                };
                eprintln!("svcmgr: unknown action '{}'{hint}", cli.words.join(" "));
                Ok(exitcode::USAGE)
            }
        },
    }
}

/// Whether the command changes something on the system (then an interrupt lets its running
/// command end before the lock is released).
fn acts(words: &[String]) -> bool {
    let joined = words.join("_");
    let a = words::canonical(&joined);
    matches!(
        a,
        "start"
            | "stop"
            | "restart"
            | "startstandby"
            | "prstart"
            | "prstop"
            | "syncnodes"
            | "syncdrp"
            | "syncall"
            | "postsync"
            | "switch"
            | "takeover"
            | "giveback"
    ) || group_action(a).is_some()
}

/// A service name becomes file names (`etc/<svc>.conf`, `var/lock/<svc>`), on peers too:
/// no path separators, no hidden files.
fn check_service_name(svc: &str) -> anyhow::Result<()> {
    let ok = !svc.is_empty()
        && !svc.starts_with('.')
        && svc
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        anyhow::bail!(
            "bad service name '{svc}': letters, digits, '.', '_' and '-' only, not starting with '.'"
        );
    }
    Ok(())
}

/// `startip` -> ("start", Ip); `stopdisk` -> ("stop", Vg).
fn group_action(action: &str) -> Option<(&'static str, Group)> {
    let (verb, rest) = if let Some(r) = action.strip_prefix("start") {
        ("start", r)
    } else {
        ("stop", action.strip_prefix("stop")?)
    };
    Group::from_name(rest).map(|g| (verb, g))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_dispatch() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            args_from_argv0(v(&["/r/etc/busybox", "print", "status"])),
            v(&["svcmgr", "-s", "busybox", "print", "status"])
        );
        assert_eq!(
            args_from_argv0(v(&["/usr/bin/svcmgr", "ls"])),
            v(&["/usr/bin/svcmgr", "ls"])
        );
        assert_eq!(
            args_from_argv0(v(&["svcmgr-web", "stop"])),
            v(&["svcmgr", "-s", "svcmgr-web", "stop"])
        );
    }

    #[test]
    fn split_words_and_options_anywhere() {
        let cli = Cli::parse_from(["svcmgr", "print", "-s", "web", "status", "--format", "json"]);
        assert_eq!(cli.words.join("_"), "print_status");
        assert_eq!(cli.svc.as_deref(), Some("web"));
        assert_eq!(cli.format, Format::Json);
        let cli = Cli::parse_from(["svcmgr", "-s", "web", "start", "--rid", "ip#1,fs"]);
        assert_eq!(cli.rid, vec!["ip#1", "fs"]);
    }

    #[test]
    fn service_names() {
        for good in ["web", "busybox.opensvc.com", "a_b-c1"] {
            assert!(check_service_name(good).is_ok(), "{good}");
        }
        for bad in ["", "../etc/x", "a/b", ".hidden", "a b"] {
            assert!(check_service_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn group_actions() {
        assert_eq!(group_action("startip"), Some(("start", Group::Ip)));
        assert_eq!(group_action("stopdisk"), Some(("stop", Group::Vg)));
        assert_eq!(
            group_action("startcontainer"),
            Some(("start", Group::Container))
        );
        assert_eq!(group_action("startfoo"), None);
        assert_eq!(group_action("reboot"), None);
    }
}
