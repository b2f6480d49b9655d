//! Every metric of a split, as the trainer's helper computes them beside each full-batch step
//! (`metrics`): `evaluate_rows` on the training and dev rows of the bundled data and of
//! ProcessBench GSM8K, with a trained model's predictions; and the training rows' gradient shares.

use std::time::Instant;

use burn::prelude::*;
use segscope::config::Config;
use segscope::data::{self, Partition, ReadOptions, Split};
use segscope::engine::influence::grad_shares;
use segscope::engine::metrics::LossKind;
use segscope::engine::plain_device;
use segscope::engine::report::{SplitShape, evaluate_rows};

use super::{median, trainer};

pub(crate) fn bench_metrics() {
    let cfg = Config::default();
    let mut sets = vec![(
        "bundled",
        data::load(None, &ReadOptions::default())
            .expect("bundled")
            .0,
    )];
    let pb = std::path::Path::new("../shared/data/processbench-gsm8k.json");
    if let Ok((ds, _)) = data::read_file(pb, &ReadOptions::default()) {
        sets.push(("ProcessBench GSM8K", ds));
    }
    println!(
        "\n## metrics: every metric of a split, with a trained model's predictions (median of 300 on one pool thread, µs)"
    );
    println!("| data | split | rows | documents | evaluate_rows | gradient shares (train) |");
    println!("|---|---|---|---|---|---|");
    let helper = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    for (name, ds) in sets {
        // Predictions of a model 30 steps in: spread, but not yet in the targets' order.
        let mut t = trainer(&ds, &cfg);
        let mut report = t.step();
        for _ in 0..29 {
            report = t.step();
        }
        let part = Partition::new(&ds, cfg.dev_fraction);
        for split in [Split::Train, Split::Dev] {
            let rows = part.indices(split);
            let preds: Vec<f32> = rows.iter().map(|&i| report.segments[i].pred).collect();
            let shape = SplitShape::of(&ds, &rows);
            // On a pool's thread, as on the trainer's helper: one thread, no second one spawned.
            let us = helper.install(|| {
                (0..300)
                    .map(|_| {
                        let s = Instant::now();
                        let r = evaluate_rows(&ds, &rows, &preds, &shape, LossKind::Mse);
                        std::hint::black_box(r);
                        s.elapsed().as_secs_f64() * 1e6
                    })
                    .collect::<Vec<f64>>()
            });
            // The gradient shares of the training rows, from last hidden activations of the
            // model's width (random: the cost does not depend on the values).
            let shares = (split == Split::Train).then(|| {
                let n = rows.len();
                let h = Tensor::<2>::random(
                    [n, cfg.model.hidden],
                    burn::tensor::Distribution::Default,
                    &plain_device(cfg.backend),
                );
                let residuals: Vec<f32> = (0..n).map(|k| preds[k] - 0.5).collect();
                let us = helper.install(|| {
                    (0..300)
                        .map(|_| {
                            let s = Instant::now();
                            let r = grad_shares(h.clone(), &residuals, LossKind::Mse, &[]);
                            std::hint::black_box(r);
                            s.elapsed().as_secs_f64() * 1e6
                        })
                        .collect::<Vec<f64>>()
                });
                format!("{:.0}", median(us))
            });
            println!(
                "| {name} | {split:?} | {} | {} | {:.0} | {} |",
                rows.len(),
                shape.groups.len(),
                median(us),
                shares.unwrap_or_default()
            );
        }
    }
}
