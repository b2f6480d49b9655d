//! The audit from the dashboard: `A` (or `--audit`) asks the event loop to cross-fit and audit
//! the data on screen in the background; its progress and result come back as [`AuditEvent`]s
//! and fill the label-issue column, with no restart.

use super::*;
use crate::labels::crossfit::OofSegment;

/// Where the dashboard's audit is.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditState {
    Idle,
    /// Running; the latest progress line.
    Running(String),
    /// Finished (or failed): the line that says so.
    Done(String),
}

/// What the background audit sends back to the app.
#[derive(Debug, Clone)]
pub enum AuditEvent {
    Progress(String),
    Done(Result<AuditDone, AuditFailure>),
}

/// Why the dashboard's audit did not finish.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditFailure {
    /// The view has no audit setup or no labels (a comparison, say).
    #[error("this view has no audit")]
    NoAudit,
    #[error("no thread for it: {0}")]
    NoThread(String),
    #[error("its thread ended without a result")]
    ThreadEnded,
    #[error(transparent)]
    Pipeline(std::sync::Arc<crate::labels::pipeline::PipelineError>),
}

/// A finished audit, per segment of the data it ran on.
#[derive(Debug, Clone)]
pub struct AuditDone {
    pub oof: Vec<OofSegment>,
    /// The header's note on the flags (` · flags P~0.82 R~0.40 (audit)`).
    pub note: String,
    /// One line: what was flagged and how sure the audit is.
    pub summary: String,
}

impl App {
    /// Lets `A` audit the data with this configuration and these judges.
    pub fn set_audit_setup(&mut self, setup: crate::labels::pipeline::Setup) {
        self.audit_setup = Some(Arc::new(setup));
    }

    pub fn audit_setup(&self) -> Option<&Arc<crate::labels::pipeline::Setup>> {
        self.audit_setup.as_ref()
    }

    /// Asks for the audit, unless one is running or this source's data is not the app's to
    /// cross-fit (a comparison's models, a stream with no labels to audit).
    pub(super) fn start_audit(&mut self) {
        if let AuditState::Running(_) = self.audit {
            self.status = Some("the audit is already running".into());
            return;
        }
        if self.audit_setup.is_none() {
            self.status = Some("this view has no audit (the dashboard and watch have)".into());
            return;
        }
        if self.labels.is_none() || self.ds.labelled() < 2 {
            self.status = Some("nothing to audit: the data has no labels".into());
            return;
        }
        let line = "audit: cross-fitting the loaded data ...".to_string();
        self.audit = AuditState::Running(line.clone());
        self.status = Some(line);
        self.outbox.push(Effect::Audit);
    }

    /// Takes in the background audit's progress or result.
    pub fn on_audit(&mut self, event: AuditEvent) {
        match event {
            AuditEvent::Progress(line) => {
                let line = format!("audit: {line}");
                self.status = Some(line.clone());
                self.audit = AuditState::Running(line);
            }
            AuditEvent::Done(Err(why)) => {
                let line = format!("audit failed: {why}");
                self.status = Some(line.clone());
                self.audit = AuditState::Done(line);
            }
            // The data changed under the audit (a watched stream's new data): its rows are
            // someone else's.
            AuditEvent::Done(Ok(done)) if done.oof.len() != self.ds.segments.len() => {
                let line =
                    "audit discarded: the data changed while it ran (A runs it again)".to_string();
                self.status = Some(line.clone());
                self.audit = AuditState::Done(line);
            }
            AuditEvent::Done(Ok(done)) => {
                self.labels_note = self
                    .labels
                    .map_or_else(String::new, |l| l.describe())
                    .to_string();
                self.labels_note.push_str(&done.note);
                self.set_oof(done.oof);
                // The flags first, from the top: the next key opens the first one's document.
                self.view.sort = SortKey::Issue;
                self.view.desc = true;
                self.view.cursor = 0;
                self.view.offset = 0;
                self.view.keep = None;
                self.refresh_rows();
                self.view.cursor = 0;
                self.view.offset = 0;
                let line = format!(
                    "{} · sorted by label issue; {} opens a step's document",
                    done.summary,
                    self.keymap.key_label(Action::Document)
                );
                self.status = Some(line.clone());
                self.audit = AuditState::Done(line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::test_app;
    use super::*;

    /// The test app with labels and an audit setup: `A` asks the loop for the audit.
    fn auditable() -> App {
        let mut app = test_app();
        app.labels = Some(crate::labels::LabelInfo::detect(&app.ds));
        app.set_audit_setup(crate::labels::pipeline::Setup {
            config: crate::config::Config::default(),
            judges: Arc::new(Vec::new()),
        });
        app
    }

    #[test]
    fn a_finished_audit_fills_the_issue_column_and_sorts_by_it() {
        let mut app = auditable();
        app.update(Action::Audit);
        assert_eq!(app.outbox.pop(), Some(Effect::Audit));
        assert!(matches!(app.audit, AuditState::Running(_)));
        app.update(Action::Audit);
        assert!(app.outbox.is_empty(), "one audit at a time");
        let n = app.ds.segments.len();
        // The last segment is the most likely wrong.
        let oof: Vec<OofSegment> = (0..n)
            .map(|i| OofSegment {
                pred: 0.5,
                residual: 0.1,
                label_score: i as f32 / n as f32,
                label_model: 0.0,
                label_document: 0.0,
                label_issue: i + 1 == n,
                suggested_first_error: None,
                suggested_probability: f32::NAN,
            })
            .collect();
        app.on_audit(AuditEvent::Done(Ok(AuditDone {
            oof,
            note: " · flags P~0.80 R~0.50 (audit)".into(),
            summary: "1 flag".into(),
        })));
        assert!(matches!(app.audit, AuditState::Done(_)));
        assert!(app.labels_note.ends_with("(audit)"), "{}", app.labels_note);
        assert_eq!(app.view.sort, SortKey::Issue);
        let first = app.selected().expect("a row");
        assert!(
            app.view
                .rows
                .iter()
                .all(|&r| app.oof.as_ref().expect("oof")[r].label_score
                    <= app.oof.as_ref().expect("oof")[first].label_score),
            "the cursor is on the most likely wrong label"
        );
    }

    #[test]
    fn an_audit_of_other_data_is_discarded() {
        let mut app = auditable();
        app.update(Action::Audit);
        app.on_audit(AuditEvent::Done(Ok(AuditDone {
            oof: vec![OofSegment::MISSING; 1],
            note: String::new(),
            summary: String::new(),
        })));
        assert!(app.oof.is_none());
        assert!(
            app.status
                .as_deref()
                .is_some_and(|s| s.contains("discarded"))
        );
    }
}
