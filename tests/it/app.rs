//! Key -> action -> state for every key in the keymap table, and the app's reactions to reports.

use crate::common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use segscope::app::keymap::KeySpec;
use segscope::app::{Action, App, Control, Effect, Keymap, Overlay, RunState, SortKey};
use segscope::data::Split;

fn press(app: &mut App, spec: &KeySpec) {
    let mods = if spec.ctrl {
        KeyModifiers::CONTROL
    } else {
        KeyModifiers::NONE
    };
    let key = KeyEvent::new(spec.code, mods);
    if let Some(a) = app.handle_key(key) {
        app.update(a);
    }
}

fn press_code(app: &mut App, code: KeyCode) {
    press(app, &KeySpec { code, ctrl: false });
}

fn engine_cmds(app: &mut App) -> Vec<Control> {
    app.take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Source(c) => Some(c),
            Effect::Export(_) | Effect::Audit => None,
        })
        .collect()
}

/// Checks what one action does, starting from an app that has seen 5 steps.
fn check(action: Action, key: &KeySpec) {
    let mut app = common::app_after(5);
    app.set_page(3);
    let label = format!("{action:?} via {}", key.label());
    match action {
        Action::Step => {
            press(&mut app, key);
            assert_eq!(engine_cmds(&mut app), vec![Control::Step(1)], "{label}");
        }
        Action::StepN => {
            press(&mut app, key);
            assert_eq!(engine_cmds(&mut app), vec![Control::Step(10)], "{label}");
        }
        Action::ToggleRun => {
            press(&mut app, key);
            assert_eq!(*app.run(), RunState::Running, "{label}");
            press(&mut app, key);
            assert_eq!(*app.run(), RunState::Paused, "{label}");
            assert_eq!(engine_cmds(&mut app), vec![Control::Run, Control::Pause]);
        }
        Action::Faster => {
            app.set_speed(10.0);
            press(&mut app, key);
            assert_eq!(app.speed(), 20.0, "{label}");
            assert_eq!(engine_cmds(&mut app), vec![Control::SetSpeed(20.0)]);
            app.set_speed(200.0);
            press(&mut app, key);
            assert_eq!(
                app.speed(),
                0.0,
                "{label}: the last step is as fast as possible"
            );
            press(&mut app, key);
            assert_eq!(app.speed(), 0.0, "{label}: nothing is faster than max");
        }
        Action::Slower => {
            press(&mut app, key);
            assert_eq!(app.speed(), 200.0, "{label}: from max to the fastest limit");
            app.set_speed(1.0);
            press(&mut app, key);
            assert_eq!(app.speed(), 1.0, "{label}: 1 step/s is the slowest");
        }
        Action::Up => {
            app.update(Action::End);
            let end = app.view().cursor;
            press(&mut app, key);
            assert_eq!(app.view().cursor, end - 1, "{label}");
        }
        Action::Down => {
            press(&mut app, key);
            assert_eq!(app.view().cursor, 1, "{label}");
        }
        Action::PageUp => {
            app.update(Action::End);
            press(&mut app, key);
            assert_eq!(app.view().cursor, app.view().rows.len() - 1 - 3, "{label}");
        }
        Action::PageDown => {
            press(&mut app, key);
            assert_eq!(app.view().cursor, 3, "{label}");
            assert_eq!(
                app.view().offset,
                1,
                "{label}: scrolled to keep the cursor in view"
            );
        }
        Action::Home => {
            app.update(Action::End);
            press(&mut app, key);
            assert_eq!((app.view().cursor, app.view().offset), (0, 0), "{label}");
        }
        Action::End => {
            press(&mut app, key);
            assert_eq!(app.view().cursor, app.view().rows.len() - 1, "{label}");
        }
        Action::NextSort => {
            assert_eq!(app.view().sort, SortKey::Share);
            press(&mut app, key);
            assert_eq!(app.view().sort, SortKey::Resid, "{label}");
            let r = app
                .report()
                .as_ref()
                .map(|r| r.segments.clone())
                .expect("report");
            let res: Vec<f32> = app.view().rows.iter().map(|&i| r[i].residual).collect();
            assert!(
                res.windows(2).all(|w| w[0] >= w[1]),
                "{label}: sorted by residual, largest first"
            );
        }
        Action::ReverseSort => {
            let before = app.view().rows.clone();
            press(&mut app, key);
            assert!(!app.view().desc, "{label}");
            let mut rev = before;
            rev.reverse();
            assert_eq!(app.view().rows, rev, "{label}");
        }
        Action::Filter => {
            press(&mut app, key);
            assert!(app.view().typing, "{label}");
            for c in "week".chars() {
                press_code(&mut app, KeyCode::Char(c));
            }
            assert_eq!(
                app.view().rows.len(),
                2,
                "{label}: two segments mention a week"
            );
            // Typing mode: 'q' and 'r' are text, not quit and run.
            press_code(&mut app, KeyCode::Char('q'));
            press_code(&mut app, KeyCode::Char('r'));
            assert!(!app.should_quit() && *app.run() == RunState::Paused);
            assert_eq!(app.view().filter, "weekqr");
            assert!(app.view().rows.is_empty());
            press_code(&mut app, KeyCode::Backspace);
            press_code(&mut app, KeyCode::Backspace);
            press_code(&mut app, KeyCode::Backspace);
            assert_eq!(app.view().filter, "wee");
            press_code(&mut app, KeyCode::Char('k'));
            press_code(&mut app, KeyCode::Enter);
            assert!(
                !app.view().typing && app.view().filter == "week",
                "{label}: Enter keeps"
            );
            press_code(&mut app, KeyCode::Esc);
            assert!(app.view().filter.is_empty(), "{label}: Esc clears");
            assert_eq!(app.view().rows.len(), 10);
        }
        Action::OutliersOnly => {
            press(&mut app, key);
            assert!(app.view().outliers_only, "{label}");
            assert!(!app.view().rows.is_empty());
            assert!(
                app.view().rows.iter().all(|&i| app.analysis().outlier[i]),
                "{label}"
            );
            assert!(
                app.view().rows.contains(&3),
                "{label}: the flipped segment is an outlier"
            );
        }
        Action::ToggleSplit => {
            press(&mut app, key);
            assert_eq!(app.view().split, Split::Dev, "{label}");
            assert_eq!(app.view().rows.len(), 3);
            press(&mut app, key);
            assert_eq!(app.view().split, Split::Train);
        }
        Action::NextOutlier | Action::PrevOutlier => {
            app.update(Action::End);
            press(&mut app, key);
            let at = app.selected().expect("a row");
            assert!(app.analysis().outlier[at], "{label}: lands on an outlier");
        }
        Action::Detail => {
            press(&mut app, key);
            let sel = app.selected().expect("a row");
            assert_eq!(app.overlay(), Overlay::Detail(sel), "{label}");
            app.update(Action::Down);
            let next = app.selected().expect("a row");
            assert_eq!(
                app.overlay(),
                Overlay::Detail(next),
                "{label}: the detail follows the cursor"
            );
        }
        Action::Document => {
            press(&mut app, key);
            let sel = app.selected().expect("a row");
            assert_eq!(app.overlay(), Overlay::Document(sel), "{label}");
            let doc = app.ds().segments[sel].doc;
            let r = app.ds().docs[doc].segments.clone();
            app.update(Action::Down);
            let want = (sel + 1).min(r.end - 1);
            assert_eq!(
                app.overlay(),
                Overlay::Document(want),
                "{label}: down moves to the document's next step, not the next row"
            );
            app.update(Action::Back);
            assert_eq!(app.overlay(), Overlay::None, "{label}");
        }
        Action::Audit => {
            // A view built without an audit setup says so; with one, the key asks the loop.
            press(&mut app, key);
            assert!(
                app.status().as_deref().unwrap_or("").contains("no audit"),
                "{label}: {:?}",
                app.status()
            );
            app.set_audit_setup(segscope::labels::pipeline::Setup {
                config: segscope::config::Config::default(),
                judges: std::sync::Arc::new(Vec::new()),
            });
            app.set_labels(segscope::labels::LabelInfo::detect(app.ds()));
            press(&mut app, key);
            assert_eq!(*app.outbox(), vec![Effect::Audit], "{label}");
        }
        Action::FirstErrorHere => {
            // The bundled data is not first-error data with binary labels: refused, said why.
            app.set_labels(segscope::labels::LabelInfo::detect(app.ds()));
            press(&mut app, key);
            assert!(
                app.status()
                    .as_deref()
                    .unwrap_or("")
                    .contains("first error not moved"),
                "{label}: {:?}",
                app.status()
            );
            assert!(app.edits().is_empty(), "{label}");
        }
        Action::LogY => {
            press(&mut app, key);
            assert!(app.log_y(), "{label}");
        }
        Action::History => {
            press(&mut app, key);
            assert!(!app.full_history(), "{label}");
        }
        Action::Save => {
            press(&mut app, key);
            assert_eq!(
                engine_cmds(&mut app),
                vec![Control::Save("ckpt".into())],
                "{label}"
            );
        }
        Action::Export => {
            press(&mut app, key);
            assert_eq!(
                *app.outbox(),
                vec![Effect::Export("out.csv".into())],
                "{label}"
            );
        }
        Action::StepBack => {
            // The trainer keeps no earlier steps: the key says so instead of pretending.
            press(&mut app, key);
            assert!(engine_cmds(&mut app).is_empty(), "{label}");
            assert!(
                app.status()
                    .as_deref()
                    .unwrap_or("")
                    .contains("no earlier steps")
            );
            app.set_caps(segscope::app::Capabilities {
                rewind: true,
                ..app.caps()
            });
            press(&mut app, key);
            assert_eq!(engine_cmds(&mut app), vec![Control::Back(1)], "{label}");
        }
        Action::ShowContext => {
            press(&mut app, key);
            assert!(app.view().show_context, "{label}");
            press(&mut app, key);
            assert!(!app.view().show_context, "{label}");
        }
        Action::RestoreBest => {
            app.update(Action::ToggleRun);
            engine_cmds(&mut app);
            press(&mut app, key);
            assert_eq!(app.best().map(|b| b.0), Some(5), "{label}");
            assert_eq!(engine_cmds(&mut app), vec![Control::RestoreBest], "{label}");
            assert_eq!(*app.run(), RunState::Paused, "{label}");
        }
        Action::DataMap => {
            press(&mut app, key);
            assert!(app.show_datamap(), "{label}");
            press(&mut app, key);
            assert!(!app.show_datamap(), "{label}");
        }
        Action::Region => {
            use segscope::analysis::datamap::Region;
            let map = app.datamap().clone().expect("a map after 5 steps");
            let all = app.view().rows.len();
            for want in [Region::Easy, Region::Ambiguous, Region::Hard] {
                press(&mut app, key);
                assert_eq!(app.view().region, Some(want), "{label}");
                assert!(
                    app.view()
                        .rows
                        .iter()
                        .all(|&i| map.points[i].region == Some(want)),
                    "{label}: only {want:?} rows"
                );
            }
            press(&mut app, key);
            assert_eq!(app.view().region, None, "{label}: then all again");
            assert_eq!(app.view().rows.len(), all);
        }
        Action::Mark => {
            press(&mut app, key);
            assert_eq!(app.marks().last().map(|m| m.0), Some(5), "{label}");
            assert_eq!(engine_cmds(&mut app), vec![Control::Mark], "{label}");
            app.set_caps(segscope::app::Capabilities {
                mark: false,
                ..app.caps()
            });
            press(&mut app, key);
            assert!(
                engine_cmds(&mut app).is_empty(),
                "{label}: a stream keeps no model"
            );
            assert_eq!(
                app.marks().len(),
                2,
                "{label}: but the diff view still gets its mark"
            );
        }
        Action::Rewind => {
            press(&mut app, key);
            assert!(engine_cmds(&mut app).is_empty(), "{label}: no mark yet");
            assert!(app.status().as_deref().unwrap_or("").contains("no mark"));
            app.update(Action::Mark);
            app.update(Action::ToggleRun);
            engine_cmds(&mut app);
            press(&mut app, key);
            assert_eq!(engine_cmds(&mut app), vec![Control::Rewind], "{label}");
            assert_eq!(*app.run(), RunState::Paused, "{label}");
            app.set_caps(segscope::app::Capabilities {
                mark: false,
                ..app.caps()
            });
            press(&mut app, key);
            assert!(
                engine_cmds(&mut app).is_empty(),
                "{label}: nothing to rewind in a stream"
            );
        }
        Action::Diff => {
            press(&mut app, key);
            assert_eq!(app.overlay(), Overlay::None, "{label}: no mark yet");
            app.update(Action::Mark);
            press(&mut app, key);
            assert_eq!(app.overlay(), Overlay::Diff, "{label}");
            press(&mut app, key);
            assert_eq!(app.overlay(), Overlay::None, "{label}");
        }
        Action::Exclude => {
            use segscope::data::edits::Action as E;
            let i = app.selected().expect("a row");
            press(&mut app, key);
            assert_eq!(
                app.edits().list.last().map(|e| (e.segment, e.action)),
                Some((i, E::Exclude)),
                "{label}"
            );
            assert_eq!(
                engine_cmds(&mut app),
                vec![Control::SetEdits(app.edits().clone())],
                "{label}"
            );
            press(&mut app, key);
            assert_eq!(
                app.edits().list.last().map(|e| e.action),
                Some(E::Weight(1.0)),
                "{label}: includes it again"
            );
            engine_cmds(&mut app);
            app.set_caps(segscope::app::Capabilities {
                edit: false,
                ..app.caps()
            });
            press(&mut app, key);
            assert!(
                engine_cmds(&mut app).is_empty(),
                "{label}: a stream has no training to edit"
            );
        }
        Action::Weight | Action::Target => {
            use segscope::data::edits::Action as E;
            let i = app.selected().expect("a row");
            press(&mut app, key);
            assert!(
                app.prompt().as_ref().is_some_and(|p| p.segment == i),
                "{label}"
            );
            for c in "0.5".chars() {
                app.update(Action::FilterChar(c));
            }
            app.update(Action::FilterDone);
            assert!(app.prompt().is_none() && !app.view().typing, "{label}");
            let want = if action == Action::Weight {
                E::Weight(0.5)
            } else {
                E::Target(0.5)
            };
            assert_eq!(
                app.edits().list.last().map(|e| e.action),
                Some(want),
                "{label}"
            );
            assert_eq!(engine_cmds(&mut app).len(), 1, "{label}");
            // Not a number: refused and said so; Esc cancels typing.
            press(&mut app, key);
            app.update(Action::FilterChar('x'));
            app.update(Action::FilterDone);
            assert!(
                app.status()
                    .as_deref()
                    .unwrap_or("")
                    .contains("not a number"),
                "{label}"
            );
            press(&mut app, key);
            app.update(Action::Back);
            assert!(app.prompt().is_none(), "{label}: Esc cancels");
            assert!(engine_cmds(&mut app).is_empty(), "{label}");
            if action == Action::Weight {
                press(&mut app, key);
                app.update(Action::FilterChar('-'));
                app.update(Action::FilterChar('1'));
                app.update(Action::FilterDone);
                assert!(
                    app.status().as_deref().unwrap_or("").contains(">= 0"),
                    "{label}"
                );
            }
        }
        Action::SortByIssue => {
            // Without label scores the key says where they come from (with them: the test of
            // the issue column below).
            press(&mut app, key);
            assert!(
                app.status()
                    .as_deref()
                    .unwrap_or("")
                    .contains("A audits the data"),
                "{label}: {:?}",
                app.status()
            );
            assert_ne!(app.view().sort, SortKey::Issue, "{label}");
        }
        Action::AcceptSuggestion => {
            // Without a cross-fit report there is no suggestion, and the key says so (its
            // effect with one: the_detail_view_shows_a_false_claim_and_the_suggested_...).
            press(&mut app, key);
            assert!(
                app.status()
                    .as_deref()
                    .unwrap_or("")
                    .contains("A audits the data"),
                "{label}: {:?}",
                app.status()
            );
            assert!(app.edits().is_empty(), "{label}");
        }
        Action::Undo => {
            press(&mut app, key);
            assert!(
                app.status().as_deref().unwrap_or("").contains("no edit"),
                "{label}"
            );
            app.update(Action::Exclude);
            engine_cmds(&mut app);
            press(&mut app, key);
            assert!(app.edits().is_empty(), "{label}");
            assert_eq!(
                engine_cmds(&mut app),
                vec![Control::SetEdits(Default::default())],
                "{label}"
            );
        }
        Action::EditsPanel => {
            press(&mut app, key);
            assert_eq!(app.overlay(), Overlay::Edits, "{label}");
            press(&mut app, key);
            assert_eq!(app.overlay(), Overlay::None, "{label}");
        }
        Action::Help => {
            press(&mut app, key);
            assert_eq!(app.overlay(), Overlay::Help, "{label}");
            press(&mut app, key);
            assert_eq!(app.overlay(), Overlay::None, "{label}");
        }
        Action::Back => {
            app.update(Action::Help);
            press(&mut app, key);
            assert_eq!(app.overlay(), Overlay::None, "{label}: closes an overlay");
            app.update(Action::OutliersOnly);
            press(&mut app, key);
            assert!(
                !app.view().outliers_only,
                "{label}: then clears the filters"
            );
        }
        Action::TagsColumn => {
            assert!(!app.view().show_tags, "{label}");
            press(&mut app, key);
            assert!(app.view().show_tags, "{label}");
            press(&mut app, key);
            assert!(!app.view().show_tags, "{label}");
        }
        Action::RawMath => {
            assert!(!app.view().raw_math, "{label}: Unicode by default");
            press(&mut app, key);
            assert!(app.view().raw_math, "{label}");
            press(&mut app, key);
            assert!(!app.view().raw_math, "{label}");
        }
        Action::Preview => {
            assert!(app.show_preview(), "{label}: shown by default");
            press(&mut app, key);
            assert!(!app.show_preview(), "{label}");
        }
        Action::NextScene | Action::PrevScene => {
            // Outside the tour there are no pages to move between, even with its keys.
            app.set_keymap(Keymap::tour());
            press(&mut app, key);
            assert!(!app.should_quit(), "{label}");
            assert!(
                app.status().as_deref().is_some_and(|s| s.contains("tour")),
                "{label}"
            );
        }
        Action::Quit => {
            press(&mut app, key);
            assert!(app.should_quit(), "{label}");
            assert_eq!(engine_cmds(&mut app), vec![Control::Quit]);
        }
        Action::FilterChar(_) | Action::FilterBackspace | Action::FilterDone => {
            unreachable!("typing-mode actions are not in the table")
        }
    }
}

