//! segscope's benchmarks: `cargo bench` runs them all; `cargo bench -- step screen` picks groups.
//!
//! Groups: `step` (instrumented step against a bare burn loop, alternating in one process),
//! `backends` (flex against ndarray), `screen` (drawing the dashboard at 160x48), `data` (loading and
//! featurising 1,000,000 segments, with the peak memory of a separate process doing only that).
//! Figures are medians over repeated runs; ratios compare runs interleaved in one process, because
//! this machine is shared and its absolute speed drifts.

use std::sync::Arc;
use std::time::Instant;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use segscope::config::{BackendKind, Config};
use segscope::data::features::featurize;
use segscope::data::{self, Dataset, Partition, ReadOptions, Split, generate};
use segscope::engine::metrics::LossKind;
use segscope::engine::model::{Inputs, SegmentModel};
use segscope::engine::optim::{FusedAdam, NormSink};
use segscope::engine::{TrainSettings, Trainer};
use segscope::engine::{loss_tensor, plain_device, split_inputs};
use segscope::labels::crossfit::Learner;

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

/// The plainest training loop over the same model, data, batch size and optimiser: forward, loss,
/// backward, update, and the loss read back to the host as any loop that logs it does.
struct Bare {
    model: SegmentModel,
    optim: ModuleOptimizer,
    x: Inputs,
    y: Tensor<2>,
    n: usize,
    batch: usize,
    lr: f64,
    cursor: usize,
    order: Vec<i64>,
}

impl Bare {
    fn new(ds: &Dataset, cfg: &Config) -> Bare {
        let f = featurize(ds, &cfg.features);
        let settings = TrainSettings::from_config(cfg);
        let plain = plain_device(cfg.backend);
        plain.seed(cfg.seed);
        let ad = plain.clone().autodiff();
        let rows = Partition::new(ds, cfg.dev_fraction).indices(Split::Train);
        let flat = cfg.train.batch_size == 0;
        let (x, _) = split_inputs(f, &rows, &[], flat, &plain);
        let y: Vec<f32> = rows.iter().map(|&i| ds.target(i)).collect();
        let y = Tensor::from_data(TensorData::new(y, [rows.len(), 1]), &plain);
        // The trainer's optimiser, without the norms it measures for the instrumentation.
        let optim = FusedAdam::new(Some(cfg.train.weight_decay as f32), None).init();
        Bare {
            model: settings.model.init(&ad),
            optim,
            x,
            y,
            n: rows.len(),
            batch: cfg.train.batch_size,
            lr: cfg.train.lr,
            cursor: 0,
            order: (0..rows.len() as i64).collect(),
        }
    }

    fn step(&mut self) -> f32 {
        let (x, y) = if self.batch == 0 || self.batch >= self.n {
            (self.x.clone(), self.y.clone())
        } else {
            if self.cursor + self.batch > self.n {
                self.cursor = 0;
            }
            let idx = self.order[self.cursor..self.cursor + self.batch].to_vec();
            self.cursor += self.batch;
            let idx =
                Tensor::<1, Int>::from_ints(TensorData::new(idx, [self.batch]), &self.y.device());
            (self.x.select(idx.clone()), self.y.clone().select(0, idx))
        };
        let pred = self.model.forward(&x);
        let loss = loss_tensor(pred, y, LossKind::Mse);
        let value = loss.clone().inner();
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(self.lr, self.model.clone(), grads);
        value.into_scalar::<f32>()
    }
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

/// Medians, in ms per step, of the instrumented and the bare loop.
struct Timing {
    wall: (f64, f64),
    cpu: (f64, f64),
}

/// Times a block of `k` steps, keeping all but the first (wall ms, CPU ms).
fn block(k: usize, mut step: impl FnMut(), wall: &mut Vec<f64>, cpu: &mut Vec<f64>) {
    for j in 0..k {
        let (s, c) = (Instant::now(), cpu_ms());
        step();
        if j > 0 || k == 1 {
            wall.push(s.elapsed().as_secs_f64() * 1e3);
            cpu.push(cpu_ms() - c);
        }
    }
}

/// Alternates `rounds` blocks of `k` steps of each loop; returns the median over single steps.
/// Blocks keep the drift of this shared machine out of the ratio. The first step of each block is
/// left out because right after a switch a loop runs on caches (and an allocator) warmed by the
/// other one: measured here, the bare loop ran 32.2 ms a step when interleaved step by step with
/// the instrumented one, against 21.9-23.1 ms on its own.
fn alternate(ds: &Dataset, cfg: &Config, rounds: usize, k: usize) -> Timing {
    let mut t = trainer(ds, cfg);
    let mut b = Bare::new(ds, cfg);
    for _ in 0..2 {
        t.step();
        b.step();
    }
    let (mut ti, mut tb, mut ci, mut cb) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        block(
            k,
            || {
                t.step();
            },
            &mut ti,
            &mut ci,
        );
        block(
            k,
            || {
                b.step();
            },
            &mut tb,
            &mut cb,
        );
    }
    Timing {
        wall: (median(ti), median(tb)),
        cpu: (median(ci), median(cb)),
    }
}

