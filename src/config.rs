//! config.toml <-> typed configuration: defaults, parsing, and validation that names the key.
//!
//! Every key is optional; a missing key takes its default. An unknown key or a value out of range
//! is an error naming the file and the key, so a typo never silently trains with the default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Which burn CPU backend runs the tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn's pure-Rust CPU backend (the faster one here).
    Flex,
    /// burn-ndarray.
    Ndarray,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Ndarray => "ndarray",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LossName {
    Mse,
    Huber,
    Mae,
    /// Bradley-Terry over pairs of segments of one document whose targets differ.
    Pairwise,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerName {
    Adam,
    Sgd,
}

/// `[data]`: where the dataset is and how to import it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Dataset file; empty = the bundled dataset.
    pub path: String,
    /// Input format (`segscope formats` lists them); empty = detected from the first record.
    pub format: String,
    /// Label -> target overrides, e.g. `{ true = 1.0, false = -1.0 }` or `{ "-" = -1.0 }`.
    pub label_map: BTreeMap<String, f64>,
    /// The `placeholder` format: the keys of the text and of the labels, and the step marker.
    pub input_key: String,
    pub label_key: String,
    pub placeholder: String,
    /// The `prm800k` format: also import each rated alternative step as its own document.
    pub prm800k_alternatives: bool,
    /// The kind of the targets: `auto` (detected), `binary`, `ordinal`, `bounded`, `continuous`.
    pub label_kind: String,
    /// First-error semantics (nothing after the first wrong step is labelled): `auto`
    /// (the importer's word, else the layout), `yes` or `no`.
    pub first_error: String,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            path: String::new(),
            format: String::new(),
            label_map: BTreeMap::new(),
            input_key: "input".into(),
            label_key: "label".into(),
            placeholder: "ки".into(),
            prm800k_alternatives: false,
            label_kind: "auto".into(),
            first_error: "auto".into(),
        }
    }
}

/// `data` is a table, or (as in configs saved before it was) just the dataset's path.
fn data_section<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DataConfig, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = DataConfig;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a [data] table, or a dataset path")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DataConfig, E> {
            Ok(DataConfig {
                path: v.to_string(),
                ..DataConfig::default()
            })
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<DataConfig, A::Error> {
            DataConfig::deserialize(serde::de::value::MapAccessDeserializer::new(m))
        }
    }
    d.deserialize_any(V)
}

/// `[features]`: how text becomes hashed ids. The featuriser reads this type directly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeaturesConfig {
    /// Hash buckets (embedding rows).
    pub buckets: usize,
    /// 1 = unigrams only, 2 = unigrams and bigrams.
    pub word_ngrams: usize,
    /// Character n-gram lengths `[min, max]`, inclusive; `[0, 0]` = none.
    pub char_ngrams: [usize; 2],
    /// At most this many words of a segment are featurised (the first ones).
    pub max_words: usize,
    /// Use the hashed n-grams; `false` trains on the data's `embedding`s alone.
    pub hashed: bool,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        Self {
            buckets: 1 << 15,
            word_ngrams: 2,
            char_ngrams: [3, 5],
            max_words: 256,
            hashed: true,
        }
    }
}

/// Which model a run hands back (`--report`, `--save`, the final output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The model of the step with the lowest dev loss (the last one when there is no dev split).
    Best,
    /// The model of the last step.
    Last,
}

/// `[model]`: sizes of the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSection {
    pub embed_dim: usize,
    pub hidden: usize,
}

impl Default for ModelSection {
    fn default() -> Self {
        Self {
            embed_dim: 32,
            hidden: 64,
        }
    }
}

