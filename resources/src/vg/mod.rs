//! The vg driver: an LVM volume group owned by one node at a time through an LVM host tag.
//!
//! Start tags the VG `@<nodename>`, reads the tags again to yield to a node that tagged it
//! at the same moment, and activates it; stop removes kpartx partition mappings
//! of its LVs, deactivates it and drops the tag. A VG carrying another node's tag is refused
//! unless forced; a VG with missing PVs is never started. Status reads the machine-readable
//! `vgs`/`lvs` reports only, once per status run for every vg resource.

#[cfg(test)]
mod argv_tests;
pub mod lvm;

use std::fmt::Display;
use std::path::Path;
use std::time::{Duration, Instant};

use svcconf::ResourceConfig;

use crate::exec::{self, Cmd, ExecError, Output};
use crate::{Ctx, Driver, Error, Override, ResStatus, Result, Status};
use lvm::{Claim, LvReport, VgReport};

/// LVs can stay busy for a moment after their last user closed them.
const DEACTIVATE_ATTEMPTS: u32 = 5;
const DEACTIVATE_PAUSE: Duration = Duration::from_secs(1);
const SYSFS: &str = "/sys";

/// A VG and its LVs.
type Report = (VgReport, Vec<LvReport>);

pub struct Vg {
    rid: String,
    vgname: String,
    start_timeout: Duration,
    stop_timeout: Duration,
}

