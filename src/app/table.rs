//! The segments table as a component: which split, sort, filter and outlier mode it shows,
//! where the cursor and the scroll offset are, and the keys that change only these.

use super::Action;
use crate::data::Split;

/// Table columns the rows can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Share,
    Resid,
    Target,
    Pred,
    Id,
    Doc,
    Text,
    /// The cross-fitted (out-of-fold) residual, when one was loaded.
    Oof,
    /// The gradient share at the output layer.
    Grad,
    /// The label-issue score of a loaded cross-fit report.
    Issue,
}

impl SortKey {
    const ALL: [SortKey; 10] = [
        SortKey::Share,
        SortKey::Grad,
        SortKey::Resid,
        SortKey::Target,
        SortKey::Pred,
        SortKey::Id,
        SortKey::Doc,
        SortKey::Text,
        SortKey::Oof,
        SortKey::Issue,
    ];

    pub fn next(self) -> SortKey {
        let i = Self::ALL.iter().position(|&k| k == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    pub fn prev(self) -> SortKey {
        let i = Self::ALL.iter().position(|&k| k == self).unwrap_or(0);
        Self::ALL[(i + Self::ALL.len() - 1) % Self::ALL.len()]
    }

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Share => "share",
            SortKey::Resid => "resid",
            SortKey::Target => "target",
            SortKey::Pred => "pred",
            SortKey::Id => "id",
            SortKey::Doc => "doc",
            SortKey::Text => "text",
            SortKey::Oof => "oof resid",
            SortKey::Grad => "grad",
            SortKey::Issue => "label issue",
        }
    }

    /// Numbers read best largest first; names alphabetically.
    pub fn default_desc(self) -> bool {
        matches!(
            self,
            SortKey::Share
                | SortKey::Grad
                | SortKey::Resid
                | SortKey::Target
                | SortKey::Pred
                | SortKey::Oof
                | SortKey::Issue
        )
    }
}

/// Which rows the segments table shows, in which order, and where the cursor is.
#[derive(Debug, Clone)]
pub struct TableView {
    pub split: Split,
    pub sort: SortKey,
    pub desc: bool,
    pub filter: String,
    /// The filter is being typed.
    pub typing: bool,
    pub outliers_only: bool,
    /// Only segments in this data-map region.
    pub region: Option<crate::analysis::datamap::Region>,
    /// Context-only segments (no target) are listed too, dimmed.
    pub show_context: bool,
    /// A column of each row's tags and `meta` labels.
    pub show_tags: bool,
    /// LaTeX as written instead of as Unicode text (preview and detail views).
    pub raw_math: bool,
    /// The segment the next refresh keeps under the cursor wherever it sorts (an edited one).
    pub keep: Option<usize>,
    /// Global segment indices of the visible rows, in display order.
    pub rows: Vec<usize>,
    /// Position of the cursor in `rows`.
    pub cursor: usize,
    /// First row on screen.
    pub offset: usize,
    /// The rows must be recomputed (new predictions, or a new sort or filter).
    pub dirty: bool,
}

/// What the table did with an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKey {
    /// Not one of the table's keys.
    NotMine,
    /// Handled; nothing more to do.
    Done,
    /// A new sort or filter: the rows must be recomputed.
    Refresh,
    /// The cursor moved: scroll to it (and a detail view follows it).
    Moved,
}

impl Default for TableView {
    fn default() -> TableView {
        TableView::new()
    }
}

impl TableView {
    /// The training split's rows, largest share first, no filter, the cursor on the first row.
    pub fn new() -> TableView {
        TableView {
            split: Split::Train,
            sort: SortKey::Share,
            desc: true,
            filter: String::new(),
            typing: false,
            outliers_only: false,
            region: None,
            show_context: false,
            show_tags: false,
            raw_math: false,
            keep: None,
            rows: Vec::new(),
            cursor: 0,
            offset: 0,
            dirty: true,
        }
    }

