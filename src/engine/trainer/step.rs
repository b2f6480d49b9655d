//! One optimiser step in named stages: the batch's loss, backward, the update with its
//! measurements on the helper thread, the finiteness check (and rollback), and the evaluation the
//! report carries.

use std::sync::Arc;
use std::time::Instant;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::eval::merge;
use super::helper::{PassEval, SplitEval, SplitRows, TrainPass, evaluate_pass};
use super::{Evaluation, Trainer};
use crate::data::Dataset;
use crate::engine::influence::GradShare;
use crate::engine::instrument::{
    Collect, GradList, change_norms, collect, join, scalar, stepped_norms, sum_squares,
};
use crate::engine::metrics::LossKind;
use crate::engine::model::{ACTIVATION_LIMIT, InputScale, Inputs, SegmentModel, activation_bound};
use crate::engine::report::{LayerChange, SegmentEval, StepReport, evaluate_rows};
use crate::engine::tensors::{host_preds, objective};

/// Full batch: the next step's training loss, computed right after this step's update, and its
/// gradients, computed while the helper thread evaluates this step (so the next step starts at
/// its update). Dropped whenever the model, the optimiser or the objective changes.
pub(super) struct Lookahead {
    loss: Tensor<1>,
    grads: GradientsParams,
}

impl Lookahead {
    /// The next step's forward pass over the training rows and its backward pass. Between the
    /// two, the rows' last hidden activations and predictions are handed over (`hand_over`) to
    /// the helper thread, which evaluates them while the backward pass runs, with the training
    /// rows' word-type sums, which the dev pass's own type table starts with.
    fn run(
        model: &SegmentModel,
        x: &Inputs,
        objective: impl FnOnce(Tensor<2>) -> Tensor<1>,
        hand_over: impl FnOnce(TrainPass),
    ) -> Lookahead {
        let type_sums = model.type_sums(&x.types);
        let h = model.hidden_from(type_sums.clone(), x); // [n_train, hidden]
        let pred = model.head.forward(h.clone()); // [n_train, 1]
        let loss = objective(pred.clone());
        hand_over(TrainPass {
            h: h.inner(),
            preds: host_preds(pred.inner()),
            type_sums: type_sums.inner(),
        });
        let grads = GradientsParams::from_grads(loss.backward(), model);
        Lookahead { loss, grads }
    }
}

/// The helper's work beside the next forward and backward passes: the weight-change norms of
/// (old, new) weights when given, and the evaluation of the pass it is handed.
struct Beside<'a> {
    change: Option<OldAndNew>,
    dev: Option<(SegmentModel, &'a Inputs, SplitRows<'a>)>,
    train: (SplitRows<'a>, &'a [f32]),
    loss: LossKind,
}

/// The next step's forward and backward passes on this thread (`fwd`: the model, the training
/// inputs and the objective; None without a fused pass), with `beside` on the helper pool's thread
/// as tasks of a scope whose body is this thread's work: no thread is started per step, and a
/// panic in a task is raised again by the scope. Returns the passes, the norms and the
/// evaluation.
fn next_pass_beside(
    helper_pool: &rayon::ThreadPool,
    fwd: Option<(&SegmentModel, &Inputs, impl FnOnce(Tensor<2>) -> Tensor<1>)>,
    beside: Beside,
) -> (Option<Lookahead>, Option<LayerNorms>, Option<PassEval>) {
    let (mut norms, mut pass_eval) = (None, None);
    let (norms_out, eval_out) = (&mut norms, &mut pass_eval);
    let Beside {
        change,
        dev,
        train,
        loss,
    } = beside;
    let next = helper_pool.in_place_scope(|hs| {
        if let Some((b, a)) = change {
            hs.spawn(move |_| *norms_out = Some(change_norms(b, a)));
        }
        fwd.map(|(model, x, objective)| {
            // A task started at the hand-over, not one waiting on a channel from the start:
            // the helper's thread sleeps through the forward pass instead of spinning beside
            // it (step ratio 1.07 and 1.10 against 1.21, `cargo bench -- step`).
            let hand_over = move |pass: TrainPass| {
                hs.spawn(move |_| *eval_out = Some(evaluate_pass(pass, dev, train, loss)));
            };
            Lookahead::run(model, x, objective, hand_over)
        })
    });
    (next, norms, pass_eval)
}

