//! What a reader builds from a stream's lines: the dataset (from segment records), its partition
//! (from their splits), and a step report per step record, its metrics recomputed from the
//! predictions and the targets. Bad lines and unknown ids are warnings, never fatal; a version
//! mismatch is an error.

use std::collections::HashMap;
use std::sync::Arc;

use super::record::{FORMAT, Header, Line, SegmentRecord, StepRecord, VERSION};
use crate::data::builder::{Builder, RawSegment, Record};
use crate::data::{Dataset, Partition, Split};
use crate::engine::metrics::LossKind;
use crate::engine::report::{SegmentEval, SplitShape, StepReport, evaluate_rows};

/// Everything read so far.
pub struct StreamState {
    pub source: String,
    pub header: Option<Header>,
    segments: Vec<SegmentRecord>,
    ids: HashMap<String, usize>,
    /// The dataset and partition of the segments so far, rebuilt when segments are added.
    dataset: Option<(Arc<Dataset>, Arc<Partition>)>,
    /// The latest prediction of every segment (NaN: none yet).
    preds: Vec<f32>,
    /// Reports of the steps so far, in order; a step number at or below the previous one means
    /// the writer went back (a restored model), and the steps after it are dropped.
    pub reports: Vec<StepReport>,
    /// Warnings (bad lines, unknown ids), with their line numbers.
    pub warnings: Vec<String>,
    pub bad_lines: usize,
    /// Reports dropped from the front to keep memory bounded.
    pub dropped: usize,
    /// The writer's end record (`{"end": "finished"}`), once read: its reason.
    pub ended: Option<String>,
    lines: usize,
}

/// Memory for the kept step reports (replay goes back this far), in bytes: at 1,000 segments
/// about 8,000 steps, at 100,000 about 80.
pub const MAX_REPORT_BYTES: usize = 128 << 20;

/// A line the stream cannot go on from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StreamError {
    #[error(
        "{file}: line {line}: stream version {found}, but this segscope reads version {VERSION}"
    )]
    Version {
        file: String,
        line: usize,
        found: String,
    },
    #[error("{file}: line {line}: the header names format \"{found}\", not \"{FORMAT}\"")]
    Format {
        file: String,
        line: usize,
        found: String,
    },
}

impl StreamState {
    pub fn new(source: &str) -> StreamState {
        StreamState {
            source: source.to_string(),
            header: None,
            segments: Vec::new(),
            ids: HashMap::new(),
            dataset: None,
            preds: Vec::new(),
            reports: Vec::new(),
            warnings: Vec::new(),
            bad_lines: 0,
            dropped: 0,
            ended: None,
            lines: 0,
        }
    }

    /// The dataset and partition of the segments read so far (`None` before the first).
    pub fn dataset(&mut self) -> Option<(Arc<Dataset>, Arc<Partition>)> {
        if self.dataset.is_none() && !self.segments.is_empty() {
            self.dataset = Some(self.build());
        }
        self.dataset.clone()
    }

    /// Segments read so far.
    pub fn segments(&self) -> usize {
        self.segments.len()
    }

    /// Takes in one line (its 1-based number `line`). Returns whether it added a step.
    pub fn push(&mut self, raw: &str) -> Result<bool, StreamError> {
        self.lines += 1;
        let line = self.lines;
        if raw.trim().is_empty() {
            return Ok(false);
        }
        match Line::parse(raw) {
            Ok(Line::Header(h)) => {
                if h.format != FORMAT {
                    return Err(StreamError::Format {
                        file: self.source.clone(),
                        line,
                        found: h.format,
                    });
                }
                if h.version != VERSION {
                    return Err(StreamError::Version {
                        file: self.source.clone(),
                        line,
                        found: h.version.to_string(),
                    });
                }
                self.header = Some(h);
                Ok(false)
            }
            Ok(Line::Segment(s)) => {
                if self.ids.contains_key(&s.id) {
                    self.warn(line, format!("segment id \"{}\" again; ignored", s.id));
                    return Ok(false);
                }
                if Split::parse(&s.split).is_none() {
                    self.warn(line, format!("split \"{}\" is not train or dev", s.split));
                    return Ok(false);
                }
                self.ids.insert(s.id.clone(), self.segments.len());
                self.segments.push(*s);
                self.preds.push(f32::NAN);
                self.dataset = None;
                Ok(false)
            }
            Ok(Line::OtherVersion(found)) => Err(StreamError::Version {
                file: self.source.clone(),
                line,
                found,
            }),
            Ok(Line::Step(s)) => Ok(self.step(line, *s)),
            Ok(Line::End(reason)) => {
                self.ended = Some(reason);
                Ok(false)
            }
            Err(e) => {
                self.bad_lines += 1;
                self.warn(line, format!("skipped: {e}"));
                Ok(false)
            }
        }
    }

    /// The stream ended inside a line (`bytes` without a newline): a writer cut off mid-record.
    /// Counted as a bad line, with a warning.
    pub fn cut_at_end(&mut self, bytes: usize) {
        self.bad_lines += 1;
        let line = self.lines + 1;
        self.warn(
            line,
            format!("the last line is cut ({bytes} bytes without a newline): skipped"),
        );
    }

    fn warn(&mut self, line: usize, message: String) {
        self.warnings
            .push(format!("{}:{line}: {message}", self.source));
    }

