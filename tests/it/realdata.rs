//! What real data needs beyond reading it: the model kept at its best dev loss and restored
//! exactly, early stopping, the data's own embeddings as features, and cross-fitted residuals
//! that find the recorded corruptions.

use std::process::Command;
use std::sync::Arc;

use segscope::config::Config;
use segscope::data::hash::Rng;
use segscope::data::{self, Dataset, Partition, ReadOptions, Split, features::featurize};
use segscope::engine::{TrainSettings, Trainer};
use segscope::labels::crossfit::Learner;

fn parse(text: &str) -> Dataset {
    data::parse_str(text, "test", &ReadOptions::default())
        .expect("valid test data")
        .0
}

fn trainer(ds: Dataset, cfg: &Config) -> Trainer {
    let f = featurize(&ds, &cfg.features);
    let part = Arc::new(Partition::new(&ds, cfg.dev_fraction));
    Trainer::new(Arc::new(ds), part, f, TrainSettings::from_config(cfg)).expect("trainer")
}

/// Documents whose targets are noise, unrelated to their words: a model of this size can only
/// memorise them, so the dev loss falls briefly (towards the mean) and then rises.
fn overfit_jsonl(docs: usize, seed: u64) -> String {
    let words = [
        "kettle", "vinegar", "boil", "rinse", "oven", "roast", "index", "fund", "run", "warm",
        "tap", "washer", "garden", "soil", "paint", "brush",
    ];
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    for d in 0..docs {
        let segs: Vec<String> = (0..4)
            .map(|_| {
                let text: Vec<&str> = (0..6).map(|_| words[rng.below(words.len())]).collect();
                format!(
                    "{{\"text\": \"{}\", \"score\": {:.3}}}",
                    text.join(" "),
                    rng.normal() * 0.8
                )
            })
            .collect();
        out.push_str(&format!(
            "{{\"id\": \"n{d}\", \"segments\": [{}]}}\n",
            segs.join(", ")
        ));
    }
    out
}

#[test]
fn the_kept_model_is_the_runs_lowest_dev_loss_restored_exactly() {
    let mut cfg = Config::default();
    cfg.train.lr = 0.01;
    let mut t = trainer(parse(&overfit_jsonl(60, 3)), &cfg);
    let losses: Vec<(u64, f64)> = (0..150)
        .map(|_| {
            let r = t.step();
            (r.step, r.dev.loss)
        })
        .collect();
    let (min_step, min_loss) = losses
        .iter()
        .copied()
        .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
    let last = losses.last().expect("steps").1;
    assert!(
        last > min_loss * 1.2,
        "the data must overfit: min {min_loss} last {last}"
    );
    let (best_step, best) = t.best().expect("a best step");
    assert_eq!((best_step, best.loss), (min_step, min_loss));
    assert!(t.restore_best());
    let again = t.snapshot_report();
    assert_eq!(again.step, min_step);
    assert!(
        (again.dev.loss - min_loss).abs() <= 1e-6 * min_loss,
        "restored {} vs recorded {min_loss}",
        again.dev.loss
    );
    // Stepping on from the restored state repeats the first run's next step exactly.
    let next = t.step();
    let first_time = losses[min_step as usize].1;
    assert_eq!(next.step, min_step + 1);
    assert!((next.dev.loss - first_time).abs() <= 1e-6 * first_time);
}

#[test]
fn headless_stops_early_and_hands_back_the_best_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("noise.jsonl");
    std::fs::write(&data, overfit_jsonl(60, 3)).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_segscope"))
        .args([
            "--headless",
            "--steps",
            "400",
            "--lr",
            "0.01",
            "--early-stop",
            "20",
        ])
        .arg("--data")
        .arg(&data)
        .args(["--report", "r.jsonl"])
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let summary = &lines.last().expect("summary")["summary"];
    let steps = summary["steps"].as_u64().expect("steps");
    let best = summary["best_step"].as_u64().expect("best step");
    assert!(summary["stopped_early"].as_bool().expect("flag"));
    assert_eq!(steps, best + 20, "stops 20 steps after the best");
    assert_eq!(summary["kept_step"].as_u64(), Some(best));
    let min = lines[..lines.len() - 1]
        .iter()
        .map(|l| l["dev"]["loss"].as_f64().expect("loss"))
        .fold(f64::INFINITY, f64::min);
    assert_eq!(summary["best_dev"]["loss"].as_f64(), Some(min));
    // The report is the kept model's.
    let report = std::fs::read_to_string(dir.path().join("r.jsonl")).expect("report");
    let first: serde_json::Value =
        serde_json::from_str(report.lines().next().expect("row")).expect("json");
    assert_eq!(first["step"].as_u64(), Some(best));
    assert!(String::from_utf8_lossy(&o.stderr).contains("stopped early"));
}

