//! Round-trip time per peer on a network path, from the beats themselves: each beat carries,
//! per peer, the last sequence number received from it and how long that was held before
//! this beat was sealed. The original sender subtracts the hold from the time since it sent
//! that sequence number: no extra datagram, no clock shared between nodes.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::message::Ack;

/// Send times kept to match acks against (a few intervals' worth).
const SENT_KEPT: usize = 64;

#[derive(Debug, Default)]
pub struct RttTracker {
    sent: VecDeque<(u64, Instant)>,
    got: BTreeMap<String, (u64, Instant)>,
}

impl RttTracker {
    /// What this node's next beat on the path acknowledges.
    pub fn acks(&self, path: u8, now: Instant) -> Vec<Ack> {
        self.got
            .iter()
            .map(|(peer, (seq, at))| Ack {
                path,
                peer: peer.clone(),
                seq: *seq,
                held_ms: now
                    .saturating_duration_since(*at)
                    .as_millis()
                    .min(u32::MAX as u128) as u32,
            })
            .collect()
    }

    pub fn sent(&mut self, seq: u64, now: Instant) {
        if self.sent.len() == SENT_KEPT {
            self.sent.pop_front();
        }
        self.sent.push_back((seq, now));
    }

    /// A beat accepted from `peer`: remember it for our acks, and if it acknowledges one of
    /// ours on this path, the round trip.
    pub fn received(
        &mut self,
        peer: &str,
        seq: u64,
        acks: &[Ack],
        me: &str,
        path: u8,
        now: Instant,
    ) -> Option<Duration> {
        self.got.insert(peer.to_string(), (seq, now));
        let ack = acks.iter().find(|a| a.path == path && a.peer == me)?;
        let (_, at) = self.sent.iter().find(|(s, _)| *s == ack.seq)?;
        now.saturating_duration_since(*at)
            .checked_sub(Duration::from_millis(ack.held_ms as u64))
            .or(Some(Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_subtracts_the_hold() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut a = RttTracker::default();
        let mut b = RttTracker::default();
        a.sent(7, t0);
        // b receives seq 7 at t0+2ms, seals its beat at t0+300ms, a receives it at t0+303ms.
        assert_eq!(b.received("a", 7, &[], "b", 0, t0 + ms(2)), None);
        let acks = b.acks(0, t0 + ms(300));
        assert_eq!(
            acks,
            [Ack {
                path: 0,
                peer: "a".into(),
                seq: 7,
                held_ms: 298
            }]
        );
        assert_eq!(a.received("b", 1, &acks, "a", 0, t0 + ms(303)), Some(ms(5)));
        // An ack of another path or another node, or of a send forgotten, gives nothing.
        assert_eq!(a.received("b", 2, &acks, "a", 1, t0 + ms(303)), None);
        assert_eq!(a.received("b", 2, &acks, "c", 0, t0 + ms(303)), None);
        for s in 100..100 + SENT_KEPT as u64 {
            a.sent(s, t0);
        }
        assert_eq!(a.received("b", 3, &acks, "a", 0, t0 + ms(303)), None);
    }
}
