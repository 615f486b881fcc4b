//! The persistent-reservation state of one emulated logical unit, and its on-disk text form.

use std::fmt;

/// Persistent reservation types SPC-3 defines (the TYPE field of PERSISTENT RESERVE OUT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrType {
    WriteExclusive,
    ExclusiveAccess,
    WriteExclusiveRegistrantsOnly,
    ExclusiveAccessRegistrantsOnly,
    WriteExclusiveAllRegistrants,
    ExclusiveAccessAllRegistrants,
}

impl PrType {
    /// The type for a 4-bit TYPE code; `None` for obsolete or reserved codes.
    pub fn from_code(code: u8) -> Option<PrType> {
        Some(match code {
            1 => PrType::WriteExclusive,
            3 => PrType::ExclusiveAccess,
            5 => PrType::WriteExclusiveRegistrantsOnly,
            6 => PrType::ExclusiveAccessRegistrantsOnly,
            7 => PrType::WriteExclusiveAllRegistrants,
            8 => PrType::ExclusiveAccessAllRegistrants,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        match self {
            PrType::WriteExclusive => 1,
            PrType::ExclusiveAccess => 3,
            PrType::WriteExclusiveRegistrantsOnly => 5,
            PrType::ExclusiveAccessRegistrantsOnly => 6,
            PrType::WriteExclusiveAllRegistrants => 7,
            PrType::ExclusiveAccessAllRegistrants => 8,
        }
    }

    /// In the "all registrants" types every registered I_T nexus is a reservation holder.
    pub fn is_all_registrants(self) -> bool {
        matches!(
            self,
            PrType::WriteExclusiveAllRegistrants | PrType::ExclusiveAccessAllRegistrants
        )
    }
}

/// The names sg3_utils and multipath-tools print for a 4-bit TYPE code.
pub fn type_name(code: u8) -> &'static str {
    const NAMES: [&str; 16] = [
        "obsolete [0]",
        "Write Exclusive",
        "obsolete [2]",
        "Exclusive Access",
        "obsolete [4]",
        "Write Exclusive, registrants only",
        "Exclusive Access, registrants only",
        "Write Exclusive, all registrants",
        "Exclusive Access, all registrants",
        "obsolete [9]",
        "obsolete [0xa]",
        "obsolete [0xb]",
        "obsolete [0xc]",
        "obsolete [0xd]",
        "obsolete [0xe]",
        "obsolete [0xf]",
    ];
    NAMES[usize::from(code & 0xf)]
}

/// One registered I_T nexus: the initiator that registered and its reservation key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub initiator: String,
    pub key: u64,
}

/// The persistent reservation. The holder is an I_T nexus, not a key: a holder that
/// registers a new key keeps the reservation, which then reports the new key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub holder: String,
    pub pr_type: PrType,
    pub scope: u8,
}

/// Everything a logical unit remembers about persistent reservations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceState {
    /// PRgeneration: bumped by every successful REGISTER, REGISTER AND IGNORE EXISTING KEY,
    /// CLEAR, PREEMPT and PREEMPT AND ABORT.
    pub generation: u32,
    /// One entry per registered I_T nexus, in registration order.
    pub registrations: Vec<Registration>,
    pub reservation: Option<Reservation>,
}

impl DeviceState {
    pub fn registration(&self, initiator: &str) -> Option<&Registration> {
        self.registrations.iter().find(|r| r.initiator == initiator)
    }

    /// Whether the I_T nexus of `initiator` holds the persistent reservation.
    pub fn is_holder(&self, initiator: &str) -> bool {
        match &self.reservation {
            None => false,
            Some(r) if r.pr_type.is_all_registrants() => self.registration(initiator).is_some(),
            Some(r) => r.holder == initiator,
        }
    }

    /// The RESERVATION KEY that READ RESERVATION reports: zero for the all-registrants
    /// types, else the holder's registered key.
    pub fn reservation_key(&self) -> Option<u64> {
        let r = self.reservation.as_ref()?;
        if r.pr_type.is_all_registrants() {
            return Some(0);
        }
        Some(self.registration(&r.holder).map_or(0, |reg| reg.key))
    }

    /// The text stored in a state file.
    pub fn to_text(&self) -> String {
        let mut s = format!("{HEADER}\ngeneration 0x{:x}\n", self.generation);
        for r in &self.registrations {
            s.push_str(&format!("registration {} 0x{:x}\n", r.initiator, r.key));
        }
        if let Some(r) = &self.reservation {
            s.push_str(&format!(
                "reservation {} type={} scope={}\n",
                r.holder,
                r.pr_type.code(),
                r.scope
            ));
        }
        s
    }

