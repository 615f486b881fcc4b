use super::*;
use proptest::prelude::*;

const LOG: &str = "\
2026-12-03 10:00:01 INFO    WEB.OPENSVC.COM.IP#1 ip addr add 10.0.0.50/24 dev eth0
2026-12-03 10:00:02 INFO    WEB.OPENSVC.COM.FS#1 e2fsck -p /dev/vg/lv
/dev/vg/lv: clean, 11/16384 files
  second output line
2026-12-03 10:05:00 WARNING WEB.OPENSVC.COM.CONTAINER#1 restarted
12:00:00 ERROR   WEB.OPENSVC.COM start failed
2026-12-04 00:00:00 ERROR   WEB.OPENSVC.COM.FS#12 umount failed
";

fn dt(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

#[test]
fn records_rids_and_continuations() {
    let r = parse(LOG, Some("web.opensvc.com"));
    assert_eq!(r.len(), 5);
    assert_eq!(r[0].time.as_deref(), Some("2026-12-03 10:00:01"));
    assert_eq!(r[0].rid.as_deref(), Some("ip#1"));
    assert_eq!(r[0].level, "INFO");
    assert_eq!(r[0].message, "ip addr add 10.0.0.50/24 dev eth0");
    assert_eq!(
        r[1].message,
        "e2fsck -p /dev/vg/lv\n/dev/vg/lv: clean, 11/16384 files\n  second output line"
    );
    assert_eq!(r[2].rid.as_deref(), Some("container#1"));
    // An old line without the date; the service itself, no rid.
    assert_eq!((r[3].time.as_deref(), r[3].rid.as_deref()), (None, None));
    assert_eq!(r[3].clock, "12:00:00");
    assert_eq!(
        r[0].text(false),
        "10:00:01 INFO    WEB.OPENSVC.COM.IP#1 ip addr add 10.0.0.50/24 dev eth0"
    );
    assert_eq!(
        r[2].text(true),
        "2026-12-03 10:05:00 WARNING WEB.OPENSVC.COM.CONTAINER#1 restarted"
    );
    // The node log: no service to strip, no rid.
    let n = parse("2026-12-03 10:00:00 INFO    SVCMGR daemon started\n", None);
    assert_eq!((n[0].who.as_str(), n[0].rid.as_deref()), ("SVCMGR", None));
    // Text before the first record is kept.
    let cut = parse("tail of a line\n2026-12-03 10:00:00 INFO    X y\n", None);
    assert_eq!(cut[0].message, "tail of a line");
    assert_eq!(cut.len(), 2);
}

#[test]
fn filters() {
    let r = parse(LOG, Some("web.opensvc.com"));
    let kept = |f: Filter| -> Vec<usize> {
        r.iter()
            .enumerate()
            .filter(|(_, x)| f.keeps(x))
            .map(|(i, _)| i)
            .collect()
    };
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: Vec<(Filter, Vec<usize>)> = vec![
        (Filter::default(), vec![0, 1, 2, 3, 4]),
        (
            Filter {
                since: Some(dt("2026-12-03 10:00:02")),
                ..Filter::default()
            },
            vec![1, 2, 4],
        ),
        (
            Filter {
                rids: v(&["fs"]),
                ..Filter::default()
            },
            vec![1, 4],
        ),
        (
            Filter {
                rids: v(&["FS#1", "ip#1"]),
                ..Filter::default()
            },
            vec![0, 1],
        ),
        (
            Filter {
                level: Some(Level::Warning),
                ..Filter::default()
            },
            vec![2, 3, 4],
        ),
        (
            Filter {
                level: Some(Level::Error),
                since: Some(dt("2026-12-03 00:00:00")),
                rids: vec![],
            },
            vec![4],
        ),
    ];
    for (f, want) in cases {
        assert_eq!(kept(f.clone()), want, "{f:?}");
    }
}

#[test]
fn since_forms() {
    let now = dt("2026-12-03 12:30:00");
    let cases = [
        ("2026-12-01", "2026-12-01 00:00:00"),
        ("2026-12-01 08:15", "2026-12-01 08:15:00"),
        ("2026-12-01T08:15:30", "2026-12-01 08:15:30"),
        ("09:00", "2026-12-03 09:00:00"),
        ("10m", "2026-12-03 12:20:00"),
        ("1d2h", "2026-12-02 10:30:00"),
    ];
    for (s, want) in cases {
        assert_eq!(parse_since(s, now), Ok(dt(want)), "{s}");
    }
    for bad in ["", "10", "yesterday", "25:00", "2026-13-01"] {
        assert_eq!(parse_since(bad, now), Err(BadSince(bad.into())), "{bad}");
    }
    assert_eq!(Level::parse("WARN"), Some(Level::Warning));
    assert!(Level::Error > Level::Warning && Level::Warning > Level::Info);
}

proptest! {
    /// Any text parses without panicking, and no line is lost: every non-empty input line
    /// is in some record.
    #[test]
    fn parse_keeps_every_line(lines in proptest::collection::vec("[ -~]{0,60}", 0..20)) {
        let text = lines.join("\n");
        let recs = parse(&text, Some("web"));
        let all: String = recs
            .iter()
            .map(|r| format!("{}\n{}", r.text(true), r.message))
            .collect();
        for l in lines.iter().filter(|l| !l.trim().is_empty()) {
            let tail = l.split_whitespace().last().unwrap_or_default();
            prop_assert!(all.contains(tail), "{l:?} lost");
        }
    }
}
