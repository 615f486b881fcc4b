//! The container driver: one named container run by podman or docker (same CLI surface),
//! the runtime binary taken from PATH and configured by the inherited environment
//! (`CONTAINERS_CONF`, `DOCKER_HOST`), or, with `container_data_dir`, in the service's own
//! store on its filesystem (`store`, `dockerd`).
//!
//! A runtime that cannot answer is an error or a warning, never "down": a service must not
//! be started elsewhere because this node's runtime is sick.

pub mod dockerd;
pub mod inspect;
pub mod store;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use svcconf::{ContainerStore, ResourceConfig, ServiceConfig};

use crate::exec::{self, Cmd, ExecError};
use crate::{Ctx, Driver, Error, ResStatus, Result, Status};
use inspect::{Inspect, Runtime};
use store::Store;

/// Bound on read-only runtime calls and on `kill`/`rm`.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Added to the stop grace for the `stop` call itself.
const STOP_MARGIN: Duration = Duration::from_secs(30);
/// How long a killed container may take to be seen down.
const KILL_WAIT: Duration = Duration::from_secs(30);
/// Polling starts fast (a container is usually up by the time `run -d` returns) and backs
/// off to this.
const POLL: Duration = Duration::from_millis(250);
const FIRST_POLL: Duration = Duration::from_millis(10);

fn backoff(d: &mut Duration) -> Duration {
    let now = *d;
    *d = (*d * 2).min(POLL);
    now
}

pub struct Container {
    rid: String,
    runtime: Runtime,
    store: Store,
    image: String,
    run_args: Vec<String>,
    /// What the 2.x keywords add to the run command (`--volume`, `-e`, `--hostname`...).
    run_options: Vec<String>,
    run_command: Vec<String>,
    /// `rm`: remove the container after stopping it.
    rm: bool,
    /// The `name` keyword; unset: `<svcname>.container.<id>` (OpenSVC's name: the id is
    /// the rid's part after `#`, `1` or `web`).
    name: Option<String>,
    id: String,
    start_timeout: Duration,
    grace: u64,
    /// `<shortid>@<image>` as last seen by `status`, for the label.
    seen: Mutex<Option<String>>,
}

/// `netns`, `pidns`, `ipcns`, `utsns`, `userns` -> the run options (`--net=host`...), as
/// OpenSVC's: `container#<id>` is the container of that rid, `--net=container:<its name>`.
pub fn namespaces(svc: &ServiceConfig, rc: &ResourceConfig) -> Result<Vec<String>> {
    let mut v = Vec::new();
    for (kw, flag) in [
        ("netns", "--net"),
        ("pidns", "--pid"),
        ("ipcns", "--ipc"),
        ("utsns", "--uts"),
        ("userns", "--userns"),
    ] {
        let Some(val) = rc.str(kw) else {
            continue;
        };
        let val = if val.starts_with("container#") {
            let target = svc
                .resources
                .iter()
                .find(|r| r.rid == val && r.group == svcconf::Group::Container)
                .ok_or_else(|| {
                    Error::Failed(format!(
                        "{}: {kw} = {val}: no such container in the service",
                        rc.rid
                    ))
                })?;
            let name = target.str("name").map_or_else(
                || format!("{}.container.{}", svc.name, target.id()),
                str::to_string,
            );
            format!("container:{name}")
        } else {
            val.to_string()
        };
        v.push(format!("{flag}={val}"));
    }
    Ok(v)
}

impl Container {
    /// `store`: the service's `container_data_dir` and daemon keywords, when set.
    pub fn new(rc: &ResourceConfig, store: Option<&ContainerStore>) -> Result<Container> {
        let rtype = rc.rtype.as_deref().unwrap_or("oci");
        let runtime = Runtime::from_keyword(rtype, std::env::var_os("PATH").as_deref())
            .ok_or_else(|| {
                Error::Failed(format!(
                "{}: container type '{rtype}' is not supported (expected oci, podman or docker)",
                rc.rid
            ))
            })?;
        let image = rc
            .str("run_image")
            .map(str::to_string)
            .ok_or_else(|| Error::Failed(format!("{}: run_image is not set", rc.rid)))?;
        let store = Store::new(runtime, store)?;
        Ok(Container {
            rid: rc.rid.clone(),
            runtime,
            store,
            image,
            run_args: rc.list("run_args").to_vec(),
            run_options: inspect::run_options(&inspect::RunOptions {
                hostname: rc.str("hostname"),
                entrypoint: rc.str("entrypoint"),
                user: rc.str("user"),
                privileged: rc.bool("privileged"),
                interactive: rc.bool("interactive"),
                tty: rc.bool("tty"),
                volumes: rc.list("volume_mounts"),
                environment: rc.list("environment"),
            }),
            run_command: rc.list("run_command").to_vec(),
            rm: rc.bool("rm"),
            name: rc.str("name").map(str::to_string),
            id: rc.id().to_string(),
            start_timeout: rc
                .duration("start_timeout")
                .unwrap_or(exec::DEFAULT_TIMEOUT),
            grace: inspect::stop_grace(rc.duration("stop_timeout")),
            seen: Mutex::new(None),
        })
    }

