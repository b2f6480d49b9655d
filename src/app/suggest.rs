//! The cross-fit's suggested first error, turned into what-if edits of its document's labels:
//! the suggested step labelled wrong, the labelled steps after it made context (excluded), so
//! the edits export like any other.

use super::*;
use crate::data::edits;
use crate::labels::LabelKind;

/// Why a first error cannot be moved where it was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SuggestError {
    #[error("first-error suggestions need binary labels")]
    NotBinary,
    #[error("the labels already put the first error there")]
    AlreadyThere,
    #[error("the document has no step {0}")]
    NoStep(usize),
    /// An edit the data does not allow (`edits::check`'s reason).
    #[error("{0}")]
    Refused(String),
}

/// The edits that put document `doc`'s first error at step `suggested` (its index in the
/// document; None for "no error"), or why they cannot: the steps before it labelled right, it
/// labelled wrong, the labelled steps after it made context (excluded). A first error moved
/// later gives context steps a label: the edited data carries it (see `edits::check`).
pub fn first_error_edits(
    ds: &Dataset,
    part: &Partition,
    kind: LabelKind,
    doc: usize,
    suggested: Option<usize>,
) -> Result<Vec<(usize, EditAction)>, SuggestError> {
    let LabelKind::Binary { lo, hi } = kind else {
        return Err(SuggestError::NotBinary);
    };
    let r = ds.docs[doc].segments.clone();
    let labelled = r
        .clone()
        .find(|&i| ds.segments[i].score.is_some_and(|v| !kind.is_high(v)))
        .map(|i| ds.segments[i].index);
    if labelled == suggested {
        return Err(SuggestError::AlreadyThere);
    }
    if let Some(j) = suggested
        && !r.clone().any(|i| ds.segments[i].index == j)
    {
        return Err(SuggestError::NoStep(j));
    }
    let mut out = Vec::new();
    for i in r {
        let k = ds.segments[i].index;
        let want = match suggested {
            Some(j) if k < j => Some(hi),
            Some(j) if k == j => Some(lo),
            Some(_) => None,
            None => Some(hi),
        };
        match (want, ds.segments[i].score) {
            (Some(v), now) if now != Some(v) => out.push((i, EditAction::Target(v))),
            (None, Some(_)) => out.push((i, EditAction::Exclude)),
            _ => {}
        }
    }
    for &(i, a) in &out {
        edits::check(ds, part, i, a).map_err(|(_, why)| SuggestError::Refused(why))?;
    }
    Ok(out)
}

impl App {
    /// Moves the selected segment's document's first-error label to the cross-fit's suggestion.
    pub(super) fn accept_suggestion(&mut self) {
        if !self.caps.edit {
            self.status = Some(self.no_edits_why());
            return;
        }
        let Some(i) = self.selected() else {
            return;
        };
        let Some(o) = self.oof.as_ref().map(|o| o[i]) else {
            self.status = Some(
                "no suggestion yet: A audits the data (or load a report: --crossfit FILE)".into(),
            );
            return;
        };
        let Some(s) = o.suggested_first_error else {
            self.status = Some("no suggested first error for this document".into());
            return;
        };
        self.move_first_error(i, usize::try_from(s).ok());
    }

