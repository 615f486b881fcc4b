//! node.toml -> `NodeConfig`, and the one edit the agent makes to it (adding `prkey`).

use std::path::Path;

use crate::error::{ConfigError, ConfigWarning};
use crate::model::NodeConfig;

/// Read `path`; a missing file gives the defaults with `nodename = default_nodename`.
pub fn load_node(
    path: &Path,
    default_nodename: &str,
) -> Result<(NodeConfig, Vec<ConfigWarning>), ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_node(&text, path, default_nodename),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            parse_node("", path, default_nodename)
        }
        Err(source) => Err(ConfigError::Read {
            file: path.into(),
            source,
        }),
    }
}

/// The dotted key set on `line` (1-based), `ssh.port` for `port = ...` under `[ssh]`.
fn key_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let (key, _) = lines.get(line.checked_sub(1)?)?.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    let above = &lines[..line - 1];
    let Some(h) = above.iter().rposition(|l| l.trim_start().starts_with('[')) else {
        return Some(key.to_string());
    };
    let header = above[h].trim();
    if let Some(name) = header.strip_prefix("[[").and_then(|r| r.split_once("]]")) {
        // The n-th `[[hb]]` is `hb#n`, as errors name it elsewhere.
        let name = name.0.trim();
        let n = above[..=h]
            .iter()
            .filter(|l| {
                l.trim_start()
                    .strip_prefix("[[")
                    .is_some_and(|r| r.split_once("]]").is_some_and(|(x, _)| x.trim() == name))
            })
            .count();
        return Some(format!("{name}#{n}.{key}"));
    }
    let table = header.trim_matches(|c| c == '[' || c == ']').trim();
    Some(format!("{table}.{key}"))
}

pub fn parse_node(
    text: &str,
    path: &Path,
    default_nodename: &str,
) -> Result<(NodeConfig, Vec<ConfigWarning>), ConfigError> {
    let mut unknown: Vec<Vec<String>> = Vec::new();
    let de = toml::Deserializer::new(text);
    let parsed: Result<NodeConfig, _> =
        serde_ignored::deserialize(de, |p| unknown.push(segments(&p)));
    let mut cfg = parsed.map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        let msg = e.message().lines().next().unwrap_or("").to_string();
        ConfigError::NodeSyntax {
            file: path.into(),
            line,
            // A type error names the value, not its key: name the key too.
            msg: match key_at(text, line) {
                Some(key) => format!("{key}: {msg}"),
                None => msg,
            },
        }
    })?;
    let warnings = unknown
        .iter()
        .map(|segs| ConfigWarning {
            file: path.into(),
            line: key_line(text, segs),
            section: None,
            keyword: None,
            msg: format!("unknown key '{}', ignored", segs.join(".")),
        })
        .collect();
    if cfg.nodename.trim().is_empty() {
        cfg.nodename = default_nodename.to_string();
    }
    if let Some(p) = &cfg.prkey {
        if !valid_prkey(p) {
            return Err(ConfigError::NodeBadValue {
                file: path.into(),
                line: key_line(text, &["prkey".to_string()]),
                keyword: "prkey".into(),
                value: p.clone(),
                expected: "expected 0x and 1 to 16 hex digits, not all zero".into(),
            });
        }
    }
    crate::node_check::check(&cfg, text, path)?;
    Ok((cfg, warnings))
}

fn valid_prkey(p: &str) -> bool {
    p.strip_prefix("0x").is_some_and(|h| {
        (1..=16).contains(&h.len())
            && h.bytes().all(|b| b.is_ascii_hexdigit())
            && h.bytes().any(|b| b != b'0')
    })
}

/// A persistent-reservation key from caller-supplied randomness: `0x` + 16 hex digits, never 0.
pub fn generate_prkey(random: u64) -> String {
    format!("0x{:016x}", random.max(1))
}

/// `text` with a top-level `prkey = "..."` line: it replaces an existing top-level prkey line,
/// or goes before the first table (and the comment lines directly above it), or at the end.
/// Every other byte is kept.
pub fn node_text_with_prkey(text: &str, prkey: &str) -> String {
    let new_line = format!("prkey = \"{prkey}\"\n");
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let first_table = lines.iter().position(|l| l.trim_start().starts_with('['));
    let top = &lines[..first_table.unwrap_or(lines.len())];
    if let Some(i) = top
        .iter()
        .position(|l| key_of(l).is_some_and(|k| k == ["prkey"]))
    {
        let mut out: String = lines[..i].concat();
        out.push_str(&new_line);
        out.push_str(&lines[i + 1..].concat());
        return out;
    }
    let at = match first_table {
        Some(mut i) => {
            while i > 0 && lines[i - 1].trim_start().starts_with('#') {
                i -= 1;
            }
            i
        }
        None => lines.len(),
    };
    let mut out: String = lines[..at].concat();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&new_line);
    out.push_str(&lines[at..].concat());
    out
}

