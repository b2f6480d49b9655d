//! The dashboard's audit, run off the UI thread: the data on screen cross-fitted and audited as
//! `segscope audit` would, progress and the result sent back as [`AuditEvent`]s.

use std::sync::mpsc::{Receiver, channel};
use std::thread;

use crate::app::{App, AuditDone, AuditEvent, AuditFailure};
use crate::labels::pipeline::Audited;

/// Starts the audit of `app`'s data, or says on the status line why it cannot.
pub fn spawn(app: &mut App) -> Option<Receiver<AuditEvent>> {
    let (Some(setup), Some(info)) = (app.audit_setup().cloned(), app.labels()) else {
        app.on_audit(AuditEvent::Done(Err(AuditFailure::NoAudit)));
        return None;
    };
    let ds = app.ds().clone();
    let (tx, rx) = channel();
    let spawned = thread::Builder::new()
        .name("segscope-audit".into())
        .spawn(move || {
            let progress = tx.clone();
            let result = setup
                .audit(&ds, info, &|| crate::signals::received().is_some(), |p| {
                    let _ = progress.send(AuditEvent::Progress(p.line()));
                })
                .map(|done| finished(&ds, done))
                .map_err(|e| AuditFailure::Pipeline(std::sync::Arc::new(e)));
            // The app may have quit meanwhile: nobody to tell.
            let _ = tx.send(AuditEvent::Done(result));
        });
    match spawned {
        Ok(_) => Some(rx),
        Err(e) => {
            app.on_audit(AuditEvent::Done(Err(AuditFailure::NoThread(e.to_string()))));
            None
        }
    }
}

/// The audit as the app shows it.
fn finished(ds: &crate::data::Dataset, done: Audited) -> AuditDone {
    let oof = done.crossfit.oof(ds);
    let flagged = oof.iter().filter(|o| o.label_issue).count();
    let (note, summary) = match &done.audit {
        Some(a) if a.reached => (
            a.note(),
            format!(
                "audit: {flagged} flags, expected precision {:.2} ({:.2}-{:.2}), recall {:.2}",
                a.precision, a.precision_interval.0, a.precision_interval.1, a.recall
            ),
        ),
        Some(a) => (
            a.note(),
            format!(
                "audit: {}: nothing flagged",
                crate::labels::audit::none_reached(
                    a.min_precision,
                    a.best_precision,
                    a.best_flagged
                )
            ),
        ),
        None => (
            String::new(),
            "cross-fit done (the audit was stopped)".into(),
        ),
    };
    AuditDone { oof, note, summary }
}
