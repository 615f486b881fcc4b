//! The loop disk driver (`[disk#N] type = loop`): a block device over an image file, for
//! a vg or fs stacked on it (labs, tests, small services).
//!
//! Start attaches the file to a free loop device unless one already backs it; stop detaches
//! every loop device backed by it. Status reads `losetup --json --list` only.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use svcconf::ResourceConfig;

use crate::exec::{self, Cmd};
use crate::{Ctx, Driver, Error, ResStatus, Result, Status};

const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct LoopDisk {
    rid: String,
    file: String,
    start_timeout: Duration,
    stop_timeout: Duration,
}

#[derive(Debug, Deserialize)]
struct LoopList {
    #[serde(default)]
    loopdevices: Vec<LoopDev>,
}

#[derive(Debug, Deserialize)]
struct LoopDev {
    name: String,
    #[serde(rename = "back-file", default)]
    back_file: Option<String>,
}

/// The loop devices backed by `file`, from `losetup --json --list` output. The kernel
/// appends ` (deleted)` to a backing file removed while attached: still ours.
fn devices_of(json: &str, file: &str) -> std::result::Result<Vec<String>, serde_json::Error> {
    if json.trim().is_empty() {
        // losetup prints nothing when no loop device is in use.
        return Ok(Vec::new());
    }
    let list: LoopList = serde_json::from_str(json)?;
    Ok(list
        .loopdevices
        .into_iter()
        .filter(|d| {
            d.back_file
                .as_deref()
                .map(|b| b.strip_suffix(" (deleted)").unwrap_or(b))
                == Some(file)
        })
        .map(|d| d.name)
        .collect())
}

impl LoopDisk {
    pub fn new(rc: &ResourceConfig) -> Result<LoopDisk> {
        let file = rc
            .str("file")
            .ok_or_else(|| Error::Failed(format!("{}: file is not set", rc.rid)))?;
        Ok(LoopDisk {
            rid: rc.rid.clone(),
            file: file.to_string(),
            start_timeout: rc
                .duration("start_timeout")
                .unwrap_or(exec::DEFAULT_TIMEOUT),
            stop_timeout: rc.duration("stop_timeout").unwrap_or(exec::DEFAULT_TIMEOUT),
        })
    }

    fn devices(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let cmd = Cmd::new(["losetup", "--json", "--list"]).timeout(QUERY_TIMEOUT);
        let out = ctx.query_cached(&cmd)?;
        devices_of(&out.stdout, &self.file).map_err(|e| {
            Error::Failed(format!(
                "can not parse the output of {}: {e}",
                cmd.display()
            ))
        })
    }
}

impl Driver for LoopDisk {
    fn rid(&self) -> &str {
        &self.rid
    }

    fn label(&self) -> String {
        self.file.clone()
    }

    fn status(&self, ctx: &Ctx) -> ResStatus {
        match self.devices(ctx) {
            Err(e) => ResStatus::with(Status::Warn, e.to_string()),
            Ok(d) if !d.is_empty() => ResStatus::with(Status::Up, d.join(" ")),
            Ok(_) if !Path::new(&self.file).exists() => {
                ResStatus::with(Status::Down, format!("file {} does not exist", self.file))
            }
            Ok(_) => ResStatus::new(Status::Down),
        }
    }

    fn start(&self, ctx: &Ctx) -> Result<bool> {
        let devs = self.devices(ctx)?;
        if !devs.is_empty() {
            tracing::info!(rid = %self.rid, "{} is already attached to {}", self.file, devs.join(" "));
            return Ok(false);
        }
        if !Path::new(&self.file).is_file() {
            return Err(Error::Failed(format!("file {} does not exist", self.file)));
        }
        let attach = Cmd::new(["losetup", "--find", "--show", self.file.as_str()])
            .timeout(self.start_timeout);
        ctx.change(&self.rid, &attach)?;
        ctx.invalidate();
        Ok(true)
    }

    fn stop(&self, ctx: &Ctx) -> Result<bool> {
        let devs = self.devices(ctx)?;
        if devs.is_empty() {
            tracing::info!(rid = %self.rid, "{} is already detached", self.file);
            return Ok(false);
        }
        for d in &devs {
            let detach = Cmd::new(["losetup", "--detach", d.as_str()]).timeout(self.stop_timeout);
            ctx.change(&self.rid, &detach)?;
        }
        ctx.invalidate();
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const LIST: &str = r#"{"loopdevices": [
        {"name": "/dev/loop0", "sizelimit": 0, "offset": 0, "autoclear": false, "ro": false,
         "back-file": "/srv/a.img", "dio": false, "log-sec": 512},
        {"name": "/dev/loop3", "back-file": "/srv/b.img (deleted)"},
        {"name": "/dev/loop4", "back-file": "/srv/a.img"},
        {"name": "/dev/loop5"}
    ]}"#;

    #[test]
    fn devices_backed_by_a_file() {
        assert_eq!(
            devices_of(LIST, "/srv/a.img").unwrap(),
            ["/dev/loop0", "/dev/loop4"]
        );
        assert_eq!(devices_of(LIST, "/srv/b.img").unwrap(), ["/dev/loop3"]);
        assert!(devices_of(LIST, "/srv/c.img").unwrap().is_empty());
        assert!(devices_of("", "/srv/a.img").unwrap().is_empty());
        assert!(devices_of("{", "/srv/a.img").is_err());
    }

    fn disk(file: &str) -> LoopDisk {
        let text = format!("[DEFAULT]\nnodes = n1\n[disk#0]\ntype = loop\nfile = {file}\n");
        let l = svcconf::parse_service(text.as_bytes(), Path::new("web.conf"), "web", "n1")
            .unwrap_or_else(|e| panic!("{e}"));
        LoopDisk::new(&l.config.resources[0]).unwrap()
    }

    #[test]
    fn start_attaches_stop_detaches_each_once() {
        let dir = std::env::temp_dir().join(format!("svcmgr-loop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("d.img");
        std::fs::write(&img, b"").unwrap();
        let f = img.to_str().unwrap();
        let d = disk(f);
        let attached =
            format!(r#"{{"loopdevices": [{{"name": "/dev/loop7", "back-file": "{f}"}}]}}"#);
        let rec = crate::fake::Recorder::new();
        let list = ["losetup", "--json", "--list"];
        rec.once(&list, 0, "", "")
            .once(&list, 0, &attached, "")
            .on(&list, 0, "");
        let ctx = Ctx::new("web", "n1", PathBuf::from("/nonexistent")).with_executor(rec.clone());
        assert!(d.start(&ctx).unwrap());
        // One list per status run (cached); each change makes the next one fresh.
        assert!(!d.start(&ctx).unwrap());
        assert_eq!(d.status(&ctx).status, Status::Up);
        assert!(d.stop(&ctx).unwrap());
        assert!(!d.stop(&ctx).unwrap());
        let changes: Vec<String> = rec
            .calls()
            .into_iter()
            .filter(|c| !c.contains("--list"))
            .collect();
        assert_eq!(
            changes,
            [
                format!("losetup --find --show {f}"),
                "losetup --detach /dev/loop7".to_string()
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
