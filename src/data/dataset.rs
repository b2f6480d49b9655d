//! The dataset: documents of scored segments, read from JSONL and validated line by line.
//!
//! Two line forms are accepted (see README "Dataset format"): a whole document per line, or one
//! segment per line with consecutive lines of the same `doc` forming a document. Reading is
//! all-or-nothing: the first bad line is an error naming file, line and field, unless the caller
//! asked for lenient reading, in which case each bad line is skipped and reported.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use serde_json::{Map, Value};

use super::hash::fnv1a;

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
}

/// One scored segment (sentence or step) of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Index of the owning document in [`Dataset::docs`].
    pub doc: usize,
    /// Position within the document, from 0.
    pub index: usize,
    pub text: String,
    /// The regression target.
    pub score: f32,
    /// Individual raters' scores, when the data has them.
    pub ratings: Vec<f32>,
    pub tags: Vec<String>,
    /// The corruption recorded for this segment in the document's `meta.noise`, if any.
    pub noise: Option<String>,
    /// A recorded reason this segment is hard to learn (`meta.hard`), if any.
    pub hard: Option<String>,
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
}

/// A prompt and its response, split into segments.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: String,
    pub prompt: String,
    pub split: Split,
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
    pub docs: Vec<Document>,
    pub segments: Vec<Segment>,
}

impl Dataset {
    /// `doc-id:index`, the name a segment goes by in reports and on screen.
    pub fn segment_id(&self, i: usize) -> String {
        let s = &self.segments[i];
        format!("{}:{}", self.docs[s.doc].id, s.index)
    }

    pub fn split_of(&self, i: usize) -> Split {
        self.docs[self.segments[i].doc].split
    }

    /// Indices of the segments on one side of the split, in dataset order.
    pub fn indices(&self, split: Split) -> Vec<usize> {
        (0..self.segments.len())
            .filter(|&i| self.split_of(i) == split)
            .collect()
    }
}

/// An error in the input data. Line numbers are 1-based; `field` is a path such as
/// `segments[2].score`.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{file}: cannot read the file: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: no documents: the file is empty")]
    Empty { file: String },
    #[error("{file}:{line}: field `{field}`: {message}")]
    Line {
        file: String,
        line: usize,
        field: String,
        message: String,
    },
    #[error("{file}: no documents left after skipping {skipped} bad line(s)")]
    NothingLeft { file: String, skipped: usize },
    #[error("{file}: every document is in the {split} split; {need} needs at least one document")]
    OneSided {
        file: String,
        split: &'static str,
        need: &'static str,
    },
}

/// A line skipped by lenient reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub line: usize,
    pub message: String,
}

/// How to read a file.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Skip bad lines instead of failing.
    pub lenient: bool,
    /// Fraction of documents without a `split` field that go to dev.
    pub dev_fraction: f64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            lenient: false,
            dev_fraction: 0.2,
        }
    }
}

/// The deterministic split for a document without a `split` field: by a stable hash of its id,
/// so a document never straddles splits and the split never changes between runs.
pub fn split_for_id(id: &str, dev_fraction: f64) -> Split {
    let h = fnv1a(&[b"split:", id.as_bytes()]) % 1_000_000;
    if (h as f64) < dev_fraction * 1_000_000.0 {
        Split::Dev
    } else {
        Split::Train
    }
}

/// Reads a dataset file. Returns the dataset and, in lenient mode, the skipped lines.
pub fn read_file(path: &Path, opts: &ReadOptions) -> Result<(Dataset, Vec<Skipped>), DataError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        file: file.clone(),
        source,
    })?;
    parse_str(&text, &file, opts)
}

