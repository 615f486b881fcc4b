//! SIGINT, SIGTERM and SIGHUP during an action: no new command starts, the running one gets
//! [`GRACE`] to end before it is killed (a second signal kills it at once), the action
//! stops without a rollback, its intent is kept (marked interrupted), and the lock is
//! released only then. Without this a Ctrl-C would leave `e2fsck` or `vgchange` running
//! unlocked while a rerun starts a second one.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};

/// How long the running command may go on after the first signal.
pub const GRACE: Duration = Duration::from_secs(10);

static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Take over the termination signals. Call before any thread is started: threads inherit
/// the blocked mask, the waiting thread alone receives them (children get the default
/// mask back when they are spawned).
pub fn handle() {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    if let Err(e) = set.thread_block() {
        tracing::warn!("can not take over SIGINT/SIGTERM: {e}");
        return;
    }
    std::thread::spawn(move || {
        while let Ok(sig) = set.wait() {
            if RECEIVED.swap(sig as i32, Ordering::SeqCst) == 0 {
                tracing::warn!(
                    "{sig}: interrupting: no new command starts, the running one has {}s to \
                     end (send it again to kill it now)",
                    GRACE.as_secs()
                );
                resources::exec::cancel(GRACE);
            } else {
                tracing::warn!("{sig} again: killing the running command now");
                resources::exec::cancel(Duration::ZERO);
            }
        }
    });
}

/// The exit code for an interrupted run (128 + the first signal), if one came.
pub fn exit_code() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(128 + sig),
    }
}
