//! LVM reports (`vgs`/`lvs`/`pvs` with `--noheadings --separator ';'`), the status they
//! mean for one node, and the argument lists of the vg driver (pure, unit-tested).

use crate::{ResStatus, Status};

const SEP: &str = ";";

const VG_FIELDS: &str = "vg_name,vg_tags,vg_attr,vg_missing_pv_count";
const LV_FIELDS: &str = "vg_name,lv_name,lv_attr,lv_path,lv_kernel_major,lv_kernel_minor";
const PV_FIELDS: &str = "pv_name,pv_uuid,pv_missing,vg_name";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: {want} fields expected, {got} found: {text:?}")]
    Fields {
        line: usize,
        want: usize,
        got: usize,
        text: String,
    },
    #[error("line {line}: {field} is not a number: {value:?}")]
    Number {
        line: usize,
        field: &'static str,
        value: String,
    },
}

/// One line of `vgs`.
#[derive(Debug, Clone, PartialEq)]
pub struct VgReport {
    pub name: String,
    /// Tags without the `@` users type (`vgchange --addtag @n1` stores `n1`).
    pub tags: Vec<String>,
    /// `wz--n-`; the 4th character is `p` when PVs are missing.
    pub attr: String,
    pub missing_pv_count: u32,
}

impl VgReport {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// The host tags of other nodes of the cluster. Tags that name no cluster node (a
    /// site's own tags) are not ownership and are never removed.
    pub fn foreign_tags(&self, me: &str, cluster: &[String]) -> Vec<&str> {
        self.tags
            .iter()
            .map(String::as_str)
            .filter(|t| *t != me && cluster.iter().any(|n| n == t))
            .collect()
    }

    /// PVs of the VG are missing (the partial flag, or a missing count).
    pub fn is_partial(&self) -> bool {
        self.attr.chars().nth(3) == Some('p') || self.missing_pv_count > 0
    }

    /// The number of missing PVs, at least 1 when the VG is flagged partial.
    pub fn missing(&self) -> u32 {
        if self.is_partial() {
            self.missing_pv_count.max(1)
        } else {
            0
        }
    }
}

/// One line of `lvs`.
#[derive(Debug, Clone, PartialEq)]
pub struct LvReport {
    pub vg: String,
    pub name: String,
    /// `-wi-a-----`; the 5th character is the state, `a` when active; the 10th is `k` when
    /// the LV is flagged activation-skip.
    pub attr: String,
    pub path: String,
    /// The kernel device numbers of an active LV (`-1` when inactive).
    pub kernel: Option<(u32, u32)>,
}

impl LvReport {
    pub fn is_active(&self) -> bool {
        self.attr.chars().nth(4) == Some('a')
    }

    /// Flagged activation-skip (thin snapshots by default): `vgchange -a y` leaves it
    /// inactive, so it is no part of what "the VG is up" means.
    pub fn skips_activation(&self) -> bool {
        self.attr.chars().nth(9) == Some('k')
    }
}

/// The LVs a `vgchange -a y` activates.
pub fn activated_by_vgchange<'a>(lvs: impl IntoIterator<Item = &'a LvReport>) -> Vec<&'a LvReport> {
    lvs.into_iter().filter(|l| !l.skips_activation()).collect()
}

/// One line of `pvs`.
#[derive(Debug, Clone, PartialEq)]
pub struct PvReport {
    /// `[unknown]` for a missing PV.
    pub name: String,
    pub uuid: String,
    pub missing: bool,
    pub vg: String,
}

/// The `;`-separated, trimmed fields of every non-blank line, with their line numbers.
fn records(text: &str, want: usize) -> Result<Vec<(usize, Vec<&str>)>, ParseError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.trim().split(SEP).map(str::trim).collect();
            if f.len() == want {
                Ok((i + 1, f))
            } else {
                Err(ParseError::Fields {
                    line: i + 1,
                    want,
                    got: f.len(),
                    text: l.to_string(),
                })
            }
        })
        .collect()
}

fn number<T: std::str::FromStr>(
    line: usize,
    field: &'static str,
    v: &str,
) -> Result<T, ParseError> {
    v.parse().map_err(|_| ParseError::Number {
        line,
        field,
        value: v.to_string(),
    })
}

