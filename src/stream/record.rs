//! The stream's records. Every line is one JSON object of one of three kinds:
//! - the header, first: `{"format": "segscope.stream", "version": 1, "run": ..., ...}`;
//! - a segment: `{"id": ..., "doc": ..., "index": ..., "split": ..., "text": ..., "target": ...}`;
//! - a step: `{"step": N, "predictions": [...], ...}`. Only step records have a top-level `step`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::LayerChange;

/// The `format` the header names.
pub const FORMAT: &str = "segscope.stream";
/// The version this build reads and writes.
pub const VERSION: u32 = 1;

/// The first line of a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// A name for the run.
    #[serde(default)]
    pub run: String,
    /// When the stream was created (RFC 3339 or any text the writer chose).
    #[serde(default)]
    pub created: String,
    /// The writer's configuration, free-form (segscope writes its config; shown, not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// The control file the writer reads commands from, relative to the stream's directory;
    /// absent when the writer takes no commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
    /// The objective the writer trains with (`mse`, `bce`, ...), when it says; a stream without
    /// the field is read as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<String>,
    /// The predictions are probabilities (of the correct step, for binary labels).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub probabilities: bool,
}

/// One segment of the run's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRecord {
    /// Unique in the stream; step records refer to segments by it (or by position).
    pub id: String,
    /// The document; a document's segments are consecutive records.
    pub doc: String,
    #[serde(default)]
    pub index: usize,
    /// `train` or `dev`.
    pub split: String,
    pub text: String,
    /// The target; null for a context-only segment.
    pub target: Option<f32>,
    /// The document's prompt, on its first segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ratings: Vec<f32>,
    /// The data's labels for this segment (`noise`, `hard`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A step's losses as the trainer measured them (the reader recomputes its own metrics).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Losses {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<f64>,
    /// The loss of the step's batch, before the update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<f64>,
}

/// One step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<Losses>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_norm: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_change: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_change_rel: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerChange>,
    /// Predictions: of every segment in segment-record order when `ids` is absent, else of the
    /// segments `ids` names, in that order. Null for a segment not predicted.
    pub predictions: Vec<Option<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<String>>,
    /// The ids of the step's training batch, when the writer says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Vec<String>>,
}

/// A line, told apart by its keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Header(Header),
    /// A header whose `version` is not a whole number (`"2.0"`, `1.5`) or is missing.
    OtherVersion(String),
    Segment(Box<SegmentRecord>),
    Step(Box<StepRecord>),
    /// `{"end": "finished"}`: the writer is done (the reason is its own words); a watcher stops
    /// saying it follows.
    End(String),
}

/// What is wrong with one line of a stream (the reader adds the file and line).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("not valid JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("must be a JSON object")]
    NotAnObject,
    #[error(
        "neither a header (`format`), a segment (`id`), a step (`step`) nor an end (`end`) record"
    )]
    UnknownKind,
    #[error("a {kind} record: {error}")]
    Bad {
        kind: &'static str,
        error: serde_json::Error,
    },
}

impl Line {
    /// Parses one line; the error names what is wrong with it.
    pub fn parse(raw: &str) -> Result<Line, RecordError> {
        // Writers put `step` first: such a line is read straight into its type, without a
        // `Value` tree (a step of 100,000 predictions is most of a stream's bytes).
        if raw.trim_start().starts_with("{\"step\"")
            && let Ok(s) = serde_json::from_str::<StepRecord>(raw)
        {
            return Ok(Line::Step(Box::new(s)));
        }
        let v: Value = serde_json::from_str(raw).map_err(RecordError::NotJson)?;
        let Value::Object(o) = &v else {
            return Err(RecordError::NotAnObject);
        };
        if let Some(end) = o.get("end") {
            return Ok(Line::End(match end {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }));
        }
        let kind = if o.contains_key("step") {
            "step"
        } else if o.contains_key("format") {
            "header"
        } else if o.contains_key("id") {
            "segment"
        } else {
            return Err(RecordError::UnknownKind);
        };
        let bad = |e: serde_json::Error| RecordError::Bad { kind, error: e };
        if kind == "header" && o.get("version").is_none_or(|v| v.as_u64().is_none()) {
            // A header of another version, or of none: the rest is not to be guessed at.
            return Ok(Line::OtherVersion(
                o.get("version").map_or("missing".into(), |v| v.to_string()),
            ));
        }
        Ok(match kind {
            "step" => Line::Step(Box::new(serde_json::from_value(v).map_err(bad)?)),
            "header" => Line::Header(serde_json::from_value(v).map_err(bad)?),
            _ => Line::Segment(Box::new(serde_json::from_value(v).map_err(bad)?)),
        })
    }
}
