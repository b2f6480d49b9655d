//! Every command as a library function taking its typed arguments (`run(args) -> Result<ExitCode,
//! CommandError>`), the dispatch from parsed flags, and what commands share: the plan of a
//! command's inputs and outputs, reading the data, and warnings about skipped lines.

pub mod compare;
pub mod convert;
pub mod crossfit;
pub mod gen_data;
pub mod tour;
pub mod train;
pub mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::{Args, Command, CrossfitCommand, Overrides};
use crate::io_plan::{self, Output};

/// Why a command stopped. Each variant is one layer's typed error, or (`Refused`) input the
/// command itself turns down; [`CommandError::exit_code`] says what the process exits with.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Flags that do not fit together, a value out of range, or data that does not fit the
    /// command: bad input, exit 2.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Session(#[from] crate::cli::session::SessionError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Plan(#[from] io_plan::PlanError),
    #[error(transparent)]
    Write(#[from] io_plan::WriteError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Edits(#[from] crate::data::edits::EditError),
    #[error(transparent)]
    Convert(#[from] crate::data::formats::out::ConvertError),
    #[error(transparent)]
    Labels(#[from] crate::labels::LabelKindError),
    #[error(transparent)]
    Judge(#[from] crate::labels::judge::JudgeError),
    /// Judges given for labels they cannot judge (bad input).
    #[error(transparent)]
    Judges(crate::labels::pipeline::PipelineError),
    /// The cross-fit or audit failed while it ran.
    #[error(transparent)]
    Pipeline(#[from] crate::labels::pipeline::PipelineError),
    /// A model could not be built for this data and config (bad input).
    #[error(transparent)]
    Model(crate::engine::EngineError),
    /// Training failed while it ran.
    #[error(transparent)]
    Training(#[from] crate::engine::EngineError),
    #[error(transparent)]
    CrossfitReport(#[from] crate::labels::crossfit::ReportError),
    #[error(transparent)]
    Part(#[from] crate::labels::crossfit::part::PartError),
    #[error("{}: its config: {source}", path.display())]
    PartConfig {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Stream(#[from] crate::source::watched::OpenError),
    #[error(transparent)]
    StreamRead(#[from] crate::stream::state::StreamError),
    #[error(transparent)]
    Headless(#[from] crate::run::headless::HeadlessError),
    #[error(transparent)]
    Tui(#[from] crate::run::tui::TuiError),
    #[error(transparent)]
    Tour(#[from] crate::tour::scenes::TourError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error("{}: cannot write: {source}", path.display())]
    CompareReport {
        path: PathBuf,
        #[source]
        source: crate::source::compare::ReportWriteError,
    },
    #[error("{}: cannot write: {source}", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl CommandError {
    /// The process's exit code: 2 for bad input (flags, config, data), 1 for a failure while
    /// working; a layer with its own rule (a session, a file written, a headless run) decides.
    pub fn exit_code(&self) -> u8 {
        use CommandError as E;
        match self {
            E::Session(e) => e.exit_code(),
            E::Write(e) => e.exit_code(),
            E::Headless(e) => e.exit_code(),
            E::Refused(_)
            | E::Config(_)
            | E::Plan(_)
            | E::Data(_)
            | E::Edits(_)
            | E::Convert(_)
            | E::Labels(_)
            | E::Judge(_)
            | E::Judges(_)
            | E::Model(_)
            | E::CrossfitReport(_)
            | E::Part(_)
            | E::PartConfig { .. }
            | E::Stream(_)
            | E::StreamRead(_) => 2,
            E::Pipeline(_)
            | E::Training(_)
            | E::Tui(_)
            | E::Tour(_)
            | E::Export(_)
            | E::CompareReport { .. }
            | E::Output { .. }
            | E::Json(_)
            | E::Io(_) => 1,
        }
    }
}

/// Runs the command the flags name (the training run without one).
pub fn run(args: Args) -> Result<ExitCode, CommandError> {
    if matches!(
        args.command,
        Some(Command::GenData(_) | Command::Convert(_) | Command::Crossfit(_) | Command::Audit(_))
    ) {
        // One-shot commands: a signal lets the work end through its normal path, so a
        // half-written output is removed rather than left (see io_plan::atomic).
        crate::signals::install();
    }
    match &args.command {
        None => train::run(&args.train),
        Some(Command::GenData(a)) => gen_data::run(a),
        Some(Command::Formats) => {
            for f in crate::data::formats::FORMATS {
                println!("{:<14} {}", f.name(), f.summary());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Convert(a)) => convert::run(a),
        Some(Command::Watch(a)) => watch::run(a),
        Some(Command::Compare(a)) => compare::run(a),
        Some(Command::Tour(a)) => tour::run(a),
        Some(Command::Crossfit(a)) => match (&a.merge, a.fold) {
            (Some(CrossfitCommand::Merge { parts, out }), _) => crossfit::merge(parts, out),
            (None, Some(fold)) => crossfit::fold_job(a, fold),
            (None, None) => crossfit::run(&a.args, a.overrides(), a.audit),
        },
        Some(Command::Audit(a)) => crossfit::run(&a.args, a.overrides(), true),
    }
}

/// Checks a command's outputs against its inputs (the config file the config was read from, the
/// data, `--edits`, `--resume`, and `extra`: `--crossfit`, judges, a command's own inputs) and each other before any work: see
/// `crate::io_plan`.
pub fn plan(
    flags: &Overrides,
    (config, config_file): (&crate::config::Config, Option<&Path>),
    extra: &[(&str, &Path)],
    outputs: &[Output],
) -> Result<(), CommandError> {
    let data = config.data_path();
    let mut inputs: Vec<(&str, &Path)> = Vec::new();
    if let Some(p) = config_file {
        inputs.push(("--config", p));
    }
    if let Some(p) = &data {
        inputs.push(("--data", p));
    }
    if let Some(p) = flags.edits {
        inputs.push(("--edits", p));
    }
    // The checkpoint being resumed is read: no output may land inside it.
    if let Some(p) = flags.resume() {
        inputs.push(("--resume", p));
    }
    inputs.extend_from_slice(extra);
    Ok(io_plan::check(&inputs, outputs)?)
}

/// The exit status of a dashboard that has closed: 128 + the signal that closed it (130 for
/// SIGINT, 143 for SIGTERM), else success.
pub fn after_dashboard() -> ExitCode {
    match crate::signals::received() {
        Some(sig) => ExitCode::from(crate::signals::exit_code(sig)),
        None => ExitCode::SUCCESS,
    }
}

/// The dataset the config names, read with `--lenient` as asked; skipped lines are warned about.
pub fn load_data(
    flags: &Overrides,
    config: &crate::config::Config,
) -> Result<crate::data::Dataset, CommandError> {
    let opts = crate::data::ReadOptions {
        lenient: flags.lenient(),
        data: config.data.clone(),
    };
    let (ds, skipped) = crate::data::load(config.data_path().as_deref(), &opts)?;
    warn_skipped(&skipped, &ds.source);
    Ok(ds)
}

/// Warns about each line `--lenient` skipped, then counts them.
pub fn warn_skipped(skipped: &[crate::data::Skipped], source: &str) {
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
