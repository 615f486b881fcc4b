//! The `sg_persist` command line (sg3_utils 1.4x): its options, its checks in its order,
//! its messages and exit statuses.

use std::io::Write;

use super::getopt::{scan_hex_u32, scan_hex_u64, Getopt, HasArg, LongOpt, OptSpec, Parsed};
use super::rules::ServiceAction;

/// sg3_utils exit statuses used by the command-line checks.
pub const SYNTAX_ERROR: i32 = 1;
pub const CONTRADICT: i32 = 31;

/// PERSISTENT RESERVE IN service actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrinAction {
    ReadKeys,
    ReadReservation,
    ReportCapabilities,
    ReadFullStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SgCommand {
    In(PrinAction),
    Out {
        action: ServiceAction,
        key: u64,
        sa_key: u64,
        /// The --prout-type value as parsed; the CDB carries its low 4 bits.
        prout_type: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgOptions {
    pub device: String,
    pub inquiry: bool,
    pub verbose: u32,
    pub readonly: bool,
    pub readwrite_force: bool,
    pub command: SgCommand,
}

const fn lo(name: &'static str, has_arg: HasArg, val: char) -> LongOpt {
    LongOpt { name, has_arg, val }
}

use HasArg::{No, Required as Req};

const LONG: &[LongOpt] = &[
    lo("alloc-length", Req, 'l'),
    lo("alloc_length", Req, 'l'),
    lo("clear", No, 'C'),
    lo("device", Req, 'd'),
    lo("help", No, 'h'),
    lo("hex", No, 'H'),
    lo("in", No, 'i'),
    lo("maxlen", Req, 'm'),
    lo("no-inquiry", No, 'n'),
    lo("no_inquiry", No, 'n'),
    lo("out", No, 'o'),
    lo("param-alltgpt", No, 'Y'),
    lo("param_alltgpt", No, 'Y'),
    lo("param-aptpl", No, 'Z'),
    lo("param_aptpl", No, 'Z'),
    lo("param-rk", Req, 'K'),
    lo("param_rk", Req, 'K'),
    lo("param-sark", Req, 'S'),
    lo("param_sark", Req, 'S'),
    lo("param-unreg", No, 'U'),
    lo("param_unreg", No, 'U'),
    lo("preempt", No, 'P'),
    lo("preempt-abort", No, 'A'),
    lo("preempt_abort", No, 'A'),
    lo("prout-type", Req, 'T'),
    lo("prout_type", Req, 'T'),
    lo("read-full-status", No, 's'),
    lo("read_full_status", No, 's'),
    lo("read-keys", No, 'k'),
    lo("read_keys", No, 'k'),
    lo("readonly", No, 'y'),
    lo("read-reservation", No, 'r'),
    lo("read_reservation", No, 'r'),
    lo("read-status", No, 's'),
    lo("read_status", No, 's'),
    lo("register", No, 'G'),
    lo("register-ignore", No, 'I'),
    lo("register_ignore", No, 'I'),
    lo("register-move", No, 'M'),
    lo("register_move", No, 'M'),
    lo("release", No, 'L'),
    lo("relative-target-port", Req, 'Q'),
    lo("relative_target_port", Req, 'Q'),
    lo("replace-lost", No, 'z'),
    lo("replace_lost", No, 'z'),
    lo("report-capabilities", No, 'c'),
    lo("report_capabilities", No, 'c'),
    lo("reserve", No, 'R'),
    lo("transport-id", Req, 'X'),
    lo("transport_id", Req, 'X'),
    lo("unreg", No, 'U'),
    lo("verbose", No, 'v'),
    lo("version", No, 'V'),
];

const SPEC: OptSpec = OptSpec {
    short: "AcCd:GHhiIkK:l:Lm:MnoPQ:rRsS:T:UvVX:yYzZ",
    long: LONG,
};

pub const VERSION: &str = "0.73 20230622 (SPC-3 PR emulator)";

const USAGE: &str = "Usage: sg_persist [OPTIONS] [DEVICE]
  SPC-3 persistent reservation emulator; state in $SVCMGR_PR_EMU_DIR,
  initiator from $SVCMGR_PR_EMU_INITIATOR.
    --in|-i                      PR In (default): --read-keys|-k (default),
                                 --read-reservation|-r, --read-full-status|-s,
                                 --report-capabilities|-c
    --out|-o                     PR Out: --register|-G, --register-ignore|-I,
                                 --reserve|-R, --release|-L, --clear|-C,
                                 --preempt|-P, --preempt-abort|-A
    --param-rk=RK|-K RK          reservation key (hex)
    --param-sark=SARK|-S SARK    service action reservation key (hex)
    --prout-type=TYPE|-T TYPE    1, 3, 5, 6, 7 or 8
    --device=DEVICE|-d DEVICE    DEVICE as an option
    --no-inquiry|-n              skip INQUIRY
    --verbose|-v  --version|-V  --help|-h
";

pub fn usage(err: &mut dyn Write) {
    let _ = err.write_all(USAGE.as_bytes());
}

/// `sg_get_num` for --maxlen: decimal, 0x-hex or h-suffixed hex, with an optional
/// k/K (1024) or m/M (1048576) multiplier.
fn scan_maxlen(text: &str) -> Option<u32> {
    let (body, mult) = match text.as_bytes().last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 1024),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 1 << 20),
        _ => (text, 1),
    };
    let n = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()?
    } else if let Some(hex) = body.strip_suffix(['h', 'H']) {
        u64::from_str_radix(hex, 16).ok()?
    } else {
        body.parse::<u64>().ok()?
    };
    u32::try_from(n.checked_mul(mult)?).ok()
}

