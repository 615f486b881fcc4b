//! How an app's commands are built from its keywords: `start = true` means `<script> start`,
//! a number means true (OpenSVC 1.x sequence numbers), `false` nothing, anything else is the
//! command line itself. Then the environment, the credentials, and the wrappers that apply
//! the umask (`sh -c 'umask ..; exec "$@"'`) and the resource limits (`prlimit`), both of
//! which exec the command, so its pid is the one tracked.

use std::path::{Path, PathBuf};
use std::time::Duration;

use svcconf::ResourceConfig;

use crate::exec::Cmd;
use crate::Ctx;

/// What one of `start`, `stop`, `check`, `info` says to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Launcher {
    None,
    /// `<script> <word>`.
    Script,
    Argv(Vec<String>),
}

impl Launcher {
    pub fn of(argv: &[String]) -> Launcher {
        match argv {
            [] => Launcher::None,
            [w] if matches!(w.as_str(), "false" | "no" | "off" | "0") => Launcher::None,
            [w] if matches!(w.as_str(), "true" | "yes" | "on") => Launcher::Script,
            [w] if w.bytes().all(|b| b.is_ascii_digit()) => Launcher::Script,
            v => Launcher::Argv(v.to_vec()),
        }
    }
}

/// `prlimit` options per limit keyword (limit_vmem is OpenSVC's other name of limit_as).
const LIMITS: &[(&str, &str)] = &[
    ("limit_as", "--as"),
    ("limit_vmem", "--as"),
    ("limit_core", "--core"),
    ("limit_cpu", "--cpu"),
    ("limit_data", "--data"),
    ("limit_fsize", "--fsize"),
    ("limit_memlock", "--memlock"),
    ("limit_nofile", "--nofile"),
    ("limit_nproc", "--nproc"),
    ("limit_rss", "--rss"),
    ("limit_stack", "--stack"),
];

/// The keywords every command of one app shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub rid: String,
    /// Absolute (a relative `script` is resolved in `<etc>/<svcname>.d/`).
    pub script: Option<PathBuf>,
    pub start: Launcher,
    pub stop: Launcher,
    pub check: Launcher,
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub cwd: Option<PathBuf>,
    pub umask: Option<String>,
    /// `--nofile=1024` words.
    pub limits: Vec<String>,
}

