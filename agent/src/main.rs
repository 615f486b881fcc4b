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
    let args = cli::args_from_argv0(std::env::args().collect());
    let cli = cli::Cli::parse_from(args);
    let code = match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("svcmgr: error: {}", engine::error_chain(e.as_ref()));
            exitcode::FAILED
        }
    };
    std::process::exit(code);
}
