//! The preview below the table: the selected segment's whole text, wrapped, with its line
//! breaks, under a line naming it with its target, prediction, tags and labels.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use super::{format, theme};
use crate::app::{Action, App};

/// Rows the preview takes below a table of `height` rows: a third, 6 to 12.
pub fn height(table_height: u16) -> u16 {
    (table_height / 3).clamp(6, 12)
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(i) = app.selected() else {
        Block::default()
            .borders(Borders::ALL)
            .border_style(theme::BORDER)
            .title(Span::styled(" Preview ", theme::TITLE))
            .render(area, buf);
        return;
    };
    let ds = &app.ds();
    let s = &ds.segments[i];
    let e = app.report().as_ref().map(|r| r.segments[i]);
    let mut title = vec![
        Span::styled(format!(" {} ", ds.segment_id(i)), theme::TITLE),
        Span::styled(
            format!(
                "target {}  pred {} ",
                format::score(s.score.unwrap_or(f32::NAN)),
                format::score(e.map_or(f32::NAN, |e| e.pred))
            ),
            theme::LABEL,
        ),
    ];
    let tags = super::segments::tags_text(s);
    if !tags.is_empty() {
        title.push(Span::styled(format!("· {tags} "), theme::STATUS));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::BORDER)
        .title(Line::from(title))
        .title_bottom(Line::from(Span::styled(
            format!(
                " {} its whole document · {} its details · {} hides ",
                app.keymap().key_label(Action::Document),
                app.keymap().key_label(Action::Detail),
                app.keymap().key_label(Action::Preview)
            ),
            theme::DIM,
        )));
    let text = super::shown_text(app, &s.text);
    let lines: Vec<Line> = text
        .lines()
        .map(|l| Line::from(Span::styled(l.to_string(), theme::VALUE)))
        .collect();
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(block)
        .render(area, buf);
}