impl Launch {
    /// `etc_d`: the service's `<etc>/<svcname>.d` directory.
    pub fn new(rc: &ResourceConfig, etc_d: &Path) -> Result<Launch, String> {
        let script = rc.str("script").map(|s| {
            let p = Path::new(s);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                etc_d.join(p)
            }
        });
        let env = rc
            .list("environment")
            .iter()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_uppercase(), v.to_string()))
            .collect();
        let umask = rc.str("umask").map(str::to_string);
        if let Some(u) = &umask {
            if u.is_empty() || u.len() > 4 || !u.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return Err(format!("umask = {u}: expected an octal mask such as 022"));
            }
        }
        let mut limits = Vec::new();
        for (kw, opt) in LIMITS {
            let n = match (rc.int(kw), rc.duration(kw)) {
                (Some(n), _) => n,
                (None, Some(d)) => d.as_secs() as i64,
                _ => continue,
            };
            if n < 0 {
                return Err(format!("{kw} = {n}: expected a non-negative value"));
            }
            limits.push(format!("{opt}={n}"));
        }
        Ok(Launch {
            rid: rc.rid.clone(),
            script,
            start: Launcher::of(rc.list("start")),
            stop: Launcher::of(rc.list("stop")),
            check: Launcher::of(rc.list("check")),
            env,
            user: rc.str("user").map(str::to_string),
            group: rc.str("group").map(str::to_string),
            cwd: rc.str("cwd").map(PathBuf::from),
            umask,
            limits,
        })
    }

    /// The argv of `which` (the script's argument is `word`), or None when there is nothing
    /// to run. Err when it names a script that is not set.
    pub fn argv(&self, which: &Launcher, word: &str) -> Result<Option<Vec<String>>, String> {
        Ok(match which {
            Launcher::None => None,
            Launcher::Argv(v) => Some(v.clone()),
            Launcher::Script => match &self.script {
                Some(s) => Some(vec![s.display().to_string(), word.to_string()]),
                None => return Err(format!("{word} = true but script is not set")),
            },
        })
    }

    /// The command to run: `argv` wrapped for the umask and limits, with the environment,
    /// working directory and credentials of the app.
    pub fn cmd(&self, ctx: &Ctx, argv: Vec<String>, timeout: Duration) -> Result<Cmd, String> {
        let mut full = Vec::new();
        if !self.limits.is_empty() {
            full.push("prlimit".to_string());
            full.extend(self.limits.iter().cloned());
        }
        if let Some(u) = &self.umask {
            full.extend([
                "sh".to_string(),
                "-c".to_string(),
                format!("umask {u} && exec \"$@\""),
                "sh".to_string(),
            ]);
        }
        full.extend(argv);
        let mut cmd = Cmd::new(full)
            .timeout(timeout)
            .cwd(self.cwd.clone().unwrap_or_else(|| PathBuf::from("/")));
        for (k, v) in [
            ("SVCMGR_SVCNAME", ctx.svcname.as_str()),
            ("SVCMGR_NODENAME", ctx.nodename.as_str()),
            ("SVCMGR_RID", self.rid.as_str()),
            ("OPENSVC_SVCNAME", ctx.svcname.as_str()),
            ("OPENSVC_RID", self.rid.as_str()),
        ] {
            cmd = cmd.env(k, v);
        }
        if let Some((uid, gid, name, home)) = self.credentials()? {
            cmd = cmd
                .creds(uid, gid)
                .env("USER", &name)
                .env("LOGNAME", &name)
                .env("HOME", &home);
        }
        for (k, v) in &self.env {
            cmd = cmd.env(k, v);
        }
        Ok(cmd)
    }

    /// (uid, gid, user name, home) of `user`/`group`, looked up now: the account may exist on
    /// this node only.
    fn credentials(&self) -> Result<Option<(u32, u32, String, String)>, String> {
        use nix::unistd::{Gid, Group, Uid, User};
        let user = match &self.user {
            None => None,
            Some(u) => {
                let found = match u.parse::<u32>() {
                    Ok(n) => User::from_uid(Uid::from_raw(n)),
                    Err(_) => User::from_name(u),
                };
                match found {
                    Ok(Some(user)) => Some(user),
                    Ok(None) => return Err(format!("user {u} does not exist on this node")),
                    Err(e) => return Err(format!("user {u}: {e}")),
                }
            }
        };
        let gid = match &self.group {
            None => None,
            Some(g) => {
                let found = match g.parse::<u32>() {
                    Ok(n) => Group::from_gid(Gid::from_raw(n)),
                    Err(_) => Group::from_name(g),
                };
                match found {
                    Ok(Some(group)) => Some(group.gid.as_raw()),
                    Ok(None) => return Err(format!("group {g} does not exist on this node")),
                    Err(e) => return Err(format!("group {g}: {e}")),
                }
            }
        };
        Ok(match (user, gid) {
            (None, None) => None,
            (Some(u), g) => Some((
                u.uid.as_raw(),
                g.unwrap_or(u.gid.as_raw()),
                u.name,
                u.dir.display().to_string(),
            )),
            (None, Some(g)) => Some((0, g, "root".into(), "/root".into())),
        })
    }
}

