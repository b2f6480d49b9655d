//! Whole-screen snapshots (ratatui TestBackend + insta) of the main view, the detail view and the
//! help overlay at 160x48, drawn from hand-made step reports.

use crate::common;

use segscope::app::{Action, App};

#[test]
fn main_view() {
    let app = common::app_after(12);
    insta::assert_snapshot!("main_view", common::draw(&app, 160, 48));
}

#[test]
fn main_view_before_any_step() {
    let app = common::app();
    insta::assert_snapshot!("main_view_empty", common::draw(&app, 160, 48));
}

#[test]
fn detail_view_shows_the_last_step_and_the_data_labels() {
    let mut app = common::app_after(12);
    // The flipped segment: first by share.
    assert_eq!(app.selected(), Some(3));
    app.update(Action::Detail);
    let screen = common::draw(&app, 160, 48);
    assert!(screen.contains("noise flipped"), "the meta label is shown");
    assert!(
        screen.contains("of the gap to the target"),
        "what the last step did"
    );
    insta::assert_snapshot!("detail_view", screen);
}

#[test]
fn help_overlay_lists_every_key() {
    let mut app = common::app_after(12);
    app.update(Action::Help);
    let screen = common::draw(&app, 160, 48);
    for (keys, text) in app.keymap().help() {
        assert!(screen.contains(&keys), "help lacks {keys}");
        assert!(screen.contains(text), "help lacks {text}");
    }
    insta::assert_snapshot!("help_overlay", screen);
}

#[test]
fn log_scale_recent_history_and_dev_split() {
    let mut app = common::app_after(12);
    app.update(Action::LogY);
    app.update(Action::ToggleSplit);
    app.update(Action::NextSort);
    insta::assert_snapshot!("main_view_log_dev", common::draw(&app, 160, 48));
}

#[test]
fn a_small_terminal_gets_a_message_not_a_panic() {
    let app = common::app_after(2);
    let screen = common::draw(&app, 60, 10);
    assert!(screen.contains("needs a terminal of at least"));
    // Odd sizes around the minimum draw without panicking.
    for (w, h) in [(100, 28), (101, 29), (240, 70), (100, 60), (300, 28)] {
        let s = common::draw(&app, w, h);
        assert!(s.contains("segscope"), "{w}x{h}");
    }
}

/// A comparison of an MSE model with a pairwise one whose predictions are the MSE model's shifted
/// by +1.5: the same ranking, every value off.
fn compare_app() -> App {
    use segscope::engine::{ModelResult, SegmentEval};
    use std::sync::Arc;
    let mut app = common::app();
    let ds = app.ds().clone();
    let part = common::partition(&ds);
    for step in 0..=12 {
        let mut r = common::report(&ds, step);
        let mse = ModelResult {
            name: "mse".into(),
            loss: r.train.loss,
            segments: r.segments.clone(),
            train: r.train,
            dev: r.dev,
            affine: None,
        };
        let shifted: Vec<f32> = r.segments.iter().map(|e| e.pred + 1.5).collect();
        let mut segs = vec![SegmentEval::default(); shifted.len()];
        let rows = |s| part.indices(s);
        let loss = segscope::engine::LossKind::Mse;
        use segscope::engine::report::evaluate_split;
        let train = evaluate_split(
            &ds,
            &shifted,
            &rows(segscope::data::Split::Train),
            loss,
            &mut segs,
        );
        let dev = evaluate_split(
            &ds,
            &shifted,
            &rows(segscope::data::Split::Dev),
            loss,
            &mut segs,
        );
        let affine = segscope::source::compare::affine(&ds, &part, &segs);
        let pw = ModelResult {
            name: "pairwise".into(),
            loss: train.loss,
            segments: Arc::new(segs),
            train,
            dev,
            affine: Some(affine),
        };
        r.models = vec![mse, pw];
        app.on_report(r, 20.0);
    }
    app.refresh_rows();
    app
}

#[test]
fn compare_view_shows_every_model_side_by_side() {
    let mut app = compare_app();
    let screen = common::draw(&app, 160, 48);
    for want in [
        "mse p",
        "pair r",
        "Dev MSE",
        "leads: MSE mse",
        "affine a·p+b",
        "MSE after",
    ] {
        assert!(screen.contains(want), "{want} missing:\n{screen}");
    }
    insta::assert_snapshot!("compare_view", screen);
    app.update(Action::Detail);
    let screen = common::draw(&app, 160, 48);
    assert!(
        screen.contains("━ pairwise"),
        "each model's history in the detail view"
    );
    insta::assert_snapshot!("compare_detail", screen);
}