pub fn parse_vgs(text: &str) -> Result<Vec<VgReport>, ParseError> {
    records(text, 4)?
        .into_iter()
        .map(|(n, f)| {
            Ok(VgReport {
                name: f[0].to_string(),
                tags: f[1]
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(|t| t.trim_start_matches('@').to_string())
                    .collect(),
                attr: f[2].to_string(),
                missing_pv_count: number(n, "vg_missing_pv_count", f[3])?,
            })
        })
        .collect()
}

pub fn parse_lvs(text: &str) -> Result<Vec<LvReport>, ParseError> {
    records(text, 6)?
        .into_iter()
        .map(|(n, f)| {
            let major: i64 = number(n, "lv_kernel_major", f[4])?;
            let minor: i64 = number(n, "lv_kernel_minor", f[5])?;
            let kernel = match (u32::try_from(major), u32::try_from(minor)) {
                (Ok(a), Ok(b)) => Some((a, b)),
                _ => None,
            };
            Ok(LvReport {
                vg: f[0].to_string(),
                name: f[1].to_string(),
                attr: f[2].to_string(),
                path: f[3].to_string(),
                kernel,
            })
        })
        .collect()
}

pub fn parse_pvs(text: &str) -> Result<Vec<PvReport>, ParseError> {
    Ok(records(text, 4)?
        .into_iter()
        .map(|(_, f)| PvReport {
            name: f[0].to_string(),
            uuid: f[1].to_string(),
            missing: f[2] == "missing",
            vg: f[3].to_string(),
        })
        .collect())
}

/// The status of `vg` on node `me`, with the messages explaining it. `lvs` are the VG's LVs.
pub fn assess(vg: &VgReport, lvs: &[&LvReport], me: &str, cluster: &[String]) -> ResStatus {
    let mut st = ResStatus::new(Status::Down);
    fn warn(st: &mut ResStatus, msg: String) {
        st.status = Status::Warn;
        st.log.push(msg);
    }
    let ours = vg.has_tag(me);
    let foreign = vg.foreign_tags(me, cluster);
    // Held here: activation-skip LVs count as LVs like any other.
    let active_any = lvs.iter().filter(|l| l.is_active()).count();
    // Up here: every LV `vgchange -a y` activates is active.
    let wanted = activated_by_vgchange(lvs.iter().copied());
    let active = wanted.iter().filter(|l| l.is_active()).count();
    let total = wanted.len();
    if vg.is_partial() {
        warn(
            &mut st,
            format!(
                "volume group {} is missing {} physical volume(s)",
                vg.name,
                vg.missing()
            ),
        );
    }
    // Another node's tag is expected where the service runs elsewhere; it is a problem
    // only when this node also holds the VG.
    if !foreign.is_empty() && (ours || active_any > 0) {
        warn(
            &mut st,
            format!("also tagged for node {}", foreign.join(", ")),
        );
    }
    if ours && active < total {
        warn(&mut st, format!("{active}/{total} logical volumes active"));
    }
    if !ours && active_any > 0 {
        warn(
            &mut st,
            format!(
                "{active_any}/{} logical volumes active but not tagged for this node",
                lvs.len()
            ),
        );
    }
    if st.status == Status::Warn {
        return st;
    }
    if ours {
        st.status = Status::Up;
    } else if !foreign.is_empty() {
        st.log
            .push(format!("tagged for node {}", foreign.join(", ")));
    }
    st
}

/// What a start does once it tagged the VG, judged on a fresh report read after tagging:
/// reading the tags and adding ours are two steps, so two nodes starting at once may both
/// have seen no other tag and both have tagged.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Our tag alone: go on.
    Held,
    /// Another node tagged it meanwhile: take our tag back and refuse.
    Contended(Vec<String>),
    /// Another node tagged it meanwhile, and --force says to remove its tags.
    Override(Vec<String>),
    /// Our tag is gone already (another node's forced start removed it).
    Lost(Vec<String>),
}

