//! `segscope convert`: any format in, segscope's JSONL, TRL stepwise or Math-Shepherd out.

use std::io::Write;
use std::process::ExitCode;

use segscope::cli::Cli;
use segscope::cli::session;
use segscope::io_plan::{self, Output};

use super::{plan, warn_skipped};

/// `segscope convert`: any format in; segscope's JSONL, TRL stepwise or Math-Shepherd out.
pub fn convert(
    cli: &Cli,
    input: &std::path::Path,
    out: &std::path::Path,
    to: segscope::data::formats::out::OutFormat,
    threshold: Option<f32>,
) -> Result<ExitCode, (u8, String)> {
    use segscope::data::formats::out::{self as outfmt, OutFormat};
    if to == OutFormat::Segscope && threshold.is_some() {
        return Err((
            2,
            "--threshold applies to --to trl-stepwise and math-shepherd (segscope's format keeps every score)".into(),
        ));
    }
    if threshold.is_some_and(|t| !t.is_finite()) {
        return Err((2, "--threshold must be a finite number".into()));
    }
    let session::Resolved { config, file, .. } =
        session::resolve_config(cli).map_err(|e| (e.exit_code() as u8, e.to_string()))?;
    if cli.dev_fraction.is_some() && cli.edits.is_none() {
        // The split only says which segments edits may change; without edits it changes nothing.
        return Err((
            2,
            "--dev-fraction applies to convert with --edits only (it decides which segments are training ones)".into(),
        ));
    }
    plan(
        cli,
        (&config, file.as_deref()),
        &[("convert's INPUT", input)],
        &[Output::file("--out", out, true)],
    )?;
    let opts = segscope::data::ReadOptions {
        lenient: cli.lenient,
        data: config.data,
    };
    let (ds, skipped) = segscope::data::read_file(input, &opts).map_err(|e| (2, e.to_string()))?;
    warn_skipped(&skipped, &ds.source);
    let (ds, excluded) = match &cli.edits {
        Some(p) => edited(ds, p, config.dev_fraction)?,
        None => (ds, Vec::new()),
    };
    // Into memory first: a segment the format cannot hold is an error before anything is written.
    let mut buf = Vec::new();
    let written = outfmt::write(&ds, to, threshold, &excluded, &mut buf).map_err(|e| (2, e))?;
    if io_plan::is_stdout(out) {
        std::io::stdout()
            .lock()
            .write_all(&buf)
            .map_err(|e| (1, format!("{}: cannot write: {e}", out.display())))?;
    } else {
        io_plan::write_file(out, &buf).map_err(|e| (e.exit_code(), e.to_string()))?;
    }
    if written.dropped_context > 0 || written.dropped_docs > 0 {
        eprintln!(
            "segscope: left out {} context step(s) after the last labelled step of their document and {} document(s) without a labelled step: {} has no place for them",
            written.dropped_context,
            written.dropped_docs,
            to.name()
        );
    }
    let (docs, segs, labelled) = (ds.docs.len(), ds.segments.len(), ds.labelled());
    eprintln!(
        "segscope: read {} as {}: {docs} documents, {segs} segments ({labelled} with a target)",
        ds.source, ds.format
    );
    Ok(ExitCode::SUCCESS)
}

/// `ds` with the edits of file `p`: new targets in place, excluded segments unlabelled (and
/// which they are: the stepwise formats leave them out). Other weights have no place in a dataset
/// file and are an error naming their line.
pub fn edited(
    ds: segscope::data::Dataset,
    p: &std::path::Path,
    dev_fraction: f64,
) -> Result<(segscope::data::Dataset, Vec<bool>), (u8, String)> {
    use segscope::data::edits::{Action, Edits};
    let part = segscope::data::Partition::new(&ds, dev_fraction);
    let edits = Edits::read_with(p, &ds, &part, |a| match a {
        Action::Weight(w) if w != 0.0 && w != 1.0 => Err(format!(
            "a weight of {w} cannot be written into a dataset (only exclusions, weight 0, and new targets can)"
        )),
        _ => Ok(()),
    })
    .map_err(|e| (2, e.to_string()))?;
    if let Some(note) = edits.repeats_note(&ds, &p.display().to_string()) {
        eprintln!("segscope: {note}");
    }
    let e = segscope::data::formats::out::edited(&ds, &edits);
    Ok((e.data, e.excluded))
}
