//! `edit config`: `$VISUAL`/`$EDITOR` on a copy of the config; the copy is installed only
//! when it validates (as `set` validates), and only when nobody changed the file meanwhile.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use super::Cli;
use crate::config_edit;
use crate::exitcode;
use crate::paths::{write_atomic_mode, Root};
use crate::service::NoSuchService;

/// The edit was not installed; the user's version stays in `copy`.
#[derive(Debug, thiserror::Error)]
#[error("edit not installed, your version is kept in {}", copy.display())]
pub struct NotInstalled {
    pub copy: PathBuf,
}

/// `$VISUAL`, else `$EDITOR`, else `vi`, split shell-like (`EDITOR="code -w"`).
fn editor_argv(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Vec<String>> {
    let var = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| env(v).filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_string());
    match shlex::split(&var) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => anyhow::bail!("bad editor command {var:?} (from VISUAL or EDITOR)"),
    }
}

/// The editor runs on the user's terminal (inherited stdio), not through the drivers'
/// command runner: it is interactive, has no timeout and its output is not logged.
fn run_editor(copy: &Path) -> anyhow::Result<()> {
    let argv = editor_argv(|v| std::env::var(v).ok())?;
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .arg(copy)
        .status()
        .with_context(|| format!("run the editor {}", argv[0]))?;
    if !status.success() {
        anyhow::bail!(
            "the editor {} exited with {status}: nothing installed",
            argv.join(" ")
        );
    }
    Ok(())
}

fn ask_reedit() -> bool {
    eprint!("edit again? [Y/n] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => false,
        Ok(_) => !matches!(line.trim(), "n" | "N" | "no" | "No"),
    }
}

pub fn edit_config(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    let path = root.service_conf(svc);
    let original = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(NoSuchService {
                name: svc.to_string(),
                path,
            }
            .into())
        }
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    let copy = root
        .svc_var(svc)
        .join(format!("edit.{}.conf", std::process::id()));
    write_atomic_mode(&copy, &original, 0o600)
        .with_context(|| format!("write {}", copy.display()))?;
    let interactive = std::io::stdin().is_terminal();
    loop {
        if let Err(e) = run_editor(&copy) {
            let _ = std::fs::remove_file(&copy);
            return Err(e);
        }
        let new = std::fs::read(&copy).with_context(|| format!("read {}", copy.display()))?;
        if new == original {
            let _ = std::fs::remove_file(&copy);
            println!("no change");
            return Ok(exitcode::OK);
        }
        let lock = crate::lock::acquire_private(&root.lock(svc), "edit config", cli.waitlock())?;
        if std::fs::read(&path).ok().as_deref() != Some(&original[..]) {
            return Err(
                anyhow::anyhow!("{} changed while it was edited", path.display())
                    .context(NotInstalled { copy }),
            );
        }
        match config_edit::install_checked(root, svc, &path, Some(&original), &new) {
            Ok(()) => {
                let _ = std::fs::remove_file(&copy);
                println!("{} installed", path.display());
                return Ok(exitcode::OK);
            }
            Err(e) if interactive => {
                drop(lock);
                eprintln!("error: {}", crate::engine::error_chain(e.as_ref()));
                if !ask_reedit() {
                    return Err(NotInstalled { copy }.into());
                }
            }
            Err(e) => return Err(e.context(NotInstalled { copy })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_command_is_split() {
        let env = |visual: &'static str, editor: &'static str| {
            move |v: &str| {
                let s = if v == "VISUAL" { visual } else { editor };
                (!s.is_empty()).then(|| s.to_string())
            }
        };
        let cases: &[(&str, &str, Option<&[&str]>)] = &[
            (
                "",
                "code -w --new-window",
                Some(&["code", "-w", "--new-window"]),
            ),
            ("nano", "vim", Some(&["nano"])),
            ("  ", "", Some(&["vi"])),
            ("", "vim 'unbalanced", None),
        ];
        for (visual, editor, want) in cases {
            let got = editor_argv(env(visual, editor)).ok();
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "VISUAL={visual:?} EDITOR={editor:?}");
        }
    }
}
