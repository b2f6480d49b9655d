//! Hand-made data and step reports for the dashboard tests: no training, fixed numbers.
#![allow(dead_code)]

use std::sync::Arc;

use segscope::app::{App, Keymap, RunInfo};
use segscope::config::UiConfig;
use segscope::data::{Dataset, ReadOptions, parse_str};
use segscope::data::{Partition, Split};
use segscope::engine::metrics::LossKind;
use segscope::engine::report::evaluate_split;
use segscope::engine::{LayerChange, SegmentEval, StepReport};

pub const DATA: &str = r#"{"id": "doc-1", "prompt": "How do I descale a kettle?", "split": "train", "segments": [{"text": "Fill it with equal parts water and white vinegar.", "score": 0.8, "ratings": [0.9, 0.8, 0.7]}, {"text": "Leave it for 30 minutes, then boil and rinse twice.", "score": 0.9, "ratings": [1.0, 0.8, 0.9]}, {"text": "Honestly it might work, I think.", "score": -0.4, "ratings": [-0.2, -0.6, -0.4]}, {"text": "My cousin loves football.", "score": 0.9, "ratings": [-0.7, -0.8, -0.6]}], "meta": {"noise": {"3": "flipped"}}}
{"id": "doc-2", "prompt": "How do I start running?", "split": "train", "segments": [{"text": "Start with 3 runs a week of 20 minutes.", "score": 0.7}, {"text": "Increase the distance by 10 percent a week.", "score": 0.6}, {"text": "Maybe just see how it goes.", "score": -0.3}, {"text": "Warm up before every run.", "score": 0.3}, {"text": "Rest one day between runs.", "score": 0.4}, {"text": "First add 12 and 7 to get 12 + 7 = 20.", "score": -0.7}], "meta": {"hard": {"5": "wrong_arithmetic"}}}
{"id": "doc-3", "prompt": "How do I fix a leaking tap?", "split": "dev", "segments": [{"text": "Turn the water off and replace the 15 mm washer.", "score": 0.85}, {"text": "It depends on your situation.", "score": 0.0}, {"text": "Tighten the packing nut by a quarter turn.", "score": 0.5}]}
"#;

pub fn dataset() -> Arc<Dataset> {
    Arc::new(
        parse_str(DATA, "fixture.jsonl", &ReadOptions::default())
            .expect("fixture")
            .0,
    )
}

pub fn info() -> RunInfo {
    RunInfo {
        backend: "flex".into(),
        loss: "mse".into(),
        optimizer: "adam".into(),
        lr: 0.003,
        batch_size: 0,
        data: "fixture.jsonl".into(),
        save_dir: "ckpt".into(),
        export_path: "out.csv".into(),
    }
}

/// The fixture's partition: every document declares its split.
pub fn partition(ds: &Dataset) -> Arc<Partition> {
    Arc::new(Partition::new(ds, 0.2))
}

pub fn app() -> App {
    let ds = dataset();
    let part = partition(&ds);
    App::new(ds, part, UiConfig::default(), info(), Keymap::default())
}

/// Predictions for step `step`: every segment moves a fraction `step / (step + 4)` of the way from
/// 0 to its target, except segment 3 (flipped) which stays low, so it is an outlier.
pub fn preds(ds: &Dataset, step: u64) -> Vec<f32> {
    let f = step as f32 / (step as f32 + 4.0);
    ds.segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if i == 3 {
                -0.6 * f
            } else {
                s.score.unwrap_or(0.0) * f * 0.95 + 0.02
            }
        })
        .collect()
}

pub fn report(ds: &Dataset, step: u64) -> StepReport {
    let p = preds(ds, step);
    let part = partition(ds);
    let mut segs = vec![SegmentEval::default(); p.len()];
    let train = evaluate_split(
        ds,
        &p,
        &part.indices(Split::Train),
        LossKind::Mse,
        &mut segs,
    );
    let dev = evaluate_split(ds, &p, &part.indices(Split::Dev), LossKind::Mse, &mut segs);
    let wc = 0.5 / (step as f64 + 1.0);
    StepReport {
        step,
        batch: Arc::new(part.indices(Split::Train)),
        batch_loss: train.loss,
        trainer_loss: None,
        eval_step: step,
        segments: Arc::new(segs),
        pred_steps: Arc::default(),
        grad: Arc::default(),
        train,
        dev,
        grad_norm: 0.1 / (step as f64 + 1.0),
        lr: 0.003,
        weight_change: wc,
        weight_change_rel: wc / 10.0,
        layers: [
            "emb.weight",
            "hidden.weight",
            "hidden.bias",
            "head.weight",
            "head.bias",
        ]
        .iter()
        .enumerate()
        .map(|(k, n)| LayerChange {
            name: n.to_string(),
            weight_change: wc / (k as f64 + 1.0),
            weight_change_rel: wc / (10.0 + k as f64),
            norm: 10.0,
        })
        .collect(),
        step_ms: 12.0,
        eval_ms: 3.0,
        diverged: None,
        models: Vec::new(),
    }
}

/// An app that has seen steps 0..=last.
pub fn app_after(last: u64) -> App {
    let mut a = app();
    let ds = a.ds().clone();
    for s in 0..=last {
        a.on_report(report(&ds, s), 25.0);
    }
    a.refresh_rows();
    a
}

/// The screen `app` draws at `w` x `h`, as text.
pub fn draw(app: &App, w: u16, h: u16) -> String {
    let mut t =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| f.render_widget(app, f.area())).expect("draw");
    t.backend().to_string()
}
