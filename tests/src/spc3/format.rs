//! What `sg_persist` (sg3_utils) and `mpathpersist` (multipath-tools) print for each
//! PERSISTENT RESERVE IN service action, byte for byte, including their odd spacing.

use std::fmt::Write as _;

use super::state::{type_name, DeviceState};

/// The emulated INQUIRY identity: 8-byte vendor, 16-byte product, 4-byte revision.
pub const VENDOR: &str = "SVCEMU";
pub const PRODUCT: &str = "SPC3 PR emulator";
pub const REVISION: &str = "0001";

/// The relative target port identifier of the single emulated port.
const RELATIVE_PORT: u16 = 1;

/// The two lines `sg_persist` prints after a successful INQUIRY.
pub fn sg_inquiry() -> String {
    format!("  {VENDOR:<8.8}  {PRODUCT:<16.16}  {REVISION:<4.4}\n  Peripheral device type: disk\n")
}

/// The iSCSI name in the TransportID the emulated target reports for an initiator.
pub fn transport_name(initiator: &str) -> String {
    if initiator.starts_with("iqn.") {
        initiator.to_string()
    } else {
        format!("iqn.2024-01.svcemu:{initiator}")
    }
}

pub fn sg_read_keys(s: &DeviceState) -> String {
    let mut out = format!("  PR generation=0x{:x}, ", s.generation);
    match s.registrations.len() {
        0 => out.push_str("there are NO registered reservation keys\n"),
        1 => out.push_str("1 registered reservation key follows:\n"),
        n => {
            let _ = writeln!(out, "{n} registered reservation keys follow:");
        }
    }
    for r in &s.registrations {
        let _ = writeln!(out, "    0x{:x}", r.key);
    }
    out
}

/// sg_persist prints "scope: LU_SCOPE, " or "scope: N " followed by " type: ...".
fn sg_scope_type(scope: u8, type_code: u8) -> String {
    let scope = if scope == 0 {
        "scope: LU_SCOPE, ".to_string()
    } else {
        format!("scope: {scope} ")
    };
    format!("{scope} type: {}", type_name(type_code))
}

pub fn sg_read_reservation(s: &DeviceState) -> String {
    let mut out = format!("  PR generation=0x{:x}, ", s.generation);
    match (&s.reservation, s.reservation_key()) {
        (Some(r), Some(key)) => {
            let _ = write!(
                out,
                "Reservation follows:\n    Key=0x{key:x}\n    {}\n",
                sg_scope_type(r.scope, r.pr_type.code())
            );
        }
        _ => out.push_str("there is NO reservation held\n"),
    }
    out
}

pub fn sg_read_full_status(s: &DeviceState, verbose: bool) -> String {
    let mut out = format!("  PR generation=0x{:x}\n", s.generation);
    if s.registrations.is_empty() {
        out.push_str("  No full status descriptors\n");
        if verbose {
            out.push_str("  So there are no registered IT nexuses\n");
        }
    }
    for r in &s.registrations {
        let _ = write!(
            out,
            "    Key=0x{:x}\n      All target ports bit clear\n      Relative port address: 0x{RELATIVE_PORT:x}\n",
            r.key
        );
        out.push_str(&holder_lines(s, &r.initiator));
        let _ = writeln!(out, "        iSCSI name: {}", transport_name(&r.initiator));
    }
    out
}

fn holder_lines(s: &DeviceState, initiator: &str) -> String {
    match &s.reservation {
        Some(res) if s.is_holder(initiator) => format!(
            "      << Reservation holder >>\n      {}\n",
            sg_scope_type(res.scope, res.pr_type.code())
        ),
        _ => "      not reservation holder\n".to_string(),
    }
}

/// Capability bits of the emulated device: no SIP_C/ATP_C/CRH/RLR_C, state always
/// persists (PTPL), all six reservation types.
const TYPE_MASK_LINES: &str = "    Support indicated in Type mask:
      Write Exclusive, all registrants: 1
      Exclusive Access, registrants only: 1
      Write Exclusive, registrants only: 1
      Exclusive Access: 1
      Write Exclusive: 1
      Exclusive Access, all registrants: 1
";

pub fn sg_report_capabilities() -> String {
    format!(
        "Report capabilities response:
  Replace Lost Reservation Capable(RLR_C): 0
  Compatible Reservation Handling(CRH): 0
  Specify Initiator Ports Capable(SIP_C): 0
  All Target Ports Capable(ATP_C): 0
  Persist Through Power Loss Capable(PTPL_C): 1
  Type Mask Valid(TMV): 1
  Allow Commands: 0
  Persist Through Power Loss Active(PTPL_A): 1
{TYPE_MASK_LINES}"
    )
}

pub fn mpath_read_keys(s: &DeviceState) -> String {
    let mut out = format!("  PR generation=0x{:x}, ", s.generation);
    match s.registrations.len() {
        0 => {
            out.push_str("\t0 registered reservation key.\n");
            return out;
        }
        1 => out.push_str("\t1 registered reservation key follows:\n"),
        n => {
            let _ = writeln!(out, "\t{n} registered reservation keys follow:");
        }
    }
    for r in &s.registrations {
        let _ = writeln!(out, "    0x{:x}", r.key);
    }
    out
}

pub fn mpath_read_reservation(s: &DeviceState) -> String {
    match (&s.reservation, s.reservation_key()) {
        (Some(r), Some(key)) => {
            let scope = if r.scope == 0 {
                "LU_SCOPE".to_string()
            } else {
                r.scope.to_string()
            };
            format!(
                "  PR generation=0x{:x}, Reservation follows:\n   Key = 0x{key:x}\n  scope = {scope}, type = {}\n",
                s.generation,
                type_name(r.pr_type.code())
            )
        }
        _ => format!(
            "  PR generation=0x{:x}, there is NO reservation held \n",
            s.generation
        ),
    }
}

