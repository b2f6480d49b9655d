//! Placing parsed records into a dataset: unique document ids, consecutive flat lines forming one
//! document, segment indices and their `meta` labels, and the line each came from.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::model::{Dataset, Document, Embeddings, Segment, Split, meta_labels};

/// A problem with one field of one record: `field` is a path such as `segments[2].score`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// A [`FieldError`] for `field`.
pub fn ferr(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// A segment as an importer read it, before it is placed in a document.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSegment {
    pub text: String,
    /// `None`: context only (shown and featurised, never a target).
    pub score: Option<f32>,
    pub ratings: Vec<f32>,
    pub tags: Vec<String>,
    /// The segment's own embedding, when the data brings one.
    pub embedding: Option<Vec<f32>>,
}

impl RawSegment {
    /// A segment with text and score only.
    pub fn new(text: impl Into<String>, score: Option<f32>) -> RawSegment {
        RawSegment {
            text: text.into(),
            score,
            ratings: Vec::new(),
            tags: Vec::new(),
            embedding: None,
        }
    }
}

/// What an importer makes of one input record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A whole document.
    Doc {
        id: Option<String>,
        prompt: Option<String>,
        split: Option<Split>,
        meta: Option<Value>,
        segments: Vec<RawSegment>,
    },
    /// One segment of the document `doc`; consecutive records of one `doc` form a document.
    Flat {
        doc: Option<String>,
        prompt: Option<String>,
        split: Option<Split>,
        segment: RawSegment,
    },
}

static NO_LABELS: std::sync::LazyLock<Arc<Vec<(String, String)>>> =
    std::sync::LazyLock::new(|| Arc::new(Vec::new()));

impl RawSegment {
    /// The segment placed at `index` of document `doc`, with its `meta` labels, from `line`.
    fn place(self, doc: usize, index: usize, line: usize, meta: Option<&Value>) -> Segment {
        debug_assert!(
            self.embedding.is_none(),
            "embeddings are taken by the builder"
        );
        Segment {
            doc,
            index,
            text: self.text,
            score: self.score,
            ratings: self.ratings,
            tags: self.tags,
            labels: {
                let labels = meta_labels(meta, index);
                if labels.is_empty() {
                    // One shared empty list, not an allocation per segment.
                    NO_LABELS.clone()
                } else {
                    Arc::new(labels)
                }
            },
            line,
        }
    }
}

/// Builds a dataset record by record.
pub struct Builder {
    source: String,
    format: String,
    docs: Vec<Document>,
    segments: Vec<Segment>,
    /// Document id -> line of first appearance, to reject duplicates.
    seen: HashMap<String, usize>,
    /// Whether the last document came from the flat form and may still grow.
    open_flat: bool,
    /// Every segment's embedding, concatenated, once the first segment decided whether the data
    /// has them (`Some(dim)`) or not (`None` inside).
    emb_dim: Option<Option<usize>>,
    embeddings: Vec<f32>,
}

impl Builder {
    pub fn new(source: &str, format: &str) -> Self {
        Self {
            source: source.to_string(),
            format: format.to_string(),
            docs: Vec::new(),
            segments: Vec::new(),
            seen: HashMap::new(),
            open_flat: false,
            emb_dim: None,
            embeddings: Vec::new(),
        }
    }

    /// Checks a segment's embedding against the others: every segment has one of the same length,
    /// or none has. `field` names the segment (`segments[2].`, or `` for the flat form).
    fn check_embedding(
        &self,
        raw: &RawSegment,
        field: &str,
        line: usize,
    ) -> Result<(), FieldError> {
        let f = format!("{field}embedding");
        let here = raw.embedding.as_ref().map(Vec::len);
        match (self.emb_dim, here) {
            (None, Some(0)) => Err(ferr(f, "is empty")),
            (None, _) => Ok(()),
            (Some(Some(d)), Some(n)) if n == d => Ok(()),
            (Some(Some(d)), Some(n)) => Err(ferr(
                f,
                format!("has {n} values, but earlier segments' embeddings have {d}"),
            )),
            (Some(Some(d)), None) => Err(ferr(
                f,
                format!("missing: earlier segments have embeddings of {d} values"),
            )),
            (Some(None), Some(_)) => Err(ferr(
                f,
                format!(
                    "unexpected: the segments before line {line} have no embedding; all or none must"
                ),
            )),
            (Some(None), None) => Ok(()),
        }
    }

