//! `segscope gen-data`: a dataset from segscope's seeded generator.

use std::process::ExitCode;

use crate::cli::GenDataArgs;
use crate::io_plan::{self, Output};

use super::CommandError;

/// The most documents `gen-data` makes: about 58 million segments, far past what segscope trains
/// on, and far short of what would overflow an allocation.
const GEN_DATA_MAX_DOCS: usize = 10_000_000;

/// `segscope gen-data`: the generator's JSON lines to `--out` (or standard output).
pub fn run(args: &GenDataArgs) -> Result<ExitCode, CommandError> {
    let GenDataArgs { docs, seed, out } = args;
    if *docs == 0 || *docs > GEN_DATA_MAX_DOCS {
        return Err(CommandError::Refused(format!(
            "--docs must be from 1 to {GEN_DATA_MAX_DOCS}, found {docs}"
        )));
    }
    io_plan::check(&[], &[Output::file("--out", out, true)])?;
    let text = crate::data::generate::generate(*docs, *seed);
    if out.as_os_str() == "-" {
        print!("{text}");
    } else {
        io_plan::write_file(out, text.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