#[test]
fn the_datas_own_embeddings_train_the_model_up_to_their_noise() {
    // Each segment's embedding carries its target plus N(0, 0.3) noise, and three dimensions of
    // pure noise; the texts say nothing. Targets are uniform on [-1, 1] (variance 1/3), so the
    // best any model can do is R^2 = (1/3) / (1/3 + 0.09) = 0.79.
    let mut rng = Rng::new(11);
    let mut text = String::new();
    for d in 0..300 {
        let segs: Vec<String> = (0..3)
            .map(|k| {
                let t = rng.unit() * 2.0 - 1.0;
                let e = [
                    t + 0.3 * rng.normal(),
                    rng.normal(),
                    rng.normal(),
                    rng.normal(),
                ];
                format!(
                    "{{\"text\": \"step {k} of doc {d}\", \"score\": {t:.4}, \"embedding\": [{:.4}, {:.4}, {:.4}, {:.4}]}}",
                    e[0], e[1], e[2], e[3]
                )
            })
            .collect();
        text.push_str(&format!(
            "{{\"id\": \"e{d}\", \"segments\": [{}]}}\n",
            segs.join(", ")
        ));
    }
    let ds = parse(&text);
    assert_eq!(ds.embeddings.as_ref().map(|e| e.dim), Some(4));
    let mut cfg = Config::default();
    cfg.features.hashed = false;
    cfg.train.lr = 0.01;
    let mut t = trainer(ds.clone(), &cfg);
    for _ in 0..300 {
        t.step();
    }
    t.restore_best();
    let r2 = t.snapshot_report().dev.r2;
    assert!(
        (0.68..=0.84).contains(&r2),
        "dev R^2 {r2}, the noise allows 0.79"
    );
    // The hashed n-grams alone cannot see the targets at all.
    let mut cfg = Config::default();
    cfg.train.lr = 0.01;
    let without: Dataset = Dataset {
        embeddings: None,
        ..ds
    };
    let mut t = trainer(without, &cfg);
    for _ in 0..300 {
        t.step();
    }
    t.restore_best();
    let r2_text = t.snapshot_report().dev.r2;
    eprintln!("embeddings: dev R^2 {r2:.3}; text alone: {r2_text:.3}");
    assert!(r2_text < 0.2, "text alone: dev R^2 {r2_text}");
}

#[test]
fn hashed_off_without_embeddings_is_a_clear_error() {
    let mut cfg = Config::default();
    cfg.features.hashed = false;
    let ds = parse(&overfit_jsonl(5, 1));
    let f = featurize(&ds, &cfg.features);
    let part = Arc::new(Partition::new(&ds, 0.2));
    let e = Trainer::new(Arc::new(ds), part, f, TrainSettings::from_config(&cfg))
        .err()
        .expect("an error");
    assert!(e.to_string().contains("embedding"), "{e}");
}

#[test]
fn out_of_fold_residuals_find_the_recorded_corruptions_in_both_splits() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled");
    let cfg = Config::default();
    let f = featurize(&ds, &cfg.features);
    let ds = Arc::new(ds);
    let info = segscope::labels::LabelInfo::of(&ds, &cfg).expect("labels");
    for learner in [Learner::Mlp, Learner::Linear] {
        let opts = segscope::labels::crossfit::Options {
            folds: 5,
            max_steps: cfg.train.steps,
            patience: cfg.train.early_stop,
            learner,
            seed: cfg.seed,
            repeats: 1,
            judges: Default::default(),
        };
        let mut folds = 0;
        let cf = segscope::labels::crossfit::run(&ds, &f, &cfg, info, &opts, |_| folds += 1)
            .expect("crossfit");
        assert_eq!(folds, 5);
        finds_the_corruptions(&ds, &cfg, &cf, learner);
    }
}

fn finds_the_corruptions(
    ds: &Dataset,
    cfg: &Config,
    cf: &segscope::labels::crossfit::Crossfit,
    learner: Learner,
) {
    assert_eq!(cf.rows.len(), ds.labelled());
    let part = Partition::new(ds, cfg.dev_fraction);
    let mut by_resid: Vec<&segscope::labels::crossfit::Row> = cf.rows.iter().collect();
    by_resid.sort_by(|a, b| b.oof_residual.abs().total_cmp(&a.oof_residual.abs()));
    let top: std::collections::HashSet<&str> = by_resid[..by_resid.len() / 20]
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    let noisy: Vec<&segscope::labels::crossfit::Row> = cf
        .rows
        .iter()
        .filter(|r| r.labels.contains("noise="))
        .collect();
    let found = noisy.iter().filter(|r| top.contains(r.id.as_str())).count();
    let in_dev = noisy.iter().filter(|r| r.split == Split::Dev).count();
    assert!(in_dev > 0, "corruptions in the dev split too");
    assert!(
        found * 10 >= noisy.len() * 8,
        "{learner:?}: {found} of {} corruptions in the top 5% by out-of-fold residual",
        noisy.len()
    );
    // Every segment has an out-of-fold prediction.
    assert!(cf.rows.iter().all(|r| r.oof_prediction.is_finite()));
    assert!(cf.predictions.iter().all(|p| p.is_finite()));
    assert_eq!(part.counts().0 + part.counts().1, cf.rows.len());
}

/// The summary of a default headless run on the shared ProcessBench records, with `extra` args.
fn processbench_summary(extra: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/processbench-gsm8k.json"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_segscope"))
        .args(["--headless", "--data", data])
        .args(extra)
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let last = out.lines().last().expect("summary line");
    serde_json::from_str::<serde_json::Value>(last).expect("json")["summary"].clone()
}

#[test]
fn the_default_rate_reaches_processbenchs_best_model_in_half_the_steps() {
    // ProcessBench's long steps (real, human-labelled; ../shared/data): the default rate (0.02)
    // against the old default (0.003), full batch, early stopping as configured.
    let new = processbench_summary(&[]);
    let old = processbench_summary(&["--lr", "0.003"]);
    let step = |s: &serde_json::Value| s["best_step"].as_u64().expect("best step");
    let loss = |s: &serde_json::Value| s["best_dev"]["loss"].as_f64().expect("dev loss");
    assert!(
        step(&new) * 2 <= step(&old) + 5,
        "best step {} against {}",
        step(&new),
        step(&old)
    );
    assert!(
        loss(&new) <= loss(&old) * 1.005,
        "best dev loss {} against {}",
        loss(&new),
        loss(&old)
    );
}