impl Vg {
    pub fn new(rc: &ResourceConfig) -> Result<Vg> {
        let vgname = rc
            .str("vgname")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::Failed(format!("{}: vgname is not set", rc.rid)))?;
        Ok(Vg {
            rid: rc.rid.clone(),
            vgname: vgname.to_string(),
            start_timeout: rc
                .duration("start_timeout")
                .unwrap_or(exec::DEFAULT_TIMEOUT),
            stop_timeout: rc.duration("stop_timeout").unwrap_or(exec::DEFAULT_TIMEOUT),
        })
    }

    fn lvm(argv: Vec<String>, timeout: Duration) -> Cmd {
        // Descriptors inherited from a caller are none of LVM's business: no warning noise.
        Cmd::new(argv)
            .timeout(timeout)
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            .holds_lock()
    }

    /// What in lvm.conf lets another node activate this VG although it carries our tag
    /// (None when LVM enforces the tags, or when lvmconfig can not tell).
    pub fn protection_problem(&self, ctx: &Ctx) -> Option<String> {
        let out = ctx
            .query_cached(&Self::lvm(lvm::lvmconfig_args(), exec::DEFAULT_TIMEOUT))
            .ok()?;
        lvm::tag_protection_problem(&out.stdout, &self.vgname, &ctx.nodename)
    }

    fn change(&self, ctx: &Ctx, argv: Vec<String>, timeout: Duration) -> Result<Output> {
        Ok(ctx.change(&self.rid, &Self::lvm(argv, timeout))?)
    }

    /// Our VG and its LVs from the reports of every VG, queried once per status run (shared
    /// by all vg resources) and in parallel. `Ok(None)`: the VG does not exist.
    fn shared_report(&self, ctx: &Ctx) -> std::result::Result<Option<Report>, String> {
        // Exit 5 is LVM's "some VG had a problem": the others are still reported.
        let vgs_cmd = Self::lvm(lvm::vgs_args(None), exec::DEFAULT_TIMEOUT).ok_codes(&[0, 5]);
        let lvs_cmd = Self::lvm(lvm::lvs_args(None), exec::DEFAULT_TIMEOUT).ok_codes(&[0, 5]);
        let (vgs, lvs) = std::thread::scope(|s| {
            let lvs = s.spawn(|| ctx.query_cached(&lvs_cmd));
            let vgs = ctx.query_cached(&vgs_cmd);
            let lvs = lvs.join().unwrap_or_else(|_| {
                Err(ExecError::Spawn {
                    argv: lvs_cmd.display(),
                    reason: "query thread panicked".into(),
                })
            });
            (vgs, lvs)
        });
        let vgs = vgs.map_err(|e| e.to_string())?;
        let lvs = lvs.map_err(|e| e.to_string())?;
        let all = lvm::parse_vgs(&vgs.stdout).map_err(|e| format!("vgs report: {e}"))?;
        let Some(vg) = all.into_iter().find(|v| v.name == self.vgname) else {
            if vgs.code != 0 {
                return Err(format!(
                    "vgs exit status {}: {}",
                    vgs.code,
                    one_line(&vgs.stderr)
                ));
            }
            return Ok(None);
        };
        let lvs = lvm::parse_lvs(&lvs.stdout)
            .map_err(|e| format!("lvs report: {e}"))?
            .into_iter()
            .filter(|l| l.vg == self.vgname)
            .collect();
        Ok(Some((vg, lvs)))
    }

    /// A fresh report of our VG alone, for actions. `Ok(Err(_))`: the VG does not exist, with
    /// LVM's own words.
    fn report(&self, ctx: &Ctx) -> Result<std::result::Result<Report, String>> {
        let vg = match self.vg_report(ctx)? {
            Ok(vg) => vg,
            Err(lvm_says) => return Ok(Err(lvm_says)),
        };
        let lvs = ctx.query(&Self::lvm(
            lvm::lvs_args(Some(&self.vgname)),
            exec::DEFAULT_TIMEOUT,
        ))?;
        let lvs = lvm::parse_lvs(&lvs.stdout)
            .map_err(|e| Error::Failed(format!("lvs report: {e}")))?
            .into_iter()
            .filter(|l| l.vg == self.vgname)
            .collect();
        Ok(Ok((vg, lvs)))
    }

    /// A fresh `vgs` of our VG alone. `Ok(Err(_))`: the VG does not exist.
    fn vg_report(&self, ctx: &Ctx) -> Result<std::result::Result<VgReport, String>> {
        let vgs_cmd = Self::lvm(lvm::vgs_args(Some(&self.vgname)), exec::DEFAULT_TIMEOUT);
        let vgs = ctx.output(&vgs_cmd)?;
        if vgs.code != 0 {
            if vgs.stderr.contains("not found") {
                return Ok(Err(one_line(&vgs.stderr)));
            }
            return Err(Error::Exec(ExecError::Failed {
                argv: vgs_cmd.display(),
                code: vgs.code,
                stdout: vgs.stdout,
                stderr: vgs.stderr,
            }));
        }
        let vg = lvm::parse_vgs(&vgs.stdout)
            .map_err(|e| Error::Failed(format!("vgs report: {e}")))?
            .into_iter()
            .find(|v| v.name == self.vgname);
        Ok(vg.ok_or_else(|| format!("vgs did not report {}", self.vgname)))
    }

    /// Right after adding our tag: read the tags again and yield to a node that tagged the
    /// VG at the same time (unless forced, which removes its tags as for a stale tag).
    fn confirm_claim(&self, ctx: &Ctx) -> Result<()> {
        let me = ctx.nodename.as_str();
        let vg = match self.vg_report(ctx) {
            Ok(Ok(vg)) => vg,
            // Not knowing who else tagged it, do not keep a claim.
            Ok(Err(lvm_says)) => {
                self.untag_best_effort(ctx, "the volume group vanished");
                return Err(Error::Failed(format!(
                    "volume group {} vanished while it was tagged ({lvm_says})",
                    self.vgname
                )));
            }
            Err(e) => {
                self.untag_best_effort(ctx, "the tags could not be read again");
                return Err(e);
            }
        };
        match lvm::claim_after_tagging(
            &vg,
            me,
            &ctx.cluster_nodes,
            ctx.overrides.has(Override::StealTags),
        ) {
            Claim::Held => Ok(()),
            Claim::Override(tags) => {
                for tag in &tags {
                    tracing::warn!(rid = %self.rid, "remove tag @{tag} added meanwhile (--steal-tags)");
                    self.change(ctx, lvm::deltag_args(&self.vgname, tag), self.start_timeout)?;
                }
                Ok(())
            }
            Claim::Contended(tags) => {
                self.untag_best_effort(ctx, "another node tagged the volume group meanwhile");
                Err(Error::Refused(format!(
                    "volume group {} was tagged for node {} while this node was tagging it: \
                     not starting it (use --steal-tags to override)",
                    self.vgname,
                    tags.join(", ")
                )))
            }
            Claim::Lost(tags) => {
                let now = if tags.is_empty() {
                    String::new()
                } else {
                    format!(" (now tagged for node {})", tags.join(", "))
                };
                Err(Error::Refused(format!(
                    "volume group {} lost the tag @{me} right after it was added{now}: \
                     not starting it",
                    self.vgname
                )))
            }
        }
    }

    /// Remove our tag, logging a failure: the caller is already failing for `why`.
    fn untag_best_effort(&self, ctx: &Ctx, why: &str) {
        let argv = lvm::deltag_args(&self.vgname, &ctx.nodename);
        if let Err(undo) = self.change(ctx, argv, self.start_timeout) {
            tracing::warn!(rid = %self.rid, "can not remove our tag ({why}): {undo}");
        }
    }

    /// UUIDs of the missing PVs of our VG (empty when pvs cannot tell).
    fn missing_pv_uuids(&self, ctx: &Ctx) -> Vec<String> {
        let cmd = Self::lvm(lvm::pvs_args(), exec::DEFAULT_TIMEOUT).ok_codes(&[0, 5]);
        let Ok(out) = ctx.query(&cmd) else {
            return Vec::new();
        };
        lvm::parse_pvs(&out.stdout)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.missing && p.vg == self.vgname)
            .map(|p| p.uuid)
            .collect()
    }

    fn refuse_missing_pvs(&self, ctx: &Ctx, vg: &VgReport) -> Error {
        let uuids = self.missing_pv_uuids(ctx);
        let which = if uuids.is_empty() {
            String::new()
        } else {
            format!(" (uuid {})", uuids.join(", "))
        };
        Error::Refused(format!(
            "volume group {} is missing {} physical volume(s){which}: not starting it",
            self.vgname,
            vg.missing().max(uuids.len() as u32)
        ))
    }

    /// Remove the kpartx partition mappings of the active LVs; kpartx runs only when some
    /// exist.
    fn remove_partitions(&self, ctx: &Ctx, lvs: &[LvReport]) -> Result<()> {
        for lv in lvs.iter().filter(|l| l.is_active()) {
            let Some(devno) = lv.kernel else { continue };
            let parts = partition_holders(Path::new(SYSFS), devno);
            if parts.is_empty() {
                tracing::debug!(rid = %self.rid, "no partition mapping on {}", lv.path);
                continue;
            }
            tracing::info!(rid = %self.rid, "remove partition mappings {} of {}", parts.join(" "), lv.path);
            self.change(ctx, lvm::kpartx_del_args(&lv.path), self.stop_timeout)?;
        }
        Ok(())
    }
}

