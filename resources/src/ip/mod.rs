//! The ip driver: a service address on a node interface, with duplicate detection before
//! start and an unsolicited ARP announce after.

pub mod arp;
pub mod iproute;

use std::net::{Ipv4Addr, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::Duration;

use svcconf::ResourceConfig;

use crate::exec::{self, Cmd};
use crate::{Ctx, Driver, Error, ResStatus, Result, Status};
use iproute::Link;

/// Duplicate address detection: this many probes this far apart, listening this long in
/// all (RFC 5227 uses seconds; on one segment, half a second leaves a slow host 300 ms to
/// answer the last probe).
const PROBES: u32 = 3;
const PROBE_INTERVAL: Duration = Duration::from_millis(100);
const PROBE_WAIT: Duration = Duration::from_millis(500);

pub struct Ip {
    rid: String,
    ipname: String,
    dev: String,
    netmask: Option<u8>,
    /// `check_carrier`: an interface without carrier is not fit to carry the address.
    check_carrier: bool,
    /// `alias`: label the address `<dev>:<n>` (OpenSVC's ip aliasing); false: no label.
    alias: bool,
    timeout: Duration,
    resolved: OnceLock<std::result::Result<Ipv4Addr, String>>,
}

impl Ip {
    pub fn new(rc: &ResourceConfig) -> Result<Ip> {
        let need = |kw: &str| {
            rc.str(kw)
                .map(str::to_string)
                .ok_or_else(|| Error::Failed(format!("{}: {kw} is not set", rc.rid)))
        };
        Ok(Ip {
            rid: rc.rid.clone(),
            ipname: need("ipname")?,
            dev: need("ipdev")?,
            netmask: rc.prefix("netmask"),
            check_carrier: !matches!(rc.get("check_carrier"), Some(svcconf::Value::Bool(false))),
            alias: !matches!(rc.get("alias"), Some(svcconf::Value::Bool(false))),
            timeout: rc
                .duration("start_timeout")
                .unwrap_or(exec::DEFAULT_TIMEOUT),
            resolved: OnceLock::new(),
        })
    }

    /// The address, from `ipname` as an IPv4 literal or a host name.
    fn addr(&self) -> std::result::Result<Ipv4Addr, String> {
        self.resolved
            .get_or_init(|| {
                if let Ok(a) = self.ipname.parse() {
                    return Ok(a);
                }
                (self.ipname.as_str(), 0)
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut it| {
                        it.find_map(|sa| match sa.ip() {
                            std::net::IpAddr::V4(a) => Some(a),
                            _ => None,
                        })
                    })
                    .ok_or_else(|| format!("can not resolve ipname {}", self.ipname))
            })
            .clone()
    }

    fn links(&self, ctx: &Ctx) -> Result<Vec<Link>> {
        let out = ctx.query_cached(&Cmd::new(["ip", "-j", "addr", "show"]))?;
        iproute::parse_links(&out.stdout)
            .map_err(|e| Error::Failed(format!("can not parse ip -j addr output: {e}")))
    }

    fn cmd(&self, argv: Vec<String>) -> Cmd {
        Cmd::new(argv).timeout(self.timeout)
    }
}

impl Ip {
    /// Deleting a primary address also deletes the secondaries of its subnet when the
    /// interface has promote_secondaries off: say so loudly, naming what went with it (they
    /// may be other services' addresses).
    fn report_collateral(&self, ctx: &Ctx, before: &[String], ip: Ipv4Addr) {
        let fresh = ctx
            .query(&Cmd::new([
                "ip",
                "-j",
                "addr",
                "show",
                "dev",
                self.dev.as_str(),
            ]))
            .ok()
            .and_then(|o| iproute::parse_links(&o.stdout).ok())
            .unwrap_or_default();
        let after: Vec<&str> = fresh
            .iter()
            .flat_map(|l| l.addr_info.iter().map(|a| a.local.as_str()))
            .collect();
        let lost: Vec<&str> = before
            .iter()
            .map(String::as_str)
            .filter(|a| *a != ip.to_string() && !after.contains(a))
            .collect();
        if !lost.is_empty() {
            tracing::error!(
                rid = %self.rid,
                "removing {ip} also removed {} from {} (it was their subnet's primary address \
                 and net.ipv4.conf.{}.promote_secondaries is off)",
                lost.join(", "),
                self.dev,
                self.dev
            );
        }
    }
}

impl Driver for Ip {
    fn rid(&self) -> &str {
        &self.rid
    }

    fn label(&self) -> String {
        format!("{}@{}", self.ipname, self.dev)
    }

    fn status(&self, ctx: &Ctx) -> ResStatus {
        let ip = match self.addr() {
            Ok(ip) => ip,
            Err(e) => return ResStatus::with(Status::Warn, e),
        };
        let links = match self.links(ctx) {
            Ok(l) => l,
            Err(e) => return ResStatus::with(Status::Undef, e.to_string()),
        };
        let Some(link) = links.iter().find(|l| l.ifname == self.dev) else {
            // Down, not warn: the address can not be configured here at all.
            return ResStatus::with(Status::Down, format!("interface {} not found", self.dev));
        };
        if self.check_carrier && link.no_carrier() {
            return ResStatus::with(
                Status::Down,
                format!("interface {} has no carrier", self.dev),
            );
        }
        match (link.find(ip).is_some(), link.is_up()) {
            (true, true) => ResStatus::new(Status::Up),
            (true, false) => {
                ResStatus::with(Status::Warn, format!("interface {} is down", self.dev))
            }
            (false, true) => ResStatus::new(Status::Down),
            (false, false) => {
                ResStatus::with(Status::Down, format!("interface {} is down", self.dev))
            }
        }
    }