pub fn mpath_read_full_status(s: &DeviceState) -> String {
    let mut out = format!("  PR generation=0x{:x} \n", s.generation);
    for r in &s.registrations {
        let _ = write!(
            out,
            "   Key = 0x{:x}\n      All target ports bit clear\n      Relative port address: 0x{RELATIVE_PORT:x}\n",
            r.key
        );
        out.push_str(&holder_lines(s, &r.initiator));
        let _ = writeln!(out, "   iSCSI name: {}", transport_name(&r.initiator));
    }
    out
}

pub fn mpath_report_capabilities() -> String {
    format!(
        "Report capabilities response:
  Compatible Reservation Handling(CRH): 0
  Specify Initiator Ports Capable(SIP_C): 0
  All Target Ports Capable(ATP_C): 0
  Persist Through Power Loss Capable(PTPL_C): 1
  Type Mask Valid(TMV): 1
  Allow Commands: 0
  Persist Through Power Loss Active(PTPL_A): 1
{TYPE_MASK_LINES}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spc3::state::{PrType, Registration, Reservation};

    fn state(keys: &[(&str, u64)], holder: Option<(&str, PrType)>, generation: u32) -> DeviceState {
        DeviceState {
            generation,
            registrations: keys
                .iter()
                .map(|(i, k)| Registration {
                    initiator: i.to_string(),
                    key: *k,
                })
                .collect(),
            reservation: holder.map(|(h, t)| Reservation {
                holder: h.to_string(),
                pr_type: t,
                scope: 0,
            }),
        }
    }

    #[test]
    fn sg_formats() {
        let none = state(&[], None, 0);
        assert_eq!(
            sg_read_keys(&none),
            "  PR generation=0x0, there are NO registered reservation keys\n"
        );
        assert_eq!(
            sg_read_reservation(&none),
            "  PR generation=0x0, there is NO reservation held\n"
        );
        let one = state(&[("n1", 0x74ca_0000)], None, 1);
        assert_eq!(
            sg_read_keys(&one),
            "  PR generation=0x1, 1 registered reservation key follows:\n    0x74ca0000\n"
        );
        let two = state(
            &[("n2", 0x74ca_0002), ("n1", 0x74ca_0000)],
            Some(("n1", PrType::WriteExclusiveRegistrantsOnly)),
            2,
        );
        assert_eq!(
            sg_read_keys(&two),
            "  PR generation=0x2, 2 registered reservation keys follow:\n    0x74ca0002\n    0x74ca0000\n"
        );
        assert_eq!(
            sg_read_reservation(&two),
            "  PR generation=0x2, Reservation follows:\n    Key=0x74ca0000\n    \
             scope: LU_SCOPE,  type: Write Exclusive, registrants only\n"
        );
        assert_eq!(
            sg_read_full_status(&two, false),
            "  PR generation=0x2\n    Key=0x74ca0002\n      All target ports bit clear\n      \
             Relative port address: 0x1\n      not reservation holder\n        \
             iSCSI name: iqn.2024-01.svcemu:n2\n    Key=0x74ca0000\n      All target ports bit clear\n      \
             Relative port address: 0x1\n      << Reservation holder >>\n      \
             scope: LU_SCOPE,  type: Write Exclusive, registrants only\n        \
             iSCSI name: iqn.2024-01.svcemu:n1\n"
        );
        assert_eq!(
            sg_read_full_status(&none, false),
            "  PR generation=0x0\n  No full status descriptors\n"
        );
        assert_eq!(
            sg_inquiry(),
            "  SVCEMU    SPC3 PR emulator  0001\n  Peripheral device type: disk\n"
        );
    }

    #[test]
    fn all_registrants_reports_key_zero() {
        let s = state(
            &[("n1", 0xa), ("n2", 0xb)],
            Some(("n1", PrType::ExclusiveAccessAllRegistrants)),
            3,
        );
        assert_eq!(
            sg_read_reservation(&s),
            "  PR generation=0x3, Reservation follows:\n    Key=0x0\n    \
             scope: LU_SCOPE,  type: Exclusive Access, all registrants\n"
        );
        assert_eq!(
            sg_read_full_status(&s, false)
                .matches("<< Reservation holder >>")
                .count(),
            2
        );
    }

    #[test]
    fn mpath_formats() {
        let none = state(&[], None, 0);
        assert_eq!(
            mpath_read_keys(&none),
            "  PR generation=0x0, \t0 registered reservation key.\n"
        );
        assert_eq!(
            mpath_read_reservation(&none),
            "  PR generation=0x0, there is NO reservation held \n"
        );
        let one = state(&[("n1", 0x1)], None, 1);
        assert_eq!(
            mpath_read_keys(&one),
            "  PR generation=0x1, \t1 registered reservation key follows:\n    0x1\n"
        );
        let two = state(
            &[("n1", 0x1), ("n2", 0x2)],
            Some(("n1", PrType::WriteExclusiveRegistrantsOnly)),
            3,
        );
        assert_eq!(
            mpath_read_keys(&two),
            "  PR generation=0x3, \t2 registered reservation keys follow:\n    0x1\n    0x2\n"
        );
        assert_eq!(
            mpath_read_reservation(&two),
            "  PR generation=0x3, Reservation follows:\n   Key = 0x1\n  \
             scope = LU_SCOPE, type = Write Exclusive, registrants only\n"
        );
        assert!(mpath_read_full_status(&two).starts_with("  PR generation=0x3 \n   Key = 0x1\n"));
        assert_eq!(mpath_read_full_status(&none), "  PR generation=0x0 \n");
    }
}
