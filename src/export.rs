//! The per-segment table (CSV or JSONL by extension), shared by `--report` and the dashboard's
//! export key. It carries the data's `meta` labels so a user can check what the outliers are.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::data::{Dataset, Split};
use crate::engine::StepReport;
use crate::engine::report::robust_z;

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    pub doc: String,
    pub split: Split,
    pub index: usize,
    pub text: String,
    pub target: f32,
    pub prediction: f32,
    pub residual: f32,
    pub loss: f32,
    pub share: f32,
    pub robust_z: f32,
    pub outlier: bool,
    pub rater_spread: f32,
    /// Ratings joined by `;` (CSV has no lists).
    pub ratings: String,
    pub noise: String,
    pub hard: String,
    pub tags: String,
    /// The step whose predictions these are.
    pub step: u64,
}

/// Builds every row; `outlier_k` is the robust-z threshold.
pub fn rows(report: &StepReport, ds: &Dataset, outlier_k: f64) -> Vec<Row> {
    let z = robust_z(&report.segments, ds);
    ds.segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let e = report.segments[i];
            Row {
                id: ds.segment_id(i),
                doc: ds.docs[s.doc].id.clone(),
                split: ds.split_of(i),
                index: s.index,
                text: s.text.clone(),
                target: s.score,
                prediction: e.pred,
                residual: e.residual,
                loss: e.loss,
                share: e.share,
                robust_z: z[i],
                outlier: f64::from(z[i].abs()) > outlier_k,
                rater_spread: s.rater_spread(),
                ratings: s
                    .ratings
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(";"),
                noise: s.noise.clone().unwrap_or_default(),
                hard: s.hard.clone().unwrap_or_default(),
                tags: s.tags.join(";"),
                step: report.eval_step,
            }
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {message}")]
    Write { path: String, message: String },
}

/// Writes the table to `path`: CSV for `.csv`, JSON lines otherwise. Written to a temporary file
/// and renamed, so an existing report is never left half-overwritten.
pub fn write(
    path: &Path,
    report: &StepReport,
    ds: &Dataset,
    outlier_k: f64,
) -> Result<usize, ExportError> {
    let fail = |message: String| ExportError::Write {
        path: path.display().to_string(),
        message,
    };
    let rows = rows(report, ds, outlier_k);
    let tmp = path.with_extension(format!(
        "{}.tmp-{}",
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        std::process::id()
    ));
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let result = (|| -> Result<(), String> {
        let file = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
        if is_csv {
            let mut w = csv::Writer::from_writer(file);
            for r in &rows {
                w.serialize(r).map_err(|e| e.to_string())?;
            }
            w.flush().map_err(|e| e.to_string())?;
        } else {
            let mut w = std::io::BufWriter::new(file);
            for r in &rows {
                serde_json::to_writer(&mut w, r).map_err(|e| e.to_string())?;
                w.write_all(b"\n").map_err(|e| e.to_string())?;
            }
            w.flush().map_err(|e| e.to_string())?;
        }
        std::fs::rename(&tmp, path).map_err(|e| e.to_string())
    })();
    if let Err(m) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(m));
    }
    Ok(rows.len())
}
