//! Lab tests of `syncnodes` / `postsync` / `sync#i0`: three nodes (n1, n2 as nodes, n3 as a
//! drpnode), each with its own sshd and root.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use labtests::fixture::period_excluding_now;
use labtests::lab::{self, svcmgr_bin, Lab, Node, OutputExt};

fn conf(ip: &str, period: &str, extra: &str) -> String {
    format!(
        "[DEFAULT]\nnodes = n1 n2\ndrpnodes = n3\nsync_period = {period}\n{extra}\n\
         [ip#1]\nipname = {ip}\nipdev = eth0\nnetmask = 24\n"
    )
}

fn conf_path(n: &Node) -> std::path::PathBuf {
    n.root.join("etc/web.conf")
}

fn read_conf(n: &Node) -> Option<String> {
    std::fs::read_to_string(conf_path(n)).ok()
}

fn status_text(n: &Node) -> String {
    n.svcmgr(&["-s", "web", "print", "status"])
        .assert_ok("print status")
        .stdout_str()
}

fn sync_line(st: &str) -> &str {
    st.lines()
        .find(|l| l.contains("sync#i0"))
        .unwrap_or_else(|| panic!("no sync#i0 in\n{st}"))
}

fn sha256(data: &[u8]) -> String {
    let mut c = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    c.stdin.take().unwrap().write_all(data).unwrap();
    let o = c.wait_with_output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Feed `payload` to `postsync` on `n`, as syncnodes does over ssh.
fn postsync(lab: &Lab, n: &Node, payload: &[u8]) -> Output {
    let file = lab.dir().join(lab::unique("push"));
    std::fs::write(&file, payload).unwrap();
    let cmd = format!(
        "{} -s web postsync --waitlock 5 < {}",
        svcmgr_bin().display(),
        file.display()
    );
    n.sh(&["sh", "-c", &cmd])
}

/// Whether a `postsync` runs as node `n` (its SVCMGR_ROOT in the environment).
fn postsync_running(n: &Node) -> bool {
    let root = format!("SVCMGR_ROOT={}", n.root.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .any(|e| {
            let read = |f: &str| std::fs::read(e.path().join(f)).unwrap_or_default();
            let cmdline = read("cmdline");
            let environ = read("environ");
            cmdline.split(|b| *b == 0).any(|a| a == b"postsync")
                && environ.split(|b| *b == 0).any(|v| v == root.as_bytes())
        })
}

fn payload(gen: u64, stamp: i64, len: usize, data: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "svcmgr-push 1 gen={gen} stamp={stamp} len={len} sha256={} from=n1\n",
        sha256(data)
    )
    .into_bytes();
    v.extend_from_slice(data);
    v
}

fn three_nodes() -> Lab {
    let mut lab = Lab::new(&["n1", "n2", "n3"]);
    lab.enable_ssh();
    lab
}

#[test]
fn window_force_status_and_unreachable_peer() {
    if !lab::require_root("window_force_status_and_unreachable_peer") {
        return;
    }
    let lab = three_nodes();
    let (n1, n2, n3) = (lab.node("n1"), lab.node("n2"), lab.node("n3"));
    let (period, skip_msg) = period_excluding_now(n1);
    let ip = lab.subnet_ip(60);
    n1.write_conf("web", &conf(&ip, &period, ""));
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start on n1");

    // Nothing pushed yet: the owner sees both peers out of date.
    let st = status_text(n1);
    assert!(sync_line(&st).contains(" down "), "{st}");
    assert!(
        st.contains("# n2 need update") && st.contains("# n3 need update"),
        "{st}"
    );
    assert!(st.contains("overall                   warn"), "{st}");

    // Outside the period: skipped, exit 0, nothing pushed.
    let o = n1.svcmgr(&["-s", "web", "syncnodes"]);
    o.assert_ok("syncnodes outside the period");
    let out = o.stdout_str();
    assert!(
        out.lines()
            .any(|l| l.contains(" INFO ") && l.ends_with(&format!("WEB.SYNC#I0 {skip_msg}"))),
        "{out}"
    );
    assert_eq!(read_conf(n2), None);
    assert_eq!(read_conf(n3), None);

    // --force pushes to both peers.
    let o = n1.svcmgr(&["-s", "web", "syncnodes", "--force"]);
    o.assert_ok("syncnodes --force");
    let out = o.stdout_str();
    assert!(
        out.contains("postsync --waitlock 3600' on node n2"),
        "{out}"
    );
    assert!(out.contains("n3: "), "peer lines are prefixed: {out}");
    let mine = read_conf(n1).unwrap();
    assert_eq!(read_conf(n2).as_deref(), Some(mine.as_str()));
    assert_eq!(read_conf(n3).as_deref(), Some(mine.as_str()));
    let st = status_text(n1);
    assert!(sync_line(&st).contains(" up "), "{st}");
    assert!(!st.contains("need update"), "{st}");
    assert!(st.contains("overall                   up"), "{st}");
    // The receivers hold what was last pushed: in sync from their side too.
    let st2 = status_text(n2);
    assert!(sync_line(&st2).contains(" up "), "{st2}");
    // A second push changes nothing and succeeds.
    n1.svcmgr(&["-s", "web", "syncnodes", "--force"])
        .assert_ok("second push");

    // Editing the config makes every peer stale.
    n1.write_conf("web", &conf(&ip, &period, "comment = edited"));
    let st = status_text(n1);
    assert!(sync_line(&st).contains(" down "), "{st}");
    assert!(
        st.contains("# n2 need update") && st.contains("# n3 need update"),
        "{st}"
    );

    // An unreachable peer fails only itself.
    lab.kill_sshd("n3");
    let o = n1.svcmgr(&["-s", "web", "syncnodes", "--force"]);
    o.assert_fails("syncnodes with n3 down");
    let out = o.stdout_str();
    assert!(
        out.lines()
            .any(|l| l.contains("ERROR") && l.contains("n3: can not connect")),
        "{out}"
    );
    let edited = read_conf(n1).unwrap();
    assert_eq!(read_conf(n2).as_deref(), Some(edited.as_str()));
    assert_eq!(read_conf(n3).as_deref(), Some(mine.as_str()));
    let st = status_text(n1);
    assert!(
        st.contains("# n3 need update") && !st.contains("n2 need update"),
        "{st}"
    );

    // Back up: the retry completes the sync.
    lab.start_sshd("n3");
    n1.svcmgr(&["-s", "web", "syncnodes", "--force"])
        .assert_ok("syncnodes after n3 is back");
    assert_eq!(read_conf(n3).as_deref(), Some(edited.as_str()));
    assert!(!status_text(n1).contains("need update"));
}

#[test]
fn owner_only_stale_and_truncated_pushes() {
    if !lab::require_root("owner_only_stale_and_truncated_pushes") {
        return;
    }
    let lab = three_nodes();
    let (n1, n2) = (lab.node("n1"), lab.node("n2"));
    let ip = lab.subnet_ip(61);
    // A period covering the whole day: only the owner rule applies.
    let always = "00:00-23:59";
    n1.write_conf("web", &conf(&ip, always, ""));

    // Not up here: refused without --force, nothing pushed.
    let o = n1.svcmgr(&["-s", "web", "syncnodes"]);
    o.assert_fails("syncnodes from a node where the service is down");
    assert!(
        o.stderr_str().contains("not up on this node"),
        "{}",
        o.stderr_str()
    );
    assert_eq!(read_conf(n2), None);

    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start on n1");
    n1.svcmgr(&["-s", "web", "syncnodes"])
        .assert_ok("syncnodes (gen 1)");
    let v1 = read_conf(n2).expect("pushed");
    n1.write_conf("web", &conf(&ip, always, "comment = v2"));
    n1.svcmgr(&["-s", "web", "syncnodes"])
        .assert_ok("syncnodes (gen 2)");
    let v2 = read_conf(n2).expect("pushed");
    assert!(v2.contains("comment = v2"), "{v2}");

    // A stale push (generation 1, with its valid checksum) does not overwrite generation 2.
    let o = postsync(&lab, n2, &payload(1, 0, v1.len(), v1.as_bytes()));
    o.assert_fails("stale postsync");
    assert!(
        o.stderr_str().contains("refused stale push from n1"),
        "{}",
        o.stderr_str()
    );
    assert_eq!(read_conf(n2).as_deref(), Some(v2.as_str()));

    // A truncated push (fewer bytes than announced) leaves the config in place.
    let v3 = conf(&ip, always, "comment = v3");
    let mut cut = payload(3, 1, v3.len(), v3.as_bytes());
    cut.truncate(cut.len() - 10);
    let o = postsync(&lab, n2, &cut);
    o.assert_fails("truncated postsync");
    assert!(
        o.stderr_str().contains("truncated push"),
        "{}",
        o.stderr_str()
    );
    assert_eq!(read_conf(n2).as_deref(), Some(v2.as_str()));
    // The same over a real connection cut mid-transfer: the ssh client from n1 dies after
    // sending half of the push.
    let mut argv = lab.ssh_argv("n2");
    argv.push(format!(
        "{} -s web postsync --waitlock 5",
        svcmgr_bin().display()
    ));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut client = n1
        .command(&argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let full = payload(3, 1, v3.len(), v3.as_bytes());
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(&full[..full.len() / 2]).unwrap();
    stdin.flush().unwrap();
    assert!(lab::wait_until(
        std::time::Duration::from_secs(10),
        "postsync runs on n2",
        || postsync_running(n2)
    ));
    client.kill().unwrap();
    let _ = client.wait();
    drop(stdin);
    // The receiving postsync ends (bounded) without installing anything.
    assert!(lab::wait_until(
        std::time::Duration::from_secs(10),
        "the cut postsync exits",
        || !n2
            .sh(&[
                "pgrep",
                "-f",
                "-x",
                &format!("{} -s web postsync --waitlock 5", svcmgr_bin().display())
            ])
            .status
            .success()
    ));
    assert_eq!(read_conf(n2).as_deref(), Some(v2.as_str()));

    // A corrupted one too.
    let mut bad = payload(3, 1, v3.len(), v3.as_bytes());
    let last = bad.len() - 1;
    bad[last] ^= 0x20;
    let o = postsync(&lab, n2, &bad);
    o.assert_fails("corrupted postsync");
    assert!(
        o.stderr_str().contains("checksum mismatch"),
        "{}",
        o.stderr_str()
    );
    assert_eq!(read_conf(n2).as_deref(), Some(v2.as_str()));
    // No temp file was left next to the config.
    let leftovers: Vec<String> = std::fs::read_dir(n2.root.join("etc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The complete newer push is installed.
    let o = postsync(&lab, n2, &payload(3, 1, v3.len(), v3.as_bytes()));
    o.assert_ok("complete postsync");
    assert!(o
        .stdout_str()
        .contains("installed config generation 3 from n1"));
    assert_eq!(read_conf(n2).as_deref(), Some(v3.as_str()));
}

#[test]
fn unknown_or_changed_host_key_is_refused_naming_the_host() {
    if !lab::require_root("unknown_or_changed_host_key_is_refused_naming_the_host") {
        return;
    }
    let lab = three_nodes();
    let (n1, n2, n3) = (lab.node("n1"), lab.node("n2"), lab.node("n3"));
    n1.write_conf("web", &conf(&lab.subnet_ip(62), "00:00-23:59", ""));
    let ssh = lab.ssh().expect("ssh enabled");
    let known = std::fs::read_to_string(&ssh.known_hosts).unwrap();
    let line_of = |n: &Node| {
        known
            .lines()
            .find(|l| l.starts_with(&format!("{} ", n.ip)))
            .expect("host line")
            .to_string()
    };
    let toml = std::fs::read_to_string(n1.node_toml()).unwrap();
    let use_known_hosts = |text: &str| {
        let path = lab.dir().join(lab::unique("known_hosts"));
        std::fs::write(&path, text).unwrap();
        let t = toml.replace(
            &format!("known_hosts = \"{}\"", ssh.known_hosts.display()),
            &format!("known_hosts = \"{}\"", path.display()),
        );
        assert_ne!(t, toml, "node.toml names the known_hosts file");
        std::fs::write(n1.node_toml(), t).unwrap();
    };

    // n2 missing from known_hosts: n2 refused, n3 still served.
    use_known_hosts(&format!("{}\n", line_of(n3)));
    let o = n1.svcmgr(&["-s", "web", "syncnodes", "--force"]);
    o.assert_fails("push with n2 unknown");
    let out = o.stdout_str();
    assert!(
        out.contains(&format!("n2: host key of {}:22 is not in", n2.ip)),
        "{out}"
    );
    assert_eq!(read_conf(n2), None);
    assert!(read_conf(n3).is_some());

    // n2 listed with another host's key: refused as changed.
    let n3_key = line_of(n3).split_once(' ').unwrap().1.to_string();
    use_known_hosts(&format!("{} {n3_key}\n{}\n", n2.ip, line_of(n3)));
    let o = n1.svcmgr(&["-s", "web", "syncnodes", "--force"]);
    o.assert_fails("push with n2's key changed");
    let out = o.stdout_str();
    assert!(
        out.contains(&format!("n2: host key of {}:22 does not match", n2.ip)),
        "{out}"
    );
    assert_eq!(read_conf(n2), None);

    // n2 listed only with a key of another type (its ECDSA key; the ed25519 one is
    // negotiated first): the agent asks for that type and accepts it.
    let ecdsa_of = |n: &Node| {
        let p = ssh.dir.join(&n.name).join("ssh_host_ecdsa_key.pub");
        let text = std::fs::read_to_string(p).unwrap();
        let mut f = text.split_whitespace();
        format!("{} {}", f.next().unwrap(), f.next().unwrap())
    };
    use_known_hosts(&format!("{} {}\n{}\n", n2.ip, ecdsa_of(n2), line_of(n3)));
    n1.svcmgr(&["-s", "web", "syncnodes", "--force"])
        .assert_ok("push with only n2's ECDSA key known");
    assert!(read_conf(n2).is_some());

    // ... but an ECDSA key that is not n2's is still a changed key.
    use_known_hosts(&format!("{} {}\n{}\n", n2.ip, ecdsa_of(n3), line_of(n3)));
    let o = n1.svcmgr(&["-s", "web", "syncnodes", "--force"]);
    o.assert_fails("push with a wrong ECDSA key for n2");
    assert!(
        o.stdout_str()
            .contains(&format!("n2: host key of {}:22 does not match", n2.ip)),
        "{}",
        o.stdout_str()
    );
}
