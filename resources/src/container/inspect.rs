//! Container runtime plumbing, pure: `container inspect` JSON, image matching and the argv
//! of every runtime command. podman and docker share the CLI surface used here.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Podman,
    Docker,
}

impl Runtime {
    /// From an engine's name.
    pub fn from_type(t: &str) -> Option<Runtime> {
        match t {
            "podman" => Some(Runtime::Podman),
            "docker" => Some(Runtime::Docker),
            _ => None,
        }
    }

    /// From the `type` keyword: `oci` is podman when `path` (a PATH value) has it, else
    /// docker when it has that, else podman (whose absence status then reports).
    pub fn from_keyword(t: &str, path: Option<&std::ffi::OsStr>) -> Option<Runtime> {
        match t {
            "oci" if on_path("podman", path) || !on_path("docker", path) => Some(Runtime::Podman),
            "oci" => Some(Runtime::Docker),
            _ => Runtime::from_type(t),
        }
    }

    /// The binary, looked up on PATH.
    pub fn bin(self) -> &'static str {
        match self {
            Runtime::Podman => "podman",
            Runtime::Docker => "docker",
        }
    }
}

/// The part of one `container inspect` entry the driver uses (podman and docker agree on
/// these names; `ImageName` is podman's only).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Inspect {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// The image id (docker: `sha256:<hex>`, podman: `<hex>`).
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub image_name: String,
    #[serde(default)]
    pub config: Option<Config>,
    pub state: State,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    /// The image as the user named it at `run`.
    #[serde(default)]
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub running: bool,
    #[serde(default)]
    pub paused: bool,
    /// docker: between two runs of a crash-looping container (`Running` stays true).
    #[serde(default)]
    pub restarting: bool,
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default)]
    pub error: String,
}

impl Inspect {
    /// The 12-character id shown in status labels.
    pub fn short_id(&self) -> &str {
        let id = self.id.strip_prefix("sha256:").unwrap_or(&self.id);
        id.get(..12).unwrap_or(id)
    }

    /// The image by name when the runtime knows it, else by id.
    pub fn image_label(&self) -> &str {
        let from_config = self.config.as_ref().map_or("", |c| c.image.as_str());
        [self.image_name.as_str(), from_config]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_else(|| {
                let id = self.image.strip_prefix("sha256:").unwrap_or(&self.image);
                id.get(..12).unwrap_or(id)
            })
    }

    /// The name without docker's leading `/`.
    pub fn bare_name(&self) -> &str {
        self.name.strip_prefix('/').unwrap_or(&self.name)
    }

    /// Running, neither paused nor restarting: the only state counted as up.
    pub fn is_up(&self) -> bool {
        self.state.running
            && !self.state.paused
            && !self.is_restarting()
            && (self.state.status.is_empty() || self.state.status == "running")
    }

    pub fn is_paused(&self) -> bool {
        self.state.paused || self.state.status == "paused"
    }

    /// docker's crash loop: `Running` is true, yet the process keeps dying.
    pub fn is_restarting(&self) -> bool {
        self.state.restarting || self.state.status == "restarting"
    }

    /// A state it only leaves through another `start`.
    pub fn has_ended(&self) -> bool {
        !self.state.running && matches!(self.state.status.as_str(), "exited" | "stopped" | "dead")
    }

    /// "exited (code 137)" / "restarting (code 1)" / "paused" / "created".
    pub fn describe_state(&self) -> String {
        let mut s = if self.state.status.is_empty() {
            "not running".to_string()
        } else {
            self.state.status.clone()
        };
        if self.has_ended() || self.is_restarting() {
            s.push_str(&format!(" (code {})", self.state.exit_code));
        }
        if !self.state.error.is_empty() {
            s.push_str(&format!(": {}", self.state.error));
        }
        s
    }
}

/// Parse `container inspect` stdout. An empty list means no such container.
pub fn parse(stdout: &str) -> Result<Option<Inspect>, serde_json::Error> {
    let v: Vec<Inspect> = serde_json::from_str(stdout.trim())?;
    Ok(v.into_iter().next())
}

/// Parse `container inspect NAME` stdout, keeping the container only when it has that name:
/// the runtimes also resolve NAME as a prefix of container ids, so a hex-only name (`db`,
/// `cafe`) with no container of its own finds another, unrelated container.
pub fn parse_named(stdout: &str, name: &str) -> Result<Option<Inspect>, serde_json::Error> {
    Ok(parse(stdout)?.filter(|c| c.bare_name() == name))
}

