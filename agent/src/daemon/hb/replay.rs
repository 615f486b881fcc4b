//! Per-sender ordering on one path: each sender's (boot id, sequence) must grow. A datagram
//! seen again is a replay, an older one a reorder; a disk slot read again unchanged is neither.

use std::collections::BTreeMap;

use super::codec::Drop;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    New,
    /// The same (boot id, seq) as the last one accepted.
    Same,
}

#[derive(Debug, Default)]
pub struct ReplayGuard {
    last: BTreeMap<String, (u64, u64)>,
}

impl ReplayGuard {
    /// Check without recording: call [`ReplayGuard::accept`] once the datagram authenticated.
    pub fn check(&self, sender: &str, boot_id: u64, seq: u64) -> Result<Verdict, Drop> {
        match self.last.get(sender) {
            None => Ok(Verdict::New),
            Some(&last) if (boot_id, seq) > last => Ok(Verdict::New),
            Some(&last) if (boot_id, seq) == last => Ok(Verdict::Same),
            Some(_) => Err(Drop::Reorder),
        }
    }

    pub fn accept(&mut self, sender: &str, boot_id: u64, seq: u64) {
        match self.last.get_mut(sender) {
            Some(v) => *v = (*v).max((boot_id, seq)),
            None => {
                self.last.insert(sender.to_string(), (boot_id, seq));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let mut g = ReplayGuard::default();
        // (sender, boot, seq, expected, then accepted)
        let steps: &[(&str, u64, u64, Result<Verdict, Drop>)] = &[
            ("n2", 10, 1, Ok(Verdict::New)),
            ("n2", 10, 2, Ok(Verdict::New)),
            ("n2", 10, 2, Ok(Verdict::Same)),
            ("n2", 10, 1, Err(Drop::Reorder)),
            ("n3", 5, 1, Ok(Verdict::New)),
            ("n2", 9, 100, Err(Drop::Reorder)),
            ("n2", 11, 1, Ok(Verdict::New)),
            ("n2", 10, 3, Err(Drop::Reorder)),
        ];
        for (i, &(s, b, q, want)) in steps.iter().enumerate() {
            assert_eq!(g.check(s, b, q), want, "step {i}");
            if want.is_ok() {
                g.accept(s, b, q);
            }
        }
    }
}
