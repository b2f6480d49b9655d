//! `segscope crossfit` and `segscope audit`: out-of-fold predictions, label scores, canaries.

use std::process::ExitCode;

use crate::cli::session;
use crate::cli::{CrossfitArgs, CrossfitCmdArgs, Overrides};
use crate::io_plan::{self, Output};

use super::{CommandError, load_data, plan};

/// What an audit beside a cross-fit report (`FILE.audit.json`) expects of its flags, for the
/// header; empty without one.
pub fn audit_note(report: &std::path::Path) -> String {
    crate::labels::audit::Saved::beside(report).map_or(String::new(), |a| a.note())
}

/// After a signal: stop here, before more work, and write nothing (see io_plan::atomic).
fn interrupted(out: &std::path::Path) -> Result<(), CommandError> {
    match crate::signals::received() {
        Some(signal) => Err(crate::io_plan::WriteError::Interrupted {
            path: out.to_path_buf(),
            signal,
        }
        .into()),
        None => Ok(()),
    }
}

/// First-error data: how many documents' most likely first error is not where the labels put
/// it.
fn suggested_moves(cf: &crate::labels::crossfit::Crossfit) -> Option<String> {
    let docs: Vec<_> = cf.suggestions.iter().flatten().collect();
    if docs.is_empty() {
        return None;
    }
    let differ = docs.iter().filter(|s| s.differs()).count();
    let likely = docs
        .iter()
        .filter(|s| s.differs() && s.probability > 0.5)
        .count();
    Some(format!(
        "{differ} of {} documents have their most likely first error elsewhere than labelled ({likely} with probability above 0.5): columns suggested_first_error, suggested_probability",
        docs.len()
    ))
}

/// `--folds` and `--repeats` within their ranges: more folds than 100 is leave-a-few-documents-out
/// at a hundred times the cost, and a huge number would only ask for impossible allocations.
fn counts(args: &CrossfitArgs) -> Result<(), CommandError> {
    if !(2..=100).contains(&args.folds) {
        return Err(CommandError::Refused(format!(
            "--folds must be from 2 to 100, found {}",
            args.folds
        )));
    }
    if !(1..=20).contains(&args.repeats) {
        return Err(CommandError::Refused(format!(
            "--repeats must be from 1 to 20, found {}",
            args.repeats
        )));
    }
    Ok(())
}

/// The linear learner has its own fixed settings: segscope's training options do not reach it.
fn mlp_only(flags: &Overrides, args: &CrossfitArgs) -> Result<(), CommandError> {
    if args.learner == crate::labels::crossfit::Learner::Mlp {
        return Ok(());
    }
    let m = flags.model.cloned().unwrap_or_default();
    for (set, flag) in [
        (args.steps.is_some(), "--steps"),
        (m.backend.is_some(), "--backend"),
        (m.lr.is_some(), "--lr"),
        (m.batch_size.is_some(), "--batch-size"),
        (m.optimizer.is_some(), "--optimizer"),
        (m.eval_every.is_some(), "--eval-every"),
    ] {
        if set {
            return Err(CommandError::Refused(format!(
                "{flag} applies to --learner mlp only (the linear learner trains with fixed settings)"
            )));
        }
    }
    Ok(())
}

/// Folds are by document: each needs one to hold out, and the rest to train on.
fn enough_documents(folds: usize, docs: usize) -> Result<(), CommandError> {
    if docs < 2 {
        return Err(CommandError::Refused(format!(
            "cross-fitting needs at least 2 documents (folds are by document); the data has {docs}"
        )));
    }
    if folds > docs {
        return Err(CommandError::Refused(format!(
            "--folds {folds} is more than the data's {docs} documents: a fold would hold none out (use --folds {docs} or fewer)"
        )));
    }
    Ok(())
}

/// The `--judge` files, read against the data (binary labels only), each said on stderr.
fn judges(
    args: &CrossfitArgs,
    ds: &crate::data::Dataset,
    info: &crate::labels::LabelInfo,
) -> Result<Vec<crate::labels::judge::Judge>, CommandError> {
    crate::labels::pipeline::judges_fit(info, args.judge.len()).map_err(CommandError::Judges)?;
    let judges = args
        .judge
        .iter()
        .map(|p| crate::labels::judge::read(p, ds))
        .collect::<Result<Vec<_>, _>>()?;
    for j in &judges {
        eprintln!(
            "segscope: judge {}: {} of {} steps judged",
            j.name,
            j.judged,
            ds.segments.len()
        );
    }
    Ok(judges)
}

