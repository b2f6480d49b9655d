//! The detail view's evidence about a step's correctness: what the verifiers found in its
//! claims, and, for first-error data with a cross-fit report, where the document's first error
//! most likely is.

use ratatui::text::{Line, Span};

use super::theme;
use crate::app::App;
use crate::labels::verify;

/// The verifier's line (when the step makes a checkable claim) and the suggestion's (when the
/// cross-fit report has one for this document).
pub fn lines(app: &App, i: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let s = &app.ds().segments[i];
    // One step's claims: a parse of its own text, no more work than drawing it.
    let v = verify::verify(&s.text);
    if v.checked > 0 {
        out.push(Line::from(vec![
            Span::styled("verifier ", theme::LABEL),
            if v.failed > 0 {
                Span::styled(v.note.clone(), theme::OUTLIER)
            } else {
                Span::styled(v.summary(), theme::VALUE)
            },
        ]));
    }
    let Some(o) = app.oof().as_ref().map(|o| o[i]) else {
        return out;
    };
    let Some(suggested) = o.suggested_first_error else {
        return out;
    };
    let r = app.ds().docs[s.doc].segments.clone();
    let labelled = r
        .clone()
        .find(|&k| {
            app.ds().segments[k]
                .score
                .zip(app.labels())
                .is_some_and(|(v, info)| !info.kind.is_high(v))
        })
        .map(|k| app.ds().segments[k].index);
    let step = |x: Option<usize>| x.map_or("no error".to_string(), |k| format!("step {k}"));
    let suggested = usize::try_from(suggested).ok();
    let mut spans = vec![
        Span::styled("first error ", theme::LABEL),
        Span::styled(
            format!(
                "most likely {} (p {:.2})",
                step(suggested),
                o.suggested_probability
            ),
            if suggested == labelled {
                theme::VALUE
            } else {
                theme::OUTLIER
            },
        ),
        Span::styled(format!("   labelled {}", step(labelled)), theme::LABEL),
    ];
    if suggested != labelled {
        spans.push(Span::styled("   F moves the label there", theme::DIM));
    }
    out.push(Line::from(spans));
    out
}
