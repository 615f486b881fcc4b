//! Which OpenSVC section kinds svcmgr implements. A config with kinds it does not is
//! refused with every such section listed at once, so a user sees the whole gap, not one
//! section per try.

use std::path::Path;

use crate::error::{ConfigError, Unsupported};
use crate::ini::RawSection;

/// OpenSVC resource families svcmgr has no driver for.
const UNSUPPORTED_GROUPS: &[&str] = &[
    "task",
    "share",
    "volume",
    "certificate",
    "expose",
    "hashpolicy",
    "route",
    "vhost",
    "stonith",
    "hb",
];

/// Resource keywords reading OpenSVC's secret and config objects, which svcmgr has not.
const OBJECT_KEYWORDS: &[&str] = &[
    "secrets_environment",
    "configs_environment",
    "secrets",
    "configs",
];

/// Per family, OpenSVC driver types svcmgr does not have (`ip type = netns`, `disk type =
/// drbd`...). Other unknown values are typos, reported as bad values by the keyword check.
fn type_unsupported(group: &str, rtype: Option<&str>) -> bool {
    let Some(t) = rtype else {
        return false;
    };
    let list: &[&str] = match group {
        "ip" => &[
            "netns", "cni", "docker", "crossbow", "amazon", "gce", "route", "rule", "zone",
        ],
        "disk" => &[
            "drbd",
            "md",
            "zfs",
            "zpool",
            "zvol",
            "lv",
            "raw",
            "rados",
            "crypt",
            "vdisk",
            "advfs",
            "amazon",
            "gandi",
            "gce",
            "hpvm",
            "ldom",
            "vxdg",
            "vxvol",
            "disk",
            "scsireserv",
        ],
        "fs" => &["flag", "zfs", "docker", "directory"],
        "app" => &["winservice"],
        "sync" => &[
            "docker",
            "btrfs",
            "btrfssnap",
            "zfs",
            "zfssnap",
            "dds",
            "netapp",
            "nexenta",
            "symclone",
            "symsnap",
            "symsrdfs",
            "s3",
            "hp3par",
            "hp3parsnap",
            "ibmdssnap",
            "radossnap",
            "radosclone",
            "evasnap",
            "necismsnap",
        ],
        "container" => &[
            "lxc",
            "lxd",
            "kvm",
            "xen",
            "zone",
            "jail",
            "vbox",
            "esx",
            "hpvm",
            "ldom",
            "ovm",
            "srp",
            "vz",
            "amazon",
            "openstack",
            "vcloud",
        ],
        _ => &[],
    };
    list.contains(&t)
}

/// What a service's DEFAULT section asks that svcmgr has not: a flex topology, or a 1.x
/// `mode` other than hosted (the service encapsulating a VM or a container). Each is listed
/// at its keyword's line.
fn service_unsupported(raw: &RawSection) -> Vec<Unsupported> {
    let mut found = Vec::new();
    for e in &raw.entries {
        let (base, _) = crate::resolve::Scope::parse(&e.key);
        let value = e.value.trim();
        let unsupported = match base {
            "topology" | "cluster_type" => matches!(value, "flex" | "autoflex" | "allactive"),
            "mode" => !value.is_empty() && value != "hosted",
            _ => false,
        };
        if unsupported {
            found.push(Unsupported {
                line: e.line,
                section: raw.name.clone(),
                kind: format!("{} = {value}", e.key),
            });
        }
    }
    found
}

/// Whether `raw` is svcmgr's own config sync section, `[sync#i0]`, which OpenSVC configs
/// often carry (`disable = true`).
pub(crate) fn is_internal_sync(raw: &RawSection) -> bool {
    raw.name == "sync#i0"
}

/// Every section of a kind svcmgr does not implement; Err lists them all.
pub(crate) fn check(file: &Path, raws: &[RawSection]) -> Result<(), ConfigError> {
    let mut found = Vec::new();
    for raw in raws {
        if is_internal_sync(raw) {
            continue;
        }
        if raw.name == "DEFAULT" {
            found.extend(service_unsupported(raw));
            continue;
        }
        let Some((prefix, _)) = raw.name.split_once('#') else {
            continue;
        };
        let rtype = raw
            .entries
            .iter()
            .find(|e| e.key == "type")
            .map(|e| e.value.trim());
        let kind = if UNSUPPORTED_GROUPS.contains(&prefix) {
            match rtype {
                Some(t) => format!("{prefix} type = {t}"),
                _ => prefix.to_string(),
            }
        } else if type_unsupported(prefix, rtype) {
            format!("{prefix} type = {}", rtype.unwrap_or(""))
        } else if let Some(e) = raw.entries.iter().find(|e| {
            let (base, _) = crate::resolve::Scope::parse(&e.key);
            OBJECT_KEYWORDS.contains(&base)
        }) {
            format!(
                "{prefix} with {} (OpenSVC secret and config objects)",
                e.key
            )
        } else {
            continue;
        };
        found.push(Unsupported {
            line: raw.line,
            section: raw.name.clone(),
            kind,
        });
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Unsupported {
            file: file.into(),
            sections: found,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_types() {
        let cases = [
            ("ip", None, false),
            ("ip", Some("netns"), true),
            ("ip", Some("cni"), true),
            ("disk", Some("lvm"), false),
            ("disk", Some("loop"), false),
            ("disk", Some("drbd"), true),
            ("disk", Some("zfs"), true),
            ("disk", Some("typo"), false),
            ("fs", Some("ext4"), false),
            ("fs", None, false),
            ("fs", Some("flag"), true),
            ("container", None, false),
            ("container", Some("oci"), false),
            ("container", Some("lxc"), true),
            ("container", Some("dockr"), false),
        ];
        for (g, t, want) in cases {
            assert_eq!(type_unsupported(g, t), want, "{g} {t:?}");
        }
    }
}
