//! A simple app's process: its pid and start time in `<var>/<rid>.pid`, so a pid reused by
//! another process after a reboot or a crash is not taken for the app, and its process group
//! (the app is spawned as the leader of a group of its own).

use std::path::{Path, PathBuf};

/// The tracked process: pid and its start time in clock ticks since boot (field 22 of
/// /proc/PID/stat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    pub pid: i32,
    pub start: u64,
}

pub fn pid_file(var_dir: &Path, rid: &str) -> PathBuf {
    var_dir.join(format!("{rid}.pid"))
}

/// (state, process group, start time) of a process, from /proc/PID/stat.
fn stat_of(pid: i32) -> Option<(char, i32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// The comm field may hold spaces and parentheses: the fields start after the last ')'.
fn parse_stat(text: &str) -> Option<(char, i32, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state), f[2] field 5 (pgrp), f[19] field 22 (starttime).
    let state = f.first()?.chars().next()?;
    Some((state, f.get(2)?.parse().ok()?, f.get(19)?.parse().ok()?))
}

impl Tracked {
    /// The process `pid` as it is now; None if it does not exist.
    pub fn of(pid: i32) -> Option<Tracked> {
        stat_of(pid).map(|(_, _, start)| Tracked { pid, start })
    }

    pub fn read(file: &Path) -> Option<Tracked> {
        let text = std::fs::read_to_string(file).ok()?;
        let mut w = text.split_whitespace();
        Some(Tracked {
            pid: w.next()?.parse().ok()?,
            start: w.next()?.parse().ok()?,
        })
    }

    pub fn write(&self, file: &Path) -> std::io::Result<()> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = file.with_extension("pid.tmp");
        std::fs::write(&tmp, format!("{} {}\n", self.pid, self.start))?;
        std::fs::rename(&tmp, file)
    }

    /// The same process still runs (not a zombie, not a reused pid).
    pub fn alive(&self) -> bool {
        matches!(stat_of(self.pid), Some((s, _, start)) if s != 'Z' && s != 'X' && start == self.start)
    }

    /// Live processes of the app's process group (the leader's included while it lives).
    /// Empty when the pid now belongs to another process: its group is not the app's (the
    /// kernel reuses no pid while a process group of that id exists).
    pub fn group(&self) -> Vec<i32> {
        if matches!(stat_of(self.pid), Some((_, _, start)) if start != self.start) {
            return Vec::new();
        }
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                matches!(stat_of(*pid), Some((s, pgrp, _)) if pgrp == self.pid && s != 'Z' && s != 'X')
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_the_command_name() {
        let line = "4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    987654 1000000 100 18446744073709551615";
        assert_eq!(parse_stat(line), Some(('S', 4242, 987654)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1"), None);
    }

    #[test]
    fn pid_file_round_trip_and_liveness_of_this_process() {
        let dir = std::env::temp_dir().join(format!("svcmgr-track-{}", std::process::id()));
        let me = Tracked::of(std::process::id() as i32).expect("own stat");
        let f = pid_file(&dir, "app#1");
        me.write(&f).unwrap();
        assert_eq!(Tracked::read(&f), Some(me));
        assert!(me.alive());
        let reused = Tracked {
            pid: me.pid,
            start: me.start + 1,
        };
        assert!(
            !reused.alive(),
            "a pid with another start time is another process"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