    /// The table's own keys: the cursor, the sort's direction, the filter being typed, and what
    /// the rows show. `page` is how many rows the screen shows.
    pub fn handle(&mut self, action: Action, page: usize) -> TableKey {
        let page = page.max(1) as isize;
        match action {
            Action::Up => self.move_cursor(-1),
            Action::Down => self.move_cursor(1),
            Action::PageUp => self.move_cursor(-page),
            Action::PageDown => self.move_cursor(page),
            Action::Home => self.move_cursor(isize::MIN / 2),
            Action::End => self.move_cursor(isize::MAX / 2),
            Action::ReverseSort => {
                self.desc = !self.desc;
                TableKey::Refresh
            }
            Action::Filter => {
                self.typing = true;
                TableKey::Done
            }
            Action::FilterChar(c) => {
                self.filter.push(c);
                TableKey::Refresh
            }
            Action::FilterBackspace => {
                self.filter.pop();
                TableKey::Refresh
            }
            Action::FilterDone => {
                self.typing = false;
                TableKey::Done
            }
            Action::OutliersOnly => {
                self.outliers_only = !self.outliers_only;
                TableKey::Refresh
            }
            Action::ToggleSplit => {
                self.split = match self.split {
                    Split::Train => Split::Dev,
                    Split::Dev => Split::Train,
                };
                self.cursor = 0;
                self.offset = 0;
                TableKey::Refresh
            }
            Action::TagsColumn => {
                self.show_tags = !self.show_tags;
                TableKey::Done
            }
            Action::RawMath => {
                self.raw_math = !self.raw_math;
                TableKey::Done
            }
            Action::ShowContext => {
                self.show_context = !self.show_context;
                TableKey::Refresh
            }
            _ => TableKey::NotMine,
        }
    }

    /// Moves the cursor by `delta` rows, clamped to the rows there are.
    pub fn move_cursor(&mut self, delta: isize) -> TableKey {
        let n = self.rows.len();
        if n == 0 {
            return TableKey::Done;
        }
        let c = (self.cursor as isize)
            .saturating_add(delta)
            .clamp(0, n as isize - 1);
        self.cursor = c as usize;
        TableKey::Moved
    }

    /// Scrolls so that the cursor is on a screen of `page` rows.
    pub fn scroll_to_cursor(&mut self, page: usize) {
        let page = page.max(1);
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + page {
            self.offset = self.cursor + 1 - page;
        }
    }

    /// Esc on the table: drops the filter, the outliers-only mode and the region; false when
    /// none was set.
    pub fn clear_filters(&mut self) -> bool {
        if self.filter.is_empty() && !self.outliers_only && self.region.is_none() {
            return false;
        }
        self.filter.clear();
        self.outliers_only = false;
        self.region = None;
        true
    }
}

/// A `/` filter, parsed: `tag:NAME` (a tag containing NAME), `label:TEXT` (a meta label
/// `key=value` containing TEXT), `target:V` (the target equals V: a class of binary or ordinal
/// labels), and the rest, matched in the id and text as before. All parts must match; each is
/// case-insensitive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub text: String,
    pub tags: Vec<String>,
    pub labels: Vec<String>,
    pub targets: Vec<f32>,
}

impl Filter {
    pub fn parse(filter: &str) -> Filter {
        let mut f = Filter::default();
        let mut rest: Vec<&str> = Vec::new();
        for word in filter.split(' ') {
            let lower = word.to_lowercase();
            if let Some(t) = lower.strip_prefix("tag:") {
                f.tags.push(t.to_string());
            } else if let Some(l) = lower.strip_prefix("label:") {
                f.labels.push(l.to_string());
            } else if let Some(v) = lower.strip_prefix("target:").and_then(|v| v.parse().ok()) {
                f.targets.push(v);
            } else {
                rest.push(word);
            }
        }
        f.text = rest.join(" ").to_lowercase();
        f
    }

