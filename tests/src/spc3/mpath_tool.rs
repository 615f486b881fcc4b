//! The `mpathpersist` program against the emulated logical unit. Exit statuses are
//! libmpathpersist's MPATH_PR_* codes.

use std::io::Write;
use std::path::Path;

use super::device::probe_open;
use super::format;
use super::mpath_cli::{self, MpathCommand, MpathOptions};
use super::rules::{Failure, ProutRequest};
use super::sg_cli::PrinAction;
use super::store::{error_chain, EmulatorEnv, LockedDevice};
use super::ProcessEnv;

/// libmpathpersist's status codes (mpath_persist.h) for the outcomes the emulator produces.
pub mod exit {
    pub const ILLEGAL_REQ: i32 = 5;
    pub const RESERV_CONFLICT: i32 = 11;
    pub const FILE_ERROR: i32 = 12;
    pub const OTHER: i32 = 15;
}

fn failure_status(f: Failure) -> i32 {
    match f {
        Failure::ReservationConflict => exit::RESERV_CONFLICT,
        // Every ILLEGAL REQUEST sense maps to MPATH_PR_ILLEGAL_REQ.
        Failure::InvalidFieldInCdb
        | Failure::InvalidFieldInParameterList
        | Failure::InvalidRelease => exit::ILLEGAL_REQ,
    }
}

/// Runs mpathpersist with `argv` (argv[0] included) and returns its exit status.
pub fn run(argv: &[String], env: &ProcessEnv, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let prog = argv.first().map_or("mpathpersist", String::as_str);
    let args = argv.get(1..).unwrap_or_default();
    if args.is_empty() {
        let _ = writeln!(err, "No parameter used");
        mpath_cli::usage(err);
        return 1;
    }
    let opts = match mpath_cli::parse(prog, args, err) {
        Ok(o) => o,
        Err(status) => return status,
    };
    let emu = match EmulatorEnv::from_values(env.emu_dir.clone(), env.emu_initiator.clone()) {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(err, "mpathpersist: {}", error_chain(&e));
            return mpath_cli::SYNTAX_ERROR;
        }
    };
    if probe_open(Path::new(&opts.device), false).is_err() {
        let _ = writeln!(err, "{}: error opening file (rw) fd=-1", opts.device);
        return exit::FILE_ERROR;
    }
    match execute(&opts, &emu, out) {
        Ok(status) => status,
        Err(e) => {
            if matches!(opts.command, MpathCommand::In(_)) {
                let _ = writeln!(err, "Persistent Reserve IN command failed");
            }
            let _ = writeln!(err, "mpathpersist: SPC-3 PR emulator: {}", error_chain(&*e));
            exit::OTHER
        }
    }
}

fn execute(
    opts: &MpathOptions,
    emu: &EmulatorEnv,
    out: &mut dyn Write,
) -> Result<i32, Box<dyn std::error::Error>> {
    let locked = LockedDevice::lock(emu, Path::new(&opts.device))?;
    let mut state = locked.load()?;
    match opts.command {
        MpathCommand::In(action) => {
            let text = match action {
                PrinAction::ReadKeys => format::mpath_read_keys(&state),
                PrinAction::ReadReservation => format::mpath_read_reservation(&state),
                PrinAction::ReadFullStatus => format::mpath_read_full_status(&state),
                PrinAction::ReportCapabilities => format::mpath_report_capabilities(),
            };
            out.write_all(text.as_bytes())?;
            Ok(0)
        }
        MpathCommand::Out {
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
            match locked.prout(&mut state, &emu.initiator, &req)? {
                Ok(()) => Ok(0),
                Err(f) => {
                    if f == Failure::ReservationConflict {
                        writeln!(
                            out,
                            "persistent reserve out: scsi status: Reservation Conflict"
                        )?;
                    }
                    writeln!(out, "PR out: command failed")?;
                    Ok(failure_status(f))
                }
            }
        }
    }
}
