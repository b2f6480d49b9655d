//! `segscope compare`: several objectives side by side, in the dashboard or headless.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use segscope::cli::Cli;
use segscope::cli::session;
use segscope::io_plan::Output;
use segscope::run::tui;

use super::{after_dashboard, load_data, plan};

/// `segscope compare`: the dashboard on several objectives at once, or (headless) a JSON line per
/// step with every model's dev metrics and a final summary.
pub fn compare(cli: &Cli, losses: &[segscope::config::LossName]) -> Result<ExitCode, (u8, String)> {
    use segscope::source::compare::Compare;
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
    let session::Resolved {
        config,
        source,
        file,
        ..
    } = session::resolve_config(cli).map_err(|e| (e.exit_code() as u8, e.to_string()))?;
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
    plan(cli, (&config, file.as_deref()), &[], &outputs)?;
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
        return headless_run(cli, &mut cmp, config.train.steps, (&ds, &part));
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
    let labels = segscope::labels::LabelInfo::of(&ds, &config).map_err(|e| (2, e.to_string()))?;
    let mut app = segscope::app::App::new(ds, part, config.ui.clone(), info, keymap);
    app.labels_note = labels.describe();
    app.labels = Some(labels);
    tui::run(app, Box::new(cmp)).map_err(|e| (1, e.to_string()))?;
    Ok(after_dashboard())
}

/// A headless comparison: a JSON line per step with every model's loss and dev metrics, then a
/// summary (train and dev metrics, the affine maps, the leaders), and `--report`'s table.
fn headless_run(
    cli: &Cli,
    cmp: &mut segscope::source::compare::Compare,
    steps: u64,
    (ds, part): (&segscope::data::Dataset, &segscope::data::Partition),
) -> Result<ExitCode, (u8, String)> {
    use segscope::source::compare::leaders;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut last = None;
    for _ in 0..steps {
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
        segscope::source::compare::write_report(p, &last, ds, part)
            .map_err(|e| (1, format!("{}: cannot write: {e}", p.display())))?;
    }
    Ok(ExitCode::SUCCESS)
}
