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

mod step;

use std::sync::Arc;
use std::time::Instant;

use burn::optim::{
    AdamConfig, ModuleOptimizer, SgdConfig, decay::WeightDecayConfig, momentum::MomentumConfig,
};
use burn::prelude::*;

use super::influence::{GradShare, grad_shares};
use super::instrument::{collect, helper_pool};
use super::metrics::{LossKind, SplitMetrics};
use super::model::{Inputs, SegmentModel, SegmentModelConfig};
use super::report::{SegmentEval, StepReport, doc_groups, evaluate_rows};
use super::tensors::{Pairs, RowWeights, host_preds, plain_device, split_inputs};
use crate::config::{BackendKind, Config, OptimizerName};
use crate::data::edits::Edits;
use crate::data::features::DENSE;
use crate::data::hash::Rng;
use crate::data::{Dataset, Features, Partition, Split};

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
    /// Refresh every prediction every this many steps; 0 = automatic (see `eval_interval`).
    pub eval_every: u64,
    pub model: SegmentModelConfig,
}

impl TrainSettings {
    pub fn from_config(cfg: &Config) -> Self {
        Self {
            backend: cfg.backend,
            seed: cfg.seed,
            loss: LossKind::from_config(&cfg.train),
            optimizer: cfg.train.optimizer,
            lr: cfg.train.lr,
            momentum: cfg.train.momentum,
            weight_decay: cfg.train.weight_decay,
            batch_size: cfg.train.batch_size,
            eval_every: cfg.train.eval_every,
            model: SegmentModelConfig::new(
                // Without the hashed n-grams the table is unused; one row keeps the shapes valid.
                if cfg.features.hashed {
                    cfg.features.buckets
                } else {
                    1
                },
                DENSE,
                cfg.model.embed_dim,
                cfg.model.hidden,
            )
            .with_hashed(cfg.features.hashed),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the dataset has no training segments: every document is in the dev split")]
    NoTrainData,
    #[error(
        "features.hashed = false trains on the data's `embedding`s alone, but the data has none"
    )]
    NoFeatures,
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: String, message: String },
}

/// `eval_every` resolved for `n_train` training rows. Automatic (0): every step with full batch,
/// where the fused pass makes the refresh free; once an epoch with mini-batches. A refresh costs
/// about as much per row as a training step, so refreshing once an epoch keeps its share of the
/// time the same at any data size, and between refreshes every training row is still predicted
/// once, by its batch's own forward pass.
pub fn eval_interval(settings: &TrainSettings, n_train: usize) -> u64 {
    let bs = settings.batch_size;
    match settings.eval_every {
        0 if bs == 0 || bs >= n_train => 1,
        0 => n_train.div_ceil(bs) as u64,
        k => k,
    }
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

/// Predictions and metrics of one model state.
#[derive(Debug, Clone)]
struct Evaluation {
    /// The step whose model produced them.
    step: u64,
    segments: Arc<Vec<SegmentEval>>,
    /// Per segment, the step whose model predicted it; empty when all are `step`'s.
    pred_steps: Arc<Vec<u64>>,
    /// Per segment, the gradient share (training rows; empty for a pairwise loss).
    grad: Arc<Vec<GradShare>>,
    train: SplitMetrics,
    dev: SplitMetrics,
    ms: f64,
}

/// Trains one model on one dataset.
pub struct Trainer {
    settings: TrainSettings,
    dataset: Arc<Dataset>,
    partition: Arc<Partition>,
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
    /// The state at the step with the lowest dev loss so far (steps with a dev evaluation only).
    best: Option<Best>,
    /// The training pairs of a pairwise objective (positions in the training rows).
    pairs: Option<Pairs>,
    /// Steps between refreshes of every prediction (`eval_every`, resolved).
    eval_interval: u64,
    /// Marked steps to rewind to, newest last.
    marks: std::collections::VecDeque<Mark>,
    /// The data as loaded; `dataset` is it with the edited targets.
    base: Arc<Dataset>,
    /// What-if edits in force, and the training rows' weights they give (None: all 1).
    edits: Edits,
    weights: Option<RowWeights>,
    weights_host: Vec<f32>,
}

/// Marks kept at most; the oldest goes first. Each holds the weights and the optimiser state.
pub const MAX_MARKS: usize = 4;

/// What keeping a mark cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarkInfo {
    pub step: u64,
    /// Marks kept (the oldest is dropped beyond [`MAX_MARKS`]).
    pub kept: usize,
    /// Bytes the kept marks hold: parameters x 4 bytes x (1 + the optimiser's slots per
    /// parameter: 2 for Adam, 1 for SGD with momentum).
    pub bytes: usize,
}

