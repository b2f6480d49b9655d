//! The segscope binary: parse flags, build the session, run the dashboard or headless training.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use segscope::cli::{Cli, Command};
use segscope::headless::{self, HeadlessOptions, Outcome};
use segscope::session;
use segscope::tui::{self, Outputs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err((code, message)) => {
            // Not eprintln!: it panics when stderr is gone (a closed terminal), turning a clean
            // error exit into an abort.
            let _ = writeln!(std::io::stderr(), "segscope: error: {message}");
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, (u8, String)> {
    if let Some(Command::GenData { docs, seed, out }) = &cli.command {
        return gen_data(*docs, *seed, out).map(|()| ExitCode::SUCCESS);
    }
    let s = session::build(&cli).map_err(|e| (e.exit_code() as u8, e.to_string()))?;
    for sk in &s.skipped {
        eprintln!(
            "segscope: warning: {}:{}: skipped: {}",
            s.dataset.source, sk.line, sk.message
        );
    }
    if !s.skipped.is_empty() {
        eprintln!(
            "segscope: warning: skipped {} bad line(s) of {}",
            s.skipped.len(),
            s.dataset.source
        );
    }
    let headless = cli.headless || !std::io::stdout().is_terminal();
    if !headless {
        let outputs = Outputs {
            save_dir: cli
                .save
                .clone()
                .unwrap_or_else(|| "segscope-checkpoints".into()),
            export_path: cli
                .report
                .clone()
                .unwrap_or_else(|| "segscope-segments.csv".into()),
        };
        let app = tui::make_app(&s, &outputs);
        let (source, _) = s.into_source();
        tui::run(app, Box::new(source)).map_err(|e| (1, e.to_string()))?;
        return Ok(ExitCode::SUCCESS);
    }
    let opts = HeadlessOptions {
        steps: s.config.train.steps,
        out: cli.out.clone(),
        report: cli.report.clone(),
        save: cli.save.clone(),
        progress: true,
        top_k: s.config.train.top_k,
        outlier_k: s.config.ui.outlier_k,
    };
    let (mut source, _) = s.into_source();
    match headless::run(&mut source, &opts).map_err(|e| (1, e.to_string()))? {
        Outcome::Finished { .. } => Ok(ExitCode::SUCCESS),
        Outcome::Diverged { step, reason } => {
            eprintln!("segscope: training diverged at step {step}: {reason}");
            Ok(ExitCode::from(3))
        }
    }
}

fn gen_data(docs: usize, seed: u64, out: &std::path::Path) -> Result<(), (u8, String)> {
    if docs == 0 {
        return Err((2, "--docs must be at least 1".into()));
    }
    let text = segscope::data::generate::generate(docs, seed);
    if out.as_os_str() == "-" {
        print!("{text}");
        Ok(())
    } else {
        std::fs::write(out, text).map_err(|e| (1, format!("{}: cannot write: {e}", out.display())))
    }
}
