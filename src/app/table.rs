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
    use super::Filter;

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
