//! What one training step produced: [`StepReport`], serialisable so a stream can carry it, and
//! the evaluation of a split's predictions into per-segment results and metrics.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::influence::GradShare;
use super::metrics::{LossKind, SplitMetrics, nan_if_null, nan_if_null_f32, shares};
use super::ranking::Ranks;
use crate::data::Dataset;

/// Serde for the `Arc<Vec<T>>` a report shares with its readers, without serde's `rc` feature
/// (which would rebuild every crate that uses serde).
mod arc_vec {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Arc<Vec<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        v.as_slice().serialize(s)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Arc<Vec<T>>, D::Error> {
        Vec::<T>::deserialize(d).map(Arc::new)
    }
}

/// One segment after a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentEval {
    #[serde(deserialize_with = "nan_if_null_f32")]
    pub pred: f32,
    /// target - prediction.
    #[serde(deserialize_with = "nan_if_null_f32")]
    pub residual: f32,
    /// The training loss of this segment alone.
    pub loss: f32,
    /// This segment's share of its split's total loss.
    pub share: f32,
}

impl SegmentEval {
    /// A segment with no prediction (context only, held out, or not predicted yet).
    pub const UNKNOWN: SegmentEval = SegmentEval {
        pred: f32::NAN,
        residual: f32::NAN,
        loss: 0.0,
        share: 0.0,
    };
}

/// Weight change of one parameter tensor in one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerChange {
    /// Dotted path, e.g. `hidden.weight`.
    pub name: String,
    /// ||W_t - W_{t-1}||.
    pub weight_change: f64,
    /// ||W_t - W_{t-1}|| / ||W_t||.
    pub weight_change_rel: f64,
    /// ||W_t||.
    pub norm: f64,
}

/// Everything a step produced. Segments are referred to by their position in the dataset's
/// order (`Dataset::segment_id` names them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// The step number (1 for the first step; 0 for the state before training).
    pub step: u64,
    /// Global indices of the segments in this step's batch.
    #[serde(with = "arc_vec")]
    pub batch: Arc<Vec<usize>>,
    /// Loss on the batch, before the update.
    #[serde(deserialize_with = "nan_if_null")]
    pub batch_loss: f64,
    /// Another trainer's own train and dev loss as its stream reported them (its objective's,
    /// not the recomputed MSE of `train` and `dev`); None for segscope's own runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trainer_loss: Option<[Option<f64>; 2]>,
    /// The step whose model produced `train`, `dev` and the predictions `pred_steps` does not
    /// date otherwise (differs from `step` when predictions are refreshed every k steps).
    pub eval_step: u64,
    /// Every segment in dataset order, after the step.
    #[serde(with = "arc_vec")]
    pub segments: Arc<Vec<SegmentEval>>,
    /// Per segment (dataset order), the step whose model made its prediction; empty when every
    /// prediction is `eval_step`'s. With mini-batches, between refreshes, a batch row's prediction
    /// comes from its step's own forward pass, before the update: the model after step - 1.
    #[serde(default, with = "arc_vec", skip_serializing_if = "is_empty")]
    pub pred_steps: Arc<Vec<u64>>,
    /// Per segment (dataset order), its gradient share and alignment at the output layer, for the
    /// training split at `eval_step` (`GradShare::NONE` elsewhere); empty when unknown (a stream,
    /// or a pairwise loss).
    #[serde(default, with = "arc_vec", skip_serializing_if = "is_empty")]
    pub grad: Arc<Vec<GradShare>>,
    pub train: SplitMetrics,
    pub dev: SplitMetrics,
    /// NaN (null in JSON) before the first step.
    #[serde(deserialize_with = "nan_if_null")]
    pub grad_norm: f64,
    pub lr: f64,
    /// ||W_t - W_{t-1}|| over all parameters.
    pub weight_change: f64,
    /// ||W_t - W_{t-1}|| / ||W_t||.
    pub weight_change_rel: f64,
    pub layers: Vec<LayerChange>,
    /// Time of the optimiser step (forward, backward, update, norms), in milliseconds. With full
    /// batch the call's time: the update, then the next step's forward and backward passes.
    pub step_ms: f64,
    /// Time to refresh every prediction and metric, in milliseconds (0 when reused). With full
    /// batch, the helper thread's evaluation beside the step, not part of `step_ms`.
    pub eval_ms: f64,
    /// Set when the step was refused because something became non-finite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<String>,
    /// In a comparison of objectives: every model's results, this report's own first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelResult>,
}

fn is_empty<T>(v: &Arc<Vec<T>>) -> bool {
    v.is_empty()
}

