//! The overlays: which one is open, and each one's own state and keys (help, detail, diff). The
//! document view's keys are in `document.rs`; each overlay's widget is in `ui/`.

use super::*;

/// The overlay open over the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    /// The detail view of a segment (global index).
    Detail(usize),
    /// Every segment's prediction at the last mark against now, by the size of the change.
    Diff,
    /// The what-if edits in force.
    Edits,
    /// The whole document of a step (global index: the selected step).
    Document(usize),
}

/// The help: how far it is scrolled (when it is taller than the screen).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HelpView {
    pub scroll: u16,
}

impl HelpView {
    /// Up, Down and the page keys scroll it; no other key is its own.
    pub fn handle(&mut self, action: Action) -> bool {
        self.scroll = match action {
            Action::Up => self.scroll.saturating_sub(1),
            Action::Down => self.scroll.saturating_add(1),
            Action::PageUp => self.scroll.saturating_sub(10),
            Action::PageDown => self.scroll.saturating_add(10),
            _ => return false,
        };
        true
    }
}

/// The detail view: how far its text is scrolled, and where Esc goes back to (the diff view or a
/// document; `Overlay::None` for the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetailView {
    pub scroll: u16,
    pub back: Overlay,
}

impl Default for DetailView {
    fn default() -> DetailView {
        DetailView {
            scroll: 0,
            back: Overlay::None,
        }
    }
}

impl DetailView {
    /// The page keys scroll its text; no other key is its own.
    pub fn handle(&mut self, action: Action) -> bool {
        self.scroll = match action {
            Action::PageUp => self.scroll.saturating_sub(5),
            Action::PageDown => self.scroll.saturating_add(5),
            _ => return false,
        };
        true
    }
}

/// The diff view: its selected row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiffView {
    pub cursor: usize,
}

/// The edits overlay: its selected edit (the newest as it opens), so a long list can be read
/// back to its oldest edit; the widget scrolls to keep it in view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EditsView {
    pub cursor: usize,
}

impl EditsView {
    /// Up and Down move between the `total` edits, the page keys by ten, Home to the oldest and
    /// End to the newest; no other key is its own.
    pub fn handle(&mut self, action: Action, total: usize) -> bool {
        let last = total.saturating_sub(1);
        let at = self.cursor.min(last);
        self.cursor = match action {
            Action::Up => at.saturating_sub(1),
            Action::Down => (at + 1).min(last),
            Action::PageUp => at.saturating_sub(10),
            Action::PageDown => (at + 10).min(last),
            Action::Home => 0,
            Action::End => last,
            _ => return false,
        };
        true
    }
}

/// What the diff view did with an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffKey {
    NotMine,
    Moved,
    /// Open the selected row's detail view.
    Open,
}

impl DiffView {
    /// Up and Down move its cursor within `rows` (how many rows it lists, at least up to one
    /// past the cursor); Enter opens the selected row.
    pub fn handle(&mut self, action: Action, rows: usize) -> DiffKey {
        let last = rows.saturating_sub(1);
        match action {
            Action::Up => self.cursor = self.cursor.saturating_sub(1).min(last),
            Action::Down => self.cursor = (self.cursor + 1).min(last),
            Action::Detail | Action::Document => return DiffKey::Open,
            _ => return DiffKey::NotMine,
        }
        DiffKey::Moved
    }
}

/// The document view of one step (the state is the step: `Overlay::Document(step)`): what an
/// action does within the document's steps `steps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentKey {
    NotMine,
    /// Go to this step of the document.
    Move(usize),
    /// Open the step's detail view; Esc comes back here.
    Open,
    /// Back to the table.
    Close,
    /// A key of the table or another overlay: it waits until the document is closed.
    Waits,
}

/// The document view's keys: moving between `steps` (Home and End to its ends), Enter, Esc;
/// the table's and other overlays' keys wait.
pub fn document_key(step: usize, steps: std::ops::Range<usize>, action: Action) -> DocumentKey {
    let last = steps.end.saturating_sub(1).max(steps.start);
    match action {
        Action::Up => DocumentKey::Move(step.saturating_sub(1).max(steps.start)),
        Action::Down => DocumentKey::Move((step + 1).min(last)),
        Action::Home | Action::PageUp => DocumentKey::Move(steps.start),
        Action::End | Action::PageDown => DocumentKey::Move(last),
        Action::Document | Action::Detail => DocumentKey::Open,
        Action::Back => DocumentKey::Close,
        Action::Diff
        | Action::EditsPanel
        | Action::NextSort
        | Action::ReverseSort
        | Action::SortByIssue
        | Action::Filter
        | Action::OutliersOnly
        | Action::ToggleSplit
        | Action::NextOutlier
        | Action::PrevOutlier
        | Action::Region => DocumentKey::Waits,
        _ => DocumentKey::NotMine,
    }
}

