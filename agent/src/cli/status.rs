//! `print status`, `status`, `ls`.

use std::io::IsTerminal;

use super::{Cli, ColorChoice, Format};
use crate::exitcode;
use crate::paths::Root;
use crate::render;
use crate::service::Service;

pub fn use_color(c: ColorChoice) -> bool {
    match c {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stdout().is_terminal(),
    }
}

pub fn print_status(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    let s = Service::load_readonly(root, svc)?;
    let st = s.status(&s.ctx());
    s.cache_status(&st);
    match cli.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&st)?),
        Format::Text => print!("{}", render::tree(&st, use_color(cli.color))),
    }
    Ok(exitcode::OK)
}

/// Exit code = the overall status code; nothing printed. A service that cannot be loaded
/// (missing or broken config) is undef (5), never a clean "down": the error goes to stderr.
pub fn status_code(root: &Root, svc: &str) -> anyhow::Result<i32> {
    let s = match Service::load_readonly(root, svc) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("svcmgr: error: {}", crate::engine::error_chain(e.as_ref()));
            return Ok(resources::Status::Undef.code());
        }
    };
    let st = s.status(&s.ctx());
    s.cache_status(&st);
    Ok(st.overall.code())
}

pub fn ls(root: &Root, cli: &Cli) -> anyhow::Result<i32> {
    let color = use_color(cli.color);
    let names = root.services();
    let lines: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                scope.spawn(move || match Service::load_readonly(root, name) {
                    Ok(s) => {
                        let st = s.status(&s.ctx());
                        render::ls_line(name, Some(&st), None, color)
                    }
                    Err(e) => render::ls_line(name, None, Some(&format!("{e:#}")), color),
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for l in lines {
        println!("{l}");
    }
    Ok(exitcode::OK)
}
