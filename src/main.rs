//! The segscope binary: parse flags, build the session, run the dashboard or headless training.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use segscope::cli::session;
use segscope::cli::{Cli, Command};
use segscope::io_plan::{self, Output};
use segscope::run::headless::{self, HeadlessOptions, Outcome};
use segscope::run::tui::{self, Outputs};

mod commands;

use commands::compare::compare;
use commands::convert::convert;
use commands::crossfit::{audit_note, crossfit};
use commands::watch::watch;
use commands::{after_dashboard, plan, warn_skipped};

fn main() -> ExitCode {
    // Before anything builds rayon's global pool, so its threads flush denormals too. The
    // allocator's tuning waits for the trainer (`tuning::tune`).
    segscope::engine::tuning::flush_denormals();
    segscope::engine::tuning::pool();
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
        given(
            cli.audit,
            "--audit",
            "audits in the dashboard; headless, run `segscope audit` (it writes the report)",
        )?;
        given(
            !cli.judge.is_empty(),
            "--judge",
            "feeds the dashboard's audit; headless, give it to `segscope crossfit` or `segscope audit`",
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

fn run(cli: Cli) -> Result<ExitCode, (u8, String)> {
    if matches!(
        cli.command,
        Some(
            Command::GenData { .. }
                | Command::Convert { .. }
                | Command::Crossfit { .. }
                | Command::Audit { .. }
        )
    ) {
        // One-shot commands: a signal lets the work end through its normal path, so a
        // half-written output is removed rather than left (see io_plan::atomic).
        segscope::signals::install();
    }
    if let Some(done) = subcommand(&cli) {
        return done;
    }
    let headless = cli.headless || !std::io::stdout().is_terminal();
    mode_options(&cli, headless)?;
    let resolved = plan_run(&cli, headless)?;
    let s =
        session::build_with(&cli, resolved).map_err(|e| (e.exit_code() as u8, e.to_string()))?;
    warn_skipped(&s.skipped, &s.dataset.source);
    // Checked in both modes: `data.label_kind` and `data.first_error` are never ignored.
    let labels =
        segscope::labels::LabelInfo::of(&s.dataset, &s.config).map_err(|e| (2, e.to_string()))?;
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
        let app = dashboard_app(&cli, &s, labels, &outputs)?;
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
    match headless::run(&mut source, &opts).map_err(|e| (e.exit_code(), e.to_string()))? {
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

/// The most documents `gen-data` makes: about 58 million segments, far past what segscope trains
/// on, and far short of what would overflow an allocation.
const GEN_DATA_MAX_DOCS: usize = 10_000_000;

/// `segscope tour`: the dashboard on the tour's pages, or (headless, or not on a terminal) each
/// page's numbers as JSON lines.
fn tour(cli: &Cli, scene: u8) -> Result<ExitCode, (u8, String)> {
    use segscope::tour::{PAGES, headless};
    let backend = cli.backend.unwrap_or(segscope::config::BackendKind::Flex);
    if cli.headless || !std::io::stdout().is_terminal() {
        let runs = headless(backend).map_err(|e| (1, e.to_string()))?;
        let mut out = std::io::stdout().lock();
        for r in runs.iter().filter(|r| r.page.scene() >= scene) {
            let line = serde_json::to_string(r).map_err(|e| (1, e.to_string()))?;
            writeln!(out, "{line}").map_err(|e| (1, e.to_string()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let first = PAGES
        .iter()
        .copied()
        .find(|p| p.scene() == scene)
        .unwrap_or(PAGES[0]);
    tui::run_tour(first, backend).map_err(|e| (1, e))?;
    Ok(ExitCode::SUCCESS)
}

fn gen_data(docs: usize, seed: u64, out: &std::path::Path) -> Result<(), (u8, String)> {
    if docs == 0 || docs > GEN_DATA_MAX_DOCS {
        return Err((
            2,
            format!("--docs must be from 1 to {GEN_DATA_MAX_DOCS}, found {docs}"),
        ));
    }
    io_plan::check(&[], &[Output::file("--out", out, true)]).map_err(|e| (2, e.to_string()))?;
    let text = segscope::data::generate::generate(docs, seed);
    if out.as_os_str() == "-" {
        print!("{text}");
        Ok(())
    } else {
        io_plan::write_file(out, text.as_bytes()).map_err(|e| (e.exit_code(), e.to_string()))
    }
}

/// The dashboard's app for a training run: the labels, the judges its audit weighs, a cross-fit
/// report to show, and the audit asked for at start.
fn dashboard_app(
    cli: &Cli,
    s: &session::Session,
    labels: segscope::labels::LabelInfo,
    outputs: &Outputs,
) -> Result<segscope::app::App, (u8, String)> {
    let mut app = tui::make_app(s, outputs);
    app.labels_note = labels.describe();
    app.labels = Some(labels);
    if !cli.judge.is_empty() {
        segscope::labels::pipeline::judges_fit(&labels, cli.judge.len())
            .map_err(|e| (2, e.to_string()))?;
        let judges = cli
            .judge
            .iter()
            .map(|p| segscope::labels::judge::read(p, &s.dataset))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| (2, e.to_string()))?;
        app.set_audit_setup(segscope::labels::pipeline::Setup {
            config: s.config.clone(),
            judges: std::sync::Arc::new(judges),
        });
    }
    if let Some(p) = &cli.crossfit {
        let (oof, unknown) =
            segscope::labels::crossfit::read(p, &s.dataset).map_err(|e| (2, e.to_string()))?;
        if unknown > 0 {
            // On screen, where it is seen: standard error is under the dashboard.
            let known = oof.iter().filter(|o| o.pred.is_finite()).count();
            app.status = Some(format!(
                "{}: {unknown} of its rows are not segments of this data ({known} loaded)",
                p.display()
            ));
        }
        app.labels_note.push_str(&audit_note(p));
        app.set_oof(oof);
    }
    if cli.audit {
        app.update(segscope::app::Action::Audit);
    }
    Ok(app)
}

/// The subcommands other than the training run, or None for the training run itself.
fn subcommand(cli: &Cli) -> Option<Result<ExitCode, (u8, String)>> {
    Some(match &cli.command {
        Some(Command::GenData { docs, seed, out }) => {
            gen_data(*docs, *seed, out).map(|()| ExitCode::SUCCESS)
        }
        Some(Command::Formats) => {
            for f in segscope::data::formats::FORMATS {
                println!("{:<14} {}", f.name(), f.summary());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Convert {
            input,
            out,
            to,
            threshold,
            ..
        }) => convert(cli, input, out, *to, *threshold),
        Some(Command::Watch { file, wait, .. }) => {
            watch(cli, file, *wait, cli.headless, cli.report.as_deref())
        }
        Some(Command::Compare { losses, .. }) => compare(cli, losses),
        Some(Command::Tour { scene, .. }) => tour(cli, *scene),
        Some(Command::Crossfit {
            merge: Some(segscope::cli::CrossfitCommand::Merge { parts, out }),
            ..
        }) => commands::crossfit::merge(parts, out),
        Some(Command::Crossfit {
            args, audit, fold, ..
        }) => match fold {
            Some(fold) => commands::crossfit::fold_job(cli, args, *audit, *fold),
            None => crossfit(cli, args, *audit),
        },
        Some(Command::Audit { args, .. }) => crossfit(cli, args, true),
        None => return None,
    })
}

/// The training run's config, resolved once, and its outputs checked with it before any work
/// (and its judges' files as inputs).
fn plan_run(cli: &Cli, headless: bool) -> Result<session::Resolved, (u8, String)> {
    let resolved =
        session::resolve_config(cli).map_err(|e| (e.exit_code() as u8, e.to_string()))?;
    let config = &resolved.config;
    let stdout = std::path::Path::new("-");
    let mut outputs = Vec::new();
    if headless {
        // The step lines go to --out, or to standard output, which then no other output
        // can take.
        let out = cli.out.as_deref().unwrap_or(stdout);
        outputs.push(Output::file("--out", out, true));
    }
    // The dashboard's export writes its what-if edits and the edited data beside the table.
    let side: Vec<(std::path::PathBuf, &str)> = match (&cli.report, headless) {
        (Some(p), false) if !io_plan::is_stdout(p) => vec![
            (p.with_extension("edits.jsonl"), "--report's .edits.jsonl"),
            (p.with_extension("data.jsonl"), "--report's .data.jsonl"),
        ],
        _ => Vec::new(),
    };
    if let Some(p) = &cli.report {
        // The dashboard's screen is standard output: its export needs a file.
        outputs.push(Output::file("--report", p, headless));
    }
    for (p, flag) in &side {
        outputs.push(Output::file(flag, p, false));
    }
    if let Some(p) = &cli.stream {
        // A stream is followed as a file by `segscope watch`.
        outputs.push(Output::file("--stream", p, false));
    }
    if let Some(p) = &cli.save {
        outputs.push(Output::dir("--save", p));
    }
    let judges: Vec<(&str, &std::path::Path)> =
        cli.judge.iter().map(|p| ("--judge", p.as_path())).collect();
    plan(cli, (config, resolved.file.as_deref()), &judges, &outputs)?;
    Ok(resolved)
}
