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
mod header;
mod help;
mod math;
mod metrics_panel;
mod preview;
mod segments;
pub mod theme;

/// A segment's text as the views show it: LaTeX as Unicode text unless the raw form was asked
/// for (`L`).
pub(crate) fn shown_text<'a>(app: &crate::app::App, text: &'a str) -> std::borrow::Cow<'a, str> {
    if !app.view().raw_math && math::has_latex(text) {
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
    let (table, tour) = if app.tour().is_some() {
        // The tour's tables are small: the rows plus borders and header, at most 40%.
        let rows = app.view().rows.len() as u16 + 3;
        let h = rows.clamp(4, (table.height * 2 / 5).max(4));
        let [t, e] = Layout::vertical([Constraint::Length(h), Constraint::Fill(1)]).areas(table);
        (t, Some(e))
    } else {
        (table, None)
    };
    let (table, preview) = if app.show_preview() && app.tour().is_none() {
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
        header::render(self, a.header, buf);
        segments::render(self, a.table, buf);
        if let Some(t) = a.tour {
            tour::render(self, t, buf);
        }
        if let Some(p) = a.preview {
            preview::render(self, p, buf);
        }
        if self.show_datamap() {
            datamap::render(self, a.loss, buf);
        } else {
            charts::render_loss(self, a.loss, buf);
        }
        charts::render_weights(self, a.weights, buf);
        metrics_panel::render(self, a.metrics, buf);
        render_footer(self, a.footer, buf);
        match self.overlay() {
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

fn render_footer(app: &App, area: Rect, buf: &mut Buffer) {
    let mut spans: Vec<Span> = Vec::new();
    if let Some(p) = &app.prompt() {
        spans.push(Span::styled(
            format!(
                " {} for {}: ",
                if p.weight {
                    "training weight"
                } else {
                    "new target"
                },
                app.ds().segment_id(p.segment)
            ),
            theme::LABEL,
        ));
        spans.push(Span::styled(format!("{}▏", p.text), theme::VALUE));
        spans.push(Span::styled(
            "   Enter applies · Esc cancels · Backspace deletes",
            theme::DIM,
        ));
    } else if app.view().typing {
        spans.push(Span::styled(" filter: ", theme::LABEL));
        spans.push(Span::styled(
            format!("{}▏", app.view().filter),
            theme::VALUE,
        ));
        spans.push(Span::styled(
            "   Enter keep · Esc clear · Backspace delete",
            theme::DIM,
        ));
    } else {
        for (key, label, pad) in footer_items(app.keymap().footer(), area.width as usize) {
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