const MAX_ALLOC_LEN: u32 = 8192;

/// Parses `args` (argv without argv[0]). `Err` carries the exit status, the messages are
/// already written to `err` (0 for --help/--version and, as sg_persist does, for an
/// unknown option).
pub fn parse(prog: &str, args: &[String], err: &mut dyn Write) -> Result<SgOptions, i32> {
    let mut device: Option<String> = None;
    let mut help = 0;
    let mut want_in = false;
    let mut want_out = false;
    let mut prin: Option<PrinAction> = None;
    let mut prout: Option<ServiceAction> = None;
    let (mut n_prin, mut n_prout) = (0, 0);
    let (mut key, mut sa_key, mut prout_type) = (0u64, 0u64, 0u32);
    let mut inquiry = true;
    let (mut verbose, mut version) = (0u32, false);
    let (mut readonly, mut readwrite_force) = (false, false);
    let (mut unreg, mut rtp) = (false, 0u32);
    let mut hex = false;

    let mut opts = Getopt::new(prog, SPEC, args);
    for item in opts.by_ref() {
        let (val, arg) = match item {
            Parsed::Opt { val, arg } => (val, arg.unwrap_or_default()),
            Parsed::Error(msg) => {
                let _ = writeln!(err, "{msg}");
                usage(err);
                return Err(0);
            }
        };
        let bad = |err: &mut dyn Write, what: &str| {
            let _ = writeln!(err, "bad argument to '--{what}'");
            Err(SYNTAX_ERROR)
        };
        match val {
            'A' | 'C' | 'G' | 'I' | 'L' | 'M' | 'P' | 'R' | 'z' => {
                prout = Some(match val {
                    'A' => ServiceAction::PreemptAbort,
                    'C' => ServiceAction::Clear,
                    'G' => ServiceAction::Register,
                    'I' => ServiceAction::RegisterIgnore,
                    'L' => ServiceAction::Release,
                    'M' => ServiceAction::RegisterMove,
                    'P' => ServiceAction::Preempt,
                    'R' => ServiceAction::Reserve,
                    _ => ServiceAction::ReplaceLost,
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
            'h' => help += 1,
            'H' => hex = true,
            'i' => want_in = true,
            'o' => want_out = true,
            'n' => inquiry = false,
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
            'l' | 'm' => {
                let (name, len) = if val == 'm' {
                    ("maxlen", scan_maxlen(&arg))
                } else {
                    ("alloc-length", scan_hex_u32(&arg))
                };
                match len {
                    None => return bad(err, name),
                    Some(n) if n > MAX_ALLOC_LEN => {
                        let _ = writeln!(
                            err,
                            "'--{name}' argument exceeds maximum value ({MAX_ALLOC_LEN})"
                        );
                        return Err(SYNTAX_ERROR);
                    }
                    Some(_) => {}
                }
            }
            'Q' => match scan_hex_u32(&arg) {
                None => return bad(err, "relative-target-port"),
                Some(v) if v > 0xffff => {
                    let _ = writeln!(
                        err,
                        "argument to '--relative-target-port' 0 to ffff inclusive"
                    );
                    return Err(SYNTAX_ERROR);
                }
                Some(v) => rtp = v,
            },
            'U' => unreg = true,
            'v' => verbose += 1,
            'V' => version = true,
            'X' => {
                let _ = writeln!(
                    err,
                    "sg_persist: --transport-id is not supported by this SPC-3 PR emulator"
                );
                return Err(SYNTAX_ERROR);
            }
            'y' => {
                if !readwrite_force {
                    if readonly {
                        readwrite_force = true;
                        readonly = false;
                    } else {
                        readonly = true;
                    }
                }
            }
            // APTPL and ALL_TG_PT: the state always persists and there is one target port.
            'Y' | 'Z' => {}
            other => {
                let _ = writeln!(err, "unrecognised switch code 0x{:x} ??", u32::from(other));
                usage(err);
                return Err(SYNTAX_ERROR);
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
        usage(err);
        return Err(SYNTAX_ERROR);
    }
    if help > 0 {
        usage(err);
        return Err(0);
    }
    if version {
        let _ = writeln!(err, "version: {VERSION}");
        return Err(0);
    }
    let Some(device) = device else {
        let _ = writeln!(err, "No device name given");
        usage(err);
        return Err(SYNTAX_ERROR);
    };
    let command = if want_out && want_in {
        let _ = writeln!(err, "choose '--in' _or_ '--out' (not both)");
        usage(err);
        return Err(CONTRADICT);
    } else if want_out {
        match prout {
            Some(action) if n_prout == 1 && n_prin == 0 => SgCommand::Out {
                action,
                key,
                sa_key,
                prout_type,
            },
            _ => {
                let _ = writeln!(
                    err,
                    ">> For Persistent Reserve Out one and only one appropriate\n\
                     >> service action must be chosen (e.g. '--register')"
                );
                return Err(CONTRADICT);
            }
        }
    } else {
        if n_prout > 0 {
            let _ = writeln!(
                err,
                ">> When a service action for Persistent Reserve Out is chosen the\n\
                 >> '--out' option must be given (as a safeguard)"
            );
            return Err(CONTRADICT);
        }
        if n_prin > 1 {
            let _ = writeln!(err, "Too many service actions given; choose one only");
            usage(err);
            return Err(CONTRADICT);
        }
        SgCommand::In(prin.unwrap_or_else(|| {
            let _ = writeln!(
                err,
                ">> No service action given; assume Persistent Reserve In command\n\
                 >> with Read Keys service action"
            );
            PrinAction::ReadKeys
        }))
    };
    let out_action = match command {
        SgCommand::Out { action, .. } => Some(action),
        SgCommand::In(_) => None,
    };
    if (unreg || rtp != 0) && out_action != Some(ServiceAction::RegisterMove) {
        let _ = writeln!(
            err,
            "--unreg or --relative-target-port only useful with --register-move"
        );
        usage(err);
        return Err(CONTRADICT);
    }
    if out_action == Some(ServiceAction::RegisterMove) {
        // No --transport-id can be given to this emulator.
        let _ = writeln!(
            err,
            "with --register-move one (and only one) --transport-id should be given"
        );
        usage(err);
        return Err(CONTRADICT);
    }
    if matches!(
        out_action,
        Some(
            ServiceAction::Reserve
                | ServiceAction::Release
                | ServiceAction::Preempt
                | ServiceAction::PreemptAbort
        )
    ) && prout_type == 0
    {
        let _ = writeln!(err, "warning>>> --prout-type probably needs to be given");
    }
    if hex {
        let _ = writeln!(
            err,
            "sg_persist: --hex is not supported by this SPC-3 PR emulator"
        );
        return Err(SYNTAX_ERROR);
    }
    Ok(SgOptions {
        device,
        inquiry,
        verbose,
        readonly,
        readwrite_force,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> (Result<SgOptions, i32>, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut err = Vec::new();
        let r = parse("sg_persist", &args, &mut err);
        (r, String::from_utf8(err).unwrap())
    }

    fn out(action: ServiceAction, key: u64, sa_key: u64, prout_type: u32) -> SgCommand {
        SgCommand::Out {
            action,
            key,
            sa_key,
            prout_type,
        }
    }

    #[test]
    fn long_and_short_forms_agree() {
        let (a, _) = p(&["--out", "--register-ignore", "--param-sark=0x1", "/dev/x"]);
        let (b, _) = p(&["-n", "-o", "-I", "-S", "0x1", "/dev/x"]);
        let (c, _) = p(&["-noIS1", "--device=/dev/x"]);
        let a = a.unwrap();
        let (b, c) = (b.unwrap(), c.unwrap());
        assert_eq!(a.command, out(ServiceAction::RegisterIgnore, 0, 1, 0));
        assert!(a.inquiry);
        assert_eq!(b.command, a.command);
        assert!(!b.inquiry);
        assert_eq!(c, b);
        let (r, _) = p(&[
            "--out",
            "--reserve",
            "--param-rk=0X00AB",
            "-T",
            "5",
            "/dev/x",
        ]);
        assert_eq!(r.unwrap().command, out(ServiceAction::Reserve, 0xab, 0, 5));
        let (r, _) = p(&[
            "--out",
            "--preempt-abort",
            "--param_rk",
            "a",
            "--param_sark",
            "b",
            "--prout_type=6",
            "-d",
            "/dev/x",
        ]);
        assert_eq!(
            r.unwrap().command,
            out(ServiceAction::PreemptAbort, 0xa, 0xb, 6)
        );
    }

    #[test]
    fn prin_defaults_and_choices() {
        let (r, e) = p(&["/dev/x"]);
        assert_eq!(r.unwrap().command, SgCommand::In(PrinAction::ReadKeys));
        assert!(e.contains(">> No service action given"));
        let (r, e) = p(&["-i", "-r", "/dev/x"]);
        assert_eq!(
            r.unwrap().command,
            SgCommand::In(PrinAction::ReadReservation)
        );
        assert_eq!(e, "");
        let (r, _) = p(&["--in", "--read-full-status", "/dev/x"]);
        assert_eq!(
            r.unwrap().command,
            SgCommand::In(PrinAction::ReadFullStatus)
        );
        let (r, _) = p(&["-c", "/dev/x"]);
        assert_eq!(
            r.unwrap().command,
            SgCommand::In(PrinAction::ReportCapabilities)
        );
    }

    #[test]
    fn syntax_errors_and_their_statuses() {
        assert_eq!(p(&["-i", "-k"]).0, Err(SYNTAX_ERROR));
        assert!(p(&["-i", "-k"]).1.starts_with("No device name given\n"));
        assert_eq!(p(&["-i", "-o", "-k", "/dev/x"]).0, Err(CONTRADICT));
        assert_eq!(p(&["-o", "/dev/x"]).0, Err(CONTRADICT));
        assert_eq!(p(&["-o", "-G", "-R", "/dev/x"]).0, Err(CONTRADICT));
        assert_eq!(p(&["-G", "/dev/x"]).0, Err(CONTRADICT));
        assert_eq!(p(&["-k", "-r", "/dev/x"]).0, Err(CONTRADICT));
        let (r, e) = p(&["-o", "-G", "-K", "zz", "/dev/x"]);
        assert_eq!(
            (r, e.as_str()),
            (Err(SYNTAX_ERROR), "bad argument to '--param-rk'\n")
        );
        let (r, e) = p(&["-k", "/dev/x", "/dev/y"]);
        assert_eq!(r, Err(SYNTAX_ERROR));
        assert!(e.starts_with("Unexpected extra argument: /dev/y\n"));
        let (r, _) = p(&["-d", "/dev/x", "/dev/y"]);
        assert_eq!(r, Err(SYNTAX_ERROR));
        assert_eq!(p(&["-o", "-M", "/dev/x"]).0, Err(CONTRADICT));
        assert_eq!(p(&["-o", "-G", "-U", "/dev/x"]).0, Err(CONTRADICT));
        assert_eq!(p(&["-l", "2001", "/dev/x"]).0, Err(SYNTAX_ERROR));
        assert_eq!(p(&["-X", "sas,1", "/dev/x"]).0, Err(SYNTAX_ERROR));
        assert_eq!(p(&["-H", "/dev/x"]).0, Err(SYNTAX_ERROR));
    }

    #[test]
    fn unknown_option_exits_zero_like_sg_persist() {
        let (r, e) = p(&["--bogus", "/dev/x"]);
        assert_eq!(r, Err(0));
        assert!(e.starts_with("sg_persist: unrecognized option '--bogus'\nUsage: sg_persist"));
        assert_eq!(p(&["-h"]).0, Err(0));
        assert_eq!(p(&["-V"]).0, Err(0));
    }

    #[test]
    fn prout_type_warning() {
        let (r, e) = p(&["-o", "-R", "-K", "1", "/dev/x"]);
        assert!(r.is_ok());
        assert_eq!(e, "warning>>> --prout-type probably needs to be given\n");
        let (_, e) = p(&["-o", "-G", "-S", "1", "/dev/x"]);
        assert_eq!(e, "");
    }

    #[test]
    fn maxlen_forms() {
        assert_eq!(scan_maxlen("8192"), Some(8192));
        assert_eq!(scan_maxlen("2000h"), Some(8192));
        assert_eq!(scan_maxlen("0x2000"), Some(8192));
        assert_eq!(scan_maxlen("8k"), Some(8192));
        assert_eq!(scan_maxlen("x"), None);
    }
}
