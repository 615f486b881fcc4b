//! OpenSVC 2.x spellings and the command line's help for the lost: `svcmgr` alone, typos,
//! `print status -r`, `sync nodes|drp|all`, `startstandby`.

use labtests::cliroot::TestRoot;
use labtests::lab::OutputExt;

fn root() -> TestRoot {
    let r = TestRoot::new("n1", &["n2"]);
    // 127.0.0.1 on lo is up on any host: nothing is changed.
    r.write_conf(
        "web",
        "[DEFAULT]\nnodes = n1 n2\n[ip#1]\nipname = 127.0.0.1\nipdev = lo\nnetmask = 8\nstandby = true\n",
    );
    r.write_conf("db", "[DEFAULT]\nnodes = n1\n");
    r
}

#[test]
fn no_arguments_lists_the_services_with_a_hint() {
    let r = root();
    let o = r.svcmgr(&[]);
    o.assert_ok("svcmgr");
    assert_eq!(o.stdout_str(), r.svcmgr(&["ls"]).stdout_str());
    let out = o.stdout_str();
    let names: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(names, ["db", "web"]);
    assert!(
        o.stderr_str()
            .starts_with("hint: svcmgr -s SVC print status"),
        "{}",
        o.stderr_str()
    );
    let o = r.svcmgr(&["-s", "web"]);
    assert_eq!(o.code(), 2);
    assert!(
        o.stderr_str().contains("needs an action"),
        "{}",
        o.stderr_str()
    );
}

#[test]
fn unknown_actions_get_the_closest_one() {
    let r = root();
    for (typed, want) in [
        (
            &["strat"][..],
            "unknown action 'strat': did you mean 'start'?",
        ),
        (
            &["print", "stauts"][..],
            "unknown action 'print stauts': did you mean 'print status'?",
        ),
        (&["edit", "cofnig"][..], "did you mean 'edit config'?"),
        (
            &["frobnicate"][..],
            "unknown action 'frobnicate' (svcmgr --help lists the actions)",
        ),
    ] {
        let mut a = vec!["-s", "web"];
        a.extend_from_slice(typed);
        let o = r.svcmgr(&a);
        assert_eq!(o.code(), 2, "{typed:?}");
        assert!(
            o.stderr_str().contains(want),
            "{typed:?}: {}",
            o.stderr_str()
        );
    }
}

#[test]
fn spellings_of_2x() {
    let r = root();
    let o = r.svcmgr(&["-s", "web", "print", "status", "-r", "--color", "never"]);
    o.assert_ok("print status -r");
    assert!(o.stdout_str().contains("ip#1"), "{}", o.stdout_str());
    assert!(o
        .stderr_str()
        .contains("status source: local evaluation (--refresh)"));

    // Standby resources only, and no peer is asked (n2 does not exist).
    let o = r.svcmgr(&["-s", "web", "startstandby"]);
    o.assert_ok("startstandby");
    o.assert_logs("WEB.IP#1 127.0.0.1 is already up on lo");
    let o = r.svcmgr(&["-s", "db", "startstandby"]);
    assert_eq!(o.stdout_str(), "db: no standby resource\n");

    // sync drp: the drpnodes only (none here); sync all / sync nodes: every peer.
    let o = r.svcmgr(&["-s", "web", "sync", "drp", "--sync-anyway"]);
    o.assert_ok("sync drp");
    o.assert_logs("no peer node to push to");
    for words in [
        &["sync", "nodes"][..],
        &["sync", "all"][..],
        &["syncall"][..],
    ] {
        let mut a = vec!["-s", "db"];
        a.extend_from_slice(words);
        a.push("--sync-anyway");
        let o = r.svcmgr(&a);
        assert!(
            !o.stderr_str().contains("unknown action"),
            "{words:?}: {}",
            o.stderr_str()
        );
    }
}