fn big(n_docs: usize) -> Dataset {
    let text = generate::generate(n_docs, 11);
    data::parse_str(&text, "generated", &ReadOptions::default())
        .expect("generated data")
        .0
}

fn bench_step(backends: &[BackendKind]) {
    let (bundled, _) = data::load(None, &ReadOptions::default()).expect("bundled");
    let large = if std::env::var_os("SEGSCOPE_BENCH_QUICK").is_some() {
        big(10)
    } else {
        big(17_300)
    };
    println!(
        "\n## step: instrumented Trainer::step() vs a bare burn loop (ms per step, median over steps of alternating blocks)"
    );
    println!(
        "| data | segments (train) | batch | backend | instrumented | bare | ratio | CPU instrumented | CPU bare | CPU ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    // SEGSCOPE_BENCH_QUICK=1: only the bundled full-batch row, for quick before/after checks.
    let quick = std::env::var_os("SEGSCOPE_BENCH_QUICK").is_some();
    let sets: &[(&str, &Dataset, usize, usize)] = if quick {
        &[("bundled", &bundled, 20, 10)]
    } else {
        &[
            ("bundled", &bundled, 20, 10),
            ("generated 100k", &large, 3, 3),
        ]
    };
    for &(name, ds, rounds, k) in sets {
        // SEGSCOPE_BENCH_QUICK=64: the bundled mini-batch row instead.
        let quick_batch = std::env::var("SEGSCOPE_BENCH_QUICK").is_ok_and(|v| v == "64");
        let batches: &[usize] = match (quick, quick_batch) {
            (true, true) => &[64],
            (true, false) => &[0],
            _ => &[0, 64],
        };
        for &batch in batches {
            for &backend in backends {
                if backend == BackendKind::Ndarray && ds.segments.len() > 10_000 && batch == 0 {
                    // ndarray's full-batch step on 100k segments takes seconds; it adds nothing.
                    continue;
                }
                let mut cfg = Config {
                    backend,
                    ..Config::default()
                };
                cfg.train.batch_size = batch;
                let Timing {
                    wall: (i, b),
                    cpu: (ci, cb),
                } = alternate(ds, &cfg, rounds, k);
                println!(
                    "| {name} | {} ({}) | {} | {} | {i:.2} | {b:.2} | {:.3} | {ci:.2} | {cb:.2} | {:.3} |",
                    ds.segments.len(),
                    Partition::new(ds, cfg.dev_fraction).counts().0,
                    if batch == 0 {
                        "full".to_string()
                    } else {
                        batch.to_string()
                    },
                    backend.name(),
                    i / b,
                    ci / cb
                );
            }
        }
    }
}

fn bench_screen() {
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

/// The 1M-segment file, written by `segscope gen-data` in a child process so that this process
/// never holds it.
fn data_file() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join("bench-1m.jsonl");
    if !path.exists() {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_segscope"))
            .args(["gen-data", "--docs", "173000", "--seed", "13", "--out"])
            .arg(&path)
            .status()
            .expect("run segscope gen-data");
        assert!(status.success(), "gen-data failed: {status}");
    }
    path
}

/// This process's peak RSS so far, in MB (VmHWM).
fn own_peak_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// Peak memory of a separate process that only loads, featurises and builds the trainer's
/// tensors. Run before this process allocates anything large: a child's ru_maxrss also counts the
/// parent's peak at the moment it was spawned (the spawn shares the parent's memory until exec),
/// and that peak is printed beside it.
fn data_peak(path: &std::path::Path) -> String {
    let parent_mb = own_peak_mb();
    let s = Instant::now();
    // Reaped below with wait4, which std cannot see.
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_segscope"))
        .args([
            "--headless",
            "--steps",
            "0",
            "--config",
            "/dev/null",
            "--data",
        ])
        .arg(path)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run segscope");
    // wait4 gives this child's own rusage (RUSAGE_CHILDREN would mix in every earlier child).
    // SAFETY: wait4 writes only into the status and rusage it is given; the child is ours and is
    // reaped here exactly once (std's Child is not waited on afterwards).
    let (status, peak_kb) = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        let mut st = 0;
        libc::wait4(child.id() as libc::pid_t, &mut st, 0, &mut u);
        (st, u.ru_maxrss)
    };
    let exit = if libc::WIFEXITED(status) {
        format!("exit {}", libc::WEXITSTATUS(status))
    } else {
        format!("wait status {status}")
    };
    format!(
        "`segscope --headless --steps 0 --data bench-1m.jsonl` (load, featurise, build the tensors): {:.2} s, peak RSS {} MB, {exit} (this process's own peak when it spawned the child: {parent_mb} MB)",
        s.elapsed().as_secs_f64(),
        peak_kb / 1024
    )
}

