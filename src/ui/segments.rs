//! The segments table: one row per segment of the current split, only the visible rows built.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, Widget};

use super::{format, theme};
use crate::app::{App, SortKey};

/// Widths of the fixed columns: doc, #, target, pred, resid, share, flag, batch.
const DOC_W: u16 = 10;
const SHARE_BAR_W: usize = 6;
/// The narrowest the text column gets before optional columns give way.
const MIN_TEXT_W: u16 = 16;
/// The tags and labels column.
const TAGS_W: u16 = 18;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let v = &app.view();
    // Where the view is in a table longer than the screen.
    let inner_h = area.height.saturating_sub(3) as usize;
    let start = v.offset.min(v.rows.len().saturating_sub(inner_h.max(1)));
    let end = (start + inner_h).min(v.rows.len());
    let mut title = title(app, start, end);
    let cols = columns(app, area.width);
    if !cols.hidden.is_empty() {
        title.push(Span::styled(
            format!("· too narrow for {} ", cols.hidden.join(", ")),
            theme::DIM,
        ));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::BORDER)
        .title(Line::from(title));
    let ctx = RowCtx {
        segs: app.report().as_ref().map(|r| r.segments.clone()),
        // The bar is relative to the largest share of the split, so the top row is a full bar.
        max_share: match v.split {
            crate::data::Split::Train => app.analysis().max_share.0,
            crate::data::Split::Dev => app.analysis().max_share.1,
        },
        // Borders, the fixed columns, and one space between each column.
        text_w: area.width.saturating_sub(cols.fixed).max(8) as usize,
        cols: &cols,
    };
    let rows: Vec<Row> = v.rows[start..end]
        .iter()
        .enumerate()
        .map(|(k, &i)| row(app, i, start + k == v.cursor, &ctx))
        .collect();
    let (header, widths) = header(&cols);
    Table::new(rows, widths)
        .header(header)
        .block(block)
        .render(area, buf);
    if v.rows.is_empty() {
        let msg = if v.filter.is_empty() && !v.outliers_only && v.region.is_none() {
            "no segments in this split"
        } else {
            "no segments match (Esc clears the filter)"
        };
        let r = Rect::new(area.x + 2, area.y + 2, area.width.saturating_sub(4), 1);
        Span::styled(msg, theme::DIM).render(r, buf);
    }
}

/// The table's title: split, rows shown, sort, filter and view modes.
fn title(app: &App, start: usize, end: usize) -> Vec<Span<'static>> {
    let v = &app.view();
    let arrow = if v.desc { "▼" } else { "▲" };
    let mut title = vec![
        Span::styled(" Segments ", theme::TITLE),
        Span::styled(format!("{} ", v.split.name()), theme::VALUE),
    ];
    title.push(Span::styled(
        if end - start < v.rows.len() {
            format!(
                "rows {}-{end} of {} · sorted by {} {arrow} ",
                start + 1,
                v.rows.len(),
                v.sort.name()
            )
        } else {
            format!(
                "{} rows · sorted by {} {arrow} ",
                v.rows.len(),
                v.sort.name()
            )
        },
        theme::LABEL,
    ));
    if !v.filter.is_empty() || (v.typing && app.prompt().is_none()) {
        title.push(Span::styled(
            format!("· filter \"{}\" ", v.filter),
            theme::STATUS,
        ));
    }
    if v.outliers_only {
        title.push(Span::styled("· outliers only ", theme::OUTLIER));
    }
    if let Some(r) = v.region {
        title.push(Span::styled(
            format!("· data map: {} only ", r.name()),
            theme::STATUS,
        ));
    }
    if v.show_context {
        title.push(Span::styled("· with context-only ", theme::DIM));
    }
    // A comparison: whose column is whose. Each model's own prediction and residual; the share,
    // gradient and outlier flag belong to the first model.
    if let Some(first) = app.report().as_ref().and_then(|r| r.models.first()) {
        title.push(Span::styled(
            format!("· p/r: each model's pred/resid; share ! of {} ", first.name),
            theme::DIM,
        ));
    }
    title
}

/// Which columns the table shows at a width, and what they take.
struct Columns<'a> {
    oof: Option<&'a [crate::labels::crossfit::OofSegment]>,
    show_oof: bool,
    issue: bool,
    grad: Option<&'a crate::engine::StepReport>,
    edited: bool,
    tags: bool,
    bar_w: u16,
    doc_w: u16,
    show_preds: bool,
    models: &'a [crate::engine::report::ModelResult],
    /// The optional columns left out, for the title.
    hidden: Vec<&'static str>,
    /// Columns but the text, borders included.
    fixed: u16,
}

