//! The SCSI-3 persistent reservation guard of a volume group (`scsireserv = true`): the
//! `<vgrid>pr` resource, started just before its VG and stopped just after it.
//!
//! Start registers the node's key on every PV of the VG and takes a Write Exclusive,
//! Registrants Only reservation (type 5), so a node that is not registered cannot write
//! the disks. A reservation held by another key is refused unless forced; forced, it is
//! preempted (and aborted) and verified. Stop releases and unregisters, but never touches
//! a reservation another node took from us. Multipath maps go through `mpathpersist`,
//! other devices through `sg_persist`.

pub mod common;
pub mod devices;
pub mod mpathpersist;
pub mod sgpersist;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use svcconf::ResourceConfig;

use crate::exec::{self, Cmd, ExecError};
use crate::{Ctx, Driver, Error, Override, ResStatus, Result, Status};
use common::{DevicePr, Holder, Op, PrKey};
use devices::{Backend, Dev};

/// Reads answered with a UNIT ATTENTION are retried this many times, this far apart.
const UA_ATTEMPTS: u32 = 10;
const UA_PAUSE: Duration = Duration::from_millis(100);
const SYSFS: &str = "/sys";
const MULTIPATH_CONF: &str = "/etc/multipath.conf";

pub struct Pr {
    rid: String,
    vgname: String,
    key: PrKey,
    /// The key as configured, for the status label.
    key_text: String,
    forced: Option<Backend>,
    no_preempt_abort: bool,
    start_timeout: Duration,
    stop_timeout: Duration,
    /// Devices held / devices, from the last status run (for the label).
    counts: Mutex<Option<(usize, usize)>>,
}

/// What a start did on one device, so a failure can undo it.
enum Undo {
    Release(Dev),
    Unregister(Dev),
}

impl Pr {
    /// The rid of the reservation guarding the VG resource `vg_rid`: `vg#1` -> `vg#1pr`.
    pub fn rid_of(vg_rid: &str) -> String {
        format!("{vg_rid}pr")
    }

