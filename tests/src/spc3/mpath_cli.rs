//! The `mpathpersist` command line (multipath-tools): its options, its checks in its
//! order, its messages. Every syntax error exits 1 after the usage text.

use std::io::Write;

use super::getopt::{
    scan_dec_i32, scan_dec_u32, scan_hex_u32, scan_hex_u64, Getopt, HasArg, LongOpt, OptSpec,
    Parsed,
};
use super::rules::ServiceAction;
use super::sg_cli::PrinAction;

/// MPATH_PR_SYNTAX_ERROR.
pub const SYNTAX_ERROR: i32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MpathCommand {
    In(PrinAction),
    Out {
        action: ServiceAction,
        key: u64,
        sa_key: u64,
        prout_type: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpathOptions {
    pub device: String,
    pub command: MpathCommand,
}

const fn lo(name: &'static str, has_arg: HasArg, val: char) -> LongOpt {
    LongOpt { name, has_arg, val }
}

use HasArg::{No, Required as Req};

const LONG: &[LongOpt] = &[
    lo("verbose", Req, 'v'),
    lo("clear", No, 'C'),
    lo("device", Req, 'd'),
    lo("batch-file", Req, 'f'),
    lo("help", No, 'h'),
    lo("hex", No, 'H'),
    lo("in", No, 'i'),
    lo("out", No, 'o'),
    lo("param-alltgpt", No, 'Y'),
    lo("param-aptpl", No, 'Z'),
    lo("param-rk", Req, 'K'),
    lo("param-sark", Req, 'S'),
    lo("preempt", No, 'P'),
    lo("preempt-abort", No, 'A'),
    lo("prout-type", Req, 'T'),
    lo("read-full-status", No, 's'),
    lo("read-keys", No, 'k'),
    lo("read-reservation", No, 'r'),
    lo("register", No, 'G'),
    lo("register-ignore", No, 'I'),
    lo("release", No, 'L'),
    lo("report-capabilities", No, 'c'),
    lo("reserve", No, 'R'),
    lo("transport-id", Req, 'X'),
    lo("alloc-length", Req, 'l'),
];

const SPEC: OptSpec = OptSpec {
    short: "v:Cd:hHioYZK:S:PAT:skrGILcRX:l:f:",
    long: LONG,
};

const MAX_PARAM_LEN: u32 = 8192;

const USAGE: &str = "Usage: mpathpersist [OPTIONS] [DEVICE]
 SPC-3 persistent reservation emulator; state in $SVCMGR_PR_EMU_DIR,
 initiator from $SVCMGR_PR_EMU_INITIATOR.
 Options:
    --verbose|-v level         verbosity level
    --clear|-C                 PR Out: Clear
    --device=DEVICE|-d DEVICE  query or change DEVICE
    --help|-h                  output this usage message
    --in|-i                    request PR In command
    --out|-o                   request PR Out command
    --param-rk=RK|-K RK        PR Out parameter reservation key
    --param-sark=SARK|-S SARK  PR Out parameter service action
                               reservation key (SARK is in hex)
    --preempt|-P               PR Out: Preempt
    --preempt-abort|-A         PR Out: Preempt and Abort
    --prout-type=TYPE|-T TYPE  PR Out command type
    --read-full-status|-s      PR In: Read Full Status
    --read-keys|-k             PR In: Read Keys
    --read-reservation|-r      PR In: Read Reservation
    --register|-G              PR Out: Register
    --register-ignore|-I       PR Out: Register and Ignore
    --release|-L               PR Out: Release
    --report-capabilities|-c   PR In: Report Capabilities
    --reserve|-R               PR Out: Reserve
";

pub fn usage(err: &mut dyn Write) {
    let _ = err.write_all(USAGE.as_bytes());
}

fn syntax(err: &mut dyn Write) -> Result<MpathOptions, i32> {
    usage(err);
    Err(SYNTAX_ERROR)
}

/// Parses `args` (argv without argv[0]). `Err` carries the exit status; the messages are
/// already written to `err`.
pub fn parse(prog: &str, args: &[String], err: &mut dyn Write) -> Result<MpathOptions, i32> {
    let mut device: Option<String> = None;
    let (mut prin_flag, mut prout_flag) = (false, false);
    let mut prin: Option<PrinAction> = None;
    let mut prout: Option<ServiceAction> = None;
    let (mut n_prin, mut n_prout) = (0, 0);
    let (mut key, mut sa_key, mut prout_type) = (0u64, 0u64, 0u32);
    let mut hex = false;

    let mut opts = Getopt::new(prog, SPEC, args);
    for item in opts.by_ref() {
        let (val, arg) = match item {
            Parsed::Opt { val, arg } => (val, arg.unwrap_or_default()),
            Parsed::Error(msg) => {
                let _ = writeln!(err, "{msg}");
                let _ = writeln!(err, "unrecognised switch code 0x3f ??");
                return syntax(err);
            }
        };
        let bad = |err: &mut dyn Write, what: &str| {
            let _ = writeln!(err, "bad argument to '--{what}'");
            syntax(err)
        };
        match val {
            'f' => {
                let _ = writeln!(
                    err,
                    "mpathpersist: --batch-file is not supported by this SPC-3 PR emulator"
                );
                return Err(SYNTAX_ERROR);
            }
            'X' => {
                let _ = writeln!(
                    err,
                    "mpathpersist: --transport-id is not supported by this SPC-3 PR emulator"
                );
                return Err(SYNTAX_ERROR);
            }
            'v' => {
                if scan_dec_i32(&arg).is_none() {
                    return bad(err, "verbose");
                }
            }
            'A' | 'C' | 'G' | 'I' | 'L' | 'P' | 'R' => {
                prout = Some(match val {
                    'A' => ServiceAction::PreemptAbort,
                    'C' => ServiceAction::Clear,
                    'G' => ServiceAction::Register,
                    'I' => ServiceAction::RegisterIgnore,
                    'L' => ServiceAction::Release,
                    'P' => ServiceAction::Preempt,
                    _ => ServiceAction::Reserve,
                });
                n_prout += 1;
            }
            'c' | 'k' | 'r' | 's' => {
                prin = Some(match val {
                    'c' => PrinAction::ReportCapabilities,
                    'k' => PrinAction::ReadKeys,
                    'r' => PrinAction::ReadReservation,
                    _ => PrinAction::ReadFullStatus,
                });
                n_prin += 1;
            }
            'd' => device = Some(arg),
            'h' => {
                usage(err);
                return Err(0);
            }
            'H' => hex = true,
            'i' => prin_flag = true,
            'o' => prout_flag = true,
            // APTPL and ALL_TG_PT: the state always persists and there is one target port.
            'Y' | 'Z' => {}
            'K' => match scan_hex_u64(&arg) {
                Some(v) => key = v,
                None => return bad(err, "param-rk"),
            },
            'S' => match scan_hex_u64(&arg) {
                Some(v) => sa_key = v,
                None => return bad(err, "param-sark"),
            },
            'T' => match scan_hex_u32(&arg) {
                Some(v) => prout_type = v,
                None => return bad(err, "prout-type"),
            },
            'l' => match scan_dec_u32(&arg) {
                None => return bad(err, "alloc-length"),
                Some(n) if n > MAX_PARAM_LEN => {
                    let _ = writeln!(
                        err,
                        "'--alloc-length' argument exceeds maximum limit({MAX_PARAM_LEN})"
                    );
                    return syntax(err);
                }
                Some(_) => {}
            },
            other => {
                let _ = writeln!(err, "unrecognised switch code 0x{:x} ??", u32::from(other));
                return syntax(err);
            }
        }
    }
    let mut operands = opts.operands().iter();
    if device.is_none() {
        device = operands.next().cloned();
    }
    let extras: Vec<&String> = operands.collect();
    if !extras.is_empty() {
        for e in extras {
            let _ = writeln!(err, "Unexpected extra argument: {e}");
        }
        return syntax(err);
    }
    if prin_flag == prout_flag {
        let _ = writeln!(err, "choose either '--in' or '--out' ");
        return syntax(err);
    }
    let command = if prout_flag {
        match prout {
            Some(action) if n_prout == 1 && n_prin == 0 => MpathCommand::Out {
                action,
                key,
                sa_key,
                prout_type,
            },
            _ => {
                let _ = writeln!(
                    err,
                    " For Persistent Reserve Out only one appropriate\n service action must be chosen "
                );
                return syntax(err);
            }
        }
    } else {
        if n_prout > 0 {
            let _ = writeln!(
                err,
                " When a service action for Persistent Reserve Out is chosen the\n '--out' option must be given "
            );
            return syntax(err);
        }
        match (prin, n_prin) {
            (Some(a), 1) => MpathCommand::In(a),
            (None, _) => {
                let _ = writeln!(err, " No service action given for Persistent Reserve IN");
                return syntax(err);
            }
            _ => {
                let _ = writeln!(err, " Too many service actions given; choose one only");
                return syntax(err);
            }
        }
    };
    if let MpathCommand::Out { action, .. } = command {
        if matches!(
            action,
            ServiceAction::Reserve
                | ServiceAction::Release
                | ServiceAction::Preempt
                | ServiceAction::PreemptAbort
        ) && prout_type == 0
        {
            let _ = writeln!(err, "Warning: --prout-type probably needs to be given");
        }
    }
    let Some(device) = device else {
        let _ = writeln!(err, "No device name given ");
        return syntax(err);
    };
    if hex {
        let _ = writeln!(
            err,
            "mpathpersist: --hex is not supported by this SPC-3 PR emulator"
        );
        return Err(SYNTAX_ERROR);
    }
    Ok(MpathOptions { device, command })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> (Result<MpathOptions, i32>, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut err = Vec::new();
        let r = parse("mpathpersist", &args, &mut err);
        (r, String::from_utf8(err).unwrap())
    }

    #[test]
    fn command_lines() {
        let (r, _) = p(&[
            "--out",
            "--register-ignore",
            "--param-sark=ABC",
            "/dev/mapper/x",
        ]);
        assert_eq!(
            r.unwrap(),
            MpathOptions {
                device: "/dev/mapper/x".into(),
                command: MpathCommand::Out {
                    action: ServiceAction::RegisterIgnore,
                    key: 0,
                    sa_key: 0xabc,
                    prout_type: 0
                }
            }
        );
        let (r, _) = p(&["-i", "-k", "/dev/x"]);
        assert_eq!(r.unwrap().command, MpathCommand::In(PrinAction::ReadKeys));
        let (r, _) = p(&[
            "--out",
            "--reserve",
            "--param-rk=0x1",
            "--prout-type=5",
            "-d",
            "/dev/x",
        ]);
        assert_eq!(
            r.unwrap().command,
            MpathCommand::Out {
                action: ServiceAction::Reserve,
                key: 1,
                sa_key: 0,
                prout_type: 5
            }
        );
        let (r, _) = p(&[
            "-v", "0", "-o", "-A", "-K", "2", "-S", "1", "-T", "5", "/dev/x",
        ]);
        assert!(r.is_ok());
    }

    #[test]
    fn syntax_errors_exit_one_with_usage() {
        for args in [
            &["-k", "/dev/x"][..],
            &["-i", "-o", "-k", "/dev/x"],
            &["-i", "/dev/x"],
            &["-i", "-k", "-r", "/dev/x"],
            &["-o", "/dev/x"],
            &["-i", "-G", "/dev/x"],
            &["-i", "-k"],
            &["-i", "-k", "/dev/x", "/dev/y"],
            &["--bogus", "-i", "-k", "/dev/x"],
            &["-o", "-G", "-S", "zz", "/dev/x"],
            &["-v", "x", "-i", "-k", "/dev/x"],
        ] {
            let (r, e) = p(args);
            assert_eq!(r, Err(SYNTAX_ERROR), "{args:?}");
            assert!(e.contains("Usage: mpathpersist"), "{args:?}: {e}");
        }
        let (_, e) = p(&["--bogus", "-i", "-k", "/dev/x"]);
        assert!(e.starts_with(
            "mpathpersist: unrecognized option '--bogus'\nunrecognised switch code 0x3f ??\n"
        ));
        assert_eq!(p(&["-h"]).0, Err(0));
    }
}
