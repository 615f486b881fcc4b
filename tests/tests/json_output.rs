//! `--format json` on the list and print commands, on a root of files only: `ls`,
//! `print schedule`, `mon` without a daemon, `print decision` without a daemon (an error).

use labtests::cliroot::TestRoot;
use labtests::lab::OutputExt;
use serde_json::Value;

fn root() -> TestRoot {
    let r = TestRoot::new("n1", &["n2"]);
    r.write_conf("web", "[DEFAULT]\nnodes = n1 n2\nsync_schedule = @10m\n");
    r.write_conf(
        "broken",
        "[DEFAULT]\nnodes = n1\nno_such_keyword = 1\n[fs#1]\n",
    );
    r
}

fn json(r: &TestRoot, args: &[&str]) -> Value {
    let o = r.svcmgr(args);
    o.assert_ok(&args.join(" "));
    serde_json::from_str(&o.stdout_str())
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{}", o.stdout_str()))
}

#[test]
fn ls_json_lists_every_service_with_its_error() {
    let r = root();
    let v = json(&r, &["ls", "--format", "json"]);
    let list = v.as_array().expect("an array");
    let names: Vec<&str> = list.iter().filter_map(|s| s["svcname"].as_str()).collect();
    assert_eq!(names, ["broken", "web"]);
    assert_eq!(list[1]["avail"], "n/a", "{v}");
    assert_eq!(list[1]["frozen"], false);
    assert!(list[1]["error"].is_null());
    assert_eq!(list[0]["avail"], "undef");
    assert!(
        list[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("fs#1")),
        "{v}"
    );
}

#[test]
fn print_schedule_json_has_one_row_per_task() {
    let r = root();
    let v = json(&r, &["-s", "web", "print", "schedule", "--format", "json"]);
    let rows = v.as_array().expect("an array");
    let sync = rows
        .iter()
        .find(|row| row["keyword"] == "sync_schedule")
        .unwrap_or_else(|| panic!("no sync_schedule row: {v}"));
    assert_eq!(sync["schedule"], "@10m");
    assert!(sync["last_run"].is_null());
    assert!(sync["next_run"].is_string());
}

#[test]
fn mon_json_without_a_daemon_and_print_decision_needs_one() {
    let r = root();
    let v = json(&r, &["mon", "--format", "json"]);
    assert!(v["daemon"].is_null(), "{v}");
    assert_eq!(v["services"]["web"]["svcname"], "web");
    let o = r.svcmgr(&["-s", "web", "print", "decision"]);
    assert_eq!(o.status.code(), Some(1), "{}", o.stderr_str());
    assert!(
        o.stderr_str().contains("no daemon runs on this node"),
        "{}",
        o.stderr_str()
    );
}
