//! The dataset's types: documents of scored segments, their labels, and the split names.
//!
//! A document records the split its input declared, if any; which split a document is actually in
//! is decided by a [`super::Partition`], computed apart, so that folds and edits need no re-parse.

use std::ops::Range;
use std::sync::Arc;

use serde_json::Value;

/// Which side of the train/dev split a document is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Dev,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
        }
    }

    /// The split a data file names: `train`, or `dev` and its usual aliases.
    pub fn parse(name: &str) -> Option<Split> {
        match name {
            "train" => Some(Split::Train),
            "dev" | "validation" | "val" => Some(Split::Dev),
            _ => None,
        }
    }
}

/// One scored segment (sentence or step) of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Index of the owning document in [`Dataset::docs`].
    pub doc: usize,
    /// Position within the document, from 0.
    pub index: usize,
    pub text: String,
    /// The regression target; `None` for a context-only segment (shown, featurised as a
    /// neighbour, never trained on or measured).
    pub score: Option<f32>,
    /// Individual raters' scores, when the data has them.
    pub ratings: Vec<f32>,
    pub tags: Vec<String>,
    /// Labels the document's `meta` records for this segment, as (key, label): every `meta` key
    /// whose value maps segment indices to labels, such as `noise: flipped` or
    /// `hard: wrong_arithmetic`. In key order. Shared between the segments of a document that
    /// have the same labels (a document's scalar `meta` labels every segment alike): at a million
    /// segments, one copy per segment of three such labels held about 450 MB.
    pub labels: Arc<Vec<(String, String)>>,
    /// 1-based line of the input file this segment came from.
    pub line: usize,
}

impl Segment {
    /// Spread of the raters' scores (max - min); 0 with fewer than two ratings.
    pub fn rater_spread(&self) -> f32 {
        if self.ratings.len() < 2 {
            return 0.0;
        }
        let (lo, hi) = self
            .ratings
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &r| {
                (lo.min(r), hi.max(r))
            });
        hi - lo
    }

    /// The label this segment carries under `key` (`noise`, `hard`, ...), if any.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A prompt and its response, split into segments.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: String,
    pub prompt: String,
    /// The split the input declared; `None` lets the partition decide by the id's hash.
    pub split: Option<Split>,
    /// Indices of this document's segments in [`Dataset::segments`].
    pub segments: Range<usize>,
    /// Free-form metadata, carried through to reports, never used as a training input.
    pub meta: Option<Value>,
    /// 1-based line where the document starts.
    pub line: usize,
}

/// A whole dataset, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Where it came from: a path, or "bundled".
    pub source: String,
    /// The input format it was read as (`segscope`, ...).
    pub format: String,
    pub docs: Vec<Document>,
    pub segments: Vec<Segment>,
    /// Every segment's own embedding, when the data brings them (all segments or none).
    pub embeddings: Option<Embeddings>,
}

/// Per-segment embeddings, concatenated in segment order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub dim: usize,
    pub values: Vec<f32>,
}

impl Embeddings {
    /// Segment `i`'s embedding.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }
}

impl Dataset {
    /// `doc-id:index`, the name a segment goes by in reports and on screen.
    pub fn segment_id(&self, i: usize) -> String {
        let s = &self.segments[i];
        format!("{}:{}", self.docs[s.doc].id, s.index)
    }

    /// The target of segment `i`, NaN for a context-only segment.
    pub fn target(&self, i: usize) -> f32 {
        self.segments[i].score.unwrap_or(f32::NAN)
    }

    /// Segments with a target.
    pub fn labelled(&self) -> usize {
        self.segments.iter().filter(|s| s.score.is_some()).count()
    }

    /// Every label key any segment carries, in order of first appearance: the label columns of
    /// a report and the labels the detail view lists.
    pub fn label_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for s in &self.segments {
            for (k, _) in s.labels.iter() {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        keys
    }
}

/// Labels for segment `index` from a document's `meta`: every key whose value is an object with
/// an entry for that index (`{"noise": {"1": "flipped"}}` labels segment 1 `noise: flipped`), and
/// every key whose value is a plain string, number or boolean, which labels each segment of the
/// document (ProcessBench's `generator` and `final_answer_correct`).
pub fn meta_labels(meta: Option<&Value>, index: usize) -> Vec<(String, String)> {
    let Some(Value::Object(m)) = meta else {
        return Vec::new();
    };
    let key = index.to_string();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    m.iter()
        .filter_map(|(k, v)| {
            let label = match v {
                Value::Object(o) => o.get(&key)?,
                Value::String(_) | Value::Number(_) | Value::Bool(_) => v,
                Value::Null | Value::Array(_) => return None,
            };
            Some((k.clone(), text(label)))
        })
        .collect()
}
