//! The segscope binary: parse the flags and run the command they name (see `segscope::commands`).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before anything builds rayon's global pool, so its threads flush denormals too. The
    // allocator's tuning waits for the trainer (`tuning::tune`).
    segscope::engine::tuning::flush_denormals();
    segscope::engine::tuning::pool();
    let args = segscope::cli::Args::parse();
    match segscope::commands::run(args) {
        Ok(code) => code,
        Err(e) => {
            // Not eprintln!: it panics when stderr is gone (a closed terminal), turning a clean
            // error exit into an abort.
            let _ = writeln!(std::io::stderr(), "segscope: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
