//! The tour's pages: each one's data, training settings and the predictions it starts from.

use std::sync::Arc;

use crate::config::{BackendKind, Config, LossName, OptimizerName};
use crate::data::{self, Dataset, Partition, ReadOptions};
use crate::engine::{TrainSettings, Trainer};
use crate::source::compare::Compare;
use crate::source::{Source, TrainerSource};

/// The pages in order. Scene 3 has three: shifted, scaled, and a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Page {
    /// Fact 1: one sentence, target 0.8, prediction 0.3, and what one step does.
    OneStep,
    /// Fact 2: three segments; who carries the loss and the update.
    Shares,
    /// Fact 3a: predictions in the right order, shifted by a constant.
    Shifted,
    /// Fact 3b: predictions in the right order, scaled.
    Scaled,
    /// Fact 3c: MSE against a pairwise objective on a small document set.
    Compare,
}

pub const PAGES: [Page; 5] = [
    Page::OneStep,
    Page::Shares,
    Page::Shifted,
    Page::Scaled,
    Page::Compare,
];

/// The targets of scenes 2 and 3, and the predictions scene 2 starts from.
pub const TARGETS: [f32; 3] = [0.9, 0.1, -0.6];
pub const SCENE2_PREDS: [f32; 3] = [0.8, 0.5, -0.7];
/// Scene 3a adds this to every target; scene 3b multiplies every target by the other.
pub const SHIFT: f32 = 0.25;
pub const SCALE: f32 = 0.5;
/// Scene 1's target and starting prediction.
pub const ONE_TARGET: f32 = 0.8;
pub const ONE_PRED: f32 = 0.3;
/// Learning rates: scene 1's step moves the prediction a visible part of the gap without
/// overshooting; scenes 2 and 3 move slowly enough to watch.
const LR_ONE: f64 = 0.02;
const LR_FEW: f64 = 0.005;
/// The comparison's Adam rate: the rate the page was written for (the default before 0.02). At
/// 0.02, after 150 steps on these 40 documents, the MSE model ranked dev pairs better than the
/// pairwise one (0.808 against 0.760), so the page would not show the fact it is about.
const LR_COMPARE: f64 = 0.003;
/// Scene 1 starts with n-gram embeddings this many times their usual size. In a freshly
/// initialised model every short sentence looks alike (the pooled embeddings are tiny beside the
/// dense features), so one step moves every prediction the same; scaled up, what a sentence says
/// decides its hidden activation, and a step moves a sentence that shares n-grams with the one
/// trained far more than one that shares none, as in a model that has learnt something.
pub const ONE_EMBEDDING_SCALE: f32 = 100.0;
/// Documents of the comparison's generated data set.
const COMPARE_DOCS: usize = 40;

const SCENE1: &str = r#"{"id": "descale", "split": "train", "prompt": "How do I descale a kettle?", "segments": [{"text": "Fill the kettle with equal parts water and white vinegar.", "score": 0.8}]}
{"id": "similar", "split": "dev", "prompt": "How do I descale a kettle?", "segments": [{"text": "Fill the kettle with water and white vinegar, then boil it.", "score": 0.8}]}
{"id": "unrelated", "split": "dev", "prompt": "When did the Thirty Years War end?", "segments": [{"text": "Peace came with the treaties signed at Osnabrück in 1648.", "score": 0.0}]}
"#;

fn three_steps() -> String {
    format!(
        r#"{{"id": "roast", "split": "train", "prompt": "How do I roast a chicken?", "segments": [{{"text": "Heat the oven to 220 C and pat the chicken dry.", "score": {}}}, {{"text": "Rub it with salt, then roast it for twenty minutes.", "score": {}}}, {{"text": "Serve it at once while the middle is still pink.", "score": {}}}]}}
"#,
        TARGETS[0], TARGETS[1], TARGETS[2]
    )
}

