//! The native format: a whole document per line, or one segment per line (see README "Dataset
//! format"). A typed fast path takes well-formed lines; anything it does not accept outright goes
//! through a `serde_json::Value` validator, which decides and names the field.

use serde_json::{Map, Value};

use super::Format;
use super::fields::{kind_of, out_of_range};
use crate::config::DataConfig;
use crate::data::builder::{FieldError, RawSegment, Record, ferr};
use crate::data::model::Split;

/// segscope's own JSONL.
pub struct Segscope;

impl Format for Segscope {
    fn name(&self) -> &'static str {
        "segscope"
    }

    fn summary(&self) -> &'static str {
        "segscope's JSONL: a document per line with `segments`, or one segment per line with `doc`, `text` and `score`"
    }

    fn sniff(&self, first: &Value, _: &DataConfig) -> bool {
        first.get("segments").is_some()
            || (first.get("text").is_some() && first.get("score").is_some())
    }

    fn parse(&self, raw: &str, _: &DataConfig) -> Result<Vec<Record>, FieldError> {
        parse_line(raw).map(|r| vec![r])
    }
}

/// One line, validated: the fast path, or else the validator.
fn parse_line(raw: &str) -> Result<Record, FieldError> {
    match fast::parse(raw) {
        Some(p) => Ok(p),
        None => parse_value_line(raw),
    }
}

/// The typed fast path: `serde` straight into borrowed structs, no `Value` tree.
mod fast {
    use std::borrow::Cow;

    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    use super::{RawSegment, Record, Split};

    /// A JSON string, borrowed from the line when it has no escapes.
    struct Text<'a>(Cow<'a, str>);

    impl<'de> Deserialize<'de> for Text<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Text<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                    Ok(Text(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(Text(Cow::Owned(v.to_owned())))
                }
                fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                    Ok(Text(Cow::Owned(v)))
                }
            }
            d.deserialize_str(V)
        }
    }

    /// For fields that may be absent: present means a value of the type, and null is not one
    /// (the fallback decides what a null means).
    fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        T::deserialize(d).map(Some)
    }

    #[derive(Deserialize)]
    struct Seg<'a> {
        #[serde(default, borrow, deserialize_with = "present")]
        text: Option<Text<'a>>,
        #[serde(default, deserialize_with = "present")]
        score: Option<f64>,
        #[serde(default, deserialize_with = "present")]
        ratings: Option<Vec<f64>>,
        #[serde(default, borrow, deserialize_with = "present")]
        tags: Option<Vec<Text<'a>>>,
        #[serde(default, deserialize_with = "present")]
        embedding: Option<Vec<f64>>,
    }

    #[derive(Deserialize)]
    struct Line<'a> {
        #[serde(default, borrow, deserialize_with = "present")]
        id: Option<Text<'a>>,
        #[serde(default, borrow, deserialize_with = "present")]
        doc: Option<Text<'a>>,
        #[serde(default, borrow, deserialize_with = "present")]
        prompt: Option<Text<'a>>,
        #[serde(default, borrow, deserialize_with = "present")]
        split: Option<Text<'a>>,
        #[serde(default, borrow, deserialize_with = "present")]
        segments: Option<Vec<Seg<'a>>>,
        #[serde(default, deserialize_with = "present")]
        meta: Option<Value>,
        // The flat form's segment fields (not `#[serde(flatten)]`: it buffers the whole line).
        #[serde(default, borrow, deserialize_with = "present")]
        text: Option<Text<'a>>,
        #[serde(default, deserialize_with = "present")]
        score: Option<f64>,
        #[serde(default, deserialize_with = "present")]
        ratings: Option<Vec<f64>>,
        #[serde(default, borrow, deserialize_with = "present")]
        tags: Option<Vec<Text<'a>>>,
        #[serde(default, deserialize_with = "present")]
        embedding: Option<Vec<f64>>,
    }

    fn finite(x: f64) -> Option<f32> {
        let y = x as f32;
        y.is_finite().then_some(y)
    }

    fn segment(s: Seg) -> Option<RawSegment> {
        let text = s.text?.0;
        if text.trim().is_empty() {
            return None;
        }
        Some(RawSegment {
            text: text.into_owned(),
            score: Some(finite(s.score?)?),
            ratings: s
                .ratings
                .unwrap_or_default()
                .into_iter()
                .map(finite)
                .collect::<Option<_>>()?,
            tags: s
                .tags
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.0.into_owned())
                .collect(),
            embedding: match s.embedding {
                None => None,
                Some(e) => Some(e.into_iter().map(finite).collect::<Option<_>>()?),
            },
        })
    }

    fn split(s: Option<Text>) -> Option<Option<Split>> {
        match s {
            None => Some(None),
            Some(t) => Split::parse(&t.0).map(Some),
        }
    }

    /// The line, if it is well-formed; `None` sends it to the validating path.
    pub(super) fn parse(raw: &str) -> Option<Record> {
        let l: Line = serde_json::from_str(raw).ok()?;
        let owned = |t: Option<Text>| t.map(|t| t.0.into_owned());
        if let Some(segs) = l.segments {
            if segs.is_empty() {
                return None;
            }
            return Some(Record::Doc {
                id: owned(l.id),
                prompt: owned(l.prompt),
                split: split(l.split)?,
                meta: l.meta.filter(|m| !m.is_null()),
                segments: segs.into_iter().map(segment).collect::<Option<_>>()?,
            });
        }
        // The flat form: one segment, with its document's id in `doc`.
        let seg = Seg {
            text: l.text,
            score: l.score,
            ratings: l.ratings,
            tags: l.tags,
            embedding: l.embedding,
        };
        Some(Record::Flat {
            doc: owned(l.doc),
            prompt: owned(l.prompt),
            split: split(l.split)?,
            segment: segment(seg)?,
        })
    }
}

