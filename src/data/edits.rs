//! What-if edits: exclude a training segment, re-weight it, or give it another target, and see
//! what training does without it. Edits are kept in order (undo drops the last); the last edit of
//! a segment's weight, and the last of its target, are the ones in force.
//!
//! As JSON lines: `{"id": "doc-0001:3", "action": "exclude" | "weight" | "target", "value": ...}`,
//! with an optional `"step"` (when the edit was made; written on export, 0 when absent).

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::{Dataset, Partition, Split};

/// What an edit does to one segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Weight 0: training does without it.
    Exclude,
    /// Its weight in the training loss (1 is normal; 1 again includes an excluded segment).
    Weight(f32),
    /// A new target.
    Target(f32),
}

/// One edit of one segment (dataset index), made at `step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edit {
    pub segment: usize,
    pub action: Action,
    pub step: u64,
}

/// The edits of a run, in the order they were made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Edits {
    pub list: Vec<Edit>,
}

/// Why an edit is refused: the line of an edits file (0 for one typed in the dashboard) and the
/// field; neither when the file itself cannot be read (field empty).
#[derive(Debug, Clone, PartialEq)]
pub struct EditError {
    pub source_name: String,
    pub line: usize,
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.source_name, self.message)
        } else {
            write!(
                f,
                "{}: line {}: field `{}`: {}",
                self.source_name, self.line, self.field, self.message
            )
        }
    }
}

impl std::error::Error for EditError {}

/// Whether `action` may be applied to segment `i`: training segments, a weight only to one with
/// a target, and finite values (weights also non-negative). The reason, if not.
pub fn check(
    ds: &Dataset,
    part: &Partition,
    i: usize,
    action: Action,
) -> Result<(), (&'static str, String)> {
    // A context step may be given a label (a first error moved later labels the steps up to
    // it): the edited data carries it; a run's training rows were fixed when it started, so
    // only a weight needs a segment that has one.
    if ds.segments[i].score.is_none() && !matches!(action, Action::Target(_)) {
        return Err((
            "id",
            format!(
                "segment {} is context only (no target); only a target can be given to it",
                ds.segment_id(i)
            ),
        ));
    }
    if part.split_of(i) != Split::Train {
        return Err((
            "id",
            format!(
                "segment {} is in the dev split; edits change training segments only, so the dev loss stays comparable",
                ds.segment_id(i)
            ),
        ));
    }
    match action {
        Action::Weight(w) if !(w.is_finite() && w >= 0.0) => Err((
            "value",
            format!("a weight must be a finite number >= 0, found {w}"),
        )),
        Action::Target(t) if !t.is_finite() => Err((
            "value",
            format!("a target must be a finite number, found {t}"),
        )),
        _ => Ok(()),
    }
}

impl Edits {
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every segment's training weight (1 unless edited), dataset order.
    /// Segment `i`'s training weight under the edits (1 unless reweighted): the last weight or
    /// exclusion of it wins, as in [`Edits::weights`], without building the whole vector.
    pub fn weight_of(&self, i: usize) -> f32 {
        self.list
            .iter()
            .rev()
            .filter(|e| e.segment == i)
            .find_map(|e| match e.action {
                Action::Exclude => Some(0.0),
                Action::Weight(v) => Some(v),
                Action::Target(_) => None,
            })
            .unwrap_or(1.0)
    }

    pub fn weights(&self, n: usize) -> Vec<f32> {
        let mut w = vec![1.0; n];
        for e in &self.list {
            match e.action {
                Action::Exclude => w[e.segment] = 0.0,
                Action::Weight(v) => w[e.segment] = v,
                Action::Target(_) => {}
            }
        }
        w
    }

    /// The edited targets: segment -> new target.
    pub fn targets(&self) -> HashMap<usize, f32> {
        let mut t = HashMap::new();
        for e in &self.list {
            if let Action::Target(v) = e.action {
                t.insert(e.segment, v);
            }
        }
        t
    }

    /// Whether any edit changes a weight.
    pub fn reweights(&self) -> bool {
        self.list
            .iter()
            .any(|e| !matches!(e.action, Action::Target(_)))
    }

    /// `ds` with the edited targets in place of the original ones.
    pub fn apply_targets(&self, ds: &Dataset) -> Dataset {
        let mut out = ds.clone();
        for (i, t) in self.targets() {
            out.segments[i].score = Some(t);
        }
        out
    }

    /// Segments edited more than once in the same way (their weight, or their target), with
    /// how many such edits: the last is the one in force, and a reader of an edits file should
    /// be told so (a dashboard's export keeps every edit in order, undone ones included).
    pub fn repeats(&self) -> Vec<(usize, usize)> {
        let mut weight: HashMap<usize, usize> = HashMap::new();
        let mut target: HashMap<usize, usize> = HashMap::new();
        for e in &self.list {
            let m = match e.action {
                Action::Target(_) => &mut target,
                _ => &mut weight,
            };
            *m.entry(e.segment).or_default() += 1;
        }
        let mut out: Vec<(usize, usize)> = weight
            .into_iter()
            .chain(target)
            .filter(|&(_, n)| n > 1)
            .collect();
        out.sort_unstable();
        out.dedup_by_key(|p| p.0);
        out
    }

