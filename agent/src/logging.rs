//! Action log lines: `HH:MM:SS LEVEL   SVC.RID message`, on the console and in
//! `R/log/<svc>.log`.
//!
//! The service is a field of the span an action runs in ([`service_span`]), not a global:
//! one process (a relocation, the daemon's tests) may log for several services. Drivers emit
//! events with a `rid` field. Events outside any service span go to the console only.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

use crate::paths::Root;

/// The span every action of service `svc` runs in: its lines are prefixed `SVC` and also
/// written to that service's log file.
pub fn service_span(svc: &str) -> tracing::Span {
    tracing::info_span!("service", svc = svc)
}

/// Install the line format once per process: console (stdout) and, for events in a service
/// span, `<root>/log/<svc>.log`. A log file that cannot be opened is reported once and
/// the action runs on.
pub fn init(root: &Root) {
    let layer = Lines {
        log_dir: root.log.clone(),
        files: Mutex::new(HashMap::new()),
    };
    let filter = tracing_subscriber::filter::LevelFilter::INFO;
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
}

/// Console lines on stderr instead of stdout (`console_to_stderr`).
static CONSOLE_STDERR: AtomicBool = AtomicBool::new(false);

/// From now on, write console lines to stderr: stdout is another program's output (the
/// engine CLI run on a service's store).
pub fn console_to_stderr() {
    CONSOLE_STDERR.store(true, Ordering::Relaxed);
}

struct Lines {
    log_dir: PathBuf,
    /// Per service: the open log file, or None when it could not be opened.
    files: Mutex<HashMap<String, Option<File>>>,
}

/// The service name recorded on a span.
struct SvcName(String);

#[derive(Default)]
struct Fields {
    svc: Option<String>,
    rid: Option<String>,
    message: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "svc" => self.svc = Some(value.to_string()),
            "rid" => self.rid = Some(value.to_string()),
            "message" => self.message = value.to_string(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "svc" => self.svc = Some(format!("{value:?}").trim_matches('"').to_string()),
            "rid" => self.rid = Some(format!("{value:?}").trim_matches('"').to_string()),
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            _ => {}
        }
    }
}

impl<S> Layer<S> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        if let (Some(svc), Some(span)) = (f.svc, ctx.span(id)) {
            span.extensions_mut().insert(SvcName(svc));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let svc = ctx.event_scope(event).and_then(|scope| {
            scope
                .from_root()
                .filter_map(|span| span.extensions().get::<SvcName>().map(|n| n.0.clone()))
                .last()
        });
        let who = svc.as_deref().map(str::to_uppercase);
        let now = chrono::Local::now();
        let body = format!(
            "{:<8}{} {}\n",
            level_word(event.metadata().level()),
            prefix(who.as_deref().unwrap_or("SVCMGR"), f.rid.as_deref()),
            f.message
        );
        let line = format!("{} {body}", now.format("%H:%M:%S"));
        // A closed console must not abort an action: the line still goes to the file.
        let _ = if CONSOLE_STDERR.load(Ordering::Relaxed) {
            std::io::stderr().lock().write_all(line.as_bytes())
        } else {
            std::io::stdout().lock().write_all(line.as_bytes())
        };
        // Files keep the date too: `logs --since` reads it.
        let dated = format!("{} {body}", now.format(FILE_TIME));
        match svc {
            Some(svc) => self.to_file(&format!("{svc}.log"), &dated, true),
            // The node's own lines (the daemon's, a boot's): best effort, a user that
            // may not write the log directory is not warned on every command.
            None => self.to_file(NODE_LOG, &dated, false),
        }
    }
}

/// The node's log file in `R/log/`: lines outside any service.
pub const NODE_LOG: &str = "node.log";

/// The time at the start of each log file line (local time).
pub const FILE_TIME: &str = "%Y-%m-%d %H:%M:%S";

impl Lines {
    fn to_file(&self, name: &str, line: &str, warn: bool) {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let f = files.entry(name.to_string()).or_insert_with(|| {
            let path = self.log_dir.join(name);
            let _ = std::fs::create_dir_all(&self.log_dir);
            match OpenOptions::new().create(true).append(true).open(&path) {
                Ok(f) => Some(f),
                Err(e) => {
                    if warn {
                        eprintln!("warning: can not open log file {}: {e}", path.display());
                    }
                    None
                }
            }
        });
        if let Some(f) = f {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

pub fn level_word(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// `SVC.RID` as printed: upper-case, like the seed's session.
pub fn prefix(who: &str, rid: Option<&str>) -> String {
    match rid {
        Some(r) => format!("{who}.{}", r.to_uppercase()),
        None => who.to_string(),
    }
}

/// Wrap `f`, to be run on a new thread, in the current span and subscriber (threads inherit
/// neither), so what it logs keeps its service.
pub fn in_span<T>(f: impl FnOnce() -> T) -> impl FnOnce() -> T {
    let span = tracing::Span::current();
    let dispatch = tracing::dispatcher::get_default(|d| d.clone());
    move || tracing::dispatcher::with_default(&dispatch, || span.in_scope(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(prefix("BUSYBOX", Some("ip#1")), "BUSYBOX.IP#1");
        assert_eq!(prefix("BUSYBOX", None), "BUSYBOX");
        assert_eq!(format!("{:<8}|", level_word(&Level::INFO)), "INFO    |");
    }

    #[test]
    fn lines_go_to_the_file_of_the_span_service() {
        let d = std::env::temp_dir().join(format!("svcmgr-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let root = Root::under(&d);
        let layer = Lines {
            log_dir: root.log.clone(),
            files: Mutex::new(HashMap::new()),
        };
        let sub = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(sub, || {
            service_span("web").in_scope(|| tracing::info!(rid = "ip#1", "one"));
            service_span("db").in_scope(|| {
                std::thread::scope(|s| {
                    s.spawn(in_span(|| tracing::warn!("two"))).join().unwrap();
                })
            });
            tracing::info!("node level");
        });
        let web = std::fs::read_to_string(root.log.join("web.log")).unwrap();
        assert!(web.ends_with("INFO    WEB.IP#1 one\n"), "{web}");
        // YYYY-MM-DD HH:MM:SS first.
        let (date, rest) = web.split_at(19);
        assert!(
            chrono::NaiveDateTime::parse_from_str(date, FILE_TIME).is_ok(),
            "{web}"
        );
        assert_eq!(rest, " INFO    WEB.IP#1 one\n");
        let db = std::fs::read_to_string(root.log.join("db.log")).unwrap();
        assert!(db.ends_with("WARNING DB two\n"), "{db}");
        let node = std::fs::read_to_string(root.log.join(NODE_LOG)).unwrap();
        assert!(node.ends_with(" INFO    SVCMGR node level\n"), "{node}");
        let names: Vec<_> = std::fs::read_dir(&root.log).unwrap().collect();
        assert_eq!(names.len(), 3);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
