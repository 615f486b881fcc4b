//! The daemon under a real systemd (a Debian rootfs booted by podman, see systemd-lab.md):
//! the packaged unit starts it as Type=notify, the watchdog restarts it when the monitor loop
//! stops making progress (SIGSTOP), and stopping the unit leaves the service and the
//! processes its actions started alive (KillMode=process).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use labtests::lab::{self, unique, wait_until, OutputExt};

const SUITE: &str = "bookworm";
const PKGS: &str = "systemd,systemd-sysv,dbus,iproute2,procps";
const CACHE: &str = "/var/cache/svcmgr/systemd";
const WAIT: Duration = Duration::from_secs(120);

/// Run `argv`, killed with a panic after `timeout`.
fn run(argv: &[&str], timeout: Duration) -> Output {
    let child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", argv[0]));
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(o) => o.unwrap_or_else(|e| panic!("{}: {e}", argv.join(" "))),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("{} did not end within {timeout:?}", argv.join(" "));
        }
    }
}

fn sha12(text: &str) -> String {
    let mut c = Command::new("sha256sum");
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().expect("sha256sum");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)[..12].to_string()
}

/// The booted-systemd image, built once per (suite, packages) and kept in podman's store.
fn image() -> String {
    let key = sha12(&format!("{SUITE}\n{PKGS}\nv1\n"));
    let img = format!("localhost/svcmgr-systemd:{key}");
    if run(&["podman", "image", "exists", &img], WAIT)
        .status
        .success()
    {
        return img;
    }
    std::fs::create_dir_all(CACHE).expect("cache dir");
    let tar = format!("{CACHE}/rootfs-{key}.tar");
    if !Path::new(&tar).exists() {
        let tmp = format!("{tar}.tmp");
        run(
            &[
                "mmdebstrap",
                "--format=tar",
                "--variant=apt",
                &format!("--include={PKGS}"),
                "--dpkgopt=path-exclude=/usr/share/man/*",
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                SUITE,
                &tmp,
                "/etc/apt/sources.list.d/debian.sources",
            ],
            Duration::from_secs(900),
        )
        .assert_ok("mmdebstrap");
        std::fs::rename(&tmp, &tar).expect("rename rootfs");
    }
    run(
        &[
            "podman",
            "import",
            "--change",
            "CMD [\"/sbin/init\"]",
            &tar,
            &img,
        ],
        Duration::from_secs(300),
    )
    .assert_ok("podman import");
    img
}

/// A systemd container, removed on drop.
struct Machine {
    name: String,
}

impl Machine {
    fn exec(&self, argv: &[&str]) -> Output {
        let mut v = vec!["podman", "exec", self.name.as_str()];
        v.extend_from_slice(argv);
        run(&v, WAIT)
    }

    fn sh(&self, script: &str) -> Output {
        self.exec(&["/bin/sh", "-c", script])
    }

