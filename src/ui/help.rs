//! The help overlay: every key and what it does, generated from the keymap table, each
//! description whole (wrapped under its key); when they are taller than the screen the list
//! scrolls (↑/↓, PgUp/PgDn) and says how far down it is.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use super::{detail::centered, theme};
use crate::app::{Action, App};

/// Width of the keys' column.
const KEY_W: usize = 14;

/// The help's lines for a popup `width` wide inside its borders: each description wrapped at
/// words, its continuation lines under the description, not under the keys.
pub fn lines(app: &App, width: usize) -> Vec<Line<'static>> {
    entries(app, width).concat()
}

/// Each key's lines (see [`lines`]).
fn entries(app: &App, width: usize) -> Vec<Vec<Line<'static>>> {
    let text_w = width.saturating_sub(KEY_W + 1).max(10);
    let mut all = Vec::new();
    for (keys, text) in app.keymap().help() {
        let mut out = Vec::new();
        let rows = super::format::wrap(text, text_w);
        for (k, r) in rows.into_iter().enumerate() {
            let key = if k == 0 { keys.clone() } else { String::new() };
            out.push(Line::from(vec![
                Span::styled(format!(" {key:<KEY_W$}"), theme::VALUE),
                Span::styled(r, theme::LABEL),
            ]));
        }
        all.push(out);
    }
    all
}

/// Wide screens whose height the list outgrows get it in two columns, split between keys, each
/// row the left column's line padded to `half` and then the right one's.
fn two_columns(app: &App, half: usize) -> Vec<Line<'static>> {
    let entries = entries(app, half);
    let total: usize = entries.iter().map(Vec::len).sum();
    let (mut left, mut right, mut n) = (Vec::new(), Vec::new(), 0);
    for e in entries {
        n += e.len();
        if n <= total.div_ceil(2) {
            left.extend(e);
        } else {
            right.extend(e);
        }
    }
    (0..left.len().max(right.len()))
        .map(|k| {
            let mut spans = left
                .get(k)
                .map_or_else(Vec::new, |l: &Line| l.spans.clone());
            let w: usize = spans.iter().map(Span::width).sum();
            spans.push(Span::raw(" ".repeat(half.saturating_sub(w))));
            if let Some(r) = right.get(k) {
                spans.extend(r.spans.clone());
            }
            Line::from(spans)
        })
        .collect()
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let mut popup = centered(area, 100, 100);
    let mut all = lines(app, popup.width.min(110).saturating_sub(2) as usize);
    if all.len() as u16 + 2 > area.height && area.width >= 150 {
        all = two_columns(app, (popup.width.saturating_sub(2) / 2) as usize);
    } else {
        popup.width = popup.width.min(110);
    }
    popup.x = area.x + (area.width - popup.width) / 2;
    let h = (all.len() as u16 + 2).min(area.height);
    popup.y = area.y + (area.height - h) / 2;
    popup.height = h;
    let visible = h.saturating_sub(2) as usize;
    let max_scroll = all.len().saturating_sub(visible);
    let scroll = (app.help().scroll as usize).min(max_scroll);
    Clear.render(popup, buf);
    let more = if max_scroll > 0 {
        format!(
            "lines {}-{} of {} · {}/{} {}/{} scroll · ",
            scroll + 1,
            scroll + visible,
            all.len(),
            app.keymap().key_label(Action::Up),
            app.keymap().key_label(Action::Down),
            app.keymap().key_label(Action::PageUp),
            app.keymap().key_label(Action::PageDown),
        )
    } else {
        String::new()
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::TITLE)
        .title(Line::from(Span::styled(" Keys ", theme::TITLE)))
        .title_bottom(Line::from(Span::styled(
            format!(
                " {more}{} · {} or {} closes ",
                if app.tour().is_some() {
                    "the tour's keys"
                } else {
                    "change keys in config.toml [keys]"
                },
                app.keymap().key_label(Action::Help),
                app.keymap().key_label(Action::Back)
            ),
            theme::DIM,
        )));
    Paragraph::new(all)
        .scroll((scroll as u16, 0))
        .block(block)
        .render(popup, buf);
}