/// Why a tour page could not be built (its data and model are the tour's own: a bug, not input).
#[derive(Debug, thiserror::Error)]
pub enum TourError {
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Pin(#[from] crate::engine::trainer::PinError),
    #[error("tour page {page}: training diverged: {why}")]
    Diverged { page: &'static str, why: String },
}

impl Page {
    /// The scene (1, 2 or 3) the page belongs to.
    pub fn scene(self) -> u8 {
        match self {
            Page::OneStep => 1,
            Page::Shares => 2,
            Page::Shifted | Page::Scaled | Page::Compare => 3,
        }
    }

    pub fn index(self) -> usize {
        PAGES.iter().position(|&p| p == self).unwrap_or(0)
    }

    pub fn title(self) -> &'static str {
        match self {
            Page::OneStep => "1 of 3 · one step of gradient descent",
            Page::Shares => "2 of 3 · who carries the loss and the update",
            Page::Shifted => "3 of 3 (a) · right order, shifted",
            Page::Scaled => "3 of 3 (b) · right order, scaled",
            Page::Compare => "3 of 3 (c) · MSE against a pairwise objective",
        }
    }

    /// The page after (`forward`) or before this one, if any.
    pub fn neighbour(self, forward: bool) -> Option<Page> {
        let i = self.index();
        if forward {
            PAGES.get(i + 1).copied()
        } else {
            i.checked_sub(1).map(|j| PAGES[j])
        }
    }

    /// The predictions the page starts from: (segment, value).
    pub fn pins(self) -> Vec<(usize, f32)> {
        let each = |f: &dyn Fn(f32) -> f32| {
            TARGETS
                .iter()
                .enumerate()
                .map(|(i, &t)| (i, f(t)))
                .collect()
        };
        match self {
            Page::OneStep => vec![(0, ONE_PRED)],
            Page::Shares => SCENE2_PREDS.iter().copied().enumerate().collect(),
            Page::Shifted => each(&|t| t + SHIFT),
            Page::Scaled => each(&|t| t * SCALE),
            Page::Compare => Vec::new(),
        }
    }

    /// The training settings of the page.
    pub fn config(self, backend: BackendKind) -> Config {
        let mut c = Config {
            backend,
            ..Config::default()
        };
        c.train.batch_size = 0;
        c.train.loss = LossName::Mse;
        if self != Page::Compare {
            // Plain gradient descent: a step is -lr x gradient, nothing remembered between steps.
            c.train.optimizer = OptimizerName::Sgd;
            c.train.momentum = 0.0;
            c.train.weight_decay = 0.0;
            c.train.lr = if self == Page::OneStep {
                LR_ONE
            } else {
                LR_FEW
            };
        } else {
            c.train.lr = LR_COMPARE;
        }
        // The tour steps at a pace a person can follow when running.
        c.ui.steps_per_second = 5.0;
        c
    }

    /// The page's data.
    pub fn dataset(self) -> Result<Dataset, TourError> {
        let text = match self {
            Page::OneStep => SCENE1.to_string(),
            Page::Shares | Page::Shifted | Page::Scaled => three_steps(),
            Page::Compare => data::generate::generate(COMPARE_DOCS, data::generate::BUNDLED_SEED),
        };
        let name = format!("tour scene {}", self.scene());
        Ok(data::parse_str(&text, &name, &ReadOptions::default()).map(|(d, _)| d)?)
    }

    /// The page's source of step reports, its data, partition and config, ready to run.
    pub fn build(self, backend: BackendKind) -> Result<Built, TourError> {
        let config = self.config(backend);
        let ds = self.dataset()?;
        let features = data::features::featurize(&ds, &config.features);
        let part = Arc::new(Partition::new(&ds, config.dev_fraction));
        let ds = Arc::new(ds);
        let source: Box<dyn Source> = if self == Page::Compare {
            Box::new(Compare::new(
                ds.clone(),
                part.clone(),
                &features,
                &config,
                &[LossName::Mse, LossName::Pairwise],
            )?)
        } else {
            let settings = TrainSettings::from_config(&config);
            let t = Trainer::new(ds.clone(), part.clone(), features.clone(), settings.clone())?;
            let mut m = t.model().clone();
            if self == Page::OneStep {
                m.emb.weight = burn::module::Param::from_tensor(
                    (m.emb.weight.val() * ONE_EMBEDDING_SCALE).detach(),
                );
            }
            let mut t = Trainer::with_model(ds.clone(), part.clone(), features, settings, m)?;
            t.pin_predictions(&self.pins())?;
            Box::new(TrainerSource::new(t, config.clone()))
        };
        Ok(Built {
            page: self,
            config,
            dataset: ds,
            partition: part,
            source,
        })
    }
}

/// A page ready to run.
pub struct Built {
    pub page: Page,
    pub config: Config,
    pub dataset: Arc<Dataset>,
    pub partition: Arc<Partition>,
    pub source: Box<dyn Source>,
}
