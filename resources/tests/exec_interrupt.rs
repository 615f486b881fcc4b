//! Process-wide behaviour of the executor, in a test binary of its own: an interrupt is
//! permanent for the process, and thread counts are only meaningful with one test running.

use std::time::{Duration, Instant};

use resources::exec::{self, Cmd, ExecError};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn hung_commands_leave_no_thread_and_an_interrupt_kills_then_refuses() {
    let before = threads();
    for _ in 0..5 {
        let e = exec::output(&Cmd::new(["sleep", "30"]).timeout(Duration::from_millis(50)));
        assert!(
            matches!(e, Err(ExecError::Timeout { reaped: true, .. })),
            "{e:?}"
        );
    }
    assert_eq!(
        threads(),
        before,
        "a timed-out command left a thread behind"
    );

    // Interrupted with a grace: the running command is killed when the grace ends.
    let t = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(200));
        exec::cancel(Duration::from_millis(100));
    });
    let t0 = Instant::now();
    let e = exec::output(&Cmd::new(["sleep", "30"])).unwrap_err();
    t.join().unwrap();
    assert!(
        matches!(e, ExecError::Interrupted { started: true, .. }),
        "{e:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert!(exec::cancelled());
    assert!(exec::running().is_empty());
    // ... and nothing starts after it.
    let e = exec::output(&Cmd::new(["true"])).unwrap_err();
    assert_eq!(e.to_string(), "true: not run: the action was interrupted");
}
