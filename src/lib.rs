//! segscope: train a segment-level reward model by regression and watch it in the terminal.
//!
//! Modules, each depending only on those above it in this list:
//! - [`config`]: config.toml <-> plain typed configuration, validated; depends on nothing here.
//! - [`signals`]: SIGINT/SIGTERM/SIGHUP noted, so every command stops cleanly and exits 130/143.
//! - [`io_plan`]: every output checked before work (never an input, never twice), and the one
//!   atomic, locked way to write a file.
//! - [`data`]: the dataset's types, input formats, the labels' kind, partitions, the generator,
//!   featurising.
//! - [`engine`]: the burn model, the trainer (one step -> [`engine::StepReport`]), metrics,
//!   checkpoints. It never touches the terminal.
//! - [`analysis`]: from a report to robust z, outliers, shares, top segments and convergence.
//! - [`labels`]: finding wrong labels: the cross-fit, verifiers, judges, the label score, the
//!   audit.
//! - [`stream`]: the stream format that carries any trainer's per-segment predictions: records,
//!   segscope's writer, the reader's state, following a growing file.
//! - [`source`]: what yields step reports and takes control: the in-process trainer, a watched
//!   stream, objectives trained side by side (`source::compare`), and the thread that drives a
//!   source for the dashboard.
//! - [`export`]: the per-segment table and its files.
//! - [`tour`]: `segscope tour`'s pages, their data and their explanations.
//! - [`app`]: the dashboard's state, actions and keymap (no I/O); [`ui`]: the screen, a pure
//!   function of the app state.
//! - [`cli`]: flags, and (`cli::session`) everything a run needs built from flags and config.
//! - [`run`]: a run without a screen (`run::headless`, JSON lines) and with one (`run::tui`:
//!   terminal setup and restore, the event loop around a source).
//! - [`commands`]: every command as a function of its typed arguments, returning its exit code
//!   or a [`commands::CommandError`]; the binary only parses flags and calls
//!   [`commands::run`].
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod analysis;
pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod data;
pub mod engine;
pub mod export;
pub mod io_plan;
pub mod labels;
pub mod run;
pub mod signals;
pub mod source;
pub mod stream;
pub mod tour;
pub mod ui;