/// The kpartx partition mappings stacked on the block device `devno` (their dm names).
pub fn partition_holders(sysfs: &Path, (major, minor): (u32, u32)) -> Vec<String> {
    let holders = sysfs.join(format!("dev/block/{major}:{minor}/holders"));
    let Ok(rd) = std::fs::read_dir(&holders) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("dm/uuid"))
                .is_ok_and(|u| lvm::is_partition_uuid(u.trim()))
        })
        .map(|e| {
            std::fs::read_to_string(e.path().join("dm/name"))
                .map(|n| n.trim().to_string())
                .unwrap_or_else(|_| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    v.sort();
    v
}

/// Run `f` until it succeeds, at most `attempts` times, pausing between failures; no new
/// attempt starts after `deadline`. Returns the last error.
fn retry<T, E: Display>(
    attempts: u32,
    pause: Duration,
    deadline: Instant,
    mut on_fail: impl FnMut(u32, &E),
    mut f: impl FnMut() -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    let mut n = 1;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if n >= attempts || Instant::now() + pause > deadline => return Err(e),
            Err(e) => on_fail(n, &e),
        }
        std::thread::sleep(pause);
        n += 1;
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

impl Driver for Vg {
    fn rid(&self) -> &str {
        &self.rid
    }

    fn label(&self) -> String {
        self.vgname.clone()
    }

    fn status(&self, ctx: &Ctx) -> ResStatus {
        match self.shared_report(ctx) {
            Ok(Some((vg, lvs))) => {
                let mut st = lvm::assess(
                    &vg,
                    &lvs.iter().collect::<Vec<_>>(),
                    &ctx.nodename,
                    &ctx.cluster_nodes,
                );
                st.log.extend(self.protection_problem(ctx));
                st
            }
            Ok(None) => ResStatus::with(
                Status::Down,
                format!("volume group {} not found", self.vgname),
            ),
            Err(e) => ResStatus::with(Status::Undef, e),
        }
    }

    fn start(&self, ctx: &Ctx) -> Result<bool> {
        let me = ctx.nodename.as_str();
        let (vg, lvs) = self.report(ctx)?.map_err(|lvm_says| {
            Error::Failed(format!(
                "volume group {} not found ({lvm_says})",
                self.vgname
            ))
        })?;
        if vg.is_partial() {
            return Err(self.refuse_missing_pvs(ctx, &vg));
        }
        let foreign: Vec<String> = vg
            .foreign_tags(me, &ctx.cluster_nodes)
            .iter()
            .map(|t| t.to_string())
            .collect();
        let why = format!(
            "volume group {} is tagged for node {}",
            self.vgname,
            foreign.join(", ")
        );
        if !foreign.is_empty()
            && !ctx
                .overrides
                .overrides(Override::StealTags, Some(&self.rid), &why)
        {
            return Err(Error::Refused(format!(
                "{why}: not starting it (use --steal-tags to remove that tag, once that node \
                 is known not to use the volume group)"
            )));
        }
        let ours = vg.has_tag(me);
        let all_active = lvm::activated_by_vgchange(&lvs)
            .iter()
            .all(|l| l.is_active());
        let was_active = lvs.iter().any(LvReport::is_active);
        if ours && foreign.is_empty() && all_active {
            tracing::info!(rid = %self.rid, "volume group {} is already up", self.vgname);
            return Ok(false);
        }
        for tag in &foreign {
            tracing::info!(rid = %self.rid, "remove stale tag @{tag}");
            self.change(ctx, lvm::deltag_args(&self.vgname, tag), self.start_timeout)?;
        }
        if !ours {
            self.change(ctx, lvm::addtag_args(&self.vgname, me), self.start_timeout)?;
            if !ctx.dry_run {
                self.confirm_claim(ctx)?;
            }
        }
        let activated = self.change(
            ctx,
            lvm::activate_args(&self.vgname, true),
            self.start_timeout,
        );
        if let Err(e) = activated {
            // Leave the VG as we found it: LVs a failed activation left active, then the
            // tag (a tag without activation claims the VG for nothing).
            if !was_active {
                if let Err(undo) = self.change(
                    ctx,
                    lvm::activate_args(&self.vgname, false),
                    self.start_timeout,
                ) {
                    tracing::warn!(rid = %self.rid, "can not deactivate after the failed activation: {undo}");
                }
            }
            if !ours {
                self.untag_best_effort(ctx, "the activation failed");
            }
            return Err(e);
        }
        Ok(true)
    }

    fn stop(&self, ctx: &Ctx) -> Result<bool> {
        let me = ctx.nodename.as_str();
        let (vg, lvs) = match self.report(ctx)? {
            Ok(r) => r,
            Err(lvm_says) => {
                tracing::info!(rid = %self.rid, "volume group {} not found, nothing to stop ({lvm_says})", self.vgname);
                return Ok(false);
            }
        };
        let ours = vg.has_tag(me);
        if !ours && !lvs.iter().any(LvReport::is_active) {
            tracing::info!(rid = %self.rid, "volume group {} is already down", self.vgname);
            return Ok(false);
        }
        let deadline = Instant::now() + self.stop_timeout;
        self.remove_partitions(ctx, &lvs)?;
        retry(
            DEACTIVATE_ATTEMPTS,
            DEACTIVATE_PAUSE,
            deadline,
            |n, e| tracing::warn!(rid = %self.rid, "deactivation attempt {n}/{DEACTIVATE_ATTEMPTS} failed, retrying: {e}"),
            || {
                let left = deadline.saturating_duration_since(Instant::now());
                self.change(
                    ctx,
                    lvm::activate_args(&self.vgname, false),
                    left.max(Duration::from_secs(1)),
                )
            },
        )?;
        if ours {
            self.change(ctx, lvm::deltag_args(&self.vgname, me), self.stop_timeout)?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn retry_stops_at_the_first_success() {
        let calls = Cell::new(0);
        let fails = Cell::new(0);
        let r: std::result::Result<u32, String> = retry(
            5,
            Duration::from_millis(1),
            Instant::now() + Duration::from_secs(10),
            |_, _| fails.set(fails.get() + 1),
            || {
                calls.set(calls.get() + 1);
                if calls.get() < 3 {
                    Err("busy".into())
                } else {
                    Ok(calls.get())
                }
            },
        );
        assert_eq!(r, Ok(3));
        assert_eq!(fails.get(), 2);
    }

    #[test]
    fn retry_is_bounded_by_attempts() {
        let calls = Cell::new(0);
        let r: std::result::Result<(), String> = retry(
            4,
            Duration::from_millis(1),
            Instant::now() + Duration::from_secs(10),
            |_, _| {},
            || {
                calls.set(calls.get() + 1);
                Err(format!("busy {}", calls.get()))
            },
        );
        assert_eq!(r, Err("busy 4".into()));
        assert_eq!(calls.get(), 4);
    }

    #[test]
    fn retry_is_bounded_by_the_deadline() {
        let calls = Cell::new(0);
        let r: std::result::Result<(), &str> = retry(
            100,
            Duration::from_millis(50),
            Instant::now() + Duration::from_millis(120),
            |_, _| {},
            || {
                calls.set(calls.get() + 1);
                Err("busy")
            },
        );
        assert!(r.is_err());
        assert!((2..=3).contains(&calls.get()), "{} calls", calls.get());
    }

    fn holder(sys: &Path, dev: &str, name: &str, dm_name: &str, uuid: &str) {
        let h = sys.join(format!("dev/block/{dev}/holders/{name}/dm"));
        std::fs::create_dir_all(&h).unwrap();
        std::fs::write(h.join("uuid"), format!("{uuid}\n")).unwrap();
        std::fs::write(h.join("name"), format!("{dm_name}\n")).unwrap();
    }

    #[test]
    fn partition_holders_are_the_kpartx_mappings_only() {
        let sys = std::env::temp_dir().join(format!("svcmgr-vg-sysfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&sys);
        holder(&sys, "254:0", "dm-3", "vgdata-lvweb1", "part1-LVM-abc");
        holder(&sys, "254:0", "dm-4", "vgdata-lvweb2", "part2-LVM-abc");
        holder(&sys, "254:0", "dm-5", "crypt", "CRYPT-LUKS2-xyz");
        std::fs::create_dir_all(sys.join("dev/block/254:1/holders")).unwrap();
        assert_eq!(
            partition_holders(&sys, (254, 0)),
            ["vgdata-lvweb1", "vgdata-lvweb2"]
        );
        assert!(partition_holders(&sys, (254, 1)).is_empty());
        assert!(partition_holders(&sys, (254, 9)).is_empty());
        std::fs::remove_dir_all(&sys).unwrap();
    }

    #[test]
    fn one_line_joins_lvm_messages() {
        assert_eq!(
            one_line("  Volume group \"vgx\" not found\n  Cannot process volume group vgx\n"),
            "Volume group \"vgx\" not found / Cannot process volume group vgx"
        );
    }
}
