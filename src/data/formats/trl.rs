//! TRL's stepwise supervision: one document per record, `prompt`, `completions` (the steps) and
//! `labels` (booleans or numbers, one per step). Booleans become 1.0 / 0.0 by default.

use serde::Deserialize;
use serde_json::Value;

use super::Format;
use super::fields::{array, bool_or_number, object, opt_string, step_text, target};
use crate::config::DataConfig;
use crate::data::builder::{FieldError, RawSegment, Record, ferr};
use crate::data::model::Split;

pub struct TrlStepwise;

/// The well-formed record, read without a `Value` tree (large TRL files are common).
#[derive(Deserialize)]
struct Fast {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    prompt: Option<String>,
    completions: Vec<String>,
    labels: Vec<Value>,
}

impl Format for TrlStepwise {
    fn name(&self) -> &'static str {
        "trl-stepwise"
    }

    fn summary(&self) -> &'static str {
        "TRL stepwise supervision: `prompt`, `completions` (steps), `labels` (booleans or numbers)"
    }

    fn sniff(&self, first: &Value, _: &DataConfig) -> bool {
        first.get("completions").is_some_and(Value::is_array)
            && first.get("labels").is_some_and(Value::is_array)
    }

    fn parse(&self, raw: &str, opts: &DataConfig) -> Result<Vec<Record>, FieldError> {
        if let Ok(f) = serde_json::from_str::<Fast>(raw)
            && f.completions.len() == f.labels.len()
            && !f.completions.is_empty()
            && f.completions.iter().all(|c| !c.trim().is_empty())
        {
            let segments = f
                .completions
                .into_iter()
                .zip(&f.labels)
                .enumerate()
                .map(|(k, (c, l))| {
                    let score = target(l, bool_or_number, opts, &format!("labels[{k}]"))?;
                    Ok(RawSegment::new(c.trim(), score))
                })
                .collect::<Result<_, FieldError>>()?;
            return Ok(vec![Record::Doc {
                id: f.id,
                prompt: f.prompt,
                split: None,
                meta: None,
                segments,
            }]);
        }
        validate(raw, opts).map(|r| vec![r])
    }
}

/// The record checked field by field, each problem named.
fn validate(raw: &str, opts: &DataConfig) -> Result<Record, FieldError> {
    let obj = object(raw)?;
    let completions = array(&obj, "completions", "completions")?;
    let labels = array(&obj, "labels", "labels")?;
    if completions.is_empty() {
        return Err(ferr("completions", "is empty"));
    }
    if completions.len() != labels.len() {
        return Err(ferr(
            "labels",
            format!(
                "has {} labels for {} completions; there must be one label per completion",
                labels.len(),
                completions.len()
            ),
        ));
    }
    let segments = completions
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(k, (c, l))| {
            let text = step_text(c, &format!("completions[{k}]"))?;
            let score = target(l, bool_or_number, opts, &format!("labels[{k}]"))?;
            Ok(RawSegment::new(text, score))
        })
        .collect::<Result<_, FieldError>>()?;
    let split = opt_string(&obj, "split")?.and_then(|s| Split::parse(&s));
    Ok(Record::Doc {
        id: opt_string(&obj, "id")?,
        prompt: opt_string(&obj, "prompt")?,
        split,
        meta: None,
        segments,
    })
}
