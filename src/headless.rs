//! Training without a screen: one JSON object per step, a progress line on a terminal's stderr,
//! then the optional per-segment report and checkpoint.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use crate::engine::checkpoint;
use crate::export;
use crate::session::Session;

/// What a headless run should do besides training.
#[derive(Debug, Clone, Default)]
pub struct HeadlessOptions {
    pub steps: u64,
    /// JSON lines go here; stdout when `None`.
    pub out: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub save: Option<PathBuf>,
    /// Show a progress line on stderr (only when it is a terminal).
    pub progress: bool,
}

/// How a headless run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Finished { steps: u64 },
    Diverged { step: u64, reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error("{path}: cannot write: {source}")]
    Output {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Export(#[from] export::ExportError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

/// Runs `opts.steps` steps, writing one line per step.
pub fn run(session: &mut Session, opts: &HeadlessOptions) -> Result<Outcome, HeadlessError> {
    let out_name = opts
        .out
        .as_ref()
        .map_or("stdout".to_string(), |p| p.display().to_string());
    let io_err = |source| HeadlessError::Output {
        path: out_name.clone(),
        source,
    };
    let mut out: Box<dyn Write> = match &opts.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(io_err)?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let progress = opts.progress && std::io::stderr().is_terminal();
    let top_k = session.config.train.top_k;
    let ds = session.dataset.clone();
    let mut last = None;
    let mut outcome = Outcome::Finished { steps: 0 };
    for k in 0..opts.steps {
        let report = session.trainer.step();
        serde_json::to_writer(&mut out, &report.line(&ds, top_k))
            .map_err(|e| io_err(std::io::Error::other(e)))?;
        out.write_all(b"\n").map_err(io_err)?;
        if progress {
            eprint!(
                "\r  step {:>6}  {:>5.1}%  train loss {:.4}  dev loss {:.4}   ",
                report.step,
                100.0 * (k + 1) as f64 / opts.steps as f64,
                report.train.loss,
                report.dev.loss
            );
        }
        if let Some(reason) = &report.diverged {
            outcome = Outcome::Diverged {
                step: report.step,
                reason: reason.clone(),
            };
            last = Some(report);
            break;
        }
        outcome = Outcome::Finished { steps: k + 1 };
        last = Some(report);
    }
    if progress {
        eprintln!();
    }
    out.flush().map_err(io_err)?;
    if let Some(p) = &opts.report {
        // With no step taken, the report is of the model as loaded.
        let last = match last {
            Some(r) => r,
            None => session.trainer.snapshot_report(),
        };
        export::write(p, &last, &ds, session.config.ui.outlier_k)?;
    }
    if let Some(dir) = &opts.save {
        checkpoint::save(dir, &session.trainer, &session.config)?;
    }
    Ok(outcome)
}
