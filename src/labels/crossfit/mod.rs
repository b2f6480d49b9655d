//! Cross-fitting: an out-of-fold prediction for every segment, and from them each labelled
//! segment's label-issue score. A model fits, then memorises, its own training segments, noisy
//! labels included; a model that never saw a segment gives it an honest residual. K models are
//! trained, each on the documents outside one fold (folds by a stable hash of the document id and
//! the seed), and each predicts every segment of its held-out fold, context steps included.
//!
//! Two learners: `linear` (the default), a sparse linear model over TF-IDF-weighted n-grams with
//! the folds trained side by side ([`crate::labels::linear`]); and `mlp`, segscope's own model,
//! each fold early-stopped on an inner dev split of its documents.

pub mod part;
mod report;

use std::sync::Arc;

use serde::Serialize;

use rayon::prelude::*;

use crate::analysis::{is_outlier, robust_z};
use crate::config::Config;
use crate::data::hash::fnv1a;
use crate::data::partition::split_for_id;
use crate::data::{Dataset, Features, Partition, Split};
use crate::engine::report::SegmentEval;
use crate::engine::{EngineError, TrainSettings, Trainer, plain_device, split_inputs};
use crate::labels::evidence::{self, Weights};
use crate::labels::judge::Judge;
use crate::labels::linear::{LinearModel, LinearSettings, Objective, SparseRows};
use crate::labels::score::{Suggestion, probability, suggestions};
use crate::labels::verify::{self, Verdict};
use crate::labels::{LabelInfo, LabelKind, LabelScore};

pub use report::{OofSegment, ReportError, read, write};

/// The fold of a document: a stable hash of its id and the seed, independent of the train/dev
/// split's hash.
pub fn fold_of(id: &str, folds: usize, seed: u64) -> usize {
    (fnv1a(&[b"fold:", &seed.to_le_bytes(), id.as_bytes()]) % folds as u64) as usize
}

/// Which model cross-fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Learner {
    /// A sparse linear model over TF-IDF n-grams (logistic for binary and bounded labels),
    /// folds trained side by side: seconds, not minutes.
    Linear,
    /// segscope's own MLP, each fold early-stopped on an inner dev split.
    Mlp,
}

/// How one fold went, for progress output.
#[derive(Debug, Clone, Serialize)]
pub struct FoldReport {
    pub fold: usize,
    /// Documents and labelled segments held out.
    pub docs: usize,
    pub segments: usize,
    /// Steps taken, and the step whose model predicted the fold (the inner dev loss's best).
    pub steps: u64,
    pub best_step: u64,
    pub inner_dev_loss: f64,
    /// The MSE of the out-of-fold predictions on this fold.
    pub held_out_mse: f64,
    pub seconds: f64,
}

/// One segment's out-of-fold result.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    pub doc: String,
    /// The segment's split in the ordinary run (`dev_fraction`), for comparison.
    pub split: Split,
    pub fold: usize,
    pub index: usize,
    pub text: String,
    pub target: f32,
    pub oof_prediction: f32,
    pub oof_residual: f32,
    /// Robust z of the out-of-fold residual within the segment's split.
    pub oof_robust_z: f32,
    pub oof_outlier: bool,
    /// How likely the label is wrong (higher = more likely; see `labels::score`).
    pub label_score: f32,
    /// Its parts: the model's (1 - P(given label), or the scaled residual) and the document's
    /// (first-error data: the posterior that the label disagrees with the first error).
    pub label_model: f32,
    pub label_document: f32,
    /// The flag: the kind's default rule, or `label_score >= threshold` after an audit.
    pub label_issue: bool,
    /// What the verifiers found in the step: `false: <claim>; it is <value>` for the first false
    /// claim, `N checked, all true`, or empty.
    pub verifier: String,
    /// First-error data: the document's most likely first wrong step under the posterior (its
    /// index; -1 for "no error"), and that position's probability. Empty for other data.
    pub suggested_first_error: Option<i64>,
    pub suggested_probability: Option<f32>,
    /// The data's `meta` labels, `key=label` joined by `;`.
    pub labels: String,
    /// Why the segment's tags or labels contradict its target (`labels::contradict`), or empty.
    pub contradicts: String,
}

