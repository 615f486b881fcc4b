//! Shell completion. The script `svcmgr completion SHELL` prints asks svcmgr itself at each TAB
//! (`_SVCMGR_COMPLETE=SHELL svcmgr -- WORDS…`), so service names (from `ROOT/etc`) and the
//! rids of the service named by `-s` are always the current ones.

use std::ffi::OsStr;
use std::sync::OnceLock;

use clap::CommandFactory;
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use clap_complete::env::{Bash, CompleteEnv, EnvCompleter, Fish, Shells, Zsh};

use super::actions_doc;
use super::Cli;
use crate::exitcode;
use crate::paths::Root;

/// The variable the scripts set to ask for candidates (not clap's default `COMPLETE`, which a
/// user's environment may well hold for something else).
const VAR: &str = "_SVCMGR_COMPLETE";
const SHELLS: Shells<'static> = Shells(&[&Bash, &Zsh, &Fish]);

/// What the words before the cursor say: the service and the action words typed so far.
#[derive(Debug, Default, PartialEq, Eq)]
struct Context {
    svc: Option<String>,
    words: Vec<String>,
}

static CONTEXT: OnceLock<Context> = OnceLock::new();

/// Options of `Cli` that take a value (their value is not an action word).
const VALUED: &[&str] = &[
    "-s",
    "--service",
    "--rid",
    "--tags",
    "--waitlock",
    "--color",
    "--format",
    "--to",
];

/// `words` are the command line's words before the one being completed, the program first.
fn context(words: &[String]) -> Context {
    let mut ctx = Context::default();
    let mut it = words.iter().skip(1);
    while let Some(w) = it.next() {
        if w == "-s" || w == "--service" {
            ctx.svc = it.next().cloned();
        } else if let Some(v) = w.strip_prefix("--service=") {
            ctx.svc = Some(v.to_string());
        } else if let Some(v) = w.strip_prefix("-s").filter(|v| !v.is_empty()) {
            ctx.svc = Some(v.trim_start_matches('=').to_string());
        } else if VALUED.contains(&w.as_str()) {
            it.next();
        } else if !w.starts_with('-') {
            ctx.words.push(w.clone());
        }
    }
    ctx
}

/// Answer a completion request and exit, when the environment holds one; else return.
pub fn answer_if_asked() {
    if std::env::var_os(VAR).is_none() {
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let line: Vec<String> = match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].to_vec(),
        None => Vec::new(),
    };
    // bash says which word is completed; zsh and fish send the line up to the cursor.
    let current = std::env::var("_CLAP_COMPLETE_INDEX")
        .ok()
        .and_then(|i| i.parse::<usize>().ok())
        .filter(|i| *i < line.len())
        .unwrap_or(line.len().saturating_sub(1));
    let _ = CONTEXT.set(context(&line[..current]));
    CompleteEnv::with_factory(command)
        .var(VAR)
        .shells(SHELLS)
        .complete();
}

/// The clap command with the dynamic value completers attached.
fn command() -> clap::Command {
    Cli::command()
        .mut_arg("svc", |a| a.add(ArgValueCompleter::new(services)))
        .mut_arg("rid", |a| a.add(ArgValueCompleter::new(rids)))
        .mut_arg("words", |a| a.add(ArgValueCompleter::new(action_words)))
}

fn prefixed(current: &OsStr, all: impl IntoIterator<Item = String>) -> Vec<CompletionCandidate> {
    let cur = current.to_string_lossy();
    all.into_iter()
        .filter(|c| c.starts_with(cur.as_ref()))
        .map(CompletionCandidate::new)
        .collect()
}

fn services(current: &OsStr) -> Vec<CompletionCandidate> {
    prefixed(current, Root::from_env().services())
}

fn action_words(current: &OsStr) -> Vec<CompletionCandidate> {
    let ctx = CONTEXT.get_or_init(Context::default);
    let typed: Vec<&str> = ctx.words.iter().map(String::as_str).collect();
    prefixed(
        current,
        actions_doc::next_words(&typed)
            .into_iter()
            .map(String::from),
    )
}

