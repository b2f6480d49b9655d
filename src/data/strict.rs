//! Reading one line of JSON strictly: a key that appears twice in an object is an error naming
//! it (a silent last-wins would change a score), and a syntax error says its column within the
//! line rather than serde's "at line 1 column N".

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::builder::{FieldError, ferr};

/// The JSON value of one line, or an error naming the duplicate key's path, or the column of a
/// syntax error.
pub fn parse(raw: &str) -> Result<Value, FieldError> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let v = Seed {
        path: String::new(),
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    v.map_err(|e| {
        let text = e.to_string();
        if let Some(dup) = text.strip_prefix(DUPLICATE) {
            let path = dup.split(" at line ").next().unwrap_or(dup).to_string();
            return ferr(
                path,
                "appears twice in one object; a silent last-wins would change a value",
            );
        }
        // serde_json's message ends "at line L column C"; within one line only C matters.
        let msg = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(m, _)| m);
        ferr(
            "(line)",
            format!("not valid JSON at column {}: {msg}", e.column()),
        )
    })
}

const DUPLICATE: &str = "duplicate key: ";

struct Seed {
    path: String,
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed {
            path: format!("{}[{}]", self.path, out.len()),
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                k.clone()
            } else {
                format!("{}.{k}", self.path)
            };
            if out.contains_key(&k) {
                return Err(A::Error::custom(format!("{DUPLICATE}{path}")));
            }
            let v = map.next_value_seed(Seed { path })?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_named_by_their_path() {
        let e = parse(r#"{"segments": [{"text": "a", "score": 1, "score": 2}]}"#).unwrap_err();
        assert_eq!(e.field, "segments[0].score");
        let e = parse(r#"{"id": "a", "id": "b"}"#).unwrap_err();
        assert_eq!(e.field, "id");
        assert!(parse(r#"{"a": {"x": 1}, "b": {"x": 2}}"#).is_ok());
    }

    #[test]
    fn syntax_errors_give_the_column() {
        let e = parse(r#"{"text": "a", "score": }"#).unwrap_err();
        assert_eq!(e.field, "(line)");
        assert!(
            e.message.starts_with("not valid JSON at column 24"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("line 1"), "{}", e.message);
        // A lone surrogate is no character: an error at its column.
        for raw in [
            r#"{"text": "\ud800 lone"}"#,
            r#"{"text": "\ud800"}"#,
            r#"{"t": "\udc00"}"#,
        ] {
            let e = parse(raw).unwrap_err();
            assert!(
                e.message.starts_with("not valid JSON at column"),
                "{raw}: {}",
                e.message
            );
        }
    }
}
