//! What both reservation tools share: keys, the operations the driver runs, the reservation
//! state read back from one device, and how the states of all devices make a status.
//! Pure: no I/O here.

use std::fmt;
use std::str::FromStr;

use crate::{ResStatus, Status};

/// The reservation type the driver uses: Write Exclusive, Registrants Only. Registered
/// nodes may write; a node that is not registered cannot.
pub const PR_TYPE: u8 = 5;

/// A reservation key, compared as a number: `0x00AB` and `0xab` are the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrKey(pub u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad reservation key '{0}': expected 0x and 1 to 16 hex digits")]
pub struct BadKey(pub String);

impl FromStr for PrKey {
    type Err = BadKey;

    /// `0x` (or `0X`) and hex digits, any case, leading zeros allowed; the prefix may be
    /// omitted, as sg_persist's own arguments allow.
    fn from_str(s: &str) -> Result<PrKey, BadKey> {
        let t = s.trim();
        let hex = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .unwrap_or(t);
        let significant = hex.trim_start_matches('0');
        if hex.is_empty() || significant.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadKey(s.to_string()));
        }
        if significant.is_empty() {
            return Ok(PrKey(0));
        }
        u64::from_str_radix(significant, 16)
            .map(PrKey)
            .map_err(|_| BadKey(s.to_string()))
    }
}

impl fmt::Display for PrKey {
    /// The tools' own form: lower-case hex without leading zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// The reservation a device reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The holder's key (0 for the "all registrants" types, which have no single holder).
    pub key: PrKey,
    /// As the tool prints it: `Write Exclusive, registrants only`.
    pub pr_type: String,
}

/// The commands the driver sends; each tool module turns them into its argv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    ReadKeys,
    ReadReservation,
    /// REGISTER AND IGNORE EXISTING KEY with `key` as the new key.
    Register(PrKey),
    Reserve(PrKey),
    Release(PrKey),
    /// REGISTER with service action key 0: drops our registration.
    Unregister(PrKey),
    /// Take the reservation from `victim` and drop its registrations.
    Preempt {
        key: PrKey,
        victim: PrKey,
        abort: bool,
    },
}