/// `--rid ip#1,f<TAB>`: the rids (and their groups) of the service, after the last comma.
fn rids(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(svc) = CONTEXT.get_or_init(Context::default).svc.clone() else {
        return Vec::new();
    };
    let text = std::fs::read_to_string(Root::from_env().service_conf(&svc)).unwrap_or_default();
    let cur = current.to_string_lossy();
    let (head, _) = cur.rsplit_once(',').unwrap_or(("", ""));
    let head = if head.is_empty() {
        String::new()
    } else {
        format!("{head},")
    };
    prefixed(
        current,
        rid_names(&text).into_iter().map(|r| format!("{head}{r}")),
    )
}

/// The resource sections of a config (`[ip#1]`), then their groups (`ip`), each once.
fn rid_names(conf: &str) -> Vec<String> {
    let mut rids: Vec<String> = conf
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let name = l.strip_prefix('[')?.strip_suffix(']')?.trim();
            name.contains('#').then(|| name.to_string())
        })
        .collect();
    let mut groups: Vec<String> = rids
        .iter()
        .filter_map(|r| r.split('#').next())
        .map(String::from)
        .collect();
    groups.sort();
    groups.dedup();
    rids.dedup();
    rids.extend(groups);
    rids
}

/// `svcmgr completion bash|zsh|fish`: the script to source (or install in the shell's
/// completion directory).
pub fn print_script(words: &[String]) -> anyhow::Result<i32> {
    let shell = words.get(1).map(String::as_str).unwrap_or("");
    let Some(sh) = SHELLS.completer(shell).filter(|_| words.len() == 2) else {
        eprintln!("svcmgr: usage: svcmgr completion bash|zsh|fish");
        return Ok(exitcode::USAGE);
    };
    let mut out = Vec::new();
    write_script(sh, &mut out)?;
    use std::io::Write;
    std::io::stdout().write_all(&out)?;
    Ok(exitcode::OK)
}

fn write_script(sh: &dyn EnvCompleter, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    sh.write_registration(VAR, "svcmgr", "svcmgr", "svcmgr", out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn context_finds_the_service_and_the_action_words() {
        let cases: &[(&[&str], Option<&str>, &[&str])] = &[
            (&["svcmgr"], None, &[]),
            (&["svcmgr", "-s", "web"], Some("web"), &[]),
            (&["svcmgr", "-sweb", "print"], Some("web"), &["print"]),
            (&["svcmgr", "--service=db", "start"], Some("db"), &["start"]),
            (
                &["svcmgr", "print", "--format", "json", "-s", "web"],
                Some("web"),
                &["print"],
            ),
            (
                &["svcmgr", "--rid", "ip#1", "--waitlock", "3", "stop"],
                None,
                &["stop"],
            ),
            (&["svcmgr", "--force", "start"], None, &["start"]),
        ];
        for (line, svc, words) in cases {
            let c = context(&v(line));
            assert_eq!(c.svc.as_deref(), *svc, "{line:?}");
            assert_eq!(c.words, v(words), "{line:?}");
        }
    }

    #[test]
    fn rid_names_lists_resource_sections_then_groups() {
        let conf = "[DEFAULT]\nnodes = n1\n[ip#1]\nipname = a\n [fs#data] \n[fs#2]\n[env]\n\
                    # [ip#9] a comment\n";
        assert_eq!(rid_names(conf), v(&["ip#1", "fs#data", "fs#2", "fs", "ip"]));
    }

    #[test]
    fn every_shell_has_a_script_naming_the_variable() {
        for sh in SHELLS.iter() {
            let mut out = Vec::new();
            write_script(sh, &mut out).expect("script");
            let s = String::from_utf8(out).expect("utf8");
            assert!(s.contains(VAR), "{}: {s}", sh.name());
            assert!(s.contains("svcmgr"), "{}", sh.name());
        }
    }
}
