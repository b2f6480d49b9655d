//! A run's setup, shared by the dashboard and headless mode: config merged with flags, the keymap,
//! data read, partitioned and featurised, a trainer built (or resumed from a checkpoint).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::app::Keymap;
use crate::cli::Overrides;
use crate::config::{Config, ConfigError};
use crate::data::{self, DataError, Dataset, Partition, ReadOptions, Skipped};
use crate::engine::checkpoint;
use crate::engine::{EngineError, TrainSettings, Trainer};
use crate::source::TrainerSource;

/// Everything a run needs.
pub struct Session {
    pub config: Config,
    /// Where the config came from ("defaults", a path, or a checkpoint).
    pub config_source: String,
    /// The key bindings, with `[keys]` applied (checked here, once).
    pub keymap: Keymap,
    pub dataset: Arc<Dataset>,
    pub partition: Arc<Partition>,
    pub trainer: Trainer,
    /// Lines skipped by `--lenient`.
    pub skipped: Vec<Skipped>,
    pub resumed_from: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Edits(#[from] crate::data::edits::EditError),
}

impl SessionError {
    /// The process exit code: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            SessionError::Config(_) | SessionError::Data(_) | SessionError::Edits(_) => 2,
            SessionError::Engine(EngineError::NoTrainData | EngineError::NoFeatures) => 2,
            SessionError::Engine(_) => 1,
        }
    }
}

/// The config file to read: `--config`, else ./config.toml when present.
fn config_path(flags: &Overrides) -> Option<PathBuf> {
    flags.config.map(Path::to_path_buf).or_else(|| {
        let p = Path::new("config.toml");
        p.is_file().then(|| p.to_path_buf())
    })
}

fn invalid(key: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        file: "command line".into(),
        key: key.into(),
        message,
    }
}

/// Applies command-line overrides to `cfg` and validates the result.
pub fn apply_flags(cfg: &mut Config, flags: &Overrides) -> Result<(), ConfigError> {
    if let Some(d) = flags.data {
        cfg.data.path = d.display().to_string();
    }
    if let Some(f) = flags.format.and_then(|f| f.format.as_ref()) {
        if f.trim().is_empty() {
            return Err(invalid(
                "--format",
                "is empty: name a format (`segscope formats` lists them), or leave the flag out to detect it".into(),
            ));
        }
        cfg.data.format = f.clone();
    }
    if let Some(m) = flags.model {
        apply_model(cfg, m, flags.resume().is_some())?;
    }
    if let Some(r) = flags.run {
        if let Some(k) = r.keep {
            cfg.train.keep = k;
        }
        if let Some(n) = r.early_stop {
            cfg.train.early_stop = n;
        }
        if let Some(v) = r.loss {
            cfg.train.loss = v;
        }
        if let Some(v) = r.top_k {
            cfg.train.top_k = v;
        }
    }
    if let Some(v) = flags.run.and_then(|r| r.steps).or(flags.steps) {
        cfg.train.steps = v;
    }
    if let Some(v) = flags.dev_fraction {
        cfg.dev_fraction = v;
    }
    cfg.validate("command line")
}

/// The model's flags (`ModelArgs`) applied to `cfg`.
fn apply_model(
    cfg: &mut Config,
    m: &crate::cli::ModelArgs,
    resuming: bool,
) -> Result<(), ConfigError> {
    if let Some(b) = m.backend {
        cfg.backend = b;
    }
    if let Some(s) = m.seed {
        if resuming {
            // The checkpoint carries its random state on: a new seed would be silently unused.
            return Err(invalid(
                "--seed",
                format!(
                    "does not apply with --resume: the checkpoint's seed {} and its random state go on",
                    cfg.seed
                ),
            ));
        }
        cfg.seed = s;
    }
    if let Some(v) = m.lr {
        cfg.train.lr = v;
    }
    if let Some(v) = m.batch_size {
        cfg.train.batch_size = v;
    }
    if let Some(v) = m.optimizer {
        cfg.train.optimizer = v;
    }
    if let Some(v) = m.eval_every {
        cfg.train.eval_every = v;
    }
    if let Some(v) = m.dev_fraction {
        cfg.dev_fraction = v;
    }
    Ok(())
}

