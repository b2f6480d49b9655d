//! The per-segment table (CSV or JSONL by extension), shared by `--report` and the dashboard's
//! export key. It carries the data's `meta` labels, one column per label key the data has, so a
//! user can check what the outliers are. [`run`] is the one export every caller makes: the
//! table (a comparison's when the report has several models), and with what-if edits the edits
//! and the edited data beside it.

use crate::labels::LabelInfo;
use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::analysis::datamap::{DataMap, Region};
use crate::analysis::{is_outlier, robust_z};
use crate::data::edits::Edits;
use crate::data::{Dataset, Partition, Split};
use crate::engine::StepReport;

/// The columns before the label columns, in order.
const HEAD: [&str; 22] = [
    "id",
    "doc",
    "split",
    "index",
    "text",
    "target",
    "prediction",
    "residual",
    "loss",
    "share",
    "robust_z",
    "outlier",
    "rater_spread",
    "ratings",
    "grad_share",
    "grad_align",
    "dm_mean_residual",
    "dm_abs_residual",
    "dm_variability",
    "dm_region",
    "label_score",
    "label_issue",
];

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    pub doc: String,
    pub split: Split,
    pub index: usize,
    pub text: String,
    /// `None` (empty in CSV, null in JSON) for a context-only segment.
    pub target: Option<f32>,
    pub prediction: f32,
    pub residual: f32,
    pub loss: f32,
    pub share: f32,
    pub robust_z: f32,
    pub outlier: bool,
    pub rater_spread: f32,
    /// Ratings joined by `;` (CSV has no lists).
    pub ratings: String,
    /// The gradient share and alignment at the output layer (training rows; NaN elsewhere, or
    /// when unknown).
    pub grad_share: f32,
    pub grad_align: f32,
    /// The data map over the last refreshed steps (NaN and no region without one).
    pub dm_mean_residual: f32,
    pub dm_abs_residual: f32,
    pub dm_variability: f32,
    pub dm_region: Option<Region>,
    /// How likely the label is wrong, from this run's own predictions (in-sample for training
    /// rows): the data map's mean prediction over its window when there is one (the training
    /// dynamics), else the report's; and the kind's default flag. `segscope crossfit` gives the
    /// out-of-sample score.
    pub label_score: f32,
    pub label_issue: bool,
    /// The segment's label under each of the dataset's label keys (`""` where it has none).
    pub labels: Vec<String>,
    pub tags: String,
    /// The step whose predictions these are.
    pub step: u64,
}

/// Builds every row; `outlier_k` is the robust-z threshold; `label_keys` is
/// `ds.label_keys()`; `map` is the data map over the steps before `report`, if there is one;
/// `labels` the labels' kind, for the label score.
pub fn rows(
    report: &StepReport,
    ds: &Dataset,
    part: &Partition,
    label_keys: &[String],
    outlier_k: f64,
    map: Option<&DataMap>,
    labels: &LabelInfo,
) -> Vec<Row> {
    let z = robust_z(&report.segments, part, &crate::labels::classes(ds));
    let pred: Vec<f32> = (0..ds.segments.len())
        .map(|i| {
            let own = report.segments[i].pred;
            match (ds.segments[i].score, map.map(|m| m.points[i].mean_residual)) {
                (None, _) => f32::NAN,
                (Some(t), Some(r)) if r.is_finite() => t - r,
                (Some(_), _) => own,
            }
        })
        .collect();
    let scores = crate::labels::score(
        ds,
        &labels.kind,
        labels.first_error,
        &pred,
        outlier_k as f32,
    );
    ds.segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let e = report.segments[i];
            let g = report.grad_of(i);
            let p = map.map(|m| m.points[i]);
            Row {
                id: ds.segment_id(i),
                doc: ds.docs[s.doc].id.clone(),
                split: part.split_of(i),
                index: s.index,
                text: s.text.clone(),
                target: s.score,
                prediction: e.pred,
                residual: e.residual,
                loss: e.loss,
                share: e.share,
                robust_z: z[i],
                outlier: is_outlier(z[i], outlier_k),
                rater_spread: s.rater_spread(),
                ratings: s
                    .ratings
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(";"),
                grad_share: g.share,
                grad_align: g.align,
                dm_mean_residual: p.map_or(f32::NAN, |p| p.mean_residual),
                dm_abs_residual: p.map_or(f32::NAN, |p| p.abs_residual),
                dm_variability: p.map_or(f32::NAN, |p| p.variability),
                dm_region: p.and_then(|p| p.region),
                label_score: scores[i].score,
                label_issue: scores[i].flag,
                labels: label_keys
                    .iter()
                    .map(|k| s.label(k).unwrap_or_default().to_string())
                    .collect(),
                tags: s.tags.join(";"),
                step: report.eval_step,
            }
        })
        .collect()
}

/// A row as one JSON object, its label columns named by their keys.
struct JsonRow<'a> {
    row: &'a Row,
    keys: &'a [String],
}

