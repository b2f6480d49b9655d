//! The dashboard's runtime: terminal setup and restore, the event loop, and the training worker.
//!
//! The trainer lives on its own thread and sends a report per step; the UI thread never waits for
//! a step. It drains reports, answers keys, and draws at most ~30 frames a second. The terminal is
//! restored on every exit path: quit, error (a guard's Drop), panic (ratatui's hook), and
//! SIGINT/SIGTERM (a flag the loop checks; Ctrl-C typed in raw mode arrives as a key).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event};
use ratatui::layout::Rect;

use crate::app::{App, Effect, EngineCmd, Keymap, RunInfo};
use crate::config::Config;
use crate::engine::{StepReport, Trainer, checkpoint};
use crate::export;
use crate::session::Session;
use crate::ui;

/// At most this often a frame is drawn.
const FRAME: Duration = Duration::from_millis(33);

/// The training thread's name; its panics are reported on screen instead of restoring the
/// terminal under a UI that is still running.
const WORKER: &str = "segscope-trainer";

/// What the worker (and export helpers) tell the UI.
pub enum Msg {
    Report(Box<StepReport>, f64),
    Io(String),
}

/// Paths the dashboard writes to.
#[derive(Debug, Clone)]
pub struct Outputs {
    pub save_dir: PathBuf,
    pub export_path: PathBuf,
}

/// Restores the terminal when dropped, so an early return or `?` cannot leave it raw.
struct RestoreGuard;

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        // try_restore, not restore: restore reports failure with eprintln!, which panics when the
        // terminal is gone, and a panic in drop aborts.
        let _ = ratatui::try_restore();
    }
}

/// What waiting on the terminal found.
#[derive(Debug, PartialEq)]
enum Wait {
    /// Input may be ready (or stdin is not a terminal, so crossterm must be asked).
    Ready,
    Timeout,
    /// The terminal hung up: its window closed or its ssh session dropped.
    HungUp,
}

/// Waits up to `timeout` for input on the terminal.
///
/// crossterm's own poll, once the tty reads end-of-file after a hang-up, loops on `read` forever
/// without returning (seen here: 82,000 reads a second at full CPU, no SIGHUP delivered), so a
/// dashboard whose window closed would spin a core for nobody. Asking the kernel first lets the
/// dashboard notice the hang-up and exit; crossterm is only called when there is input to read.
fn wait_for_input(timeout: Duration, stdin_is_tty: bool) -> Wait {
    if !stdin_is_tty {
        return Wait::Ready;
    }
    #[cfg(unix)]
    {
        let mut fds = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd; poll only writes its `revents`.
        let n = unsafe { libc::poll(&mut fds, 1, ms) };
        if n > 0 && fds.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            Wait::HungUp
        } else if n > 0 {
            Wait::Ready
        } else {
            // 0 = timeout; < 0 = interrupted by a signal (a resize, Ctrl-C): the loop goes on.
            Wait::Timeout
        }
    }
    #[cfg(not(unix))]
    {
        let _ = timeout;
        Wait::Ready
    }
}

/// Steps per second over the last two seconds.
struct RateMeter {
    times: std::collections::VecDeque<Instant>,
}

