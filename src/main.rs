//! The segscope binary: parse flags, build the session, run the dashboard or headless training.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use segscope::cli::{Cli, Command};
use segscope::headless::{self, HeadlessOptions, Outcome};
use segscope::io_plan::{self, Output};
use segscope::session;
use segscope::tui::{self, Outputs};

fn main() -> ExitCode {
    // Before anything builds rayon's global pool, so its threads flush denormals too.
    segscope::engine::tuning::tune();
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

/// The training run's options that one mode would ignore are errors instead.
fn mode_options(cli: &Cli, headless: bool) -> Result<(), (u8, String)> {
    let given = |set: bool, flag: &str, why: &str| -> Result<(), (u8, String)> {
        if set {
            Err((2, format!("{flag} {why}")))
        } else {
            Ok(())
        }
    };
    if headless {
        given(
            cli.crossfit.is_some(),
            "--crossfit",
            "shows a cross-fit in the dashboard; a headless run does not read it (use --report for the run's own label scores)",
        )?;
    } else {
        let why =
            "applies to headless runs: add --headless (the dashboard steps from the keyboard)";
        given(cli.out.is_some(), "--out", why)?;
        given(cli.stream.is_some(), "--stream", why)?;
        given(cli.steps.is_some(), "--steps", why)?;
        given(cli.top_k.is_some(), "--top-k", why)?;
        given(cli.keep.is_some(), "--keep", why)?;
        given(cli.early_stop.is_some(), "--early-stop", why)?;
    }
    Ok(())
}

/// Checks a command's outputs against its inputs (the config file, the data, `--edits`,
/// `--crossfit`, and `extra`) and each other before any work: see `segscope::io_plan`.
fn plan(
    cli: &Cli,
    config: &segscope::config::Config,
    extra: &[(&str, &std::path::Path)],
    outputs: &[Output],
) -> Result<(), (u8, String)> {
    let config_file = session::config_path(cli);
    let data = config.data_path();
    let mut inputs: Vec<(&str, &std::path::Path)> = Vec::new();
    if let Some(p) = &config_file {
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
    inputs.extend_from_slice(extra);
    io_plan::check(&inputs, outputs).map_err(|e| (2, e))
}

fn run(cli: Cli) -> Result<ExitCode, (u8, String)> {
    match &cli.command {
        Some(Command::GenData { docs, seed, out }) => {
            return gen_data(*docs, *seed, out).map(|()| ExitCode::SUCCESS);
        }
        Some(Command::Formats) => {
            for f in segscope::data::formats::FORMATS {
                println!("{:<14} {}", f.name(), f.summary());
            }
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Convert {
            input,
            out,
            to,
            threshold,
            ..
        }) => return convert(&cli, input, out, *to, *threshold),
        Some(Command::Watch { file, wait, .. }) => {
            return watch(&cli, file, *wait, cli.headless, cli.report.as_deref());
        }
        Some(Command::Compare { losses, .. }) => return compare(&cli, losses),
        Some(Command::Crossfit { args, audit, .. }) => return crossfit(&cli, args, *audit),
        Some(Command::Audit { args, .. }) => return crossfit(&cli, args, true),
        None => {}
    }
    let headless = cli.headless || !std::io::stdout().is_terminal();
    mode_options(&cli, headless)?;
    {
        let (config, _, _) =
            session::resolve_config(&cli).map_err(|e| (e.exit_code() as u8, e.to_string()))?;
        let stdout = std::path::Path::new("-");
        let mut outputs = Vec::new();
        if headless {
            // The step lines go to --out, or to standard output, which then no other output
            // can take.
            let out = cli.out.as_deref().unwrap_or(stdout);
            outputs.push(Output::file("--out", out, true));
        }
        if let Some(p) = &cli.report {
            // The dashboard's screen is standard output: its export needs a file.
            outputs.push(Output::file("--report", p, headless));
        }
        if let Some(p) = &cli.stream {
            // A stream is followed as a file by `segscope watch`.
            outputs.push(Output::file("--stream", p, false));
        }
        if let Some(p) = &cli.save {
            outputs.push(Output::dir("--save", p));
        }
        plan(&cli, &config, &[], &outputs)?;
    }
    let s = session::build(&cli).map_err(|e| (e.exit_code() as u8, e.to_string()))?;
    warn_skipped(&s.skipped, &s.dataset.source);
    // Checked in both modes: `data.label_kind` and `data.first_error` are never ignored.
    let labels = segscope::labels::LabelInfo::of(&s.dataset, &s.config).map_err(|e| (2, e))?;
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
        let mut app = tui::make_app(&s, &outputs);
        app.labels_note = labels.describe();
        app.labels = Some(labels);
        if let Some(p) = &cli.crossfit {
            let (oof, unknown) = segscope::crossfit::read(p, &s.dataset).map_err(|e| (2, e))?;
            let known = oof.iter().filter(|o| o.pred.is_finite()).count();
            if known == 0 {
                return Err((
                    2,
                    format!(
                        "{}: none of its ids is in the dataset (a cross-fit of other data?)",
                        p.display()
                    ),
                ));
            }
            if unknown > 0 {
                eprintln!(
                    "segscope: warning: {}: {unknown} ids are not in the dataset",
                    p.display()
                );
            }
            app.labels_note.push_str(&audit_note(p));
            app.set_oof(oof);
        }
        let (source, _) = s.into_source();
        tui::run(app, Box::new(source)).map_err(|e| (1, e.to_string()))?;
        return Ok(after_dashboard());
    }
    let opts = HeadlessOptions {
        steps: s.config.train.steps,
        // `-` is standard output, where the step lines go without --out.
        out: cli.out.clone().filter(|p| !io_plan::is_stdout(p)),
        report: cli.report.clone(),
        save: cli.save.clone(),
        progress: true,
        top_k: s.config.train.top_k,
        outlier_k: s.config.ui.outlier_k,
        labels,
        keep_best: s.config.train.keep == segscope::config::Keep::Best,
        early_stop: s.config.train.early_stop,
        stream: cli.stream.clone(),
        config: serde_json::to_value(&s.config).ok(),
    };
    let (mut source, _) = s.into_source();
    match headless::run(&mut source, &opts).map_err(|e| (1, e.to_string()))? {
        Outcome::Finished {
            steps,
            stopped_early,
            last,
            kept,
        } => {
            if let Some(patience) = stopped_early {
                eprintln!(
                    "segscope: stopped early after {steps} steps: the dev loss had not improved for {patience} steps (train.early_stop{})",
                    if patience > opts.early_stop {
                        ", raised to two refreshes of the predictions"
                    } else {
                        ""
                    }
                );
            }
            if kept != last {
                eprintln!(
                    "segscope: kept the model of step {kept}, the lowest dev loss (train.keep = \"best\")"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Interrupted { steps, signal } => {
            eprintln!(
                "segscope: stopped by {} after {steps} steps",
                segscope::signals::name(signal)
            );
            Ok(ExitCode::from(segscope::signals::exit_code(signal)))
        }
        Outcome::Diverged { step, reason } => {
            eprintln!("segscope: training diverged at step {step}: {reason}");
            Ok(ExitCode::from(3))
        }
    }
}

/// The exit status of a dashboard that has closed: 128 + the signal that closed it (130 for
/// SIGINT, 143 for SIGTERM), else success.
fn after_dashboard() -> ExitCode {
    match segscope::signals::received() {
        Some(sig) => ExitCode::from(segscope::signals::exit_code(sig)),
        None => ExitCode::SUCCESS,
    }
}

/// The dataset the config names, read with `--lenient` as asked; skipped lines are warned about.
fn load_data(
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
fn warn_skipped(skipped: &[segscope::data::Skipped], source: &str) {
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

/// `segscope convert`: any format in; segscope's JSONL, TRL stepwise or Math-Shepherd out.
fn convert(
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
    let (config, _, _) =
        session::resolve_config(cli).map_err(|e| (e.exit_code() as u8, e.to_string()))?;
    plan(
        cli,
        &config,
        &[("convert's INPUT", input)],
        &[Output::file("--out", out, true)],
    )?;
    let opts = segscope::data::ReadOptions {
        lenient: cli.lenient,
        data: config.data,
    };
    let (ds, skipped) = segscope::data::read_file(input, &opts).map_err(|e| (2, e.to_string()))?;
    warn_skipped(&skipped, &ds.source);
    let ds = match &cli.edits {
        Some(p) => edited(ds, p, config.dev_fraction)?,
        None => ds,
    };
    // Into memory first: a segment the format cannot hold is an error before anything is written.
    let mut buf = Vec::new();
    let written = outfmt::write(&ds, to, threshold, &mut buf).map_err(|e| (2, e))?;
    let result = if io_plan::is_stdout(out) {
        std::io::stdout().lock().write_all(&buf)
    } else {
        std::fs::write(out, &buf)
    };
    result.map_err(|e| (1, format!("{}: cannot write: {e}", out.display())))?;
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

/// `ds` with the edits of file `p`: new targets in place, excluded segments as context only (no
/// target). Other weights have no place in a dataset file and are an error naming their line.
fn edited(
    ds: segscope::data::Dataset,
    p: &std::path::Path,
    dev_fraction: f64,
) -> Result<segscope::data::Dataset, (u8, String)> {
    use segscope::data::edits::{Action, Edits};
    let part = segscope::data::Partition::new(&ds, dev_fraction);
    let edits = Edits::read_with(p, &ds, &part, |a| match a {
        Action::Weight(w) if w != 0.0 && w != 1.0 => Err(format!(
            "a weight of {w} cannot be written into a dataset (only exclusions, weight 0, and new targets can)"
        )),
        _ => Ok(()),
    })
    .map_err(|e| (2, e.to_string()))?;
    let mut out = edits.apply_targets(&ds);
    for (i, w) in edits.weights(ds.segments.len()).into_iter().enumerate() {
        if w == 0.0 {
            out.segments[i].score = None;
        }
    }
    Ok(out)
}

/// `segscope watch`: the dashboard on a stream, or (headless) its final metrics and table.
fn watch(
    cli: &Cli,
    file: &std::path::Path,
    wait: bool,
    headless: bool,
    report: Option<&std::path::Path>,
) -> Result<ExitCode, (u8, String)> {
    use segscope::source::watch;
    let (config, source, _) =
        session::resolve_config(cli).map_err(|e| (e.exit_code() as u8, e.to_string()))?;
    let keymap = session::keymap(&config, &source).map_err(|e| (2, e.to_string()))?;
    let headless = headless || !std::io::stdout().is_terminal();
    let mut outputs = Vec::new();
    if let Some(p) = report {
        // Headless, the summary takes standard output; otherwise the screen does.
        outputs.push(Output::file("--report", p, false));
    }
    plan(cli, &config, &[("the stream", file)], &outputs)?;
    let how = watch::Open {
        wait,
        to_end: headless,
    };
    let mut w = watch::open(file, how, |m| eprintln!("segscope: {m}")).map_err(|e| (2, e))?;
    let (ds, part) = watch::data_of(&mut w).ok_or((2, format!("{}: no segments", w.name)))?;
    if headless {
        for m in w.read_all().map_err(|e| (2, e.to_string()))? {
            eprintln!("segscope: warning: {m}");
        }
        let (ds, part) = watch::data_of(&mut w).unwrap_or((ds, part));
        let last = w.state.reports.last().cloned();
        let labels = segscope::labels::LabelInfo::of(&ds, &config).map_err(|e| (2, e))?;
        // For binary labels, what fits them beside the recomputed MSE: AUROC, log loss, Brier,
        // and for first-error data the first-error F1.
        let label_metrics = last
            .as_ref()
            .and_then(|r| segscope::labels::metrics::of(&ds, &part, &labels, &r.segments));
        let header = w.state.header.as_ref();
        let summary = serde_json::json!({
            "stream": w.name,
            "run": header.map(|h| h.run.clone()),
            "objective": header.and_then(|h| h.objective.clone()),
            "probabilities": header.is_some_and(|h| h.probabilities),
            "labels": labels.describe(),
            "segments": ds.segments.len(),
            "steps": w.state.reports.len() + w.state.dropped,
            "last_step": last.as_ref().map(|r| r.step),
            "train": last.as_ref().map(|r| r.train),
            "dev": last.as_ref().map(|r| r.dev),
            "label_metrics": label_metrics,
            "bad_lines": w.state.bad_lines,
            "warnings": w.state.warnings.len(),
        });
        println!("{summary}");
        if last.is_none() {
            eprintln!(
                "segscope: {}: the stream has no step records yet: the summary has no metrics{}",
                w.name,
                if report.is_some() {
                    ", and the report lists the segments without predictions"
                } else {
                    ""
                }
            );
        }
        let unevaluated = segscope::engine::StepReport::unevaluated(ds.segments.len());
        if let (Some(p), r) = (report, last.as_ref().unwrap_or(&unevaluated)) {
            // The data map over the stream's last refreshed steps, as the dashboard shows it.
            let mut window = segscope::analysis::datamap::Window::default();
            for s in &w.state.reports {
                window.push(s.eval_step, s.segments.clone());
            }
            let map = window.map(&part);
            segscope::export::write(p, r, &ds, &part, config.ui.outlier_k, map.as_ref(), &labels)
                .map_err(|e| (1, e.to_string()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let info = segscope::app::RunInfo {
        backend: "stream".into(),
        // The writer's objective, when its header says (the metrics are recomputed either way).
        loss: w
            .state
            .header
            .as_ref()
            .and_then(|h| {
                h.objective.clone().map(|o| {
                    if h.probabilities {
                        format!("{o}, probabilities")
                    } else {
                        o
                    }
                })
            })
            .unwrap_or_default(),
        optimizer: w
            .state
            .header
            .as_ref()
            .map_or(String::new(), |h| h.run.clone()),
        lr: f64::NAN,
        batch_size: 0,
        data: w.name.clone(),
        save_dir: "segscope-checkpoints".into(),
        export_path: report.map_or("segscope-segments.csv".into(), |p| p.to_path_buf()),
    };
    let labels = segscope::labels::LabelInfo::of(&ds, &config).map_err(|e| (2, e))?;
    let mut app = segscope::app::App::new(ds, part, config.ui.clone(), info, keymap);
    app.labels_note = labels.describe();
    app.labels = Some(labels);
    // The writer runs on its own: the view follows it until paused.
    app.run = segscope::app::RunState::Running;
    let handle = watch::spawn(w).map_err(|e| (1, e.to_string()))?;
    tui::run_handle(app, handle).map_err(|e| (1, e.to_string()))?;
    Ok(after_dashboard())
}

/// `segscope compare`: the dashboard on several objectives at once, or (headless) a JSON line per
/// step with every model's dev metrics and a final summary.
fn compare(cli: &Cli, losses: &[segscope::config::LossName]) -> Result<ExitCode, (u8, String)> {
    use segscope::compare::{Compare, leaders};
    if losses.len() < 2 {
        return Err((
            2,
            "--losses needs at least two objectives, e.g. mse,pairwise".into(),
        ));
    }
    for (k, l) in losses.iter().enumerate() {
        if losses[..k].contains(l) {
            return Err((
                2,
                format!("--losses names `{}` twice", format!("{l:?}").to_lowercase()),
            ));
        }
    }
    let (config, source, _) =
        session::resolve_config(cli).map_err(|e| (e.exit_code() as u8, e.to_string()))?;
    let headless = cli.headless || !std::io::stdout().is_terminal();
    if !headless && cli.steps.is_some() {
        return Err((
            2,
            "--steps applies to a headless comparison: add --headless (the dashboard steps from the keyboard)".into(),
        ));
    }
    let mut outputs = Vec::new();
    if let Some(p) = &cli.report {
        outputs.push(Output::file("--report", p, false));
    }
    plan(cli, &config, &[], &outputs)?;
    if config.train.batch_size != 0 && losses.contains(&segscope::config::LossName::Pairwise) {
        return Err((
            2,
            "the pairwise objective trains on the full batch: use --batch-size 0".into(),
        ));
    }
    let ds = load_data(cli, &config)?;
    let features = segscope::data::features::featurize(&ds, &config.features);
    let part = std::sync::Arc::new(segscope::data::Partition::new(&ds, config.dev_fraction));
    let ds = std::sync::Arc::new(ds);
    let mut cmp = Compare::new(ds.clone(), part.clone(), &features, &config, losses)
        .map_err(|e| (2, e.to_string()))?;
    drop(features);
    if headless {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let mut last = None;
        for _ in 0..config.train.steps {
            let r = cmp.step();
            let models: serde_json::Map<String, serde_json::Value> = r
                .models
                .iter()
                .map(|m| {
                    (
                        m.name.clone(),
                        serde_json::json!({ "loss": m.loss, "dev": m.dev }),
                    )
                })
                .collect();
            let line = serde_json::json!({ "step": r.step, "models": models });
            writeln!(out, "{line}").map_err(|e| (1, e.to_string()))?;
            let diverged = r.diverged.clone();
            last = Some(r);
            if let Some(why) = diverged {
                out.flush().map_err(|e| (1, e.to_string()))?;
                eprintln!("segscope: training diverged: {why}");
                return Ok(ExitCode::from(3));
            }
        }
        let last = last.unwrap_or_else(|| cmp.current());
        let models: serde_json::Map<String, serde_json::Value> = last
            .models
            .iter()
            .map(|m| {
                let mut v = serde_json::json!({ "train": m.train, "dev": m.dev });
                if let Some(a) = m.affine {
                    v["affine"] = serde_json::json!(a);
                }
                (m.name.clone(), v)
            })
            .collect();
        let lead: serde_json::Map<String, serde_json::Value> = leaders(&last.models)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        let summary = serde_json::json!({
            "summary": { "steps": last.step, "models": models, "leaders": lead }
        });
        writeln!(out, "{summary}").map_err(|e| (1, e.to_string()))?;
        out.flush().map_err(|e| (1, e.to_string()))?;
        if let Some(p) = &cli.report {
            segscope::compare::write_report(p, &last, &ds, &part)
                .map_err(|e| (1, format!("{}: cannot write: {e}", p.display())))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let keymap = session::keymap(&config, &source).map_err(|e| (2, e.to_string()))?;
    let info = segscope::app::RunInfo {
        backend: config.backend.name().to_string(),
        loss: cmp.names.join(" vs "),
        optimizer: format!("{:?}", config.train.optimizer).to_lowercase(),
        lr: config.train.lr,
        batch_size: config.train.batch_size,
        data: ds.source.clone(),
        save_dir: "segscope-checkpoints".into(),
        export_path: cli
            .report
            .clone()
            .unwrap_or_else(|| "segscope-segments.csv".into()),
    };
    let labels = segscope::labels::LabelInfo::of(&ds, &config).map_err(|e| (2, e))?;
    let mut app = segscope::app::App::new(ds, part, config.ui.clone(), info, keymap);
    app.labels_note = labels.describe();
    app.labels = Some(labels);
    tui::run(app, Box::new(cmp)).map_err(|e| (1, e.to_string()))?;
    Ok(after_dashboard())
}

/// What an audit beside a cross-fit report (`FILE.audit.json`) expects of its flags, for the
/// header; empty without one.
fn audit_note(report: &std::path::Path) -> String {
    let mut p = report.to_path_buf().into_os_string();
    p.push(".audit.json");
    let Ok(text) = std::fs::read_to_string(&p) else {
        return String::new();
    };
    let Ok(a) = serde_json::from_str::<serde_json::Value>(&text) else {
        return String::new();
    };
    match (
        a["precision"].as_f64(),
        a["recall"].as_f64(),
        a["flagged"].as_u64(),
    ) {
        (Some(p), Some(r), Some(n)) if n > 0 => {
            format!(" · flags P~{p:.2} R~{r:.2} (audit)")
        }
        _ => " · audit: nothing flagged".into(),
    }
}

/// `segscope crossfit` and `segscope audit`: out-of-fold predictions and label scores, progress
/// and the summary on stderr, the report to `out`; with `audit`, the flags' threshold set from
/// canaries and the audit's figures beside the report (`OUT.audit.json`).
fn crossfit(
    cli: &Cli,
    args: &segscope::cli::CrossfitArgs,
    audit: bool,
) -> Result<ExitCode, (u8, String)> {
    let folds = args.folds;
    // More folds than that is leave-a-few-documents-out at a hundred times the cost; a huge
    // number would only ask for impossible allocations.
    if !(2..=100).contains(&folds) {
        return Err((2, format!("--folds must be from 2 to 100, found {folds}")));
    }
    if args.learner != segscope::crossfit::Learner::Mlp {
        // The linear learner has its own fixed settings: segscope's training options do not
        // reach it.
        for (set, flag) in [
            (args.steps.is_some(), "--steps"),
            (cli.backend.is_some(), "--backend"),
            (cli.lr.is_some(), "--lr"),
            (cli.batch_size.is_some(), "--batch-size"),
            (cli.optimizer.is_some(), "--optimizer"),
            (cli.eval_every.is_some(), "--eval-every"),
        ] {
            if set {
                return Err((
                    2,
                    format!(
                        "{flag} applies to --learner mlp only (the linear learner trains with fixed settings)"
                    ),
                ));
            }
        }
    }
    let (config, _, _) =
        session::resolve_config(cli).map_err(|e| (e.exit_code() as u8, e.to_string()))?;
    let to_stdout = io_plan::is_stdout(&args.out);
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
    plan(cli, &config, &[], &outputs)?;
    let ds = load_data(cli, &config)?;
    let info = segscope::labels::LabelInfo::of(&ds, &config).map_err(|e| (2, e))?;
    let features = segscope::data::features::featurize(&ds, &config.features);
    let ds = std::sync::Arc::new(ds);
    let o = segscope::crossfit::Options {
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
    };
    if !(1..=20).contains(&args.repeats) {
        return Err((
            2,
            format!("--repeats must be from 1 to 20, found {}", args.repeats),
        ));
    }
    eprintln!(
        "segscope: {} segments, {} labelled; labels: {}",
        ds.segments.len(),
        ds.labelled(),
        info.describe()
    );
    let t0 = std::time::Instant::now();
    let mut cf = segscope::crossfit::run(&ds, &features, &config, info, &o, |f| {
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
    })
    .map_err(|e| (1, e.to_string()))?;
    if audit {
        let real: Vec<f32> = cf.scores.iter().map(|s| s.score).collect();
        let a = segscope::labels::audit::run(&ds, &features, &config, info, &o, &real)
            .map_err(|e| (1, e.to_string()))?;
        cf.set_threshold(a.threshold);
        eprintln!(
            "segscope: audit: {} canaries ({}) in {} copies of {} labels; their average precision {:.3}; the data holds about {} wrong labels",
            a.canaries,
            a.canary_kind,
            a.repeats,
            a.labelled,
            a.average_precision,
            a.estimated_wrong
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
                "segscope: audit: no threshold reaches an expected precision of {}: nothing is flagged",
                a.min_precision
            );
        }
        if let Some(p) = &audit_path {
            let text = serde_json::to_string_pretty(&a).map_err(|e| (1, e.to_string()))?;
            std::fs::write(p, text + "\n")
                .map_err(|e| (1, format!("{}: cannot write: {e}", p.display())))?;
        }
    }
    segscope::crossfit::write(&args.out, &cf.rows)
        .map_err(|e| (1, format!("{}: cannot write: {e}", args.out.display())))?;
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

/// The most documents `gen-data` makes: about 58 million segments, far past what segscope trains
/// on, and far short of what would overflow an allocation.
const GEN_DATA_MAX_DOCS: usize = 10_000_000;

fn gen_data(docs: usize, seed: u64, out: &std::path::Path) -> Result<(), (u8, String)> {
    if docs == 0 || docs > GEN_DATA_MAX_DOCS {
        return Err((
            2,
            format!("--docs must be from 1 to {GEN_DATA_MAX_DOCS}, found {docs}"),
        ));
    }
    io_plan::check(&[], &[Output::file("--out", out, true)]).map_err(|e| (2, e))?;
    let text = segscope::data::generate::generate(docs, seed);
    if out.as_os_str() == "-" {
        print!("{text}");
        Ok(())
    } else {
        std::fs::write(out, text).map_err(|e| (1, format!("{}: cannot write: {e}", out.display())))
    }
}
