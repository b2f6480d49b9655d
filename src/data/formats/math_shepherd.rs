//! Math-Shepherd: `input` holds the question and the steps, each step followed by the tag `ки`;
//! `label` is the same text with `+` or `-` in place of each tag. The prompt is the question (the
//! text before `Step 1`), no tag or mark is left in any step's text, and `task` becomes a tag.
//! `+` and `-` become 1.0 and 0.0 by default.

use serde_json::Value;

use super::Format;
use super::fields::{cut_at, marked_steps, marks, object, opt_string, string, target};
use crate::config::DataConfig;
use crate::data::builder::{FieldError, Record, ferr};

/// The step tag.
pub const TAG: &str = "ки";

pub struct MathShepherd;

impl Format for MathShepherd {
    fn name(&self) -> &'static str {
        "math-shepherd"
    }

    fn summary(&self) -> &'static str {
        "Math-Shepherd: `input` with a `ки` after each step, `label` the same text with `+`/`-` for each tag"
    }

    fn sniff(&self, first: &Value, _: &DataConfig) -> bool {
        first
            .get("input")
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains(TAG))
            && first.get("label").is_some_and(Value::is_string)
    }

    fn parse(&self, raw: &str, opts: &DataConfig) -> Result<Vec<Record>, FieldError> {
        let obj = object(raw)?;
        let input = string(&obj, "input", "input")?;
        let label = string(&obj, "label", "label")?;
        let marks_found = tag_marks(input, label)?;
        let (pieces, rest) = cut_at(input, TAG);
        if pieces.is_empty() {
            return Err(ferr("input", format!("has no step tag `{TAG}`")));
        }
        let (question, mut segments) = marked_steps(&pieces, rest, "input", |k| {
            let mark = Value::String(marks_found[k].to_string());
            target(&mark, marks, opts, &format!("label (step {})", k + 1))
        })?;
        if let Some(task) = opt_string(&obj, "task")? {
            for s in &mut segments {
                s.tags.push(task.clone());
            }
        }
        Ok(vec![Record::Doc {
            id: opt_string(&obj, "id")?,
            prompt: Some(question),
            split: None,
            meta: None,
            segments,
        }])
    }
}

/// The mark `label` has where `input` has each tag: the two texts agree everywhere else, so the
/// k-th tag at byte `o` of `input` is at byte `o - k * (len(TAG) - 1)` of `label`.
fn tag_marks(input: &str, label: &str) -> Result<Vec<char>, FieldError> {
    let shrink = TAG.len() - 1;
    input
        .match_indices(TAG)
        .enumerate()
        .map(|(k, (o, _))| {
            let at = o - k * shrink;
            match label.get(at..).and_then(|t| t.chars().next()) {
                Some(c @ ('+' | '-')) => Ok(c),
                found => Err(ferr(
                    "label",
                    format!(
                        "has {} where `input` has step {}'s tag; expected `+` or `-` (is `label` the same text as `input`?)",
                        found.map_or("the end of the text".to_string(), |c| format!("`{c}`")),
                        k + 1
                    ),
                )),
            }
        })
        .collect()
}
