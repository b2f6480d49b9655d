//! The diff overlay: every segment's prediction at the last mark against now, largest change
//! first. Which segments did the steps since the mark move most?

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Row, Table, Widget};

use super::{detail::centered, format, theme};
use crate::app::{Action, App};

/// Segments with a prediction at both ends, as (index, at the mark, now), largest |change| first;
/// at most `k` of them.
pub fn moved(app: &App, k: usize) -> Vec<(usize, f32, f32)> {
    let (Some((_, then)), Some(r)) = (app.marks.last(), app.report.as_ref()) else {
        return Vec::new();
    };
    let mut v: Vec<(usize, f32, f32)> = (0..app.ds.segments.len())
        .filter(|&i| app.part.is_labelled(i))
        .filter_map(|i| {
            let (a, b) = (then.get(i)?.pred, r.segments.get(i)?.pred);
            (a.is_finite() && b.is_finite()).then_some((i, a, b))
        })
        .collect();
    let key = |x: &(usize, f32, f32)| (x.2 - x.1).abs();
    let k = k.min(v.len());
    if k > 0 && k < v.len() {
        v.select_nth_unstable_by(k - 1, |a, b| key(b).total_cmp(&key(a)));
        v.truncate(k);
    }
    v.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.0.cmp(&b.0)));
    v
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let popup = centered(area, 90, 90);
    Clear.render(popup, buf);
    let mark = app.marks.last().map_or(0, |m| m.0);
    let now = app.report.as_ref().map_or(0, |r| r.step);
    let rows_fit = popup.height.saturating_sub(3) as usize;
    let moved = moved(app, rows_fit);
    let ds = &app.ds;
    let rows: Vec<Row> = moved
        .iter()
        .map(|&(i, a, b)| {
            let s = &ds.segments[i];
            let d = b - a;
            Row::new(vec![
                Cell::from(format::trim(&ds.docs[s.doc].id, 10)),
                Cell::from(format!("{:>3}", s.index)),
                Cell::from(app.part.split_of(i).name()),
                Cell::from(s.text.clone()),
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
                " {} or {} closes · {} rewinds to the mark ",
                app.keymap.key_label(Action::Diff),
                app.keymap.key_label(Action::Back),
                app.keymap.key_label(Action::Rewind)
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