    /// Appends a placed segment's embedding.
    fn take_embedding(&mut self, raw: &mut RawSegment) {
        let e = raw.embedding.take();
        if self.emb_dim.is_none() {
            self.emb_dim = Some(e.as_ref().map(Vec::len));
        }
        if let Some(e) = e {
            self.embeddings.extend(e);
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

    /// Closes a new document over the segments from `start` to the end.
    fn push_document(
        &mut self,
        id: String,
        prompt: Option<String>,
        split: Option<Split>,
        start: usize,
        meta: Option<Value>,
        line: usize,
    ) {
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

    /// Places one record: a new document, or the next segment of the open flat document. A
    /// record that fails leaves the dataset as it was.
    pub fn add(&mut self, record: Record, line: usize) -> Result<(), FieldError> {
        match record {
            Record::Doc {
                id,
                prompt,
                split,
                meta,
                segments,
            } => {
                let id = id.unwrap_or_else(|| format!("line-{line}"));
                self.check_new_id(&id, "id")?;
                self.check_doc_embeddings(&segments, line)?;
                let doc = self.docs.len();
                let start = self.segments.len();
                for (k, mut r) in segments.into_iter().enumerate() {
                    self.take_embedding(&mut r);
                    let mut s = r.place(doc, k, line, meta.as_ref());
                    // The previous segment's labels, shared when they are the same.
                    if let Some(prev) = self.segments[start..].last()
                        && prev.labels == s.labels
                    {
                        s.labels = prev.labels.clone();
                    }
                    self.segments.push(s);
                }
                self.push_document(id, prompt, split, start, meta, line);
                self.open_flat = false;
                Ok(())
            }
            Record::Flat {
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
        mut raw: RawSegment,
        line: usize,
    ) -> Result<(), FieldError> {
        self.check_embedding(&raw, "", line)?;
        let continues = self.open_flat
            && doc_id.is_some()
            && self.docs.last().map(|d| Some(&d.id) == doc_id.as_ref()) == Some(true);
        if continues {
            let doc = self.docs.len() - 1;
            let d = &self.docs[doc];
            match (d.split, split) {
                (Some(had), Some(s)) if had != s => {
                    // A document never straddles splits; say so rather than silently moving it.
                    return Err(ferr(
                        "split",
                        format!(
                            "\"{}\" conflicts with the split of document \"{}\" begun on line {}",
                            s.name(),
                            d.id,
                            d.line
                        ),
                    ));
                }
                // The first line that names a split decides it for the whole document.
                (None, Some(s)) => self.docs[doc].split = Some(s),
                _ => {}
            }
            let index = self.docs[doc].segments.len();
            self.take_embedding(&mut raw);
            self.segments.push(raw.place(doc, index, line, None));
            self.docs[doc].segments.end = self.segments.len();
            return Ok(());
        }
        let id = doc_id.unwrap_or_else(|| format!("line-{line}"));
        self.check_new_id(&id, "doc")?;
        let doc = self.docs.len();
        let start = self.segments.len();
        self.take_embedding(&mut raw);
        self.segments.push(raw.place(doc, 0, line, None));
        self.push_document(id, prompt, split, start, None, line);
        self.open_flat = true;
        Ok(())
    }

    /// Places every record of one input line, or none of them: on an error the dataset is as
    /// it was before the line.
    pub fn add_all(&mut self, records: Vec<Record>, line: usize) -> Result<(), FieldError> {
        if let [_] = records.as_slice() {
            // The common case: one record, which `add` places whole or not at all.
            return records.into_iter().try_for_each(|r| self.add(r, line));
        }
        let (docs, segments, open_flat) = (self.docs.len(), self.segments.len(), self.open_flat);
        let (emb_dim, emb_len) = (self.emb_dim, self.embeddings.len());
        let last_end = self.docs.last().map(|d| d.segments.end);
        let result = records.into_iter().try_for_each(|r| self.add(r, line));
        if result.is_err() {
            for d in self.docs.drain(docs..) {
                self.seen.remove(&d.id);
            }
            self.segments.truncate(segments);
            if let (Some(d), Some(end)) = (self.docs.last_mut(), last_end) {
                d.segments.end = end;
            }
            self.open_flat = open_flat;
            self.emb_dim = emb_dim;
            self.embeddings.truncate(emb_len);
        }
        result
    }

    /// Every segment of a document record against the embeddings so far and each other.
    fn check_doc_embeddings(&self, segments: &[RawSegment], line: usize) -> Result<(), FieldError> {
        let mut probe = Builder {
            emb_dim: self.emb_dim,
            ..Builder::new("", "")
        };
        for (k, r) in segments.iter().enumerate() {
            probe.check_embedding(r, &format!("segments[{k}]."), line)?;
            if probe.emb_dim.is_none() {
                probe.emb_dim = Some(r.embedding.as_ref().map(Vec::len));
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Dataset {
        let embeddings = match self.emb_dim {
            Some(Some(dim)) => Some(Embeddings {
                dim,
                values: self.embeddings,
            }),
            _ => None,
        };
        Dataset {
            source: self.source,
            format: self.format,
            docs: self.docs,
            segments: self.segments,
            embeddings,
        }
    }
}
