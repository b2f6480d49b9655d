//! The loss chart (train and dev per step) and the weight-change panel: a sparkline of ||dW|| per
//! step, the current values, and the per-tensor breakdown.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph, Sparkline, Widget,
};

use super::{format, theme};
use crate::app::{App, HistPoint};

/// The x axis of a chart over steps x0..x1.
pub(super) fn step_axis(x0: f64, x1: f64) -> Axis<'static> {
    Axis::default()
        .style(theme::DIM)
        .bounds([x0, x1])
        .labels([format!("{x0:.0}"), format!("step {x1:.0}")])
}

/// The history points the chart shows: all, or the recent window.
fn window(app: &App) -> &[HistPoint] {
    let h = &app.history();
    if app.full_history() || h.len() <= app.ui().recent_window {
        h
    } else {
        &h[h.len() - app.ui().recent_window..]
    }
}

/// A comparison's loss chart: every model's dev MSE, the one yardstick all objectives share.
fn render_compare_loss(app: &App, area: Rect, buf: &mut Buffer) {
    let names: Vec<String> = app
        .report()
        .as_ref()
        .map(|r| r.models.iter().map(|m| m.name.clone()).collect())
        .unwrap_or_default();
    let h = &app.models().history;
    let h = if app.full_history() || h.len() <= app.ui().recent_window {
        &h[..]
    } else {
        &h[h.len() - app.ui().recent_window..]
    };
    let y_of = |v: f64| if app.log_y() { v.max(1e-12).log10() } else { v };
    let lines: Vec<Vec<(f64, f64)>> = (0..names.len())
        .map(|k| {
            h.iter()
                .filter(|(_, v)| v[k].is_finite())
                .map(|(s, v)| (*s as f64, y_of(v[k])))
                .collect()
        })
        .collect();
    let mut title = vec![Span::styled(" Dev MSE ", theme::TITLE)];
    for (k, n) in names.iter().enumerate() {
        title.push(Span::styled(
            format!("━ {n} "),
            Style::new().fg(theme::model(k)),
        ));
    }
    title.push(Span::styled(
        if app.log_y() {
            "· log y "
        } else {
            "· linear y "
        },
        theme::DIM,
    ));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::BORDER)
        .title(Line::from(title));
    let (x0, x1) = (
        h.first().map_or(0.0, |p| p.0 as f64),
        h.last().map_or(1.0, |p| p.0 as f64),
    );
    let x1 = if x1 <= x0 { x0 + 1.0 } else { x1 };
    let (mut y0, mut y1) = lines
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    if !app.log_y() {
        y0 = y0.min(0.0);
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let label = |y: f64| {
        if app.log_y() {
            format::num(10f64.powf(y))
        } else {
            format::num(y)
        }
    };
    let datasets = lines
        .iter()
        .enumerate()
        .map(|(k, l)| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(theme::model(k)))
                .data(l)
        })
        .collect();
    Chart::new(datasets)
        .block(block)
        .x_axis(step_axis(x0, x1))
        .y_axis(
            Axis::default()
                .style(theme::DIM)
                .bounds([y0, y1])
                .labels([label(y0), label(y1)]),
        )
        .legend_position(None)
        .render(area, buf);
}

/// The loss chart's title: the curves' key, and what the run did (a replay, a fork, edits, the
/// best step), then the history and the y scale.
fn loss_title(app: &App) -> Vec<Span<'static>> {
    let mut spans = vec![
        Span::styled(" Loss ", theme::TITLE),
        Span::styled("━ train ", Style::new().fg(theme::TRAIN)),
        Span::styled("━ dev ", Style::new().fg(theme::DEV)),
    ];
    if let Some((shown, newest)) = app.replay() {
        spans.push(Span::styled(
            format!("│ ▶ step {shown} of {newest} (r: newest) "),
            theme::STATUS,
        ));
    }
    if let Some((from, to)) = app.forked() {
        // The charts were cut back: the run went back and forked there.
        spans.push(Span::styled(
            format!("│ ↶ forked at {to} (was at {from}) "),
            theme::STATUS,
        ));
    }
    if !app.edits().is_empty() {
        spans.push(Span::styled(
            format!("│ ⋮ {} edits ", app.edits().list.len()),
            theme::STATUS,
        ));
    }
    if let Some((step, _)) = app.best() {
        spans.push(Span::styled(format!("│ best {step} "), theme::BETTER));
    }
    spans.extend([Span::styled(
        format!(
            "· {} · {} y ",
            if app.full_history() {
                "full history".to_string()
            } else {
                format!("last {} steps", app.ui().recent_window)
            },
            if app.log_y() { "log" } else { "linear" }
        ),
        theme::DIM,
    )]);
    spans
}

