//! Which devices a VG's reservation covers and which tool speaks to each of them.

use std::path::{Path, PathBuf};

use super::common::{Op, ParseError, PrKey, Reservation};
use super::{mpathpersist, sgpersist};

/// The reservation tool of one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    SgPersist,
    MpathPersist,
}

impl Backend {
    /// The `pr_backend` keyword's values.
    pub fn from_keyword(s: &str) -> Option<Backend> {
        match s {
            sgpersist::PROG => Some(Backend::SgPersist),
            mpathpersist::PROG => Some(Backend::MpathPersist),
            _ => None,
        }
    }

    pub fn prog(self) -> &'static str {
        match self {
            Backend::SgPersist => sgpersist::PROG,
            Backend::MpathPersist => mpathpersist::PROG,
        }
    }

    pub fn args(self, op: &Op, dev: &str) -> Vec<String> {
        match self {
            Backend::SgPersist => sgpersist::args(op, dev),
            Backend::MpathPersist => mpathpersist::args(op, dev),
        }
    }

    pub fn parse_keys(self, out: &str) -> Result<Vec<PrKey>, ParseError> {
        match self {
            Backend::SgPersist => sgpersist::parse_keys(out),
            Backend::MpathPersist => mpathpersist::parse_keys(out),
        }
    }

    pub fn parse_reservation(self, out: &str) -> Result<Option<Reservation>, ParseError> {
        match self {
            Backend::SgPersist => sgpersist::parse_reservation(out),
            Backend::MpathPersist => mpathpersist::parse_reservation(out),
        }
    }

    /// The exit status of a RESERVATION CONFLICT.
    pub fn conflict(self) -> i32 {
        match self {
            Backend::SgPersist => sgpersist::CONFLICT,
            Backend::MpathPersist => mpathpersist::CONFLICT,
        }
    }

    /// A read answered with a UNIT ATTENTION (after a reset, a path change, a preemption):
    /// reading again clears it.
    pub fn is_unit_attention(self, code: i32, stdout: &str, stderr: &str) -> bool {
        let ua = match self {
            Backend::SgPersist => sgpersist::UNIT_ATTENTION,
            Backend::MpathPersist => mpathpersist::UNIT_ATTENTION,
        };
        code != 0
            && (code == ua
                || [stdout, stderr]
                    .iter()
                    .any(|s| s.to_ascii_lowercase().contains("unit attention")))
    }
}

/// A device of the VG and its tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dev {
    pub path: String,
    pub backend: Backend,
}

/// Every PV with its VG, machine-readable: `  /dev/sdb;vgdata`.
pub fn pvs_args() -> Vec<String> {
    [
        "pvs",
        "--noheadings",
        "--separator",
        ";",
        "-o",
        "pv_name,vg_name",
    ]
    .map(String::from)
    .into()
}

/// The PVs of `vgname` in `pvs_args()` output, in order, without duplicates.
pub fn parse_pvs(out: &str, vgname: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for line in out.lines() {
        let mut f = line.trim().split(';');
        let (Some(pv), Some(vg)) = (f.next(), f.next()) else {
            continue;
        };
        let (pv, vg) = (pv.trim(), vg.trim());
        if !vg.is_empty() && vg == vgname && !pv.is_empty() && !v.iter().any(|p| p == pv) {
            v.push(pv.to_string());
        }
    }
    v
}

/// Drop paths naming a device already listed under another name (`/dev/mapper/x` and
/// `/dev/dm-3`); paths that cannot be resolved are kept as they are.
pub fn dedup_devices(paths: Vec<String>) -> Vec<String> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut out = Vec::new();
    for p in paths {
        let canon = std::fs::canonicalize(&p).unwrap_or_else(|_| PathBuf::from(&p));
        if !seen.contains(&canon) {
            seen.push(canon);
            out.push(p);
        }
    }
    out
}

/// The dm uuid of `dev` when it is a device-mapper device (in `sysfs`, normally `/sys`).
fn dm_uuid(dev: &Path, sysfs: &Path) -> Option<String> {
    let resolved = std::fs::canonicalize(dev).unwrap_or_else(|_| dev.to_path_buf());
    let name = resolved
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| n.starts_with("dm-"))?;
    let uuid = std::fs::read_to_string(sysfs.join("block").join(name).join("dm/uuid")).ok()?;
    Some(uuid.trim().to_string())
}

/// A partition of a multipath map (kpartx's `part1-mpath-…`).
fn is_mpath_partition(uuid: &str) -> bool {
    uuid.starts_with("part") && uuid.contains("-mpath-")
}

