//! The edits overlay: every what-if edit in force, in the order it was made.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Row, Table, Widget};

use super::{detail::centered, format, theme};
use crate::app::{Action, App};
use crate::data::edits::Action as EditAction;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let popup = centered(area, 80, 70);
    Clear.render(popup, buf);
    let list = &app.edits().list;
    // Rows inside the borders, under the header.
    let fits = usize::from(popup.height.saturating_sub(3)).max(1);
    // The selected edit in view, at the bottom once the list is longer than the box.
    let cursor = app.edits_view().cursor.min(list.len().saturating_sub(1));
    let start = (cursor + 1).saturating_sub(fits);
    let end = (start + fits).min(list.len());
    let rows: Vec<Row> = list[start..end]
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let (what, value) = match e.action {
                EditAction::Exclude => ("exclude", String::new()),
                EditAction::Weight(w) => ("weight", format!("{w}")),
                EditAction::Target(t) => ("target", format::score(t)),
            };
            let row = Row::new(vec![
                Cell::from(format!("{:>6}", e.step)),
                Cell::from(format::id(&app.ds().segment_id(e.segment), 14)),
                Cell::from(Span::styled(what, theme::STATUS)),
                Cell::from(value),
                Cell::from(app.ds().segments[e.segment].text.clone()),
            ]);
            if start + k == cursor {
                row.style(theme::SELECTED)
            } else {
                row
            }
        })
        .collect();
    let empty = rows.is_empty();
    let keys = |a: Action| app.keymap().key_label(a);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::TITLE)
        .title(Line::from(vec![
            Span::styled(" What-if edits ", theme::TITLE),
            Span::styled(
                if list.len() > fits {
                    format!(
                        "{} in force, oldest first · {}-{} (↑ ↓ scroll) ",
                        list.len(),
                        start + 1,
                        end
                    )
                } else {
                    format!("{} in force, oldest first ", list.len())
                },
                theme::LABEL,
            ),
        ]))
        .title_bottom(Line::from(Span::styled(
            format!(
                " {} exclude · {} weight · {} target · {} undo · {} exports them beside the table · {} closes ",
                keys(Action::Exclude),
                keys(Action::Weight),
                keys(Action::Target),
                keys(Action::Undo),
                keys(Action::Export),
                keys(Action::Back)
            ),
            theme::DIM,
        )));
    let header = Row::new(
        ["  step", "segment", "action", "value", "text"]
            .map(String::from)
            .to_vec(),
    )
    .style(theme::TABLE_HEADER);
    Table::new(
        rows,
        [
            Constraint::Length(6),
            Constraint::Length(14),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Fill(1),
        ],
    )
    .header(header)
    .block(block)
    .render(popup, buf);
    if empty {
        let r = Rect::new(popup.x + 2, popup.y + 2, popup.width.saturating_sub(4), 1);
        ratatui::widgets::Paragraph::new(
            "no edits yet: select a training segment and press x, W or T",
        )
        .style(theme::DIM)
        .render(r, buf);
    }
}