#[test]
fn every_key_in_the_table_does_what_its_help_says() {
    let km = Keymap::default();
    let mut checked = 0;
    for b in &km.bindings {
        assert!(!b.keys.is_empty(), "{:?} has no key", b.action);
        for k in &b.keys {
            check(b.action, k);
            checked += 1;
        }
    }
    assert!(checked >= 39, "{checked} keys checked");
    // The tour's page keys, on an app that is not a tour.
    for b in Keymap::tour()
        .bindings
        .iter()
        .filter(|b| matches!(b.action, Action::NextScene | Action::PrevScene))
    {
        for k in &b.keys {
            check(b.action, k);
        }
    }
}

#[test]
fn only_key_presses_count() {
    let mut app = common::app_after(1);
    let mut k = KeyEvent::new(KeyCode::Char(' '), KeyModifiers::NONE);
    k.kind = crossterm::event::KeyEventKind::Release;
    assert_eq!(app.handle_key(k), None);
    k.kind = crossterm::event::KeyEventKind::Press;
    assert_eq!(app.handle_key(k), Some(Action::Step));
    app.update(Action::Step);
}

#[test]
fn convergence_pauses_a_running_app_and_r_runs_on() {
    let mut app = common::app_after(0);
    app.update(Action::ToggleRun);
    app.take_effects();
    let ds = app.ds().clone();
    let flat = common::report(&ds, 30);
    for s in 1..=60u64 {
        let mut r = flat.clone();
        r.step = s;
        r.eval_step = s;
        app.on_report(r, 20.0);
        if *app.run() == RunState::Converged {
            break;
        }
    }
    assert_eq!(*app.run(), RunState::Converged);
    assert_eq!(app.steps_since_best(), app.ui().converge_patience);
    assert!(app.outbox().contains(&Effect::Source(Control::Pause)));
    assert!(app.status().as_deref().unwrap_or("").contains("converged"));
    assert_eq!(app.rate(), 0.0, "a converged run shows no stale rate");
    app.update(Action::Down);
    assert!(app.status().is_some(), "moving around keeps the message");
    app.update(Action::ToggleRun);
    assert_eq!(*app.run(), RunState::Running);
    app.update(Action::ToggleRun);
    assert_eq!(
        (app.run().clone(), app.rate()),
        (RunState::Paused, 0.0),
        "paused: no rate"
    );
    // A step by hand after convergence: no longer converged.
    app.set_run(RunState::Converged);
    app.update(Action::Step);
    assert_eq!(*app.run(), RunState::Paused);
}

