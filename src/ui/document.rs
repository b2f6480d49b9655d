//! The document view: the problem and every step of one document, each with its label, the
//! live and out-of-fold predictions, the label score and the verifier's note; the labelled and
//! the suggested first error marked; scrolled so the selected step is in sight.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use super::{format, theme};
use crate::app::{Action, App};
use crate::labels::verify;

/// Draws the document of step `step` (a global index) over the screen.
pub fn render(app: &App, step: usize, area: Rect, buf: &mut Buffer) {
    // Below the header's two lines: its second is the status, which says what an edit did.
    let below = Rect {
        y: area.y + 2.min(area.height),
        height: area.height.saturating_sub(2),
        ..area
    };
    let popup = super::detail::centered(below, if area.width < 120 { 100 } else { 92 }, 100);
    Clear.render(popup, buf);
    let block = frame(app, step, popup.width as usize);
    let inner = block.inner(popup);
    block.render(popup, buf);
    let width = inner.width.max(1) as usize;
    let (lines, selected) = lines(app, step, width);
    // Scrolled just enough to show the whole selected step, or its start when it is taller than
    // the view.
    let h = inner.height as usize;
    let scroll = selected.end.saturating_sub(h).min(selected.start);
    Paragraph::new(lines)
        .scroll((scroll.min(u16::MAX as usize) as u16, 0))
        .render(inner, buf);
}

/// The popup's border, its title (the document, the step, where the first error is) and keys.
fn frame(app: &App, step: usize, width: usize) -> Block<'static> {
    let ds = &app.ds();
    let s = &ds.segments[step];
    let doc = &ds.docs[s.doc];
    let (labelled, suggested) = first_errors(app, step);
    let mut title = vec![
        Span::styled(format!(" {} ", doc.id), theme::TITLE),
        Span::styled(
            format!(
                "· step {} of steps {}-{} ",
                s.index,
                ds.segments[doc.segments.start].index,
                ds.segments[doc.segments.end.saturating_sub(1).max(doc.segments.start)].index
            ),
            theme::LABEL,
        ),
    ];
    if app.labels().is_some_and(|l| l.first_error) {
        let at = |x: Option<usize>| x.map_or("no error".to_string(), |k| format!("step {k}"));
        title.push(Span::styled(
            format!("· first error labelled {} ", at(labelled)),
            theme::LABEL,
        ));
        if let Some((k, p)) = suggested {
            title.push(Span::styled(
                format!("· suggested {} (p {p:.2}) ", at(k)),
                if k == labelled {
                    theme::LABEL
                } else {
                    theme::OUTLIER
                },
            ));
        }
    }
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme::TITLE)
        .title(Line::from(title))
        .title_bottom(Line::from(Span::styled(keys(app, width), theme::DIM)))
}

/// The view's keys for a border `width` wide: in their order, the least needed left out first
/// (the detail, then undo) when they do not all fit.
fn keys(app: &App, width: usize) -> String {
    let key = |a| app.keymap().key_label(a);
    // (priority: lower stays longer, text)
    let all = [
        (0, format!("{}/{} step", key(Action::Up), key(Action::Down))),
        (4, format!("{} detail", key(Action::Document))),
        (
            0,
            format!("{} first error here", key(Action::FirstErrorHere)),
        ),
        (1, format!("{} suggested", key(Action::AcceptSuggestion))),
        (
            2,
            format!(
                "{}/{}/{} exclude/weight/target",
                key(Action::Exclude),
                key(Action::Weight),
                key(Action::Target)
            ),
        ),
        (3, format!("{} undo", key(Action::Undo))),
        (0, format!("{} back", key(Action::Back))),
    ];
    let mut cut = 5;
    loop {
        let shown: Vec<&str> = all
            .iter()
            .filter(|(p, _)| *p < cut)
            .map(|(_, t)| t.as_str())
            .collect();
        let line = format!(" {} ", shown.join(" · "));
        if cut == 1 || Span::raw(line.as_str()).width() + 2 <= width {
            return line;
        }
        cut -= 1;
    }
}

/// Where the labels put the document's first error, and where the cross-fit suggests it (with
/// its probability) when a report or audit gave one: step indices, None for "no error".
type FirstErrors = (Option<usize>, Option<(Option<usize>, f32)>);

fn first_errors(app: &App, step: usize) -> FirstErrors {
    let ds = &app.ds();
    let r = ds.docs[ds.segments[step].doc].segments.clone();
    let labelled = app.labels().and_then(|info| {
        r.clone()
            .find(|&k| ds.segments[k].score.is_some_and(|v| !info.kind.is_high(v)))
            .map(|k| ds.segments[k].index)
    });
    let suggested = app.oof().as_ref().and_then(|o| {
        r.clone().find_map(|k| {
            o[k].suggested_first_error
                .map(|e| (usize::try_from(e).ok(), o[k].suggested_probability))
        })
    });
    (labelled, suggested)
}

