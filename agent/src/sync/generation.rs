//! Config generations: a counter bumped whenever the local file's checksum changes, so a
//! receiver can refuse a push older than what it has. The change time breaks ties between
//! two nodes that both edited the same generation.
//!
//! A push travels as one header line then the file's bytes:
//! `svcmgr-push 1 gen=<n> stamp=<unix secs> len=<bytes> sha256=<hex> from=<node>\n<bytes>`.
//! The receiver checks length and checksum before installing anything, so a push cut in the
//! middle changes nothing.

use std::cmp::Ordering;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::sha256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    pub gen: u64,
    /// When this generation appeared (the file's mtime then), unix seconds.
    pub stamp: i64,
    pub sum: String,
}

impl Generation {
    /// Order of versions: generation, then change time.
    pub fn newer_than(&self, other: &Generation) -> bool {
        (self.gen, self.stamp).cmp(&(other.gen, other.stamp)) == Ordering::Greater
    }
}

/// What a receiver does with a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Install,
    /// Same content already there.
    Current,
    /// The receiver has a different config at the same or a newer generation.
    Stale,
}

/// `local` is None when the receiver has no config, or one it never tracked (written by hand,
/// never pushed nor pushed from): any push replaces it.
pub fn judge(incoming: &Generation, local: Option<&Generation>) -> Verdict {
    match local {
        None => Verdict::Install,
        Some(l) if l.sum == incoming.sum => Verdict::Current,
        Some(l) if incoming.newer_than(l) => Verdict::Install,
        Some(_) => Verdict::Stale,
    }
}

/// The generation of a file with checksum `sum` and mtime `mtime`, given what was recorded:
/// the record when the file is unchanged since, else the next generation. The bool says
/// whether that differs from the record (and should be saved).
pub fn current(recorded: Option<&Generation>, sum: &str, mtime: i64) -> (Generation, bool) {
    match recorded {
        Some(r) if r.sum == sum => (r.clone(), false),
        Some(r) => (
            Generation {
                gen: r.gen + 1,
                stamp: mtime.max(r.stamp),
                sum: sum.to_string(),
            },
            true,
        ),
        None => (
            Generation {
                gen: 1,
                stamp: mtime,
                sum: sum.to_string(),
            },
            true,
        ),
    }
}

pub fn load(path: &Path) -> Option<Generation> {
    let data = std::fs::read(path).ok()?;
    serde_json::from_slice(&data).ok()
}

pub fn save(path: &Path, g: &Generation) -> std::io::Result<()> {
    let data = serde_json::to_vec(g).map_err(std::io::Error::other)?;
    crate::paths::write_atomic(path, &data)
}

pub fn mtime_of(path: &Path) -> i64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map(|m| m.mtime()).unwrap_or(0)
}

const MAGIC: &str = "svcmgr-push";
const VERSION: &str = "1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub generation: Generation,
    pub len: usize,
    pub from: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("not a config push (no svcmgr-push header)")]
    NoHeader,
    #[error("bad push header field {0:?}")]
    BadField(String),
    #[error("push header lacks {0}")]
    Missing(&'static str),
    #[error("truncated push: got {got} of {want} bytes")]
    Truncated { got: usize, want: usize },
    #[error("push longer than announced: {got} bytes, {want} announced")]
    TooLong { got: usize, want: usize },
    #[error("push checksum mismatch: got {got}, announced {want}")]
    Checksum { got: String, want: String },
}

pub fn encode(g: &Generation, from: &str, data: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "{MAGIC} {VERSION} gen={} stamp={} len={} sha256={} from={from}\n",
        g.gen,
        g.stamp,
        data.len(),
        g.sum
    )
    .into_bytes();
    v.extend_from_slice(data);
    v
}

