//! Real test labs on one machine: nodes as network + mount namespaces on a bridge,
//! loop devices as shared disks, an sshd per node, podman per node.
//!
//! Everything a lab creates carries a unique name and is torn down by `Drop`, even after
//! a panic or a half-finished setup. Addresses live only inside the lab's namespaces.

mod cluster;
mod loopdev;
mod lvm;
mod netns;
mod node;
mod podman;
mod sshd;
mod stores;
pub(crate) mod util;

pub use cluster::Lab;
pub use loopdev::LoopDev;
pub use lvm::VolumeGroup;
pub use netns::SUBNET;
pub use node::{Node, NODE_CMD_TIMEOUT};
pub use sshd::{SshSetup, SSH_PORT};
pub use stores::RUN_SVCMGR;
pub use util::{
    assert_fails, assert_ok, require_root, stderr, stdout, svcmgr_bin, unique, wait_until,
    OutputExt,
};
