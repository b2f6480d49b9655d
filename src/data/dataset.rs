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
///
/// Lines are parsed and validated on up to two threads (each takes a contiguous half of the
/// text), then placed into documents in order on this one, so that errors and the placement rules
/// (unique ids, consecutive flat lines) see the lines exactly as a single pass would.
pub fn parse_str(
    text: &str,
    file: &str,
    opts: &ReadOptions,
) -> Result<(Dataset, Vec<Skipped>), DataError> {
    parse_split_at(text, file, opts, PARALLEL_PARSE_BYTES)
}

/// [`parse_str`], parsing on two threads when `text` is at least `min_split` bytes.
fn parse_split_at(
    text: &str,
    file: &str,
    opts: &ReadOptions,
    min_split: usize,
) -> Result<(Dataset, Vec<Skipped>), DataError> {
    let halves = split_at_line(text, min_split);
    let parsed: Vec<Vec<ParsedLine>> = std::thread::scope(|s| {
        let handles: Vec<_> = halves
            .iter()
            .map(|&(first_line, part)| s.spawn(move || parse_lines(part, first_line)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut b = Builder::new(file, opts.dev_fraction);
    let mut skipped = Vec::new();
    let mut any_line = false;
    for (line, result) in parsed.into_iter().flatten() {
        any_line = true;
        if let Err((field, message)) = result.and_then(|p| b.add(p, line)) {
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

/// Texts shorter than this are parsed on one thread: a thread costs more than it saves.
const PARALLEL_PARSE_BYTES: usize = 1 << 20;

/// `text` as one or two runs of whole lines, each with the 1-based number of its first line.
fn split_at_line(text: &str, min_split: usize) -> Vec<(usize, &str)> {
    if text.len() < min_split {
        return vec![(1, text)];
    }
    match text[text.len() / 2..].find('\n') {
        Some(off) => {
            let cut = text.len() / 2 + off + 1;
            let (a, b) = text.split_at(cut);
            let lines_in_a = a.bytes().filter(|&c| c == b'\n').count();
            vec![(1, a), (lines_in_a + 1, b)]
        }
        None => vec![(1, text)],
    }
}

/// A non-blank line's number and what it held.
type ParsedLine = (usize, Result<Parsed, FieldError>);

/// Parses and validates every non-blank line of `text`, whose first line is number `first_line`.
fn parse_lines(text: &str, first_line: usize) -> Vec<ParsedLine> {
    text.lines()
        .enumerate()
        .filter(|(_, raw)| !raw.trim().is_empty())
        .map(|(i, raw)| (first_line + i, parse_line(raw)))
        .collect()
}

/// One line, validated. The typed fast path takes well-formed lines; anything it does not
/// accept outright (an error, a null, a numeric id, a duplicate key...) goes through the
/// `serde_json::Value` validator, which decides and names the field.
fn parse_line(raw: &str) -> Result<Parsed, FieldError> {
    match fast::parse(raw) {
        Some(p) => Ok(p),
        None => parse_value_line(raw),
    }
}

/// A line, validated, before it is placed in a document.
#[derive(Debug, PartialEq)]
enum Parsed {
    /// A whole document.
    Doc {
        id: Option<String>,
        prompt: Option<String>,
        split: Option<Split>,
        meta: Option<Value>,
        segments: Vec<RawSegment>,
    },
    /// One segment of the document `doc`.
    Flat {
        doc: Option<String>,
        prompt: Option<String>,
        split: Option<Split>,
        segment: RawSegment,
    },
}

/// The typed fast path: `serde` straight into borrowed structs, no `Value` tree.
mod fast {
    use std::borrow::Cow;

    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    use super::{Parsed, RawSegment, Split};

    /// A JSON string, borrowed from the line when it has no escapes.
    struct Text<'a>(Cow<'a, str>);

    impl<'de> Deserialize<'de> for Text<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Text<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                    Ok(Text(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(Text(Cow::Owned(v.to_owned())))
                }
                fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                    Ok(Text(Cow::Owned(v)))
                }
            }
            d.deserialize_str(V)
        }
    }

    /// For fields that may be absent: present means a value of the type, and null is not one
    /// (the fallback decides what a null means).
    fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        T::deserialize(d).map(Some)
    }

    #[derive(Deserialize)]
    struct Seg<'a> {
        #[serde(default, borrow, deserialize_with = "present")]
        text: Option<Text<'a>>,
        #[serde(default, deserialize_with = "present")]
        score: Option<f64>,
        #[serde(default, deserialize_with = "present")]
        ratings: Option<Vec<f64>>,
        #[serde(default, borrow, deserialize_with = "present")]
        tags: Option<Vec<Text<'a>>>,
    }

    #[derive(Deserialize)]
    struct Line<'a> {
        #[serde(default, borrow, deserialize_with = "present")]
        id: Option<Text<'a>>,
        #[serde(default, borrow, deserialize_with = "present")]
        doc: Option<Text<'a>>,
        #[serde(default, borrow, deserialize_with = "present")]
        prompt: Option<Text<'a>>,
        #[serde(default, borrow, deserialize_with = "present")]
        split: Option<Text<'a>>,
        #[serde(default, borrow, deserialize_with = "present")]
        segments: Option<Vec<Seg<'a>>>,
        #[serde(default, deserialize_with = "present")]
        meta: Option<Value>,
        // The flat form's segment fields (not `#[serde(flatten)]`: it buffers the whole line).
        #[serde(default, borrow, deserialize_with = "present")]
        text: Option<Text<'a>>,
        #[serde(default, deserialize_with = "present")]
        score: Option<f64>,
        #[serde(default, deserialize_with = "present")]
        ratings: Option<Vec<f64>>,
        #[serde(default, borrow, deserialize_with = "present")]
        tags: Option<Vec<Text<'a>>>,
    }

    fn finite(x: f64) -> Option<f32> {
        let y = x as f32;
        y.is_finite().then_some(y)
    }

    fn segment(s: Seg) -> Option<RawSegment> {
        let text = s.text?.0;
        if text.trim().is_empty() {
            return None;
        }
        Some(RawSegment {
            text: text.into_owned(),
            score: finite(s.score?)?,
            ratings: s
                .ratings
                .unwrap_or_default()
                .into_iter()
                .map(finite)
                .collect::<Option<_>>()?,
            tags: s
                .tags
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.0.into_owned())
                .collect(),
        })
    }

    fn split(s: Option<Text>) -> Option<Option<Split>> {
        match s.as_ref().map(|t| &*t.0) {
            None => Some(None),
            Some("train") => Some(Some(Split::Train)),
            Some("dev") | Some("validation") | Some("val") => Some(Some(Split::Dev)),
            Some(_) => None,
        }
    }

    /// The line, if it is well-formed; `None` sends it to the validating path.
    pub(super) fn parse(raw: &str) -> Option<Parsed> {
        let l: Line = serde_json::from_str(raw).ok()?;
        let owned = |t: Option<Text>| t.map(|t| t.0.into_owned());
        if let Some(segs) = l.segments {
            if segs.is_empty() {
                return None;
            }
            return Some(Parsed::Doc {
                id: owned(l.id),
                prompt: owned(l.prompt),
                split: split(l.split)?,
                meta: l.meta.filter(|m| !m.is_null()),
                segments: segs.into_iter().map(segment).collect::<Option<_>>()?,
            });
        }
        // The flat form: one segment, with its document's id in `doc`.
        let seg = Seg {
            text: l.text,
            score: l.score,
            ratings: l.ratings,
            tags: l.tags,
        };
        Some(Parsed::Flat {
            doc: owned(l.doc),
            prompt: owned(l.prompt),
            split: split(l.split)?,
            segment: segment(seg)?,
        })
    }
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
#[derive(Debug, PartialEq)]
struct RawSegment {
    text: String,
    score: f32,
    ratings: Vec<f32>,
    tags: Vec<String>,
}