impl RateMeter {
    fn tick(&mut self) -> f64 {
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

/// The training worker: steps when asked, at the requested speed, and reports every step.
fn worker(mut trainer: Trainer, config: Config, cmds: Receiver<EngineCmd>, out: Sender<Msg>) {
    let first = trainer.snapshot_report();
    if out.send(Msg::Report(Box::new(first), 0.0)).is_err() {
        return;
    }
    let mut pending = 0u64;
    let mut running = false;
    let mut speed = config.ui.steps_per_second;
    let mut next_due = Instant::now();
    let mut meter = RateMeter {
        times: Default::default(),
    };
    loop {
        let busy = running || pending > 0;
        let wait = if pending == 0 && running && speed > 0.0 {
            next_due.saturating_duration_since(Instant::now())
        } else {
            Duration::ZERO
        };
        let cmd = if busy {
            match cmds.recv_timeout(wait) {
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
            match c {
                EngineCmd::Step(n) => pending += n,
                EngineCmd::Run => {
                    running = true;
                    next_due = Instant::now();
                }
                EngineCmd::Pause => {
                    running = false;
                    pending = 0;
                }
                EngineCmd::SetSpeed(s) => speed = s,
                EngineCmd::Save(dir) => {
                    let msg = match checkpoint::save(&dir, &trainer, &config) {
                        Ok(p) => format!("saved checkpoint {}", p.display()),
                        Err(e) => format!("checkpoint not saved: {e}"),
                    };
                    if out.send(Msg::Io(msg)).is_err() {
                        return;
                    }
                }
                EngineCmd::Quit => return,
            }
            // Take every queued command before the next step, so a pause is never late.
            continue;
        }
        if pending == 0 && speed > 0.0 && Instant::now() < next_due {
            continue;
        }
        let r = trainer.step();
        if speed > 0.0 && pending == 0 {
            next_due = (next_due + Duration::from_secs_f64(1.0 / speed)).max(Instant::now());
        }
        pending = pending.saturating_sub(1);
        let diverged = r.diverged.is_some();
        if out.send(Msg::Report(Box::new(r), meter.tick())).is_err() {
            return;
        }
        if diverged {
            running = false;
            pending = 0;
        }
    }
}

/// Builds the app state for a session.
pub fn make_app(session: &Session, keymap: Keymap, outputs: &Outputs) -> App {
    let c = &session.config;
    let info = RunInfo {
        backend: c.backend.name().to_string(),
        loss: session.trainer.settings().loss.name().to_string(),
        optimizer: format!("{:?}", c.train.optimizer).to_lowercase(),
        lr: c.train.lr,
        batch_size: c.train.batch_size,
        data: session.dataset.source.clone(),
        save_dir: outputs.save_dir.clone(),
        export_path: outputs.export_path.clone(),
    };
    App::new(session.dataset.clone(), c.ui.clone(), info, keymap)
}

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// Runs the dashboard until the user quits.
pub fn run(session: Session, keymap: Keymap, outputs: Outputs) -> Result<(), TuiError> {
    let mut app = make_app(&session, keymap, &outputs);
    let Session {
        config, trainer, ..
    } = session;
    let (cmd_tx, cmd_rx) = mpsc::channel::<EngineCmd>();
    let (msg_tx, msg_rx) = mpsc::channel::<Msg>();
    let worker_tx = msg_tx.clone();
    let worker = thread::Builder::new()
        .name(WORKER.into())
        .spawn(move || worker(trainer, config, cmd_rx, worker_tx))?;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // If a handler cannot be installed (one already is), SIGINT keeps its default action;
        // typed Ctrl-C still quits through the keymap.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }

    // Asked once, now: after a hang-up isatty(0) answers false, which would hide the hang-up.
    let stdin_is_tty = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let mut terminal = ratatui::try_init()?;
    let guard = RestoreGuard;
    let worker_panic: Arc<Mutex<Option<String>>> = Arc::default();
    {
        // ratatui's hook (installed by try_init) restores the terminal on any panic; keep that
        // for the UI thread, but a worker panic must not pull the screen from under the UI.
        let slot = worker_panic.clone();
        let ratatui_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if thread::current().name() == Some(WORKER) {
                if let Ok(mut s) = slot.lock() {
                    *s = Some(info.to_string().replace('\n', " "));
                }
            } else {
                ratatui_hook(info);
            }
        }));
    }
    let outcome = event_loop(
        &mut terminal,
        &mut app,
        &Channels {
            cmd_tx: &cmd_tx,
            msg_tx: &msg_tx,
            msg_rx: &msg_rx,
        },
        &stop,
        &worker,
        &worker_panic,
        stdin_is_tty,
    );
    let _ = cmd_tx.send(EngineCmd::Quit);
    drop(cmd_tx);
    let gone = wait_for_input(Duration::ZERO, stdin_is_tty) == Wait::HungUp;
    let result = match outcome {
        // A write error on a hung-up terminal is the same end as noticing the hang-up.
        _ if gone => {
            // Nothing to restore on a terminal that is gone. Terminal's Drop would try to show the
            // cursor and eprintln! its failure, which panics with no stderr, so it is not dropped.
            std::mem::forget(guard);
            std::mem::forget(terminal);
            Ok(())
        }
        Ok(_) => {
            drop(guard);
            Ok(())
        }
        Err(e) => {
            drop(guard);
            Err(e)
        }
    };
    // The worker finishes at most its current step.
    let _ = worker.join();
    result
}

/// How the event loop ended.
enum Ended {
    Quit,
    HungUp,
}

