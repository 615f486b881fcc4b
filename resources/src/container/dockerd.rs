//! A service's private dockerd: its data root on the service's filesystem, its socket, pid
//! file, config file and log in `R/var/services/<svc>/`, its exec root under
//! `/run/svcmgr/<svc>/`. Started before the service's first container, stopped after its
//! last one, before the filesystem is unmounted.
//!
//! What keeps several dockerds apart on one host, each passed explicitly (never read from
//! `/etc/docker/daemon.json`, which is the system daemon's):
//! - `-H unix://…/docker.sock`, `--pidfile`, `--exec-root` (libnetwork and containerd state,
//!   the supervised containerd's own socket), `--config-file` (an empty one of its own);
//! - `--containerd-namespace`/`--containerd-plugins-namespace` per service, for a host where
//!   dockerd uses the system containerd (`/run/containerd/containerd.sock`) instead of one of
//!   its own;
//! - `--bridge none`, `--iptables=false`, `--ip-masq=false`: two daemons on one docker0
//!   would hand out the same addresses and rewrite each other's NAT chains;
//! - `--storage-driver overlay2`, `--exec-opt native.cgroupdriver=cgroupfs`: every node opens
//!   the store the same way, whatever its defaults.
//!
//! `docker_daemon_args` replaces any of the defaults it names; the socket, pid file, data
//! root and exec root are svcmgr's and cannot be overridden.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::exec::{self, Cmd, ExecError};
use crate::{Ctx, Error, Result};

/// Bound on the wait for a new daemon to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on a daemon's exit after SIGTERM, then after SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(250);
/// `sun_path` holds 108 bytes, the terminating NUL included.
const MAX_SOCKET_PATH: usize = 107;
/// The longest socket dockerd's supervised containerd makes below the exec root.
const EXEC_ROOT_SOCKET: &str = "/containerd/containerd.sock.ttrpc";
/// Log lines quoted in a start failure.
const LOG_TAIL: usize = 10;

/// Volatile per-service state of the container engines: the same path on every node (podman
/// records its paths in the store), node-local and cleared at boot.
pub const RUN_BASE: &str = "/run/svcmgr";

