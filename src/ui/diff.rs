//! The diff overlay: every segment's prediction at the last mark against now, largest change
//! first. Which segments did the steps since the mark move most?

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Row, Table, Widget};

use super::{detail::centered, format, theme};
use crate::app::{Action, App};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let popup = centered(area, 90, 90);
    Clear.render(popup, buf);
    let mark = app.marks().last().map_or(0, |m| m.0);
    let now = app.report().as_ref().map_or(0, |r| r.step);
    let rows_fit = popup.height.saturating_sub(3) as usize;
    // The list scrolls to keep its cursor on screen.
    let cursor = app.diff().cursor;
    let first = (cursor + 1).saturating_sub(rows_fit.max(1));
    let moved = app.diff_moved(first + rows_fit);
    let moved = &moved[first.min(moved.len())..];
    let ds = &app.ds();
    let rows: Vec<Row> = moved
        .iter()
        .enumerate()
        .map(|(k, &(i, a, b))| {
            let s = &ds.segments[i];
            let d = b - a;
            let selected = first + k == cursor;
            Row::new(vec![
                Cell::from(format::id(&ds.docs[s.doc].id, 10)),
                Cell::from(format!("{:>3}", s.index)),
                Cell::from(app.part().split_of(i).name()),
                Cell::from(format::one_line(&s.text)),
                Cell::from(format!("{:>7}", format::score(ds.target(i)))),
                Cell::from(format!("{:>7}", format::score(a))),
                Cell::from(format!("{:>7}", format::score(b))),
                Cell::from(Span::styled(
                    format!("{:>7}", format::score(d)),
                    if d > 0.0 {
                        theme::POSITIVE
                    } else {
                        theme::NEGATIVE
                    },
                )),
            ])
            .style(if selected {
                theme::SELECTED
            } else {
                ratatui::style::Style::default()
            })
        })
        .collect();
    let header = Row::new(
        [
            "doc", "  #", "split", "text", " target", "at mark", "    now", " change",
        ]
        .map(String::from)
        .to_vec(),
    )
    .style(theme::TABLE_HEADER);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::TITLE)
        .title(Line::from(vec![
            Span::styled(" Since the mark ", theme::TITLE),
            Span::styled(
                format!("step {mark} → step {now}: the segments these steps moved most "),
                theme::LABEL,
            ),
        ]))
        .title_bottom(Line::from(Span::styled(
            format!(
                " {}/{} move · {} opens the segment · {} or {} closes · {} rewinds to the mark ",
                app.keymap().key_label(Action::Up),
                app.keymap().key_label(Action::Down),
                app.keymap().key_label(Action::Document),
                app.keymap().key_label(Action::Diff),
                app.keymap().key_label(Action::Back),
                app.keymap().key_label(Action::Rewind)
            ),
            theme::DIM,
        )));
    Table::new(
        rows,
        [
            Constraint::Length(10),
            Constraint::Length(3),
            Constraint::Length(5),
            Constraint::Fill(1),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(7),
        ],
    )
    .header(header)
    .block(block)
    .render(popup, buf);
}
