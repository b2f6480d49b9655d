//! The dashboard's loop: take in the source's events, re-sort rows when due, draw when needed,
//! read keys, and carry out the app's effects. Each concern is one method of [`Loop`].

use std::sync::Mutex;
use std::sync::mpsc::TryRecvError;
use std::thread;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event};
use ratatui::layout::{Rect, Size};

use super::TuiError;
use super::terminal::{Wait, wait_for_input};
use crate::app::{App, Effect};
use crate::export;
use crate::source::{self, SourceHandle};
use crate::ui;

/// At most this often a frame is drawn.
const FRAME: Duration = Duration::from_millis(33);

/// How the event loop ended.
pub enum Ended {
    Quit,
    HungUp,
}

/// What the loop watches besides the source and the keys.
pub struct Guards<'a> {
    /// The source thread's panic message, if it panicked.
    pub source_panic: &'a Mutex<Option<String>>,
    pub stdin_is_tty: bool,
}

/// The loop's own state: what needs drawing and when things last happened.
struct Loop {
    need_draw: bool,
    /// A key is answered with a frame at once; only report-driven redraws wait for the frame slot.
    key_since_draw: bool,
    last_draw: Instant,
    last_refresh: Instant,
    refresh_cost: Duration,
    last_size: Size,
    source_lost: bool,
    /// The background audit's messages, while one runs.
    audit: Option<std::sync::mpsc::Receiver<crate::app::AuditEvent>>,
}

/// Runs until the user quits, a signal arrives or the terminal hangs up.
pub fn run(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    source: &SourceHandle,
    watch: &Guards,
) -> Result<Ended, TuiError> {
    let mut l = Loop {
        need_draw: true,
        key_since_draw: false,
        last_draw: Instant::now() - FRAME,
        last_refresh: Instant::now(),
        refresh_cost: Duration::ZERO,
        last_size: terminal.size()?,
        source_lost: false,
        audit: None,
    };
    loop {
        l.take_events(app, source);
        l.refresh_rows(app);
        if l.draw_if_due(terminal, app, watch.stdin_is_tty)? {
            return Ok(Ended::HungUp);
        }
        if l.read_input(app, watch.stdin_is_tty)? {
            return Ok(Ended::HungUp);
        }
        l.notice_resize(terminal)?;
        if let Some(rx) = carry_out_effects(app, source) {
            l.audit = Some(rx);
        }
        l.notice_source_lost(app, source, watch.source_panic);
        if app.should_quit() || crate::signals::received().is_some() {
            return Ok(Ended::Quit);
        }
    }
}

