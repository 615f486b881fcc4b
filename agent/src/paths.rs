//! Where things live: everything under `SVCMGR_ROOT` when set (one root per lab node),
//! else the system directories.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Root {
    pub etc: PathBuf,
    pub var: PathBuf,
    pub log: PathBuf,
}

impl Root {
    pub fn from_env() -> Root {
        match std::env::var_os("SVCMGR_ROOT") {
            Some(r) if !r.is_empty() => Root::under(Path::new(&r)),
            _ => Root {
                etc: "/etc/svcmgr".into(),
                var: "/var/lib/svcmgr".into(),
                log: "/var/log/svcmgr".into(),
            },
        }
    }

    pub fn under(r: &Path) -> Root {
        Root {
            etc: r.join("etc"),
            var: r.join("var"),
            log: r.join("log"),
        }
    }

    /// `<svc>.conf`, or the legacy `<svc>.env` when only that exists.
    pub fn service_conf(&self, svc: &str) -> PathBuf {
        let conf = self.etc.join(format!("{svc}.conf"));
        let env = self.etc.join(format!("{svc}.env"));
        if !conf.exists() && env.exists() {
            env
        } else {
            conf
        }
    }

    pub fn node_toml(&self) -> PathBuf {
        self.etc.join("node.toml")
    }

    /// Per-service state: status cache, frozen flag, sync stamps.
    pub fn svc_var(&self, svc: &str) -> PathBuf {
        self.var.join("services").join(svc)
    }

    pub fn lock(&self, svc: &str) -> PathBuf {
        self.var.join("lock").join(svc)
    }

    pub fn log_file(&self, svc: &str) -> PathBuf {
        self.log.join(format!("{svc}.log"))
    }

    /// Names of the services configured here, sorted.
    pub fn services(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.etc)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".conf")
                    .or_else(|| name.strip_suffix(".env"))
                    .map(str::to_string)
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Write a file atomically (readers see the old or the new content, never a mix): a temp
/// file in the same directory, synced, renamed over `path`, the directory synced. The file
/// keeps the mode of the one it replaces; a new one gets 0644. A failure leaves no temp file.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, data, 0o644)
}

/// `write_atomic` with the mode a new file gets (0600 for files holding secrets: the temp
/// file has the final mode from its creation, never readable by others even for a moment).
pub fn write_atomic_mode(path: &Path, data: &[u8], new_mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mode = std::fs::metadata(path).map_or(new_mode, |m| m.permissions().mode() & 0o7777);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("f"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have narrowed the mode; a leftover temp file may have another one.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_under_root() {
        let r = Root::under(Path::new("/r"));
        assert_eq!(r.node_toml(), Path::new("/r/etc/node.toml"));
        assert_eq!(r.lock("web"), Path::new("/r/var/lock/web"));
        assert_eq!(r.log_file("web"), Path::new("/r/log/web.log"));
        assert_eq!(r.service_conf("web"), Path::new("/r/etc/web.conf"));
    }

    #[test]
    fn legacy_env_name_and_listing() {
        let d = std::env::temp_dir().join(format!("svcmgr-paths-{}", std::process::id()));
        let r = Root::under(&d);
        std::fs::create_dir_all(&r.etc).unwrap();
        std::fs::write(r.etc.join("old.env"), "").unwrap();
        std::fs::write(r.etc.join("web.conf"), "").unwrap();
        std::fs::write(r.etc.join("node.toml"), "").unwrap();
        assert_eq!(r.service_conf("old"), r.etc.join("old.env"));
        assert_eq!(r.services(), vec!["old", "web"]);
        write_atomic(&r.var.join("x"), b"1").unwrap();
        assert_eq!(std::fs::read(r.var.join("x")).unwrap(), b"1");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