#[test]
fn mini_batch_rows_older_than_the_step_are_marked() {
    let mut app = common::app_after(11);
    let ds = app.ds().clone();
    // Step 12 between refreshes: the batch (segment 0) predicted by its own forward pass (the
    // model after step 11), the other rows by the refresh at step 10, segment 1 refreshed now.
    let mut r = common::report(&ds, 12);
    r.eval_step = 10;
    r.batch = std::sync::Arc::new(vec![0]);
    let mut steps = vec![10u64; ds.segments.len()];
    steps[0] = 11;
    steps[1] = 12;
    r.pred_steps = std::sync::Arc::new(steps);
    app.on_report(r, 25.0);
    app.refresh_rows();
    let screen = common::draw(&app, 160, 48);
    let row_of = |i: usize| {
        let text: String = ds.segments[i].text.chars().take(20).collect();
        screen
            .lines()
            .find(|l| l.contains(&text))
            .unwrap_or_else(|| panic!("segment {i} is on screen"))
            .to_string()
    };
    assert!(row_of(0).contains('•'), "the batch row: {}", row_of(0));
    assert!(row_of(2).contains('·'), "an older row: {}", row_of(2));
    assert!(
        !row_of(1).contains('·') && !row_of(1).contains('•'),
        "a current row is unmarked: {}",
        row_of(1)
    );
    insta::assert_snapshot!("main_view_mini_batch", screen);
}

#[test]
fn data_map_panel_and_region_filter() {
    let mut app = common::app_after(12);
    app.update(Action::DataMap);
    app.update(Action::Region);
    app.update(Action::Region);
    app.update(Action::Region);
    let screen = common::draw(&app, 160, 48);
    assert!(
        screen.contains("Data map"),
        "the panel replaces the loss chart"
    );
    assert!(
        screen.contains("data map: hard only"),
        "the table says it is filtered"
    );
    insta::assert_snapshot!("data_map", screen);
}

#[test]
fn diff_view_lists_what_moved_since_the_mark() {
    let mut app = common::app();
    let ds = app.ds().clone();
    for s in 0..=4 {
        app.on_report(common::report(&ds, s), 25.0);
    }
    app.update(Action::Mark);
    for s in 5..=12 {
        app.on_report(common::report(&ds, s), 25.0);
    }
    app.refresh_rows();
    app.update(Action::Diff);
    let screen = common::draw(&app, 160, 48);
    assert!(screen.contains("step 4 → step 12"));
    insta::assert_snapshot!("diff_view", screen);
}

#[test]
fn edits_show_in_a_column_a_panel_and_on_the_loss_chart() {
    let mut app = common::app_after(12);
    app.update(Action::Exclude);
    app.update(Action::Down);
    app.update(Action::Target);
    for c in "-0.25".chars() {
        app.update(Action::FilterChar(c));
    }
    let typing = common::draw(&app, 160, 48);
    assert!(
        typing.contains("new target for"),
        "the prompt is in the footer"
    );
    app.update(Action::FilterDone);
    let screen = common::draw(&app, 160, 48);
    assert!(
        screen.contains("excl") && screen.contains("t -0.25"),
        "the edit column"
    );
    assert!(screen.contains("2 edits"), "the loss chart says so");
    insta::assert_snapshot!("edits_main", screen);
    app.update(Action::EditsPanel);
    let panel = common::draw(&app, 160, 48);
    assert!(panel.contains("What-if edits") && panel.contains("exclude"));
    insta::assert_snapshot!("edits_panel", panel);
}