/// Per parameter tensor, (||new - old||², ||new||²).
type LayerNorms = Vec<(f64, f64)>;

/// One tensor per parameter, in the module's visiting order.
type Tensors = Vec<Tensor<2>>;

/// The weights before and after an update.
type OldAndNew = (Tensors, Tensors);

/// Which parameters have a gradient (the optimiser steps only those), and the gradients: to
/// reduce on the helper thread when the optimiser does not measure (`.1`), or kept otherwise
/// for the case it cannot say, a parameter list that does not match its record (`.2`).
fn grad_lists(
    model: &SegmentModel,
    grads: &GradientsParams,
    measuring: bool,
) -> (Vec<bool>, Option<Tensors>, Tensors) {
    let gl = GradList::of(model, grads);
    if measuring {
        (gl.present, None, gl.tensors)
    } else {
        (gl.present, Some(gl.tensors), Vec::new())
    }
}

/// Old and new weights, for the weight-change norms, when the optimiser did not measure them
/// (`measured` false): to reduce on this thread (`.0`: with no fused pass to overlap them with,
/// flex may spread them over every core) or on the helper beside the next forward pass (`.1`).
/// When it did, the old weights' handles are let go here.
fn change_norm_inputs(
    measured: bool,
    fused: bool,
    before: Collect,
    after: &Collect,
) -> (Option<OldAndNew>, Option<OldAndNew>) {
    if measured {
        return (None, None);
    }
    let pair = Some((before.tensors, after.tensors.clone()));
    if fused { (None, pair) } else { (pair, None) }
}

/// Whether nothing the step computes after its update can be non-finite: the loss and the
/// measured norms (`stepped`: ||g||² and, per tensor named in `names`, (||dW||², ||W||²)) are
/// finite, and those norms bound every activation of the next forward pass below
/// [`ACTIVATION_LIMIT`] (NaN compares false).
fn proven_finite(
    (g2, norms): &(f64, LayerNorms),
    names: &[String],
    scale: &InputScale,
    loss_finite: bool,
) -> bool {
    let finite =
        loss_finite && g2.is_finite() && norms.iter().all(|(d, w)| d.is_finite() && w.is_finite());
    let sq = |name: &str| names.iter().position(|n| n == name).map(|i| norms[i].1);
    finite && activation_bound(sq, scale).is_some_and(|b| b < ACTIVATION_LIMIT)
}

/// What the update stage measured, besides the updated model.
struct Measured {
    grad_norm: f64,
    /// Per parameter tensor: (||dW||^2, ||W||^2), with the tensors' names.
    norms: Vec<(f64, f64)>,
    names: Vec<String>,
    /// Full batch: the next step's training loss and gradients, the training split's evaluation
    /// by the updated model, and its rows' gradient shares.
    train: Option<(Lookahead, SplitEval, Option<Vec<GradShare>>)>,
    /// Full batch with dev rows: the dev split's evaluation by the updated model.
    dev: Option<SplitEval>,
    /// Host-side time of the train split's metrics.
    eval_ms: f64,
}

impl Measured {
    /// Why the step must be refused, if anything became non-finite.
    fn non_finite(&self, batch_loss: f64, step: u64) -> Option<String> {
        let bad_weights = self
            .norms
            .iter()
            .any(|(d, w)| !d.is_finite() || !w.is_finite())
            || self
                .train
                .iter()
                .map(|t| &t.1.preds)
                .chain(self.dev.iter().map(|d| &d.preds))
                .any(|p| p.iter().any(|x| !x.is_finite()));
        if !batch_loss.is_finite() {
            Some(format!("non-finite loss ({batch_loss}) at step {step}"))
        } else if !self.grad_norm.is_finite() {
            Some(format!("non-finite gradient norm at step {step}"))
        } else if bad_weights {
            Some(format!("non-finite weights after step {step}"))
        } else {
            None
        }
    }

