//! What-if edits from the keyboard: the weight or target being typed, and the checks before an edit.

use super::*;

/// A number being typed for a what-if edit of `segment`.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub segment: usize,
    /// A weight (true) or a target (false).
    pub weight: bool,
    pub text: String,
}

impl App {
    /// A weight or target being typed takes the typed keys, Enter and Esc; false when no prompt
    /// is open or the action is not one of these.
    pub(super) fn prompt_action(&mut self, action: Action) -> bool {
        let Some(p) = &mut self.prompt else {
            return false;
        };
        match action {
            Action::FilterChar(c) => p.text.push(c),
            Action::FilterBackspace => {
                p.text.pop();
            }
            Action::FilterDone => self.submit_prompt(),
            Action::Back => {
                self.prompt = None;
                self.view.typing = false;
            }
            _ => return false,
        }
        true
    }

    /// Why this source takes no what-if edits.
    pub(super) fn no_edits_why(&self) -> String {
        if self.report.as_ref().is_some_and(|r| !r.models.is_empty()) {
            "a comparison takes no what-if edits: train one objective to edit its data".into()
        } else {
            "this source has no training to edit; edits need segscope's own trainer".into()
        }
    }

    /// Adds a what-if edit of the selected segment, if the data and the source allow it.
    pub(super) fn edit(&mut self, segment: usize, action: EditAction) {
        if !self.caps.edit {
            self.status = Some(self.no_edits_why());
            return;
        }
        if let Err((_, why)) = edits::check(&self.ds, &self.part, segment, action) {
            self.status = Some(format!("edit refused: {why}"));
            return;
        }
        let step = self.report.as_ref().map_or(0, |r| r.step);
        self.edits.list.push(Edit {
            segment,
            action,
            step,
        });
        // The edited segment stays selected through the re-sort its new target or weight
        // brings, even at the top of the table.
        self.view.keep = Some(segment);
        self.engine(Control::SetEdits(self.edits.clone()));
    }

    /// Ends typing a weight or target: the edit if the number is valid, else says why.
    pub(super) fn submit_prompt(&mut self) {
        let Some(p) = self.prompt.take() else {
            return;
        };
        self.view.typing = false;
        match p.text.trim().parse::<f32>() {
            Ok(v) => self.edit(
                p.segment,
                if p.weight {
                    EditAction::Weight(v)
                } else {
                    EditAction::Target(v)
                },
            ),
            Err(_) => {
                self.status = Some(format!("edit refused: `{}` is not a number", p.text));
            }
        }
    }

    /// Excludes the selected segment from training, or brings it back.
    pub(super) fn toggle_exclude(&mut self) {
        if let Some(i) = self.selected() {
            let excluded = self.edits.weight_of(i) == 0.0;
            let action = if excluded {
                EditAction::Weight(1.0)
            } else {
                EditAction::Exclude
            };
            self.edit(i, action);
        }
    }

    /// Starts typing a weight (`weight`) or a target for the selected segment.
    pub(super) fn start_prompt(&mut self, weight: bool) {
        if !self.caps.edit {
            self.status = Some(self.no_edits_why());
        } else if let Some(i) = self.selected() {
            self.prompt = Some(Prompt {
                segment: i,
                weight,
                text: String::new(),
            });
            self.view.typing = true;
        }
    }

    /// Takes back the last edit.
    pub(super) fn undo(&mut self) {
        match self.edits.list.pop() {
            Some(_) => self.engine(Control::SetEdits(self.edits.clone())),
            None => self.status = Some("no edit to undo".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{test_app, test_report};

    #[test]
    fn a_typed_target_becomes_an_edit_and_a_bad_number_is_refused() {
        let mut app = test_app();
        app.on_report(test_report(&app, 1, &[0.1, 0.1, 0.1, 0.1]), 0.0);
        app.start_prompt(false);
        assert!(app.view.typing && app.prompt.is_some());
        if let Some(p) = app.prompt.as_mut() {
            p.text.push_str("x1");
        }
        app.submit_prompt();
        assert!(
            app.status
                .as_deref()
                .is_some_and(|s| s.contains("not a number"))
        );
        assert!(app.edits.is_empty());
        app.start_prompt(false);
        if let Some(p) = app.prompt.as_mut() {
            p.text.push_str("0.25");
        }
        app.submit_prompt();
        assert_eq!(app.edits.list.len(), 1);
        assert_eq!(
            app.view.keep,
            app.selected(),
            "the edited segment stays selected"
        );
        app.undo();
        assert!(app.edits.is_empty());
    }

    #[test]
    fn a_source_without_training_says_why_it_takes_no_edits() {
        let mut app = test_app();
        app.caps.edit = false;
        app.toggle_exclude();
        assert!(
            app.status
                .as_deref()
                .is_some_and(|s| s.contains("own trainer"))
        );
    }
}
