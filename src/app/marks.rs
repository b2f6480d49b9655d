//! Marks from the keyboard: marking a step, rewinding to it, and the diff against it.

use super::*;

impl App {
    /// Marks this step: its predictions for the diff view, its model for a rewind.
    pub(super) fn mark(&mut self) {
        match &self.report {
            Some(r) => {
                self.marks.push((r.step, r.segments.clone()));
                if self.marks.len() > crate::engine::trainer::MAX_MARKS {
                    self.marks.remove(0);
                }
                if self.caps.mark {
                    self.engine(Control::Mark);
                } else {
                    self.status = Some(format!(
                        "marked step {} for the diff view (D); this source has no model to rewind",
                        r.step
                    ));
                }
            }
            None => self.status = Some("nothing to mark before the first report".into()),
        }
    }

    /// Goes back to the last mark, if the source keeps models.
    pub(super) fn rewind(&mut self) {
        match self.marks.last() {
            Some(&(step, _)) => {
                self.run = RunState::Paused;
                self.status = Some(format!("rewinding to the mark at step {step} ..."));
                self.engine(Control::Rewind);
            }
            None => self.status = Some("no mark to rewind to: m marks a step".into()),
        }
    }

    /// Opens or closes the diff against the last mark.
    pub(super) fn toggle_diff(&mut self) {
        if self.marks.is_empty() {
            self.status = Some("no mark to compare with: m marks a step".into());
        } else {
            self.overlay = if self.overlay == Overlay::Diff {
                Overlay::None
            } else {
                Overlay::Diff
            };
        }
    }
}
