//! Input formats: each turns one input record into documents; the format is sniffed from the
//! first record or named by the user. Reading is all-or-nothing unless the caller asks for
//! lenient reading: the first bad record is an error naming file, line and field.
//!
//! Adding a format is one file here implementing [`Format`], and one entry in [`FORMATS`].

pub mod fields;
pub mod math_shepherd;
pub mod out;
pub mod placeholder;
pub mod prm800k;
pub mod processbench;
pub mod segscope;
pub mod trl;

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::builder::{Builder, FieldError, Record};
use super::lines::{PARALLEL_PARSE_BYTES, map_lines, numbered};
use super::model::Dataset;
use crate::config::DataConfig;

/// One input format.
pub trait Format: Sync {
    /// The name `--format` takes.
    fn name(&self) -> &'static str;
    /// One line for `segscope formats`.
    fn summary(&self) -> &'static str;
    /// Whether a first record (already known to be JSON) looks like this format.
    fn sniff(&self, first: &Value, opts: &DataConfig) -> bool;
    /// One record (a line of text), validated, as the records it makes (usually one document).
    fn parse(&self, raw: &str, opts: &DataConfig) -> Result<Vec<Record>, FieldError>;
}

/// Every format, in the order sniffing tries them.
pub static FORMATS: &[&dyn Format] = &[
    &segscope::Segscope,
    &trl::TrlStepwise,
    &prm800k::Prm800k,
    &math_shepherd::MathShepherd,
    &processbench::ProcessBench,
    &placeholder::Placeholder,
];

/// The format named `name`, or an error listing the known names.
pub fn by_name(name: &str) -> Result<&'static dyn Format, UnknownFormat> {
    FORMATS
        .iter()
        .copied()
        .find(|f| f.name() == name)
        .ok_or_else(|| UnknownFormat(name.to_string()))
}

/// A format name that is none of [`FORMATS`]; the message lists them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "unknown format \"{0}\"; known formats: {known}",
    known = FORMATS.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
)]
pub struct UnknownFormat(pub String);

/// The format of a first record. One that nothing recognises goes to the native format, whose
/// validator then names what is missing.
pub fn sniff(first: Option<&Value>, opts: &DataConfig) -> &'static dyn Format {
    first
        .and_then(|v| FORMATS.iter().copied().find(|f| f.sniff(v, opts)))
        .unwrap_or(&segscope::Segscope)
}

/// An error in the input data. Line numbers are 1-based; `field` is a path such as
/// `segments[2].score`.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{file}: cannot read the file: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: no documents: the file is empty")]
    Empty { file: String },
    #[error("{file}:{line}: {}", field_message(field, message))]
    Line {
        file: String,
        line: usize,
        field: String,
        message: String,
    },
    /// A record of a file that holds one JSON array.
    #[error("{file}: record {record}: {}", field_message(field, message))]
    Record {
        file: String,
        record: usize,
        field: String,
        message: String,
    },
    #[error("{file}: no documents left after skipping {skipped} bad line(s)")]
    NothingLeft { file: String, skipped: usize },
    #[error("{file}: {message}")]
    Format { file: String, message: String },
}

/// "field `F`: message", or just the message when the problem is the whole line.
fn field_message(field: &str, message: &str) -> String {
    if field.starts_with('(') {
        message.to_string()
    } else {
        format!("field `{field}`: {message}")
    }
}

/// A line skipped by lenient reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub line: usize,
    pub message: String,
}

/// How to read a file.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Skip bad lines instead of failing.
    pub lenient: bool,
    /// `[data]`: the format (empty: sniffed from the first record) and the importers' options.
    pub data: DataConfig,
}

/// Reads a dataset file: JSONL or one JSON array, gzipped when its name ends in `.gz`. Returns
/// the dataset and, in lenient mode, the skipped lines.
pub fn read_file(path: &Path, opts: &ReadOptions) -> Result<(Dataset, Vec<Skipped>), DataError> {
    let file = path.display().to_string();
    let io = |source| DataError::Io {
        file: file.clone(),
        source,
    };
    let mut bytes = std::fs::read(path).map_err(io)?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
    {
        let mut out = Vec::with_capacity(bytes.len() * 4);
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(io)?;
        bytes = out;
    }
    if opts.lenient {
        let (text, mut bad) = utf8_lenient(bytes, &file);
        let (ds, mut skipped) = parse_str(&text, &file, opts)?;
        skipped.append(&mut bad);
        skipped.sort_by_key(|s| s.line);
        return Ok((ds, skipped));
    }
    let text = utf8(bytes, &file)?;
    parse_str(&text, &file, opts)
}

