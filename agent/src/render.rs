//! The status tree of contract.md, and its colours.

use std::fmt::Write;

use resources::Status;

use crate::model::{ResEntry, SvcStatus};

/// Width of the tree+name part, so status words line up in one column.
const STATUS_COL: usize = 26;
/// Where labels and messages start.
const LABEL_COL: usize = STATUS_COL + 11;

pub fn paint(s: Status, color: bool) -> String {
    if !color {
        return s.as_str().to_string();
    }
    let code = match s {
        Status::Up | Status::StdbyUp => "32",
        Status::Down | Status::StdbyDown => "31",
        Status::Warn => "33",
        _ => "90",
    };
    format!("\x1b[{code}m{}\x1b[0m", s.as_str())
}

/// Pad a status word to `width` visible columns even when painted.
fn padded(s: Status, width: usize, color: bool) -> String {
    let pad = width.saturating_sub(s.as_str().len());
    format!("{}{}", paint(s, color), " ".repeat(pad))
}

fn section(out: &mut String, tree: &str, name: &str, status: Status, color: bool) {
    let head = format!("{tree}{name}");
    let _ = writeln!(out, "{head:<STATUS_COL$}{}", paint(status, color));
}

fn resources(out: &mut String, parent_cont: &str, list: &[ResEntry], color: bool) {
    for (i, r) in list.iter().enumerate() {
        let last = i + 1 == list.len();
        let branch = if last { "'- " } else { "|- " };
        let line = format!(
            "{parent_cont}{branch}{:<14} {:>4} {} {}",
            r.rid,
            r.flags.column(),
            padded(r.status, 10, color),
            r.label
        );
        let _ = writeln!(out, "{}", line.trim_end());
        let cont = format!("{parent_cont}{}", if last { "   " } else { "|  " });
        for msg in &r.log {
            let _ = writeln!(out, "{cont:<LABEL_COL$}# {msg}");
        }
    }
}

pub fn tree(st: &SvcStatus, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", st.svcname);
    if let Some(a) = &st.action {
        let _ = writeln!(out, "# {a}");
    }
    let overall = format!("{:<STATUS_COL$}{}", "overall", paint(st.overall, color));
    if st.frozen {
        let _ = writeln!(out, "{overall} frozen");
    } else {
        let _ = writeln!(out, "{overall}");
    }
    section(&mut out, "|- ", "avail", st.avail, color);
    resources(&mut out, "|  ", &st.resources, color);
    section(&mut out, "|- ", "sync", st.sync, color);
    resources(&mut out, "|  ", &st.sync_resources, color);
    section(&mut out, "'- ", "hb", st.hb, color);
    resources(&mut out, "   ", &st.hb_resources, color);
    out
}

/// One line of `svcmgr ls`.
pub fn ls_line(name: &str, st: Option<&SvcStatus>, err: Option<&str>, color: bool) -> String {
    match (st, err) {
        (Some(st), _) => format!(
            "{name:<24} {}{}",
            padded(st.overall, 10, color),
            if st.frozen { " frozen" } else { "" }
        )
        .trim_end()
        .to_string(),
        (None, Some(e)) => format!("{name:<24} {:<10} # {e}", "undef"),
        (None, None) => format!("{name:<24} undef"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Flags;

    fn entry(rid: &str, status: Status, label: &str, log: &[&str]) -> ResEntry {
        ResEntry {
            rid: rid.into(),
            rtype: "x".into(),
            status,
            label: label.into(),
            log: log.iter().map(|s| s.to_string()).collect(),
            flags: Flags::default(),
        }
    }

    #[test]
    fn tree_matches_the_contract_layout() {
        let st = SvcStatus {
            updated_at: String::new(),
            svcname: "busybox".into(),
            nodename: "n1".into(),
            overall: Status::Up,
            avail: Status::Up,
            frozen: false,
            resources: vec![
                entry("ip#1", Status::Up, "busybox@eth0", &[]),
                entry("fs#1", Status::Up, "/dev/loop0@/srv/busybox", &[]),
            ],
            sync: Status::Up,
            sync_resources: vec![entry(
                "sync#i0",
                Status::Up,
                "ssh svc config to nodes, drpnodes",
                &["n2 need update"],
            )],
            hb: Status::NotApplicable,
            hb_resources: vec![],
            action: None,
        };
        let want = "\
busybox
overall                   up
|- avail                  up
|  |- ip#1           .... up         busybox@eth0
|  '- fs#1           .... up         /dev/loop0@/srv/busybox
|- sync                   up
|  '- sync#i0        .... up         ssh svc config to nodes, drpnodes
|                                    # n2 need update
'- hb                     n/a
";
        assert_eq!(tree(&st, false), want);
    }

    #[test]
    fn frozen_and_messages_under_a_middle_resource() {
        let st = SvcStatus {
            updated_at: String::new(),
            svcname: "web".into(),
            nodename: "n1".into(),
            overall: Status::Down,
            avail: Status::Down,
            frozen: true,
            resources: vec![
                entry("ip#1", Status::Down, "a@eth0", &["interface eth0 is down"]),
                entry("fs#1", Status::Down, "b@/c", &[]),
            ],
            sync: Status::NotApplicable,
            sync_resources: vec![],
            hb: Status::NotApplicable,
            hb_resources: vec![],
            action: None,
        };
        let t = tree(&st, false);
        assert!(t.contains("overall                   down frozen\n"), "{t}");
        assert!(
            t.contains("|  |- ip#1           .... down       a@eth0\n|  |                                 # interface eth0 is down\n"),
            "{t}"
        );
    }

    #[test]
    fn colour_does_not_shift_columns() {
        let plain = padded(Status::Up, 10, false);
        let col = padded(Status::Up, 10, true);
        assert_eq!(plain.len(), 10);
        assert_eq!(col.replace("\x1b[32m", "").replace("\x1b[0m", ""), plain);
    }
}
