//! The segment detail overlay: the full text in its document, the raters, the data's own labels,
//! the prediction over the steps, and what the last step did to this segment.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Chart, Clear, Dataset, GraphType, Paragraph, Widget, Wrap,
};

use super::{format, theme};
use crate::app::App;

/// A centred rectangle of `pct_w` x `pct_h` percent of `area`.
pub fn centered(area: Rect, pct_w: u16, pct_h: u16) -> Rect {
    let w = area.width * pct_w / 100;
    let h = area.height * pct_h / 100;
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// What one step did to a prediction: (before, after, moved, moved as a fraction of the gap).
pub fn step_effect(before: f32, after: f32, target: f32) -> (f32, f32, f32, f32) {
    let moved = after - before;
    let gap = target - before;
    let frac = if gap.abs() > 1e-9 {
        moved / gap
    } else {
        f32::NAN
    };
    (before, after, moved, frac)
}

/// Draws the detail overlay of segment `i`: a frame, then the document, the facts and the chart.
pub fn render(app: &App, i: usize, area: Rect, buf: &mut Buffer) {
    let inner = render_frame(app, i, area, buf);
    let context = context_lines(app, i);
    // The chart keeps 5 rows; the facts come before the text, which scrolls (PgUp/PgDn): the
    // text gets what the facts leave, at least a third and at most half, and the facts the rest.
    let w = inner.width.max(1) as usize;
    let wrapped: usize = context.iter().map(|l| l.width().max(1).div_ceil(w)).sum();
    let facts_text = fact_lines(app, i);
    let facts_need: u16 = facts_text
        .iter()
        .map(|l| l.width().max(1).div_ceil(w) as u16)
        .sum();
    let avail = inner.height.saturating_sub(5);
    let text_need = (wrapped as u16 + 1).min(inner.height / 2);
    let facts_h = facts_need.min(avail.saturating_sub(text_need.min(avail / 3)));
    let text_h = text_need.min(avail.saturating_sub(facts_h));
    let [text_area, facts, chart] = Layout::vertical([
        Constraint::Length(text_h),
        Constraint::Length(facts_h),
        Constraint::Fill(1),
    ])
    .areas(inner);
    // Scrolled (PgUp/PgDn) when the text is taller than its part of the popup.
    let max_scroll = (wrapped as u16).saturating_sub(text_area.height);
    Paragraph::new(context)
        .wrap(Wrap { trim: false })
        .scroll((app.detail().scroll.min(max_scroll), 0))
        .render(text_area, buf);
    Paragraph::new(facts_text)
        .wrap(Wrap { trim: false })
        .render(facts, buf);
    render_history(app, i, chart, buf);
}

/// The popup's border, title and key hints; returns the area inside.
fn render_frame(app: &App, i: usize, area: Rect, buf: &mut Buffer) -> Rect {
    let ds = &app.ds();
    let outlier = if app.analysis().outlier[i] {
        Span::styled(
            format!("· outlier (z {:+.1}) ", app.analysis().z[i]),
            theme::OUTLIER,
        )
    } else {
        Span::raw("")
    };
    // A short terminal gives the popup its whole height.
    let popup = centered(area, 86, if area.height < 40 { 100 } else { 86 });
    Clear.render(popup, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::TITLE)
        .title(Line::from(vec![
            Span::styled(format!(" Segment {} ", ds.segment_id(i)), theme::TITLE),
            Span::styled(
                format!("· {} ", app.part().split_of(i).name()),
                theme::LABEL,
            ),
            outlier,
        ]))
        .title_bottom(Line::from(Span::styled(
            format!(
                " {} close · {}/{} previous/next segment · {}/{} outliers · {}/{} scroll the text ",
                app.keymap().key_label(crate::app::Action::Back),
                app.keymap().key_label(crate::app::Action::Up),
                app.keymap().key_label(crate::app::Action::Down),
                app.keymap().key_label(crate::app::Action::PrevOutlier),
                app.keymap().key_label(crate::app::Action::NextOutlier),
                app.keymap().key_label(crate::app::Action::PageUp),
                app.keymap().key_label(crate::app::Action::PageDown),
            ),
            theme::DIM,
        )));
    let inner = block.inner(popup);
    block.render(popup, buf);
    inner
}

/// The prompt and the segment among its neighbours.
fn context_lines(app: &App, i: usize) -> Vec<Line<'static>> {
    let ds = &app.ds();
    let doc = &ds.docs[ds.segments[i].doc];
    let r = app.report().as_ref();
    let mut lines = vec![Line::from(vec![
        Span::styled("prompt  ", theme::LABEL),
        Span::styled(
            if doc.prompt.is_empty() {
                "—".to_string()
            } else {
                super::shown_text(app, &doc.prompt).into_owned()
            },
            theme::VALUE,
        ),
    ])];
    lines.push(Line::raw(""));
    let lo = doc.segments.start.max(i.saturating_sub(2));
    let hi = doc.segments.end.min(i + 3);
    for j in lo..hi {
        let sj = &ds.segments[j];
        let pj = r.map_or(f32::NAN, |r| r.segments[j].pred);
        let nums = format!(
            "  target {}  pred {}",
            format::score(sj.score.unwrap_or(f32::NAN)),
            format::score(pj)
        );
        let (mark, mark_style, text_style, nums_style) = if j == i {
            ("▶", theme::TITLE, theme::VALUE, theme::LABEL)
        } else {
            (" ", theme::DIM, theme::DIM, theme::DIM)
        };
        // The step's own line breaks, each line under the first (a step of a math solution is
        // often an equation on a line of its own).
        let shown = super::shown_text(app, &sj.text);
        let text: Vec<&str> = shown.trim_end().lines().collect();
        let last = text.len().saturating_sub(1);
        for (k, t) in text.iter().enumerate() {
            let mut spans = vec![
                if k == 0 {
                    Span::styled(format!("{mark} {:>2}  ", sj.index), mark_style)
                } else {
                    Span::raw("      ")
                },
                Span::styled(t.to_string(), text_style),
            ];
            if k == last {
                spans.push(Span::styled(nums.clone(), nums_style));
            }
            lines.push(Line::from(spans));
        }
    }
    lines
}

