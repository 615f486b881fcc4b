//! The shell completion scripts, run by the real shells where it matters (bash: the script is
//! sourced and its function called as readline would), and the man page rendered by man(1)
//! with groff's warnings on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use labtests::lab::{svcmgr_bin, unique, OutputExt};

/// A root with two services; removed on drop.
struct TestRoot {
    dir: PathBuf,
    svcs: [String; 2],
}

impl TestRoot {
    fn new() -> TestRoot {
        let dir = std::env::temp_dir().join(unique("svcmgr-compl-"));
        std::fs::create_dir_all(dir.join("etc")).expect("etc");
        let svcs = [unique("web"), unique("db")];
        std::fs::write(
            dir.join("etc").join(format!("{}.conf", svcs[0])),
            "[DEFAULT]\nnodes = n1\n\n[ip#1]\nipname = 10.0.0.5\nipdev = eth0\n\n[fs#data]\n\
             dev = /dev/x\nmnt = /srv/x\ntype = ext4\n\n[fs#2]\ndev = /dev/y\nmnt = /srv/y\n",
        )
        .expect("conf");
        // The legacy name is a service too.
        std::fs::write(
            dir.join("etc").join(format!("{}.env", svcs[1])),
            "[DEFAULT]\nnodes = n1\n",
        )
        .expect("env");
        TestRoot { dir, svcs }
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn bin_dir() -> PathBuf {
    svcmgr_bin().parent().expect("bin dir").to_path_buf()
}

fn path_with_bin() -> String {
    format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// What bash's completion function of the installed script puts in COMPREPLY for `line`
/// (the cursor at the end of its last word).
fn bash_complete(root: &Path, line: &[&str]) -> Vec<String> {
    let script = Command::new(svcmgr_bin())
        .args(["completion", "bash"])
        .output()
        .expect("svcmgr completion bash");
    script.assert_ok("completion bash");
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let cur = line.last().expect("a word");
    let prev = if line.len() > 1 {
        line[line.len() - 2]
    } else {
        ""
    };
    let driver = format!(
        "{}\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_TYPE=9\n_clap_complete_svcmgr svcmgr '{cur}' '{prev}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.stdout_str(),
        words.join(" "),
        line.len() - 1
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &driver])
        .env("SVCMGR_ROOT", root)
        .env("PATH", path_with_bin())
        .output()
        .expect("bash");
    out.assert_ok("bash completion");
    out.stdout_str().lines().map(String::from).collect()
}

#[test]
fn bash_completes_service_names_rids_and_action_words() {
    let r = TestRoot::new();
    let names = bash_complete(&r.dir, &["svcmgr", "-s", ""]);
    for s in &r.svcs {
        assert!(names.contains(s), "{s} in {names:?}");
    }
    let web = r.svcs[0].as_str();
    let one = bash_complete(&r.dir, &["svcmgr", "-s", &web[..5]]);
    assert_eq!(one, vec![web.to_string()]);

    let rids = bash_complete(&r.dir, &["svcmgr", "-s", web, "stop", "--rid", ""]);
    assert_eq!(rids, ["ip#1", "fs#data", "fs#2", "fs", "ip"], "{rids:?}");
    let rids = bash_complete(&r.dir, &["svcmgr", "-s", web, "--rid", "ip#1,fs#"]);
    assert_eq!(rids, ["ip#1,fs#data", "ip#1,fs#2"], "{rids:?}");

    let words = bash_complete(&r.dir, &["svcmgr", "-s", web, "print", "st"]);
    assert_eq!(words, ["status"]);
    let words = bash_complete(&r.dir, &["svcmgr", "-s", web, "switch", "--t"]);
    assert_eq!(words, ["--tags", "--to"]);
}

/// zsh and fish are not installed here: their scripts call the same entry point with their own
/// protocol, checked through it.
#[test]
fn zsh_and_fish_scripts_and_answers() {
    let r = TestRoot::new();
    for (shell, marker) in [("zsh", "#compdef svcmgr"), ("fish", "complete ")] {
        let out = Command::new(svcmgr_bin())
            .args(["completion", shell])
            .output()
            .expect("completion");
        out.assert_ok(shell);
        assert!(out.stdout_str().contains(marker), "{}", out.stdout_str());
        assert!(out.stdout_str().contains("_SVCMGR_COMPLETE"));
        let ans = Command::new(svcmgr_bin())
            .args(["--", "svcmgr", "-s", ""])
            .env("_SVCMGR_COMPLETE", shell)
            .env("_CLAP_COMPLETE_INDEX", "2")
            .env("SVCMGR_ROOT", &r.dir)
            .output()
            .expect("answer");
        ans.assert_ok(shell);
        for s in &r.svcs {
            assert!(ans.stdout_str().contains(s.as_str()), "{shell}: {s}");
        }
    }
    let bad = Command::new(svcmgr_bin())
        .args(["completion", "ksh"])
        .output()
        .expect("completion ksh");
    assert_eq!(bad.status.code(), Some(2));
}

fn man_page() -> (PathBuf, Output) {
    let out = Command::new(svcmgr_bin())
        .arg("man")
        .output()
        .expect("svcmgr man");
    out.assert_ok("svcmgr man");
    let file = std::env::temp_dir().join(format!("{}.1", unique("svcmgr-man-")));
    std::fs::write(&file, &out.stdout).expect("write page");
    let rendered = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&file)
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("man");
    (file, rendered)
}

#[test]
fn man_renders_without_warnings() {
    let (file, out) = man_page();
    let _ = std::fs::remove_file(&file);
    out.assert_ok("man -l");
    assert_eq!(out.stderr_str(), "", "groff warnings");
    let text = out.stdout_str();
    for want in [
        "SYNOPSIS",
        "--waitlock",
        "ACTIONS",
        "print status",
        "svcmgr -s web switch --to n2",
        "daemon",
        "EXIT STATUS",
        "SVCMGR_ROOT",
    ] {
        assert!(text.contains(want), "{want} in the page:\n{text}");
    }
}
