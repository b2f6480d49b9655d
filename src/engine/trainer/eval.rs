//! Evaluation: every segment's prediction, its metrics and gradient share, without autodiff.

use super::*;

/// Every segment's result in dataset order, from per-row results of the two splits and the
/// context rows' predictions (no residual, loss or share: they have no target).
pub(super) fn merge(
    n: usize,
    train_rows: &[usize],
    train: Vec<SegmentEval>,
    dev_rows: &[usize],
    dev: Vec<SegmentEval>,
    context: (&[usize], &[f32]),
) -> Vec<SegmentEval> {
    // Held-out segments (a cross-fitting fold) have no prediction (not a prediction of 0).
    let mut segs = vec![SegmentEval::UNKNOWN; n];
    for (&i, e) in train_rows.iter().zip(train).chain(dev_rows.iter().zip(dev)) {
        segs[i] = e;
    }
    for (&i, &pred) in context.0.iter().zip(context.1) {
        segs[i] = SegmentEval {
            pred,
            ..SegmentEval::UNKNOWN
        };
    }
    segs
}

/// Predictions and metrics of one model state.
#[derive(Debug, Clone)]
pub(super) struct Evaluation {
    /// The step whose model produced them.
    pub(super) step: u64,
    pub(super) segments: Arc<Vec<SegmentEval>>,
    /// Per segment, the step whose model predicted it; empty when all are `step`'s.
    pub(super) pred_steps: Arc<Vec<u64>>,
    /// Per segment, the gradient share (training rows; empty for a pairwise loss).
    pub(super) grad: Arc<Vec<GradShare>>,
    pub(super) train: SplitMetrics,
    pub(super) dev: SplitMetrics,
    pub(super) ms: f64,
}

impl Trainer {
    /// Predictions of the current model for every row of `x`, by chunks, without autodiff.
    pub fn predict(&self, x: &Inputs) -> Vec<f32> {
        self.predict_hidden(x, false).0
    }

    /// Predictions for every row of `x` by chunks, without autodiff, and (`keep_hidden`) the last
    /// hidden activation of every row, [n, hidden].
    pub(super) fn predict_hidden(
        &self,
        x: &Inputs,
        keep_hidden: bool,
    ) -> (Vec<f32>, Option<Tensor<2>>) {
        let model = self.model.valid();
        let n = x.rows();
        let mut out = Vec::with_capacity(n);
        let mut hidden = Vec::new();
        let mut start = 0;
        while start < n {
            let end = (start + EVAL_CHUNK).min(n);
            let chunk = if start == 0 && end == n {
                x.clone()
            } else {
                x.slice(start, end)
            };
            let h = model.hidden_from(model.type_sums(&chunk.types), &chunk);
            out.extend(host_preds(model.head.forward(h.clone())));
            if keep_hidden {
                hidden.push(h);
            }
            start = end;
        }
        let hidden = (!hidden.is_empty()).then(|| Tensor::cat(hidden, 0));
        (out, hidden)
    }

    /// The training rows' gradient shares in dataset order (empty when the loss has none).
    pub(super) fn grads_in_order(&self, train: Option<Vec<GradShare>>) -> Arc<Vec<GradShare>> {
        Arc::new(train.map_or_else(Vec::new, |g| {
            let mut out = vec![GradShare::NONE; self.dataset.segments.len()];
            for (&i, g) in self.train_rows.iter().zip(g) {
                out[i] = g;
            }
            out
        }))
    }

    /// Predicts every segment (dataset order) with the current model.
    pub fn predict_all(&self) -> Vec<f32> {
        let mut preds = vec![0f32; self.dataset.segments.len()];
        for (p, &i) in self
            .predict(&self.train_x)
            .into_iter()
            .zip(self.train_rows.iter())
        {
            preds[i] = p;
        }
        if let Some(dx) = &self.dev_x {
            let rows = self.dev_rows.iter().chain(&self.context_rows);
            for (p, &i) in self.predict(dx).into_iter().zip(rows) {
                preds[i] = p;
            }
        }
        preds
    }

    /// Refreshes every segment's prediction with a no-grad forward pass, and the split metrics.
    pub(super) fn evaluate(&self) -> Evaluation {
        let t0 = Instant::now();
        let loss = self.settings.loss;
        let (tp, hidden) = self.predict_hidden(&self.train_x, true);
        let mut dp = self
            .dev_x
            .as_ref()
            .map(|x| self.predict(x))
            .unwrap_or_default();
        let cp = dp.split_off(self.dev_rows.len().min(dp.len()));
        let (te, train) = evaluate_rows(
            &self.dataset,
            &self.train_rows,
            &tp,
            &self.train_shape,
            loss,
        );
        let (de, dev) = evaluate_rows(&self.dataset, &self.dev_rows, &dp, &self.dev_shape, loss);
        let residuals: Vec<f32> = te.iter().map(|e| e.residual).collect();
        let grad = self.grads_in_order(
            hidden.and_then(|h| grad_shares(h, &residuals, loss, &self.weights_host)),
        );
        let segs = merge(
            self.dataset.segments.len(),
            &self.train_rows,
            te,
            &self.dev_rows,
            de,
            (&self.context_rows, &cp),
        );
        Evaluation {
            step: self.state.step,
            segments: Arc::new(segs),
            pred_steps: Arc::default(),
            grad,
            train,
            dev,
            ms: t0.elapsed().as_secs_f64() * 1e3,
        }
    }

    /// The report for the current model without taking a step (step 0 before training).
    pub fn snapshot_report(&mut self) -> StepReport {
        let ev = self.evaluate();
        self.last_eval = Some(ev.clone());
        StepReport {
            step: ev.step,
            batch: Arc::new(Vec::new()),
            batch_loss: ev.train.loss,
            trainer_loss: None,
            eval_step: ev.step,
            segments: ev.segments,
            pred_steps: ev.pred_steps,
            grad: ev.grad,
            train: ev.train,
            dev: ev.dev,
            grad_norm: f64::NAN,
            lr: self.settings.lr,
            weight_change: 0.0,
            weight_change_rel: 0.0,
            layers: Vec::new(),
            step_ms: 0.0,
            eval_ms: ev.ms,
            diverged: None,
            models: Vec::new(),
        }
    }
}
