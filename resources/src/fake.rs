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
