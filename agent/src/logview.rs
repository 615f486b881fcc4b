//! Reading the log files back (`svcmgr logs`): each record is a line
//! `YYYY-MM-DD HH:MM:SS LEVEL   WHO[.RID] message` (see `logging`), followed by the lines
//! of a multi-line message. Lines of older files without the date are read too (their
//! time is unknown). Pure: text in, records and filters out.

use chrono::{Local, NaiveDate, NaiveDateTime, NaiveTime};
use serde::Serialize;

use crate::logging::FILE_TIME;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warning,
    Error,
}

impl Level {
    /// A level word as written in the log or given to `--level` (`warn` too).
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "trace" => Level::Trace,
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warning" | "warn" => Level::Warning,
            "error" => Level::Error,
            _ => return None,
        })
    }
}

/// One log record. Field names are part of `logs --format json` (README).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Local time, `YYYY-MM-DD HH:MM:SS`; None on lines written without the date.
    pub time: Option<String>,
    /// `HH:MM:SS` as on the console.
    pub clock: String,
    /// As written: `INFO`, `WARNING`, `ERROR`...
    pub level: String,
    /// `WEB.IP#1`, `SVCMGR`.
    pub who: String,
    /// The resource, lower-case as in configs (`ip#1`), when `who` names one.
    pub rid: Option<String>,
    pub message: String,
}

impl Record {
    pub fn level(&self) -> Option<Level> {
        Level::parse(&self.level)
    }

    fn datetime(&self) -> Option<NaiveDateTime> {
        NaiveDateTime::parse_from_str(self.time.as_deref()?, FILE_TIME).ok()
    }

    /// The record as it was on the console (the date dropped) or, `dated`, in the file.
    pub fn text(&self, dated: bool) -> String {
        let when = match (&self.time, dated) {
            (Some(t), true) => t.as_str(),
            _ => self.clock.as_str(),
        };
        format!("{when} {:<8}{} {}", self.level, self.who, self.message)
    }
}

fn is_clock(s: &str) -> bool {
    s.len() == 8 && NaiveTime::parse_from_str(s, "%H:%M:%S").is_ok()
}

/// The head of a record: (date, clock, level, who, message); None for a continuation line.
fn head(line: &str) -> Option<(Option<&str>, &str, &str, &str, &str)> {
    let (date, rest) = match line.get(..11) {
        Some(d)
            if NaiveDate::parse_from_str(d.trim_end(), "%Y-%m-%d").is_ok() && d.ends_with(' ') =>
        {
            (Some(&line[..10]), &line[11..])
        }
        _ => (None, line),
    };
    let clock = rest.get(..8).filter(|c| is_clock(c))?;
    let rest = rest[8..].strip_prefix(' ')?;
    let (level, rest) = rest.split_once(' ')?;
    Level::parse(level)?;
    let rest = rest.trim_start_matches(' ');
    let (who, message) = rest.split_once(' ').unwrap_or((rest, ""));
    if who.is_empty() {
        return None;
    }
    Some((date, clock, level, who, message))
}

/// The records of a log file's text. `svc` is the file's service (None for the node log):
/// it tells the rid from the service name, which may hold dots itself.
pub fn parse(text: &str, svc: Option<&str>) -> Vec<Record> {
    let upper = svc.map(str::to_uppercase);
    let mut out: Vec<Record> = Vec::new();
    for line in text.lines() {
        match head(line) {
            Some((date, clock, level, who, message)) => {
                let rid = upper
                    .as_deref()
                    .and_then(|u| who.strip_prefix(u))
                    .and_then(|r| r.strip_prefix('.'))
                    .filter(|r| !r.is_empty())
                    .map(str::to_lowercase);
                out.push(Record {
                    time: date.map(|d| format!("{d} {clock}")),
                    clock: clock.to_string(),
                    level: level.to_string(),
                    who: who.to_string(),
                    rid,
                    message: message.to_string(),
                });
            }
            None => match out.last_mut() {
                Some(r) => {
                    r.message.push('\n');
                    r.message.push_str(line);
                }
                // Text before the first record (a file cut in the middle): kept as is.
                None if !line.trim().is_empty() => out.push(Record {
                    time: None,
                    clock: String::new(),
                    level: String::new(),
                    who: String::new(),
                    rid: None,
                    message: line.to_string(),
                }),
                None => {}
            },
        }
    }
    out
}

/// What `logs` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Records at or after this local time; records without a date are left out.
    pub since: Option<NaiveDateTime>,
    /// Rids (`ip#1`) or groups (`ip`): a record of any of them.
    pub rids: Vec<String>,
    /// This level and above.
    pub level: Option<Level>,
}

impl Filter {
    pub fn keeps(&self, r: &Record) -> bool {
        if let Some(since) = self.since {
            if r.datetime().is_none_or(|t| t < since) {
                return false;
            }
        }
        if !self.rids.is_empty() {
            let Some(rid) = r.rid.as_deref() else {
                return false;
            };
            let group = rid.split('#').next().unwrap_or(rid);
            if !self
                .rids
                .iter()
                .any(|w| w.eq_ignore_ascii_case(rid) || w.eq_ignore_ascii_case(group))
            {
                return false;
            }
        }
        if let Some(min) = self.level {
            if r.level().is_none_or(|l| l < min) {
                return false;
            }
        }
        true
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad --since '{0}': expected YYYY-MM-DD[ HH:MM[:SS]], HH:MM[:SS] (today) or a duration \
     ago such as 10m, 2h, 1d"
)]
pub struct BadSince(pub String);

/// `--since`: a date, a date and time, a time today, or a duration before `now`.
pub fn parse_since(s: &str, now: NaiveDateTime) -> Result<NaiveDateTime, BadSince> {
    let t = s.trim();
    let bad = || BadSince(s.to_string());
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(dt);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).ok_or_else(bad);
    }
    for f in ["%H:%M:%S", "%H:%M"] {
        if let Ok(tm) = NaiveTime::parse_from_str(t, f) {
            return Ok(now.date().and_time(tm));
        }
    }
    // A bare number is not a duration here: `--since 10` is too ambiguous.
    if t.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let d = svcconf::parse_duration(t).ok_or_else(bad)?;
    let d = chrono::Duration::from_std(d).map_err(|_| bad())?;
    now.checked_sub_signed(d).ok_or_else(bad)
}

/// The local time now, as the log files write it.
pub fn local_now() -> NaiveDateTime {
    Local::now().naive_local()
}

#[cfg(test)]
#[path = "logview_tests.rs"]
mod tests;
