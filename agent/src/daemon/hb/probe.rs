//! This node's facts for its beat: uptime, load and memory from /proc, and per service what
//! the monitor published plus a checksum of its config file (cached by mtime and size).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::codec::MAX_DATAGRAM;
use super::message::{Beat, SvcBeat};
use crate::daemon::orchestrator::Local;
use crate::daemon::state::Services;
use crate::paths::Root;

/// Room kept for the envelope (header, nonce, tag) when trimming the service list.
const ENVELOPE: usize = 128;

pub struct Probe {
    root: Root,
    csums: BTreeMap<String, (SystemTime, u64, u64)>,
}

impl Probe {
    pub fn new(root: Root) -> Probe {
        Probe {
            root,
            csums: BTreeMap::new(),
        }
    }

    /// Everything: node facts and the service list (with the orchestrator's word on each).
    pub fn fill(&mut self, beat: &mut Beat, svcs: &Services, orch: &Local, uptime: Duration) {
        self.refresh(beat, svcs, uptime);
        beat.services = svcs
            .values()
            .map(|v| {
                let o = orch.get(&v.svcname);
                SvcBeat {
                    name: v.svcname.clone(),
                    avail: v.avail,
                    overall: v.overall,
                    frozen: v.frozen,
                    csum: self.csum(&v.svcname),
                    monitor: v.monitor.state.clone(),
                    running: v.running,
                    start_failed: o.is_some_and(|o| o.start_failed),
                    action: o.and_then(|o| o.action.clone()).unwrap_or_default(),
                    target: o
                        .and_then(|o| o.target.as_ref().map(|t| t.0.clone()))
                        .unwrap_or_default(),
                    target_gen: o.and_then(|o| o.target.as_ref().map(|t| t.1)).unwrap_or(0),
                    freeze: o
                        .and_then(|o| o.freeze)
                        .map_or(0, |(want, _)| if want { 1 } else { 2 }),
                    freeze_gen: o.and_then(|o| o.freeze).map_or(0, |(_, gen)| gen),
                }
            })
            .collect();
        beat.omitted = 0;
        // Keep under the size limit: the last services are left out, and counted.
        while postcard::to_allocvec(beat).map_or(0, |v| v.len()) + ENVELOPE > MAX_DATAGRAM {
            if beat.services.pop().is_none() {
                break;
            }
            beat.omitted += 1;
        }
        self.csums.retain(|k, _| svcs.contains_key(k));
    }

    /// The node facts only (uptime, load, memory).
    pub fn refresh(&mut self, beat: &mut Beat, _svcs: &Services, uptime: Duration) {
        beat.uptime_secs = uptime.as_secs();
        if let Ok(s) = std::fs::read_to_string("/proc/loadavg") {
            beat.load_centi = parse_load(&s).unwrap_or(0);
        }
        if let Ok(s) = std::fs::read_to_string("/proc/meminfo") {
            let (t, a) = parse_meminfo(&s);
            beat.mem_total_mb = t;
            beat.mem_avail_mb = a;
        }
    }

    fn csum(&mut self, svc: &str) -> u64 {
        let path = self.root.service_conf(svc);
        let Ok(md) = std::fs::metadata(&path) else {
            return 0;
        };
        let stamp = (md.modified().unwrap_or(SystemTime::UNIX_EPOCH), md.len());
        if let Some(&(m, l, c)) = self.csums.get(svc) {
            if (m, l) == stamp {
                return c;
            }
        }
        let c = std::fs::read(&path).map_or(0, |d| config_csum(&d));
        self.csums.insert(svc.to_string(), (stamp.0, stamp.1, c));
        c
    }
}

/// First 8 bytes of the config's SHA-256.
pub fn config_csum(data: &[u8]) -> u64 {
    let h = Sha256::digest(data);
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    u64::from_be_bytes(b)
}

fn parse_load(s: &str) -> Option<u32> {
    let f: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some((f * 100.0).round().clamp(0.0, u32::MAX as f64) as u32)
}

/// (MemTotal, MemAvailable) in MiB.
fn parse_meminfo(s: &str) -> (u32, u32) {
    let kb = |key: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |k| (k / 1024) as u32)
    };
    (kb("MemTotal:"), kb("MemAvailable:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_parsers() {
        assert_eq!(parse_load("0.52 0.58 0.59 1/467 12345\n"), Some(52));
        assert_eq!(parse_load("12.345 1 1"), Some(1235));
        assert_eq!(parse_load(""), None);
        let m = "MemTotal:        2035468 kB\nMemFree:  1 kB\nMemAvailable:    1048576 kB\n";
        assert_eq!(parse_meminfo(m), (1987, 1024));
        assert_eq!(parse_meminfo("junk"), (0, 0));
        assert_ne!(config_csum(b"a"), config_csum(b"b"));
    }
}
