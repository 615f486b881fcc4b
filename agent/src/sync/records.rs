//! What each peer is known to hold: `R/var/services/<svc>/sync/<peer>.json`, written after a
//! push to it succeeded (and, on a receiver, for the pusher: it holds what it pushed).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Generation;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRecord {
    pub sum: String,
    pub gen: u64,
    /// When the push happened, RFC 3339.
    pub time: String,
}

pub fn dir(svc_var: &Path) -> PathBuf {
    svc_var.join("sync")
}

fn file(svc_var: &Path, peer: &str) -> PathBuf {
    dir(svc_var).join(format!("{peer}.json"))
}

pub fn load(svc_var: &Path, peer: &str) -> Option<PeerRecord> {
    let data = std::fs::read(file(svc_var, peer)).ok()?;
    serde_json::from_slice(&data).ok()
}

pub fn save(svc_var: &Path, peer: &str, g: &Generation) -> std::io::Result<()> {
    let rec = PeerRecord {
        sum: g.sum.clone(),
        gen: g.gen,
        time: chrono::Local::now().to_rfc3339(),
    };
    let data = serde_json::to_vec(&rec).map_err(std::io::Error::other)?;
    crate::paths::write_atomic(&file(svc_var, peer), &data)
}

/// Peers not known to hold config checksum `sum`, in `peers` order.
pub fn stale<'a>(svc_var: &Path, peers: &'a [String], sum: &str) -> Vec<&'a str> {
    peers
        .iter()
        .filter(|p| load(svc_var, p).is_none_or(|r| r.sum != sum))
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_decide_who_needs_an_update() {
        let d = std::env::temp_dir().join(format!("svcmgr-rec-{}", std::process::id()));
        let peers = vec!["n2".to_string(), "n3".to_string()];
        assert_eq!(stale(&d, &peers, "a"), ["n2", "n3"]);
        let ga = Generation {
            gen: 1,
            stamp: 1,
            sum: "a".into(),
        };
        save(&d, "n2", &ga).unwrap();
        assert_eq!(stale(&d, &peers, "a"), ["n3"]);
        save(&d, "n3", &ga).unwrap();
        assert!(stale(&d, &peers, "a").is_empty());
        // The config changed: every record is out of date.
        assert_eq!(stale(&d, &peers, "b"), ["n2", "n3"]);
        let r = load(&d, "n2").unwrap();
        assert_eq!((r.sum.as_str(), r.gen), ("a", 1));
        std::fs::write(file(&d, "n3"), "{").unwrap();
        assert_eq!(stale(&d, &peers, "a"), ["n3"]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