/// A device-mapper multipath map or one of its partitions: a `/dev/mapper/` name, or a dm
/// device whose dm uuid starts with `mpath-` (or `partN-mpath-`).
pub fn is_multipath(dev: &Path, sysfs: &Path) -> bool {
    match dm_uuid(dev, sysfs) {
        Some(uuid) => uuid.starts_with("mpath-") || is_mpath_partition(&uuid),
        None => dev.starts_with("/dev/mapper/"),
    }
}

/// The map a multipath partition is cut from (its one dm slave), as `/dev/dm-N`:
/// reservations are per logical unit, and mpathpersist takes the map, not a partition.
fn parent_map(dev: &Path, sysfs: &Path) -> Option<String> {
    if !is_mpath_partition(&dm_uuid(dev, sysfs)?) {
        return None;
    }
    let resolved = std::fs::canonicalize(dev).unwrap_or_else(|_| dev.to_path_buf());
    let name = resolved.file_name()?.to_str()?;
    let mut slaves = std::fs::read_dir(sysfs.join("block").join(name).join("slaves"))
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok());
    match (slaves.next(), slaves.next()) {
        (Some(one), None) if one.starts_with("dm-") => Some(format!("/dev/{one}")),
        _ => None,
    }
}

/// The tool of each device: the forced one, else mpathpersist for multipath maps and
/// sg_persist for the rest. A multipath partition stands for its map; a map named twice
/// (two partitions of one LUN) is listed once.
pub fn assign(paths: Vec<String>, forced: Option<Backend>, sysfs: &Path) -> Vec<Dev> {
    let mut out: Vec<Dev> = Vec::new();
    for path in paths {
        let path = parent_map(Path::new(&path), sysfs).unwrap_or(path);
        if out.iter().any(|d| d.path == path) {
            continue;
        }
        let backend = forced.unwrap_or_else(|| {
            if is_multipath(Path::new(&path), sysfs) {
                Backend::MpathPersist
            } else {
                Backend::SgPersist
            }
        });
        out.push(Dev { path, backend });
    }
    out
}

