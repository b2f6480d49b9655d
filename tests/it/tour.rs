//! `segscope tour`: every page's numbers against the hand-computed values of the three facts
//! (the same ones `tests/engine.rs` pins in `fact_*`), the page keys, and snapshots of every page
//! at 100x28 and 160x48.

use crate::common;

use segscope::app::{Action, App};
use segscope::config::BackendKind;
use segscope::tour::{self, Leave, PAGES, Page, PageRun};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn runs() -> Vec<PageRun> {
    tour::headless(BackendKind::Flex).expect("the tour runs")
}

fn page(runs: &[PageRun], p: Page) -> &PageRun {
    runs.iter().find(|r| r.page == p).expect("every page runs")
}

#[test]
fn the_tour_numbers_are_the_three_facts() {
    let runs = runs();
    assert_eq!(runs.len(), PAGES.len());

    // Fact 1: target 0.8, prediction 0.3: loss 0.25, dL/dpred = 2 (0.3 - 0.8) = -1.0.
    let one = page(&runs, Page::OneStep);
    let [focus, similar, unrelated] = &one.before.segments[..] else {
        panic!("scene 1 has three sentences")
    };
    assert!(close(focus.target, 0.8, 1e-6) && close(focus.pred, 0.3, 1e-5));
    assert!(close(focus.loss, 0.25, 1e-5), "loss {}", focus.loss);
    assert!(
        close(focus.dl_dpred, -1.0, 1e-5),
        "dL/dpred {}",
        focus.dl_dpred
    );
    assert_eq!((similar.split, unrelated.split), ("dev", "dev"));
    let [focus, similar, unrelated] = &one.after.segments[..] else {
        panic!("scene 1 has three sentences")
    };
    let gap = focus.moved_of_gap.expect("a step was taken");
    assert!(
        gap > 0.0 && gap < 1.0,
        "toward 0.8 without overshooting: {gap}"
    );
    assert!(close(focus.pred, 0.3 + focus.moved.unwrap_or(0.0), 1e-6));
    let (ms, mu, mf) = (
        similar.moved.unwrap_or(0.0),
        unrelated.moved.unwrap_or(0.0),
        focus.moved.unwrap_or(0.0),
    );
    assert!(
        ms > 0.7 * mf && mu < 0.5 * mf,
        "the similar sentence moves with it ({ms}), the unrelated one much less ({mu}) of {mf}"
    );

    // Fact 2: targets 0.9, 0.1, -0.6; predictions 0.8, 0.5, -0.7: squared errors 0.01, 0.16,
    // 0.01, shares 1/18, 16/18, 1/18.
    let two = page(&runs, Page::Shares);
    let want = [
        (0.8, 0.01, 1.0 / 18.0),
        (0.5, 0.16, 16.0 / 18.0),
        (-0.7, 0.01, 1.0 / 18.0),
    ];
    for (s, (pred, loss, share)) in two.before.segments.iter().zip(want) {
        assert!(close(s.pred, pred, 1e-5), "{} pred {}", s.id, s.pred);
        assert!(close(s.loss, loss, 1e-5), "{} loss {}", s.id, s.loss);
        assert!(close(s.share, share, 1e-5), "{} share {}", s.id, s.share);
    }
    let grads: Vec<f64> = two
        .before
        .segments
        .iter()
        .filter_map(|s| s.grad_share)
        .collect();
    assert_eq!(grads.len(), 3);
    assert!(
        grads[1] > grads[0] && grads[1] > grads[2] && grads[1] < 16.0 / 18.0,
        "the largest error leads the update, by less than it leads the loss: {grads:?}"
    );
    let most = two
        .after
        .segments
        .iter()
        .max_by(|a, b| {
            a.moved
                .unwrap_or(0.0)
                .abs()
                .total_cmp(&b.moved.unwrap_or(0.0).abs())
        })
        .expect("three segments");
    assert_eq!(
        most.id, "roast:1",
        "the prediction with 16/18 of the loss moves most"
    );

    // Fact 3: the right order, shifted by 0.25: rank metrics 1, MSE = 0.25^2 + 0 = 0.0625.
    let shifted = &page(&runs, Page::Shifted).before.train;
    let scaled = &page(&runs, Page::Scaled).before.train;
    for t in [shifted, scaled] {
        assert!(close(t.spearman, 1.0, 1e-9) && close(t.kendall, 1.0, 1e-9));
        assert!(close(t.pairwise, 1.0, 1e-9));
        assert!(close(t.mse, t.bias_sq + t.var_residual, 1e-9));
        assert!(t.mse > 0.0);
    }
    assert!(close(shifted.mse, 0.0625, 1e-5) && close(shifted.bias, -0.25, 1e-5));
    assert!(close(shifted.var_residual, 0.0, 1e-6));
    // 0.5 x target: residuals 0.45, 0.05, -0.3; bias 1/15, Var 0.0938889, MSE 0.0983333.
    assert!(close(scaled.bias, 1.0 / 15.0, 1e-5), "bias {}", scaled.bias);
    assert!(close(scaled.var_residual, 0.0938889, 1e-5));
    assert!(close(scaled.mse, 0.0983333, 1e-5));

    // The comparison: the pairwise model keeps the order at least as well and drifts in value.
    let cmp = &page(&runs, Page::Compare).after;
    let m = |name: &str| {
        cmp.models
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("model {name}"))
    };
    let (mse, pw) = (m("mse"), m("pairwise"));
    assert!(
        pw.dev.pairwise >= mse.dev.pairwise,
        "{} {}",
        pw.dev.pairwise,
        mse.dev.pairwise
    );
    assert!(
        (pw.mean_pred - pw.mean_target).abs() > (mse.mean_pred - mse.mean_target).abs(),
        "the pairwise model drifts"
    );
    assert!(pw.dev.mse > mse.dev.mse);
}