    fn show(&self, prop: &str) -> String {
        self.exec(&["systemctl", "show", "-p", prop, "--value", "svcmgr"])
            .stdout_str()
            .trim()
            .to_string()
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = run(&["podman", "rm", "-f", "-t", "2", &self.name], WAIT);
    }
}

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn daemon_under_systemd_notify_watchdog_and_killmode() {
    if !lab::require_root("daemon_under_systemd_notify_watchdog_and_killmode") {
        return;
    }
    let img = image();
    let bin = labtests::lab::svcmgr_bin();
    let bin_dir = bin.parent().expect("bin dir").to_path_buf();
    let unit = repo_file("packaging/svcmgr.service");
    let m = Machine {
        name: unique("svcmgr-sd-"),
    };
    run(
        &[
            "podman",
            "run",
            "-d",
            "--name",
            &m.name,
            "--systemd=always",
            "--network",
            "none",
            "--cap-add",
            "NET_ADMIN,NET_RAW",
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=32768:32768",
            "-v",
            &format!("{}:/opt/svcmgr:ro", bin_dir.display()),
            "-v",
            &format!("{}:/opt/unit/svcmgr.service:ro", unit.display()),
            &img,
            "/sbin/init",
        ],
        WAIT,
    )
    .assert_ok("podman run");
    assert!(
        wait_until(WAIT, "systemd up", || m
            .exec(&["systemctl", "is-system-running", "--wait"])
            .stdout_str()
            .contains("running")
            || m.exec(&["systemctl", "is-system-running"])
                .stdout_str()
                .contains("degraded")),
        "systemd did not come up"
    );
    // A network of the machine's own: a veth pair inside its namespace.
    m.sh(
        "ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up && \
         ip addr add 10.231.0.1/24 dev v0",
    )
    .assert_ok("veth");
    m.sh(
        "cp /opt/svcmgr/svcmgr /usr/bin/svcmgr && cp /opt/unit/svcmgr.service /etc/systemd/system/ && \
         mkdir -p /etc/svcmgr && printf 'nodename = \"sd1\"\\nmonitor_interval = \"1s\"\\n' > /etc/svcmgr/node.toml && \
         printf '[DEFAULT]\\nnodes = sd1\\n\\n[ip#1]\\nipname = 10.231.0.50\\nipdev = v0\\nnetmask = 24\\nmonitor = true\\nrestart = 3\\n\
post_start = /usr/bin/setsid -f /bin/sleep 100007\\n' > /etc/svcmgr/web.conf && systemctl daemon-reload",
    )
    .assert_ok("install");

    // Type=notify: `systemctl start` returns once READY=1 came.
    m.exec(&["systemctl", "enable", "--now", "svcmgr"])
        .assert_ok("systemctl enable --now");
    assert_eq!(m.show("ActiveState"), "active");
    m.exec(&["svcmgr", "daemon", "status"])
        .assert_ok("daemon status");

    m.exec(&["svcmgr", "-s", "web", "start"])
        .assert_ok("start web");
    let has_ip = || {
        m.exec(&["ip", "-o", "addr", "show", "dev", "v0"])
            .stdout_str()
            .contains("10.231.0.50/24")
    };
    assert!(has_ip());
    // Restarted by the monitor: its trigger's process now lives in the unit's cgroup.
    assert!(wait_until(WAIT, "watched", || m
        .exec(&["svcmgr", "-s", "web", "print", "status"])
        .stdout_str()
        .contains("monitor: watching")));
    m.exec(&["ip", "addr", "del", "10.231.0.50/24", "dev", "v0"])
        .assert_ok("ip addr del");
    assert!(
        wait_until(WAIT, "ip restarted", has_ip),
        "{}",
        m.exec(&["journalctl", "-u", "svcmgr", "--no-pager"])
            .stdout_str()
    );
    let sleeps = || {
        m.exec(&["pgrep", "-f", "sleep 100007"])
            .stdout_str()
            .lines()
            .count()
    };
    assert!(wait_until(WAIT, "two trigger processes", || sleeps() == 2));

    // The watchdog: a daemon that stops making progress is killed and restarted.
    assert_eq!(m.show("NRestarts"), "0");
    m.exec(&[
        "systemctl",
        "kill",
        "-s",
        "SIGSTOP",
        "--kill-who=main",
        "svcmgr",
    ])
    .assert_ok("SIGSTOP");
    assert!(
        wait_until(WAIT, "restart by the watchdog", || m.show("NRestarts")
            == "1"
            && m.show("ActiveState") == "active"),
        "{}",
        m.exec(&["journalctl", "-u", "svcmgr", "--no-pager"])
            .stdout_str()
    );
    m.exec(&["svcmgr", "daemon", "status"])
        .assert_ok("daemon status after the restart");
    assert!(has_ip(), "the restart touched the service");

    // Stopping the unit leaves the service up and its processes alive.
    m.exec(&["systemctl", "stop", "svcmgr"])
        .assert_ok("systemctl stop");
    assert_eq!(m.show("ActiveState"), "inactive");
    assert!(has_ip(), "the stop took the service down");
    assert_eq!(sleeps(), 2, "KillMode killed the services' processes");
}
