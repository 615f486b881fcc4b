//! `svcmgr -s SVC docker|podman ARGS…`: the engine's own CLI against the service's store
//! (`container_data_dir`), as in the seed's `busybox.opensvc.com docker attach b82cf3232b79`.
//! The private dockerd is started on demand when the data dir's filesystem is mounted;
//! without a private store it is the plain CLI. svcmgr then becomes the engine's process:
//! its output, exit code and terminal are the engine's.

use clap::CommandFactory;
use resources::container::dockerd::Dockerd;
use resources::container::inspect::Runtime;
use resources::container::store::Store;
use resources::exec::{self, Cmd};
use resources::Resource;

use super::Cli;
use crate::paths::Root;
use crate::service::Service;

const ENGINES: &[&str] = &["docker", "podman"];

/// Whether `arg` is svcmgr's option taking a value in the next argument.
fn takes_value(arg: &str) -> bool {
    if arg.contains('=') || !arg.starts_with('-') || arg == "-" {
        return false;
    }
    Cli::command().get_arguments().any(|a| {
        a.get_action().takes_values()
            && !a.is_positional()
            && (a.get_long().is_some_and(|l| arg == format!("--{l}"))
                || a.get_short().is_some_and(|s| arg == format!("-{s}")))
    })
}

/// Keep an engine's arguments away from svcmgr's parser: `svcmgr -s web docker ps -a` is
/// parsed as `svcmgr -s web docker -- ps -a`.
pub fn shield(mut argv: Vec<String>) -> Vec<String> {
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "--" {
            return argv;
        }
        if !a.starts_with('-') {
            if ENGINES.contains(&a) && argv.get(i + 1).map(String::as_str) != Some("--") {
                argv.insert(i + 1, "--".into());
            }
            return argv;
        }
        i += if takes_value(a) { 2 } else { 1 };
    }
    argv
}

/// The engine named by the action's first word, if it is one.
pub fn engine(words: &[String]) -> Option<Runtime> {
    words
        .first()
        .filter(|w| ENGINES.contains(&w.as_str()))
        .and_then(|w| Runtime::from_type(w))
}

/// Run the engine's CLI with `args` on the service's store. Returns only on failure.
pub fn run(root: &Root, svc: &str, rt: Runtime, args: &[String], cli: &Cli) -> anyhow::Result<i32> {
    let s = Service::load_readonly(root, svc)?;
    let ctx = s.ctx();
    // The service's container of that engine names the log lines; any will do.
    let rid = s
        .items
        .iter()
        .find(|it| matches!(&it.res, Resource::Container(c) if c.runtime() == rt))
        .map_or(rt.bin().to_string(), |it| it.rid().to_string());
    let store = Store::new(rt, s.cfg.container_store().as_ref())?;
    if let Some(why) = store.unavailable() {
        anyhow::bail!("{why}: start the service or its filesystem first (svcmgr -s {svc} startfs)");
    }
    if matches!(store, Store::Dockerd { .. }) && Dockerd::running(&ctx).is_none() {
        crate::logging::console_to_stderr();
        let _span = crate::logging::service_span(svc).entered();
        let intent = format!("{} daemon start", rt.bin());
        let _lock = crate::lock::acquire(&root.lock(svc), &intent, cli.waitlock())?;
        store.prepare(&ctx, &rid)?;
    }
    Err(exec::exec_replace(&Cmd::new(store.argv(rt, &ctx, args))).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn engine_arguments_are_shielded_from_svcmgrs_parser() {
        let cases: &[(&[&str], &[&str])] = &[
            (
                &["svcmgr", "-s", "web", "docker", "ps", "-a"],
                &["svcmgr", "-s", "web", "docker", "--", "ps", "-a"],
            ),
            (
                &["svcmgr", "--waitlock", "5", "-s", "web", "podman", "--help"],
                &[
                    "svcmgr",
                    "--waitlock",
                    "5",
                    "-s",
                    "web",
                    "podman",
                    "--",
                    "--help",
                ],
            ),
            (
                &["svcmgr", "--service=web", "--force", "docker", "--", "ps"],
                &["svcmgr", "--service=web", "--force", "docker", "--", "ps"],
            ),
            // A service named docker is not the engine word.
            (
                &["svcmgr", "-s", "docker", "print", "status"],
                &["svcmgr", "-s", "docker", "print", "status"],
            ),
            (
                &["svcmgr", "print", "status", "docker"],
                &["svcmgr", "print", "status", "docker"],
            ),
        ];
        for (argv, want) in cases {
            assert_eq!(shield(v(argv)), v(want), "{argv:?}");
        }
    }

    #[test]
    fn shielded_words_reach_the_action_whole() {
        let cli = Cli::parse_from(shield(v(&["svcmgr", "-s", "web", "docker", "ps", "-a"])));
        assert_eq!(cli.words, ["docker", "ps", "-a"]);
        assert_eq!(engine(&cli.words), Some(Runtime::Docker));
        assert_eq!(engine(&v(&["print", "status"])), None);
    }

    use clap::Parser;
}
