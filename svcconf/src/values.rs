//! Text -> typed values, one function per kind. Pure, unit-tested on strings.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::keywords::Kind;
use crate::model::{TimeWindow, Value};

/// Check `raw` against `kind` and type it. Err(()) means "bad value": the caller builds the
/// message from `Kind::expected`.
pub(crate) fn convert(kind: Kind, raw: &str) -> Result<Value, ()> {
    let s = raw.trim();
    match kind {
        Kind::Str => non_empty(s).map(|s| Value::Str(s.into())),
        Kind::Host => is_host(s).then(|| Value::Str(s.into())).ok_or(()),
        Kind::Bool => parse_bool(s).map(Value::Bool).ok_or(()),
        Kind::Int => s.parse().map(Value::Int).map_err(|_| ()),
        Kind::Duration => parse_duration(s).map(Value::Duration).ok_or(()),
        Kind::Size => parse_size(s).map(Value::Int).ok_or(()),
        Kind::Retcodes => parse_retcodes(s).map(|_| Value::Str(s.into())).ok_or(()),
        Kind::List => Ok(Value::List(
            s.split_whitespace().map(String::from).collect(),
        )),
        Kind::Argv => shlex::split(s).map(Value::Argv).ok_or(()),
        Kind::Netmask => parse_netmask(s).map(Value::Prefix).ok_or(()),
        Kind::Candidates(c) => c.contains(&s).then(|| Value::Str(s.into())).ok_or(()),
        Kind::Windows => parse_windows(s).map(|_| Value::Str(s.into())).ok_or(()),
        Kind::AbsPath => s.starts_with('/').then(|| Value::Str(s.into())).ok_or(()),
        Kind::EnvList => shlex::split(s)
            .filter(|v| v.iter().all(|w| is_env_assignment(w)))
            .map(Value::Argv)
            .ok_or(()),
        Kind::Mounts => shlex::split(s)
            .filter(|v| v.iter().all(|w| is_mount(w)))
            .map(Value::Argv)
            .ok_or(()),
        Kind::Nodes => {
            let v: Vec<String> = s.split_whitespace().map(String::from).collect();
            let unique = v.iter().enumerate().all(|(i, n)| !v[..i].contains(n));
            unique.then_some(Value::List(v)).ok_or(())
        }
    }
}

/// `NAME=value`, NAME a shell variable name.
fn is_env_assignment(w: &str) -> bool {
    w.split_once('=').is_some_and(|(n, _)| {
        n.bytes().next().is_some_and(|b| !b.is_ascii_digit())
            && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// `/host:/container` or `/host:/container:ro,z`.
fn is_mount(w: &str) -> bool {
    let mut parts = w.splitn(3, ':');
    let (src, dst) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let opts_ok = parts.next().is_none_or(|o| !o.is_empty());
    src.starts_with('/') && dst.starts_with('/') && opts_ok
}

fn non_empty(s: &str) -> Result<&str, ()> {
    if s.is_empty() {
        Err(())
    } else {
        Ok(s)
    }
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Some(true),
        "false" | "no" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// `10` (seconds), `10s`, `500ms`, `5m`, `1h`, `2d`, `1m30s`.
/// `4096`, `512k`, `64M`, `2g`, `1GiB`, `100kb`: k, m, g, t and their `ib` forms are powers
/// of 1024, their `b` forms (`kb`, `mb`) powers of 1000, as OpenSVC's size converter.
pub fn parse_size(s: &str) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        return None;
    }
    let n: i64 = s[..digits].parse().ok()?;
    let (base, unit): (i64, &str) = match &s[digits..] {
        "" | "b" => return Some(n),
        u if u.ends_with("ib") => (1024, &u[..u.len() - 2]),
        u if u.len() == 2 && u.ends_with('b') => (1000, &u[..1]),
        u => (1024, u),
    };
    let exp = ["k", "m", "g", "t"].iter().position(|x| *x == unit)? as u32 + 1;
    n.checked_mul(base.checked_pow(exp)?)
}

/// `0:up 1:down 3:n/a` -> (code, status word) pairs.
pub fn parse_retcodes(s: &str) -> Option<Vec<(i32, String)>> {
    s.split_whitespace()
        .map(|w| {
            let (code, status) = w.split_once(':')?;
            let code: i32 = code.parse().ok()?;
            matches!(status, "up" | "down" | "warn" | "n/a").then(|| (code, status.to_string()))
        })
        .collect()
}

pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60)?),
            "h" => Duration::from_secs(n.checked_mul(3600)?),
            "d" => Duration::from_secs(n.checked_mul(86400)?),
            _ => return None,
        };
        total = total.checked_add(part)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// A prefix length `0..=32` or a contiguous dotted netmask.
pub fn parse_netmask(s: &str) -> Option<u8> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u8>().ok().filter(|p| *p <= 32);
    }
    let bits = u32::from(s.parse::<Ipv4Addr>().ok()?);
    let ones = bits.leading_ones();
    // Contiguous: all the ones come first.
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// An IPv4 address, or a host name made of dot-separated labels of letters, digits and '-'.
pub fn is_host(s: &str) -> bool {
    if s.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    if s.is_empty() || s.len() > 253 || s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return false;
    }
    s.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// `03:59-05:59 22:00-02:00`; a window with end < start spans midnight.
pub fn parse_windows(s: &str) -> Option<Vec<TimeWindow>> {
    let v: Option<Vec<TimeWindow>> = s.split_whitespace().map(parse_window).collect();
    v.filter(|v| !v.is_empty())
}

fn parse_window(s: &str) -> Option<TimeWindow> {
    let (a, b) = s.split_once('-')?;
    Some(TimeWindow {
        start: parse_hhmm(a)?,
        end: parse_hhmm(b)?,
    })
}

fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |s| parse_duration(s);
        assert_eq!(d("10"), Some(Duration::from_secs(10)));
        assert_eq!(d("10s"), Some(Duration::from_secs(10)));
        assert_eq!(d("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(d("5m"), Some(Duration::from_secs(300)));
        assert_eq!(d("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(d("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(d("1h1m1s10ms"), Some(Duration::from_millis(3_661_010)));
        for bad in [
            "",
            "s",
            "10x",
            "1.5s",
            "-1",
            "m5",
            "10 s",
            "99999999999999999999h",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn bools() {
        for t in ["true", "YES", "1", "On"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["false", "No", "0", "OFF"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(parse_bool(""), None);
    }

    #[test]
    fn netmasks() {
        assert_eq!(parse_netmask("24"), Some(24));
        assert_eq!(parse_netmask("0"), Some(0));
        assert_eq!(parse_netmask("32"), Some(32));
        assert_eq!(parse_netmask("33"), None);
        assert_eq!(parse_netmask("255.255.255.0"), Some(24));
        assert_eq!(parse_netmask("255.255.255.255"), Some(32));
        assert_eq!(parse_netmask("0.0.0.0"), Some(0));
        assert_eq!(parse_netmask("255.255.128.0"), Some(17));
        assert_eq!(parse_netmask("255.0.255.0"), None);
        assert_eq!(parse_netmask("0.255.255.255"), None);
        assert_eq!(parse_netmask("255.255.255"), None);
        assert_eq!(parse_netmask(""), None);
    }

    #[test]
    fn hosts() {
        assert!(is_host("10.0.0.1"));
        assert!(is_host("busybox.opensvc.com"));
        assert!(is_host("n1"));
        assert!(!is_host("10.0.0.300"));
        assert!(!is_host("a b"));
        assert!(!is_host("-a.com"));
        assert!(!is_host("a..b"));
        assert!(!is_host(""));
    }

    #[test]
    fn windows() {
        let w = parse_windows("03:59-05:59 22:00-02:00").unwrap();
        assert_eq!(
            w[0],
            TimeWindow {
                start: 239,
                end: 359
            }
        );
        assert_eq!(
            w[1],
            TimeWindow {
                start: 1320,
                end: 120
            }
        );
        assert!(w[1].contains(1439) && w[1].contains(0) && w[1].contains(120));
        assert!(!w[1].contains(121) && !w[1].contains(1319));
        assert_eq!(
            parse_windows("9:00-9:30").unwrap()[0],
            TimeWindow {
                start: 540,
                end: 570
            }
        );
        for bad in [
            "",
            "03:59",
            "24:00-01:00",
            "01:60-02:00",
            "1:2-3:4",
            "a:bc-01:00",
            "03:59-05:59,06:00-07:00",
        ] {
            assert_eq!(parse_windows(bad), None, "{bad}");
        }
    }

    #[test]
    fn convert_kinds() {
        assert_eq!(
            convert(Kind::Argv, "echo 'a b' \"c d\""),
            Ok(Value::Argv(vec!["echo".into(), "a b".into(), "c d".into()]))
        );
        assert_eq!(convert(Kind::Argv, "echo 'a"), Err(()));
        assert_eq!(
            convert(Kind::List, " a  b "),
            Ok(Value::List(vec!["a".into(), "b".into()]))
        );
        assert_eq!(convert(Kind::Int, "-3"), Ok(Value::Int(-3)));
        assert_eq!(convert(Kind::Int, "x"), Err(()));
        for (text, bytes) in [
            ("4096", 4096),
            ("512k", 512 << 10),
            ("64M", 64 << 20),
            ("2g", 2 << 30),
            ("1GiB", 1 << 30),
            ("100kb", 100_000),
            ("3b", 3),
        ] {
            assert_eq!(convert(Kind::Size, text), Ok(Value::Int(bytes)), "{text}");
        }
        for bad in ["", "k", "1x", "1.5g", "-1", "99999999999999t"] {
            assert_eq!(convert(Kind::Size, bad), Err(()), "{bad}");
        }
        assert_eq!(
            parse_retcodes("0:up 1:down 3:n/a"),
            Some(vec![
                (0, "up".into()),
                (1, "down".into()),
                (3, "n/a".into())
            ])
        );
        for bad in ["0", "x:up", "0:running"] {
            assert_eq!(convert(Kind::Retcodes, bad), Err(()), "{bad}");
        }
        assert_eq!(convert(Kind::Str, "  "), Err(()));
        assert_eq!(
            convert(Kind::Candidates(&["a", "b"]), "b"),
            Ok(Value::Str("b".into()))
        );
        assert_eq!(convert(Kind::Candidates(&["a", "b"]), "c"), Err(()));
        assert_eq!(
            convert(Kind::EnvList, "A=1 'B=x y'\nC_2= "),
            Ok(Value::Argv(vec![
                "A=1".into(),
                "B=x y".into(),
                "C_2=".into()
            ]))
        );
        for bad in ["A", "=1", "1A=2", "A-B=1", "'A=1"] {
            assert_eq!(convert(Kind::EnvList, bad), Err(()), "{bad}");
        }
        assert_eq!(
            convert(Kind::Mounts, "/a:/a\n/b:/c:ro,z"),
            Ok(Value::Argv(vec!["/a:/a".into(), "/b:/c:ro,z".into()]))
        );
        for bad in ["/a", "a:/a", "/a:b", "/a:/b:", "vol:/data"] {
            assert_eq!(convert(Kind::Mounts, bad), Err(()), "{bad}");
        }
    }
}
