//! svcmgr: the cluster failover agent's command line.

fn main() {
    // The process's edge, before any thread exists. A stop run from inside a service's mount
    // point would keep it busy (and be a user killed to free it): work from /, a relative
    // SVCMGR_ROOT made absolute first (children such as triggers see the same root).
    if let (Some(r), Ok(cwd)) = (std::env::var_os("SVCMGR_ROOT"), std::env::current_dir()) {
        if std::path::Path::new(&r).is_relative() {
            std::env::set_var("SVCMGR_ROOT", cwd.join(r));
        }
    }
    let _ = std::env::set_current_dir("/");
    std::process::exit(agent::cli::main());
}
