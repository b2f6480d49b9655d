//! The trainer: one optimiser step at a time, each returning a full [`StepReport`].
//!
//! Features become tensors once, on the plain (non-autodiff) device; only the model lives on the
//! autodiff device. Per step, the loss, gradient norm and per-tensor weight change reduce on the
//! device and only their scalars reach the host. With full batch, the forward pass the next step
//! trains on runs right after the update and its values are the report's predictions; otherwise
//! every prediction is refreshed by a no-grad pass every `eval_every` steps.
//!
//! The instrumentation costs the step as little as it can. Adam is fused into one pass per
//! parameter that also measures the gradient and weight-change norms (`engine::optim`); with SGD
//! those are reduced on a second thread while the optimiser updates. With full batch the next
//! step's forward and backward passes run right after the update, and the evaluation this step's
//! report carries (the dev rows' forward pass, every metric, the gradient shares) runs on the
//! second thread beside that backward pass: the training step keeps about one core busy (flex
//! parallelises only its largest kernels), so the other core evaluates for free.

mod edits;
mod eval;
mod helper;
mod marks;
mod pin;
pub use pin::PinError;
mod step;

use eval::Evaluation;
use marks::{Best, Mark};
pub use marks::{MAX_MARKS, MarkInfo};
use step::Lookahead;

use std::sync::Arc;
use std::time::Instant;

use burn::optim::{ModuleOptimizer, SgdConfig, decay::WeightDecayConfig, momentum::MomentumConfig};
use burn::prelude::*;

use super::influence::{GradShare, grad_shares};
use super::instrument::{collect, helper_pool};
use super::metrics::{LossKind, SplitMetrics};
use super::model::{InputScale, Inputs, SegmentModel, SegmentModelConfig};
use super::optim::{FusedAdam, NormSink};
use super::report::{SegmentEval, SplitShape, StepReport, evaluate_rows};
use super::tensors::{Pairs, RowWeights, host_preds, input_scale, plain_device, split_inputs};
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

/// The state that must survive a checkpoint to continue exactly where training stopped.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainState {
    pub step: u64,
    pub rng: Rng,
    /// Current epoch's order of training rows (mini-batch only) and the position in it.
    pub order: Vec<usize>,
    pub cursor: usize,
}

/// Trains one model on one dataset.
pub struct Trainer {
    settings: TrainSettings,
    dataset: Arc<Dataset>,
    partition: Arc<Partition>,
    device: Device,
    model: SegmentModel,
    optim: ModuleOptimizer,
    /// Where the fused Adam leaves each parameter's norms at every step (None with SGD, whose
    /// norms the instrumentation reduces itself).
    norms: Option<NormSink>,
    state: TrainState,
    /// Global segment indices of each split, in dataset order.
    train_rows: Arc<Vec<usize>>,
    dev_rows: Vec<usize>,
    /// Segments without a target, scored after the dev rows by `dev_x`'s pass.
    context_rows: Vec<usize>,
    /// Each split's documents as position lists (for pairwise accuracy) and its targets' ranks,
    /// computed once (and again when edits change the targets).
    train_shape: SplitShape,
    dev_shape: SplitShape,
    train_x: Inputs,
    /// Inputs of the dev rows, then the context rows (None when there are neither).
    dev_x: Option<Inputs>,
    /// [n_train, 1] targets.
    train_y: Tensor<2>,
    last_eval: Option<Evaluation>,
    diverged: Option<String>,
    /// Full batch: the loss of the current model on the training rows, computed at the end of the
    /// previous step (its graph is this step's backward).
    lookahead: Option<Lookahead>,
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
    /// How large the inputs can make the model's activations: with the parameters' norms, a
    /// step proves its predictions finite without holding the old state for a rollback.
    input_scale: InputScale,
    /// Steps that let go of their rollback copy early (proven finite): what the tests read.
    early_releases: u64,
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
        // Context-only segments (no target) are scored too, in the same no-grad pass as the dev
        // rows, after them: the model can score any step, and a step after a first error is
        // where a reader looks for the next one.
        let context_rows: Vec<usize> = (0..dataset.segments.len())
            .filter(|&i| dataset.segments[i].score.is_none())
            .collect();
        let scored: Vec<usize> = dev_rows.iter().chain(&context_rows).copied().collect();
        // Full batches gather their n-grams without padding; mini-batches select rows, padded.
        let flat = settings.batch_size == 0;
        let input_scale = input_scale(&features);
        let (train_x, dev_x) = split_inputs(features, &train_rows, &scored, flat, &plain);
        let ty: Vec<f32> = train_rows.iter().map(|&i| dataset.target(i)).collect();
        let train_y = Tensor::from_data(TensorData::new(ty, [train_rows.len(), 1]), &plain);
        let norms = (settings.optimizer == OptimizerName::Adam).then(NormSink::default);
        let optim = Self::make_optimizer(&settings, norms.as_ref());
        let train_shape = SplitShape::of(&dataset, &train_rows);
        let pairs = (settings.loss == LossKind::Pairwise)
            .then(|| {
                let ty: Vec<f32> = train_rows.iter().map(|&i| dataset.target(i)).collect();
                Pairs::build(
                    &ty,
                    &train_shape.groups,
                    &mut Rng::new(settings.seed ^ 0x9a15),
                    &plain,
                )
            })
            .flatten();
        let dev_shape = SplitShape::of(&dataset, &dev_rows);
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
            norms,
            train_rows: Arc::new(train_rows),
            dev_rows,
            context_rows,
            train_shape,
            dev_shape,
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
            input_scale,
            early_releases: 0,
        })
    }

    /// The configured optimiser; Adam measures into `norms`. Every optimiser of a trainer (marks,
    /// the best step, a checkpoint's) shares its one sink.
    fn make_optimizer(s: &TrainSettings, norms: Option<&NormSink>) -> ModuleOptimizer {
        let decay = (s.weight_decay > 0.0).then(|| WeightDecayConfig::new(s.weight_decay as f32));
        match s.optimizer {
            OptimizerName::Adam => FusedAdam::new(
                (s.weight_decay > 0.0).then_some(s.weight_decay as f32),
                norms.cloned(),
            )
            .init(),
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
        Self::make_optimizer(&self.settings, self.norms.as_ref())
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
