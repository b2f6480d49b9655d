//! The one keymap table: every action, its default keys and its help text. Key dispatch, the
//! footer's hints and the help overlay are all generated from it, so they cannot drift apart.
//! `[keys]` in config.toml replaces an action's keys: `step = ["space", "."]`.

use std::collections::BTreeMap;

use crossterm::event::KeyEvent;

pub use super::keyspec::KeySpec;

/// Everything a key can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Step,
    StepN,
    ToggleRun,
    Faster,
    Slower,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    NextSort,
    ReverseSort,
    SortByIssue,
    Filter,
    OutliersOnly,
    ToggleSplit,
    NextOutlier,
    PrevOutlier,
    Detail,
    Document,
    Audit,
    FirstErrorHere,
    LogY,
    History,
    Save,
    Export,
    ShowContext,
    TagsColumn,
    RawMath,
    Preview,
    RestoreBest,
    StepBack,
    DataMap,
    Region,
    Mark,
    Rewind,
    Diff,
    Exclude,
    Weight,
    Target,
    AcceptSuggestion,
    Undo,
    EditsPanel,
    Help,
    Back,
    Quit,
    /// `segscope tour`: the next and the previous page.
    NextScene,
    PrevScene,
    /// Typing mode (after `/`): a character of the filter, deleting one, and finishing.
    FilterChar(char),
    FilterBackspace,
    FilterDone,
}

/// The tour's own keys, added to [`TOUR_KEEPS`] of the table below by [`Keymap::tour`].
const TOUR_TABLE: &[Row] = &[
    (
        Action::NextScene,
        "next_scene",
        &["n", "right"],
        "next",
        "the tour's next page",
    ),
    (
        Action::PrevScene,
        "prev_scene",
        &["p", "left"],
        "back",
        "the tour's previous page",
    ),
];

/// The actions of the main table the tour keeps: stepping, running, moving and reading.
const TOUR_KEEPS: &[Action] = &[
    Action::Step,
    Action::ToggleRun,
    Action::Up,
    Action::Down,
    Action::PageUp,
    Action::PageDown,
    Action::Home,
    Action::End,
    Action::NextSort,
    Action::ToggleSplit,
    Action::Preview,
    Action::Detail,
    Action::Document,
    Action::LogY,
    Action::Help,
    Action::Back,
    Action::Quit,
];

/// (action, config name, default keys, footer label or "" to leave it out of the footer, help).
type Row = (
    Action,
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
);

