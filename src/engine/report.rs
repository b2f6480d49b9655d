//! What one training step produced: [`StepReport`], and its JSON-lines form for headless runs.

use std::sync::Arc;

use serde::Serialize;

use super::metrics::{LossKind, SplitMetrics, shares};
use crate::data::{Dataset, Split};

/// One segment after a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SegmentEval {
    pub pred: f32,
    /// target - prediction.
    pub residual: f32,
    /// The training loss of this segment alone.
    pub loss: f32,
    /// This segment's share of its split's total loss.
    pub share: f32,
}

/// Weight change of one parameter tensor in one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// Everything a step produced.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// The step number (1 for the first step; 0 for the state before training).
    pub step: u64,
    /// Global indices of the segments in this step's batch.
    pub batch: Arc<Vec<usize>>,
    /// Loss on the batch, before the update.
    pub batch_loss: f64,
    /// The step whose model produced `segments`, `train` and `dev` (differs from `step` when
    /// predictions are refreshed every k steps).
    pub eval_step: u64,
    /// Every segment in dataset order, after the step.
    pub segments: Arc<Vec<SegmentEval>>,
    pub train: SplitMetrics,
    pub dev: SplitMetrics,
    pub grad_norm: f64,
    pub lr: f64,
    /// ||W_t - W_{t-1}|| over all parameters.
    pub weight_change: f64,
    /// ||W_t - W_{t-1}|| / ||W_t||.
    pub weight_change_rel: f64,
    pub layers: Vec<LayerChange>,
    /// Time of the optimiser step (forward, backward, update, norms), in milliseconds.
    pub step_ms: f64,
    /// Time to refresh every prediction and metric, in milliseconds (0 when reused).
    pub eval_ms: f64,
    /// Set when the step was refused because something became non-finite.
    pub diverged: Option<String>,
}

/// A segment in a headless line's `top` list.
#[derive(Debug, Clone, Serialize)]
pub struct TopSegment {
    pub id: String,
    pub doc: String,
    pub split: Split,
    pub target: f32,
    pub prediction: f32,
    pub residual: f32,
    pub share: f32,
}

/// One JSON line of a headless run.
#[derive(Debug, Clone, Serialize)]
pub struct StepLine<'a> {
    pub step: u64,
    pub eval_step: u64,
    pub train: &'a SplitMetrics,
    pub dev: &'a SplitMetrics,
    pub batch_loss: f64,
    pub batch_size: usize,
    pub grad_norm: f64,
    pub lr: f64,
    pub weight_change: f64,
    pub weight_change_rel: f64,
    pub layers: &'a [LayerChange],
    pub step_ms: f64,
    pub eval_ms: f64,
    pub top: Vec<TopSegment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diverged: Option<&'a str>,
}

/// Global indices of the `k` training segments with the largest loss share, largest first.
pub fn top_by_share(report: &StepReport, ds: &Dataset, k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = ds.indices(Split::Train);
    let segs = &report.segments;
    let k = k.min(idx.len());
    if k == 0 {
        return Vec::new();
    }
    // Partial selection, then sort only the k winners.
    idx.select_nth_unstable_by(k - 1, |&a, &b| segs[b].share.total_cmp(&segs[a].share));
    idx.truncate(k);
    idx.sort_by(|&a, &b| segs[b].share.total_cmp(&segs[a].share).then(a.cmp(&b)));
    idx
}

impl StepReport {
    /// The headless JSON line for this report.
    pub fn line<'a>(&'a self, ds: &Dataset, top_k: usize) -> StepLine<'a> {
        let top = top_by_share(self, ds, top_k)
            .into_iter()
            .map(|i| {
                let s = &ds.segments[i];
                let e = &self.segments[i];
                TopSegment {
                    id: ds.segment_id(i),
                    doc: ds.docs[s.doc].id.clone(),
                    split: ds.split_of(i),
                    target: s.score,
                    prediction: e.pred,
                    residual: e.residual,
                    share: e.share,
                }
            })
            .collect();
        StepLine {
            step: self.step,
            eval_step: self.eval_step,
            train: &self.train,
            dev: &self.dev,
            batch_loss: self.batch_loss,
            batch_size: self.batch.len(),
            grad_norm: self.grad_norm,
            lr: self.lr,
            weight_change: self.weight_change,
            weight_change_rel: self.weight_change_rel,
            layers: &self.layers,
            step_ms: self.step_ms,
            eval_ms: self.eval_ms,
            top,
            diverged: self.diverged.as_deref(),
        }
    }
}

/// Each segment's robust z-score within its split: residual / (1.4826 x MAD of the split's
/// residuals). The residual is measured from zero, not from its median, because the target is an
/// absolute score: a shared bias is an error too. 0 when the split's MAD is 0.
pub fn robust_z(segments: &[SegmentEval], ds: &Dataset) -> Vec<f32> {
    let mut z = vec![0f32; segments.len()];
    for split in [Split::Train, Split::Dev] {
        let rows = ds.indices(split);
        let r: Vec<f64> = rows
            .iter()
            .map(|&i| f64::from(segments[i].residual))
            .collect();
        let sigma = super::metrics::robust_sigma(&r);
        if sigma > 0.0 && sigma.is_finite() {
            for (&i, &ri) in rows.iter().zip(&r) {
                z[i] = (ri / sigma) as f32;
            }
        }
    }
    z
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
    let (evals, metrics) = evaluate_rows(ds, rows, &p, &doc_groups(ds, rows), loss);
    for (&i, e) in rows.iter().zip(evals) {
        segs[i] = e;
    }
    metrics
}

/// Evaluates one split from predictions given per row (`preds[k]` is the prediction for
/// `rows[k]`): each row's result, in `rows` order, and the split's metrics. `groups` is
/// `doc_groups(ds, rows)`, passed in so that a trainer can compute it once.
pub fn evaluate_rows(
    ds: &Dataset,
    rows: &[usize],
    preds: &[f32],
    groups: &[Vec<usize>],
    loss: LossKind,
) -> (Vec<SegmentEval>, SplitMetrics) {
    let p: Vec<f64> = preds.iter().map(|&x| f64::from(x)).collect();
    let t: Vec<f64> = rows
        .iter()
        .map(|&i| f64::from(ds.segments[i].score))
        .collect();
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
    (evals, SplitMetrics::compute(&p, &t, groups, loss))
}