/// `--lenient`: the text with every line that is not valid UTF-8 blanked (so line numbers stay
/// the file's), and those lines as skipped.
fn utf8_lenient(bytes: Vec<u8>, file: &str) -> (String, Vec<Skipped>) {
    match utf8(bytes.clone(), file) {
        Ok(text) => (text, Vec::new()),
        Err(_) => {
            let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
            let mut text = String::with_capacity(body.len());
            let mut skipped = Vec::new();
            for (k, line) in body.split(|&b| b == b'\n').enumerate() {
                if k > 0 {
                    text.push('\n');
                }
                match std::str::from_utf8(line) {
                    Ok(l) => text.push_str(l),
                    Err(e) => skipped.push(Skipped {
                        line: k + 1,
                        message: format!(
                            "invalid UTF-8 at byte {} of the line",
                            e.valid_up_to() + 1
                        ),
                    }),
                }
            }
            (text, skipped)
        }
    }
}

/// The text of a file's bytes, without a byte-order mark; invalid UTF-8 is an error naming its
/// line.
pub fn utf8(mut bytes: Vec<u8>, file: &str) -> Result<String, DataError> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        let column = 1 + at
            - bytes[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
        DataError::Line {
            file: file.to_string(),
            line,
            field: "(line)".into(),
            message: format!("invalid UTF-8 at byte {column} of the line"),
        }
    })
}

/// Parses JSONL text; `file` is only used in messages.
///
/// Lines are parsed and validated on up to two threads (each takes a contiguous half of the
/// text), then placed into documents in order on this one, so that errors and the placement rules
/// (unique ids, consecutive flat lines) see the lines exactly as a single pass would.
pub fn parse_str(
    text: &str,
    file: &str,
    opts: &ReadOptions,
) -> Result<(Dataset, Vec<Skipped>), DataError> {
    parse_split_at(text, file, opts, PARALLEL_PARSE_BYTES)
}

/// [`parse_str`], parsing on two threads when `text` is at least `min_split` bytes.
pub(crate) fn parse_split_at(
    text: &str,
    file: &str,
    opts: &ReadOptions,
    min_split: usize,
) -> Result<(Dataset, Vec<Skipped>), DataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let chosen = match opts.data.format.as_str() {
        "" => None,
        name => Some(by_name(name).map_err(|e| DataError::Format {
            file: file.to_string(),
            message: e.to_string(),
        })?),
    };
    // One JSON array of records: a `.json` file, or any text that is an array of objects (a
    // JSONL line such as `[1, 2]` stays a bad line of JSONL).
    let json_name = file.ends_with(".json") || file.ends_with(".json.gz");
    if text.trim_start().starts_with('[') {
        match serde_json::from_str::<Vec<Value>>(text) {
            Ok(records) if json_name || records.iter().all(Value::is_object) => {
                return parse_array(records, file, opts, chosen);
            }
            Err(e) if json_name => {
                return Err(DataError::Line {
                    file: file.to_string(),
                    line: e.line(),
                    field: "(file)".into(),
                    message: format!("not a valid JSON array of records: {e}"),
                });
            }
            _ => {}
        }
    }
    let format = chosen.unwrap_or_else(|| {
        let first = numbered(text, 1)
            .next()
            .and_then(|(_, l)| serde_json::from_str::<Value>(l).ok());
        sniff(first.as_ref(), &opts.data)
    });
    let parsed = map_lines(text, min_split, |raw| format.parse(raw, &opts.data));
    place(parsed, format, file, opts, false)
}

/// A file that holds one JSON array of records, each read as a line of JSONL would be.
fn parse_array(
    records: Vec<Value>,
    file: &str,
    opts: &ReadOptions,
    chosen: Option<&'static dyn Format>,
) -> Result<(Dataset, Vec<Skipped>), DataError> {
    let format = chosen.unwrap_or_else(|| sniff(records.first(), &opts.data));
    let parsed = records
        .iter()
        .enumerate()
        .map(|(k, v)| (k + 1, format.parse(&v.to_string(), &opts.data)))
        .collect();
    place(parsed, format, file, opts, true)
}

