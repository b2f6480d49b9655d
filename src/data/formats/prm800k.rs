//! PRM800K's raw records: `question.problem`, and `label.steps[]`, each with rated `completions`
//! (`text`, `rating` in {-1, 0, 1} or null, `flagged`), a `chosen_completion` index and an optional
//! `human_completion`. The document is the path actually taken: each step's chosen completion, or
//! its human completion when there is one; a step with no chosen completion ends the path with its
//! rated completion (the first error). Ratings are the targets as they are; a null rating is
//! context. With `data.prm800k_alternatives`, every other rated completion also becomes a document
//! of its own: the path so far as context, then that completion.

use serde_json::{Map, Value};

use super::Format;
use super::fields::{array, bool_or_number, kind_of, object, opt_string, step_text, target};
use crate::config::DataConfig;
use crate::data::builder::{FieldError, RawSegment, Record, ferr};

pub struct Prm800k;

impl Format for Prm800k {
    fn name(&self) -> &'static str {
        "prm800k"
    }

    fn summary(&self) -> &'static str {
        "PRM800K raw records: `question.problem`, `label.steps[].completions[]` rated -1/0/1; the path taken"
    }

    fn sniff(&self, first: &Value, _: &DataConfig) -> bool {
        first.get("question").is_some_and(Value::is_object)
            && first
                .get("label")
                .and_then(|l| l.get("steps"))
                .is_some_and(Value::is_array)
    }

    fn parse(&self, raw: &str, opts: &DataConfig) -> Result<Vec<Record>, FieldError> {
        let obj = object(raw)?;
        let question = sub(&obj, "question", "question")?;
        let problem = match question.get("problem") {
            Some(Value::String(s)) => s.clone(),
            None => return Err(ferr("question.problem", "missing")),
            Some(v) => {
                return Err(ferr(
                    "question.problem",
                    format!("must be a string, found {}", kind_of(v)),
                ));
            }
        };
        let label = sub(&obj, "label", "label")?;
        let steps = array(label, "steps", "label.steps")?;
        if steps.is_empty() {
            return Err(ferr("label.steps", "is empty"));
        }
        let id = opt_string(&obj, "id")?;
        let mut path: Vec<RawSegment> = Vec::new();
        let mut alternatives: Vec<(usize, usize, RawSegment)> = Vec::new();
        for (k, step) in steps.iter().enumerate() {
            let f = format!("label.steps[{k}]");
            let Value::Object(step) = step else {
                return Err(ferr(
                    f,
                    format!("must be an object, found {}", kind_of(step)),
                ));
            };
            let completions = array(step, "completions", &format!("{f}.completions"))?;
            let rated = completions
                .iter()
                .enumerate()
                .map(|(j, c)| completion(c, &format!("{f}.completions[{j}]"), opts))
                .collect::<Result<Vec<_>, _>>()?;
            let chosen = chosen_of(step, &f, rated.len())?;
            let human = match step.get("human_completion") {
                None | Some(Value::Null) => None,
                Some(h) => Some(completion(h, &format!("{f}.human_completion"), opts)?),
            };
            // The completion the path takes: the human one, the chosen one, or (neither) the
            // rated error the labeler stopped at, which ends the path.
            let end = if human.is_none() && chosen.is_none() {
                rated
                    .iter()
                    .position(|c| c.score.is_some_and(|s| s < 0.0))
                    .or_else(|| rated.iter().position(|c| c.score.is_some()))
            } else {
                None
            };
            let used = chosen.or(end);
            if opts.prm800k_alternatives {
                for (j, c) in rated.iter().enumerate() {
                    if (human.is_some() || Some(j) != used) && c.score.is_some() {
                        alternatives.push((k, j, c.clone()));
                    }
                }
            }
            match (human, used) {
                (Some(h), _) => path.push(h),
                (None, Some(j)) if chosen.is_some() => path.push(rated[j].clone()),
                (None, j) => {
                    // No chosen completion: the labeler stopped here, at the first error.
                    path.extend(j.map(|j| rated[j].clone()));
                    break;
                }
            }
        }
        if path.is_empty() {
            return Err(ferr("label.steps", "no step has a usable completion"));
        }
        let meta = meta(&obj, label);
        let mut records = Vec::with_capacity(1 + alternatives.len());
        for (k, j, alt) in alternatives {
            let mut segs: Vec<RawSegment> = path
                .iter()
                .take(k)
                .map(|s| RawSegment {
                    score: None,
                    ..s.clone()
                })
                .collect();
            segs.push(alt);
            records.push(Record::Doc {
                id: Some(format!(
                    "{}/alt-{k}-{j}",
                    id.as_deref().unwrap_or("prm800k")
                )),
                prompt: Some(problem.clone()),
                split: None,
                meta: meta.clone(),
                segments: segs,
            });
        }
        let base = Record::Doc {
            id,
            prompt: Some(problem),
            split: None,
            meta,
            segments: path,
        };
        records.insert(0, base);
        Ok(records)
    }
}

/// An object field.
fn sub<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<&'a Map<String, Value>, FieldError> {
    match obj.get(key) {
        Some(Value::Object(o)) => Ok(o),
        None => Err(ferr(field, "missing")),
        Some(v) => Err(ferr(
            field,
            format!("must be an object, found {}", kind_of(v)),
        )),
    }
}

/// A completion: its text, its rating as the target, and `flagged` as a tag.
fn completion(c: &Value, f: &str, opts: &DataConfig) -> Result<RawSegment, FieldError> {
    let Value::Object(c) = c else {
        return Err(ferr(f, format!("must be an object, found {}", kind_of(c))));
    };
    let text = step_text(c.get("text").unwrap_or(&Value::Null), &format!("{f}.text"))?;
    let score = target(
        c.get("rating").unwrap_or(&Value::Null),
        bool_or_number,
        opts,
        &format!("{f}.rating"),
    )?;
    let mut s = RawSegment::new(text, score);
    if c.get("flagged").and_then(Value::as_bool) == Some(true) {
        s.tags.push("flagged".into());
    }
    Ok(s)
}

/// The record's labeler, finish reason and quality-control flag, kept in `meta`.
fn meta(obj: &Map<String, Value>, label: &Map<String, Value>) -> Option<Value> {
    let mut m = Map::new();
    for (key, v) in [
        ("labeler", obj.get("labeler")),
        ("finish_reason", label.get("finish_reason")),
        (
            "is_quality_control_question",
            obj.get("is_quality_control_question"),
        ),
        ("generation", obj.get("generation")),
    ] {
        if let Some(v) = v.filter(|v| !v.is_null()) {
            m.insert(key.into(), v.clone());
        }
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// A step's `chosen_completion`: the index of one of its `n` completions, or None (null or
/// absent: the labeler stopped, or wrote their own).
fn chosen_of(
    step: &serde_json::Map<String, Value>,
    f: &str,
    count: usize,
) -> Result<Option<usize>, FieldError> {
    Ok(match step.get("chosen_completion") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(j) if (j as usize) < count => Some(j as usize),
            _ => {
                return Err(ferr(
                    format!("{f}.chosen_completion"),
                    format!("must index one of the {} completions, found {n}", count),
                ));
            }
        },
        Some(v) => {
            return Err(ferr(
                format!("{f}.chosen_completion"),
                format!("must be a number or null, found {}", kind_of(v)),
            ));
        }
    })
}
