//! The lab: nodes in their own network and mount namespaces, wired to one bridge.
//! Everything it creates is recorded as it goes, so `Drop` undoes a half-built lab too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};

use super::loopdev::MOUNT_NAMESPACES;
use super::netns::{self, SUBNET};
use super::node::{lock, Node, Shared};
use super::podman;
use super::sshd::{self, SshSetup};
use super::stores;
use super::util::{kill_ns_processes, ns_id, parse_mountinfo, teardown, unique, ProcId};

#[derive(Debug)]
struct PodmanState {
    image: String,
}

/// A set of nodes on one private subnet. Dropping it tears everything down.
#[derive(Debug)]
pub struct Lab {
    id: String,
    dir: PathBuf,
    run_dir: PathBuf,
    switch_ns: String,
    nodes: Vec<Node>,
    shared: Arc<Shared>,
    created_netns: Vec<String>,
    mnt_files: Vec<PathBuf>,
    dir_created: bool,
    run_dir_created: bool,
    run_dir_mounted: bool,
    ssh: Option<SshSetup>,
    sshd: Mutex<BTreeMap<String, (Child, ProcId)>>,
    podman: Option<PodmanState>,
}

fn valid_node_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 32
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Lab {
    /// One network namespace and one private mount namespace per node, eth0 on a shared
    /// bridge, node i at 10.77.0.(10+i)/24, a root dir with etc/node.toml per node.
    pub fn new(nodes: &[&str]) -> Lab {
        Lab::create(nodes, None)
    }

    /// Like [`Lab::new`] but panics after building `built` nodes: proves a half-built lab
    /// is torn down. The panic message names the lab id.
    #[doc(hidden)]
    pub fn new_failing_after(nodes: &[&str], built: usize) -> Lab {
        Lab::create(nodes, Some(built))
    }

    fn create(nodes: &[&str], fail_after: Option<usize>) -> Lab {
        assert!(
            !nodes.is_empty() && nodes.len() <= 200,
            "lab: 1 to 200 nodes"
        );
        for (i, n) in nodes.iter().enumerate() {
            assert!(valid_node_name(n), "lab: bad node name {n:?}");
            assert!(!nodes[..i].contains(n), "lab: duplicate node name {n:?}");
        }
        let id = unique("lab");
        let dir = std::env::temp_dir().join(&id);
        let mut lab = Lab {
            switch_ns: format!("{id}-sw"),
            run_dir: Path::new("/run").join(&id),
            shared: Arc::new(Shared::new(dir.join("spawn"))),
            dir,
            id,
            nodes: Vec::new(),
            created_netns: Vec::new(),
            mnt_files: Vec::new(),
            dir_created: false,
            run_dir_created: false,
            run_dir_mounted: false,
            ssh: None,
            sshd: Mutex::new(BTreeMap::new()),
            podman: None,
        };
        lab.build(nodes, fail_after);
        lab
    }

    fn build(&mut self, names: &[&str], fail_after: Option<usize>) {
        std::fs::create_dir(&self.dir).expect("create lab dir");
        self.dir_created = true;
        std::fs::create_dir_all(&self.shared.spawn_dir).expect("create spawn dir");

        self.created_netns.push(self.switch_ns.clone());
        netns::add_netns(&self.switch_ns);
        netns::add_bridge(&self.switch_ns);

        std::fs::create_dir(&self.run_dir).expect("create lab run dir");
        self.run_dir_created = true;
        self.run_dir_mounted = true;
        netns::private_bind_dir(&self.run_dir);

        for (i, name) in names.iter().enumerate() {
            if fail_after == Some(i) {
                panic!("lab {}: injected failure after {i} node(s)", self.id);
            }
            let ns = format!("{}-{name}", self.id);
            let ip = format!("{SUBNET}.{}", 10 + i);
            let root = self.dir.join(name);
            for sub in ["etc", "var", "log"] {
                std::fs::create_dir_all(root.join(sub)).expect("create node root");
            }
            std::fs::write(
                root.join("etc").join("node.toml"),
                format!("nodename = \"{name}\"\n"),
            )
            .expect("write node.toml");
            let home = self.dir.join("home").join(name);
            std::fs::create_dir_all(&home).expect("create node home");
            let mntns = self.run_dir.join(format!("{name}.mnt"));

            self.created_netns.push(ns.clone());
            netns::add_netns(&ns);
            netns::plug(&self.switch_ns, &format!("p{i}"), &ns, &ip);
            self.mnt_files.push(mntns.clone());
            netns::add_mount_ns(&mntns);
            lock(&MOUNT_NAMESPACES).push(mntns.clone());
            netns::drop_netns_copies(&mntns);
            // Each node has its own /root (ssh files, shell rc) like a separate machine.
            netns::bind_in_ns(&mntns, &home, "/root");
            stores::private_run(&self.dir, name, &mntns);
            self.nodes.push(Node {
                name: name.to_string(),
                ns,
                ip,
                root,
                mntns,
                home,
                shared: Arc::clone(&self.shared),
            });
        }
    }

    /// The lab's unique id: prefix container and other global names with it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| {
                let known: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
                panic!("lab: no node {name:?} (nodes: {known:?})")
            })
    }

    /// All nodes, in creation order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// "10.77.0.<host>", an address on the lab subnet (e.g. for a service ip).
    pub fn subnet_ip(&self, host: u8) -> String {
        format!("{SUBNET}.{host}")
    }

    /// The lab's temporary directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The switch namespace holding the bridge.
    pub fn switch_ns(&self) -> &str {
        &self.switch_ns
    }

    /// One sshd per node, a client key shared by all nodes, [ssh] and [nodes.*] in node.toml.
    pub fn enable_ssh(&mut self) {
        assert!(self.ssh.is_none(), "lab: enable_ssh called twice");
        let setup = SshSetup::create(&self.dir.join("ssh"), &self.nodes);
        for n in &self.nodes {
            n.append_node_toml(&setup.node_toml_text(n, &self.nodes));
        }
        self.ssh = Some(setup);
        for i in 0..self.nodes.len() {
            let name = self.nodes[i].name.clone();
            self.start_sshd(&name);
        }
    }

    /// The ssh setup (keys, known_hosts) once [`Lab::enable_ssh`] ran.
    pub fn ssh(&self) -> Option<&SshSetup> {
        self.ssh.as_ref()
    }

    /// ssh client argv (strict host key checking) to reach node `to` as root.
    pub fn ssh_argv(&self, to: &str) -> Vec<String> {
        self.ssh
            .as_ref()
            .expect("lab: enable_ssh first")
            .ssh_argv(self.node(to))
    }

    /// (Re)start the sshd of `node` and wait until it accepts connections.
    pub fn start_sshd(&self, node: &str) {
        let setup = self.ssh.as_ref().expect("lab: enable_ssh first");
        let n = self.node(node);
        self.kill_sshd(node);
        let started = setup.start(n);
        lock(&self.sshd).insert(node.to_string(), started);
    }

    /// Stop the sshd of `node` (a "peer down"); no-op when it is not running.
    pub fn kill_sshd(&self, node: &str) {
        let _ = self.node(node);
        let entry = lock(&self.sshd).remove(node);
        if let Some((mut child, id)) = entry {
            sshd::stop(&mut child, id);
        }
    }

    /// Restart running sshds so their SetEnv follows environment changes.
    fn refresh_sshd(&self, only: Option<&str>) {
        let running: Vec<String> = lock(&self.sshd).keys().cloned().collect();
        for n in running
            .iter()
            .filter(|n| only.is_none_or(|o| o == n.as_str()))
        {
            self.start_sshd(n);
        }
    }

    /// Prepend `dir` to PATH for every node command (and ssh session).
    pub fn add_path_dir(&mut self, dir: &Path) {
        lock(&self.shared.path_dirs).insert(0, dir.to_path_buf());
        self.refresh_sshd(None);
    }

    /// Extra environment for the commands (and ssh sessions) of one node.
    pub fn set_env(&mut self, node: &str, key: &str, val: &str) {
        let _ = self.node(node);
        lock(&self.shared.env)
            .entry(node.to_string())
            .or_default()
            .insert(key.to_string(), val.to_string());
        self.refresh_sshd(Some(node));
    }

    /// A tarball of a busybox root filesystem (built once), for `podman import` or
    /// `docker import` into a service's own store.
    pub fn image_tar(&self) -> PathBuf {
        let tar = self.dir.join("podman").join("image.tar");
        if !tar.exists() {
            podman::build_image_tar(&self.dir.join("podman"));
        }
        tar
    }

    /// Per-node podman configuration plus a busybox image in every node; returns its name.
    pub fn podman_env(&mut self) -> String {
        if let Some(p) = &self.podman {
            return p.image.clone();
        }
        let base = self.dir.join("podman");
        let image = format!("localhost/busybox-{}:lab", self.id);
        // Recorded first: teardown must clean the node stores even if an import fails.
        self.podman = Some(PodmanState {
            image: image.clone(),
        });
        for n in &self.nodes {
            let (containers, storage) = podman::write_confs(&base, n);
            let mut env = lock(&self.shared.env);
            let e = env.entry(n.name.clone()).or_default();
            e.insert("CONTAINERS_CONF".into(), containers.display().to_string());
            e.insert(
                "CONTAINERS_STORAGE_CONF".into(),
                storage.display().to_string(),
            );
        }
        let tar = self.image_tar();
        for n in &self.nodes {
            podman::import(n, &tar, &image);
        }
        self.refresh_sshd(None);
        image
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // 1. Processes the lab started, by pid.
        for p in lock(&self.shared.spawned).drain(..) {
            p.kill();
        }
        let sshds: Vec<(String, (Child, ProcId))> =
            std::mem::take(&mut *lock(&self.sshd)).into_iter().collect();
        for (_, (mut child, id)) in sshds {
            sshd::stop(&mut child, id);
        }
        // 2. Containers and images (they live outside the node network namespace), the
        // services' private dockerds and stores.
        for n in &self.nodes {
            stores::stop_dockerds(n);
            stores::kill_podman_leftovers(&self.dir, n);
        }
        if self.podman.is_some() {
            for n in &self.nodes {
                podman::cleanup(n);
                podman::kill_leftovers(&self.dir.join("podman"), n);
            }
        }
        // 3. Anything else still running in the lab's namespaces.
        let net_ids: Vec<_> = self
            .created_netns
            .iter()
            .filter_map(|ns| ns_id(&netns::netns_path(ns)))
            .collect();
        let mnt_ids: Vec<_> = self.mnt_files.iter().filter_map(|f| ns_id(f)).collect();
        kill_ns_processes(&net_ids, &mnt_ids);
        // 4. Mount namespaces, then the private /run/<id> mount.
        lock(&MOUNT_NAMESPACES).retain(|f| !self.mnt_files.contains(f));
        let mounted: Vec<String> = host_mount_points();
        for f in &self.mnt_files {
            let s = f.display().to_string();
            if mounted.contains(&s) {
                teardown(&["umount", &s]);
            }
            let _ = std::fs::remove_file(f);
        }
        if self.run_dir_mounted {
            teardown(&["umount", "-l", &self.run_dir.display().to_string()]);
        }
        if self.run_dir_created {
            if let Err(e) = std::fs::remove_dir(&self.run_dir) {
                eprintln!("lab teardown: rmdir {}: {e}", self.run_dir.display());
            }
        }
        // 5. Network namespaces (their veths and the bridge go with them).
        for ns in self.created_netns.iter().rev() {
            netns::del_netns(ns);
        }
        // 6. The temp dir, after detaching anything mounted below it in the host namespace.
        if self.dir_created {
            let prefix = format!("{}/", self.dir.display());
            let mut below: Vec<String> = host_mount_points()
                .into_iter()
                .filter(|m| m.starts_with(&prefix) || *m == self.dir.display().to_string())
                .collect();
            below.sort_by_key(|m| std::cmp::Reverse(m.len()));
            for m in below {
                teardown(&["umount", "-l", &m]);
            }
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                eprintln!("lab teardown: remove {}: {e}", self.dir.display());
            }
        }
    }
}

fn host_mount_points() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_mountinfo(&text)
        .into_iter()
        .map(|m| m.mount_point)
        .collect()
}
