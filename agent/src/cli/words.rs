//! The action vocabulary: OpenSVC 2.x spellings mapped to svcmgr's, and the closest known
//! action for a typo.

/// Every action word (split words joined by `_`), for suggestions.
pub const KNOWN: &[&str] = &[
    "print_status",
    "status",
    "print_config",
    "validate_config",
    "print_schedule",
    "print_decision",
    "start",
    "stop",
    "restart",
    "startstandby",
    "startip",
    "stopip",
    "startvg",
    "stopvg",
    "startdisk",
    "stopdisk",
    "startfs",
    "stopfs",
    "startcontainer",
    "stopcontainer",
    "prstart",
    "prstop",
    "prstatus",
    "freeze",
    "thaw",
    "clear",
    "install",
    "syncnodes",
    "syncdrp",
    "syncall",
    "sync_nodes",
    "sync_drp",
    "sync_all",
    "postsync",
    "switch",
    "takeover",
    "giveback",
    "boot",
    "ls",
    "mon",
    "logs",
    "set",
    "unset",
    "get",
    "edit_config",
    "create",
    "delete",
    "enable",
    "disable",
    "docker",
    "podman",
    "daemon_run",
    "daemon_start",
    "daemon_stop",
    "daemon_restart",
    "daemon_status",
    "daemon_running",
];

/// OpenSVC 2.x spellings: `sync nodes` is `syncnodes`.
pub fn canonical(action: &str) -> &str {
    match action {
        "sync_nodes" => "syncnodes",
        "sync_drp" => "syncdrp",
        "sync_all" => "syncall",
        other => other,
    }
}

/// Edit distance counting a swap of two neighbours as one edit (`strat` is one from
/// `start`): optimal string alignment.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The known action closest to `action` (as the user typed it: words joined by `_`), when
/// it is close enough to be a typo; shown with spaces, as typed.
pub fn suggest(action: &str) -> Option<String> {
    let a = action.to_ascii_lowercase();
    let limit = (a.chars().count() / 3).clamp(1, 3);
    KNOWN
        .iter()
        .map(|k| {
            (
                distance(&a, k).min(distance(&a.replace('_', ""), &k.replace('_', ""))),
                *k,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.replace('_', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let cases = [
            ("strat", Some("start")),
            ("stpo", Some("stop")),
            ("print_stauts", Some("print status")),
            ("printstatus", Some("print status")),
            ("sync_node", Some("syncnodes")),
            ("swich", Some("switch")),
            ("edit_conf", Some("edit config")),
            ("frobnicate", None),
            ("xyzzy", None),
            ("a", None),
        ];
        for (typed, want) in cases {
            assert_eq!(suggest(typed).as_deref(), want, "{typed}");
        }
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("strat", "start"), 1);
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(canonical("sync_all"), "syncall");
        assert_eq!(canonical("start"), "start");
    }
}
