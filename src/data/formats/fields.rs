//! Reading the fields importers share: a record as a JSON object, typed fields with errors that
//! name them, labels turned into targets by a format's default mapping or `data.label_map`, and a
//! text cut at step markers.

use serde_json::{Map, Value};

use crate::config::DataConfig;
use crate::data::builder::{FieldError, ferr};

/// Why a number cannot be a score: not finite, or finite but beyond what a 32-bit float holds.
pub(super) fn out_of_range(x: f64, shown: &str) -> String {
    if x.is_finite() {
        format!(
            "{shown} is beyond a 32-bit float's range (magnitude under 3.4e38): rescale the scores"
        )
    } else {
        format!("must be finite, found {shown}")
    }
}

/// What a JSON value is, for messages.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A record: one JSON object.
pub fn object(raw: &str) -> Result<Map<String, Value>, FieldError> {
    let value: Value = crate::data::strict::parse(raw)?;
    match value {
        Value::Object(o) => Ok(o),
        v => Err(ferr(
            "(line)",
            format!("must be a JSON object, found {}", kind_of(&v)),
        )),
    }
}

/// A string field that must be present.
pub fn string<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<&'a str, FieldError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s),
        None => Err(ferr(field, "missing")),
        Some(v) => Err(ferr(
            field,
            format!("must be a string, found {}", kind_of(v)),
        )),
    }
}

/// A string field that may be absent or null.
pub fn opt_string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, FieldError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // Ids are often numeric in the wild; accept them as their decimal text.
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(v) => Err(ferr(key, format!("must be a string, found {}", kind_of(v)))),
    }
}

/// An array field that must be present.
pub fn array<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<&'a Vec<Value>, FieldError> {
    match obj.get(key) {
        Some(Value::Array(a)) => Ok(a),
        None => Err(ferr(field, "missing")),
        Some(v) => Err(ferr(
            field,
            format!("must be an array, found {}", kind_of(v)),
        )),
    }
}

/// A step's text: a non-empty string.
pub fn step_text(v: &Value, field: &str) -> Result<String, FieldError> {
    match v {
        Value::String(s) if s.trim().is_empty() => Err(ferr(field, "is empty")),
        Value::String(s) => Ok(s.trim().to_string()),
        v => Err(ferr(
            field,
            format!("must be a string, found {}", kind_of(v)),
        )),
    }
}

/// The name a label goes by in `data.label_map`: `true`, `false`, a number's JSON text, or the
/// string itself.
pub fn label_key(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A format's default mapping from labels to targets.
pub type DefaultMap = fn(&Value) -> Option<f64>;

/// Booleans as 1 and 0, numbers as they are.
pub fn bool_or_number(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// `+` and `-` marks as 1 and 0, and what [`bool_or_number`] takes.
pub fn marks(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) if s == "+" => Some(1.0),
        Value::String(s) if s == "-" => Some(0.0),
        v => bool_or_number(v),
    }
}

/// A label's target: `data.label_map` first, then the format's default; null is unlabelled
/// (`None`, a context-only segment). A label neither knows is an error that says how to map it.
pub fn target(
    v: &Value,
    default: DefaultMap,
    opts: &DataConfig,
    field: &str,
) -> Result<Option<f32>, FieldError> {
    if v.is_null() {
        return Ok(None);
    }
    let mapped = label_key(v)
        .and_then(|k| opts.label_map.get(&k).copied())
        .or_else(|| default(v));
    match mapped {
        Some(x) if (x as f32).is_finite() => Ok(Some(x as f32)),
        Some(x) => Err(ferr(field, out_of_range(x, &x.to_string()))),
        None => Err(ferr(
            field,
            format!(
                "label {} has no target; map it with data.label_map, e.g. label_map = {{ \"{}\" = 1.0 }}",
                v,
                label_key(v).unwrap_or_default()
            ),
        )),
    }
}

/// `text` cut at every `marker`: the pieces before each marker (the steps) and what follows the
/// last one. A step-by-step solution's first piece often holds the question too; see
/// [`split_question`].
pub fn cut_at<'a>(text: &'a str, marker: &str) -> (Vec<&'a str>, &'a str) {
    let mut pieces: Vec<&str> = text.split(marker).collect();
    let rest = pieces.pop().unwrap_or_default();
    (pieces, rest)
}

/// The prompt and the segments of a text cut at step markers: the question split from the first
/// piece, each piece a step scored by `score(k)`, and text after the last marker as context.
/// `field` names the text in errors.
pub fn marked_steps(
    pieces: &[&str],
    rest: &str,
    field: &str,
    mut score: impl FnMut(usize) -> Result<Option<f32>, FieldError>,
) -> Result<(String, Vec<crate::data::builder::RawSegment>), FieldError> {
    use crate::data::builder::RawSegment;
    let Some(first_piece) = pieces.first() else {
        return Err(ferr(field, "has no step marker"));
    };
    let (question, first) = split_question(first_piece);
    let mut segments = Vec::with_capacity(pieces.len() + 1);
    for (k, piece) in pieces.iter().enumerate() {
        let text = if k == 0 {
            first.clone()
        } else {
            piece.trim().to_string()
        };
        if text.is_empty() {
            return Err(ferr(field, format!("step {} is empty", k + 1)));
        }
        segments.push(RawSegment::new(text, score(k)?));
    }
    // Text after the last marker has no label: context, not a target.
    if !rest.trim().is_empty() {
        segments.push(RawSegment::new(rest.trim(), None));
    }
    Ok((question, segments))
}

/// Splits a question from the first step where the first step starts with `Step 1` (as in
/// Math-Shepherd): (question, first step). Without that mark the question is empty.
pub fn split_question(first: &str) -> (String, String) {
    match first.find("Step 1") {
        Some(at) if at > 0 => (
            first[..at].trim().to_string(),
            first[at..].trim().to_string(),
        ),
        _ => (String::new(), first.trim().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_map_by_default_or_by_the_config() {
        let mut opts = DataConfig::default();
        let t = |v: Value, o: &DataConfig| target(&v, marks, o, "f");
        assert_eq!(t(Value::Bool(true), &opts), Ok(Some(1.0)));
        assert_eq!(t("-".into(), &opts), Ok(Some(0.0)));
        assert_eq!(t(Value::Null, &opts), Ok(None));
        assert!(t("?".into(), &opts).is_err());
        opts.label_map.insert("false".into(), -1.0);
        opts.label_map.insert("?".into(), 0.5);
        assert_eq!(t(Value::Bool(false), &opts), Ok(Some(-1.0)));
        assert_eq!(t("?".into(), &opts), Ok(Some(0.5)));
    }

    #[test]
    fn questions_split_from_the_first_step() {
        assert_eq!(
            split_question("What is 2+2? Step 1: add."),
            ("What is 2+2?".into(), "Step 1: add.".into())
        );
        assert_eq!(split_question("add."), (String::new(), "add.".into()));
        let (steps, rest) = cut_at("a ки b ки", " ки");
        assert_eq!((steps, rest), (vec!["a", " b"], ""));
    }
}
