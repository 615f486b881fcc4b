//! svcmgr: the cluster failover agent's command line.

mod cli;
mod engine;
#[cfg(test)]
mod engine_tests;
mod exitcode;
mod lock;
mod logging;
mod paths;
mod prkey;
mod render;
mod service;
mod ssh;
mod sync;

use clap::Parser;

fn main() {
    // A stop run from inside a service's mount point would keep it busy (and be a user
    // killed to free it): work from /, a relative SVCMGR_ROOT made absolute first.
    if let (Some(r), Ok(cwd)) = (std::env::var_os("SVCMGR_ROOT"), std::env::current_dir()) {
        if std::path::Path::new(&r).is_relative() {
            std::env::set_var("SVCMGR_ROOT", cwd.join(r));
        }
    }
    let _ = std::env::set_current_dir("/");
    let args = cli::args_from_argv0(std::env::args().collect());
    let cli = cli::Cli::parse_from(args);
    let code = match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("svcmgr: error: {}", engine::error_chain(e.as_ref()));
            if e.downcast_ref::<service::NoSuchService>().is_some() {
                exitcode::NO_SUCH_SERVICE
            } else {
                exitcode::FAILED
            }
        }
    };
    std::process::exit(code);
}