/// Parses JSONL text; `file` is only used in messages.
pub fn parse_str(
    text: &str,
    file: &str,
    opts: &ReadOptions,
) -> Result<(Dataset, Vec<Skipped>), DataError> {
    let mut b = Builder::new(file, opts.dev_fraction);
    let mut skipped = Vec::new();
    let mut any_line = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        any_line = true;
        if let Err((field, message)) = b.add_line(raw, line) {
            if opts.lenient {
                skipped.push(Skipped {
                    line,
                    message: format!("field `{field}`: {message}"),
                });
            } else {
                return Err(DataError::Line {
                    file: file.to_string(),
                    line,
                    field,
                    message,
                });
            }
        }
    }
    if !any_line {
        return Err(DataError::Empty {
            file: file.to_string(),
        });
    }
    let ds = b.finish();
    if ds.docs.is_empty() {
        return Err(DataError::NothingLeft {
            file: file.to_string(),
            skipped: skipped.len(),
        });
    }
    Ok((ds, skipped))
}

type FieldError = (String, String);

fn ferr(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    (field.into(), message.into())
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A segment parsed from one JSON object, before it is placed in a document.
struct RawSegment {
    text: String,
    score: f32,
    ratings: Vec<f32>,
    tags: Vec<String>,
}

fn get_string(
    obj: &Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<Option<String>, FieldError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // Ids are often numeric in the wild; accept them as their decimal text.
        Some(Value::Number(n)) if key == "id" || key == "doc" => Ok(Some(n.to_string())),
        Some(v) => Err(ferr(
            field,
            format!("must be a string, found {}", kind_of(v)),
        )),
    }
}

fn finite_f32(v: &Value, field: &str) -> Result<f32, FieldError> {
    let Value::Number(n) = v else {
        return Err(ferr(
            field,
            format!("must be a number, found {}", kind_of(v)),
        ));
    };
    let x = n
        .as_f64()
        .ok_or_else(|| ferr(field, format!("`{n}` is not a representable number")))?;
    let y = x as f32;
    if !y.is_finite() {
        return Err(ferr(field, format!("must be finite, found {n}")));
    }
    Ok(y)
}

