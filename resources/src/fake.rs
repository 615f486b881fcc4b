//! A stateful fake driver for the engine's tests (ordering, rollback, idempotence), compiled
//! with the `fakes` feature only.

use std::sync::{Arc, Mutex};

use crate::{Ctx, Driver, Error, ResStatus, Result, Status};

/// What happened to every fake of a test, in order: `start ip#1`, `stop fs#1`...
pub type Journal = Arc<Mutex<Vec<String>>>;

pub struct Fake {
    rid: String,
    up: Mutex<bool>,
    fail_start: bool,
    /// A start that fails after doing part of its work.
    partial_start: bool,
    fail_stop: bool,
    journal: Journal,
}

impl Fake {
    pub fn new(rid: &str, journal: &Journal) -> Fake {
        Fake {
            rid: rid.into(),
            up: Mutex::new(false),
            fail_start: false,
            partial_start: false,
            fail_stop: false,
            journal: journal.clone(),
        }
    }

    pub fn up(self) -> Fake {
        *self.up.lock().unwrap() = true;
        self
    }

    pub fn failing_start(mut self) -> Fake {
        self.fail_start = true;
        self
    }

    /// Fails its start after coming (partly) up.
    pub fn failing_start_partly_up(mut self) -> Fake {
        self.fail_start = true;
        self.partial_start = true;
        self
    }

    pub fn failing_stop(mut self) -> Fake {
        self.fail_stop = true;
        self
    }

    fn note(&self, what: &str) {
        self.journal
            .lock()
            .unwrap()
            .push(format!("{what} {}", self.rid));
    }
}

impl Driver for Fake {
    fn rid(&self) -> &str {
        &self.rid
    }

    fn label(&self) -> String {
        format!("fake {}", self.rid)
    }

    fn status(&self, _ctx: &Ctx) -> ResStatus {
        ResStatus::new(if *self.up.lock().unwrap() {
            Status::Up
        } else {
            Status::Down
        })
    }

    fn start(&self, _ctx: &Ctx) -> Result<bool> {
        let mut up = self.up.lock().unwrap();
        if *up {
            return Ok(false);
        }
        if self.fail_start {
            self.note("fail-start");
            *up = self.partial_start;
            return Err(Error::Failed("fake start failure".into()));
        }
        self.note("start");
        *up = true;
        Ok(true)
    }

    fn stop(&self, _ctx: &Ctx) -> Result<bool> {
        let mut up = self.up.lock().unwrap();
        if !*up {
            return Ok(false);
        }
        if self.fail_stop {
            self.note("fail-stop");
            return Err(Error::Failed("fake stop failure".into()));
        }
        self.note("stop");
        *up = false;
        Ok(true)
    }
}

/// A recording executor: every command is recorded (as its display line) and answered from
/// rules matched on an argv prefix, in the order they were added; a rule added with `once`
/// answers one time. A command no rule matches exits 0 with no output.
#[derive(Debug, Default)]
pub struct Recorder {
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<Vec<String>>,
    /// How spawned daemons end: None, they run.
    daemon_exit: Mutex<Option<(i32, String)>>,
}

#[derive(Debug)]
struct Rule {
    prefix: Vec<String>,
    reply: Result<crate::exec::Output, crate::exec::ExecError>,
    once: bool,
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    fn add(
        &self,
        prefix: &[&str],
        reply: Result<crate::exec::Output, crate::exec::ExecError>,
        once: bool,
    ) {
        self.rules.lock().unwrap().push(Rule {
            prefix: prefix.iter().map(|s| s.to_string()).collect(),
            reply,
            once,
        });
    }

    /// Answer every command starting with `prefix` with exit `code` and `stdout`.
    pub fn on(&self, prefix: &[&str], code: i32, stdout: &str) -> &Recorder {
        let out = crate::exec::Output {
            code,
            stdout: stdout.into(),
            stderr: String::new(),
        };
        self.add(prefix, Ok(out), false);
        self
    }

    /// Answer the next command starting with `prefix` once (before the `on` rules).
    pub fn once(&self, prefix: &[&str], code: i32, stdout: &str, stderr: &str) -> &Recorder {
        let out = crate::exec::Output {
            code,
            stdout: stdout.into(),
            stderr: stderr.into(),
        };
        self.add(prefix, Ok(out), true);
        self
    }

    /// Commands starting with `prefix` time out.
    pub fn hang(&self, prefix: &[&str]) -> &Recorder {
        let argv = prefix.join(" ");
        let err = crate::exec::ExecError::Timeout {
            argv,
            timeout: std::time::Duration::from_secs(1),
            reaped: true,
            stdout: String::new(),
            stderr: String::new(),
        };
        self.add(prefix, Err(err), false);
        self
    }

    /// The command lines run so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// The command lines run so far that start with `word`.
    pub fn calls_of(&self, word: &str) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.split(' ').next() == Some(word))
            .collect()
    }
}

/// A daemon "spawned" by the [`Recorder`]: it runs, or has ended when `daemons_fail` was set.
#[derive(Debug)]
struct FakeDaemon {
    exit: Arc<Mutex<Option<i32>>>,
}

impl crate::exec::Spawned for FakeDaemon {
    fn pid(&self) -> u32 {
        0
    }

    fn exited(&mut self) -> Option<i32> {
        *self.exit.lock().unwrap()
    }
}

impl Recorder {
    /// Daemons spawned from now on end at once with `code` and print `log` into their log.
    pub fn daemons_fail(&self, code: i32, log: &str) -> &Recorder {
        *self.daemon_exit.lock().unwrap() = Some((code, log.to_string()));
        self
    }
}

impl crate::ctx::Executor for Recorder {
    fn spawn(
        &self,
        cmd: &crate::exec::Cmd,
        log: &std::path::Path,
    ) -> std::result::Result<Box<dyn crate::exec::Spawned>, crate::exec::ExecError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("spawn {}", cmd.display()));
        let exit = self.daemon_exit.lock().unwrap().clone();
        if let Some((_, text)) = &exit {
            let _ = std::fs::create_dir_all(log.parent().unwrap_or(std::path::Path::new("/")));
            let _ = std::fs::write(log, text);
        }
        Ok(Box::new(FakeDaemon {
            exit: Arc::new(Mutex::new(exit.map(|e| e.0))),
        }))
    }

    fn output(
        &self,
        cmd: &crate::exec::Cmd,
    ) -> std::result::Result<crate::exec::Output, crate::exec::ExecError> {
        self.calls.lock().unwrap().push(cmd.display());
        let mut rules = self.rules.lock().unwrap();
        let hit = |r: &Rule| cmd.argv.starts_with(&r.prefix);
        let pos = rules
            .iter()
            .position(|r| r.once && hit(r))
            .or_else(|| rules.iter().position(hit));
        match pos {
            Some(i) if rules[i].once => rules.remove(i).reply,
            Some(i) => rules[i].reply.clone(),
            None => Ok(crate::exec::Output::default()),
        }
    }
}
