//! Command-line options (clap). Flags override config.toml; config.toml overrides the defaults.
//!
//! Each subcommand declares the options it uses, and only those: shared groups ([`ConfigArg`],
//! [`DataArgs`], [`ModelArgs`], ...) are flattened where they apply, and the training run's own
//! options conflict with every subcommand, so an option that does not apply is an error naming
//! the subcommand. Each command reads its own typed arguments; what they say about the config
//! is one [`Overrides`], which [`session`] applies.

pub mod session;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{BackendKind, Keep, LossName, OptimizerName};

/// The parser: the training run's options, or a subcommand with its own.
#[derive(Parser, Debug, Clone)]
#[command(
    // `--lr -1` is a value to check (it must be positive), not an unknown flag `-1`.
    allow_negative_numbers = true,
    // The training run's options before a subcommand would be dropped: refuse them instead.
    args_conflicts_with_subcommands = true,
    name = "segscope",
    version,
    about = "Train a segment-level reward model by regression and watch it in the terminal.",
    long_about = "Train a segment-level reward model by regression against per-segment target \
scores, and watch every segment's prediction, residual and share of the loss live.\n\n\
Without arguments, opens the dashboard on the bundled dataset. With --headless (or when stdout \
is not a terminal), trains without a screen and writes one JSON object per step.\n\n\
Configuration: ./config.toml if present (or --config FILE); flags override it.\n\
Exit codes: 0 success, 1 runtime error, 2 bad input (flags, config, data), 3 training diverged, \
130 SIGINT, 143 SIGTERM."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// `--config`, which every command that reads a config takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConfigArg {
    /// Config file [default: ./config.toml when it exists, else built-in defaults]
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// How a data file is read.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FormatArgs {
    /// Input format [default: detected from the first record; `segscope formats` lists them]
    #[arg(long, value_name = "NAME")]
    pub format: Option<String>,
    /// Skip bad data lines (one warning each) instead of stopping at the first
    #[arg(long)]
    pub lenient: bool,
}

/// Which dataset, and how to read it.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DataArgs {
    /// Dataset (JSONL, a .json array, or either .gz) [default: the bundled dataset]
    #[arg(long, short = 'd', value_name = "FILE")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub format: FormatArgs,
}

/// What-if edits.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EditsArg {
    /// What-if edits to apply at start (JSON lines: id, action exclude|weight|target, value); with
    /// `convert`, the edited dataset is written
    #[arg(long, value_name = "FILE")]
    pub edits: Option<PathBuf>,
}

/// The model and its training, shared by every command that trains segscope's model.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ModelArgs {
    /// Tensor backend
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// Random seed [config: seed]
    #[arg(long, value_parser = whole::<u64>)]
    pub seed: Option<u64>,
    /// Learning rate [config: train.lr]
    #[arg(long)]
    pub lr: Option<f64>,
    /// Batch size, 0 = full batch [config: train.batch_size]
    #[arg(long, value_parser = whole::<usize>, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Optimiser [config: train.optimizer]
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerName>,
    /// Refresh all predictions every K steps [config: train.eval_every]
    #[arg(long, value_parser = whole::<u64>, value_name = "K")]
    pub eval_every: Option<u64>,
    /// Fraction of documents without a `split` field that go to dev [config: dev_fraction]
    #[arg(long, value_name = "F")]
    pub dev_fraction: Option<f64>,
}

