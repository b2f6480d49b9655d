//! The document view: a step's whole document, moved through step by step, with the edits made
//! from it (first error here, exclude, weight, target, the suggestion). Its keys are
//! `overlay::document_key`; its widget is `ui::document`.

use super::overlay::{DocumentKey, document_key};
use super::*;

impl App {
    /// Opens the selected row's whole document, on that step.
    pub(super) fn open_document(&mut self) {
        if let Some(i) = self.selected() {
            self.overlay = Overlay::Document(i);
        }
    }

    /// The steps of the document segment `i` is in (global indices).
    fn document_range(&self, i: usize) -> std::ops::Range<usize> {
        self.ds.docs[self.ds.segments[i].doc].segments.clone()
    }

    /// An action while the document of `step` is open; false when the view leaves it to the
    /// rest of the app (edits, help, quitting, training keys).
    pub(super) fn document_action(&mut self, step: usize, action: Action) -> bool {
        match document_key(step, self.document_range(step), action) {
            DocumentKey::NotMine => return false,
            DocumentKey::Move(to) => self.overlay = Overlay::Document(to),
            DocumentKey::Open => self.open_detail(step, Overlay::Document(step)),
            // Back to the table, on the row the document was opened from.
            DocumentKey::Close => self.overlay = Overlay::None,
            // Rather than act on a table the user cannot see.
            DocumentKey::Waits => {
                self.status = Some(format!(
                    "{} closes the document first",
                    self.keymap.key_label(Action::Back)
                ));
            }
        }
        true
    }

    /// The detail view opened from a document: up and down move between the document's steps,
    /// and Esc goes back to the document (handled with the other overlays' Back).
    pub(super) fn detail_in_document(&mut self, step: usize, action: Action) -> bool {
        let Overlay::Detail(at) = self.overlay else {
            return false;
        };
        if !matches!(action, Action::Up | Action::Down) {
            return false;
        }
        let to = match document_key(at, self.document_range(at), action) {
            DocumentKey::Move(to) => to,
            _ => at,
        };
        if to != at {
            self.detail.scroll = 0;
        }
        self.overlay = Overlay::Detail(to);
        if self.document_range(step).contains(&to) {
            self.detail.back = Overlay::Document(to);
        }
        true
    }

    /// Makes step `i` its document's first error: `i` labelled wrong, the labelled steps after
    /// it context (excluded), as what-if edits.
    pub(super) fn first_error_here(&mut self, i: usize) {
        let index = self.ds.segments[i].index;
        self.move_first_error(i, Some(index));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::test_app;
    use super::*;

    #[test]
    fn the_document_view_moves_within_its_document_and_esc_returns_to_the_row() {
        let mut app = test_app();
        let row = app.view.cursor;
        let i = app.selected().expect("a row");
        app.update(Action::Document);
        assert_eq!(app.overlay, Overlay::Document(i));
        let r = app.ds.docs[app.ds.segments[i].doc].segments.clone();
        app.update(Action::Home);
        assert_eq!(app.overlay, Overlay::Document(r.start));
        app.update(Action::Up);
        assert_eq!(
            app.overlay,
            Overlay::Document(r.start),
            "stays in its document"
        );
        app.update(Action::End);
        assert_eq!(app.overlay, Overlay::Document(r.end - 1));
        app.update(Action::Down);
        assert_eq!(app.overlay, Overlay::Document(r.end - 1));
        // Enter opens that step's detail; Esc goes back to the document, then to the table.
        app.update(Action::Document);
        assert_eq!(app.overlay, Overlay::Detail(r.end - 1));
        app.update(Action::Back);
        assert_eq!(app.overlay, Overlay::Document(r.end - 1));
        app.update(Action::NextSort);
        assert_eq!(
            app.overlay,
            Overlay::Document(r.end - 1),
            "the table's keys wait"
        );
        app.update(Action::Back);
        assert_eq!(app.overlay, Overlay::None);
        assert_eq!(app.view.cursor, row);
    }
}
