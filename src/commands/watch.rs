//! `segscope watch`: the dashboard on a stream, or its final metrics and table.

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::WatchArgs;
use crate::cli::session;
use crate::io_plan::Output;
use crate::run::tui;

use super::{CommandError, after_dashboard, plan};

/// `segscope watch`: the dashboard on a stream, or (headless) its final metrics and table.
pub fn run(args: &WatchArgs) -> Result<ExitCode, CommandError> {
    use crate::source::watched;
    let (file, wait, report) = (args.file.as_path(), args.wait, args.report.as_deref());
    let flags = args.overrides();
    let session::Resolved {
        config,
        source,
        file: config_file,
        ..
    } = session::resolve_config(&flags)?;
    let keymap = session::keymap(&config, &source)?;
    let headless = args.headless || !std::io::stdout().is_terminal();
    let mut outputs = Vec::new();
    if let Some(p) = report {
        // Headless, the summary takes standard output; otherwise the screen does.
        outputs.push(Output::file("--report", p, false));
    }
    plan(
        &flags,
        (&config, config_file.as_deref()),
        &[("the stream", file)],
        &outputs,
    )?;
    let how = watched::Open {
        wait,
        to_end: headless,
    };
    let mut w = watched::open(file, how, |m| eprintln!("segscope: {m}"))?;
    let (ds, part) = watched::data_of(&mut w)
        .ok_or_else(|| CommandError::Refused(format!("{}: no segments", w.name)))?;
    if headless {
        return summarise(w, (ds, part), &config, report);
    }
    dashboard(w, (ds, part), config, keymap, report)
}

/// Headless: the stream read to its end, its final metrics as JSON on stdout, and the table.
fn summarise(
    mut w: crate::source::watched::Watch,
    (ds, part): (
        std::sync::Arc<crate::data::Dataset>,
        std::sync::Arc<crate::data::Partition>,
    ),
    config: &crate::config::Config,
    report: Option<&std::path::Path>,
) -> Result<ExitCode, CommandError> {
    use crate::source::watched;
    let mut warnings = w.read_all()?;
    // Read to its end: a last line without its newline will not be finished now.
    if let crate::source::watched::Input::File(f) = &w.input
        && f.pending() > 0
    {
        let before = w.state.warnings.len();
        w.state.cut_at_end(f.pending());
        warnings.extend(w.state.warnings[before..].iter().cloned());
    }
    for m in warnings {
        eprintln!("segscope: warning: {m}");
    }
    let (ds, part) = watched::data_of(&mut w).unwrap_or((ds, part));
    let last = w.state.reports.last().cloned();
    let labels = crate::labels::LabelInfo::of(&ds, config)?;
    // For binary labels, what fits them beside the recomputed MSE: AUROC, log loss, Brier,
    // and for first-error data the first-error F1.
    let label_metrics = last
        .as_ref()
        .and_then(|r| crate::labels::prm_metrics::of(&ds, &part, &labels, &r.segments));
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
    let unevaluated = crate::engine::StepReport::unevaluated(ds.segments.len());
    if let (Some(p), r) = (report, last.as_ref().unwrap_or(&unevaluated)) {
        // The data map over the stream's last refreshed steps, as the dashboard shows it.
        let mut window = crate::analysis::datamap::Window::default();
        for s in &w.state.reports {
            window.push(s.eval_step, s.segments.clone());
        }
        let map = window.map(&part, &crate::labels::classes(&ds));
        crate::export::run(&crate::export::Job {
            path: p,
            report: r,
            ds: &ds,
            part: &part,
            outlier_k: config.ui.outlier_k,
            map: map.as_ref(),
            labels: &labels,
            edits: None,
        })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The dashboard on the stream, following its writer; `A` audits the stream's data.
fn dashboard(
    w: crate::source::watched::Watch,
    (ds, part): (
        std::sync::Arc<crate::data::Dataset>,
        std::sync::Arc<crate::data::Partition>,
    ),
    config: crate::config::Config,
    keymap: crate::app::Keymap,
    report: Option<&std::path::Path>,
) -> Result<ExitCode, CommandError> {
    use crate::source::watched;
    let info = crate::app::RunInfo {
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
    let labels = crate::labels::LabelInfo::of(&ds, &config)?;
    let mut app = crate::app::App::new(ds, part, config.ui.clone(), info, keymap);
    app.set_labels(labels);
    app.set_mode(crate::app::Mode::stream());
    // The writer runs on its own: the view follows it until paused.
    app.set_run(crate::app::RunState::Running);
    app.set_audit_setup(crate::labels::pipeline::Setup {
        config,
        judges: std::sync::Arc::new(Vec::new()),
    });
    let handle = watched::spawn(w)?;
    tui::run_handle(app, handle)?;
    Ok(after_dashboard())
}