#[test]
fn a_long_list_of_edits_opens_on_the_newest_and_scrolls_to_the_oldest() {
    let mut app = common::app_after(12);
    // Thirty targets typed for one segment: 0.01, 0.02, ... 0.30, oldest first.
    for k in 1..=30 {
        app.update(Action::Target);
        for c in format!("{:.2}", k as f64 / 100.0).chars() {
            app.update(Action::FilterChar(c));
        }
        app.update(Action::FilterDone);
    }
    assert_eq!(app.edits().list.len(), 30);
    app.update(Action::EditsPanel);
    let newest = common::draw(&app, 100, 28);
    assert!(
        newest.contains("+0.300"),
        "the newest edit is shown\n{newest}"
    );
    assert!(
        !newest.contains("+0.010"),
        "the oldest is scrolled past\n{newest}"
    );
    assert!(
        newest.contains("(↑ ↓ scroll)"),
        "the title says it scrolls\n{newest}"
    );
    app.update(Action::Home);
    let oldest = common::draw(&app, 100, 28);
    assert!(
        oldest.contains("+0.010") && !oldest.contains("+0.300"),
        "{oldest}"
    );
    // Down moves the selection through the box before it scrolls.
    for _ in 0..16 {
        app.update(Action::Down);
    }
    let next = common::draw(&app, 100, 28);
    assert!(
        !next.contains("+0.010") && next.contains("+0.170"),
        "{next}"
    );
}

#[test]
fn the_data_map_takes_log_y_too() {
    let mut app = common::app_after(12);
    app.update(Action::DataMap);
    app.update(Action::LogY);
    let screen = common::draw(&app, 160, 48);
    assert!(screen.contains("mean |residual|, log"), "the axis says so");
}