/// Places parsed records in order into a dataset. `records`: their places are record numbers of
/// an array, not lines.
fn place(
    parsed: Vec<(usize, Result<Vec<Record>, FieldError>)>,
    format: &'static dyn Format,
    file: &str,
    opts: &ReadOptions,
    records: bool,
) -> Result<(Dataset, Vec<Skipped>), DataError> {
    let mut b = Builder::new(file, format.name());
    let mut skipped = Vec::new();
    let any_line = !parsed.is_empty();
    for (at, result) in parsed {
        let placed = result.and_then(|r| b.add_all(r, at));
        if let Err(FieldError { field, message }) = placed {
            if opts.lenient {
                let unit = if records { "record " } else { "" };
                skipped.push(Skipped {
                    line: at,
                    message: format!("{unit}{}", field_message(&field, &message)),
                });
            } else if records {
                return Err(DataError::Record {
                    file: file.to_string(),
                    record: at,
                    field,
                    message,
                });
            } else {
                return Err(DataError::Line {
                    file: file.to_string(),
                    line: at,
                    field,
                    message,
                });
            }
        }
    }
    if !any_line {
        return Err(DataError::Empty {
            file: file.to_string(),
        });
    }
    let ds = b.finish();
    if ds.docs.is_empty() {
        return Err(DataError::NothingLeft {
            file: file.to_string(),
            skipped: skipped.len(),
        });
    }
    Ok((ds, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Dataset, DataError> {
        parse_str(text, "t.jsonl", &ReadOptions::default()).map(|(d, _)| d)
    }

    fn line_err(text: &str) -> (usize, String) {
        match parse(text) {
            Err(DataError::Line { line, field, .. }) => (line, field),
            other => panic!("expected a line error, got {other:?}"),
        }
    }

    #[test]
    fn reads_the_document_form_with_meta_labels() {
        let ds = parse(
            r#"{"id": "doc-0042", "prompt": "How do I descale a kettle?", "split": "train", "segments": [{"text": "Fill it.", "score": 0.7, "ratings": [0.8, 0.8, 0.5], "tags": ["concrete"]}, {"text": "Honestly it might work.", "score": -0.4}], "meta": {"noise": {"1": "flipped"}}}"#,
        )
        .unwrap();
        assert_eq!(ds.docs.len(), 1);
        assert_eq!(ds.segments.len(), 2);
        assert_eq!(ds.segment_id(1), "doc-0042:1");
        assert_eq!(ds.segments[0].ratings, vec![0.8, 0.8, 0.5]);
        assert!((ds.segments[0].rater_spread() - 0.3).abs() < 1e-6);
        assert_eq!(ds.segments[1].label("noise"), Some("flipped"));
        assert_eq!(ds.segments[0].label("noise"), None);
        assert_eq!(ds.docs[0].split, Some(crate::data::Split::Train));
        assert_eq!(ds.format, "segscope");
    }

    #[test]
    fn segments_with_the_same_meta_labels_share_them() {
        // A scalar meta key labels every segment alike; an indexed one labels segment 1 alone.
        let ds = parse(
            r#"{"id": "d", "segments": [{"text": "a", "score": 1}, {"text": "b", "score": 0}, {"text": "c", "score": 1}, {"text": "d", "score": 1}], "meta": {"generator": "g", "noise": {"1": "flipped"}}}"#,
        )
        .unwrap();
        let l: Vec<&std::sync::Arc<Vec<(String, String)>>> =
            ds.segments.iter().map(|s| &s.labels).collect();
        assert_eq!(ds.segments[1].label("noise"), Some("flipped"));
        assert!(
            ds.segments
                .iter()
                .all(|s| s.label("generator") == Some("g"))
        );
        assert!(!std::sync::Arc::ptr_eq(l[0], l[1]));
        assert!(!std::sync::Arc::ptr_eq(l[1], l[2]));
        assert!(std::sync::Arc::ptr_eq(l[2], l[3]));
    }

    #[test]
    fn reads_the_flat_form_grouping_consecutive_lines() {
        let ds = parse(
            "{\"doc\": \"a\", \"text\": \"one\", \"score\": 0.4}\n\n{\"doc\": \"a\", \"text\": \"two\", \"score\": 0.1}\n{\"doc\": \"b\", \"text\": \"three\", \"score\": -1}\n",
        )
        .unwrap();
        assert_eq!(ds.docs.len(), 2);
        assert_eq!(ds.docs[0].segments, 0..2);
        assert_eq!(ds.segments[1].index, 1);
        assert_eq!(ds.segments[2].line, 4);
    }

    #[test]
    fn defaults_id_to_the_line_and_prompt_to_empty() {
        let ds = parse("\n{\"segments\": [{\"text\": \"x\", \"score\": 1}]}").unwrap();
        assert_eq!(ds.docs[0].id, "line-2");
        assert_eq!(ds.docs[0].prompt, "");
    }

    #[test]
    fn bad_lines_name_line_and_field() {
        let ok = r#"{"id": "a", "segments": [{"text": "x", "score": 1}]}"#;
        assert_eq!(line_err(&format!("{ok}\nnot json")), (2, "(line)".into()));
        assert_eq!(
            line_err(&format!("{ok}\n{{\"id\": \"b\"}}")),
            (2, "segments".into())
        );
        assert_eq!(
            line_err(&format!("{ok}\n{{\"id\": \"b\", \"segments\": []}}")),
            (2, "segments".into())
        );
        assert_eq!(
            line_err(&format!(
                "{ok}\n{{\"id\": \"b\", \"segments\": [{{\"score\": 1}}]}}"
            )),
            (2, "segments[0].text".into())
        );
        assert_eq!(line_err(&format!("{ok}\n{ok}")), (2, "id".into()));
        assert_eq!(
            line_err(&format!(
                "{ok}\n{{\"id\": \"b\", \"segments\": [{{\"text\": \"y\", \"score\": 1}}, {{\"text\": \"z\", \"score\": \"high\"}}]}}"
            )),
            (2, "segments[1].score".into())
        );
        assert_eq!(
            line_err("{\"segments\": [{\"text\": \"y\", \"score\": 1e999}]}"),
            (1, "(line)".into())
        );
        assert_eq!(
            line_err("{\"segments\": [{\"text\": \"y\", \"score\": 1e300}]}"),
            (1, "segments[0].score".into())
        );
        assert_eq!(
            line_err("{\"doc\": \"d\", \"text\": \"y\"}"),
            (1, "score".into())
        );
        assert_eq!(line_err("[1, 2]"), (1, "(line)".into()));
    }

    #[test]
    fn empty_file_is_an_error() {
        assert!(matches!(parse(""), Err(DataError::Empty { .. })));
        assert!(matches!(parse("\n  \n"), Err(DataError::Empty { .. })));
    }

    #[test]
    fn lenient_skips_exactly_the_bad_lines() {
        let text = "{\"segments\": [{\"text\": \"a\", \"score\": 1}]}\nbad\n{\"segments\": []}\n{\"segments\": [{\"text\": \"b\", \"score\": 0}]}";
        let opts = ReadOptions {
            lenient: true,
            ..Default::default()
        };
        let (ds, skipped) = parse_str(text, "t", &opts).unwrap();
        assert_eq!(ds.docs.len(), 2);
        assert_eq!(
            skipped.iter().map(|s| s.line).collect::<Vec<_>>(),
            vec![2, 3]
        );
        let all_bad = parse_str("bad\nworse", "t", &opts);
        assert!(matches!(
            all_bad,
            Err(DataError::NothingLeft { skipped: 2, .. })
        ));
    }

    #[test]
    fn parsing_on_two_threads_gives_the_same_dataset_and_line_numbers() {
        let text = crate::data::BUNDLED_JSONL;
        let one = parse_split_at(text, "t", &ReadOptions::default(), usize::MAX).unwrap();
        let two = parse_split_at(text, "t", &ReadOptions::default(), 0).unwrap();
        assert_eq!(one, two);
        // A bad line in the second half is reported with its line number in the whole file.
        let base = text.trim_end_matches('\n');
        let n = base.lines().count();
        let bad = format!("{base}\n\n{{\"segments\": [{{\"text\": \"x\"}}]}}\n");
        match parse_split_at(&bad, "t", &ReadOptions::default(), 0) {
            Err(DataError::Line { line, field, .. }) => {
                assert_eq!((line, field.as_str()), (n + 2, "segments[0].score"));
            }
            other => panic!("expected a line error, got {other:?}"),
        }
        // A duplicate id across the two halves is still caught.
        let first = text.lines().next().unwrap_or_default();
        let dup = format!("{text}\n{first}\n");
        assert!(matches!(
            parse_split_at(&dup, "t", &ReadOptions::default(), 0),
            Err(DataError::Line { field, .. }) if field == "id"
        ));
    }
}
