//! The tour's explanation panel: the page's title and what to look at, with the running model's
//! numbers (`tour::explain`), wrapped to the panel.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use super::theme;
use crate::app::{Action, App};
use crate::tour::{explain, numbers};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(t) = app.tour() else {
        return;
    };
    let text: Vec<Line> = match &app.report() {
        Some(r) => {
            let prev = app.prev_segments().map(|p| p.as_slice());
            let n = numbers::of(t.page, app.ds(), app.part(), r, prev);
            let paragraphs = explain::lines(&n);
            // Wrapped here, so the panel knows its height and scrolls by rows; a blank line
            // between paragraphs when they all fit with it.
            let width = area.width.saturating_sub(2).max(1) as usize;
            let wrapped: Vec<Vec<String>> = paragraphs
                .iter()
                .map(|p| super::format::wrap(p, width))
                .collect();
            let rows: usize = wrapped.iter().map(Vec::len).sum();
            let gap = rows + wrapped.len() <= area.height.saturating_sub(2) as usize;
            wrapped
                .into_iter()
                .flat_map(|p| {
                    let mut l: Vec<Line> = p
                        .into_iter()
                        .map(|r| Line::from(Span::styled(r, theme::VALUE)))
                        .collect();
                    if gap {
                        l.push(Line::raw(""));
                    }
                    l
                })
                .collect()
        }
        None => vec![Line::from(Span::styled(
            "starting the model ...",
            theme::DIM,
        ))],
    };
    // Taller than its box: it scrolls (PgUp/PgDn), and the bottom line says how far.
    let inner_h = area.height.saturating_sub(2) as usize;
    let rows = text.len();
    let max_scroll = rows.saturating_sub(inner_h);
    let scroll = (t.scroll as usize).min(max_scroll);
    let more = if max_scroll > 0 {
        format!(
            " · {}/{} lines {}-{} of {rows}",
            app.keymap().key_label(Action::PageUp),
            app.keymap().key_label(Action::PageDown),
            scroll + 1,
            (scroll + inner_h).min(rows)
        )
    } else {
        String::new()
    };
    let keys = format!(
        " {} next · {} back{more} · {} keys ",
        app.keymap().key_label(Action::NextScene),
        app.keymap().key_label(Action::PrevScene),
        app.keymap().key_label(Action::Help)
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::TITLE)
        .title(Line::from(Span::styled(
            format!(" tour {} ", t.page.title()),
            theme::TITLE,
        )))
        .title_bottom(Line::from(Span::styled(keys, theme::DIM)));
    Paragraph::new(text)
        .scroll((scroll.min(u16::MAX as usize) as u16, 0))
        .block(block)
        .render(area, buf);
}
