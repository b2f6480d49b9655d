//! Moving through the segments table: rows (filter, then sort), the cursor, scrolling and outliers.

use super::*;

impl App {
    /// The table's own keys (see [`TableView::handle`]); false when the action is not one.
    pub(super) fn table_action(&mut self, action: Action) -> bool {
        match self.view.handle(action, self.page) {
            TableKey::NotMine => return false,
            TableKey::Done => {}
            TableKey::Refresh => self.refresh_rows(),
            TableKey::Moved => self.follow_selection(),
        }
        true
    }

    /// Scrolls so that the cursor is on screen, and keeps an open detail view on the cursor.
    pub(super) fn follow_selection(&mut self) {
        self.view.scroll_to_cursor(self.page);
        if let (Overlay::Detail(was), Some(i)) = (self.overlay, self.table_row()) {
            if was != i {
                self.detail.scroll = 0;
            }
            self.overlay = Overlay::Detail(i);
        }
    }

    pub(super) fn jump_outlier(&mut self, forward: bool) {
        let n = self.view.rows.len();
        let found = (1..=n)
            .map(|k| {
                if forward {
                    (self.view.cursor + k) % n
                } else {
                    (self.view.cursor + n * 2 - k) % n
                }
            })
            .find(|&p| self.analysis.outlier[self.view.rows[p]]);
        match found {
            Some(p) => {
                self.view.cursor = p;
                self.follow_selection();
            }
            None => self.status = Some("no outliers in this view".into()),
        }
    }

    /// Recomputes the visible rows (filter, then sort), keeping the cursor on the same segment.
    pub fn refresh_rows(&mut self) {
        // Follow the selected segment through re-sorting, except at the very top: a user
        // watching the largest shares wants to keep watching the largest shares.
        let keep = match self.view.keep.take() {
            Some(i) => Some(i),
            None if self.view.cursor == 0 => None,
            None => self.table_row(),
        };
        let filter = table::Filter::parse(&self.view.filter);
        let segs = self.report.as_ref().map(|r| r.segments.clone());
        let ds = &self.ds;
        let mut rows: Vec<usize> = (0..ds.segments.len())
            .filter(|&i| self.part.split_of(i) == self.view.split)
            .filter(|&i| self.view.show_context || self.part.is_labelled(i))
            .filter(|&i| !self.view.outliers_only || self.analysis.outlier[i])
            .filter(|&i| {
                self.view.region.is_none_or(|want| {
                    self.datamap
                        .as_ref()
                        .is_none_or(|m| m.points[i].region == Some(want))
                })
            })
            .filter(|&i| filter.matches(ds, i, &self.search_text[i]))
            .collect();
        let num = |i: usize, f: fn(&SegmentEval) -> f32| segs.as_ref().map_or(0.0, |s| f(&s[i]));
        let key = self.view.sort;
        let cmp = |a: &usize, b: &usize| -> std::cmp::Ordering {
            let (a, b) = (*a, *b);
            let o = match key {
                SortKey::Share => num(a, |e| e.share).total_cmp(&num(b, |e| e.share)),
                SortKey::Grad => {
                    // Rows without a gradient share (dev, context) sort below every share.
                    let g = |i: usize| {
                        let x = self
                            .report
                            .as_ref()
                            .map_or(f32::NAN, |r| r.grad_of(i).share);
                        if x.is_nan() { -1.0 } else { x }
                    };
                    g(a).total_cmp(&g(b))
                }
                SortKey::Resid => num(a, |e| e.residual).total_cmp(&num(b, |e| e.residual)),
                SortKey::Pred => num(a, |e| e.pred).total_cmp(&num(b, |e| e.pred)),
                SortKey::Target => ds.target(a).total_cmp(&ds.target(b)),
                SortKey::Id => a.cmp(&b),
                SortKey::Doc => ds.docs[ds.segments[a].doc]
                    .id
                    .cmp(&ds.docs[ds.segments[b].doc].id)
                    .then(a.cmp(&b)),
                SortKey::Text => ds.segments[a].text.cmp(&ds.segments[b].text),
                SortKey::Oof => {
                    // Missing values sort below every residual.
                    let o = |i: usize| {
                        let x = self.oof.as_ref().map_or(f32::NAN, |v| v[i].residual.abs());
                        if x.is_nan() { -1.0 } else { x }
                    };
                    o(a).total_cmp(&o(b))
                }
                SortKey::Issue => {
                    // Unscored rows (context, or none loaded) sort below every score.
                    let o = |i: usize| {
                        let x = self.oof.as_ref().map_or(f32::NAN, |v| v[i].label_score);
                        if x.is_nan() { f32::NEG_INFINITY } else { x }
                    };
                    o(a).total_cmp(&o(b))
                }
            };
            o.then(a.cmp(&b))
        };
        if self.view.desc {
            rows.sort_unstable_by(|a, b| cmp(b, a));
        } else {
            rows.sort_unstable_by(cmp);
        }
        self.view.rows = rows;
        self.view.cursor = keep
            .and_then(|i| self.view.rows.iter().position(|&r| r == i))
            .unwrap_or(self.view.cursor)
            .min(self.view.rows.len().saturating_sub(1));
        self.view.dirty = false;
        self.follow_selection();
    }