/// What is wrong with multipath.conf (`text`, None when missing) for reservations held with
/// `key` through mpathpersist: without `reservation_key`, multipathd does not register the
/// key on a path that comes back, and I/O through that path fails with a conflict.
pub fn multipath_conf_problem(text: Option<&str>, key: &str) -> Option<String> {
    const FIX: &str = "add `reservation_key file` to the defaults section of \
                       /etc/multipath.conf and reload multipathd";
    let Some(text) = text else {
        return Some(format!("/etc/multipath.conf is missing: {FIX}"));
    };
    let values: Vec<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter_map(|l| l.strip_prefix("reservation_key"))
        .filter(|rest| rest.starts_with([' ', '\t']))
        .map(|rest| rest.trim().trim_matches('"'))
        .collect();
    if values.is_empty() {
        return Some(format!(
            "/etc/multipath.conf sets no reservation_key: paths that come back will not be \
             registered; {FIX}"
        ));
    }
    let ours = |v: &&str| {
        *v == "file"
            || v.parse::<super::common::PrKey>().ok() == key.parse::<super::common::PrKey>().ok()
    };
    if !values.iter().any(ours) {
        return Some(format!(
            "/etc/multipath.conf sets reservation_key {} but this node's key is {key}; {FIX}",
            values.join(", ")
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pvs_of_one_vg() {
        let out = "  /dev/sdb;vgdata\n  /dev/sdc;vgother\n  /dev/sdd;vgdata\n  /dev/sde;\n  /dev/sdb;vgdata\n\n";
        assert_eq!(parse_pvs(out, "vgdata"), ["/dev/sdb", "/dev/sdd"]);
        assert_eq!(parse_pvs(out, "vgother"), ["/dev/sdc"]);
        assert!(parse_pvs(out, "vgnone").is_empty());
        // A PV without a VG is never ours, whatever the VG name.
        assert!(parse_pvs(out, "").is_empty());
        assert!(parse_pvs("garbage\n", "vgdata").is_empty());
        assert_eq!(
            pvs_args().join(" "),
            "pvs --noheadings --separator ; -o pv_name,vg_name"
        );
    }

    fn fake_sysfs(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("svcmgr-pr-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for (dm, uuid) in [
            ("dm-7", "mpath-3600a0b80001"),
            ("dm-8", "LVM-abcdef"),
            ("dm-9", "part1-mpath-3600a0b80001"),
            ("dm-10", "part2-mpath-3600a0b80001"),
        ] {
            let p = d.join("block").join(dm).join("dm");
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("uuid"), format!("{uuid}\n")).unwrap();
        }
        for part in ["dm-9", "dm-10"] {
            let slaves = d.join("block").join(part).join("slaves");
            std::fs::create_dir_all(slaves.join("dm-7")).unwrap();
        }
        d
    }

    #[test]
    fn a_multipath_partition_stands_for_its_map() {
        let sys = fake_sysfs("part");
        assert!(is_multipath(Path::new("/dev/dm-9"), &sys));
        let devs = assign(
            vec!["/dev/dm-9".into(), "/dev/dm-10".into(), "/dev/sdq".into()],
            None,
            &sys,
        );
        let got: Vec<(&str, Backend)> = devs.iter().map(|d| (d.path.as_str(), d.backend)).collect();
        assert_eq!(
            got,
            [
                ("/dev/dm-7", Backend::MpathPersist),
                ("/dev/sdq", Backend::SgPersist)
            ]
        );
        let _ = std::fs::remove_dir_all(&sys);
    }

    #[test]
    fn multipath_conf_needs_a_reservation_key() {
        let key = "0x8a3f01c2d4e5f607";
        let cases: [(Option<&str>, Option<&str>); 6] = [
            (None, Some("/etc/multipath.conf is missing")),
            (
                Some("defaults {\n  user_friendly_names yes\n}\n"),
                Some("sets no reservation_key"),
            ),
            (
                Some("defaults {\n  # reservation_key file\n}\n"),
                Some("sets no reservation_key"),
            ),
            (Some("defaults {\n  reservation_key file\n}\n"), None),
            (
                Some("multipaths {\n multipath {\n  reservation_key 0x8A3F01C2D4E5F607\n }\n}\n"),
                None,
            ),
            (
                Some("defaults {\n  reservation_key 0x1\n}\n"),
                Some("sets reservation_key 0x1 but this node's key is 0x8a3f01c2d4e5f607"),
            ),
        ];
        for (text, want) in cases {
            let got = multipath_conf_problem(text, key);
            match want {
                None => assert_eq!(got, None, "{text:?}"),
                Some(w) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(w)),
                    "{text:?}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn multipath_detection() {
        let sys = fake_sysfs("mp");
        assert!(is_multipath(Path::new("/dev/dm-7"), &sys));
        assert!(!is_multipath(Path::new("/dev/dm-8"), &sys));
        assert!(is_multipath(
            Path::new("/dev/mapper/mpatha-nonexistent"),
            &sys
        ));
        assert!(!is_multipath(Path::new("/dev/sdb-nonexistent"), &sys));
        let devs = assign(
            vec!["/dev/dm-7".into(), "/dev/sdb-nonexistent".into()],
            None,
            &sys,
        );
        assert_eq!(devs[0].backend, Backend::MpathPersist);
        assert_eq!(devs[1].backend, Backend::SgPersist);
        let forced = assign(vec!["/dev/dm-7".into()], Some(Backend::SgPersist), &sys);
        assert_eq!(forced[0].backend, Backend::SgPersist);
        std::fs::remove_dir_all(&sys).unwrap();
    }

    #[test]
    fn dedup_by_resolved_path() {
        let d = std::env::temp_dir().join(format!("svcmgr-pr-dedup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let real = d.join("disk");
        std::fs::write(&real, "").unwrap();
        let link = d.join("alias");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let s = |p: &Path| p.display().to_string();
        assert_eq!(
            dedup_devices(vec![
                s(&real),
                s(&link),
                "/nonexistent/x".into(),
                "/nonexistent/x".into()
            ]),
            [s(&real), "/nonexistent/x".to_string()]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn backends() {
        assert_eq!(
            Backend::from_keyword("sg_persist"),
            Some(Backend::SgPersist)
        );
        assert_eq!(
            Backend::from_keyword("mpathpersist"),
            Some(Backend::MpathPersist)
        );
        assert_eq!(Backend::from_keyword("sg"), None);
        assert_eq!(Backend::SgPersist.conflict(), 24);
        assert_eq!(Backend::MpathPersist.conflict(), 11);
        assert!(Backend::SgPersist.is_unit_attention(6, "", ""));
        assert!(Backend::SgPersist.is_unit_attention(99, "", "sense: Unit Attention"));
        assert!(!Backend::SgPersist.is_unit_attention(24, "", "Reservation conflict"));
        assert!(!Backend::MpathPersist.is_unit_attention(0, "  PR generation=0x0", ""));
    }
}