    /// Puts the first error of segment `i`'s document at step `to` (its index in the document;
    /// None for "no error") as what-if edits, or says why not.
    pub(super) fn move_first_error(&mut self, i: usize, to: Option<usize>) {
        if !self.caps.edit {
            self.status = Some(self.no_edits_why());
            return;
        }
        let Some(info) = self.labels else {
            self.status = Some("the labels' kind is not known".into());
            return;
        };
        let doc = self.ds.segments[i].doc;
        match first_error_edits(&self.ds, &self.part, info.kind, doc, to) {
            Ok(list) => {
                let step = self.report.as_ref().map_or(0, |r| r.step);
                let n = list.len();
                let labelled_context = list
                    .iter()
                    .filter(|(i, _)| self.ds.segments[*i].score.is_none())
                    .count();
                for (segment, action) in list {
                    self.edits.list.push(Edit {
                        segment,
                        action,
                        step,
                    });
                }
                // The table stays on its row; a document view stays on its step.
                if self.overlay == Overlay::None {
                    self.view.keep = Some(i);
                }
                let context = if labelled_context > 0 {
                    format!(
                        "; {labelled_context} context step{} labelled, which the export carries and this run does not train on",
                        if labelled_context == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                };
                self.status = Some(format!(
                    "{}: first error moved to {} ({n} edits{context}; u undoes the last, E lists them)",
                    self.ds.docs[doc].id,
                    to.map_or("no step".into(), |k| format!("step {k}"))
                ));
                self.engine(Control::SetEdits(self.edits.clone()));
            }
            Err(why) => self.status = Some(format!("first error not moved: {why}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two first-error documents in the train split: `a` labelled right, right, right, wrong
    /// (steps 0-3, step 4 context); `b` all right (steps 0-2).
    fn data() -> (Dataset, Partition) {
        let text = concat!(
            r#"{"id": "a", "split": "train", "segments": [{"text": "s0", "score": 1}, "#,
            r#"{"text": "s1", "score": 1}, {"text": "s2", "score": 1}, {"text": "s3", "score": 0}, "#,
            r#"{"text": "s4", "score": null}]}"#,
            "\n",
            r#"{"id": "b", "split": "train", "segments": [{"text": "t0", "score": 1}, "#,
            r#"{"text": "t1", "score": 1}, {"text": "t2", "score": 1}]}"#,
            "\n"
        );
        let ds = crate::data::parse_str(text, "t.jsonl", &crate::data::ReadOptions::default())
            .map(|(d, _)| d)
            .unwrap_or_else(|e| panic!("test data: {e}"));
        let part = Partition::new(&ds, 0.0);
        (ds, part)
    }

    const KIND: LabelKind = LabelKind::Binary { lo: 0.0, hi: 1.0 };

    #[test]
    fn an_earlier_first_error_labels_it_wrong_and_makes_the_later_labels_context() {
        let (ds, part) = data();
        let e = first_error_edits(&ds, &part, KIND, 0, Some(1)).expect("edits");
        assert_eq!(
            e,
            vec![
                (1, EditAction::Target(0.0)),
                (2, EditAction::Exclude),
                (3, EditAction::Exclude)
            ]
        );
        // An error in a solution labelled all right: the step, and the rest made context.
        let e = first_error_edits(&ds, &part, KIND, 1, Some(1)).expect("edits");
        assert_eq!(
            e,
            vec![(6, EditAction::Target(0.0)), (7, EditAction::Exclude)]
        );
    }

    #[test]
    fn a_later_first_error_or_none_labels_the_steps_before_it_right() {
        let (ds, part) = data();
        // Step 3 was the first error; step 4 (context) becomes it.
        let e = first_error_edits(&ds, &part, KIND, 0, Some(4)).expect("later");
        assert_eq!(
            e,
            vec![(3, EditAction::Target(1.0)), (4, EditAction::Target(0.0))]
        );
        // No error at all: the wrong step and the context after it labelled right.
        let e = first_error_edits(&ds, &part, KIND, 0, None).expect("none");
        assert_eq!(
            e,
            vec![(3, EditAction::Target(1.0)), (4, EditAction::Target(1.0))]
        );
        let why = first_error_edits(&ds, &part, KIND, 0, Some(3)).expect_err("same");
        assert_eq!(why, SuggestError::AlreadyThere);
        assert!(why.to_string().contains("already"), "{why}");
        let why = first_error_edits(&ds, &part, KIND, 0, Some(9)).expect_err("no step");
        assert_eq!(why, SuggestError::NoStep(9));
        assert!(why.to_string().contains("no step 9"), "{why}");
    }
}
