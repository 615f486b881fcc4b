//! The checks of node.toml's daemon keys that serde's types do not make: durations with a
//! unit, heartbeat paths that can work. Each error names the file, the line and the key.

use std::path::Path;

use crate::error::ConfigError;
use crate::model::{HbKind, NodeConfig};
use crate::node::key_line;

const DURATION: &str = "expected a duration with a unit such as 500ms, 2s, 1m";

pub(crate) fn check(cfg: &NodeConfig, text: &str, path: &Path) -> Result<(), ConfigError> {
    let line = |segs: &[&str]| {
        key_line(
            text,
            &segs.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    };
    let bad = |segs: &[&str], value: &str, expected: &str| ConfigError::NodeBadValue {
        file: path.into(),
        line: line(segs),
        keyword: segs.join("."),
        value: value.to_string(),
        expected: expected.to_string(),
    };
    let invalid = |segs: &[&str], msg: String| ConfigError::NodeInvalid {
        file: path.into(),
        line: line(segs),
        keyword: segs.join("."),
        msg,
    };
    let dur = |segs: &[&str], v: &Option<String>, zero_ok: bool| match v {
        None => Ok(None),
        Some(d) => match duration(d) {
            Some(x) if zero_ok || !x.is_zero() => Ok(Some(x)),
            _ => Err(bad(segs, d, DURATION)),
        },
    };
    dur(&["monitor_interval"], &cfg.monitor_interval, false)?;
    dur(
        &["maintenance_grace_period"],
        &cfg.maintenance_grace_period,
        true,
    )?;
    dur(&["rejoin_grace_period"], &cfg.rejoin_grace_period, true)?;
    dur(&["ready_period"], &cfg.ready_period, true)?;
    let nodes = cfg.cluster_nodes();
    for (i, hb) in cfg.hb.iter().enumerate() {
        let n = i.to_string();
        let at = |key: &'static str| ["hb", n.as_str(), key];
        let name = |key: &str| format!("hb#{}.{key}", i + 1);
        let interval =
            dur(&at("interval"), &hb.interval, false).map_err(rename(&name("interval")))?;
        let timeout = dur(&at("timeout"), &hb.timeout, false).map_err(rename(&name("timeout")))?;
        let (interval, timeout) = (
            interval.unwrap_or(hb.interval()),
            timeout.unwrap_or(hb.timeout()),
        );
        if timeout <= interval {
            return Err(invalid(
                &at(if hb.timeout.is_some() {
                    "timeout"
                } else {
                    "interval"
                }),
                format!(
                    "timeout ({timeout:?}) must be longer than interval ({interval:?}) for hb#{}",
                    i + 1
                ),
            ))
            .map_err(rename(&name("timeout")));
        }
        match hb.kind {
            HbKind::Unicast => {
                if hb.dev.is_some() {
                    return Err(invalid(&at("dev"), "dev is for type = \"disk\"".into()))
                        .map_err(rename(&name("dev")));
                }
                if hb.port == Some(0) {
                    return Err(bad(&at("port"), "0", "expected a port from 1 to 65535"))
                        .map_err(rename(&name("port")));
                }
                if let Some(unknown) = hb.addr.keys().find(|k| !nodes.contains(k)) {
                    let segs = ["hb", n.as_str(), "addr", unknown.as_str()];
                    return Err(invalid(
                        &segs,
                        format!("not a node of the cluster ({})", nodes.join(", ")),
                    ))
                    .map_err(rename(&name(&format!("addr.{unknown}"))));
                }
            }
            HbKind::Disk => {
                match &hb.dev {
                    None => {
                        return Err(invalid(
                            &["hb", n.as_str()],
                            "missing dev: a disk heartbeat needs its shared block device".into(),
                        ))
                        .map_err(rename(&format!("hb#{}", i + 1)));
                    }
                    Some(d) if !d.is_absolute() => {
                        return Err(bad(
                            &at("dev"),
                            &d.display().to_string(),
                            "expected an absolute path",
                        ))
                        .map_err(rename(&name("dev")));
                    }
                    Some(_) => {}
                }
                for key in ["port", "addr"] {
                    let set = if key == "port" {
                        hb.port.is_some()
                    } else {
                        !hb.addr.is_empty()
                    };
                    if set {
                        return Err(invalid(
                            &at(key),
                            format!("{key} is for type = \"unicast\""),
                        ))
                        .map_err(rename(&name(key)));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Rename the keyword of a node error (`hb.0.timeout` -> `hb#1.timeout`).
fn rename(to: &str) -> impl Fn(ConfigError) -> ConfigError + '_ {
    move |e| match e {
        ConfigError::NodeInvalid {
            file, line, msg, ..
        } => ConfigError::NodeInvalid {
            file,
            line,
            keyword: to.to_string(),
            msg,
        },
        ConfigError::NodeBadValue {
            file,
            line,
            value,
            expected,
            ..
        } => ConfigError::NodeBadValue {
            file,
            line,
            keyword: to.to_string(),
            value,
            expected,
        },
        other => other,
    }
}

/// A duration with its unit: a bare number is refused in node.toml.
fn duration(d: &str) -> Option<std::time::Duration> {
    if d.trim().parse::<u64>().is_ok() {
        return None;
    }
    crate::values::parse_duration(d)
}
