//! The in-process trainer as a [`Source`]: every step is a real optimiser step, and saving writes
//! a checkpoint with the run's config.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Capabilities, Source, SourceError};
use crate::config::Config;
use crate::data::{Dataset, Partition};
use crate::engine::{SplitMetrics, StepReport, Trainer, checkpoint};

/// A trainer and the config it was built from (saved beside each checkpoint).
pub struct TrainerSource {
    pub trainer: Trainer,
    pub config: Config,
}

impl TrainerSource {
    pub fn new(trainer: Trainer, config: Config) -> TrainerSource {
        TrainerSource { trainer, config }
    }
}

impl Source for TrainerSource {
    fn dataset(&self) -> &Arc<Dataset> {
        self.trainer.dataset()
    }

    fn partition(&self) -> &Arc<Partition> {
        self.trainer.partition()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::TRAINER
    }

    fn current(&mut self) -> StepReport {
        self.trainer.snapshot_report()
    }

    fn advance(&mut self) -> StepReport {
        self.trainer.step()
    }

    fn save(&mut self, dir: &Path) -> Result<PathBuf, SourceError> {
        Ok(checkpoint::save(dir, &self.trainer, &self.config)?)
    }

    fn best(&self) -> Option<(u64, SplitMetrics)> {
        self.trainer.best()
    }

    fn set_edits(&mut self, edits: crate::data::edits::Edits) -> Result<Arc<Dataset>, SourceError> {
        if self.trainer.settings().loss == crate::engine::LossKind::Pairwise && !edits.is_empty() {
            return Err(SourceError::Unsupported(
                "a pairwise objective's pairs are fixed for the run; edits need a per-segment loss",
            ));
        }
        Ok(self.trainer.set_edits(edits))
    }

    fn mark(&mut self) -> Result<super::MarkInfo, SourceError> {
        Ok(self.trainer.mark())
    }

    fn rewind(&mut self) -> Option<StepReport> {
        self.trainer
            .rewind()
            .then(|| self.trainer.snapshot_report())
    }

    fn refresh_interval(&self) -> u64 {
        self.trainer.eval_interval()
    }

    fn restore_best(&mut self) -> Option<StepReport> {
        self.trainer
            .restore_best()
            .then(|| self.trainer.snapshot_report())
    }
}
