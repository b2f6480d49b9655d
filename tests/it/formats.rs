//! Every input format on small hand-written fixtures (tests/fixtures/), awkward records included:
//! what each record becomes, which field an error names, sniffing, `--format`, `.json` arrays,
//! `.gz`, and `convert` round-tripping through the native reader.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use segscope::config::DataConfig;
use segscope::data::{DataError, Dataset, ReadOptions, read_file};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read_with(name: &str, data: DataConfig) -> Result<Dataset, DataError> {
    read_file(
        &fixture(name),
        &ReadOptions {
            lenient: false,
            data,
        },
    )
    .map(|(ds, _)| ds)
}

fn read(name: &str) -> Dataset {
    read_with(name, DataConfig::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// (text, score) of every segment of document `d`.
fn doc(ds: &Dataset, d: usize) -> Vec<(String, Option<f32>)> {
    ds.segments[ds.docs[d].segments.clone()]
        .iter()
        .map(|s| (s.text.clone(), s.score))
        .collect()
}

/// The line and field of a reading error, and its message.
fn error(name: &str, data: DataConfig) -> (usize, String, String) {
    match read_with(name, data) {
        Err(e @ DataError::Line { .. }) => {
            let DataError::Line {
                line, ref field, ..
            } = e
            else {
                unreachable!()
            };
            (line, field.clone(), e.to_string())
        }
        other => panic!("{name}: expected a line error, got {other:?}"),
    }
}

/// Each bad line's (line, field), reading leniently.
fn skipped(name: &str, data: DataConfig) -> Vec<(usize, String)> {
    let (_, skipped) = read_file(
        &fixture(name),
        &ReadOptions {
            lenient: true,
            data,
        },
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    skipped
        .into_iter()
        .map(|s| {
            (
                s.line,
                s.message.split('`').nth(1).unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn trl_stepwise_records_are_documents_with_booleans_as_one_and_zero() {
    let ds = read("trl_stepwise.jsonl");
    assert_eq!(ds.format, "trl-stepwise");
    assert_eq!(ds.docs.len(), 3);
    assert_eq!(ds.docs[0].prompt, "Which number is larger, 9.11 or 9.9?");
    assert_eq!(
        doc(&ds, 0).iter().map(|s| s.1).collect::<Vec<_>>(),
        vec![Some(1.0), Some(1.0), Some(0.0)]
    );
    assert_eq!(ds.docs[1].id, "t2");
    assert_eq!(doc(&ds, 1)[1].1, Some(0.5));
    // A null label is a context-only step; the blank line is skipped and the numbering kept.
    assert_eq!(doc(&ds, 2)[1].1, None);
    assert_eq!(ds.docs[2].line, 4);
    // label_map overrides the default.
    let mut data = DataConfig::default();
    data.label_map.insert("false".into(), -1.0);
    let ds = read_with("trl_stepwise.jsonl", data).expect("mapped");
    assert_eq!(doc(&ds, 0)[2].1, Some(-1.0));
}

#[test]
fn trl_errors_name_the_line_and_both_lengths() {
    let (line, field, msg) = error("trl_mismatch.jsonl", DataConfig::default());
    assert_eq!((line, field.as_str()), (2, "labels"));
    assert!(msg.contains("2 labels for 3 completions"), "{msg}");
    assert_eq!(
        skipped("trl_mismatch.jsonl", DataConfig::default()),
        vec![
            (2, "labels".to_string()),
            (3, "completions[1]".to_string()),
            (4, "labels[0]".to_string())
        ]
    );
}

#[test]
fn prm800k_follows_the_path_taken_and_keeps_its_provenance() {
    let ds = read("prm800k.jsonl");
    assert_eq!(ds.format, "prm800k");
    assert_eq!(ds.docs.len(), 2);
    // Chosen completions, then the human completion (unrated: context).
    assert_eq!(
        doc(&ds, 0),
        vec![
            (
                "The denominator factors as (x+3)(x-2).".to_string(),
                Some(1.0)
            ),
            (
                "So there are asymptotes at x = -3 and x = 2.".to_string(),
                Some(0.0)
            ),
            (
                "Both zeros are asymptotes, so the answer is 2.".to_string(),
                None
            ),
        ]
    );
    let meta = ds.docs[0].meta.as_ref().expect("meta");
    assert_eq!(meta["labeler"], "l-1");
    assert_eq!(meta["finish_reason"], "solution");
    // No chosen completion: the path ends with the rated error, and later steps are not read.
    assert_eq!(doc(&ds, 1), vec![("1 + 1 = 3.".to_string(), Some(-1.0))]);
    let meta = ds.docs[1].meta.as_ref().expect("meta");
    assert_eq!(meta["is_quality_control_question"], true);
    assert_eq!(meta["finish_reason"], "found_error");
}

#[test]
fn prm800k_alternatives_share_the_prefix_as_context() {
    let data = DataConfig {
        prm800k_alternatives: true,
        ..DataConfig::default()
    };
    let ds = read_with("prm800k.jsonl", data).expect("read");
    // Record 1: the path, plus the rated alternatives of steps 2 and 3 (three of them);
    // record 2: the path (the first error) and its unrated alternative is not a target.
    assert_eq!(ds.docs.len(), 1 + 3 + 1);
    let alt = &ds.docs[1];
    assert!(alt.id.ends_with("/alt-1-1"), "{}", alt.id);
    let segs = doc(&ds, 1);
    assert_eq!(segs[0].1, None, "the shared prefix is context");
    assert_eq!(
        segs[1],
        ("So there is one asymptote.".to_string(), Some(-1.0))
    );
    let flagged = &ds.segments[ds.docs[1].segments.end - 1];
    assert_eq!(flagged.tags, vec!["flagged".to_string()]);
}

#[test]
fn prm800k_errors_name_the_field() {
    assert_eq!(
        skipped("prm800k_bad.jsonl", DataConfig::default()),
        vec![
            (1, "label.steps".to_string()),
            (2, "label.steps[0].chosen_completion".to_string()),
            (3, "question.problem".to_string()),
        ]
    );
}

#[test]
fn math_shepherd_steps_lose_their_tags_and_marks() {
    let ds = read("math_shepherd.jsonl");
    assert_eq!(ds.format, "math-shepherd");
    assert_eq!(
        ds.docs[0].prompt,
        "Janet has 16 eggs and eats 3. How many are left?"
    );
    assert_eq!(
        doc(&ds, 0),
        vec![
            ("Step 1: 16 - 3 = 13 eggs are left.".to_string(), Some(1.0)),
            ("Step 2: The answer is: 13".to_string(), Some(1.0)),
        ]
    );
    assert_eq!(ds.segments[0].tags, vec!["GSM8K".to_string()]);
    assert_eq!(
        doc(&ds, 1).iter().map(|s| s.1).collect::<Vec<_>>(),
        vec![Some(0.0), Some(0.0)]
    );
    // Text after the last tag has no mark: context.
    assert_eq!(
        doc(&ds, 2)[1],
        ("Step 2: Trailing thought without a tag.".to_string(), None)
    );
    for s in &ds.segments {
        assert!(
            !s.text.contains("ки") && !s.text.ends_with('+'),
            "{}",
            s.text
        );
    }
    assert_eq!(
        skipped("math_shepherd_bad.jsonl", DataConfig::default()),
        vec![
            (1, "label".to_string()),
            (2, "input".to_string()),
            (3, "label".to_string()),
        ]
    );
}

#[test]
fn processbench_labels_before_at_and_after_the_first_error() {
    let ds = read("processbench.jsonl");
    assert_eq!(ds.format, "processbench");
    assert_eq!(
        doc(&ds, 0).iter().map(|s| s.1).collect::<Vec<_>>(),
        vec![Some(1.0), Some(0.0), None]
    );
    assert_eq!(
        doc(&ds, 1).iter().map(|s| s.1).collect::<Vec<_>>(),
        vec![Some(1.0), Some(1.0)]
    );
    assert_eq!(
        ds.docs[0].meta.as_ref().expect("meta")["generator"],
        "Qwen2-7B-Instruct"
    );
    assert_eq!(
        skipped("processbench_bad.jsonl", DataConfig::default()),
        vec![(1, "label".to_string()), (2, "steps[1]".to_string())]
    );
}

#[test]
fn placeholder_labels_follow_the_configured_keys() {
    let data = DataConfig {
        input_key: "query".into(),
        label_key: "value".into(),
        placeholder: "<step>".into(),
        ..DataConfig::default()
    };
    let ds = read_with("placeholder.jsonl", data.clone()).expect("read");
    assert_eq!(ds.format, "placeholder");
    assert_eq!(ds.docs[0].prompt, "What is 6 * 7?");
    assert_eq!(
        doc(&ds, 0),
        vec![
            ("Step 1: 6 * 7 = 42.".to_string(), Some(1.0)),
            ("Step 2: The answer is 42.".to_string(), Some(1.0)),
        ]
    );
    assert_eq!(doc(&ds, 1)[0].1, Some(0.0));
    // With the default keys nothing recognises the file, and the native reader says what it
    // lacks; naming the format says the right thing.
    let (line, field, _) = error("placeholder.jsonl", DataConfig::default());
    assert_eq!((line, field.as_str()), (1, "segments"));
    let (_, field, msg) = error(
        "placeholder.jsonl",
        DataConfig {
            format: "placeholder".into(),
            ..DataConfig::default()
        },
    );
    assert_eq!(field, "input", "{msg}");
}

#[test]
fn an_unknown_format_lists_the_known_ones() {
    let e = read_with(
        "trl_stepwise.jsonl",
        DataConfig {
            format: "parquet".into(),
            ..DataConfig::default()
        },
    )
    .expect_err("unknown");
    let msg = e.to_string();
    for name in [
        "segscope",
        "trl-stepwise",
        "prm800k",
        "math-shepherd",
        "processbench",
        "placeholder",
    ] {
        assert!(msg.contains(name), "{msg}");
    }
}

#[test]
fn json_arrays_and_gzip_read_like_jsonl() {
    let ds = read("array.json");
    assert_eq!((ds.format.as_str(), ds.docs.len()), ("trl-stepwise", 2));
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["trl_stepwise.jsonl", "array.json"] {
        let gz = dir.path().join(format!("{name}.gz"));
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).expect("create"),
            flate2::Compression::default(),
        );
        enc.write_all(&std::fs::read(fixture(name)).expect("fixture"))
            .expect("write");
        enc.finish().expect("finish");
        let (zipped, _) = read_file(&gz, &ReadOptions::default()).expect("gz");
        let plain = read(name);
        assert_eq!(zipped.docs.len(), plain.docs.len(), "{name}");
        assert_eq!(zipped.segments, plain.segments, "{name}");
    }
    // A record of an array is named by its number.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"[{"completions": ["a"], "labels": [true]}, {"completions": ["a"], "labels": []}]"#,
    )
    .expect("write");
    let msg = read_file(&bad, &ReadOptions::default())
        .expect_err("bad record")
        .to_string();
    assert!(msg.contains("record 2") && msg.contains("labels"), "{msg}");
}

#[test]
fn context_only_segments_and_embeddings_are_read_and_checked() {
    let ds = read("context_and_embeddings.jsonl");
    assert_eq!(ds.segments[1].score, None);
    let e = ds.embeddings.as_ref().expect("embeddings");
    assert_eq!((e.dim, e.row(2)), (3, &[1.0f32, 2.0, 3.0][..]));
    let dir = tempfile::tempdir().expect("tempdir");
    for (text, field) in [
        (
            "{\"segments\": [{\"text\": \"a\", \"score\": 1, \"embedding\": [1, 2]}]}\n{\"segments\": [{\"text\": \"b\", \"score\": 1, \"embedding\": [1]}]}",
            "segments[0].embedding",
        ),
        (
            "{\"segments\": [{\"text\": \"a\", \"score\": 1, \"embedding\": [1, 2]}]}\n{\"segments\": [{\"text\": \"b\", \"score\": 1}]}",
            "segments[0].embedding",
        ),
        (
            "{\"segments\": [{\"text\": \"a\", \"score\": 1, \"embedding\": [1, \"x\"]}]}",
            "segments[0].embedding[1]",
        ),
    ] {
        let p = dir.path().join("e.jsonl");
        std::fs::write(&p, text).expect("write");
        match read_file(&p, &ReadOptions::default()) {
            Err(DataError::Line { field: f, .. }) => assert_eq!(f, field, "{text}"),
            other => panic!("expected an error at {field}, got {other:?}"),
        }
    }
}

#[test]
fn convert_writes_native_jsonl_that_reads_back_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in [
        "trl_stepwise.jsonl",
        "prm800k.jsonl",
        "math_shepherd.jsonl",
        "processbench.jsonl",
        "context_and_embeddings.jsonl",
    ] {
        let out = dir.path().join(format!("{name}.out.jsonl"));
        let o = Command::new(env!("CARGO_BIN_EXE_segscope"))
            .args(["convert", &fixture(name).display().to_string(), "--out"])
            .arg(&out)
            .output()
            .expect("run");
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stderr).contains("documents"));
        let (back, _) = read_file(&out, &ReadOptions::default()).expect("native");
        let orig = read(name);
        assert_eq!(back.format, "segscope");
        assert_eq!(back.docs.len(), orig.docs.len(), "{name}");
        for (a, b) in back.segments.iter().zip(&orig.segments) {
            assert_eq!(
                (&a.text, a.score, &a.tags, &a.labels),
                (&b.text, b.score, &b.tags, &b.labels),
                "{name}"
            );
        }
        for (a, b) in back.docs.iter().zip(&orig.docs) {
            assert_eq!(
                (&a.id, &a.prompt, &a.meta),
                (&b.id, &b.prompt, &b.meta),
                "{name}"
            );
        }
        assert_eq!(back.embeddings, orig.embeddings, "{name}");
    }
    // The formats command lists every format.
    let o = Command::new(env!("CARGO_BIN_EXE_segscope"))
        .arg("formats")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        text.lines().count(),
        segscope::data::formats::FORMATS.len(),
        "{text}"
    );
}

