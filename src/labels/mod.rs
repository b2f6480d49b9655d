//! Finding wrong labels: the kind of a dataset's labels ([`kind`]), the fast cross-fit learner
//! ([`linear`], reading each step in its document: [`context`]), evidence beyond a step's words ([`verify`]'s checked claims, [`judge`]'s outside
//! judges, weighed in [`evidence`]), the label-issue score and its default flags ([`score`]), and
//! the audit that plants canaries to calibrate the flags on the user's own data ([`audit`]).

pub mod audit;
pub mod context;
pub mod contradict;
pub mod crossfit;
pub mod evidence;
pub mod judge;
pub mod linear;
pub mod pipeline;
pub mod prm_metrics;
pub mod score;
pub mod verify;

/// The labels' kind lives with the data (formats read it to write labels back); here under its
/// old name too, for the modules that find wrong labels.
pub use crate::data::label_kind as kind;
pub use kind::{LabelKind, LabelKindError, first_error};
pub use score::{LabelScore, score};

use crate::config::Config;
use crate::data::Dataset;

/// What segscope knows of a dataset's labels: their kind, and whether they have first-error
/// semantics. Resolved once when the data loads, from the data and `[data]`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LabelInfo {
    pub kind: LabelKind,
    pub first_error: bool,
}

impl Default for LabelInfo {
    /// Continuous labels without first-error semantics: what assumes the least.
    fn default() -> Self {
        LabelInfo {
            kind: LabelKind::Continuous,
            first_error: false,
        }
    }
}

impl LabelInfo {
    /// Reads the kind from the targets and the layout, unless `data.label_kind` or
    /// `data.first_error` says otherwise. An error names the field.
    pub fn of(ds: &Dataset, config: &Config) -> Result<LabelInfo, LabelKindError> {
        let kind = LabelKind::resolve(&config.data.label_kind, ds)?;
        let first_error = first_error(ds, &kind, &config.data.first_error)?;
        Ok(LabelInfo { kind, first_error })
    }

    /// The labels as the data alone says (no `[data]` overrides).
    pub fn detect(ds: &Dataset) -> LabelInfo {
        let kind = LabelKind::detect(ds);
        LabelInfo {
            kind,
            first_error: first_error(ds, &kind, "auto").unwrap_or(false),
        }
    }

    /// `binary 0/1, first-error`: for headers and summaries.
    pub fn describe(&self) -> String {
        if self.first_error {
            format!("{}, first-error", self.kind.describe())
        } else {
            self.kind.describe()
        }
    }
}

/// Each segment's class for per-class statistics: with binary labels 1 for the positive class
/// and 0 for the negative one (context segments 0); empty for other kinds (one group).
pub fn classes(ds: &Dataset) -> Vec<u8> {
    match LabelKind::detect(ds) {
        kind @ LabelKind::Binary { .. } => ds
            .segments
            .iter()
            .map(|s| s.score.map_or(0, |v| u8::from(kind.is_high(v))))
            .collect(),
        _ => Vec::new(),
    }
}

/// Average precision of a ranking: the mean, over the positives, of the precision at each one's
/// rank (`scores` higher first; NaN scores rank last). NaN without positives.
pub fn average_precision(scores: &[f32], positive: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (scores[a], scores[b]);
        x.is_nan()
            .cmp(&y.is_nan())
            .then(y.total_cmp(&x))
            .then(a.cmp(&b))
    });
    let npos = positive.iter().filter(|&&p| p).count();
    if npos == 0 {
        return f64::NAN;
    }
    let (mut hits, mut total) = (0usize, 0.0f64);
    for (rank, &i) in order.iter().enumerate() {
        if positive[i] {
            hits += 1;
            total += hits as f64 / (rank + 1) as f64;
        }
    }
    total / npos as f64
}

/// The Wilson score interval (95%) of a proportion `k` of `n`.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.96f64;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_precision_by_hand() {
        // Ranking: a(+), b(-), c(+): precisions at the positives 1/1 and 2/3.
        let ap = average_precision(&[0.9, 0.5, 0.1], &[true, false, true]);
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        // NaN ranks last.
        let ap = average_precision(&[f32::NAN, 0.5], &[true, false]);
        assert!((ap - 0.5).abs() < 1e-12);
    }

    #[test]
    fn wilson_brackets_the_proportion() {
        let (lo, hi) = wilson(8, 10);
        assert!(lo < 0.8 && hi > 0.8 && lo > 0.4 && hi < 1.0);
    }
}
