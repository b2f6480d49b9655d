//! Outside judges: per-step probabilities that a step is right, from any model the user has
//! (their own PRM, an LLM judge, Monte-Carlo rollouts), read from JSON lines
//! `{"id": "<doc>:<index>", "p_correct": 0.93}` or a CSV with those columns.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::data::Dataset;

/// One judge: its file, and its probability per segment (NaN where it says nothing).
#[derive(Debug, Clone)]
pub struct Judge {
    pub name: String,
    pub p_correct: Vec<f32>,
    /// Segments it judged.
    pub judged: usize,
}

/// Why a judge file could not be read; each names the file and, where there is one, the line.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {what}")]
    Line {
        file: PathBuf,
        line: usize,
        what: String,
    },
    #[error("{file}: judges none of the data's segments")]
    Empty { file: PathBuf },
}

/// Reads a judge of `ds`'s segments. Every line must name a segment of the data (`doc:index`,
/// as reports write ids) once, with a probability in [0, 1]; segments it does not name are left
/// unjudged.
pub fn read(path: &Path, ds: &Dataset) -> Result<Judge, JudgeError> {
    let file = path.to_path_buf();
    let text = std::fs::read_to_string(path).map_err(|source| JudgeError::Io {
        file: file.clone(),
        source,
    })?;
    let err = |line: usize, what: String| JudgeError::Line {
        file: file.clone(),
        line,
        what,
    };
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    // (line, id, p) per entry.
    let mut entries: Vec<(usize, String, f64)> = Vec::new();
    if is_csv {
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let headers = r
            .headers()
            .map_err(|e| err(1, format!("not a CSV header: {e}")))?
            .clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| err(1, format!("no `{name}` column (columns: id, p_correct)")))
        };
        let (id_col, p_col) = (col("id")?, col("p_correct")?);
        for (k, rec) in r.records().enumerate() {
            let line = k + 2;
            let rec = rec.map_err(|e| err(line, e.to_string()))?;
            let id = rec.get(id_col).unwrap_or("").trim().to_string();
            if id.is_empty() {
                return Err(err(line, "`id` is missing".into()));
            }
            let raw = rec.get(p_col).unwrap_or("").trim();
            let p: f64 = raw
                .parse()
                .map_err(|_| err(line, format!("`p_correct` is not a number: {raw:?}")))?;
            entries.push((line, id, p));
        }
    } else {
        for (k, l) in text.lines().enumerate() {
            let line = k + 1;
            if l.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value =
                serde_json::from_str(l).map_err(|e| err(line, format!("not JSON: {e}")))?;
            let id = match v.get("id") {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => return Err(err(line, format!("`id` is not a string: {other}"))),
                None => return Err(err(line, "`id` is missing".into())),
            };
            let p = match v.get("p_correct") {
                Some(x) => x
                    .as_f64()
                    .ok_or_else(|| err(line, format!("`p_correct` is not a number: {x}")))?,
                None => return Err(err(line, "`p_correct` is missing".into())),
            };
            entries.push((line, id, p));
        }
    }
    let ids: HashMap<String, usize> = (0..ds.segments.len())
        .map(|i| (ds.segment_id(i), i))
        .collect();
    let mut p_correct = vec![f32::NAN; ds.segments.len()];
    let mut seen: HashMap<usize, usize> = HashMap::new();
    for (line, id, p) in entries {
        if !(0.0..=1.0).contains(&p) {
            return Err(err(
                line,
                format!("`p_correct` of {id} must be in [0, 1], found {p}"),
            ));
        }
        let Some(&i) = ids.get(&id) else {
            return Err(err(
                line,
                format!("the data has no segment `{id}` (ids are doc:index)"),
            ));
        };
        if let Some(first) = seen.insert(i, line) {
            return Err(err(
                line,
                format!("`{id}` is judged twice (first on line {first})"),
            ));
        }
        p_correct[i] = p as f32;
    }
    if seen.is_empty() {
        return Err(JudgeError::Empty { file });
    }
    Ok(Judge {
        name: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        ),
        judged: seen.len(),
        p_correct,
    })
}