#[test]
fn a_diverged_report_stops_and_says_why() {
    let mut app = common::app_after(3);
    app.update(Action::ToggleRun);
    let ds = app.ds().clone();
    let mut r = common::report(&ds, 3);
    r.step = 4;
    r.diverged = Some("non-finite loss (NaN) at step 4".into());
    app.on_report(r, 0.0);
    assert!(matches!(app.run(), RunState::Diverged { step: 4, .. }));
    assert_eq!(
        app.history().last().map(|h| h.step),
        Some(3),
        "a refused step is not history"
    );
    app.update(Action::ToggleRun);
    assert!(
        matches!(app.run(), RunState::Diverged { .. }),
        "r cannot run a diverged model"
    );
}

#[test]
fn the_cursor_follows_its_segment_through_resorting() {
    let mut app = common::app_after(2);
    app.update(Action::Down);
    app.update(Action::Down);
    let seg = app.selected().expect("row");
    let ds = app.ds().clone();
    // A new step with predictions that reorder the shares.
    let mut r = common::report(&ds, 40);
    r.step = 3;
    r.eval_step = 3;
    app.on_report(r, 10.0);
    app.refresh_rows();
    assert_eq!(app.selected(), Some(seg));
}

#[test]
fn reports_mark_outliers_and_the_batch_and_keep_trends() {
    let app = common::app_after(5);
    assert!(app.analysis().outlier[3], "the flipped segment is flagged");
    assert_eq!(app.analysis().n_outliers.1, 0);
    assert!(
        app.analysis().in_batch[0] && !app.analysis().in_batch[10],
        "train rows are in the full batch, dev rows not"
    );
    assert_eq!(app.history().len(), 6);
    let (prev_train, _) = app.prev_metrics().expect("previous metrics");
    let now = app.report().as_ref().expect("report").train;
    assert!(now.mse < prev_train.mse);
}

