//! The training run, `segscope` without a subcommand: the dashboard, or headless JSON lines.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::session;
use crate::cli::{RunArgs, TrainArgs};
use crate::io_plan::{self, Output};
use crate::run::headless::{self, HeadlessOptions, Outcome};
use crate::run::tui::{self, Outputs};

use super::crossfit::audit_note;
use super::{CommandError, after_dashboard, plan, warn_skipped};

/// The training run: the dashboard on a terminal, else (or with `--headless`) one JSON line per
/// step.
pub fn run(args: &TrainArgs) -> Result<ExitCode, CommandError> {
    let r = &args.run;
    let headless = r.headless || !std::io::stdout().is_terminal();
    mode_options(r, headless)?;
    let resolved = plan_run(args, headless)?;
    let s = session::build_with(&args.overrides(), resolved)?;
    warn_skipped(&s.skipped, &s.dataset.source);
    // Checked in both modes: `data.label_kind` and `data.first_error` are never ignored.
    let labels = crate::labels::LabelInfo::of(&s.dataset, &s.config)?;
    if !headless {
        let outputs = Outputs {
            save_dir: r
                .save
                .clone()
                .unwrap_or_else(|| "segscope-checkpoints".into()),
            export_path: r
                .report
                .clone()
                .unwrap_or_else(|| "segscope-segments.csv".into()),
        };
        let app = dashboard_app(r, &s, labels, &outputs)?;
        let (source, _) = s.into_source();
        tui::run(app, Box::new(source))?;
        return Ok(after_dashboard());
    }
    let opts = HeadlessOptions {
        steps: s.config.train.steps,
        // `-` is standard output, where the step lines go without --out.
        out: r.out.clone().filter(|p| !io_plan::is_stdout(p)),
        report: r.report.clone(),
        save: r.save.clone(),
        progress: true,
        top_k: s.config.train.top_k,
        outlier_k: s.config.ui.outlier_k,
        labels,
        keep_best: s.config.train.keep == crate::config::Keep::Best,
        early_stop: s.config.train.early_stop,
        stream: r.stream.clone(),
        config: serde_json::to_value(&s.config).ok(),
    };
    let (mut source, _) = s.into_source();
    let outcome = headless::run(&mut source, &opts)?;
    Ok(say_outcome(outcome, opts.early_stop))
}

