//! Command-line options (clap). Flags override config.toml; config.toml overrides the defaults.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{BackendKind, Keep, LossName, OptimizerName};

#[derive(Parser, Debug, Clone, Default)]
#[command(
    // `--lr -1` is a value to check (it must be positive), not an unknown flag `-1`.
    allow_negative_numbers = true,
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
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Config file [default: ./config.toml when it exists, else built-in defaults]
    #[arg(long, short = 'c', value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Dataset (JSONL, a .json array, or either .gz) [default: the bundled dataset]
    #[arg(long, short = 'd', value_name = "FILE", global = true)]
    pub data: Option<PathBuf>,

    /// Input format [default: detected from the first record; `segscope formats` lists them]
    #[arg(long, value_name = "NAME", global = true)]
    pub format: Option<String>,

    /// Skip bad data lines (one warning each) instead of stopping at the first
    #[arg(long, global = true)]
    pub lenient: bool,

    /// Tensor backend
    #[arg(long, value_enum, global = true)]
    pub backend: Option<BackendKind>,

    /// Train without the dashboard: one JSON line per step
    #[arg(long, global = true)]
    pub headless: bool,

    /// Steps to run now (headless) [config: train.steps]
    #[arg(long, value_parser = whole::<u64>, value_name = "N", global = true)]
    pub steps: Option<u64>,

    /// Write the JSON lines here instead of stdout
    #[arg(long, value_name = "FILE", global = true)]
    pub out: Option<PathBuf>,

    /// Also write the run as a stream (see `segscope watch`): every segment, then every step's predictions
    #[arg(long, value_name = "FILE")]
    pub stream: Option<PathBuf>,

    /// Write the final per-segment table (.csv, or .jsonl) here
    #[arg(long, value_name = "FILE", global = true)]
    pub report: Option<PathBuf>,

    /// Save a checkpoint into DIR at the end (and with `w` in the dashboard)
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,

    /// Show a cross-fit report's out-of-fold residuals beside the live ones (from `segscope crossfit`)
    #[arg(long, value_name = "FILE")]
    pub crossfit: Option<PathBuf>,

    /// What-if edits to apply at start (JSON lines: id, action exclude|weight|target, value); with
    /// `convert`, the edited dataset is written
    #[arg(long, value_name = "FILE", global = true)]
    pub edits: Option<PathBuf>,

    /// Continue from the newest checkpoint in DIR (its saved config is used; config.toml is not read)
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,

    /// Random seed [config: seed]
    #[arg(long, value_parser = whole::<u64>, global = true)]
    pub seed: Option<u64>,

    /// Learning rate [config: train.lr]
    #[arg(long, global = true)]
    pub lr: Option<f64>,

    /// Batch size, 0 = full batch [config: train.batch_size]
    #[arg(long, value_parser = whole::<usize>, value_name = "N")]
    pub batch_size: Option<usize>,

    /// Per-segment loss [config: train.loss]
    #[arg(long, value_enum)]
    pub loss: Option<LossName>,

    /// Optimiser [config: train.optimizer]
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerName>,

    /// Refresh all predictions every K steps [config: train.eval_every]
    #[arg(long, value_parser = whole::<u64>, value_name = "K")]
    pub eval_every: Option<u64>,

    /// Segments listed per headless line [config: train.top_k]
    #[arg(long, value_parser = whole::<usize>, value_name = "K")]
    pub top_k: Option<usize>,

    /// Fraction of documents without a `split` field that go to dev [config: dev_fraction]
    #[arg(long, value_name = "F", global = true)]
    pub dev_fraction: Option<f64>,

    /// The model to hand back: lowest dev loss, or the last step [config: train.keep]
    #[arg(long, value_enum, global = true)]
    pub keep: Option<Keep>,

    /// End a headless run after N steps without a better dev loss, 0 = never [config: train.early_stop]
    #[arg(long, value_parser = whole::<u64>, value_name = "N", global = true)]
    pub early_stop: Option<u64>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Generate a dataset with segscope's seeded generator (the bundled one is --docs 600 --seed 7)
    GenData {
        /// Number of documents
        #[arg(long, value_parser = whole::<usize>, default_value_t = crate::data::generate::BUNDLED_DOCS)]
        docs: usize,
        /// Random seed
        #[arg(long, value_parser = whole::<u64>, default_value_t = crate::data::generate::BUNDLED_SEED)]
        seed: u64,
        /// Output file ("-" for stdout)
        #[arg(long, value_name = "FILE", default_value = "-")]
        out: PathBuf,
    },
    /// List the input formats segscope reads
    Formats,
    /// Open the dashboard on a stream written by any trainer, following it as it grows
    Watch {
        /// The stream file ("-" for standard input). With --headless: read it to its end, print
        /// the final metrics as JSON (and --report FILE the per-segment table), and exit
        file: PathBuf,
        /// Wait for the file to appear and for its segments (a writer that has not started yet);
        /// without it, a missing file or one that is not a stream is an error
        #[arg(long)]
        wait: bool,
    },
    /// Train one model per objective side by side (same data, split, seed, features and initial
    /// weights), in lock step: regression is not ranking
    Compare {
        /// The objectives, comma-separated
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "mse,pairwise"
        )]
        losses: Vec<LossName>,
    },
    /// Read a dataset in any format and write it as segscope's JSONL, to see what was imported
    Convert {
        /// The input file
        input: PathBuf,
        /// Where to write segscope's JSONL ("-" for stdout)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Out-of-fold predictions and a label-issue score for every labelled segment: K models, each
    /// trained without one fold of documents, each predicting its held-out fold
    Crossfit {
        #[command(flatten)]
        args: CrossfitArgs,
        /// Also plant canaries into a copy of the data and set the flags' threshold from them
        /// (what `segscope audit` does)
        #[arg(long)]
        audit: bool,
    },
    /// Cross-fit, then plant canaries (the data's own kind of noise) into a copy, find them like
    /// real wrong labels, and set the flags so their precision on the canaries is at least
    /// audit.min_precision; reports what precision and recall the flags are expected to have
    Audit {
        #[command(flatten)]
        args: CrossfitArgs,
    },
}

/// The options `crossfit` and `audit` share.
#[derive(clap::Args, Debug, Clone)]
pub struct CrossfitArgs {
    /// Number of folds (by document)
    #[arg(long, value_parser = whole::<usize>, default_value_t = 5)]
    pub folds: usize,
    /// The model that cross-fits: `linear` (sparse logistic or ridge over TF-IDF n-grams, folds
    /// side by side; seconds) or `mlp` (segscope's own model; minutes)
    #[arg(long, value_enum, default_value = "linear")]
    pub learner: crate::crossfit::Learner,
    /// Fold splits (each from its own seed) whose out-of-fold predictions are averaged
    #[arg(long, value_parser = whole::<usize>, value_name = "N", default_value_t = 3)]
    pub repeats: usize,
    /// Steps at most per fold, `mlp` only [default: train.steps]
    #[arg(long, value_parser = whole::<u64>, value_name = "N")]
    pub steps: Option<u64>,
    /// The per-segment out-of-fold report (.csv, or JSON lines)
    #[arg(long, value_name = "FILE", default_value = "segscope-crossfit.csv")]
    pub out: PathBuf,
}

/// A whole number, 0 or more: says so for `-3` or `2.5`, where the standard parser would say
/// "invalid digit found in string".
fn whole<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("must be a whole number, 0 or more, found `{text}`"))
}
