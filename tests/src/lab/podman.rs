//! Podman per node: each node gets its own storage, run and lock directories (as separate
//! machines would), configured through `CONTAINERS_CONF` and `CONTAINERS_STORAGE_CONF`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::node::Node;
use super::util::{assert_ok, host, stderr, teardown, try_run_bounded, ProcId};

/// Applets linked in the lab image (busybox-static provides them all).
const APPLETS: &[&str] = &[
    "sh", "sleep", "date", "cat", "echo", "ls", "true", "false", "env", "touch", "mkdir", "rm",
    "ps", "kill", "hostname", "id", "pwd", "grep", "test",
];

/// Where the node's podman keeps its state.
pub(crate) fn node_dir(base: &Path, node: &Node) -> PathBuf {
    base.join(&node.name)
}

/// Write the node's containers.conf and storage.conf; returns (containers.conf, storage.conf).
pub(crate) fn write_confs(base: &Path, node: &Node) -> (PathBuf, PathBuf) {
    let d = node_dir(base, node);
    for sub in ["storage", "run", "tmp", "net"] {
        std::fs::create_dir_all(d.join(sub)).expect("create podman dir");
    }
    let containers = d.join("containers.conf");
    let storage = d.join("storage.conf");
    // crun fails on this kernel's hybrid cgroups: runc. The rlimit defaults fail too.
    // File locks in tmp_dir keep each node's lock numbers away from the host's shm locks.
    let c = format!(
        "[containers]\ndefault_ulimits = []\nnetns = \"none\"\n\n\
         [engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
         lock_type = \"file\"\ntmp_dir = \"{tmp}\"\n\n\
         [network]\nnetwork_config_dir = \"{net}\"\n",
        tmp = d.join("tmp").display(),
        net = d.join("net").display(),
    );
    // vfs: no overlay mounts to leak; the image is tiny.
    let s = format!(
        "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
        d.join("storage").display(),
        d.join("run").display(),
    );
    std::fs::write(&containers, c).expect("write containers.conf");
    std::fs::write(&storage, s).expect("write storage.conf");
    (containers, storage)
}

/// A tarball of a root filesystem holding busybox-static and a few applet links.
pub(crate) fn build_image_tar(base: &Path) -> PathBuf {
    let root = base.join("image");
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("create image dir");
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox-static is not installed");
    std::fs::copy(busybox, bin.join("busybox")).expect("copy busybox");
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", bin.join(a)).expect("applet symlink");
    }
    for d in ["tmp", "etc", "proc", "sys", "dev"] {
        std::fs::create_dir_all(root.join(d)).expect("create image dir");
    }
    let tar = base.join("image.tar");
    host(&[
        "tar",
        "-C",
        root.to_str().expect("utf-8 path"),
        "-cf",
        tar.to_str().expect("utf-8 path"),
        ".",
    ]);
    tar
}

/// Import the tarball as `image` into the node's storage.
pub(crate) fn import(node: &Node, tar: &Path, image: &str) {
    let o = node.sh(&[
        "podman",
        "import",
        "-q",
        tar.to_str().expect("utf-8 path"),
        image,
    ]);
    assert_ok(&o, &format!("podman import on {}", node.name));
}

/// Remove every container and image of the node's storage (all of them belong to the lab).
/// Never panics: it runs during teardown.
pub(crate) fn cleanup(node: &Node) {
    for argv in [
        &["podman", "rm", "--all", "--force", "--time", "0"][..],
        &["podman", "rmi", "--all", "--force"][..],
    ] {
        match try_run_bounded(node.command(argv), Duration::from_secs(60)) {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "lab teardown: {} on {} failed: {}",
                argv.join(" "),
                node.name,
                stderr(&o).trim()
            ),
            Err(e) => eprintln!("lab teardown: {} on {}: {e:?}", argv.join(" "), node.name),
        }
    }
}

/// Fallback when `podman rm` could not finish: kill every container init and conmon whose
/// pid file is still in the node's run directory (a container's processes live in their own
/// namespaces, out of reach of the lab's namespace sweep), then drop runc's state and cgroups.
pub(crate) fn kill_leftovers(base: &Path, node: &Node) {
    kill_leftovers_in(&node_dir(base, node).join("run"));
}

/// `kill_leftovers` for the store whose run root is `run`.
pub(crate) fn kill_leftovers_in(run: &Path) {
    let Ok(drivers) = std::fs::read_dir(run) else {
        return;
    };
    let ctr_dirs = drivers
        .flatten()
        .filter(|d| d.file_name().to_string_lossy().ends_with("-containers"))
        .filter_map(|d| std::fs::read_dir(d.path()).ok())
        .flat_map(|rd| rd.flatten());
    for c in ctr_dirs {
        let id = c.file_name().to_string_lossy().into_owned();
        if id.len() != 64 || !id.chars().all(|ch| ch.is_ascii_hexdigit()) {
            continue;
        }
        for f in ["pidfile", "conmon.pid"] {
            let p = c.path().join("userdata").join(f);
            let pid = std::fs::read_to_string(&p)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .and_then(ProcId::of);
            if let Some(pid) = pid {
                eprintln!(
                    "lab teardown: killing leftover container process {} ({})",
                    pid.pid,
                    p.display()
                );
                pid.kill();
            }
        }
        if Path::new("/run/runc").join(&id).exists() {
            teardown(&["runc", "delete", "--force", &id]);
        }
    }
}
