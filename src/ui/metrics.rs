//! The metrics panel: regression, calibration and ranking metrics for train and dev, each with its
//! trend since the previous report. MSE, bias and the correlations side by side, because
//! predictions can rank perfectly and still be off in absolute value.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, Widget};

use super::{format, theme};
use crate::app::App;
use crate::engine::SplitMetrics;

/// (label, getter, lower is better; None = closer to zero is better).
type Getter = fn(&SplitMetrics) -> f64;
const ROWS: [(&str, Getter, Option<bool>); 9] = [
    ("MSE", |m| m.mse, Some(true)),
    ("RMSE", |m| m.rmse, Some(true)),
    ("MAE", |m| m.mae, Some(true)),
    ("R²", |m| m.r2, Some(false)),
    ("bias", |m| m.bias, None),
    ("Pearson", |m| m.pearson, Some(false)),
    ("Spearman", |m| m.spearman, Some(false)),
    ("Kendall τb", |m| m.kendall_tau_b, Some(false)),
    ("pair acc", |m| m.pairwise_acc, Some(false)),
];

fn cell(now: f64, before: Option<f64>, lower: Option<bool>) -> Cell<'static> {
    let arrow = match before {
        Some(b) if now.is_finite() && b.is_finite() && (now - b).abs() > 1e-12 => {
            let better = match lower {
                Some(true) => now < b,
                Some(false) => now > b,
                None => now.abs() < b.abs(),
            };
            let a = if now > b { "▲" } else { "▼" };
            Span::styled(a, if better { theme::BETTER } else { theme::WORSE })
        }
        _ => Span::raw(" "),
    };
    Cell::from(Line::from(vec![
        Span::styled(format!("{:>9} ", format::num(now)), theme::VALUE),
        arrow,
    ]))
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::BORDER)
        .title(Line::from(vec![
            Span::styled(" Metrics ", theme::TITLE),
            Span::styled("trend since the previous step ", theme::DIM),
        ]));
    let Some(r) = &app.report else {
        block.render(area, buf);
        return;
    };
    let prev = app.prev_metrics.as_ref();
    let rows: Vec<Row> = ROWS
        .iter()
        .map(|&(label, get, lower)| {
            Row::new(vec![
                Cell::from(Span::styled(label, theme::LABEL)),
                cell(get(&r.train), prev.map(|p| get(&p.0)), lower),
                cell(get(&r.dev), prev.map(|p| get(&p.1)), lower),
            ])
        })
        .collect();
    let header = Row::new(vec![
        Cell::from(""),
        Cell::from(Span::styled(
            format!("train ({})", r.train.n),
            Style::new().fg(theme::TRAIN),
        )),
        Cell::from(Span::styled(
            format!("dev ({})", r.dev.n),
            Style::new().fg(theme::DEV),
        )),
    ]);
    Table::new(
        rows,
        [
            Constraint::Length(11),
            Constraint::Length(13),
            Constraint::Length(13),
        ],
    )
    .header(header)
    .block(block)
    .render(area, buf);
}
