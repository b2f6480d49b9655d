//! ProcessBench: `problem`, `steps`, and `label`, the index of the first wrong step or -1 when
//! every step is right. Steps before it are correct (1.0), the step at it is wrong (0.0), and the
//! steps after it are context only: nothing says whether they are right.

use serde_json::{Map, Value};

use super::Format;
use super::fields::{array, object, opt_string, step_text, string, target};
use crate::config::DataConfig;
use crate::data::builder::{FieldError, RawSegment, Record, ferr};

pub struct ProcessBench;

/// Correct (true) as 1.0, wrong (false) as 0.0.
fn correctness(v: &Value) -> Option<f64> {
    v.as_bool().map(|b| if b { 1.0 } else { 0.0 })
}

impl Format for ProcessBench {
    fn name(&self) -> &'static str {
        "processbench"
    }

    fn summary(&self) -> &'static str {
        "ProcessBench: `problem`, `steps`, `label` = index of the first wrong step or -1; later steps are context"
    }

    fn sniff(&self, first: &Value, _: &DataConfig) -> bool {
        first.get("problem").is_some_and(Value::is_string)
            && first.get("steps").is_some_and(Value::is_array)
            && first.get("label").is_some_and(Value::is_i64)
    }

    fn parse(&self, raw: &str, opts: &DataConfig) -> Result<Vec<Record>, FieldError> {
        let obj = object(raw)?;
        let problem = string(&obj, "problem", "problem")?;
        let steps = array(&obj, "steps", "steps")?;
        if steps.is_empty() {
            return Err(ferr("steps", "is empty"));
        }
        let first_wrong = first_wrong(&obj, steps.len())?;
        let segments = steps
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let text = step_text(s, &format!("steps[{k}]"))?;
                let score = match first_wrong {
                    Some(w) if k > w => None,
                    Some(w) if k == w => target(&Value::Bool(false), correctness, opts, "label")?,
                    _ => target(&Value::Bool(true), correctness, opts, "label")?,
                };
                Ok(RawSegment::new(text, score))
            })
            .collect::<Result<_, FieldError>>()?;
        let mut meta = Map::new();
        for key in ["generator", "final_answer_correct"] {
            if let Some(v) = obj.get(key) {
                meta.insert(key.into(), v.clone());
            }
        }
        Ok(vec![Record::Doc {
            id: opt_string(&obj, "id")?,
            prompt: Some(problem.to_string()),
            split: None,
            meta: (!meta.is_empty()).then_some(Value::Object(meta)),
            segments,
        }])
    }
}

/// The first wrong step's index, `None` for -1.
fn first_wrong(obj: &Map<String, Value>, n: usize) -> Result<Option<usize>, FieldError> {
    match obj.get("label") {
        None => Err(ferr("label", "missing")),
        Some(Value::Number(x)) => match x.as_i64() {
            Some(-1) => Ok(None),
            Some(i) if i >= 0 && (i as usize) < n => Ok(Some(i as usize)),
            _ => Err(ferr(
                "label",
                format!("must be -1 or a step index below {n} (the number of steps), found {x}"),
            )),
        },
        Some(v) => Err(ferr(
            "label",
            format!("must be an integer, found {}", super::fields::kind_of(v)),
        )),
    }
}
