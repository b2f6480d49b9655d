//! Finding wrong labels: label kinds, the label-issue score on planted noise (bundled and real
//! ProcessBench data), the audit's canaries, and the command line of `crossfit` and `audit`.

use std::process::Command;
use std::sync::Arc;

use segscope::config::Config;
use segscope::data::hash::Rng;
use segscope::data::{self, Dataset, ReadOptions, features::featurize, parse_str};
use segscope::labels::crossfit::{Crossfit, Learner, Options};
use segscope::labels::{LabelInfo, LabelKind, average_precision};

const PROCESSBENCH: &str = "../shared/data/processbench-gsm8k.json";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_segscope"))
}

fn parse(jsonl: &str) -> Dataset {
    parse_str(jsonl, "test", &ReadOptions::default())
        .expect("parse")
        .0
}

fn processbench() -> Dataset {
    let opts = ReadOptions::default();
    data::read_file(std::path::Path::new(PROCESSBENCH), &opts)
        .expect("../shared/data/processbench-gsm8k.json")
        .0
}

fn crossfit(ds: &Arc<Dataset>, cfg: &Config) -> Crossfit {
    let info = LabelInfo::of(ds, cfg).expect("labels");
    let f = featurize(ds, &cfg.features);
    let opts = Options {
        folds: 5,
        max_steps: 0,
        patience: u64::MAX,
        learner: Learner::Linear,
        seed: cfg.seed,
        repeats: 3,
        judges: Default::default(),
    };
    segscope::labels::crossfit::run(ds, &f, cfg, info, &opts, |_| {}).expect("crossfit")
}

/// Flips `share` of the labelled segments (binary: the other class; continuous: the sign), and
/// says which.
fn flip(ds: &Dataset, share: f64, seed: u64) -> (Dataset, Vec<bool>) {
    let mut rng = Rng::new(seed);
    let mut out = ds.clone();
    let mut planted = vec![false; ds.segments.len()];
    let kind = LabelKind::detect(ds);
    for (i, s) in out.segments.iter_mut().enumerate() {
        if let Some(v) = s.score
            && rng.chance(share)
        {
            s.score = Some(match kind {
                LabelKind::Binary { lo, hi } => lo + hi - v,
                _ => -v,
            });
            planted[i] = true;
        }
    }
    (out, planted)
}

/// Average precision of the label score, and of |out-of-fold residual|, at finding `planted`.
fn aps(ds: &Dataset, cf: &Crossfit, planted: &[bool]) -> (f64, f64) {
    let labelled: Vec<usize> = (0..ds.segments.len())
        .filter(|&i| ds.segments[i].score.is_some())
        .collect();
    let pos: Vec<bool> = labelled.iter().map(|&i| planted[i]).collect();
    let score: Vec<f32> = labelled.iter().map(|&i| cf.scores[i].score).collect();
    let resid: Vec<f32> = labelled
        .iter()
        .map(|&i| cf.segments[i].residual.abs())
        .collect();
    (
        average_precision(&score, &pos),
        average_precision(&resid, &pos),
    )
}

