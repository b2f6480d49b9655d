//! `segscope watch`: the dashboard on a stream, or its final metrics and table.

use std::io::IsTerminal;
use std::process::ExitCode;

use segscope::cli::Cli;
use segscope::cli::session;
use segscope::io_plan::Output;
use segscope::run::tui;

use super::{after_dashboard, plan};

/// `segscope watch`: the dashboard on a stream, or (headless) its final metrics and table.
pub fn watch(
    cli: &Cli,
    file: &std::path::Path,
    wait: bool,
    headless: bool,
    report: Option<&std::path::Path>,
) -> Result<ExitCode, (u8, String)> {
    use segscope::source::watched;
    let session::Resolved {
        config,
        source,
        file: config_file,
        ..
    } = session::resolve_config(cli).map_err(|e| (e.exit_code() as u8, e.to_string()))?;
    let keymap = session::keymap(&config, &source).map_err(|e| (2, e.to_string()))?;
    let headless = headless || !std::io::stdout().is_terminal();
    let mut outputs = Vec::new();
    if let Some(p) = report {
        // Headless, the summary takes standard output; otherwise the screen does.
        outputs.push(Output::file("--report", p, false));
    }
    plan(
        cli,
        (&config, config_file.as_deref()),
        &[("the stream", file)],
        &outputs,
    )?;
    let how = watched::Open {
        wait,
        to_end: headless,
    };
    let mut w =
        watched::open(file, how, |m| eprintln!("segscope: {m}")).map_err(|e| (2, e.to_string()))?;
    let (ds, part) = watched::data_of(&mut w).ok_or((2, format!("{}: no segments", w.name)))?;
    if headless {
        return summarise(w, (ds, part), &config, report);
    }
    dashboard(w, (ds, part), config, keymap, report)
}

/// Headless: the stream read to its end, its final metrics as JSON on stdout, and the table.
fn summarise(
    mut w: segscope::source::watched::Watch,
    (ds, part): (
        std::sync::Arc<segscope::data::Dataset>,
        std::sync::Arc<segscope::data::Partition>,
    ),
    config: &segscope::config::Config,
    report: Option<&std::path::Path>,
) -> Result<ExitCode, (u8, String)> {
    use segscope::source::watched;
    let mut warnings = w.read_all().map_err(|e| (2, e.to_string()))?;
    // Read to its end: a last line without its newline will not be finished now.
    if let segscope::source::watched::Input::File(f) = &w.input
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
    let labels = segscope::labels::LabelInfo::of(&ds, config).map_err(|e| (2, e.to_string()))?;
    // For binary labels, what fits them beside the recomputed MSE: AUROC, log loss, Brier,
    // and for first-error data the first-error F1.
    let label_metrics = last
        .as_ref()
        .and_then(|r| segscope::labels::prm_metrics::of(&ds, &part, &labels, &r.segments));
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
        let map = window.map(&part, &segscope::labels::classes(&ds));
        segscope::export::run(&segscope::export::Job {
            path: p,
            report: r,
            ds: &ds,
            part: &part,
            outlier_k: config.ui.outlier_k,
            map: map.as_ref(),
            labels: &labels,
            edits: None,
        })
        .map_err(|e| (1, e.to_string()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The dashboard on the stream, following its writer; `A` audits the stream's data.
fn dashboard(
    w: segscope::source::watched::Watch,
    (ds, part): (
        std::sync::Arc<segscope::data::Dataset>,
        std::sync::Arc<segscope::data::Partition>,
    ),
    config: segscope::config::Config,
    keymap: segscope::app::Keymap,
    report: Option<&std::path::Path>,
) -> Result<ExitCode, (u8, String)> {
    use segscope::source::watched;
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
    let labels = segscope::labels::LabelInfo::of(&ds, &config).map_err(|e| (2, e.to_string()))?;
    let mut app = segscope::app::App::new(ds, part, config.ui.clone(), info, keymap);
    app.labels_note = labels.describe();
    app.labels = Some(labels);
    // The writer runs on its own: the view follows it until paused.
    app.run = segscope::app::RunState::Running;
    app.set_audit_setup(segscope::labels::pipeline::Setup {
        config,
        judges: std::sync::Arc::new(Vec::new()),
    });
    let handle = watched::spawn(w).map_err(|e| (1, e.to_string()))?;
    tui::run_handle(app, handle).map_err(|e| (1, e.to_string()))?;
    Ok(after_dashboard())
}
