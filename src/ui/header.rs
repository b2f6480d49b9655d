//! The header's two lines: the run (step, state, speed, backend, objective, data) and what it
//! measures (losses, outlier counts, the labels and an audit's expectation), with the status
//! message, which is never cut where it matters.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{format, kv, theme, trend_span};
use crate::app::App;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    buf.set_style(area, theme::HEADER_BG);
    let width = area.width as usize;
    let mut l2 = losses(app);
    counts(app, &mut l2, width);
    messages(app, &mut l2, width);
    Paragraph::new(vec![Line::from(run_line(app)), Line::from(l2)]).render(area, buf);
}

/// Characters in a line's spans.
fn used(l: &[Span]) -> usize {
    l.iter().map(|s| s.content.chars().count()).sum()
}

/// The first line: step, state, speed, backend or stream, objective, data.
fn run_line(app: &App) -> Vec<Span<'static>> {
    let step = app.report().as_ref().map_or(0, |r| r.step);
    // A stream runs at its writer's pace: "following" its newest step unless paused through the
    // control file.
    let replay = app
        .replay()
        .map(|(s, n)| format!("● replaying step {s} of {n}"));
    let state = match (app.info().backend.as_str(), &app.run()) {
        _ if replay.is_some() => "paused",
        ("stream", _) if app.writer_ended().is_some() => "ended",
        ("stream", crate::app::RunState::Running) => "following",
        _ => app.run().label(),
    };
    let speed = if app.speed() == 0.0 {
        "max".to_string()
    } else {
        format!("{}/s", app.speed())
    };
    let batch = if app.info().batch_size == 0 {
        "full batch".to_string()
    } else {
        format!("batch {}", app.info().batch_size)
    };
    let mut l1: Vec<Span> = vec![
        Span::styled(" segscope ", theme::TITLE),
        Span::styled(format!(" step {step} "), theme::VALUE),
        Span::raw(" "),
        Span::styled(
            replay.unwrap_or_else(|| format!("● {state}")),
            theme::state(state),
        ),
        Span::raw("  "),
    ];
    l1.extend(kv("", format!("{:.1} steps/s", app.rate())));
    l1.push(Span::styled(format!(" (limit {speed})"), theme::DIM));
    l1.push(Span::raw("  "));
    let run = if app.info().backend == "stream" {
        // Watching a stream: the writer's run and objective; metrics are recomputed from the
        // predictions (MSE, and for binary labels AUROC, log loss, Brier).
        if app.info().loss.is_empty() {
            format!("stream {} · metrics as mse", app.info().optimizer)
        } else {
            format!(
                "stream {} · objective {} · metrics recomputed",
                app.info().optimizer,
                app.info().loss
            )
        }
    } else {
        format!(
            "{} · {} · {} lr {} · {}",
            app.info().backend,
            app.info().loss,
            app.info().optimizer,
            format::num(app.info().lr),
            batch
        )
    };
    l1.push(Span::styled(run, theme::LABEL));
    l1.push(Span::styled(
        format!("  data {} ({})", app.info().data, app.ds().format),
        theme::DIM,
    ));

    l1
}

/// The second line's losses: train and dev (recomputed MSE for a stream), and a stream's own.
fn losses(app: &App) -> Vec<Span<'static>> {
    let (tr, dv) = app
        .report()
        .as_ref()
        .map_or((f64::NAN, f64::NAN), |r| (r.train.loss, r.dev.loss));
    let prev = app.prev_metrics().as_ref();
    let mut l2: Vec<Span> = vec![Span::raw(" ")];
    // Watching a stream, the losses on screen are the MSE recomputed from the predictions; the
    // trainer's own (its objective's) come after, as its stream reported them.
    let stream = app.info().backend == "stream";
    let (train_name, dev_name) = if stream {
        ("train mse", "dev mse")
    } else {
        ("train loss", "dev loss")
    };
    l2.extend(kv(train_name, format::num(tr)));
    l2.push(trend_span(tr, prev.map(|p| p.0.loss), true));
    l2.push(Span::raw("  "));
    l2.extend(kv(dev_name, format::num(dv)));
    l2.push(trend_span(dv, prev.map(|p| p.1.loss), true));
    l2.push(Span::raw("  "));
    if stream && let Some([t, d]) = app.report().as_ref().and_then(|r| r.trainer_loss) {
        let objective = if app.info().loss.is_empty() {
            "loss"
        } else {
            app.info().loss.split(',').next().unwrap_or("loss")
        };
        let val = |x: Option<f64>| x.map_or("—".to_string(), format::num);
        l2.extend(kv(
            &format!("trainer's {objective}"),
            format!("{} / {}", val(t), val(d)),
        ));
        l2.push(Span::raw("  "));
    }
    l2
}

