//! OpenSVC's schedule expressions, as pure functions: parse a definition, and compute when a
//! task may run next given its last run and the current time.
//!
//! ```text
//! TIMERANGES [DAYS [WEEKS [MONTHS]]]
//! TIMERANGES  comma-separated: `*`, `HH:MM`, `HH:MM-HH:MM`, each with an optional `@INTERVAL`
//!             (a number is minutes, as OpenSVC has it; or a duration: `@10m`, `@1h`) and an
//!             optional leading `~` (run at a point of the range picked per task, to spread
//!             load); `@10m` alone is `*@10m`. Without an interval: once per range.
//! DAYS        mon..sun, ranges (`mon-fri`) and lists (`sat,sun`), or `*`
//! WEEKS       ISO week numbers 1..53, ranges, lists, or `*`
//! MONTHS      jan..dec or 1..12, ranges, lists, or `*`, with an optional `%N` (every Nth)
//! ```
//! Not supported (an error naming them): exclusions (`!`), several expressions, day-of-month
//! forms (`mon:last`).

use std::time::Duration;

use chrono::{Datelike, Duration as CDuration, NaiveDateTime, NaiveTime, Timelike};

const DAY: u32 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// Seconds since 00:00, `end` included; `begin > end` wraps past midnight.
    pub begin: u32,
    pub end: u32,
    pub interval: Duration,
    pub spread: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub raw: String,
    pub ranges: Vec<Range>,
    /// ISO weekdays 1 (mon) ..= 7 (sun).
    pub days: Vec<u32>,
    pub weeks: Vec<u32>,
    pub months: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad schedule '{raw}': {why}")]
pub struct ScheduleError {
    pub raw: String,
    pub why: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn time_of(s: &str) -> Result<u32, String> {
    let bad = || format!("bad time '{s}' (HH:MM)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 || s.len() > 5 {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60)
}

fn interval_of(s: &str) -> Result<Duration, String> {
    let d = if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
        s.parse::<u64>()
            .ok()
            .and_then(|m| m.checked_mul(60))
            .map(Duration::from_secs)
    } else {
        svcconf::parse_duration(s)
    };
    match d {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "bad interval '@{s}' (minutes, or a duration such as 10m)"
        )),
    }
}

fn range_of(spec: &str) -> Result<Range, String> {
    let (spread, spec) = match spec.strip_prefix('~') {
        Some(r) => (true, r),
        None => (false, spec),
    };
    let (times, interval) = match spec.split_once('@') {
        Some((t, i)) => (t, Some(interval_of(i)?)),
        None => (spec, None),
    };
    let (begin, end) = match times {
        "" | "*" => (0, DAY - 1),
        t => match t.split_once('-') {
            Some((b, e)) => (time_of(b)?, time_of(e)?),
            None => {
                let b = time_of(t)?;
                (b, b)
            }
        },
    };
    let length = if begin <= end {
        end - begin + 1
    } else {
        DAY - begin + end + 1
    };
    Ok(Range {
        begin,
        end,
        interval: interval.unwrap_or(Duration::from_secs(length.max(60) as u64)),
        spread,
    })
}

/// `mon-fri,sun` over `names` (1-based), or numbers in `1..=max`.
fn list_of(spec: &str, names: &[&str], max: u32, what: &str) -> Result<Vec<u32>, String> {
    if spec == "*" {
        return Ok((1..=max).collect());
    }
    let one = |s: &str| -> Result<u32, String> {
        let l = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| l.starts_with(n) && l.len() >= 3) {
            return Ok(i as u32 + 1);
        }
        match l.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!("bad {what} '{s}'")),
        }
    };
    let mut v = Vec::new();
    for part in spec.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (one(a)?, one(b)?);
                if a <= b {
                    v.extend(a..=b);
                } else {
                    v.extend((a..=max).chain(1..=b));
                }
            }
            None => v.push(one(part)?),
        }
    }
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

