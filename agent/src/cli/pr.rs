//! `prstart`, `prstop`, `prstatus`: the SCSI-3 persistent reservations (`<vgrid>pr`) of a
//! service alone, without their volume groups.

use resources::scsireserv::common::DevicePr;
use resources::scsireserv::Pr;
use resources::{Driver, ResStatus, Resource, Status};

use super::{Cli, Format};
use crate::engine::{self, Scope, Verb};
use crate::model::Item;
use crate::paths::Root;
use crate::service::Service;

/// The reservation items of the service, narrowed by `--rid` (a reservation's rid, its
/// vg's rid, or a group name) and `--tags`.
fn pr_items<'a>(s: &'a Service, cli: &Cli) -> anyhow::Result<Vec<&'a Item>> {
    if !s.items.iter().any(|it| it.is_reservation()) {
        anyhow::bail!(
            "service {} has no SCSI reservation: set scsireserv = true on a vg resource",
            s.name
        );
    }
    let picked: Vec<&Item> = s
        .select(&cli.selection(None))?
        .into_iter()
        .filter(|it| it.is_reservation())
        .collect();
    if picked.is_empty() {
        anyhow::bail!(
            "no SCSI reservation of service {} matches the selection",
            s.name
        );
    }
    Ok(picked)
}

/// `prstart` or `prstop`.
pub fn run(root: &Root, svc: &str, cli: &Cli, verb: Verb) -> anyhow::Result<i32> {
    let mut req = super::lifecycle::request(svc, cli, verb);
    req.scope = Scope::Reservations;
    req.intent = format!("pr{}", verb.word());
    // The reservations alone never run the service: no peer check.
    req.local = true;
    Ok(super::lifecycle::code(&engine::run(root, &req)?))
}

struct Report {
    rid: String,
    status: ResStatus,
    label: String,
    devices: Vec<Result<DevicePr, String>>,
    backends: Vec<&'static str>,
}

fn report(s: &Service, it: &Item, pr: &Pr) -> Report {
    let ctx = s.ctx();
    let mut r = Report {
        rid: it.rid().to_string(),
        status: ResStatus::new(Status::NotApplicable),
        label: String::new(),
        devices: Vec::new(),
        backends: Vec::new(),
    };
    if !it.rc.common.disable {
        match pr.devices(&ctx) {
            Ok(devs) => {
                r.devices = pr.inspect(&ctx, &devs);
                r.backends = devs.iter().map(|d| d.backend.prog()).collect();
                r.status = pr.assess(&ctx, &r.devices);
            }
            Err(e) => {
                r.status =
                    ResStatus::with(Status::Warn, format!("can not read the reservations: {e}"))
            }
        }
        if it.rc.common.standby {
            r.status.status = r.status.status.as_standby();
        }
    }
    r.label = pr.label();
    r
}

/// Each reservation's status line, its messages and every device's keys and holder. The
/// exit code is their merged status code, as `status` gives the service's.
pub fn status(root: &Root, svc: &str, cli: &Cli) -> anyhow::Result<i32> {
    let s = Service::load_readonly(root, svc)?;
    let items = pr_items(&s, cli)?;
    let prs: Vec<(&Item, &Pr)> = items
        .iter()
        .filter_map(|it| match &it.res {
            Resource::Pr(p) => Some((*it, p)),
            _ => None,
        })
        .collect();
    let reports: Vec<Report> = std::thread::scope(|scope| {
        let hs: Vec<_> = prs
            .iter()
            .map(|&(it, pr)| scope.spawn(|| report(&s, it, pr)))
            .collect();
        hs.into_iter()
            .zip(&prs)
            .map(|(h, (it, _))| {
                h.join().unwrap_or_else(|_| Report {
                    rid: it.rid().to_string(),
                    status: ResStatus::with(Status::Warn, "status check panicked"),
                    label: String::new(),
                    devices: Vec::new(),
                    backends: Vec::new(),
                })
            })
            .collect()
    });
    let merged = Status::merge_all(reports.iter().map(|r| r.status.status));
    match cli.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&json(&reports))?),
        Format::Text => print!("{}", text(&reports)),
    }
    Ok(merged.code())
}

fn text(reports: &[Report]) -> String {
    let mut out = String::new();
    for r in reports {
        let line = format!("{:<14} {:<10} {}", r.rid, r.status.status, r.label);
        out.push_str(line.trim_end());
        out.push('\n');
        for m in &r.status.log {
            out.push_str(&format!("  # {m}\n"));
        }
        for (d, prog) in r.devices.iter().zip(&r.backends) {
            if let Ok(d) = d {
                out.push_str(&format!("  {} ({prog}): {}\n", d.dev, d.describe()));
            }
        }
    }
    out
}

fn json(reports: &[Report]) -> serde_json::Value {
    serde_json::Value::Array(
        reports
            .iter()
            .map(|r| {
                let devices: Vec<serde_json::Value> = r
                    .devices
                    .iter()
                    .zip(&r.backends)
                    .map(|(d, prog)| match d {
                        Ok(d) => serde_json::json!({
                            "dev": d.dev,
                            "backend": prog,
                            "keys": d.keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
                            "reservation": d.reservation.as_ref().map(|res| serde_json::json!({
                                "key": res.key.to_string(),
                                "type": res.pr_type,
                            })),
                        }),
                        Err(e) => serde_json::json!({ "backend": prog, "error": e }),
                    })
                    .collect();
                serde_json::json!({
                    "rid": r.rid,
                    "status": r.status.status,
                    "label": r.label,
                    "log": r.status.log,
                    "devices": devices,
                })
            })
            .collect(),
    )
}
