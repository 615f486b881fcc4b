//! Lab tests of `[sync#N] type = rsync`: two nodes with their own sshd, root and mount
//! namespace; the data directory is a tmpfs mounted apart in each node, so only rsync can
//! carry a file from one to the other.

use std::path::{Path, PathBuf};

use labtests::lab::{self, Lab, Node, OutputExt};

fn conf(ip: &str, data: &Path) -> String {
    let d = data.display();
    format!(
        "[DEFAULT]\nnodes = n1 n2\nsync_period = 00:00-23:59\n\
         [ip#1]\nipname = {ip}\nipdev = eth0\nnetmask = 24\n\
         [sync#1]\ntype = rsync\nsrc = {d}/\ndst = {d}\ndstfs = {d}\ntarget = nodes\n\
         options = --exclude=*.tmp\n"
    )
}

fn mount_tmpfs(n: &Node, dir: &Path) {
    let d = dir.to_str().unwrap();
    n.sh(&["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", d])
        .assert_ok("mount tmpfs");
}

fn write_in(n: &Node, file: &Path, text: &str) {
    let cmd = format!("printf %s '{text}' > {}", file.display());
    n.sh(&["sh", "-c", &cmd]).assert_ok("write a file");
}

fn read_in(n: &Node, file: &Path) -> Option<String> {
    let o = n.sh(&["cat", file.to_str().unwrap()]);
    o.status.success().then(|| o.stdout_str())
}

fn rsync_line(st: &str) -> String {
    st.lines()
        .skip_while(|l| !l.contains("sync#1"))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n")
}

fn status_text(n: &Node) -> String {
    n.svcmgr(&["-s", "web", "print", "status"])
        .assert_ok("print status")
        .stdout_str()
}

fn data_dir(lab: &Lab) -> PathBuf {
    let d = lab.dir().join(lab::unique("data"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn syncnodes_sends_the_data_only_to_a_mounted_dstfs() {
    if !lab::require_root("syncnodes_sends_the_data_only_to_a_mounted_dstfs") {
        return;
    }
    let mut lab = Lab::new(&["n1", "n2"]);
    lab.enable_ssh();
    let (n1, n2) = (lab.node("n1"), lab.node("n2"));
    let data = data_dir(&lab);
    mount_tmpfs(n1, &data);
    write_in(n1, &data.join("db"), "rows");
    write_in(n1, &data.join("scratch.tmp"), "junk");
    n1.write_conf("web", &conf(&lab.subnet_ip(61), &data));
    n1.svcmgr(&["-s", "web", "syncnodes"])
        .assert_fails("syncnodes before the service is up");
    n1.svcmgr(&["-s", "web", "start"]).assert_ok("start on n1");

    // Never synced: down where the service is up, n/a on the peer.
    let st = status_text(n1);
    let line = rsync_line(&st);
    assert!(
        line.contains(" down ") && line.contains("n2 need update"),
        "{st}"
    );
    assert!(st.contains("overall                   warn"), "{st}");

    // n2 has no filesystem on dstfs: nothing is written into the directory under it.
    let o = n1.svcmgr(&["-s", "web", "syncnodes"]);
    o.assert_fails("syncnodes to an unmounted dstfs");
    let log = o.stdout_str() + &o.stderr_str();
    assert!(log.contains("is not a mount point"), "{log}");
    assert!(read_in(n2, &data.join("db")).is_none(), "{log}");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0, "{log}");
    assert!(rsync_line(&status_text(n1)).contains("n2 need update"));

    // Mounted: the data goes, the excluded file does not, the status is up.
    mount_tmpfs(n2, &data);
    let o = n1.svcmgr(&["-s", "web", "syncnodes"]);
    o.assert_ok("syncnodes");
    let log = o.stdout_str() + &o.stderr_str();
    assert!(log.contains("n2: synced"), "{log}");
    assert_eq!(read_in(n2, &data.join("db")).as_deref(), Some("rows"));
    assert!(read_in(n2, &data.join("scratch.tmp")).is_none());
    let st = status_text(n1);
    assert!(rsync_line(&st).contains(" up "), "{st}");
    let st2 = n2
        .svcmgr(&["-s", "web", "print", "status"])
        .assert_ok("print status on n2")
        .stdout_str();
    assert!(rsync_line(&st2).contains(" n/a "), "{st2}");

    // --delete: a file removed on the owner goes on the peer at the next sync.
    n1.sh(&["rm", data.join("db").to_str().unwrap()])
        .assert_ok("rm");
    write_in(n1, &data.join("db2"), "more");
    n1.svcmgr(&["-s", "web", "syncnodes"])
        .assert_ok("second syncnodes");
    assert!(read_in(n2, &data.join("db")).is_none());
    assert_eq!(read_in(n2, &data.join("db2")).as_deref(), Some("more"));
    n1.svcmgr(&["-s", "web", "stop"]).assert_ok("stop");
}
