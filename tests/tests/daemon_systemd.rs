//! The Debian package under a real systemd (a Debian rootfs booted by podman, see
//! systemd-lab.md): `dpkg -i` of the .deb `make deb` built enables and starts the unit as
//! Type=notify, the watchdog restarts the daemon when the monitor loop stops making progress
//! (SIGSTOP), stopping the unit leaves the service and the processes its actions started alive
//! (KillMode=process), an upgrade restarts the daemon and runs no action on the service,
//! remove stops the daemon only, purge removes the agent's state.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use std::time::SystemTime;

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

/// The package to test: `$SVCMGR_DEB`, else the newest `svcmgr_*.deb` of `<target>/debian`
/// (`make test` runs `make deb` first).
fn package() -> PathBuf {
    if let Some(p) = std::env::var_os("SVCMGR_DEB") {
        return PathBuf::from(p);
    }
    let bin = labtests::lab::svcmgr_bin();
    let dir = bin
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("debian");
    let newest = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.starts_with("svcmgr_") && n.ends_with(".deb")
        })
        .max_by_key(|p| {
            p.metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH)
        });
    newest.unwrap_or_else(|| {
        panic!(
            "no svcmgr_*.deb in {}: run `make deb` (make test does)",
            dir.display()
        )
    })
}

const WEB_CONF: &str = "[DEFAULT]\nnodes = sd1\n\n[ip#1]\nipname = 10.231.0.50\nipdev = v0\n\
                        netmask = 24\nmonitor = true\nrestart = 3\n\
                        post_start = /usr/bin/setsid -f /bin/sleep 100007\n";