pub fn claim_after_tagging(vg: &VgReport, me: &str, cluster: &[String], force: bool) -> Claim {
    let foreign: Vec<String> = vg
        .foreign_tags(me, cluster)
        .iter()
        .map(|t| t.to_string())
        .collect();
    if !vg.has_tag(me) {
        Claim::Lost(foreign)
    } else if foreign.is_empty() {
        Claim::Held
    } else if force {
        Claim::Override(foreign)
    } else {
        Claim::Contended(foreign)
    }
}

/// The lvm.conf settings that decide whether a tag keeps a VG down on other nodes.
pub fn lvmconfig_args() -> Vec<String> {
    strings(&[
        "lvmconfig",
        "--type",
        "full",
        "activation/volume_list",
        "activation/auto_activation_volume_list",
        "tags/hosttags",
    ])
}

/// `volume_list=["vg0","@*"]` -> `["vg0", "@*"]`; None when the line is absent.
fn config_list(out: &str, name: &str) -> Option<Vec<String>> {
    let v = out
        .lines()
        .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix('='))?;
    Some(
        v.trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(|e| e.trim().trim_matches('"').to_string())
            .filter(|e| !e.is_empty())
            .collect(),
    )
}

/// Whether LVM itself refuses to activate `vg` on a node that does not carry its tag, from
/// `lvmconfig` output: `volume_list` must be set, must not name the VG, and must admit it by
/// tag (`@<node>`, or `@*` with `hosttags = 1`); `auto_activation_volume_list` must not name
/// it either. The problem and its one-line fix, or None when the tags are enforced.
pub fn tag_protection_problem(lvmconfig: &str, vg: &str, node: &str) -> Option<String> {
    let conf = "/etc/lvm/lvm.conf";
    let fix = format!("set `volume_list = [ \"<the host's own VGs>\", \"@{node}\" ]` in the activation section of {conf}");
    let names = |list: &[String]| {
        list.iter()
            .any(|e| e == vg || e.starts_with(&format!("{vg}/")))
    };
    let Some(list) = config_list(lvmconfig, "volume_list") else {
        return Some(format!(
            "{conf} sets no activation/volume_list: any node activates {vg} whatever its tags; {fix}"
        ));
    };
    if names(&list) {
        return Some(format!(
            "{conf} activation/volume_list names {vg}: it activates on every node whatever its \
             tags; {fix}"
        ));
    }
    let hosttags = lvmconfig.lines().any(|l| l.trim() == "hosttags=1");
    let by_tag = list
        .iter()
        .any(|e| *e == format!("@{node}") || (e == "@*" && hosttags));
    if !by_tag {
        return Some(format!(
            "{conf} activation/volume_list admits neither @{node} nor @* with hosttags = 1: \
             this node can not activate {vg}; {fix}"
        ));
    }
    if config_list(lvmconfig, "auto_activation_volume_list").is_some_and(|l| names(&l)) {
        return Some(format!(
            "{conf} activation/auto_activation_volume_list names {vg}: every node activates it \
             at boot; remove it from that list"
        ));
    }
    None
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn report_args(tool: &str, fields: &str, vg: Option<&str>) -> Vec<String> {
    let mut v = strings(&[tool, "--noheadings", "--separator", SEP]);
    v.extend(strings(&["-o", fields]));
    v.extend(vg.map(str::to_string));
    v
}

/// `vgs` of one VG, or of every VG when `vg` is None.
pub fn vgs_args(vg: Option<&str>) -> Vec<String> {
    report_args("vgs", VG_FIELDS, vg)
}

/// `lvs` of one VG, or of every VG when `vg` is None.
pub fn lvs_args(vg: Option<&str>) -> Vec<String> {
    report_args("lvs", LV_FIELDS, vg)
}

/// `pvs` of every PV (missing ones included), to name the missing PVs of a VG.
pub fn pvs_args() -> Vec<String> {
    report_args("pvs", PV_FIELDS, None)
}

pub fn addtag_args(vg: &str, tag: &str) -> Vec<String> {
    strings(&["vgchange", "--addtag", &format!("@{tag}"), vg])
}

pub fn deltag_args(vg: &str, tag: &str) -> Vec<String> {
    strings(&["vgchange", "--deltag", &format!("@{tag}"), vg])
}

pub fn activate_args(vg: &str, on: bool) -> Vec<String> {
    strings(&["vgchange", "-a", if on { "y" } else { "n" }, vg])
}

/// Remove the partition mappings kpartx made on an LV.
pub fn kpartx_del_args(dev: &str) -> Vec<String> {
    strings(&["kpartx", "-d", dev])
}

/// A device-mapper uuid of a kpartx partition mapping (`part1-LVM-...`).
pub fn is_partition_uuid(uuid: &str) -> bool {
    uuid.strip_prefix("part").is_some_and(|rest| {
        rest.split('-')
            .next()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // vgs --noheadings --separator ';' -o vg_name,vg_tags,vg_attr,vg_missing_pv_count
    const VGS: &str = "  vgdata;n1;wz--n-;0
  vgfree;;wz--n-;0
  vgshared;n1,n2;wz--n-;0
  vgbroken;n1;wz-pn-;1
";

    // lvs --noheadings --separator ';' -o vg_name,lv_name,lv_attr,lv_path,lv_kernel_major,lv_kernel_minor
    const LVS: &str = "  vgdata;lvweb;-wi-ao----;/dev/vgdata/lvweb;254;0
  vgdata;lvlog;-wi-------;/dev/vgdata/lvlog;-1;-1
  vgshared;lvs;-wi-a-----;/dev/vgshared/lvs;254;3
  vgbroken;lvb;-wi-----p-;/dev/vgbroken/lvb;-1;-1
  vgthin;pool;twi-aotz--;/dev/vgthin/pool;254;4
  vgthin;lvthin;Vwi-aotz--;/dev/vgthin/lvthin;254;6
  vgthin;snap1;Vwi---tz-k;/dev/vgthin/snap1;-1;-1
";

    // pvs --noheadings --separator ';' -o pv_name,pv_uuid,pv_missing,vg_name
    const PVS: &str = "  /dev/loop0;1gz8KL-KGln-0plk-OA4A-MzGc-84m6-xW7LcU;;vgbroken
  [unknown];lXoIQu-5BUM-IXJy-9Yri-t1ch-1i7T-bBIVR5;missing;vgbroken
  /dev/loop3;Zq1mUe-x7Xy-aaaa-bbbb-cccc-dddd-eeeeee;;
";

    fn vg(name: &str) -> VgReport {
        parse_vgs(VGS)
            .unwrap()
            .into_iter()
            .find(|v| v.name == name)
            .unwrap()
    }

    fn lvs_of(vg: &str) -> Vec<LvReport> {
        parse_lvs(LVS)
            .unwrap()
            .into_iter()
            .filter(|l| l.vg == vg)
            .collect()
    }

    fn lv(attr: &str) -> LvReport {
        LvReport {
            vg: "vgdata".into(),
            name: "lv".into(),
            attr: attr.into(),
            path: "/dev/vgdata/lv".into(),
            kernel: None,
        }
    }

    fn cluster() -> Vec<String> {
        ["n1", "n2", "n3"].map(String::from).to_vec()
    }

    fn status(v: &VgReport, lvs: &[LvReport], me: &str) -> ResStatus {
        assess(v, &lvs.iter().collect::<Vec<_>>(), me, &cluster())
    }

    #[test]
    fn only_cluster_node_names_are_ownership_tags() {
        let mut v = vg("vgdata");
        v.tags = vec!["n1".into(), "backup".into(), "n2".into(), "oldnode".into()];
        assert_eq!(v.foreign_tags("n1", &cluster()), ["n2"]);
        v.tags = vec!["n1".into(), "backup".into()];
        assert_eq!(
            claim_after_tagging(&v, "n1", &cluster(), false),
            Claim::Held,
            "a site tag is not another node's claim"
        );
        assert_eq!(
            status(&v, &[lv("-wi-a-----")], "n1"),
            ResStatus::new(Status::Up)
        );
    }

    #[test]
    fn parses_vgs_tags_attrs_and_counts() {
        let v = parse_vgs(VGS).unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(
            v[0],
            VgReport {
                name: "vgdata".into(),
                tags: vec!["n1".into()],
                attr: "wz--n-".into(),
                missing_pv_count: 0,
            }
        );
        assert!(v[1].tags.is_empty());
        assert_eq!(v[2].tags, ["n1", "n2"]);
        assert_eq!(v[2].foreign_tags("n1", &cluster()), ["n2"]);
        assert!(v[2].has_tag("n2") && !v[2].has_tag("n3"));
        assert!(!v[0].is_partial());
        assert!(v[3].is_partial());
        assert_eq!(v[3].missing(), 1);
    }

    #[test]
    fn partial_flag_alone_counts_one_missing_pv() {
        let mut v = vg("vgdata");
        v.attr = "wz-pn-".into();
        assert!(v.is_partial());
        assert_eq!(v.missing(), 1);
        v.attr = "wz--n-".into();
        v.missing_pv_count = 3;
        assert_eq!(v.missing(), 3);
    }

    #[test]
    fn parses_lvs_active_and_inactive() {
        let l = parse_lvs(LVS).unwrap();
        assert_eq!(l.len(), 7);
        assert_eq!(l[0].name, "lvweb");
        assert_eq!(l[0].path, "/dev/vgdata/lvweb");
        assert!(l[0].is_active());
        assert_eq!(l[0].kernel, Some((254, 0)));
        assert!(!l[1].is_active());
        assert_eq!(l[1].kernel, None);
        assert!(l[2].is_active());
        assert!(!l[3].is_active());
        assert!(l.iter().take(6).all(|l| !l.skips_activation()));
        assert!(l[6].skips_activation() && !l[6].is_active());
    }

    #[test]
    fn parses_pvs_missing() {
        let p = parse_pvs(PVS).unwrap();
        assert_eq!(p.len(), 3);
        assert!(!p[0].missing);
        assert!(p[1].missing);
        assert_eq!(p[1].name, "[unknown]");
        assert_eq!(p[1].uuid, "lXoIQu-5BUM-IXJy-9Yri-t1ch-1i7T-bBIVR5");
        assert_eq!(p[2].vg, "");
    }

    #[test]
    fn empty_reports_are_empty() {
        assert!(parse_vgs("").unwrap().is_empty());
        assert!(parse_lvs("\n  \n").unwrap().is_empty());
    }

    #[test]
    fn malformed_reports_are_errors_with_the_line() {
        let e = parse_vgs("  vgdata;n1;wz--n-;0\n  vgx;wz--n-;1\n").unwrap_err();
        assert_eq!(
            e,
            ParseError::Fields {
                line: 2,
                want: 4,
                got: 3,
                text: "  vgx;wz--n-;1".into()
            }
        );
        let e = parse_vgs("  vgdata;;wz--n-;one\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: vg_missing_pv_count is not a number: \"one\""
        );
        // The report of the former field list is refused, not misread.
        assert!(parse_vgs("  vgdata;n1;wz--n-;1;2;0\n").is_err());
        assert!(parse_lvs("  vg;lv;-wi-a-----;/dev/vg/lv;x;0\n").is_err());
        // Human output is not a report.
        assert!(parse_vgs("  VG     #PV #LV #SN Attr   VSize  VFree\n").is_err());
    }

    #[test]
    fn up_when_tagged_and_every_lv_active() {
        let v = vg("vgdata");
        let s = status(&v, &[lv("-wi-ao----"), lv("-wi-a-----")], "n1");
        assert_eq!(s, ResStatus::new(Status::Up));
    }

    #[test]
    fn no_lv_our_tag_is_enough() {
        let s = status(&vg("vgfree"), &[], "n1");
        assert_eq!(s.status, Status::Down);
        assert!(s.log.is_empty());
        let mut v = vg("vgfree");
        v.tags = vec!["n1".into()];
        assert_eq!(status(&v, &[], "n1"), ResStatus::new(Status::Up));
    }

    #[test]
    fn partial_activation_warns() {
        let s = status(&vg("vgdata"), &lvs_of("vgdata"), "n1");
        assert_eq!(s.status, Status::Warn);
        assert_eq!(s.log, ["1/2 logical volumes active"]);
    }

    #[test]
    fn tagged_but_nothing_active_warns() {
        let s = status(&vg("vgdata"), &[lv("-wi-------")], "n1");
        assert_eq!(s.status, Status::Warn);
        assert_eq!(s.log, ["0/1 logical volumes active"]);
    }

    #[test]
    fn untagged_and_inactive_is_down() {
        let mut v = vg("vgdata");
        v.tags.clear();
        assert_eq!(
            status(&v, &[lv("-wi-------")], "n1"),
            ResStatus::new(Status::Down)
        );
    }

    #[test]
    fn active_without_our_tag_warns() {
        let mut v = vg("vgdata");
        v.tags.clear();
        let s = status(&v, &[lv("-wi-a-----")], "n1");
        assert_eq!(s.status, Status::Warn);
        assert_eq!(
            s.log,
            ["1/1 logical volumes active but not tagged for this node"]
        );
    }

    #[test]
    fn activation_skip_lvs_are_not_counted() {
        // A thin pool, a thin LV and its snapshot: `vgchange -a y` skips the snapshot.
        let mut v = vg("vgdata");
        v.name = "vgthin".into();
        let lvs = lvs_of("vgthin");
        assert_eq!(lvs.len(), 3);
        assert_eq!(status(&v, &lvs, "n1"), ResStatus::new(Status::Up));
        assert_eq!(activated_by_vgchange(&lvs).len(), 2);
        // A counted LV down still warns, with the skipped one left out of the total.
        let mut down = lvs.clone();
        down[1].attr = "Vwi---tz--".into();
        let s = status(&v, &down, "n1");
        assert_eq!(s.status, Status::Warn);
        assert_eq!(s.log, ["1/2 logical volumes active"]);
        // Only skipped LVs: nothing to activate, our tag is enough.
        let s = status(&v, &[lv("-wi------k")], "n1");
        assert_eq!(s, ResStatus::new(Status::Up));
    }

    #[test]
    fn active_activation_skip_lv_without_our_tag_still_warns() {
        // Activated by hand (`lvchange -ay -K`) on a node that does not hold the VG.
        let mut v = vg("vgdata");
        v.tags.clear();
        let s = status(&v, &[lv("-wi-a----k"), lv("-wi-------")], "n1");
        assert_eq!(s.status, Status::Warn);
        assert_eq!(
            s.log,
            ["1/2 logical volumes active but not tagged for this node"]
        );
        let s = status(&vg("vgdata"), &[lv("-wi-a----k")], "n3");
        assert_eq!(s.status, Status::Warn);
        assert_eq!(
            s.log,
            [
                "also tagged for node n1",
                "1/1 logical volumes active but not tagged for this node"
            ]
        );
    }

    #[test]
    fn claim_after_tagging_yields_to_a_concurrent_tag() {
        let mut v = vg("vgdata");
        assert_eq!(
            claim_after_tagging(&v, "n1", &cluster(), false),
            Claim::Held
        );
        assert_eq!(claim_after_tagging(&v, "n1", &cluster(), true), Claim::Held);
        v.tags = vec!["n1".into(), "n2".into()];
        assert_eq!(
            claim_after_tagging(&v, "n1", &cluster(), false),
            Claim::Contended(vec!["n2".into()])
        );
        assert_eq!(
            claim_after_tagging(&v, "n1", &cluster(), true),
            Claim::Override(vec!["n2".into()])
        );
        // A forced start elsewhere removed ours: no override can make it ours again.
        v.tags = vec!["n2".into()];
        assert_eq!(
            claim_after_tagging(&v, "n1", &cluster(), true),
            Claim::Lost(vec!["n2".into()])
        );
        v.tags.clear();
        assert_eq!(
            claim_after_tagging(&v, "n1", &cluster(), false),
            Claim::Lost(vec![])
        );
    }

    #[test]
    fn foreign_tag_alone_is_down_and_named() {
        // Seen from n3: n1 owns it, nothing is active here.
        let s = status(&vg("vgdata"), &[lv("-wi-------")], "n3");
        assert_eq!(s, ResStatus::with(Status::Down, "tagged for node n1"));
    }

    #[test]
    fn foreign_tag_with_ours_warns() {
        let s = status(&vg("vgshared"), &lvs_of("vgshared"), "n1");
        assert_eq!(s, ResStatus::with(Status::Warn, "also tagged for node n2"));
    }

    #[test]
    fn missing_pvs_warn_even_when_tagged_and_active() {
        let s = status(&vg("vgbroken"), &[lv("-wi-a---p-")], "n1");
        assert_eq!(s.status, Status::Warn);
        assert_eq!(
            s.log,
            ["volume group vgbroken is missing 1 physical volume(s)"]
        );
        let s = status(&vg("vgbroken"), &lvs_of("vgbroken"), "n2");
        assert_eq!(s.status, Status::Warn);
        assert_eq!(
            s.log,
            ["volume group vgbroken is missing 1 physical volume(s)"]
        );
    }

    #[test]
    fn report_arguments() {
        assert_eq!(
            vgs_args(Some("vgdata")).join(" "),
            "vgs --noheadings --separator ; -o vg_name,vg_tags,vg_attr,vg_missing_pv_count vgdata"
        );
        assert_eq!(
            vgs_args(None).join(" "),
            "vgs --noheadings --separator ; -o vg_name,vg_tags,vg_attr,vg_missing_pv_count"
        );
        assert_eq!(
            lvs_args(Some("vgdata")).join(" "),
            "lvs --noheadings --separator ; -o \
             vg_name,lv_name,lv_attr,lv_path,lv_kernel_major,lv_kernel_minor vgdata"
        );
        assert_eq!(
            pvs_args().join(" "),
            "pvs --noheadings --separator ; -o pv_name,pv_uuid,pv_missing,vg_name"
        );
    }

    #[test]
    fn change_arguments() {
        assert_eq!(
            addtag_args("vgdata", "n1"),
            ["vgchange", "--addtag", "@n1", "vgdata"]
        );
        assert_eq!(
            deltag_args("vgdata", "n2"),
            ["vgchange", "--deltag", "@n2", "vgdata"]
        );
        assert_eq!(
            activate_args("vgdata", true),
            ["vgchange", "-a", "y", "vgdata"]
        );
        assert_eq!(
            activate_args("vgdata", false),
            ["vgchange", "-a", "n", "vgdata"]
        );
        assert_eq!(
            kpartx_del_args("/dev/vgdata/lvweb"),
            ["kpartx", "-d", "/dev/vgdata/lvweb"]
        );
    }

    #[test]
    fn partition_uuids() {
        assert!(is_partition_uuid("part1-LVM-abcdef"));
        assert!(is_partition_uuid("part12-mpath-3600"));
        assert!(!is_partition_uuid("LVM-abcdef"));
        assert!(!is_partition_uuid("part-LVM-abcdef"));
        assert!(!is_partition_uuid("partx1-LVM"));
        assert!(!is_partition_uuid("CRYPT-LUKS2-abc"));
    }

    #[test]
    fn lvm_conf_enforces_tags_or_says_how() {
        let cases = [
            ("hosttags=0\n", Some("sets no activation/volume_list")),
            (
                "volume_list=[\"vg0\",\"vgdata\"]\nhosttags=0\n",
                Some("names vgdata"),
            ),
            (
                "volume_list=[\"vgdata/lv1\",\"@n1\"]\n",
                Some("names vgdata"),
            ),
            ("volume_list=[\"vg0\"]\n", Some("admits neither @n1")),
            (
                "volume_list=[\"vg0\",\"@*\"]\nhosttags=0\n",
                Some("admits neither @n1"),
            ),
            ("volume_list=[\"vg0\",\"@*\"]\nhosttags=1\n", None),
            ("volume_list=[\"vg0\",\"@n1\"]\nhosttags=0\n", None),
            (
                "volume_list=[\"@n1\"]\nauto_activation_volume_list=[\"vgdata\"]\n",
                Some("auto_activation_volume_list names vgdata"),
            ),
        ];
        for (out, want) in cases {
            let got = tag_protection_problem(out, "vgdata", "n1");
            match want {
                None => assert_eq!(got, None, "{out}"),
                Some(w) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(w)),
                    "{out}: {got:?}"
                ),
            }
        }
    }
}