/// Who moves the weights: the gradient share beside the loss share, and why they differ.
fn gradient_lines(app: &App, i: usize) -> Vec<Line<'static>> {
    let mut fact_lines = Vec::new();
    let r = app.report().as_ref();
    if let Some(g) = r.map(|r| r.grad_of(i)).filter(|g| !g.share.is_nan()) {
        fact_lines.push(Line::from(vec![
            Span::styled("gradient share ", theme::LABEL),
            Span::styled(format::pct(g.share), theme::VALUE),
            Span::styled("   alignment ", theme::LABEL),
            Span::styled(
                if g.align.is_nan() {
                    "—".to_string()
                } else {
                    format!("{:+.2}", g.align)
                },
                theme::VALUE,
            ),
            Span::styled(
                if g.align < 0.0 {
                    " (pulls against the crowd)"
                } else {
                    " (pulls with the crowd)"
                },
                theme::DIM,
            ),
        ]));
        fact_lines.push(Line::from(Span::styled(
            "the loss share counts the residual alone; the gradient share (at the output layer) is the residual's slope times the segment's features, so a segment the model barely represents can miss by much and pull little",
            theme::DIM,
        )));
    }
    fact_lines
}

/// On the data map: where this segment sits over the recent steps.
fn datamap_line(app: &App, i: usize) -> Option<Line<'static>> {
    let p = app.datamap().as_ref().map(|m| m.points[i])?;
    let region = p.region?;
    Some(Line::from(vec![
        Span::styled("data map ", theme::LABEL),
        Span::styled(region.name(), theme::VALUE),
        Span::styled(
            format!(
                "   mean residual {:+.3}   mean |residual| {:.3}   variability {:.4}",
                p.mean_residual, p.abs_residual, p.variability
            ),
            theme::LABEL,
        ),
    ]))
}

/// Between refreshes (mini-batches), which model made the prediction.
fn refresh_line(app: &App, i: usize) -> Option<Line<'static>> {
    let r = app.report().as_ref().filter(|r| r.pred_step(i) < r.step)?;
    let by = r.pred_step(i);
    let why = if app.analysis().in_batch[i] {
        format!(
            "pred: step {}'s forward pass, before its update (the model after step {by})",
            r.step
        )
    } else {
        format!(
            "pred: the model after step {by}, {} steps old (train.eval_every refreshes every row)",
            r.step - by
        )
    };
    Some(Line::from(Span::styled(why, theme::DIM)))
}