impl Serialize for JsonRow<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.row;
        let mut m = s.serialize_map(Some(HEAD.len() + self.keys.len() + 2))?;
        m.serialize_entry("id", &r.id)?;
        m.serialize_entry("doc", &r.doc)?;
        m.serialize_entry("split", &r.split)?;
        m.serialize_entry("index", &r.index)?;
        m.serialize_entry("text", &r.text)?;
        m.serialize_entry("target", &r.target)?;
        m.serialize_entry("prediction", &r.prediction)?;
        m.serialize_entry("residual", &r.residual)?;
        m.serialize_entry("loss", &r.loss)?;
        m.serialize_entry("share", &r.share)?;
        m.serialize_entry("robust_z", &r.robust_z)?;
        m.serialize_entry("outlier", &r.outlier)?;
        m.serialize_entry("rater_spread", &r.rater_spread)?;
        m.serialize_entry("ratings", &r.ratings)?;
        m.serialize_entry("grad_share", &r.grad_share)?;
        m.serialize_entry("grad_align", &r.grad_align)?;
        m.serialize_entry("dm_mean_residual", &r.dm_mean_residual)?;
        m.serialize_entry("dm_abs_residual", &r.dm_abs_residual)?;
        m.serialize_entry("dm_variability", &r.dm_variability)?;
        m.serialize_entry("dm_region", &r.dm_region)?;
        m.serialize_entry("label_score", &r.label_score)?;
        m.serialize_entry("label_issue", &r.label_issue)?;
        for (k, v) in self.keys.iter().zip(&r.labels) {
            m.serialize_entry(k, v)?;
        }
        m.serialize_entry("tags", &r.tags)?;
        m.serialize_entry("step", &r.step)?;
        m.end()
    }
}

/// Why the table was not written (the side files' failures are said in [`Written::failed`]).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Rows {
        path: String,
        #[source]
        source: RowsError,
    },
    #[error("{path}: {source}")]
    File {
        path: String,
        #[source]
        source: crate::io_plan::WriteError,
    },
    #[error("{path}: {source}")]
    Comparison {
        path: String,
        #[source]
        source: crate::source::compare::ReportWriteError,
    },
}