/// The status an exit code of the check command means (`retcodes`; other codes are warn).
pub fn status_of(retcodes: &[(i32, String)], code: i32) -> crate::Status {
    use crate::Status;
    match retcodes
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, s)| s.as_str())
    {
        Some("up") => Status::Up,
        Some("down") => Status::Down,
        Some("n/a") => Status::NotApplicable,
        _ => Status::Warn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    fn launch(body: &str) -> Launch {
        let text = format!("[DEFAULT]\nnodes = n1\n[app#1]\n{body}");
        let l = svcconf::parse_service(text.as_bytes(), Path::new("/etc/web.conf"), "web", "n1")
            .unwrap_or_else(|e| panic!("{e}"));
        Launch::new(&l.config.resources[0], Path::new("/etc/web.d")).unwrap()
    }

    #[test]
    fn launcher_words() {
        let v = |s: &[&str]| s.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        for (words, want) in [
            (v(&[]), Launcher::None),
            (v(&["false"]), Launcher::None),
            (v(&["true"]), Launcher::Script),
            (v(&["10"]), Launcher::Script),
            (v(&["/bin/true"]), Launcher::Argv(v(&["/bin/true"]))),
            (v(&["sleep", "10"]), Launcher::Argv(v(&["sleep", "10"]))),
        ] {
            assert_eq!(Launcher::of(&words), want, "{words:?}");
        }
    }

    #[test]
    fn script_words_and_relative_scripts() {
        let l = launch("script = web.sh\nstart = true\nstop = 90\ncheck = /usr/bin/pgrep web\n");
        assert_eq!(l.script.as_deref(), Some(Path::new("/etc/web.d/web.sh")));
        assert_eq!(
            l.argv(&l.start, "start").unwrap().unwrap(),
            ["/etc/web.d/web.sh", "start"]
        );
        assert_eq!(
            l.argv(&l.stop, "stop").unwrap().unwrap(),
            ["/etc/web.d/web.sh", "stop"]
        );
        assert_eq!(
            l.argv(&l.check, "status").unwrap().unwrap(),
            ["/usr/bin/pgrep", "web"]
        );
        let l = launch("start = true\n");
        assert_eq!(
            l.argv(&l.start, "start").unwrap_err(),
            "start = true but script is not set"
        );
        assert_eq!(l.argv(&l.stop, "stop").unwrap(), None);
    }

    #[test]
    fn wrappers_environment_and_cwd() {
        let l = launch(
            "start = /srv/app --port 80\numask = 027\nlimit_nofile = 4096\nlimit_as = 1g\n\
             environment = app_mode=prod\ncwd = /srv\n",
        );
        let ctx = Ctx::new("web", "n1", PathBuf::from("/var/web"));
        let argv = l.argv(&l.start, "start").unwrap().unwrap();
        let cmd = l.cmd(&ctx, argv, Duration::from_secs(5)).unwrap();
        assert_eq!(
            cmd.argv,
            [
                "prlimit",
                "--as=1073741824",
                "--nofile=4096",
                "sh",
                "-c",
                "umask 027 && exec \"$@\"",
                "sh",
                "/srv/app",
                "--port",
                "80"
            ]
        );
        assert_eq!(cmd.cwd.as_deref(), Some(Path::new("/srv")));
        assert!(cmd.env.contains(&("APP_MODE".into(), "prod".into())));
        assert!(cmd.env.contains(&("SVCMGR_RID".into(), "app#1".into())));
        assert_eq!(cmd.creds, None);
    }

    #[test]
    fn credentials_are_looked_up_on_this_node() {
        let ctx = Ctx::new("web", "n1", PathBuf::from("/var/web"));
        let l = launch("start = /bin/true\nuser = root\n");
        let cmd = l
            .cmd(&ctx, vec!["x".into()], Duration::from_secs(1))
            .unwrap();
        assert_eq!(cmd.creds, Some((0, 0)));
        assert!(cmd.env.contains(&("USER".into(), "root".into())));
        let l = launch("start = /bin/true\nuser = no-such-user-here\n");
        assert_eq!(
            l.cmd(&ctx, vec!["x".into()], Duration::from_secs(1))
                .unwrap_err(),
            "user no-such-user-here does not exist on this node"
        );
    }

    #[test]
    fn retcodes_map_exit_codes() {
        let rc = svcconf::parse_retcodes("0:up 1:down 3:n/a").unwrap();
        assert_eq!(status_of(&rc, 0), Status::Up);
        assert_eq!(status_of(&rc, 1), Status::Down);
        assert_eq!(status_of(&rc, 3), Status::NotApplicable);
        assert_eq!(status_of(&rc, 2), Status::Warn);
    }
}
