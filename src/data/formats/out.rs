//! Writing a dataset back in the formats step-reward trainers read: segscope's own JSONL, TRL
//! stepwise supervision (`prompt`, `completions`, `labels` as booleans; the layout OpenRLHF-style
//! and most hand-written PRM trainers read) and Math-Shepherd (`input` with a `ки` after each
//! step, `label` the same text with `+` or `-`).
//!
//! What a format cannot hold is said, never guessed: a context step before labelled ones is an
//! error naming the segment; context steps after the last labelled one (after a first error) are
//! left out and counted; a score that is not one of two classes needs `threshold`.

use serde::Serialize;

use super::math_shepherd::TAG;
use crate::data::Dataset;
use crate::data::label_kind::LabelKind;

/// What a format cannot hold, or a write that failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(
        "{id}: score {score} is not one of two classes, and {format} holds booleans: give --threshold T (a score at or above T is a correct step)"
    )]
    NotTwoClasses {
        id: String,
        score: f32,
        format: &'static str,
    },
    #[error(
        "{count} excluded step(s) inside a solution ({shown}): {format} has no place for an unlabelled step between labelled ones, and leaving them out would export a different, shorter solution; export to segscope's format, which keeps them as context, or include them again"
    )]
    ExcludedInside {
        count: usize,
        /// The first five ids, and `, ...` after them when there are more.
        shown: String,
        format: &'static str,
    },
    #[error("{id}: a context step (no label) before labelled ones, which {format} cannot hold")]
    ContextBefore { id: String, format: &'static str },
    #[error("{id}: the step contains Math-Shepherd's tag `{TAG}`")]
    HoldsTag { id: String },
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// An output format of `segscope convert --to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutFormat {
    /// segscope's JSONL: every field kept, context steps included.
    Segscope,
    /// TRL stepwise supervision: `prompt`, `completions`, `labels` (booleans).
    TrlStepwise,
    /// Math-Shepherd: `input` with `ки` after each step, `label` with `+`/`-`.
    MathShepherd,
}

impl OutFormat {
    /// The name `--to` takes, which is the format's name on input too.
    pub fn name(self) -> &'static str {
        match self {
            OutFormat::Segscope => "segscope",
            OutFormat::TrlStepwise => "trl-stepwise",
            OutFormat::MathShepherd => "math-shepherd",
        }
    }
}

/// The format a dataset read as `name` goes back out in: its own where segscope can write it,
/// else segscope's (ProcessBench, PRM800K and placeholder records hold more than steps and
/// labels; `convert --to` says which stepwise format to use instead).
pub fn same_as(name: &str) -> OutFormat {
    match name {
        "trl-stepwise" => OutFormat::TrlStepwise,
        "math-shepherd" => OutFormat::MathShepherd,
        _ => OutFormat::Segscope,
    }
}

/// A dataset with edits written in.
#[derive(Debug, Clone)]
pub struct Edited {
    /// New targets in place; excluded segments unlabelled (segscope's format keeps them so).
    pub data: Dataset,
    /// Per segment: excluded (the stepwise formats leave it out).
    pub excluded: Vec<bool>,
    /// Weights other than 0 and 1, which have no place in a dataset file.
    pub other_weights: usize,
}

/// `ds` with `edits` written in.
pub fn edited(ds: &Dataset, edits: &crate::data::edits::Edits) -> Edited {
    let mut data = edits.apply_targets(ds);
    let mut excluded = vec![false; ds.segments.len()];
    let mut other_weights = 0;
    for (i, w) in edits.weights(ds.segments.len()).into_iter().enumerate() {
        if w == 0.0 {
            data.segments[i].score = None;
            excluded[i] = true;
        } else if w != 1.0 {
            other_weights += 1;
        }
    }
    Edited {
        data,
        excluded,
        other_weights,
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Written {
    pub docs: usize,
    pub steps: usize,
    /// Context steps after the last labelled one, left out (the format has no place for them).
    pub dropped_context: usize,
    /// Documents without a labelled step, left out.
    pub dropped_docs: usize,
}

#[derive(Serialize)]
struct Trl<'a> {
    id: &'a str,
    prompt: &'a str,
    completions: Vec<&'a str>,
    labels: Vec<bool>,
}

#[derive(Serialize)]
struct Shepherd<'a> {
    id: &'a str,
    input: String,
    label: String,
}

