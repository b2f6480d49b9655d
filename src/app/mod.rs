//! The dashboard's state and its one way to change: `update(action)` and `on_report(report)`.
//!
//! Nothing here does I/O or tensor work. Requests for the outside world (steps, checkpoints,
//! exports) are queued in `outbox` for the event loop to carry out, so every key can be tested as
//! key -> action -> state, and the screen can be drawn from any state.

mod access;
mod audit;
mod datamap;
mod document;
pub mod keymap;
mod keyspec;
mod labels;
mod marks;
mod mode;
mod overlay;
mod reports;
mod run;
pub mod suggest;
pub mod table;
mod table_nav;
#[cfg(test)]
mod testing;
mod whatif;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

pub use audit::{AuditDone, AuditEvent, AuditFailure, AuditState};
pub use keymap::{Action, Keymap};
pub use mode::{Mode, Models};
pub use overlay::{
    DetailView, DiffKey, DiffView, DocumentKey, EditsView, HelpView, Overlay, document_key,
};
use reports::PRED_HISTORY_BYTES;
pub use reports::{HISTORY_CAP, HistPoint};
pub use run::RunState;
pub use table::{SortKey, TableKey, TableView};
pub use whatif::Prompt;

use crate::analysis::datamap::{DataMap, Region, Window};
use crate::analysis::{Analysis, Convergence};
use crate::config::UiConfig;
use crate::data::edits::{self, Action as EditAction, Edit, Edits};
use crate::data::{Dataset, Partition};
use crate::engine::{SegmentEval, SplitMetrics, StepReport};
pub use crate::source::{Capabilities, Control};

/// Something the event loop must do on the app's behalf.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A command for the source of step reports.
    Source(Control),
    Export(PathBuf),
    /// Cross-fit and audit the data shown (`app.ds`) in the background; the loop answers with
    /// [`AuditEvent`]s.
    Audit,
}

/// Facts about the run shown in the header.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub backend: String,
    pub loss: String,
    pub optimizer: String,
    pub lr: f64,
    pub batch_size: usize,
    pub data: String,
    pub save_dir: PathBuf,
    pub export_path: PathBuf,
}

pub struct App {
    ds: Arc<Dataset>,
    part: Arc<Partition>,
    ui: UiConfig,
    info: RunInfo,
    keymap: Keymap,
    run: RunState,
    /// Requested steps per second while running (0 = max).
    speed: f64,
    /// Measured steps per second.
    rate: f64,
    report: Option<StepReport>,
    /// Metrics before the latest report, for trends.
    prev_metrics: Option<(SplitMetrics, SplitMetrics)>,
    history: Vec<HistPoint>,
    /// Recent per-step predictions of every segment, newest last.
    pred_history: VecDeque<(u64, Arc<Vec<SegmentEval>>)>,
    pred_history_cap: usize,
    /// Robust z, outliers, largest shares (the full length of the share bars) and the batch of
    /// the latest report.
    analysis: Analysis,
    /// Each segment's class for the outliers' robust z (`labels::classes`).
    classes: Vec<u8>,
    /// Why each segment's tags or labels contradict its target (`labels::contradict`).
    contradictions: Vec<Option<String>>,
    view: TableView,
    overlay: Overlay,
    status: Option<String>,
    outbox: Vec<Effect>,
    should_quit: bool,
    log_y: bool,
    full_history: bool,
    /// Rows the table shows at once (set from the layout by the event loop).
    page: usize,
    convergence: Convergence,
    /// Lower-cased id and text of each segment, for filtering without allocating per keystroke.
    search_text: Vec<String>,
    /// The dataset's label keys (`noise`, `hard`, ...), computed once.
    label_keys: Vec<String>,
    /// The step with the lowest dev loss seen, and that loss (marked on the loss chart).
    best: Option<(u64, f64)>,
    /// Cross-fitted (out-of-fold) prediction and residual per segment, when loaded
    /// (`--crossfit FILE`); NaN for segments the file does not have.
    oof: Option<Vec<crate::labels::crossfit::OofSegment>>,
    /// The kind of the labels, and what an audit expects of the flags: for the header.
    labels_note: String,
    /// The labels' kind (set by the caller from the data and config), and the metrics that
    /// fit it (AUROC, first-error F1) for the current report.
    labels: Option<crate::labels::LabelInfo>,
    label_metrics: Option<crate::labels::prm_metrics::LabelMetrics>,
    /// What the source of reports can do; keys for what it cannot say so.
    caps: Capabilities,
    /// A comparison's per-model history (empty for one model).
    models: Models,
    /// Training, a stream, or a tour page, with what only that mode keeps.
    mode: Mode,
    /// The last refreshed steps' predictions, and the data map over them.
    dm_window: Window,
    datamap: Option<DataMap>,
    /// The data map replaces the loss chart.
    show_datamap: bool,
    /// The selected segment's whole text, wrapped, below the table.
    show_preview: bool,
    /// Each overlay's own state (the open one is `overlay`).
    help: HelpView,
    detail: DetailView,
    diff: DiffView,
    edits_view: EditsView,
    /// The background audit (`A`, `--audit`): not asked, running, or done.
    audit: AuditState,
    /// What the audit needs beyond the data (config, judges); without it `A` says it cannot.
    audit_setup: Option<Arc<crate::labels::pipeline::Setup>>,
    /// Marked steps and every segment's prediction then (for the diff view), newest last.
    marks: Vec<(u64, Arc<Vec<SegmentEval>>)>,
    /// The last fork: the run went back from the first step to the second (a rewind, or the
    /// best model restored).
    forked: Option<(u64, u64)>,
    /// The what-if edits in force, in order (the source has the same list).
    edits: Edits,
    /// A weight or target being typed.
    prompt: Option<Prompt>,
}

