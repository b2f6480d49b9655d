//! What yields step reports and takes control: a [`Source`]. The dashboard and headless runs
//! consume a source and never know which kind it is.
//!
//! - [`trainer`]: the in-process trainer as a source.
//! - [`watch`]: a stream written by any trainer, followed as it grows, replayed with the keys.
//! - [`driver`]: the thread that runs a source for the dashboard: it steps when asked, paces
//!   running at the requested speed, measures the rate, and sends every report as an [`Event`].
//!
//! The app owns the run state a user sees (paused, running, converged, diverged) and sends
//! [`Control`] commands; the driver keeps only what pacing needs (steps owed, the next due time).

pub mod compare;
pub mod driver;
pub mod trainer;
pub mod watched;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::engine::trainer::MarkInfo;
pub use driver::{SourceHandle, spawn};
pub use trainer::TrainerSource;

use crate::data::{Dataset, Partition};
use crate::engine::{SplitMetrics, StepReport};

/// What a source can do besides reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Take single steps on request.
    pub step: bool,
    /// Run and pause.
    pub run: bool,
    /// Run at a requested speed.
    pub speed: bool,
    /// Save a checkpoint.
    pub save: bool,
    /// Go back to an earlier step.
    pub rewind: bool,
    /// Keep the model of a marked step, and rewind training to it.
    pub mark: bool,
    /// Apply what-if edits to training.
    pub edit: bool,
}

impl Capabilities {
    /// segscope's own trainer: it can do everything but step back through recorded steps.
    pub const TRAINER: Capabilities = Capabilities {
        step: true,
        run: true,
        speed: true,
        save: true,
        rewind: false,
        mark: true,
        edit: true,
    };
}

/// A command to a source.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    Step(u64),
    Run,
    Pause,
    /// Steps per second while running; 0 = as fast as possible.
    SetSpeed(f64),
    Save(PathBuf),
    /// Go back to the step with the lowest dev loss.
    RestoreBest,
    /// Show an earlier recorded step (replaying a stream).
    Back(u64),
    /// Keep the current model, optimiser state and step, to rewind to.
    Mark,
    /// Go back to the last mark.
    Rewind,
    /// Put these what-if edits in force (the whole list: an undo sends it without its last).
    SetEdits(crate::data::edits::Edits),
    Quit,
}

/// What a running source tells the dashboard.
#[derive(Debug)]
pub enum Event {
    /// A step's report, and the measured steps per second.
    Report(Box<StepReport>, f64),
    /// A recorded step shown again (a stream's `p` and `space`), and the newest recorded step:
    /// the history stays; when the two are the same the view is live again.
    Replay(Box<StepReport>, u64),
    /// The result of a command that did I/O (a save), or of an export; a warning.
    Message(String),
    /// The segments changed (a stream added some, or was rewritten): the dataset and partition
    /// every later report is about.
    Data(Arc<Dataset>, Arc<Partition>),
    /// The same segments with edited targets (what-if edits).
    Edited(Arc<Dataset>),
    /// A stream's writer is done (its end record, or standard input closed): the reason.
    Ended(String),
}

/// Why a source did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// What this kind of source cannot do, and why.
    #[error("{0}")]
    Unsupported(&'static str),
    /// Saving a checkpoint failed.
    #[error(transparent)]
    Checkpoint(#[from] crate::engine::EngineError),
}

/// Something that yields step reports.
pub trait Source: Send {
    /// The segments the reports are about.
    fn dataset(&self) -> &Arc<Dataset>;
    /// Which segments are train and which are dev.
    fn partition(&self) -> &Arc<Partition>;
    fn capabilities(&self) -> Capabilities;
    /// The report of the current state, without stepping (step 0 before any training).
    fn current(&mut self) -> StepReport;
    /// One more step's report. A refused step's report has `diverged` set, and so has every
    /// later one: a diverged source stays where it was.
    fn advance(&mut self) -> StepReport;
    /// Saves what the source can save into `dir`; the path written.
    fn save(&mut self, dir: &Path) -> Result<PathBuf, SourceError>;
    /// The step with the lowest dev loss so far and its dev metrics, if the source knows it.
    fn best(&self) -> Option<(u64, SplitMetrics)> {
        None
    }
    /// Keeps the current state as a mark: its step, how many marks are kept, and the bytes they
    /// hold.
    fn mark(&mut self) -> Result<MarkInfo, SourceError> {
        Err(SourceError::Unsupported("this source has no model to keep"))
    }
    /// Puts what-if edits in force; the dataset with the edited targets.
    fn set_edits(
        &mut self,
        _edits: crate::data::edits::Edits,
    ) -> Result<Arc<Dataset>, SourceError> {
        Err(SourceError::Unsupported(
            "this source has no training to edit",
        ))
    }
    /// Goes back to the last mark; its report, or `None` if there is none.
    fn rewind(&mut self) -> Option<StepReport> {
        None
    }
    /// Steps between refreshes of every prediction (only refreshed steps can become the best).
    fn refresh_interval(&self) -> u64 {
        1
    }
    /// Goes back to the best step; its report, or `None` if the source cannot.
    fn restore_best(&mut self) -> Option<StepReport> {
        None
    }
}