#[test]
fn the_command_prints_every_page_as_a_json_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_segscope"))
        .args(["tour", "--headless", "--scene", "3"])
        .output()
        .expect("segscope runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let pages: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let names: Vec<&str> = pages.iter().filter_map(|p| p["page"].as_str()).collect();
    assert_eq!(names, ["shifted", "scaled", "compare"]);
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_segscope"))
        .args(["tour", "--scene", "4"])
        .output()
        .expect("segscope runs");
    assert_eq!(bad.status.code(), Some(2));
}

/// The app of `p` after its first report and `steps` steps.
fn app_on(p: Page, steps: usize) -> App {
    let mut b = p.build(BackendKind::Flex).expect("page builds");
    let mut app = segscope::run::tui::tour_app(&b);
    app.on_report(b.source.current(), 0.0);
    for _ in 0..steps {
        app.on_report(b.source.advance(), 0.0);
    }
    app.refresh_rows();
    app
}

#[test]
fn n_and_p_leave_a_page_only_where_there_is_one() {
    let mut app = app_on(Page::OneStep, 0);
    app.update(Action::PrevScene);
    assert!(!app.should_quit() && app.leave().is_none());
    assert!(
        app.status()
            .as_deref()
            .is_some_and(|s| s.contains("first page"))
    );
    app.update(Action::NextScene);
    assert!(app.should_quit());
    assert_eq!(app.leave(), Some(Leave::Next));
    let mut last = app_on(Page::Compare, 0);
    last.update(Action::NextScene);
    assert!(!last.should_quit() && last.leave().is_none());
    assert_eq!(Page::Compare.neighbour(true), None);
    assert_eq!(Page::Shares.neighbour(false), Some(Page::OneStep));
}

#[test]
fn every_page_at_both_sizes() {
    for p in PAGES {
        let steps = if p == Page::Compare {
            tour::COMPARE_STEPS as usize
        } else {
            1
        };
        let app = app_on(p, steps);
        for (w, h) in [(100, 28), (160, 48)] {
            let screen = common::draw(&app, w, h);
            assert!(screen.contains("tour"), "{p:?} {w}x{h}");
            assert!(
                screen.contains("? help") || screen.contains("?  help"),
                "{p:?} {w}x{h}: the footer reaches help"
            );
            insta::assert_snapshot!(format!("tour_{:?}_{w}x{h}", p).to_lowercase(), screen);
        }
    }
}