/// The document's lines, wrapped to `width`, and the rows the selected step takes.
fn lines(app: &App, step: usize, width: usize) -> (Vec<Line<'static>>, std::ops::Range<usize>) {
    let ds = &app.ds();
    let doc = &ds.docs[ds.segments[step].doc];
    let mut out: Vec<Line<'static>> = Vec::new();
    let prompt = if doc.prompt.is_empty() {
        "—".to_string()
    } else {
        super::shown_text(app, &doc.prompt).into_owned()
    };
    push_wrapped(&mut out, "problem  ", &prompt, width, theme::VALUE);
    out.push(Line::raw(""));
    let (labelled, suggested) = first_errors(app, step);
    let mut selected = 0..0;
    for i in doc.segments.clone() {
        let start = out.len();
        let s = &ds.segments[i];
        let here = i == step;
        let (head, marks) = step_header(app, i, here, labelled, suggested);
        // The marks go on a line of their own when the header would be cut.
        let fits = head.iter().chain(&marks).map(Span::width).sum::<usize>() <= width;
        if fits {
            out.push(Line::from([head, marks].concat()));
        } else {
            out.push(Line::from(head));
            if !marks.is_empty() {
                out.push(Line::from([vec![Span::raw("     ")], marks].concat()));
            }
        }
        let style = if here { theme::VALUE } else { theme::LABEL };
        let text = super::shown_text(app, &s.text);
        for l in text.trim_end().lines() {
            push_wrapped(&mut out, "      ", l, width, style);
        }
        let v = verify::verify(&s.text);
        if v.failed > 0 {
            push_wrapped(&mut out, "      verifier ", &v.note, width, theme::OUTLIER);
        } else if v.checked > 0 {
            push_wrapped(&mut out, "      verifier ", &v.summary(), width, theme::DIM);
        }
        if here {
            selected = start..out.len();
        }
    }
    (out, selected)
}

/// A step's first line: its index, label, predictions and label score; and its marks (flagged,
/// excluded, the first errors).
fn step_header(
    app: &App,
    i: usize,
    here: bool,
    labelled: Option<usize>,
    suggested: Option<(Option<usize>, f32)>,
) -> (Vec<Span<'static>>, Vec<Span<'static>>) {
    let s = &app.ds().segments[i];
    let (mark, mark_style) = if here {
        ("▶", theme::TITLE)
    } else {
        (" ", theme::DIM)
    };
    let excluded = app.edits().weight_of(i) == 0.0;
    let label = match (s.score, app.labels()) {
        // An excluded step exports as context.
        (None, _) => ("context".to_string(), theme::DIM),
        _ if excluded => ("context".to_string(), theme::STATUS),
        (Some(v), Some(info)) if matches!(info.kind, crate::labels::LabelKind::Binary { .. }) => {
            if info.kind.is_high(v) {
                ("right".to_string(), theme::POSITIVE)
            } else {
                ("wrong".to_string(), theme::NEGATIVE)
            }
        }
        (Some(v), _) => (format!("target {}", format::score(v)), theme::VALUE),
    };
    let mut spans = vec![
        Span::styled(format!("{mark} {:>2}  ", s.index), mark_style),
        Span::styled(format!("{:<7}", label.0), label.1),
    ];
    let mut num = |name: &str, x: f32, style: Style| {
        if x.is_finite() {
            spans.push(Span::styled(format!("  {name} "), theme::DIM));
            spans.push(Span::styled(format::score(x), style));
        }
    };
    let live = app
        .report()
        .as_ref()
        .map_or(f32::NAN, |r| r.segments[i].pred);
    num("pred", live, theme::LABEL);
    let o = app.oof().as_ref().map(|o| o[i]);
    num("oof pred", o.map_or(f32::NAN, |o| o.pred), theme::LABEL);
    num(
        "label score",
        o.map_or(f32::NAN, |o| o.label_score),
        if o.is_some_and(|o| o.label_issue) {
            theme::OUTLIER
        } else {
            theme::LABEL
        },
    );
    let mut marks = Vec::new();
    if o.is_some_and(|o| o.label_issue) {
        marks.push(Span::styled("  ⚑ flagged", theme::OUTLIER));
    }
    let w = app.edits().weight_of(i);
    if w == 0.0 {
        marks.push(Span::styled("  excluded", theme::STATUS));
    } else if w != 1.0 {
        marks.push(Span::styled(format!("  weight {w}"), theme::STATUS));
    }
    if labelled == Some(s.index) {
        marks.push(Span::styled("  ◀ labelled first error", theme::NEGATIVE));
    }
    if let Some((Some(k), p)) = suggested
        && k == s.index
    {
        marks.push(Span::styled(
            format!("  ◆ suggested first error (p {p:.2})"),
            theme::OUTLIER,
        ));
    }
    (spans, marks)
}

/// Pushes `text` word-wrapped to `width`, the first row after `lead` and the rest indented as
/// far, so the line count is exactly the rows drawn (the view scrolls by it).
fn push_wrapped(out: &mut Vec<Line<'static>>, lead: &str, text: &str, width: usize, style: Style) {
    let indent = Span::raw(lead).width();
    let room = width.saturating_sub(indent).max(8);
    let rows = format::wrap(text, room);
    for (k, row) in rows.into_iter().enumerate() {
        let head = if k == 0 {
            Span::styled(lead.to_string(), theme::LABEL)
        } else {
            Span::raw(" ".repeat(indent))
        };
        out.push(Line::from(vec![head, Span::styled(row, style)]));
    }
}
