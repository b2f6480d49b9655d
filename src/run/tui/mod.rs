//! The dashboard's runtime: terminal setup and restore, and the event loop around a source.
//!
//! - [`terminal`]: the restore guard, hang-up detection, and the source thread's panic hook.
//! - [`event_loop`]: drains the source's reports, answers keys, draws at most ~30 frames a second.
//!
//! The source runs on its own thread (see `source::driver`); the UI thread never waits for a
//! step. The terminal is restored on every exit path: quit, error (a guard's Drop), panic
//! (ratatui's hook), and SIGINT/SIGTERM (a flag the loop checks; Ctrl-C typed in raw mode arrives
//! as a key).

pub mod audit;
pub mod event_loop;
pub mod terminal;

use std::path::PathBuf;
use std::time::Duration;

use crate::app::{App, Control, RunInfo};
use crate::cli::session::Session;
use crate::source::{self, Source};
use terminal::{RestoreGuard, Wait, wait_for_input};

/// Paths the dashboard writes to.
#[derive(Debug, Clone)]
pub struct Outputs {
    pub save_dir: PathBuf,
    pub export_path: PathBuf,
}

/// Builds the app state for a session.
pub fn make_app(session: &Session, outputs: &Outputs) -> App {
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
    let mut app = App::new(
        session.dataset.clone(),
        session.partition.clone(),
        c.ui.clone(),
        info,
        session.keymap.clone(),
    );
    app.set_audit_setup(crate::labels::pipeline::Setup {
        config: c.clone(),
        judges: std::sync::Arc::new(Vec::new()),
    });
    app
}

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
    /// A tour page that could not be built.
    #[error(transparent)]
    Tour(#[from] crate::tour::scenes::TourError),
}

/// Runs the dashboard on `source`, driven on a thread of its own, until the user quits.
pub fn run(app: App, source: Box<dyn Source>) -> Result<(), TuiError> {
    let handle = source::spawn(source, app.ui().steps_per_second)?;
    run_handle(app, handle)
}

/// The terminal a dashboard draws on, from raw mode in to restored out, across one or more
/// sources (the tour's pages share it).
struct Screen {
    terminal: ratatui::DefaultTerminal,
    guard: RestoreGuard,
    source_panic: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    stdin_is_tty: bool,
}

impl Screen {
    fn open() -> Result<Screen, TuiError> {
        // SIGINT/SIGTERM/SIGHUP end the loop through its normal path (typed Ctrl-C in raw mode is
        // a key, and quits through the keymap).
        crate::signals::install();
        // Asked once, now: after a hang-up isatty(0) answers false, which would hide the hang-up.
        let stdin_is_tty = std::io::IsTerminal::is_terminal(&std::io::stdin());
        let terminal = ratatui::try_init()?;
        Ok(Screen {
            terminal,
            guard: RestoreGuard,
            source_panic: terminal::hook_source_panics(source::driver::THREAD_NAME),
            stdin_is_tty,
        })
    }

    /// Runs the event loop on `handle` until the user quits or the terminal hangs up, then tells
    /// the source to quit (the caller joins it: after restoring the terminal, so a long step
    /// never holds the shell back).
    fn run(
        &mut self,
        app: &mut App,
        handle: &source::SourceHandle,
    ) -> Result<event_loop::Ended, TuiError> {
        app.set_caps(handle.capabilities);
        let outcome = event_loop::run(
            &mut self.terminal,
            app,
            handle,
            &event_loop::Guards {
                source_panic: &self.source_panic,
                stdin_is_tty: self.stdin_is_tty,
            },
        );
        let _ = handle.control.send(Control::Quit);
        outcome
    }

    /// Whether the terminal has hung up.
    fn gone(&self) -> bool {
        wait_for_input(Duration::ZERO, self.stdin_is_tty) == Wait::HungUp
    }

    /// Restores the terminal, unless it is gone: nothing to restore then, and Terminal's Drop
    /// would try to show the cursor and eprintln! its failure, which panics with no stderr, so
    /// it is not dropped.
    fn close(self) {
        if self.gone() {
            std::mem::forget(self.guard);
            std::mem::forget(self.terminal);
        } else {
            drop(self.guard);
        }
    }
}

/// Runs the dashboard on a source already running on its own thread, until the user quits.
pub fn run_handle(mut app: App, handle: source::SourceHandle) -> Result<(), TuiError> {
    let mut screen = Screen::open()?;
    let outcome = screen.run(&mut app, &handle);
    // A write error on a hung-up terminal is the same end as noticing the hang-up.
    let result = if screen.gone() {
        Ok(())
    } else {
        outcome.map(|_| ())
    };
    screen.close();
    stop(handle);
    result
}

/// Stops a source and waits for its thread: it finishes at most its current step.
fn stop(handle: source::SourceHandle) {
    let source::SourceHandle {
        control, thread, ..
    } = handle;
    let _ = control.send(Control::Quit);
    drop(control);
    let _ = thread.join();
}

/// The app for one page of `segscope tour`: the tour's keys, rows in the data's order.
pub fn tour_app(b: &crate::tour::scenes::Built) -> App {
    let c = &b.config;
    let compare = b.page == crate::tour::Page::Compare;
    let info = RunInfo {
        backend: c.backend.name().to_string(),
        loss: if compare {
            "mse and pairwise".into()
        } else {
            "mse".into()
        },
        optimizer: format!("{:?}", c.train.optimizer).to_lowercase(),
        lr: c.train.lr,
        batch_size: c.train.batch_size,
        data: b.dataset.source.clone(),
        save_dir: "segscope-checkpoints".into(),
        export_path: "segscope-segments.csv".into(),
    };
    let mut app = App::new(
        b.dataset.clone(),
        b.partition.clone(),
        c.ui.clone(),
        info,
        crate::app::Keymap::tour(),
    );
    app.set_mode(crate::app::Mode::tour(b.page));
    if !compare {
        app.view_mut().sort = crate::app::SortKey::Id;
        app.view_mut().desc = false;
        app.refresh_rows();
    }
    app
}

/// Runs `segscope tour` from `first`: one page at a time on the same terminal, each with its
/// own model on its own thread, until the learner quits.
pub fn run_tour(
    first: crate::tour::Page,
    backend: crate::config::BackendKind,
) -> Result<(), TuiError> {
    let mut screen = Screen::open()?;
    let mut page = first;
    let result = loop {
        let built = match page.build(backend) {
            Ok(b) => b,
            Err(e) => break Err(e.into()),
        };
        let mut app = tour_app(&built);
        let handle = match source::spawn(built.source, app.ui().steps_per_second) {
            Ok(h) => h,
            Err(e) => break Err(e.into()),
        };
        let outcome = screen.run(&mut app, &handle);
        stop(handle);
        if screen.gone() {
            break Ok(());
        }
        match outcome {
            Err(e) => break Err(e),
            Ok(event_loop::Ended::HungUp) => break Ok(()),
            Ok(event_loop::Ended::Quit) => {}
        }
        if crate::signals::received().is_some() {
            break Ok(());
        }
        match app
            .leave()
            .and_then(|l| page.neighbour(l == crate::tour::Leave::Next))
        {
            Some(p) => page = p,
            None => break Ok(()),
        }
    };
    screen.close();
    result
}