/// The outlier counts and the labels' note, the note first when the line is narrow.
fn counts(app: &App, l2: &mut Vec<Span<'static>>, width: usize) {
    let outliers = format!(
        "{} train · {} dev",
        app.analysis().n_outliers.0,
        app.analysis().n_outliers.1
    );
    let rule = if app.classes().is_empty() {
        format!(" (|z| > {})", app.ui().outlier_k)
    } else {
        format!(" (|z| > {} within class)", app.ui().outlier_k)
    };
    let labels = (!app.labels_note().is_empty()).then(|| format!("labels {}", app.labels_note()));
    let wide = used(l2)
        + "outliers ".len()
        + outliers.chars().count()
        + rule.chars().count()
        + labels.as_ref().map_or(0, |l| 2 + l.chars().count())
        <= width;
    if wide {
        l2.push(Span::styled("outliers ", theme::LABEL));
        l2.push(Span::styled(outliers, theme::OUTLIER));
        l2.push(Span::styled(rule, theme::DIM));
        if let Some(l) = labels {
            l2.push(Span::styled(format!("  {l}"), theme::LABEL));
        }
    } else {
        // Narrow: the label kind and the flags' expected precision (an audit's) come before the
        // outlier counts, which lose their rule's explanation, so a cut falls on the counts.
        if let Some(l) = labels {
            l2.push(Span::styled(format!("{l}  "), theme::LABEL));
        }
        l2.push(Span::styled("outliers ", theme::LABEL));
        l2.push(Span::styled(outliers, theme::OUTLIER));
    }
    if let Some(r) = &app.report()
        && r.eval_step != r.step
    {
        let text = if r.pred_steps.is_empty() {
            format!("  predictions from step {}", r.eval_step)
        } else {
            format!(
                "  refreshed at step {} · rows: · older, • this batch's pre-update pass",
                r.eval_step
            )
        };
        l2.push(Span::styled(text, theme::DIM));
    }
}

/// The status message (or a divergence), then a comparison's leaders.
fn messages(app: &App, l2: &mut Vec<Span<'static>>, width: usize) {
    // A status message goes before the comparison's leaders, and is never cut: when it does not
    // fit after the losses it takes the whole line (cut at a word, with …, only if longer).
    let message = if let crate::app::RunState::Diverged { step, reason } = &app.run() {
        Some((format!("diverged at step {step}: {reason}"), theme::WORSE))
    } else {
        app.status().clone().map(|s| (s, theme::STATUS))
    };
    if let Some((text, style)) = message {
        if used(l2) + 2 + text.chars().count() <= width {
            l2.push(Span::styled(format!("  {text}"), style));
        } else {
            *l2 = vec![Span::styled(
                format!(" {}", format::fit_words(&text, width.saturating_sub(1))),
                style,
            )];
        }
    }
    if let Some(r) = app.report().as_ref().filter(|r| !r.models.is_empty())
        && !crate::source::compare::leaders(&r.models).is_empty()
    {
        // A comparison: which model leads on which metric (dev split).
        let lead = crate::source::compare::leaders(&r.models)
            .into_iter()
            .map(|(metric, model)| format!("{metric} {model}"))
            .collect::<Vec<_>>()
            .join(" · ");
        l2.push(Span::styled(format!("  leads: {lead}"), theme::VALUE));
    }
}