/// The optional columns that fit in `width`. The text never goes: on a narrow screen the
/// optional columns give way first, and the title says which.
fn columns(app: &App, width: u16) -> Columns<'_> {
    let v = &app.view();
    // Which optional columns fit. The text never goes: on a narrow screen the optional columns
    // give way first (the gradient share, then the out-of-fold residual, then the label score),
    // and the title says which.
    let oof_data = app.oof().as_deref();
    let mut show_oof = oof_data.is_some();
    // The label-issue score of a cross-fit report that has one: `0.97!` when flagged.
    let mut issue = app.has_label_scores();
    // A comparison shows every model's prediction and residual instead of one model's.
    let models = app
        .report()
        .as_ref()
        .map_or(&[][..], |r| r.models.as_slice());
    let model_w: u16 = if models.is_empty() {
        0
    } else {
        16 * models.len() as u16 - 16
    };
    let mut grad = app.report().as_ref().filter(|r| !r.grad.is_empty());
    // What-if edits in force: a column naming each row's.
    let edited = !app.edits().is_empty();
    let edit_w: u16 = if edited { 14 } else { 0 };
    // The tags and meta labels, when asked for (`t`).
    let mut tags = v.show_tags;
    let base = 2 + 3 + 7 * 3 + 7 + 3 + 1 + 8 + model_w + edit_w;
    let mut bar_w = SHARE_BAR_W as u16;
    let mut doc_w = DOC_W;
    // A comparison can drop each model's prediction (its residual says as much against the
    // target) before the text goes: 7 columns a model.
    let mut show_preds = true;
    let preds_w = 7 * models.len() as u16;
    let width_of =
        |oof: bool, issue: bool, grad: bool, bar: u16, doc: u16, tags: bool, preds: bool| -> u16 {
            base - if preds { 0 } else { preds_w }
                + doc
                + if tags { TAGS_W + 1 } else { 0 }
                + bar
                + if oof { 8 } else { 0 }
                + if issue { 7 } else { 0 }
                + if grad { 7 } else { 0 }
        };
    let mut hidden: Vec<&'static str> = Vec::new();
    // The column the rows are sorted by stays: a title sorted by a column nobody can see reads
    // as a mistake.
    let sort = v.sort;
    while width
        < width_of(
            show_oof,
            issue,
            grad.is_some(),
            bar_w,
            doc_w,
            tags,
            show_preds,
        ) + MIN_TEXT_W
    {
        if sort != SortKey::Grad && grad.take().is_some() {
            hidden.push("grad");
        } else if show_oof && sort != SortKey::Oof {
            show_oof = false;
            hidden.push("oof");
        } else if issue && sort != SortKey::Issue {
            issue = false;
            hidden.push("issue");
        } else if bar_w > 0 {
            bar_w = 0;
            hidden.push("share bar");
        } else if show_preds && !models.is_empty() {
            show_preds = false;
            hidden.push("preds");
        } else if doc_w > 0 && sort != SortKey::Doc {
            // The preview below the table names the selected row's document.
            doc_w = 0;
            hidden.push("doc");
        } else if tags {
            tags = false;
            hidden.push("tags");
        } else {
            break;
        }
    }
    let oof_w: u16 = if show_oof { 8 } else { 0 };
    let issue_w: u16 = if issue { 7 } else { 0 };
    let grad_w: u16 = if grad.is_some() { 7 } else { 0 };
    let tags_w: u16 = if tags { TAGS_W + 1 } else { 0 };
    let fixed = base - if show_preds { 0 } else { preds_w }
        + doc_w
        + bar_w
        + oof_w
        + issue_w
        + grad_w
        + tags_w;
    Columns {
        oof: oof_data,
        show_oof,
        issue,
        grad,
        edited,
        tags,
        bar_w,
        doc_w,
        show_preds,
        models,
        hidden,
        fixed,
    }
}

/// What every row needs besides its segment.
struct RowCtx<'a> {
    segs: Option<std::sync::Arc<Vec<crate::engine::SegmentEval>>>,
    max_share: f32,
    text_w: usize,
    cols: &'a Columns<'a>,
}

