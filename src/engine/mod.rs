//! The training engine: model, trainer, metrics, step reports and checkpoints. No terminal here.
//!
//! - [`model`]: the burn model and its sizes; [`tensors`]: devices, inputs and the loss tensor.
//! - [`trainer`]: one step at a time, in named stages, each step a [`StepReport`].
//! - [`bags`], [`bagsum`]: the pooling input, and its weighted sum as one backend operation.
//! - [`optim`]: Adam fused into one pass per parameter, measuring its norms as it goes.
//! - [`instrument`]: parameter and gradient lists, and SGD's norms, reduced on a helper thread.
//! - [`report`], [`metrics`], [`ranking`]: per-segment results, the split metrics, and the rank
//!   metrics' sorts.
//! - [`influence`]: each training segment's gradient share and alignment at the output layer.
//! - [`checkpoint`]: saving and resuming; [`tuning`]: allocator and denormal tuning.

pub mod bags;
pub mod bagsum;
pub mod checkpoint;
pub mod influence;
pub mod instrument;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod ranking;
pub mod report;
pub mod stagger;
pub mod tensors;
pub mod trainer;
pub mod tuning;

pub use metrics::{LossKind, SplitMetrics};
pub use report::{LayerChange, ModelResult, SegmentEval, StepReport};
pub use tensors::{loss_tensor, plain_device, split_inputs};
pub use trainer::{EngineError, TrainSettings, TrainState, Trainer};