fn segments(p: &serde_ignored::Path<'_>) -> Vec<String> {
    use serde_ignored::Path;
    match p {
        Path::Root => Vec::new(),
        Path::Seq { parent, index } => {
            let mut v = segments(parent);
            v.push(index.to_string());
            v
        }
        Path::Map { parent, key } => {
            let mut v = segments(parent);
            v.push(key.clone());
            v
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => segments(parent),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

/// Dotted path segments of a `[table]` header or a `key = value` line, quotes removed.
fn split_path(s: &str) -> Vec<String> {
    s.split('.')
        .map(|p| p.trim().trim_matches(['"', '\'']).to_string())
        .collect()
}

fn header_of(line: &str) -> Option<Vec<String>> {
    let t = line.trim();
    let inner = t
        .strip_prefix("[[")
        .and_then(|r| r.split_once("]]"))
        .map(|(h, _)| h);
    let inner = inner.or_else(|| {
        t.strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .map(|(h, _)| h)
    })?;
    Some(split_path(inner))
}

fn key_of(line: &str) -> Option<Vec<String>> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') || t.starts_with('[') {
        return None;
    }
    t.split_once('=').map(|(k, _)| split_path(k))
}

/// The line defining `segs` (a key or a table), else the one defining its longest prefix.
/// The n-th `[[x]]` table is `x.n` (0-based), as serde_ignored names it.
pub(crate) fn key_line(text: &str, segs: &[String]) -> usize {
    let mut table: Vec<String> = Vec::new();
    let mut arrays: std::collections::BTreeMap<Vec<String>, usize> = Default::default();
    let mut best = (0, 1);
    for (i, line) in text.lines().enumerate() {
        let full = if let Some(mut h) = header_of(line) {
            if line.trim_start().starts_with("[[") {
                let n = arrays.entry(h.clone()).or_insert(0);
                h.push(n.to_string());
                *n += 1;
            }
            table = h.clone();
            h
        } else if let Some(k) = key_of(line) {
            let mut f = table.clone();
            f.extend(k);
            f
        } else {
            continue;
        };
        if full.len() > best.0 && segs.starts_with(&full) {
            best = (full.len(), i + 1);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HbKind;

    fn parse(t: &str) -> Result<(NodeConfig, Vec<String>), String> {
        parse_node(t, Path::new("node.toml"), "host1")
            .map(|(c, w)| (c, w.iter().map(|w| w.to_string()).collect()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        let (c, w) = parse("").unwrap();
        assert!(w.is_empty());
        assert_eq!(c.nodename, "host1");
        assert_eq!(c.prkey, None);
        assert_eq!(
            (
                c.ssh.user.as_str(),
                c.ssh.port,
                c.ssh.strict_host_key_checking
            ),
            ("root", 22, true)
        );
        assert_eq!(c.peer_addr("n2"), ("n2".to_string(), 22));
        let (c, _) = parse("nodename = \"\"\n").unwrap();
        assert_eq!(c.nodename, "host1");
        let missing = Path::new("/nonexistent/dir/node.toml");
        let (c, w) = load_node(missing, "h2").unwrap();
        assert_eq!((c.nodename.as_str(), w.len()), ("h2", 0));
    }

    #[test]
    fn full_file() {
        let t = "nodename = \"n1\"\nprkey = \"0x8a3f01c2d4e5f607\"\n[cluster]\nname = \"demo\"\nsecret = \"s\"\n\
                 [ssh]\nuser = \"admin\"\nport = 2222\nidentity = \"/root/.ssh/id\"\nstrict_host_key_checking = false\nsvcmgr = \"/usr/bin/svcmgr\"\n\
                 [nodes.n2]\naddr = \"10.0.0.2\"\nport = 23\n";
        let (c, w) = parse(t).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.nodename, "n1");
        assert_eq!(c.prkey.as_deref(), Some("0x8a3f01c2d4e5f607"));
        assert_eq!(c.cluster.name.as_deref(), Some("demo"));
        assert_eq!(
            (
                c.ssh.user.as_str(),
                c.ssh.port,
                c.ssh.strict_host_key_checking
            ),
            ("admin", 2222, false)
        );
        assert_eq!(c.peer_addr("n2"), ("10.0.0.2".to_string(), 23));
        assert_eq!(c.peer_addr("n3"), ("n3".to_string(), 2222));
    }

    #[test]
    fn unknown_keys_warn_with_their_line() {
        let t = "nodename = \"n1\"\nfoo = 1\n[cluster]\nname = \"x\"\n[ssh]\nuser = \"root\"\n# c\nfoo = 2\n[nodes.n2]\naddr = \"a\"\nbar = 3\n[extra]\nx = 1\n";
        let (_, w) = parse(t).unwrap();
        assert_eq!(
            w,
            vec![
                "node.toml:2: unknown key 'foo', ignored",
                "node.toml:8: unknown key 'ssh.foo', ignored",
                "node.toml:11: unknown key 'nodes.n2.bar', ignored",
                "node.toml:12: unknown key 'extra', ignored",
            ]
        );
    }

    #[test]
    fn syntax_and_type_errors_name_the_line() {
        assert_eq!(
            parse("nodename = \"n1\"\n[ssh]\nport = = 3\n").unwrap_err(),
            "node.toml:3: ssh.port: invalid string"
        );
        let e = parse("nodename = \"n1\"\n\n[ssh]\nport = \"x\"\n").unwrap_err();
        assert_eq!(
            e,
            "node.toml:4: ssh.port: invalid type: string \"x\", expected u16"
        );
        let e = parse("[ssh]\nuser = \"a\"\n[ssh]\n").unwrap_err();
        assert!(e.starts_with("node.toml:3: "), "{e}");
    }

    #[test]
    fn monitor_interval_needs_a_unit() {
        let (c, _) = parse("").unwrap();
        assert_eq!(c.monitor_interval(), std::time::Duration::from_secs(5));
        for (text, ms) in [("500ms", 500), ("2s", 2000), ("1m", 60_000)] {
            let (c, w) = parse(&format!("monitor_interval = \"{text}\"\n")).unwrap();
            assert!(w.is_empty(), "{w:?}");
            assert_eq!(c.monitor_interval().as_millis(), ms);
        }
        let exp = "expected a duration with a unit such as 500ms, 2s, 1m";
        for bad in ["5", "0s", "soon", ""] {
            let t = format!("nodename = \"n\"\nmonitor_interval = \"{bad}\"\n");
            assert_eq!(
                parse(&t).unwrap_err(),
                format!("node.toml:2: monitor_interval: bad value '{bad}': {exp}")
            );
        }
    }

    #[test]
    fn prkey_validation() {
        assert!(parse("prkey = \"0x1\"\n").is_ok());
        assert!(parse("prkey = \"0xDEADbeef00000001\"\n").is_ok());
        let exp = "expected 0x and 1 to 16 hex digits, not all zero";
        for bad in ["0x", "0x0000", "1234", "0x12345678901234567", "0xg1"] {
            let t = format!("nodename = \"n\"\n\nprkey = \"{bad}\"\n[ssh]\n");
            assert_eq!(
                parse(&t).unwrap_err(),
                format!("node.toml:3: prkey: bad value '{bad}': {exp}")
            );
        }
    }

    #[test]
    fn generated_prkeys() {
        assert_eq!(generate_prkey(0x8a3f01c2d4e5f607), "0x8a3f01c2d4e5f607");
        assert_eq!(generate_prkey(0xff), "0x00000000000000ff");
        assert_eq!(generate_prkey(0), "0x0000000000000001");
        assert!(valid_prkey(&generate_prkey(0)) && valid_prkey(&generate_prkey(u64::MAX)));
    }

    #[test]
    fn prkey_insertion_keeps_the_rest() {
        let t = "# node\nnodename = \"n1\"\n\n# the cluster\n[cluster]\nname = \"x\"\n";
        let out = node_text_with_prkey(t, "0x1");
        assert_eq!(out, "# node\nnodename = \"n1\"\n\nprkey = \"0x1\"\n# the cluster\n[cluster]\nname = \"x\"\n");
        assert_eq!(parse(&out).unwrap().0.prkey.as_deref(), Some("0x1"));
        assert_eq!(node_text_with_prkey("", "0x2"), "prkey = \"0x2\"\n");
        assert_eq!(
            node_text_with_prkey("nodename = \"a\"", "0x2"),
            "nodename = \"a\"\nprkey = \"0x2\"\n"
        );
        assert_eq!(
            node_text_with_prkey("[ssh]\nport = 22\n", "0x2"),
            "prkey = \"0x2\"\n[ssh]\nport = 22\n"
        );
        let replaced = node_text_with_prkey("prkey = \"0x0\"\n[ssh]\nprkey = 1\n", "0x3");
        assert_eq!(replaced, "prkey = \"0x3\"\n[ssh]\nprkey = 1\n");
    }

    #[test]
    fn heartbeats_and_grace_periods() {
        let t = "nodename = \"n1\"\nmaintenance_grace_period = \"30s\"\nrejoin_grace_period = \"0s\"\n\
                 [cluster]\nname = \"demo\"\nsecret = \"s3\"\n[nodes.n2]\naddr = \"10.0.0.2\"\n[nodes.n3]\n\
                 [[hb]]\ntype = \"unicast\"\nport = 10001\ninterval = \"250ms\"\ntimeout = \"1s\"\naddr.n3 = \"10.1.0.3\"\n\
                 [[hb]]\ntype = \"disk\"\ndev = \"/dev/mapper/hb\"\n";
        let (c, w) = parse(t).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.cluster_nodes(), ["n1", "n2", "n3"]);
        assert_eq!(c.maintenance_grace_period().as_secs(), 30);
        assert_eq!(c.rejoin_grace_period().as_secs(), 0);
        assert_eq!(c.hb.len(), 2);
        let (u, d) = (&c.hb[0], &c.hb[1]);
        assert_eq!(
            (
                u.kind,
                u.port(),
                u.interval().as_millis(),
                u.timeout().as_millis()
            ),
            (HbKind::Unicast, 10001, 250, 1000)
        );
        assert_eq!(c.hb_addr(u, "n3"), "10.1.0.3");
        assert_eq!(c.hb_addr(u, "n2"), "10.0.0.2");
        assert_eq!(c.hb_addr(d, "n1"), "n1");
        assert_eq!(
            (
                d.kind,
                d.port(),
                d.interval().as_secs(),
                d.timeout().as_secs()
            ),
            (HbKind::Disk, 10000, 1, 3)
        );
        let (c, _) = parse("").unwrap();
        assert_eq!(
            (
                c.maintenance_grace_period().as_secs(),
                c.rejoin_grace_period().as_secs()
            ),
            (60, 90)
        );
        assert!(c.hb.is_empty());
    }

    #[test]
    fn heartbeat_errors_name_line_and_key() {
        let head = "nodename = \"n1\"\n[nodes.n2]\n[[hb]]\ntype = \"unicast\"\n[[hb]]\n";
        let cases = [
            ("type = \"multicast\"\n", "node.toml:6: hb#2.type: unknown variant `multicast`, expected `unicast` or `disk`"),
            ("type = \"disk\"\n", "node.toml:5: hb#2: missing dev: a disk heartbeat needs its shared block device"),
            ("type = \"disk\"\ndev = \"loop0\"\n", "node.toml:7: hb#2.dev: bad value 'loop0': expected an absolute path"),
            ("type = \"disk\"\ndev = \"/dev/x\"\nport = 3\n", "node.toml:8: hb#2.port: port is for type = \"unicast\""),
            ("type = \"unicast\"\ndev = \"/dev/x\"\n", "node.toml:7: hb#2.dev: dev is for type = \"disk\""),
            ("type = \"unicast\"\ninterval = \"1\"\n", "node.toml:7: hb#2.interval: bad value '1': expected a duration with a unit such as 500ms, 2s, 1m"),
            ("type = \"unicast\"\ntimeout = \"0s\"\n", "node.toml:7: hb#2.timeout: bad value '0s': expected a duration with a unit such as 500ms, 2s, 1m"),
            ("type = \"unicast\"\ninterval = \"2s\"\ntimeout = \"2s\"\n", "node.toml:8: hb#2.timeout: timeout (2s) must be longer than interval (2s) for hb#2"),
            ("type = \"unicast\"\ninterval = \"5s\"\n", "node.toml:7: hb#2.timeout: timeout (3s) must be longer than interval (5s) for hb#2"),
            ("type = \"unicast\"\naddr.n9 = \"1.2.3.4\"\n", "node.toml:7: hb#2.addr.n9: not a node of the cluster (n1, n2)"),
            ("type = \"unicast\"\nport = 0\n", "node.toml:7: hb#2.port: bad value '0': expected a port from 1 to 65535"),
            ("port = 1\n", "node.toml:5: missing field `type`"),
        ];
        for (tail, want) in cases {
            let got = parse(&format!("{head}{tail}")).unwrap_err();
            assert_eq!(got, want, "{tail}");
        }
        let e = parse("maintenance_grace_period = \"x\"\n").unwrap_err();
        assert_eq!(e, "node.toml:1: maintenance_grace_period: bad value 'x': expected a duration with a unit such as 500ms, 2s, 1m");
        let (_, w) = parse(&format!("{head}type = \"unicast\"\nfoo = 1\n")).unwrap();
        assert_eq!(
            w.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            ["node.toml:7: unknown key 'hb.1.foo', ignored"]
        );
    }

    #[test]
    fn shipped_examples_parse_clean() {
        let (_, w) = parse(include_str!("../../packaging/examples/node.toml")).unwrap();
        assert!(w.is_empty(), "{w:?}");
        let t = include_str!("../../packaging/examples/two-nodes.toml");
        let (c, w) = parse(t).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            (c.hb.len(), c.cluster_nodes()),
            (2, vec!["n1".to_string(), "n2".to_string()])
        );
        assert_eq!(c.hb_addr(&c.hb[0], "n2"), "10.1.0.2");
    }
}