    /// A step record: its predictions replace the segments' latest ones, and a report of them
    /// all is added.
    fn step(&mut self, line: usize, s: StepRecord) -> bool {
        let Some((ds, part)) = self.dataset() else {
            self.warn(line, "a step before any segment record; skipped".into());
            return false;
        };
        match &s.ids {
            None => {
                if s.predictions.len() != self.preds.len() {
                    self.warn(
                        line,
                        format!(
                            "step {}: {} predictions for {} segments; skipped",
                            s.step,
                            s.predictions.len(),
                            self.preds.len()
                        ),
                    );
                    return false;
                }
                for (p, x) in self.preds.iter_mut().zip(&s.predictions) {
                    *p = x.unwrap_or(f32::NAN);
                }
            }
            Some(ids) => {
                let mut unknown = 0;
                for (id, x) in ids.iter().zip(&s.predictions) {
                    match self.ids.get(id) {
                        Some(&i) => self.preds[i] = x.unwrap_or(f32::NAN),
                        None => unknown += 1,
                    }
                }
                if unknown > 0 {
                    self.warn(
                        line,
                        format!("step {}: {unknown} unknown segment id(s) ignored", s.step),
                    );
                }
            }
        }
        let batch: Vec<usize> = s
            .batch
            .iter()
            .flatten()
            .filter_map(|id| self.ids.get(id).copied())
            .collect();
        let report = report(&ds, &part, &self.preds, &s, batch);
        while self.reports.last().is_some_and(|r| r.step >= s.step) {
            self.reports.pop();
        }
        self.reports.push(report);
        // Bounded: each report holds every segment's result.
        let cap = (MAX_REPORT_BYTES / (16 * self.preds.len().max(1))).max(2);
        if self.reports.len() > cap {
            let extra = self.reports.len() - cap;
            self.reports.drain(..extra);
            self.dropped += extra;
        }
        true
    }

    fn build(&self) -> (Arc<Dataset>, Arc<Partition>) {
        let mut b = Builder::new(&self.source, "segscope.stream");
        let mut splits = Vec::new();
        let mut k = 0;
        while k < self.segments.len() {
            let first = &self.segments[k];
            let end = self.segments[k..]
                .iter()
                .position(|s| s.doc != first.doc)
                .map_or(self.segments.len(), |n| k + n);
            let segs = &self.segments[k..end];
            let meta = labels_meta(segs);
            let record = Record::Doc {
                id: Some(first.doc.clone()),
                prompt: first.prompt.clone(),
                split: Split::parse(&first.split),
                meta,
                segments: segs
                    .iter()
                    .map(|s| RawSegment {
                        ratings: s.ratings.clone(),
                        tags: s.tags.clone(),
                        ..RawSegment::new(s.text.clone(), s.target)
                    })
                    .collect(),
            };
            // A document id seen before (its segments not consecutive) gets a suffix rather
            // than failing the whole stream.
            if b.add(record.clone(), k + 1).is_err() {
                let Record::Doc {
                    prompt,
                    split,
                    meta,
                    segments,
                    ..
                } = record
                else {
                    unreachable!()
                };
                let _ = b.add(
                    Record::Doc {
                        id: Some(format!("{}#{k}", first.doc)),
                        prompt,
                        split,
                        meta,
                        segments,
                    },
                    k + 1,
                );
            }
            splits.push(Split::parse(&first.split).unwrap_or(Split::Train));
            k = end;
        }
        let ds = b.finish();
        let part = Partition::from_doc_splits(&ds, splits);
        (Arc::new(ds), Arc::new(part))
    }
}

/// Segment labels as the document `meta` the dataset reads labels from.
fn labels_meta(segs: &[SegmentRecord]) -> Option<serde_json::Value> {
    let mut meta = serde_json::Map::new();
    for (k, s) in segs.iter().enumerate() {
        for (key, label) in &s.labels {
            let entry = meta
                .entry(key.clone())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let serde_json::Value::Object(m) = entry {
                m.insert(k.to_string(), serde_json::Value::String(label.clone()));
            }
        }
    }
    (!meta.is_empty()).then_some(serde_json::Value::Object(meta))
}

/// The report of a step: every segment's latest prediction, the metrics of each split over its
/// predicted segments, and what the writer measured.
pub fn report(
    ds: &Dataset,
    part: &Partition,
    preds: &[f32],
    s: &StepRecord,
    batch: Vec<usize>,
) -> StepReport {
    let loss = LossKind::Mse;
    let mut segments = vec![SegmentEval::UNKNOWN; ds.segments.len()];
    let mut metrics = |split| {
        let rows: Vec<usize> = part
            .indices(split)
            .into_iter()
            .filter(|&i| preds[i].is_finite())
            .collect();
        let p: Vec<f32> = rows.iter().map(|&i| preds[i]).collect();
        let (evals, m) = evaluate_rows(ds, &rows, &p, &SplitShape::of(ds, &rows), loss);
        for (&i, e) in rows.iter().zip(evals) {
            segments[i] = e;
        }
        m
    };
    let train = metrics(Split::Train);
    let dev = metrics(Split::Dev);
    let losses = s.loss.clone().unwrap_or_default();
    StepReport {
        step: s.step,
        batch: Arc::new(batch),
        batch_loss: losses.batch.or(losses.train).unwrap_or(train.loss),
        trainer_loss: (losses.train.is_some() || losses.dev.is_some())
            .then_some([losses.train, losses.dev]),
        eval_step: s.step,
        segments: Arc::new(segments),
        pred_steps: Arc::default(),
        grad: Arc::default(),
        train,
        dev,
        grad_norm: s.grad_norm.unwrap_or(f64::NAN),
        lr: s.lr.unwrap_or(f64::NAN),
        weight_change: s.weight_change.unwrap_or(f64::NAN),
        weight_change_rel: s.weight_change_rel.unwrap_or(f64::NAN),
        layers: s.layers.clone(),
        step_ms: 0.0,
        eval_ms: 0.0,
        diverged: None,
        models: Vec::new(),
    }
}
