//! The data map panel: each segment of the table's split as a point, variability (x) against mean
//! |residual| (y) over the recent refreshed steps, the thresholds as lines, the selected segment
//! highlighted.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as CLine, Points};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use super::theme;
use crate::analysis::datamap::{Region, WINDOW};
use crate::app::App;
use crate::data::Split;

fn color(r: Region) -> Color {
    match r {
        Region::Easy => Color::Green,
        Region::Ambiguous => Color::Yellow,
        Region::Hard => Color::Red,
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let split = app.view().split;
    let k = usize::from(split == Split::Dev);
    let title = vec![Span::styled(" Data map ", theme::TITLE)];
    let Some(map) = app.datamap().as_ref() else {
        render_empty(app, title, area, buf);
        return;
    };
    let title = map_title(app, map, area.width as usize);
    let rows = app.part().indices(split);
    // `l` (log y) applies here too: a few large residuals otherwise squash everything else
    // against the floor.
    let y_of = |y: f32| {
        let y = f64::from(y);
        if app.log_y() { y.max(1e-4).log10() } else { y }
    };
    let pts = |want: Region| -> Vec<(f64, f64)> {
        rows.iter()
            .filter_map(|&i| {
                let p = map.points[i];
                (p.region == Some(want)).then(|| (f64::from(p.variability), y_of(p.abs_residual)))
            })
            .collect()
    };
    let groups: Vec<(Region, Vec<(f64, f64)>)> = Region::ALL.iter().map(|&r| (r, pts(r))).collect();
    let max_of = |f: fn(&(f64, f64)) -> f64| {
        groups
            .iter()
            .flat_map(|g| g.1.iter().map(f))
            .fold(0.0f64, f64::max)
    };
    // Room for the thresholds even when every point is below them.
    // The thresholds of every class of this split (one class unless the labels are binary).
    let finite_max = |v: &[f32]| {
        v.iter()
            .filter(|x| x.is_finite())
            .fold(0f64, |m, &x| m.max(f64::from(x)))
    };
    let finite_min = |v: &[f32]| {
        v.iter()
            .filter(|x| x.is_finite())
            .fold(f64::INFINITY, |m, &x| m.min(f64::from(x)))
    };
    let x1 = (max_of(|p| p.0).max(finite_max(&map.ambiguous_at[k])) * 1.05).max(1e-6);
    let ys = groups.iter().flat_map(|g| g.1.iter().map(|p| p.1));
    let (y0, y1) = if app.log_y() {
        let lo = ys
            .clone()
            .fold(f64::INFINITY, f64::min)
            .min(y_of(finite_min(&map.hard_at[k]) as f32));
        let hi = ys
            .fold(f64::NEG_INFINITY, f64::max)
            .max(y_of(finite_max(&map.hard_at[k]) as f32));
        let (lo, hi) = if lo.is_finite() {
            (lo, hi)
        } else {
            (-1.0, 0.0)
        };
        (lo - 0.05, hi + 0.05)
    } else {
        (
            0.0,
            (max_of(|p| p.1).max(finite_max(&map.hard_at[k])) * 1.05).max(1e-6),
        )
    };
    let selected = app
        .selected()
        .map(|i| map.points[i])
        .filter(|p| p.variability.is_finite() && p.abs_residual.is_finite());
    let lines: Vec<(f64, f64)> = map.hard_at[k]
        .iter()
        .zip(&map.ambiguous_at[k])
        .filter(|(h, a)| h.is_finite() && a.is_finite())
        .map(|(&h, &a)| (y_of(h), f64::from(a)))
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::BORDER)
        .title(Line::from(title))
        .title_bottom(Line::from(Span::styled(
            if app.log_y() {
                format!(
                    " x: sd of prediction, to {x1:.3} · y: mean |residual|, log, {:.3} to {:.3} ",
                    10f64.powf(y0),
                    10f64.powf(y1)
                )
            } else {
                format!(" x: sd of prediction, to {x1:.3} · y: mean |residual|, to {y1:.3} ")
            },
            theme::DIM,
        )));
    Canvas::default()
        .block(block)
        .marker(Marker::Braille)
        .x_bounds([0.0, x1])
        .y_bounds([y0, y1])
        .paint(|ctx| {
            for &(hard_at, amb_at) in &lines {
                ctx.draw(&CLine::new(0.0, hard_at, amb_at, hard_at, Color::DarkGray));
                ctx.draw(&CLine::new(amb_at, y0, amb_at, y1, Color::DarkGray));
            }
            for (r, p) in &groups {
                ctx.draw(&Points {
                    coords: p,
                    color: color(*r),
                });
            }
            if let Some(p) = selected {
                ctx.layer();
                ctx.print(
                    f64::from(p.variability),
                    y_of(p.abs_residual),
                    Span::styled("◆", Style::new().fg(Color::White)),
                );
            }
        })
        .render(area, buf);
}

/// Why there is no data map yet.
fn render_empty(app: &App, title: Vec<Span<'static>>, area: Rect, buf: &mut Buffer) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::BORDER)
        .title(Line::from(title));
    let why = match app.forked() {
        Some((_, to)) => format!(
            "The run went back to step {to}: the data map fills again after two refreshed steps (it looks back over the last {WINDOW})."
        ),
        None => {
            format!("The data map needs two refreshed steps; it looks back over the last {WINDOW}.")
        }
    };
    Paragraph::new(why)
        .wrap(ratatui::widgets::Wrap { trim: true })
        .style(theme::DIM)
        .block(block)
        .render(area, buf);
}

/// The title with the steps and each region's count, which must fit: on a narrow panel the
/// title shortens and the region names shrink to their first letters.
fn map_title(
    app: &App,
    map: &crate::analysis::datamap::DataMap,
    width: usize,
) -> Vec<Span<'static>> {
    let split = app.view().split;
    let counts = map.counts(app.part(), split);
    let range = format!("{} · steps {}-{} · ", split.name(), map.first, map.last);
    let long: usize = Region::ALL
        .iter()
        .zip(&counts)
        .map(|(r, c)| r.name().len() + c.to_string().len() + 2)
        .sum::<usize>()
        + " Data map ".len()
        + range.chars().count();
    let short = long + 2 > width;
    let mut title = if short {
        vec![
            Span::styled(" Map ", theme::TITLE),
            Span::styled(
                format!("{} {}-{} · ", split.name(), map.first, map.last),
                theme::LABEL,
            ),
        ]
    } else {
        vec![
            Span::styled(" Data map ", theme::TITLE),
            Span::styled(range, theme::LABEL),
        ]
    };
    for (r, c) in Region::ALL.iter().zip(counts) {
        let style = if app.view().region == Some(*r) {
            Style::new()
                .fg(color(*r))
                .add_modifier(ratatui::style::Modifier::REVERSED)
        } else {
            Style::new().fg(color(*r))
        };
        let name = if short { &r.name()[..1] } else { r.name() };
        title.push(Span::styled(format!("{name} {c} "), style));
    }
    title
}
