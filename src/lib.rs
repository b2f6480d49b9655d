//! segscope: train a segment-level reward model by regression and watch it in the terminal.
//!
//! Modules, each depending only on those above it in this list:
//! - [`config`]: config.toml <-> plain typed configuration, validated; depends on nothing here.
//! - [`data`]: the dataset's types, input formats, partitions, the generator, featurising.
//! - [`engine`]: the burn model, the trainer (one step -> [`engine::StepReport`]), metrics,
//!   checkpoints. It never touches the terminal.
//! - [`analysis`]: from a report to robust z, outliers, shares, top segments and convergence.
//! - [`stream`]: the stream format that carries any trainer's per-segment predictions: records,
//!   segscope's writer, the reader's state, following a growing file.
//! - [`source`]: what yields step reports and takes control (the in-process trainer, and the
//!   thread that drives a source for the dashboard).
//! - [`export`]: the per-segment table; [`headless`]: a source without a screen, JSON lines;
//!   [`crossfit`]: out-of-fold residuals for every labelled segment; [`compare`]: objectives
//!   trained side by side.
//! - [`app`]: the dashboard's state, actions and keymap (no I/O); [`ui`]: the screen, a pure
//!   function of the app state.
//! - [`cli`], [`session`]: flags, and everything a run needs built from flags and config.
//! - [`tui`]: terminal setup and restore, and the event loop around a source.
//! - [`signals`]: SIGINT/SIGTERM/SIGHUP noted, so both modes stop cleanly and exit 130/143.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod analysis;
pub mod app;
pub mod cli;
pub mod compare;
pub mod config;
pub mod crossfit;
pub mod data;
pub mod engine;
pub mod export;
pub mod headless;
pub mod io_plan;
pub mod labels;
pub mod session;
pub mod signals;
pub mod source;
pub mod stream;
pub mod tour;
pub mod tui;
pub mod ui;
