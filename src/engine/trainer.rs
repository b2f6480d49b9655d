//! The trainer: one optimiser step at a time, each returning a full [`StepReport`].
//!
//! Features become tensors once, on the plain (non-autodiff) device; only the model lives on the
//! autodiff device. Per step, the loss, gradient norm and per-tensor weight change reduce on the
//! device and only their scalars reach the host. With full batch, the forward pass the next step
//! trains on runs right after the update and its values are the report's predictions; otherwise
//! every prediction is refreshed by a no-grad pass every `eval_every` steps.
//!
//! The instrumentation runs beside the training work on a second thread: the training step keeps
//! about one core busy (flex parallelises only its largest kernels), so the gradient norm is
//! reduced while the optimiser updates, and the weight change, the dev rows' forward pass and their
//! metrics while the next training forward pass runs.

use std::sync::Arc;
use std::time::Instant;

use burn::module::{ModuleVisitor, Param};
use burn::optim::{
    AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig, decay::WeightDecayConfig,
    momentum::MomentumConfig,
};
use burn::prelude::*;

use super::metrics::{LossKind, SplitMetrics};
use super::model::{Inputs, SegmentModel, SegmentModelConfig, TypeTable};
use super::report::{LayerChange, SegmentEval, StepReport, doc_groups, evaluate_rows};
use crate::config::{BackendKind, Config, OptimizerName};
use crate::data::features::{DENSE, take_rows};
use crate::data::hash::Rng;
use crate::data::{Dataset, Features, Split};

/// Rows per no-grad forward pass when refreshing predictions, bounding the [rows, L, d]
/// intermediate on large datasets.
const EVAL_CHUNK: usize = 8192;

/// Everything that decides how training runs, resolved from the config.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    pub backend: BackendKind,
    pub seed: u64,
    pub loss: LossKind,
    pub optimizer: OptimizerName,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    /// 0 = full batch.
    pub batch_size: usize,
    pub eval_every: u64,
    pub model: SegmentModelConfig,
}

impl TrainSettings {
    pub fn from_config(cfg: &Config) -> Self {
        Self {
            backend: cfg.backend,
            seed: cfg.seed,
            loss: cfg.train.loss_kind(),
            optimizer: cfg.train.optimizer,
            lr: cfg.train.lr,
            momentum: cfg.train.momentum,
            weight_decay: cfg.train.weight_decay,
            batch_size: cfg.train.batch_size,
            eval_every: cfg.train.eval_every,
            model: SegmentModelConfig::new(cfg.features.buckets, DENSE)
                .with_embed_dim(cfg.model.embed_dim)
                .with_hidden(cfg.model.hidden),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the dataset has no training segments: every document is in the dev split")]
    NoTrainData,
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: String, message: String },
}

/// A plain (non-autodiff) device of the chosen backend.
pub fn plain_device(kind: BackendKind) -> Device {
    match kind {
        BackendKind::Flex => Device::flex(),
        // burn 0.22 marks ndarray deprecated in favour of flex; it stays selectable for comparison.
        #[allow(deprecated)]
        BackendKind::Ndarray => Device::ndarray(),
    }
}

/// The mean per-segment loss of a batch as a [1] tensor; `pred` and `target` are [n, 1].
pub fn loss_tensor(pred: Tensor<2>, target: Tensor<2>, kind: LossKind) -> Tensor<1> {
    let r = pred - target;
    match kind {
        LossKind::Mse => r.powi_scalar(2).mean(),
        LossKind::Mae => r.abs().mean(),
        LossKind::Huber { delta } => {
            // Branch-free Huber: with c = min(|r|, delta), c (|r| - c / 2) is r^2 / 2 inside and
            // delta (|r| - delta / 2) outside.
            let a = r.abs();
            let c = a.clone().clamp_max(delta);
            (c.clone() * (a - c * 0.5)).mean()
        }
    }
}

/// The word-type table as tensors.
fn type_table(f: &Features, device: &Device) -> TypeTable {
    TypeTable {
        ids: Tensor::from_ints(
            TensorData::new(f.type_ids.clone(), [f.types, f.type_width]),
            device,
        ),
        counts: Tensor::from_data(
            TensorData::new(f.type_counts.clone(), [f.types, f.type_width]),
            device,
        ),
    }
}

/// The input tensors of the `train` and `dev` rows (dev `None` when empty), built from `f` one
/// array at a time, each array freed once its rows are copied out: at a million segments the
/// host features are about 400 MB, and a copy of all of them would coexist with them otherwise.
pub fn split_inputs(
    f: Features,
    train: &[usize],
    dev: &[usize],
    device: &Device,
) -> (Inputs, Option<Inputs>) {
    let types = type_table(&f, device);
    let Features {
        tok_width,
        tok_types,
        tok_weights,
        big_width,
        big_ids,
        big_weights,
        dense,
        ..
    } = f;
    let ints = |src: Vec<i32>, width: usize| {
        let make = |rows: &[usize]| {
            Tensor::<2, Int>::from_ints(
                TensorData::new(take_rows(&src, width, rows), [rows.len(), width]),
                device,
            )
        };
        (make(train), make(dev))
    };
    let floats = |src: Vec<f32>, width: usize| {
        let make = |rows: &[usize]| {
            Tensor::<2>::from_data(
                TensorData::new(take_rows(&src, width, rows), [rows.len(), width]),
                device,
            )
        };
        (make(train), make(dev))
    };
    let (tt, dt) = ints(tok_types, tok_width);
    let (tw, dw) = floats(tok_weights, tok_width);
    let (tb, db) = ints(big_ids, big_width);
    let (tbw, dbw) = floats(big_weights, big_width);
    let (td, dd) = floats(dense, DENSE);
    let train_x = Inputs {
        types: types.clone(),
        tok_types: tt,
        tok_weights: tw,
        big_ids: tb,
        big_weights: tbw,
        dense: td,
    };
    let dev_x = (!dev.is_empty()).then(|| Inputs {
        types,
        tok_types: dt,
        tok_weights: dw,
        big_ids: db,
        big_weights: dbw,
        dense: dd,
    });
    (train_x, dev_x)
}

/// Collects every float parameter as a 2-D tensor (biases as one row), with its dotted path
/// (`hidden.weight`). Not flattened to 1-D: on flex a reduction over a reshaped 1-D view measured
/// about twice as slow as over the original 2-D tensor.
struct Collect {
    path: Vec<String>,
    names: Vec<String>,
    tensors: Vec<Tensor<2>>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.names.push(self.path.join("."));
        let t = p.val().inner();
        let last = t.dims()[D - 1] as i32;
        self.tensors.push(t.reshape([-1, last]));
    }
}

