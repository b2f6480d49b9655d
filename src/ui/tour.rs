//! The tour's explanation panel: the page's title and what to look at, with the running model's
//! numbers (`tour::explain`), wrapped to the panel.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use super::theme;
use crate::app::{Action, App};
use crate::tour::{explain, numbers};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(t) = app.tour else {
        return;
    };
    let keys = format!(
        " {} next · {} back · {} keys ",
        app.keymap.key_label(Action::NextScene),
        app.keymap.key_label(Action::PrevScene),
        app.keymap.key_label(Action::Help)
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::TITLE)
        .title(Line::from(Span::styled(
            format!(" tour {} ", t.page.title()),
            theme::TITLE,
        )))
        .title_bottom(Line::from(Span::styled(keys, theme::DIM)));
    let text: Vec<Line> = match &app.report {
        Some(r) => {
            let prev = app.prev_segments().map(|p| p.as_slice());
            let n = numbers::of(t.page, &app.ds, &app.part, r, prev);
            let paragraphs = explain::lines(&n);
            // A blank line between paragraphs when they all fit with it.
            let width = area.width.saturating_sub(2).max(1) as usize;
            let wrapped: usize = paragraphs
                .iter()
                .map(|p| p.chars().count().div_ceil(width).max(1))
                .sum();
            let gap = wrapped + paragraphs.len() <= area.height.saturating_sub(2) as usize;
            paragraphs
                .into_iter()
                .flat_map(|p| {
                    let mut l = vec![Line::from(Span::styled(p, theme::VALUE))];
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
    Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .block(block)
        .render(area, buf);
}