    fn start(&self, ctx: &Ctx) -> Result<bool> {
        let ip = self.addr().map_err(Error::Failed)?;
        let links = self.links(ctx)?;
        let link = links
            .iter()
            .find(|l| l.ifname == self.dev)
            .ok_or_else(|| Error::Failed(format!("interface {} not found", self.dev)))?;
        if link.find(ip).is_some() {
            tracing::info!(rid = %self.rid, "{ip} is already up on {}", self.dev);
            return Ok(false);
        }
        if !link.is_up() {
            return Err(Error::Failed(format!("interface {} is down", self.dev)));
        }
        if self.check_carrier && link.no_carrier() {
            return Err(Error::Failed(format!(
                "interface {} has no carrier (set check_carrier = false if it is a bridge or a \
                 switch port without a link)",
                self.dev
            )));
        }
        let prefix = self
            .netmask
            .or_else(|| link.covering_prefix(ip))
            .ok_or_else(|| {
                Error::Failed(format!(
                    "netmask is not set and no address of {} covers {ip}: set netmask",
                    self.dev
                ))
            })?;

        tracing::info!(rid = %self.rid, "checking {ip} availability (ARP probe on {})", self.dev);
        let t0 = std::time::Instant::now();
        let probe = arp::probe(&self.dev, ip, PROBES, PROBE_INTERVAL, PROBE_WAIT);
        exec::record_time("arp probe", t0.elapsed());
        match probe {
            Ok(None) => {}
            Ok(Some(mac)) => {
                return Err(Error::Refused(format!(
                    "IP {ip} is already up on another host (answered from {mac})"
                )))
            }
            Err(e) => {
                return Err(Error::Failed(format!(
                    "ARP probe for {ip} on {} failed: {e}",
                    self.dev
                )))
            }
        }

        let label = if self.alias { link.free_label() } else { None };
        ctx.change(
            &self.rid,
            &self.cmd(iproute::add_args(ip, prefix, &self.dev, label.as_deref())),
        )?;
        if ctx.dry_run {
            tracing::info!(rid = %self.rid, "dry-run: send gratuitous ARP for {ip} on {}", self.dev);
        } else {
            tracing::info!(rid = %self.rid, "send gratuitous ARP for {ip} on {}", self.dev);
            if let Err(e) = arp::announce(&self.dev, ip) {
                tracing::warn!(rid = %self.rid, "ARP announce failed, neighbours learn the move late: {e}");
            }
        }
        Ok(true)
    }

    fn stop(&self, ctx: &Ctx) -> Result<bool> {
        let ip = self.addr().map_err(Error::Failed)?;
        let links = self.links(ctx)?;
        let found = links
            .iter()
            .find(|l| l.ifname == self.dev)
            .and_then(|l| l.find(ip));
        let Some(addr) = found else {
            tracing::info!(rid = %self.rid, "{ip} is already down on {}", self.dev);
            return Ok(false);
        };
        let before: Vec<String> = links
            .iter()
            .filter(|l| l.ifname == self.dev)
            .flat_map(|l| l.addr_info.iter().map(|a| a.local.clone()))
            .collect();
        ctx.change(
            &self.rid,
            &self.cmd(iproute::del_args(ip, addr.prefixlen, &self.dev)),
        )?;
        if !ctx.dry_run {
            self.report_collateral(ctx, &before, ip);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn ip(section: &str) -> Ip {
        let text = format!("[DEFAULT]\nnodes = n1\n[ip#1]\n{section}");
        let l = svcconf::parse_service(text.as_bytes(), Path::new("web.conf"), "web", "n1")
            .unwrap_or_else(|e| panic!("{e}"));
        Ip::new(&l.config.resources[0]).unwrap()
    }

    const NO_CARRIER: &str = r#"[{"ifname":"eth0","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],
        "operstate":"DOWN","addr_info":[{"family":"inet","local":"10.0.0.1","prefixlen":24,"label":"eth0"}]}]"#;

    /// `check_carrier` (default true): no carrier is down and refuses a start; false skips it.
    #[test]
    fn carrier_check() {
        let rec = crate::fake::Recorder::new();
        rec.on(&["ip", "-j", "addr", "show"], 0, NO_CARRIER);
        let ctx = Ctx::new("web", "n1", PathBuf::from("/nonexistent")).with_executor(rec.clone());
        // 2.x names: name, dev.
        let checked = ip("name = 10.0.0.9\ndev = eth0\n");
        let st = checked.status(&ctx);
        assert_eq!(st.status, Status::Down);
        assert_eq!(st.log, ["interface eth0 has no carrier"]);
        let e = checked.start(&ctx).unwrap_err().to_string();
        assert!(e.contains("interface eth0 has no carrier"), "{e}");
        let unchecked = ip("ipname = 10.0.0.1\nipdev = eth0\ncheck_carrier = false\n");
        assert_eq!(unchecked.status(&ctx).status, Status::Up);
        assert!(rec.calls().iter().all(|c| !c.contains(" add ")));
    }

    #[test]
    fn alias_false_adds_no_label() {
        assert!(ip("ipname = 10.0.0.1\nipdev = eth0\n").alias);
        assert!(!ip("ipname = 10.0.0.1\nipdev = eth0\nalias = false\n").alias);
    }
}