#[test]
fn label_kinds_are_detected() {
    let doc = |scores: &[&str]| {
        let segs: Vec<String> = scores
            .iter()
            .enumerate()
            .map(|(k, s)| format!(r#"{{"text": "step {k}", "score": {s}}}"#))
            .collect();
        parse(&format!(
            r#"{{"id": "a", "segments": [{}]}}"#,
            segs.join(",")
        ))
    };
    assert_eq!(
        LabelKind::detect(&doc(&["0", "1", "1"])),
        LabelKind::Binary { lo: 0.0, hi: 1.0 }
    );
    assert_eq!(
        LabelKind::detect(&doc(&["-1", "1", "1"])),
        LabelKind::Binary { lo: -1.0, hi: 1.0 }
    );
    assert!(matches!(
        LabelKind::detect(&doc(&["-1", "0", "1"])),
        LabelKind::Ordinal { levels: 3, .. }
    ));
    let soft: Vec<String> = (0..20).map(|k| format!("{}", k as f32 / 19.0)).collect();
    let soft: Vec<&str> = soft.iter().map(String::as_str).collect();
    assert!(matches!(
        LabelKind::detect(&doc(&soft)),
        LabelKind::Bounded { .. }
    ));
    let (bundled, _) = data::load(None, &ReadOptions::default()).expect("bundled");
    assert_eq!(LabelKind::detect(&bundled), LabelKind::Continuous);

    // ProcessBench: binary, first-error by its importer.
    let pb = processbench();
    let info = LabelInfo::of(&pb, &Config::default()).expect("labels");
    assert_eq!(info.kind, LabelKind::Binary { lo: 0.0, hi: 1.0 });
    assert!(info.first_error);
    // The same layout in segscope's own format, labels flipped: still first-error.
    let (noisy, _) = flip(&pb, 0.05, 3);
    let mut as_segscope = noisy.clone();
    as_segscope.format = "segscope".into();
    assert!(
        LabelInfo::of(&as_segscope, &Config::default())
            .expect("labels")
            .first_error
    );
    // A labelled step after a context step: not first-error.
    let gap = parse(
        r#"{"id": "a", "segments": [{"text": "a", "score": 1}, {"text": "b", "score": null}, {"text": "c", "score": 0}]}"#,
    );
    assert!(
        !LabelInfo::of(&gap, &Config::default())
            .expect("labels")
            .first_error
    );

    // Overrides, and their errors naming the field.
    let mut cfg = Config::default();
    cfg.data.first_error = "no".into();
    assert!(!LabelInfo::of(&pb, &cfg).expect("labels").first_error);
    cfg.data.label_kind = "binary".into();
    let e = LabelInfo::of(&bundled, &cfg).expect_err("continuous is not binary");
    assert!(
        matches!(e, segscope::labels::LabelKindError::NotBinary { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("data.label_kind"), "{e}");
    cfg.data.label_kind = "continuous".into();
    cfg.data.first_error = "yes".into();
    let e = LabelInfo::of(&pb, &cfg).expect_err("first-error needs binary");
    assert!(e.to_string().contains("data.first_error"), "{e}");
}

#[test]
fn the_score_beats_the_residual_on_planted_flips_in_the_bundled_data() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled");
    let cfg = Config::default();
    let (noisy, planted) = flip(&ds, 0.05, 11);
    let noisy = Arc::new(noisy);
    let cf = crossfit(&noisy, &cfg);
    let (score, residual) = aps(&noisy, &cf, &planted);
    eprintln!("bundled, 5% sign flips: AP label_score {score:.3}, |residual| {residual:.3}");
    // Measured 0.36 against 0.34: the floor fails if the score is no better than |residual|.
    assert!(score > residual + 0.005, "{score} vs {residual}");
    assert!(score > 0.3, "{score}");
}

#[test]
fn the_document_posterior_finds_flips_in_real_first_error_data() {
    let ds = processbench();
    let cfg = Config::default();
    let (noisy, planted) = flip(&ds, 0.05, 5);
    let noisy = Arc::new(noisy);
    let cf = crossfit(&noisy, &cfg);
    let (score, residual) = aps(&noisy, &cf, &planted);
    eprintln!("ProcessBench, 5% flips: AP label_score {score:.3}, |residual| {residual:.3}");
    // Measured about 0.96 against 0.35.
    assert!(
        score > 0.8 && score > 2.0 * residual,
        "{score} vs {residual}"
    );
    // Context steps are predicted too.
    assert!(cf.predictions.iter().all(|p| p.is_finite()));
    let context = (0..noisy.segments.len())
        .filter(|&i| noisy.segments[i].score.is_none())
        .count();
    assert!(context > 0);
}

/// Moves the first error of `share` of the documents that have one by 1 or 2 steps, earlier or
/// later (right before it, wrong at it, unlabelled after), and says which labels changed (a step
/// newly labelled counts).
fn move_first_errors(ds: &Dataset, share: f64, seed: u64) -> (Dataset, Vec<bool>) {
    let mut rng = Rng::new(seed);
    let mut out = ds.clone();
    let mut planted = vec![false; ds.segments.len()];
    for d in &ds.docs {
        let r = d.segments.clone();
        let Some(e) = ds.segments[r.clone()]
            .iter()
            .position(|s| s.score == Some(0.0))
        else {
            continue;
        };
        let n = r.len();
        let moves: Vec<usize> = [e.wrapping_sub(2), e.wrapping_sub(1), e + 1, e + 2]
            .into_iter()
            .filter(|&m| m < n)
            .collect();
        if moves.is_empty() || !rng.chance(share) {
            continue;
        }
        let e2 = *rng.pick(&moves);
        for k in 0..n {
            let y = match k.cmp(&e2) {
                std::cmp::Ordering::Less => Some(1.0),
                std::cmp::Ordering::Equal => Some(0.0),
                std::cmp::Ordering::Greater => None,
            };
            let i = r.start + k;
            planted[i] = y.is_some() && y != ds.segments[i].score;
            out.segments[i].score = y;
        }
    }
    (out, planted)
}

#[test]
fn a_misplaced_first_error_is_found_in_real_first_error_data() {
    let ds = processbench();
    let cfg = Config::default();
    let (noisy, planted) = move_first_errors(&ds, 0.1, 3);
    assert!(planted.iter().filter(|&&p| p).count() >= 10);
    let noisy = Arc::new(noisy);
    let cf = crossfit(&noisy, &cfg);
    let (score, residual) = aps(&noisy, &cf, &planted);
    // The same predictions read without the misplaced-first-error part of the posterior.
    let info = LabelInfo::of(&noisy, &cfg).expect("labels");
    let LabelKind::Binary { lo, hi } = info.kind else {
        panic!("binary labels")
    };
    let mut plain = vec![f32::NAN; noisy.segments.len()];
    for d in &noisy.docs {
        let r = d.segments.clone();
        let p: Vec<f64> = cf.predictions[r.clone()]
            .iter()
            .map(|&x| segscope::labels::score::probability(x, lo, hi))
            .collect();
        let labels: Vec<Option<bool>> = noisy.segments[r.clone()]
            .iter()
            .map(|s| s.score.map(|v| info.kind.is_high(v)))
            .collect();
        let w = segscope::labels::score::first_error_posterior(
            &p,
            &labels,
            &segscope::labels::score::Annotator::steps(
                segscope::labels::score::FIRST_ERROR_NOISE,
                0.0,
            ),
        );
        for (k, w) in w.into_iter().enumerate() {
            if let Some(w) = w {
                plain[r.start + k] = w as f32;
            }
        }
    }
    let labelled: Vec<usize> = (0..noisy.segments.len())
        .filter(|&i| noisy.segments[i].score.is_some())
        .collect();
    let pos: Vec<bool> = labelled.iter().map(|&i| planted[i]).collect();
    let without: Vec<f32> = labelled.iter().map(|&i| plain[i]).collect();
    let without = average_precision(&without, &pos);
    eprintln!(
        "ProcessBench, 10% moved first errors: AP label_score {score:.3}, without the shift \
         {without:.3}, |residual| {residual:.3}"
    );
    // Measured 0.284, 0.072 without the shift, 0.237 for |residual|: the misplaced first error
    // is what finds them, and the score ranks them above the residual.
    assert!(score > without + 0.1, "{score} vs {without}");
    assert!(score > residual + 0.02, "{score} vs {residual}");
}

#[test]
fn crossfit_and_audit_write_scores_flags_and_no_canary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("oof.csv");
    let o = bin()
        .args(["audit", "--data", PROCESSBENCH, "--out"])
        .arg(&out)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("labels: binary 0/1, first-error"), "{err}");
    assert!(err.contains("audit:"), "{err}");
    let text = std::fs::read_to_string(&out).expect("report");
    let header = text.lines().next().expect("header");
    for col in [
        "label_score",
        "label_model",
        "label_document",
        "label_issue",
    ] {
        assert!(header.split(',').any(|c| c == col), "{header}");
    }
    // No canary in the output: every row's target is the data's own.
    let ds = processbench();
    let targets: std::collections::HashMap<String, f32> = (0..ds.segments.len())
        .filter(|&i| ds.segments[i].score.is_some())
        .map(|i| (ds.segment_id(i), ds.target(i)))
        .collect();
    let mut rows = csv::Reader::from_path(&out).expect("csv");
    let mut n = 0;
    for r in rows.deserialize::<std::collections::HashMap<String, String>>() {
        let r = r.expect("row");
        let t: f32 = r["target"].parse().expect("target");
        assert_eq!(Some(&t), targets.get(&r["id"]), "{}", r["id"]);
        n += 1;
    }
    assert_eq!(n, targets.len());
    // The audit's figures, and nothing per segment.
    let mut audit = out.clone().into_os_string();
    audit.push(".audit.json");
    let a: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&audit).expect("audit")).expect("json");
    for key in [
        "canaries",
        "average_precision",
        "threshold",
        "precision",
        "recall",
    ] {
        assert!(a.get(key).is_some(), "{a}");
    }
    assert!(!a.to_string().contains("gsm8k-"), "{a}");
}

