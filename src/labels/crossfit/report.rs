//! A cross-fit's report on disk: written as CSV or JSON lines, read back per segment of the data
//! the dashboard shows, and the same per-segment view made from a cross-fit run in this process.

use super::{Crossfit, Row};
use crate::data::Dataset;

/// Writes the rows: CSV for `.csv` and for `-` (standard output), JSON lines otherwise; a file
/// atomically (`io_plan::AtomicFile`).
pub fn write(path: &std::path::Path, rows: &[Row]) -> Result<(), crate::io_plan::WriteError> {
    let to_stdout = crate::io_plan::is_stdout(path);
    let is_csv = to_stdout
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let fail = |e: String| crate::io_plan::WriteError::Io {
        path: path.to_path_buf(),
        what: "write",
        source: std::io::Error::other(e),
    };
    let mut file = None;
    let out: Box<dyn std::io::Write + '_> = if to_stdout {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(file.insert(crate::io_plan::AtomicFile::create(path)?))
    };
    if is_csv {
        let mut w = csv::Writer::from_writer(out);
        for r in rows {
            w.serialize(r).map_err(|e| fail(e.to_string()))?;
        }
        w.flush().map_err(|e| fail(e.to_string()))?;
    } else {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(out);
        for r in rows {
            serde_json::to_writer(&mut w, r).map_err(|e| fail(e.to_string()))?;
            w.write_all(b"\n").map_err(|e| fail(e.to_string()))?;
        }
        w.flush().map_err(|e| fail(e.to_string()))?;
    }
    match file {
        Some(f) => f.commit_unless_interrupted(),
        None => Ok(()),
    }
}

/// One segment as a cross-fit report gives it: the out-of-fold prediction and residual, and the
/// label score, its parts and flag (NaN and false where the report has none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OofSegment {
    pub pred: f32,
    pub residual: f32,
    pub label_score: f32,
    pub label_model: f32,
    pub label_document: f32,
    pub label_issue: bool,
    /// First-error data: the document's most likely first error (-1: none) and its probability.
    pub suggested_first_error: Option<i64>,
    pub suggested_probability: f32,
}

impl OofSegment {
    pub const MISSING: OofSegment = OofSegment {
        pred: f32::NAN,
        residual: f32::NAN,
        label_score: f32::NAN,
        label_model: f32::NAN,
        label_document: f32::NAN,
        label_issue: false,
        suggested_first_error: None,
        suggested_probability: f32::NAN,
    };
}

/// Why a cross-fit report cannot be read for this data; each names the file (and the row).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{file}: {message}")]
    Read { file: String, message: String },
    #[error("{at}: {message}")]
    Row { at: String, message: String },
    #[error(
        "{file}: its {other_text} ids name segments of this dataset with other text: a cross-fit of other data (run `segscope crossfit` on this one)"
    )]
    OtherText { file: String, other_text: usize },
    #[error("{0}: none of its ids is in the dataset (a cross-fit of other data?)")]
    NoneKnown(String),
}

/// Reads a cross-fit report (written by [`write`]) per segment of `ds`, [`OofSegment::MISSING`]
/// for segments it does not list; also how many of its ids the dataset lacks (not fatal: the
/// report may be of a filtered copy of the data). Reports written before the label score read
/// with NaN scores.
pub fn read(path: &std::path::Path, ds: &Dataset) -> Result<(Vec<OofSegment>, usize), ReportError> {
    #[derive(serde::Deserialize)]
    struct In {
        id: String,
        /// The segment's text as the cross-fit saw it: an id of other data can name a segment
        /// of this one.
        #[serde(default)]
        text: Option<String>,
        oof_prediction: Option<f32>,
        oof_residual: Option<f32>,
        label_score: Option<f32>,
        label_model: Option<f32>,
        label_document: Option<f32>,
        label_issue: Option<bool>,
        #[serde(default)]
        suggested_first_error: Option<i64>,
        #[serde(default)]
        suggested_probability: Option<f32>,
    }
    let ids: std::collections::HashMap<String, usize> = (0..ds.segments.len())
        .map(|i| (ds.segment_id(i), i))
        .collect();
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ReportError::Read {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let rows: Vec<In> = if is_csv {
        csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .enumerate()
            .map(|(k, r)| {
                r.map_err(|e| ReportError::Row {
                    at: format!("{file}: row {}", k + 1),
                    message: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(k, l)| {
                serde_json::from_str(l).map_err(|e| ReportError::Row {
                    at: format!("{file}:{}", k + 1),
                    message: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?
    };
    let mut out = vec![OofSegment::MISSING; ds.segments.len()];
    let mut unknown = 0;
    let mut other_text = 0;
    for r in rows {
        match ids.get(&r.id) {
            Some(&i) if r.text.as_ref().is_some_and(|t| *t != ds.segments[i].text) => {
                other_text += 1;
            }
            Some(&i) => {
                out[i] = OofSegment {
                    pred: r.oof_prediction.unwrap_or(f32::NAN),
                    residual: r.oof_residual.unwrap_or(f32::NAN),
                    label_score: r.label_score.unwrap_or(f32::NAN),
                    label_model: r.label_model.unwrap_or(f32::NAN),
                    label_document: r.label_document.unwrap_or(f32::NAN),
                    label_issue: r.label_issue.unwrap_or(false),
                    suggested_first_error: r.suggested_first_error,
                    suggested_probability: r.suggested_probability.unwrap_or(f32::NAN),
                }
            }
            None => unknown += 1,
        }
    }
    let known = out.iter().filter(|o| o.pred.is_finite()).count();
    if known == 0 {
        return Err(if other_text > 0 {
            ReportError::OtherText { file, other_text }
        } else {
            ReportError::NoneKnown(file)
        });
    }
    Ok((out, unknown + other_text))
}

impl Crossfit {
    /// Every segment of `ds` (the data this cross-fit ran on) as a report read back would give
    /// it: the dashboard's view of a cross-fit run in this process.
    pub fn oof(&self, ds: &Dataset) -> Vec<OofSegment> {
        (0..ds.segments.len())
            .map(|i| {
                let (e, s) = (&self.segments[i], &self.scores[i]);
                if ds.segments[i].score.is_none() || !e.pred.is_finite() {
                    return OofSegment::MISSING;
                }
                let doc = ds.segments[i].doc;
                let suggestion = self.suggestions.get(doc).copied().flatten();
                OofSegment {
                    pred: e.pred,
                    residual: e.residual,
                    label_score: s.score,
                    label_model: s.model,
                    label_document: s.document,
                    label_issue: match self.threshold {
                        Some(t) => s.score >= t,
                        None => s.flag,
                    },
                    suggested_first_error: suggestion
                        .map(|g| g.first_error.map_or(-1, |e| e as i64)),
                    suggested_probability: suggestion.map_or(f32::NAN, |g| g.probability as f32),
                }
            })
            .collect()
    }
}