fn bench_data(path: &std::path::Path, peak: &str) {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    println!(
        "\n## data: loading and featurising ~1,000,000 generated segments ({} MB file)",
        bytes >> 20
    );
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..3 {
        let s = Instant::now();
        let (ds, _) = data::load(Some(path), &ReadOptions::default()).expect("load");
        let t_load = s.elapsed();
        let f = featurize(&ds, &Config::default().features);
        let t_all = s.elapsed();
        n = ds.segments.len();
        times.push((t_load, t_all, f.types));
    }
    let load = median(times.iter().map(|t| t.0.as_secs_f64()).collect());
    let all = median(times.iter().map(|t| t.1.as_secs_f64()).collect());
    println!("| segments | read + validate (s) | + featurise (s) | word types |");
    println!("|---|---|---|---|");
    println!("| {n} | {load:.2} | {all:.2} | {} |", times[0].2);
    println!("\n{peak}");
}

/// The 1M-segment file again in TRL's stepwise format (labels are the scores as numbers), so
/// both readers see the same documents.
fn trl_file(native: &std::path::Path) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-1m-trl.jsonl");
    if !path.exists() {
        let (ds, _) = data::load(Some(native), &ReadOptions::default()).expect("load");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        for d in &ds.docs {
            let segs = &ds.segments[d.segments.clone()];
            let rec = serde_json::json!({
                "id": d.id,
                "prompt": d.prompt,
                "completions": segs.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(),
                "labels": segs.iter().map(|s| s.score).collect::<Vec<_>>(),
            });
            serde_json::to_writer(&mut out, &rec).expect("write");
            std::io::Write::write_all(&mut out, b"\n").expect("write");
        }
    }
    path
}

/// Reading the same 1M segments as segscope's JSONL and as TRL stepwise, alternately.
fn bench_import(native: &std::path::Path) {
    let trl = trl_file(native);
    println!(
        "\n## import: reading ~1,000,000 segments, native JSONL vs TRL stepwise (read + validate, median of 3 alternating runs)"
    );
    println!("| format | file (MB) | segments | read + validate (s) |");
    println!("|---|---|---|---|");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut n = (0, 0);
    for _ in 0..3 {
        for (path, times, count) in [
            (native, &mut a, &mut n.0),
            (trl.as_path(), &mut b, &mut n.1),
        ] {
            let s = Instant::now();
            let (ds, _) = data::load(Some(path), &ReadOptions::default()).expect("load");
            times.push(s.elapsed().as_secs_f64());
            *count = ds.segments.len();
        }
    }
    let mb = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len() >> 20).unwrap_or(0);
    println!(
        "| segscope | {} | {} | {:.2} |",
        mb(native),
        n.0,
        median(a.clone())
    );
    println!(
        "| trl-stepwise | {} | {} | {:.2} |",
        mb(&trl),
        n.1,
        median(b.clone())
    );
    println!("\nratio trl / native: {:.2}", median(b) / median(a));
}