fn parse_segment(obj: &Map<String, Value>, prefix: &str) -> Result<RawSegment, FieldError> {
    let f = |k: &str| format!("{prefix}{k}");
    let text = match obj.get("text") {
        None => return Err(ferr(f("text"), "missing")),
        Some(Value::String(s)) if s.trim().is_empty() => return Err(ferr(f("text"), "is empty")),
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(ferr(
                f("text"),
                format!("must be a string, found {}", kind_of(v)),
            ));
        }
    };
    let score = match obj.get("score") {
        None => return Err(ferr(f("score"), "missing")),
        Some(v) => finite_f32(v, &f("score"))?,
    };
    let ratings = match obj.get("ratings") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(j, v)| finite_f32(v, &format!("{prefix}ratings[{j}]")))
            .collect::<Result<_, _>>()?,
        Some(v) => {
            return Err(ferr(
                f("ratings"),
                format!("must be an array, found {}", kind_of(v)),
            ));
        }
    };
    let tags = match obj.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(j, v)| match v {
                Value::String(s) => Ok(s.clone()),
                v => Err(ferr(
                    format!("{prefix}tags[{j}]"),
                    format!("must be a string, found {}", kind_of(v)),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(v) => {
            return Err(ferr(
                f("tags"),
                format!("must be an array, found {}", kind_of(v)),
            ));
        }
    };
    Ok(RawSegment {
        text,
        score,
        ratings,
        tags,
    })
}

fn parse_split(obj: &Map<String, Value>) -> Result<Option<Split>, FieldError> {
    match get_string(obj, "split", "split")?.as_deref() {
        None => Ok(None),
        Some("train") => Ok(Some(Split::Train)),
        Some("dev") | Some("validation") | Some("val") => Ok(Some(Split::Dev)),
        Some(other) => Err(ferr(
            "split",
            format!("must be \"train\" or \"dev\", found \"{other}\""),
        )),
    }
}

/// Reads `meta.noise` / `meta.hard` (maps from segment index to a label) for segment `k`.
fn meta_label(meta: Option<&Value>, key: &str, k: usize) -> Option<String> {
    let v = meta?.get(key)?.get(k.to_string())?;
    match v {
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

struct Builder<'a> {
    file: &'a str,
    dev_fraction: f64,
    docs: Vec<Document>,
    segments: Vec<Segment>,
    /// Document id -> line of first appearance, to reject duplicates.
    seen: HashMap<String, usize>,
    /// Whether the last document came from the flat form and may still grow.
    open_flat: bool,
}

impl<'a> Builder<'a> {
    fn new(file: &'a str, dev_fraction: f64) -> Self {
        Self {
            file,
            dev_fraction,
            docs: Vec::new(),
            segments: Vec::new(),
            seen: HashMap::new(),
            open_flat: false,
        }
    }

    fn add_line(&mut self, raw: &str, line: usize) -> Result<(), FieldError> {
        let value: Value = serde_json::from_str(raw)
            .map_err(|e| ferr("(line)", format!("not valid JSON: {e}")))?;
        let Value::Object(obj) = value else {
            return Err(ferr(
                "(line)",
                format!("must be a JSON object, found {}", kind_of(&value)),
            ));
        };
        if obj.contains_key("segments") {
            self.add_document(&obj, line)
        } else if obj.contains_key("text") || obj.contains_key("doc") || obj.contains_key("score") {
            self.add_flat(&obj, line)
        } else {
            Err(ferr(
                "segments",
                "missing (a line is either a document with `segments` or one segment with `text` and `score`)",
            ))
        }
    }

    fn check_new_id(&self, id: &str, field: &str) -> Result<(), FieldError> {
        if let Some(first) = self.seen.get(id) {
            return Err(ferr(
                field,
                format!(
                    "document id \"{id}\" was already used on line {first}; ids must be unique and a document's lines consecutive"
                ),
            ));
        }
        Ok(())
    }

    fn add_document(&mut self, obj: &Map<String, Value>, line: usize) -> Result<(), FieldError> {
        let id = get_string(obj, "id", "id")?.unwrap_or_else(|| format!("line-{line}"));
        self.check_new_id(&id, "id")?;
        let prompt = get_string(obj, "prompt", "prompt")?.unwrap_or_default();
        let split = parse_split(obj)?;
        let meta = obj.get("meta").cloned().filter(|m| !m.is_null());
        let segs = match obj.get("segments") {
            Some(Value::Array(a)) if a.is_empty() => return Err(ferr("segments", "is empty")),
            Some(Value::Array(a)) => a,
            Some(v) => {
                return Err(ferr(
                    "segments",
                    format!("must be an array, found {}", kind_of(v)),
                ));
            }
            None => return Err(ferr("segments", "missing")),
        };
        // Validate every segment before touching the dataset: nothing half-loaded.
        let mut raws = Vec::with_capacity(segs.len());
        for (k, s) in segs.iter().enumerate() {
            let prefix = format!("segments[{k}].");
            let Value::Object(so) = s else {
                return Err(ferr(
                    format!("segments[{k}]"),
                    format!("must be an object, found {}", kind_of(s)),
                ));
            };
            raws.push(parse_segment(so, &prefix)?);
        }
        let doc = self.docs.len();
        let start = self.segments.len();
        for (k, r) in raws.into_iter().enumerate() {
            self.segments.push(Segment {
                doc,
                index: k,
                text: r.text,
                score: r.score,
                ratings: r.ratings,
                tags: r.tags,
                noise: meta_label(meta.as_ref(), "noise", k),
                hard: meta_label(meta.as_ref(), "hard", k),
                line,
            });
        }
        let split = split.unwrap_or_else(|| split_for_id(&id, self.dev_fraction));
        self.seen.insert(id.clone(), line);
        self.docs.push(Document {
            id,
            prompt,
            split,
            segments: start..self.segments.len(),
            meta,
            line,
        });
        self.open_flat = false;
        Ok(())
    }

    fn add_flat(&mut self, obj: &Map<String, Value>, line: usize) -> Result<(), FieldError> {
        let doc_id = get_string(obj, "doc", "doc")?;
        let raw = parse_segment(obj, "")?;
        let prompt = get_string(obj, "prompt", "prompt")?;
        let split = parse_split(obj)?;
        let continues = self.open_flat
            && doc_id.is_some()
            && self.docs.last().map(|d| Some(&d.id) == doc_id.as_ref()) == Some(true);
        if continues {
            let doc = self.docs.len() - 1;
            let d = &self.docs[doc];
            if let Some(s) = split
                && s != d.split
            {
                // A document never straddles splits; say so rather than silently moving it.
                let first_line = d.line;
                return Err(ferr(
                    "split",
                    format!(
                        "\"{}\" conflicts with the split of document \"{}\" begun on line {first_line}",
                        s.name(),
                        d.id
                    ),
                ));
            }
            let index = d.segments.len();
            self.segments.push(Segment {
                doc,
                index,
                text: raw.text,
                score: raw.score,
                ratings: raw.ratings,
                tags: raw.tags,
                noise: None,
                hard: None,
                line,
            });
            self.docs[doc].segments.end = self.segments.len();
            return Ok(());
        }
        let id = doc_id.unwrap_or_else(|| format!("line-{line}"));
        self.check_new_id(&id, "doc")?;
        let doc = self.docs.len();
        let start = self.segments.len();
        self.segments.push(Segment {
            doc,
            index: 0,
            text: raw.text,
            score: raw.score,
            ratings: raw.ratings,
            tags: raw.tags,
            noise: None,
            hard: None,
            line,
        });
        let split = split.unwrap_or_else(|| split_for_id(&id, self.dev_fraction));
        self.seen.insert(id.clone(), line);
        self.docs.push(Document {
            id,
            prompt: prompt.unwrap_or_default(),
            split,
            segments: start..start + 1,
            meta: None,
            line,
        });
        self.open_flat = true;
        Ok(())
    }

    fn finish(self) -> Dataset {
        Dataset {
            source: self.file.to_string(),
            docs: self.docs,
            segments: self.segments,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Dataset, DataError> {
        parse_str(text, "t.jsonl", &ReadOptions::default()).map(|(d, _)| d)
    }

    fn line_err(text: &str) -> (usize, String) {
        match parse(text) {
            Err(DataError::Line { line, field, .. }) => (line, field),
            other => panic!("expected a line error, got {other:?}"),
        }
    }

    #[test]
    fn reads_the_document_form_with_meta_labels() {
        let ds = parse(
            r#"{"id": "doc-0042", "prompt": "How do I descale a kettle?", "split": "train", "segments": [{"text": "Fill it.", "score": 0.7, "ratings": [0.8, 0.8, 0.5], "tags": ["concrete"]}, {"text": "Honestly it might work.", "score": -0.4}], "meta": {"noise": {"1": "flipped"}}}"#,
        )
        .unwrap();
        assert_eq!(ds.docs.len(), 1);
        assert_eq!(ds.segments.len(), 2);
        assert_eq!(ds.segment_id(1), "doc-0042:1");
        assert_eq!(ds.segments[0].ratings, vec![0.8, 0.8, 0.5]);
        assert!((ds.segments[0].rater_spread() - 0.3).abs() < 1e-6);
        assert_eq!(ds.segments[1].noise.as_deref(), Some("flipped"));
        assert_eq!(ds.segments[0].noise, None);
        assert_eq!(ds.docs[0].split, Split::Train);
    }

    #[test]
    fn reads_the_flat_form_grouping_consecutive_lines() {
        let ds = parse(
            "{\"doc\": \"a\", \"text\": \"one\", \"score\": 0.4}\n\n{\"doc\": \"a\", \"text\": \"two\", \"score\": 0.1}\n{\"doc\": \"b\", \"text\": \"three\", \"score\": -1}\n",
        )
        .unwrap();
        assert_eq!(ds.docs.len(), 2);
        assert_eq!(ds.docs[0].segments, 0..2);
        assert_eq!(ds.segments[1].index, 1);
        assert_eq!(ds.segments[2].line, 4);
    }

    #[test]
    fn defaults_id_to_the_line_and_prompt_to_empty() {
        let ds = parse("\n{\"segments\": [{\"text\": \"x\", \"score\": 1}]}").unwrap();
        assert_eq!(ds.docs[0].id, "line-2");
        assert_eq!(ds.docs[0].prompt, "");
    }

    #[test]
    fn bad_lines_name_line_and_field() {
        let ok = r#"{"id": "a", "segments": [{"text": "x", "score": 1}]}"#;
        assert_eq!(line_err(&format!("{ok}\nnot json")), (2, "(line)".into()));
        assert_eq!(
            line_err(&format!("{ok}\n{{\"id\": \"b\"}}")),
            (2, "segments".into())
        );
        assert_eq!(
            line_err(&format!("{ok}\n{{\"id\": \"b\", \"segments\": []}}")),
            (2, "segments".into())
        );
        assert_eq!(
            line_err(&format!(
                "{ok}\n{{\"id\": \"b\", \"segments\": [{{\"score\": 1}}]}}"
            )),
            (2, "segments[0].text".into())
        );
        assert_eq!(line_err(&format!("{ok}\n{ok}")), (2, "id".into()));
        assert_eq!(
            line_err(&format!(
                "{ok}\n{{\"id\": \"b\", \"segments\": [{{\"text\": \"y\", \"score\": 1}}, {{\"text\": \"z\", \"score\": \"high\"}}]}}"
            )),
            (2, "segments[1].score".into())
        );
        assert_eq!(
            line_err("{\"segments\": [{\"text\": \"y\", \"score\": 1e999}]}"),
            (1, "(line)".into())
        );
        assert_eq!(
            line_err("{\"segments\": [{\"text\": \"y\", \"score\": 1e300}]}"),
            (1, "segments[0].score".into())
        );
        assert_eq!(
            line_err("{\"doc\": \"d\", \"text\": \"y\"}"),
            (1, "score".into())
        );
        assert_eq!(line_err("[1, 2]"), (1, "(line)".into()));
    }

    #[test]
    fn empty_file_is_an_error() {
        assert!(matches!(parse(""), Err(DataError::Empty { .. })));
        assert!(matches!(parse("\n  \n"), Err(DataError::Empty { .. })));
    }

    #[test]
    fn lenient_skips_exactly_the_bad_lines() {
        let text = "{\"segments\": [{\"text\": \"a\", \"score\": 1}]}\nbad\n{\"segments\": []}\n{\"segments\": [{\"text\": \"b\", \"score\": 0}]}";
        let opts = ReadOptions {
            lenient: true,
            ..Default::default()
        };
        let (ds, skipped) = parse_str(text, "t", &opts).unwrap();
        assert_eq!(ds.docs.len(), 2);
        assert_eq!(
            skipped.iter().map(|s| s.line).collect::<Vec<_>>(),
            vec![2, 3]
        );
        let all_bad = parse_str("bad\nworse", "t", &opts);
        assert!(matches!(
            all_bad,
            Err(DataError::NothingLeft { skipped: 2, .. })
        ));
    }

    #[test]
    fn split_by_id_is_deterministic_and_near_the_fraction() {
        let n = 5000;
        let dev = (0..n)
            .filter(|i| split_for_id(&format!("doc-{i}"), 0.2) == Split::Dev)
            .count();
        assert!((800..1200).contains(&dev), "dev = {dev}");
        assert_eq!(split_for_id("doc-7", 0.2), split_for_id("doc-7", 0.2));
        assert_eq!(split_for_id("doc-7", 0.0), Split::Train);
        assert_eq!(split_for_id("doc-7", 1.0), Split::Dev);
    }
}
