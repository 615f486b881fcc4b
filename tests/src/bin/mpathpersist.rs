//! `mpathpersist` test double: SPC-3 persistent reservations emulated in state files.
//! See `labtests::spc3`.

use std::io::Write;

use labtests::spc3::{mpath_tool, utf8_args, ProcessEnv};

fn main() {
    let argv = match utf8_args(std::env::args_os()) {
        Ok(a) => a,
        Err(bad) => {
            eprintln!("mpathpersist: argument is not UTF-8: {bad:?}");
            std::process::exit(1);
        }
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let (mut out, mut err) = (stdout.lock(), stderr.lock());
    let status = mpath_tool::run(&argv, &ProcessEnv::from_process(), &mut out, &mut err);
    let _ = out.flush();
    std::process::exit(status);
}
