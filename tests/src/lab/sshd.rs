//! One sshd per node, running inside the node's namespaces with its own config and keys.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use super::netns::probe_tcp;
use super::node::Node;
use super::util::{host, spawn_logged, svcmgr_path, wait_until, ProcId};

pub const SSH_PORT: u16 = 22;
const SSHD: &str = "/usr/sbin/sshd";

/// Keys and files shared by the sshd of every node.
#[derive(Debug)]
pub struct SshSetup {
    pub dir: PathBuf,
    /// The client private key every node uses to reach its peers.
    pub identity: PathBuf,
    /// Every node's host key under its address.
    pub known_hosts: PathBuf,
    pub authorized_keys: PathBuf,
}

fn keygen(path: &Path, kind: &str, comment: &str) {
    host(&[
        "ssh-keygen",
        "-q",
        "-t",
        kind,
        "-N",
        "",
        "-C",
        comment,
        "-f",
        path.to_str().expect("utf-8 path"),
    ]);
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn write(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

impl SshSetup {
    /// Generate the client key and one host key per node; write authorized_keys and known_hosts.
    pub(crate) fn create(dir: &Path, nodes: &[Node]) -> SshSetup {
        std::fs::create_dir_all(dir).expect("create ssh dir");
        // sshd refuses to start without its privilege separation directory.
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let identity = dir.join("id_ed25519");
        keygen(&identity, "ed25519", "lab-client");
        let authorized_keys = dir.join("authorized_keys");
        write(&authorized_keys, &read(&identity.with_extension("pub")));
        let mut kh = String::new();
        for n in nodes {
            let ndir = dir.join(&n.name);
            std::fs::create_dir_all(&ndir).expect("create node ssh dir");
            let hk = ndir.join("ssh_host_ed25519_key");
            keygen(&hk, "ed25519", &n.name);
            // Like a stock Debian sshd, the node also has an ECDSA host key, which
            // known_hosts does not list (as after an OpenSSH client's first connection).
            keygen(&ndir.join("ssh_host_ecdsa_key"), "ecdsa", &n.name);
            let public = read(&hk.with_extension("pub"));
            let mut f = public.split_whitespace();
            let (kind, key) = (f.next().expect("key type"), f.next().expect("key"));
            let _ = writeln!(kh, "{} {kind} {key}", n.ip);
        }
        let known_hosts = dir.join("known_hosts");
        write(&known_hosts, &kh);
        SshSetup {
            dir: dir.to_path_buf(),
            identity,
            known_hosts,
            authorized_keys,
        }
    }

    fn node_dir(&self, node: &Node) -> PathBuf {
        self.dir.join(&node.name)
    }

    /// The node's sshd_config: listens on the node address only, public key auth only,
    /// and `SetEnv` makes every session act as that node.
    pub fn config_text(&self, node: &Node) -> String {
        let d = self.node_dir(node);
        let mut env = String::new();
        for (k, v) in node.env_vars() {
            assert!(
                !v.contains('"') && !k.contains('"'),
                "lab: env value with a double quote cannot go to sshd SetEnv: {k}"
            );
            let _ = write!(env, " \"{k}={v}\"");
        }
        format!(
            "Port {SSH_PORT}\n\
             ListenAddress {ip}\n\
             AddressFamily inet\n\
             HostKey {ecdsa}\n\
             HostKey {hk}\n\
             PidFile {pid}\n\
             AuthorizedKeysFile {ak}\n\
             PermitRootLogin prohibit-password\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             UsePAM no\n\
             StrictModes no\n\
             UseDNS no\n\
             PrintMotd no\n\
             PrintLastLog no\n\
             MaxStartups 100:30:200\n\
             MaxSessions 100\n\
             Subsystem sftp internal-sftp\n\
             SetEnv{env}\n",
            ip = node.ip,
            hk = d.join("ssh_host_ed25519_key").display(),
            ecdsa = d.join("ssh_host_ecdsa_key").display(),
            pid = d.join("sshd.pid").display(),
            ak = self.authorized_keys.display(),
        )
    }

    /// `[ssh]` and `[nodes.<peer>]` sections for the node's node.toml.
    pub fn node_toml_text(&self, node: &Node, nodes: &[Node]) -> String {
        let mut t = format!(
            "[ssh]\nuser = \"root\"\nport = {SSH_PORT}\nidentity = \"{}\"\nknown_hosts = \"{}\"\n\
             strict_host_key_checking = true\nsvcmgr = \"{}\"\n",
            self.identity.display(),
            self.known_hosts.display(),
            svcmgr_path().display()
        );
        for peer in nodes.iter().filter(|p| p.name != node.name) {
            let _ = write!(t, "\n[nodes.{}]\naddr = \"{}\"\n", peer.name, peer.ip);
        }
        t
    }

    /// Write the config, start sshd in the node and wait until it answers with an SSH banner.
    pub(crate) fn start(&self, node: &Node) -> (Child, ProcId) {
        let d = self.node_dir(node);
        let cfg = d.join("sshd_config");
        write(&cfg, &self.config_text(node));
        let cfg_s = cfg.to_str().expect("utf-8 path");
        let check = node.sh(&[SSHD, "-t", "-f", cfg_s]);
        super::util::assert_ok(&check, &format!("sshd -t for {}", node.name));
        let log = d.join("sshd.log");
        let child = spawn_logged(node.command(&[SSHD, "-D", "-e", "-f", cfg_s]), &log);
        let id = ProcId::of(child.id());
        let addr: SocketAddr = format!("{}:{SSH_PORT}", node.ip)
            .parse()
            .expect("socket addr");
        let ready = wait_until(Duration::from_secs(10), "sshd to accept", || {
            probe_tcp(&node.ns, addr, Duration::from_secs(1))
                .is_some_and(|b| b.starts_with(b"SSH-"))
        });
        let Some(id) = id.filter(|_| ready) else {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "lab: sshd of {} did not start; log:\n{}",
                node.name,
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        (child, id)
    }

    /// ssh client arguments (strict host key checking, batch mode) to reach `to` as root.
    pub fn ssh_argv(&self, to: &Node) -> Vec<String> {
        [
            "ssh".to_string(),
            "-F".into(),
            "/dev/null".into(),
            "-i".into(),
            self.identity.display().to_string(),
            "-o".into(),
            format!("UserKnownHostsFile={}", self.known_hosts.display()),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "ConnectTimeout=5".into(),
            "-p".into(),
            SSH_PORT.to_string(),
            format!("root@{}", to.ip),
        ]
        .to_vec()
    }
}

/// Stop one sshd listener and reap it.
pub(crate) fn stop(child: &mut Child, id: ProcId) {
    id.kill();
    let _ = child.kill();
    let _ = child.wait();
}