impl StepReport {
    /// A report of `n` segments before any step: no prediction, no metric (a stream that has
    /// its segments and no step record yet).
    pub fn unevaluated(n: usize) -> StepReport {
        let none = SplitMetrics::compute(&[], &[], &[], LossKind::Mse);
        StepReport {
            step: 0,
            batch: Arc::default(),
            batch_loss: f64::NAN,
            trainer_loss: None,
            eval_step: 0,
            segments: Arc::new(vec![SegmentEval::UNKNOWN; n]),
            pred_steps: Arc::default(),
            grad: Arc::default(),
            train: none,
            dev: none,
            grad_norm: f64::NAN,
            lr: f64::NAN,
            weight_change: f64::NAN,
            weight_change_rel: f64::NAN,
            layers: Vec::new(),
            step_ms: 0.0,
            eval_ms: 0.0,
            diverged: None,
            models: Vec::new(),
        }
    }

    /// The step whose model made segment `i`'s prediction.
    pub fn pred_step(&self, i: usize) -> u64 {
        self.pred_steps.get(i).copied().unwrap_or(self.eval_step)
    }

    /// Segment `i`'s gradient share and alignment, if known.
    pub fn grad_of(&self, i: usize) -> GradShare {
        self.grad.get(i).copied().unwrap_or(GradShare::NONE)
    }
}

/// One model of a comparison after a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    /// The objective's name (`mse`, `pairwise`, ...).
    pub name: String,
    /// Its own training loss.
    pub loss: f64,
    #[serde(with = "arc_vec")]
    pub segments: Arc<Vec<SegmentEval>>,
    pub train: SplitMetrics,
    pub dev: SplitMetrics,
    /// For a pairwise model: the affine map that best fits its predictions to the targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affine: Option<Affine>,
}

/// The affine map `target ~ slope * prediction + intercept`, fitted by least squares on the
/// training split, and the dev MSE of the mapped predictions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Affine {
    pub slope: f64,
    pub intercept: f64,
    pub dev_mse_after: f64,
}

/// Documents as lists of positions within `rows` (consecutive rows of one document), for
/// within-document pairwise accuracy.
pub fn doc_groups(ds: &Dataset, rows: &[usize]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut last_doc = usize::MAX;
    for (pos, &i) in rows.iter().enumerate() {
        let d = ds.segments[i].doc;
        if d != last_doc {
            out.push(Vec::new());
            last_doc = d;
        }
        if let Some(g) = out.last_mut() {
            g.push(pos);
        }
    }
    out
}

/// A split's documents, as position lists, and its targets' ranks: what evaluating its
/// predictions needs besides them. A trainer computes it once, and again when edits change
/// targets.
pub struct SplitShape {
    pub groups: Vec<Vec<usize>>,
    pub ranks: Ranks,
}

impl SplitShape {
    pub fn of(ds: &Dataset, rows: &[usize]) -> Self {
        let t: Vec<f64> = rows.iter().map(|&i| f64::from(ds.target(i))).collect();
        SplitShape {
            groups: doc_groups(ds, rows),
            ranks: Ranks::of(&t),
        }
    }
}

/// Evaluates one split: fills `segs[i]` for every `i` in `rows` (prediction, residual, loss, share of
/// the split's loss) from `preds` (dataset order) and returns the split's metrics.
pub fn evaluate_split(
    ds: &Dataset,
    preds: &[f32],
    rows: &[usize],
    loss: LossKind,
    segs: &mut [SegmentEval],
) -> SplitMetrics {
    let p: Vec<f32> = rows.iter().map(|&i| preds[i]).collect();
    let (evals, metrics) = evaluate_rows(ds, rows, &p, &SplitShape::of(ds, rows), loss);
    for (&i, e) in rows.iter().zip(evals) {
        segs[i] = e;
    }
    metrics
}

/// Evaluates one split from predictions given per row (`preds[k]` is the prediction for
/// `rows[k]`): each row's result, in `rows` order, and the split's metrics. `shape` is
/// `SplitShape::of(ds, rows)`, passed in so that a trainer can compute it once.
pub fn evaluate_rows(
    ds: &Dataset,
    rows: &[usize],
    preds: &[f32],
    shape: &SplitShape,
    loss: LossKind,
) -> (Vec<SegmentEval>, SplitMetrics) {
    let p: Vec<f64> = preds.iter().map(|&x| f64::from(x)).collect();
    let t: Vec<f64> = rows.iter().map(|&i| f64::from(ds.target(i))).collect();
    let losses: Vec<f64> = p.iter().zip(&t).map(|(p, t)| loss.of(t - p)).collect();
    let sh = shares(&losses);
    let evals = (0..rows.len())
        .map(|k| SegmentEval {
            pred: preds[k],
            residual: (t[k] - p[k]) as f32,
            loss: losses[k] as f32,
            share: sh[k] as f32,
        })
        .collect();
    let metrics = SplitMetrics::compute_ranked(&p, &t, Some(&shape.ranks), &shape.groups, loss);
    (evals, metrics)
}
