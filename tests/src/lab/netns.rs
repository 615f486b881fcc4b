//! Network namespaces wired to a bridge, and persistent private mount namespaces.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use nix::sched::{setns, CloneFlags};

use super::util::{host, parse_mountinfo, stdout, teardown};

/// The address prefix of every lab; each lab lives in its own namespaces so labs never collide.
pub const SUBNET: &str = "10.77.0";

pub(crate) fn netns_path(ns: &str) -> PathBuf {
    Path::new("/run/netns").join(ns)
}

/// `ip netns add` sets up /run/netns on first use; serialise so parallel labs do not race it.
static NETNS_ADD: Mutex<()> = Mutex::new(());

pub(crate) fn add_netns(ns: &str) {
    {
        let _g = NETNS_ADD.lock().unwrap_or_else(|e| e.into_inner());
        host(&["ip", "netns", "add", ns]);
    }
    host(&["ip", "-n", ns, "link", "set", "lo", "up"]);
}

pub(crate) fn del_netns(ns: &str) -> bool {
    if !netns_path(ns).exists() {
        return true;
    }
    teardown(&["ip", "netns", "del", ns])
}

/// A bridge `br0` in the switch namespace: no STP, no forwarding delay.
pub(crate) fn add_bridge(switch: &str) {
    host(&[
        "ip",
        "-n",
        switch,
        "link",
        "add",
        "br0",
        "type",
        "bridge",
        "stp_state",
        "0",
        "forward_delay",
        "0",
    ]);
    host(&["ip", "-n", switch, "link", "set", "br0", "up"]);
}

/// A veth pair: `port` in the switch namespace enslaved to br0, `eth0` in the node namespace
/// with `ip/24`. The pair is created inside the switch namespace so host names never clash.
pub(crate) fn plug(switch: &str, port: &str, node_ns: &str, ip: &str) {
    host(&[
        "ip", "-n", switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
        node_ns,
    ]);
    host(&[
        "ip", "-n", switch, "link", "set", port, "master", "br0", "up",
    ]);
    host(&[
        "ip",
        "-n",
        node_ns,
        "addr",
        "add",
        &format!("{ip}/24"),
        "dev",
        "eth0",
    ]);
    host(&["ip", "-n", node_ns, "link", "set", "eth0", "up"]);
}

/// Make `dir` a private bind mount of itself, so namespace files can be bound inside it.
pub(crate) fn private_bind_dir(dir: &Path) {
    let d = dir.to_str().expect("utf-8 path");
    host(&["mount", "--bind", d, d]);
    host(&["mount", "--make-private", d]);
}

/// A persistent mount namespace held by a bind mount on `file` (created empty first).
pub(crate) fn add_mount_ns(file: &Path) {
    std::fs::write(file, b"").unwrap_or_else(|e| panic!("create {}: {e}", file.display()));
    let arg = format!("--mount={}", file.display());
    host(&["unshare", &arg, "--propagation", "private", "true"]);
}

/// Detach the copy of /run/netns a new mount namespace inherited: it would pin every
/// network namespace that existed at its creation (other labs' too) until it dies.
pub(crate) fn drop_netns_copies(mnt_file: &Path) {
    let m = format!("--mount={}", mnt_file.display());
    let mi = host(&["nsenter", &m, "cat", "/proc/self/mountinfo"]);
    let points = parse_mountinfo(&stdout(&mi));
    if points.iter().any(|p| p.mount_point == "/run/netns") {
        host(&["nsenter", &m, "umount", "-l", "/run/netns"]);
    }
}

/// Inside a node mount namespace, bind `src` over `dst` (e.g. a private home directory).
pub(crate) fn bind_in_ns(mnt_file: &Path, src: &Path, dst: &str) {
    let m = format!("--mount={}", mnt_file.display());
    let s = src.to_str().expect("utf-8 path");
    host(&["nsenter", &m, "mount", "--bind", s, dst]);
}

/// Connect to `addr` from inside network namespace `ns` and read the first bytes.
/// Runs on a scratch thread so the calling thread's namespace never changes.
pub(crate) fn probe_tcp(ns: &str, addr: SocketAddr, timeout: Duration) -> Option<Vec<u8>> {
    let path = netns_path(ns);
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).ok()?;
        setns(f, CloneFlags::CLONE_NEWNET).ok()?;
        let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
        s.set_read_timeout(Some(timeout)).ok()?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).ok()?;
        Some(buf[..n].to_vec())
    })
    .join()
    .ok()
    .flatten()
}