/// One segment's row.
fn row(app: &App, i: usize, selected: bool, ctx: &RowCtx) -> Row<'static> {
    let Columns {
        oof: oof_data,
        show_oof,
        issue,
        grad,
        edited,
        tags,
        bar_w,
        doc_w,
        show_preds,
        models,
        ..
    } = *ctx.cols;
    let (segs, max_share, text_w) = (&ctx.segs, ctx.max_share, ctx.text_w);
    let ds = &app.ds();
    let s = &ds.segments[i];
    let e = segs.as_ref().map(|x| x[i]);
    // Between refreshes (mini-batches), a prediction older than the current step.
    let stale = app
        .report()
        .as_ref()
        .is_some_and(|r| r.pred_step(i) < r.step);
    let (pred, resid, share) = e.map_or((f32::NAN, f32::NAN, f32::NAN), |e| {
        (e.pred, e.residual, e.share)
    });
    let flag = if app.analysis().outlier[i] {
        Span::styled(format!("{:+.0}", app.analysis().z[i]), theme::OUTLIER)
    } else {
        Span::raw("")
    };
    let mut cells = Vec::new();
    if doc_w > 0 {
        cells.push(Cell::from(format::id(&ds.docs[s.doc].id, DOC_W as usize)));
    }
    cells.extend([
        Cell::from(format!("{:>3}", s.index)),
        Cell::from(format::trim(
            &format::one_line(&super::shown_text(app, &s.text)),
            text_w,
        )),
    ]);
    if tags {
        cells.push(Cell::from(Span::styled(
            format::trim(&tags_values(s), TAGS_W as usize),
            theme::LABEL,
        )));
    }
    cells.push(Cell::from(format!("{:>7}", format::score(ds.target(i)))));
    let model_cells: Vec<(f32, f32)> = if models.is_empty() {
        vec![(pred, resid)]
    } else {
        models
            .iter()
            .map(|m| (m.segments[i].pred, m.segments[i].residual))
            .collect()
    };
    cells.extend(prediction_cells(&model_cells, show_preds, stale));
    // Per visible row: the edits are few, the rows may be a million.
    let excluded = edited && app.edits().weight_of(i) == 0.0;
    cells.push(share_cell(
        s.score.is_none(),
        excluded,
        share,
        max_share,
        bar_w,
    ));
    if let Some(r) = grad {
        let g = r.grad_of(i).share;
        cells.push(Cell::from(if g.is_nan() {
            format!("{:>6}", "")
        } else {
            format!("{:>6}", format::pct(g))
        }));
    }
    cells.extend([
        Cell::from(flag),
        // • in this step's batch (its prediction: this step's forward pass, before the
        // update); · predicted by an older model than the current step's.
        Cell::from(if app.analysis().in_batch[i] {
            "•"
        } else if stale {
            "·"
        } else {
            " "
        }),
    ]);
    if let Some(o) = oof_data {
        cells.extend(oof_cells(&o[i], show_oof, issue));
    }
    if edited {
        cells.push(Cell::from(Span::styled(
            app.edits().label(i),
            theme::STATUS,
        )));
    }
    let row = Row::new(cells);
    if selected {
        row.style(theme::SELECTED)
    } else if s.score.is_none() {
        // Context only: no target, never trained on or measured.
        row.style(theme::DIM)
    } else {
        row
    }
}

/// Each model's prediction (dimmed when older than the step; left out when narrow) and residual
/// (green when the model predicts too low, red when too high).
fn prediction_cells(models: &[(f32, f32)], show_preds: bool, stale: bool) -> Vec<Cell<'static>> {
    let mut cells = Vec::new();
    for &(p, r) in models {
        let style = if r > 0.0 {
            theme::POSITIVE
        } else {
            theme::NEGATIVE
        };
        let pred_style = if stale {
            theme::DIM
        } else {
            ratatui::style::Style::default()
        };
        if show_preds {
            cells.push(Cell::from(Span::styled(
                format!("{:>7}", format::score(p)),
                pred_style,
            )));
        }
        cells.push(Cell::from(Span::styled(
            format!("{:>7}", format::score(r)),
            style,
        )));
    }
    cells
}