/// What the last step did to the segment's prediction.
fn last_step_line(app: &App, i: usize) -> Line<'static> {
    let s = &app.ds().segments[i];
    let r = app.report().as_ref();
    let e = r.map(|r| r.segments[i]);
    let mut out = Vec::new();
    match (app.prev_segments(), e, r) {
        (Some(prev), Some(now), Some(r)) => {
            let (b, a, moved, frac) =
                step_effect(prev[i].pred, now.pred, s.score.unwrap_or(f32::NAN));
            // Which rows the step trained on: a stream may not say (no batch), and with the
            // full batch every training row is in it.
            let batch_note = if app.part().split_of(i) == crate::data::Split::Dev {
                "dev: not trained on"
            } else if r.batch.is_empty() {
                ""
            } else if app.analysis().in_batch[i] {
                "in the batch"
            } else {
                "not in the batch"
            };
            out.push(Line::from(vec![
                Span::styled(format!("last step ({}): ", r.eval_step), theme::LABEL),
                Span::styled(
                    format!("{} → {}", format::score(b), format::score(a)),
                    theme::VALUE,
                ),
                Span::styled(format!("  moved {}", format::score(moved)), theme::VALUE),
                Span::styled(
                    if frac.is_finite() {
                        format!(
                            " = {:.1}% of the gap to the target {}",
                            frac * 100.0,
                            format::score(s.score.unwrap_or(f32::NAN))
                        )
                    } else {
                        " (already at the target)".to_string()
                    },
                    if frac > 0.0 {
                        theme::BETTER
                    } else {
                        theme::WORSE
                    },
                ),
                Span::styled(
                    if batch_note.is_empty() {
                        String::new()
                    } else {
                        format!("  ({batch_note})")
                    },
                    theme::DIM,
                ),
            ]));
        }
        _ => out.push(Line::from(Span::styled(
            "last step: take a step to see what it does to this segment",
            theme::DIM,
        ))),
    }
    out.pop().unwrap_or_default()
}

/// Numbers, raters, the data's labels, and what the last step did.
fn fact_lines(app: &App, i: usize) -> Vec<Line<'static>> {
    let s = &app.ds().segments[i];
    let r = app.report().as_ref();
    let e = r.map(|r| r.segments[i]);
    let (pred, resid, share) = e.map_or((f32::NAN, f32::NAN, f32::NAN), |e| {
        (e.pred, e.residual, e.share)
    });
    let ratings = if s.ratings.is_empty() {
        "—".to_string()
    } else {
        s.ratings
            .iter()
            .map(|x| format::score(*x))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut fact_lines = vec![
        Line::from(vec![
            Span::styled("target ", theme::LABEL),
            Span::styled(format::score(s.score.unwrap_or(f32::NAN)), theme::VALUE),
            Span::styled("   pred ", theme::LABEL),
            Span::styled(format::score(pred), theme::VALUE),
            Span::styled("   resid ", theme::LABEL),
            Span::styled(
                format::score(resid),
                if resid > 0.0 {
                    theme::POSITIVE
                } else {
                    theme::NEGATIVE
                },
            ),
            Span::styled("   share of the loss ", theme::LABEL),
            Span::styled(format::pct(share), theme::VALUE),
            Span::styled("   robust z ", theme::LABEL),
            Span::styled(format!("{:+.2}", app.analysis().z[i]), theme::VALUE),
        ]),
        Line::from(vec![
            Span::styled("raters ", theme::LABEL),
            Span::styled(ratings, theme::VALUE),
            Span::styled(
                if s.ratings.is_empty() {
                    ""
                } else {
                    "   spread "
                },
                theme::LABEL,
            ),
            Span::styled(
                if s.ratings.is_empty() {
                    String::new()
                } else {
                    format!("{:.2}", s.rater_spread())
                },
                theme::VALUE,
            ),
            Span::styled("   tags ", theme::LABEL),
            Span::styled(
                if s.tags.is_empty() {
                    "—".into()
                } else {
                    s.tags.join(", ")
                },
                theme::VALUE,
            ),
        ]),
        labels_line(app, s),
    ];
    if let Some(why) = app.contradictions().get(i).and_then(Option::as_deref) {
        fact_lines.push(Line::from(vec![
            Span::styled("contradicts its tags ", theme::OUTLIER),
            Span::styled(why.to_string(), theme::VALUE),
        ]));
    }
    let oof = oof_spans(app, i);
    let mut at = 1;
    if !oof.is_empty() {
        // Its own line: the score and its parts read as one phrase.
        fact_lines.insert(at, Line::from(oof));
        at += 1;
    }
    for line in super::evidence::lines(app, i) {
        fact_lines.insert(at, line);
        at += 1;
    }
    fact_lines.extend(gradient_lines(app, i));
    fact_lines.extend(datamap_line(app, i));
    fact_lines.extend(refresh_line(app, i));
    fact_lines.push(Line::raw(""));
    fact_lines.push(last_step_line(app, i));
    fact_lines
}