#[test]
fn a_restored_best_step_truncates_the_charts_and_marks_the_best_again() {
    let mut app = common::app_after(8);
    let ds = app.ds().clone();
    // Dev loss rises after step 8 in these reports: step 8 stays the best.
    for step in 9..=11 {
        let mut r = common::report(&ds, 8);
        r.step = step;
        r.eval_step = step;
        r.dev.loss *= 1.0 + step as f64 / 100.0;
        app.on_report(r, 10.0);
    }
    assert_eq!(app.best().map(|b| b.0), Some(8));
    assert_eq!(app.history().last().map(|h| h.step), Some(11));
    // The source goes back to step 8.
    app.on_report(common::report(&ds, 8), 0.0);
    assert_eq!(app.history().last().map(|h| h.step), Some(8));
    assert!(app.pred_history().iter().all(|(s, _)| *s <= 8));
    assert_eq!(app.best().map(|b| b.0), Some(8));
    // Without a best step the key says why instead of asking the source.
    let mut fresh = common::app();
    fresh.update(Action::RestoreBest);
    assert!(engine_cmds(&mut fresh).is_empty());
    assert!(
        fresh
            .status()
            .as_deref()
            .unwrap_or("")
            .contains("no best step")
    );
}

#[test]
fn context_only_segments_are_hidden_until_asked_for() {
    use std::sync::Arc;
    let text = "{\"id\": \"a\", \"split\": \"train\", \"segments\": [{\"text\": \"scored\", \"score\": 1}, {\"text\": \"context\", \"score\": null}]}";
    let (ds, _) = segscope::data::parse_str(text, "t", &Default::default()).expect("data");
    let part = common::partition(&ds);
    let mut app = App::new(
        Arc::new(ds),
        part,
        Default::default(),
        common::info(),
        Keymap::default(),
    );
    assert_eq!(app.view().rows, vec![0]);
    app.update(Action::ShowContext);
    let mut rows = app.view().rows.clone();
    rows.sort();
    assert_eq!(rows, vec![0, 1]);
}