/// The share of the loss, with its bar against the largest share; a dash for context, `excl`
/// for a segment trained with weight 0 (neither carries a share of the loss).
fn share_cell(
    context: bool,
    excluded: bool,
    share: f32,
    max_share: f32,
    bar_w: u16,
) -> Cell<'static> {
    Cell::from(if context {
        Line::from(Span::styled(format!("{:>6} ", "—"), theme::DIM))
    } else if excluded {
        Line::from(Span::styled(format!("{:>6} ", "excl"), theme::DIM))
    } else {
        let bar = if max_share > 0.0 {
            format::bar(f64::from(share / max_share), bar_w as usize)
        } else {
            String::new()
        };
        Line::from(vec![
            Span::raw(format!("{:>6} ", format::pct(share))),
            Span::styled(format!("{bar:<w$}", w = bar_w as usize), theme::BAR),
        ])
    })
}

/// A cross-fit's cells: the out-of-fold residual and the label score (`0.97!` when flagged).
fn oof_cells(
    o: &crate::labels::crossfit::OofSegment,
    show_oof: bool,
    issue: bool,
) -> Vec<Cell<'static>> {
    let mut cells = Vec::new();
    if show_oof {
        cells.push(Cell::from(format!("{:>7}", format::score(o.residual))));
    }
    if issue {
        let x = o.label_score;
        cells.push(Cell::from(if x.is_nan() {
            Span::raw("")
        } else if o.label_issue {
            Span::styled(format!("{x:>5.2}!"), theme::OUTLIER)
        } else {
            Span::raw(format!("{x:>5.2} "))
        }));
    }
    cells
}

/// The header row and every column's width.
fn header(cols: &Columns) -> (Row<'static>, Vec<Constraint>) {
    let Columns {
        show_oof,
        issue,
        grad,
        edited,
        tags,
        bar_w,
        doc_w,
        show_preds,
        models,
        ..
    } = *cols;
    let mut header: Vec<String> = Vec::new();
    let mut widths = Vec::new();
    if doc_w > 0 {
        header.push("doc".into());
        widths.push(Constraint::Length(DOC_W));
    }
    header.extend(["  #", "text"].map(String::from));
    widths.extend([Constraint::Length(3), Constraint::Fill(1)]);
    if tags {
        header.push("tags · labels".into());
        widths.push(Constraint::Length(TAGS_W));
    }
    header.push(" target".into());
    widths.push(Constraint::Length(7));
    if models.is_empty() {
        header.extend(["   pred".to_string(), "  resid".to_string()]);
        widths.extend([Constraint::Length(7), Constraint::Length(7)]);
    } else {
        for m in models {
            let short: String = m.name.chars().take(4).collect();
            if show_preds {
                header.push(format!("{:>7}", format!("{short} p")));
                widths.push(Constraint::Length(7));
            }
            header.push(format!("{:>7}", format!("{short} r")));
            widths.push(Constraint::Length(7));
        }
    }
    // The bar is the share against the largest row's, so a full bar beside 0.081% is the
    // largest share, not a large one: the header says so.
    header.push(if bar_w > 0 {
        format!("{:>6} {:<w$}", "share", "of max", w = bar_w as usize)
    } else {
        format!("{:>6}", "share")
    });
    widths.push(Constraint::Length(7 + bar_w));
    if grad.is_some() {
        header.push("  grad".to_string());
        widths.push(Constraint::Length(6));
    }
    header.extend(["!", "b"].map(String::from));
    widths.extend([Constraint::Length(3), Constraint::Length(1)]);
    if show_oof {
        // The out-of-fold residual, as the report's `oof_residual` (its `oof_prediction` is the
        // prediction).
        header.push("oof res".to_string());
        widths.push(Constraint::Length(7));
    }
    if issue {
        header.push(" issue".to_string());
        widths.push(Constraint::Length(6));
    }
    if edited {
        header.push("edit".to_string());
        widths.push(Constraint::Length(13));
    }
    (Row::new(header).style(theme::TABLE_HEADER), widths)
}

/// A segment's tags, then its `meta` labels as `key=value`, comma-separated.
pub fn tags_text(s: &crate::data::Segment) -> String {
    s.tags
        .iter()
        .cloned()
        .chain(s.labels.iter().map(|(k, v)| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(",")
}

/// The column's shorter form: the tags, then the labels' values alone (the keys repeat on every
/// row; the preview and the detail view name them).
fn tags_values(s: &crate::data::Segment) -> String {
    s.tags
        .iter()
        .chain(s.labels.iter().map(|(_, v)| v))
        .cloned()
        .collect::<Vec<_>>()
        .join(",")
}
