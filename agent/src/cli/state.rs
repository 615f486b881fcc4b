//! `freeze` / `thaw`: a frozen service is left alone by the daemon's orchestration; manual
//! actions still work.

use anyhow::Context;

use super::Cli;
use crate::exitcode;
use crate::lock;
use crate::paths::{write_atomic, Root};
use crate::service::Service;

pub fn freeze(root: &Root, svc: &str, cli: &Cli, freeze: bool) -> anyhow::Result<i32> {
    let _span = crate::logging::service_span(svc).entered();
    let intent = if freeze { "freeze" } else { "thaw" };
    let _lock = lock::acquire(&root.lock(svc), intent, cli.waitlock())?;
    // Recorded like any action: the daemon's monitor takes it as the operator's word.
    let s = Service::load_readonly(root, svc)?;
    let recorded = crate::intent::begin(root, svc, intent);
    let result = set_flag(&s.frozen_flag(), freeze);
    recorded.finish();
    result
}

fn set_flag(flag: &std::path::Path, freeze: bool) -> anyhow::Result<i32> {
    match (freeze, flag.exists()) {
        (true, true) => tracing::info!("already frozen"),
        (false, false) => tracing::info!("already thawed"),
        (true, false) => {
            write_atomic(flag, chrono::Local::now().to_rfc3339().as_bytes())
                .with_context(|| format!("create {}", flag.display()))?;
            tracing::info!("frozen: the daemon will not start or fail over this service");
        }
        (false, true) => {
            std::fs::remove_file(flag).with_context(|| format!("remove {}", flag.display()))?;
            tracing::info!("thawed");
        }
    }
    Ok(exitcode::OK)
}
