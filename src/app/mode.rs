//! What the dashboard is showing: segscope's own training, a watched stream, or a tour page,
//! with the state only that mode has; and a comparison's per-model history.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::engine::SegmentEval;
use crate::tour::{Leave, TourView};

/// The kind of run on screen. A comparison is not a mode: its reports carry several models,
/// in a training run or on a tour page alike (see [`Models`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Mode {
    /// segscope's own trainer (one objective, or several side by side).
    #[default]
    Train,
    /// A stream written by another trainer, followed as it grows.
    Stream {
        /// A recorded step shown again, and the newest recorded step (`None`: live).
        replay: Option<(u64, u64)>,
        /// The writer is done: the reason (its end record's, or "standard input closed").
        ended: Option<String>,
    },
    /// A page of `segscope tour`.
    Tour {
        view: TourView,
        /// Where the learner asked to go when the page was left.
        leave: Option<Leave>,
    },
}

impl Mode {
    /// A stream, live, its writer still writing.
    pub fn stream() -> Mode {
        Mode::Stream {
            replay: None,
            ended: None,
        }
    }

    /// A tour page, from the top of its explanation.
    pub fn tour(page: crate::tour::Page) -> Mode {
        Mode::Tour {
            view: TourView { page, scroll: 0 },
            leave: None,
        }
    }
}

/// A comparison's history: each step's dev MSE of every model (the loss chart's common
/// yardstick) and recent per-step predictions of every model, newest last. Empty when the
/// reports carry one model.
#[derive(Debug, Clone, Default)]
pub struct Models {
    pub history: Vec<(u64, Vec<f64>)>,
    pub preds: VecDeque<(u64, Vec<Arc<Vec<SegmentEval>>>)>,
}
