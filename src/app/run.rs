//! Running, pausing and the speed of training, and what the app says when the source stops.

use super::*;

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

/// Speeds the +/- keys step through; 0 = as fast as possible.
pub(super) const SPEEDS: [f64; 9] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 0.0];

impl App {
    /// What asks the source (training steps, running, speed, going back, saving, the best
    /// model, marks, quitting); false for any other action. A status message stays until
    /// something replaces it: moving around must not hide "converged" or "saved"; asking for
    /// training clears it.
    pub(super) fn source_action(&mut self, action: Action) -> bool {
        match action {
            Action::Step | Action::StepN => {
                self.status = None;
                // A step by hand after convergence: the run is no longer where it converged.
                if self.run == RunState::Converged {
                    self.run = RunState::Paused;
                }
                let n = if action == Action::Step {
                    1
                } else {
                    self.ui.n_steps
                };
                self.engine(Control::Step(n));
            }
            // Replaying a stream's older step, r goes back to the newest whether or not the
            // writer takes commands.
            Action::ToggleRun if self.replay().is_some() && !self.caps.run => {
                self.status = None;
                self.engine(Control::Run);
            }
            Action::ToggleRun if !self.caps.run => {
                self.status = Some(
                    "this stream's writer takes no commands; space and p replay its steps".into(),
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
            Action::Save if !self.caps.save => {
                self.status = Some("nothing to save: this source has no model".into());
            }
            Action::Save => {
                let dir = self.info.save_dir.clone();
                self.status = Some(format!("saving a checkpoint to {} ...", dir.display()));
                self.engine(Control::Save(dir));
            }
            Action::RestoreBest if self.report.as_ref().is_some_and(|r| !r.models.is_empty()) => {
                self.status = Some(
                    "a comparison keeps no best model: train one objective to go back to its best step"
                        .into(),
                );
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
            Action::Mark => self.mark(),
            Action::Rewind if !self.caps.mark => {
                self.status = Some(
                    "this source has no model to rewind; p steps back through recorded steps"
                        .into(),
                );
            }
            Action::Rewind => self.rewind(),
            Action::Quit => {
                self.should_quit = true;
                self.engine(Control::Quit);
            }
            _ => return false,
        }
        true
    }

    pub(super) fn toggle_run(&mut self) {
        match self.run {
            RunState::Running => {
                self.run = RunState::Paused;
                // Paused, nothing is stepping: a rate would be stale.
                self.rate = 0.0;
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

    pub(super) fn change_speed(&mut self, faster: bool) {
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

    /// The engine stopped answering (its thread ended).
    pub fn on_engine_lost(&mut self, why: String) {
        if !matches!(self.run, RunState::Diverged { .. }) {
            self.run = RunState::Paused;
        }
        self.status = Some(format!("the training engine stopped: {why}"));
    }

    /// The result of a checkpoint save or an export.
    pub fn on_io_done(&mut self, message: String) {
        self.status = Some(message);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::test_app;
    use super::*;

    #[test]
    fn run_pause_and_speeds() {
        let mut app = test_app();
        app.rate = 12.0;
        app.toggle_run();
        assert_eq!(app.run, RunState::Running);
        app.toggle_run();
        assert_eq!((app.run.clone(), app.rate), (RunState::Paused, 0.0));
        app.speed = 200.0;
        app.change_speed(true);
        assert_eq!(app.speed, 0.0, "after 200/s comes as fast as possible");
        app.change_speed(false);
        assert_eq!(app.speed, 200.0);
        app.on_engine_lost("gone".into());
        assert!(app.status.as_deref().is_some_and(|s| s.contains("gone")));
    }
}
