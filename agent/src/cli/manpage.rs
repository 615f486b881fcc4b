//! `svcmgr man`: the manual page svcmgr(1) in roff. clap_mangen renders the options from the
//! parser itself; the actions, one section each with examples, come from `actions_doc`.

use clap::CommandFactory;
use roff::{bold, italic, roman, Roff};

use super::actions_doc::ACTIONS;
use super::Cli;
use crate::exitcode;

pub fn print() -> anyhow::Result<i32> {
    let mut out = Vec::new();
    render(&mut out)?;
    use std::io::Write;
    std::io::stdout().write_all(&out)?;
    Ok(exitcode::OK)
}

pub fn render(w: &mut dyn std::io::Write) -> std::io::Result<()> {
    // The actions are rendered below, one section each: not clap's after_help text block.
    let cmd = Cli::command().after_help(None::<&str>);
    let man = clap_mangen::Man::new(cmd)
        .source(format!("svcmgr {}", env!("CARGO_PKG_VERSION")))
        .manual("svcmgr manual");
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    description().to_writer(w)?;
    man.render_options_section(w)?;
    actions().to_writer(w)?;
    trailer().to_writer(w)?;
    man.render_version_section(w)
}

fn para(r: &mut Roff, text: &str) {
    r.control("PP", []).text([roman(text)]);
}

fn description() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["DESCRIPTION"]);
    para(
        &mut r,
        "svcmgr keeps each service (IP addresses, LVM volume groups and their SCSI-3 \
         reservations, filesystems, containers) running on exactly one node of a cluster, in \
         the style of OpenSVC. A service is described by an INI file, ROOT/etc/SVC.conf; the \
         node by ROOT/etc/node.toml. Actions on a service take the form",
    );
    r.control("PP", []).text([
        bold("svcmgr -s "),
        italic("SVC"),
        roman(" "),
        italic("ACTION"),
    ]);
    para(
        &mut r,
        "and action words may be split or joined: print status is print_status. A symlink \
         named after a service (see install) runs svcmgr -s with that name.",
    );
    r
}

fn actions() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["ACTIONS"]);
    for a in ACTIONS {
        r.control("SS", [a.title]);
        para(&mut r, a.about);
        r.control("PP", []).text([italic("Examples:")]);
        r.control("RS", ["4"]).control("nf", []);
        for e in a.examples {
            r.text([roman(*e)]);
        }
        r.control("fi", []).control("RE", []);
    }
    r
}

fn trailer() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["EXIT STATUS"]);
    para(
        &mut r,
        "0 success (or nothing to do), 1 failure (also an invalid config or a lock not \
         taken), 2 a usage error, 4 the service has no config on this node. status and \
         prstatus exit with the status code: 0 up, 1 down, 2 warn, 3 n/a, 5 undef, 6 stdby up, \
         7 stdby down.",
    );
    r.control("SH", ["ENVIRONMENT"]);
    r.control("TP", []).text([bold("SVCMGR_ROOT")]).text([roman(
        "Everything under this directory: ROOT/etc (configs), ROOT/var (state), ROOT/log \
             (logs). Unset: /etc/svcmgr, /var/lib/svcmgr and /var/log/svcmgr.",
    )]);
    r.control("SH", ["FILES"]);
    for (f, what) in [
        ("/etc/svcmgr/SVC.conf", "the config of service SVC"),
        (
            "/etc/svcmgr/node.toml",
            "this node: nodename, cluster, ssh to the peers, monitor_interval",
        ),
        (
            "/var/lib/svcmgr",
            "state: locks, status cache, frozen flags, the daemon's API socket lsnr/api.sock",
        ),
        (
            "/var/log/svcmgr/SVC.log",
            "the log of service SVC's actions",
        ),
    ] {
        r.control("TP", []).text([bold(f)]).text([roman(what)]);
    }
    r.control("SH", ["SEE ALSO"]);
    r.control("PP", []).text([
        bold("systemctl"),
        roman("(1), "),
        bold("svcmgr.service"),
        roman(", the README of the source tree."),
    ]);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_a_section_per_action_and_the_options() {
        let mut out = Vec::new();
        render(&mut out).expect("render");
        let page = String::from_utf8(out).expect("utf8");
        assert!(page.contains("\n.TH svcmgr 1 "), "{}", &page[..80]);
        for a in ACTIONS {
            assert!(
                page.contains(&format!(".SS \"{}\"", a.title))
                    || page.contains(&format!(".SS {}", a.title)),
                "{}",
                a.title
            );
        }
        for opt in ["\\-\\-waitlock", "\\-\\-rid", "SVCMGR_ROOT", "EXIT STATUS"] {
            assert!(page.contains(opt), "{opt}");
        }
    }
}
