//! `segscope compare`: several objectives side by side, in the dashboard or headless.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use crate::cli::CompareArgs;
use crate::cli::session;
use crate::io_plan::Output;
use crate::run::tui;

use super::{CommandError, after_dashboard, load_data, plan};

/// `segscope compare`: the dashboard on several objectives at once, or (headless) a JSON line per
/// step with every model's dev metrics and a final summary.
pub fn run(args: &CompareArgs) -> Result<ExitCode, CommandError> {
    use crate::source::compare::Compare;
    let losses = &args.losses;
    if losses.len() < 2 {
        return Err(CommandError::Refused(
            "--losses needs at least two objectives, e.g. mse,pairwise".into(),
        ));
    }
    for (k, l) in losses.iter().enumerate() {
        if losses[..k].contains(l) {
            return Err(CommandError::Refused(format!(
                "--losses names `{}` twice",
                format!("{l:?}").to_lowercase()
            )));
        }
    }
    let flags = args.overrides();
    let session::Resolved {
        config,
        source,
        file,
        ..
    } = session::resolve_config(&flags)?;
    let headless = args.headless || !std::io::stdout().is_terminal();
    if !headless && args.steps.is_some() {
        return Err(CommandError::Refused(
            "--steps applies to a headless comparison: add --headless (the dashboard steps from the keyboard)".into(),
        ));
    }
    let mut outputs = Vec::new();
    if let Some(p) = &args.report {
        outputs.push(Output::file("--report", p, false));
    }
    plan(&flags, (&config, file.as_deref()), &[], &outputs)?;
    if config.train.batch_size != 0 && losses.contains(&crate::config::LossName::Pairwise) {
        return Err(CommandError::Refused(
            "the pairwise objective trains on the full batch: use --batch-size 0".into(),
        ));
    }
    let ds = load_data(&flags, &config)?;
    let features = crate::data::features::featurize(&ds, &config.features);
    let part = std::sync::Arc::new(crate::data::Partition::new(&ds, config.dev_fraction));
    let ds = std::sync::Arc::new(ds);
    let mut cmp = Compare::new(ds.clone(), part.clone(), &features, &config, losses)
        .map_err(CommandError::Model)?;
    drop(features);
    if headless {
        return headless_run(
            args.report.as_deref(),
            &mut cmp,
            config.train.steps,
            (&ds, &part),
        );
    }
    let keymap = session::keymap(&config, &source)?;
    let info = crate::app::RunInfo {
        backend: config.backend.name().to_string(),
        loss: cmp.names.join(" vs "),
        optimizer: format!("{:?}", config.train.optimizer).to_lowercase(),
        lr: config.train.lr,
        batch_size: config.train.batch_size,
        data: ds.source.clone(),
        save_dir: "segscope-checkpoints".into(),
        export_path: args
            .report
            .clone()
            .unwrap_or_else(|| "segscope-segments.csv".into()),
    };
    let labels = crate::labels::LabelInfo::of(&ds, &config)?;
    let mut app = crate::app::App::new(ds, part, config.ui.clone(), info, keymap);
    app.set_labels(labels);
    tui::run(app, Box::new(cmp))?;
    Ok(after_dashboard())
}

/// A headless comparison: a JSON line per step with every model's loss and dev metrics, then a
/// summary (train and dev metrics, the affine maps, the leaders), and `--report`'s table.
fn headless_run(
    report: Option<&std::path::Path>,
    cmp: &mut crate::source::compare::Compare,
    steps: u64,
    (ds, part): (&crate::data::Dataset, &crate::data::Partition),
) -> Result<ExitCode, CommandError> {
    use crate::source::compare::leaders;
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
        writeln!(out, "{line}")?;
        let diverged = r.diverged.clone();
        last = Some(r);
        if let Some(why) = diverged {
            out.flush()?;
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
    writeln!(out, "{summary}")?;
    out.flush()?;
    if let Some(p) = report {
        crate::source::compare::write_report(p, &last, ds, part).map_err(|source| {
            CommandError::CompareReport {
                path: p.to_path_buf(),
                source,
            }
        })?;
    }
    Ok(ExitCode::SUCCESS)
}
