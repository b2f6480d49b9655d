//! `segscope tour`: the dashboard on the tour's pages, or each page's numbers as JSON lines.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use crate::cli::TourArgs;

use super::CommandError;

/// `segscope tour`: the dashboard on the tour's pages, or (headless, or not on a terminal) each
/// page's numbers as JSON lines.
pub fn run(args: &TourArgs) -> Result<ExitCode, CommandError> {
    use crate::tour::{PAGES, headless};
    let backend = args.backend.unwrap_or(crate::config::BackendKind::Flex);
    if args.headless || !std::io::stdout().is_terminal() {
        let runs = headless(backend)?;
        let mut out = std::io::stdout().lock();
        for r in runs.iter().filter(|r| r.page.scene() >= args.scene) {
            let line = serde_json::to_string(r)?;
            writeln!(out, "{line}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let first = PAGES
        .iter()
        .copied()
        .find(|p| p.scene() == args.scene)
        .unwrap_or(PAGES[0]);
    crate::run::tui::run_tour(first, backend)?;
    Ok(ExitCode::SUCCESS)
}
