//! The dashboard's state and its one way to change: `update(action)` and `on_report(report)`.
//!
//! Nothing here does I/O or tensor work. Requests for the outside world (steps, checkpoints,
//! exports) are queued in `outbox` for the event loop to carry out, so every key can be tested as
//! key -> action -> state, and the screen can be drawn from any state.

pub mod keymap;
mod labels;
pub mod table;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

pub use keymap::{Action, Keymap};
pub use table::{SortKey, TableView};

use crate::analysis::datamap::{DataMap, Region, Window};
use crate::analysis::{Analysis, Convergence};
use crate::config::UiConfig;
use crate::data::edits::{self, Action as EditAction, Edit, Edits};
use crate::data::{Dataset, Partition, Split};
use crate::engine::{SegmentEval, SplitMetrics, StepReport};
pub use crate::source::{Capabilities, Control};

/// Where training stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    Paused,
    Running,
    /// Dev loss stopped improving; running paused itself.
    Converged,
    /// The engine refused a step.
    Diverged {
        step: u64,
        reason: String,
    },
}

impl RunState {
    pub fn label(&self) -> &'static str {
        match self {
            RunState::Paused => "paused",
            RunState::Running => "running",
            RunState::Converged => "converged",
            RunState::Diverged { .. } => "diverged",
        }
    }
}

/// Something the event loop must do on the app's behalf.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A command for the source of step reports.
    Source(Control),
    Export(PathBuf),
}

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
}

/// A number being typed for a what-if edit of `segment`.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub segment: usize,
    /// A weight (true) or a target (false).
    pub weight: bool,
    pub text: String,
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

/// One point of the loss and weight-change history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistPoint {
    pub step: u64,
    pub train_loss: f64,
    pub dev_loss: f64,
    pub weight_change: f64,
    pub weight_change_rel: f64,
    pub grad_norm: f64,
}

/// Speeds the +/- keys step through; 0 = as fast as possible.
const SPEEDS: [f64; 9] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 0.0];

/// Points of loss history kept: beyond it the older half is thinned to every other step, so a
/// run of any length keeps its whole shape in at most this many points (about 9.6 MB).
pub const HISTORY_CAP: usize = 200_000;

/// Keeps `h` within [`HISTORY_CAP`]: the older half loses every other point.
fn thin<T>(h: &mut Vec<T>) {
    if h.len() <= HISTORY_CAP {
        return;
    }
    let half = h.len() / 2;
    let mut k = 0;
    h.retain(|_| {
        k += 1;
        k > half || k % 2 == 0
    });
}

/// Memory for per-step prediction history (the detail view's sparkline), in bytes.
const PRED_HISTORY_BYTES: usize = 64 << 20;