/// The training run's own options (the dashboard, or headless).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Train without the dashboard: one JSON line per step
    #[arg(long)]
    pub headless: bool,
    /// Steps to run now (headless) [config: train.steps]
    #[arg(long, value_parser = whole::<u64>, value_name = "N")]
    pub steps: Option<u64>,
    /// Write the JSON lines here instead of stdout (headless; "-" for stdout)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write the run as a stream (see `segscope watch`): every segment, then every step's
    /// predictions (headless)
    #[arg(long, value_name = "FILE")]
    pub stream: Option<PathBuf>,
    /// Write the final per-segment table (.csv, or .jsonl; "-" for stdout when headless); in the
    /// dashboard, where `e` exports it
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Save a checkpoint into DIR at the end (and with `w` in the dashboard)
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Show a cross-fit report's out-of-fold residuals and label scores beside the live ones
    /// (from `segscope crossfit` or `audit`; the dashboard)
    #[arg(long, value_name = "FILE")]
    pub crossfit: Option<PathBuf>,
    /// Cross-fit and audit the data in the background as the dashboard starts (what `A` does),
    /// then sort by label issue (the dashboard)
    #[arg(long)]
    pub audit: bool,
    /// An outside judge of the steps for the dashboard's audit (binary labels): JSON lines
    /// {"id": "doc:index", "p_correct": 0.93} or CSV with those columns. Repeat for several
    #[arg(long, value_name = "FILE")]
    pub judge: Vec<PathBuf>,
    /// Continue from the newest checkpoint in DIR (its saved config is used; config.toml is not read)
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Per-segment loss [config: train.loss]
    #[arg(long, value_enum)]
    pub loss: Option<LossName>,
    /// Segments listed per headless line [config: train.top_k]
    #[arg(long, value_parser = whole::<usize>, value_name = "K")]
    pub top_k: Option<usize>,
    /// The model to hand back at the end of a headless run: lowest dev loss, or the last step
    /// [config: train.keep]
    #[arg(long, value_enum)]
    pub keep: Option<Keep>,
    /// End a headless run after N steps without a better dev loss, 0 = never [config: train.early_stop]
    #[arg(long, value_parser = whole::<u64>, value_name = "N")]
    pub early_stop: Option<u64>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Generate a dataset with segscope's seeded generator (the bundled one is --docs 600 --seed 7)
    GenData(GenDataArgs),
    /// List the input formats segscope reads
    Formats,
    /// A guided tour of the three facts of segment regression: the dashboard on three small
    /// scenes, stepped from the keyboard (n and p move between pages)
    Tour(TourArgs),
    /// Open the dashboard on a stream written by any trainer, following it as it grows
    Watch(WatchArgs),
    /// Train one model per objective side by side (same data, split, seed, features and initial
    /// weights), in lock step: regression is not ranking
    Compare(CompareArgs),
    /// Read a dataset in any format and write it as segscope's JSONL (to see what was imported),
    /// or as TRL stepwise supervision or Math-Shepherd (to train elsewhere on it)
    Convert(ConvertArgs),
    /// Out-of-fold predictions and a label-issue score for every labelled segment: K models, each
    /// trained without one fold of documents, each predicting its held-out fold
    Crossfit(CrossfitCmdArgs),
    /// Cross-fit, then plant canaries (the data's own kind of noise) into a copy, find them like
    /// real wrong labels, and set the flags so their precision on the canaries is at least
    /// audit.min_precision; reports what precision and recall the flags are expected to have
    Audit(AuditArgs),
}

/// The training run: the dashboard, or headless.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TrainArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub edits: EditsArg,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `segscope gen-data`.
#[derive(clap::Args, Debug, Clone)]
pub struct GenDataArgs {
    /// Number of documents
    #[arg(long, value_parser = whole::<usize>, default_value_t = crate::data::generate::BUNDLED_DOCS)]
    pub docs: usize,
    /// Random seed
    #[arg(long, value_parser = whole::<u64>, default_value_t = crate::data::generate::BUNDLED_SEED)]
    pub seed: u64,
    /// Output file ("-" for stdout)
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub out: PathBuf,
}

/// `segscope tour`.
#[derive(clap::Args, Debug, Clone)]
pub struct TourArgs {
    /// Print every page's numbers before and after its step as JSON lines, and exit
    #[arg(long)]
    pub headless: bool,
    /// The scene to start at (1, 2 or 3)
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3), default_value_t = 1)]
    pub scene: u8,
    /// Tensor backend
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
}