#[test]
fn real_world_files_load_or_fail_naming_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = "{\"id\": \"a\", \"segments\": [{\"text\": \"x\", \"score\": 1}]}";
    let read = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        read_file(&p, &ReadOptions::default())
    };
    // A byte-order mark and CRLF line ends load.
    let text = format!("\u{feff}{good}\r\n{}\r\n", good.replace("\"a\"", "\"b\""));
    let (ds, _) = read("bom.jsonl", text.as_bytes()).expect("BOM and CRLF");
    assert_eq!(ds.docs.len(), 2);
    // Invalid UTF-8 on line 3 names line 3.
    let mut bytes = format!("{good}\n{}\n", good.replace("\"a\"", "\"b\"")).into_bytes();
    bytes.extend_from_slice(b"{\"segments\": [{\"text\": \"caf\xe9\", \"score\": 1}]}\n");
    match read("latin1.jsonl", &bytes) {
        Err(e @ DataError::Line { line: 3, .. }) => assert!(e.to_string().contains("UTF-8"), "{e}"),
        other => panic!("expected line 3, got {other:?}"),
    }
    // A lone surrogate escape, and a duplicate key, name their line (and the key).
    let lone = format!("{good}\n{{\"segments\": [{{\"text\": \"\\ud800\", \"score\": 1}}]}}\n");
    let e = read("lone.jsonl", lone.as_bytes()).expect_err("lone surrogate");
    assert!(matches!(e, DataError::Line { line: 2, .. }), "{e}");
    assert!(e.to_string().contains("column"), "{e}");
    let dup = "{\"segments\": [{\"text\": \"x\", \"score\": 1, \"score\": -1}]}\n";
    let e = read("dup.jsonl", dup.as_bytes()).expect_err("duplicate key");
    let msg = e.to_string();
    assert!(
        msg.contains(":1:") && msg.contains("segments[0].score") && msg.contains("twice"),
        "{msg}"
    );
    // A JSON error says the column within the line, without serde's "line 1".
    let e = read(
        "syntax.jsonl",
        format!("{good}\n{{\"segments\": [}}\n").as_bytes(),
    )
    .expect_err("syntax");
    let msg = e.to_string();
    assert!(msg.contains(":2: not valid JSON at column"), "{msg}");
    assert!(
        !msg.contains("line 1 column") && !msg.contains("(line)"),
        "{msg}"
    );
}