fn get_string(
    obj: &Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<Option<String>, FieldError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // Ids are often numeric in the wild; accept them as their decimal text.
        Some(Value::Number(n)) if key == "id" || key == "doc" => Ok(Some(n.to_string())),
        Some(v) => Err(ferr(
            field,
            format!("must be a string, found {}", kind_of(v)),
        )),
    }
}

fn finite_f32(v: &Value, field: &str) -> Result<f32, FieldError> {
    let Value::Number(n) = v else {
        return Err(ferr(
            field,
            format!("must be a number, found {}", kind_of(v)),
        ));
    };
    let x = n
        .as_f64()
        .ok_or_else(|| ferr(field, format!("`{n}` is not a representable number")))?;
    let y = x as f32;
    if !y.is_finite() {
        return Err(ferr(field, out_of_range(x, &n.to_string())));
    }
    Ok(y)
}

fn parse_segment(obj: &Map<String, Value>, prefix: &str) -> Result<RawSegment, FieldError> {
    let f = |k: &str| format!("{prefix}{k}");
    let text = match obj.get("text") {
        None => return Err(ferr(f("text"), "missing")),
        Some(Value::String(s)) if s.trim().is_empty() => return Err(ferr(f("text"), "is empty")),
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(ferr(
                f("text"),
                format!("must be a string, found {}", kind_of(v)),
            ));
        }
    };
    let score = match obj.get("score") {
        None => {
            return Err(ferr(
                f("score"),
                "missing (null marks a context-only segment)",
            ));
        }
        // A null score: the segment is context for its neighbours, not a target.
        Some(Value::Null) => None,
        Some(v) => Some(finite_f32(v, &f("score"))?),
    };
    let ratings = match obj.get("ratings") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(j, v)| finite_f32(v, &format!("{prefix}ratings[{j}]")))
            .collect::<Result<_, _>>()?,
        Some(v) => {
            return Err(ferr(
                f("ratings"),
                format!("must be an array, found {}", kind_of(v)),
            ));
        }
    };
    let tags = match obj.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(j, v)| match v {
                Value::String(s) => Ok(s.clone()),
                v => Err(ferr(
                    format!("{prefix}tags[{j}]"),
                    format!("must be a string, found {}", kind_of(v)),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(v) => {
            return Err(ferr(
                f("tags"),
                format!("must be an array, found {}", kind_of(v)),
            ));
        }
    };
    let embedding = match obj.get("embedding") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .enumerate()
                .map(|(j, v)| finite_f32(v, &format!("{prefix}embedding[{j}]")))
                .collect::<Result<_, _>>()?,
        ),
        Some(v) => {
            return Err(ferr(
                f("embedding"),
                format!("must be an array of numbers, found {}", kind_of(v)),
            ));
        }
    };
    Ok(RawSegment {
        text,
        score,
        ratings,
        tags,
        embedding,
    })
}

fn parse_split(obj: &Map<String, Value>) -> Result<Option<Split>, FieldError> {
    match get_string(obj, "split", "split")? {
        None => Ok(None),
        Some(name) => Split::parse(&name).map(Some).ok_or_else(|| {
            ferr(
                "split",
                format!("must be \"train\" or \"dev\", found \"{name}\""),
            )
        }),
    }
}

/// The validating path: the line as a `serde_json::Value`, each field checked and any problem
/// named by its path.
fn parse_value_line(raw: &str) -> Result<Record, FieldError> {
    let value: Value = crate::data::strict::parse(raw)?;
    let Value::Object(obj) = value else {
        return Err(ferr(
            "(line)",
            format!("must be a JSON object, found {}", kind_of(&value)),
        ));
    };
    if obj.contains_key("segments") {
        let id = get_string(&obj, "id", "id")?;
        let prompt = get_string(&obj, "prompt", "prompt")?;
        let split = parse_split(&obj)?;
        let meta = obj.get("meta").cloned().filter(|m| !m.is_null());
        let segs = match obj.get("segments") {
            Some(Value::Array(a)) if a.is_empty() => return Err(ferr("segments", "is empty")),
            Some(Value::Array(a)) => a,
            Some(v) => {
                return Err(ferr(
                    "segments",
                    format!("must be an array, found {}", kind_of(v)),
                ));
            }
            None => return Err(ferr("segments", "missing")),
        };
        let mut segments = Vec::with_capacity(segs.len());
        for (k, s) in segs.iter().enumerate() {
            let Value::Object(so) = s else {
                return Err(ferr(
                    format!("segments[{k}]"),
                    format!("must be an object, found {}", kind_of(s)),
                ));
            };
            segments.push(parse_segment(so, &format!("segments[{k}]."))?);
        }
        Ok(Record::Doc {
            id,
            prompt,
            split,
            meta,
            segments,
        })
    } else if obj.contains_key("text") || obj.contains_key("doc") || obj.contains_key("score") {
        let doc = get_string(&obj, "doc", "doc")?;
        let segment = parse_segment(&obj, "")?;
        Ok(Record::Flat {
            doc,
            prompt: get_string(&obj, "prompt", "prompt")?,
            split: parse_split(&obj)?,
            segment,
        })
    } else {
        Err(ferr(
            "segments",
            "missing (a line is either a document with `segments` or one segment with `text` and `score`)",
        ))
    }
}