/// `[train]`: the objective and the optimiser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub loss: LossName,
    pub huber_delta: f32,
    pub optimizer: OptimizerName,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    /// 0 = full batch.
    pub batch_size: usize,
    /// Steps for a headless run.
    pub steps: u64,
    /// Refresh every segment's prediction every this many steps; 0 = automatic: every step with
    /// full batch, once an epoch with mini-batches.
    pub eval_every: u64,
    /// Segments listed in each headless step line.
    pub top_k: usize,
    /// Which model to hand back.
    pub keep: Keep,
    /// Headless runs end when the dev loss has not improved for this many steps; 0 = never.
    pub early_stop: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            loss: LossName::Mse,
            huber_delta: 1.0,
            optimizer: OptimizerName::Adam,
            lr: 0.02,
            momentum: 0.9,
            weight_decay: 0.001,
            batch_size: 0,
            steps: 300,
            eval_every: 0,
            top_k: 10,
            keep: Keep::Best,
            early_stop: 50,
        }
    }
}

/// `[ui]`: the dashboard's behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// Steps taken by the "N steps" key.
    pub n_steps: u64,
    /// Training speed when running (0 = as fast as possible).
    pub steps_per_second: f64,
    /// Outliers: |residual| > k robust standard deviations.
    pub outlier_k: f64,
    /// Converged when dev loss has not improved by more than `converge_min_rel` (relative) for
    /// `converge_patience` steps.
    pub converge_patience: u64,
    pub converge_min_rel: f64,
    /// Steps shown by the loss chart in "recent" mode.
    pub recent_window: usize,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            n_steps: 10,
            steps_per_second: 0.0,
            outlier_k: 3.0,
            converge_patience: 50,
            converge_min_rel: 0.001,
            recent_window: 100,
        }
    }
}

/// `[audit]`: how `segscope audit` plants canaries and sets the flag threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// The flags' threshold is the lowest whose expected precision (`labels::audit::calibrate`)
    /// is at least this.
    pub min_precision: f64,
    /// The share of labelled segments whose label a canary changes (for first-error data, by
    /// moving the first error of enough records).
    pub rate: f64,
    /// Copies of the data, each with its own canaries, pooled to set the threshold.
    pub repeats: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            min_precision: 0.5,
            rate: 0.03,
            repeats: 5,
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    #[serde(deserialize_with = "data_section")]
    pub data: DataConfig,
    pub backend: BackendKind,
    pub seed: u64,
    pub dev_fraction: f64,
    pub features: FeaturesConfig,
    pub model: ModelSection,
    pub train: TrainConfig,
    pub ui: UiConfig,
    pub audit: AuditConfig,
    /// Key bindings: action name -> list of keys (see the README's key table).
    pub keys: BTreeMap<String, Vec<String>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data: DataConfig::default(),
            backend: BackendKind::Flex,
            seed: 42,
            dev_fraction: 0.2,
            features: FeaturesConfig::default(),
            model: ModelSection::default(),
            train: TrainConfig::default(),
            ui: UiConfig::default(),
            audit: AuditConfig::default(),
            keys: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read the config file: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: key `{key}`: {message}")]
    Invalid {
        file: String,
        key: String,
        message: String,
    },
}

/// The largest sizes a config may ask for (checked before any work).
pub const MAX_WORDS: usize = 100_000;
pub const MAX_EMBED_DIM: usize = 1024;
pub const MAX_HIDDEN: usize = 4096;
/// Embedding weights at most (buckets x embed_dim): 2^27, 512 MiB of f32, 1.5 GiB with Adam.
pub const MAX_TABLE: u64 = 1 << 27;