fn collect(model: &SegmentModel) -> Collect {
    let mut c = Collect {
        path: Vec::new(),
        names: Vec::new(),
        tensors: Vec::new(),
    };
    model.visit(&mut c);
    c
}

/// Reads a one-element tensor back to the host.
///
/// Each reduction is read back as soon as it is built: on flex, building several reductions and
/// transferring them together measured about twice as slow (7.7 ms against 3.5 ms for two sums over
/// 1M values) as reading each at once.
fn scalar(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

/// The gradient of every parameter, as 2-D tensors (cheap handles; the values are shared).
struct GradList<'a> {
    grads: &'a GradientsParams,
    tensors: Vec<Tensor<2>>,
}

impl ModuleVisitor for GradList<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(p.id) {
            let last = g.dims()[D - 1] as i32;
            self.tensors.push(g.reshape([-1, last]));
        }
    }
}

/// The sum of the squares of every value of `tensors`.
fn sum_squares(tensors: Vec<Tensor<2>>) -> f64 {
    tensors
        .into_iter()
        .map(|g| scalar(g.powi_scalar(2).sum()))
        .sum()
}

/// Per tensor: (||new - old||^2, ||new||^2).
fn change_norms(before: Vec<Tensor<2>>, after: Vec<Tensor<2>>) -> Vec<(f64, f64)> {
    before
        .into_iter()
        .zip(after)
        .map(|(old, new)| {
            let d = scalar((new.clone() - old).powi_scalar(2).sum());
            (d, scalar(new.powi_scalar(2).sum()))
        })
        .collect()
}

/// The single-thread pool the instrumentation runs in, shared by every trainer of the process.
fn helper_pool() -> Arc<rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Arc<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .thread_name(|_| "segscope-instrument".into())
                .build()
                // Building a pool fails only if the OS refuses a thread; nothing can run then.
                .unwrap_or_else(|e| panic!("cannot start the instrumentation thread: {e}")),
        )
    })
    .clone()
}

