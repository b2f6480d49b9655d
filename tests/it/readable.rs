//! Readable on real data: a multi-line step in the table, the preview and the detail view; tags
//! and a document's scalar `meta` as labels; the diff view's own cursor.

use crate::common;

use std::sync::Arc;

use segscope::app::{Action, App, Keymap, Overlay};
use segscope::config::UiConfig;
use segscope::data::{ReadOptions, parse_str};

/// ProcessBench's shape: a step whose answer is on its second line, a document-level generator.
const DATA: &str = r#"{"id": "math-454", "prompt": "Simplify.", "split": "train", "meta": {"generator": "Qwen2-7B", "final_answer_correct": false}, "segments": [{"text": "Combine like terms.", "score": 1.0, "tags": ["algebra"]}, {"text": "Thus, the final answer is:\n\\boxed{3a-2}", "score": 0.0, "tags": ["answer"]}]}
{"id": "math-2", "prompt": "Add.", "split": "dev", "segments": [{"text": "Intersection Points\nThe intersection is at x = 2.", "score": 1.0}]}
"#;

fn app() -> App {
    let ds = Arc::new(
        parse_str(DATA, "pb.jsonl", &ReadOptions::default())
            .expect("data")
            .0,
    );
    let part = common::partition(&ds);
    let mut app = App::new(
        ds,
        part,
        UiConfig::default(),
        common::info(),
        Keymap::default(),
    );
    app.view_mut().sort = segscope::app::SortKey::Id;
    app.view_mut().desc = false;
    app.refresh_rows();
    app
}

#[test]
fn a_step_past_its_first_line_break_is_shown_whole() {
    let mut app = app();
    app.update(Action::Down);
    assert_eq!(app.selected(), Some(1));
    for (w, h) in [(160, 48), (100, 28)] {
        let screen = common::draw(&app, w, h);
        // The table keeps the line after the break, marked (at 100 columns the text column is
        // too narrow to reach it; the preview has it).
        if w == 160 {
            assert!(
                screen.contains("Thus, the final answer is: ↵ [3a-2]"),
                "{screen}"
            );
        }
        // The preview has both lines, each on its own.
        let lines: Vec<&str> = screen.lines().collect();
        let first = lines
            .iter()
            .position(|l| l.contains("│Thus, the final answer is:  "))
            .unwrap_or_else(|| panic!("{w}x{h}: the preview's first line: {screen}"));
        assert!(
            // LaTeX reads as text by default (`L` shows it raw).
            lines[first + 1].contains("│[3a-2]"),
            "{w}x{h}: {screen}"
        );
        // Its title names the segment, its tags and the document's labels.
        assert!(screen.contains("math-454:1"), "{screen}");
        assert!(screen.contains("answer,"), "{screen}");
    }
    app.update(Action::Preview);
    assert!(
        !common::draw(&app, 160, 48).contains("│[3a-2]"),
        "v hides the preview"
    );
}

#[test]
fn the_detail_view_keeps_line_breaks_and_scrolls() {
    let mut app = app();
    app.update(Action::ToggleSplit);
    app.update(Action::Detail);
    let screen = common::draw(&app, 160, 48);
    assert!(
        !screen.contains("PointsThe"),
        "lines are not joined: {screen}"
    );
    assert!(screen.contains("Intersection Points"), "{screen}");
    assert!(screen.contains("The intersection is at x = 2."), "{screen}");
    assert!(screen.contains("scroll the text"), "{screen}");
    app.update(Action::PageDown);
    assert_eq!(
        app.detail().scroll,
        5,
        "PgDn scrolls the detail view's text"
    );
    assert!(
        matches!(app.overlay(), Overlay::Detail(_)),
        "and stays in it"
    );
    app.update(Action::PageUp);
    assert_eq!(app.detail().scroll, 0);
}