/// A marked step: everything that decides what the following steps report.
#[derive(Clone)]
struct Mark {
    model: SegmentModel,
    optim: ModuleOptimizer,
    state: TrainState,
    best: Option<Best>,
    last_eval: Option<Evaluation>,
}

/// A kept state: the step with the lowest dev loss, everything needed to go back to it.
#[derive(Clone)]
struct Best {
    dev: SplitMetrics,
    model: SegmentModel,
    optim: ModuleOptimizer,
    state: TrainState,
}

impl Trainer {
    /// A freshly initialised model trained on `partition`'s train documents of `dataset`.
    /// `features` must be `featurize(dataset)`; they become tensors and the host copy is freed.
    pub fn new(
        dataset: Arc<Dataset>,
        partition: Arc<Partition>,
        features: Features,
        mut settings: TrainSettings,
    ) -> Result<Self, EngineError> {
        // The data decides whether there are embeddings to append, and how wide.
        settings.model.extra = features.embedding_dim;
        if !settings.model.hashed && settings.model.extra == 0 {
            return Err(EngineError::NoFeatures);
        }
        let plain = plain_device(settings.backend);
        let device = plain.clone().autodiff();
        let model = {
            // The backend's random generator is global to the process: seeding it and drawing the
            // initial weights must not interleave with another trainer doing the same on another
            // thread, or the same seed would give different weights.
            static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
            let _guard = INIT
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            plain.seed(settings.seed);
            let model = settings.model.init(&device);
            // burn initialises parameters lazily, on first use: draw them now, under the lock,
            // or a trainer built later could draw first.
            drop(collect(&model));
            model
        };
        Self::with_model(dataset, partition, features, settings, model)
    }

