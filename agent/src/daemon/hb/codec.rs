//! The heartbeat envelope: a fixed clear header, then the postcard-encoded [`Beat`] sealed
//! with ChaCha20-Poly1305 under a key from HKDF-SHA256(secret, cluster name).
//!
//! ```text
//! 0   4  magic "SVHB"
//! 4   1  version
//! 5   8  cluster tag: SHA-256("svcmgr hb cluster" || name)[..8]
//! 13  1  sender length L (1..=64)
//! 14  L  sender node name (UTF-8)
//!     8  boot id (big endian): the sender daemon's start time in ns since the epoch
//!     8  sequence (big endian), from 1 at each boot
//!    12  nonce (random)
//!     *  ciphertext + 16-byte tag
//! ```
//! The whole header is the AEAD's associated data: sender, cluster, boot id and sequence are
//! authenticated. The size is checked before anything else and nothing is allocated from a
//! length found in the input (the plaintext buffer is bounded by the datagram's own size).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

use super::message::Beat;

pub const MAGIC: &[u8; 4] = b"SVHB";
/// 2: `SvcBeat` carries `running` and the orchestrator's `start_failed`, `action`, switch
/// target and cluster-wide freeze.
pub const VERSION: u8 = 2;
/// Largest datagram sent or accepted; also what a disk slot holds.
pub const MAX_DATAGRAM: usize = 16 * 1024 - 8;
pub const MAX_SENDER: usize = 64;
const TAG_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const FIXED: usize = 4 + 1 + 8 + 1;

/// Why a datagram was dropped (the counters' keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Drop {
    TooBig,
    Malformed,
    Version,
    WrongCluster,
    UnknownNode,
    Auth,
    Replay,
    Reorder,
}

impl Drop {
    pub fn as_str(self) -> &'static str {
        match self {
            Drop::TooBig => "too_big",
            Drop::Malformed => "malformed",
            Drop::Version => "version",
            Drop::WrongCluster => "wrong_cluster",
            Drop::UnknownNode => "unknown_node",
            Drop::Auth => "auth",
            Drop::Replay => "replay",
            Drop::Reorder => "reorder",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("heartbeat message of {0} bytes exceeds the {MAX_DATAGRAM} bytes limit")]
    TooBig(usize),
    #[error("can not encode the heartbeat message")]
    Encode(#[from] postcard::Error),
    #[error("can not encrypt the heartbeat message")]
    Encrypt,
}

/// The key and cluster tag shared by every node of a cluster.
#[derive(Clone)]
pub struct ClusterKey {
    cipher: ChaCha20Poly1305,
    tag: [u8; 8],
}

impl ClusterKey {
    pub fn new(cluster: &str, secret: &str) -> ClusterKey {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"svcmgr hb v1"), secret.as_bytes());
        let mut okm = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit: expand can not fail.
        hk.expand(cluster.as_bytes(), &mut okm)
            .unwrap_or_else(|_| unreachable!("32-byte HKDF output"));
        let mut h = Sha256::new();
        h.update(b"svcmgr hb cluster");
        h.update(cluster.as_bytes());
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&h.finalize()[..8]);
        ClusterKey {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&okm)),
            tag,
        }
    }
}

/// Seals this node's beats: one boot id, a sequence that only grows.
pub struct Sealer {
    key: ClusterKey,
    sender: String,
    pub boot_id: u64,
    seq: AtomicU64,
}

impl Sealer {
    /// `sender` longer than [`MAX_SENDER`] bytes is refused by the caller's config check.
    pub fn new(key: ClusterKey, sender: &str, boot_id: u64) -> Sealer {
        Sealer {
            key,
            sender: sender.to_string(),
            boot_id,
            seq: AtomicU64::new(0),
        }
    }

    pub fn seal(&self, beat: &Beat) -> Result<Vec<u8>, SealError> {
        self.seal_numbered(beat).map(|(_, d)| d)
    }

