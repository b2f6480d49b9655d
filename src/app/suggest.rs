//! The cross-fit's suggested first error, turned into what-if edits of its document's labels:
//! the suggested step labelled wrong, the labelled steps after it made context (excluded), so
//! the edits export like any other.

use super::*;
use crate::data::edits;
use crate::labels::LabelKind;

/// The edits that put document `doc`'s first error at step `suggested` (its index in the
/// document; None for "no error"), or why they cannot: edits change labelled training segments
/// only, so a suggestion after the labelled first error (whose steps are context) is refused.
pub fn first_error_edits(
    ds: &Dataset,
    part: &Partition,
    kind: LabelKind,
    doc: usize,
    suggested: Option<usize>,
) -> Result<Vec<(usize, EditAction)>, String> {
    let LabelKind::Binary { lo, .. } = kind else {
        return Err("first-error suggestions need binary labels".into());
    };
    let r = ds.docs[doc].segments.clone();
    let at = |k: usize| r.clone().find(|&i| ds.segments[i].index == k);
    let labelled = r
        .clone()
        .find(|&i| ds.segments[i].score.is_some_and(|v| !kind.is_high(v)))
        .map(|i| ds.segments[i].index);
    if labelled == suggested {
        return Err("the labels already put the first error at the suggested step".into());
    }
    let Some(j) = suggested else {
        return Err(format!(
            "the suggestion is no error at all: the steps after the labelled first error (step {}) are context, which what-if edits cannot label; change the data file",
            labelled.unwrap_or(0)
        ));
    };
    if labelled.is_some_and(|e| j > e) {
        let e = labelled.unwrap_or(0);
        let context = if e + 1 == j {
            format!("step {j} is")
        } else {
            format!("steps {}-{j} are", e + 1)
        };
        return Err(format!(
            "the suggested step {j} comes after the labelled first error (step {e}): {context} context, which what-if edits cannot label; change the data file"
        ));
    }
    let Some(target) = at(j) else {
        return Err(format!("the document has no step {j}"));
    };
    let mut out = Vec::new();
    if ds.segments[target].score != Some(lo) {
        out.push((target, EditAction::Target(lo)));
    }
    for i in r.filter(|&i| ds.segments[i].index > j && ds.segments[i].score.is_some()) {
        out.push((i, EditAction::Exclude));
    }
    for &(i, a) in &out {
        edits::check(ds, part, i, a).map_err(|(_, why)| why)?;
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
                self.status = Some(format!(
                    "{}: first error moved to {} ({n} edits; u undoes the last, E lists them)",
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
    fn a_later_first_error_or_none_is_refused_with_the_reason() {
        let (ds, part) = data();
        let why = first_error_edits(&ds, &part, KIND, 0, Some(4)).expect_err("context");
        assert!(why.contains("step 4 is context"), "{why}");
        let why = first_error_edits(&ds, &part, KIND, 0, None).expect_err("none");
        assert!(why.contains("no error at all"), "{why}");
        let why = first_error_edits(&ds, &part, KIND, 0, Some(3)).expect_err("same");
        assert!(why.contains("already"), "{why}");
    }
}
