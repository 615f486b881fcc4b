//! `create` and `delete` through the binary on a root of files only. "Up here" is an ip
//! resource on an address the host always has (127.0.0.1 on lo): nothing is started.

use std::io::Write;
use std::process::Stdio;

use labtests::cliroot::TestRoot;
use labtests::lab::OutputExt;

const UP_IP: [&str; 6] = [
    "--kw",
    "ip#1.ipname=127.0.0.1",
    "--kw",
    "ip#1.ipdev=lo",
    "--kw",
    "ip#1.netmask=8",
];

#[test]
fn create_from_keywords_file_and_stdin() {
    let r = TestRoot::new("n1", &[]);
    let mut args = vec!["-s", "web", "create"];
    args.extend_from_slice(&UP_IP);
    let o = r.svcmgr(&args);
    o.assert_ok("create");
    assert_eq!(
        o.stdout_str(),
        format!("created {}\n", r.conf("web").display())
    );
    assert_eq!(
        r.read_conf("web"),
        "[DEFAULT]\nnodes = n1\n\n[ip#1]\nipname = 127.0.0.1\nipdev = lo\nnetmask = 8\n"
    );
    // Existing: refused, untouched.
    let o = r.svcmgr(&["-s", "web", "create", "--kw", "orchestrate=ha"]);
    assert_eq!(o.code(), 1);
    assert!(
        o.stderr_str().contains("service web already exists"),
        "{}",
        o.stderr_str()
    );
    assert!(!r.read_conf("web").contains("orchestrate"));

    // From a file, keywords applied on top, its comments kept.
    let src = r.path("db.src");
    std::fs::write(&src, "# db\n[DEFAULT]\nnodes = n1 n2\n").unwrap();
    r.svcmgr(&[
        "-s",
        "db",
        "create",
        "--config",
        src.to_str().unwrap(),
        "--kw",
        "orchestrate=ha",
    ])
    .assert_ok("create --config FILE");
    assert_eq!(
        r.read_conf("db"),
        "# db\n[DEFAULT]\nnodes = n1 n2\norchestrate = ha\n"
    );

    // From stdin.
    let mut c = r.cmd(&["-s", "app", "create", "--config", "-"]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"[DEFAULT]\nnodes = n1\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    o.assert_ok("create --config -");
    assert_eq!(r.read_conf("app"), "[DEFAULT]\nnodes = n1\n");
}

#[test]
fn invalid_creations_create_nothing() {
    let r = TestRoot::new("n1", &[]);
    let src = r.path("bad.src");
    std::fs::write(
        &src,
        "[DEFAULT]\nnodes = n1\n[fs#1]\ndev = /dev/x\nmnt = rel\ntype = ext4\n",
    )
    .unwrap();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["--kw", "fs#1.mnt=/x"],
            format!(
                "{}:4: [fs#1] dev: missing required keyword",
                r.conf("web").display()
            ),
        ),
        (
            vec!["--config", src.to_str().unwrap()],
            format!(
                "{}:5: [fs#1] mnt: bad value 'rel': expected an absolute path",
                src.display()
            ),
        ),
        (
            vec!["--kw", "no_such_keyword=1"],
            "[DEFAULT] no_such_keyword: unknown keyword".to_string(),
        ),
        (
            vec!["--config", "/nonexistent/x"],
            "read /nonexistent/x".to_string(),
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec!["-s", "web", "create"];
        args.extend_from_slice(&extra);
        let o = r.svcmgr(&args);
        assert_eq!(o.code(), 1, "{extra:?}");
        assert!(
            o.stderr_str().contains(&want),
            "{extra:?}\n got: {}\nwant: {want}",
            o.stderr_str()
        );
        assert!(!r.conf("web").exists(), "{extra:?}");
    }
    let o = r.svcmgr(&["-s", "../x", "create"]);
    assert_eq!(o.code(), 1);
    assert!(
        o.stderr_str().contains("bad service name"),
        "{}",
        o.stderr_str()
    );
}

