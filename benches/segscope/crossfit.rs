//! Cross-fitting: against one training run (`crossfit`), and at scale (`crossfit_scale`).

use std::sync::Arc;
use std::time::Instant;

use segscope::config::Config;
use segscope::data;
use segscope::data::Dataset;
use segscope::data::ReadOptions;
use segscope::data::features::featurize;
use segscope::labels::crossfit::Learner;

use super::trainer;

/// Cross-fitting the bundled data (5 folds) against one ordinary run, both with the default
/// config (at most train.steps steps, early stopping after train.early_stop).
pub(crate) fn bench_crossfit() {
    let (ds, _) = data::load(None, &ReadOptions::default()).expect("bundled");
    let cfg = Config::default();
    println!(
        "\n## crossfit: 5 folds on the bundled data vs one ordinary run (default config, early stopping)"
    );
    let s = Instant::now();
    let mut t = trainer(&ds, &cfg);
    let mut steps = 0;
    while steps < cfg.train.steps {
        t.step();
        steps += 1;
        if steps - t.best().map_or(0, |b| b.0) >= cfg.train.early_stop {
            break;
        }
    }
    t.restore_best();
    let one = s.elapsed().as_secs_f64();
    let f = featurize(&ds, &cfg.features);
    let ds = Arc::new(ds);
    let info = segscope::labels::LabelInfo::of(&ds, &cfg).expect("labels");
    println!("| run | steps | seconds | ratio to one run |");
    println!("|---|---|---|---|");
    println!("| one ordinary run | {steps} | {one:.1} | 1 |");
    for (learner, repeats) in [
        (Learner::Mlp, 1),
        (Learner::Linear, 1),
        (Learner::Linear, 3),
    ] {
        let opts = segscope::labels::crossfit::Options {
            folds: 5,
            max_steps: cfg.train.steps,
            patience: cfg.train.early_stop,
            learner,
            seed: cfg.seed,
            repeats,
            judges: Default::default(),
        };
        let s = Instant::now();
        let mut fold_steps = Vec::new();
        segscope::labels::crossfit::run(&ds, &f, &cfg, info, &opts, |r| fold_steps.push(r.steps))
            .expect("crossfit");
        let cf = s.elapsed().as_secs_f64();
        println!(
            "| crossfit, 5 folds, {learner:?}, {repeats} split(s) | {} | {cf:.2} | {:.3} |",
            fold_steps.iter().sum::<u64>(),
            cf / one
        );
    }
}

/// ProcessBench's records (real long steps) repeated `times` times under new ids.
pub(crate) fn repeated_processbench(times: usize) -> Dataset {
    let path = std::path::Path::new("../shared/data/processbench-gsm8k.json");
    let (one, _) = data::read_file(path, &ReadOptions::default()).expect("processbench");
    let mut ds = one.clone();
    ds.docs.clear();
    ds.segments.clear();
    for t in 0..times {
        for d in &one.docs {
            let start = ds.segments.len();
            for s in &one.segments[d.segments.clone()] {
                let mut s = s.clone();
                s.doc = ds.docs.len();
                ds.segments.push(s);
            }
            let mut d = d.clone();
            d.id = format!("{}-r{t}", d.id);
            d.segments = start..ds.segments.len();
            ds.docs.push(d);
        }
    }
    ds
}

/// Cross-fitting at scale with the linear learner, on `SEGSCOPE_BENCH_CROSSFIT_DOCS` generated
/// documents (default 20,000, about 115,000 short segments; 175,000 make a million), or with
/// `SEGSCOPE_BENCH_CROSSFIT_LONG=N` on ProcessBench's 2,082 long steps repeated N times (480
/// make a million).
pub(crate) fn bench_crossfit_scale() {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    let docs = env("SEGSCOPE_BENCH_CROSSFIT_DOCS").unwrap_or(20_000);
    let long = env("SEGSCOPE_BENCH_CROSSFIT_LONG");
    let cfg = Config::default();
    let s = Instant::now();
    let (ds, what) = match long {
        Some(times) => (
            repeated_processbench(times),
            format!("ProcessBench repeated {times} times"),
        ),
        None => {
            let text = segscope::data::generate::generate(docs, 7);
            let (ds, _) =
                data::parse_str(&text, "generated", &ReadOptions::default()).expect("parse");
            (ds, format!("{docs} generated documents"))
        }
    };
    let load = s.elapsed().as_secs_f64();
    let s = Instant::now();
    let f = featurize(&ds, &cfg.features);
    let feat = s.elapsed().as_secs_f64();
    let n = ds.segments.len();
    let ds = Arc::new(ds);
    let info = segscope::labels::LabelInfo::of(&ds, &cfg).expect("labels");
    let opts = segscope::labels::crossfit::Options {
        folds: 5,
        max_steps: 0,
        patience: u64::MAX,
        learner: Learner::Linear,
        seed: cfg.seed,
        repeats: 1,
        judges: Default::default(),
    };
    let s = Instant::now();
    segscope::labels::crossfit::run(&ds, &f, &cfg, info, &opts, |_| {}).expect("crossfit");
    let cf = s.elapsed().as_secs_f64();
    println!("\n## crossfit at scale: {what}, {n} segments, linear learner, 5 folds");
    println!("| stage | seconds |");
    println!("|---|---|");
    println!("| make or read the data | {load:.1} |");
    println!("| featurise (the MLP's features) | {feat:.1} |");
    println!("| crossfit (its own TF-IDF rows, 5 folds, scores) | {cf:.1} |");
    println!(
        "\nrate: {:.0} segments a second; 1,000,000 segments would take {:.0} s",
        n as f64 / cf,
        1e6 * cf / n as f64
    );
}