/// The whole cross-fit: per-segment rows (labelled segments, dataset order) and per-fold reports.
#[derive(Debug, Clone)]
pub struct Crossfit {
    pub rows: Vec<Row>,
    pub folds: Vec<FoldReport>,
    /// Per segment in dataset order: the out-of-fold prediction and residual (NaN for context).
    pub segments: Vec<SegmentEval>,
    /// Per segment: the out-of-fold prediction, context segments included.
    pub predictions: Vec<f32>,
    /// Per segment: the label score (NaN parts for context).
    pub scores: Vec<LabelScore>,
    /// Per segment, in target units: what the label score read, the model's prediction weighed
    /// with the verifiers and judges (binary labels), or the prediction itself.
    pub evidence: Vec<f32>,
    pub labels: LabelInfo,
    /// Per segment: the verifiers' verdict.
    pub verdicts: Vec<Verdict>,
    /// Per document (first-error data): where the first error most likely is.
    pub suggestions: Vec<Option<Suggestion>>,
    /// Binary labels: how the model, the verifiers and the judges were weighed.
    pub weights: Option<Weights>,
    /// An audit's flag threshold, once set (`set_threshold`); before it, the kind's default rule.
    pub threshold: Option<f32>,
}

impl Crossfit {
    /// Replaces every row's flag with `label_score >= threshold` (an audit's threshold).
    pub fn set_threshold(&mut self, threshold: f32) {
        self.threshold = Some(threshold);
        for r in &mut self.rows {
            r.label_issue = r.label_score >= threshold;
        }
    }
}

/// Settings of a cross-fit.
#[derive(Debug, Clone)]
pub struct Options {
    pub folds: usize,
    /// Steps at most per fold.
    pub max_steps: u64,
    /// Steps without a better inner dev loss before a fold stops.
    pub patience: u64,
    pub learner: Learner,
    /// The folds' seed (folds differ per seed, so several seeds can be averaged).
    pub seed: u64,
    /// Fold splits whose out-of-fold predictions are averaged (each from its own seed).
    pub repeats: usize,
    /// Outside judges of the steps (binary labels), weighed with the model and the verifiers.
    pub judges: Arc<Vec<Judge>>,
}

/// Cross-fits `ds` with `opts.learner` and scores every label by `labels`; `progress` hears
/// about each fold.
pub fn run(
    ds: &Arc<Dataset>,
    features: &Features,
    config: &Config,
    labels: LabelInfo,
    opts: &Options,
    progress: impl FnMut(&FoldReport),
) -> Result<Crossfit, EngineError> {
    let (per_repeat, folds) = predict(ds, features, config, labels, opts, None, progress)?;
    Ok(finish(ds, config, labels, opts, &per_repeat, folds))
}

/// Each fold split's out-of-fold predictions (one vector per repeat, NaN where not predicted),
/// of every fold or, as a cluster job, of fold `only` alone.
pub fn predict(
    ds: &Arc<Dataset>,
    features: &Features,
    config: &Config,
    labels: LabelInfo,
    opts: &Options,
    only: Option<usize>,
    progress: impl FnMut(&FoldReport),
) -> Result<(Vec<Vec<f32>>, Vec<FoldReport>), EngineError> {
    let k = opts.folds.max(2);
    let mut progress = progress;
    let splits: Vec<FoldSplit> = (0..opts.repeats.max(1))
        .map(|r| {
            let seed = opts.seed.wrapping_add(r as u64);
            (seed, split_of(ds, k, seed))
        })
        .collect();
    if opts.learner == Learner::Linear {
        // The rows depend on the texts alone: one build serves every fold split.
        let rows = SparseRows::build(ds, features, &config.features);
        return Ok(linear_folds(
            ds,
            &rows,
            labels.kind,
            (&splits, k, only),
            &mut progress,
        ));
    }
    let (mut per_repeat, mut folds) = (Vec::new(), Vec::new());
    for (seed, split) in &splits {
        let o = Options {
            seed: *seed,
            ..opts.clone()
        };
        let (p, f) = mlp_folds(ds, features, config, (split, k, only), &o, &mut progress)?;
        per_repeat.push(p);
        folds.extend(f);
    }
    Ok((per_repeat, folds))
}

/// Every document's fold under `seed`.
fn split_of(ds: &Dataset, k: usize, seed: u64) -> Vec<usize> {
    ds.docs.iter().map(|d| fold_of(&d.id, k, seed)).collect()
}