    /// What [`Edits::repeats`] finds, said for standard error; None when nothing repeats.
    pub fn repeats_note(&self, ds: &Dataset, source: &str) -> Option<String> {
        let r = self.repeats();
        let first = r.first()?;
        Some(format!(
            "{source}: {} segment(s) edited more than once the same way (first {}, {} times): the last edit of each is in force",
            r.len(),
            ds.segment_id(first.0),
            first.1
        ))
    }

    /// A short label of segment `i`'s edits in force (`excl`, `w 0.50`, `t +0.30`), or "".
    pub fn label(&self, i: usize) -> String {
        let (mut w, mut t) = (None, None);
        for e in self.list.iter().filter(|e| e.segment == i) {
            match e.action {
                Action::Exclude => w = Some(0.0),
                Action::Weight(v) => w = Some(v),
                Action::Target(v) => t = Some(v),
            }
        }
        let mut parts = Vec::new();
        match w {
            Some(0.0) => parts.push("excl".to_string()),
            Some(v) if v != 1.0 => parts.push(format!("w {v:.2}")),
            _ => {}
        }
        if let Some(v) = t {
            parts.push(format!("t {v:+.2}"));
        }
        parts.join(" ")
    }

    /// The edits as JSON lines (ids, not indices), in order.
    pub fn to_jsonl(&self, ds: &Dataset) -> String {
        let mut out = String::new();
        for e in &self.list {
            let (action, value) = match e.action {
                Action::Exclude => ("exclude", json!(true)),
                Action::Weight(v) => ("weight", json!(v)),
                Action::Target(v) => ("target", json!(v)),
            };
            let line = json!({
                "id": ds.segment_id(e.segment),
                "action": action,
                "value": value,
                "step": e.step,
            });
            out.push_str(&line.to_string());
            out.push('\n');
        }
        out
    }

    /// Reads edits from JSON lines. Every edit is checked (`check`); the first bad line is an
    /// error naming it and its field, and nothing is applied.
    pub fn parse(
        text: &str,
        source_name: &str,
        ds: &Dataset,
        part: &Partition,
    ) -> Result<Edits, EditError> {
        Edits::parse_with(text, source_name, ds, part, Allowed::Any)
    }

    /// [`Edits::parse`] keeping only the actions `allow` lets through; the others are reported
    /// like any bad value.
    pub fn parse_with(
        text: &str,
        source_name: &str,
        ds: &Dataset,
        part: &Partition,
        allow: Allowed,
    ) -> Result<Edits, EditError> {
        let ids: HashMap<String, usize> = (0..ds.segments.len())
            .map(|i| (ds.segment_id(i), i))
            .collect();
        let mut list = Vec::new();
        for (k, raw) in text.lines().enumerate() {
            let line = k + 1;
            let fail = |field: &'static str, message: String| EditError {
                source_name: source_name.to_string(),
                line,
                field,
                message,
            };
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let v: Map<String, Value> = match serde_json::from_str::<Value>(raw) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Err(fail("(line)", "an edit is a JSON object".into())),
                Err(e) => {
                    return Err(fail(
                        "(line)",
                        format!("not JSON: {} (column {})", e, e.column()),
                    ));
                }
            };
            if let Some(k) = v
                .keys()
                .find(|k| !["id", "action", "value", "step"].contains(&k.as_str()))
            {
                return Err(fail(
                    "(line)",
                    format!("unknown field `{k}` (an edit has id, action, value and step)"),
                ));
            }
            let id = v
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| fail("id", "missing, or not a string".into()))?;
            let segment = *ids
                .get(id)
                .ok_or_else(|| fail("id", format!("no segment `{id}` in the data")))?;
            let number = || -> Result<f32, EditError> {
                v.get("value")
                    .and_then(Value::as_f64)
                    .map(|x| x as f32)
                    .ok_or_else(|| fail("value", "missing, or not a number".into()))
            };
            let action = match v.get("action").and_then(Value::as_str) {
                Some("exclude") => Action::Exclude,
                Some("weight") => Action::Weight(number()?),
                Some("target") => Action::Target(number()?),
                Some(other) => {
                    return Err(fail(
                        "action",
                        format!("`{other}` is not one of exclude, weight, target"),
                    ));
                }
                None => return Err(fail("action", "missing, or not a string".into())),
            };
            let step = match v.get("step") {
                None => 0,
                Some(s) => s
                    .as_u64()
                    .ok_or_else(|| fail("step", "not a step number".into()))?,
            };
            check(ds, part, segment, action).map_err(|(field, m)| fail(field, m))?;
            if let Some(why) = allow.refuses(action) {
                return Err(fail("value", why));
            }
            list.push(Edit {
                segment,
                action,
                step,
            });
        }
        Ok(Edits { list })
    }

    /// Reads an edits file (see [`Edits::parse`]).
    pub fn read(path: &Path, ds: &Dataset, part: &Partition) -> Result<Edits, EditError> {
        Edits::read_with(path, ds, part, Allowed::Any)
    }

    /// Reads an edits file keeping only the actions `allow` lets through (see
    /// [`Edits::parse_with`]).
    pub fn read_with(
        path: &Path,
        ds: &Dataset,
        part: &Partition,
        allow: Allowed,
    ) -> Result<Edits, EditError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| EditError {
            source_name: name.clone(),
            line: 0,
            field: "",
            message: format!("cannot read the edits file: {e}"),
        })?;
        Edits::parse_with(&text, &name, ds, part, allow)
    }
}

