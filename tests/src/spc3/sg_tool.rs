//! The `sg_persist` program: command line, INQUIRY, device open, then one PERSISTENT
//! RESERVE command against the emulated logical unit. Exit statuses are sg3_utils'.

use std::io::Write;
use std::path::Path;

use super::device::{probe_open, strerror};
use super::format;
use super::rules::{Failure, ProutRequest, ServiceAction};
use super::sg_cli::{self, PrinAction, SgCommand, SgOptions};
use super::store::{error_chain, EmulatorEnv, LockedDevice};
use super::ProcessEnv;

const MY_NAME: &str = "sg_persist: ";

/// sg3_utils' exit statuses (sg_lib.h) for the outcomes the emulator produces.
pub mod exit {
    pub const ILLEGAL_REQ: i32 = 5;
    pub const INVALID_PARAM: i32 = 19;
    pub const RES_CONFLICT: i32 = 24;
    pub const OTHER: i32 = 99;
    /// OS errors 1..=46 are reported as 50 + errno.
    pub const OS_BASE_ERR: i32 = 50;
}

/// The exit status and `sg_exit2str` text for a command the device did not perform.
fn failure_status(f: Failure) -> (i32, &'static str) {
    match f {
        Failure::ReservationConflict => (exit::RES_CONFLICT, "Reservation conflict"),
        Failure::InvalidFieldInParameterList => (
            exit::INVALID_PARAM,
            "Illegal request, Invalid field in parameter list",
        ),
        Failure::InvalidFieldInCdb | Failure::InvalidRelease => {
            (exit::ILLEGAL_REQ, "Illegal request")
        }
    }
}

/// The longer `sg_exit2str` text sg_persist prints for a conflict when verbose.
const CONFLICT_LONG: &str = "Reservation conflict, type: SCSI status";

/// `sg_convert_errno`.
fn convert_errno(errno: i32) -> i32 {
    if errno > 0 && errno < 97 - exit::OS_BASE_ERR {
        exit::OS_BASE_ERR + errno
    } else {
        exit::OS_BASE_ERR
    }
}

fn prout_name(a: ServiceAction) -> &'static str {
    match a {
        ServiceAction::Register => "Register",
        ServiceAction::Reserve => "Reserve",
        ServiceAction::Release => "Release",
        ServiceAction::Clear => "Clear",
        ServiceAction::Preempt => "Preempt",
        ServiceAction::PreemptAbort => "Preempt and abort",
        ServiceAction::RegisterIgnore => "Register and ignore existing key",
        ServiceAction::RegisterMove => "Register and move",
        ServiceAction::ReplaceLost => "Replace lost reservation",
    }
}

/// Runs sg_persist with `argv` (argv[0] included) and returns its exit status.
pub fn run(argv: &[String], env: &ProcessEnv, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let prog = argv.first().map_or("sg_persist", String::as_str);
    let args = argv.get(1..).unwrap_or_default();
    let opts = match sg_cli::parse(prog, args, err) {
        Ok(o) => o,
        Err(status) => return status,
    };
    let emu = match EmulatorEnv::from_values(env.emu_dir.clone(), env.emu_initiator.clone()) {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(err, "{MY_NAME}{}", error_chain(&e));
            return sg_cli::SYNTAX_ERROR;
        }
    };
    let device = Path::new(&opts.device);
    if opts.inquiry {
        if let Err(errno) = probe_open(device, false) {
            let _ = writeln!(
                err,
                "{MY_NAME}error opening file (ro): {}: {}",
                opts.device,
                strerror(errno)
            );
            return convert_errno(errno);
        }
        let _ = out.write_all(format::sg_inquiry().as_bytes());
    }
    let pr_in = matches!(opts.command, SgCommand::In(_));
    let readonly = if opts.readwrite_force {
        false
    } else {
        opts.readonly || (env.sg_persist_in_rdonly && pr_in)
    };
    if let Err(errno) = probe_open(device, !readonly) {
        let _ = writeln!(
            err,
            "{MY_NAME}error opening file {} (r{}): {}",
            opts.device,
            if readonly { "o" } else { "w" },
            strerror(errno)
        );
        return convert_errno(errno);
    }
    match execute(&opts, &emu, out, err) {
        Ok(status) => status,
        Err(e) => {
            let _ = writeln!(err, "{MY_NAME}SPC-3 PR emulator: {}", error_chain(&*e));
            exit::OTHER
        }
    }
}

fn execute(
    opts: &SgOptions,
    emu: &EmulatorEnv,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Box<dyn std::error::Error>> {
    let locked = LockedDevice::lock(emu, Path::new(&opts.device))?;
    let mut state = locked.load()?;
    match opts.command {
        SgCommand::In(action) => {
            let text = match action {
                PrinAction::ReadKeys => format::sg_read_keys(&state),
                PrinAction::ReadReservation => format::sg_read_reservation(&state),
                PrinAction::ReadFullStatus => format::sg_read_full_status(&state, opts.verbose > 0),
                PrinAction::ReportCapabilities => format::sg_report_capabilities(),
            };
            out.write_all(text.as_bytes())?;
            Ok(0)
        }
        SgCommand::Out {
            action,
            key,
            sa_key,
            prout_type,
        } => {
            let req = ProutRequest {
                action,
                scope: 0,
                type_code: (prout_type & 0xf) as u8,
                key,
                sa_key,
            };
            let name = prout_name(action);
            match locked.prout(&mut state, &emu.initiator, &req)? {
                Ok(()) => {
                    if opts.verbose > 0 {
                        writeln!(err, "PR out: command ({name}) successful")?;
                    }
                    Ok(0)
                }
                Err(f) => {
                    let (status, text) = failure_status(f);
                    match f {
                        Failure::InvalidFieldInCdb | Failure::InvalidRelease => writeln!(
                            err,
                            "PR out ({name}): bad field in cdb (perhaps unsupported service action)"
                        )?,
                        Failure::InvalidFieldInParameterList => {
                            writeln!(err, "PR out ({name}): bad field parameter list")?
                        }
                        Failure::ReservationConflict => {
                            let text = if opts.verbose > 0 {
                                CONFLICT_LONG
                            } else {
                                text
                            };
                            writeln!(err, "PR out ({name}): {text}")?
                        }
                    }
                    if opts.verbose == 0 {
                        writeln!(err, "sg_persist failed: {text}")?;
                    }
                    Ok(status)
                }
            }
        }
    }
}
