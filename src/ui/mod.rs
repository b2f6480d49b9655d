//! The screen: a pure function of [`App`] state. Layout and header/footer here, one file per panel.
//!
//! Rendering reads state and draws: no I/O, no tensor work, no sorting (rows are sorted in
//! `App::refresh_rows`, and only the visible ones are built).

mod charts;
mod datamap;
mod detail;
mod diff;
mod document;
mod edits;
mod evidence;
pub mod format;
mod help;
mod math;
mod metrics;
mod preview;
mod segments;
pub mod theme;

/// A segment's text as the views show it: LaTeX as Unicode text unless the raw form was asked
/// for (`L`).
pub(crate) fn shown_text<'a>(app: &crate::app::App, text: &'a str) -> std::borrow::Cow<'a, str> {
    if !app.view.raw_math && math::has_latex(text) {
        std::borrow::Cow::Owned(math::unicode(text))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}
mod tour;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::app::{App, Overlay};

/// The smallest terminal the layout fits.
pub const MIN_WIDTH: u16 = 100;
pub const MIN_HEIGHT: u16 = 28;

/// The areas of the main view.
pub struct Areas {
    pub header: Rect,
    pub table: Rect,
    pub loss: Rect,
    pub weights: Rect,
    pub metrics: Rect,
    pub footer: Rect,
    /// `segscope tour`: the explanation panel, below the table.
    pub tour: Option<Rect>,
    /// The selected segment's whole text, below the table.
    pub preview: Option<Rect>,
}

/// Splits the screen. Also used by the event loop to know how many table rows fit.
pub fn layout(area: Rect, app: &App) -> Areas {
    let [header, main, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let [table, side] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Fill(1)]).areas(main);
    // On a short screen the sparkline gives up height so the loss chart keeps some.
    let weights_h = if main.height >= 36 { 12 } else { 6 };
    let [loss, weights, metrics] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(weights_h),
        Constraint::Length(12),
    ])
    .areas(side);
    let (table, tour) = if app.tour.is_some() {
        // The tour's tables are small: the rows plus borders and header, at most 40%.
        let rows = app.view.rows.len() as u16 + 3;
        let h = rows.clamp(4, (table.height * 2 / 5).max(4));
        let [t, e] = Layout::vertical([Constraint::Length(h), Constraint::Fill(1)]).areas(table);
        (t, Some(e))
    } else {
        (table, None)
    };
    let (table, preview) = if app.show_preview && app.tour.is_none() {
        let [t, p] = Layout::vertical([
            Constraint::Fill(1),
            Constraint::Length(preview::height(table.height)),
        ])
        .areas(table);
        (t, Some(p))
    } else {
        (table, None)
    };
    Areas {
        header,
        table,
        loss,
        weights,
        metrics,
        footer,
        tour,
        preview,
    }
}

/// Segment rows that fit in the table at this terminal size (borders and header row excluded).
pub fn table_page(area: Rect, app: &App) -> usize {
    layout(area, app).table.height.saturating_sub(3) as usize
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            Paragraph::new(format!(
                "segscope needs a terminal of at least {MIN_WIDTH}x{MIN_HEIGHT}; this one is {}x{}. Enlarge it, or press q to quit.",
                area.width, area.height
            ))
            .wrap(ratatui::widgets::Wrap { trim: true })
            .render(area, buf);
            return;
        }
        let a = layout(area, self);
        render_header(self, a.header, buf);
        segments::render(self, a.table, buf);
        if let Some(t) = a.tour {
            tour::render(self, t, buf);
        }
        if let Some(p) = a.preview {
            preview::render(self, p, buf);
        }
        if self.show_datamap {
            datamap::render(self, a.loss, buf);
        } else {
            charts::render_loss(self, a.loss, buf);
        }
        charts::render_weights(self, a.weights, buf);
        metrics::render(self, a.metrics, buf);
        render_footer(self, a.footer, buf);
        match self.overlay {
            Overlay::None => {}
            Overlay::Help => help::render(self, area, buf),
            Overlay::Detail(i) => detail::render(self, i, area, buf),
            Overlay::Diff => diff::render(self, area, buf),
            Overlay::Edits => edits::render(self, area, buf),
            Overlay::Document(i) => document::render(self, i, area, buf),
        }
    }
}

