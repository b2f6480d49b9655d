//! The binary's subcommands, one file each, and what they share: the plan of a command's inputs
//! and outputs, reading the data, and warnings about skipped lines.

pub mod compare;
pub mod convert;
pub mod crossfit;
pub mod watch;

use std::process::ExitCode;

use segscope::cli::Cli;
use segscope::io_plan::{self, Output};

/// Checks a command's outputs against its inputs (the config file the config was read from, the
/// data, `--edits`, `--crossfit`, and `extra`) and each other before any work: see
/// `segscope::io_plan`.
pub fn plan(
    cli: &Cli,
    (config, config_file): (&segscope::config::Config, Option<&std::path::Path>),
    extra: &[(&str, &std::path::Path)],
    outputs: &[Output],
) -> Result<(), (u8, String)> {
    let data = config.data_path();
    let mut inputs: Vec<(&str, &std::path::Path)> = Vec::new();
    if let Some(p) = config_file {
        inputs.push(("--config", p));
    }
    if let Some(p) = &data {
        inputs.push(("--data", p));
    }
    if let Some(p) = &cli.edits {
        inputs.push(("--edits", p));
    }
    if let Some(p) = &cli.crossfit {
        inputs.push(("--crossfit", p));
    }
    // The checkpoint being resumed is read: no output may land inside it.
    if let Some(p) = &cli.resume {
        inputs.push(("--resume", p));
    }
    inputs.extend_from_slice(extra);
    io_plan::check(&inputs, outputs).map_err(|e| (2, e.to_string()))
}

/// The exit status of a dashboard that has closed: 128 + the signal that closed it (130 for
/// SIGINT, 143 for SIGTERM), else success.
pub fn after_dashboard() -> ExitCode {
    match segscope::signals::received() {
        Some(sig) => ExitCode::from(segscope::signals::exit_code(sig)),
        None => ExitCode::SUCCESS,
    }
}

/// The dataset the config names, read with `--lenient` as asked; skipped lines are warned about.
pub fn load_data(
    cli: &Cli,
    config: &segscope::config::Config,
) -> Result<segscope::data::Dataset, (u8, String)> {
    let opts = segscope::data::ReadOptions {
        lenient: cli.lenient,
        data: config.data.clone(),
    };
    let (ds, skipped) = segscope::data::load(config.data_path().as_deref(), &opts)
        .map_err(|e| (2, e.to_string()))?;
    warn_skipped(&skipped, &ds.source);
    Ok(ds)
}

/// Warns about each line `--lenient` skipped, then counts them.
pub fn warn_skipped(skipped: &[segscope::data::Skipped], source: &str) {
    for sk in skipped {
        eprintln!(
            "segscope: warning: {source}:{}: skipped: {}",
            sk.line, sk.message
        );
    }
    if !skipped.is_empty() {
        eprintln!(
            "segscope: warning: skipped {} bad line(s) of {source}",
            skipped.len()
        );
    }
}