    /// Per-tensor weight change, and the overall ||dW|| and ||dW|| / ||W||.
    fn layer_changes(&mut self) -> (Vec<LayerChange>, f64, f64) {
        let mut layers = Vec::with_capacity(self.names.len());
        let (mut dw2, mut w2) = (0.0f64, 0.0f64);
        for (name, &(d, w)) in std::mem::take(&mut self.names).into_iter().zip(&self.norms) {
            dw2 += d;
            w2 += w;
            layers.push(LayerChange {
                name,
                weight_change: d.sqrt(),
                weight_change_rel: if w > 0.0 { (d / w).sqrt() } else { 0.0 },
                norm: w.sqrt(),
            });
        }
        let rel = if w2 > 0.0 { (dw2 / w2).sqrt() } else { 0.0 };
        (layers, dw2.sqrt(), rel)
    }
}

impl Trainer {
    /// One optimiser step. A non-finite loss or gradient leaves the model untouched and returns
    /// a report whose `diverged` says why; later calls return the same.
    ///
    /// The stages: the batch's loss (reused from the previous step's look-ahead with full batch),
    /// backward, the update with its measurements beside it, the finiteness check (and rollback),
    /// then the evaluation the report carries.
    pub fn step(&mut self) -> StepReport {
        // Per thread, and the trainer may have moved to another thread since the last step.
        crate::engine::tuning::flush_denormals();
        let t0 = Instant::now();
        let attempted = self.state.step + 1;
        if let Some(why) = self.diverged.clone() {
            let mut r = self.snapshot_report();
            r.step = attempted;
            r.diverged = Some(why);
            return r;
        }
        let batch_pos = self.next_batch();
        // Full batch, refreshing every step: the forward pass that the next step trains on is
        // run right after this update, so its values are this report's train predictions and no
        // separate evaluation pass is needed (only the dev rows get a no-grad forward).
        let fused = batch_pos.is_none() && self.eval_interval == 1;
        // For a rollback; `update` lets it go as soon as it has proven the step finite.
        let mut rollback = Some((self.model.clone(), self.optim.clone()));

        let (loss, grads, batch_preds) = self.batch_loss_tensor(batch_pos.as_deref());
        let batch_loss = scalar(loss.clone().inner());
        let grads =
            grads.unwrap_or_else(|| GradientsParams::from_grads(loss.backward(), &self.model));
        let mut measured = self.update(grads, fused, &mut rollback, batch_loss.is_finite());
        // With full batch the evaluation ran on the helper thread beside the next step's
        // backward pass, so it is not part of this call's time; otherwise it ran here.
        let step_ms = t0.elapsed().as_secs_f64() * 1e3 - if fused { 0.0 } else { measured.eval_ms };

        let batch: Arc<Vec<usize>> = match &batch_pos {
            None => self.train_rows.clone(),
            Some(pos) => Arc::new(pos.iter().map(|&p| self.train_rows[p]).collect()),
        };
        if let Some(why) = measured.non_finite(batch_loss, attempted) {
            self.lookahead = None;
            // Roll back: the update is not applied and the optimiser state is not advanced.
            // (`update` keeps the copy whenever a non-finite value remains possible.)
            if let Some((model, optim)) = rollback {
                self.model = model;
                self.optim = optim;
            }
            self.diverged = Some(why.clone());
            let mut r = self.snapshot_report();
            r.step = attempted;
            r.batch = batch;
            r.batch_loss = batch_loss;
            r.grad_norm = measured.grad_norm;
            r.step_ms = step_ms;
            r.diverged = Some(why);
            return r;
        }

        self.state.step = attempted;
        let (layers, weight_change, weight_change_rel) = measured.layer_changes();
        let grad_norm = measured.grad_norm;
        let (ev, eval_ms) = self.report_evaluation(measured, &batch, batch_preds);
        self.track_best(ev.step, &ev.dev);
        StepReport {
            step: attempted,
            batch,
            batch_loss,
            trainer_loss: None,
            eval_step: ev.step,
            segments: ev.segments,
            pred_steps: ev.pred_steps,
            grad: ev.grad,
            train: ev.train,
            dev: ev.dev,
            grad_norm,
            lr: self.settings.lr,
            weight_change,
            weight_change_rel,
            layers,
            step_ms,
            eval_ms,
            diverged: None,
            models: Vec::new(),
        }
    }