struct Channels<'a> {
    cmd_tx: &'a Sender<EngineCmd>,
    msg_tx: &'a Sender<Msg>,
    msg_rx: &'a Receiver<Msg>,
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    ch: &Channels,
    stop: &AtomicBool,
    worker: &thread::JoinHandle<()>,
    worker_panic: &Mutex<Option<String>>,
    stdin_is_tty: bool,
) -> Result<Ended, TuiError> {
    let Channels {
        cmd_tx,
        msg_tx,
        msg_rx,
    } = *ch;
    let mut need_draw = true;
    // A key is answered with a frame at once; only report-driven redraws wait for the frame slot.
    let mut key_since_draw = false;
    let mut last_draw = Instant::now() - FRAME;
    let mut engine_lost = false;
    let mut last_refresh = Instant::now();
    let mut refresh_cost = Duration::ZERO;
    let mut last_size = terminal.size()?;
    loop {
        loop {
            match msg_rx.try_recv() {
                Ok(Msg::Report(r, rate)) => {
                    app.on_report(*r, rate);
                    need_draw = true;
                }
                Ok(Msg::Io(m)) => {
                    app.on_io_done(m);
                    need_draw = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => break,
            }
        }
        // Rows are re-sorted after new predictions, but never more often than every 4x the time a
        // sort takes, so even a million rows cannot starve the keys.
        if app.view.dirty && last_refresh.elapsed() >= refresh_cost * 4 {
            let t = Instant::now();
            app.refresh_rows();
            refresh_cost = t.elapsed();
            last_refresh = Instant::now();
            need_draw = true;
        }
        if need_draw && (key_since_draw || last_draw.elapsed() >= FRAME) {
            if wait_for_input(Duration::ZERO, stdin_is_tty) == Wait::HungUp {
                // Drawing to a hung-up terminal fails; the user is gone, so this is a quit.
                return Ok(Ended::HungUp);
            }
            let size = terminal.size()?;
            app.page = ui::table_page(Rect::new(0, 0, size.width, size.height)).max(1);
            terminal.draw(|f| f.render_widget(&*app, f.area()))?;
            last_draw = Instant::now();
            need_draw = false;
            key_since_draw = false;
        }
        let timeout = if need_draw {
            FRAME.saturating_sub(last_draw.elapsed())
        } else {
            FRAME
        };
        let (crossterm_wait, wait) = match wait_for_input(timeout, stdin_is_tty) {
            Wait::HungUp => return Ok(Ended::HungUp),
            Wait::Timeout => (None, false),
            // With stdin a terminal, input is ready: read it without blocking. Otherwise
            // crossterm reads /dev/tty itself and does the waiting.
            Wait::Ready if stdin_is_tty => (Some(Duration::ZERO), true),
            Wait::Ready => (Some(timeout), true),
        };
        if let Some(t) = crossterm_wait {
            let mut first = wait;
            while event::poll(if first { t } else { Duration::ZERO })? {
                first = false;
                match event::read()? {
                    Event::Key(k) => {
                        if let Some(a) = app.handle_key(k) {
                            app.update(a);
                            need_draw = true;
                            key_since_draw = true;
                        }
                    }
                    Event::Resize(..) => need_draw = true,
                    _ => {}
                }
            }
        }
        // Resizes arrive as a signal that crossterm only reports while reading, so compare sizes.
        let now_size = terminal.size()?;
        if now_size != last_size {
            last_size = now_size;
            need_draw = true;
        }
        for eff in app.outbox.drain(..) {
            match eff {
                Effect::Engine(cmd) => {
                    // A closed channel means the worker ended; that is noticed just below.
                    let _ = cmd_tx.send(cmd);
                }
                Effect::Export(path) => {
                    if let Some(r) = app.report.clone() {
                        let (ds, k, tx) = (app.ds.clone(), app.ui.outlier_k, msg_tx.clone());
                        // Off the UI thread: a million rows take a while to write.
                        thread::spawn(move || {
                            let msg = match export::write(&path, &r, &ds, k) {
                                Ok(n) => format!("exported {n} segments to {}", path.display()),
                                Err(e) => format!("export failed: {e}"),
                            };
                            let _ = tx.send(Msg::Io(msg));
                        });
                    }
                }
            }
        }
        if !engine_lost && worker.is_finished() && !app.should_quit {
            engine_lost = true;
            let why = worker_panic
                .lock()
                .ok()
                .and_then(|s| s.clone())
                .unwrap_or_else(|| "its thread ended".into());
            app.on_engine_lost(why);
            need_draw = true;
        }
        if app.should_quit || stop.load(Ordering::SeqCst) {
            return Ok(Ended::Quit);
        }
    }
}