/// From the fold splits' predictions to the cross-fit: their mean, the residuals, the evidence
/// weighed (binary labels), label scores, suggestions and the report's rows.
pub fn finish(
    ds: &Arc<Dataset>,
    config: &Config,
    labels: LabelInfo,
    opts: &Options,
    per_repeat: &[Vec<f32>],
    folds: Vec<FoldReport>,
) -> Crossfit {
    let k = opts.folds.max(2);
    let fold = split_of(ds, k, opts.seed);
    let mut predictions = vec![0.0f32; ds.segments.len()];
    for p in per_repeat {
        for (acc, x) in predictions.iter_mut().zip(p) {
            *acc += x / per_repeat.len() as f32;
        }
    }
    let segments: Vec<SegmentEval> = (0..ds.segments.len())
        .map(|i| match ds.segments[i].score {
            Some(t) if predictions[i].is_finite() => {
                let r = t - predictions[i];
                SegmentEval {
                    pred: predictions[i],
                    residual: r,
                    loss: r * r,
                    share: 0.0,
                }
            }
            _ => SegmentEval::UNKNOWN,
        })
        .collect();
    let verdicts = verify::verify_all(ds);
    // Binary labels: the model's probability, the verifiers and the judges weighed into one.
    let (evidence, weights) = match labels.kind {
        LabelKind::Binary { lo, hi } => {
            let p_model: Vec<f64> = predictions
                .iter()
                .map(|&x| {
                    if x.is_finite() {
                        probability(x, lo, hi)
                    } else {
                        f64::NAN
                    }
                })
                .collect();
            let right: Vec<Option<bool>> = ds
                .segments
                .iter()
                .map(|s| s.score.map(|v| labels.kind.is_high(v)))
                .collect();
            let (p, w) = evidence::combine(ds, &fold, k, &p_model, &right, &verdicts, &opts.judges);
            let pred: Vec<f32> = p.iter().map(|&p| lo + p as f32 * (hi - lo)).collect();
            (pred, Some(w))
        }
        _ => (predictions.clone(), None),
    };
    let scores = crate::labels::score(
        ds,
        &labels.kind,
        labels.first_error,
        &evidence,
        config.ui.outlier_k as f32,
    );
    let suggestions = if labels.first_error {
        suggestions(ds, &labels.kind, &evidence)
    } else {
        vec![None; ds.docs.len()]
    };
    let part = Partition::new(ds, config.dev_fraction);
    let classes = crate::labels::classes(ds);
    let z = robust_z(&segments, &part, &classes);
    let contradicts = crate::labels::contradict::contradictions(ds, &classes);
    let rows = (0..ds.segments.len())
        .filter(|&i| part.is_labelled(i))
        .map(|i| {
            let s = &ds.segments[i];
            Row {
                id: ds.segment_id(i),
                doc: ds.docs[s.doc].id.clone(),
                split: part.split_of(i),
                fold: fold[s.doc],
                index: s.index,
                text: s.text.clone(),
                target: ds.target(i),
                oof_prediction: segments[i].pred,
                oof_residual: segments[i].residual,
                oof_robust_z: z[i],
                oof_outlier: is_outlier(z[i], config.ui.outlier_k),
                label_score: scores[i].score,
                label_model: scores[i].model,
                label_document: scores[i].document,
                label_issue: scores[i].flag,
                verifier: verdicts[i].summary(),
                suggested_first_error: suggestions[s.doc]
                    .map(|g| g.first_error.map_or(-1, |e| e as i64)),
                suggested_probability: suggestions[s.doc].map(|g| g.probability as f32),
                labels: s
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(";"),
                contradicts: contradicts[i].clone().unwrap_or_default(),
            }
        })
        .collect();
    Crossfit {
        rows,
        folds,
        segments,
        predictions,
        scores,
        evidence,
        labels,
        verdicts,
        suggestions,
        weights,
        threshold: None,
    }
}

/// The linear learner's target for a label: the class (binary), the position in the range
/// (bounded), the value itself (ordinal, continuous).
fn linear_target(kind: LabelKind, v: f32) -> (Objective, f32) {
    match kind {
        LabelKind::Binary { lo, hi } | LabelKind::Bounded { lo, hi } => {
            (Objective::Logistic, ((v - lo) / (hi - lo)).clamp(0.0, 1.0))
        }
        LabelKind::Ordinal { .. } | LabelKind::Continuous => (Objective::Squared, v),
    }
}

/// A prediction of the linear model back in target units.
fn linear_value(kind: LabelKind, p: f32) -> f32 {
    match kind {
        LabelKind::Binary { lo, hi } | LabelKind::Bounded { lo, hi } => lo + p * (hi - lo),
        LabelKind::Ordinal { .. } | LabelKind::Continuous => p,
    }
}

/// A fold split: its seed, and each document's fold.
type FoldSplit = (u64, Vec<usize>);

/// A fold's result: its fold split, its report, and (segment, prediction) for its held-out part.
type FoldResult = (usize, FoldReport, Vec<(usize, f32)>);