#[test]
fn keys_for_what_the_source_cannot_do_say_so() {
    let mut app = common::app_after(3);
    app.set_caps(segscope::app::Capabilities {
        run: false,
        ..app.caps()
    });
    app.set_caps(segscope::app::Capabilities {
        speed: false,
        ..app.caps()
    });
    app.set_caps(segscope::app::Capabilities {
        save: false,
        ..app.caps()
    });
    for a in [Action::ToggleRun, Action::Faster, Action::Save] {
        app.update(a);
        assert!(engine_cmds(&mut app).is_empty(), "{a:?} sent a command");
        assert!(app.status().is_some(), "{a:?} said nothing");
        assert_eq!(*app.run(), RunState::Paused);
    }
}

#[test]
fn a_rewind_cuts_the_charts_back_and_says_the_run_forked() {
    let mut app = common::app_after(12);
    let ds = app.ds().clone();
    app.update(Action::Mark);
    app.on_report(common::report(&ds, 8), 0.0);
    assert_eq!(app.forked(), Some((12, 8)));
    assert_eq!(app.history().last().map(|h| h.step), Some(8));
    assert!(app.pred_history().iter().all(|(s, _)| *s <= 8));
    let map = app.datamap().as_ref().expect("the map over the kept steps");
    assert_eq!(map.last, 8);
}

