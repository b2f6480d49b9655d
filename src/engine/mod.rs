//! The training engine: model, trainer, metrics, step reports and checkpoints. No terminal here.

pub mod alloc;
pub mod checkpoint;
pub mod metrics;
pub mod model;
pub mod report;
pub mod trainer;

pub use metrics::{LossKind, SplitMetrics};
pub use report::{LayerChange, SegmentEval, StepReport};
pub use trainer::{EngineError, TrainSettings, TrainState, Trainer};
