//! segscope: train a segment-level reward model by regression and watch it in the terminal.
//!
//! - [`data`]: reading and validating datasets, the default-data generator, featurising.
//! - [`engine`]: the burn model, the trainer (one step -> [`engine::StepReport`]), metrics,
//!   checkpoints. It never touches the terminal.
//! - [`config`]: config.toml <-> typed configuration.
//! - [`cli`]: command-line options.
//! - [`headless`]: training without a screen, one JSON line per step.
//! - [`session`]: everything a run needs, built from the CLI and config (shared by both modes).
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod cli;
pub mod config;
pub mod data;
pub mod engine;
pub mod export;
pub mod headless;
pub mod session;