#[test]
fn a_crossfit_with_label_scores_adds_a_sortable_issue_column_and_the_filter_reads_tags() {
    use segscope::labels::crossfit::OofSegment;
    let mut app = common::app_after(5);
    let n = app.ds().segments.len();
    // Without label scores the sort skips the issue column.
    let mut seen = Vec::new();
    for _ in 0..12 {
        app.update(Action::NextSort);
        seen.push(app.view().sort);
    }
    assert!(!seen.contains(&SortKey::Issue));
    // Scores rising with the index, the last one flagged.
    let oof: Vec<OofSegment> = (0..n)
        .map(|i| OofSegment {
            pred: 0.0,
            residual: 0.0,
            label_score: i as f32,
            label_model: i as f32,
            label_document: f32::NAN,
            label_issue: i + 1 == n,
            ..OofSegment::MISSING
        })
        .collect();
    app.set_oof(oof);
    assert!(app.has_label_scores());
    // One key sorts by label issue, from any column.
    app.update(Action::SortByIssue);
    assert_eq!(app.view().sort, SortKey::Issue);
    app.refresh_rows();
    assert!(app.view().desc);
    let rows = &app.view().rows;
    assert!(rows.windows(2).all(|w| w[0] > w[1]), "{rows:?}");
    // The `/` filter reads meta labels: the fixture records `noise: flipped` for one segment.
    app.view_mut().filter = "label:noise=flipped".into();
    app.view_mut().split = Split::Train;
    app.refresh_rows();
    assert!(!app.view().rows.is_empty());
    assert!(
        app.view()
            .rows
            .iter()
            .all(|&i| app.ds().segments[i].label("noise") == Some("flipped"))
    );
}