    /// The loss of this step's batch as a tensor with its graph: the look-ahead computed at the
    /// end of the previous full-batch step (with its gradients), or a fresh forward pass over the
    /// batch. With a mini-batch, also that pass's predictions (batch order), for the report.
    fn batch_loss_tensor(
        &mut self,
        batch_pos: Option<&[usize]>,
    ) -> (Tensor<1>, Option<GradientsParams>, Option<Vec<f32>>) {
        match (self.lookahead.take(), batch_pos) {
            (Some(l), None) => (l.loss, Some(l.grads), None),
            (_, None) => {
                let pred = self.model.forward(&self.train_x); // [n, 1]
                let loss = objective(
                    pred,
                    self.train_y.clone(),
                    self.settings.loss,
                    self.pairs.as_ref(),
                    self.weights.as_ref(),
                );
                (loss, None, None)
            }
            (_, Some(pos)) => {
                let idx: Vec<i64> = pos.iter().map(|&p| p as i64).collect();
                let idx = Tensor::<1, Int>::from_ints(
                    TensorData::new(idx, [pos.len()]),
                    &self.train_y.device(),
                );
                let pred = self.model.forward(&self.train_x.select(idx.clone())); // [b, 1]
                // Only b values reach the host; they date the batch rows between refreshes.
                let preds = host_preds(pred.clone().inner());
                // Pairwise losses train on the full batch only (checked with the config).
                let weights = self
                    .weights
                    .as_ref()
                    .map(|w| w.select(idx.clone(), &self.weights_host, pos));
                let loss = objective(
                    pred,
                    self.train_y.clone().select(0, idx),
                    self.settings.loss,
                    None,
                    weights.as_ref(),
                );
                (loss, None, Some(preds))
            }
        }
    }