/// Options svcmgr sets itself; `docker_daemon_args` may not.
const OWNED: &[(&str, Option<char>)] = &[
    ("--host", Some('H')),
    ("--pidfile", Some('p')),
    ("--data-root", Some('g')),
    ("--graph", None),
    ("--exec-root", None),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Dockerd {
    pub exe: String,
    pub data_root: PathBuf,
    /// `docker_daemon_args`.
    pub args: Vec<String>,
}

/// Whether `args` set option `long` (or its one-letter form): `--x v`, `--x=v`, `-x v`,
/// `-x=v`, `-xv`.
fn has_opt(args: &[String], long: &str, short: Option<char>) -> bool {
    args.iter().any(|a| {
        a == long
            || a.strip_prefix(long).is_some_and(|r| r.starts_with('='))
            || short.is_some_and(|c| {
                a.strip_prefix('-')
                    .and_then(|r| r.strip_prefix(c))
                    .is_some_and(|_| !a.starts_with("--"))
            })
    })
}

/// A containerd namespace for the service: `svcmgr.<svc>` when the name is a valid one,
/// else the name's bytes in hex (unique either way).
fn containerd_namespace(svc: &str) -> String {
    let valid = svc
        .split(['.', '_', '-'])
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if valid {
        format!("svcmgr.{svc}")
    } else {
        let hex: String = svc.bytes().map(|b| format!("{b:02x}")).collect();
        format!("svcmgr.{hex}")
    }
}

impl Dockerd {
    /// Refuse `docker_daemon_args` that would take the daemon away from svcmgr.
    pub fn new(exe: &str, data_root: &Path, args: &[String]) -> Result<Dockerd> {
        for (long, short) in OWNED {
            if let Some(arg) = args
                .iter()
                .find(|a| has_opt(std::slice::from_ref(a), long, *short))
            {
                return Err(Error::Failed(format!(
                    "[DEFAULT] docker_daemon_args: {arg} ({long}) is set by svcmgr for the \
                     private daemon (socket, pid file, container_data_dir, exec root)"
                )));
            }
        }
        Ok(Dockerd {
            exe: exe.to_string(),
            data_root: data_root.to_path_buf(),
            args: args.to_vec(),
        })
    }

    pub fn socket(ctx: &Ctx) -> PathBuf {
        ctx.var_dir.join("docker.sock")
    }

    fn pidfile(ctx: &Ctx) -> PathBuf {
        ctx.var_dir.join("docker.pid")
    }

    fn config_file(ctx: &Ctx) -> PathBuf {
        ctx.var_dir.join("dockerd.json")
    }

    pub fn log_file(ctx: &Ctx) -> PathBuf {
        ctx.var_dir.join("dockerd.log")
    }

    fn exec_root(ctx: &Ctx) -> PathBuf {
        Path::new(RUN_BASE).join(&ctx.svcname).join("docker")
    }

    /// `-H unix://<socket>`: every docker command of the service goes there.
    pub fn client_args(ctx: &Ctx) -> Vec<String> {
        vec![
            "-H".into(),
            format!("unix://{}", Self::socket(ctx).display()),
        ]
    }

    /// The daemon's command line.
    pub fn argv(&self, ctx: &Ctx) -> Vec<String> {
        let p = |p: PathBuf| p.display().to_string();
        let mut v: Vec<String> = vec![self.exe.clone()];
        v.extend(Self::client_args(ctx));
        for (k, val) in [
            ("--pidfile", p(Self::pidfile(ctx))),
            ("--data-root", p(self.data_root.clone())),
            ("--exec-root", p(Self::exec_root(ctx))),
        ] {
            v.extend([k.to_string(), val]);
        }
        let ns = containerd_namespace(&ctx.svcname);
        let defaults: [(&str, Option<char>, Vec<String>); 8] = [
            ("--config-file", None, vec![p(Self::config_file(ctx))]),
            ("--storage-driver", Some('s'), vec!["overlay2".into()]),
            ("--bridge", Some('b'), vec!["none".into()]),
            ("--iptables", None, vec![]),
            ("--ip-masq", None, vec![]),
            (
                "--exec-opt",
                None,
                vec!["native.cgroupdriver=cgroupfs".into()],
            ),
            ("--containerd-namespace", None, vec![ns.clone()]),
            (
                "--containerd-plugins-namespace",
                None,
                vec![format!("{ns}.plugins")],
            ),
        ];
        for (long, short, val) in defaults {
            let taken = has_opt(&self.args, long, short)
                || (long == "--bridge" && has_opt(&self.args, "--bip", None))
                || (long == "--exec-opt"
                    && self.args.iter().any(|a| a.contains("native.cgroupdriver")));
            if taken {
                continue;
            }
            if val.is_empty() {
                v.push(format!("{long}=false"));
            } else {
                v.push(long.to_string());
                v.extend(val);
            }
        }
        v.extend(self.args.iter().cloned());
        v
    }

    /// The pid of the service's daemon when it runs: the pid file's process, alive, with
    /// our socket on its command line (a reused pid is not ours).
    pub fn running(ctx: &Ctx) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(Self::pidfile(ctx))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let want = format!("unix://{}", Self::socket(ctx).display());
        cmdline
            .split(|b| *b == 0)
            .any(|a| a == want.as_bytes())
            .then_some(pid)
    }

    /// `docker version` answers: the daemon is up and serving.
    fn answers(ctx: &Ctx) -> std::result::Result<(), ExecError> {
        let mut argv = vec!["docker".to_string()];
        argv.extend(Self::client_args(ctx));
        argv.extend([
            "version".into(),
            "--format".into(),
            "{{.Server.Version}}".into(),
        ]);
        ctx.query(&Cmd::new(argv).timeout(Duration::from_secs(5)))
            .map(|_| ())
    }

    fn check_paths(ctx: &Ctx) -> Result<()> {
        let checks = [
            (Self::socket(ctx), String::new()),
            (Self::exec_root(ctx), EXEC_ROOT_SOCKET.to_string()),
        ];
        for (path, below) in checks {
            let len = path.as_os_str().len() + below.len();
            if len > MAX_SOCKET_PATH {
                return Err(Error::Failed(format!(
                    "{}{below}: a unix socket path of {len} bytes, more than {MAX_SOCKET_PATH}: \
                     use a shorter service name or SVCMGR_ROOT",
                    path.display()
                )));
            }
        }
        Ok(())
    }

    /// Start the daemon unless it runs; wait until it answers. A daemon that exits or does
    /// not answer in time is killed (with its containerd) and the error quotes its log.
    /// True when it was started.
    pub fn ensure_started(&self, ctx: &Ctx, rid: &str) -> Result<bool> {
        if Self::running(ctx).is_some() {
            return Ok(false);
        }
        Self::check_paths(ctx)?;
        let pidfile = Self::pidfile(ctx);
        for leftover in [pidfile.clone(), Self::socket(ctx)] {
            if leftover.exists() && !ctx.dry_run {
                tracing::info!(rid, "remove leftover {}", leftover.display());
                std::fs::remove_file(&leftover).map_err(|e| Error::io(leftover.display(), e))?;
            }
        }
        let config = Self::config_file(ctx);
        if !config.exists() && !ctx.dry_run {
            std::fs::create_dir_all(&ctx.var_dir)
                .map_err(|e| Error::io(ctx.var_dir.display(), e))?;
            std::fs::write(&config, "{}\n").map_err(|e| Error::io(config.display(), e))?;
        }
        let log = Self::log_file(ctx);
        let log_start = std::fs::metadata(&log).map_or(0, |m| m.len());
        tracing::info!(rid, "starting docker daemon");
        let t0 = Instant::now();
        let Some(mut daemon) = ctx.spawn(rid, &Cmd::new(self.argv(ctx)), &log)? else {
            return Ok(true);
        };
        let deadline = t0 + START_TIMEOUT;
        let mut pause = Duration::from_millis(20);
        let failure = loop {
            if let Some(code) = daemon.exited() {
                break format!("dockerd exited with status {code}");
            }
            match Self::answers(ctx) {
                Ok(()) => {
                    exec::record_time("dockerd: start, until it answers", t0.elapsed());
                    tracing::info!(
                        rid,
                        "docker daemon pid {} answers on {} after {:.1}s",
                        daemon.pid(),
                        Self::socket(ctx).display(),
                        t0.elapsed().as_secs_f64()
                    );
                    return Ok(true);
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(POLL);
                }
                Err(e) => {
                    let pid = Pid::from_raw(daemon.pid() as i32);
                    // Its own process group: its containerd goes with it.
                    let _ = killpg(pid, Signal::SIGKILL);
                    break format!("dockerd does not answer after {START_TIMEOUT:?} ({e}): killed");
                }
            }
        };
        Err(Error::Failed(format!(
            "{failure}; the last lines of {}:\n{}",
            log.display(),
            log_tail(&log, log_start)
        )))
    }

    /// After a container stop: when the daemon runs no container any more, stop it (SIGTERM,
    /// then SIGKILL to its process group), bounded. True when it was stopped.
    pub fn stop_if_idle(ctx: &Ctx, rid: &str) -> Result<bool> {
        let Some(pid) = Self::running(ctx) else {
            return Ok(false);
        };
        let mut argv = vec!["docker".to_string()];
        argv.extend(Self::client_args(ctx));
        argv.extend(["ps".into(), "-q".into()]);
        let out = ctx
            .query(&Cmd::new(argv).timeout(QUERY_TIMEOUT))
            .map_err(|e| {
                Error::Failed(format!(
                    "docker daemon pid {pid} does not answer, not stopping it: {e}"
                ))
            })?;
        let running = out.stdout.split_whitespace().count();
        if running > 0 {
            tracing::info!(
                rid,
                "docker daemon still runs {running} container(s): keep it up"
            );
            return Ok(false);
        }
        tracing::info!(
            rid,
            "no more container handled by docker daemon. shut it down"
        );
        if ctx.dry_run {
            return Ok(true);
        }
        let t0 = Instant::now();
        tracing::info!(rid, "kill -TERM {pid} (dockerd)");
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        let gone = wait_gone(ctx, STOP_TIMEOUT)
            || {
                tracing::warn!(
                rid,
                "dockerd pid {pid} still runs {STOP_TIMEOUT:?} after SIGTERM: kill its process group"
            );
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                wait_gone(ctx, KILL_TIMEOUT)
            };
        exec::record_time("dockerd: stop, until it exits", t0.elapsed());
        if !gone {
            return Err(Error::Failed(format!(
                "dockerd pid {pid} is still running after SIGKILL"
            )));
        }
        tracing::info!(
            rid,
            "docker daemon pid {pid} exited after {:.1}s",
            t0.elapsed().as_secs_f64()
        );
        Ok(true)
    }
}

