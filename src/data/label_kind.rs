//! What kind of labels a dataset has, and whether it has first-error semantics: read from the
//! targets and the documents' layout when data loads, overridable from `[data]`.

use serde::Serialize;

use crate::data::Dataset;

/// The kind of a dataset's targets. Finding a wrong label means something different for each.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LabelKind {
    /// Two values (0/1, -1/+1, booleans): `lo` is the negative class, `hi` the positive.
    Binary { lo: f32, hi: f32 },
    /// A few evenly meaningful levels (PRM800K's -1/0/1): at most [`ORDINAL_MAX_LEVELS`].
    Ordinal { levels: usize, lo: f32, hi: f32 },
    /// Many values inside [0, 1] (Monte-Carlo soft labels).
    Bounded { lo: f32, hi: f32 },
    /// Anything else (rubric scores).
    Continuous,
}

/// The most distinct values a target may take and still be read as ordinal levels.
pub const ORDINAL_MAX_LEVELS: usize = 7;

/// A label kind or first-error setting the config asks for that the data cannot have; each
/// message names the config key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelKindError {
    #[error("data.label_kind = \"binary\", but the targets take more than two values ({found})")]
    NotBinary { found: String },
    #[error(
        "data.label_kind = \"ordinal\", but the targets take more than {ORDINAL_MAX_LEVELS} values"
    )]
    NotOrdinal,
    #[error("data.label_kind: unknown kind `{0}` (auto, binary, ordinal, bounded, continuous)")]
    UnknownKind(String),
    #[error("data.first_error = \"yes\" needs binary targets, but they are {found}")]
    FirstErrorNeedsBinary { found: String },
    #[error("data.first_error: `{0}` is not one of auto, yes, no")]
    UnknownFirstError(String),
}

impl LabelKind {
    pub fn name(&self) -> &'static str {
        match self {
            LabelKind::Binary { .. } => "binary",
            LabelKind::Ordinal { .. } => "ordinal",
            LabelKind::Bounded { .. } => "bounded",
            LabelKind::Continuous => "continuous",
        }
    }

    /// A short description for headers and summaries: `binary 0/1`, `ordinal 3 levels -1..1`.
    pub fn describe(&self) -> String {
        match *self {
            LabelKind::Binary { lo, hi } => format!("binary {lo}/{hi}"),
            LabelKind::Ordinal { levels, lo, hi } => format!("ordinal, {levels} levels {lo}..{hi}"),
            LabelKind::Bounded { lo, hi } => format!("bounded continuous in [{lo}, {hi}]"),
            LabelKind::Continuous => "continuous".into(),
        }
    }

    /// Detects the kind from the targets (context segments aside).
    pub fn detect(ds: &Dataset) -> LabelKind {
        let mut values: Vec<f32> = ds.segments.iter().filter_map(|s| s.score).collect();
        values.sort_by(f32::total_cmp);
        values.dedup();
        let (Some(&lo), Some(&hi)) = (values.first(), values.last()) else {
            return LabelKind::Continuous;
        };
        match values.len() {
            2 => LabelKind::Binary { lo, hi },
            n if (3..=ORDINAL_MAX_LEVELS).contains(&n) => LabelKind::Ordinal { levels: n, lo, hi },
            _ if lo >= 0.0 && hi <= 1.0 => LabelKind::Bounded { lo: 0.0, hi: 1.0 },
            _ => LabelKind::Continuous,
        }
    }

    /// The kind a config names (`binary`, `ordinal`, `bounded`, `continuous`), given the data's
    /// values; `auto` or empty detects. An unknown name, or `binary` on data with more than two
    /// values, is an error naming the field.
    pub fn resolve(name: &str, ds: &Dataset) -> Result<LabelKind, LabelKindError> {
        let detected = LabelKind::detect(ds);
        let (lo, hi) = ds
            .segments
            .iter()
            .filter_map(|s| s.score)
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        match name {
            "" | "auto" => Ok(detected),
            "binary" => match detected {
                LabelKind::Binary { .. } => Ok(detected),
                _ => Err(LabelKindError::NotBinary {
                    found: detected.describe(),
                }),
            },
            "ordinal" => match detected {
                LabelKind::Binary { lo, hi } => Ok(LabelKind::Ordinal { levels: 2, lo, hi }),
                LabelKind::Ordinal { .. } => Ok(detected),
                _ => Err(LabelKindError::NotOrdinal),
            },
            "bounded" => Ok(LabelKind::Bounded { lo, hi }),
            "continuous" => Ok(LabelKind::Continuous),
            other => Err(LabelKindError::UnknownKind(other.to_string())),
        }
    }

    /// Whether `v` is the positive class (binary only).
    pub fn is_high(&self, v: f32) -> bool {
        match *self {
            LabelKind::Binary { lo, hi } => (v - hi).abs() < (v - lo).abs(),
            _ => false,
        }
    }
}

/// Whether a dataset has first-error semantics: steps before the first wrong one are right, the
/// one at it is wrong, and nothing after it is labelled (ProcessBench, PRM800K's chosen path).
///
/// The ProcessBench importer knows it. Otherwise it is read from the layout: binary targets, every
/// document's labelled steps a prefix of it, and at least one in twenty documents with an
/// unlabelled tail. The layout survives flipped labels, so a noisy copy is still recognised.
/// `setting` is `data.first_error`: `auto` (or empty), `yes` or `no`.
pub fn first_error(ds: &Dataset, kind: &LabelKind, setting: &str) -> Result<bool, LabelKindError> {
    match setting {
        "yes" => {
            return match kind {
                LabelKind::Binary { .. } => Ok(true),
                _ => Err(LabelKindError::FirstErrorNeedsBinary {
                    found: kind.describe(),
                }),
            };
        }
        "no" => return Ok(false),
        "" | "auto" => {}
        other => {
            return Err(LabelKindError::UnknownFirstError(other.to_string()));
        }
    }
    if !matches!(kind, LabelKind::Binary { .. }) {
        return Ok(false);
    }
    if ds.format == "processbench" {
        return Ok(true);
    }
    let mut tails = 0;
    for doc in &ds.docs {
        let segs = &ds.segments[doc.segments.clone()];
        let labelled = segs.iter().take_while(|s| s.score.is_some()).count();
        if segs[labelled..].iter().any(|s| s.score.is_some()) {
            return Ok(false);
        }
        if labelled < segs.len() {
            tails += 1;
        }
    }
    Ok(tails > 0 && tails * 20 >= ds.docs.len())
}