impl App {
    pub fn new(
        ds: Arc<Dataset>,
        part: Arc<Partition>,
        ui: UiConfig,
        info: RunInfo,
        keymap: Keymap,
    ) -> App {
        let n = ds.segments.len();
        let search_text = search_text(&ds);
        let speed = ui.steps_per_second;
        let per_step = n.max(1) * std::mem::size_of::<SegmentEval>();
        let classes = crate::labels::classes(&ds);
        let contradictions = crate::labels::contradict::contradictions(&ds, &classes);
        let mut app = App {
            classes,
            contradictions,
            pred_history_cap: (PRED_HISTORY_BYTES / per_step).clamp(2, 2000),
            convergence: Convergence::new(ui.converge_patience, ui.converge_min_rel),
            ds,
            part,
            ui,
            info,
            keymap,
            run: RunState::Paused,
            speed,
            rate: 0.0,
            report: None,
            prev_metrics: None,
            history: Vec::new(),
            pred_history: VecDeque::new(),
            analysis: Analysis::empty(n),
            view: TableView::new(),
            overlay: Overlay::None,
            status: None,
            outbox: Vec::new(),
            should_quit: false,
            log_y: false,
            full_history: true,
            page: 20,
            search_text,
            label_keys: Vec::new(),
            best: None,
            oof: None,
            labels_note: String::new(),
            labels: None,
            label_metrics: None,
            // Until the event loop says what the source can do.
            caps: Capabilities::TRAINER,
            models: Models::default(),
            mode: Mode::Train,
            dm_window: Window::default(),
            datamap: None,
            show_datamap: false,
            show_preview: true,
            help: HelpView::default(),
            detail: DetailView::default(),
            diff: DiffView::default(),
            edits_view: EditsView::default(),
            audit: AuditState::Idle,
            audit_setup: None,
            marks: Vec::new(),
            forked: None,
            edits: Edits::default(),
            prompt: None,
        };
        app.label_keys = app.ds.label_keys();
        app.refresh_rows();
        app
    }

    /// Maps a key press to an action, given the current mode (typing a filter or not).
    pub fn handle_key(&self, key: KeyEvent) -> Option<Action> {
        if key.kind != KeyEventKind::Press {
            return None;
        }
        if self.view.typing {
            return match key.code {
                KeyCode::Enter => Some(Action::FilterDone),
                KeyCode::Esc => Some(Action::Back),
                KeyCode::Backspace => Some(Action::FilterBackspace),
                KeyCode::Char(c)
                    if !key
                        .modifiers
                        .contains(crossterm::event::KeyModifiers::CONTROL) =>
                {
                    Some(Action::FilterChar(c))
                }
                _ => self.keymap.action_for(&key).filter(|a| *a == Action::Quit),
            };
        }
        self.keymap.action_for(&key)
    }

