//! The help overlay: every key and what it does, generated from the keymap table. When the
//! terminal is too short for one column of keys, they go in two, so every key is always shown.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Row, Table, Widget};

use super::{detail::centered, theme};
use crate::app::{Action, App};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let help = app.keymap.help();
    // Borders and a blank line above and below.
    let fits = area.height.saturating_sub(4).max(1) as usize;
    let columns = if help.len() > fits { 2 } else { 1 };
    let per_column = help.len().div_ceil(columns);
    let h = (per_column as u16 + 4).min(area.height);
    let mut popup = centered(area, if columns == 1 { 60 } else { 100 }, 100);
    popup.y = area.y + (area.height - h) / 2;
    popup.height = h;
    Clear.render(popup, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::TITLE)
        .title(Line::from(Span::styled(" Keys ", theme::TITLE)))
        .title_bottom(Line::from(Span::styled(
            format!(
                " {} · {} or {} closes ",
                if app.tour.is_some() {
                    "the tour's keys"
                } else {
                    "keys can be changed in config.toml under [keys]"
                },
                app.keymap.key_label(Action::Help),
                app.keymap.key_label(Action::Back)
            ),
            theme::DIM,
        )));
    let inner = block.inner(popup);
    block.render(popup, buf);
    let areas = Layout::horizontal(vec![Constraint::Fill(1); columns]).split(inner);
    for (chunk, rect) in help.chunks(per_column.max(1)).zip(areas.iter()) {
        let rows: Vec<Row> = chunk
            .iter()
            .map(|(keys, text)| {
                Row::new(vec![
                    Cell::from(Span::styled(keys.clone(), theme::VALUE)),
                    Cell::from(Span::styled(*text, theme::LABEL)),
                ])
            })
            .collect();
        // Two columns leave the descriptions less room; the widest key label is 8 wide.
        let key_w = if columns == 1 { 16 } else { 10 };
        Table::new(rows, [Constraint::Length(key_w), Constraint::Fill(1)]).render(*rect, buf);
    }
}