/// Cross-fitting the bundled data (5 folds) against one ordinary run, both with the default
/// config (at most train.steps steps, early stopping after train.early_stop).
fn bench_crossfit() {
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

/// Where a full-batch step's time goes, stage by stage, on the bundled data and on ProcessBench's
/// long steps. Featurising runs once per run. Then, per step of the plain loop, each stage is
/// ended by reading a value back, so its work is done when its clock stops: the forward pass
/// (n-gram sums, hidden layer, head), the loss, the backward pass (ended by reading a gradient),
/// the optimiser's update. Then the instrumentation the trainer adds, each timed alone on the same
/// step's tensors: the gradient norm, the per-tensor weight-change norms, reading the
/// predictions back with every metric (`evaluate_rows`), and the gradient share. In the trainer
/// the norms run on a helper thread beside the update and the next forward pass, so its own step
/// (last two columns, as its report times them) costs less than the sum of the stages.
fn bench_profile() {
    use segscope::engine::influence::grad_shares;
    use segscope::engine::instrument::{GradList, change_norms, collect, sum_squares};
    use segscope::engine::report::evaluate_rows;
    // The trainer's allocator settings from the start: the plain loop below runs before any
    // trainer is built, and would otherwise get fresh pages for every step's new buffers.
    segscope::engine::tuning::tune();
    let cfg = Config::default();
    let pb = std::path::Path::new("../shared/data/processbench-gsm8k.json");
    let mut sets = vec![(
        "bundled",
        data::load(None, &ReadOptions::default())
            .expect("bundled")
            .0,
    )];
    if let Ok((ds, _)) = data::read_file(pb, &ReadOptions::default()) {
        sets.push(("ProcessBench GSM8K", ds));
    }
    println!(
        "\n## profile: one full-batch step, stage by stage (median of 20 steps after 5 warm-up steps, ms)"
    );
    println!(
        "| data | segments | featurise (once) | forward | loss | backward | optimiser update (fused, with its norms) | grad norm (SGD, tensor ops) | weight-change norms (SGD, tensor ops) | predictions and metrics | gradient share | sum of stages | trainer step (a call, wall) | trainer evaluation (beside it) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, ds) in sets {
        let s = Instant::now();
        let _ = featurize(&ds, &cfg.features);
        let feat = s.elapsed().as_secs_f64() * 1e3;
        let mut b = Bare::new(&ds, &cfg);
        // The trainer's optimiser as the trainer runs it: measuring its norms.
        let sink = NormSink::default();
        b.optim = FusedAdam::new(Some(cfg.train.weight_decay as f32), Some(sink.clone())).init();
        let part = Partition::new(&ds, cfg.dev_fraction);
        let rows = part.indices(Split::Train);
        // Positions of the training rows, grouped by document (rows are in document order).
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (k, &r) in rows.iter().enumerate() {
            match groups.last_mut() {
                Some(g) if ds.segments[rows[g[0]]].doc == ds.segments[r].doc => g.push(k),
                _ => groups.push(vec![k]),
            }
        }
        let mut t: [Vec<f64>; 9] = Default::default();
        for k in 0..25 {
            let mut clock = Instant::now();
            let mut lap = |i: usize, t: &mut [Vec<f64>; 9]| {
                if k >= 5 {
                    t[i].push(clock.elapsed().as_secs_f64() * 1e3);
                }
                clock = Instant::now();
            };
            let h = b.model.hidden_from(b.model.type_sums(&b.x.types), &b.x);
            let pred = b.model.head.forward(h.clone());
            let _ = pred.clone().inner().sum().into_scalar::<f32>();
            lap(0, &mut t);
            let loss = loss_tensor(pred.clone(), b.y.clone(), LossKind::Mse);
            let _ = loss.clone().inner().into_scalar::<f32>();
            lap(1, &mut t);
            let grads = GradientsParams::from_grads(loss.backward(), &b.model);
            let bias = b.model.head.bias.as_ref().expect("head bias");
            let _ = grads
                .get::<1>(bias.id)
                .map(|g| g.sum().into_scalar::<f32>());
            lap(2, &mut t);
            let grad_tensors = GradList::of(&b.model, &grads).tensors;
            let before = collect(&b.model).tensors;
            lap(8, &mut t); // not reported: handles only
            b.model = b.optim.step(b.lr, b.model.clone(), grads);
            let _ = b
                .model
                .head
                .bias
                .as_ref()
                .map(|p| p.val().inner().sum().into_scalar::<f32>());
            let _ = sink.take();
            lap(3, &mut t);
            let _ = sum_squares(grad_tensors);
            lap(4, &mut t);
            let _ = change_norms(before, collect(&b.model).tensors);
            lap(5, &mut t);
            let preds = segscope::engine::tensors::host_preds(pred.inner());
            let (evals, _) = evaluate_rows(&ds, &rows, &preds, &groups, LossKind::Mse);
            lap(6, &mut t);
            let residuals: Vec<f32> = evals.iter().map(|e| e.residual).collect();
            let _ = grad_shares(h.inner(), &residuals, LossKind::Mse, &[]);
            lap(7, &mut t);
        }
        let mut tr = trainer(&ds, &cfg);
        let (mut st, mut ev) = (Vec::new(), Vec::new());
        for k in 0..25 {
            // The call's wall time: with full batch the evaluation runs beside the step.
            let s = Instant::now();
            let r = tr.step();
            if k >= 5 {
                st.push(s.elapsed().as_secs_f64() * 1e3);
                ev.push(r.eval_ms);
            }
        }
        let m: Vec<f64> = t[..8].iter().map(|v| median(v.clone())).collect();
        // The SGD columns are not the Adam step's: the fused update measured its own norms.
        let sum: f64 = m[..4].iter().chain(&m[6..]).sum();
        println!(
            "| {name} | {} | {feat:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {sum:.1} | {:.1} | {:.1} |",
            ds.segments.len(),
            m[0],
            m[1],
            m[2],
            m[3],
            m[4],
            m[5],
            m[6],
            m[7],
            median(st),
            median(ev)
        );
    }
}

/// ProcessBench's records (real long steps) repeated `times` times under new ids.
fn repeated_processbench(times: usize) -> Dataset {
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
fn bench_crossfit_scale() {
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

/// The stream format: bytes per step, and how fast a watcher takes in predictions.
fn bench_stream() {
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
fn bench_compare() {
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
