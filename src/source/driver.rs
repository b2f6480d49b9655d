//! The thread that runs a [`Source`] for the dashboard: steps when asked, paces running at the
//! requested speed, measures the rate, and sends every report. The UI thread never waits on it.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{Capabilities, Control, Event, Source};
use crate::engine::StepReport;

/// The driver thread's name; the dashboard reports its panics on screen instead of restoring the
/// terminal under a UI that is still running.
pub const THREAD_NAME: &str = "segscope-source";

/// A running source: its reports come in on `events`, commands go out on `control`.
pub struct SourceHandle {
    pub capabilities: Capabilities,
    pub events: Receiver<Event>,
    /// A sender for the same channel, for work done beside the source (exports).
    pub events_tx: Sender<Event>,
    pub control: Sender<Control>,
    pub thread: JoinHandle<()>,
}

/// Starts `source` on its own thread, running at `speed` steps per second when asked to run
/// (0 = as fast as possible). Its first event is the report of its current state.
pub fn spawn(source: Box<dyn Source>, speed: f64) -> std::io::Result<SourceHandle> {
    let capabilities = source.capabilities();
    spawn_thread(capabilities, move |cmds, tx| drive(source, speed, cmds, tx))
}

/// Runs `body` on the source thread with the command and event channels the dashboard uses.
pub fn spawn_thread(
    capabilities: Capabilities,
    body: impl FnOnce(Receiver<Control>, Sender<Event>) + Send + 'static,
) -> std::io::Result<SourceHandle> {
    let (control, cmds) = mpsc::channel::<Control>();
    let (events_tx, events) = mpsc::channel::<Event>();
    let tx = events_tx.clone();
    let thread = thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || body(cmds, tx))?;
    Ok(SourceHandle {
        capabilities,
        events,
        events_tx,
        control,
        thread,
    })
}

/// Steps per second over the last two seconds.
#[derive(Debug, Default)]
pub struct RateMeter {
    times: VecDeque<Instant>,
}

impl RateMeter {
    /// Counts a step now; the rate so far.
    pub fn tick(&mut self) -> f64 {
        let now = Instant::now();
        self.times.push_back(now);
        while self
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(2))
        {
            self.times.pop_front();
        }
        match (self.times.front(), self.times.len()) {
            (Some(first), n) if n >= 2 => {
                (n - 1) as f64 / now.duration_since(*first).as_secs_f64().max(1e-6)
            }
            _ => 0.0,
        }
    }
}

/// What pacing needs to know: steps still owed, whether to run on, how fast, and when next.
struct Pace {
    pending: u64,
    running: bool,
    speed: f64,
    next_due: Instant,
}

impl Pace {
    fn busy(&self) -> bool {
        self.running || self.pending > 0
    }

    /// How long to wait for a command before the next step is due.
    fn wait(&self) -> Duration {
        if self.pending == 0 && self.running && self.speed > 0.0 {
            self.next_due.saturating_duration_since(Instant::now())
        } else {
            Duration::ZERO
        }
    }

    /// Whether a step may be taken now.
    fn due(&self) -> bool {
        self.pending > 0 || self.speed <= 0.0 || Instant::now() >= self.next_due
    }

    /// A step was taken.
    fn stepped(&mut self, halted: bool) {
        if self.speed > 0.0 && self.pending == 0 {
            self.next_due =
                (self.next_due + Duration::from_secs_f64(1.0 / self.speed)).max(Instant::now());
        }
        self.pending = self.pending.saturating_sub(1);
        if halted {
            self.stop();
        }
    }

    fn stop(&mut self) {
        self.running = false;
        self.pending = 0;
    }
}

/// Sends the report of a state the source went back to and says so (`done` then its step), or
/// says why it could not (`none`). False when the app has gone.
fn went_back(out: &Sender<Event>, r: Option<StepReport>, done: &str, none: &str) -> bool {
    match r {
        Some(r) => {
            let msg = format!("{done} {}", r.step);
            out.send(Event::Report(Box::new(r), 0.0)).is_ok()
                && out.send(Event::Message(msg)).is_ok()
        }
        None => out.send(Event::Message(none.into())).is_ok(),
    }
}

