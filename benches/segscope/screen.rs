//! Drawing the dashboard at 160x48 (`screen`).

use std::sync::Arc;
use std::time::Instant;

use segscope::data;
use segscope::data::Partition;
use segscope::data::Split;
use segscope::engine::metrics::LossKind;

use super::big;
use super::median;
use super::percentile;

pub(crate) fn bench_screen() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use segscope::app::{App, Keymap, RunInfo};
    use segscope::engine::report::evaluate_split;
    use segscope::engine::{SegmentEval, StepReport};

    println!("\n## screen: drawing the dashboard into a 160x48 TestBackend, sorted by share");
    println!(
        "| segments | draw (median ms) | draw (p95 ms) | on_report (ms) | re-sort rows (ms) |"
    );
    println!("|---|---|---|---|---|");
    for n_docs in [172usize, 17_300, 173_000] {
        let ds = Arc::new(big(n_docs));
        let n = ds.segments.len();
        let info = RunInfo {
            backend: "flex".into(),
            loss: "mse".into(),
            optimizer: "adam".into(),
            lr: 0.003,
            batch_size: 0,
            data: "generated".into(),
            save_dir: "ckpt".into(),
            export_path: "out.csv".into(),
        };
        let part = Arc::new(Partition::new(&ds, 0.2));
        let mut app = App::new(
            ds.clone(),
            part.clone(),
            Default::default(),
            info,
            Keymap::default(),
        );
        let mut rng = data::hash::Rng::new(5);
        let preds: Vec<f32> = (0..n).map(|_| (rng.unit() * 2.0 - 1.0) as f32).collect();
        let mut segs = vec![SegmentEval::default(); n];
        let train = evaluate_split(
            &ds,
            &preds,
            &part.indices(Split::Train),
            LossKind::Mse,
            &mut segs,
        );
        let dev = evaluate_split(
            &ds,
            &preds,
            &part.indices(Split::Dev),
            LossKind::Mse,
            &mut segs,
        );
        let segs = Arc::new(segs);
        let mut on_report = Vec::new();
        for step in 0..20u64 {
            let r = StepReport {
                step,
                batch: Arc::new(part.indices(Split::Train)),
                batch_loss: train.loss,
                trainer_loss: None,
                eval_step: step,
                segments: segs.clone(),
                pred_steps: Arc::default(),
                grad: Arc::default(),
                train,
                dev,
                grad_norm: 0.1,
                lr: 0.003,
                weight_change: 1.0 / (step + 1) as f64,
                weight_change_rel: 0.01,
                layers: Vec::new(),
                step_ms: 10.0,
                eval_ms: 1.0,
                diverged: None,
                models: Vec::new(),
            };
            let s = Instant::now();
            app.on_report(r, 10.0);
            on_report.push(s.elapsed().as_secs_f64() * 1e3);
        }
        let s = Instant::now();
        app.refresh_rows();
        let sort_ms = s.elapsed().as_secs_f64() * 1e3;
        let mut term = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
        app.set_page(43);
        let mut draws = Vec::new();
        for k in 0..60 {
            // Move the cursor so that each frame shows different rows.
            app.update(segscope::app::Action::Down);
            if k % 20 == 0 {
                app.update(segscope::app::Action::PageDown);
            }
            let s = Instant::now();
            term.draw(|f| f.render_widget(&app, f.area()))
                .expect("draw");
            draws.push(s.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "| {n} | {:.3} | {:.3} | {:.1} | {sort_ms:.1} |",
            median(draws.clone()),
            percentile(draws, 0.95),
            median(on_report)
        );
    }
}