const TABLE: &[Row] = &[
    (
        Action::Step,
        "step",
        &["space"],
        "step",
        "take one training step",
    ),
    (
        Action::StepN,
        "step_n",
        &["n"],
        "N steps",
        "take N steps (ui.n_steps)",
    ),
    (
        Action::StepBack,
        "step_back",
        &["p"],
        "",
        "back one recorded step (watching a stream)",
    ),
    (
        Action::ToggleRun,
        "run",
        &["r"],
        "run/pause",
        "run or pause training",
    ),
    (
        Action::Faster,
        "faster",
        &["+", "="],
        "",
        "more steps per second",
    ),
    (
        Action::Slower,
        "slower",
        &["-"],
        "",
        "fewer steps per second",
    ),
    (Action::Up, "up", &["up", "k"], "", "move up"),
    (Action::Down, "down", &["down", "j"], "", "move down"),
    (Action::PageUp, "page_up", &["pgup"], "", "page up"),
    (Action::PageDown, "page_down", &["pgdn"], "", "page down"),
    (Action::Home, "home", &["home"], "", "first row"),
    (Action::End, "end", &["end"], "", "last row"),
    (
        Action::NextSort,
        "sort",
        &["s"],
        "sort",
        "sort by the next column",
    ),
    (
        Action::ReverseSort,
        "reverse_sort",
        &["S"],
        "",
        "reverse the sort order",
    ),
    (
        Action::SortByIssue,
        "sort_by_issue",
        &["I"],
        "",
        "sort by label issue, most likely wrong first (after A)",
    ),
    (
        Action::Filter,
        "filter",
        &["/"],
        "filter",
        "filter rows: words, tag:X, label:X, target:V; Esc clears",
    ),
    (
        Action::OutliersOnly,
        "outliers_only",
        &["o"],
        "outliers",
        "show outliers only",
    ),
    (
        Action::ToggleSplit,
        "split",
        &["d"],
        "train/dev",
        "switch between train and dev",
    ),
    (
        Action::NextOutlier,
        "next_outlier",
        &["]"],
        "",
        "jump to the next outlier",
    ),
    (
        Action::PrevOutlier,
        "prev_outlier",
        &["["],
        "",
        "jump to the previous outlier",
    ),
    (
        Action::Document,
        "document",
        &["enter"],
        "document",
        "open the selected step's whole document, step by step",
    ),
    (
        Action::Detail,
        "detail",
        &["i"],
        "",
        "open the selected segment's numbers and prediction history",
    ),
    (
        Action::Audit,
        "audit",
        &["A"],
        "",
        "audit the loaded data in the background, then sort by issue",
    ),
    (
        Action::LogY,
        "log_y",
        &["l"],
        "",
        "loss chart and data map: linear or log y",
    ),
    (
        Action::History,
        "history",
        &["h"],
        "",
        "loss chart: full or recent history",
    ),
    (Action::Save, "save", &["w"], "", "save a checkpoint"),
    (
        Action::ShowContext,
        "context",
        &["c"],
        "",
        "show or hide context-only segments (no target), dimmed",
    ),
    (
        Action::TagsColumn,
        "tags",
        &["t"],
        "",
        "show or hide the tags and labels column",
    ),
    (
        Action::RawMath,
        "raw_math",
        &["L"],
        "",
        "math as written (raw LaTeX) or as Unicode text",
    ),
    (
        Action::Preview,
        "preview",
        &["v"],
        "",
        "show or hide the preview of the selected segment's whole text",
    ),
    (
        Action::RestoreBest,
        "restore_best",
        &["B"],
        "",
        "go back to the model of the step with the lowest dev loss",
    ),
    (
        Action::Export,
        "export",
        &["e"],
        "",
        "export the per-segment table",
    ),
    (
        Action::DataMap,
        "data_map",
        &["M"],
        "map",
        "data map: variability against mean |residual|, recent steps",
    ),
    (
        Action::Region,
        "region",
        &["R"],
        "",
        "show one data-map region: easy, ambiguous, hard, then all",
    ),
    (
        Action::Mark,
        "mark",
        &["m"],
        "mark",
        "mark this step (keeps its model to rewind to)",
    ),
    (
        Action::Rewind,
        "rewind",
        &["b"],
        "",
        "rewind training to the last mark",
    ),
    (
        Action::Diff,
        "diff",
        &["D"],
        "",
        "what changed since the last mark, segment by segment",
    ),
    (
        Action::Exclude,
        "exclude",
        &["x"],
        "exclude",
        "what-if: train without the selected segment, or with it again",
    ),
    (
        Action::Weight,
        "weight",
        &["W"],
        "",
        "what-if: type a training weight for the selected segment",
    ),
    (
        Action::Target,
        "target",
        &["T"],
        "",
        "what-if: type a new target for the selected segment",
    ),
    (
        Action::AcceptSuggestion,
        "accept_suggestion",
        &["F"],
        "",
        "what-if: move the first-error label to the suggested step",
    ),
    (
        Action::FirstErrorHere,
        "first_error_here",
        &["f"],
        "",
        "what-if: make the selected step its document's first error",
    ),
    (
        Action::Undo,
        "undo",
        &["u"],
        "",
        "undo the last what-if edit",
    ),
    (
        Action::EditsPanel,
        "edits",
        &["E"],
        "",
        "list the what-if edits in force",
    ),
    (
        Action::Help,
        "help",
        &["?"],
        "help",
        "show or hide this help",
    ),
    (
        Action::Back,
        "back",
        &["esc"],
        "",
        "close an overlay, or clear the filter",
    ),
    (Action::Quit, "quit", &["q", "ctrl-c"], "quit", "quit"),
];

/// One row of the keymap.
#[derive(Debug, Clone)]
pub struct Binding {
    pub action: Action,
    pub name: &'static str,
    pub keys: Vec<KeySpec>,
    /// Short label for the footer ("" = not in the footer).
    pub footer: &'static str,
    pub help: &'static str,
}

/// The keymap in force.
#[derive(Debug, Clone)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KeymapError {
    #[error("[keys]: unknown action `{0}` (actions: {1})")]
    UnknownAction(String, String),
    #[error(
        "[keys] {action}: cannot read the key \"{key}\" (use a character, space, enter, esc, tab, backspace, up, down, left, right, pgup, pgdn, home, end, F1..F12, or ctrl-<key>)"
    )]
    BadKey { action: String, key: String },
    #[error("[keys]: the key \"{key}\" is bound to both `{a}` and `{b}`")]
    Conflict { key: String, a: String, b: String },
    #[error("[keys] {0}: needs at least one key")]
    Empty(String),
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::from_rows(TABLE.iter())
    }
}

impl Keymap {
    /// The tour's keys: stepping, running and reading from the main table, and `n`/`p` for the
    /// pages (where the main table has N steps and a step back, which the tour does not use).
    pub fn tour() -> Keymap {
        // The pages' keys first: the footer keeps them when it runs short of room.
        Keymap::from_rows(
            TOUR_TABLE
                .iter()
                .chain(TABLE.iter().filter(|row| TOUR_KEEPS.contains(&row.0))),
        )
    }