/// Which edits a reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Every action: the trainer applies them all.
    Any,
    /// What a dataset file can hold: exclusions (weight 0) and new targets; another weight has
    /// no place in one.
    InData,
}

impl Allowed {
    /// Why `action` is refused, or `None`.
    fn refuses(self, action: Action) -> Option<String> {
        match (self, action) {
            (Allowed::InData, Action::Weight(w)) if w != 0.0 && w != 1.0 => Some(format!(
                "a weight of {w} cannot be written into a dataset (only exclusions, weight 0, and new targets can)"
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> (Dataset, Partition) {
        let text = "{\"id\": \"a\", \"prompt\": \"q\", \"split\": \"train\", \"segments\": [{\"text\": \"one\", \"score\": 0.5}, {\"text\": \"two\", \"score\": null}]}\n{\"id\": \"b\", \"prompt\": \"q\", \"split\": \"dev\", \"segments\": [{\"text\": \"three\", \"score\": 0.1}]}";
        let ds = crate::data::parse_str(text, "t", &Default::default())
            .expect("data")
            .0;
        let part = Partition::new(&ds, 0.0);
        (ds, part)
    }

    #[test]
    fn weight_of_agrees_with_weights() {
        let e = |segment, action| Edit {
            segment,
            action,
            step: 0,
        };
        let edits = Edits {
            list: vec![
                e(0, Action::Exclude),
                e(2, Action::Weight(0.5)),
                e(0, Action::Target(0.3)),
                e(2, Action::Exclude),
                e(1, Action::Weight(2.0)),
            ],
        };
        let all = edits.weights(4);
        for (i, &w) in all.iter().enumerate() {
            assert_eq!(edits.weight_of(i), w, "segment {i}");
        }
        assert_eq!(all, vec![0.0, 2.0, 0.0, 1.0]);
    }

    #[test]
    fn edits_round_trip_and_the_last_one_wins() {
        let (ds, part) = data();
        let text = "{\"id\": \"a:0\", \"action\": \"exclude\"}\n\n{\"id\": \"a:0\", \"action\": \"weight\", \"value\": 0.5, \"step\": 7}\n{\"id\": \"a:0\", \"action\": \"target\", \"value\": -1}\n";
        let e = Edits::parse(text, "e.jsonl", &ds, &part).expect("edits");
        assert_eq!(e.list.len(), 3);
        assert_eq!(e.weights(3), vec![0.5, 1.0, 1.0]);
        assert_eq!(e.targets().get(&0), Some(&-1.0));
        assert_eq!(e.label(0), "w 0.50 t -1.00");
        assert_eq!(e.apply_targets(&ds).segments[0].score, Some(-1.0));
        let back = Edits::parse(&e.to_jsonl(&ds), "again", &ds, &part).expect("round trip");
        assert_eq!(back.list.len(), 3);
        assert_eq!(back.list[1].step, 7);
        assert_eq!(back.list[0].action, Action::Exclude);
    }

    #[test]
    fn bad_edits_name_the_line_and_the_field() {
        let (ds, part) = data();
        let cases = [
            (
                "{\"id\": \"zz:9\", \"action\": \"exclude\"}",
                "line 1: field `id`",
                "no segment",
            ),
            (
                "\n{\"id\": \"a:0\", \"action\": \"drop\"}",
                "line 2: field `action`",
                "drop",
            ),
            (
                "{\"id\": \"a:0\", \"action\": \"weight\", \"value\": -1}",
                "field `value`",
                ">= 0",
            ),
            (
                "{\"id\": \"a:0\", \"action\": \"target\", \"value\": \"x\"}",
                "field `value`",
                "not a number",
            ),
            (
                "{\"id\": \"b:0\", \"action\": \"exclude\"}",
                "field `id`",
                "dev split",
            ),
            (
                "{\"id\": \"a:1\", \"action\": \"exclude\"}",
                "field `id`",
                "context only",
            ),
            (
                "{\"id\": \"a:0\", \"action\": \"exclude\", \"why\": 1}",
                "line 1",
                "unknown field `why`",
            ),
            ("[1]", "line 1", "JSON object"),
            ("{\"id\": ", "line 1", "not JSON"),
        ];
        for (text, at, what) in cases {
            let e = Edits::parse(text, "e.jsonl", &ds, &part)
                .expect_err(text)
                .to_string();
            assert!(e.starts_with("e.jsonl: "), "{e}");
            assert!(e.contains(at) && e.contains(what), "{text}: {e}");
        }
    }
}
