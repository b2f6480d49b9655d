//! The dashboard's state and its one way to change: `update(action)` and `on_report(report)`.
//!
//! Nothing here does I/O or tensor work. Requests for the outside world (steps, checkpoints,
//! exports) are queued in `outbox` for the event loop to carry out, so every key can be tested as
//! key -> action -> state, and the screen can be drawn from any state.

pub mod keymap;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

pub use keymap::{Action, Keymap};

use crate::config::UiConfig;
use crate::data::{Dataset, Split};
use crate::engine::report::robust_z;
use crate::engine::{SegmentEval, SplitMetrics, StepReport};

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

/// A request to the training worker.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineCmd {
    Step(u64),
    Run,
    Pause,
    /// Steps per second while running; 0 = as fast as possible.
    SetSpeed(f64),
    Save(PathBuf),
    Quit,
}

/// Something the event loop must do on the app's behalf.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Engine(EngineCmd),
    Export(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    /// The detail view of a segment (global index).
    Detail(usize),
}

/// Table columns the rows can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Share,
    Resid,
    Target,
    Pred,
    Id,
    Doc,
    Text,
}

impl SortKey {
    const ALL: [SortKey; 7] = [
        SortKey::Share,
        SortKey::Resid,
        SortKey::Target,
        SortKey::Pred,
        SortKey::Id,
        SortKey::Doc,
        SortKey::Text,
    ];

    pub fn next(self) -> SortKey {
        let i = Self::ALL.iter().position(|&k| k == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    pub fn prev(self) -> SortKey {
        let i = Self::ALL.iter().position(|&k| k == self).unwrap_or(0);
        Self::ALL[(i + Self::ALL.len() - 1) % Self::ALL.len()]
    }

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Share => "share",
            SortKey::Resid => "resid",
            SortKey::Target => "target",
            SortKey::Pred => "pred",
            SortKey::Id => "id",
            SortKey::Doc => "doc",
            SortKey::Text => "text",
        }
    }

    /// Numbers read best largest first; names alphabetically.
    fn default_desc(self) -> bool {
        matches!(
            self,
            SortKey::Share | SortKey::Resid | SortKey::Target | SortKey::Pred
        )
    }
}