impl Loop {
    /// Takes in every event the source has sent.
    fn take_events(&mut self, app: &mut App, source: &SourceHandle) {
        loop {
            match source.events.try_recv() {
                Ok(source::Event::Report(r, rate)) => app.on_report(*r, rate),
                Ok(source::Event::Replay(r, newest)) => app.on_replay(*r, newest),
                Ok(source::Event::Message(m)) => app.on_io_done(m),
                Ok(source::Event::Data(ds, part)) => app.set_data(ds, part),
                Ok(source::Event::Edited(ds)) => app.set_edited(ds),
                Ok(source::Event::Ended(why)) => app.on_writer_ended(why),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
            self.need_draw = true;
        }
        while let Some(rx) = &self.audit {
            match rx.try_recv() {
                Ok(e) => {
                    let done = matches!(e, crate::app::AuditEvent::Done(_));
                    app.on_audit(e);
                    self.need_draw = true;
                    if done {
                        self.audit = None;
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    app.on_audit(crate::app::AuditEvent::Done(Err(
                        crate::app::AuditFailure::ThreadEnded,
                    )));
                    self.audit = None;
                }
            }
        }
    }

    /// Re-sorts rows after new predictions, but never more often than every 4x the time a sort
    /// takes, so even a million rows cannot starve the keys.
    fn refresh_rows(&mut self, app: &mut App) {
        if app.view().dirty && self.last_refresh.elapsed() >= self.refresh_cost * 4 {
            let t = Instant::now();
            app.refresh_rows();
            self.refresh_cost = t.elapsed();
            self.last_refresh = Instant::now();
            self.need_draw = true;
        }
    }

    /// Draws a frame if one is needed and due; true if the terminal has hung up.
    fn draw_if_due(
        &mut self,
        terminal: &mut ratatui::DefaultTerminal,
        app: &mut App,
        stdin_is_tty: bool,
    ) -> Result<bool, TuiError> {
        if !(self.need_draw && (self.key_since_draw || self.last_draw.elapsed() >= FRAME)) {
            return Ok(false);
        }
        if wait_for_input(Duration::ZERO, stdin_is_tty) == Wait::HungUp {
            // Drawing to a hung-up terminal fails; the user is gone, so this is a quit.
            return Ok(true);
        }
        let size = terminal.size()?;
        let page = ui::table_page(Rect::new(0, 0, size.width, size.height), app).max(1);
        app.set_page(page);
        terminal.draw(|f| f.render_widget(&*app, f.area()))?;
        self.last_draw = Instant::now();
        self.need_draw = false;
        self.key_since_draw = false;
        Ok(false)
    }

    /// Waits for input until the next frame is due, and answers every key; true on hang-up.
    fn read_input(&mut self, app: &mut App, stdin_is_tty: bool) -> Result<bool, TuiError> {
        let timeout = if self.need_draw {
            FRAME.saturating_sub(self.last_draw.elapsed())
        } else {
            FRAME
        };
        let (crossterm_wait, wait) = match wait_for_input(timeout, stdin_is_tty) {
            Wait::HungUp => return Ok(true),
            Wait::Timeout => (None, false),
            // With stdin a terminal, input is ready: read it without blocking. Otherwise
            // crossterm reads /dev/tty itself and does the waiting.
            Wait::Ready if stdin_is_tty => (Some(Duration::ZERO), true),
            Wait::Ready => (Some(timeout), true),
        };
        if let Some(t) = crossterm_wait {
            let mut first = wait;
            // Keys after a quit stay unread: the tour's next page reads them.
            while !app.should_quit() && event::poll(if first { t } else { Duration::ZERO })? {
                first = false;
                match event::read()? {
                    Event::Key(k) => {
                        if let Some(a) = app.handle_key(k) {
                            app.update(a);
                            self.need_draw = true;
                            self.key_since_draw = true;
                        }
                    }
                    Event::Resize(..) => self.need_draw = true,
                    _ => {}
                }
            }
        }
        Ok(false)
    }

    /// Resizes arrive as a signal that crossterm only reports while reading, so compare sizes.
    fn notice_resize(&mut self, terminal: &mut ratatui::DefaultTerminal) -> Result<(), TuiError> {
        let now = terminal.size()?;
        if now != self.last_size {
            self.last_size = now;
            self.need_draw = true;
        }
        Ok(())
    }

    /// Tells the app once if the source's thread has ended without being asked to.
    fn notice_source_lost(
        &mut self,
        app: &mut App,
        source: &SourceHandle,
        panic: &Mutex<Option<String>>,
    ) {
        if !self.source_lost && source.thread.is_finished() && !app.should_quit() {
            self.source_lost = true;
            let why = panic
                .lock()
                .ok()
                .and_then(|s| s.clone())
                .unwrap_or_else(|| "its thread ended".into());
            app.on_engine_lost(why);
            self.need_draw = true;
        }
    }
}

/// Sends the app's commands to the source, and runs exports and the audit off the UI thread;
/// the audit's messages come back on the receiver returned.
fn carry_out_effects(
    app: &mut App,
    source: &SourceHandle,
) -> Option<std::sync::mpsc::Receiver<crate::app::AuditEvent>> {
    let mut audit = None;
    for eff in app.take_effects() {
        match eff {
            Effect::Audit => audit = super::audit::spawn(app),
            Effect::Source(cmd) => {
                // A closed channel means the source ended; the loop notices that separately.
                let _ = source.control.send(cmd);
            }
            Effect::Export(path) => {
                if let Some(r) = app.report().clone() {
                    let (ds, part, k) = (app.ds().clone(), app.part().clone(), app.ui().outlier_k);
                    // The labels' kind as the caller set it, else read from the data.
                    let labels = app
                        .labels()
                        .unwrap_or_else(|| crate::labels::LabelInfo::detect(&ds));
                    let map = app.datamap().clone();
                    let edits = (!app.edits().is_empty()).then(|| app.edits().clone());
                    let tx = source.events_tx.clone();
                    // Off the UI thread: a million rows take a while to write.
                    thread::spawn(move || {
                        let job = export::Job {
                            path: &path,
                            report: &r,
                            ds: &ds,
                            part: &part,
                            outlier_k: k,
                            map: map.as_ref(),
                            labels: &labels,
                            edits: edits.as_ref(),
                        };
                        let msg = match export::run(&job) {
                            Ok(w) => w.message(&path),
                            Err(e) => format!("export failed: {e}"),
                        };
                        let _ = tx.send(source::Event::Message(msg));
                    });
                }
            }
        }
    }
    audit
}
