//! The helper thread's side of a step: what the training rows' forward pass hands it, and the
//! evaluations (dev rows' pass, every metric, gradient shares) it computes beside the next
//! step's backward pass.

use std::time::Instant;

use burn::prelude::*;

use crate::data::Dataset;
use crate::engine::influence::{GradShare, grad_shares};
use crate::engine::metrics::{LossKind, SplitMetrics};
use crate::engine::model::{Inputs, SegmentModel};
use crate::engine::report::{SegmentEval, SplitShape, evaluate_rows};
use crate::engine::tensors::host_preds;

/// What the training rows' forward pass hands the helper: their last hidden activations, their
/// predictions and the word-type sums it computed (no graph).
pub(super) struct TrainPass {
    pub(super) h: Tensor<2>,
    pub(super) preds: Vec<f32>,
    pub(super) type_sums: Tensor<2>,
}

/// One split's predictions, per-row results and metrics, computed beside the update.
pub(super) struct SplitEval {
    pub(super) preds: Vec<f32>,
    /// The context rows' predictions (after the dev rows in the same pass).
    pub(super) context: Vec<f32>,
    pub(super) rows: Vec<SegmentEval>,
    pub(super) metrics: SplitMetrics,
}

/// One split's rows, documents and targets' ranks: what evaluating its predictions needs.
#[derive(Clone, Copy)]
pub(super) struct SplitRows<'a> {
    dataset: &'a Dataset,
    rows: &'a [usize],
    shape: &'a SplitShape,
}

impl<'a> SplitRows<'a> {
    pub(super) fn of(dataset: &'a Dataset, rows: &'a [usize], shape: &'a SplitShape) -> Self {
        SplitRows {
            dataset,
            rows,
            shape,
        }
    }

    /// The split's per-row results and metrics for `preds` (one per row, in `rows` order).
    fn evaluate(self, preds: Vec<f32>, context: Vec<f32>, loss: LossKind) -> SplitEval {
        let (rows, metrics) = evaluate_rows(self.dataset, self.rows, &preds, self.shape, loss);
        SplitEval {
            preds,
            context,
            rows,
            metrics,
        }
    }
}

/// The training rows' evaluation on the helper thread: their metrics, their gradient shares
/// from `h` (their last hidden activations), and the host time both took.
fn evaluate_train(
    split: SplitRows,
    h: Tensor<2>,
    preds: Vec<f32>,
    loss: LossKind,
    weights_host: &[f32],
) -> (SplitEval, Option<Vec<GradShare>>, f64) {
    let t = Instant::now();
    let eval = split.evaluate(preds, Vec::new(), loss);
    let residuals: Vec<f32> = eval.rows.iter().map(|e| e.residual).collect();
    let shares = grad_shares(h, &residuals, loss, weights_host);
    (eval, shares, t.elapsed().as_secs_f64() * 1e3)
}

/// The dev rows' evaluation by `model` (no graph), then the context rows' predictions, which
/// follow the dev rows in `x`. `train_types`: the training pass's word-type sums by the same
/// model, the start of `x`'s type table.
fn evaluate_dev(
    split: SplitRows,
    model: &SegmentModel,
    x: &Inputs,
    train_types: Tensor<2>,
    loss: LossKind,
) -> SplitEval {
    let type_sums = model.type_sums_after(train_types, &x.types);
    let mut preds = host_preds(model.forward_from(type_sums, x));
    let context = preds.split_off(split.rows.len().min(preds.len()));
    split.evaluate(preds, context, loss)
}

/// The helper thread's evaluation of one training pass: the dev rows' by their model, when there
/// are dev rows, and the training rows' (with their host time).
pub(super) struct PassEval {
    pub(super) dev: Option<SplitEval>,
    pub(super) train: (SplitEval, Option<Vec<GradShare>>, f64),
}

/// What the helper thread computes once the training rows' forward pass hands it `pass`, beside
/// the backward pass: the dev rows' evaluation by their model, starting from the pass's word-type
/// sums, then the training rows' (with the rows' training weights).
pub(super) fn evaluate_pass(
    pass: TrainPass,
    dev: Option<(SegmentModel, &Inputs, SplitRows)>,
    (train_split, weights_host): (SplitRows, &[f32]),
    loss_kind: LossKind,
) -> PassEval {
    let TrainPass {
        h,
        preds,
        type_sums,
    } = pass;
    let dev = dev.map(|(m, x, split)| evaluate_dev(split, &m, x, type_sums, loss_kind));
    let train = evaluate_train(train_split, h, preds, loss_kind, weights_host);
    PassEval { dev, train }
}
