//! `segscope convert`: any format in, segscope's JSONL, TRL stepwise or Math-Shepherd out.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::ConvertArgs;
use crate::cli::session;
use crate::io_plan::{self, Output};

use super::{CommandError, plan, warn_skipped};

/// `segscope convert`: any format in; segscope's JSONL, TRL stepwise or Math-Shepherd out.
pub fn run(args: &ConvertArgs) -> Result<ExitCode, CommandError> {
    use crate::data::formats::out::{self as outfmt, OutFormat};
    let (input, out, to, threshold) = (&args.input, &args.out, args.to, args.threshold);
    if to == OutFormat::Segscope && threshold.is_some() {
        return Err(CommandError::Refused(
            "--threshold applies to --to trl-stepwise and math-shepherd (segscope's format keeps every score)".into(),
        ));
    }
    if threshold.is_some_and(|t| !t.is_finite()) {
        return Err(CommandError::Refused(
            "--threshold must be a finite number".into(),
        ));
    }
    let flags = args.overrides();
    let session::Resolved { config, file, .. } = session::resolve_config(&flags)?;
    if args.dev_fraction.is_some() && flags.edits.is_none() {
        // The split only says which segments edits may change; without edits it changes nothing.
        return Err(CommandError::Refused(
            "--dev-fraction applies to convert with --edits only (it decides which segments are training ones)".into(),
        ));
    }
    plan(
        &flags,
        (&config, file.as_deref()),
        &[("convert's INPUT", input)],
        &[Output::file("--out", out, true)],
    )?;
    let opts = crate::data::ReadOptions {
        lenient: flags.lenient(),
        data: config.data,
    };
    let (ds, skipped) = crate::data::read_file(input, &opts)?;
    warn_skipped(&skipped, &ds.source);
    let (ds, excluded) = match flags.edits {
        Some(p) => edited(ds, p, config.dev_fraction)?,
        None => (ds, Vec::new()),
    };
    // Into memory first: a segment the format cannot hold is an error before anything is written.
    let mut buf = Vec::new();
    let written = outfmt::write(&ds, to, threshold, &excluded, &mut buf)?;
    if io_plan::is_stdout(out) {
        std::io::stdout()
            .lock()
            .write_all(&buf)
            .map_err(|source| CommandError::Output {
                path: out.clone(),
                source,
            })?;
    } else {
        io_plan::write_file(out, &buf)?;
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
    ds: crate::data::Dataset,
    p: &std::path::Path,
    dev_fraction: f64,
) -> Result<(crate::data::Dataset, Vec<bool>), CommandError> {
    use crate::data::edits::{Allowed, Edits};
    let part = crate::data::Partition::new(&ds, dev_fraction);
    let edits = Edits::read_with(p, &ds, &part, Allowed::InData)?;
    if let Some(note) = edits.repeats_note(&ds, &p.display().to_string()) {
        eprintln!("segscope: {note}");
    }
    let e = crate::data::formats::out::edited(&ds, &edits);
    Ok((e.data, e.excluded))
}