#[test]
fn crossfit_refuses_what_does_not_apply() {
    let o = bin()
        .args(["crossfit", "--steps", "5", "--out", "/dev/null"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--learner mlp"));
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[data]\nlabel_kind = \"binary\"\n").expect("write");
    let o = bin()
        .args(["crossfit", "--out"])
        .arg(dir.path().join("o.csv"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("data.label_kind"));
}

#[test]
fn an_ordinary_runs_report_scores_labels_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("r.csv");
    let o = bin()
        .args([
            "--headless",
            "--steps",
            "40",
            "--data",
            PROCESSBENCH,
            "--report",
        ])
        .arg(&report)
        .arg("--out")
        .arg(dir.path().join("run.jsonl"))
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut rows = csv::Reader::from_path(&report).expect("csv");
    let (mut scored, mut context) = (0, 0);
    for r in rows.deserialize::<std::collections::HashMap<String, String>>() {
        let r = r.expect("row");
        let score = &r["label_score"];
        if r["target"].is_empty() {
            // Context steps have no label to score.
            assert_eq!(score, "NaN", "{r:?}");
            assert_eq!(r["label_issue"], "false");
            context += 1;
        } else {
            let s: f32 = score.parse().expect("a score");
            assert!((0.0..=1.0).contains(&s), "{s}");
            scored += 1;
        }
    }
    assert!(scored > 1000 && context > 0, "{scored} {context}");
}

#[test]
fn watch_reads_the_objective_and_computes_the_metrics_binary_labels_want() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stream = dir.path().join("s.jsonl");
    let seg = |id: &str, doc: &str, index: usize, split: &str, target: f32| {
        format!(
            r#"{{"id": "{id}", "doc": "{doc}", "index": {index}, "split": "{split}", "text": "step {id}", "target": {target}}}"#
        )
    };
    // Train: targets 1, 0, 1, 0 with probabilities 0.9, 0.2, 0.4, 0.6: positive pairs won 3 of
    // 4 (0.9 beats both negatives, 0.4 beats 0.2 only), AUROC 0.75.
    let lines = [
        r#"{"format": "segscope.stream", "version": 1, "run": "prm", "objective": "bce", "probabilities": true}"#.to_string(),
        seg("a:0", "a", 0, "train", 1.0),
        seg("a:1", "a", 1, "train", 0.0),
        seg("b:0", "b", 0, "train", 1.0),
        seg("b:1", "b", 1, "train", 0.0),
        r#"{"step": 1, "predictions": [0.9, 0.2, 0.4, 0.6]}"#.to_string(),
    ];
    std::fs::write(&stream, lines.join("\n") + "\n").expect("write");
    let o = bin()
        .arg("watch")
        .arg(&stream)
        .arg("--headless")
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["objective"], "bce");
    assert_eq!(v["probabilities"], true);
    let m = &v["label_metrics"];
    assert!(
        (m["auroc"][0].as_f64().expect("auroc") - 0.75).abs() < 1e-9,
        "{v}"
    );
    // Brier: (0.01 + 0.04 + 0.36 + 0.36) / 4.
    assert!(
        (m["brier"][0].as_f64().expect("brier") - 0.1925).abs() < 1e-6,
        "{v}"
    );
    let ll = -(0.9f64.ln() + 0.8f64.ln() + 0.4f64.ln() + 0.4f64.ln()) / 4.0;
    assert!(
        (m["log_loss"][0].as_f64().expect("log loss") - ll).abs() < 1e-6,
        "{v}"
    );
    // A stream without the fields reads as before.
    let old = lines[0].replace(r#", "objective": "bce", "probabilities": true"#, "");
    let mut plain = lines.clone();
    plain[0] = old;
    std::fs::write(&stream, plain.join("\n") + "\n").expect("write");
    let o = bin()
        .arg("watch")
        .arg(&stream)
        .arg("--headless")
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(
        v["objective"].is_null() && v["probabilities"] == false,
        "{v}"
    );
}