#[test]
fn tags_and_scalar_meta_are_labels_in_the_column_filter_and_detail() {
    let mut app = app();
    let s = &app.ds().segments[1];
    assert!(
        s.labels.contains(&("generator".into(), "Qwen2-7B".into())),
        "{:?}",
        s.labels
    );
    assert!(
        s.labels
            .contains(&("final_answer_correct".into(), "false".into()))
    );
    app.update(Action::TagsColumn);
    let screen = common::draw(&app, 200, 48);
    assert!(screen.contains("tags · labels"), "{screen}");
    assert!(screen.contains("algebra,false,Qwe…"), "{screen}");
    for c in "tag:answer".chars() {
        app.update(Action::Filter);
        app.update(Action::FilterChar(c));
    }
    app.update(Action::FilterDone);
    assert_eq!(app.view().rows, vec![1]);
    app.update(Action::Back);
    for c in "label:qwen".chars() {
        app.update(Action::FilterChar(c));
    }
    assert_eq!(
        app.view().rows,
        vec![0, 1],
        "both steps of the Qwen document"
    );
    // A plain word finds tags and labels too (`/answer`, `/qwen2`).
    app.update(Action::Back);
    for c in "algebra".chars() {
        app.update(Action::FilterChar(c));
    }
    assert_eq!(app.view().rows, vec![0], "a plain word matches a tag");
    app.update(Action::Detail);
    let detail = common::draw(&app, 160, 48);
    assert!(detail.contains("generator Qwen2-7B"), "{detail}");
}

#[test]
fn the_diff_view_has_its_own_cursor_enter_opens_its_row_and_esc_comes_back() {
    let mut app = common::app_after(4);
    app.update(Action::Mark);
    let ds = app.ds().clone();
    for s in 5..=12 {
        app.on_report(common::report(&ds, s), 25.0);
    }
    app.refresh_rows();
    let table_sel = app.selected();
    app.update(Action::Diff);
    assert_eq!(app.overlay(), Overlay::Diff);
    app.update(Action::Down);
    assert_eq!(app.diff().cursor, 1);
    assert_eq!(app.selected(), table_sel, "the main table's cursor stays");
    let second = app.diff_moved(2)[1].0;
    app.update(Action::Detail);
    assert_eq!(
        app.overlay(),
        Overlay::Detail(second),
        "the diff's row, not the table's"
    );
    app.update(Action::Back);
    assert_eq!(app.overlay(), Overlay::Diff, "Esc comes back to the diff");
    app.update(Action::Back);
    assert_eq!(app.overlay(), Overlay::None);
}

#[test]
fn a_cross_fit_of_other_data_is_refused_not_loaded_blank() {
    let ds = parse_str(DATA, "pb.jsonl", &ReadOptions::default())
        .expect("data")
        .0;
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("oof.csv");
    let header =
        "id,text,oof_prediction,oof_residual,label_score,label_model,label_document,label_issue";
    // The same ids, other text: another data set's cross-fit.
    std::fs::write(
        &p,
        format!("{header}\nmath-454:0,Something else.,0.5,0.5,0.1,0.5,,false\n"),
    )
    .expect("write");
    let e = segscope::labels::crossfit::read(&p, &ds)
        .expect_err("refused")
        .to_string();
    assert!(e.contains("other text"), "{e}");
    // One row of this data and one of other data: loaded, and the other counted.
    std::fs::write(
        &p,
        format!(
            "{header}\nmath-454:0,Combine like terms.,0.5,0.5,0.1,0.5,,false\nmath-454:1,Not this.,0.5,0.5,0.1,0.5,,false\n"
        ),
    )
    .expect("write");
    let (oof, unknown) = segscope::labels::crossfit::read(&p, &ds).expect("read");
    assert_eq!(unknown, 1);
    assert!(oof[0].pred.is_finite() && oof[1].pred.is_nan());
}

#[test]
fn an_edited_segment_stays_selected_through_the_re_sort() {
    let mut app = common::app_after(12);
    app.set_caps(segscope::app::Capabilities::TRAINER);
    // The top row (the cursor at 0 normally stays at the top through a re-sort).
    let first = app.selected().expect("a row");
    app.update(Action::Target);
    for c in "-0.9".chars() {
        app.update(Action::FilterChar(c));
    }
    app.update(Action::FilterDone);
    assert_eq!(app.edits().list.len(), 1);
    // The edit makes the segment's share small: it sorts elsewhere, and the cursor follows it.
    let ds = app.ds().clone();
    let mut r = common::report(&ds, 13);
    let mut segs = (*r.segments).clone();
    segs[first].share = 0.0;
    r.segments = Arc::new(segs);
    app.on_report(r, 0.0);
    app.refresh_rows();
    assert_eq!(app.selected(), Some(first));
    assert_ne!(app.view().cursor, 0, "it moved down the table");
}