impl Config {
    /// Parses TOML text; `file` is used in messages.
    pub fn from_toml(text: &str, file: &str) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.to_string(),
            // toml's message already names the key, the line and the column.
            message: e.to_string().trim_end().replace('\n', "\n  "),
        })?;
        cfg.validate(file)?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            file: file.clone(),
            source,
        })?;
        Self::from_toml(&text, &file)
    }

    /// Checks ranges; `file` names the source in messages ("command line" for flags).
    pub fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let checked = self
            .check_sizes()
            .and_then(|()| self.check_train())
            .and_then(|()| self.check_ui())
            .and_then(|()| self.check_data())
            .and_then(|()| self.check_audit());
        // `[keys]` is checked where the keymap is built (`session::build`): the keymap table
        // belongs to the app, and config depends on nothing of segscope's.
        checked.map_err(|(key, message)| ConfigError::Invalid {
            file: file.to_string(),
            key,
            message,
        })
    }

    /// The split, the features and the model's sizes.
    fn check_sizes(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: String| Err((key.to_string(), message));
        if !(0.0..1.0).contains(&self.dev_fraction) {
            return bad(
                "dev_fraction",
                format!("must be in [0, 1), found {}", self.dev_fraction),
            );
        }
        let f = &self.features;
        if !(2..=(1 << 24)).contains(&f.buckets) {
            return bad(
                "features.buckets",
                format!("must be in 2..=16777216, found {}", f.buckets),
            );
        }
        if !(1..=2).contains(&f.word_ngrams) {
            return bad(
                "features.word_ngrams",
                format!("must be 1 or 2, found {}", f.word_ngrams),
            );
        }
        let [lo, hi] = f.char_ngrams;
        let off = lo == 0 && hi == 0;
        let ranged = 1 <= lo && lo <= hi && hi <= 10;
        if !(off || ranged) {
            return bad(
                "features.char_ngrams",
                format!(
                    "must be [min, max] with 1 <= min <= max <= 10, or [0, 0] for none; found [{lo}, {hi}]"
                ),
            );
        }
        // Upper bounds too: a size accepted here is allocated before the first step, and a
        // typo (`embed_dim = 100000`) would otherwise eat the machine's memory.
        if !(1..=MAX_WORDS).contains(&f.max_words) {
            return bad(
                "features.max_words",
                format!("must be in 1..={MAX_WORDS}, found {}", f.max_words),
            );
        }
        if !(1..=MAX_EMBED_DIM).contains(&self.model.embed_dim) {
            return bad(
                "model.embed_dim",
                format!(
                    "must be in 1..={MAX_EMBED_DIM}, found {}",
                    self.model.embed_dim
                ),
            );
        }
        if !(1..=MAX_HIDDEN).contains(&self.model.hidden) {
            return bad(
                "model.hidden",
                format!("must be in 1..={MAX_HIDDEN}, found {}", self.model.hidden),
            );
        }
        let table = f.buckets as u64 * self.model.embed_dim as u64;
        if table > MAX_TABLE {
            return bad(
                "model.embed_dim",
                format!(
                    "features.buckets x model.embed_dim = {table} weights, more than {MAX_TABLE} (512 MiB of f32, 1.5 GiB with Adam's state)"
                ),
            );
        }
        Ok(())
    }

    /// The optimiser and the loss.
    fn check_train(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: String| Err((key.to_string(), message));
        let t = &self.train;
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return bad(
                "train.lr",
                format!("must be a positive number, found {}", t.lr),
            );
        }
        if !(t.momentum.is_finite() && (0.0..1.0).contains(&t.momentum)) {
            return bad(
                "train.momentum",
                format!("must be in [0, 1), found {}", t.momentum),
            );
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return bad(
                "train.weight_decay",
                format!("must be >= 0, found {}", t.weight_decay),
            );
        }
        if !(t.huber_delta.is_finite() && t.huber_delta > 0.0) {
            return bad(
                "train.huber_delta",
                format!("must be positive, found {}", t.huber_delta),
            );
        }
        if t.loss == LossName::Pairwise && t.batch_size != 0 {
            return bad(
                "train.batch_size",
                "train.loss = \"pairwise\" trains on the full batch (its pairs are fixed per run); set batch_size = 0".into(),
            );
        }
        Ok(())
    }

    /// The dashboard's settings.
    fn check_ui(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: String| Err((key.to_string(), message));
        let u = &self.ui;
        if u.n_steps == 0 {
            return bad("ui.n_steps", "must be at least 1".into());
        }
        if !(u.steps_per_second.is_finite() && u.steps_per_second >= 0.0) {
            return bad(
                "ui.steps_per_second",
                format!(
                    "must be >= 0 (0 = as fast as possible), found {}",
                    u.steps_per_second
                ),
            );
        }
        if !(u.outlier_k.is_finite() && u.outlier_k > 0.0) {
            return bad(
                "ui.outlier_k",
                format!("must be positive, found {}", u.outlier_k),
            );
        }
        if !(u.converge_min_rel.is_finite() && u.converge_min_rel >= 0.0) {
            return bad(
                "ui.converge_min_rel",
                format!("must be >= 0, found {}", u.converge_min_rel),
            );
        }
        if u.recent_window < 2 {
            return bad("ui.recent_window", "must be at least 2".into());
        }
        Ok(())
    }

    /// How the data's labels are read.
    fn check_data(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: String| Err((key.to_string(), message));
        if !["auto", "binary", "ordinal", "bounded", "continuous"]
            .contains(&self.data.label_kind.as_str())
        {
            return bad(
                "data.label_kind",
                format!(
                    "must be auto, binary, ordinal, bounded or continuous, found `{}`",
                    self.data.label_kind
                ),
            );
        }
        if !["auto", "yes", "no"].contains(&self.data.first_error.as_str()) {
            return bad(
                "data.first_error",
                format!("must be auto, yes or no, found `{}`", self.data.first_error),
            );
        }
        for (label, v) in &self.data.label_map {
            if !v.is_finite() {
                return bad(
                    &format!("data.label_map.{label}"),
                    format!("must be a finite number, found {v}"),
                );
            }
        }
        if self.data.placeholder.is_empty() {
            return bad("data.placeholder", "must not be empty".into());
        }
        Ok(())
    }

    /// The audit's settings.
    fn check_audit(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: String| Err((key.to_string(), message));
        let a = &self.audit;
        if !(a.min_precision > 0.0 && a.min_precision < 1.0) {
            return bad(
                "audit.min_precision",
                format!("must be between 0 and 1, found {}", a.min_precision),
            );
        }
        if !(a.rate > 0.0 && a.rate <= 0.2) {
            return bad(
                "audit.rate",
                format!("must be in (0, 0.2], found {}", a.rate),
            );
        }
        if !(1..=50).contains(&a.repeats) {
            return bad(
                "audit.repeats",
                format!("must be from 1 to 50, found {}", a.repeats),
            );
        }
        Ok(())
    }

    /// The dataset path, or `None` for the bundled dataset.
    pub fn data_path(&self) -> Option<PathBuf> {
        (!self.data.path.is_empty()).then(|| PathBuf::from(&self.data.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(Config::from_toml("", "c.toml").unwrap(), Config::default());
    }

    #[test]
    fn the_committed_config_toml_is_the_defaults() {
        // The file documents the defaults; if they drift apart the docs are lying.
        let text = include_str!("../config.toml");
        assert_eq!(
            Config::from_toml(text, "config.toml").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn unknown_and_bad_keys_are_named() {
        let e = Config::from_toml("[train]\nlearning_rate = 0.1\n", "c.toml").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("c.toml") && msg.contains("learning_rate"),
            "{msg}"
        );
        let e = Config::from_toml("[train]\nlr = -1\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.lr"), "{e}");
        let e = Config::from_toml("backend = \"cuda\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("backend") || e.contains("cuda"), "{e}");
        let e = Config::from_toml("[features]\nchar_ngrams = [5, 3]\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("features.char_ngrams"), "{e}");
    }

    #[test]
    fn partial_sections_keep_other_defaults() {
        let c = Config::from_toml("[train]\nloss = \"huber\"\nbatch_size = 64\n", "c").unwrap();
        assert_eq!(c.train.batch_size, 64);
        assert_eq!(c.train.loss, LossName::Huber);
        assert_eq!(c.train.huber_delta, 1.0);
        assert_eq!(c.train.lr, TrainConfig::default().lr);
    }
}