pub fn parse(raw: &str) -> Result<Schedule, ScheduleError> {
    let err = |why: String| ScheduleError {
        raw: raw.to_string(),
        why,
    };
    let s = raw.trim();
    if s.starts_with('!') {
        return Err(err("exclusions ('!') are not supported".into()));
    }
    if s.starts_with('[') {
        return Err(err("lists of expressions are not supported".into()));
    }
    let f: Vec<&str> = s.split_whitespace().collect();
    if f.is_empty() || f.len() > 4 {
        return Err(err(
            "expected TIMERANGES [DAYS [WEEKS [MONTHS]]]".to_string()
        ));
    }
    let ranges = f[0]
        .split(',')
        .map(range_of)
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    let field = |i: usize| f.get(i).copied().unwrap_or("*");
    if field(1).contains(':') {
        return Err(err("day-of-month forms (mon:last) are not supported".into()));
    }
    let days = list_of(field(1), &DAYS, 7, "day").map_err(err)?;
    let weeks = list_of(field(2), &[], 53, "week").map_err(err)?;
    let (mspec, modulo) = match field(3).split_once('%') {
        Some((m, n)) => (m, Some(n)),
        None => (field(3), None),
    };
    let mut months = list_of(
        if mspec.is_empty() { "*" } else { mspec },
        &MONTHS,
        12,
        "month",
    )
    .map_err(err)?;
    if let Some(n) = modulo {
        let n: u32 = n
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| err(format!("bad month modulo '%{n}'")))?;
        months.retain(|m| m % n == 0);
    }
    Ok(Schedule {
        raw: raw.to_string(),
        ranges,
        days,
        weeks,
        months,
    })
}

impl Schedule {
    fn day_ok(&self, t: &NaiveDateTime) -> bool {
        self.days.contains(&t.weekday().number_from_monday())
            && self.weeks.contains(&t.iso_week().week())
            && self.months.contains(&t.month())
    }