/// The cross-fitted prediction and residual, when loaded: what a model that never saw this
/// segment predicts.
fn oof_spans(app: &App, i: usize) -> Vec<Span<'static>> {
    let Some(o) = app.oof().as_ref().map(|o| o[i]) else {
        return Vec::new();
    };
    let mut spans = vec![
        Span::styled("out-of-fold pred ", theme::LABEL),
        Span::styled(format::score(o.pred), theme::VALUE),
        Span::styled(" resid ", theme::LABEL),
        Span::styled(format::score(o.residual), theme::VALUE),
    ];
    if o.label_score.is_finite() {
        // The score and why it is high: the model's part (how unlikely the label is to a model
        // that never saw it) and, for first-error data, the document's (how unlikely it is that
        // the first error is where the labels put it).
        spans.push(Span::styled("   label issue ", theme::LABEL));
        spans.push(Span::styled(
            format!("{:.2}", o.label_score),
            if o.label_issue {
                theme::OUTLIER
            } else {
                theme::VALUE
            },
        ));
        let mut parts = if app.classes().is_empty() {
            format!(" (residual {:.1} spreads from the like)", o.label_model)
        } else {
            format!(" (model: other class {:.2}", o.label_model)
        };
        if o.label_document.is_finite() {
            parts.push_str(&format!(
                "; document: first error elsewhere {:.2}",
                o.label_document
            ));
        }
        if !app.classes().is_empty() {
            parts.push(')');
        }
        if o.label_issue {
            parts.push_str(" flagged");
        }
        spans.push(Span::styled(parts, theme::DIM));
    }
    spans
}

/// The dataset's label keys with this segment's label under each (`—` for none). The labels are
/// the data's own (`meta`), shown under whatever keys the data uses.
fn labels_line(app: &App, s: &crate::data::Segment) -> Line<'static> {
    let mut spans = vec![Span::styled("data labels", theme::LABEL)];
    if app.label_keys().is_empty() {
        spans.push(Span::styled(" —", theme::VALUE));
    }
    for (k, key) in app.label_keys().iter().enumerate() {
        let gap = if k == 0 { "  " } else { "   " };
        spans.push(Span::styled(format!("{gap}{key} "), theme::LABEL));
        spans.push(match s.label(key) {
            Some(l) => Span::styled(l.to_string(), theme::OUTLIER),
            None => Span::styled("—", theme::VALUE),
        });
    }
    spans.push(Span::styled(
        "   (from the data's meta; never a training input)",
        theme::DIM,
    ));
    Line::from(spans)
}

/// This segment's prediction over the recorded steps, against its target.
fn render_history(app: &App, i: usize, chart: Rect, buf: &mut Buffer) {
    let s = &app.ds().segments[i];
    let pts: Vec<(f64, f64)> = app
        .pred_history()
        .iter()
        .map(|(step, segs)| (*step as f64, f64::from(segs[i].pred)))
        .filter(|p| p.1.is_finite())
        .collect();
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme::BORDER)
        .title(Line::from({
            let mut t = vec![Span::styled(" Prediction over steps ", theme::TITLE)];
            match app.report().as_ref().filter(|r| !r.models.is_empty()) {
                None => t.push(Span::styled("━ pred ", Style::new().fg(theme::TRAIN))),
                Some(r) => t.extend(r.models.iter().enumerate().map(|(k, m)| {
                    Span::styled(format!("━ {} ", m.name), Style::new().fg(theme::model(k)))
                })),
            }
            t.push(Span::styled("━ target ", Style::new().fg(theme::DEV)));
            t
        }));
    if pts.is_empty() {
        block.render(chart, buf);
        return;
    }
    let x0 = pts.first().map_or(0.0, |p| p.0);
    let x1 = pts.last().map_or(1.0, |p| p.0).max(x0 + 1.0);
    let t = f64::from(s.score.unwrap_or(f32::NAN));
    let target_line = vec![(x0, t), (x1, t)];
    // A comparison: every model's prediction of this segment over the steps.
    let n_models = app.report().as_ref().map_or(0, |r| r.models.len());
    let model_pts: Vec<Vec<(f64, f64)>> = (0..n_models)
        .map(|k| {
            app.models()
                .preds
                .iter()
                .map(|(step, m)| (*step as f64, f64::from(m[k][i].pred)))
                .filter(|p| p.1.is_finite())
                .collect()
        })
        .collect();
    let (mut y0, mut y1) = pts
        .iter()
        .chain(model_pts.iter().flatten())
        .map(|p| p.1)
        .chain([t])
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        });
    let pad = ((y1 - y0) * 0.1).max(0.05);
    y0 -= pad;
    y1 += pad;
    let mut datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(theme::DEV))
            .data(&target_line),
    ];
    if model_pts.is_empty() {
        datasets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(theme::TRAIN))
                .data(&pts),
        );
    }
    for (k, p) in model_pts.iter().enumerate() {
        datasets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(theme::model(k)))
                .data(p),
        );
    }
    Chart::new(datasets)
        .block(block)
        .x_axis(super::charts::step_axis(x0, x1))
        .y_axis(
            Axis::default()
                .style(theme::DIM)
                .bounds([y0, y1])
                .labels([format::score(y0 as f32), format::score(y1 as f32)]),
        )
        .render(chart, buf);
}