/// The noise annotators of first-error data make, in `share` of the documents: a first error
/// moved 1 or 2 steps (two in three) or missed (one in three); in a right solution, one
/// invented at a random step. Returns the noisy copy and the labels that differ.
fn annotator_noise(ds: &Dataset, share: f64, seed: u64) -> (Dataset, Vec<bool>) {
    let mut rng = Rng::new(seed);
    let mut out = ds.clone();
    let mut planted = vec![false; ds.segments.len()];
    for d in &ds.docs {
        if !rng.chance(share) {
            continue;
        }
        let r = d.segments.clone();
        let n = r.len();
        let e = ds.segments[r.clone()]
            .iter()
            .position(|s| s.score == Some(0.0));
        let e2: Option<usize> = match e {
            None => Some((rng.unit() * n as f64) as usize % n),
            Some(e) => {
                let moves: Vec<usize> = [e.wrapping_sub(2), e.wrapping_sub(1), e + 1, e + 2]
                    .into_iter()
                    .filter(|&m| m < n)
                    .collect();
                if moves.is_empty() || rng.chance(1.0 / 3.0) {
                    None
                } else {
                    Some(*rng.pick(&moves))
                }
            }
        };
        for k in 0..n {
            let y = match e2.map(|e2| k.cmp(&e2)) {
                None | Some(std::cmp::Ordering::Less) => Some(1.0),
                Some(std::cmp::Ordering::Equal) => Some(0.0),
                Some(std::cmp::Ordering::Greater) => None,
            };
            let i = r.start + k;
            planted[i] = y.is_some() && y != ds.segments[i].score;
            out.segments[i].score = y;
        }
    }
    (out, planted)
}