pub fn render_loss(app: &App, area: Rect, buf: &mut Buffer) {
    if app.report().as_ref().is_some_and(|r| !r.models.is_empty()) {
        render_compare_loss(app, area, buf);
        return;
    }
    let pts = window(app);
    let y_of = |v: f64| if app.log_y() { v.max(1e-12).log10() } else { v };
    let train: Vec<(f64, f64)> = pts
        .iter()
        .filter(|p| p.train_loss.is_finite())
        .map(|p| (p.step as f64, y_of(p.train_loss)))
        .collect();
    let dev: Vec<(f64, f64)> = pts
        .iter()
        .filter(|p| p.dev_loss.is_finite())
        .map(|p| (p.step as f64, y_of(p.dev_loss)))
        .collect();
    let spans = loss_title(app);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::BORDER)
        .title(Line::from(spans));
    if train.is_empty() {
        let inner = block.inner(area);
        block.render(area, buf);
        Paragraph::new(Span::styled(
            "no steps yet: press space to take one",
            theme::DIM,
        ))
        .render(inner, buf);
        return;
    }
    let (x0, x1) = (
        pts.first().map_or(0.0, |p| p.step as f64),
        pts.last().map_or(1.0, |p| p.step as f64),
    );
    let x1 = if x1 <= x0 { x0 + 1.0 } else { x1 };
    let ys = train.iter().chain(dev.iter()).map(|p| p.1);
    let (mut y0, mut y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    if !app.log_y() {
        y0 = y0.min(0.0);
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let pad = (y1 - y0) * 0.05;
    let (y0, y1) = (y0 - if app.log_y() { pad } else { 0.0 }, y1 + pad);
    let ylabel = |y: f64| {
        if app.log_y() {
            format::num(10f64.powf(y))
        } else {
            format::num(y)
        }
    };
    // The best step: a vertical line, drawn first so the curves stay on top.
    let best_line: Vec<(f64, f64)> = app
        .best()
        .filter(|(s, _)| (x0..=x1).contains(&(*s as f64)))
        .map(|(s, _)| vec![(s as f64, y0), (s as f64, y1)])
        .unwrap_or_default();
    // Each what-if edit: a short tick at the top of the chart at its step.
    let edit_ticks: Vec<(f64, f64)> = app
        .edits()
        .list
        .iter()
        .map(|e| e.step as f64)
        .filter(|s| (x0..=x1).contains(s))
        .flat_map(|s| {
            let h = (y1 - y0) * 0.08;
            [(s, y1), (s, y1 - h), (s, y1 - 2.0 * h)]
        })
        .collect();
    let datasets = vec![
        Dataset::default()
            .name("edits")
            .marker(Marker::Braille)
            .graph_type(GraphType::Scatter)
            .style(theme::STATUS)
            .data(&edit_ticks),
        Dataset::default()
            .name("best")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme::BETTER)
            .data(&best_line),
        Dataset::default()
            .name("train")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(theme::TRAIN))
            .data(&train),
        Dataset::default()
            .name("dev")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(theme::DEV))
            .data(&dev),
    ];
    Chart::new(datasets)
        .block(block)
        .x_axis(step_axis(x0, x1))
        .y_axis(Axis::default().style(theme::DIM).bounds([y0, y1]).labels([
            ylabel(y0),
            ylabel((y0 + y1) / 2.0),
            ylabel(y1),
        ]))
        .legend_position(None)
        .render(area, buf);
}

pub fn render_weights(app: &App, area: Rect, buf: &mut Buffer) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::BORDER)
        .title(Line::from(vec![
            Span::styled(" Weight change ", theme::TITLE),
            Span::styled("‖W_t − W_{t−1}‖ per step ", theme::DIM),
        ]));
    let inner = block.inner(area);
    block.render(area, buf);
    let [spark, line, layers] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(1),
        Constraint::Fill(1),
    ])
    .areas(inner);
    // The most recent steps that fit, one column each, scaled to the largest shown.
    let w = spark.width as usize;
    let h = &app.history();
    let shown = &h[h.len().saturating_sub(w)..];
    let max = shown.iter().map(|p| p.weight_change).fold(0f64, f64::max);
    let bars: Vec<u64> = shown
        .iter()
        .map(|p| {
            if max > 0.0 && p.weight_change.is_finite() {
                (p.weight_change / max * 1000.0).round() as u64
            } else {
                0
            }
        })
        .collect();
    Sparkline::default()
        .data(bars)
        .max(1000)
        .style(theme::SPARK)
        .render(spark, buf);
    let Some(r) = &app.report() else {
        Paragraph::new(Span::styled("no steps yet", theme::DIM)).render(line, buf);
        return;
    };
    Paragraph::new(Line::from(vec![
        Span::styled("‖ΔW‖ ", theme::LABEL),
        Span::styled(format::num(r.weight_change), theme::VALUE),
        Span::styled("  rel ", theme::LABEL),
        Span::styled(format::num(r.weight_change_rel), theme::VALUE),
        Span::styled("  ‖∇‖ ", theme::LABEL),
        Span::styled(format::num(r.grad_norm), theme::VALUE),
        Span::styled(format!("  max shown {}", format::num(max)), theme::DIM),
    ]))
    .render(line, buf);
    let max_rel = r
        .layers
        .iter()
        .map(|l| l.weight_change_rel)
        .fold(0f64, f64::max);
    let lines: Vec<Line> = r
        .layers
        .iter()
        .map(|l| {
            let frac = if max_rel > 0.0 {
                l.weight_change_rel / max_rel
            } else {
                0.0
            };
            Line::from(vec![
                Span::styled(format!("{:<14}", format::trim(&l.name, 14)), theme::LABEL),
                Span::raw(format!("{:>10} ", format::num(l.weight_change))),
                Span::styled("rel ", theme::DIM),
                Span::raw(format!("{:>9} ", format::num(l.weight_change_rel))),
                Span::styled(format::bar(frac, 12), theme::BAR),
            ])
        })
        .collect();
    Paragraph::new(lines).render(layers, buf);
}
