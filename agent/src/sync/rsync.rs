//! `[sync#N] type = rsync`: the service's data sent with rsync over ssh, from the node where
//! the service is up to its target nodes (`target = nodes`, `drpnodes` or both), as
//! OpenSVC's sync.rsync. Run by `syncnodes`/`syncdrp`/`sync all` (and the scheduler's sync
//! task); never started or stopped. Each successful transfer to a peer is stamped in
//! `R/var/services/<svc>/<rid>.last_sync.<peer>`; a peer whose stamp is older than
//! `sync_max_delay` is late, and the sync is down where the service is up.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use resources::exec::Cmd;
use resources::Status;
use svcconf::ResourceConfig;

use super::Targets;
use crate::model::{Flags, ResEntry};
use crate::service::Service;
use crate::ssh::{self, shell_quote, Target};

/// OpenSVC's default options (before `options`, unless `reset_options`).
const DEFAULT_OPTIONS: &[&str] = &["-HAXpogDtrlvx", "--stats", "--delete", "--force"];
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(25 * 3600);
/// Bound on the ssh session that checks `dstfs` on a peer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// One rsync resource of a service.
pub struct Rsync<'a> {
    pub rc: &'a ResourceConfig,
}

impl Rsync<'_> {
    pub fn all(svc: &Service) -> Vec<Rsync<'_>> {
        svc.cfg.syncs.iter().map(|rc| Rsync { rc }).collect()
    }

    fn rid(&self) -> &str {
        &self.rc.rid
    }

    fn timeout(&self) -> Duration {
        self.rc.duration("timeout").unwrap_or(DEFAULT_TIMEOUT)
    }

    fn max_delay(&self) -> Duration {
        self.rc
            .duration("sync_max_delay")
            .unwrap_or(DEFAULT_MAX_DELAY)
    }

    fn target_groups(&self) -> &[String] {
        self.rc.list("target")
    }

    /// The peers this sync sends to on a `to` run: the nodes of each group in `target`
    /// (`syncdrp`: the drpnodes group only), without this node.
    pub fn peers(&self, svc: &Service, to: Targets) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for g in self.target_groups() {
            let nodes = match g.as_str() {
                "nodes" if to == Targets::All => &svc.cfg.nodes,
                "drpnodes" => &svc.cfg.drpnodes,
                _ => continue,
            };
            for n in nodes {
                if n != &svc.node.nodename && !out.contains(n) {
                    out.push(n.clone());
                }
            }
        }
        out
    }

    /// `src` words, shell globs expanded as OpenSVC does (a word matching nothing is
    /// dropped; one without glob characters is kept as written, trailing slash included).
    fn sources(&self) -> Vec<String> {
        let mut out = Vec::new();
        for w in self.rc.list("src") {
            if !w.contains(['*', '?', '[']) {
                if Path::new(w).exists() {
                    out.push(w.clone());
                }
                continue;
            }
            if let Ok(paths) = glob::glob(w) {
                out.extend(paths.flatten().map(|p| p.display().to_string()));
            }
        }
        out
    }

    /// The rsync command sending `src` to `peer`.
    pub fn argv(&self, src: &[String], peer: &Target) -> Vec<String> {
        let mut argv = vec!["rsync".to_string()];
        if !self.rc.bool("reset_options") {
            argv.extend(DEFAULT_OPTIONS.iter().map(|s| s.to_string()));
        }
        argv.extend(self.rc.list("options").iter().cloned());
        argv.push(format!("--timeout={}", self.timeout().as_secs().max(1)));
        if let Some(kb) = self.rc.int("bwlimit") {
            argv.push(format!("--bwlimit={kb}"));
        }
        if !argv.iter().any(|a| a == "-e" || a.starts_with("--rsh")) {
            argv.push("-e".into());
            argv.push(rsh(peer));
        }
        argv.extend(src.iter().cloned());
        let dst = self.rc.str("dst").unwrap_or("/");
        argv.push(format!("{}@{}:{dst}", peer.user, peer.addr));
        argv
    }

    fn stamp(&self, var: &Path, peer: &str) -> PathBuf {
        var.join(format!("{}.last_sync.{peer}", self.rid()))
    }

    /// When `peer` last got this sync, from its stamp.
    fn last_sync(&self, var: &Path, peer: &str) -> Option<SystemTime> {
        let text = std::fs::read_to_string(self.stamp(var, peer)).ok()?;
        let t = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
        Some(t.into())
    }

    fn label(&self) -> String {
        format!(
            "rsync {} to {}",
            self.rc.list("src").join(" "),
            self.target_groups().join(" ")
        )
    }

    /// The status entry. `running`: the service is up here (the node syncs run from).
    pub fn status_entry(&self, svc: &Service, running: bool) -> ResEntry {
        let (status, log) = self.status(svc, running, SystemTime::now());
        ResEntry {
            rid: self.rid().to_string(),
            rtype: "sync.rsync".to_string(),
            status,
            label: self.label(),
            log,
            flags: Flags {
                disabled: self.rc.common.disable,
                optional: true,
                ..Flags::default()
            },
        }
    }

    fn status(&self, svc: &Service, running: bool, now: SystemTime) -> (Status, Vec<String>) {
        if self.rc.common.disable {
            return (Status::NotApplicable, vec![]);
        }
        let peers = self.peers(svc, Targets::All);
        if peers.is_empty() {
            return (Status::NotApplicable, vec!["no destination nodes".into()]);
        }
        if !running {
            return (
                Status::NotApplicable,
                vec!["the service is not up here: it syncs from the node where it is up".into()],
            );
        }
        if svc.cfg.drpnodes.contains(&svc.node.nodename) {
            return (
                Status::NotApplicable,
                vec!["service up on a drp node: sync disabled".into()],
            );
        }
        if self.sources().is_empty() {
            return (Status::NotApplicable, vec!["no files to sync".into()]);
        }
        let var = svc.root.svc_var(&svc.name);
        let late: Vec<String> = peers
            .into_iter()
            .filter(|p| {
                self.last_sync(&var, p)
                    .and_then(|t| now.duration_since(t).ok())
                    .is_none_or(|age| age > self.max_delay())
            })
            .collect();
        if late.is_empty() {
            (Status::Up, vec![])
        } else {
            (
                Status::Down,
                vec![format!("{} need update", late.join(", "))],
            )
        }
    }

    /// Send to every peer of a `to` run, one after the other; the peers that failed.
    pub fn run(&self, svc: &Service, to: Targets) -> Vec<String> {
        let rid = self.rid();
        if self.rc.common.disable {
            tracing::info!(rid, "disabled: not synced");
            return vec![];
        }
        if svc.cfg.drpnodes.contains(&svc.node.nodename) {
            tracing::info!(
                rid,
                "this node is a drp node: data syncs run from the nodes"
            );
            return vec![];
        }
        let peers = self.peers(svc, to);
        if peers.is_empty() {
            tracing::info!(rid, "no nodes to sync");
            return vec![];
        }
        let src = self.sources();
        if src.is_empty() {
            tracing::warn!(
                rid,
                "no files to sync: nothing matches src = {}",
                self.rc.list("src").join(" ")
            );
            return peers;
        }
        let ctx = svc.ctx();
        let var = svc.root.svc_var(&svc.name);
        let mut failed = Vec::new();
        for peer in peers {
            let t = Target::from_node_config(&svc.node, &peer);
            if let Some(fs) = self.rc.str("dstfs") {
                if let Err(why) = dstfs_mounted(&t, fs) {
                    tracing::error!(rid, "{peer}: not synced: {why}");
                    failed.push(peer);
                    continue;
                }
            }
            let started = chrono::Local::now();
            // A little past rsync's own I/O timeout: a stuck ssh cannot hang the action.
            let cmd =
                Cmd::new(self.argv(&src, &t)).timeout(self.timeout() + Duration::from_secs(60));
            match ctx.change(rid, &cmd) {
                Ok(_) if ctx.dry_run => {}
                Ok(out) => {
                    let sent = sent_bytes(&out.stdout);
                    match std::fs::create_dir_all(&var).and_then(|()| {
                        std::fs::write(self.stamp(&var, &peer), started.to_rfc3339())
                    }) {
                        Ok(()) => tracing::info!(
                            rid,
                            "{peer}: synced{}",
                            sent.map_or(String::new(), |b| format!(" ({b} bytes sent)"))
                        ),
                        Err(e) => {
                            tracing::error!(rid, "{peer}: synced, but can not record it: {e}");
                            failed.push(peer);
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(rid, "{peer}: rsync failed: {e}");
                    failed.push(peer);
                }
            }
        }
        failed
    }
}

/// The `-e` command: ssh with node.toml's `[ssh]` settings, never asking anything.
fn rsh(t: &Target) -> String {
    let mut w: Vec<String> = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    w.extend([
        "-o".into(),
        "ConnectTimeout=10".into(),
        "-p".into(),
        t.port.to_string(),
    ]);
    if let Some(id) = &t.identity {
        w.extend(["-i".into(), id.display().to_string()]);
    }
    if let Some(kh) = &t.known_hosts {
        w.extend(["-o".into(), format!("UserKnownHostsFile={}", kh.display())]);
    }
    let strict = if t.strict { "yes" } else { "no" };
    w.extend(["-o".into(), format!("StrictHostKeyChecking={strict}")]);
    w.iter()
        .map(|s| shell_quote(s))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `mountpoint -q FS` on the peer: Ok when a filesystem is mounted there.
fn dstfs_mounted(t: &Target, fs: &str) -> Result<(), String> {
    let sess = ssh::connect(t, CHECK_TIMEOUT).map_err(|e| format!("dstfs check: {e}"))?;
    let argv = vec!["mountpoint".to_string(), "-q".into(), fs.to_string()];
    match sess.capture(&argv, CHECK_TIMEOUT) {
        Ok(c) if c.code == 0 => Ok(()),
        Ok(_) => Err(format!("dstfs {fs} is not a mount point there")),
        Err(e) => Err(format!("dstfs check: {e}")),
    }
}

/// `Total bytes sent: 1,234` from rsync --stats.
fn sent_bytes(stdout: &str) -> Option<u64> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Total bytes sent: "))
        .and_then(|n| n.replace(',', "").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsync_stats_give_the_bytes_sent() {
        let out = "sending incremental file list\n\nNumber of files: 3\nTotal bytes sent: 1,234,567\nTotal bytes received: 35\n";
        assert_eq!(sent_bytes(out), Some(1_234_567));
        assert_eq!(sent_bytes("nothing"), None);
    }

    fn sync(text: &str) -> ResourceConfig {
        let l = svcconf::parse_service(text.as_bytes(), Path::new("s.conf"), "s", "n1").unwrap();
        l.config.syncs.into_iter().next().unwrap()
    }

    fn target() -> Target {
        Target {
            node: "n2".into(),
            addr: "10.0.0.2".into(),
            port: 22,
            user: "root".into(),
            identity: None,
            known_hosts: None,
            strict: true,
        }
    }

    #[test]
    fn argv_has_the_defaults_then_options_then_sources_and_destination() {
        let base = "[DEFAULT]\nnodes = n1 n2\n[sync#1]\ntype = rsync\nsrc = /srv/a/ /srv/b\n\
                    dst = /srv\ntarget = nodes\n";
        let src = vec!["/srv/a/".to_string(), "/srv/b".to_string()];
        let rsh = "ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=10 -p 22 -o StrictHostKeyChecking=yes";
        let cases: &[(&str, Vec<&str>)] = &[
            (
                "",
                vec![
                    "rsync",
                    "-HAXpogDtrlvx",
                    "--stats",
                    "--delete",
                    "--force",
                    "--timeout=3600",
                    "-e",
                    rsh,
                    "/srv/a/",
                    "/srv/b",
                    "root@10.0.0.2:/srv",
                ],
            ),
            (
                "options = --exclude='*.tmp' -z\nbwlimit = 500\ntimeout = 2m\n",
                vec![
                    "rsync",
                    "-HAXpogDtrlvx",
                    "--stats",
                    "--delete",
                    "--force",
                    "--exclude=*.tmp",
                    "-z",
                    "--timeout=120",
                    "--bwlimit=500",
                    "-e",
                    rsh,
                    "/srv/a/",
                    "/srv/b",
                    "root@10.0.0.2:/srv",
                ],
            ),
            (
                "reset_options = true\noptions = -a -e 'ssh -p 2222'\n",
                vec![
                    "rsync",
                    "-a",
                    "-e",
                    "ssh -p 2222",
                    "--timeout=3600",
                    "/srv/a/",
                    "/srv/b",
                    "root@10.0.0.2:/srv",
                ],
            ),
        ];
        for (extra, want) in cases {
            let r = Rsync {
                rc: &sync(&format!("{base}{extra}")),
            }
            .argv(&src, &target());
            assert_eq!(r, *want, "with {extra:?}");
        }
    }

    #[test]
    fn sources_expand_globs_and_drop_what_is_missing() {
        let dir = std::env::temp_dir().join(format!("rsync-src-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("d1")).unwrap();
        std::fs::create_dir_all(dir.join("d2")).unwrap();
        let d = dir.display();
        let rc = sync(&format!(
            "[sync#1]\ntype = rsync\nsrc = {d}/d* {d}/d1/ {d}/missing {d}/none*\ndst = /x\ntarget = nodes\n"
        ));
        let got = Rsync { rc: &rc }.sources();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            got,
            [format!("{d}/d1"), format!("{d}/d2"), format!("{d}/d1/")]
        );
    }

    #[test]
    fn rsh_quotes_paths_and_follows_strictness() {
        let t = Target {
            node: "n2".into(),
            addr: "10.0.0.2".into(),
            port: 2222,
            user: "root".into(),
            identity: Some("/etc/svc mgr/id".into()),
            known_hosts: None,
            strict: false,
        };
        assert_eq!(
            rsh(&t),
            "ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=10 -p 2222 -i '/etc/svc mgr/id' -o StrictHostKeyChecking=no"
        );
    }
}