    /// The reservation of the vg resource `vg`, keyed by its `prkey` keyword or else by
    /// `node_key` (the node's prkey).
    pub fn new(vg: &ResourceConfig, node_key: Option<&str>) -> Result<Pr> {
        let rid = Pr::rid_of(&vg.rid);
        let vgname = vg
            .str("vgname")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::Failed(format!("{}: vgname is not set", vg.rid)))?;
        // No key at all: a read-only action on a node whose key is not generated yet. Such a
        // node holds nothing (0 is never a registered key) and may not act.
        let Some(key_text) = vg.str("prkey").or(node_key) else {
            return Ok(Pr {
                key: PrKey(0),
                key_text: "(no key yet)".into(),
                ..Pr::new(vg, Some("0x1"))?
            });
        };
        let key = key_text
            .parse::<PrKey>()
            .ok()
            .filter(|k| k.0 != 0)
            .ok_or_else(|| {
                Error::Failed(format!(
                    "{rid}: bad reservation key '{key_text}': expected 0x and 1 to 16 hex digits, not all zero"
                ))
            })?;
        let forced = match vg.str("pr_backend") {
            None => None,
            Some(b) => Some(Backend::from_keyword(b).ok_or_else(|| {
                Error::Failed(format!("{}: pr_backend: unknown tool '{b}'", vg.rid))
            })?),
        };
        Ok(Pr {
            rid,
            vgname: vgname.to_string(),
            key,
            key_text: key_text.to_string(),
            forced,
            no_preempt_abort: vg.bool("no_preempt_abort"),
            start_timeout: vg
                .duration("start_timeout")
                .unwrap_or(exec::DEFAULT_TIMEOUT),
            stop_timeout: vg.duration("stop_timeout").unwrap_or(exec::DEFAULT_TIMEOUT),
            counts: Mutex::new(None),
        })
    }

    fn pvs_cmd() -> Cmd {
        // Exit 5 is LVM's "some VG had a problem": the other PVs are still listed.
        Cmd::new(devices::pvs_args())
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            .ok_codes(&[0, 5])
    }

    fn devices_from(&self, pvs_out: &str) -> Result<Vec<Dev>> {
        let paths = devices::dedup_devices(devices::parse_pvs(pvs_out, &self.vgname));
        if paths.is_empty() {
            return Err(Error::Failed(format!(
                "no physical volume of volume group {} found",
                self.vgname
            )));
        }
        Ok(devices::assign(paths, self.forced, Path::new(SYSFS)))
    }

    /// The devices of the VG, freshly listed (for actions).
    pub fn devices(&self, ctx: &Ctx) -> Result<Vec<Dev>> {
        self.devices_from(&ctx.query(&Self::pvs_cmd())?.stdout)
    }

    /// One PR IN read, repeated while the device answers with a UNIT ATTENTION.
    fn read_op(&self, ctx: &Ctx, dev: &Dev, op: Op, timeout: Duration) -> Result<String> {
        let cmd = Cmd::new(dev.backend.args(&op, &dev.path)).timeout(timeout);
        let mut attempt = 1;
        loop {
            let out = ctx.output(&cmd)?;
            if out.code == 0 {
                return Ok(out.stdout);
            }
            if attempt < UA_ATTEMPTS
                && dev
                    .backend
                    .is_unit_attention(out.code, &out.stdout, &out.stderr)
            {
                tracing::debug!(rid = %self.rid, "unit attention on {}, reading again", dev.path);
                std::thread::sleep(UA_PAUSE);
                attempt += 1;
                continue;
            }
            return Err(Error::Exec(ExecError::Failed {
                argv: cmd.display(),
                code: out.code,
                stdout: out.stdout,
                stderr: out.stderr,
            }));
        }
    }

    fn read_keys(&self, ctx: &Ctx, dev: &Dev, timeout: Duration) -> Result<Vec<PrKey>> {
        let out = self.read_op(ctx, dev, Op::ReadKeys, timeout)?;
        dev.backend
            .parse_keys(&out)
            .map_err(|e| Error::Failed(format!("{}: {e}", dev.path)))
    }

    fn read_reservation(
        &self,
        ctx: &Ctx,
        dev: &Dev,
        timeout: Duration,
    ) -> Result<Option<common::Reservation>> {
        let out = self.read_op(ctx, dev, Op::ReadReservation, timeout)?;
        dev.backend
            .parse_reservation(&out)
            .map_err(|e| Error::Failed(format!("{}: {e}", dev.path)))
    }

    /// Keys then reservation of one device. The first read also clears pending unit
    /// attentions.
    fn read(&self, ctx: &Ctx, dev: &Dev, timeout: Duration) -> Result<DevicePr> {
        let keys = self.read_keys(ctx, dev, timeout)?;
        let reservation = self.read_reservation(ctx, dev, timeout)?;
        Ok(DevicePr {
            dev: dev.path.clone(),
            keys,
            reservation,
        })
    }

    /// Every device's state, each device's two reads in their own thread.
    pub fn inspect(&self, ctx: &Ctx, devs: &[Dev]) -> Vec<std::result::Result<DevicePr, String>> {
        let t = exec::DEFAULT_TIMEOUT;
        std::thread::scope(|s| {
            let handles: Vec<_> = devs
                .iter()
                .map(|d| {
                    (
                        s.spawn(move || self.read_keys(ctx, d, t)),
                        s.spawn(move || self.read_reservation(ctx, d, t)),
                    )
                })
                .collect();
            handles
                .into_iter()
                .zip(devs)
                .map(|((k, r), d)| {
                    let keys = join(k).map_err(|e| format!("{}: {e}", d.path))?;
                    let reservation = join(r).map_err(|e| format!("{}: {e}", d.path))?;
                    Ok(DevicePr {
                        dev: d.path.clone(),
                        keys,
                        reservation,
                    })
                })
                .collect()
        })
    }

    /// Set while this node holds (or should hold) the reservation: between a start and the
    /// next stop.
    fn started_flag(&self, ctx: &Ctx) -> PathBuf {
        ctx.var_dir.join(format!("{}.started", self.rid))
    }

    fn set_started(&self, ctx: &Ctx, on: bool) {
        if ctx.dry_run {
            return;
        }
        let flag = self.started_flag(ctx);
        let r = if on {
            std::fs::create_dir_all(&ctx.var_dir).and_then(|_| std::fs::write(&flag, b""))
        } else {
            match std::fs::remove_file(&flag) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                r => r,
            }
        };
        if let Err(e) = r {
            tracing::warn!(rid = %self.rid, "can not update {}: {e}", flag.display());
        }
    }

    /// The status of already inspected devices; remembers the counts for the label.
    pub fn assess(&self, ctx: &Ctx, states: &[std::result::Result<DevicePr, String>]) -> ResStatus {
        let started = self.started_flag(ctx).exists();
        let (st, held) = common::assess(self.key, states, started);
        *self.counts.lock().unwrap_or_else(|e| e.into_inner()) = Some((held, states.len()));
        st
    }

    fn need_key(&self) -> Result<()> {
        if self.key.0 == 0 {
            return Err(Error::Failed(format!(
                "{}: no reservation key: set prkey in node.toml or on the vg section",
                self.rid
            )));
        }
        Ok(())
    }

    /// A PR OUT command; a reservation conflict gets its own message.
    fn change(&self, ctx: &Ctx, dev: &Dev, op: Op, timeout: Duration) -> Result<()> {
        let cmd = Cmd::new(dev.backend.args(&op, &dev.path))
            .timeout(timeout)
            .holds_lock();
        match ctx.change(&self.rid, &cmd) {
            Ok(_) => Ok(()),
            Err(ExecError::Failed { code, .. }) if code == dev.backend.conflict() => {
                Err(Error::Failed(format!(
                    "reservation conflict on {}: the device refused {} (exit status {code})",
                    dev.path,
                    cmd.display()
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `--preempt` (or `--force`) lets a start take a reservation another key holds.
    fn may_preempt(&self, ctx: &Ctx, dev: &Dev, holder: PrKey) -> bool {
        let what = format!("reservation on {} held by {holder}", dev.path);
        ctx.overrides
            .overrides(Override::Preempt, Some(&self.rid), what)
    }

    fn refuse(&self, dev: &Dev, holder: PrKey) -> Error {
        Error::Refused(format!(
            "reservation on {} is held by {holder}, not by our key {}: not starting (use \
             --preempt to take it over, once the node holding it is known to be down)",
            dev.path, self.key
        ))
    }

    /// Register and reserve one device; what was done is pushed on `undo`.
    fn start_dev(&self, ctx: &Ctx, dev: &Dev, undo: &mut Vec<Undo>) -> Result<bool> {
        let t = self.start_timeout;
        let st = self.read(ctx, dev, t)?;
        let registered = st.registered(self.key);
        match st.holder(self.key) {
            Holder::Us if registered => {
                tracing::info!(rid = %self.rid, "{} is already reserved with our key {}", dev.path, self.key);
                self.other_registrants(ctx, dev, &st.keys)?;
                return Ok(false);
            }
            // Never register while another node holds it: under type 5 a registrant may write.
            // Checked (and logged) where the preemption happens, below.
            Holder::Other(r) if !ctx.overrides.has(Override::Preempt) => {
                return Err(self.refuse(dev, r.key))
            }
            _ => {}
        }
        if !registered {
            self.change(ctx, dev, Op::Register(self.key), t)?;
            undo.push(Undo::Unregister(dev.clone()));
        }
        let now = DevicePr {
            reservation: self.read_reservation(ctx, dev, t)?,
            ..st
        };
        match now.holder(self.key) {
            Holder::Us => {}
            Holder::Nobody => {
                self.change(ctx, dev, Op::Reserve(self.key), t)?;
                undo.push(Undo::Release(dev.clone()));
            }
            Holder::Other(r) if !self.may_preempt(ctx, dev, r.key) => {
                return Err(self.refuse(dev, r.key))
            }
            Holder::Other(r) => self.preempt(ctx, dev, r.key)?,
        }
        if !ctx.dry_run {
            let keys = self.read(ctx, dev, t)?.keys;
            self.other_registrants(ctx, dev, &keys)?;
        }
        Ok(true)
    }

    /// Under type 5 every registrant may write: another node's leftover registration (a
    /// stop that could not unregister) is removed with --force (PREEMPT of a non-holder key
    /// drops its registrations and leaves our reservation), else reported.
    fn other_registrants(&self, ctx: &Ctx, dev: &Dev, keys: &[PrKey]) -> Result<()> {
        let mut others: Vec<PrKey> = Vec::new();
        for k in keys {
            if *k != self.key && !others.contains(k) {
                others.push(*k);
            }
        }
        if others.is_empty() {
            return Ok(());
        }
        let list = others
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let what = format!("{list} also registered on {}", dev.path);
        if !ctx
            .overrides
            .overrides(Override::Preempt, Some(&self.rid), &what)
        {
            tracing::warn!(
                rid = %self.rid,
                "{what}: those nodes can still write it; use --preempt to remove them"
            );
            return Ok(());
        }
        for victim in others {
            tracing::warn!(rid = %self.rid, "remove the registration of {victim} on {}", dev.path);
            let op = Op::Preempt {
                key: self.key,
                victim,
                abort: false,
            };
            self.change(ctx, dev, op, self.start_timeout)?;
        }
        Ok(())
    }

    /// Take the reservation from `victim` (--force), then check that it took.
    fn preempt(&self, ctx: &Ctx, dev: &Dev, victim: PrKey) -> Result<()> {
        let abort = !self.no_preempt_abort;
        tracing::warn!(
            rid = %self.rid,
            "preempt the reservation of {victim} on {}{}",
            dev.path,
            if abort { ", aborting its commands" } else { "" }
        );
        let op = Op::Preempt {
            key: self.key,
            victim,
            abort,
        };
        self.change(ctx, dev, op, self.start_timeout)?;
        if ctx.dry_run {
            return Ok(());
        }
        let after = self.read(ctx, dev, self.start_timeout)?;
        if after.registered(victim) || !after.held_by(self.key) {
            return Err(Error::Failed(format!(
                "preemption of {victim} on {} did not take: {}",
                dev.path,
                after.describe()
            )));
        }
        Ok(())
    }

    fn rollback(&self, ctx: &Ctx, undo: Vec<Undo>) {
        for u in undo.into_iter().rev() {
            let (dev, op, what) = match u {
                Undo::Release(d) => (d, Op::Release(self.key), "release"),
                Undo::Unregister(d) => (d, Op::Unregister(self.key), "unregister"),
            };
            tracing::info!(rid = %self.rid, "rollback: {what} {}", dev.path);
            if let Err(e) = self.change(ctx, &dev, op, self.stop_timeout) {
                tracing::warn!(rid = %self.rid, "rollback: can not {what} {}: {e}", dev.path);
            }
        }
    }

    /// Release and unregister one device, leaving alone a reservation another key holds.
    fn stop_dev(&self, ctx: &Ctx, dev: &Dev) -> Result<bool> {
        let t = self.stop_timeout;
        let st = self.read(ctx, dev, t)?;
        let registered = st.registered(self.key);
        let mut changed = false;
        match st.holder(self.key) {
            Holder::Us => {
                self.change(ctx, dev, Op::Release(self.key), t)?;
                changed = true;
            }
            Holder::Other(r) => {
                let how = if registered {
                    "unregister our key only"
                } else {
                    "our key was preempted"
                };
                tracing::warn!(
                    rid = %self.rid,
                    "reservation on {} is held by {}, left untouched: {how}",
                    dev.path,
                    r.key
                );
            }
            Holder::Nobody => {}
        }
        if registered {
            self.change(ctx, dev, Op::Unregister(self.key), t)?;
            changed = true;
        }
        // A stop that leaves our key registered leaves this node able to write: read the
        // keys back rather than trust the exit status.
        if changed && !ctx.dry_run {
            let after = self.read(ctx, dev, t)?;
            if after.registered(self.key) || after.held_by(self.key) {
                return Err(Error::Failed(format!(
                    "{} still registered on {} after release: {}",
                    self.key,
                    dev.path,
                    after.describe()
                )));
            }
        }
        Ok(changed)
    }
}

fn join<T>(h: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    h.join()
        .unwrap_or_else(|_| Err(Error::Failed("read thread panicked".into())))
}

impl Driver for Pr {
    fn rid(&self) -> &str {
        &self.rid
    }

    fn label(&self) -> String {
        common::label(
            &self.key_text,
            *self.counts.lock().unwrap_or_else(|e| e.into_inner()),
        )
    }

    fn status(&self, ctx: &Ctx) -> ResStatus {
        let devs = ctx
            .query_cached(&Self::pvs_cmd())
            .map_err(Error::from)
            .and_then(|o| self.devices_from(&o.stdout));
        match devs {
            Ok(devs) => {
                let mut st = self.assess(ctx, &self.inspect(ctx, &devs));
                if devs.iter().any(|d| d.backend == Backend::MpathPersist) {
                    let conf = std::fs::read_to_string(MULTIPATH_CONF).ok();
                    let key = self.key.to_string();
                    // A fence held through a misconfigured multipathd is a warning; on a
                    // node not holding it, the same words tell what a takeover would meet.
                    if let Some(p) = devices::multipath_conf_problem(conf.as_deref(), &key) {
                        if st.status == Status::Up {
                            st.status = Status::Warn;
                        }
                        st.log.push(p);
                    }
                }
                st
            }
            Err(e) => {
                *self.counts.lock().unwrap_or_else(|e| e.into_inner()) = None;
                ResStatus::with(Status::Warn, format!("can not read the reservations: {e}"))
            }
        }
    }

    fn start(&self, ctx: &Ctx) -> Result<bool> {
        self.need_key()?;
        let devs = self.devices(ctx)?;
        let mut undo = Vec::new();
        let mut changed = false;
        for dev in &devs {
            match self.start_dev(ctx, dev, &mut undo) {
                Ok(c) => changed |= c,
                Err(e) => {
                    self.rollback(ctx, undo);
                    return Err(e);
                }
            }
        }
        self.set_started(ctx, true);
        if !changed {
            tracing::info!(rid = %self.rid, "reservation already held with {} on {} device(s)", self.key, devs.len());
        }
        Ok(changed)
    }

    fn stop(&self, ctx: &Ctx) -> Result<bool> {
        self.need_key()?;
        let pvs = ctx.query(&Self::pvs_cmd())?;
        let devs = match self.devices_from(&pvs.stdout) {
            Ok(d) => d,
            // The VG is gone from this node's view. If this node never started the
            // reservation, nothing is left to release; if it did, our key may still be
            // registered on devices we can no longer name: that is not a clean stop.
            Err(e) if self.started_flag(ctx).exists() => {
                return Err(Error::Failed(format!(
                    "{e}: can not release the reservation this node took; our key {} may \
                     still be registered (check with `pr status`)",
                    self.key
                )));
            }
            Err(e) => {
                tracing::warn!(rid = %self.rid, "{e}: nothing to release");
                return Ok(false);
            }
        };
        let mut changed = false;
        let mut first_err = None;
        for dev in &devs {
            match self.stop_dev(ctx, dev) {
                Ok(c) => changed |= c,
                Err(e) => {
                    tracing::error!(rid = %self.rid, "{}: {e}", dev.path);
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        self.set_started(ctx, false);
        if !changed {
            tracing::info!(rid = %self.rid, "no reservation nor registration of {} left: already down", self.key);
        }
        Ok(changed)
    }
}
