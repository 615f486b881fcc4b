//! Action log lines: `HH:MM:SS LEVEL   SVC.RID message`, on the console and in
//! `R/log/<svc>.log`. Drivers emit tracing events with a `rid` field.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

struct LineFormat {
    who: String,
}

#[derive(Default)]
struct Fields {
    rid: Option<String>,
    message: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "rid" => self.rid = Some(value.to_string()),
            "message" => self.message = value.to_string(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "rid" => self.rid = Some(format!("{value:?}").trim_matches('"').to_string()),
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            _ => {}
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

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        writeln!(
            writer,
            "{} {:<8}{} {}",
            chrono::Local::now().format("%H:%M:%S"),
            level_word(event.metadata().level()),
            prefix(&self.who, f.rid.as_deref()),
            f.message
        )
    }
}

/// Log action lines of service `svc` to stdout and to `log_file` (when it can be opened;
/// a read-only root still lets the action run, with a warning).
pub fn init(svc: &str, log_file: Option<&Path>) {
    init_on(svc, log_file, std::io::stdout)
}

/// `init` with the console lines on stderr: stdout is another program's output.
pub fn init_stderr(svc: &str, log_file: Option<&Path>) {
    init_on(svc, log_file, std::io::stderr)
}

fn init_on<W>(svc: &str, log_file: Option<&Path>, console: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let format = LineFormat {
        who: svc.to_uppercase(),
    };
    let file = log_file.and_then(|p| {
        let _ = std::fs::create_dir_all(p.parent()?);
        match OpenOptions::new().create(true).append(true).open(p) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("warning: can not open log file {}: {e}", p.display());
                None
            }
        }
    });
    let builder = tracing_subscriber::fmt()
        .with_max_level(Level::INFO)
        .with_ansi(false)
        .event_format(format);
    let _ = match file {
        Some(f) => builder.with_writer(console.and(Mutex::new(f))).try_init(),
        None => builder.with_writer(console).try_init(),
    };
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
}
