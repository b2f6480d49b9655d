//! Cross-fitting: an out-of-fold prediction for every labelled segment. A model fits, then
//! memorises, its own training segments, noisy labels included; a model that never saw a segment
//! gives it an honest residual. K models are trained, each on the documents outside one fold
//! (folds by a stable hash of the document id), early-stopped on an inner dev split of those
//! documents, and each predicts its held-out fold.

use std::sync::Arc;

use serde::Serialize;

use crate::analysis::{is_outlier, robust_z};
use crate::config::Config;
use crate::data::hash::fnv1a;
use crate::data::partition::split_for_id;
use crate::data::{Dataset, Features, Partition, Split};
use crate::engine::report::SegmentEval;
use crate::engine::{EngineError, TrainSettings, Trainer, plain_device, split_inputs};

/// The fold of a document: a stable hash of its id, independent of the train/dev split's hash.
pub fn fold_of(id: &str, folds: usize) -> usize {
    (fnv1a(&[b"fold:", id.as_bytes()]) % folds as u64) as usize
}

/// How one fold went, for progress output.
#[derive(Debug, Clone, Serialize)]
pub struct FoldReport {
    pub fold: usize,
    /// Documents and labelled segments held out.
    pub docs: usize,
    pub segments: usize,
    /// Steps taken, and the step whose model predicted the fold (the inner dev loss's best).
    pub steps: u64,
    pub best_step: u64,
    pub inner_dev_loss: f64,
    /// The MSE of the out-of-fold predictions on this fold.
    pub held_out_mse: f64,
    pub seconds: f64,
}

/// One segment's out-of-fold result.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    pub doc: String,
    /// The segment's split in the ordinary run (`dev_fraction`), for comparison.
    pub split: Split,
    pub fold: usize,
    pub index: usize,
    pub text: String,
    pub target: f32,
    pub oof_prediction: f32,
    pub oof_residual: f32,
    /// Robust z of the out-of-fold residual within the segment's split.
    pub oof_robust_z: f32,
    pub oof_outlier: bool,
    /// The data's `meta` labels, `key=label` joined by `;`.
    pub labels: String,
}

/// The whole cross-fit: per-segment rows (labelled segments, dataset order) and per-fold reports.
#[derive(Debug, Clone)]
pub struct Crossfit {
    pub rows: Vec<Row>,
    pub folds: Vec<FoldReport>,
    /// Per segment in dataset order: the out-of-fold prediction and residual (NaN for context).
    pub segments: Vec<SegmentEval>,
}

/// Settings of a cross-fit.
#[derive(Debug, Clone)]
pub struct Options {
    pub folds: usize,
    /// Steps at most per fold.
    pub max_steps: u64,
    /// Steps without a better inner dev loss before a fold stops.
    pub patience: u64,
}