/// Whether a failed `container inspect` means "no container of that name" rather than a
/// runtime that could not answer (docker prints `[]` in both cases, so stdout cannot tell).
pub fn is_absent(code: i32, stderr: &str) -> bool {
    let e = stderr.to_ascii_lowercase();
    code != 0 && (e.contains("no such container") || e.contains("no such object"))
}

/// Whether the container runs `want`: a name (`busybox`, `localhost/busybox:lab`,
/// `docker.io/library/busybox:latest` are one image) or an image id or id prefix.
pub fn image_matches(want: &str, c: &Inspect) -> bool {
    let want = want.trim();
    if want.is_empty() {
        return false;
    }
    let from_config = c.config.as_ref().map_or("", |x| x.image.as_str());
    let by_name = [c.image_name.as_str(), from_config]
        .into_iter()
        .filter(|n| !n.is_empty())
        .any(|n| normalize_name(n) == normalize_name(want));
    by_name || is_id_prefix(want, &c.image)
}

/// Drop the implicit registry prefixes and add the implicit `:latest` tag.
fn normalize_name(name: &str) -> String {
    let mut n = name;
    for p in ["docker.io/", "index.docker.io/", "localhost/"] {
        if let Some(rest) = n.strip_prefix(p) {
            n = rest;
            break;
        }
    }
    n = n.strip_prefix("library/").unwrap_or(n);
    if n.contains('@') {
        return n.to_string();
    }
    let last = n.rsplit('/').next().unwrap_or(n);
    if last.contains(':') {
        n.to_string()
    } else {
        format!("{n}:latest")
    }
}

fn is_id_prefix(want: &str, id: &str) -> bool {
    let want = want.strip_prefix("sha256:").unwrap_or(want);
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    want.len() >= 4
        && want.len() <= id.len()
        && want.bytes().all(|b| b.is_ascii_hexdigit())
        && id.as_bytes()[..want.len()].eq_ignore_ascii_case(want.as_bytes())
}

/// Seconds the runtime gives the container to exit after SIGTERM, before SIGKILL: the
/// resource's stop_timeout minus a margin for the runtime itself.
pub fn stop_grace(stop_timeout: Option<Duration>) -> u64 {
    const DEFAULT_GRACE: u64 = 10;
    const MARGIN: u64 = 5;
    match stop_timeout {
        None => DEFAULT_GRACE,
        Some(t) => t.as_secs().saturating_sub(MARGIN).max(1),
    }
}

fn argv(rt: Runtime, args: &[&str]) -> Vec<String> {
    std::iter::once(rt.bin())
        .chain(args.iter().copied())
        .map(str::to_string)
        .collect()
}

/// `container inspect` only looks at containers: an image or volume of the same name
/// cannot answer for it.
pub fn inspect_args(rt: Runtime, name: &str) -> Vec<String> {
    match rt {
        Runtime::Podman => argv(rt, &["container", "inspect", "--format", "json", name]),
        // docker prints JSON by default; older clients take no `json` format.
        Runtime::Docker => argv(rt, &["container", "inspect", name]),
    }
}

