//! The service's own container store (`container_data_dir` and the docker daemon keywords of
//! `[DEFAULT]`): a typed view for the container driver, and the checks made at load time.

use std::path::{Path, PathBuf};

use crate::error::{ConfigError, ConfigWarning};
use crate::model::{Group, ServiceConfig, Setting, Value};

/// Where the service's containers live when they must follow it from node to node.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerStore {
    /// docker's `--data-root`, podman's `--root`.
    pub data_dir: PathBuf,
    /// docker: a dockerd of the service's own on `data_dir` (`docker_daemon_private`,
    /// default true); false: the system's dockerd, and `data_dir` is podman's only.
    pub private_daemon: bool,
    /// `docker_daemon_args`, shell-split.
    pub daemon_args: Vec<String>,
    /// `dockerd_exe`.
    pub dockerd_exe: String,
    /// The service's filesystems (rid, mount point), to tell which one holds `data_dir`.
    pub fs_mounts: Vec<(String, PathBuf)>,
}

impl ContainerStore {
    /// The filesystem of the service holding the data dir: the deepest mount point above it.
    pub fn holder(&self) -> Option<&(String, PathBuf)> {
        self.fs_mounts
            .iter()
            .filter(|(_, mnt)| self.data_dir.starts_with(mnt))
            .max_by_key(|(_, mnt)| mnt.components().count())
    }
}

fn setting<'a>(cfg: &'a ServiceConfig, kw: &str) -> Option<&'a Setting> {
    cfg.defaults.get(kw)
}

impl ServiceConfig {
    /// The private container store, when `container_data_dir` is set.
    pub fn container_store(&self) -> Option<ContainerStore> {
        let Some(Value::Str(dir)) = setting(self, "container_data_dir").map(|s| &s.value) else {
            return None;
        };
        let private_daemon = !matches!(
            setting(self, "docker_daemon_private").map(|s| &s.value),
            Some(Value::Bool(false))
        );
        let daemon_args = match setting(self, "docker_daemon_args").map(|s| &s.value) {
            Some(Value::Argv(v)) => v.clone(),
            _ => Vec::new(),
        };
        let dockerd_exe = match setting(self, "dockerd_exe").map(|s| &s.value) {
            Some(Value::Str(s)) => s.clone(),
            _ => "dockerd".into(),
        };
        let fs_mounts = self
            .resources
            .iter()
            .filter(|r| r.group == Group::Fs && !r.common.disable)
            .filter_map(|r| Some((r.rid.clone(), PathBuf::from(r.str("mnt")?))))
            .collect();
        Some(ContainerStore {
            data_dir: PathBuf::from(dir),
            private_daemon,
            daemon_args,
            dockerd_exe,
            fs_mounts,
        })
    }
}

