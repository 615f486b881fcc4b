//! `set`, `unset`, `get`, `print config` through the binary, on a root of files only:
//! exact results on configs with comments, scoped keys and continuation lines; refusals
//! that change nothing; racing `set`s that both land; the sync status after a change.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use labtests::cliroot::TestRoot;
use labtests::lab::OutputExt;

const CONF: &str = "\
# the web service
[DEFAULT]
nodes = n1 n2
; n1 first
orchestrate = no

[fs#1]
dev = /dev/vgweb/lv
mnt = /srv/{svcname}
type = ext4
mnt_opt = rw
mnt_opt@n2 = ro

[container#1]
type = podman
run_image = busybox
run_args = --net=host
    # the data volume
    -v /srv/web:/data
run_command = sleep 1000
";

fn root() -> TestRoot {
    let r = TestRoot::new("n1", &["n2"]);
    r.write_conf("web", CONF);
    r
}

#[test]
fn set_unset_get_golden() {
    let r = root();
    r.svcmgr(&[
        "-s",
        "web",
        "set",
        "--kw",
        "fs#1.mnt_opt@n2=ro,noatime",
        "--kw",
        "orchestrate=ha",
        "--kw",
        "container#1.run_command=/bin/sh -c 'sleep 1000'",
        "--kw",
        "fs#1.mnt_opt@n1=rw,noatime",
    ])
    .assert_ok("set");
    let want = CONF
        .replace("orchestrate = no", "orchestrate = ha")
        .replace(
            "mnt_opt@n2 = ro\n",
            "mnt_opt@n2 = ro,noatime\nmnt_opt@n1 = rw,noatime\n",
        )
        .replace(
            "run_command = sleep 1000",
            "run_command = /bin/sh -c 'sleep 1000'",
        );
    assert_eq!(r.read_conf("web"), want);

    r.svcmgr(&["-s", "web", "unset", "--kw", "container#1.run_args"])
        .assert_ok("unset");
    let want = want
        .replace("run_args = --net=host\n", "")
        .replace("    -v /srv/web:/data\n", "");
    assert_eq!(r.read_conf("web"), want);

    let get = |args: &[&str]| {
        let mut a = vec!["-s", "web", "get"];
        a.extend_from_slice(args);
        r.svcmgr(&a)
    };
    let cases: &[(&[&str], &str)] = &[
        (&["--kw", "orchestrate"], "ha\n"),
        (&["--kw", "fs#1.mnt"], "/srv/{svcname}\n"),
        (&["--kw", "fs#1.mnt", "--eval"], "/srv/web\n"),
        (&["--kw", "fs#1.mnt_opt", "--eval"], "rw,noatime\n"),
        (&["--kw", "fs#1.mnt_opt@n2", "--eval"], "ro,noatime\n"),
        (&["--kw", "fs#1.mnt_opt@n2"], "ro,noatime\n"),
        // A default of the keyword table, for --eval only.
        (&["--kw", "monitor_action", "--eval"], "none\n"),
    ];
    for (args, want) in cases {
        let o = get(args);
        o.assert_ok("get");
        assert_eq!(o.stdout_str(), *want, "{args:?}");
    }
    let o = get(&["--kw", "monitor_action"]);
    assert_eq!((o.code(), o.stdout_str()), (1, String::new()));
    assert_eq!(o.stderr_str(), "DEFAULT.monitor_action: not set\n");
}

#[test]
fn a_multi_line_value_is_written_as_continuation_lines() {
    let r = root();
    r.svcmgr(&[
        "-s",
        "web",
        "set",
        "--kw",
        "container#1.run_args=--net=none\n-v /a:/a",
    ])
    .assert_ok("set");
    let want = CONF.replace(
        "run_args = --net=host\n    # the data volume\n    -v /srv/web:/data\n",
        "run_args = --net=none\n    -v /a:/a\n    # the data volume\n",
    );
    assert_eq!(r.read_conf("web"), want);
    let o = r.svcmgr(&["-s", "web", "get", "--kw", "container#1.run_args"]);
    assert_eq!(o.stdout_str(), "--net=none\n-v /a:/a\n");
}

/// The file is not rewritten at all: same bytes, same inode.
fn unchanged(r: &TestRoot, before: &str, ino: u64) {
    assert_eq!(r.read_conf("web"), before);
    assert_eq!(std::fs::metadata(r.conf("web")).unwrap().ino(), ino);
}

#[test]
fn bad_changes_are_refused_with_the_validation_error() {
    let r = root();
    let ino = std::fs::metadata(r.conf("web")).unwrap().ino();
    let conf = r.conf("web").display().to_string();
    let cases: &[(&[&str], String)] = &[
        (
            &["set", "--kw", "fs#1.mnt=relative"],
            format!("{conf}:9: [fs#1] mnt: bad value 'relative': expected an absolute path"),
        ),
        (
            &["set", "--kw", "fs#1.mnt_opts_typo=rw"],
            format!("{conf}:13: [fs#1] mnt_opts_typo: unknown keyword"),
        ),
        (
            // One bad assignment: the good one before it is not written either.
            &[
                "set",
                "--kw",
                "orchestrate=ha",
                "--kw",
                "monitor_action=explode",
            ],
            format!(
                "{conf}:6: [DEFAULT] monitor_action: bad value 'explode': expected one of \
                 none, freezestop, switch, reboot, crash"
            ),
        ),
        (
            &["set", "--kw", "nodes@n1=n1"],
            format!("{conf}:6: [DEFAULT] nodes: keyword is not scopable"),
        ),
        (
            &["set", "--kw", "ip#1.ipdev=eth0"],
            format!("{conf}:22: [ip#1] ipname: missing required keyword"),
        ),
        (
            &["unset", "--kw", "fs#1.mnt"],
            format!("{conf}:7: [fs#1] mnt: missing required keyword"),
        ),
        (
            &["set", "--kw", "fs#1.mnt_opt=a\n# b"],
            "[fs#1] mnt_opt: value can not be written in an INI file as given".to_string(),
        ),
        (
            &["set", "--kw", "fs#1 mnt=x"],
            "bad keyword 'fs#1 mnt'".to_string(),
        ),
        (
            &["set", "--kw", "nodes"],
            "bad --kw 'nodes': expected KEY=VALUE".to_string(),
        ),
        (&["set"], "set needs at least one --kw".to_string()),
    ];
    for (args, want) in cases {
        let mut a = vec!["-s", "web"];
        a.extend_from_slice(args);
        let o = r.svcmgr(&a);
        assert_eq!(o.code(), 1, "{args:?}: {}", o.stderr_str());
        assert!(
            o.stderr_str().contains(want.as_str()),
            "{args:?}\n got: {}\nwant: {want}",
            o.stderr_str()
        );
        unchanged(&r, CONF, ino);
    }
}

#[test]
fn a_hand_broken_config_is_not_rewritten() {
    let r = root();
    let broken = format!("{CONF}oops no equal sign\n");
    r.write_conf("web", &broken);
    let ino = std::fs::metadata(r.conf("web")).unwrap().ino();
    let o = r.svcmgr(&["-s", "web", "set", "--kw", "orchestrate=ha"]);
    assert_eq!(o.code(), 1);
    let conf = r.conf("web").display().to_string();
    assert_eq!(
        o.stderr_str(),
        format!(
            "svcmgr: error: {conf} does not parse: not changing it (fix it with edit config): \
             {conf}:21: syntax error: expected 'key = value'\n"
        )
    );
    unchanged(&r, &broken, ino);
    let o = r.svcmgr(&["-s", "nosuch", "set", "--kw", "orchestrate=ha"]);
    assert_eq!(o.code(), 4, "{}", o.stderr_str());
}

#[test]
fn racing_sets_all_land() {
    let r = root();
    // Hold the service lock while the sets start: they all wait for it, then take turns.
    // Without the lock each would read the same file and the last rename would win.
    let lock_path = r.path("var/lock/web");
    std::fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let mut held = Command::new("flock");
    held.arg(&lock_path).args(["-c", "sleep 1"]);
    let holder = held.spawn().expect("flock");
    let n = 6;
    let children: Vec<_> = (0..n)
        .map(|i| {
            let kw = format!("env.k{i}={i}");
            r.cmd(&["-s", "web", "set", "--kw", &kw, "--waitlock", "60"])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn set")
        })
        .collect();
    let mut holder = holder;
    holder.wait().unwrap();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let text = r.read_conf("web");
    for i in 0..n {
        assert!(
            text.contains(&format!("k{i} = {i}\n")),
            "k{i} lost:\n{text}"
        );
    }
    assert!(text.starts_with(CONF), "{text}");
}

#[test]
fn a_change_shows_in_the_sync_status() {
    let r = root();
    // The state after a push: the generation of the current file, and n2 holding it.
    let sum = r.run(
        {
            let mut c = Command::new("sha256sum");
            c.arg(r.conf("web"));
            c
        },
        "sha256sum",
    );
    let sum = sum
        .stdout_str()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let var = r.path("var/services/web");
    std::fs::create_dir_all(var.join("sync")).unwrap();
    std::fs::write(
        var.join("config.gen"),
        format!("{{\"gen\":1,\"stamp\":0,\"sum\":\"{sum}\"}}"),
    )
    .unwrap();
    std::fs::write(
        var.join("sync/n2.json"),
        format!("{{\"sum\":\"{sum}\",\"gen\":1,\"time\":\"2026-01-01T00:00:00+00:00\"}}"),
    )
    .unwrap();
    let sync_line = |r: &TestRoot| {
        let o = r.svcmgr(&["-s", "web", "print", "status", "--color", "never"]);
        let out = o.stdout_str();
        let i = out.find("sync#i0").expect("sync#i0 in the tree");
        out[i..].lines().take(2).collect::<Vec<_>>().join("\n")
    };
    assert!(sync_line(&r).contains(" up "), "{}", sync_line(&r));
    r.svcmgr(&["-s", "web", "set", "--kw", "orchestrate=ha"])
        .assert_ok("set");
    let line = sync_line(&r);
    assert!(line.contains(" down "), "{line}");
    assert!(
        line.contains("config changed here since the last sync"),
        "{line}"
    );
}

#[test]
fn print_config_eval_and_json() {
    let r = root();
    let o = r.svcmgr(&["-s", "web", "print", "config", "--eval"]);
    o.assert_ok("print config --eval");
    let out = o.stdout_str();
    assert!(
        out.starts_with("[DEFAULT]\nnodes = n1 n2\norchestrate = no\n\n[fs#1]\n"),
        "{out}"
    );
    assert!(out.contains("mnt = /srv/web\n"), "{out}");
    assert!(out.contains("mnt_opt = rw\n"), "{out}");
    assert!(!out.contains("@n2"), "{out}");
    assert!(
        out.contains("run_args = --net=host\n    -v /srv/web:/data\n"),
        "{out}"
    );
    let o = r.svcmgr(&["-s", "web", "print", "config", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout_str()).unwrap();
    assert_eq!(v["fs#1"]["mnt_opt@n2"], "ro");
    assert_eq!(v["fs#1"]["mnt"], "/srv/{svcname}");
    assert_eq!(
        v["container#1"]["run_args"],
        "--net=host\n-v /srv/web:/data"
    );
    let o = r.svcmgr(&["-s", "web", "print", "config", "--eval", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout_str()).unwrap();
    assert_eq!(v["fs#1"]["mnt"], "/srv/web");
    assert_eq!(v["fs#1"]["mnt_opt"], "rw");
    // As written: the file itself.
    let o = r.svcmgr(&["-s", "web", "print", "config"]);
    assert_eq!(o.stdout_str(), CONF);
}

/// `validate config --partial`: a config with unsupported kinds is refused by a normal load
/// (every such section listed) and reported as what would load without them.
#[test]
fn validate_config_partial() {
    let r = TestRoot::new("n1", &["n2"]);
    let conf = "[DEFAULT]\nnodes = n1 n2\nmode = hosted\n\n[task#backup]\ncommand = /bin/true\n\n\
                [fs#1]\ndev = /dev/vgweb/lv\nmnt = /srv/web\ntype = ext4\n\n\
                [share#1]\ntype = nfs\npath = /srv/web\n";
    r.write_conf("web", conf);
    let file = r.conf("web");
    let normal = r.svcmgr(&["-s", "web", "validate", "config"]);
    normal.assert_fails("validate config");
    assert!(
        normal.stderr_str().contains(&format!(
            "{}: unsupported resource kinds (svcmgr has no driver for them): \
             line 5 [task#backup] task, line 13 [share#1] share type = nfs",
            file.display()
        )),
        "{}",
        normal.stderr_str()
    );
    assert!(
        normal
            .stderr_str()
            .contains("hint: svcmgr -s web validate config --partial says what would load"),
        "{}",
        normal.stderr_str()
    );
    let partial = r.svcmgr(&["-s", "web", "validate", "config", "--partial"]);
    partial.assert_ok("validate config --partial");
    assert_eq!(
        partial.stdout_str(),
        format!(
            "{}: valid without what svcmgr does not implement (2 left out), 1 resource(s); \
             a normal load refuses it\n\
             without: line 5 [task#backup] task\n\
             without: line 13 [share#1] share type = nfs\n\
             would load: fs#1\n",
            file.display()
        )
    );
    assert!(partial
        .stderr_str()
        .contains("[DEFAULT] mode: deprecated keyword, ignored"));
    // The rest invalid: non-zero, with the error.
    r.write_conf("web", &conf.replace("mnt = /srv/web\n", ""));
    let bad = r.svcmgr(&["-s", "web", "validate", "config", "--partial"]);
    bad.assert_fails("validate config --partial, fs without mnt");
    assert!(
        bad.stderr_str()
            .contains("[fs#1] mnt: missing required keyword"),
        "{}",
        bad.stderr_str()
    );
}