/// AP of a per-segment ranking over the labelled segments.
fn ap_of(ds: &Dataset, scores: &[f32], planted: &[bool]) -> f64 {
    let labelled: Vec<usize> = (0..ds.segments.len())
        .filter(|&i| ds.segments[i].score.is_some())
        .collect();
    let s: Vec<f32> = labelled.iter().map(|&i| scores[i]).collect();
    let p: Vec<bool> = labelled.iter().map(|&i| planted[i]).collect();
    average_precision(&s, &p)
}

/// The label score re-read from the same evidence by an annotator model without missed and
/// invented first errors.
fn without_miss_and_invent(ds: &Dataset, cf: &Crossfit) -> Vec<f32> {
    use segscope::labels::score::{
        Annotator, FIRST_ERROR_NOISE, FIRST_ERROR_SHIFT, first_error_posterior, probability,
    };
    let LabelKind::Binary { lo, hi } = cf.labels.kind else {
        panic!("binary labels")
    };
    let mut out = vec![f32::NAN; ds.segments.len()];
    for d in &ds.docs {
        let r = d.segments.clone();
        let p: Vec<f64> = cf.evidence[r.clone()]
            .iter()
            .map(|&x| probability(x, lo, hi))
            .collect();
        let labels: Vec<Option<bool>> = ds.segments[r.clone()]
            .iter()
            .map(|s| s.score.map(|v| v > 0.5))
            .collect();
        let a = Annotator::steps(FIRST_ERROR_NOISE, FIRST_ERROR_SHIFT);
        for (k, w) in first_error_posterior(&p, &labels, &a)
            .into_iter()
            .enumerate()
        {
            if let Some(w) = w {
                out[r.start + k] = w as f32;
            }
        }
    }
    out
}