    /// Add the namespace options (`namespaces`) to the run command.
    pub fn sharing(mut self, flags: Vec<String>) -> Container {
        self.run_options.extend(flags);
        self
    }

    /// The container name: the service name is only known at action time.
    pub fn name(&self, ctx: &Ctx) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("{}.container.{}", ctx.svcname, self.id))
    }

    /// The runtime command `argv` (`[bin, subcommand…]`) against the resource's store.
    fn cmd(&self, ctx: &Ctx, argv: Vec<String>, timeout: Duration) -> Cmd {
        Cmd::new(self.store.argv(self.runtime, ctx, &argv[1..])).timeout(timeout)
    }

    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// The container named `name`, `None` when the runtime says there is none or answers
    /// with another container (an id prefix match). Any other runtime failure is an error.
    /// `cached`: share one query per status run.
    fn inspect(&self, ctx: &Ctx, name: &str, cached: bool) -> Result<Option<Inspect>> {
        let cmd = self.cmd(
            ctx,
            inspect::inspect_args(self.runtime, name),
            QUERY_TIMEOUT,
        );
        let out = if cached {
            ctx.query_cached(&cmd)
        } else {
            ctx.query(&cmd)
        };
        match out {
            Ok(o) => {
                let named = inspect::parse_named(&o.stdout, name).map_err(|e| {
                    Error::Failed(format!(
                        "can not parse the output of {}: {e}",
                        cmd.display()
                    ))
                })?;
                if named.is_none() {
                    if let Ok(Some(other)) = inspect::parse(&o.stdout) {
                        tracing::debug!(
                            rid = %self.rid,
                            "{name} matched container {} named {}: not ours",
                            other.short_id(),
                            other.bare_name()
                        );
                    }
                }
                Ok(named)
            }
            Err(ExecError::Failed { code, stderr, .. }) if inspect::is_absent(code, &stderr) => {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn remember(&self, label: Option<String>) {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = label;
    }

    fn label_of(&self, c: &Inspect) -> String {
        let image = match c.image_label() {
            "" => self.image.as_str(),
            i => i,
        };
        format!("{}@{image}", c.short_id())
    }

    /// Poll until the container runs; fail early when it ended, bounded by start_timeout.
    fn wait_up(&self, ctx: &Ctx, name: &str) -> Result<()> {
        tracing::info!(rid = %self.rid, "wait for container up status");
        let deadline = Instant::now() + self.start_timeout;
        let mut pause = FIRST_POLL;
        loop {
            let state = match self.inspect(ctx, name, false)? {
                Some(c) if c.is_up() => return Ok(()),
                Some(c) if c.has_ended() => {
                    return Err(Error::Failed(format!(
                        "container {name} did not stay up: {}",
                        c.describe_state()
                    )))
                }
                // A restarting container may still settle: wait, but never call it up.
                Some(c) => c.describe_state(),
                None => "not found".to_string(),
            };
            if Instant::now() >= deadline {
                return Err(Error::Failed(format!(
                    "container {name} is not up after {:?} (start_timeout): {state}",
                    self.start_timeout
                )));
            }
            std::thread::sleep(backoff(&mut pause));
        }
    }

    /// Whether the container still runs (paused and restarting count as running: they
    /// hold their resources).
    fn still_running(&self, ctx: &Ctx, name: &str) -> Result<bool> {
        Ok(self
            .inspect(ctx, name, false)?
            .is_some_and(|c| holds_resources(&c)))
    }

    /// Kill the container `id`, then wait for `name` to be seen down.
    fn kill(&self, ctx: &Ctx, name: &str, id: &str) -> Result<()> {
        let killed = ctx.change(
            &self.rid,
            &self.cmd(ctx, inspect::kill_args(self.runtime, id), QUERY_TIMEOUT),
        );
        let deadline = Instant::now() + KILL_WAIT;
        let mut pause = FIRST_POLL;
        loop {
            if !self.still_running(ctx, name)? {
                // A kill that lost the race with the container's own exit is fine.
                return Ok(());
            }
            if let Err(e) = &killed {
                return Err(e.clone().into());
            }
            if Instant::now() >= deadline {
                return Err(Error::Failed(format!(
                    "container {name} is still running {KILL_WAIT:?} after kill"
                )));
            }
            std::thread::sleep(backoff(&mut pause));
        }
    }
}

fn holds_resources(c: &Inspect) -> bool {
    c.state.running || c.state.paused || c.is_restarting()
}

impl Driver for Container {
    fn rid(&self) -> &str {
        &self.rid
    }

    /// `<shortid>@<image>` once a status run saw the container, else the configured image.
    fn label(&self) -> String {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| self.image.clone())
    }

    fn status(&self, ctx: &Ctx) -> ResStatus {
        if let Some(why) = self.store.down_reason(ctx) {
            self.remember(None);
            return ResStatus::with(Status::Down, why);
        }
        let name = self.name(ctx);
        let c = match self.inspect(ctx, &name, true) {
            Ok(Some(c)) => c,
            Ok(None) => {
                self.remember(None);
                return ResStatus::with(Status::Down, "can not find container id");
            }
            Err(e) => {
                self.remember(None);
                return ResStatus::with(Status::Warn, e.to_string());
            }
        };
        self.remember(Some(self.label_of(&c)));
        if c.is_up() {
            if inspect::image_matches(&self.image, &c) {
                ResStatus::new(Status::Up)
            } else {
                ResStatus::with(
                    Status::Warn,
                    format!(
                        "running image {} differs from run_image {}",
                        c.image_label(),
                        self.image
                    ),
                )
            }
        } else if c.is_restarting() {
            ResStatus::with(
                Status::Warn,
                format!("container {name} is {}", c.describe_state()),
            )
        } else if c.is_paused() {
            ResStatus::with(Status::Warn, format!("container {name} is paused"))
        } else {
            ResStatus::with(
                Status::Down,
                format!("container {name} is {}", c.describe_state()),
            )
        }
    }

    fn start(&self, ctx: &Ctx) -> Result<bool> {
        let name = self.name(ctx);
        let rt = self.runtime;
        let daemon_started = self.store.prepare(ctx, &self.rid)?;
        match self.inspect(ctx, &name, false)? {
            Some(c) if c.is_up() => {
                tracing::info!(rid = %self.rid, "container {name} is already up");
                return Ok(daemon_started);
            }
            Some(c) if c.is_paused() => {
                return Err(Error::Failed(format!(
                    "container {name} is paused: unpause or stop it first"
                )));
            }
            Some(c) if inspect::image_matches(&self.image, &c) => {
                ctx.change(
                    &self.rid,
                    &self.cmd(ctx, inspect::start_args(rt, &c.id), self.start_timeout),
                )?;
            }
            found => {
                if let Some(c) = found {
                    tracing::info!(
                        rid = %self.rid,
                        "container {name} has image {}, not {}: recreate it",
                        c.image_label(),
                        self.image
                    );
                    ctx.change(
                        &self.rid,
                        &self.cmd(ctx, inspect::rm_args(rt, &c.id), QUERY_TIMEOUT),
                    )?;
                }
                let args = [self.run_args.as_slice(), &self.run_options].concat();
                let argv = inspect::run_args(rt, &name, &args, &self.image, &self.run_command);
                ctx.change(&self.rid, &self.cmd(ctx, argv, self.start_timeout))?;
            }
        }
        if !ctx.dry_run {
            self.wait_up(ctx, &name)?;
        }
        Ok(true)
    }

    /// Stop the container, then the service's private daemon when it was the last one.
    fn stop(&self, ctx: &Ctx) -> Result<bool> {
        let name = self.name(ctx);
        if let Some(why) = self.store.down_reason(ctx) {
            tracing::info!(rid = %self.rid, "container {name} is already down: {why}");
            return Ok(false);
        }
        let mut stopped = self.stop_container(ctx, &name)?;
        if self.rm {
            stopped |= self.remove(ctx, &name)?;
        }
        Ok(self.store.after_stop(ctx, &self.rid)? || stopped)
    }
}

impl Container {
    /// `rm = true`: the stopped container goes away, so the next start runs a new one.
    fn remove(&self, ctx: &Ctx, name: &str) -> Result<bool> {
        match self.inspect(ctx, name, false)? {
            None => Ok(false),
            Some(c) => {
                ctx.change(
                    &self.rid,
                    &self.cmd(ctx, inspect::rm_args(self.runtime, &c.id), QUERY_TIMEOUT),
                )?;
                Ok(true)
            }
        }
    }

    fn stop_container(&self, ctx: &Ctx, name: &str) -> Result<bool> {
        let id = match self.inspect(ctx, name, false)? {
            None => {
                tracing::info!(rid = %self.rid, "container {name} does not exist, already down");
                return Ok(false);
            }
            Some(c) if !holds_resources(&c) => {
                tracing::info!(
                    rid = %self.rid,
                    "container {name} is already down ({})",
                    c.describe_state()
                );
                return Ok(false);
            }
            Some(c) => c.id,
        };
        let timeout = Duration::from_secs(self.grace) + STOP_MARGIN;
        let stopped = ctx.change(
            &self.rid,
            &self.cmd(
                ctx,
                inspect::stop_args(self.runtime, &id, self.grace),
                timeout,
            ),
        );
        if ctx.dry_run {
            return Ok(true);
        }
        tracing::info!(rid = %self.rid, "wait for container down status");
        if !self.still_running(ctx, name)? {
            return Ok(true);
        }
        if let Err(e) = stopped {
            tracing::warn!(rid = %self.rid, "stop failed, kill the container: {e}");
        }
        self.kill(ctx, name, &id)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn driver(section: &str) -> Result<Container> {
        let text = format!("[DEFAULT]\nnodes = n1\n[container#2]\n{section}");
        let l = svcconf::parse_service(text.as_bytes(), Path::new("web.conf"), "web", "n1")
            .unwrap_or_else(|e| panic!("{e}"));
        Container::new(&l.config.resources[0], l.config.container_store().as_ref())
    }

    fn ctx() -> Ctx {
        Ctx::new("web", "n1", PathBuf::from("/nonexistent"))
    }

    /// OpenSVC's `netns = container#0` (a pod: containers sharing a pause container's
    /// namespaces) and the other namespace keywords.
    #[test]
    fn shared_namespaces_name_the_other_container() {
        let text = "[DEFAULT]\nnodes = n1\n[container#0]\ntype = podman\nimage = pause\n\
                    [container#db]\ntype = podman\nimage = pause\nname = db1\n\
                    [container#1]\ntype = podman\nimage = nginx\nnetns = container#0\n\
                    pidns = container#db\nipcns = shareable\nutsns = host\nuserns = host\n\
                    [container#2]\ntype = podman\nimage = nginx\nnetns = host\n";
        let l = svcconf::parse_service(text.as_bytes(), Path::new("web.conf"), "web", "n1")
            .unwrap_or_else(|e| panic!("{e}"));
        let c = &l.config;
        let ns = |rid: &str| {
            let rc = c.resources.iter().find(|r| r.rid == rid).unwrap();
            namespaces(c, rc).unwrap()
        };
        assert_eq!(
            ns("container#1"),
            [
                "--net=container:web.container.0",
                "--pid=container:db1",
                "--ipc=shareable",
                "--uts=host",
                "--userns=host"
            ]
        );
        assert_eq!(ns("container#2"), ["--net=host"]);
        assert!(ns("container#0").is_empty());
        // The config check refuses a namespace of no container of the service.
        let bad = text.replace("netns = container#0", "netns = container#9");
        let e =
            svcconf::parse_service(bad.as_bytes(), Path::new("web.conf"), "web", "n1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "web.conf:13: [container#1] netns: bad value 'container#9': expected host, none, \
             a network name, or another container of the service (container#<id>)"
        );
    }

    #[test]
    fn start_restarts_a_stopped_container_by_its_id_and_stop_stops_it() {
        let rec = crate::fake::Recorder::new();
        let exited = include_str!("testdata/podman-exited.json");
        let running = include_str!("testdata/podman-running.json");
        let inspect = ["podman", "container", "inspect", "--format", "json", "cxt1"];
        rec.once(&inspect, 0, exited, "")
            .once(&inspect, 0, running, "")
            .once(&inspect, 0, running, "")
            .on(&inspect, 0, exited);
        let c = driver("type = podman\nrun_image = localhost/bbx:t\nname = cxt1\n").unwrap();
        let ctx = ctx().with_executor(rec.clone());
        assert!(c.start(&ctx).unwrap());
        let id = "68c6cb7100a94c27e7865c41f99b195d480448975f961b8cfdd65bd92e25de2f";
        assert_eq!(
            rec.calls(),
            [
                "podman container inspect --format json cxt1".to_string(),
                format!("podman start {id}"),
                "podman container inspect --format json cxt1".to_string(),
            ]
        );
        assert!(c.stop(&ctx).unwrap());
        let running_id = "c338972ecf021861df5da576d7d3c8ebbe4dc8166365ffe07f7fd00f948b4c3b";
        assert_eq!(
            rec.calls()[3..],
            [
                "podman container inspect --format json cxt1".to_string(),
                format!("podman stop -t 10 {running_id}"),
                "podman container inspect --format json cxt1".to_string(),
            ]
        );
    }

    #[test]
    fn private_dockerd_starts_before_the_container_and_carries_every_command() {
        let var = std::env::temp_dir().join(format!("svcmgr-ct-{}", std::process::id()));
        let text = "[DEFAULT]\nnodes = n1\ndocker_data_dir = /srv/web/docker\n\
                    [fs#1]\ndev = /dev/loop0\nmnt = /\ntype = ext4\n\
                    [container#2]\ntype = docker\nrun_image = bbx\n";
        let l =
            svcconf::parse_service(text.as_bytes(), Path::new("web.conf"), "web", "n1").unwrap();
        let rc = l
            .config
            .resources
            .iter()
            .find(|r| r.rid == "container#2")
            .unwrap();
        let c = Container::new(rc, l.config.container_store().as_ref()).unwrap();
        let rec = crate::fake::Recorder::new();
        let h = format!("unix://{}/docker.sock", var.display());
        let inspect = [
            "docker",
            "-H",
            &h,
            "container",
            "inspect",
            "web.container.2",
        ];
        let running = include_str!("testdata/docker-running.json")
            .replace("/busybox.container.1", "/web.container.2");
        rec.once(&inspect, 1, "[]", "Error: No such object: web.container.2")
            .on(&inspect, 0, &running);
        let ctx = Ctx::new("web", "n1", var.clone()).with_executor(rec.clone());
        // The private daemon is not running: status says so without asking docker.
        let st = c.status(&ctx);
        assert_eq!(
            (st.status, st.log.clone()),
            (
                Status::Down,
                vec!["docker daemon is not running".to_string()]
            )
        );
        assert!(rec.calls().is_empty());
        assert!(c.start(&ctx).unwrap());
        let calls = rec.calls();
        assert!(
            calls[0].starts_with(&format!("spawn dockerd -H {h} --pidfile ")),
            "{calls:?}"
        );
        assert!(
            calls[0].contains(" --data-root /srv/web/docker "),
            "{calls:?}"
        );
        assert_eq!(
            calls[1..],
            [
                format!("docker -H {h} version --format '{{{{.Server.Version}}}}'"),
                format!("docker -H {h} container inspect web.container.2"),
                format!("docker -H {h} run -d --name web.container.2 bbx"),
                format!("docker -H {h} container inspect web.container.2"),
            ]
        );
        let _ = std::fs::remove_dir_all(&var);
    }

    #[test]
    fn default_name_from_service_and_rid() {
        let c = driver("type = podman\nrun_image = busybox\n").unwrap();
        assert_eq!(c.name(&ctx()), "web.container.2");
        assert_eq!(c.runtime, Runtime::Podman);
        assert_eq!(c.grace, 10);
        assert_eq!(c.start_timeout, exec::DEFAULT_TIMEOUT);
    }

    /// Named rids are identities of their own: two containers never share a default name.
    #[test]
    fn named_rids_name_their_containers() {
        let text = "[DEFAULT]\nnodes = n1\n[container#web]\ntype = podman\nrun_image = a\n\
                    [container#db]\ntype = podman\nrun_image = b\n";
        let l =
            svcconf::parse_service(text.as_bytes(), Path::new("web.conf"), "web", "n1").unwrap();
        let names: Vec<String> = l
            .config
            .resources
            .iter()
            .map(|rc| Container::new(rc, None).unwrap().name(&ctx()))
            .collect();
        assert_eq!(names, ["web.container.web", "web.container.db"]);
    }

    #[test]
    fn keywords_are_taken() {
        let c = driver(
            "type = docker\nrun_image = b073e328878e\nname = {svcname}-db\n\
             run_args = --network none -e 'A=b c'\nrun_command = sleep 100\n\
             start_timeout = 5s\nstop_timeout = 20s\n",
        )
        .unwrap();
        assert_eq!(c.name(&ctx()), "web-db");
        assert_eq!(c.runtime, Runtime::Docker);
        assert_eq!(c.run_args, ["--network", "none", "-e", "A=b c"]);
        assert_eq!(c.run_command, ["sleep", "100"]);
        assert_eq!(c.start_timeout, Duration::from_secs(5));
        assert_eq!(c.grace, 15);
    }

    /// Issue: a continuation line of run_args was dropped, so the container ran without
    /// its volume. The run command carries every line of a multi-line value.
    #[test]
    fn multi_line_run_args_reach_the_run_command() {
        let c = driver(
            "type = podman\nrun_image = localhost/bbx:t\nname = cxt1\n\
             run_args = --net=host\n    -v /data:/data\n    -e A=1\n\
             run_command = /bin/sh\n    -c 'sleep 1'\n",
        )
        .unwrap();
        let rec = crate::fake::Recorder::new();
        let inspect = ["podman", "container", "inspect", "--format", "json", "cxt1"];
        rec.once(&inspect, 125, "[]", "Error: no such container cxt1")
            .on(&inspect, 0, include_str!("testdata/podman-running.json"));
        let ctx = ctx().with_executor(rec.clone());
        assert!(c.start(&ctx).unwrap());
        let runs: Vec<String> = rec
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("podman run "))
            .collect();
        assert_eq!(
            runs,
            ["podman run -d --name cxt1 '--net=host' -v /data:/data -e 'A=1' localhost/bbx:t /bin/sh -c 'sleep 1'"]
        );
    }

    /// OpenSVC 2.x names: `image`, `command` (really passed), `volume_mounts`,
    /// `environment`, `hostname`, `entrypoint`, and `rm` removing the stopped container.
    #[test]
    fn keywords_of_2x_reach_the_engine() {
        let c = driver(
            "type = podman\nimage = localhost/bbx:t\nname = cxt1\ncommand = sleep 100\n\
             volume_mounts = /srv/a:/a\n    /srv/b:/b:ro\nenvironment = app_mode=prod\n\
             hostname = web1\nentrypoint = /bin/sh\nrm = true\nrun_args = --network none\n",
        )
        .unwrap();
        let rec = crate::fake::Recorder::new();
        let inspect = ["podman", "container", "inspect", "--format", "json", "cxt1"];
        let running = include_str!("testdata/podman-running.json");
        let exited = include_str!("testdata/podman-exited.json");
        rec.once(&inspect, 125, "[]", "Error: no such container cxt1")
            .once(&inspect, 0, running, "")
            .once(&inspect, 0, running, "")
            .once(&inspect, 0, exited, "")
            .once(&inspect, 0, exited, "")
            .on(&inspect, 125, "[]");
        let ctx = ctx().with_executor(rec.clone());
        assert!(c.start(&ctx).unwrap());
        assert!(c.stop(&ctx).unwrap());
        let changes: Vec<String> = rec
            .calls()
            .into_iter()
            .filter(|c| !c.contains(" inspect "))
            .collect();
        let running_id = "c338972ecf021861df5da576d7d3c8ebbe4dc8166365ffe07f7fd00f948b4c3b";
        let exited_id = "68c6cb7100a94c27e7865c41f99b195d480448975f961b8cfdd65bd92e25de2f";
        assert_eq!(
            changes,
            [
                "podman run -d --name cxt1 --network none --hostname web1 --entrypoint /bin/sh \
                 '--volume=/srv/a:/a' '--volume=/srv/b:/b:ro' -e 'APP_MODE=prod' \
                 localhost/bbx:t sleep 100"
                    .to_string(),
                format!("podman stop -t 10 {running_id}"),
                format!("podman rm -f {exited_id}"),
            ]
        );
    }

    #[test]
    fn label_is_the_image_until_a_container_is_seen() {
        let c = driver("type = podman\nrun_image = localhost/busybox:lab\n").unwrap();
        assert_eq!(c.label(), "localhost/busybox:lab");
        let seen = inspect::parse(include_str!("testdata/podman-running.json"))
            .unwrap()
            .unwrap();
        c.remember(Some(c.label_of(&seen)));
        assert_eq!(c.label(), "c338972ecf02@localhost/bbx:t");
        c.remember(None);
        assert_eq!(c.label(), "localhost/busybox:lab");
    }
}
