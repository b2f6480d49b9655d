//! The integration tests, as one binary (one link of burn instead of one per file): each file a
//! module named for what it covers.

mod common;

mod app;
mod checkpoint;
mod cli;
mod compare;
mod e2e;
mod engine;
mod formats;
mod fuzz;
mod labels;
mod options;
mod readable;
mod realdata;
mod screens;
mod source;
mod tour;
mod watch;