pub struct App {
    pub ds: Arc<Dataset>,
    pub part: Arc<Partition>,
    pub ui: UiConfig,
    pub info: RunInfo,
    pub keymap: Keymap,
    pub run: RunState,
    /// Requested steps per second while running (0 = max).
    pub speed: f64,
    /// Measured steps per second.
    pub rate: f64,
    pub report: Option<StepReport>,
    /// Metrics before the latest report, for trends.
    pub prev_metrics: Option<(SplitMetrics, SplitMetrics)>,
    pub history: Vec<HistPoint>,
    /// Recent per-step predictions of every segment, newest last.
    pub pred_history: VecDeque<(u64, Arc<Vec<SegmentEval>>)>,
    pred_history_cap: usize,
    /// Robust z, outliers, largest shares (the full length of the share bars) and the batch of
    /// the latest report.
    pub analysis: Analysis,
    /// Each segment's class for the outliers' robust z (`labels::classes`).
    pub classes: Vec<u8>,
    pub view: TableView,
    pub overlay: Overlay,
    pub status: Option<String>,
    pub outbox: Vec<Effect>,
    pub should_quit: bool,
    pub log_y: bool,
    pub full_history: bool,
    /// Rows the table shows at once (set from the layout by the event loop).
    pub page: usize,
    convergence: Convergence,
    /// Lower-cased id and text of each segment, for filtering without allocating per keystroke.
    search_text: Vec<String>,
    /// The dataset's label keys (`noise`, `hard`, ...), computed once.
    pub label_keys: Vec<String>,
    /// The step with the lowest dev loss seen, and that loss (marked on the loss chart).
    pub best: Option<(u64, f64)>,
    /// Cross-fitted (out-of-fold) prediction and residual per segment, when loaded
    /// (`--crossfit FILE`); NaN for segments the file does not have.
    pub oof: Option<Vec<crate::crossfit::OofSegment>>,
    /// The kind of the labels, and what an audit expects of the flags: for the header.
    pub labels_note: String,
    /// The labels' kind (set by the caller from the data and config), and the metrics that
    /// fit it (AUROC, first-error F1) for the current report.
    pub labels: Option<crate::labels::LabelInfo>,
    pub label_metrics: Option<crate::labels::metrics::LabelMetrics>,
    /// What the source of reports can do; keys for what it cannot say so.
    pub caps: Capabilities,
    /// In a comparison: each step's dev MSE of every model (the loss chart's common yardstick).
    pub model_history: Vec<(u64, Vec<f64>)>,
    /// In a comparison: recent per-step predictions of every model, newest last.
    pub model_preds: VecDeque<(u64, Vec<Arc<Vec<SegmentEval>>>)>,
    /// The last refreshed steps' predictions, and the data map over them.
    pub dm_window: Window,
    pub datamap: Option<DataMap>,
    /// The data map replaces the loss chart.
    pub show_datamap: bool,
    /// Marked steps and every segment's prediction then (for the diff view), newest last.
    pub marks: Vec<(u64, Arc<Vec<SegmentEval>>)>,
    /// The last fork: the run went back from the first step to the second (a rewind, or the
    /// best model restored).
    pub forked: Option<(u64, u64)>,
    /// The what-if edits in force, in order (the source has the same list).
    pub edits: Edits,
    /// A weight or target being typed.
    pub prompt: Option<Prompt>,
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
        let search_text = (0..n)
            .map(|i| format!("{} {}", ds.segment_id(i), ds.segments[i].text).to_lowercase())
            .collect();
        let speed = ui.steps_per_second;
        let per_step = n.max(1) * std::mem::size_of::<SegmentEval>();
        let classes = crate::labels::classes(&ds);
        let mut app = App {
            classes,
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
            view: TableView {
                split: Split::Train,
                sort: SortKey::Share,
                desc: true,
                filter: String::new(),
                typing: false,
                outliers_only: false,
                region: None,
                show_context: false,
                rows: Vec::new(),
                cursor: 0,
                offset: 0,
                dirty: true,
            },
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
            model_history: Vec::new(),
            model_preds: VecDeque::new(),
            dm_window: Window::default(),
            datamap: None,
            show_datamap: false,
            marks: Vec::new(),
            forked: None,
            edits: Edits::default(),
            prompt: None,
        };
        app.label_keys = app.ds.label_keys();
        app.refresh_rows();
        app
    }

    /// The segment under the cursor.
    pub fn selected(&self) -> Option<usize> {
        self.view.rows.get(self.view.cursor).copied()
    }

    /// Steps since the monitored loss last improved enough.
    pub fn steps_since_best(&self) -> u64 {
        self.convergence.since_best()
    }

    /// Predictions of the evaluation before the latest one, for "what the last step did".
    pub fn prev_segments(&self) -> Option<&Arc<Vec<SegmentEval>>> {
        let n = self.pred_history.len();
        (n >= 2).then(|| &self.pred_history[n - 2].1)
    }

    /// Takes in a step report from the engine. `rate` is the measured steps per second.
    pub fn on_report(&mut self, r: StepReport, rate: f64) {
        self.rate = rate;
        if let Some(reason) = &r.diverged {
            self.run = RunState::Diverged {
                step: r.step,
                reason: reason.clone(),
            };
            self.status = Some(format!("training diverged: {reason}"));
        }
        if r.diverged.is_none()
            && let Some(last) = self.history.last().map(|h| h.step)
            && r.step < last
        {
            // The source went back (a rewind, a restored best model): the charts restart from
            // there, and say so.
            self.forked = Some((last, r.step));
            self.truncate_history(r.step);
        }
        let is_new_step = self.history.last().is_none_or(|h| r.step > h.step);
        if r.diverged.is_none() && is_new_step {
            // Between refreshes (mini-batches) the losses are the last refresh's: the chart
            // joins the refreshed steps instead of drawing steps that measured nothing new.
            let fresh = r.eval_step == r.step;
            self.history.push(HistPoint {
                step: r.step,
                train_loss: if fresh { r.train.loss } else { f64::NAN },
                dev_loss: if fresh { r.dev.loss } else { f64::NAN },
                weight_change: r.weight_change,
                weight_change_rel: r.weight_change_rel,
                grad_norm: r.grad_norm,
            });
            self.track_convergence(&r);
            thin(&mut self.history);
            if !r.models.is_empty() {
                self.model_history
                    .push((r.step, r.models.iter().map(|m| m.dev.mse).collect()));
                thin(&mut self.model_history);
            }
            if r.dev.n > 0
                && r.eval_step == r.step
                && r.dev.loss.is_finite()
                && self.best.is_none_or(|(_, b)| r.dev.loss < b)
            {
                self.best = Some((r.step, r.dev.loss));
            }
        }
        if let Some(old) = self.report.take()
            && r.eval_step != old.eval_step
        {
            self.prev_metrics = Some((old.train, old.dev));
        }
        if self
            .pred_history
            .back()
            .is_none_or(|(s, _)| *s != r.eval_step)
        {
            self.pred_history
                .push_back((r.eval_step, r.segments.clone()));
            self.dm_window.push(r.eval_step, r.segments.clone());
            self.datamap = self.dm_window.map(&self.part);
            while self.pred_history.len() > self.pred_history_cap {
                self.pred_history.pop_front();
            }
            if !r.models.is_empty() {
                self.model_preds.push_back((
                    r.eval_step,
                    r.models.iter().map(|m| m.segments.clone()).collect(),
                ));
                // The same memory as one model's history, shared among the models.
                let cap = (self.pred_history_cap / r.models.len()).max(2);
                while self.model_preds.len() > cap {
                    self.model_preds.pop_front();
                }
            }
        }
        self.analysis = Analysis::of(&r, &self.part, &self.classes, self.ui.outlier_k);
        self.refresh_label_metrics(&r);
        self.report = Some(r);
        self.view.dirty = true;
    }

    /// Forgets every step after `step`, and notes that the run forked there.
    fn truncate_history(&mut self, step: u64) {
        self.history.retain(|h| h.step <= step);
        self.pred_history.retain(|(s, _)| *s <= step);
        self.model_history.retain(|(s, _)| *s <= step);
        self.model_preds.retain(|(s, _)| *s <= step);
        self.dm_window.truncate(step);
        self.datamap = self.dm_window.map(&self.part);
        self.best = None;
        for h in &self.history {
            if h.dev_loss.is_finite() && self.best.is_none_or(|(_, b)| h.dev_loss < b) {
                self.best = Some((h.step, h.dev_loss));
            }
        }
        self.prev_metrics = None;
    }

    /// A new set of segments (a stream added some, or was rewritten): every per-segment view
    /// starts again; the loss history stays.
    pub fn set_data(&mut self, ds: Arc<Dataset>, part: Arc<Partition>) {
        let n = ds.segments.len();
        self.search_text = (0..n)
            .map(|i| format!("{} {}", ds.segment_id(i), ds.segments[i].text).to_lowercase())
            .collect();
        self.label_keys = ds.label_keys();
        self.ds = ds;
        self.part = part;
        self.analysis = Analysis::empty(n);
        self.classes = crate::labels::classes(&self.ds);
        self.report = None;
        self.pred_history.clear();
        self.oof = None;
        self.overlay = Overlay::None;
        self.view.cursor = 0;
        self.view.offset = 0;
        self.refresh_rows();
    }

    /// The same segments with edited targets (what-if edits are in force).
    pub fn set_edited(&mut self, ds: Arc<Dataset>) {
        if ds.segments.len() == self.ds.segments.len() {
            self.ds = ds;
            self.view.dirty = true;
        }
    }

    /// Adds a what-if edit of the selected segment, if the data and the source allow it.
    fn edit(&mut self, segment: usize, action: EditAction) {
        if !self.caps.edit {
            self.status = Some(
                "this source has no training to edit; edits need segscope's own trainer".into(),
            );
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
        self.engine(Control::SetEdits(self.edits.clone()));
    }

    /// Ends typing a weight or target: the edit if the number is valid, else says why.
    fn submit_prompt(&mut self) {
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

    fn track_convergence(&mut self, r: &StepReport) {
        self.convergence.observe(r);
        if self.convergence.converged() && self.run == RunState::Running {
            self.run = RunState::Converged;
            self.outbox.push(Effect::Source(Control::Pause));
            self.status = Some(format!(
                "converged: {} loss has not improved by {}% for {} steps (r runs on)",
                Convergence::monitored(r).1,
                self.ui.converge_min_rel * 100.0,
                self.ui.converge_patience
            ));
        }
    }

    /// The result of a checkpoint save or an export.
    pub fn on_io_done(&mut self, message: String) {
        self.status = Some(message);
    }

    /// The engine stopped answering (its thread ended).
    pub fn on_engine_lost(&mut self, why: String) {
        if !matches!(self.run, RunState::Diverged { .. }) {
            self.run = RunState::Paused;
        }
        self.status = Some(format!("the training engine stopped: {why}"));
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
        // A status message stays until something replaces it: moving around must not hide
        // "converged" or "saved". Asking for training clears it.
        match action {
            Action::Step => {
                self.status = None;
                self.engine(Control::Step(1));
            }
            Action::StepN => {
                self.status = None;
                self.engine(Control::Step(self.ui.n_steps));
            }
            Action::ToggleRun if !self.caps.run => {
                self.status = Some(
                    "this stream's writer takes no commands (its header names no control file); space and p replay the recorded steps".into(),
                );
            }
            Action::ToggleRun => self.toggle_run(),
            Action::Faster | Action::Slower if !self.caps.speed => {
                self.status = Some("this source goes at its own speed".into());
            }
            Action::Faster => self.change_speed(true),
            Action::Slower => self.change_speed(false),
            Action::StepBack if !self.caps.rewind => {
                self.status = Some("training keeps no earlier steps to go back to".into());
            }
            Action::StepBack => {
                self.status = None;
                self.engine(Control::Back(1));
            }
            Action::Up => self.move_cursor(-1),
            Action::Down => self.move_cursor(1),
            Action::PageUp => self.move_cursor(-(self.page.max(1) as isize)),
            Action::PageDown => self.move_cursor(self.page.max(1) as isize),
            Action::Home => self.move_cursor(isize::MIN / 2),
            Action::End => self.move_cursor(isize::MAX / 2),
            Action::NextSort => {
                // Skip the columns this run does not have.
                let has_grad = self.report.as_ref().is_some_and(|r| !r.grad.is_empty());
                self.view.sort = self.view.sort.next();
                let has_issue = self.has_label_scores();
                while (self.view.sort == SortKey::Oof && self.oof.is_none())
                    || (self.view.sort == SortKey::Issue && !has_issue)
                    || (self.view.sort == SortKey::Grad && !has_grad)
                {
                    self.view.sort = self.view.sort.next();
                }
                self.view.desc = self.view.sort.default_desc();
                self.refresh_rows();
            }
            Action::ReverseSort => {
                self.view.desc = !self.view.desc;
                self.refresh_rows();
            }
            Action::Filter => {
                self.view.typing = true;
            }
            Action::FilterChar(c) => match &mut self.prompt {
                Some(p) => p.text.push(c),
                None => {
                    self.view.filter.push(c);
                    self.refresh_rows();
                }
            },
            Action::FilterBackspace => match &mut self.prompt {
                Some(p) => {
                    p.text.pop();
                }
                None => {
                    self.view.filter.pop();
                    self.refresh_rows();
                }
            },
            Action::FilterDone if self.prompt.is_some() => self.submit_prompt(),
            Action::FilterDone => self.view.typing = false,
            Action::OutliersOnly => {
                self.view.outliers_only = !self.view.outliers_only;
                self.refresh_rows();
            }
            Action::ToggleSplit => {
                self.view.split = match self.view.split {
                    Split::Train => Split::Dev,
                    Split::Dev => Split::Train,
                };
                self.view.cursor = 0;
                self.view.offset = 0;
                self.refresh_rows();
                self.follow_selection();
            }
            Action::NextOutlier => self.jump_outlier(true),
            Action::PrevOutlier => self.jump_outlier(false),
            Action::Detail => {
                if let Some(i) = self.selected() {
                    self.overlay = Overlay::Detail(i);
                }
            }
            Action::LogY => self.log_y = !self.log_y,
            Action::History => self.full_history = !self.full_history,
            Action::Save if !self.caps.save => {
                self.status = Some("nothing to save: this source has no model".into());
            }
            Action::Save => {
                let dir = self.info.save_dir.clone();
                self.status = Some(format!("saving a checkpoint to {} ...", dir.display()));
                self.engine(Control::Save(dir));
            }
            Action::Export => {
                if self.report.is_some() {
                    let p = self.info.export_path.clone();
                    self.status = Some(format!("exporting to {} ...", p.display()));
                    self.outbox.push(Effect::Export(p));
                } else {
                    self.status = Some("nothing to export before the first report".into());
                }
            }
            Action::ShowContext => {
                self.view.show_context = !self.view.show_context;
                self.refresh_rows();
            }
            Action::RestoreBest => match self.best {
                Some((step, _)) => {
                    self.run = RunState::Paused;
                    self.status = Some(format!("restoring the model of step {step} ..."));
                    self.engine(Control::RestoreBest);
                }
                None => {
                    self.status = Some("no best step yet: it needs a dev split and a step".into());
                }
            },
            Action::DataMap => self.show_datamap = !self.show_datamap,
            Action::Region => {
                self.view.region = match self.view.region {
                    None => Some(Region::Easy),
                    Some(Region::Easy) => Some(Region::Ambiguous),
                    Some(Region::Ambiguous) => Some(Region::Hard),
                    Some(Region::Hard) => None,
                };
                if self.view.region.is_some() && self.datamap.is_none() {
                    self.status = Some(format!(
                        "the data map needs two refreshed steps; filtering by region once it has them (over the last {})",
                        crate::analysis::datamap::WINDOW
                    ));
                }
                self.view.cursor = 0;
                self.refresh_rows();
            }
            Action::Mark => match &self.report {
                Some(r) => {
                    self.marks.push((r.step, r.segments.clone()));
                    if self.marks.len() > crate::engine::trainer::MAX_MARKS {
                        self.marks.remove(0);
                    }
                    if self.caps.mark {
                        self.engine(Control::Mark);
                    } else {
                        self.status = Some(format!(
                            "marked step {} for the diff view (D); this source has no model to rewind",
                            r.step
                        ));
                    }
                }
                None => self.status = Some("nothing to mark before the first report".into()),
            },
            Action::Rewind if !self.caps.mark => {
                self.status = Some(
                    "this source has no model to rewind; p steps back through recorded steps"
                        .into(),
                );
            }
            Action::Rewind => match self.marks.last() {
                Some(&(step, _)) => {
                    self.run = RunState::Paused;
                    self.status = Some(format!("rewinding to the mark at step {step} ..."));
                    self.engine(Control::Rewind);
                }
                None => self.status = Some("no mark to rewind to: m marks a step".into()),
            },
            Action::Diff => {
                if self.marks.is_empty() {
                    self.status = Some("no mark to compare with: m marks a step".into());
                } else {
                    self.overlay = if self.overlay == Overlay::Diff {
                        Overlay::None
                    } else {
                        Overlay::Diff
                    };
                }
            }
            Action::Exclude => {
                if let Some(i) = self.selected() {
                    let excluded = self.edits.weights(self.ds.segments.len())[i] == 0.0;
                    let action = if excluded {
                        EditAction::Weight(1.0)
                    } else {
                        EditAction::Exclude
                    };
                    self.edit(i, action);
                }
            }
            Action::Weight | Action::Target => {
                if !self.caps.edit {
                    self.status = Some(
                        "this source has no training to edit; edits need segscope's own trainer"
                            .into(),
                    );
                } else if let Some(i) = self.selected() {
                    self.prompt = Some(Prompt {
                        segment: i,
                        weight: action == Action::Weight,
                        text: String::new(),
                    });
                    self.view.typing = true;
                }
            }
            Action::Undo => match self.edits.list.pop() {
                Some(_) => self.engine(Control::SetEdits(self.edits.clone())),
                None => self.status = Some("no edit to undo".into()),
            },
            Action::EditsPanel => {
                self.overlay = if self.overlay == Overlay::Edits {
                    Overlay::None
                } else {
                    Overlay::Edits
                };
            }
            Action::Help => {
                self.overlay = if self.overlay == Overlay::Help {
                    Overlay::None
                } else {
                    Overlay::Help
                };
            }
            Action::Back if self.prompt.is_some() => {
                self.prompt = None;
                self.view.typing = false;
            }
            Action::Back => {
                if self.view.typing {
                    self.view.typing = false;
                    self.view.filter.clear();
                    self.refresh_rows();
                } else if self.overlay != Overlay::None {
                    self.overlay = Overlay::None;
                } else if !self.view.filter.is_empty()
                    || self.view.outliers_only
                    || self.view.region.is_some()
                {
                    self.view.filter.clear();
                    self.view.outliers_only = false;
                    self.view.region = None;
                    self.refresh_rows();
                }
            }
            Action::Quit => {
                self.should_quit = true;
                self.engine(Control::Quit);
            }
        }
    }

    fn engine(&mut self, cmd: Control) {
        self.outbox.push(Effect::Source(cmd));
    }

    fn toggle_run(&mut self) {
        match self.run {
            RunState::Running => {
                self.run = RunState::Paused;
                self.status = None;
                self.engine(Control::Pause);
            }
            RunState::Diverged { .. } => {
                self.status = Some("training diverged; lower the learning rate and restart".into());
            }
            RunState::Paused | RunState::Converged => {
                // Running on past convergence: start the patience count again.
                self.convergence.restart();
                self.status = None;
                self.run = RunState::Running;
                self.engine(Control::Run);
            }
        }
    }

    fn change_speed(&mut self, faster: bool) {
        let cur = if self.speed == 0.0 {
            f64::INFINITY
        } else {
            self.speed
        };
        let as_num = |s: f64| if s == 0.0 { f64::INFINITY } else { s };
        let next = if faster {
            SPEEDS.iter().copied().find(|&s| as_num(s) > cur)
        } else {
            SPEEDS.iter().rev().copied().find(|&s| as_num(s) < cur)
        };
        if let Some(s) = next {
            self.speed = s;
            self.engine(Control::SetSpeed(s));
        }
    }

    fn move_cursor(&mut self, delta: isize) {
        let n = self.view.rows.len();
        if n == 0 {
            return;
        }
        let c = (self.view.cursor as isize)
            .saturating_add(delta)
            .clamp(0, n as isize - 1);
        self.view.cursor = c as usize;
        self.follow_selection();
    }

    /// Scrolls so that the cursor is on screen, and keeps an open detail view on the cursor.
    fn follow_selection(&mut self) {
        let page = self.page.max(1);
        if self.view.cursor < self.view.offset {
            self.view.offset = self.view.cursor;
        } else if self.view.cursor >= self.view.offset + page {
            self.view.offset = self.view.cursor + 1 - page;
        }
        if let (Overlay::Detail(_), Some(i)) = (self.overlay, self.selected()) {
            self.overlay = Overlay::Detail(i);
        }
    }

    fn jump_outlier(&mut self, forward: bool) {
        let n = self.view.rows.len();
        let found = (1..=n)
            .map(|k| {
                if forward {
                    (self.view.cursor + k) % n
                } else {
                    (self.view.cursor + n * 2 - k) % n
                }
            })
            .find(|&p| self.analysis.outlier[self.view.rows[p]]);
        match found {
            Some(p) => {
                self.view.cursor = p;
                self.follow_selection();
            }
            None => self.status = Some("no outliers in this view".into()),
        }
    }

    /// Recomputes the visible rows (filter, then sort), keeping the cursor on the same segment.
    pub fn refresh_rows(&mut self) {
        // Follow the selected segment through re-sorting, except at the very top: a user
        // watching the largest shares wants to keep watching the largest shares.
        let keep = if self.view.cursor == 0 {
            None
        } else {
            self.selected()
        };
        let filter = table::Filter::parse(&self.view.filter);
        let segs = self.report.as_ref().map(|r| r.segments.clone());
        let ds = &self.ds;
        let mut rows: Vec<usize> = (0..ds.segments.len())
            .filter(|&i| self.part.split_of(i) == self.view.split)
            .filter(|&i| self.view.show_context || self.part.is_labelled(i))
            .filter(|&i| !self.view.outliers_only || self.analysis.outlier[i])
            .filter(|&i| {
                self.view.region.is_none_or(|want| {
                    self.datamap
                        .as_ref()
                        .is_none_or(|m| m.points[i].region == Some(want))
                })
            })
            .filter(|&i| filter.matches(ds, i, &self.search_text[i]))
            .collect();
        let num = |i: usize, f: fn(&SegmentEval) -> f32| segs.as_ref().map_or(0.0, |s| f(&s[i]));
        let key = self.view.sort;
        let cmp = |a: &usize, b: &usize| -> std::cmp::Ordering {
            let (a, b) = (*a, *b);
            let o = match key {
                SortKey::Share => num(a, |e| e.share).total_cmp(&num(b, |e| e.share)),
                SortKey::Grad => {
                    // Rows without a gradient share (dev, context) sort below every share.
                    let g = |i: usize| {
                        let x = self
                            .report
                            .as_ref()
                            .map_or(f32::NAN, |r| r.grad_of(i).share);
                        if x.is_nan() { -1.0 } else { x }
                    };
                    g(a).total_cmp(&g(b))
                }
                SortKey::Resid => num(a, |e| e.residual).total_cmp(&num(b, |e| e.residual)),
                SortKey::Pred => num(a, |e| e.pred).total_cmp(&num(b, |e| e.pred)),
                SortKey::Target => ds.target(a).total_cmp(&ds.target(b)),
                SortKey::Id => a.cmp(&b),
                SortKey::Doc => ds.docs[ds.segments[a].doc]
                    .id
                    .cmp(&ds.docs[ds.segments[b].doc].id)
                    .then(a.cmp(&b)),
                SortKey::Text => ds.segments[a].text.cmp(&ds.segments[b].text),
                SortKey::Oof => {
                    // Missing values sort below every residual.
                    let o = |i: usize| {
                        let x = self.oof.as_ref().map_or(f32::NAN, |v| v[i].residual.abs());
                        if x.is_nan() { -1.0 } else { x }
                    };
                    o(a).total_cmp(&o(b))
                }
                SortKey::Issue => {
                    // Unscored rows (context, or none loaded) sort below every score.
                    let o = |i: usize| {
                        let x = self.oof.as_ref().map_or(f32::NAN, |v| v[i].label_score);
                        if x.is_nan() { f32::NEG_INFINITY } else { x }
                    };
                    o(a).total_cmp(&o(b))
                }
            };
            o.then(a.cmp(&b))
        };
        if self.view.desc {
            rows.sort_unstable_by(|a, b| cmp(b, a));
        } else {
            rows.sort_unstable_by(cmp);
        }
        self.view.rows = rows;
        self.view.cursor = keep
            .and_then(|i| self.view.rows.iter().position(|&r| r == i))
            .unwrap_or(self.view.cursor)
            .min(self.view.rows.len().saturating_sub(1));
        self.view.dirty = false;
        self.follow_selection();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn history_stays_bounded_and_keeps_its_newest_half_whole() {
        let mut h: Vec<u64> = (0..super::HISTORY_CAP as u64 + 1).collect();
        super::thin(&mut h);
        assert!(h.len() < super::HISTORY_CAP);
        assert_eq!(h.last(), Some(&(super::HISTORY_CAP as u64)));
        assert_eq!(h[0], 1, "the oldest half keeps every other point");
        let tail = &h[h.len() - 1000..];
        assert!(tail.windows(2).all(|w| w[1] == w[0] + 1));
    }
}