/// Writes `ds` as `format` to `w`. `threshold`: a score at or above it is a correct step (true,
/// `+`); without it the scores must take two values, the higher one correct. `excluded` (empty
/// for none): segments an edit excluded; the stepwise formats leave out those after a document's
/// last labelled step and refuse those inside a solution (segscope's keeps them, unlabelled).
pub fn write(
    ds: &Dataset,
    format: OutFormat,
    threshold: Option<f32>,
    excluded: &[bool],
    w: &mut impl std::io::Write,
) -> Result<Written, ConvertError> {
    let kept = |i: &usize| !excluded.get(*i).copied().unwrap_or(false);
    if format == OutFormat::Segscope {
        super::segscope::write_jsonl(ds, w)?;
        return Ok(Written {
            docs: ds.docs.len(),
            steps: ds.segments.len(),
            ..Written::default()
        });
    }
    let name = format.name();
    let kind = LabelKind::detect(ds);
    let correct = |i: usize, v: f32| -> Result<bool, ConvertError> {
        match (threshold, kind) {
            (Some(t), _) => Ok(v >= t),
            (None, LabelKind::Binary { .. }) => Ok(kind.is_high(v)),
            (None, _) => Err(ConvertError::NotTwoClasses {
                id: ds.segment_id(i),
                score: v,
                format: name,
            }),
        }
    };
    // An excluded step with labelled steps after it is inside the solution: leaving it out would
    // export another, shorter solution, and these formats have no unlabelled step to keep it as.
    let inside: Vec<String> = ds
        .docs
        .iter()
        .flat_map(|doc| {
            let last = doc
                .segments
                .clone()
                .rev()
                .find(|&i| kept(&i) && ds.segments[i].score.is_some());
            doc.segments
                .clone()
                .filter(move |&i| !kept(&i) && last.is_some_and(|l| i < l))
        })
        .map(|i| ds.segment_id(i))
        .collect();
    if !inside.is_empty() {
        let shown: Vec<&str> = inside.iter().take(5).map(String::as_str).collect();
        return Err(ConvertError::ExcludedInside {
            count: inside.len(),
            shown: format!(
                "{}{}",
                shown.join(", "),
                if inside.len() > 5 { ", ..." } else { "" }
            ),
            format: name,
        });
    }
    let mut out = Written::default();
    for doc in &ds.docs {
        let segs: Vec<usize> = doc.segments.clone().filter(kept).collect();
        let labelled = segs
            .iter()
            .take_while(|&&i| ds.segments[i].score.is_some())
            .count();
        let last = segs
            .iter()
            .rposition(|&i| ds.segments[i].score.is_some())
            .map_or(0, |k| k + 1);
        if last > labelled {
            let i = segs[labelled];
            return Err(ConvertError::ContextBefore {
                id: ds.segment_id(i),
                format: name,
            });
        }
        if labelled == 0 {
            out.dropped_docs += 1;
            continue;
        }
        out.dropped_context += segs.len() - labelled;
        let steps: Vec<usize> = segs[..labelled].to_vec();
        let labels: Vec<bool> = steps
            .iter()
            .map(|&i| correct(i, ds.target(i)))
            .collect::<Result<_, _>>()?;
        let texts: Vec<&str> = steps
            .iter()
            .map(|&i| ds.segments[i].text.as_str())
            .collect();
        let line = match format {
            OutFormat::TrlStepwise => serde_json::to_string(&Trl {
                id: &doc.id,
                prompt: &doc.prompt,
                completions: texts,
                labels,
            }),
            _ => {
                let (input, label) = shepherd(ds, &steps, &doc.prompt, &labels)?;
                serde_json::to_string(&Shepherd {
                    id: &doc.id,
                    input,
                    label,
                })
            }
        }?;
        w.write_all(line.as_bytes())
            .and_then(|()| w.write_all(b"\n"))?;
        out.docs += 1;
        out.steps += steps.len();
    }
    Ok(out)
}

/// Math-Shepherd's `input` and `label`: the question, then each step followed by the tag (or its
/// mark), one step a line. Its reader takes the question to be the text before `Step 1`, so a step
/// that does not start with `Step k` gets that prefix.
fn shepherd(
    ds: &Dataset,
    steps: &[usize],
    prompt: &str,
    labels: &[bool],
) -> Result<(String, String), ConvertError> {
    let mut input = String::new();
    let mut label = String::new();
    if !prompt.is_empty() {
        input.push_str(prompt);
        input.push(' ');
        label.push_str(prompt);
        label.push(' ');
    }
    for (k, (&i, &ok)) in steps.iter().zip(labels).enumerate() {
        let text = &ds.segments[i].text;
        if text.contains(TAG) {
            return Err(ConvertError::HoldsTag {
                id: ds.segment_id(i),
            });
        }
        let step = if text.starts_with(&format!("Step {}", k + 1)) {
            text.clone()
        } else {
            format!("Step {}: {text}", k + 1)
        };
        if k > 0 {
            input.push('\n');
            label.push('\n');
        }
        input.push_str(&step);
        input.push(' ');
        input.push_str(TAG);
        label.push_str(&step);
        label.push(' ');
        label.push(if ok { '+' } else { '-' });
    }
    Ok((input, label))
}