#[test]
fn delete_refuses_while_up_here() {
    let r = TestRoot::new("n1", &[]);
    let mut args = vec!["-s", "web", "create"];
    args.extend_from_slice(&UP_IP);
    r.svcmgr(&args).assert_ok("create");
    r.svcmgr(&[
        "-s",
        "web",
        "set",
        "--kw",
        "fs#1.dev=/dev/x",
        "--kw",
        "fs#1.mnt=/srv/x",
        "--kw",
        "fs#1.type=ext4",
    ])
    .assert_ok("set");
    let before = r.read_conf("web");
    let o = r.svcmgr(&["-s", "web", "delete"]);
    assert_eq!(o.code(), 1);
    assert!(
        o.stderr_str()
            .contains("service web is warn here: stop it before deleting it"),
        "{}",
        o.stderr_str()
    );
    let o = r.svcmgr(&["-s", "web", "delete", "--rid", "ip#1"]);
    assert_eq!(o.code(), 1);
    assert!(
        o.stderr_str()
            .contains("ip#1 is up: stop it before deleting its section"),
        "{}",
        o.stderr_str()
    );
    let o = r.svcmgr(&["-s", "web", "delete", "--rid", "fs#9"]);
    assert!(
        o.stderr_str().contains("no section [fs#9]"),
        "{}",
        o.stderr_str()
    );
    let o = r.svcmgr(&["-s", "web", "delete", "--rid", "DEFAULT"]);
    assert_eq!(o.code(), 1);
    assert_eq!(r.read_conf("web"), before);

    // A section that is down goes, with its lines only.
    r.svcmgr(&["-s", "web", "delete", "--rid", "fs#1"])
        .assert_ok("delete --rid fs#1");
    assert_eq!(
        r.read_conf("web"),
        "[DEFAULT]\nnodes = n1\n\n[ip#1]\nipname = 127.0.0.1\nipdev = lo\nnetmask = 8\n"
    );

    // --force deletes the service although it is up; config, symlink and state go.
    r.svcmgr(&["-s", "web", "install"]).assert_ok("install");
    r.svcmgr(&["-s", "web", "print", "status"])
        .assert_ok("print status");
    let o = r.svcmgr(&["-s", "web", "delete"]);
    assert!(
        o.stderr_str().contains("service web is up here"),
        "{}",
        o.stderr_str()
    );
    assert!(
        r.path("var/services/web").exists(),
        "state written by status"
    );
    let o = r.svcmgr(&["-s", "web", "delete", "--force"]);
    o.assert_ok("delete --force");
    assert!(!r.conf("web").exists());
    assert!(r.path("etc/web").symlink_metadata().is_err());
    assert!(!r.path("var/services/web").exists());
    let o = r.svcmgr(&["-s", "web", "delete"]);
    assert_eq!(o.code(), 4, "{}", o.stderr_str());
}

#[test]
fn delete_a_down_service() {
    let r = TestRoot::new("n1", &[]);
    r.write_conf(
        "web",
        "[DEFAULT]\nnodes = n1\n[ip#1]\nipname = 127.0.0.254\nipdev = lo\nnetmask = 32\n",
    );
    let o = r.svcmgr(&["-s", "web", "delete"]);
    o.assert_ok("delete");
    assert_eq!(
        o.stdout_str(),
        format!("deleted {}\n", r.conf("web").display())
    );
    assert!(!r.conf("web").exists());
}

/// A peer that runs the service (asked over ssh, as before a start) blocks the delete;
/// `--local` removes only this node's config.
#[test]
fn delete_refuses_while_up_on_a_peer() {
    if !labtests::lab::require_root("delete_refuses_while_up_on_a_peer") {
        return;
    }
    let mut lab = labtests::lab::Lab::new(&["n1", "n2"]);
    lab.enable_ssh();
    let conf = format!(
        "[DEFAULT]\nnodes = n1 n2\n\n[ip#1]\nipname = {}\nipdev = eth0\nnetmask = 24\n",
        lab.subnet_ip(71)
    );
    let (n1, n2) = (lab.node("n1"), lab.node("n2"));
    n1.write_conf("web", &conf);
    n2.write_conf("web", &conf);
    n2.svcmgr(&["-s", "web", "start"]).assert_ok("start on n2");
    let o = n1.svcmgr(&["-s", "web", "delete"]);
    assert_eq!(o.code(), 1, "{}", o.stderr_str());
    assert!(
        o.stderr_str()
            .contains("service web is up on n2: stop it there before deleting it"),
        "{}",
        o.stderr_str()
    );
    assert!(n1.root.join("etc/web.conf").exists());
    n1.svcmgr(&["-s", "web", "delete", "--local"])
        .assert_ok("delete --local");
    assert!(!n1.root.join("etc/web.conf").exists());
    n2.svcmgr(&["-s", "web", "stop"]).assert_ok("stop on n2");
    n2.svcmgr(&["-s", "web", "delete"])
        .assert_ok("delete on n2");
}