impl Op {
    /// The options of this operation; sg_persist and mpathpersist spell them the same.
    pub fn options(&self) -> Vec<String> {
        let prout_type = format!("--prout-type={PR_TYPE}");
        let out = |action: &str, rest: Vec<String>| {
            let mut v = vec!["--out".to_string(), action.to_string()];
            v.extend(rest);
            v
        };
        match *self {
            Op::ReadKeys => vec!["--in".into(), "--read-keys".into()],
            Op::ReadReservation => vec!["--in".into(), "--read-reservation".into()],
            Op::Register(k) => out("--register-ignore", vec![format!("--param-sark={k}")]),
            Op::Reserve(k) => out("--reserve", vec![format!("--param-rk={k}"), prout_type]),
            Op::Release(k) => out("--release", vec![format!("--param-rk={k}"), prout_type]),
            Op::Unregister(k) => out(
                "--register",
                vec![format!("--param-rk={k}"), "--param-sark=0".into()],
            ),
            Op::Preempt { key, victim, abort } => out(
                if abort {
                    "--preempt-abort"
                } else {
                    "--preempt"
                },
                vec![
                    format!("--param-rk={key}"),
                    format!("--param-sark={victim}"),
                    prout_type,
                ],
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("can not parse {what}: {detail}")]
pub struct ParseError {
    pub what: &'static str,
    pub detail: String,
}

impl ParseError {
    pub fn new(what: &'static str, detail: impl Into<String>) -> ParseError {
        ParseError {
            what,
            detail: detail.into(),
        }
    }
}

/// The rest of the `PR generation=0x.., ` line (both tools start their answer with it; a
/// tool run without `-n` prints INQUIRY lines before it).
pub(crate) fn after_generation<'a>(
    out: &'a str,
    what: &'static str,
) -> Result<(usize, &'a str), ParseError> {
    let lines: Vec<&str> = out.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.trim_start().starts_with("PR generation="))
        .ok_or_else(|| ParseError::new(what, "no 'PR generation=' line"))?;
    let rest = lines[i]
        .split_once(',')
        .map(|(_, r)| r.trim())
        .unwrap_or("");
    Ok((i, rest))
}

/// The registered keys of a read-keys answer whose header line says `N registered
/// reservation key(s) follow:` (or that there are none); the count must match.
/// A read-reservation answer, in either tool's layout (`Key=0x1` / `scope: ..,  type: ..`
/// for sg_persist, `Key = 0x1` / `scope = .., type = ..` for mpathpersist); `None` when no
/// reservation is held.
pub(crate) fn parse_reservation(
    out: &str,
    what: &'static str,
) -> Result<Option<Reservation>, ParseError> {
    let (i, rest) = after_generation(out, what)?;
    if rest.starts_with("there is NO reservation held") {
        return Ok(None);
    }
    if !rest.starts_with("Reservation follows") {
        return Err(ParseError::new(what, format!("unexpected header '{rest}'")));
    }
    // The value after a label, past the `=` or `:` and blanks around it.
    let value = |r: &str| -> Option<String> {
        let r = r.trim_start();
        let r = r.strip_prefix('=').or_else(|| r.strip_prefix(':'))?;
        Some(r.trim().to_string())
    };
    let mut key = None;
    let mut pr_type = None;
    for l in out.lines().skip(i + 1).map(str::trim) {
        if let Some(k) = l.strip_prefix("Key").and_then(value) {
            key = Some(
                k.parse::<PrKey>()
                    .map_err(|_| ParseError::new(what, format!("bad key line '{l}'")))?,
            );
        } else if let Some(t) = l.split_once("type").and_then(|(_, t)| value(t)) {
            pr_type = Some(t);
        }
    }
    match (key, pr_type) {
        (Some(key), Some(pr_type)) => Ok(Some(Reservation { key, pr_type })),
        _ => Err(ParseError::new(what, "no key or type line")),
    }
}

pub(crate) fn parse_key_list(out: &str) -> Result<Vec<PrKey>, ParseError> {
    const WHAT: &str = "registered keys";
    let (i, rest) = after_generation(out, WHAT)?;
    let count: usize = if rest.starts_with("there are NO registered") {
        0
    } else {
        rest.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .filter(|_| rest.contains("registered reservation key"))
            .ok_or_else(|| ParseError::new(WHAT, format!("unexpected header '{rest}'")))?
    };
    let keys = out
        .lines()
        .skip(i + 1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.parse::<PrKey>()
                .map_err(|_| ParseError::new(WHAT, format!("unexpected line '{l}'")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if keys.len() != count {
        return Err(ParseError::new(
            WHAT,
            format!("header announces {count} key(s), {} listed", keys.len()),
        ));
    }
    Ok(keys)
}

/// Who holds a device's reservation, from our point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Nobody,
    Us,
    Other(Reservation),
}

/// One device's registrations and reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePr {
    pub dev: String,
    pub keys: Vec<PrKey>,
    pub reservation: Option<Reservation>,
}

impl DevicePr {
    pub fn registered(&self, key: PrKey) -> bool {
        self.keys.contains(&key)
    }

    pub fn holder(&self, key: PrKey) -> Holder {
        match &self.reservation {
            None => Holder::Nobody,
            Some(r) if r.key == key => Holder::Us,
            Some(r) => Holder::Other(r.clone()),
        }
    }

    /// Registered and holding the reservation.
    pub fn held_by(&self, key: PrKey) -> bool {
        self.registered(key) && self.holder(key) == Holder::Us
    }

    /// Neither registered nor holding.
    pub fn free_of(&self, key: PrKey) -> bool {
        !self.registered(key) && self.holder(key) != Holder::Us
    }

    /// `keys 0xa, 0xb; reservation 0xa (Write Exclusive, registrants only)`.
    pub fn describe(&self) -> String {
        let keys = if self.keys.is_empty() {
            "no registered key".to_string()
        } else {
            let k: Vec<String> = self.keys.iter().map(PrKey::to_string).collect();
            format!("keys {}", k.join(", "))
        };
        match &self.reservation {
            None => format!("{keys}; no reservation"),
            Some(r) => format!("{keys}; reservation {} ({})", r.key, r.pr_type),
        }
    }
}

/// The resource status from every device's state (or the error reading it), plus how many
/// devices our key holds. `started`: this node started the reservation and did not stop it
/// since, so losing it is a warning, not the normal state of a passive node.
pub fn assess(
    key: PrKey,
    devices: &[Result<DevicePr, String>],
    started: bool,
) -> (ResStatus, usize) {
    let mut log = Vec::new();
    let (mut held, mut free, mut failed) = (0, 0, 0);
    for d in devices {
        match d {
            Err(e) => {
                failed += 1;
                log.push(e.clone());
            }
            Ok(d) if d.held_by(key) => held += 1,
            Ok(d) if d.free_of(key) => free += 1,
            Ok(_) => {}
        }
    }
    let total = devices.len();
    // A guard that cannot be evaluated is a warning, never neutral: merged as undef it
    // would leave the service `up` with its fence unknown.
    let status = if total == 0 {
        log.push("no device to reserve: the fence can not be checked".into());
        Status::Warn
    } else if failed > 0 {
        Status::Warn
    } else if held == total {
        Status::Up
    } else if free == total && !started {
        Status::Down
    } else {
        Status::Warn
    };
    if status == Status::Warn {
        for d in devices.iter().flatten().filter(|d| !d.held_by(key)) {
            log.push(device_problem(key, d, started));
        }
    }
    // Under type 5 every registrant may write: another key registered on a device we hold
    // is a hole in the fence.
    let mut status = status;
    for d in devices.iter().flatten().filter(|d| d.held_by(key)) {
        let mut others: Vec<String> = Vec::new();
        for k in d.keys.iter().filter(|k| **k != key) {
            if !others.contains(&k.to_string()) {
                others.push(k.to_string());
            }
        }
        if !others.is_empty() {
            status = status.merge(Status::Warn);
            log.push(format!(
                "{} also registered on {}: those nodes can still write it",
                others.join(", "),
                d.dev
            ));
        }
    }
    (ResStatus { status, log }, held)
}

/// How the status says another node took the reservation this node had (the daemon's
/// orchestrator stops a service here when it reads it).
pub const PREEMPTED: &str = "our key was preempted";

fn device_problem(key: PrKey, d: &DevicePr, started: bool) -> String {
    let dev = &d.dev;
    match (d.holder(key), d.registered(key)) {
        (Holder::Other(r), false) if started => {
            format!("reservation held by {} on {dev}: {PREEMPTED}", r.key)
        }
        (Holder::Other(r), _) => format!("reservation held by {} on {dev}", r.key),
        (Holder::Nobody, true) => format!("our key is registered but not reserved on {dev}"),
        (Holder::Nobody, false) if started => {
            format!("our key is not registered on {dev}: reservation lost")
        }
        (Holder::Nobody, false) => format!("our key is not registered on {dev}"),
        (Holder::Us, _) => format!("our key is not registered on {dev}"),
    }
}

/// `0x8a3f01c2d4e5f607 on 1/1 device`.
pub fn label(key_text: &str, counts: Option<(usize, usize)>) -> String {
    match counts {
        Some((held, total)) => format!(
            "{key_text} on {held}/{total} device{}",
            if total == 1 { "" } else { "s" }
        ),
        None => key_text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> PrKey {
        s.parse().unwrap()
    }

    #[test]
    fn keys_normalise() {
        assert_eq!(k("0x8A3F01C2D4E5F607"), k("0x8a3f01c2d4e5f607"));
        assert_eq!(k("0x00000000000000ff"), PrKey(0xff));
        assert_eq!(k("0X00ff"), PrKey(0xff));
        assert_eq!(k("ff"), PrKey(0xff));
        assert_eq!(k("0x000000000000000000000001"), PrKey(1));
        assert_eq!(k("0x0"), PrKey(0));
        assert_eq!(PrKey(0xff).to_string(), "0xff");
        assert_eq!(k(" 0xAB\n").to_string(), "0xab");
        for bad in [
            "",
            "0x",
            "0xg1",
            "0x1ffffffffffffffff",
            "key",
            "0x-1",
            "0x 1",
        ] {
            assert_eq!(bad.parse::<PrKey>(), Err(BadKey(bad.into())), "{bad:?}");
        }
    }

    fn dev(keys: &[u64], holder: Option<u64>) -> DevicePr {
        DevicePr {
            dev: "/dev/sdb".into(),
            keys: keys.iter().copied().map(PrKey).collect(),
            reservation: holder.map(|h| Reservation {
                key: PrKey(h),
                pr_type: "Write Exclusive, registrants only".into(),
            }),
        }
    }

    fn named(mut d: DevicePr, name: &str) -> DevicePr {
        d.dev = name.into();
        d
    }

    const US: PrKey = PrKey(0xa);

    #[test]
    fn all_held_is_up() {
        let (s, held) = assess(US, &[Ok(dev(&[0xa], Some(0xa)))], false);
        assert_eq!((s.status, held), (Status::Up, 1));
        assert!(s.log.is_empty());
        let (s, _) = assess(US, &[Ok(dev(&[0xa], Some(0xa)))], true);
        assert_eq!(s.status, Status::Up);
    }

    #[test]
    fn another_registrant_on_a_device_we_hold_is_a_warning() {
        // Under type 5 the other registrant can still write.
        let (s, held) = assess(US, &[Ok(dev(&[0xa, 0xb, 0xb], Some(0xa)))], false);
        assert_eq!((s.status, held), (Status::Warn, 1));
        assert_eq!(
            s.log,
            ["0xb also registered on /dev/sdb: those nodes can still write it"]
        );
    }

    #[test]
    fn passive_node_is_down_even_when_another_holds() {
        let devs = [Ok(dev(&[], None)), Ok(dev(&[0xb], Some(0xb)))];
        let (s, held) = assess(US, &devs, false);
        assert_eq!((s.status, held), (Status::Down, 0));
        assert!(s.log.is_empty(), "{:?}", s.log);
    }

    #[test]
    fn lost_reservation_is_a_warning_naming_the_holder() {
        let devs = [Ok(named(dev(&[0xb], Some(0xb)), "/dev/sdc"))];
        let (s, held) = assess(US, &devs, true);
        assert_eq!((s.status, held), (Status::Warn, 0));
        assert_eq!(
            s.log,
            ["reservation held by 0xb on /dev/sdc: our key was preempted"]
        );
        let (s, _) = assess(US, &[Ok(dev(&[], None))], true);
        assert_eq!(s.status, Status::Warn);
        assert_eq!(
            s.log,
            ["our key is not registered on /dev/sdb: reservation lost"]
        );
    }

    #[test]
    fn mixed_devices_warn_per_device() {
        let devs = [
            Ok(named(dev(&[0xa], Some(0xa)), "/dev/sda")),
            Ok(named(dev(&[0xa, 0xb], Some(0xb)), "/dev/sdb")),
            Ok(named(dev(&[0xa], None), "/dev/sdc")),
            Ok(named(dev(&[], None), "/dev/sdd")),
        ];
        let (s, held) = assess(US, &devs, false);
        assert_eq!((s.status, held), (Status::Warn, 1));
        assert_eq!(
            s.log,
            [
                "reservation held by 0xb on /dev/sdb",
                "our key is registered but not reserved on /dev/sdc",
                "our key is not registered on /dev/sdd",
            ]
        );
    }

    #[test]
    fn registered_while_another_holds_is_a_warning() {
        let (s, _) = assess(US, &[Ok(dev(&[0xb, 0xa], Some(0xb)))], false);
        assert_eq!(s.status, Status::Warn);
        assert_eq!(s.log, ["reservation held by 0xb on /dev/sdb"]);
    }

    #[test]
    fn unreadable_devices() {
        let (s, _) = assess(US, &[Err("/dev/sdb: sg_persist: not found".into())], false);
        assert_eq!(s.status, Status::Warn);
        assert_eq!(s.log, ["/dev/sdb: sg_persist: not found"]);
        let devs = [
            Ok(dev(&[0xa], Some(0xa))),
            Err("/dev/sdc: timed out".into()),
        ];
        let (s, held) = assess(US, &devs, false);
        assert_eq!((s.status, held), (Status::Warn, 1));
        assert_eq!(s.log, ["/dev/sdc: timed out"]);
        let (s, _) = assess(US, &[], false);
        assert_eq!(s.status, Status::Warn);
        assert_eq!(
            s.log,
            ["no device to reserve: the fence can not be checked"]
        );
    }

    #[test]
    fn labels() {
        assert_eq!(
            label("0x8a3f01c2d4e5f607", Some((1, 1))),
            "0x8a3f01c2d4e5f607 on 1/1 device"
        );
        assert_eq!(label("0x1", Some((0, 2))), "0x1 on 0/2 devices");
        assert_eq!(label("0x1", None), "0x1");
    }

    #[test]
    fn describe_a_device() {
        assert_eq!(
            dev(&[0xa, 0xb], Some(0xa)).describe(),
            "keys 0xa, 0xb; reservation 0xa (Write Exclusive, registrants only)"
        );
        assert_eq!(
            dev(&[], None).describe(),
            "no registered key; no reservation"
        );
    }
}