/// Parse and verify a whole push; returns the header and the file's bytes.
pub fn decode(raw: &[u8]) -> Result<(Header, &[u8]), PayloadError> {
    let nl = raw
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(PayloadError::NoHeader)?;
    let line = std::str::from_utf8(&raw[..nl]).map_err(|_| PayloadError::NoHeader)?;
    let body = &raw[nl + 1..];
    let mut words = line.split(' ');
    if words.next() != Some(MAGIC) || words.next() != Some(VERSION) {
        return Err(PayloadError::NoHeader);
    }
    let (mut gen, mut stamp, mut len, mut sum, mut from) = (None, None, None, None, None);
    for w in words {
        let bad = || PayloadError::BadField(w.to_string());
        let (k, v) = w.split_once('=').ok_or_else(bad)?;
        match k {
            "gen" => gen = Some(v.parse::<u64>().map_err(|_| bad())?),
            "stamp" => stamp = Some(v.parse::<i64>().map_err(|_| bad())?),
            "len" => len = Some(v.parse::<usize>().map_err(|_| bad())?),
            "sha256" if v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()) => {
                sum = Some(v.to_ascii_lowercase())
            }
            "from" if !v.is_empty() => from = Some(v.to_string()),
            _ => return Err(bad()),
        }
    }
    let len = len.ok_or(PayloadError::Missing("len"))?;
    let want_sum = sum.ok_or(PayloadError::Missing("sha256"))?;
    let h = Header {
        generation: Generation {
            gen: gen.ok_or(PayloadError::Missing("gen"))?,
            stamp: stamp.ok_or(PayloadError::Missing("stamp"))?,
            sum: want_sum.clone(),
        },
        len,
        from: from.ok_or(PayloadError::Missing("from"))?,
    };
    match body.len().cmp(&len) {
        Ordering::Less => {
            return Err(PayloadError::Truncated {
                got: body.len(),
                want: len,
            })
        }
        Ordering::Greater => {
            return Err(PayloadError::TooLong {
                got: body.len(),
                want: len,
            })
        }
        Ordering::Equal => {}
    }
    let got = sha256::hex(body);
    if got != want_sum {
        return Err(PayloadError::Checksum {
            got,
            want: want_sum,
        });
    }
    Ok((h, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(gen: u64, stamp: i64, sum: &str) -> Generation {
        Generation {
            gen,
            stamp,
            sum: sum.into(),
        }
    }

    #[test]
    fn verdicts() {
        let new = g(3, 100, "b");
        assert_eq!(judge(&new, None), Verdict::Install);
        assert_eq!(judge(&new, Some(&g(2, 500, "a"))), Verdict::Install);
        assert_eq!(judge(&new, Some(&g(3, 100, "b"))), Verdict::Current);
        // Same content is current whatever the counters say.
        assert_eq!(judge(&new, Some(&g(9, 900, "b"))), Verdict::Current);
        assert_eq!(judge(&new, Some(&g(4, 50, "a"))), Verdict::Stale);
        // Same generation edited on both sides: the later change wins.
        assert_eq!(judge(&new, Some(&g(3, 99, "a"))), Verdict::Install);
        assert_eq!(judge(&new, Some(&g(3, 101, "a"))), Verdict::Stale);
        assert_eq!(judge(&new, Some(&g(3, 100, "a"))), Verdict::Stale);
    }

    #[test]
    fn generation_bumps_only_on_change() {
        let (first, save) = current(None, "a", 10);
        assert_eq!((first.clone(), save), (g(1, 10, "a"), true));
        let (same, save) = current(Some(&first), "a", 99);
        assert_eq!((same, save), (first.clone(), false));
        let (next, save) = current(Some(&first), "b", 20);
        assert_eq!((next.clone(), save), (g(2, 20, "b"), true));
        // A clock going backwards never makes a newer generation look older.
        let (n2, _) = current(Some(&next), "c", 5);
        assert_eq!(n2, g(3, 20, "c"));
        assert!(n2.newer_than(&next));
    }

    #[test]
    fn record_round_trip() {
        let d = std::env::temp_dir().join(format!("svcmgr-gen-{}", std::process::id()));
        let p = d.join("config.gen");
        assert_eq!(load(&p), None);
        save(&p, &g(4, 7, "ab")).unwrap();
        assert_eq!(load(&p), Some(g(4, 7, "ab")));
        std::fs::write(&p, "garbage").unwrap();
        assert_eq!(load(&p), None);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn payload_round_trip_and_damage() {
        let data = b"[DEFAULT]\nnodes = n1 n2\n";
        let gen = g(2, 1700000000, &sha256::hex(data));
        let raw = encode(&gen, "n1", data);
        let (h, body) = decode(&raw).unwrap();
        assert_eq!(h.generation, gen);
        assert_eq!(
            (h.len, h.from.as_str(), body),
            (data.len(), "n1", &data[..])
        );

        let cut = &raw[..raw.len() - 5];
        assert_eq!(
            decode(cut).unwrap_err(),
            PayloadError::Truncated {
                got: data.len() - 5,
                want: data.len()
            }
        );
        let mut longer = raw.clone();
        longer.push(b'x');
        assert!(matches!(decode(&longer), Err(PayloadError::TooLong { .. })));
        let mut flipped = raw.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 1;
        assert!(matches!(
            decode(&flipped),
            Err(PayloadError::Checksum { .. })
        ));
        assert_eq!(decode(b"hello").unwrap_err(), PayloadError::NoHeader);
        assert_eq!(decode(b"").unwrap_err(), PayloadError::NoHeader);
        assert_eq!(
            decode(b"svcmgr-push 1 gen=1 stamp=1 sha256=00 from=n1\n").unwrap_err(),
            PayloadError::BadField("sha256=00".into())
        );
        let no_len = format!("svcmgr-push 1 gen=1 stamp=1 sha256={} from=n1\n", gen.sum);
        assert_eq!(
            decode(no_len.as_bytes()).unwrap_err(),
            PayloadError::Missing("len")
        );
    }
}
