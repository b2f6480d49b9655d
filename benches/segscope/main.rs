//! segscope's benchmarks: `cargo bench` runs them all; `cargo bench -- step screen` picks groups.
//!
//! Groups, one module each: `step` (instrumented step against a bare burn loop, alternating in one
//! process), `backends` (flex against ndarray), `profile` (a step stage by stage) and `adam` (the
//! fused update alone) in `step`; `metrics` (a split's metrics);
//! `screen`; `data` (loading and featurising 1,000,000 segments, with the peak memory of a separate
//! process doing only that) and `import` in `load`; `crossfit` and `crossfit_scale`; `stream` and
//! `compare`.
//! Figures are medians over repeated runs; ratios compare runs interleaved in one process, because
//! this machine is shared and its absolute speed drifts.

use std::sync::Arc;
use std::time::Instant;

use segscope::config::{BackendKind, Config};
use segscope::data::features::featurize;
use segscope::data::{self, Dataset, Partition, ReadOptions, generate};
use segscope::engine::{TrainSettings, Trainer};

mod crossfit;
mod load;
mod metrics;
mod screen;
mod step;
mod stream;

use crossfit::{bench_crossfit, bench_crossfit_scale};
use load::{bench_data, bench_import, data_file, data_peak};
use metrics::bench_metrics;
use screen::bench_screen;
use step::{bench_adam, bench_profile, bench_step};
use stream::{bench_compare, bench_stream};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn trainer(ds: &Dataset, cfg: &Config) -> Trainer {
    let f = featurize(ds, &cfg.features);
    let part = Arc::new(Partition::new(ds, cfg.dev_fraction));
    Trainer::new(
        Arc::new(ds.clone()),
        part,
        f,
        TrainSettings::from_config(cfg),
    )
    .expect("trainer")
}

/// CPU time of the whole process (every thread), in ms.
fn cpu_ms() -> f64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(u.ru_utime) + ms(u.ru_stime)
}

fn big(n_docs: usize) -> Dataset {
    let text = generate::generate(n_docs, 11);
    data::parse_str(&text, "generated", &ReadOptions::default())
        .expect("generated data")
        .0
}

fn main() {
    // cargo bench passes --bench; everything else is a group name.
    let groups: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |g: &str| groups.is_empty() || groups.iter().any(|x| x == g);
    println!(
        "# segscope benchmarks ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let t0 = Instant::now();
    // Measured first, while this process is still small (see data_peak).
    let data = want("data").then(|| {
        let path = data_file();
        let peak = data_peak(&path);
        (path, peak)
    });
    if want("step") || want("backends") {
        let mut backends = vec![BackendKind::Flex];
        if want("backends") {
            backends.push(BackendKind::Ndarray);
        }
        bench_step(&backends);
    }
    if want("screen") {
        bench_screen();
    }
    if let Some((path, peak)) = &data {
        bench_data(path, peak);
    }
    if want("import") {
        let path = match &data {
            Some((p, _)) => p.clone(),
            None => data_file(),
        };
        bench_import(&path);
    }
    if want("crossfit") {
        bench_crossfit();
    }
    if want("metrics") {
        bench_metrics();
    }
    if want("adam") {
        bench_adam();
    }
    if want("profile") {
        bench_profile();
    }
    if want("crossfit_scale") {
        bench_crossfit_scale();
    }
    if want("stream") {
        bench_stream();
    }
    if want("compare") {
        bench_compare();
    }
    println!("\n(total {:.0} s)", t0.elapsed().as_secs_f64());
}