    /// A trainer around an existing model (from a checkpoint, or built by a test).
    pub fn with_model(
        dataset: Arc<Dataset>,
        partition: Arc<Partition>,
        features: Features,
        settings: TrainSettings,
        model: SegmentModel,
    ) -> Result<Self, EngineError> {
        super::tuning::tune();
        let plain = plain_device(settings.backend);
        let device = plain.clone().autodiff();
        let train_rows = partition.indices(Split::Train);
        let dev_rows = partition.indices(Split::Dev);
        if train_rows.is_empty() {
            return Err(EngineError::NoTrainData);
        }
        let (train_x, dev_x) = split_inputs(features, &train_rows, &dev_rows, &plain);
        let ty: Vec<f32> = train_rows.iter().map(|&i| dataset.target(i)).collect();
        let train_y = Tensor::from_data(TensorData::new(ty, [train_rows.len(), 1]), &plain);
        let optim = Self::make_optimizer(&settings);
        let train_groups = doc_groups(&dataset, &train_rows);
        let pairs = (settings.loss == LossKind::Pairwise)
            .then(|| {
                let ty: Vec<f32> = train_rows.iter().map(|&i| dataset.target(i)).collect();
                Pairs::build(
                    &ty,
                    &train_groups,
                    &mut Rng::new(settings.seed ^ 0x9a15),
                    &plain,
                )
            })
            .flatten();
        let dev_groups = doc_groups(&dataset, &dev_rows);
        let eval_interval = eval_interval(&settings, train_rows.len());
        let base = dataset.clone();
        Ok(Self {
            state: TrainState {
                step: 0,
                rng: Rng::new(settings.seed ^ 0xba7c),
                order: Vec::new(),
                cursor: 0,
            },
            settings,
            dataset,
            partition,
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
            best: None,
            pairs,
            eval_interval,
            marks: std::collections::VecDeque::new(),
            base,
            edits: Edits::default(),
            weights: None,
            weights_host: Vec::new(),
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
    pub fn partition(&self) -> &Arc<Partition> {
        &self.partition
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
    /// Steps between refreshes of every prediction: `eval_every`, or when it is 0 (automatic),
    /// every step with full batch and once an epoch with mini-batches.
    pub fn eval_interval(&self) -> u64 {
        self.eval_interval
    }
    pub fn step_count(&self) -> u64 {
        self.state.step
    }
    /// Why training diverged, once it has.
    pub fn diverged(&self) -> Option<&str> {
        self.diverged.as_deref()
    }

    /// The step with the lowest dev loss so far, and its dev metrics. `None` without a dev split
    /// or before the first evaluated step. Only steps whose predictions were refreshed count (with
    /// mini-batches, every `eval_every` steps).
    pub fn best(&self) -> Option<(u64, SplitMetrics)> {
        self.best.as_ref().map(|b| (b.state.step, b.dev))
    }

    /// Goes back to the best step's model, optimiser state and counters; false if there is none.
    /// Training can go on from there, and reproduces what it did the first time.
    pub fn restore_best(&mut self) -> bool {
        let Some(b) = self.best.clone() else {
            return false;
        };
        self.restore(b.model, b.optim, b.state);
        self.diverged = None;
        true
    }

    /// The data as loaded, before any edited target.
    pub fn base_dataset(&self) -> &Arc<Dataset> {
        &self.base
    }

    /// The what-if edits in force.
    pub fn edits(&self) -> &Edits {
        &self.edits
    }

    /// Puts `edits` in force from the next step on (replacing the ones before, so an undo is the
    /// list without its last edit): the training rows' weights and targets, and the dataset the
    /// reports measure against. Returns that dataset. The edits must have been checked against
    /// this trainer's data and partition (`data::edits::check`).
    pub fn set_edits(&mut self, edits: Edits) -> Arc<Dataset> {
        let dataset = if edits.targets().is_empty() {
            self.base.clone()
        } else {
            Arc::new(edits.apply_targets(&self.base))
        };
        let plain = self.train_y.device();
        let ty: Vec<f32> = self.train_rows.iter().map(|&i| dataset.target(i)).collect();
        self.train_y = Tensor::from_data(TensorData::new(ty, [self.train_rows.len(), 1]), &plain);
        if edits.reweights() {
            let all = edits.weights(self.base.segments.len());
            let w: Vec<f32> = self.train_rows.iter().map(|&i| all[i]).collect();
            self.weights = Some(RowWeights {
                w: Tensor::from_data(TensorData::new(w.clone(), [w.len(), 1]), &plain),
                sum: w.iter().sum(),
            });
            self.weights_host = w;
        } else {
            self.weights = None;
            self.weights_host = Vec::new();
        }
        self.dataset = dataset.clone();
        self.edits = edits;
        // The loss and every residual changed: nothing computed before stands.
        self.lookahead = None;
        self.last_eval = None;
        dataset
    }

    /// Keeps the current step's model, optimiser state, counters, best step and last evaluation,
    /// so that [`Trainer::rewind`] can come back to it and step on exactly as the first time.
    pub fn mark(&mut self) -> MarkInfo {
        self.marks.push_back(Mark {
            model: self.model.clone(),
            optim: self.optim.clone(),
            state: self.state.clone(),
            best: self.best.clone(),
            last_eval: self.last_eval.clone(),
        });
        while self.marks.len() > MAX_MARKS {
            self.marks.pop_front();
        }
        let slots = match self.settings.optimizer {
            OptimizerName::Adam => 2,
            OptimizerName::Sgd if self.settings.momentum > 0.0 => 1,
            OptimizerName::Sgd => 0,
        };
        let per_mark = self.model.num_params() * 4 * (1 + slots);
        MarkInfo {
            step: self.state.step,
            kept: self.marks.len(),
            bytes: per_mark * self.marks.len(),
        }
    }

    /// Goes back to the last mark (which stays, to come back to again); false if there is none.
    pub fn rewind(&mut self) -> bool {
        let Some(m) = self.marks.back().cloned() else {
            return false;
        };
        self.restore(m.model, m.optim, m.state);
        self.best = m.best;
        self.last_eval = m.last_eval;
        self.diverged = None;
        true
    }

    /// Records the state just reached if its dev loss is the lowest so far.
    fn track_best(&mut self, eval_step: u64, dev: &SplitMetrics) {
        if self.dev_rows.is_empty() || eval_step != self.state.step || !dev.loss.is_finite() {
            return;
        }
        if self.best.as_ref().is_none_or(|b| dev.loss < b.dev.loss) {
            self.best = Some(Best {
                dev: *dev,
                model: self.model.clone(),
                optim: self.optim.clone(),
                state: self.state.clone(),
            });
        }
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
    pub fn predict(&self, x: &Inputs) -> Vec<f32> {
        self.predict_hidden(x, false).0
    }

    /// Predictions for every row of `x` by chunks, without autodiff, and (`keep_hidden`) the last
    /// hidden activation of every row, [n, hidden].
    fn predict_hidden(&self, x: &Inputs, keep_hidden: bool) -> (Vec<f32>, Option<Tensor<2>>) {
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
    fn grads_in_order(&self, train: Option<Vec<GradShare>>) -> Arc<Vec<GradShare>> {
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
            for (p, &i) in self.predict(dx).into_iter().zip(&self.dev_rows) {
                preds[i] = p;
            }
        }
        preds
    }

    /// Refreshes every segment's prediction with a no-grad forward pass, and the split metrics.
    fn evaluate(&self) -> Evaluation {
        let t0 = Instant::now();
        let loss = self.settings.loss;
        let (tp, hidden) = self.predict_hidden(&self.train_x, true);
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