    /// Applies the optimiser step and measures it. The fused Adam measures the gradient and the
    /// weight change in its own pass; with SGD the gradient norm is reduced on the helper thread
    /// while the optimiser updates, and the weight change after it. Then (`fused`) this thread
    /// runs the next step's forward pass and hands the helper thread the training rows' last
    /// hidden activations and predictions; the helper predicts and evaluates the dev rows and
    /// evaluates the training rows (metrics, gradient shares) while this thread runs the next
    /// step's backward pass, which the next step then starts from.
    ///
    /// `rollback`, the state before the update, is dropped right after it when the loss was
    /// finite (`loss_finite`), the optimiser measured finite norms, and those norms bound every
    /// activation of the next forward pass below [`ACTIVATION_LIMIT`]: then no check of this step
    /// can fail, and the next forward and backward passes get its memory.
    fn update(
        &mut self,
        grads: GradientsParams,
        fused: bool,
        rollback: &mut Option<(SegmentModel, ModuleOptimizer)>,
        loss_finite: bool,
    ) -> Measured {
        let before = collect(&self.model);
        let measuring = self.norms.clone();
        let (present, helper_list, spare_list) =
            grad_lists(&self.model, &grads, measuring.is_some());

        let lr = self.settings.lr;
        let loss_kind = self.settings.loss;
        let helper_pool: &rayon::ThreadPool = &self.helper_pool;
        let Trainer {
            model,
            optim,
            dataset,
            train_x,
            train_y,
            dev_x,
            train_rows,
            dev_rows,
            train_shape,
            dev_shape,
            pairs,
            weights,
            weights_host,
            input_scale,
            early_releases,
            ..
        } = self;
        let pairs = pairs.as_ref();
        let (weights, weights_host) = (weights.as_ref(), weights_host.as_slice());
        // Shared from here on (shared references are Copy into both threads' closures).
        let (dataset, train_x, train_y, dev_x): (&Dataset, &Inputs, &Tensor<2>, &Option<Inputs>) =
            (dataset, train_x, train_y, dev_x);
        let train_split = SplitRows::of(dataset, train_rows, train_shape);
        let dev_split = SplitRows::of(dataset, dev_rows, dev_shape);
        std::thread::scope(|s| {
            let gn = helper_list.map(|l| s.spawn(move || helper_pool.install(|| sum_squares(l))));
            *model = optim.step(lr, model.clone(), grads);
            let after = collect(model);
            let stepped =
                measuring.and_then(|sink| stepped_norms(&present, sink.take(), &after.tensors));
            if stepped
                .as_ref()
                .is_some_and(|s| proven_finite(s, &after.names, input_scale, loss_finite))
            {
                *rollback = None;
                *early_releases += 1;
            }
            // When the optimiser measured the step, the gradients' and the old weights' handles
            // are let go here, not at the end of the step (the old weights' memory goes when the
            // rollback copy above has gone too): the memory the update has just read into cache
            // is then free for the next forward and backward passes. The gradients alone, held
            // to the end, made the instrumented step's ratio to the bare loop, in the quietest
            // tenth of its steps, 1.20 against 1.15 (`cargo bench -- step`, 8 alternating runs).
            let measured = stepped.is_some();
            let spare_list = if measured {
                drop(spare_list);
                Vec::new()
            } else {
                spare_list
            };
            let (change_here, change_beside) = change_norm_inputs(measured, fused, before, &after);
            let dev_model = (fused && dev_x.is_some()).then(|| model.valid());
            let beside = Beside {
                change: change_beside,
                dev: dev_model
                    .zip(dev_x.as_ref())
                    .map(|(m, x)| (m, x, dev_split)),
                train: (train_split, weights_host),
                loss: loss_kind,
            };
            let objective = |pred| objective(pred, train_y.clone(), loss_kind, pairs, weights);
            let fwd = fused.then_some((&*model, train_x, objective));
            let (next, norms, pass_eval) = next_pass_beside(helper_pool, fwd, beside);
            let here = change_here.map(|(b, a)| change_norms(b, a));
            let (dev, train) = match pass_eval {
                Some(PassEval { dev, train }) => (dev, Some(train)),
                None => (None, None),
            };
            let eval_ms = train.as_ref().map_or(0.0, |t| t.2);
            let train = next
                .zip(train)
                .map(|(next, (eval, shares, _))| (next, eval, shares));
            // Without the optimiser's measurements: the gradient norm from the helper's thread
            // (SGD) or reduced now, and the weight changes from wherever they were reduced.
            let (grad_norm, norms) = stepped.unwrap_or_else(|| {
                let g2 = gn.map(join).unwrap_or_else(|| sum_squares(spare_list));
                (g2, norms.or(here).unwrap_or_default())
            });
            Measured {
                grad_norm: grad_norm.sqrt(),
                norms,
                names: after.names,
                train,
                dev,
                eval_ms,
            }
        })
    }

