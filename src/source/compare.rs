//! Objectives side by side: one model per objective on the same data, split, seed, features and
//! initial weights, stepped in lock step. Regression is not ranking: a pairwise model can order a
//! document's segments as well as a regression model while every value it predicts is off by a
//! shift, and that shows only beside the regression model's predictions, or after the affine map
//! that best fits its predictions to the targets.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, LossName};
use crate::data::{Dataset, Features, Partition, Split};
use crate::engine::metrics::LossKind;
pub use crate::engine::report::Affine;
use crate::engine::report::{ModelResult, StepReport};
use crate::engine::{EngineError, SplitMetrics, TrainSettings, Trainer};
use crate::source::{Capabilities, Source};

/// Fits the affine map on the training rows of `segments` and measures it on the dev rows.
pub fn affine(ds: &Dataset, part: &Partition, segments: &[crate::engine::SegmentEval]) -> Affine {
    let pts = |split| -> Vec<(f64, f64)> {
        part.indices(split)
            .into_iter()
            .map(|i| (f64::from(segments[i].pred), f64::from(ds.target(i))))
            .filter(|(p, _)| p.is_finite())
            .collect()
    };
    let train = pts(Split::Train);
    let n = train.len() as f64;
    let (mx, my) = (
        train.iter().map(|p| p.0).sum::<f64>() / n,
        train.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = train.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = train.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let intercept = my - slope * mx;
    let dev = pts(Split::Dev);
    let dev_mse_after = dev
        .iter()
        .map(|(p, t)| (t - (slope * p + intercept)).powi(2))
        .sum::<f64>()
        / dev.len() as f64;
    Affine {
        slope,
        intercept,
        dev_mse_after,
    }
}

/// A metric a comparison ranks models on: (name, higher is better, its value in a split).
pub type Ranked = (&'static str, bool, fn(&SplitMetrics) -> f64);

/// The metrics a comparison ranks models on.
pub const RANKED: [Ranked; 5] = [
    ("MSE", false, |m| m.mse),
    ("R²", true, |m| m.r2),
    ("|bias|", false, |m| m.bias.abs()),
    ("Spearman", true, |m| m.spearman),
    ("pair acc", true, |m| m.pairwise_acc),
];

/// For each ranked metric, the model that leads on the dev split; none where every model ties
/// (at step 0 they are the same model).
pub fn leaders(models: &[ModelResult]) -> Vec<(&'static str, String)> {
    RANKED
        .iter()
        .filter_map(|&(name, higher, f)| {
            let values: Vec<f64> = models.iter().map(|m| f(&m.dev)).collect();
            let tied = values
                .windows(2)
                .all(|w| w[0] == w[1] || (w[0].is_nan() && w[1].is_nan()));
            if tied {
                return None;
            }
            let best = models
                .iter()
                .filter(|m| f(&m.dev).is_finite())
                .max_by(|a, b| {
                    let (x, y) = (f(&a.dev), f(&b.dev));
                    if higher {
                        x.total_cmp(&y)
                    } else {
                        y.total_cmp(&x)
                    }
                })?;
            Some((name, best.name.clone()))
        })
        .collect()
}

/// Models trained side by side.
pub struct Compare {
    pub names: Vec<String>,
    pub trainers: Vec<Trainer>,
    dataset: Arc<Dataset>,
    partition: Arc<Partition>,
}

impl Compare {
    /// One trainer per objective in `losses`, each from the same seed, so the same initial
    /// weights.
    pub fn new(
        dataset: Arc<Dataset>,
        partition: Arc<Partition>,
        features: &Features,
        config: &Config,
        losses: &[LossName],
    ) -> Result<Compare, EngineError> {
        let mut names = Vec::new();
        let mut trainers: Vec<Trainer> = Vec::new();
        for &l in losses {
            let mut c = config.clone();
            c.train.loss = l;
            let settings = TrainSettings::from_config(&c);
            names.push(settings.loss.name().to_string());
            // The first model is initialised from the seed; the others start as copies of it, so
            // every objective starts from exactly the same weights.
            let t = match trainers.first() {
                None => Trainer::new(
                    dataset.clone(),
                    partition.clone(),
                    features.clone(),
                    settings,
                )?,
                Some(first) => Trainer::with_model(
                    dataset.clone(),
                    partition.clone(),
                    features.clone(),
                    TrainSettings {
                        model: first.settings().model.clone(),
                        ..settings
                    },
                    first.model().clone(),
                )?,
            };
            trainers.push(t);
        }
        Ok(Compare {
            names,
            trainers,
            dataset,
            partition,
        })
    }

    /// The first model's report, carrying every model's result.
    fn combine(&self, reports: Vec<StepReport>) -> StepReport {
        let models: Vec<ModelResult> = reports
            .iter()
            .zip(&self.names)
            .map(|(r, name)| ModelResult {
                name: name.clone(),
                loss: r.train.loss,
                segments: r.segments.clone(),
                train: r.train,
                dev: r.dev,
                affine: (name == LossKind::Pairwise.name())
                    .then(|| affine(&self.dataset, &self.partition, &r.segments)),
            })
            .collect();
        let diverged = reports.iter().find_map(|r| r.diverged.clone());
        let mut first = reports.into_iter().next().unwrap_or_else(|| unreachable!());
        first.models = models;
        first.diverged = diverged;
        first
    }

    /// One step of every model.
    pub fn step(&mut self) -> StepReport {
        let reports = self.trainers.iter_mut().map(Trainer::step).collect();
        self.combine(reports)
    }

    /// The current state of every model.
    pub fn current(&mut self) -> StepReport {
        let reports = self
            .trainers
            .iter_mut()
            .map(Trainer::snapshot_report)
            .collect();
        self.combine(reports)
    }
}

impl Source for Compare {
    fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }
    fn partition(&self) -> &Arc<Partition> {
        &self.partition
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            step: true,
            run: true,
            speed: true,
            save: false,
            rewind: false,
            mark: false,
            edit: false,
        }
    }
    fn current(&mut self) -> StepReport {
        Compare::current(self)
    }
    fn advance(&mut self) -> StepReport {
        self.step()
    }
    fn save(&mut self, _: &Path) -> Result<PathBuf, super::SourceError> {
        Err(super::SourceError::Unsupported(
            "a comparison saves no checkpoints; train one objective to save it",
        ))
    }
}