/// The audit's figures on stderr: what the canaries were, what the data holds, the flags.
fn say_audit(a: &crate::labels::audit::Audit) {
    let holds = match a.estimated_documents {
        Some(docs) => format!(
            "the data holds about {docs} documents whose first error is misplaced (found like these canaries; {} wrong labels)",
            a.estimated_wrong
        ),
        None => format!(
            "the data holds about {} wrong labels as easy to find as these",
            a.estimated_wrong
        ),
    };
    let planted = if a.canary_documents > 0 {
        format!(" in {} documents", a.canary_documents)
    } else {
        String::new()
    };
    eprintln!(
        "segscope: audit: {} canaries ({}{planted}) in {} copies of {} labels; their average precision {:.3}; {holds}",
        a.canaries, a.canary_kind, a.repeats, a.labelled, a.average_precision,
    );
    if a.reached {
        eprintln!(
            "segscope: audit: {} flags at label_score >= {:.4}: expected precision {:.2} ({:.2}-{:.2}), recall {:.2} ({:.2}-{:.2})",
            a.flagged,
            a.threshold,
            a.precision,
            a.precision_interval.0,
            a.precision_interval.1,
            a.recall,
            a.recall_interval.0,
            a.recall_interval.1
        );
    } else {
        eprintln!(
            "segscope: audit: {}: nothing is flagged",
            crate::labels::audit::none_reached(a.min_precision, a.best_precision, a.best_flagged)
        );
    }
}

/// What a cross-fit command has read and checked before any training.
struct Prepared {
    config: crate::config::Config,
    ds: std::sync::Arc<crate::data::Dataset>,
    info: crate::labels::LabelInfo,
    features: crate::data::Features,
    opts: crate::labels::crossfit::Options,
}

/// The options checked, the outputs planned, the data and judges read, the features built: all
/// that comes before the folds of a cross-fit of `folds` folds.
fn prepare(
    flags: &Overrides,
    args: &CrossfitArgs,
    folds: usize,
    outputs: &[Output],
) -> Result<Prepared, CommandError> {
    counts(args)?;
    mlp_only(flags, args)?;
    let session::Resolved { config, file, .. } = session::resolve_config(flags)?;
    let judge_inputs: Vec<(&str, &std::path::Path)> = args
        .judge
        .iter()
        .map(|p| ("--judge", p.as_path()))
        .collect();
    plan(flags, (&config, file.as_deref()), &judge_inputs, outputs)?;
    let ds = load_data(flags, &config)?;
    // Folds are by document: each needs one to hold out, and the rest to train on.
    enough_documents(folds, ds.docs.len())?;
    let info = crate::labels::LabelInfo::of(&ds, &config)?;
    let judges = judges(args, &ds, &info)?;
    interrupted(&args.out)?;
    // The linear learner builds its own n-gram rows: the MLP's would only take memory.
    let features = match args.learner {
        crate::labels::crossfit::Learner::Linear => {
            crate::data::features::featurize_dense(&ds, &config.features)
        }
        crate::labels::crossfit::Learner::Mlp => {
            crate::data::features::featurize(&ds, &config.features)
        }
    };
    let opts = crate::labels::crossfit::Options {
        folds,
        max_steps: args.steps.unwrap_or(config.train.steps),
        patience: if config.train.early_stop > 0 {
            config.train.early_stop
        } else {
            u64::MAX
        },
        learner: args.learner,
        seed: config.seed,
        repeats: args.repeats,
        judges: std::sync::Arc::new(judges),
    };
    eprintln!(
        "segscope: {} segments, {} labelled; labels: {}",
        ds.segments.len(),
        ds.labelled(),
        info.describe()
    );
    Ok(Prepared {
        config,
        ds: std::sync::Arc::new(ds),
        info,
        features,
        opts,
    })
}

/// A fold's progress line on stderr.
fn say_fold(f: &crate::labels::crossfit::FoldReport, folds: usize) {
    eprintln!(
        "segscope: fold {}/{folds}: {} docs, {} labelled segments held out; {} steps, best {}; held-out MSE {:.4}; {:.1} s",
        f.fold + 1,
        f.docs,
        f.segments,
        f.steps,
        f.best_step,
        f.held_out_mse,
        f.seconds
    );
}