impl App {
    /// The open overlay's own keys, before anything else sees them; false when the action is
    /// not the overlay's.
    pub(super) fn overlay_action(&mut self, action: Action) -> bool {
        match self.overlay {
            // An open document owns its keys (moving between its steps, its edits, Esc).
            Overlay::Document(step) => self.prompt.is_none() && self.document_action(step, action),
            Overlay::Detail(_) => {
                let back = self.detail.back;
                match back {
                    Overlay::Document(step) if self.detail_in_document(step, action) => true,
                    _ => self.detail.handle(action),
                }
            }
            Overlay::Help => self.help.handle(action),
            Overlay::Diff => {
                // Enough rows to know whether the cursor can go one further.
                let rows = self.diff_moved(self.diff.cursor + 2).len();
                match self.diff.handle(action, rows) {
                    DiffKey::NotMine => false,
                    DiffKey::Moved => true,
                    DiffKey::Open => {
                        self.open_from_diff();
                        true
                    }
                }
            }
            Overlay::Edits => self.edits_view.handle(action, self.edits.list.len()),
            Overlay::None => false,
        }
    }

    /// Opens `overlay` (the help from its top), or closes it when it is the one open.
    pub(super) fn toggle_overlay(&mut self, overlay: Overlay) {
        if self.overlay == overlay {
            self.overlay = Overlay::None;
            return;
        }
        match overlay {
            Overlay::Help => self.help = HelpView::default(),
            Overlay::Edits => {
                self.edits_view = EditsView {
                    cursor: self.edits.list.len().saturating_sub(1),
                }
            }
            _ => {}
        }
        self.overlay = overlay;
    }

    /// Esc: stops typing a filter (dropping it), goes back from a detail view to where it was
    /// opened from, closes an overlay, or drops the table's filters, the first that applies.
    pub(super) fn back(&mut self) {
        if self.view.typing {
            self.view.typing = false;
            self.view.filter.clear();
            self.refresh_rows();
        } else if matches!(self.overlay, Overlay::Detail(_)) && self.detail.back != Overlay::None {
            self.overlay = std::mem::replace(&mut self.detail.back, Overlay::None);
        } else if self.overlay != Overlay::None {
            self.overlay = Overlay::None;
        } else if self.view.clear_filters() {
            self.refresh_rows();
        }
    }

    /// Opens the detail view of segment `i`, from the top of its text; Esc goes back to `back`.
    pub(super) fn open_detail(&mut self, i: usize, back: Overlay) {
        self.overlay = Overlay::Detail(i);
        self.detail = DetailView { scroll: 0, back };
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::test_app;
    use super::*;

    #[test]
    fn each_overlay_takes_its_own_keys() {
        let mut help = HelpView::default();
        assert!(help.handle(Action::PageDown) && help.handle(Action::Up));
        assert_eq!(help.scroll, 9);
        assert!(!help.handle(Action::Step));
        let mut detail = DetailView::default();
        assert!(detail.handle(Action::PageDown));
        assert!(
            !detail.handle(Action::Down),
            "up and down move the table under it"
        );
        assert_eq!(detail.scroll, 5);
        // Through the app: the open help scrolls, and the table's cursor stays.
        let mut app = test_app();
        let row = app.view.cursor;
        app.update(Action::Help);
        app.update(Action::Down);
        assert_eq!((app.help.scroll, app.view.cursor), (1, row));
        app.update(Action::Help);
        app.update(Action::Down);
        assert_ne!(app.view.cursor, row, "closed, the table takes Down");
    }

    #[test]
    fn the_diff_and_document_keys_stay_within_their_rows_and_steps() {
        let mut diff = DiffView::default();
        assert_eq!(diff.handle(Action::Down, 2), DiffKey::Moved);
        assert_eq!(diff.handle(Action::Down, 2), DiffKey::Moved);
        assert_eq!(diff.cursor, 1, "two rows: the second is the last");
        assert_eq!(diff.handle(Action::Up, 2), DiffKey::Moved);
        assert_eq!(diff.cursor, 0);
        assert_eq!(diff.handle(Action::Detail, 2), DiffKey::Open);
        assert_eq!(diff.handle(Action::Step, 2), DiffKey::NotMine);
        // A document of steps 10-13.
        let key = |step, a| document_key(step, 10..14, a);
        assert_eq!(key(10, Action::Up), DocumentKey::Move(10));
        assert_eq!(key(11, Action::Down), DocumentKey::Move(12));
        assert_eq!(key(13, Action::Down), DocumentKey::Move(13));
        assert_eq!(key(12, Action::Home), DocumentKey::Move(10));
        assert_eq!(key(11, Action::PageDown), DocumentKey::Move(13));
        assert_eq!(key(11, Action::Detail), DocumentKey::Open);
        assert_eq!(key(11, Action::Back), DocumentKey::Close);
        assert_eq!(key(11, Action::NextSort), DocumentKey::Waits);
        assert_eq!(
            key(11, Action::Exclude),
            DocumentKey::NotMine,
            "edits act on the step"
        );
        // Five edits, opened on the newest.
        let mut edits = EditsView { cursor: 4 };
        assert!(edits.handle(Action::Up, 5) && edits.handle(Action::Up, 5));
        assert_eq!(edits.cursor, 2);
        assert!(edits.handle(Action::Home, 5));
        assert_eq!(edits.cursor, 0, "the oldest");
        assert!(edits.handle(Action::Up, 5));
        assert_eq!(edits.cursor, 0, "no older one");
        assert!(edits.handle(Action::End, 5));
        assert_eq!(edits.cursor, 4);
        // An undo shortened the list under the cursor: it moves from the last one there is.
        assert!(edits.handle(Action::Up, 3));
        assert_eq!(edits.cursor, 1);
        assert!(
            !edits.handle(Action::Exclude, 5),
            "x excludes the selected step"
        );
    }
}