#[test]
fn the_detail_view_shows_a_false_claim_and_the_suggested_first_error_and_f_moves_it() {
    use segscope::data::{Partition, ReadOptions};
    use segscope::labels::crossfit::OofSegment;
    let path = std::path::Path::new("../shared/data/processbench-gsm8k.json");
    let (ds, _) = segscope::data::read_file(path, &ReadOptions::default()).expect("ProcessBench");
    let ds = std::sync::Arc::new(ds);
    let part = std::sync::Arc::new(Partition::new(&ds, 0.0));
    let mut app = App::new(
        ds.clone(),
        part,
        segscope::config::UiConfig::default(),
        common::info(),
        Keymap::default(),
    );
    app.set_labels(segscope::labels::LabelInfo::detect(&ds));
    app.on_report(common::report(&ds, 1), 25.0);
    // A report that puts gsm8k-2's first error at step 0 (it is labelled at step 1).
    let doc = ds
        .docs
        .iter()
        .position(|d| d.id == "gsm8k-2")
        .expect("gsm8k-2");
    app.set_oof(
        (0..ds.segments.len())
            .map(|i| OofSegment {
                suggested_first_error: (ds.segments[i].doc == doc).then_some(0),
                suggested_probability: 0.7,
                ..OofSegment::MISSING
            })
            .collect(),
    );
    app.update(Action::Filter);
    for c in "gsm8k-2:1".chars() {
        app.update(Action::FilterChar(c));
    }
    app.update(Action::FilterDone);
    app.refresh_rows();
    app.update(Action::Detail);
    for (w, h) in [(160, 48), (100, 28)] {
        let screen = common::draw(&app, w, h);
        // The step claims 2/5 * 4000 = 800.
        assert!(
            screen.contains("verifier false: 2 / 5 · 4,000 = 800; it is 1,600"),
            "{w}x{h}: {screen}"
        );
        assert!(
            screen.contains("first error most likely step 0 (p 0.70)   labelled step 1"),
            "{w}x{h}: {screen}"
        );
    }
    app.update(Action::AcceptSuggestion);
    assert_eq!(app.edits().list.len(), 2, "{:?}", app.status());
    assert!(
        app.status()
            .as_deref()
            .is_some_and(|s| s.contains("gsm8k-2: first error moved to step 0")),
        "{:?}",
        app.status()
    );
    assert!(
        app.outbox()
            .iter()
            .any(|e| matches!(e, Effect::Source(Control::SetEdits(_))))
    );
}