    /// The earliest time at or after `now` the task may run: inside a range, on an allowed
    /// day, and at least the range's interval after `last`. `seed` picks the point of a `~`
    /// range (the same for a task every day). None when nothing matches within two years.
    pub fn next(
        &self,
        now: NaiveDateTime,
        last: Option<NaiveDateTime>,
        seed: u64,
    ) -> Option<NaiveDateTime> {
        let mut best: Option<NaiveDateTime> = None;
        let midnight = now.date().and_time(NaiveTime::MIN);
        for day in 0..(366 * 2 + 1) {
            let d0 = midnight + CDuration::days(day);
            if best.is_some_and(|b| b < d0) {
                break;
            }
            for r in &self.ranges {
                // A range wrapping past midnight is two windows of its day.
                let windows: Vec<(u32, u32)> = if r.begin <= r.end {
                    vec![(r.begin, r.end)]
                } else {
                    vec![(0, r.end), (r.begin, DAY - 1)]
                };
                for (b, e) in windows {
                    let start = d0 + CDuration::seconds(b as i64);
                    let end = d0 + CDuration::seconds(e as i64);
                    if !self.day_ok(&start) {
                        continue;
                    }
                    let mut c = start.max(now);
                    if let Some(l) = last {
                        c = c.max(l + CDuration::from_std(r.interval).ok()?);
                    }
                    if r.spread && c == start {
                        let span = (e - b) as u64 + 1;
                        if r.interval.as_secs() >= span {
                            c = start + CDuration::seconds((seed % span) as i64);
                        }
                    }
                    if c <= end && best.is_none_or(|x| c < x) {
                        best = Some(c.with_nanosecond(0).unwrap_or(c));
                    }
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn parse_errors_name_the_problem() {
        for (raw, why) in [
            ("", "expected TIMERANGES [DAYS [WEEKS [MONTHS]]]"),
            ("25:00", "bad time '25:00' (HH:MM)"),
            (
                "04:00-06:00@0",
                "bad interval '@0' (minutes, or a duration such as 10m)",
            ),
            (
                "@x",
                "bad interval '@x' (minutes, or a duration such as 10m)",
            ),
            ("* mon-fry", "bad day 'fry'"),
            ("* * 54", "bad week '54'"),
            ("* * * jan%0", "bad month modulo '%0'"),
            ("!* sat", "exclusions ('!') are not supported"),
            (
                "* mon:last",
                "day-of-month forms (mon:last) are not supported",
            ),
            ("* * * * *", "expected TIMERANGES [DAYS [WEEKS [MONTHS]]]"),
        ] {
            let e = parse(raw).unwrap_err();
            assert_eq!(e.why, why, "{raw}");
        }
        assert_eq!(
            parse("x").unwrap_err().to_string(),
            "bad schedule 'x': bad time 'x' (HH:MM)"
        );
    }

    #[test]
    fn parse_forms() {
        let s = parse("04:00-06:00@121").unwrap();
        assert_eq!(
            s.ranges,
            vec![Range {
                begin: 4 * 3600,
                end: 6 * 3600,
                interval: Duration::from_secs(121 * 60),
                spread: false
            }]
        );
        assert_eq!(s.days, (1..=7).collect::<Vec<_>>());
        let s = parse("@10m").unwrap();
        assert_eq!((s.ranges[0].begin, s.ranges[0].end), (0, DAY - 1));
        assert_eq!(s.ranges[0].interval, Duration::from_secs(600));
        let s = parse("~22:00-02:00 sat,sun * jan-mar%2").unwrap();
        assert!(s.ranges[0].spread);
        assert_eq!(s.days, vec![6, 7]);
        assert_eq!(s.months, vec![2]);
        assert_eq!(parse("* fri-mon").unwrap().days, vec![1, 5, 6, 7]);
    }

    #[test]
    fn next_runs() {
        // 2026-12-03 is a Thursday.
        let table: Vec<(&str, &str, Option<&str>, Option<&str>)> = vec![
            (
                "04:00-06:00",
                "2026-12-03 03:00",
                None,
                Some("2026-12-03 04:00"),
            ),
            (
                "04:00-06:00",
                "2026-12-03 05:00",
                None,
                Some("2026-12-03 05:00"),
            ),
            // Once per range: ran at 04:10, next in tomorrow's range.
            (
                "04:00-06:00",
                "2026-12-03 05:00",
                Some("2026-12-03 04:10"),
                Some("2026-12-04 04:00"),
            ),
            (
                "04:00-06:00@30",
                "2026-12-03 05:00",
                Some("2026-12-03 04:50"),
                Some("2026-12-03 05:20"),
            ),
            (
                "04:00-06:00@30",
                "2026-12-03 05:50",
                Some("2026-12-03 05:40"),
                Some("2026-12-04 04:00"),
            ),
            (
                "@10m",
                "2026-12-03 12:00",
                Some("2026-12-03 11:55"),
                Some("2026-12-03 12:05"),
            ),
            ("@10m", "2026-12-03 12:00", None, Some("2026-12-03 12:00")),
            (
                "23:00-01:00",
                "2026-12-03 00:30",
                None,
                Some("2026-12-03 00:30"),
            ),
            (
                "23:00-01:00",
                "2026-12-03 02:00",
                None,
                Some("2026-12-03 23:00"),
            ),
            ("* sat", "2026-12-03 12:00", None, Some("2026-12-05 00:00")),
            (
                "10:00 mon-fri",
                "2026-12-04 11:00",
                None,
                Some("2026-12-07 10:00"),
            ),
            (
                "* * * jan",
                "2026-12-03 12:00",
                None,
                Some("2027-01-01 00:00"),
            ),
            ("* * 1", "2026-12-03 12:00", None, Some("2027-01-04 00:00")),
            ("* * * feb%3", "2026-12-03 12:00", None, None),
        ];
        for (raw, now, last, want) in table {
            let s = parse(raw).unwrap();
            let got = s.next(t(now), last.map(t), 0);
            assert_eq!(got, want.map(t), "{raw} now {now} last {last:?}");
        }
    }

    #[test]
    fn spread_ranges_pick_a_point_per_seed() {
        let s = parse("~04:00-06:00").unwrap();
        let a = s.next(t("2026-12-03 01:00"), None, 600).unwrap();
        assert_eq!(a, t("2026-12-03 04:10"));
        let b = s.next(t("2026-12-03 01:00"), None, 7201 + 120).unwrap();
        assert_eq!(b, t("2026-12-03 04:02"));
        // Inside the range already: now.
        assert_eq!(
            s.next(t("2026-12-03 05:00"), None, 600),
            Some(t("2026-12-03 05:00"))
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_errs(s in "\\PC{0,40}") {
            if let Ok(sch) = parse(&s) {
                let _ = sch.next(t("2026-12-03 12:00"), Some(t("2026-12-03 11:00")), 7);
            }
        }
    }
}