    /// The evaluation this step's report carries, and its host-side time: the fused one computed
    /// beside the update, a fresh refresh every `eval_interval` steps, or the last one with the
    /// batch rows' predictions from this step's forward pass (made before the update).
    fn report_evaluation(
        &mut self,
        measured: Measured,
        batch: &[usize],
        batch_preds: Option<Vec<f32>>,
    ) -> (Evaluation, f64) {
        let step = self.state.step;
        if let Some((next, train, grads)) = measured.train {
            self.lookahead = Some(next);
            // No dev rows: the metrics of an empty split, as a refresh would give.
            let (de, dm, context) = measured
                .dev
                .map(|d| (d.rows, d.metrics, d.context))
                .unwrap_or_else(|| {
                    let (r, m) =
                        evaluate_rows(&self.dataset, &[], &[], &self.dev_shape, self.settings.loss);
                    (r, m, Vec::new())
                });
            let segments = Arc::new(merge(
                self.dataset.segments.len(),
                &self.train_rows,
                train.rows,
                &self.dev_rows,
                de,
                (&self.context_rows, &context),
            ));
            let ev = Evaluation {
                step,
                segments,
                pred_steps: Arc::default(),
                grad: self.grads_in_order(grads),
                train: train.metrics,
                dev: dm,
                ms: measured.eval_ms,
            };
            self.last_eval = Some(ev.clone());
            return (ev, measured.eval_ms);
        }
        match self.last_eval.take() {
            Some(mut last) if !step.is_multiple_of(self.eval_interval) => {
                if let Some(preds) = batch_preds {
                    self.overlay_batch(&mut last, batch, &preds, step - 1);
                }
                self.last_eval = Some(last.clone());
                (last, 0.0)
            }
            _ => {
                let ev = self.evaluate();
                self.last_eval = Some(ev.clone());
                let ms = ev.ms;
                (ev, ms)
            }
        }
    }

    /// Writes the batch rows' predictions (made by the model after step `by`) over an earlier
    /// evaluation: prediction, residual, loss, and the loss's share of the training split's total
    /// at that evaluation. The split metrics stay the evaluation's own. Costs a copy of the
    /// per-segment vectors (the previous report still holds them) and O(batch) work.
    fn overlay_batch(&self, ev: &mut Evaluation, batch: &[usize], preds: &[f32], by: u64) {
        let n = self.dataset.segments.len();
        let total = ev.train.loss * ev.train.n as f64;
        let segs = Arc::make_mut(&mut ev.segments);
        let steps = Arc::make_mut(&mut ev.pred_steps);
        if steps.len() != n {
            *steps = vec![ev.step; n];
        }
        for (&i, &p) in batch.iter().zip(preds) {
            let residual = self.dataset.target(i) - p;
            let loss = self.settings.loss.of(f64::from(residual));
            segs[i] = SegmentEval {
                pred: p,
                residual,
                loss: loss as f32,
                share: if total > 0.0 {
                    (loss / total) as f32
                } else {
                    0.0
                },
            };
            steps[i] = by;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::config::Config;
    use crate::data::features::featurize;
    use crate::data::{Partition, ReadOptions};
    use crate::engine::{TrainSettings, Trainer};

    fn trainer(cfg: &Config) -> Trainer {
        let (ds, _) = crate::data::load(None, &ReadOptions::default()).expect("bundled data");
        let part = Arc::new(Partition::new(&ds, cfg.dev_fraction));
        let f = featurize(&ds, &cfg.features);
        Trainer::new(Arc::new(ds), part, f, TrainSettings::from_config(cfg)).expect("trainer")
    }

    /// Ordinary steps prove themselves finite and let go of their rollback copy early.
    #[test]
    fn finite_steps_let_their_rollback_copy_go() {
        let mut t = trainer(&Config::default());
        for _ in 0..5 {
            assert!(t.step().diverged.is_none());
        }
        assert_eq!(t.early_releases, 5);
    }

    /// An Adam step that blows the weights up cannot be proven finite: it keeps its copy, and
    /// the refused update leaves the weights as they were.
    #[test]
    fn a_step_that_blows_up_keeps_its_copy_and_rolls_back() {
        let mut cfg = Config::default();
        cfg.train.lr = 1e30;
        let mut t = trainer(&cfg);
        let before = t.parameters_host();
        let r = t.step();
        assert!(r.diverged.is_some(), "an absurd learning rate must diverge");
        assert_eq!(t.early_releases, 0);
        assert_eq!(t.parameters_host(), before, "the update must be refused");
        assert_eq!(t.step_count(), 0);
    }
}
