//! `svcmgr logs` through the binary: what an action logged, filters, json, `--follow`.

use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use labtests::cliroot::TestRoot;
use labtests::lab::{wait_until, OutputExt};

const OLD: &str = "\
2020-01-01 10:00:00 INFO    WEB.IP#1 ip addr add 10.0.0.50/24 dev eth0
2020-01-01 10:00:01 INFO    WEB.FS#1 e2fsck -p /dev/vg/lv
/dev/vg/lv: clean
2020-01-01 10:00:02 ERROR   WEB.FS#1 mount failed
";

fn root() -> TestRoot {
    let r = TestRoot::new("n1", &[]);
    r.write_conf(
        "web",
        "[DEFAULT]\nnodes = n1\n[ip#1]\nipname = 127.0.0.1\nipdev = lo\nnetmask = 8\n",
    );
    std::fs::create_dir_all(r.path("log")).unwrap();
    std::fs::write(r.path("log/web.log"), OLD).unwrap();
    r
}

fn logs(r: &TestRoot, args: &[&str]) -> String {
    let mut a = vec!["-s", "web", "logs"];
    a.extend_from_slice(args);
    let o = r.svcmgr(&a);
    o.assert_ok("logs");
    o.stdout_str()
}

#[test]
fn filters_and_json() {
    let r = root();
    // An action appends dated lines.
    r.svcmgr(&["-s", "web", "start"]).assert_ok("start");
    let all = logs(&r, &[]);
    assert!(all.starts_with(OLD), "{all}");
    assert!(
        all.contains(" INFO    WEB.IP#1 127.0.0.1 is already up on lo"),
        "{all}"
    );

    let cases: &[(&[&str], &str)] = &[
        (&["--rid", "fs"], "2020-01-01 10:00:01 INFO    WEB.FS#1 e2fsck -p /dev/vg/lv\n/dev/vg/lv: clean\n2020-01-01 10:00:02 ERROR   WEB.FS#1 mount failed\n"),
        (&["--level", "error"], "2020-01-01 10:00:02 ERROR   WEB.FS#1 mount failed\n"),
    ];
    for (args, want) in cases {
        assert_eq!(logs(&r, args), *want, "{args:?}");
    }
    // Since today: the old records go, the action's stay.
    let today = logs(&r, &["--since", "00:00"]);
    assert!(!today.contains("2020-01-01"), "{today}");
    assert!(today.contains("WEB.IP#1"), "{today}");
    let since = logs(&r, &["--since", "2020-01-01 10:00:01", "--rid", "ip#1"]);
    assert!(!since.contains("ip addr add"), "{since}");

    let json = logs(
        &r,
        &["--format", "json", "--rid", "fs#1", "--level", "info"],
    );
    let recs: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["time"], "2020-01-01 10:00:01");
    assert_eq!(recs[0]["clock"], "10:00:01");
    assert_eq!(recs[0]["level"], "INFO");
    assert_eq!(recs[0]["who"], "WEB.FS#1");
    assert_eq!(recs[0]["rid"], "fs#1");
    assert_eq!(
        recs[0]["message"],
        "e2fsck -p /dev/vg/lv\n/dev/vg/lv: clean"
    );

    for (args, want) in [
        (&["--level", "loud"][..], "bad --level 'loud'"),
        (&["--since", "yesterday"][..], "bad --since 'yesterday'"),
    ] {
        let mut a = vec!["-s", "web", "logs"];
        a.extend_from_slice(args);
        let o = r.svcmgr(&a);
        assert_eq!(o.code(), 1);
        assert!(o.stderr_str().contains(want), "{}", o.stderr_str());
    }
    let o = r.svcmgr(&["-s", "nolog", "logs"]);
    assert_eq!(o.code(), 1);
    assert!(o.stderr_str().contains("no log file"), "{}", o.stderr_str());
}

#[test]
fn follow_prints_what_is_appended() {
    let r = root();
    let mut child = r
        .cmd(&["-s", "web", "logs", "--follow", "--rid", "fs#1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("logs --follow");
    let out = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = out.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let seen = |s: &str| out.lock().unwrap().contains(s);
    let ok = wait_until(Duration::from_secs(60), "the existing lines", || {
        seen("mount failed")
    });
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(r.path("log/web.log"))
        .unwrap();
    f.write_all(b"2020-01-01 11:00:00 INFO    WEB.IP#1 not this one\n2020-01-01 11:00:01 WARNING WEB.FS#1 appended\n  its second line\n")
        .unwrap();
    let appended = ok
        && wait_until(Duration::from_secs(60), "the appended lines", || {
            seen("its second line")
        });
    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap();
    let out = out.lock().unwrap().clone();
    assert!(ok && appended, "{out}");
    assert!(!out.contains("not this one"), "{out}");
    assert!(
        out.ends_with("2020-01-01 11:00:01 WARNING WEB.FS#1 appended\n  its second line\n"),
        "{out}"
    );
}

#[test]
fn the_node_log() {
    let r = root();
    std::fs::write(
        r.path("log/node.log"),
        "2020-01-01 09:00:00 INFO    SVCMGR daemon started\n",
    )
    .unwrap();
    let o = r.svcmgr(&["logs"]);
    o.assert_ok("logs");
    assert_eq!(
        o.stdout_str(),
        "2020-01-01 09:00:00 INFO    SVCMGR daemon started\n"
    );
}
