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

    /// Segments with a prediction at both ends, as (index, at the mark, now), largest |change| first;
    /// at most `k` of them.
    pub fn diff_moved(&self, k: usize) -> Vec<(usize, f32, f32)> {
        let (Some((_, then)), Some(r)) = (self.marks.last(), self.report.as_ref()) else {
            return Vec::new();
        };
        let mut v: Vec<(usize, f32, f32)> = (0..self.ds.segments.len())
            .filter(|&i| self.part.is_labelled(i))
            .filter_map(|i| {
                let (a, b) = (then.get(i)?.pred, r.segments.get(i)?.pred);
                (a.is_finite() && b.is_finite()).then_some((i, a, b))
            })
            .collect();
        let key = |x: &(usize, f32, f32)| (x.2 - x.1).abs();
        let k = k.min(v.len());
        if k > 0 && k < v.len() {
            v.select_nth_unstable_by(k - 1, |a, b| key(b).total_cmp(&key(a)));
            v.truncate(k);
        }
        v.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.0.cmp(&b.0)));
        v
    }

    /// Opens or closes the diff against the last mark.
    pub(super) fn toggle_diff(&mut self) {
        if self.marks.is_empty() {
            self.status = Some("no mark to compare with: m marks a step".into());
        } else {
            self.overlay = if self.overlay == Overlay::Diff {
                Overlay::None
            } else {
                self.diff.cursor = 0;
                Overlay::Diff
            };
        }
    }
}

impl App {
    /// Opens the detail view of the diff view's selected segment; Esc comes back to the diff.
    pub(super) fn open_from_diff(&mut self) {
        if let Some(&(i, _, _)) = self.diff_moved(self.diff.cursor + 1).get(self.diff.cursor) {
            self.open_detail(i, Overlay::Diff);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{test_app, test_report};
    use super::*;

    #[test]
    fn a_mark_keeps_predictions_and_the_diff_ranks_what_moved() {
        let mut app = test_app();
        app.mark();
        assert!(
            app.status
                .as_deref()
                .is_some_and(|s| s.contains("nothing to mark"))
        );
        app.on_report(test_report(&app, 1, &[0.1, 0.1, 0.1, 0.1]), 0.0);
        app.mark();
        assert_eq!(app.marks.len(), 1);
        assert_eq!(app.outbox, vec![Effect::Source(Control::Mark)]);
        app.on_report(test_report(&app, 2, &[0.9, 0.2, 0.1, 0.1]), 0.0);
        let moved = app.diff_moved(10);
        assert_eq!(moved[0].0, 0, "the largest change first");
        assert_eq!(moved[1].0, 1);
        app.toggle_diff();
        assert_eq!(app.overlay, Overlay::Diff);
        app.update(Action::Down);
        app.open_from_diff();
        assert_eq!(app.overlay, Overlay::Detail(1));
        assert_eq!(app.detail.back, Overlay::Diff);
    }
}