/// A private daemon needs a data dir; a data dir off the service's filesystems stays on this
/// node when the service moves (a warning: it may be what the admin wants on one node).
pub(crate) fn check(cfg: &ServiceConfig, file: &Path) -> Result<Vec<ConfigWarning>, ConfigError> {
    let Some(store) = cfg.container_store() else {
        return match setting(cfg, "docker_daemon_private") {
            Some(
                s @ Setting {
                    value: Value::Bool(true),
                    ..
                },
            ) => Err(ConfigError::BadValue {
                file: file.into(),
                line: s.line,
                section: "DEFAULT".into(),
                keyword: "docker_daemon_private".into(),
                value: "true".into(),
                expected: "a private dockerd needs container_data_dir (its --data-root)".into(),
            }),
            _ => Ok(Vec::new()),
        };
    };
    if store.holder().is_some() {
        return Ok(Vec::new());
    }
    let line = setting(cfg, "container_data_dir").map_or(0, |s| s.line);
    let mounts: Vec<String> = store
        .fs_mounts
        .iter()
        .map(|(rid, mnt)| format!("{rid} {}", mnt.display()))
        .collect();
    let on = if mounts.is_empty() {
        "the service has no fs resource".to_string()
    } else {
        format!("not below any of {}", mounts.join(", "))
    };
    Ok(vec![ConfigWarning {
        file: file.into(),
        line,
        section: Some("DEFAULT".into()),
        keyword: Some("container_data_dir".into()),
        msg: format!(
            "{} is not on a filesystem of the service ({on}): the containers and their state \
             stay on this node when the service moves",
            store.data_dir.display()
        ),
    }])
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn load(text: &str) -> Result<crate::Loaded, crate::ConfigError> {
        crate::parse_service(text.as_bytes(), Path::new("web.conf"), "web", "n1")
    }

    const FS: &str = "[fs#1]\ndev = /dev/loop0\nmnt = /srv/web\ntype = ext4\n\
                      [fs#2]\ndev = /dev/loop1\nmnt = /srv/web/data\ntype = ext4\n";

    #[test]
    fn store_from_the_default_keywords() {
        let l = load(&format!(
            "[DEFAULT]\nnodes = n1\ncontainer_data_dir = /srv/web/data/docker\n\
             docker_daemon_args = --ip 10.0.0.25 --label 'a b'\n{FS}"
        ))
        .unwrap();
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let s = l.config.container_store().unwrap();
        assert_eq!(s.data_dir, Path::new("/srv/web/data/docker"));
        assert!(s.private_daemon);
        assert_eq!(s.daemon_args, ["--ip", "10.0.0.25", "--label", "a b"]);
        assert_eq!(s.dockerd_exe, "dockerd");
        assert_eq!(s.holder().unwrap().0, "fs#2", "the deepest mount point");
    }

    #[test]
    fn no_data_dir_no_store() {
        let l = load(&format!("[DEFAULT]\nnodes = n1\n{FS}")).unwrap();
        assert!(l.config.container_store().is_none());
        let l = load("[DEFAULT]\nnodes = n1\ndocker_daemon_private = false\n").unwrap();
        assert!(l.config.container_store().is_none());
    }

    #[test]
    fn shared_daemon_keeps_the_data_dir_for_podman() {
        let l = load(&format!(
            "[DEFAULT]\ncontainer_data_dir = /srv/web/c\ndocker_daemon_private = no\n\
             dockerd_exe = /opt/d/dockerd\n{FS}"
        ))
        .unwrap();
        let s = l.config.container_store().unwrap();
        assert!(!s.private_daemon);
        assert_eq!(s.dockerd_exe, "/opt/d/dockerd");
        assert_eq!(s.holder().unwrap().0, "fs#1");
    }

    #[test]
    fn data_dir_off_the_service_filesystems_warns() {
        let cases = [
            (
                format!("[DEFAULT]\ncontainer_data_dir = /var/lib/c\n{FS}"),
                "web.conf:2: [DEFAULT] container_data_dir: /var/lib/c is not on a filesystem \
                 of the service (not below any of fs#1 /srv/web, fs#2 /srv/web/data)",
            ),
            (
                // A sibling with a common string prefix is not below the mount point.
                format!("[DEFAULT]\ncontainer_data_dir = /srv/webx\n{FS}"),
                "/srv/webx is not on a filesystem of the service (not below",
            ),
            (
                "[DEFAULT]\n\ncontainer_data_dir = /srv/c\n".to_string(),
                "web.conf:3: [DEFAULT] container_data_dir: /srv/c is not on a filesystem of \
                 the service (the service has no fs resource): the containers and their state \
                 stay on this node when the service moves",
            ),
        ];
        for (text, want) in cases {
            let l = load(&text).unwrap();
            assert_eq!(l.warnings.len(), 1, "{text}");
            let w = l.warnings[0].to_string();
            assert!(w.contains(want), "{w}\nwant: {want}");
        }
    }

    #[test]
    fn private_daemon_without_data_dir_is_an_error() {
        let e = load("[DEFAULT]\nnodes = n1\ndocker_daemon_private = true\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "web.conf:3: [DEFAULT] docker_daemon_private: bad value 'true': a private dockerd \
             needs container_data_dir (its --data-root)"
        );
    }
}