/// Why a comparison's table was not written.
#[derive(Debug, thiserror::Error)]
pub enum ReportWriteError {
    #[error(transparent)]
    File(#[from] crate::io_plan::WriteError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Csv(#[from] csv::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// The per-segment comparison: every model's prediction and residual, CSV for `.csv`, JSON
/// lines otherwise.
pub fn write_report(
    path: &Path,
    r: &StepReport,
    ds: &Dataset,
    part: &Partition,
) -> Result<usize, ReportWriteError> {
    let mut header = vec![
        "id".to_string(),
        "doc".into(),
        "split".into(),
        "index".into(),
        "text".into(),
        "target".into(),
    ];
    for m in &r.models {
        header.push(format!("pred_{}", m.name));
        header.push(format!("resid_{}", m.name));
    }
    header.push("step".into());
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let mut file = crate::io_plan::AtomicFile::create(path)?;
    let rows: Vec<usize> = (0..ds.segments.len())
        .filter(|&i| part.is_labelled(i))
        .collect();
    if is_csv {
        let mut w = csv::Writer::from_writer(&mut file);
        w.write_record(&header)?;
        for &i in &rows {
            let s = &ds.segments[i];
            let mut rec = vec![
                ds.segment_id(i),
                ds.docs[s.doc].id.clone(),
                part.split_of(i).name().to_string(),
                s.index.to_string(),
                s.text.clone(),
                ds.target(i).to_string(),
            ];
            for m in &r.models {
                rec.push(m.segments[i].pred.to_string());
                rec.push(m.segments[i].residual.to_string());
            }
            rec.push(r.eval_step.to_string());
            w.write_record(&rec)?;
        }
        w.flush()?;
    } else {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(&mut file);
        for &i in &rows {
            let s = &ds.segments[i];
            let mut o = serde_json::Map::new();
            o.insert("id".into(), ds.segment_id(i).into());
            o.insert("doc".into(), ds.docs[s.doc].id.clone().into());
            o.insert("split".into(), part.split_of(i).name().into());
            o.insert("index".into(), s.index.into());
            o.insert("text".into(), s.text.clone().into());
            o.insert("target".into(), serde_json::json!(ds.target(i)));
            for m in &r.models {
                o.insert(
                    format!("pred_{}", m.name),
                    serde_json::json!(m.segments[i].pred),
                );
                o.insert(
                    format!("resid_{}", m.name),
                    serde_json::json!(m.segments[i].residual),
                );
            }
            o.insert("step".into(), r.eval_step.into());
            serde_json::to_writer(&mut w, &o)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    file.commit()?;
    Ok(rows.len())
}