    /// Seal with the next sequence number, returned with the datagram.
    pub fn seal_numbered(&self, beat: &Beat) -> Result<(u64, Vec<u8>), SealError> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let d = self.seal_with(beat, seq, &ChaCha20Poly1305::generate_nonce(&mut OsRng))?;
        Ok((seq, d))
    }

    fn seal_with(&self, beat: &Beat, seq: u64, nonce: &Nonce) -> Result<Vec<u8>, SealError> {
        let plain = postcard::to_allocvec(beat)?;
        let name = self.sender.as_bytes();
        let mut out = Vec::with_capacity(FIXED + name.len() + 28 + plain.len() + TAG_LEN);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&self.key.tag);
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.extend_from_slice(&self.boot_id.to_be_bytes());
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(nonce);
        let total = out.len() + plain.len() + TAG_LEN;
        if total > MAX_DATAGRAM {
            return Err(SealError::TooBig(total));
        }
        let ct = self
            .key
            .cipher
            .encrypt(
                nonce,
                Payload {
                    msg: &plain,
                    aad: &out,
                },
            )
            .map_err(|_| SealError::Encrypt)?;
        out.extend_from_slice(&ct);
        Ok(out)
    }
}

/// The clear header of a datagram, borrowed from it.
#[derive(Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub sender: &'a str,
    pub boot_id: u64,
    pub seq: u64,
}

/// A datagram that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub sender: String,
    pub boot_id: u64,
    pub seq: u64,
    pub beat: Beat,
}

/// Parse the clear header: size, magic, version, cluster, sender. Nothing is decrypted.
pub fn header<'a>(key: &ClusterKey, data: &'a [u8]) -> Result<(Header<'a>, usize), Drop> {
    if data.len() > MAX_DATAGRAM {
        return Err(Drop::TooBig);
    }
    if data.len() < FIXED || &data[..4] != MAGIC {
        return Err(Drop::Malformed);
    }
    if data[4] != VERSION {
        return Err(Drop::Version);
    }
    if data[5..13] != key.tag {
        return Err(Drop::WrongCluster);
    }
    let len = data[13] as usize;
    let end = FIXED + len;
    if len == 0 || len > MAX_SENDER || data.len() < end + 16 + NONCE_LEN + TAG_LEN {
        return Err(Drop::Malformed);
    }
    let sender = std::str::from_utf8(&data[FIXED..end]).map_err(|_| Drop::Malformed)?;
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&data[i..i + 8]);
        u64::from_be_bytes(b)
    };
    let h = Header {
        sender,
        boot_id: u64_at(end),
        seq: u64_at(end + 8),
    };
    Ok((h, end + 16))
}

/// Authenticate and decode. `peers` are the nodes a beat is accepted from.
pub fn open(key: &ClusterKey, peers: &BTreeSet<String>, data: &[u8]) -> Result<Opened, Drop> {
    let (h, at) = header(key, data)?;
    if !peers.contains(h.sender) {
        return Err(Drop::UnknownNode);
    }
    let nonce = Nonce::from_slice(&data[at..at + NONCE_LEN]);
    let plain = key
        .cipher
        .decrypt(
            nonce,
            Payload {
                msg: &data[at + NONCE_LEN..],
                aad: &data[..at + NONCE_LEN],
            },
        )
        .map_err(|_| Drop::Auth)?;
    // Authenticated but not decodable: a peer of another version with the same format number.
    let beat: Beat = postcard::from_bytes(&plain).map_err(|_| Drop::Malformed)?;
    Ok(Opened {
        sender: h.sender.to_string(),
        boot_id: h.boot_id,
        seq: h.seq,
        beat,
    })
}