/// `segscope watch`.
#[derive(clap::Args, Debug, Clone)]
pub struct WatchArgs {
    /// The stream file ("-" for standard input). With --headless: read it to its end, print
    /// the final metrics as JSON (and --report FILE the per-segment table), and exit
    pub file: PathBuf,
    /// Wait for the file to appear and for its segments (a writer that has not started yet);
    /// without it, a missing file or one that is not a stream is an error
    #[arg(long)]
    pub wait: bool,
    /// Read the stream to its end, print the final metrics as JSON, and exit
    #[arg(long)]
    pub headless: bool,
    /// The per-segment table (.csv, or .jsonl): with --headless at the end, in the dashboard
    /// where `e` exports it
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `segscope compare`.
#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// The objectives, comma-separated
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "mse,pairwise"
    )]
    pub losses: Vec<LossName>,
    /// Train without the dashboard: one JSON line per step with every model's loss, then a
    /// summary
    #[arg(long)]
    pub headless: bool,
    /// Steps to run (headless) [config: train.steps]
    #[arg(long, value_parser = whole::<u64>, value_name = "N")]
    pub steps: Option<u64>,
    /// The per-segment table of every model (.csv, or .jsonl): at the end of a headless run,
    /// or where `e` exports it in the dashboard
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// `segscope convert`.
#[derive(clap::Args, Debug, Clone)]
pub struct ConvertArgs {
    /// The input file
    pub input: PathBuf,
    /// Where to write it ("-" for stdout)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The output format. trl-stepwise and math-shepherd hold booleans per step: context
    /// steps after the last labelled one are left out, a context step before labelled ones
    /// is an error
    #[arg(long, value_enum, default_value = "segscope")]
    pub to: crate::data::formats::out::OutFormat,
    /// With --to trl-stepwise or math-shepherd: a score at or above T is a correct step
    /// [default: the scores must take two values, the higher one correct]
    #[arg(long, value_name = "T")]
    pub threshold: Option<f32>,
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub edits: EditsArg,
    /// Fraction of documents without a `split` field in dev, which --edits checks against
    /// (edits apply to training segments) [config: dev_fraction]
    #[arg(long, value_name = "F")]
    pub dev_fraction: Option<f64>,
}

/// `segscope crossfit`, and its `merge`.
#[derive(clap::Args, Debug, Clone)]
pub struct CrossfitCmdArgs {
    #[command(flatten)]
    pub args: CrossfitArgs,
    /// Also plant canaries into a copy of the data and set the flags' threshold from them
    /// (what `segscope audit` does)
    #[arg(long)]
    pub audit: bool,
    /// Train and predict fold K of N only (K from 0), as one job of a cluster's array, and
    /// write a part file (JSON) to --out; `segscope crossfit merge` joins the N parts
    #[arg(long, value_name = "K/N", value_parser = fold_of_n)]
    pub fold: Option<(usize, usize)>,
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(subcommand)]
    pub merge: Option<CrossfitCommand>,
}

/// `segscope audit`.
#[derive(clap::Args, Debug, Clone)]
pub struct AuditArgs {
    #[command(flatten)]
    pub args: CrossfitArgs,
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// `segscope crossfit merge`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum CrossfitCommand {
    /// Join the part files of `crossfit --fold K/N` jobs into the report one `crossfit` process
    /// gives (label scores included); refuses parts of different data, options, seeds or
    /// judges, and a fold missing or given twice. The data, config and judges are read again
    /// from where the jobs read them
    Merge {
        /// The part files, one per fold
        #[arg(required = true, value_name = "PART")]
        parts: Vec<PathBuf>,
        /// The per-segment out-of-fold report (.csv, or JSON lines; "-" for stdout)
        #[arg(long, value_name = "FILE", default_value = "segscope-crossfit.csv")]
        out: PathBuf,
    },
}

/// A flag's value that is not what the flag takes (clap prints it after the flag's name).
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error("must be a whole number, 0 or more, found `{0}`")]
    NotWhole(String),
    #[error("`{0}` is not K/N (fold K of N, K from 0)")]
    NotFold(String),
    #[error("`{part}` in `{text}` is not a whole number")]
    FoldPart { part: String, text: String },
    #[error("N in `{0}` must be from 2 to 100")]
    FoldCount(String),
    #[error("fold {k} of {n} does not exist: K counts from 0 to {last}", last = n - 1)]
    NoSuchFold { k: usize, n: usize },
}

/// `K/N`: fold K (from 0) of N, N from 2 to 100.
fn fold_of_n(s: &str) -> Result<(usize, usize), ValueError> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| ValueError::NotFold(s.to_string()))?;
    let whole = |part: &str| {
        part.trim()
            .parse::<usize>()
            .map_err(|_| ValueError::FoldPart {
                part: part.to_string(),
                text: s.to_string(),
            })
    };
    let (k, n) = (whole(k)?, whole(n)?);
    if !(2..=100).contains(&n) {
        return Err(ValueError::FoldCount(s.to_string()));
    }
    if k >= n {
        return Err(ValueError::NoSuchFold { k, n });
    }
    Ok((k, n))
}

