//! What a tour page shows, computed from a step report of the running model (and the
//! predictions before the last step): the dashboard's explanation panel and `tour --headless`
//! read the same numbers.

use serde::Serialize;

use super::Page;
use crate::data::{Dataset, Partition, Split};
use crate::engine::{SegmentEval, StepReport};

/// One labelled segment at the report's step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegNumbers {
    pub id: String,
    pub text: String,
    pub split: &'static str,
    pub target: f64,
    pub pred: f64,
    /// The squared error, (target - pred)^2.
    pub loss: f64,
    /// The derivative of that loss with respect to the prediction, 2 (pred - target).
    pub dl_dpred: f64,
    /// Share of its split's loss.
    pub share: f64,
    /// Share of the gradient at the output layer (training segments; null otherwise).
    pub grad_share: Option<f64>,
    /// The prediction before the last step, how far the step moved it, and which part of the
    /// gap to the target that was (null at the first report).
    pub prev_pred: Option<f64>,
    pub moved: Option<f64>,
    pub moved_of_gap: Option<f64>,
}

/// The training split's order and value metrics, with MSE taken apart: MSE = bias^2 +
/// Var(residual).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitNumbers {
    pub mse: f64,
    /// Mean residual (target - prediction).
    pub bias: f64,
    pub bias_sq: f64,
    pub var_residual: f64,
    pub spearman: f64,
    pub kendall: f64,
    pub pairwise: f64,
}

/// One model of a comparison, on the dev split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelNumbers {
    pub name: String,
    pub dev: SplitNumbers,
    /// Mean prediction against mean target on dev: how far the values drifted.
    pub mean_pred: f64,
    pub mean_target: f64,
}

/// Everything a page shows at one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Numbers {
    pub page: Page,
    pub step: u64,
    /// The page's segments (scene 3c: none, it has a data set).
    pub segments: Vec<SegNumbers>,
    pub train: SplitNumbers,
    pub models: Vec<ModelNumbers>,
}

fn split_numbers(m: &crate::engine::SplitMetrics) -> SplitNumbers {
    SplitNumbers {
        mse: m.mse,
        bias: m.bias,
        bias_sq: m.bias * m.bias,
        var_residual: m.mse - m.bias * m.bias,
        spearman: m.spearman,
        kendall: m.kendall_tau_b,
        pairwise: m.pairwise_acc,
    }
}

/// The page's numbers for `report`; `prev` holds every segment's prediction before the last
/// step (the evaluation before the report's), if there was one.
pub fn of(
    page: Page,
    ds: &Dataset,
    part: &Partition,
    report: &StepReport,
    prev: Option<&[SegmentEval]>,
) -> Numbers {
    let segments = if page == Page::Compare {
        Vec::new()
    } else {
        (0..ds.segments.len())
            .filter(|&i| part.is_labelled(i))
            .map(|i| {
                let e = report.segments[i];
                let target = f64::from(ds.target(i));
                let pred = f64::from(e.pred);
                let prev_pred = prev
                    .and_then(|p| p.get(i))
                    .map(|p| f64::from(p.pred))
                    .filter(|p| p.is_finite());
                let moved = prev_pred.map(|p| pred - p);
                let g = report.grad_of(i).share;
                SegNumbers {
                    id: ds.segment_id(i),
                    text: ds.segments[i].text.clone(),
                    split: part.split_of(i).name(),
                    target,
                    pred,
                    loss: (target - pred).powi(2),
                    dl_dpred: 2.0 * (pred - target),
                    share: f64::from(e.share),
                    grad_share: (part.split_of(i) == Split::Train && g.is_finite())
                        .then(|| f64::from(g)),
                    prev_pred,
                    moved,
                    moved_of_gap: prev_pred
                        .zip(moved)
                        .filter(|(p, _)| (target - p).abs() > 1e-12)
                        .map(|(p, m)| m / (target - p)),
                }
            })
            .collect()
    };
    let dev_rows = part.indices(Split::Dev);
    let mean = |v: &mut dyn Iterator<Item = f64>| {
        let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
        if n == 0 { f64::NAN } else { s / n as f64 }
    };
    let models = report
        .models
        .iter()
        .map(|m| ModelNumbers {
            name: m.name.clone(),
            dev: split_numbers(&m.dev),
            mean_pred: mean(&mut dev_rows.iter().map(|&i| f64::from(m.segments[i].pred))),
            mean_target: mean(&mut dev_rows.iter().map(|&i| f64::from(ds.target(i)))),
        })
        .collect();
    Numbers {
        page,
        step: report.step,
        segments,
        train: split_numbers(&report.train),
        models,
    }
}