impl RawSegment {
    /// The segment placed at `index` of document `doc`, with its `meta` labels, from `line`.
    fn place(self, doc: usize, index: usize, line: usize, meta: Option<&Value>) -> Segment {
        Segment {
            doc,
            index,
            text: self.text,
            score: self.score,
            ratings: self.ratings,
            tags: self.tags,
            noise: meta_label(meta, "noise", index),
            hard: meta_label(meta, "hard", index),
            line,
        }
    }
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

/// The validating path: the line as a `serde_json::Value`, each field checked and any problem
/// named by its path.
fn parse_value_line(raw: &str) -> Result<Parsed, FieldError> {
    let value: Value =
        serde_json::from_str(raw).map_err(|e| ferr("(line)", format!("not valid JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(ferr(
            "(line)",
            format!("must be a JSON object, found {}", kind_of(&value)),
        ));
    };
    if obj.contains_key("segments") {
        let id = get_string(&obj, "id", "id")?;
        let prompt = get_string(&obj, "prompt", "prompt")?;
        let split = parse_split(&obj)?;
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
        let mut segments = Vec::with_capacity(segs.len());
        for (k, s) in segs.iter().enumerate() {
            let Value::Object(so) = s else {
                return Err(ferr(
                    format!("segments[{k}]"),
                    format!("must be an object, found {}", kind_of(s)),
                ));
            };
            segments.push(parse_segment(so, &format!("segments[{k}]."))?);
        }
        Ok(Parsed::Doc {
            id,
            prompt,
            split,
            meta,
            segments,
        })
    } else if obj.contains_key("text") || obj.contains_key("doc") || obj.contains_key("score") {
        let doc = get_string(&obj, "doc", "doc")?;
        let segment = parse_segment(&obj, "")?;
        Ok(Parsed::Flat {
            doc,
            prompt: get_string(&obj, "prompt", "prompt")?,
            split: parse_split(&obj)?,
            segment,
        })
    } else {
        Err(ferr(
            "segments",
            "missing (a line is either a document with `segments` or one segment with `text` and `score`)",
        ))
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

    /// Closes a new document over the segments from `start` to the end, choosing its split by id
    /// when the line gave none.
    fn push_document(
        &mut self,
        id: String,
        prompt: Option<String>,
        split: Option<Split>,
        start: usize,
        meta: Option<Value>,
        line: usize,
    ) {
        let split = split.unwrap_or_else(|| split_for_id(&id, self.dev_fraction));
        self.seen.insert(id.clone(), line);
        self.docs.push(Document {
            id,
            prompt: prompt.unwrap_or_default(),
            split,
            segments: start..self.segments.len(),
            meta,
            line,
        });
    }

    /// Places one parsed line: a new document, or the next segment of the open flat document.
    fn add(&mut self, parsed: Parsed, line: usize) -> Result<(), FieldError> {
        match parsed {
            Parsed::Doc {
                id,
                prompt,
                split,
                meta,
                segments,
            } => {
                let id = id.unwrap_or_else(|| format!("line-{line}"));
                self.check_new_id(&id, "id")?;
                let doc = self.docs.len();
                let start = self.segments.len();
                for (k, r) in segments.into_iter().enumerate() {
                    self.segments.push(r.place(doc, k, line, meta.as_ref()));
                }
                self.push_document(id, prompt, split, start, meta, line);
                self.open_flat = false;
                Ok(())
            }
            Parsed::Flat {
                doc: doc_id,
                prompt,
                split,
                segment: raw,
            } => self.add_flat(doc_id, prompt, split, raw, line),
        }
    }

    fn add_flat(
        &mut self,
        doc_id: Option<String>,
        prompt: Option<String>,
        split: Option<Split>,
        raw: RawSegment,
        line: usize,
    ) -> Result<(), FieldError> {
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
            self.segments.push(raw.place(doc, index, line, None));
            self.docs[doc].segments.end = self.segments.len();
            return Ok(());
        }
        let id = doc_id.unwrap_or_else(|| format!("line-{line}"));
        self.check_new_id(&id, "doc")?;
        let doc = self.docs.len();
        let start = self.segments.len();
        self.segments.push(raw.place(doc, 0, line, None));
        self.push_document(id, prompt, split, start, None, line);
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

    #[test]
    fn the_fast_path_agrees_with_the_validator_or_defers_to_it() {
        // Every line either takes the fast path with the validator's exact result, or is left to
        // the validator. Well-formed lines (escapes included) must take the fast path.
        let fast_lines = [
            r#"{"id": "a", "prompt": "p", "split": "train", "segments": [{"text": "x", "score": 1, "ratings": [0.5, 1], "tags": ["t"]}], "meta": {"noise": {"0": "flipped"}}}"#,
            r#"{"id": "a", "segments": [{"text": "caf\u00e9 \"quoted\"\nline", "score": -0.25, "extra": [1, {"a": null}]}], "other": 3}"#,
            r#"{"segments": [{"text": "x", "score": 1e-3}], "split": "validation", "meta": null}"#,
            r#"{"doc": "d", "text": "flat", "score": 0.5, "split": "dev", "prompt": "q"}"#,
            r#"{"text": "no doc id", "score": 2, "tags": []}"#,
        ];
        let deferred = [
            r#"{"id": 7, "segments": [{"text": "numeric id", "score": 1}]}"#,
            r#"{"id": null, "prompt": null, "segments": [{"text": "nulls", "score": 1, "ratings": null}]}"#,
            r#"{"id": "a", "id": "b", "segments": [{"text": "duplicate key", "score": 1}]}"#,
            r#"{"segments": [{"text": "  ", "score": 1}]}"#,
            r#"{"segments": [{"text": "x", "score": "high"}]}"#,
            r#"{"segments": [{"text": "x", "score": 1e300}]}"#,
            r#"{"segments": [{"text": "x", "score": 1, "ratings": [1, 1e39]}]}"#,
            r#"{"segments": [], "text": "x", "score": 1}"#,
            r#"{"segments": null, "text": "x", "score": 1}"#,
            r#"{"segments": [{"text": "x", "score": 1}], "split": "test"}"#,
            r#"{"segments": [{"text": "x", "score": 1, "tags": [1]}]}"#,
            r#"{"doc": "d", "text": "x"}"#,
            r#"{"doc": 5, "text": "x", "score": 1}"#,
            r#"{"prompt": "only"}"#,
            r#"[1, 2]"#,
            r#"not json"#,
        ];
        for line in fast_lines {
            let fast = fast::parse(line);
            assert!(fast.is_some(), "fast path refused {line}");
            assert_eq!(fast, parse_value_line(line).ok(), "{line}");
        }
        for line in deferred {
            assert_eq!(fast::parse(line), None, "fast path took {line}");
        }
        let bundled = crate::data::BUNDLED_JSONL;
        assert!(
            bundled.lines().all(|l| fast::parse(l).is_some()),
            "every bundled line takes the fast path"
        );
    }

    #[test]
    fn parsing_on_two_threads_gives_the_same_dataset_and_line_numbers() {
        let text = crate::data::BUNDLED_JSONL;
        let one = parse_split_at(text, "t", &ReadOptions::default(), usize::MAX).unwrap();
        let two = parse_split_at(text, "t", &ReadOptions::default(), 0).unwrap();
        assert_eq!(one, two);
        // A bad line in the second half is reported with its line number in the whole file.
        let base = text.trim_end_matches('\n');
        let n = base.lines().count();
        let bad = format!("{base}\n\n{{\"segments\": [{{\"text\": \"x\"}}]}}\n");
        match parse_split_at(&bad, "t", &ReadOptions::default(), 0) {
            Err(DataError::Line { line, field, .. }) => {
                assert_eq!((line, field.as_str()), (n + 2, "segments[0].score"));
            }
            other => panic!("expected a line error, got {other:?}"),
        }
        // A duplicate id across the two halves is still caught.
        let first = text.lines().next().unwrap_or_default();
        let dup = format!("{text}\n{first}\n");
        assert!(matches!(
            parse_split_at(&dup, "t", &ReadOptions::default(), 0),
            Err(DataError::Line { field, .. }) if field == "id"
        ));
    }
}
