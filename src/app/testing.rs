//! A small app and hand-made reports for the app's feature modules' own tests.

use super::*;
use crate::data::Split;

/// A small app for the feature modules' own tests: two documents, no report yet.
pub(crate) fn test_app() -> App {
    let text = r#"{"id": "a", "split": "train", "segments": [{"text": "one", "score": 1.0}, {"text": "two", "score": 0.0}, {"text": "three", "score": 0.5}]}
{"id": "b", "split": "dev", "segments": [{"text": "four", "score": 0.2}]}
"#;
    let ds = crate::data::parse_str(text, "t.jsonl", &crate::data::ReadOptions::default())
        .map(|(d, _)| d)
        .unwrap_or_else(|e| panic!("test data: {e}"));
    let part = Arc::new(Partition::new(&ds, 0.2));
    let info = RunInfo {
        backend: "flex".into(),
        loss: "mse".into(),
        optimizer: "adam".into(),
        lr: 0.003,
        batch_size: 0,
        data: "t.jsonl".into(),
        save_dir: "ck".into(),
        export_path: "out.csv".into(),
    };
    App::new(
        Arc::new(ds),
        part,
        UiConfig::default(),
        info,
        Keymap::default(),
    )
}

/// A report of step `step` predicting `preds`, for the feature modules' own tests.
pub(crate) fn test_report(app: &App, step: u64, preds: &[f32]) -> StepReport {
    let mut segs = vec![SegmentEval::UNKNOWN; app.ds.segments.len()];
    let train = crate::engine::report::evaluate_split(
        &app.ds,
        preds,
        &app.part.indices(Split::Train),
        crate::engine::metrics::LossKind::Mse,
        &mut segs,
    );
    let dev = crate::engine::report::evaluate_split(
        &app.ds,
        preds,
        &app.part.indices(Split::Dev),
        crate::engine::metrics::LossKind::Mse,
        &mut segs,
    );
    StepReport {
        step,
        batch: Arc::new(Vec::new()),
        batch_loss: train.loss,
        trainer_loss: None,
        eval_step: step,
        segments: Arc::new(segs),
        pred_steps: Arc::default(),
        grad: Arc::default(),
        train,
        dev,
        grad_norm: 0.1,
        lr: 0.003,
        weight_change: 0.01,
        weight_change_rel: 0.001,
        layers: Vec::new(),
        step_ms: 1.0,
        eval_ms: 1.0,
        diverged: None,
        models: Vec::new(),
    }
}