    /// Parses the text of a state file; errors name the line.
    pub fn from_text(text: &str) -> Result<DeviceState, StateParseError> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        match lines.next() {
            Some((_, HEADER)) => {}
            _ => return Err(StateParseError::new(1, "missing header")),
        }
        let mut state = DeviceState::default();
        let mut saw_generation = false;
        for (n, line) in lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                ["generation", g] => {
                    state.generation = parse_hex(g)
                        .and_then(|v| u32::try_from(v).ok())
                        .ok_or_else(|| StateParseError::new(n, "bad generation"))?;
                    saw_generation = true;
                }
                ["registration", who, key] => {
                    if !valid_initiator(who) || state.registration(who).is_some() {
                        return Err(StateParseError::new(n, "bad or duplicate initiator"));
                    }
                    let key = parse_hex(key)
                        .filter(|k| *k != 0)
                        .ok_or_else(|| StateParseError::new(n, "bad key"))?;
                    state.registrations.push(Registration {
                        initiator: who.to_string(),
                        key,
                    });
                }
                ["reservation", who, ty, scope] => {
                    let pr_type = ty
                        .strip_prefix("type=")
                        .and_then(|t| t.parse::<u8>().ok())
                        .and_then(PrType::from_code)
                        .ok_or_else(|| StateParseError::new(n, "bad type"))?;
                    let scope = scope
                        .strip_prefix("scope=")
                        .and_then(|t| t.parse::<u8>().ok())
                        .ok_or_else(|| StateParseError::new(n, "bad scope"))?;
                    if state.reservation.is_some() || state.registration(who).is_none() {
                        return Err(StateParseError::new(
                            n,
                            "reservation without a registered holder",
                        ));
                    }
                    state.reservation = Some(Reservation {
                        holder: who.to_string(),
                        pr_type,
                        scope,
                    });
                }
                _ => return Err(StateParseError::new(n, "unknown line")),
            }
        }
        if !saw_generation {
            return Err(StateParseError::new(1, "missing generation"));
        }
        Ok(state)
    }
}

const HEADER: &str = "svcemu-spc3-state 1";

fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

/// Initiator names are iSCSI-name-like tokens, so they fit a state-file line and a
/// TransportID (223 bytes at most).
pub fn valid_initiator(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 223
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
}

/// A state file that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateParseError {
    pub line: usize,
    pub reason: &'static str,
}

impl StateParseError {
    fn new(line: usize, reason: &'static str) -> Self {
        StateParseError { line, reason }
    }
}

impl fmt::Display for StateParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for StateParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DeviceState {
        DeviceState {
            generation: 0x2a,
            registrations: vec![
                Registration {
                    initiator: "n1".into(),
                    key: 0x74ca_0000,
                },
                Registration {
                    initiator: "iqn.2024-01.x:n2".into(),
                    key: 0x1,
                },
            ],
            reservation: Some(Reservation {
                holder: "n1".into(),
                pr_type: PrType::WriteExclusiveRegistrantsOnly,
                scope: 0,
            }),
        }
    }

    #[test]
    fn text_round_trip() {
        let s = sample();
        let text = s.to_text();
        assert_eq!(
            text,
            "svcemu-spc3-state 1\ngeneration 0x2a\nregistration n1 0x74ca0000\n\
             registration iqn.2024-01.x:n2 0x1\nreservation n1 type=5 scope=0\n"
        );
        assert_eq!(DeviceState::from_text(&text), Ok(s));
        let empty = DeviceState::default();
        assert_eq!(DeviceState::from_text(&empty.to_text()), Ok(empty));
    }

    #[test]
    fn bad_state_files_name_the_line() {
        let err = |t: &str| DeviceState::from_text(t).unwrap_err();
        assert_eq!(err("").line, 1);
        assert_eq!(err("svcemu-spc3-state 1\n").reason, "missing generation");
        let e = err("svcemu-spc3-state 1\ngeneration 0x1\nregistration n1 0x0\n");
        assert_eq!((e.line, e.reason), (3, "bad key"));
        let e = err("svcemu-spc3-state 1\ngeneration 0x1\nreservation n1 type=5 scope=0\n");
        assert_eq!(e.reason, "reservation without a registered holder");
        let e = err("svcemu-spc3-state 1\ngeneration 0x1\nregistration n1 0x1\nreservation n1 type=2 scope=0\n");
        assert_eq!((e.line, e.reason), (4, "bad type"));
        assert_eq!(
            err("svcemu-spc3-state 1\ngeneration 0x1\nfoo\n").reason,
            "unknown line"
        );
    }

    #[test]
    fn holder_and_reported_key() {
        let mut s = sample();
        assert!(s.is_holder("n1"));
        assert!(!s.is_holder("iqn.2024-01.x:n2"));
        assert_eq!(s.reservation_key(), Some(0x74ca_0000));
        if let Some(r) = s.reservation.as_mut() {
            r.pr_type = PrType::ExclusiveAccessAllRegistrants;
        }
        assert!(s.is_holder("iqn.2024-01.x:n2"));
        assert!(!s.is_holder("n3"));
        assert_eq!(s.reservation_key(), Some(0));
        s.reservation = None;
        assert_eq!(s.reservation_key(), None);
        assert!(!s.is_holder("n1"));
    }

    #[test]
    fn type_codes_and_names() {
        for code in [1u8, 3, 5, 6, 7, 8] {
            assert_eq!(PrType::from_code(code).map(PrType::code), Some(code));
        }
        for code in [0u8, 2, 4, 9, 15] {
            assert_eq!(PrType::from_code(code), None);
        }
        assert_eq!(type_name(5), "Write Exclusive, registrants only");
        assert_eq!(type_name(8), "Exclusive Access, all registrants");
        assert_eq!(type_name(0xa), "obsolete [0xa]");
        assert!(valid_initiator("n1"));
        assert!(!valid_initiator("a b"));
        assert!(!valid_initiator(""));
    }
}
