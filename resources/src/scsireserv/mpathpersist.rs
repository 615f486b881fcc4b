//! multipath-tools' `mpathpersist`, for multipath maps (it registers the key on every
//! path): argument lists and output parsers (pure, unit-tested).
//!
//! Answers look like (`<TAB>` is a tab character):
//! ```text
//!   PR generation=0x3, <TAB>2 registered reservation keys follow:
//!     0x1
//!   PR generation=0x0, <TAB>0 registered reservation key.
//!   PR generation=0x3, Reservation follows:
//!    Key = 0x1
//!   scope = LU_SCOPE, type = Write Exclusive, registrants only
//!   PR generation=0x0, there is NO reservation held
//! ```

use super::common::{self, parse_key_list, Op, ParseError, PrKey, Reservation};

pub const PROG: &str = "mpathpersist";
/// libmpathpersist's MPATH_PR_RESERV_CONFLICT.
pub const CONFLICT: i32 = 11;
/// libmpathpersist's MPATH_PR_SENSE_UNIT_ATTENTION.
pub const UNIT_ATTENTION: i32 = 6;

pub fn args(op: &Op, dev: &str) -> Vec<String> {
    let mut v: Vec<String> = vec![PROG.into()];
    v.extend(op.options());
    v.push(dev.into());
    v
}

/// `mpathpersist --in --read-keys` output.
pub fn parse_keys(out: &str) -> Result<Vec<PrKey>, ParseError> {
    parse_key_list(out)
}

/// `mpathpersist --in --read-reservation` output; `None` when no reservation is held.
pub fn parse_reservation(out: &str) -> Result<Option<Reservation>, ParseError> {
    common::parse_reservation(out, "mpathpersist reservation")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(op: Op) -> String {
        args(&op, "/dev/mapper/mpatha").join(" ")
    }

    #[test]
    fn argument_lists() {
        let k = PrKey(0x8a3f01c2d4e5f607);
        assert_eq!(
            argv(Op::ReadKeys),
            "mpathpersist --in --read-keys /dev/mapper/mpatha"
        );
        assert_eq!(
            argv(Op::ReadReservation),
            "mpathpersist --in --read-reservation /dev/mapper/mpatha"
        );
        assert_eq!(
            argv(Op::Register(k)),
            "mpathpersist --out --register-ignore --param-sark=0x8a3f01c2d4e5f607 /dev/mapper/mpatha"
        );
        assert_eq!(
            argv(Op::Reserve(k)),
            "mpathpersist --out --reserve --param-rk=0x8a3f01c2d4e5f607 --prout-type=5 /dev/mapper/mpatha"
        );
        assert_eq!(
            argv(Op::Release(k)),
            "mpathpersist --out --release --param-rk=0x8a3f01c2d4e5f607 --prout-type=5 /dev/mapper/mpatha"
        );
        assert_eq!(
            argv(Op::Unregister(k)),
            "mpathpersist --out --register --param-rk=0x8a3f01c2d4e5f607 --param-sark=0 /dev/mapper/mpatha"
        );
        assert_eq!(
            argv(Op::Preempt {
                key: k,
                victim: PrKey(1),
                abort: true
            }),
            "mpathpersist --out --preempt-abort --param-rk=0x8a3f01c2d4e5f607 --param-sark=0x1 \
             --prout-type=5 /dev/mapper/mpatha"
        );
        assert!(argv(Op::Preempt {
            key: k,
            victim: PrKey(1),
            abort: false
        })
        .contains(" --preempt --param-rk="));
    }

    #[test]
    fn keys_zero_one_two() {
        assert_eq!(
            parse_keys("  PR generation=0x0, \t0 registered reservation key.\n"),
            Ok(vec![])
        );
        assert_eq!(
            parse_keys("  PR generation=0x1, \t1 registered reservation key follows:\n    0x1\n"),
            Ok(vec![PrKey(1)])
        );
        assert_eq!(
            parse_keys(
                "  PR generation=0x3, \t2 registered reservation keys follow:\n    0x1\n    0x2\n"
            ),
            Ok(vec![PrKey(1), PrKey(2)])
        );
    }

    #[test]
    fn keys_upper_case_and_leading_zeros() {
        assert_eq!(
            parse_keys(
                "  PR generation=0x3, \t2 registered reservation keys follow:\n    0x00AB\n    0X8A3F01C2D4E5F607\n"
            ),
            Ok(vec![PrKey(0xab), PrKey(0x8a3f01c2d4e5f607)])
        );
        assert!(parse_keys("Persistent Reserve IN command failed\n").is_err());
        assert!(parse_keys(
            "  PR generation=0x3, \t2 registered reservation keys follow:\n    0x1\n"
        )
        .is_err());
    }

    #[test]
    fn reservation_none_and_held() {
        assert_eq!(
            parse_reservation("  PR generation=0x0, there is NO reservation held \n"),
            Ok(None)
        );
        let held = "  PR generation=0x3, Reservation follows:\n   Key = 0x1\n  \
                    scope = LU_SCOPE, type = Write Exclusive, registrants only\n";
        assert_eq!(
            parse_reservation(held),
            Ok(Some(Reservation {
                key: PrKey(1),
                pr_type: "Write Exclusive, registrants only".into()
            }))
        );
        let upper = "  PR generation=0x3, Reservation follows:\n   Key = 0x00000000000000AB\n  \
                     scope = LU_SCOPE, type = Write Exclusive, registrants only\n";
        assert_eq!(parse_reservation(upper).unwrap().unwrap().key, PrKey(0xab));
        assert!(parse_reservation(
            "  PR generation=0x3, Reservation follows:\n  scope = LU_SCOPE\n"
        )
        .is_err());
    }
}
