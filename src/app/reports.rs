//! Step reports coming in: the loss and prediction history they build, forks, convergence,
//! and new or edited data.

use super::*;

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

/// Points of loss history kept: beyond it the older half is thinned to every other step, so a
/// run of any length keeps its whole shape in at most this many points (about 9.6 MB).
pub const HISTORY_CAP: usize = 200_000;

/// Keeps `h` within [`HISTORY_CAP`]: the older half loses every other point.
pub(super) fn thin<T>(h: &mut Vec<T>) {
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
pub(super) const PRED_HISTORY_BYTES: usize = 64 << 20;

impl App {
    /// Takes in a step report from the engine. `rate` is the measured steps per second.
    pub fn on_report(&mut self, r: StepReport, rate: f64) {
        // A report of other data (a followed file replaced by a stream of other segments, read
        // before its new segments arrived) cannot be shown against these segments.
        if r.segments.len() != self.ds.segments.len() {
            self.status = Some(format!(
                "skipped a step of {} segments: the data on screen has {} (the stream was replaced)",
                r.segments.len(),
                self.ds.segments.len()
            ));
            return;
        }
        self.rate = rate;
        if let Mode::Stream { replay, .. } = &mut self.mode {
            *replay = None;
        }
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
                self.models
                    .history
                    .push((r.step, r.models.iter().map(|m| m.dev.mse).collect()));
                thin(&mut self.models.history);
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
            self.datamap = self.dm_window.map(&self.part, &self.classes);
            while self.pred_history.len() > self.pred_history_cap {
                self.pred_history.pop_front();
            }
            if !r.models.is_empty() {
                self.models.preds.push_back((
                    r.eval_step,
                    r.models.iter().map(|m| m.segments.clone()).collect(),
                ));
                // The same memory as one model's history, shared among the models.
                let cap = (self.pred_history_cap / r.models.len()).max(2);
                while self.models.preds.len() > cap {
                    self.models.preds.pop_front();
                }
            }
        }
        self.analysis = Analysis::of(&r, &self.part, &self.classes, self.ui.outlier_k);
        self.refresh_label_metrics(&r);
        self.report = Some(r);
        self.view.dirty = true;
    }

    /// Shows a recorded step again (a stream's `p` and `space`): the table, metrics and detail
    /// view are that step's; the history stays whole. `newest` is the newest recorded step; when
    /// it is the step shown, the view is live again.
    pub fn on_replay(&mut self, r: StepReport, newest: u64) {
        if r.segments.len() != self.ds.segments.len() {
            return;
        }
        let shown = (r.step != newest).then_some((r.step, newest));
        match &mut self.mode {
            Mode::Stream { replay, .. } => *replay = shown,
            // Only a stream replays: its first replay says what the source is.
            mode => {
                *mode = Mode::Stream {
                    replay: shown,
                    ended: None,
                }
            }
        }
        if let Some(old) = self.report.take()
            && r.eval_step != old.eval_step
        {
            self.prev_metrics = Some((old.train, old.dev));
        }
        self.analysis = Analysis::of(&r, &self.part, &self.classes, self.ui.outlier_k);
        self.refresh_label_metrics(&r);
        self.report = Some(r);
        self.view.dirty = true;
    }

    /// Forgets every step after `step`, and notes that the run forked there.
    pub(super) fn truncate_history(&mut self, step: u64) {
        self.history.retain(|h| h.step <= step);
        self.pred_history.retain(|(s, _)| *s <= step);
        self.models.history.retain(|(s, _)| *s <= step);
        self.models.preds.retain(|(s, _)| *s <= step);
        self.dm_window.truncate(step);
        self.datamap = self.dm_window.map(&self.part, &self.classes);
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
        self.search_text = super::search_text(&ds);
        self.label_keys = ds.label_keys();
        self.ds = ds;
        self.part = part;
        self.analysis = Analysis::empty(n);
        self.classes = crate::labels::classes(&self.ds);
        self.contradictions = crate::labels::contradict::contradictions(&self.ds, &self.classes);
        self.report = None;
        self.pred_history.clear();
        self.oof = None;
        if let Mode::Stream { ended, .. } = &mut self.mode {
            *ended = None;
        }
        self.overlay = Overlay::None;
        // Everything kept per segment of the old data goes with it.
        self.dm_window = Default::default();
        self.datamap = None;
        self.marks.clear();
        self.label_metrics = None;
        self.edits = Default::default();
        self.prompt = None;
        self.view.keep = None;
        self.view.cursor = 0;
        self.view.offset = 0;
        self.refresh_rows();
    }

    /// The same segments with edited targets (what-if edits are in force).
    /// A stream's writer is done: the header stops saying it follows, and says why.
    pub fn on_writer_ended(&mut self, why: String) {
        self.rate = 0.0;
        self.status = Some(format!(
            "the writer has ended ({why}): every recorded step is here"
        ));
        match &mut self.mode {
            Mode::Stream { ended, .. } => *ended = Some(why),
            // Only a stream has a writer: its end says what the source is.
            mode => {
                *mode = Mode::Stream {
                    replay: None,
                    ended: Some(why),
                }
            }
        }
    }

    pub fn set_edited(&mut self, ds: Arc<Dataset>) {
        if ds.segments.len() == self.ds.segments.len() {
            self.ds = ds;
            self.view.dirty = true;
        }
    }

    pub(super) fn track_convergence(&mut self, r: &StepReport) {
        self.convergence.observe(r);
        if self.convergence.converged() && self.run == RunState::Running {
            self.run = RunState::Converged;
            self.rate = 0.0;
            self.outbox.push(Effect::Source(Control::Pause));
            self.status = Some(format!(
                "converged: {} loss has not improved by {}% for {} steps (r runs on)",
                Convergence::monitored(r).1,
                self.ui.converge_min_rel * 100.0,
                self.ui.converge_patience
            ));
        }
    }

    /// Predictions of the evaluation before the latest one, for "what the last step did".
    pub fn prev_segments(&self) -> Option<&Arc<Vec<SegmentEval>>> {
        let n = self.pred_history.len();
        (n >= 2).then(|| &self.pred_history[n - 2].1)
    }

    /// Steps since the monitored loss last improved enough.
    pub fn steps_since_best(&self) -> u64 {
        self.convergence.since_best()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{test_app, test_report};

    #[test]
    fn a_replay_shows_an_older_step_without_forking_and_a_lower_report_forks() {
        let mut app = test_app();
        for s in 0..4 {
            let r = test_report(&app, s, &[0.1 * s as f32; 4]);
            app.on_report(r, 0.0);
        }
        let old = test_report(&app, 1, &[0.1; 4]);
        app.on_replay(old, 3);
        assert_eq!(app.replay(), Some((1, 3)));
        assert_eq!((app.history.len(), app.forked), (4, None));
        let newest = test_report(&app, 3, &[0.3; 4]);
        app.on_replay(newest, 3);
        assert_eq!(app.replay(), None, "the newest step is live");
        let back = test_report(&app, 2, &[0.2; 4]);
        app.on_report(back, 0.0);
        assert_eq!(app.forked, Some((3, 2)), "a source that went back forked");
        assert_eq!(app.history.len(), 3);
    }
    #[test]
    pub(super) fn history_stays_bounded_and_keeps_its_newest_half_whole() {
        let mut h: Vec<u64> = (0..super::HISTORY_CAP as u64 + 1).collect();
        super::thin(&mut h);
        assert!(h.len() < super::HISTORY_CAP);
        assert_eq!(h.last(), Some(&(super::HISTORY_CAP as u64)));
        assert_eq!(h[0], 1, "the oldest half keeps every other point");
        let tail = &h[h.len() - 1000..];
        assert!(tail.windows(2).all(|w| w[1] == w[0] + 1));
    }
}