/// The options `crossfit` and `audit` share.
#[derive(clap::Args, Debug, Clone)]
pub struct CrossfitArgs {
    /// Number of folds (by document)
    #[arg(long, value_parser = whole::<usize>, default_value_t = crate::labels::pipeline::DEFAULT_FOLDS)]
    pub folds: usize,
    /// The model that cross-fits: `linear` (sparse logistic or ridge over TF-IDF n-grams, folds
    /// side by side; seconds) or `mlp` (segscope's own model; minutes). --backend, --lr,
    /// --batch-size, --optimizer and --eval-every apply to `mlp` only
    #[arg(long, value_enum, default_value = "linear")]
    pub learner: crate::labels::crossfit::Learner,
    /// Fold splits (each from its own seed) whose out-of-fold predictions are averaged
    #[arg(long, value_parser = whole::<usize>, value_name = "N", default_value_t = crate::labels::pipeline::DEFAULT_REPEATS)]
    pub repeats: usize,
    /// Steps at most per fold, `mlp` only [default: train.steps]
    #[arg(long, value_parser = whole::<u64>, value_name = "N")]
    pub steps: Option<u64>,
    /// The per-segment out-of-fold report (.csv, or JSON lines; "-" for stdout)
    #[arg(long, value_name = "FILE", default_value = "segscope-crossfit.csv")]
    pub out: PathBuf,
    /// An outside judge of the steps (binary labels): JSON lines {"id": "doc:index",
    /// "p_correct": 0.93} or a CSV with those columns; weighed with segscope's model and the
    /// verifiers by how well it agrees with the labels out of fold. Repeat for several
    #[arg(long, value_name = "FILE")]
    pub judge: Vec<PathBuf>,
}

/// What a command's flags say about its config and inputs, read from the typed groups it
/// declares (a group it does not declare is `None`): all that [`session`] reads of the flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides<'a> {
    pub config: Option<&'a std::path::Path>,
    pub data: Option<&'a std::path::Path>,
    pub format: Option<&'a FormatArgs>,
    pub model: Option<&'a ModelArgs>,
    pub run: Option<&'a RunArgs>,
    pub edits: Option<&'a std::path::Path>,
    /// A command's own `--steps` (compare's), where it has no [`RunArgs`].
    pub steps: Option<u64>,
    /// convert's own `--dev-fraction`, where it has no [`ModelArgs`].
    pub dev_fraction: Option<f64>,
}

impl<'a> Overrides<'a> {
    fn with(config: &'a ConfigArg, data: Option<&'a DataArgs>) -> Overrides<'a> {
        Overrides {
            config: config.config.as_deref(),
            data: data.and_then(|d| d.data.as_deref()),
            format: data.map(|d| &d.format),
            ..Overrides::default()
        }
    }

    /// `--lenient`.
    pub fn lenient(&self) -> bool {
        self.format.is_some_and(|f| f.lenient)
    }

    /// `--resume`.
    pub fn resume(&self) -> Option<&'a std::path::Path> {
        self.run.and_then(|r| r.resume.as_deref())
    }
}

impl TrainArgs {
    pub fn overrides(&self) -> Overrides<'_> {
        Overrides {
            model: Some(&self.model),
            run: Some(&self.run),
            edits: self.edits.edits.as_deref(),
            ..Overrides::with(&self.config, Some(&self.data))
        }
    }
}

impl WatchArgs {
    pub fn overrides(&self) -> Overrides<'_> {
        Overrides::with(&self.config, None)
    }
}

impl CompareArgs {
    pub fn overrides(&self) -> Overrides<'_> {
        Overrides {
            model: Some(&self.model),
            steps: self.steps,
            ..Overrides::with(&self.config, Some(&self.data))
        }
    }
}

impl ConvertArgs {
    pub fn overrides(&self) -> Overrides<'_> {
        Overrides {
            format: Some(&self.format),
            edits: self.edits.edits.as_deref(),
            dev_fraction: self.dev_fraction,
            ..Overrides::with(&self.config, None)
        }
    }
}

impl CrossfitCmdArgs {
    pub fn overrides(&self) -> Overrides<'_> {
        Overrides {
            model: Some(&self.model),
            ..Overrides::with(&self.config, Some(&self.data))
        }
    }
}

impl AuditArgs {
    pub fn overrides(&self) -> Overrides<'_> {
        Overrides {
            model: Some(&self.model),
            ..Overrides::with(&self.config, Some(&self.data))
        }
    }
}

/// A whole number, 0 or more: says so for `-3` or `2.5`, where the standard parser would say
/// "invalid digit found in string".
fn whole<T: std::str::FromStr>(text: &str) -> Result<T, ValueError> {
    text.trim()
        .parse()
        .map_err(|_| ValueError::NotWhole(text.to_string()))
}
