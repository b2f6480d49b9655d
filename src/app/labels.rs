//! The app's view of label issues: a loaded cross-fit report with its label scores, and the
//! metrics binary labels want (AUROC, log loss, Brier, first-error F1) for the current report.

use super::App;
use crate::engine::StepReport;

/// Above this many segments the label metrics are recomputed every `LABEL_METRICS_EVERY`-th
/// report only.
const LABEL_METRICS_EVERY_ABOVE: usize = 200_000;
const LABEL_METRICS_EVERY: u64 = 20;

impl App {
    /// Cross-fitted predictions, residuals and label scores to show beside the live ones.
    pub fn set_oof(&mut self, oof: Vec<crate::labels::crossfit::OofSegment>) {
        self.oof = Some(oof);
        self.view.dirty = true;
    }

    /// Whether a loaded cross-fit report has label scores.
    pub fn has_label_scores(&self) -> bool {
        self.oof
            .as_ref()
            .is_some_and(|o| o.iter().any(|s| s.label_score.is_finite()))
    }

    /// The label metrics of report `r`. A sort and a threshold sweep over every segment: on every
    /// report up to `LABEL_METRICS_EVERY_ABOVE` segments, every `LABEL_METRICS_EVERY`-th report
    /// beyond, so a large run's steps are not slowed by them.
    pub(super) fn refresh_label_metrics(&mut self, r: &StepReport) {
        let due = self.ds.segments.len() <= LABEL_METRICS_EVERY_ABOVE
            || r.step.is_multiple_of(LABEL_METRICS_EVERY)
            || self.label_metrics.is_none();
        if due {
            self.label_metrics = self
                .labels
                .as_ref()
                .filter(|_| r.models.is_empty())
                .and_then(|info| {
                    crate::labels::prm_metrics::of(&self.ds, &self.part, info, &r.segments)
                });
        }
    }
}
