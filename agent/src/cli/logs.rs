//! `svcmgr -s SVC logs` (the service's log) and `svcmgr logs` (the node's): filters
//! `--since`, `--rid`, `--level`; `--follow` prints what is appended, until interrupted.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use super::{Cli, Format};
use crate::exitcode;
use crate::logview::{self, Filter, Level, Record};
use crate::paths::Root;

/// How often `--follow` looks for new lines.
const POLL: Duration = Duration::from_millis(200);

fn filter(cli: &Cli) -> anyhow::Result<Filter> {
    let since = cli
        .since
        .as_deref()
        .map(|s| logview::parse_since(s, logview::local_now()))
        .transpose()?;
    let level = match cli.level.as_deref() {
        None => None,
        Some(l) => Some(Level::parse(l).ok_or_else(|| {
            anyhow::anyhow!("bad --level '{l}': expected error, warning, info or debug")
        })?),
    };
    Ok(Filter {
        since,
        rids: cli.rid.clone(),
        level,
    })
}

/// Prints records; a line continuing a record printed in an earlier read follows the
/// decision made for that record.
struct Printer {
    filter: Filter,
    json: bool,
    last_kept: bool,
}

impl Printer {
    /// False when stdout is closed (`logs | head`): stop.
    fn print(&mut self, records: &[Record]) -> bool {
        let mut out = std::io::stdout().lock();
        for r in records {
            let orphan = r.clock.is_empty();
            let keep = if orphan {
                self.last_kept
            } else {
                self.filter.keeps(r)
            };
            self.last_kept = keep;
            if !keep {
                continue;
            }
            let line = if self.json {
                serde_json::to_string(r).unwrap_or_default()
            } else if orphan {
                r.message.clone()
            } else {
                r.text(true)
            };
            if writeln!(out, "{line}").is_err() {
                return false;
            }
        }
        out.flush().is_ok()
    }
}

fn log_path(root: &Root, svc: Option<&str>) -> PathBuf {
    match svc {
        Some(s) => root.log_file(s),
        None => root.log.join(crate::logging::NODE_LOG),
    }
}

/// Complete lines from `offset` on; returns them and the new offset. A file that shrank
/// (rotated, truncated) is read again from its start.
fn read_from(path: &Path, offset: u64) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = if len < offset { 0 } else { offset };
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let end = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    buf.truncate(end);
    Ok((
        String::from_utf8_lossy(&buf).into_owned(),
        start + end as u64,
    ))
}

pub fn logs(root: &Root, svc: Option<&str>, cli: &Cli) -> anyhow::Result<i32> {
    let path = log_path(root, svc);
    let mut p = Printer {
        filter: filter(cli)?,
        json: cli.format == Format::Json,
        last_kept: false,
    };
    let mut offset = 0;
    match read_from(&path, 0) {
        Ok((text, next)) => {
            offset = next;
            if !p.print(&logview::parse(&text, svc)) {
                return Ok(exitcode::OK);
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && cli.follow => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!("no log file {} (nothing logged yet)", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    }
    if !cli.follow {
        return Ok(exitcode::OK);
    }
    loop {
        std::thread::sleep(POLL);
        let (text, next) = match read_from(&path, offset) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
        };
        offset = next;
        if !text.is_empty() && !p.print(&logview::parse(&text, svc)) {
            return Ok(exitcode::OK);
        }
    }
}
