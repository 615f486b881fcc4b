//! Services' own container stores in the lab (`container_data_dir`): each node gets a private
//! `/run/svcmgr` (node-local volatile state, as on separate machines), and teardown ends the
//! private dockerds and the containers of every store a test left behind.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::netns;
use super::node::Node;
use super::podman;
use super::util::{stderr, stdout, try_run_bounded, wait_until, ProcId};

/// The engines' volatile per-service state, as svcmgr names it.
pub const RUN_SVCMGR: &str = "/run/svcmgr";

/// The host directory behind the node's `/run/svcmgr`.
pub(crate) fn run_dir(lab_dir: &Path, node: &str) -> PathBuf {
    lab_dir.join("run-svcmgr").join(node)
}

/// Bind a directory of the lab on `/run/svcmgr` in the node's mount namespace.
pub(crate) fn private_run(lab_dir: &Path, node: &str, mntns: &Path) {
    let dir = run_dir(lab_dir, node);
    std::fs::create_dir_all(&dir).expect("create node run dir");
    std::fs::create_dir_all(RUN_SVCMGR).expect("create /run/svcmgr");
    netns::bind_in_ns(mntns, &dir, RUN_SVCMGR);
}

/// The private dockerd sockets of the node's services (`var/services/*/docker.sock`).
fn docker_sockets(node: &Node) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(node.root.join("var/services")) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| e.path().join("docker.sock"))
        .filter(|p| p.exists())
        .collect()
}

/// Remove every container of the node's private dockerds, then stop the daemons (SIGTERM,
/// then SIGKILL of their process group). Never panics: it runs during teardown.
pub(crate) fn stop_dockerds(node: &Node) {
    for sock in docker_sockets(node) {
        let host = format!("unix://{}", sock.display());
        let ps = try_run_bounded(
            node.command(&["docker", "-H", &host, "ps", "-aq"]),
            Duration::from_secs(30),
        );
        if let Ok(o) = ps {
            let ids: Vec<String> = stdout(&o).split_whitespace().map(String::from).collect();
            if !ids.is_empty() {
                let mut argv = vec!["docker", "-H", &host, "rm", "-f"];
                argv.extend(ids.iter().map(String::as_str));
                match try_run_bounded(node.command(&argv), Duration::from_secs(60)) {
                    Ok(o) if o.status.success() => {}
                    Ok(o) => eprintln!("lab teardown: docker rm on {}: {}", node.name, stderr(&o)),
                    Err(e) => eprintln!("lab teardown: docker rm on {}: {e:?}", node.name),
                }
            }
        }
        let pid = std::fs::read_to_string(sock.with_file_name("docker.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .and_then(ProcId::of);
        if let Some(p) = pid {
            eprintln!(
                "lab teardown: stopping private dockerd {} of {}",
                p.pid,
                sock.display()
            );
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p.pid),
                nix::sys::signal::Signal::SIGTERM,
            );
            if !wait_until(Duration::from_secs(20), "dockerd to exit", || !p.alive()) {
                p.kill();
            }
        }
    }
}

/// Kill what the node's podman stores left running (their run roots are below the node's
/// `/run/svcmgr/<svc>/podman/run`).
pub(crate) fn kill_podman_leftovers(lab_dir: &Path, node: &Node) {
    let Ok(rd) = std::fs::read_dir(run_dir(lab_dir, &node.name)) else {
        return;
    };
    for svc in rd.flatten() {
        podman::kill_leftovers_in(&svc.path().join("podman/run"));
    }
}