#[test]
fn missed_and_invented_first_errors_are_found_in_real_first_error_data() {
    let ds = processbench();
    let cfg = Config::default();
    // Eight noisy copies: one copy's AP swings by 0.1 with which documents were picked.
    let (mut with, mut without) = (0.0, 0.0);
    for seed in 0..8 {
        let (noisy, planted) = annotator_noise(&ds, 0.1, seed);
        assert!(planted.iter().filter(|&&p| p).count() >= 20);
        let noisy = Arc::new(noisy);
        let cf = crossfit(&noisy, &cfg);
        let scores: Vec<f32> = cf.scores.iter().map(|s| s.score).collect();
        with += ap_of(&noisy, &scores, &planted) / 8.0;
        without += ap_of(&noisy, &without_miss_and_invent(&noisy, &cf), &planted) / 8.0;
    }
    eprintln!(
        "ProcessBench, annotator noise in 10% of documents, 8 copies: mean AP {with:.3}, \
         {without:.3} without missed and invented first errors"
    );
    // Measured 0.321 against 0.253.
    assert!(with > without + 0.04, "{with} vs {without}");
}

/// A judge of `clean`'s labels: 0.9 for a right step, 0.1 for a wrong one, 0.5 for context, as
/// JSON lines.
fn judge_file(clean: &Dataset) -> String {
    (0..clean.segments.len())
        .map(|i| {
            let p = match clean.segments[i].score {
                Some(v) if v > 0.5 => 0.9,
                Some(_) => 0.1,
                None => 0.5,
            };
            format!(
                "{{\"id\": \"{}\", \"p_correct\": {p}}}\n",
                clean.segment_id(i)
            )
        })
        .collect()
}

#[test]
fn a_judge_finds_where_the_first_error_really_is() {
    let ds = processbench();
    let cfg = Config::default();
    let (noisy, planted) = annotator_noise(&ds, 0.1, 5);
    let noisy = Arc::new(noisy);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("judge.jsonl");
    std::fs::write(&path, judge_file(&ds)).expect("write");
    let judge = segscope::labels::judge::read(&path, &noisy).expect("judge");
    assert_eq!(judge.judged, noisy.segments.len());
    let info = LabelInfo::of(&noisy, &cfg).expect("labels");
    let f = featurize(&noisy, &cfg.features);
    let mut opts = Options {
        folds: 5,
        max_steps: 0,
        patience: u64::MAX,
        learner: Learner::Linear,
        seed: cfg.seed,
        repeats: 1,
        judges: Default::default(),
    };
    let alone =
        segscope::labels::crossfit::run(&noisy, &f, &cfg, info, &opts, |_| {}).expect("crossfit");
    opts.judges = Arc::new(vec![judge]);
    let judged =
        segscope::labels::crossfit::run(&noisy, &f, &cfg, info, &opts, |_| {}).expect("crossfit");
    let ap = |cf: &Crossfit| {
        let s: Vec<f32> = cf.scores.iter().map(|s| s.score).collect();
        ap_of(&noisy, &s, &planted)
    };
    let (a, j) = (ap(&alone), ap(&judged));
    eprintln!("ProcessBench, annotator noise: AP {a:.3} alone, {j:.3} with a judge");
    assert!(j > a + 0.2, "{j} vs {a}");
    // The judge's weight is learned, and the suggestions move to the clean first errors.
    let w = judged.weights.as_ref().expect("binary labels are weighed");
    let k = w
        .names
        .iter()
        .position(|n| n == "judge.jsonl")
        .expect("named");
    assert!(w.values[k] > 0.5, "{}", w.describe());
    let (mut moved, mut found) = (0, 0);
    for (d, doc) in noisy.docs.iter().enumerate() {
        let r = doc.segments.clone();
        if !planted[r.clone()].iter().any(|&p| p) {
            continue;
        }
        let clean = ds.segments[r.clone()]
            .iter()
            .position(|s| s.score == Some(0.0));
        let s = judged.suggestions[d].expect("first-error data");
        moved += 1;
        found += usize::from(s.first_error == clean);
    }
    eprintln!("suggestions at the clean first error: {found} of {moved} noisy documents");
    assert!(found * 2 > moved, "{found} of {moved}");
}