/// The value of a scoped thread, re-raising its panic on this thread.
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Predictions of `model` for `x` as host values, in one transfer.
fn host_preds(pred: Tensor<2>) -> Vec<f32> {
    // A [k, 1] float tensor always converts to Vec<f32>.
    pred.into_data().try_into_vec::<f32>().unwrap_or_default()
}

/// Every segment's result in dataset order, from per-row results of the two splits.
fn merge(
    n: usize,
    train_rows: &[usize],
    train: Vec<SegmentEval>,
    dev_rows: &[usize],
    dev: Vec<SegmentEval>,
) -> Vec<SegmentEval> {
    let mut segs = vec![SegmentEval::default(); n];
    for (&i, e) in train_rows.iter().zip(train).chain(dev_rows.iter().zip(dev)) {
        segs[i] = e;
    }
    segs
}

/// The state that must survive a checkpoint to continue exactly where training stopped.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainState {
    pub step: u64,
    pub rng: Rng,
    /// Current epoch's order of training rows (mini-batch only) and the position in it.
    pub order: Vec<usize>,
    pub cursor: usize,
}

/// Predictions and metrics of one model state: (step, segments, train, dev, eval ms).
type Evaluation = (u64, Arc<Vec<SegmentEval>>, SplitMetrics, SplitMetrics, f64);

/// Trains one model on one dataset.
pub struct Trainer {
    settings: TrainSettings,
    dataset: Arc<Dataset>,
    device: Device,
    model: SegmentModel,
    optim: ModuleOptimizer,
    state: TrainState,
    /// Global segment indices of each split, in dataset order.
    train_rows: Arc<Vec<usize>>,
    dev_rows: Vec<usize>,
    /// Each split's documents as position lists (for pairwise accuracy), computed once.
    train_groups: Vec<Vec<usize>>,
    dev_groups: Vec<Vec<usize>>,
    train_x: Inputs,
    dev_x: Option<Inputs>,
    /// [n_train, 1] targets.
    train_y: Tensor<2>,
    last_eval: Option<Evaluation>,
    diverged: Option<String>,
    /// Full batch: the loss of the current model on the training rows, computed at the end of the
    /// previous step (its graph is this step's backward).
    lookahead: Option<Tensor<1>>,
    /// One thread for the instrumentation. flex spreads large kernels over rayon's global pool;
    /// run from this pool instead, the instrumentation's kernels stay on one thread and leave the
    /// other core to the training step.
    helper_pool: Arc<rayon::ThreadPool>,
}

impl Trainer {
    /// A freshly initialised model on `dataset`. `features` must be `featurize(dataset)`; they
    /// become tensors and the host copy is freed.
    pub fn new(
        dataset: Arc<Dataset>,
        features: Features,
        settings: TrainSettings,
    ) -> Result<Self, EngineError> {
        let plain = plain_device(settings.backend);
        plain.seed(settings.seed);
        let device = plain.clone().autodiff();
        let model = settings.model.init(&device);
        Self::with_model(dataset, features, settings, model)
    }

    /// A trainer around an existing model (from a checkpoint, or built by a test).
    pub fn with_model(
        dataset: Arc<Dataset>,
        features: Features,
        settings: TrainSettings,
        model: SegmentModel,
    ) -> Result<Self, EngineError> {
        super::alloc::tune();
        let plain = plain_device(settings.backend);
        let device = plain.clone().autodiff();
        let train_rows = dataset.indices(Split::Train);
        let dev_rows = dataset.indices(Split::Dev);
        if train_rows.is_empty() {
            return Err(EngineError::NoTrainData);
        }
        let (train_x, dev_x) = split_inputs(features, &train_rows, &dev_rows, &plain);
        let ty: Vec<f32> = train_rows
            .iter()
            .map(|&i| dataset.segments[i].score)
            .collect();
        let train_y = Tensor::from_data(TensorData::new(ty, [train_rows.len(), 1]), &plain);
        let optim = Self::make_optimizer(&settings);
        let train_groups = doc_groups(&dataset, &train_rows);
        let dev_groups = doc_groups(&dataset, &dev_rows);
        Ok(Self {
            state: TrainState {
                step: 0,
                rng: Rng::new(settings.seed ^ 0xba7c),
                order: Vec::new(),
                cursor: 0,
            },
            settings,
            dataset,
            device,
            model,
            optim,
            train_rows: Arc::new(train_rows),
            dev_rows,
            train_groups,
            dev_groups,
            train_x,
            dev_x,
            train_y,
            last_eval: None,
            diverged: None,
            lookahead: None,
            helper_pool: helper_pool(),
        })
    }

