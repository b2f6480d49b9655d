//! The segments table's view state: which split, sort, filter and outlier mode it shows, and
//! where the cursor and the scroll offset are.

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
    /// Global segment indices of the visible rows, in display order.
    pub rows: Vec<usize>,
    /// Position of the cursor in `rows`.
    pub cursor: usize,
    /// First row on screen.
    pub offset: usize,
    /// The rows must be recomputed (new predictions, or a new sort or filter).
    pub dirty: bool,
}
