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
            return ResStatus::with(Status::Warn, format!("interface {} not found", self.dev));
        };
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

        let label = link.free_label();
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