#[test]
fn deb_under_systemd_notify_watchdog_killmode_upgrade_purge() {
    if !lab::require_root("deb_under_systemd_notify_watchdog_killmode_upgrade_purge") {
        return;
    }
    let deb = package();
    eprintln!("package under test: {}", deb.display());
    let img = image();
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
            &format!("{}:/opt/pkg/svcmgr.deb:ro", deb.display()),
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
    let journal = || {
        m.exec(&["journalctl", "-u", "svcmgr", "--no-pager"])
            .stdout_str()
    };
    // A network of the machine's own: a veth pair inside its namespace.
    m.sh(
        "ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up && \
         ip addr add 10.231.0.1/24 dev v0",
    )
    .assert_ok("veth");

    // Install: enabled and started; Type=notify, so active means READY=1 came.
    m.exec(&["dpkg", "-i", "/opt/pkg/svcmgr.deb"])
        .assert_ok("dpkg -i");
    assert_eq!(
        m.exec(&["systemctl", "is-enabled", "svcmgr"])
            .stdout_str()
            .trim(),
        "enabled"
    );
    assert_eq!(m.show("ActiveState"), "active", "{}", journal());
    m.exec(&["svcmgr", "daemon", "status"])
        .assert_ok("daemon status");
    m.sh(
        "test -x /usr/bin/svcmgr && test -f /usr/share/bash-completion/completions/svcmgr && \
          grep -q '^monitor_interval = \"5s\"' /etc/svcmgr/node.toml && \
          grep -qx /etc/svcmgr/node.toml /var/lib/dpkg/info/svcmgr.conffiles",
    )
    .assert_ok("the package's files");

    // The administrator's changes: the node's name and a faster monitor in the conffile
    // (uncommented example lines), a service.
    m.sh(&format!(
        "sed -i -e 's/^monitor_interval = .*/monitor_interval = \"1s\"/' \
                -e 's/^# nodename = .*/nodename = \"sd1\"/' /etc/svcmgr/node.toml && \
         printf '{WEB_CONF}' > /etc/svcmgr/web.conf && systemctl restart svcmgr"
    ))
    .assert_ok("configure");
    m.exec(&["svcmgr", "-s", "web", "start"])
        .assert_ok("start web");
    let has_ip = || {
        m.exec(&["ip", "-o", "addr", "show", "dev", "v0"])
            .stdout_str()
            .contains("10.231.0.50/24")
    };
    assert!(has_ip());
    let watched = || {
        m.exec(&["svcmgr", "-s", "web", "print", "status"])
            .stdout_str()
            .contains("monitor: watching")
    };
    // Restarted by the monitor: its trigger's process now lives in the unit's cgroup.
    assert!(wait_until(WAIT, "watched", watched));
    m.exec(&["ip", "addr", "del", "10.231.0.50/24", "dev", "v0"])
        .assert_ok("ip addr del");
    assert!(wait_until(WAIT, "ip restarted", has_ip), "{}", journal());
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
        journal()
    );
    m.exec(&["svcmgr", "daemon", "status"])
        .assert_ok("daemon status after the restart");
    assert!(has_ip(), "the restart touched the service");

    // Upgrade (the same package again is an upgrade to dpkg: prerm upgrade, postinst
    // configure with the old version): a new daemon, the conffile kept without a prompt
    // (stdin is /dev/null), no action on the service.
    assert!(wait_until(WAIT, "watched again", watched));
    let log_len = || {
        m.exec(&["stat", "-c", "%s", "/var/log/svcmgr/web.log"])
            .stdout_str()
            .trim()
            .parse::<u64>()
            .expect("web.log size")
    };
    let before = log_len();
    let pid = m.show("MainPID");
    m.exec(&["dpkg", "-i", "/opt/pkg/svcmgr.deb"])
        .assert_ok("dpkg -i (upgrade)");
    assert_eq!(m.show("ActiveState"), "active", "{}", journal());
    assert_ne!(
        m.show("MainPID"),
        pid,
        "the upgrade did not restart the daemon"
    );
    m.sh("grep -q '^monitor_interval = \"1s\"' /etc/svcmgr/node.toml")
        .assert_ok("the conffile's change survives the upgrade");
    // The new daemon has evaluated the service (and would have acted by now if it were to).
    assert!(wait_until(WAIT, "adopted", watched));
    std::thread::sleep(Duration::from_secs(3));
    assert!(has_ip(), "the upgrade took the service down");
    assert_eq!(sleeps(), 2, "the upgrade killed the services' processes");
    let after = log_len();
    assert_eq!(
        after,
        before,
        "the upgrade ran an action: {}",
        m.exec(&[
            "tail",
            "-c",
            &(after.saturating_sub(before)).to_string(),
            "/var/log/svcmgr/web.log"
        ])
        .stdout_str()
    );

    // Stopping the unit leaves the service up and its processes alive.
    m.exec(&["systemctl", "stop", "svcmgr"])
        .assert_ok("systemctl stop");
    assert_eq!(m.show("ActiveState"), "inactive");
    assert!(has_ip(), "the stop took the service down");
    assert_eq!(sleeps(), 2, "KillMode killed the services' processes");

    // Remove stops a running daemon, and only it.
    m.exec(&["systemctl", "start", "svcmgr"])
        .assert_ok("systemctl start");
    m.exec(&["dpkg", "-r", "svcmgr"]).assert_ok("dpkg -r");
    assert_ne!(m.show("ActiveState"), "active");
    assert!(
        !m.exec(&["pgrep", "-f", "svcmgr daemon run"])
            .status
            .success(),
        "a daemon still runs after remove"
    );
    assert!(has_ip(), "remove took the service down");
    assert_eq!(sleeps(), 2, "remove killed the services' processes");
    m.sh("test -d /var/lib/svcmgr && test -f /etc/svcmgr/node.toml && ! test -e /usr/bin/svcmgr")
        .assert_ok("remove keeps the state and the conffile, removes the binary");

    // Purge: the agent's state, logs and conffile go; the service config is the admin's.
    m.exec(&["dpkg", "-P", "svcmgr"]).assert_ok("dpkg -P");
    m.sh("! test -e /var/lib/svcmgr && ! test -e /var/log/svcmgr && \
          ! test -e /etc/svcmgr/node.toml && test -f /etc/svcmgr/web.conf")
        .assert_ok("purge removes the state");
}
