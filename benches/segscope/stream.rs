//! The stream format's size and ingest (`stream`), and comparing runs (`compare`).

use std::sync::Arc;
use std::time::Instant;

use segscope::config::Config;
use segscope::data;
use segscope::data::Partition;
use segscope::data::ReadOptions;
use segscope::data::features::featurize;
use segscope::engine::TrainSettings;
use segscope::engine::Trainer;

use super::big;
use super::median;

/// The stream format: bytes per step, and how fast a watcher takes in predictions.
pub(crate) fn bench_stream() {
    use segscope::stream::{Line, StreamState, Writer};
    println!(
        "\n## stream: bytes per step, and ingest (parse; parse + metrics) of step records with every prediction"
    );
    println!(
        "| segments | bytes per step | steps | parse only (M predictions/s) | parse + report (M predictions/s) |"
    );
    println!("|---|---|---|---|---|");
    for n_docs in [172usize, 17_300] {
        let ds = big(n_docs);
        let part = Partition::new(&ds, 0.2);
        let n = ds.segments.len();
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join(format!("bench-stream-{n}.jsonl"));
        Writer::create(&path, &ds, &part, "bench", None).expect("stream");
        let head = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let mut rng = data::hash::Rng::new(3);
        let steps = 20u64;
        let mut text = std::fs::read_to_string(&path).expect("read");
        for k in 1..=steps {
            let rec = segscope::stream::StepRecord {
                step: k,
                predictions: (0..n)
                    .map(|_| Some((rng.unit() * 2.0 - 1.0) as f32))
                    .collect(),
                ..Default::default()
            };
            text.push_str(&serde_json::to_string(&rec).expect("json"));
            text.push('\n');
        }
        let per_step = (text.len() as u64 - head) / steps;
        let step_lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("{\"step\""))
            .collect();
        let t = Instant::now();
        for l in &step_lines {
            std::hint::black_box(Line::parse(l).expect("parse"));
        }
        let parse = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut st = StreamState::new("bench");
        for l in text.lines() {
            st.push(l).expect("push");
        }
        let full = t.elapsed().as_secs_f64();
        assert_eq!(st.reports.len(), steps as usize);
        let preds = (steps as usize * n) as f64;
        println!(
            "| {n} | {per_step} | {steps} | {:.1} | {:.1} |",
            preds / parse / 1e6,
            preds / full / 1e6
        );
    }
}

/// A comparison step (MSE and pairwise in lock step) against the same two models stepped as two
/// separate trainers, alternating in blocks.
pub(crate) fn bench_compare() {
    use segscope::config::LossName;
    use segscope::source::compare::Compare;
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled");
    let cfg = Config::default();
    let f = featurize(&ds, &cfg.features);
    let part = Arc::new(Partition::new(&ds, cfg.dev_fraction));
    let ds = Arc::new(ds);
    let losses = [LossName::Mse, LossName::Pairwise];
    let mut cmp = Compare::new(ds.clone(), part.clone(), &f, &cfg, &losses).expect("compare");
    let mut apart: Vec<Trainer> = losses
        .iter()
        .map(|&l| {
            let mut c = cfg.clone();
            c.train.loss = l;
            Trainer::new(
                ds.clone(),
                part.clone(),
                f.clone(),
                TrainSettings::from_config(&c),
            )
            .expect("trainer")
        })
        .collect();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        for k in 0..6 {
            let t = Instant::now();
            std::hint::black_box(cmp.step());
            if k > 0 {
                a.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        for k in 0..6 {
            let t = Instant::now();
            for tr in &mut apart {
                std::hint::black_box(tr.step());
            }
            if k > 0 {
                b.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    println!(
        "\n## compare: a step of `compare --losses mse,pairwise` vs two separate trainers (bundled, full batch, ms per step, median of 50 alternating in blocks)"
    );
    println!("| compare step | two separate steps | ratio |");
    println!("|---|---|---|");
    let (ma, mb) = (median(a), median(b));
    println!("| {ma:.2} | {mb:.2} | {:.3} |", ma / mb);
}