fn kv(label: &str, value: String) -> [Span<'static>; 2] {
    [
        Span::styled(format!("{label} "), theme::LABEL),
        Span::styled(value, theme::VALUE),
    ]
}

fn trend_span(now: f64, before: Option<f64>, lower_is_better: bool) -> Span<'static> {
    match before {
        Some(b) if now.is_finite() && b.is_finite() && now != b => {
            let better = (now < b) == lower_is_better;
            let arrow = if now < b { "▼" } else { "▲" };
            Span::styled(arrow, if better { theme::BETTER } else { theme::WORSE })
        }
        _ => Span::raw(" "),
    }
}

fn render_header(app: &App, area: Rect, buf: &mut Buffer) {
    buf.set_style(area, theme::HEADER_BG);
    let step = app.report.as_ref().map_or(0, |r| r.step);
    // A stream runs at its writer's pace: "following" its newest step unless paused through the
    // control file.
    let replay = app
        .replay
        .map(|(s, n)| format!("● replaying step {s} of {n}"));
    let state = match (app.info.backend.as_str(), &app.run) {
        _ if replay.is_some() => "paused",
        ("stream", _) if app.writer_ended.is_some() => "ended",
        ("stream", crate::app::RunState::Running) => "following",
        _ => app.run.label(),
    };
    let speed = if app.speed == 0.0 {
        "max".to_string()
    } else {
        format!("{}/s", app.speed)
    };
    let batch = if app.info.batch_size == 0 {
        "full batch".to_string()
    } else {
        format!("batch {}", app.info.batch_size)
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
    l1.extend(kv("", format!("{:.1} steps/s", app.rate)));
    l1.push(Span::styled(format!(" (limit {speed})"), theme::DIM));
    l1.push(Span::raw("  "));
    let run = if app.info.backend == "stream" {
        // Watching a stream: the writer's run and objective; metrics are recomputed from the
        // predictions (MSE, and for binary labels AUROC, log loss, Brier).
        if app.info.loss.is_empty() {
            format!("stream {} · metrics as mse", app.info.optimizer)
        } else {
            format!(
                "stream {} · objective {} · metrics recomputed",
                app.info.optimizer, app.info.loss
            )
        }
    } else {
        format!(
            "{} · {} · {} lr {} · {}",
            app.info.backend,
            app.info.loss,
            app.info.optimizer,
            format::num(app.info.lr),
            batch
        )
    };
    l1.push(Span::styled(run, theme::LABEL));
    l1.push(Span::styled(
        format!("  data {} ({})", app.info.data, app.ds.format),
        theme::DIM,
    ));

    let (tr, dv) = app
        .report
        .as_ref()
        .map_or((f64::NAN, f64::NAN), |r| (r.train.loss, r.dev.loss));
    let prev = app.prev_metrics.as_ref();
    let mut l2: Vec<Span> = vec![Span::raw(" ")];
    // Watching a stream, the losses on screen are the MSE recomputed from the predictions; the
    // trainer's own (its objective's) come after, as its stream reported them.
    let stream = app.info.backend == "stream";
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
    if stream && let Some([t, d]) = app.report.as_ref().and_then(|r| r.trainer_loss) {
        let objective = if app.info.loss.is_empty() {
            "loss"
        } else {
            app.info.loss.split(',').next().unwrap_or("loss")
        };
        let val = |x: Option<f64>| x.map_or("—".to_string(), format::num);
        l2.extend(kv(
            &format!("trainer's {objective}"),
            format!("{} / {}", val(t), val(d)),
        ));
        l2.push(Span::raw("  "));
    }
    let outliers = format!(
        "{} train · {} dev",
        app.analysis.n_outliers.0, app.analysis.n_outliers.1
    );
    let rule = if app.classes.is_empty() {
        format!(" (|z| > {})", app.ui.outlier_k)
    } else {
        format!(" (|z| > {} within class)", app.ui.outlier_k)
    };
    let labels = (!app.labels_note.is_empty()).then(|| format!("labels {}", app.labels_note));
    let used = |l: &[Span]| l.iter().map(|s| s.content.chars().count()).sum::<usize>();
    let width = area.width as usize;
    let wide = used(&l2)
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
    if let Some(r) = &app.report
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
    // A status message goes before the comparison's leaders, and is never cut: when it does not
    // fit after the losses it takes the whole line (cut at a word, with …, only if longer).
    let message = if let crate::app::RunState::Diverged { step, reason } = &app.run {
        Some((format!("diverged at step {step}: {reason}"), theme::WORSE))
    } else {
        app.status.clone().map(|s| (s, theme::STATUS))
    };
    if let Some((text, style)) = message {
        if used(&l2) + 2 + text.chars().count() <= width {
            l2.push(Span::styled(format!("  {text}"), style));
        } else {
            l2 = vec![Span::styled(
                format!(" {}", format::fit_words(&text, width.saturating_sub(1))),
                style,
            )];
        }
    }
    if let Some(r) = app.report.as_ref().filter(|r| !r.models.is_empty())
        && !crate::compare::leaders(&r.models).is_empty()
    {
        // A comparison: which model leads on which metric (dev split).
        let lead = crate::compare::leaders(&r.models)
            .into_iter()
            .map(|(metric, model)| format!("{metric} {model}"))
            .collect::<Vec<_>>()
            .join(" · ");
        l2.push(Span::styled(format!("  leads: {lead}"), theme::VALUE));
    }
    Paragraph::new(vec![Line::from(l1), Line::from(l2)]).render(area, buf);
}

fn render_footer(app: &App, area: Rect, buf: &mut Buffer) {
    let mut spans: Vec<Span> = Vec::new();
    if let Some(p) = &app.prompt {
        spans.push(Span::styled(
            format!(
                " {} for {}: ",
                if p.weight {
                    "training weight"
                } else {
                    "new target"
                },
                app.ds.segment_id(p.segment)
            ),
            theme::LABEL,
        ));
        spans.push(Span::styled(format!("{}▏", p.text), theme::VALUE));
        spans.push(Span::styled(
            "   Enter applies · Esc cancels · Backspace deletes",
            theme::DIM,
        ));
    } else if app.view.typing {
        spans.push(Span::styled(" filter: ", theme::LABEL));
        spans.push(Span::styled(format!("{}▏", app.view.filter), theme::VALUE));
        spans.push(Span::styled(
            "   Enter keep · Esc clear · Backspace delete",
            theme::DIM,
        ));
    } else {
        for (key, label, pad) in footer_items(app.keymap.footer(), area.width as usize) {
            spans.push(Span::styled(format!(" {key} "), theme::KEY));
            spans.push(Span::styled(format!("{pad}{label}{pad} "), theme::LABEL));
        }
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// The footer's hints that fit in `width`: spaced out when there is room, compact when not, and
/// when even that is too wide the hints before `help` and `quit` give way from the end, so the
/// way to every other key is always on screen.
fn footer_items(
    mut items: Vec<(String, &'static str)>,
    width: usize,
) -> Vec<(String, &'static str, &'static str)> {
    let len = |items: &[(String, &str)], pad: usize| -> usize {
        items
            .iter()
            .map(|(k, l)| k.chars().count() + 2 + l.chars().count() + 1 + 2 * pad)
            .sum()
    };
    // The last hint's trailing space may fall off the edge.
    let width = width + 1;
    if len(&items, 1) <= width {
        return items.into_iter().map(|(k, l)| (k, l, " ")).collect();
    }
    while len(&items, 0) > width {
        let Some(drop) = items
            .iter()
            .rposition(|(_, l)| *l != "help" && *l != "quit")
        else {
            break;
        };
        items.remove(drop);
    }
    items.into_iter().map(|(k, l)| (k, l, "")).collect()
}