    /// Applies an action.
    pub fn update(&mut self, action: Action) {
        // The open overlay, a prompt being typed, the tour's explanation and the table each
        // have first say over their own keys, in that order; the rest are the app's.
        if self.overlay_action(action)
            || self.prompt_action(action)
            || self.tour_action(action)
            || self.table_action(action)
            || self.source_action(action)
        {
            return;
        }
        match action {
            Action::NextSort => self.next_sort(),
            Action::SortByIssue => self.sort_by_issue(),
            Action::NextOutlier => self.jump_outlier(true),
            Action::PrevOutlier => self.jump_outlier(false),
            Action::Document => self.open_document(),
            Action::Audit => self.start_audit(),
            Action::FirstErrorHere => match self.selected() {
                Some(i) => self.first_error_here(i),
                None => self.status = Some("no step selected".into()),
            },
            Action::Detail => {
                if let Some(i) = self.selected() {
                    self.open_detail(i, Overlay::None);
                } else {
                    self.detail.back = Overlay::None;
                }
            }
            Action::LogY => self.log_y = !self.log_y,
            Action::History => self.full_history = !self.full_history,
            Action::Export => {
                if self.report.is_some() {
                    let p = self.info.export_path.clone();
                    self.status = Some(format!("exporting to {} ...", p.display()));
                    self.outbox.push(Effect::Export(p));
                } else {
                    self.status = Some("nothing to export before the first report".into());
                }
            }
            Action::Preview => self.show_preview = !self.show_preview,
            Action::DataMap => self.show_datamap = !self.show_datamap,
            Action::Region => self.next_region(),
            Action::Diff => self.toggle_diff(),
            Action::Exclude => self.toggle_exclude(),
            Action::AcceptSuggestion => self.accept_suggestion(),
            Action::Weight | Action::Target => self.start_prompt(action == Action::Weight),
            Action::Undo => self.undo(),
            Action::EditsPanel => self.toggle_overlay(Overlay::Edits),
            Action::Help => self.toggle_overlay(Overlay::Help),
            Action::Back => self.back(),
            // The table's own keys, taken by `table_action` above.
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Home
            | Action::End
            | Action::ReverseSort
            | Action::Filter
            | Action::FilterChar(_)
            | Action::FilterBackspace
            | Action::FilterDone
            | Action::OutliersOnly
            | Action::ToggleSplit
            | Action::TagsColumn
            | Action::RawMath
            | Action::ShowContext => {}
            // What asks the source, taken by `source_action` above.
            Action::Step
            | Action::StepN
            | Action::ToggleRun
            | Action::Faster
            | Action::Slower
            | Action::StepBack
            | Action::Save
            | Action::RestoreBest
            | Action::Mark
            | Action::Rewind
            | Action::Quit => {}
            Action::NextScene => self.leave_page(crate::tour::Leave::Next),
            Action::PrevScene => self.leave_page(crate::tour::Leave::Prev),
        }
    }

    /// In the tour the page keys scroll the explanation (its table is a few rows).
    fn tour_action(&mut self, action: Action) -> bool {
        if !matches!(action, Action::PageUp | Action::PageDown) || self.overlay != Overlay::None {
            return false;
        }
        let Mode::Tour { view: t, .. } = &mut self.mode else {
            return false;
        };
        t.scroll = if action == Action::PageUp {
            t.scroll.saturating_sub(5)
        } else {
            t.scroll.saturating_add(5)
        };
        true
    }

    /// Leaves a tour page for the next or the previous one, if there is one.
    fn leave_page(&mut self, to: crate::tour::Leave) {
        let Some(t) = self.tour() else {
            self.status = Some("pages belong to `segscope tour`".into());
            return;
        };
        let forward = to == crate::tour::Leave::Next;
        if t.page.neighbour(forward).is_none() {
            self.status = Some(
                if forward {
                    "this is the tour's last page; q leaves"
                } else {
                    "this is the tour's first page"
                }
                .into(),
            );
            return;
        }
        if let Mode::Tour { leave, .. } = &mut self.mode {
            *leave = Some(to);
        }
        self.should_quit = true;
        self.engine(Control::Quit);
    }

    /// What the dashboard is showing (set by whoever builds the app for a stream or a tour).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The tour page shown, in `segscope tour`.
    pub fn tour(&self) -> Option<crate::tour::TourView> {
        match &self.mode {
            Mode::Tour { view, .. } => Some(*view),
            _ => None,
        }
    }

    /// Where the learner asked to go when the tour page was left.
    pub fn leave(&self) -> Option<crate::tour::Leave> {
        match &self.mode {
            Mode::Tour { leave, .. } => *leave,
            _ => None,
        }
    }

    /// A stream's recorded step shown again, and the newest recorded step (`None`: live).
    pub fn replay(&self) -> Option<(u64, u64)> {
        match &self.mode {
            Mode::Stream { replay, .. } => *replay,
            _ => None,
        }
    }

    /// Why a stream's writer ended, once it has.
    pub fn writer_ended(&self) -> Option<&str> {
        match &self.mode {
            Mode::Stream { ended, .. } => ended.as_deref(),
            _ => None,
        }
    }

    fn engine(&mut self, cmd: Control) {
        self.outbox.push(Effect::Source(cmd));
    }
}

/// Each segment's lower-cased id, text, tags and `meta` labels (`key=value`): what a plain `/`
/// filter word matches, computed once so typing allocates nothing per row.
fn search_text(ds: &Dataset) -> Vec<String> {
    (0..ds.segments.len())
        .map(|i| {
            let s = &ds.segments[i];
            let mut t = format!("{} {}", ds.segment_id(i), s.text);
            for tag in &s.tags {
                t.push(' ');
                t.push_str(tag);
            }
            for (k, v) in s.labels.iter() {
                t.push_str(&format!(" {k}={v}"));
            }
            t.to_lowercase()
        })
        .collect()
}