/// Per document id, its labelled steps as (text, correct?), in order; context steps after the last
/// labelled one are left out (the stepwise formats have no place for them).
fn labelled_steps(
    ds: &Dataset,
    correct: impl Fn(f32) -> bool,
) -> Vec<(String, Vec<(String, bool)>)> {
    ds.docs
        .iter()
        .map(|d| {
            let steps = ds.segments[d.segments.clone()]
                .iter()
                .filter_map(|s| s.score.map(|v| (s.text.clone(), correct(v))))
                .collect();
            (d.id.clone(), steps)
        })
        .collect()
}

#[test]
fn convert_to_trl_stepwise_and_back_keeps_every_labelled_step_of_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("placeholder.toml");
    std::fs::write(
        &cfg,
        "[data]\ninput_key = \"query\"\nlabel_key = \"value\"\nplaceholder = \"<step>\"\n",
    )
    .expect("write");
    let placeholder = DataConfig {
        input_key: "query".into(),
        label_key: "value".into(),
        placeholder: "<step>".into(),
        ..DataConfig::default()
    };
    // (fixture, its reading config, --threshold for labels that are not two classes)
    let cases: Vec<(&str, DataConfig, Option<f32>)> = vec![
        ("trl_stepwise.jsonl", DataConfig::default(), Some(0.5)),
        ("math_shepherd.jsonl", DataConfig::default(), None),
        ("processbench.jsonl", DataConfig::default(), None),
        ("placeholder.jsonl", placeholder, None),
        ("prm800k.jsonl", DataConfig::default(), Some(0.5)),
    ];
    for (name, data, threshold) in cases {
        let original = read_with(name, data.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        for to in ["trl-stepwise", "math-shepherd"] {
            let out = dir.path().join(format!("{name}.{to}.jsonl"));
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_segscope"));
            cmd.arg("convert")
                .arg(fixture(name))
                .args(["--to", to, "--out"])
                .arg(&out);
            if let Some(t) = threshold {
                cmd.args(["--threshold", &t.to_string()]);
            }
            if name == "placeholder.jsonl" {
                cmd.arg("--config").arg(&cfg);
            }
            let o = cmd.output().expect("run");
            assert!(
                o.status.success(),
                "{name} --to {to}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let (back, _) = read_file(&out, &ReadOptions::default()).expect("read back");
            assert_eq!(back.format, to, "{name}: read back as {to}");
            let kind = segscope::labels::LabelKind::detect(&original);
            let want = labelled_steps(&original, |v| match threshold {
                Some(t) => v >= t,
                None => kind.is_high(v),
            });
            let mut got = labelled_steps(&back, |v| v >= 0.5);
            if to == "math-shepherd" {
                // Math-Shepherd's reader takes the question to be the text before `Step 1`, so a
                // step written without that prefix gets it.
                for (_, steps) in &mut got {
                    for (k, (text, _)) in steps.iter_mut().enumerate() {
                        let prefix = format!("Step {}: ", k + 1);
                        let original_has_it = want.iter().any(|(_, s)| {
                            s.get(k)
                                .is_some_and(|(t, _)| t.starts_with(&format!("Step {}", k + 1)))
                        });
                        if !original_has_it && let Some(rest) = text.strip_prefix(&prefix) {
                            *text = rest.to_string();
                        }
                    }
                }
            }
            assert_eq!(got, want, "{name} through {to}");
        }
    }
    // What the format cannot hold is an error naming the segment.
    let o = Command::new(env!("CARGO_BIN_EXE_segscope"))
        .arg("convert")
        .arg(fixture("prm800k.jsonl"))
        .args(["--to", "trl-stepwise", "--out"])
        .arg(dir.path().join("x.jsonl"))
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--threshold"));
    assert!(!dir.path().join("x.jsonl").exists(), "nothing half-written");
}

#[test]
fn edited_data_goes_back_out_in_the_format_it_came_in() {
    use segscope::data::edits::Edits;
    use segscope::data::formats::out::{self, OutFormat};
    let ds = read("math_shepherd.jsonl");
    assert_eq!(out::same_as(&ds.format), OutFormat::MathShepherd);
    assert_eq!(out::same_as("processbench"), OutFormat::Segscope);
    let part = segscope::data::Partition::new(&ds, 0.0);
    let dir = tempfile::tempdir().expect("tempdir");
    let e = dir.path().join("e.jsonl");
    let (first, second) = (ds.segment_id(0), ds.segment_id(1));
    std::fs::write(
        &e,
        format!(
            "{{\"id\": \"{first}\", \"action\": \"target\", \"value\": 0}}\n{{\"id\": \"{second}\", \"action\": \"exclude\"}}\n"
        ),
    )
    .expect("write");
    let edits = Edits::read(&e, &ds, &part).expect("edits");
    let e = out::edited(&ds, &edits);
    assert_eq!(e.other_weights, 0);
    assert!(e.excluded[1]);
    let mut buf = Vec::new();
    out::write(
        &e.data,
        out::same_as(&ds.format),
        None,
        &e.excluded,
        &mut buf,
    )
    .expect("write");
    let p = dir.path().join("back.jsonl");
    std::fs::write(&p, &buf).expect("write");
    let (back, _) = read_file(&p, &ReadOptions::default()).expect("read back");
    assert_eq!(back.format, "math-shepherd");
    // The new target is there, and the excluded step is left out.
    assert_eq!(back.segments[0].score, Some(0.0));
    assert_eq!(back.docs[0].segments.len(), 1, "{:?}", doc(&back, 0));
}

#[test]
fn an_excluded_step_in_the_middle_is_kept_as_context_or_the_export_refused() {
    use segscope::data::edits::Edits;
    use segscope::data::formats::out::{self, OutFormat};
    let ds = read("trl_stepwise.jsonl");
    let part = segscope::data::Partition::new(&ds, 0.0);
    let dir = tempfile::tempdir().expect("tempdir");
    let e = dir.path().join("e.jsonl");
    // The first document's middle step of three.
    std::fs::write(
        &e,
        format!(
            "{{\"id\": \"{}\", \"action\": \"exclude\"}}\n",
            ds.segment_id(1)
        ),
    )
    .expect("write");
    let edited = out::edited(&ds, &Edits::read(&e, &ds, &part).expect("edits"));
    // The stepwise formats have no unlabelled step between labelled ones: leaving it out would
    // export another, shorter solution, so the export is refused, naming the step.
    for format in [OutFormat::TrlStepwise, OutFormat::MathShepherd] {
        let err = out::write(
            &edited.data,
            format,
            Some(0.5),
            &edited.excluded,
            &mut Vec::new(),
        )
        .expect_err("a middle exclusion is refused")
        .to_string();
        assert!(err.contains(&ds.segment_id(1)), "{format:?}: {err}");
        assert!(err.contains("inside a solution"), "{format:?}: {err}");
    }
    // segscope's format keeps it, as context: the solution is whole.
    let mut buf = Vec::new();
    out::write(
        &edited.data,
        OutFormat::Segscope,
        None,
        &edited.excluded,
        &mut buf,
    )
    .expect("segscope keeps it");
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&buf)
            .lines()
            .next()
            .expect("a line"),
    )
    .expect("json");
    let segs = first["segments"].as_array().expect("segments");
    assert_eq!(segs.len(), 3, "{first}");
    assert!(segs[1]["score"].is_null(), "{first}");
    assert_eq!(segs[1]["text"], ds.segments[1].text.as_str());
    // Without the exclusion list the same data has an unlabelled step in the middle: an error
    // naming it.
    let err = out::write(
        &edited.data,
        OutFormat::TrlStepwise,
        Some(0.5),
        &[],
        &mut Vec::new(),
    )
    .expect_err("a context step before labelled ones")
    .to_string();
    assert!(err.contains(&ds.segment_id(1)), "{err}");
}