    fn from_rows<'a>(rows: impl Iterator<Item = &'a Row>) -> Keymap {
        let bindings = rows
            .map(|&(action, name, keys, footer, help)| Binding {
                action,
                name,
                // The default keys in the tables are all valid; a test checks it.
                keys: keys.iter().filter_map(|k| KeySpec::parse(k)).collect(),
                footer,
                help,
            })
            .collect();
        Keymap { bindings }
    }

    /// The defaults with `overrides` (action name -> keys) applied.
    pub fn with_overrides(
        overrides: &BTreeMap<String, Vec<String>>,
    ) -> Result<Keymap, KeymapError> {
        let mut km = Keymap::default();
        for (name, keys) in overrides {
            let Some(b) = km.bindings.iter_mut().find(|b| b.name == name) else {
                let names: Vec<&str> = TABLE.iter().map(|t| t.1).collect();
                return Err(KeymapError::UnknownAction(name.clone(), names.join(", ")));
            };
            if keys.is_empty() {
                return Err(KeymapError::Empty(name.clone()));
            }
            b.keys = keys
                .iter()
                .map(|k| {
                    KeySpec::parse(k).ok_or_else(|| KeymapError::BadKey {
                        action: name.clone(),
                        key: k.clone(),
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        for (i, a) in km.bindings.iter().enumerate() {
            for b in &km.bindings[i + 1..] {
                if let Some(k) = a.keys.iter().find(|k| b.keys.contains(k)) {
                    return Err(KeymapError::Conflict {
                        key: k.label(),
                        a: a.name.to_string(),
                        b: b.name.to_string(),
                    });
                }
            }
        }
        Ok(km)
    }

    /// The action bound to `key`, if any.
    pub fn action_for(&self, key: &KeyEvent) -> Option<Action> {
        self.bindings
            .iter()
            .find(|b| b.keys.iter().any(|k| k.matches(key)))
            .map(|b| b.action)
    }

    /// The first key of `action`, as shown on screen.
    pub fn key_label(&self, action: Action) -> String {
        self.bindings
            .iter()
            .find(|b| b.action == action)
            .and_then(|b| b.keys.first())
            .map_or_else(|| "?".to_string(), KeySpec::label)
    }

    /// Footer hints: (keys, label) for the bindings that have a footer label.
    pub fn footer(&self) -> Vec<(String, &'static str)> {
        self.bindings
            .iter()
            .filter(|b| !b.footer.is_empty())
            .map(|b| {
                (
                    b.keys.first().map_or_else(String::new, KeySpec::label),
                    b.footer,
                )
            })
            .collect()
    }

    /// Help rows: (all keys, help text).
    pub fn help(&self) -> Vec<(String, &'static str)> {
        self.bindings
            .iter()
            .map(|b| {
                let keys: Vec<String> = b.keys.iter().map(KeySpec::label).collect();
                (keys.join(" "), b.help)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn every_default_key_parses_and_no_two_actions_share_a_key() {
        for &(_, name, keys, _, _) in TABLE.iter().chain(TOUR_TABLE) {
            for k in keys {
                assert!(KeySpec::parse(k).is_some(), "{name}: {k}");
            }
        }
        assert!(Keymap::with_overrides(&BTreeMap::new()).is_ok());
        let tour = Keymap::tour();
        for (i, a) in tour.bindings.iter().enumerate() {
            assert!(!a.keys.is_empty(), "{}", a.name);
            for b in &tour.bindings[i + 1..] {
                assert!(
                    a.keys.iter().all(|k| !b.keys.contains(k)),
                    "{} {}",
                    a.name,
                    b.name
                );
            }
        }
        assert_eq!(
            tour.action_for(&key(KeyCode::Char('n'))),
            Some(Action::NextScene)
        );
        assert_eq!(
            tour.action_for(&key(KeyCode::Char(' '))),
            Some(Action::Step)
        );
    }

    #[test]
    fn overrides_replace_keys_and_errors_name_the_problem() {
        let mut o = BTreeMap::new();
        o.insert("step".to_string(), vec![".".to_string()]);
        let km = Keymap::with_overrides(&o).expect("valid override");
        assert_eq!(km.action_for(&key(KeyCode::Char('.'))), Some(Action::Step));
        assert_eq!(km.action_for(&key(KeyCode::Char(' '))), None);
        assert!(
            km.help()
                .iter()
                .any(|(k, h)| k == "." && h.contains("one training step"))
        );

        o.insert("stepp".to_string(), vec!["x".to_string()]);
        assert!(matches!(
            Keymap::with_overrides(&o),
            Err(KeymapError::UnknownAction(..))
        ));
        let mut o = BTreeMap::new();
        o.insert("step".to_string(), vec!["q".to_string()]);
        let e = Keymap::with_overrides(&o).expect_err("q is quit");
        assert!(matches!(e, KeymapError::Conflict { .. }), "{e}");
        let mut o = BTreeMap::new();
        o.insert("step".to_string(), vec!["spacebar".to_string()]);
        assert!(matches!(
            Keymap::with_overrides(&o),
            Err(KeymapError::BadKey { .. })
        ));
    }

    #[test]
    fn ctrl_and_shift_are_told_apart() {
        let km = Keymap::default();
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(km.action_for(&ctrl_c), Some(Action::Quit));
        assert_eq!(
            km.action_for(&key(KeyCode::Char('c'))),
            Some(Action::ShowContext)
        );
        let shift_s = KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT);
        assert_eq!(km.action_for(&shift_s), Some(Action::ReverseSort));
        assert_eq!(
            km.action_for(&key(KeyCode::Char('s'))),
            Some(Action::NextSort)
        );
    }
}