/// Whether `path` (a PATH value) has an executable `bin`.
fn on_path(bin: &str, path: Option<&std::ffi::OsStr>) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.is_some_and(|p| {
        std::env::split_paths(p).any(|d| {
            std::fs::metadata(d.join(bin))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The 2.x container keywords that become run options.
#[derive(Debug, Default)]
pub struct RunOptions<'a> {
    pub hostname: Option<&'a str>,
    pub entrypoint: Option<&'a str>,
    pub user: Option<&'a str>,
    pub privileged: bool,
    pub interactive: bool,
    pub tty: bool,
    pub volumes: &'a [String],
    /// `VAR=value` words; VAR is upper-cased, as OpenSVC does.
    pub environment: &'a [String],
}

/// The run options for `o`, after `run_args` on the command line (the engines take the last
/// of a repeated single-value option).
pub fn run_options(o: &RunOptions<'_>) -> Vec<String> {
    let mut v = Vec::new();
    for (flag, val) in [
        ("--hostname", o.hostname),
        ("--entrypoint", o.entrypoint),
        ("--user", o.user),
    ] {
        if let Some(val) = val {
            v.extend([flag.to_string(), val.to_string()]);
        }
    }
    for (flag, on) in [
        ("--privileged", o.privileged),
        ("--interactive", o.interactive),
        ("--tty", o.tty),
    ] {
        if on {
            v.push(flag.to_string());
        }
    }
    v.extend(o.volumes.iter().map(|m| format!("--volume={m}")));
    for e in o.environment {
        let (var, val) = e.split_once('=').unwrap_or((e, ""));
        v.extend(["-e".to_string(), format!("{}={val}", var.to_uppercase())]);
    }
    v
}

/// `run -d --name NAME RUN_ARGS IMAGE RUN_COMMAND`.
pub fn run_args(
    rt: Runtime,
    name: &str,
    run_args: &[String],
    image: &str,
    run_command: &[String],
) -> Vec<String> {
    let mut v = argv(rt, &["run", "-d", "--name", name]);
    v.extend(run_args.iter().cloned());
    v.push(image.to_string());
    v.extend(run_command.iter().cloned());
    v
}

pub fn start_args(rt: Runtime, name: &str) -> Vec<String> {
    argv(rt, &["start", name])
}

pub fn stop_args(rt: Runtime, name: &str, grace: u64) -> Vec<String> {
    argv(rt, &["stop", "-t", &grace.to_string(), name])
}

pub fn kill_args(rt: Runtime, name: &str) -> Vec<String> {
    argv(rt, &["kill", name])
}

pub fn rm_args(rt: Runtime, name: &str) -> Vec<String> {
    argv(rt, &["rm", "-f", name])
}

#[cfg(test)]
mod run_option_tests {
    use super::*;

    #[test]
    fn options_of_the_2x_keywords() {
        let vols = vec!["/a:/a".to_string(), "/b:/c:ro".to_string()];
        let env = vec!["foo=1".to_string(), "Bar_2=x y".to_string()];
        let o = RunOptions {
            hostname: Some("web"),
            entrypoint: Some("/bin/sh"),
            user: Some("1000"),
            privileged: true,
            interactive: true,
            tty: false,
            volumes: &vols,
            environment: &env,
        };
        assert_eq!(
            run_options(&o),
            [
                "--hostname",
                "web",
                "--entrypoint",
                "/bin/sh",
                "--user",
                "1000",
                "--privileged",
                "--interactive",
                "--volume=/a:/a",
                "--volume=/b:/c:ro",
                "-e",
                "FOO=1",
                "-e",
                "BAR_2=x y",
            ]
        );
        assert!(run_options(&RunOptions::default()).is_empty());
    }

    #[test]
    fn oci_is_podman_first_then_docker() {
        let dir = std::env::temp_dir().join(format!("svcmgr-oci-{}", std::process::id()));
        let (p, d) = (dir.join("p"), dir.join("d"));
        for (sub, bin) in [(&p, "podman"), (&d, "docker")] {
            std::fs::create_dir_all(sub).unwrap();
            let f = sub.join(bin);
            std::fs::write(&f, "#!/bin/sh\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let path = |dirs: &[&std::path::PathBuf]| std::env::join_paths(dirs).unwrap();
        let rt = |dirs: &[&std::path::PathBuf]| Runtime::from_keyword("oci", Some(&path(dirs)));
        assert_eq!(rt(&[&d, &p]), Some(Runtime::Podman));
        assert_eq!(rt(&[&d]), Some(Runtime::Docker));
        // Neither: podman, whose absence status then reports.
        assert_eq!(rt(&[&dir]), Some(Runtime::Podman));
        assert_eq!(Runtime::from_keyword("docker", None), Some(Runtime::Docker));
        assert_eq!(Runtime::from_keyword("lxc", None), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PODMAN_RUNNING: &str = include_str!("testdata/podman-running.json");
    const PODMAN_EXITED: &str = include_str!("testdata/podman-exited.json");
    const DOCKER_RUNNING: &str = include_str!("testdata/docker-running.json");
    const DOCKER_RESTARTING: &str = include_str!("testdata/docker-restarting.json");

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn podman_running() {
        let c = parse(PODMAN_RUNNING).unwrap().unwrap();
        assert_eq!(c.short_id(), "c338972ecf02");
        assert_eq!(c.name, "cxt1");
        assert_eq!(c.image_label(), "localhost/bbx:t");
        assert!(c.is_up());
        assert!(!c.has_ended());
        assert_eq!(c.describe_state(), "running");
    }

    #[test]
    fn podman_exited() {
        let c = parse(PODMAN_EXITED).unwrap().unwrap();
        assert!(!c.is_up());
        assert!(c.has_ended());
        assert_eq!(c.state.exit_code, 137);
        assert_eq!(c.describe_state(), "exited (code 137)");
    }

    #[test]
    fn docker_running_uses_config_image() {
        let c = parse(DOCKER_RUNNING).unwrap().unwrap();
        assert_eq!(c.short_id(), "b82cf3232b79");
        assert_eq!(c.image_label(), "opensvc/busybox:date");
        assert!(c.is_up());
    }

    #[test]
    fn absent_podman_and_docker() {
        // podman: `[]` on stdout, exit 125.
        assert_eq!(parse("[]\n").unwrap(), None);
        assert!(is_absent(
            125,
            "Error: inspecting object: no such container busybox.container.1\n"
        ));
        assert!(is_absent(
            1,
            "Error: No such container: busybox.container.1\n"
        ));
        assert!(is_absent(1, "Error: No such object: busybox.container.1\n"));
    }

    #[test]
    fn unreachable_runtime_is_not_absent() {
        let e = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. \
                 Is the docker daemon running?\n";
        assert!(!is_absent(1, e));
        assert!(!is_absent(
            125,
            "Error: open /run/libpod/alive.lck: no such file or directory\n"
        ));
        assert!(!is_absent(0, "no such container"));
    }

    #[test]
    fn id_prefix_match_of_another_container_is_absent() {
        // `podman container inspect c338` answers with container cxt1, whose id starts so.
        assert_eq!(parse_named(PODMAN_RUNNING, "c338").unwrap(), None);
        assert_eq!(parse_named(PODMAN_RUNNING, "cxt").unwrap(), None);
        let c = parse_named(PODMAN_RUNNING, "cxt1").unwrap().unwrap();
        assert_eq!(c.bare_name(), "cxt1");
        // docker's names carry a leading '/'.
        assert_eq!(parse_named(DOCKER_RUNNING, "b82c").unwrap(), None);
        assert_eq!(
            parse_named(DOCKER_RUNNING, "/busybox.container.1").unwrap(),
            None
        );
        let d = parse_named(DOCKER_RUNNING, "busybox.container.1")
            .unwrap()
            .unwrap();
        assert_eq!(d.short_id(), "b82cf3232b79");
        // No name at all is not a match either.
        assert_eq!(
            parse_named(r#"[{"Id":"cafe01","State":{"Running":true}}]"#, "cafe").unwrap(),
            None
        );
        assert_eq!(parse_named("[]", "cafe").unwrap(), None);
        assert!(parse_named("Error: boom", "cafe").is_err());
    }

    #[test]
    fn docker_restarting_is_not_up() {
        let c = parse(DOCKER_RESTARTING).unwrap().unwrap();
        assert!(c.state.running && c.state.restarting);
        assert!(c.is_restarting());
        assert!(!c.is_up());
        assert!(
            !c.has_ended(),
            "a restart loop ends only by itself or by stop"
        );
        assert!(!c.is_paused());
        assert_eq!(c.describe_state(), "restarting (code 1)");
        // Restarting without the Status word, or the word without the flag: still not up.
        let flag = parse(r#"[{"Id":"a","State":{"Running":true,"Restarting":true}}]"#)
            .unwrap()
            .unwrap();
        assert!(flag.is_restarting() && !flag.is_up());
        let word = parse(r#"[{"Id":"a","State":{"Status":"restarting","Running":true}}]"#)
            .unwrap()
            .unwrap();
        assert!(word.is_restarting() && !word.is_up());
    }

    #[test]
    fn up_needs_the_running_status_when_there_is_one() {
        let up = |state: &str| {
            parse(&format!(r#"[{{"Id":"a","State":{state}}}]"#))
                .unwrap()
                .unwrap()
                .is_up()
        };
        assert!(up(r#"{"Running":true}"#));
        assert!(up(r#"{"Status":"running","Running":true}"#));
        assert!(!up(r#"{"Status":"stopping","Running":true}"#));
        assert!(!up(r#"{"Status":"running","Running":false}"#));
        assert!(!up(r#"{"Status":"running","Running":true,"Paused":true}"#));
        assert!(!up(
            r#"{"Status":"running","Running":true,"Restarting":true}"#
        ));
    }

    #[test]
    fn garbage_is_a_parse_error() {
        assert!(parse("Error: boom").is_err());
        assert!(parse("[{\"Id\": 3}]").is_err());
    }

    #[test]
    fn paused_is_not_up() {
        let c = parse(r#"[{"Id":"abc","State":{"Status":"paused","Running":true,"Paused":true}}]"#)
            .unwrap()
            .unwrap();
        assert!(!c.is_up());
        assert!(!c.has_ended());
        // No ImageName, no Config: the image id is the label.
        assert_eq!(c.image_label(), "");
    }

    #[test]
    fn image_by_name() {
        let c = parse(PODMAN_RUNNING).unwrap().unwrap();
        assert!(image_matches("localhost/bbx:t", &c));
        assert!(image_matches("bbx:t", &c));
        assert!(!image_matches("bbx", &c)); // bbx:latest
        assert!(!image_matches("localhost/other:t", &c));
        assert!(!image_matches("", &c));
        let d = parse(DOCKER_RUNNING).unwrap().unwrap();
        assert!(image_matches("opensvc/busybox:date", &d));
        assert!(image_matches("docker.io/opensvc/busybox:date", &d));
        assert!(!image_matches("opensvc/busybox", &d));
    }

    #[test]
    fn implicit_latest_and_library() {
        let c =
            parse(r#"[{"Id":"abc","Image":"sha256:00","Config":{"Image":"busybox"},"State":{}}]"#)
                .unwrap()
                .unwrap();
        assert!(image_matches("busybox:latest", &c));
        assert!(image_matches("docker.io/library/busybox", &c));
        assert!(!image_matches("busybox:1.36", &c));
    }

    #[test]
    fn image_by_id_prefix() {
        let c = parse(PODMAN_RUNNING).unwrap().unwrap();
        assert!(image_matches("5fa007a567ad", &c));
        assert!(image_matches("sha256:5fa007a567ad86d6", &c));
        assert!(!image_matches("5fa", &c)); // too short to be an id
        assert!(!image_matches("5fa007a567ae", &c));
        let d = parse(DOCKER_RUNNING).unwrap().unwrap();
        // The seed's run_image: an id prefix, docker reports sha256:<id>.
        assert!(image_matches("b073e328878e", &d));
        assert!(!image_matches("b073e328878f", &d));
    }

    #[test]
    fn inspect_argv() {
        assert_eq!(
            inspect_args(Runtime::Podman, "web.container.1"),
            s(&[
                "podman",
                "container",
                "inspect",
                "--format",
                "json",
                "web.container.1"
            ])
        );
        assert_eq!(
            inspect_args(Runtime::Docker, "web.container.1"),
            s(&["docker", "container", "inspect", "web.container.1"])
        );
    }

    #[test]
    fn run_argv_with_args_and_command() {
        let v = run_args(
            Runtime::Podman,
            "web.container.1",
            &s(&["--network", "none", "-e", "A=b c"]),
            "localhost/busybox:lab",
            &s(&["/bin/sh", "-c", "sleep 100"]),
        );
        assert_eq!(
            v,
            s(&[
                "podman",
                "run",
                "-d",
                "--name",
                "web.container.1",
                "--network",
                "none",
                "-e",
                "A=b c",
                "localhost/busybox:lab",
                "/bin/sh",
                "-c",
                "sleep 100",
            ])
        );
        assert_eq!(
            run_args(Runtime::Docker, "n", &[], "img", &[]),
            s(&["docker", "run", "-d", "--name", "n", "img"])
        );
    }

    #[test]
    fn stop_kill_start_rm_argv() {
        assert_eq!(
            stop_args(Runtime::Docker, "n", 10),
            s(&["docker", "stop", "-t", "10", "n"])
        );
        assert_eq!(kill_args(Runtime::Podman, "n"), s(&["podman", "kill", "n"]));
        assert_eq!(
            start_args(Runtime::Podman, "n"),
            s(&["podman", "start", "n"])
        );
        assert_eq!(
            rm_args(Runtime::Podman, "n"),
            s(&["podman", "rm", "-f", "n"])
        );
    }

    #[test]
    fn grace_from_stop_timeout() {
        assert_eq!(stop_grace(None), 10);
        assert_eq!(stop_grace(Some(Duration::from_secs(30))), 25);
        assert_eq!(stop_grace(Some(Duration::from_secs(8))), 3);
        assert_eq!(stop_grace(Some(Duration::from_secs(2))), 1);
        assert_eq!(stop_grace(Some(Duration::from_millis(500))), 1);
    }

    #[test]
    fn runtime_from_type() {
        assert_eq!(Runtime::from_type("podman"), Some(Runtime::Podman));
        assert_eq!(
            Runtime::from_type("docker").map(Runtime::bin),
            Some("docker")
        );
        assert_eq!(Runtime::from_type("lxc"), None);
    }
}