/// The linear learner: the folds of every fold split (`(seed, fold of each document)`) trained
/// side by side, one per core; per split, predictions for every segment.
fn linear_folds(
    ds: &Dataset,
    rows: &SparseRows,
    kind: LabelKind,
    (splits, k, only): (&[FoldSplit], usize, Option<usize>),
    mut progress: impl FnMut(&FoldReport),
) -> (Vec<Vec<f32>>, Vec<FoldReport>) {
    let objective = linear_target(kind, 0.0).0;
    let jobs: Vec<(usize, usize)> = (0..splits.len())
        .flat_map(|r| (0..k).map(move |f| (r, f)))
        .filter(|&(_, f)| only.is_none_or(|o| o == f))
        .collect();
    let results: Vec<FoldResult> = jobs
        .into_par_iter()
        .map(|(r, f)| {
            let (seed, fold) = (splits[r].0, &splits[r].1);
            let t0 = std::time::Instant::now();
            let (train, y): (Vec<usize>, Vec<f32>) = (0..ds.segments.len())
                .filter(|&i| fold[ds.segments[i].doc] != f)
                .filter_map(|i| ds.segments[i].score.map(|v| (i, linear_target(kind, v).1)))
                .unzip();
            let settings = LinearSettings::new(objective, seed ^ f as u64);
            let model = LinearModel::train(rows, &train, &y, &settings);
            let held: Vec<(usize, f32)> = (0..ds.segments.len())
                .filter(|&i| fold[ds.segments[i].doc] == f)
                .map(|i| (i, linear_value(kind, model.predict(rows, i))))
                .collect();
            let labelled: Vec<f64> = held
                .iter()
                .filter_map(|&(i, p)| ds.segments[i].score.map(|t| f64::from(t - p).powi(2)))
                .collect();
            let report = FoldReport {
                fold: f,
                docs: fold.iter().filter(|&&x| x == f).count(),
                segments: labelled.len(),
                steps: settings.epochs as u64,
                best_step: settings.epochs as u64,
                inner_dev_loss: f64::NAN,
                held_out_mse: labelled.iter().sum::<f64>() / labelled.len().max(1) as f64,
                seconds: t0.elapsed().as_secs_f64(),
            };
            (r, report, held)
        })
        .collect();
    let mut per_repeat = vec![vec![f32::NAN; ds.segments.len()]; splits.len()];
    let mut reports = Vec::with_capacity(results.len());
    for (r, report, held) in results {
        for (i, p) in held {
            per_repeat[r][i] = p;
        }
        progress(&report);
        reports.push(report);
    }
    (per_repeat, reports)
}

/// segscope's own model per fold, early-stopped on an inner dev split of the fold's training
/// documents; predictions for every segment of the held-out fold.
fn mlp_folds(
    ds: &Arc<Dataset>,
    features: &Features,
    config: &Config,
    (fold, k, only): (&[usize], usize, Option<usize>),
    opts: &Options,
    mut progress: impl FnMut(&FoldReport),
) -> Result<(Vec<f32>, Vec<FoldReport>), EngineError> {
    // The inner split: dev_fraction of the training documents, by the usual hash.
    let inner: Vec<Split> = ds
        .docs
        .iter()
        .map(|d| split_for_id(&d.id, config.dev_fraction.max(0.1)))
        .collect();
    let mut pred = vec![f32::NAN; ds.segments.len()];
    let mut reports = Vec::with_capacity(k);
    for f in (0..k).filter(|&f| only.is_none_or(|o| o == f)) {
        let t0 = std::time::Instant::now();
        let active: Vec<bool> = fold.iter().map(|&x| x != f).collect();
        let part = Arc::new(Partition::with_held_out(ds, inner.clone(), &active));
        let held: Vec<usize> = (0..ds.segments.len())
            .filter(|&i| fold[ds.segments[i].doc] == f)
            .collect();
        if !held.iter().any(|&i| ds.segments[i].score.is_some()) {
            continue;
        }
        let mut t = Trainer::new(
            ds.clone(),
            part,
            features.clone(),
            TrainSettings::from_config(config),
        )?;
        let mut steps = 0;
        while steps < opts.max_steps {
            let r = t.step();
            steps += 1;
            if r.diverged.is_some() {
                break;
            }
            let best = t.best().map_or(0, |b| b.0);
            if steps.saturating_sub(best) >= opts.patience {
                break;
            }
        }
        t.restore_best();
        let (best_step, inner_dev_loss) = t.best().map_or((steps, f64::NAN), |b| (b.0, b.1.loss));
        let device = plain_device(config.backend);
        let (x, _) = split_inputs(features.clone(), &held, &[], true, &device);
        let preds = t.predict(&x);
        let (mut sq, mut labelled) = (0.0, 0);
        for (&i, &p) in held.iter().zip(&preds) {
            pred[i] = p;
            if let Some(target) = ds.segments[i].score {
                sq += f64::from(target - p).powi(2);
                labelled += 1;
            }
        }
        let report = FoldReport {
            fold: f,
            docs: fold.iter().filter(|&&x| x == f).count(),
            segments: labelled,
            steps,
            best_step,
            inner_dev_loss,
            held_out_mse: sq / labelled.max(1) as f64,
            seconds: t0.elapsed().as_secs_f64(),
        };
        progress(&report);
        reports.push(report);
    }
    Ok((pred, reports))
}
