//! Marks, rewinds and the best step: the kept states training can go back to.

use super::*;

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
pub(super) struct Mark {
    pub(super) model: SegmentModel,
    pub(super) optim: ModuleOptimizer,
    pub(super) state: TrainState,
    pub(super) best: Option<Best>,
    pub(super) last_eval: Option<Evaluation>,
}

/// A kept state: the step with the lowest dev loss, everything needed to go back to it.
#[derive(Clone)]
pub(super) struct Best {
    pub(super) dev: SplitMetrics,
    pub(super) model: SegmentModel,
    pub(super) optim: ModuleOptimizer,
    pub(super) state: TrainState,
}

impl Trainer {
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
    pub(super) fn track_best(&mut self, eval_step: u64, dev: &SplitMetrics) {
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
}
