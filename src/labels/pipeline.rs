//! A cross-fit and its audit on loaded data: the one way `segscope crossfit`, `segscope audit`
//! and the dashboard's audit key run them.

use std::sync::Arc;

use super::LabelInfo;
use super::audit::{self, Audit};
use super::crossfit::{self, Crossfit, FoldReport, Learner, Options};
use super::judge::Judge;
use crate::config::Config;
use crate::data::{Dataset, Features};
use crate::engine::EngineError;

/// Folds and fold splits of a cross-fit unless asked otherwise (`--folds`, `--repeats`, and the
/// dashboard's audit).
pub const DEFAULT_FOLDS: usize = 5;
pub const DEFAULT_REPEATS: usize = 3;

/// What a cross-fit needs beyond the data: the run's configuration and the outside judges.
#[derive(Debug, Clone)]
pub struct Setup {
    pub config: Config,
    pub judges: Arc<Vec<Judge>>,
}

impl Setup {
    /// The options `segscope audit` runs with by default.
    pub fn options(&self) -> Options {
        Options {
            folds: DEFAULT_FOLDS,
            max_steps: self.config.train.steps,
            patience: if self.config.train.early_stop > 0 {
                self.config.train.early_stop
            } else {
                u64::MAX
            },
            learner: Learner::Linear,
            seed: self.config.seed,
            repeats: DEFAULT_REPEATS,
            judges: self.judges.clone(),
        }
    }

    /// Cross-fits and audits `ds` as `segscope audit` would by default: the dashboard's audit.
    pub fn audit(
        &self,
        ds: &Arc<Dataset>,
        info: LabelInfo,
        stop: &dyn Fn() -> bool,
        progress: impl FnMut(Progress),
    ) -> Result<Audited, PipelineError> {
        let opts = self.options();
        if ds.docs.len() < 2 {
            return Err(PipelineError::TooFewDocuments(ds.docs.len()));
        }
        let opts = Options {
            folds: opts.folds.min(ds.docs.len()),
            ..opts
        };
        judges_fit(&info, self.judges.len())?;
        // The audit's learner is the linear one, which builds its own n-gram rows.
        let features = crate::data::features::featurize_dense(ds, &self.config.features);
        run(
            ds,
            &features,
            &self.config,
            info,
            &opts,
            true,
            stop,
            progress,
        )
        .map_err(PipelineError::from)
    }
}

/// How far the work has come, for a progress line.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A fold of the real cross-fit is done.
    Fold {
        report: &'a FoldReport,
        folds: usize,
    },
    /// The audit starts canary copy `done + 1` of `copies` (each one more cross-fit).
    Canaries { done: usize, copies: usize },
}

impl Progress<'_> {
    /// One line for a status bar.
    pub fn line(&self) -> String {
        match self {
            Progress::Fold { report, folds } => format!(
                "cross-fit: fold {}/{folds} done ({:.1} s)",
                report.fold + 1,
                report.seconds
            ),
            Progress::Canaries { done, copies } => {
                format!("audit: canary copy {}/{copies} ...", done + 1)
            }
        }
    }
}

/// A cross-fit, and its audit when one was asked for (the cross-fit's flags then use the audit's
/// threshold).
pub struct Audited {
    pub crossfit: Crossfit,
    pub audit: Option<Audit>,
}

#[allow(clippy::too_many_arguments)]
/// Cross-fits `ds` and, with `audit`, audits the result; `stop` is asked between the two, so a
/// signal need not wait for the canaries (the audit is then `None`).
pub fn run(
    ds: &Arc<Dataset>,
    features: &Features,
    config: &Config,
    info: LabelInfo,
    opts: &Options,
    audit: bool,
    stop: &dyn Fn() -> bool,
    mut progress: impl FnMut(Progress),
) -> Result<Audited, EngineError> {
    let folds = opts.folds;
    let mut cf = crossfit::run(ds, features, config, info, opts, |report| {
        progress(Progress::Fold { report, folds })
    })?;
    if !audit || stop() {
        return Ok(Audited {
            crossfit: cf,
            audit: None,
        });
    }
    let real: Vec<f32> = cf.scores.iter().map(|s| s.score).collect();
    let a = audit::run(ds, features, config, info, opts, &real, |done, copies| {
        progress(Progress::Canaries { done, copies })
    })?;
    cf.set_threshold(a.threshold);
    Ok(Audited {
        crossfit: cf,
        audit: Some(a),
    })
}

/// Outside judges need binary labels: a judge gives the probability that a step is right.
pub fn judges_fit(info: &LabelInfo, judges: usize) -> Result<(), PipelineError> {
    if judges > 0 && !matches!(info.kind, super::LabelKind::Binary { .. }) {
        return Err(PipelineError::JudgeNeedsBinary(info.describe()));
    }
    Ok(())
}

/// Why a cross-fit or audit could not run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cross-fitting needs at least 2 documents (folds are by document); the data has {0}")]
    TooFewDocuments(usize),
    #[error(
        "--judge needs binary labels (a judge gives the probability that a step is right); these are {0}"
    )]
    JudgeNeedsBinary(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}
