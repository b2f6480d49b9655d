//! OpenRLHF-style placeholder labels: the text under `data.input_key` ends each step with
//! `data.placeholder`, and `data.label_key` holds one label per placeholder (tokens such as `+`
//! and `-`, booleans, or numbers). The question is the text before `Step 1`, when there is one.

use serde_json::Value;

use super::Format;
use super::fields::{array, cut_at, marked_steps, marks, object, opt_string, string, target};
use crate::config::DataConfig;
use crate::data::builder::{FieldError, Record, ferr};

pub struct Placeholder;

impl Format for Placeholder {
    fn name(&self) -> &'static str {
        "placeholder"
    }

    fn summary(&self) -> &'static str {
        "OpenRLHF-style: text under data.input_key with data.placeholder after each step, labels under data.label_key"
    }

    fn sniff(&self, first: &Value, opts: &DataConfig) -> bool {
        first
            .get(&opts.input_key)
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains(&opts.placeholder))
            && first.get(&opts.label_key).is_some_and(Value::is_array)
    }

    fn parse(&self, raw: &str, opts: &DataConfig) -> Result<Vec<Record>, FieldError> {
        let obj = object(raw)?;
        let (ik, lk) = (opts.input_key.as_str(), opts.label_key.as_str());
        let input = string(&obj, ik, ik)?;
        let labels = array(&obj, lk, lk)?;
        let (pieces, rest) = cut_at(input, &opts.placeholder);
        if pieces.len() != labels.len() {
            return Err(ferr(
                lk,
                format!(
                    "has {} labels for {} placeholders `{}` in `{ik}`; there must be one per placeholder",
                    labels.len(),
                    pieces.len(),
                    opts.placeholder
                ),
            ));
        }
        if pieces.is_empty() {
            return Err(ferr(
                ik,
                format!("has no placeholder `{}`", opts.placeholder),
            ));
        }
        let (question, segments) = marked_steps(&pieces, rest, ik, |k| {
            target(&labels[k], marks, opts, &format!("{lk}[{k}]"))
        })?;
        Ok(vec![Record::Doc {
            id: opt_string(&obj, "id")?,
            prompt: Some(question),
            split: None,
            meta: None,
            segments,
        }])
    }
}