fn wait_gone(ctx: &Ctx, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    loop {
        if Dockerd::running(ctx).is_none() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(POLL);
    }
}

/// The last lines written to `log` since byte `from`.
fn log_tail(log: &Path, from: u64) -> String {
    let bytes = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(bytes.get(from as usize..).unwrap_or(&bytes[..]));
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "(empty)".into();
    }
    lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(var: &Path, svc: &str) -> Ctx {
        Ctx::new(svc, "n1", var.to_path_buf())
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn argv_with_every_default() {
        let d = Dockerd::new("dockerd", Path::new("/srv/web/docker"), &[]).unwrap();
        let c = ctx(Path::new("/r/var/services/web"), "web");
        assert_eq!(
            d.argv(&c).join(" "),
            "dockerd -H unix:///r/var/services/web/docker.sock \
             --pidfile /r/var/services/web/docker.pid --data-root /srv/web/docker \
             --exec-root /run/svcmgr/web/docker --config-file /r/var/services/web/dockerd.json \
             --storage-driver overlay2 --bridge none --iptables=false --ip-masq=false \
             --exec-opt native.cgroupdriver=cgroupfs --containerd-namespace svcmgr.web \
             --containerd-plugins-namespace svcmgr.web.plugins"
        );
    }

    #[test]
    fn user_args_replace_the_defaults_they_name() {
        let args = strs(&[
            "--ip",
            "10.0.0.25",
            "-s=vfs",
            "--bip",
            "172.30.0.1/24",
            "--iptables=true",
            "--exec-opt",
            "native.cgroupdriver=systemd",
            "--config-file=/etc/x.json",
        ]);
        let d = Dockerd::new("/opt/dockerd", Path::new("/d"), &args).unwrap();
        let v = d.argv(&ctx(Path::new("/v"), "a.b"));
        let s = v.join(" ");
        for gone in [
            "--storage-driver",
            "--bridge",
            "--iptables=false",
            "cgroupfs",
            "/v/dockerd.json",
        ] {
            assert!(!s.contains(gone), "{gone} in {s}");
        }
        assert!(
            s.starts_with("/opt/dockerd -H unix:///v/docker.sock"),
            "{s}"
        );
        assert!(
            s.contains("--ip-masq=false --containerd-namespace svcmgr.a.b "),
            "{s}"
        );
        assert!(s.ends_with(&args.join(" ")), "{s}");
    }

    #[test]
    fn svcmgrs_own_options_cannot_be_overridden() {
        for bad in [
            &["-H", "tcp://0.0.0.0:2375"][..],
            &["--host=unix:///x"],
            &["-p", "/x.pid"],
            &["--pidfile=/x"],
            &["--data-root", "/x"],
            &["-g/x"],
            &["--exec-root", "/x"],
        ] {
            let e = Dockerd::new("dockerd", Path::new("/d"), &strs(bad)).unwrap_err();
            assert!(e.to_string().contains("is set by svcmgr"), "{bad:?}: {e}");
        }
        // Prefixes of an owned option's name are other options.
        assert!(Dockerd::new(
            "dockerd",
            Path::new("/d"),
            &strs(&["--hosts-x", "--graph-y"])
        )
        .is_ok());
    }

    #[test]
    fn option_forms() {
        let a = strs(&["-soverlay", "--bridge=br0", "-x"]);
        assert!(has_opt(&a, "--storage-driver", Some('s')));
        assert!(has_opt(&a, "--bridge", Some('b')));
        assert!(!has_opt(&a, "--iptables", None));
        assert!(!has_opt(
            &strs(&["--storage-opt", "x"]),
            "--storage-driver",
            Some('s')
        ));
    }

    #[test]
    fn containerd_namespaces_are_valid_and_unique() {
        assert_eq!(
            containerd_namespace("busybox.opensvc.com"),
            "svcmgr.busybox.opensvc.com"
        );
        assert_eq!(containerd_namespace("a_b-c"), "svcmgr.a_b-c");
        assert_eq!(containerd_namespace("a..b"), "svcmgr.612e2e62");
        assert_eq!(containerd_namespace("-x"), "svcmgr.2d78");
    }

    #[test]
    fn not_running_without_a_live_pid_of_ours() {
        let dir = std::env::temp_dir().join(format!("svcmgr-dockerd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = ctx(&dir, "web");
        assert_eq!(Dockerd::running(&c), None, "no pid file");
        // This test process is alive but has no such socket on its command line.
        std::fs::write(dir.join("docker.pid"), std::process::id().to_string()).unwrap();
        assert_eq!(Dockerd::running(&c), None, "a pid that is not our daemon");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn socket_paths_longer_than_sun_path_are_refused() {
        let long = format!("/r/{}", "v".repeat(100));
        let e = Dockerd::check_paths(&ctx(Path::new(&long), "web")).unwrap_err();
        assert!(e.to_string().contains("more than 107"), "{e}");
        let e = Dockerd::check_paths(&ctx(Path::new("/v"), &"s".repeat(70))).unwrap_err();
        assert!(e.to_string().contains("containerd.sock.ttrpc"), "{e}");
        assert!(
            Dockerd::check_paths(&ctx(Path::new("/var/lib/svcmgr/services/web"), "web")).is_ok()
        );
    }

    #[test]
    fn a_daemon_that_exits_fails_the_start_with_its_log_lines() {
        let dir = std::env::temp_dir().join(format!("svcmgr-dockerd-f-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dockerd.log"), "an earlier run\n").unwrap();
        let rec = crate::fake::Recorder::new();
        rec.daemons_fail(1, "an earlier run\nunknown flag: --bogus\n");
        let c = ctx(&dir, "web").with_executor(rec.clone());
        let d = Dockerd::new("dockerd", Path::new("/srv/d"), &strs(&["--bogus"])).unwrap();
        let e = d.ensure_started(&c, "container#1").unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "dockerd exited with status 1; the last lines of {}:\nunknown flag: --bogus",
                dir.join("dockerd.log").display()
            )
        );
        assert_eq!(rec.calls().len(), 1, "{:?}", rec.calls());
        assert!(rec.calls()[0].starts_with("spawn dockerd -H unix://"));
        assert!(rec.calls()[0].ends_with(" --bogus"));
        assert_eq!(
            std::fs::read_to_string(dir.join("dockerd.json")).unwrap(),
            "{}\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_daemon_that_answers_is_started() {
        let dir = std::env::temp_dir().join(format!("svcmgr-dockerd-s-{}", std::process::id()));
        let rec = crate::fake::Recorder::new();
        let sock = format!("unix://{}/docker.sock", dir.display());
        rec.once(&["docker", "-H", &sock, "version"], 1, "", "Cannot connect")
            .on(&["docker", "-H", &sock, "version"], 0, "20.10.24\n");
        let c = ctx(&dir, "web").with_executor(rec.clone());
        let d = Dockerd::new("dockerd", Path::new("/srv/d"), &[]).unwrap();
        assert!(d.ensure_started(&c, "container#1").unwrap());
        let calls = rec.calls();
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert!(calls[1].starts_with(&format!("docker -H {sock} version")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