fn drive(mut source: Box<dyn Source>, speed: f64, cmds: Receiver<Control>, out: Sender<Event>) {
    let first = source.current();
    if out.send(Event::Report(Box::new(first), 0.0)).is_err() {
        return;
    }
    let mut pace = Pace {
        pending: 0,
        running: false,
        speed,
        next_due: Instant::now(),
    };
    let mut meter = RateMeter::default();
    loop {
        let cmd = if pace.busy() {
            match cmds.recv_timeout(pace.wait()) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match cmds.recv() {
                Ok(c) => Some(c),
                Err(_) => return,
            }
        };
        if let Some(c) = cmd {
            if !obey(source.as_mut(), c, &mut pace, &out) {
                return;
            }
            // Take every queued command before the next step, so a pause is never late.
            continue;
        }
        if !pace.due() {
            continue;
        }
        let r = source.advance();
        pace.stepped(r.diverged.is_some());
        if out.send(Event::Report(Box::new(r), meter.tick())).is_err() {
            return;
        }
    }
}

/// Carries out one command; false when the driver must stop (Quit, or nobody listens).
fn obey(source: &mut dyn Source, c: Control, pace: &mut Pace, out: &Sender<Event>) -> bool {
    match c {
        Control::Step(n) => pace.pending += n,
        Control::Run => {
            pace.running = true;
            pace.next_due = Instant::now();
        }
        Control::Pause => pace.stop(),
        Control::SetSpeed(s) => pace.speed = s,
        Control::Save(dir) => {
            let msg = match source.save(&dir) {
                Ok(p) => format!("saved checkpoint {}", p.display()),
                Err(e) => format!("checkpoint not saved: {e}"),
            };
            if out.send(Event::Message(msg)).is_err() {
                return false;
            }
        }
        Control::RestoreBest => {
            pace.stop();
            let r = source.restore_best();
            if !went_back(
                out,
                r,
                "restored the best model, of step",
                "no best model to restore: there is no dev split, or no step yet",
            ) {
                return false;
            }
        }
        Control::Back(_) => {
            if out
                .send(Event::Message(
                    "the trainer keeps no earlier steps to go back to".into(),
                ))
                .is_err()
            {
                return false;
            }
        }
        Control::Mark => {
            let msg = match source.mark() {
                Ok(m) => format!(
                    "marked step {}: {} mark{} kept, {:.1} MB of weights and optimiser state; b rewinds",
                    m.step,
                    m.kept,
                    if m.kept == 1 { "" } else { "s" },
                    m.bytes as f64 / 1e6
                ),
                Err(e) => format!("not marked: {e}"),
            };
            if out.send(Event::Message(msg)).is_err() {
                return false;
            }
        }
        Control::Rewind => {
            pace.stop();
            let r = source.rewind();
            if !went_back(
                out,
                r,
                "rewound to the mark at step",
                "no mark to rewind to: m marks a step",
            ) {
                return false;
            }
        }
        Control::SetEdits(edits) => {
            let n = edits.list.len();
            let sent = match source.set_edits(edits) {
                Ok(ds) => {
                    let r = source.current();
                    out.send(Event::Edited(ds)).is_ok()
                        && out.send(Event::Report(Box::new(r), 0.0)).is_ok()
                        && out
                            .send(Event::Message(format!(
                                "{n} edit{} in force from the next step",
                                if n == 1 { "" } else { "s" }
                            )))
                            .is_ok()
                }
                Err(e) => out
                    .send(Event::Message(format!("edit refused: {e}")))
                    .is_ok(),
            };
            if !sent {
                return false;
            }
        }
        Control::Quit => return false,
    }
    true
}
