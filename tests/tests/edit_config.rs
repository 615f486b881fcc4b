//! `edit config` with an editor script that writes a bad config, then a good one: refused
//! and not installed without a terminal; on a terminal, the errors and a second round.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use labtests::cliroot::TestRoot;
use labtests::lab::{wait_until, OutputExt};

const CONF: &str =
    "# keep me\n[DEFAULT]\nnodes = n1\n\n[fs#1]\ndev = /dev/vg/lv\nmnt = /srv/old\ntype = ext4\n";
const BAD: &str =
    "# keep me\n[DEFAULT]\nnodes = n1\n\n[fs#1]\ndev = /dev/vg/lv\nmnt = relative\ntype = ext4\n";
const GOOD: &str =
    "# keep me\n[DEFAULT]\nnodes = n1\n\n[fs#1]\ndev = /dev/vg/lv\nmnt = /srv/new\ntype = ext4\n";

/// An editor writing BAD on its first run and GOOD on the next ones (shell builtins only).
fn editor(r: &TestRoot) -> String {
    let count = r.path("editor.count");
    let script = r.path("editor.sh");
    let lines = |t: &str| {
        t.lines()
            .map(|l| format!("'{l}'"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let text = format!(
        "#!/bin/sh\nn=0\n[ -f '{c}' ] && read n < '{c}'\nn=$((n + 1))\necho $n > '{c}'\n\
         if [ $n = 1 ]; then printf '%s\\n' {bad} > \"$1\"; else printf '%s\\n' {good} > \"$1\"; fi\n",
        c = count.display(),
        bad = lines(BAD),
        good = lines(GOOD),
    );
    std::fs::write(&script, text).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

fn runs(r: &TestRoot) -> String {
    std::fs::read_to_string(r.path("editor.count")).unwrap_or_default()
}

#[test]
fn without_a_terminal_a_bad_edit_is_not_installed() {
    let r = TestRoot::new("n1", &[]);
    r.write_conf("web", CONF);
    let ed = editor(&r);
    let mut c = r.cmd(&["-s", "web", "edit", "config"]);
    c.env("EDITOR", &ed).env_remove("VISUAL");
    let o = r.run(c, "edit config");
    assert_eq!(o.code(), 1, "{}", o.stderr_str());
    let conf = r.conf("web").display().to_string();
    let err = o.stderr_str();
    assert!(
        err.starts_with("svcmgr: error: edit not installed, your version is kept in "),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{conf}:7: [fs#1] mnt: bad value 'relative': expected an absolute path"
        )),
        "{err}"
    );
    assert_eq!(r.read_conf("web"), CONF);
    assert_eq!(runs(&r), "1\n", "no second round without a terminal");
    // The second run of the editor writes the good file: installed, comments kept.
    let mut c = r.cmd(&["-s", "web", "edit", "config"]);
    c.env("EDITOR", &ed).env_remove("VISUAL");
    let o = r.run(c, "edit config");
    o.assert_ok("edit config");
    assert_eq!(r.read_conf("web"), GOOD);
    // An editor that changes nothing installs nothing.
    let mut c = r.cmd(&["-s", "web", "edit", "config"]);
    c.env("EDITOR", "true").env_remove("VISUAL");
    let o = r.run(c, "edit config");
    assert_eq!(o.stdout_str(), "no change\n");
    // A failing editor: nothing installed, exit 1.
    let mut c = r.cmd(&["-s", "web", "edit", "config"]);
    c.env("EDITOR", "false").env_remove("VISUAL");
    let o = r.run(c, "edit config");
    assert_eq!(o.code(), 1);
    assert!(
        o.stderr_str().contains("the editor false exited"),
        "{}",
        o.stderr_str()
    );
    assert_eq!(r.read_conf("web"), GOOD);
}

#[test]
fn on_a_terminal_the_errors_are_shown_and_the_edit_is_offered_again() {
    let r = TestRoot::new("n1", &[]);
    r.write_conf("web", CONF);
    let ed = editor(&r);
    let pty = nix::pty::openpty(None, None).expect("openpty");
    // The answer to "edit again?", waiting in the terminal's input.
    let mut master = std::fs::File::from(pty.master);
    master.write_all(b"y\n").unwrap();
    let mut c = r.cmd(&["-s", "web", "edit", "config"]);
    c.env("EDITOR", &ed)
        .env_remove("VISUAL")
        .stdin(Stdio::from(pty.slave))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Not through the bounded runner, which gives every command an empty stdin.
    let mut child = c.spawn().expect("spawn edit config");
    let ended = wait_until(
        Duration::from_secs(120),
        "edit config on a terminal",
        || child.try_wait().ok().flatten().is_some(),
    );
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
        panic!("edit config did not end");
    }
    let o = child.wait_with_output().unwrap();
    o.assert_ok("edit config");
    let err = o.stderr_str();
    assert!(
        err.contains("[fs#1] mnt: bad value 'relative': expected an absolute path"),
        "{err}"
    );
    assert!(err.contains("edit again? [Y/n]"), "{err}");
    assert_eq!(runs(&r), "2\n");
    assert_eq!(r.read_conf("web"), GOOD);
    drop(master);
}

#[test]
fn a_config_changed_during_the_edit_is_not_overwritten() {
    let r = TestRoot::new("n1", &[]);
    r.write_conf("web", CONF);
    let script = r.path("racing-editor.sh");
    // Someone else sets a keyword while the editor is open.
    let text = format!(
        "#!/bin/sh\nprintf '%s\\n' 'orchestrate = no' >> '{conf}'\nprintf '# mine\\n' >> \"$1\"\n",
        conf = r.conf("web").display()
    );
    std::fs::write(&script, text).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = r.cmd(&["-s", "web", "edit", "config"]);
    c.env("EDITOR", &script).env_remove("VISUAL");
    let o = r.run(c, "edit config");
    assert_eq!(o.code(), 1);
    let err = o.stderr_str();
    assert!(err.contains("changed while it was edited"), "{err}");
    assert_eq!(r.read_conf("web"), format!("{CONF}orchestrate = no\n"));
}