#[test]
fn a_long_status_is_never_cut_mid_word_at_100x28() {
    let mut app = common::app_after(3);
    let msg = "exported 3471 segments to /a/rather/long/path/segscope-segments.csv, and the edits to /a/rather/long/path/segscope-segments.edits.jsonl";
    app.on_io_done(msg.into());
    let screen = common::draw(&app, 100, 28);
    let line = screen.lines().nth(1).expect("the header's second line");
    let shown = line.trim_matches('"').trim();
    assert!(shown.starts_with("exported 3471 segments"), "{line}");
    assert!(shown.ends_with('…'), "{line}");
    let cut = shown.trim_end_matches('…');
    assert!(
        msg.starts_with(cut) && msg[cut.len()..].starts_with(' '),
        "cut at a word: {line}"
    );
    // A short one stays beside the losses.
    app.on_io_done("saved".into());
    let screen = common::draw(&app, 100, 28);
    assert!(
        screen
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("train loss") && l.contains("saved"))
    );
}

#[test]
fn the_detail_view_shows_no_raters_spread_without_raters() {
    let mut app = app();
    app.update(Action::Detail);
    let screen = common::draw(&app, 160, 48);
    assert!(screen.contains("raters"), "{screen}");
    assert!(!screen.contains("spread 0.00"), "{screen}");
}

#[test]
fn the_detail_view_keeps_its_facts_at_100x28() {
    let mut app = common::app_after(12);
    app.update(Action::Detail);
    let screen = common::draw(&app, 100, 28);
    assert!(screen.contains("last step (12)"), "{screen}");
    assert!(screen.contains("data map"), "{screen}");
    assert!(screen.contains("data labels"), "{screen}");
}

#[test]
fn the_data_map_title_keeps_every_count_at_100x28() {
    let mut app = common::app_after(12);
    app.update(Action::DataMap);
    let map = app.datamap().as_ref().expect("a data map");
    let counts = map.counts(app.part(), segscope::data::Split::Train);
    let screen = common::draw(&app, 100, 28);
    let title = screen.lines().nth(2).expect("the panels' top line");
    let want = format!("e {} a {} h {}", counts[0], counts[1], counts[2]);
    assert!(title.contains(&want), "{want} in {title}");
    let wide = common::draw(&app, 160, 48);
    assert!(
        wide.contains(&format!(
            "easy {} ambiguous {} hard {}",
            counts[0], counts[1], counts[2]
        )),
        "{wide}"
    );
}

#[test]
fn the_first_error_f1_shows_its_threshold_at_both_sizes() {
    let mut app = common::app_after(3);
    app.set_label_metrics(Some(segscope::labels::prm_metrics::LabelMetrics {
        auroc: (0.9, 0.7),
        log_loss: (0.3, 0.4),
        brier: (0.1, 0.1),
        first_error_f1: 0.3333,
        threshold: 0.7,
        first_error_f1_missing: None,
    }));
    for (w, h) in [(160, 48), (100, 28)] {
        let screen = common::draw(&app, w, h);
        let row = screen
            .lines()
            .find(|l| l.contains("1st-err F1"))
            .unwrap_or_else(|| panic!("{w}x{h}: no first-error F1 row: {screen}"));
        // At 100 columns the label used to lose its threshold: `1st-err F1@0`.
        assert!(
            row.contains("@ 0.70") && row.contains("0.3333"),
            "{w}x{h}: {row}"
        );
    }
}

#[test]
fn the_flags_expected_precision_stays_in_the_header_at_100x28() {
    let mut app = common::app_after(3);
    // What `--crossfit` sets beside an audit: the label kind, then the audit's expectation.
    app.set_labels_note("binary 0/1, first-error · flags P~0.52 R~0.82 (audit)".to_string());
    for (w, h) in [(160, 48), (100, 28)] {
        let screen = common::draw(&app, w, h);
        let header = screen.lines().nth(1).unwrap_or_default();
        // At 100 columns the outlier counts and their rule came first and cut it at "labels binar".
        assert!(
            header.contains("flags P~0.52 R~0.82 (audit)"),
            "{w}x{h}: {header}"
        );
    }
    let wide = common::draw(&app, 160, 48);
    assert!(wide.lines().nth(1).unwrap_or_default().contains("outliers"));
}