/// This daemon's boot id: its start time, so that a restarted sender's ids keep growing.
pub fn boot_id_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::hb::message::{BeatKind, SvcBeat};
    use resources::Status;

    fn beat(n: usize) -> Beat {
        let mut b = Beat::alive("0.1.0");
        b.uptime_secs = 42;
        b.load_centi = 123;
        b.mem_total_mb = 2048;
        b.mem_avail_mb = 1024;
        b.services = (0..n)
            .map(|i| SvcBeat {
                name: format!("svc{i:02}"),
                avail: Status::Up,
                overall: Status::Warn,
                frozen: i % 2 == 0,
                csum: 0x0123_4567_89ab_cdef,
                monitor: "watching".into(),
                running: true,
                start_failed: false,
                action: String::new(),
                target: String::new(),
                target_gen: 0,
                freeze: 0,
                freeze_gen: 0,
            })
            .collect();
        b
    }

    fn peers() -> BTreeSet<String> {
        ["n1", "n2"].iter().map(|s| s.to_string()).collect()
    }

    fn key() -> ClusterKey {
        ClusterKey::new("demo", "s3cret")
    }

    #[test]
    fn round_trip() {
        let s = Sealer::new(key(), "n1", 7);
        let b = beat(3);
        let d = s.seal(&b).unwrap();
        let o = open(&key(), &peers(), &d).unwrap();
        assert_eq!((o.sender.as_str(), o.boot_id, o.seq), ("n1", 7, 1));
        assert_eq!(o.beat, b);
        let o2 = open(&key(), &peers(), &s.seal(&b).unwrap()).unwrap();
        assert_eq!(o2.seq, 2);
        let mut stop = b.clone();
        stop.kind = BeatKind::Stopping;
        assert_eq!(
            open(&key(), &peers(), &s.seal(&stop).unwrap())
                .unwrap()
                .beat
                .kind,
            BeatKind::Stopping
        );
    }

    #[test]
    fn fifty_services_fit_small() {
        let d = Sealer::new(key(), "n1", 1).seal(&beat(50)).unwrap();
        println!("datagram with 50 services: {} bytes", d.len());
        // About 28 bytes per service with 5-character names and a short monitor word.
        assert!(d.len() < 2000, "{} bytes", d.len());
        assert!(Sealer::new(key(), "n1", 1).seal(&beat(2000)).is_err());
    }

    #[test]
    fn every_tampered_byte_is_rejected() {
        let d = Sealer::new(key(), "n1", 7).seal(&beat(2)).unwrap();
        for i in 0..d.len() {
            let mut t = d.clone();
            t[i] ^= 0x01;
            let r = open(&key(), &peers(), &t);
            assert!(r.is_err(), "byte {i} flipped was accepted");
        }
        assert_eq!(open(&key(), &peers(), &d[..d.len() - 1]), Err(Drop::Auth));
    }

    #[test]
    fn rejections_by_reason() {
        let d = Sealer::new(key(), "n1", 7).seal(&beat(1)).unwrap();
        let cases: Vec<(&str, Vec<u8>, ClusterKey, Drop)> = vec![
            (
                "wrong key",
                d.clone(),
                ClusterKey::new("demo", "other"),
                Drop::Auth,
            ),
            (
                "wrong cluster",
                d.clone(),
                ClusterKey::new("prod", "s3cret"),
                Drop::WrongCluster,
            ),
            (
                "unknown node",
                Sealer::new(key(), "n9", 1).seal(&beat(1)).unwrap(),
                key(),
                Drop::UnknownNode,
            ),
            ("too big", vec![0u8; MAX_DATAGRAM + 1], key(), Drop::TooBig),
            ("short", d[..10].to_vec(), key(), Drop::Malformed),
            ("magic", [b"XXXX", &d[4..]].concat(), key(), Drop::Malformed),
            (
                "version",
                [&d[..4], &[9u8], &d[5..]].concat(),
                key(),
                Drop::Version,
            ),
            ("empty", vec![], key(), Drop::Malformed),
        ];
        for (what, data, k, want) in cases {
            assert_eq!(open(&k, &peers(), &data).map(|_| ()), Err(want), "{what}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = open(&key(), &peers(), &data);
        }

        #[test]
        fn arbitrary_bytes_after_a_valid_header_never_panic(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let d = Sealer::new(key(), "n1", 7).seal(&beat(0)).unwrap();
            let (_, at) = header(&key(), &d).unwrap();
            let data = [&d[..at], &tail[..]].concat();
            let _ = open(&key(), &peers(), &data);
        }
    }
}