    /// The segment under the cursor.
    /// The selected segment: the step an open document or detail view is on (the edit keys act
    /// on what is shown), else the table's row.
    pub fn selected(&self) -> Option<usize> {
        if let Overlay::Document(step) | Overlay::Detail(step) = self.overlay {
            return Some(step);
        }
        self.table_row()
    }

    /// The segment on the table's cursor row.
    pub fn table_row(&self) -> Option<usize> {
        self.view.rows.get(self.view.cursor).copied()
    }

    /// Sorts by label issue, most likely wrong first: the flags' column in one key.
    pub(super) fn sort_by_issue(&mut self) {
        if !self.has_label_scores() {
            self.status = Some(match self.audit {
                AuditState::Running(_) => "no label scores yet: the audit is running".into(),
                _ => "no label scores: A audits the data here (or open a report: --crossfit FILE)"
                    .into(),
            });
            return;
        }
        self.view.sort = SortKey::Issue;
        self.view.desc = true;
        self.refresh_rows();
    }

    /// Sorts by the next column this run has.
    pub(super) fn next_sort(&mut self) {
        // Skip the columns this run does not have.
        let has_grad = self.report.as_ref().is_some_and(|r| !r.grad.is_empty());
        self.view.sort = self.view.sort.next();
        let has_issue = self.has_label_scores();
        while (self.view.sort == SortKey::Oof && self.oof.is_none())
            || (self.view.sort == SortKey::Issue && !has_issue)
            || (self.view.sort == SortKey::Grad && !has_grad)
        {
            self.view.sort = self.view.sort.next();
        }
        self.view.desc = self.view.sort.default_desc();
        self.refresh_rows();
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{test_app, test_report};
    use super::*;

    #[test]
    fn rows_filter_sort_and_the_cursor_follows_its_segment() {
        let mut app = test_app();
        app.on_report(test_report(&app, 1, &[0.0, 0.0, 0.0, 0.0]), 0.0);
        app.refresh_rows();
        // Train only, by share: "one" (residual 1.0) first.
        assert_eq!(app.view.rows, vec![0, 2, 1]);
        app.update(Action::Down);
        assert_eq!(app.selected(), Some(2));
        app.view.filter = "tw".into();
        app.refresh_rows();
        assert_eq!(app.view.rows, vec![1]);
        app.view.filter.clear();
        app.refresh_rows();
        app.next_sort();
        assert_ne!(app.view.sort, SortKey::Share);
        app.update(Action::End);
        assert_eq!(app.view.cursor, 2, "clamped to the last row");
    }
}