#[test]
fn judge_files_with_bad_lines_are_refused_by_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/processbench.jsonl"
    );
    for (name, text, want) in [
        (
            "unknown.jsonl",
            "{\"id\": \"gsm8k-0:0\", \"p_correct\": 0.9}\n{\"id\": \"nope:3\", \"p_correct\": 0.5}\n",
            "unknown.jsonl:2: the data has no segment `nope:3`",
        ),
        (
            "range.jsonl",
            "{\"id\": \"gsm8k-0:0\", \"p_correct\": 1.5}\n",
            "range.jsonl:1: `p_correct` of gsm8k-0:0 must be in [0, 1], found 1.5",
        ),
        (
            "noid.jsonl",
            "{\"id\": \"gsm8k-0:0\", \"p_correct\": 0.5}\n\n{\"p_correct\": 0.5}\n",
            "noid.jsonl:3: `id` is missing",
        ),
        (
            "twice.jsonl",
            "{\"id\": \"gsm8k-0:0\", \"p_correct\": 0.5}\n{\"id\": \"gsm8k-0:0\", \"p_correct\": 0.6}\n",
            "twice.jsonl:2: `gsm8k-0:0` is judged twice (first on line 1)",
        ),
        (
            "noprob.csv",
            "id,p\ngsm8k-0:0,0.5\n",
            "noprob.csv:1: no `p_correct` column",
        ),
        (
            "bad.csv",
            "id,p_correct\ngsm8k-0:0,high\n",
            "bad.csv:2: `p_correct` is not a number: \"high\"",
        ),
    ] {
        std::fs::write(dir.path().join(name), text).expect("write");
        let o = bin()
            .current_dir(dir.path())
            .args([
                "crossfit", "--data", data, "--folds", "2", "--judge", name, "--out", "x.csv",
            ])
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(want), "{name}: {err}");
        assert!(
            !dir.path().join("x.csv").exists(),
            "{name}: nothing written"
        );
    }
    // A good CSV judge is read, and the report gains the evidence's columns.
    std::fs::write(
        dir.path().join("good.csv"),
        "id,p_correct\ngsm8k-0:1,0.05\ngsm8k-1:0,0.95\n",
    )
    .expect("write");
    let o = bin()
        .current_dir(dir.path())
        .args([
            "crossfit", "--data", data, "--folds", "2", "--judge", "good.csv", "--out", "x.csv",
        ])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("judge good.csv: 2 of"), "{err}");
    let report = std::fs::read_to_string(dir.path().join("x.csv")).expect("report");
    let header = report.lines().next().unwrap_or("");
    for col in ["verifier", "suggested_first_error", "suggested_probability"] {
        assert!(header.contains(col), "{header}");
    }
    // The fixture's `3 + 2 = 6` is false, and the report says what it is.
    assert!(report.contains("false: 3 + 2 = 6; it is 5"), "{report}");
}

#[test]
fn verifiers_never_call_a_claim_false_in_a_step_labelled_right_in_processbench() {
    // The verifiers' precision on real data: steps labelled right (before the first error, or
    // in a right solution) whose claims they call false, against steps labelled wrong.
    let ds = processbench();
    let v = segscope::labels::verify::verify_all(&ds);
    let (mut checked, mut false_right, mut checked_wrong, mut false_wrong) = (0, 0, 0, 0);
    for (s, v) in ds.segments.iter().zip(&v) {
        match s.score {
            Some(y) if y > 0.5 && v.checked > 0 => {
                checked += 1;
                false_right += usize::from(v.failed > 0);
            }
            Some(_) if v.checked > 0 => {
                checked_wrong += 1;
                false_wrong += usize::from(v.failed > 0);
            }
            _ => {}
        }
    }
    eprintln!(
        "verifiers on ProcessBench GSM8K: {checked} steps labelled right with checkable claims, \
         {false_right} called false; {checked_wrong} labelled wrong, {false_wrong} called false"
    );
    // Measured: 0 of 524, and 14 of 106.
    assert!(
        checked > 400 && checked_wrong > 80,
        "{checked} {checked_wrong}"
    );
    assert_eq!(false_right, 0);
    assert!(false_wrong >= 10, "{false_wrong}");
}