/// A segment as the native format writes it.
#[derive(serde::Serialize)]
struct OutSegment<'a> {
    text: &'a str,
    /// null: context only.
    score: Option<f32>,
    #[serde(skip_serializing_if = "<[f32]>::is_empty")]
    ratings: &'a [f32],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    embedding: Option<&'a [f32]>,
}

/// A document as the native format writes it.
#[derive(serde::Serialize)]
struct OutDocument<'a> {
    id: &'a str,
    prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    split: Option<Split>,
    segments: Vec<OutSegment<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<&'a Value>,
}

/// Writes `ds` as segscope's own JSONL, one document per line, so that reading it back gives the
/// same documents: declared splits, null scores for context-only segments, ratings, tags,
/// embeddings and `meta` (labels included) are all kept.
pub fn write_jsonl(ds: &crate::data::Dataset, w: &mut impl std::io::Write) -> std::io::Result<()> {
    for d in &ds.docs {
        let segments = d
            .segments
            .clone()
            .map(|i| {
                let s = &ds.segments[i];
                OutSegment {
                    text: &s.text,
                    score: s.score,
                    ratings: &s.ratings,
                    tags: &s.tags,
                    embedding: ds.embeddings.as_ref().map(|e| e.row(i)),
                }
            })
            .collect();
        let doc = OutDocument {
            id: &d.id,
            prompt: &d.prompt,
            split: d.split,
            segments,
            meta: d.meta.as_ref(),
        };
        serde_json::to_writer(&mut *w, &doc)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_agrees_with_the_validator_or_defers_to_it() {
        // Every line either takes the fast path with the validator's exact result, or is left to
        // the validator. Well-formed lines (escapes included) must take the fast path.
        let fast_lines = [
            r#"{"id": "a", "prompt": "p", "split": "train", "segments": [{"text": "x", "score": 1, "ratings": [0.5, 1], "tags": ["t"]}], "meta": {"noise": {"0": "flipped"}}}"#,
            r#"{"id": "a", "segments": [{"text": "caf\u00e9 \"quoted\"\nline", "score": -0.25, "extra": [1, {"a": null}]}], "other": 3}"#,
            r#"{"segments": [{"text": "x", "score": 1e-3}], "split": "validation", "meta": null}"#,
            r#"{"doc": "d", "text": "flat", "score": 0.5, "split": "dev", "prompt": "q"}"#,
            r#"{"text": "no doc id", "score": 2, "tags": []}"#,
        ];
        let deferred = [
            r#"{"id": 7, "segments": [{"text": "numeric id", "score": 1}]}"#,
            r#"{"id": null, "prompt": null, "segments": [{"text": "nulls", "score": 1, "ratings": null}]}"#,
            r#"{"id": "a", "id": "b", "segments": [{"text": "duplicate key", "score": 1}]}"#,
            r#"{"segments": [{"text": "  ", "score": 1}]}"#,
            r#"{"segments": [{"text": "x", "score": "high"}]}"#,
            r#"{"segments": [{"text": "x", "score": 1e300}]}"#,
            r#"{"segments": [{"text": "x", "score": 1, "ratings": [1, 1e39]}]}"#,
            r#"{"segments": [], "text": "x", "score": 1}"#,
            r#"{"segments": null, "text": "x", "score": 1}"#,
            r#"{"segments": [{"text": "x", "score": 1}], "split": "test"}"#,
            r#"{"segments": [{"text": "x", "score": 1, "tags": [1]}]}"#,
            r#"{"doc": "d", "text": "x"}"#,
            r#"{"doc": 5, "text": "x", "score": 1}"#,
            r#"{"prompt": "only"}"#,
            r#"[1, 2]"#,
            r#"not json"#,
        ];
        for line in fast_lines {
            let fast = fast::parse(line);
            assert!(fast.is_some(), "fast path refused {line}");
            assert_eq!(fast, parse_value_line(line).ok(), "{line}");
        }
        for line in deferred {
            assert_eq!(fast::parse(line), None, "fast path took {line}");
        }
        let bundled = crate::data::BUNDLED_JSONL;
        assert!(
            bundled.lines().all(|l| fast::parse(l).is_some()),
            "every bundled line takes the fast path"
        );
    }
}
