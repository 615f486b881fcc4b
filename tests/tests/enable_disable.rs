//! `disable` / `enable` through the binary: the flag and status in the tree, an action
//! skipping the disabled resource (a dry run: nothing is changed on the host).

use labtests::cliroot::TestRoot;
use labtests::lab::OutputExt;

const CONF: &str =
    "[DEFAULT]\nnodes = n1\n\n[ip#1]\nipname = 127.0.0.1\nipdev = lo\nnetmask = 8\n\n\
                    [ip#2]\nipname = 127.0.0.1\nipdev = lo\nnetmask = 8\n";

fn line(r: &TestRoot, rid: &str) -> String {
    let o = r.svcmgr(&["-s", "web", "print", "status", "--color", "never"]);
    o.assert_ok("print status");
    o.stdout_str()
        .lines()
        .find(|l| l.contains(rid))
        .unwrap_or_else(|| panic!("no {rid} in\n{}", o.stdout_str()))
        .to_string()
}

#[test]
fn disabled_resources_are_flagged_and_skipped() {
    let r = TestRoot::new("n1", &[]);
    r.write_conf("web", CONF);
    assert!(
        line(&r, "ip#1").contains(" .... up "),
        "{}",
        line(&r, "ip#1")
    );
    r.svcmgr(&["-s", "web", "disable", "--rid", "ip#1"])
        .assert_ok("disable");
    assert!(r
        .read_conf("web")
        .contains("netmask = 8\ndisable = true\n\n[ip#2]"));
    let l = line(&r, "ip#1");
    assert!(l.contains(" .D.. n/a "), "{l}");
    assert!(line(&r, "ip#2").contains(" .... up "));
    let o = r.svcmgr(&["-s", "web", "start", "--dry-run"]);
    o.assert_ok("start --dry-run");
    o.assert_logs("WEB.IP#1 disabled, skip");

    // The whole service, then everything enabled again.
    r.svcmgr(&["-s", "web", "disable"]).assert_ok("disable");
    assert!(
        line(&r, "ip#2").contains(" .D.. n/a "),
        "{}",
        line(&r, "ip#2")
    );
    let o = r.svcmgr(&["-s", "web", "print", "status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout_str()).unwrap();
    assert_eq!(v["resources"][1]["flags"]["disabled"], true);
    r.svcmgr(&["-s", "web", "enable", "--rid", "ip#2"])
        .assert_ok("enable ip#2");
    assert!(
        line(&r, "ip#2").contains(" .... up "),
        "{}",
        line(&r, "ip#2")
    );
    assert!(line(&r, "ip#1").contains(" .D.. n/a "));
    r.svcmgr(&["-s", "web", "enable"]).assert_ok("enable");
    assert_eq!(r.read_conf("web"), CONF);

    let o = r.svcmgr(&["-s", "web", "disable", "--rid", "fs"]);
    assert_eq!(o.code(), 1);
    assert!(o
        .stderr_str()
        .contains("no resource section matches --rid fs"));
}
