//! The status algebra: status words, their exit codes and the merge table of contract.md.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    #[serde(rename = "up")]
    Up,
    #[serde(rename = "down")]
    Down,
    #[serde(rename = "warn")]
    Warn,
    #[serde(rename = "n/a")]
    NotApplicable,
    #[serde(rename = "undef")]
    Undef,
    #[serde(rename = "stdby up")]
    StdbyUp,
    #[serde(rename = "stdby down")]
    StdbyDown,
}

impl Status {
    /// The exit code of `svcmgr -s SVC status`.
    pub fn code(self) -> i32 {
        match self {
            Status::Up => 0,
            Status::Down => 1,
            Status::Warn => 2,
            Status::NotApplicable => 3,
            Status::Undef => 5,
            Status::StdbyUp => 6,
            Status::StdbyDown => 7,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Down => "down",
            Status::Warn => "warn",
            Status::NotApplicable => "n/a",
            Status::Undef => "undef",
            Status::StdbyUp => "stdby up",
            Status::StdbyDown => "stdby down",
        }
    }

    /// Combine two statuses (commutative).
    pub fn merge(self, other: Status) -> Status {
        use Status::*;
        match (self, other) {
            (Undef, x) | (x, Undef) => x,
            (NotApplicable, x) | (x, NotApplicable) => x,
            (Warn, _) | (_, Warn) => Warn,
            (a, b) if a == b => a,
            (Up, Down) | (Down, Up) => Warn,
            (Up, StdbyUp) | (StdbyUp, Up) => Up,
            (Down, StdbyUp) | (StdbyUp, Down) => StdbyUp,
            (Up, StdbyDown) | (StdbyDown, Up) => Warn,
            (Down, StdbyDown) | (StdbyDown, Down) => StdbyDown,
            (StdbyUp, StdbyDown) | (StdbyDown, StdbyUp) => Warn,
            _ => Warn,
        }
    }

    /// Merge many; an empty set is `n/a`.
    pub fn merge_all(it: impl IntoIterator<Item = Status>) -> Status {
        it.into_iter().fold(Status::NotApplicable, Status::merge)
    }

    /// How a standby resource's own status is shown.
    pub fn as_standby(self) -> Status {
        match self {
            Status::Up => Status::StdbyUp,
            Status::Down => Status::StdbyDown,
            s => s,
        }
    }

    pub fn is_up(self) -> bool {
        matches!(self, Status::Up | Status::StdbyUp)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A resource's status and the messages explaining it (`# can not find container id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResStatus {
    pub status: Status,
    pub log: Vec<String>,
}

impl ResStatus {
    pub fn new(status: Status) -> Self {
        ResStatus {
            status,
            log: Vec::new(),
        }
    }

    pub fn with(status: Status, msg: impl Into<String>) -> Self {
        ResStatus {
            status,
            log: vec![msg.into()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Status::{self, *};

    fn both(a: Status, b: Status, want: Status) {
        assert_eq!(a.merge(b), want, "{a} + {b}");
        assert_eq!(b.merge(a), want, "{b} + {a}");
    }

    #[test]
    fn undef_is_neutral() {
        for s in [Up, Down, Warn, NotApplicable, StdbyUp, StdbyDown, Undef] {
            both(Undef, s, s);
        }
    }

    #[test]
    fn na_plus_x_is_x() {
        for s in [Up, Down, Warn, NotApplicable, StdbyUp, StdbyDown] {
            both(NotApplicable, s, s);
        }
    }

    #[test]
    fn up_plus_down_is_warn() {
        both(Up, Down, Warn);
    }

    #[test]
    fn anything_plus_warn_is_warn() {
        for s in [Up, Down, Warn, StdbyUp, StdbyDown] {
            both(Warn, s, Warn);
        }
    }

    #[test]
    fn up_plus_stdby_up_is_up() {
        both(Up, StdbyUp, Up);
    }

    #[test]
    fn down_plus_stdby_up_is_stdby_up() {
        both(Down, StdbyUp, StdbyUp);
    }

    #[test]
    fn up_plus_stdby_down_is_warn() {
        both(Up, StdbyDown, Warn);
    }

    #[test]
    fn down_plus_stdby_down_is_stdby_down() {
        both(Down, StdbyDown, StdbyDown);
    }

    #[test]
    fn same_is_same() {
        for s in [Up, Down, Warn, StdbyUp, StdbyDown] {
            both(s, s, s);
        }
    }

    #[test]
    fn empty_merge_is_na() {
        assert_eq!(Status::merge_all([]), NotApplicable);
        assert_eq!(Status::merge_all([Up, Up, Undef]), Up);
        assert_eq!(Status::merge_all([Up, NotApplicable, Down]), Warn);
    }

    #[test]
    fn codes() {
        let codes: Vec<i32> = [Up, Down, Warn, NotApplicable, Undef, StdbyUp, StdbyDown]
            .iter()
            .map(|s| s.code())
            .collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 5, 6, 7]);
    }

    #[test]
    fn standby_mapping() {
        assert_eq!(Up.as_standby(), StdbyUp);
        assert_eq!(Down.as_standby(), StdbyDown);
        assert_eq!(Warn.as_standby(), Warn);
    }
}