/// A config as resolved from flags, once for a whole command.
pub struct Resolved {
    pub config: Config,
    /// Where it came from, for messages: the file, a checkpoint, or the defaults.
    pub source: String,
    /// The config file the flags name (`--config`, else ./config.toml when present): an input
    /// no output may overwrite, even when resuming reads the checkpoint's config instead.
    pub file: Option<PathBuf>,
    /// The checkpoint's step directory when resuming.
    pub step_dir: Option<PathBuf>,
}

/// Reads the config (file or checkpoint) and applies the flags, without touching any data.
pub fn resolve_config(flags: &Overrides) -> Result<Resolved, SessionError> {
    let file = config_path(flags);
    let (mut cfg, source, step_dir) = if let Some(dir) = flags.resume() {
        let (cfg, step_dir) = checkpoint::saved_config(dir)?;
        (
            cfg,
            format!("checkpoint {}", step_dir.display()),
            Some(step_dir),
        )
    } else if let Some(p) = &file {
        (Config::load(p)?, p.display().to_string(), None)
    } else {
        (Config::default(), "defaults".to_string(), None)
    };
    apply_flags(&mut cfg, flags)?;
    Ok(Resolved {
        config: cfg,
        source,
        file,
        step_dir,
    })
}

/// The keymap with the config's `[keys]` applied; a bad binding is a config error naming the
/// config's source and `keys`.
pub fn keymap(config: &Config, source: &str) -> Result<Keymap, ConfigError> {
    Keymap::with_overrides(&config.keys).map_err(|e| ConfigError::Invalid {
        file: source.to_string(),
        key: "keys".into(),
        message: e.to_string(),
    })
}

/// Builds a session from parsed flags and the config already resolved from them (the training
/// run resolves it once, to plan its outputs, and builds with it).
pub fn build_with(flags: &Overrides, resolved: Resolved) -> Result<Session, SessionError> {
    let Resolved {
        config,
        source: config_source,
        step_dir,
        ..
    } = resolved;
    let opts = ReadOptions {
        lenient: flags.lenient(),
        data: config.data.clone(),
    };
    let (dataset, skipped) = data::load(config.data_path().as_deref(), &opts)?;
    let mut s = from_dataset(config, config_source, dataset, skipped, step_dir)?;
    if let Some(p) = flags.edits {
        // Checked against the data as loaded; they replace any edits a resumed checkpoint had.
        let edits = crate::data::edits::Edits::read(p, s.trainer.base_dataset(), &s.partition)?;
        if let Some(note) = edits.repeats_note(s.trainer.base_dataset(), &p.display().to_string()) {
            eprintln!("segscope: {note}");
        }
        s.dataset = s.trainer.set_edits(edits);
    }
    Ok(s)
}

/// Builds a session around an already-loaded dataset.
pub fn from_dataset(
    config: Config,
    config_source: String,
    dataset: Dataset,
    skipped: Vec<Skipped>,
    resume_step_dir: Option<PathBuf>,
) -> Result<Session, SessionError> {
    let keymap = keymap(&config, &config_source)?;
    let features = data::features::featurize(&dataset, &config.features);
    let partition = Arc::new(Partition::new(&dataset, config.dev_fraction));
    let dataset = Arc::new(dataset);
    let mut trainer = Trainer::new(
        dataset.clone(),
        partition.clone(),
        features,
        TrainSettings::from_config(&config),
    )?;
    if let Some(dir) = &resume_step_dir {
        checkpoint::restore(dir, &mut trainer)?;
    }
    Ok(Session {
        config,
        config_source,
        keymap,
        dataset,
        partition,
        trainer,
        skipped,
        resumed_from: resume_step_dir,
    })
}

impl Session {
    /// The session's trainer as a source of step reports, with its config and keymap.
    pub fn into_source(self) -> (TrainerSource, Keymap) {
        (TrainerSource::new(self.trainer, self.config), self.keymap)
    }
}