/// Cross-fits `ds` with the model and training of `config`; `progress` hears about each fold.
pub fn run(
    ds: &Arc<Dataset>,
    features: &Features,
    config: &Config,
    opts: &Options,
    mut progress: impl FnMut(&FoldReport),
) -> Result<Crossfit, EngineError> {
    let k = opts.folds.max(2);
    let fold: Vec<usize> = ds.docs.iter().map(|d| fold_of(&d.id, k)).collect();
    // The inner split: dev_fraction of the training documents, by the usual hash.
    let inner: Vec<Split> = ds
        .docs
        .iter()
        .map(|d| split_for_id(&d.id, config.dev_fraction.max(0.1)))
        .collect();
    let mut segments = vec![SegmentEval::UNKNOWN; ds.segments.len()];
    let mut reports = Vec::with_capacity(k);
    for f in 0..k {
        let t0 = std::time::Instant::now();
        let active: Vec<bool> = fold.iter().map(|&x| x != f).collect();
        let part = Arc::new(Partition::with_held_out(ds, inner.clone(), &active));
        let held: Vec<usize> = (0..ds.segments.len())
            .filter(|&i| fold[ds.segments[i].doc] == f && ds.segments[i].score.is_some())
            .collect();
        if held.is_empty() {
            continue;
        }
        let mut t = Trainer::new(
            ds.clone(),
            part,
            features.clone(),
            TrainSettings::from_config(config),
        )?;
        let mut steps = 0;
        while steps < opts.max_steps {
            let r = t.step();
            steps += 1;
            if r.diverged.is_some() {
                break;
            }
            let best = t.best().map_or(0, |b| b.0);
            if steps.saturating_sub(best) >= opts.patience {
                break;
            }
        }
        t.restore_best();
        let (best_step, inner_dev_loss) = t.best().map_or((steps, f64::NAN), |b| (b.0, b.1.loss));
        let device = plain_device(config.backend);
        let (x, _) = split_inputs(features.clone(), &held, &[], &device);
        let preds = t.predict(&x);
        let mut sq = 0.0;
        for (&i, &p) in held.iter().zip(&preds) {
            let r = ds.target(i) - p;
            sq += f64::from(r) * f64::from(r);
            segments[i] = SegmentEval {
                pred: p,
                residual: r,
                loss: r * r,
                share: 0.0,
            };
        }
        let report = FoldReport {
            fold: f,
            docs: fold.iter().filter(|&&x| x == f).count(),
            segments: held.len(),
            steps,
            best_step,
            inner_dev_loss,
            held_out_mse: sq / held.len() as f64,
            seconds: t0.elapsed().as_secs_f64(),
        };
        progress(&report);
        reports.push(report);
    }
    let part = Partition::new(ds, config.dev_fraction);
    let z = robust_z(&segments, &part);
    let rows = (0..ds.segments.len())
        .filter(|&i| part.is_labelled(i))
        .map(|i| {
            let s = &ds.segments[i];
            Row {
                id: ds.segment_id(i),
                doc: ds.docs[s.doc].id.clone(),
                split: part.split_of(i),
                fold: fold[s.doc],
                index: s.index,
                text: s.text.clone(),
                target: ds.target(i),
                oof_prediction: segments[i].pred,
                oof_residual: segments[i].residual,
                oof_robust_z: z[i],
                oof_outlier: is_outlier(z[i], config.ui.outlier_k),
                labels: s
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(";"),
            }
        })
        .collect();
    Ok(Crossfit {
        rows,
        folds: reports,
        segments,
    })
}

/// Writes the rows: CSV for `.csv`, JSON lines otherwise.
pub fn write(path: &std::path::Path, rows: &[Row]) -> Result<(), String> {
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    if is_csv {
        let mut w = csv::Writer::from_writer(file);
        for r in rows {
            w.serialize(r).map_err(|e| e.to_string())?;
        }
        w.flush().map_err(|e| e.to_string())
    } else {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(file);
        for r in rows {
            serde_json::to_writer(&mut w, r).map_err(|e| e.to_string())?;
            w.write_all(b"\n").map_err(|e| e.to_string())?;
        }
        w.flush().map_err(|e| e.to_string())
    }
}

/// Reads a cross-fit report (written by [`write`]) as (out-of-fold prediction, residual) per
/// segment of `ds`, NaN for segments it does not list. Ids the dataset lacks are counted, not
/// fatal: the report may be of a filtered copy of the data.
pub fn read(path: &std::path::Path, ds: &Dataset) -> Result<(Vec<(f32, f32)>, usize), String> {
    #[derive(serde::Deserialize)]
    struct In {
        id: String,
        oof_prediction: Option<f32>,
        oof_residual: Option<f32>,
    }
    let ids: std::collections::HashMap<String, usize> = (0..ds.segments.len())
        .map(|i| (ds.segment_id(i), i))
        .collect();
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let rows: Vec<In> = if is_csv {
        csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .enumerate()
            .map(|(k, r)| r.map_err(|e| format!("{file}: row {}: {e}", k + 1)))
            .collect::<Result<_, _>>()?
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(k, l)| serde_json::from_str(l).map_err(|e| format!("{file}:{}: {e}", k + 1)))
            .collect::<Result<_, _>>()?
    };
    let mut out = vec![(f32::NAN, f32::NAN); ds.segments.len()];
    let mut unknown = 0;
    for r in rows {
        match ids.get(&r.id) {
            Some(&i) => {
                out[i] = (
                    r.oof_prediction.unwrap_or(f32::NAN),
                    r.oof_residual.unwrap_or(f32::NAN),
                )
            }
            None => unknown += 1,
        }
    }
    Ok((out, unknown))
}
