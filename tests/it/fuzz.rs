//! Seeded mutation tests: random and mutated input to every reader and importer, the config and
//! keymap parsers, and the stream reader. Nothing may panic, and every error about a line names
//! it. The suite runs 10,000 cases; `SEGSCOPE_FUZZ_CASES=1000000 cargo test --release --test fuzz`
//! runs more (a million took 23 s here).

use std::collections::BTreeMap;
use std::path::Path;

use segscope::app::Keymap;
use segscope::config::{Config, DataConfig};
use segscope::data::formats::{FORMATS, utf8};
use segscope::data::hash::Rng;
use segscope::data::{DataError, ReadOptions, parse_str};
use segscope::stream::StreamState;

/// Cases per test: the suite's four tests run 10,000 together by default.
fn cases(share: usize) -> usize {
    std::env::var("SEGSCOPE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(share, |n| n * share / 10_000)
}

const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "null",
    "true",
    "1e999",
    "-0",
    "\\ud800",
    "\\u0000",
    "\n",
    "\r\n",
    "\u{feff}",
    "ки",
    "+",
    "-",
    "\"score\": 1",
    "\"segments\": []",
    "\"text\": \"\"",
    "\"labels\": [true]",
    "\"completions\": [\"a\"]",
    "\"step\": 3",
    "\"format\": \"segscope.stream\"",
    "\"version\": 2",
    "é",
    "\\",
    "9999999999999999999999",
    "\"id\": \"a\"",
];

/// A mutation of `seed_text`: byte flips, inserted JSON pieces, deleted and repeated spans.
fn mutate(rng: &mut Rng, seed_text: &[u8]) -> Vec<u8> {
    let mut b = seed_text.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = if b.is_empty() {
            0
        } else {
            rng.below(b.len() + 1)
        };
        match rng.below(6) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.below(256) as u8;
            }
            1 => {
                let p = PIECES[rng.below(PIECES.len())].as_bytes();
                b.splice(at..at, p.iter().copied());
            }
            2 if !b.is_empty() => {
                let end = (at + rng.below(40)).min(b.len());
                b.drain(at.min(end)..end);
            }
            3 if !b.is_empty() => {
                let end = (at + rng.below(60)).min(b.len());
                let span = b[at.min(end)..end].to_vec();
                b.splice(at..at, span);
            }
            4 => b.truncate(at),
            _ => {
                let n = rng.below(30);
                b.splice(at..at, (0..n).map(|_| rng.below(128) as u8));
            }
        }
    }
    b
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

/// Checks a reading error: one about a line or record names it.
fn check(e: &DataError, text: &[u8]) {
    match e {
        DataError::Line { line, .. } => {
            let lines = text.iter().filter(|&&c| c == b'\n').count() + 1;
            assert!(*line >= 1 && *line <= lines, "line {line} of {lines}: {e}");
        }
        DataError::Record { record, .. } => assert!(*record >= 1, "{e}"),
        DataError::Empty { .. } | DataError::NothingLeft { .. } => {}
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn readers_and_importers_never_panic_and_name_the_line() {
    let bundled: Vec<u8> = segscope::data::BUNDLED_JSONL
        .lines()
        .take(3)
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    let seeds = [
        bundled,
        fixture("trl_stepwise.jsonl"),
        fixture("prm800k.jsonl"),
        fixture("math_shepherd.jsonl"),
        fixture("processbench.jsonl"),
        fixture("placeholder.jsonl"),
        fixture("array.json"),
        fixture("context_and_embeddings.jsonl"),
    ];
    let mut rng = Rng::new(20_261_129);
    let n = cases(6_000);
    for case in 0..n {
        let seed = &seeds[case % seeds.len()];
        let bytes = mutate(&mut rng, seed);
        // Every format, forced, and the sniffed one; lenient and not.
        let format = match rng.below(FORMATS.len() + 1) {
            0 => String::new(),
            k => FORMATS[k - 1].name().to_string(),
        };
        let opts = ReadOptions {
            lenient: rng.below(2) == 0,
            data: DataConfig {
                format,
                ..DataConfig::default()
            },
        };
        let name = if case % 7 == 0 { "f.json" } else { "f.jsonl" };
        let result = utf8(bytes.clone(), name).and_then(|t| parse_str(&t, name, &opts));
        match result {
            Ok((ds, _)) => assert!(!ds.docs.is_empty()),
            Err(e) => check(&e, &bytes),
        }
    }
}

#[test]
fn the_config_and_keymap_parsers_never_panic() {
    let text = include_str!("../../config.toml").as_bytes();
    let mut rng = Rng::new(7);
    for _ in 0..cases(2_000) {
        let bytes = mutate(&mut rng, text);
        let t = String::from_utf8_lossy(&bytes);
        if let Err(e) = Config::from_toml(&t, "c.toml") {
            assert!(e.to_string().starts_with("c.toml"), "{e}");
        }
    }
    let keys = [
        "space", "q", "ctrl-c", "S", "enter", "f1", "+", "", "ctrl-", "é", "pgup", "x",
    ];
    let actions = [
        "step",
        "quit",
        "sort",
        "nope",
        "help",
        "context",
        "restore_best",
    ];
    for _ in 0..cases(1_000) {
        let mut o: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for _ in 0..rng.below(4) {
            let a = actions[rng.below(actions.len())].to_string();
            let ks = (0..rng.below(3))
                .map(|_| {
                    let k = keys[rng.below(keys.len())];
                    let junk =
                        String::from_utf8_lossy(&mutate(&mut rng, k.as_bytes())).into_owned();
                    if rng.below(4) == 0 {
                        junk
                    } else {
                        k.to_string()
                    }
                })
                .collect();
            o.insert(a, ks);
        }
        if let Ok(km) = Keymap::with_overrides(&o) {
            assert!(!km.help().is_empty());
        }
    }
}

#[test]
fn the_stream_reader_never_panics() {
    let header = r#"{"format": "segscope.stream", "version": 1, "run": "f"}"#;
    let segs = "{\"id\": \"a:0\", \"doc\": \"a\", \"split\": \"train\", \"text\": \"one\", \"target\": 1.0}\n{\"id\": \"b:0\", \"doc\": \"b\", \"split\": \"dev\", \"text\": \"two\", \"target\": 0.5}";
    let step = r#"{"step": 1, "predictions": [0.5, 0.25], "loss": {"train": 0.1}}"#;
    let text = format!("{header}\n{segs}\n{step}\n{}\n", step.replace("1,", "2,"));
    let mut rng = Rng::new(11);
    for _ in 0..cases(1_000) {
        let bytes = mutate(&mut rng, text.as_bytes());
        let t = String::from_utf8_lossy(&bytes);
        let mut st = StreamState::new("f");
        for line in t.lines() {
            if let Err(e) = st.push(line) {
                // Only a header of another format or version stops a stream.
                let m = e.to_string();
                assert!(m.contains("version") || m.contains("format"), "{m}");
                break;
            }
        }
        for w in &st.warnings {
            assert!(w.starts_with("f:"), "warnings name their line: {w}");
        }
    }
}