/// Why the rows could not be written out.
#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    #[error(transparent)]
    Csv(#[from] csv::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Why the edited data beside the table was not written.
#[derive(Debug, thiserror::Error)]
enum EditedError {
    #[error(transparent)]
    Convert(#[from] crate::data::formats::out::ConvertError),
    #[error(transparent)]
    Write(#[from] crate::io_plan::WriteError),
}

/// One export, as the dashboard, a headless run's `--report` and `watch --report` ask for it.
pub struct Job<'a> {
    pub path: &'a Path,
    pub report: &'a StepReport,
    pub ds: &'a Dataset,
    pub part: &'a Partition,
    pub outlier_k: f64,
    pub map: Option<&'a DataMap>,
    pub labels: &'a LabelInfo,
    /// What-if edits: with any, they go beside the table as JSON lines an `--edits` file can
    /// take, and the edited data in the format it came in, for the user's own trainer.
    pub edits: Option<&'a Edits>,
}

/// What an export wrote: the table's rows, the side files by name (each with its note), and why
/// any side file was not written (empty when all were).
#[derive(Debug)]
pub struct Written {
    pub rows: usize,
    pub beside: Vec<String>,
    pub failed: String,
}

impl Written {
    /// The status line: the table's path whole, the side files by name (they sit beside it).
    pub fn message(&self, path: &Path) -> String {
        let mut msg = format!("exported {} segments to {}", self.rows, path.display());
        if !self.beside.is_empty() {
            msg.push_str(&format!(" (+ {})", self.beside.join(", ")));
        }
        msg.push_str(&self.failed);
        msg
    }
}

/// Writes the table, and the side files when there are edits. A failed table is an error; a
/// failed side file is said in [`Written::failed`], the table being written.
pub fn run(job: &Job) -> Result<Written, ExportError> {
    let r = job.report;
    // A comparison exports every model's prediction and residual.
    let rows = if r.models.is_empty() {
        write(
            job.path,
            r,
            job.ds,
            job.part,
            job.outlier_k,
            job.map,
            job.labels,
        )?
    } else {
        crate::source::compare::write_report(job.path, r, job.ds, job.part).map_err(|source| {
            ExportError::Comparison {
                path: job.path.display().to_string(),
                source,
            }
        })?
    };
    let mut out = Written {
        rows,
        beside: Vec::new(),
        failed: String::new(),
    };
    if let Some(edits) = job.edits.filter(|e| !e.is_empty()) {
        let p = job.path.with_extension("edits.jsonl");
        match crate::io_plan::write_file(&p, edits.to_jsonl(job.ds).as_bytes()) {
            Ok(()) => out.beside.push(file_name(&p)),
            Err(e) => out.failed.push_str(&format!(
                "; the edits were not written to {}: {e}",
                p.display()
            )),
        }
        let p = job.path.with_extension("data.jsonl");
        match write_edited(&p, &crate::data::formats::out::edited(job.ds, edits)) {
            Ok(note) => out.beside.push(format!("{}{note}", file_name(&p))),
            Err(e) => out
                .failed
                .push_str(&format!("; the edited data was not written: {e}")),
        }
    }
    Ok(out)
}

/// The edited data in the format it came in; the note says the format and what was left out.
fn write_edited(
    p: &Path,
    edited: &crate::data::formats::out::Edited,
) -> Result<String, EditedError> {
    use crate::data::formats::out;
    let (data, other) = (&edited.data, edited.other_weights);
    let format = out::same_as(&data.format);
    let mut buf = Vec::new();
    out::write(data, format, None, &edited.excluded, &mut buf)?;
    crate::io_plan::write_file(p, &buf)?;
    Ok(format!(
        " as {}{}",
        format.name(),
        if other > 0 {
            format!(", {other} weights other than 0 and 1 left out")
        } else {
            String::new()
        }
    ))
}

/// A side file's name (it sits beside the exported table, whose path the message gives whole).
fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Writes the table to `path`: CSV for `.csv`, JSON lines otherwise; atomically
/// (`io_plan::AtomicFile`), so an existing report is never left half-overwritten.
pub fn write(
    path: &Path,
    report: &StepReport,
    ds: &Dataset,
    part: &Partition,
    outlier_k: f64,
    map: Option<&DataMap>,
    labels: &LabelInfo,
) -> Result<usize, ExportError> {
    let name = || path.display().to_string();
    let rows_failed = |source| ExportError::Rows {
        path: name(),
        source,
    };
    let file_failed = |source| ExportError::File {
        path: name(),
        source,
    };
    let keys = ds.label_keys();
    let rows = rows(report, ds, part, &keys, outlier_k, map, labels);
    if crate::io_plan::is_stdout(path) {
        let out = std::io::stdout().lock();
        write_rows(out, &rows, &keys, is_csv_path(path)).map_err(rows_failed)?;
        return Ok(rows.len());
    }
    let mut file = crate::io_plan::AtomicFile::create(path).map_err(file_failed)?;
    write_rows(&mut file, &rows, &keys, is_csv_path(path)).map_err(rows_failed)?;
    file.commit().map_err(file_failed)?;
    Ok(rows.len())
}

/// Whether a report at `path` is CSV (else JSON lines); standard output is CSV.
fn is_csv_path(path: &Path) -> bool {
    crate::io_plan::is_stdout(path)
        || path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// The rows as CSV (with the header) or JSON lines, to `out`.
fn write_rows(
    out: impl std::io::Write,
    rows: &[Row],
    keys: &[String],
    is_csv: bool,
) -> Result<(), RowsError> {
    if is_csv {
        // The header is written by hand: csv infers headers only from flat structs, and the
        // label columns depend on the data.
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(out);
        let header = HEAD
            .iter()
            .map(|h| h.to_string())
            .chain(keys.iter().cloned())
            .chain(["tags".to_string(), "step".to_string()]);
        w.write_record(header)?;
        for r in rows {
            w.serialize(r)?;
        }
        w.flush()?;
    } else {
        let mut w = std::io::BufWriter::new(out);
        for row in rows {
            let r = JsonRow { row, keys };
            serde_json::to_writer(&mut w, &r)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::edits::{Action, Edit};
    use crate::data::{ReadOptions, parse_str};

    #[test]
    fn one_export_writes_the_table_and_with_edits_the_two_side_files() {
        let text = r#"{"id": "a", "prompt": "p", "segments": [{"text": "one", "score": 1}, {"text": "two", "score": 0}]}"#;
        let (ds, _) = parse_str(text, "t", &ReadOptions::default()).unwrap();
        let part = Partition::new(&ds, 0.0);
        let report = StepReport::unevaluated(ds.segments.len());
        let labels = LabelInfo::detect(&ds);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let edits = Edits {
            list: vec![Edit {
                segment: 1,
                action: Action::Target(1.0),
                step: 0,
            }],
        };
        let job = |edits| Job {
            path: &path,
            report: &report,
            ds: &ds,
            part: &part,
            outlier_k: 3.5,
            map: None,
            labels: &labels,
            edits,
        };
        let plain = run(&job(None)).unwrap();
        assert_eq!((plain.rows, plain.beside.len()), (2, 0));
        assert!(!dir.path().join("t.edits.jsonl").exists());
        let w = run(&job(Some(&edits))).unwrap();
        assert_eq!(w.beside.len(), 2, "{w:?}");
        assert!(w.failed.is_empty(), "{w:?}");
        let msg = w.message(&path);
        assert!(msg.starts_with(&format!("exported 2 segments to {}", path.display())));
        assert!(
            msg.contains("t.edits.jsonl") && msg.contains("t.data.jsonl"),
            "{msg}"
        );
        let data = std::fs::read_to_string(dir.path().join("t.data.jsonl")).unwrap();
        assert_eq!(data.matches("\"score\":1").count(), 2, "{data}");
    }
}