#[test]
fn help_shows_every_key_on_the_smallest_terminal() {
    // At 100x28 the help is taller than the screen: scrolling through it shows every key and
    // every description whole, none cut at the edge.
    let mut app = common::app_after(12);
    app.update(Action::Help);
    let mut seen = String::new();
    for _ in 0..12 {
        let screen = common::draw(&app, 100, 28);
        assert!(
            screen.contains("scroll"),
            "the help says it scrolls: {screen}"
        );
        seen.push_str(&screen);
        app.update(Action::PageDown);
    }
    // Lines joined: a description wrapped under its key reads on.
    let text: String = seen
        .lines()
        .map(|l| l.trim_matches(|c| c == '"' || c == '│' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ");
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = words(&text);
    for (keys, help) in app.keymap().help() {
        assert!(text.contains(&keys), "help at 100x28 lacks {keys}");
        let last: String = words(help)
            .split(' ')
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            text.contains(&words(help).split(' ').take(3).collect::<Vec<_>>().join(" ")),
            "help at 100x28 lacks the start of: {help}"
        );
        let tail: Vec<&str> = last.split(' ').collect();
        assert!(
            tail.iter().all(|w| text.contains(w)),
            "help at 100x28 cuts: {help}"
        );
    }
}

#[test]
fn a_cross_fit_with_label_scores_shows_an_issue_column_and_narrow_screens_keep_the_text() {
    use segscope::labels::crossfit::OofSegment;
    let mut app = common::app_after(12);
    let n = app.ds().segments.len();
    app.set_oof(
        (0..n)
            .map(|i| OofSegment {
                pred: 0.1,
                residual: 0.2,
                label_score: i as f32 / 10.0,
                label_model: 0.5,
                label_document: f32::NAN,
                label_issue: i == 3,
                ..OofSegment::MISSING
            })
            .collect(),
    );
    let wide = common::draw(&app, 160, 48);
    assert!(wide.contains(" issue"), "{wide}");
    // The column says what it shows: the residual, as the report's `oof_residual`.
    assert!(wide.contains("oof res"), "{wide}");
    assert!(wide.contains("0.30!"), "the flagged row is marked: {wide}");
    // At the smallest supported size the optional columns give way and the text stays.
    let narrow = common::draw(&app, 100, 28);
    let header = narrow
        .lines()
        .find(|l| l.contains("  #") && l.contains("target"))
        .expect("the table's header");
    assert!(header.contains("text"), "{header}");
    assert!(narrow.contains("too narrow"), "{narrow}");
    // The detail view explains the score.
    app.view_mut().cursor = app.view().rows.iter().position(|&i| i == 3).expect("row 3");
    app.update(Action::Detail);
    let detail = common::draw(&app, 160, 48);
    assert!(detail.contains("label issue 0.30"), "{detail}");
    assert!(detail.contains("flagged"), "{detail}");
}

/// The document view on real ProcessBench data with multi-line LaTeX steps (gsm8k-79: three
/// steps, the first error labelled at step 1), with a suggestion elsewhere, at both sizes.
#[test]
fn the_document_view_on_processbench_at_both_sizes() {
    use segscope::app::Overlay;
    use segscope::labels::crossfit::OofSegment;
    let mut app = processbench_app();
    let ds = app.ds().clone();
    let doc = ds
        .docs
        .iter()
        .position(|d| d.id == "gsm8k-79")
        .expect("gsm8k-79");
    let steps = ds.docs[doc].segments.clone();
    app.set_oof(
        (0..ds.segments.len())
            .map(|i| OofSegment {
                pred: 0.8,
                label_score: if i == steps.start + 1 { 0.9 } else { 0.1 },
                label_issue: i == steps.start + 1,
                suggested_first_error: (ds.segments[i].doc == doc).then_some(2),
                suggested_probability: 0.6,
                ..OofSegment::MISSING
            })
            .collect(),
    );
    app.set_overlay(Overlay::Document(steps.start + 1));
    for (w, h) in [(100, 28), (160, 48)] {
        let screen = common::draw(&app, w, h);
        assert!(screen.contains("gsm8k-79"), "{screen}");
        assert!(
            screen.contains("first error labelled step 1"),
            "{w}x{h}: {screen}"
        );
        assert!(
            screen.contains("◀ labelled first error"),
            "{w}x{h}: {screen}"
        );
        assert!(
            screen.contains("◆ suggested first error"),
            "{w}x{h}: {screen}"
        );
        assert!(screen.contains("⚑ flagged"), "{w}x{h}: {screen}");
        // Math as Unicode by default; the raw LaTeX one key away.
        assert!(!screen.contains("\\frac"), "{w}x{h}: {screen}");
        insta::assert_snapshot!(format!("document_view_{w}x{h}"), screen);
    }
    app.update(Action::RawMath);
    let raw = common::draw(&app, 160, 48);
    assert!(raw.contains("\\frac") || raw.contains("\\("), "{raw}");
}

/// The table on real ProcessBench data after an audit, at both sizes: sorted by label issue, the
/// issue column stays; ids tell documents apart; shares read as what their bars are; the
/// out-of-fold column is named as the report names it.
#[test]
fn the_table_on_processbench_after_an_audit_at_both_sizes() {
    use segscope::labels::crossfit::OofSegment;
    let mut app = processbench_app();
    let ds = app.ds().clone();
    let n = ds.segments.len();
    app.set_oof(
        (0..n)
            .map(|i| OofSegment {
                pred: 0.5,
                residual: 0.1,
                label_score: ((i * 7919) % n) as f32 / n as f32,
                label_issue: (i * 7919) % n > n - 5,
                ..OofSegment::MISSING
            })
            .collect(),
    );
    app.update(Action::SortByIssue);
    for (w, h) in [(100, 28), (160, 48)] {
        app.set_page(10);
        let screen = common::draw(&app, w, h);
        let title = screen.lines().nth(2).unwrap_or_default();
        assert!(title.contains("sorted by label issue"), "{w}x{h}: {title}");
        assert!(!title.contains("narrow for issue"), "{w}x{h}: {title}");
        assert!(screen.contains("issue"), "{w}x{h}");
        assert!(!screen.contains(" 0.0%"), "{w}x{h}: a share is never 0.0%");
        if w >= 160 {
            assert!(screen.contains("share of max"), "{w}x{h}");
            assert!(screen.contains("oof res"), "{w}x{h}");
            // Ids keep their distinguishing end.
            assert!(screen.contains("gsm8k-"), "{w}x{h}");
            assert!(!screen.contains("gsm8k…"), "{w}x{h}");
        }
    }
}

/// The dashboard's app on the real ProcessBench GSM8K data after one step, its labels read.
fn processbench_app() -> segscope::app::App {
    use segscope::data::{Partition, ReadOptions};
    let path = std::path::Path::new("../shared/data/processbench-gsm8k.json");
    let (ds, _) = segscope::data::read_file(path, &ReadOptions::default()).expect("ProcessBench");
    let ds = std::sync::Arc::new(ds);
    let part = std::sync::Arc::new(Partition::new(&ds, 0.0));
    let mut app = segscope::app::App::new(
        ds.clone(),
        part,
        segscope::config::UiConfig::default(),
        common::info(),
        segscope::app::Keymap::default(),
    );
    app.set_labels(segscope::labels::LabelInfo::detect(&ds));
    app.on_report(common::report(&ds, 1), 25.0);
    app
}