    fn make_optimizer(s: &TrainSettings) -> ModuleOptimizer {
        let decay = (s.weight_decay > 0.0).then(|| WeightDecayConfig::new(s.weight_decay as f32));
        match s.optimizer {
            OptimizerName::Adam => AdamConfig::new().with_weight_decay(decay).init(),
            OptimizerName::Sgd => SgdConfig::new()
                .with_weight_decay(decay)
                .with_momentum((s.momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(s.momentum)
                        .with_dampening(0.0)
                }))
                .init(),
        }
    }

    pub fn settings(&self) -> &TrainSettings {
        &self.settings
    }
    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }
    pub fn model(&self) -> &SegmentModel {
        &self.model
    }
    pub fn optimizer(&self) -> &ModuleOptimizer {
        &self.optim
    }
    pub fn state(&self) -> &TrainState {
        &self.state
    }
    pub fn step_count(&self) -> u64 {
        self.state.step
    }
    /// Why training diverged, once it has.
    pub fn diverged(&self) -> Option<&str> {
        self.diverged.as_deref()
    }

    /// Replaces model, optimiser state and counters (resuming from a checkpoint).
    pub fn restore(&mut self, model: SegmentModel, optim: ModuleOptimizer, state: TrainState) {
        self.model = model;
        self.optim = optim;
        self.state = state;
        self.last_eval = None;
        self.lookahead = None;
    }

    /// A fresh optimiser of the configured kind, to load saved state into.
    pub fn fresh_optimizer(&self) -> ModuleOptimizer {
        Self::make_optimizer(&self.settings)
    }

    /// A fresh model of the configured sizes on this trainer's device, to load weights into.
    pub fn fresh_model(&self) -> SegmentModel {
        self.settings.model.init(&self.device)
    }

    /// Positions (into the training rows) of the next batch.
    fn next_batch(&mut self) -> Option<Vec<usize>> {
        let n = self.train_rows.len();
        let bs = self.settings.batch_size;
        if bs == 0 || bs >= n {
            return None;
        }
        if self.state.order.len() != n || self.state.cursor + bs > n {
            self.state.order = (0..n).collect();
            let mut rng = self.state.rng.clone();
            rng.shuffle(&mut self.state.order);
            self.state.rng = rng;
            self.state.cursor = 0;
        }
        let b = self.state.order[self.state.cursor..self.state.cursor + bs].to_vec();
        self.state.cursor += bs;
        Some(b)
    }

    /// Predictions of the current model for every row of `x`, by chunks, without autodiff.
    fn predict(&self, x: &Inputs) -> Vec<f32> {
        let model = self.model.valid();
        let n = x.rows();
        let mut out = Vec::with_capacity(n);
        let mut start = 0;
        while start < n {
            let end = (start + EVAL_CHUNK).min(n);
            let chunk = if start == 0 && end == n {
                x.clone()
            } else {
                x.slice(start, end)
            };
            out.extend(host_preds(model.forward(&chunk)));
            start = end;
        }
        out
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
            for (p, &i) in self.predict(dx).into_iter().zip(&self.dev_rows) {
                preds[i] = p;
            }
        }
        preds
    }

    /// Refreshes every segment's prediction with a no-grad forward pass, and the split metrics.
    fn evaluate(&self) -> (Arc<Vec<SegmentEval>>, SplitMetrics, SplitMetrics, f64) {
        let t0 = Instant::now();
        let loss = self.settings.loss;
        let tp = self.predict(&self.train_x);
        let dp = self
            .dev_x
            .as_ref()
            .map(|x| self.predict(x))
            .unwrap_or_default();
        let (te, train) = evaluate_rows(
            &self.dataset,
            &self.train_rows,
            &tp,
            &self.train_groups,
            loss,
        );
        let (de, dev) = evaluate_rows(&self.dataset, &self.dev_rows, &dp, &self.dev_groups, loss);
        let segs = merge(
            self.dataset.segments.len(),
            &self.train_rows,
            te,
            &self.dev_rows,
            de,
        );
        (Arc::new(segs), train, dev, t0.elapsed().as_secs_f64() * 1e3)
    }

    /// The report for the current model without taking a step (step 0 before training).
    pub fn snapshot_report(&mut self) -> StepReport {
        let (segments, train, dev, eval_ms) = self.evaluate();
        let step = self.state.step;
        self.last_eval = Some((step, segments.clone(), train, dev, eval_ms));
        StepReport {
            step,
            batch: Arc::new(Vec::new()),
            batch_loss: train.loss,
            eval_step: step,
            segments,
            train,
            dev,
            grad_norm: f64::NAN,
            lr: self.settings.lr,
            weight_change: 0.0,
            weight_change_rel: 0.0,
            layers: Vec::new(),
            step_ms: 0.0,
            eval_ms,
            diverged: None,
        }
    }

    /// One optimiser step. A non-finite loss or gradient leaves the model untouched and returns
    /// a report whose `diverged` says why; later calls return the same.
    pub fn step(&mut self) -> StepReport {
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
        let fused = batch_pos.is_none() && self.settings.eval_every == 1;
        let before = collect(&self.model);
        let old_model = self.model.clone();
        let old_optim = self.optim.clone();

        let loss = match (self.lookahead.take(), &batch_pos) {
            (Some(loss), None) => loss,
            (_, None) => {
                let pred = self.model.forward(&self.train_x); // [n, 1]
                loss_tensor(pred, self.train_y.clone(), self.settings.loss)
            }
            (_, Some(pos)) => {
                let idx: Vec<i64> = pos.iter().map(|&p| p as i64).collect();
                let idx = Tensor::<1, Int>::from_ints(
                    TensorData::new(idx, [pos.len()]),
                    &self.train_y.device(),
                );
                let pred = self.model.forward(&self.train_x.select(idx.clone())); // [b, 1]
                loss_tensor(
                    pred,
                    self.train_y.clone().select(0, idx),
                    self.settings.loss,
                )
            }
        };
        let batch_loss = scalar(loss.clone().inner());
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let mut gl = GradList {
            grads: &grads,
            tensors: Vec::new(),
        };
        self.model.visit(&mut gl);
        let grad_list = gl.tensors;

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
            train_groups,
            dev_groups,
            ..
        } = self;
        // Shared from here on (shared references are Copy into both threads' closures).
        let (dataset, train_x, train_y, dev_x): (&Dataset, &Inputs, &Tensor<2>, &Option<Inputs>) =
            (dataset, train_x, train_y, dev_x);
        let (train_rows, dev_rows): (&[usize], &[usize]) = (train_rows, dev_rows);
        let (train_groups, dev_groups): (&[Vec<usize>], &[Vec<usize>]) = (train_groups, dev_groups);
        // The gradient norm is reduced on a helper thread while the optimiser updates; then the
        // weight change and (fused) the dev rows' forward pass and metrics are computed on another
        // while this thread runs the next training forward pass and the train metrics.
        let (grad_norm, norms, names, fused_train, fused_dev, eval_ms) = std::thread::scope(|s| {
            let gn = s.spawn(move || helper_pool.install(|| sum_squares(grad_list)));
            *model = optim.step(lr, model.clone(), grads);
            let after = collect(model);
            let dev_model = (fused && dev_x.is_some()).then(|| model.valid());
            // The word-type sums the training forward pass computes, handed over for the dev pass.
            let (sums_tx, sums_rx) = std::sync::mpsc::sync_channel::<Tensor<2>>(1);
            let helper = s.spawn(move || {
                helper_pool.install(move || {
                    let norms = change_norms(before.tensors, after.tensors);
                    let dev = dev_model.zip(dev_x.as_ref()).map(|(m, x)| {
                        let pred = match sums_rx.recv() {
                            Ok(sums) => m.forward_from(sums, x),
                            Err(_) => m.forward(x),
                        };
                        let p = host_preds(pred);
                        let e = evaluate_rows(dataset, dev_rows, &p, dev_groups, loss_kind);
                        (p, e)
                    });
                    (norms, dev)
                })
            });
            let mut eval_ms = 0.0;
            let train = fused.then(|| {
                let sums = model.type_sums(&train_x.types);
                // The helper gets the plain values (no graph). A send fails only if the helper
                // has gone, and then nothing is waiting for them.
                let _ = sums_tx.send(sums.clone().inner());
                drop(sums_tx);
                let pred = model.forward_from(sums, train_x); // [n_train, 1]
                let next = loss_tensor(pred.clone(), train_y.clone(), loss_kind);
                let p = host_preds(pred.inner());
                let t = Instant::now();
                let e = evaluate_rows(dataset, train_rows, &p, train_groups, loss_kind);
                eval_ms = t.elapsed().as_secs_f64() * 1e3;
                (next, p, e)
            });
            let grad_norm = join(gn).sqrt();
            let (norms, dev) = join(helper);
            (grad_norm, norms, after.names, train, dev, eval_ms)
        });
        let step_ms = t0.elapsed().as_secs_f64() * 1e3 - eval_ms;

        let batch: Arc<Vec<usize>> = match &batch_pos {
            None => self.train_rows.clone(),
            Some(pos) => Arc::new(pos.iter().map(|&p| self.train_rows[p]).collect()),
        };
        let bad = !batch_loss.is_finite()
            || !grad_norm.is_finite()
            || norms.iter().any(|(d, w)| !d.is_finite() || !w.is_finite())
            || fused_train
                .iter()
                .map(|t| &t.1)
                .chain(fused_dev.iter().map(|d| &d.0))
                .any(|p| p.iter().any(|x| !x.is_finite()));
        if bad {
            self.lookahead = None;
            // Roll back: the update is not applied and the optimiser state is not advanced.
            self.model = old_model;
            self.optim = old_optim;
            let why = if !batch_loss.is_finite() {
                format!("non-finite loss ({batch_loss}) at step {attempted}")
            } else if !grad_norm.is_finite() {
                format!("non-finite gradient norm at step {attempted}")
            } else {
                format!("non-finite weights after step {attempted}")
            };
            self.diverged = Some(why.clone());
            let mut r = self.snapshot_report();
            r.step = attempted;
            r.batch = batch;
            r.batch_loss = batch_loss;
            r.grad_norm = grad_norm;
            r.step_ms = step_ms;
            r.diverged = Some(why);
            return r;
        }

        self.state.step = attempted;
        let mut layers = Vec::with_capacity(names.len());
        let (mut dw2, mut w2) = (0.0f64, 0.0f64);
        for (name, &(d, w)) in names.into_iter().zip(&norms) {
            dw2 += d;
            w2 += w;
            layers.push(LayerChange {
                name,
                weight_change: d.sqrt(),
                weight_change_rel: if w > 0.0 { (d / w).sqrt() } else { 0.0 },
                norm: w.sqrt(),
            });
        }
        let (eval_step, segments, train, dev, eval_ms) = if let Some((next, _, (te, tm))) =
            fused_train
        {
            self.lookahead = Some(next);
            // No dev rows: the metrics of an empty split, as a refresh would give.
            let (de, dm) = fused_dev
                .map(|(_, e)| e)
                .unwrap_or_else(|| evaluate_rows(&self.dataset, &[], &[], &[], self.settings.loss));
            let segs = Arc::new(merge(
                self.dataset.segments.len(),
                &self.train_rows,
                te,
                &self.dev_rows,
                de,
            ));
            self.last_eval = Some((attempted, segs.clone(), tm, dm, eval_ms));
            (attempted, segs, tm, dm, eval_ms)
        } else if attempted.is_multiple_of(self.settings.eval_every) || self.last_eval.is_none() {
            let (s, tr, dv, ms) = self.evaluate();
            self.last_eval = Some((attempted, s.clone(), tr, dv, ms));
            (attempted, s, tr, dv, ms)
        } else {
            // Checked above: last_eval is Some here.
            let (st, s, tr, dv, _) = self.last_eval.clone().unwrap_or_else(|| unreachable!());
            (st, s, tr, dv, 0.0)
        };
        StepReport {
            step: attempted,
            batch,
            batch_loss,
            eval_step,
            segments,
            train,
            dev,
            grad_norm,
            lr: self.settings.lr,
            weight_change: dw2.sqrt(),
            weight_change_rel: if w2 > 0.0 { (dw2 / w2).sqrt() } else { 0.0 },
            layers,
            step_ms,
            eval_ms,
            diverged: None,
        }
    }

    /// All parameters copied to the host, by name (for tests and inspection; slow on purpose).
    pub fn parameters_host(&self) -> Vec<(String, Vec<f32>)> {
        let c = collect(&self.model);
        c.names
            .into_iter()
            .zip(c.tensors)
            .map(|(n, t)| (n, t.into_data().try_into_vec::<f32>().unwrap_or_default()))
            .collect()
    }
}
