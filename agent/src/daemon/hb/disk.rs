//! The disk path: on a block device shared by every node, one slot per node (its index in
//! the sorted cluster node list), each slot [`SLOT`] bytes: a little-endian u32 length, then
//! the same sealed datagram as the network path. Every interval a node writes its own slot
//! and reads the others with O_DIRECT (no page cache between the hosts' views of the LUN);
//! a slot whose sequence stops moving goes stale like a silent network path.

use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use super::codec::{self, Drop, MAX_DATAGRAM};
use super::replay::{ReplayGuard, Verdict};
use super::{PathCtx, PathEvent};

/// Bytes per node on the device; a multiple of every usual logical block size.
pub const SLOT: usize = 16 * 1024;
/// O_DIRECT buffers and offsets are aligned to this (covers 512 and 4096-byte sectors).
const ALIGN: usize = 4096;

pub async fn run(ctx: PathCtx) {
    let Some(dev) = ctx.cfg.dev.clone() else {
        return;
    };
    let Some(mine) = ctx.nodes.iter().position(|n| *n == ctx.nodename) else {
        return;
    };
    let mut guard = ReplayGuard::default();
    let mut file: Option<File> = None;
    let mut beat = ctx.beat.clone();
    let mut tick = tokio::time::interval(ctx.cfg.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_error: Option<String> = None;
    loop {
        tokio::select! {
            _ = ctx.token.cancelled() => return,
            _ = tick.tick() => {}
            r = beat.changed() => if r.is_err() { return },
        }
        let Some(data) = ctx.seal() else { continue };
        let len = data.len();
        let n = ctx.nodes.len();
        let dev2 = dev.clone();
        let f = file.take();
        let r = tokio::task::spawn_blocking(move || cycle(f, &dev2, mine, n, &data)).await;
        let (f, result) = match r {
            Ok(x) => x,
            Err(_) => (None, Err("the disk i/o task failed".to_string())),
        };
        file = f;
        let error = match result {
            Ok(slots) => {
                for (i, slot) in slots.iter().enumerate() {
                    if i != mine {
                        read_slot(&ctx, &mut guard, &ctx.nodes[i], i, slot);
                    }
                }
                for peer in ctx.peers.iter().map(|(p, _)| p) {
                    ctx.emit(PathEvent::Sent {
                        path: ctx.index,
                        peer: peer.clone(),
                        ok: true,
                        bytes: len,
                    });
                }
                None
            }
            Err(e) => Some(e),
        };
        if error != last_error {
            if let Some(e) = &error {
                tracing::error!("hb#{}: {e}", ctx.index + 1);
            }
            ctx.emit(PathEvent::Error {
                path: ctx.index,
                error: error.clone(),
            });
            last_error = error;
        }
    }
}

fn read_slot(ctx: &PathCtx, guard: &mut ReplayGuard, owner: &str, i: usize, slot: &[u8]) {
    let len = u32::from_le_bytes([slot[0], slot[1], slot[2], slot[3]]) as usize;
    if len == 0 {
        return; // never written
    }
    let source = format!("slot {i} ({owner})");
    let drop = |reason: Drop| {
        ctx.emit(PathEvent::Dropped {
            path: ctx.index,
            reason,
            source: source.clone(),
        })
    };
    if len > MAX_DATAGRAM {
        return drop(Drop::TooBig);
    }
    let data = &slot[4..4 + len];
    let h = match codec::header(&ctx.key, data) {
        Ok((h, _)) => h,
        Err(r) => return drop(r),
    };
    if h.sender != owner {
        return drop(Drop::UnknownNode);
    }
    match guard.check(h.sender, h.boot_id, h.seq) {
        Ok(Verdict::New) => {}
        // The owner has not written since the last read: that is what goes stale.
        Ok(Verdict::Same) => return,
        Err(r) => return drop(r),
    }
    match codec::open(&ctx.key, &ctx.peer_set, data) {
        Ok(o) => {
            guard.accept(&o.sender, o.boot_id, o.seq);
            ctx.emit(PathEvent::Rx {
                path: ctx.index,
                opened: Box::new(o),
                bytes: data.len(),
                rtt: None,
            });
        }
        Err(r) => drop(r),
    }
}

type Cycle = (Option<File>, Result<Vec<Vec<u8>>, String>);

/// Write our slot, read every slot. Returns the file to reuse (None after an error, so the
/// next cycle reopens the device).
fn cycle(file: Option<File>, dev: &Path, mine: usize, n: usize, data: &[u8]) -> Cycle {
    let f = match file {
        Some(f) => f,
        None => match open(dev) {
            Ok(f) => f,
            Err(e) => return (None, Err(format!("can not open {}: {e}", dev.display()))),
        },
    };
    let mut buf = AlignedBuf::new(SLOT * n);
    let slot = &mut buf.as_mut()[..SLOT];
    slot.fill(0);
    slot[..4].copy_from_slice(&(data.len() as u32).to_le_bytes());
    slot[4..4 + data.len()].copy_from_slice(data);
    if let Err(e) = f.write_all_at(slot, (mine * SLOT) as u64) {
        return (
            None,
            Err(format!(
                "can not write slot {mine} of {}: {e}",
                dev.display()
            )),
        );
    }
    let all = buf.as_mut();
    if let Err(e) = f.read_exact_at(all, 0) {
        return (
            None,
            Err(format!("can not read the slots of {}: {e}", dev.display())),
        );
    }
    let slots = all.chunks(SLOT).map(<[u8]>::to_vec).collect();
    (Some(f), Ok(slots))
}

fn open(dev: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::fcntl::OFlag::O_DIRECT.bits() | nix::fcntl::OFlag::O_DSYNC.bits())
        .open(dev)
}

/// A zeroed buffer whose start is ALIGN-aligned, from safe code: over-allocate, then skip
/// to the first aligned byte.
struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    fn new(len: usize) -> AlignedBuf {
        let raw = vec![0u8; len + ALIGN];
        let start = (ALIGN - raw.as_ptr() as usize % ALIGN) % ALIGN;
        AlignedBuf { raw, start, len }
    }

    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers() {
        for len in [SLOT, 3 * SLOT] {
            let mut b = AlignedBuf::new(len);
            let s = b.as_mut();
            assert_eq!((s.as_ptr() as usize % ALIGN, s.len()), (0, len));
        }
    }
}
