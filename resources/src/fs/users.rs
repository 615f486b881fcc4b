//! Who keeps a mount point busy, and which of them may be signalled: never this process or
//! its ancestors (a stop run from a shell sitting in the mount point).

use std::time::{Duration, Instant};

use crate::exec::{self, Cmd};
use crate::Ctx;
use crate::Result;

/// The least time given to a command run once the stop deadline is near.
const MIN_CMD_TIME: Duration = Duration::from_millis(500);
/// Bound on the walk up the process tree (a loop in /proc would be a kernel bug).
const MAX_ANCESTORS: usize = 4096;

/// The time left before `deadline`, at least [`MIN_CMD_TIME`].
pub(super) fn remaining(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(MIN_CMD_TIME)
}

/// The processes using the filesystem mounted at `path`. `-M`: fuser answers nothing
/// unless `path` still is a mount point, rather than reporting its parent filesystem.
pub(super) fn fuser(ctx: &Ctx, path: &str, deadline: Instant) -> Result<Vec<i32>> {
    let cmd = Cmd::new(["fuser", "-M", "-m", path]).timeout(remaining(deadline));
    let out = ctx.output(&cmd)?;
    match out.code {
        0 => Ok(parse_fuser_pids(&out.stdout)),
        // Nobody uses it, or it is no longer a mount point.
        1 => Ok(Vec::new()),
        code => Err(exec::ExecError::Failed {
            argv: cmd.display(),
            code,
            stdout: out.stdout,
            stderr: out.stderr,
        }
        .into()),
    }
}

/// The pids fuser prints on stdout (the access letters go to stderr; tolerate them here).
pub(super) fn parse_fuser_pids(stdout: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = stdout
        .split_whitespace()
        .filter_map(|w| {
            let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            digits.parse().ok().filter(|p| *p > 0)
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Split `users` into the ones to signal and the ones spared: this process and its
/// ancestors (a stop run from a shell whose cwd is the mount point must not kill that shell).
pub(super) fn users_to_kill(users: &[i32]) -> (Vec<i32>, Vec<i32>) {
    let me = std::process::id() as i32;
    let spare = ancestors(me, |pid| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()
    });
    users.iter().partition(|p| !spare.contains(p))
}

/// `pid` and its ancestors, read through `stat_of` (the text of /proc/<pid>/stat).
pub(super) fn ancestors(pid: i32, stat_of: impl Fn(i32) -> Option<String>) -> Vec<i32> {
    let mut chain = vec![pid];
    let mut cur = pid;
    while chain.len() < MAX_ANCESTORS {
        match stat_of(cur).as_deref().and_then(parse_ppid) {
            Some(ppid) if ppid > 0 && !chain.contains(&ppid) => {
                chain.push(ppid);
                cur = ppid;
            }
            _ => break,
        }
    }
    chain
}

/// The parent pid in a /proc/<pid>/stat line. The command name may hold spaces and
/// parentheses: the fields after it start after its last `)`.
pub(super) fn parse_ppid(stat: &str) -> Option<i32> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

pub(super) fn join_pids(pids: &[i32]) -> String {
    pids.iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuser_pids_from_stdout() {
        assert_eq!(
            parse_fuser_pids("  3518  3519  3528"),
            vec![3518, 3519, 3528]
        );
        // Access letters, if a fuser prints them on stdout, and duplicates.
        assert_eq!(parse_fuser_pids(" 12c 7rce 12m\n"), vec![7, 12]);
        assert_eq!(parse_fuser_pids(""), Vec::<i32>::new());
        assert_eq!(parse_fuser_pids("/srv/web: kernel 0 x"), Vec::<i32>::new());
    }

    #[test]
    fn ppid_from_proc_stat() {
        assert_eq!(parse_ppid("4242 (bash) S 4200 4242 4242 0 -1"), Some(4200));
        // A command name with spaces and parentheses.
        assert_eq!(parse_ppid("77 (a b) (c)) R 1 77 77 0"), Some(1));
        assert_eq!(parse_ppid("77 (kthreadd) S 0 0 0"), Some(0));
        assert_eq!(parse_ppid("garbage"), None);
    }

    fn fake_stat(tree: &[(i32, i32)]) -> impl Fn(i32) -> Option<String> + '_ {
        move |pid| {
            tree.iter()
                .find(|(p, _)| *p == pid)
                .map(|(p, pp)| format!("{p} (x) S {pp} 1 1 0"))
        }
    }

    #[test]
    fn ancestors_walk_up_to_init() {
        let tree = [(50, 40), (40, 30), (30, 1), (1, 0), (60, 50)];
        assert_eq!(ancestors(50, fake_stat(&tree)), vec![50, 40, 30, 1]);
        // A vanished parent ends the walk.
        assert_eq!(ancestors(99, fake_stat(&tree)), vec![99]);
        // A loop (never on a sane kernel) does not hang.
        let looped = [(5, 6), (6, 5)];
        assert_eq!(ancestors(5, fake_stat(&looped)), vec![5, 6]);
    }

    #[test]
    fn users_to_kill_spares_this_process_and_its_parents() {
        let me = std::process::id() as i32;
        let parent = nix::unistd::getppid().as_raw();
        // A child of ours is a user like any other.
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let child_pid = child.id() as i32;
        let (kill, spared) = users_to_kill(&[parent, me, child_pid]);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(kill, vec![child_pid]);
        assert_eq!(spared, vec![parent, me]);
    }
}
