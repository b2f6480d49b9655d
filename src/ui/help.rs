//! The help overlay: every key and what it does, generated from the keymap table.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Row, Table, Widget};

use super::{detail::centered, theme};
use crate::app::{Action, App};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let help = app.keymap.help();
    let h = (help.len() as u16 + 4).min(area.height);
    let mut popup = centered(area, 60, 100);
    popup.y = area.y + (area.height - h) / 2;
    popup.height = h;
    Clear.render(popup, buf);
    let rows: Vec<Row> = help
        .into_iter()
        .map(|(keys, text)| {
            Row::new(vec![
                Cell::from(Span::styled(keys, theme::VALUE)),
                Cell::from(Span::styled(text, theme::LABEL)),
            ])
        })
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::TITLE)
        .title(Line::from(Span::styled(" Keys ", theme::TITLE)))
        .title_bottom(Line::from(Span::styled(
            format!(
                " keys can be changed in config.toml under [keys] · {} or {} closes ",
                app.keymap.key_label(Action::Help),
                app.keymap.key_label(Action::Back)
            ),
            theme::DIM,
        )));
    Table::new(rows, [Constraint::Length(16), Constraint::Fill(1)])
        .block(block)
        .render(popup, buf);
}