/// Which rows the segments table shows, in which order, and where the cursor is.
#[derive(Debug, Clone)]
pub struct TableView {
    pub split: Split,
    pub sort: SortKey,
    pub desc: bool,
    pub filter: String,
    /// The filter is being typed.
    pub typing: bool,
    pub outliers_only: bool,
    /// Global segment indices of the visible rows, in display order.
    pub rows: Vec<usize>,
    /// Position of the cursor in `rows`.
    pub cursor: usize,
    /// First row on screen.
    pub offset: usize,
    /// The rows must be recomputed (new predictions, or a new sort or filter).
    pub dirty: bool,
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

/// Memory for per-step prediction history (the detail view's sparkline), in bytes.
const PRED_HISTORY_BYTES: usize = 64 << 20;

pub struct App {
    pub ds: Arc<Dataset>,
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
    /// Predictions before the latest step, for "what the last step did".
    pub prev_segments: Option<Arc<Vec<SegmentEval>>>,
    pub history: Vec<HistPoint>,
    /// Recent per-step predictions of every segment, newest last.
    pub pred_history: VecDeque<(u64, Arc<Vec<SegmentEval>>)>,
    pred_history_cap: usize,
    /// Robust z-score of each segment's residual within its split.
    pub z: Vec<f32>,
    pub outlier: Vec<bool>,
    /// Outliers in (train, dev).
    pub n_outliers: (usize, usize),
    /// The largest loss share in (train, dev), the full length of the share bars.
    pub max_share: (f32, f32),
    /// Segments in the latest step's batch.
    pub in_batch: Vec<bool>,
    pub view: TableView,
    pub overlay: Overlay,
    pub status: Option<String>,
    pub outbox: Vec<Effect>,
    pub should_quit: bool,
    pub log_y: bool,
    pub full_history: bool,
    /// Rows the table shows at once (set from the layout by the event loop).
    pub page: usize,
    best_loss: f64,
    since_best: u64,
    /// Lower-cased id and text of each segment, for filtering without allocating per keystroke.
    search_text: Vec<String>,
}

impl App {
    pub fn new(ds: Arc<Dataset>, ui: UiConfig, info: RunInfo, keymap: Keymap) -> App {
        let n = ds.segments.len();
        let search_text = (0..n)
            .map(|i| format!("{} {}", ds.segment_id(i), ds.segments[i].text).to_lowercase())
            .collect();
        let speed = ui.steps_per_second;
        let per_step = n.max(1) * std::mem::size_of::<SegmentEval>();
        let mut app = App {
            pred_history_cap: (PRED_HISTORY_BYTES / per_step).clamp(2, 2000),
            ds,
            ui,
            info,
            keymap,
            run: RunState::Paused,
            speed,
            rate: 0.0,
            report: None,
            prev_metrics: None,
            prev_segments: None,
            history: Vec::new(),
            pred_history: VecDeque::new(),
            z: vec![0.0; n],
            outlier: vec![false; n],
            n_outliers: (0, 0),
            max_share: (0.0, 0.0),
            in_batch: vec![false; n],
            view: TableView {
                split: Split::Train,
                sort: SortKey::Share,
                desc: true,
                filter: String::new(),
                typing: false,
                outliers_only: false,
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
            best_loss: f64::INFINITY,
            since_best: 0,
            search_text,
        };
        app.refresh_rows();
        app
    }

    /// The segment under the cursor.
    pub fn selected(&self) -> Option<usize> {
        self.view.rows.get(self.view.cursor).copied()
    }

    /// Steps since the monitored loss last improved enough.
    pub fn steps_since_best(&self) -> u64 {
        self.since_best
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
        let is_new_step = self.history.last().is_none_or(|h| r.step > h.step);
        if r.diverged.is_none() && is_new_step {
            self.history.push(HistPoint {
                step: r.step,
                train_loss: r.train.loss,
                dev_loss: r.dev.loss,
                weight_change: r.weight_change,
                weight_change_rel: r.weight_change_rel,
                grad_norm: r.grad_norm,
            });
            self.track_convergence(&r);
        }
        if let Some(old) = self.report.take()
            && r.eval_step != old.eval_step
        {
            self.prev_metrics = Some((old.train, old.dev));
            self.prev_segments = Some(old.segments.clone());
        }
        if self
            .pred_history
            .back()
            .is_none_or(|(s, _)| *s != r.eval_step)
        {
            self.pred_history
                .push_back((r.eval_step, r.segments.clone()));
            while self.pred_history.len() > self.pred_history_cap {
                self.pred_history.pop_front();
            }
        }
        self.z = robust_z(&r.segments, &self.ds);
        let k = self.ui.outlier_k as f32;
        let mut counts = (0, 0);
        let mut max_share = (0f32, 0f32);
        for (i, z) in self.z.iter().enumerate() {
            let o = z.abs() > k;
            self.outlier[i] = o;
            let share = r.segments[i].share;
            match self.ds.split_of(i) {
                Split::Train => {
                    counts.0 += usize::from(o);
                    max_share.0 = max_share.0.max(share);
                }
                Split::Dev => {
                    counts.1 += usize::from(o);
                    max_share.1 = max_share.1.max(share);
                }
            }
        }
        self.n_outliers = counts;
        self.max_share = max_share;
        self.in_batch.iter_mut().for_each(|b| *b = false);
        for &i in r.batch.iter() {
            if let Some(b) = self.in_batch.get_mut(i) {
                *b = true;
            }
        }
        self.report = Some(r);
        self.view.dirty = true;
    }

    fn track_convergence(&mut self, r: &StepReport) {
        let loss = if r.dev.n > 0 {
            r.dev.loss
        } else {
            r.train.loss
        };
        if !loss.is_finite() {
            return;
        }
        if loss < self.best_loss * (1.0 - self.ui.converge_min_rel) {
            self.best_loss = loss;
            self.since_best = 0;
        } else {
            self.since_best += 1;
        }
        if self.since_best >= self.ui.converge_patience && self.run == RunState::Running {
            self.run = RunState::Converged;
            self.outbox.push(Effect::Engine(EngineCmd::Pause));
            self.status = Some(format!(
                "converged: {} loss has not improved by {}% for {} steps (r runs on)",
                if r.dev.n > 0 { "dev" } else { "train" },
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
                self.engine(EngineCmd::Step(1));
            }
            Action::StepN => {
                self.status = None;
                self.engine(EngineCmd::Step(self.ui.n_steps));
            }
            Action::ToggleRun => self.toggle_run(),
            Action::Faster => self.change_speed(true),
            Action::Slower => self.change_speed(false),
            Action::Up => self.move_cursor(-1),
            Action::Down => self.move_cursor(1),
            Action::PageUp => self.move_cursor(-(self.page.max(1) as isize)),
            Action::PageDown => self.move_cursor(self.page.max(1) as isize),
            Action::Home => self.move_cursor(isize::MIN / 2),
            Action::End => self.move_cursor(isize::MAX / 2),
            Action::NextSort => {
                self.view.sort = self.view.sort.next();
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
            Action::FilterChar(c) => {
                self.view.filter.push(c);
                self.refresh_rows();
            }
            Action::FilterBackspace => {
                self.view.filter.pop();
                self.refresh_rows();
            }
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
            Action::Save => {
                let dir = self.info.save_dir.clone();
                self.status = Some(format!("saving a checkpoint to {} ...", dir.display()));
                self.engine(EngineCmd::Save(dir));
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
            Action::Help => {
                self.overlay = if self.overlay == Overlay::Help {
                    Overlay::None
                } else {
                    Overlay::Help
                };
            }
            Action::Back => {
                if self.view.typing {
                    self.view.typing = false;
                    self.view.filter.clear();
                    self.refresh_rows();
                } else if self.overlay != Overlay::None {
                    self.overlay = Overlay::None;
                } else if !self.view.filter.is_empty() || self.view.outliers_only {
                    self.view.filter.clear();
                    self.view.outliers_only = false;
                    self.refresh_rows();
                }
            }
            Action::Quit => {
                self.should_quit = true;
                self.engine(EngineCmd::Quit);
            }
        }
    }

    fn engine(&mut self, cmd: EngineCmd) {
        self.outbox.push(Effect::Engine(cmd));
    }

    fn toggle_run(&mut self) {
        match self.run {
            RunState::Running => {
                self.run = RunState::Paused;
                self.status = None;
                self.engine(EngineCmd::Pause);
            }
            RunState::Diverged { .. } => {
                self.status = Some("training diverged; lower the learning rate and restart".into());
            }
            RunState::Paused | RunState::Converged => {
                // Running on past convergence: start the patience count again.
                self.since_best = 0;
                self.status = None;
                self.run = RunState::Running;
                self.engine(EngineCmd::Run);
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
            self.engine(EngineCmd::SetSpeed(s));
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
            .find(|&p| self.outlier[self.view.rows[p]]);
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
        let needle = self.view.filter.to_lowercase();
        let segs = self.report.as_ref().map(|r| r.segments.clone());
        let ds = &self.ds;
        let mut rows: Vec<usize> = (0..ds.segments.len())
            .filter(|&i| ds.split_of(i) == self.view.split)
            .filter(|&i| !self.view.outliers_only || self.outlier[i])
            .filter(|&i| needle.is_empty() || self.search_text[i].contains(&needle))
            .collect();
        let num = |i: usize, f: fn(&SegmentEval) -> f32| segs.as_ref().map_or(0.0, |s| f(&s[i]));
        let key = self.view.sort;
        let cmp = |a: &usize, b: &usize| -> std::cmp::Ordering {
            let (a, b) = (*a, *b);
            let o = match key {
                SortKey::Share => num(a, |e| e.share).total_cmp(&num(b, |e| e.share)),
                SortKey::Resid => num(a, |e| e.residual).total_cmp(&num(b, |e| e.residual)),
                SortKey::Pred => num(a, |e| e.pred).total_cmp(&num(b, |e| e.pred)),
                SortKey::Target => ds.segments[a].score.total_cmp(&ds.segments[b].score),
                SortKey::Id => a.cmp(&b),
                SortKey::Doc => ds.docs[ds.segments[a].doc]
                    .id
                    .cmp(&ds.docs[ds.segments[b].doc].id)
                    .then(a.cmp(&b)),
                SortKey::Text => ds.segments[a].text.cmp(&ds.segments[b].text),
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
