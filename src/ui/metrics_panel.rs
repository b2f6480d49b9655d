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
    let Some(r) = &app.report() else {
        block.render(area, buf);
        return;
    };
    if !r.models.is_empty() {
        render_compare(r, area, buf);
        return;
    }
    let prev = app.prev_metrics().as_ref();
    let mut rows: Vec<Row> = ROWS
        .iter()
        .map(|&(label, get, lower)| {
            Row::new(vec![
                Cell::from(Span::styled(label, theme::LABEL)),
                cell(get(&r.train), prev.map(|p| get(&p.0)), lower),
                cell(get(&r.dev), prev.map(|p| get(&p.1)), lower),
            ])
        })
        .collect();
    // Binary labels: what step-reward people report beside the regression metrics.
    if let Some(m) = &app.label_metrics() {
        let plain = |x: f64| {
            Cell::from(Span::styled(
                format!("{:>9}  ", format::num(x)),
                theme::VALUE,
            ))
        };
        // Right after MSE: the panel is short at small sizes, and for classes these are read
        // before RMSE and MAE.
        let row = |label: &'static str, v: (f64, f64)| {
            Row::new(vec![
                Cell::from(Span::styled(label, theme::LABEL)),
                plain(v.0),
                plain(v.1),
            ])
        };
        let mut extra = vec![
            row("AUROC", m.auroc),
            row("log loss", m.log_loss),
            row("Brier", m.brier),
        ];
        if m.first_error_f1.is_finite() {
            let on_dev = r.dev.n > 0;
            let f1 = Cell::from(Span::styled(
                format!("{:>9}  ", format::num(m.first_error_f1)),
                theme::VALUE,
            ));
            // The threshold goes in the split's column that has no F1, so that a narrow panel
            // never cuts it from the label (it read `1st-err F1@0` at 100 columns).
            let at = Cell::from(Span::styled(
                format!("{:>9}  ", format!("@ {:.2}", m.threshold)),
                theme::DIM,
            ));
            let (tr, dv) = if on_dev { (at, f1) } else { (f1, at) };
            extra.push(Row::new(vec![
                Cell::from(Span::styled("1st-err F1", theme::LABEL)),
                tr,
                dv,
            ]));
        }
        rows.splice(1..1, extra);
    }
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
            // Room for the longest label, `1st-err F1`.
            Constraint::Length(11),
            Constraint::Length(13),
            Constraint::Length(13),
        ],
    )
    .header(header)
    .block(block)
    .render(area, buf);
}

/// A comparison: one column per model, each on the dev split, with the affine map of a pairwise
/// model and why its raw MSE is not the whole story.
fn render_compare(r: &crate::engine::StepReport, area: Rect, buf: &mut Buffer) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::BORDER)
        .title(Line::from(vec![
            Span::styled(" Metrics ", theme::TITLE),
            Span::styled("dev split, per model ", theme::DIM),
        ]));
    // The metrics that tell regression from ranking; the panel has room for few more.
    let shown = ["MSE", "R²", "bias", "Spearman", "pair acc"];
    let mut rows: Vec<Row> = ROWS
        .iter()
        .filter(|r| shown.contains(&r.0))
        .map(|&(label, get, _)| {
            let mut cells = vec![Cell::from(Span::styled(label, theme::LABEL))];
            cells.extend(r.models.iter().map(|m| {
                Cell::from(Span::styled(
                    format!("{:>10}", format::num(get(&m.dev))),
                    theme::VALUE,
                ))
            }));
            Row::new(cells)
        })
        .collect();
    let affine = |f: fn(&crate::engine::report::Affine) -> String| {
        r.models
            .iter()
            .map(|m| {
                Cell::from(Span::styled(
                    format!("{:>10}", m.affine.as_ref().map_or("—".to_string(), f)),
                    theme::VALUE,
                ))
            })
            .collect::<Vec<_>>()
    };
    let mut map = vec![Cell::from(Span::styled("affine a·p+b", theme::LABEL))];
    map.extend(affine(|a| format!("{:.2}p{:+.2}", a.slope, a.intercept)));
    rows.push(Row::new(map));
    let mut after = vec![Cell::from(Span::styled("MSE after", theme::LABEL))];
    after.extend(affine(|a| format::num(a.dev_mse_after)));
    rows.push(Row::new(after));
    let block = if r.models.iter().any(|m| m.affine.is_some()) {
        block.title_bottom(Line::from(Span::styled(
            " MSE = bias² + Var(resid): the map fixes bias and scale ",
            theme::DIM,
        )))
    } else {
        block
    };
    let mut header = vec![Cell::from("")];
    header.extend(r.models.iter().enumerate().map(|(k, m)| {
        Cell::from(Span::styled(
            format!("{:>10}", m.name),
            Style::new().fg(theme::model(k)),
        ))
    }));
    let mut widths = vec![Constraint::Length(12)];
    widths.extend(r.models.iter().map(|_| Constraint::Length(11)));
    Table::new(rows, widths)
        .header(Row::new(header))
        .block(block)
        .render(area, buf);
}