    /// Whether segment `i` passes; `search_text` is its lower-cased id, text, tags and labels.
    pub fn matches(&self, ds: &crate::data::Dataset, i: usize, search_text: &str) -> bool {
        let s = &ds.segments[i];
        (self.text.is_empty() || search_text.contains(&self.text))
            && self
                .tags
                .iter()
                .all(|t| s.tags.iter().any(|x| x.to_lowercase().contains(t)))
            && self.labels.iter().all(|l| {
                s.labels
                    .iter()
                    .any(|(k, v)| format!("{k}={v}").to_lowercase().contains(l))
            })
            && self
                .targets
                .iter()
                .all(|&v| s.score.is_some_and(|t| (t - v).abs() < 1e-6))
    }
}

#[cfg(test)]
mod tests {
    use super::{Action, Filter, Split, TableKey, TableView};

    #[test]
    fn the_table_takes_its_own_keys_and_leaves_the_rest() {
        let mut v = TableView {
            rows: vec![4, 5, 6, 7, 8],
            ..TableView::new()
        };
        assert_eq!(v.handle(Action::Down, 2), TableKey::Moved);
        assert_eq!(v.handle(Action::PageDown, 2), TableKey::Moved);
        assert_eq!(v.cursor, 3);
        v.scroll_to_cursor(2);
        assert_eq!(v.offset, 2, "the cursor's row is the page's last");
        assert_eq!(v.handle(Action::End, 2), TableKey::Moved);
        assert_eq!(v.cursor, 4, "clamped to the last row");
        assert_eq!(v.handle(Action::Home, 2), TableKey::Moved);
        assert_eq!(v.cursor, 0);
        assert_eq!(v.handle(Action::Filter, 2), TableKey::Done);
        assert!(v.typing);
        assert_eq!(v.handle(Action::FilterChar('x'), 2), TableKey::Refresh);
        assert_eq!(v.filter, "x");
        assert_eq!(v.handle(Action::FilterDone, 2), TableKey::Done);
        assert!(!v.typing);
        assert_eq!(v.handle(Action::ReverseSort, 2), TableKey::Refresh);
        assert!(!v.desc);
        assert_eq!(v.handle(Action::ToggleSplit, 2), TableKey::Refresh);
        assert_eq!(v.split, Split::Dev);
        assert_eq!(v.handle(Action::Step, 2), TableKey::NotMine);
        assert_eq!(v.handle(Action::Detail, 2), TableKey::NotMine);
        assert!(v.clear_filters(), "the filter was set");
        assert!(!v.clear_filters(), "nothing left to clear");
        v.rows.clear();
        assert_eq!(
            v.handle(Action::Down, 2),
            TableKey::Done,
            "no rows to move on"
        );
    }

    #[test]
    fn filters_by_tag_label_target_and_text() {
        let ds = crate::data::parse_str(
            r#"{"id": "d", "segments": [{"text": "Fill the kettle", "score": 1, "tags": ["Irrelevant"]}, {"text": "Boil it", "score": 0}], "meta": {"noise": {"1": "flipped"}}}"#,
            "t",
            &crate::data::ReadOptions::default(),
        )
        .expect("parse")
        .0;
        let text =
            |i: usize| format!("{} {}", ds.segment_id(i), ds.segments[i].text).to_lowercase();
        let hits = |f: &str| -> Vec<usize> {
            let f = Filter::parse(f);
            (0..2).filter(|&i| f.matches(&ds, i, &text(i))).collect()
        };
        assert_eq!(hits("tag:irrelevant"), vec![0]);
        assert_eq!(hits("label:noise=flipped"), vec![1]);
        assert_eq!(hits("label:flipped target:0"), vec![1]);
        assert_eq!(hits("target:1"), vec![0]);
        assert_eq!(hits("boil"), vec![1]);
        assert_eq!(hits("fill the"), vec![0]);
        assert_eq!(hits("tag:irrelevant boil"), Vec::<usize>::new());
    }
}