/// `segscope crossfit` and `segscope audit`: out-of-fold predictions and label scores, progress
/// and the summary on stderr, the report to `out`; with `audit`, the flags' threshold set from
/// canaries and the audit's figures beside the report (`OUT.audit.json`).
pub fn run(args: &CrossfitArgs, flags: Overrides, audit: bool) -> Result<ExitCode, CommandError> {
    let folds = args.folds;
    let to_stdout = io_plan::is_stdout(&args.out);
    // With the report on standard output the audit's figures go to standard error, whole.
    let audit_to_stderr = audit && to_stdout;
    // The audit's figures go beside the report, or only to stderr when the report streams.
    let audit_path = (audit && !to_stdout).then(|| {
        let mut p = args.out.clone().into_os_string();
        p.push(".audit.json");
        std::path::PathBuf::from(p)
    });
    let mut outputs = vec![Output::file("--out", &args.out, true)];
    if let Some(p) = &audit_path {
        outputs.push(Output::file("--out's .audit.json", p, false));
    }
    let Prepared {
        config,
        ds,
        info,
        features,
        opts: o,
    } = prepare(&flags, args, folds, &outputs)?;
    let t0 = std::time::Instant::now();
    let done = crate::labels::pipeline::run(
        &ds,
        &features,
        &config,
        info,
        &o,
        audit,
        &|| crate::signals::received().is_some(),
        |p| {
            if let crate::labels::pipeline::Progress::Fold { report, .. } = p {
                say_fold(report, folds);
            }
        },
    )?;
    interrupted(&args.out)?;
    let cf = done.crossfit;
    if let Some(w) = &cf.weights {
        let failed = cf.verdicts.iter().filter(|v| v.failed > 0).count();
        let checked = cf.verdicts.iter().filter(|v| v.checked > 0).count();
        eprintln!(
            "segscope: verifiers: {checked} steps with checkable claims, {failed} with a false one; evidence weighed (log-odds of right): {}",
            w.describe()
        );
    }
    if let Some(moved) = suggested_moves(&cf) {
        eprintln!("segscope: {moved}");
    }
    let mut audit_json = None;
    if let Some(a) = &done.audit {
        say_audit(a);
        audit_json = Some(serde_json::to_string_pretty(a)?);
    }
    // The report first: an audit beside no report (a full disk between the two) would describe
    // a report that is not there.
    crate::labels::crossfit::write(&args.out, &cf.rows)?;
    if audit_to_stderr && let Some(text) = &audit_json {
        eprintln!("segscope: audit figures: {}", text.replace('\n', " "));
    }
    if let (Some(p), Some(text)) = (&audit_path, audit_json) {
        io_plan::write_file(p, (text + "\n").as_bytes())?;
    }
    let flagged = cf.rows.iter().filter(|r| r.label_issue).count();
    eprintln!(
        "segscope: wrote {} out-of-fold rows ({flagged} flagged as label issues) to {}{} in {:.1} s",
        cf.rows.len(),
        args.out.display(),
        audit_path.map_or(String::new(), |p| format!(
            " and the audit to {}",
            p.display()
        )),
        t0.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// `segscope crossfit --fold K/N`: fold K's out-of-fold predictions (every fold split), as a
/// part file for `segscope crossfit merge`.
pub fn fold_job(cmd: &CrossfitCmdArgs, (k, n): (usize, usize)) -> Result<ExitCode, CommandError> {
    let args = &cmd.args;
    if cmd.audit {
        return Err(CommandError::Refused(
            "--audit needs every fold: run it on the merged report's data with `segscope audit`, not in a --fold job".into(),
        ));
    }
    if args.folds != crate::labels::pipeline::DEFAULT_FOLDS && args.folds != n {
        return Err(CommandError::Refused(format!(
            "--folds {} and --fold {k}/{n} disagree: --fold's N is the number of folds",
            args.folds
        )));
    }
    if args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        || io_plan::is_stdout(&args.out)
    {
        return Err(CommandError::Refused(format!(
            "a fold's part is a JSON file for `segscope crossfit merge`: give --out PART.json (not {})",
            args.out.display()
        )));
    }
    let flags = cmd.overrides();
    let p = prepare(&flags, args, n, &[Output::file("--out", &args.out, false)])?;
    let t0 = std::time::Instant::now();
    let (per_repeat, _) = crate::labels::crossfit::predict(
        &p.ds,
        &p.features,
        &p.config,
        p.info,
        &p.opts,
        Some(k),
        |f| say_fold(f, n),
    )?;
    interrupted(&args.out)?;
    // The config as the job read it, its data path absolute, so that merge reads the same data
    // from wherever it runs on a shared file system.
    let mut config = p.config.clone();
    if let Some(d) = config.data_path() {
        config.data.path = std::path::absolute(&d)
            .unwrap_or(d)
            .to_string_lossy()
            .into_owned();
    }
    let judges = args
        .judge
        .iter()
        .map(|j| std::path::absolute(j).unwrap_or_else(|_| j.clone()))
        .collect();
    let job = crate::labels::crossfit::part::Job::of(
        &p.ds,
        &p.opts,
        serde_json::to_value(&config)?,
        flags.lenient(),
        judges,
    );
    let part = crate::labels::crossfit::part::Part::new(k, job, &per_repeat);
    let text = serde_json::to_string(&part)?;
    io_plan::write_file(&args.out, (text + "\n").as_bytes())?;
    eprintln!(
        "segscope: wrote fold {k} of {n} ({} fold splits) to {} in {:.1} s; `segscope crossfit merge` joins the {n} parts",
        per_repeat.len(),
        args.out.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// `segscope crossfit merge PART... --out FILE`: the parts joined, checked to be of one job, and
/// the report written as one `crossfit` process writes it.
pub fn merge(
    parts: &[std::path::PathBuf],
    out: &std::path::Path,
) -> Result<ExitCode, CommandError> {
    use crate::labels::crossfit::part::{self, Part};
    let read: Vec<(std::path::PathBuf, Part)> = parts
        .iter()
        .map(|p| Part::read(p).map(|part| (p.clone(), part)))
        .collect::<Result<_, _>>()?;
    let job = read
        .first()
        .map(|(_, p)| p.job.clone())
        .ok_or_else(|| CommandError::Refused("no parts".into()))?;
    let config: crate::config::Config =
        serde_json::from_value(job.config.clone()).map_err(|source| CommandError::PartConfig {
            path: parts[0].clone(),
            source,
        })?;
    let mut inputs: Vec<(&str, &std::path::Path)> =
        parts.iter().map(|p| ("PART", p.as_path())).collect();
    let data = config.data_path();
    if let Some(d) = &data {
        inputs.push(("the parts' data", d));
    }
    inputs.extend(
        job.judges
            .iter()
            .map(|j| ("the parts' --judge", j.as_path())),
    );
    io_plan::check(&inputs, &[Output::file("--out", out, true)])?;
    let opts = crate::data::ReadOptions {
        lenient: job.lenient,
        data: config.data.clone(),
    };
    let (ds, _) = crate::data::load(data.as_deref(), &opts)?;
    if part::fingerprint(&ds) != job.data {
        return Err(CommandError::Refused(format!(
            "{}: the data is not what the jobs read (it changed since): run the folds again",
            ds.source
        )));
    }
    let per_repeat = part::join(&read, ds.segments.len())?;
    let info = crate::labels::LabelInfo::of(&ds, &config)?;
    let judges = job
        .judges
        .iter()
        .map(|p| crate::labels::judge::read(p, &ds))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = crate::labels::crossfit::Options {
        folds: job.folds,
        max_steps: job.max_steps,
        patience: job.patience,
        learner: if job.learner == "mlp" {
            crate::labels::crossfit::Learner::Mlp
        } else {
            crate::labels::crossfit::Learner::Linear
        },
        seed: job.seed,
        repeats: job.repeats,
        judges: std::sync::Arc::new(judges),
    };
    let ds = std::sync::Arc::new(ds);
    if part::Job::of(
        &ds,
        &opts,
        job.config.clone(),
        job.lenient,
        job.judges.clone(),
    )
    .judged
        != job.judged
    {
        return Err(CommandError::Refused(
            "the judges' files are not what the jobs read (they changed since): run the folds again".into(),
        ));
    }
    let cf = crate::labels::crossfit::finish(&ds, &config, info, &opts, &per_repeat, Vec::new());
    crate::labels::crossfit::write(out, &cf.rows)?;
    eprintln!(
        "segscope: merged {} folds into {} out-of-fold rows in {}",
        job.folds,
        cf.rows.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
