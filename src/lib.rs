//! segscope: train a segment-level reward model by regression and watch it in the terminal.
//!
//! - [`data`]: reading and validating datasets, the default-data generator, featurising.
//! - [`engine`]: the burn model, the trainer (one step -> [`engine::StepReport`]), metrics,
//!   checkpoints. It never touches the terminal.
//! - [`config`]: config.toml <-> typed configuration.
//! - [`cli`]: command-line options.
//! - [`headless`]: training without a screen, one JSON line per step.
//! - [`session`]: everything a run needs, built from the CLI and config (shared by both modes).
//! - [`app`]: the dashboard's state, actions and keymap (no I/O).
//! - [`ui`]: the screen, a pure function of the app state.
//! - [`tui`]: terminal setup and restore, the event loop, the training worker thread.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod app;
pub mod cli;
pub mod config;
pub mod data;
pub mod engine;
pub mod export;
pub mod headless;
pub mod session;
pub mod tui;
pub mod ui;