#[test]
fn long_ids_that_share_a_prefix_stay_apart_in_the_table() {
    use segscope::data::{Partition, ReadOptions};
    let text = concat!(
        r#"{"id": "olympiadbench-26", "split": "train", "segments": [{"text": "a step", "score": 1}, {"text": "b step", "score": 0}]}"#,
        "\n",
        r#"{"id": "olympiadbench-27", "split": "train", "segments": [{"text": "c step", "score": 1}, {"text": "d step", "score": 0}]}"#,
        "\n"
    );
    let (ds, _) =
        segscope::data::parse_str(text, "o.jsonl", &ReadOptions::default()).expect("parse");
    let ds = std::sync::Arc::new(ds);
    let part = std::sync::Arc::new(Partition::new(&ds, 0.0));
    let mut app = App::new(
        ds.clone(),
        part,
        segscope::config::UiConfig::default(),
        common::info(),
        Keymap::default(),
    );
    app.on_report(common::report(&ds, 1), 25.0);
    app.refresh_rows();
    let wide = common::draw(&app, 160, 48);
    assert!(
        wide.contains("…dbench-26") && wide.contains("…dbench-27"),
        "{wide}"
    );
    // At 100x28 the document column gives way to the text; where ids show, none is cut alike.
    for screen in [wide, common::draw(&app, 100, 28)] {
        assert!(!screen.contains("olympiadb…"), "{screen}");
    }
}

#[test]
fn latex_reads_as_unicode_in_the_preview_and_detail_views_and_l_shows_it_raw() {
    use segscope::data::{Partition, ReadOptions};
    let text = concat!(
        r#"{"id": "p-1", "split": "train", "prompt": "Find \\(x^{2}\\).", "segments": ["#,
        r#"{"text": "So \\(\\frac{1}{2\\sqrt{2}}\\) and \\(\\mathcal{P}^{-1}\\).", "score": 1}, "#,
        r#"{"text": "The answer is \\boxed{14}.", "score": 0}]}"#,
        "\n"
    );
    let (ds, _) =
        segscope::data::parse_str(text, "m.jsonl", &ReadOptions::default()).expect("parse");
    let ds = std::sync::Arc::new(ds);
    let part = std::sync::Arc::new(Partition::new(&ds, 0.0));
    let mut app = App::new(
        ds.clone(),
        part,
        segscope::config::UiConfig::default(),
        common::info(),
        Keymap::default(),
    );
    app.on_report(common::report(&ds, 1), 25.0);
    app.update(Action::Filter);
    for c in "p-1:0".chars() {
        app.update(Action::FilterChar(c));
    }
    app.update(Action::FilterDone);
    app.refresh_rows();
    for (w, h) in [(160, 48), (100, 28)] {
        let screen = common::draw(&app, w, h);
        assert!(screen.contains("So 1/(2√2) and 𝒫⁻¹."), "{w}x{h}: {screen}");
    }
    app.update(Action::Detail);
    let screen = common::draw(&app, 160, 48);
    assert!(screen.contains("So 1/(2√2) and 𝒫⁻¹."), "{screen}");
    assert!(screen.contains("Find x²."), "{screen}");
    app.update(Action::RawMath);
    let screen = common::draw(&app, 160, 48);
    assert!(screen.contains(r"\frac{1}{2\sqrt{2}}"), "{screen}");
}