/// A headless run's end on standard error, and its exit status.
fn say_outcome(outcome: Outcome, early_stop: u64) -> ExitCode {
    match outcome {
        Outcome::Finished {
            steps,
            stopped_early,
            last,
            kept,
        } => {
            if let Some(patience) = stopped_early {
                eprintln!(
                    "segscope: stopped early after {steps} steps: the dev loss had not improved for {patience} steps (train.early_stop{})",
                    if patience > early_stop {
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
            ExitCode::SUCCESS
        }
        Outcome::Interrupted { steps, signal } => {
            eprintln!(
                "segscope: stopped by {} after {steps} steps",
                crate::signals::name(signal)
            );
            ExitCode::from(crate::signals::exit_code(signal))
        }
        Outcome::Diverged { step, reason } => {
            eprintln!("segscope: training diverged at step {step}: {reason}");
            ExitCode::from(3)
        }
    }
}

/// The training run's options that one mode would ignore are errors instead.
fn mode_options(r: &RunArgs, headless: bool) -> Result<(), CommandError> {
    let given = |set: bool, flag: &str, why: &str| -> Result<(), CommandError> {
        if set {
            Err(CommandError::Refused(format!("{flag} {why}")))
        } else {
            Ok(())
        }
    };
    if headless {
        given(
            r.crossfit.is_some(),
            "--crossfit",
            "shows a cross-fit in the dashboard; a headless run does not read it (use --report for the run's own label scores)",
        )?;
        given(
            r.audit,
            "--audit",
            "audits in the dashboard; headless, run `segscope audit` (it writes the report)",
        )?;
        given(
            !r.judge.is_empty(),
            "--judge",
            "feeds the dashboard's audit; headless, give it to `segscope crossfit` or `segscope audit`",
        )?;
    } else {
        let why =
            "applies to headless runs: add --headless (the dashboard steps from the keyboard)";
        given(r.out.is_some(), "--out", why)?;
        given(r.stream.is_some(), "--stream", why)?;
        given(r.steps.is_some(), "--steps", why)?;
        given(r.top_k.is_some(), "--top-k", why)?;
        given(r.keep.is_some(), "--keep", why)?;
        given(r.early_stop.is_some(), "--early-stop", why)?;
    }
    Ok(())
}

/// The dashboard's app for a training run: the labels, the judges its audit weighs, a cross-fit
/// report to show, and the audit asked for at start.
fn dashboard_app(
    r: &RunArgs,
    s: &session::Session,
    labels: crate::labels::LabelInfo,
    outputs: &Outputs,
) -> Result<crate::app::App, CommandError> {
    let mut app = tui::make_app(s, outputs);
    app.set_labels(labels);
    if !r.judge.is_empty() {
        crate::labels::pipeline::judges_fit(&labels, r.judge.len())
            .map_err(CommandError::Judges)?;
        let judges = r
            .judge
            .iter()
            .map(|p| crate::labels::judge::read(p, &s.dataset))
            .collect::<Result<Vec<_>, _>>()?;
        app.set_audit_setup(crate::labels::pipeline::Setup {
            config: s.config.clone(),
            judges: std::sync::Arc::new(judges),
        });
    }
    if let Some(p) = &r.crossfit {
        let (oof, unknown) = crate::labels::crossfit::read(p, &s.dataset)?;
        if unknown > 0 {
            // On screen, where it is seen: standard error is under the dashboard.
            let known = oof.iter().filter(|o| o.pred.is_finite()).count();
            app.set_status(Some(format!(
                "{}: {unknown} of its rows are not segments of this data ({known} loaded)",
                p.display()
            )));
        }
        app.note_labels(&audit_note(p));
        app.set_oof(oof);
    }
    if r.audit {
        app.update(crate::app::Action::Audit);
    }
    Ok(app)
}

/// The training run's config, resolved once, and its outputs checked with it before any work
/// (and its judges' files as inputs).
fn plan_run(args: &TrainArgs, headless: bool) -> Result<session::Resolved, CommandError> {
    let r = &args.run;
    let flags = args.overrides();
    let resolved = session::resolve_config(&flags)?;
    let config = &resolved.config;
    let stdout = Path::new("-");
    let mut outputs = Vec::new();
    if headless {
        // The step lines go to --out, or to standard output, which then no other output
        // can take.
        let out = r.out.as_deref().unwrap_or(stdout);
        outputs.push(Output::file("--out", out, true));
    }
    // The dashboard's export writes its what-if edits and the edited data beside the table.
    let side: Vec<(std::path::PathBuf, &str)> = match (&r.report, headless) {
        (Some(p), false) if !io_plan::is_stdout(p) => vec![
            (p.with_extension("edits.jsonl"), "--report's .edits.jsonl"),
            (p.with_extension("data.jsonl"), "--report's .data.jsonl"),
        ],
        _ => Vec::new(),
    };
    if let Some(p) = &r.report {
        // The dashboard's screen is standard output: its export needs a file.
        outputs.push(Output::file("--report", p, headless));
    }
    for (p, flag) in &side {
        outputs.push(Output::file(flag, p, false));
    }
    if let Some(p) = &r.stream {
        // A stream is followed as a file by `segscope watch`.
        outputs.push(Output::file("--stream", p, false));
    }
    if let Some(p) = &r.save {
        outputs.push(Output::dir("--save", p));
    }
    let mut inputs: Vec<(&str, &Path)> = Vec::new();
    if let Some(p) = &r.crossfit {
        inputs.push(("--crossfit", p));
    }
    inputs.extend(r.judge.iter().map(|p| ("--judge", p.as_path())));
    plan(
        &flags,
        (config, resolved.file.as_deref()),
        &inputs,
        &outputs,
    )?;
    Ok(resolved)
}
