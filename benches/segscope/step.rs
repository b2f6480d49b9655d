//! The training step's benchmarks: the instrumented step against a bare burn loop (`step`,
//! `backends`), and where a full-batch step's time goes, stage by stage (`profile`).

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use segscope::config::BackendKind;
use segscope::config::Config;
use segscope::data;
use segscope::data::Dataset;
use segscope::data::Partition;
use segscope::data::ReadOptions;
use segscope::data::Split;
use segscope::data::features::featurize;
use segscope::engine::TrainSettings;
use segscope::engine::loss_tensor;
use segscope::engine::metrics::LossKind;
use segscope::engine::model::Inputs;
use segscope::engine::model::SegmentModel;
use segscope::engine::optim::FusedAdam;
use segscope::engine::optim::NormSink;
use segscope::engine::plain_device;
use segscope::engine::split_inputs;

use super::big;
use super::cpu_ms;
use super::median;
use super::percentile;
use super::trainer;

/// The plainest training loop over the same model, data, batch size and optimiser: forward, loss,
/// backward, update, and the loss read back to the host as any loop that logs it does.
pub(crate) struct Bare {
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

/// Medians, in ms per step, of the instrumented and the bare loop.
pub(crate) struct Timing {
    wall: (f64, f64),
    cpu: (f64, f64),
    /// The 10th percentile of the wall times: the steps least slowed by the machine's other
    /// tenants, whose share of the steps moves the medians from run to run on this host.
    quiet: (f64, f64),
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
pub(crate) fn alternate(ds: &Dataset, cfg: &Config, rounds: usize, k: usize) -> Timing {
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
        quiet: (percentile(ti.clone(), 0.1), percentile(tb.clone(), 0.1)),
        wall: (median(ti), median(tb)),
        cpu: (median(ci), median(cb)),
    }
}

pub(crate) fn bench_step(backends: &[BackendKind]) {
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
        "| data | segments (train) | batch | backend | instrumented | bare | ratio | CPU instrumented | CPU bare | CPU ratio | quietest tenth: instrumented | bare | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    // SEGSCOPE_BENCH_QUICK=1: only the bundled full-batch row, for quick before/after checks.
    let quick = std::env::var_os("SEGSCOPE_BENCH_QUICK").is_some();
    let sets: &[(&str, &Dataset, usize, usize)] = if quick {
        &[("bundled", &bundled, 20, 10)]
    } else {
        &[
            ("bundled", &bundled, 20, 10),
            ("generated 100k", &large, 6, 4),
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
                    quiet: (qi, qb),
                } = alternate(ds, &cfg, rounds, k);
                println!(
                    "| {name} | {} ({}) | {} | {} | {i:.2} | {b:.2} | {:.3} | {ci:.2} | {cb:.2} | {:.3} | {qi:.2} | {qb:.2} | {:.3} |",
                    ds.segments.len(),
                    Partition::new(ds, cfg.dev_fraction).counts().0,
                    if batch == 0 {
                        "full".to_string()
                    } else {
                        batch.to_string()
                    },
                    backend.name(),
                    i / b,
                    ci / cb,
                    qi / qb
                );
            }
        }
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
pub(crate) fn bench_profile() {
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
        // The rows' documents and targets' ranks, computed once as the trainer does.
        let shape = segscope::engine::report::SplitShape::of(&ds, &rows);
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
            let (evals, _) = evaluate_rows(&ds, &rows, &preds, &shape, LossKind::Mse);
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

/// The fused Adam update alone on 2^20 values (the size of the default model's hashed table):
/// without and with the norms the trainer measures, alternating, on one thread and on rayon's
/// pool.
pub(crate) fn bench_adam() {
    use burn::optim::Optimizer;
    // The trainer's allocator settings: otherwise each step's fresh 4 MB buffers are new pages.
    segscope::engine::tuning::tune();
    let device = plain_device(BackendKind::Flex);
    let n = 1usize << 20;
    let values = |f: fn(f32) -> f32| {
        let v: Vec<f32> = (0..n).map(|i| f(i as f32)).collect();
        Tensor::<1>::from_data(TensorData::new(v, [n]), &device)
    };
    let w0 = values(|x| (x * 1e-3).sin());
    let g = values(|x| (x * 3e-3).cos() * 1e-3);
    println!("\n## adam: the fused update on 2^20 values (median of 200 steps, ms)");
    println!("| threads | plain | measuring | ratio |");
    println!("|---|---|---|---|");
    let run = || {
        let optims = [
            FusedAdam::new(Some(1e-4), None),
            FusedAdam::new(Some(1e-4), Some(NormSink::default())),
        ];
        let mut state = [None, None];
        let mut w = [w0.clone(), w0.clone()];
        let mut t = [Vec::new(), Vec::new()];
        for k in 0..210 {
            for j in 0..2 {
                let s = Instant::now();
                let (nw, st) = optims[j].step(1e-3, w[j].clone(), g.clone(), state[j].take());
                (w[j], state[j]) = (nw, st);
                if k >= 10 {
                    t[j].push(s.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
        let [a, b] = t.map(median);
        (a, b)
    };
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let (a, b) = one.install(run);
    println!("| 1 | {a:.3} | {b:.3} | {:.3} |", b / a);
    let (a, b) = run();
    println!(
        "| {} (rayon's pool) | {a:.3} | {b:.3} | {:.3} |",
        rayon::current_num_threads(),
        b / a
    );
    // Where the arrays start in their 4 KiB pages (see `engine::stagger`): the same loop on one
    // thread with its seven arrays at chosen page offsets, the last row as the update places its
    // outputs against inputs bunched together.
    println!(
        "\n## adam: the update's loop on one thread, by where its 7 arrays start in their pages (median of 40, ms)"
    );
    println!("| page offsets (inputs; outputs, bytes) | plain | measuring |");
    println!("|---|---|---|");
    let spread = segscope::engine::stagger::spread::<3>(&[32, 40, 48, 32]);
    let rows: [(&str, [usize; 7]); 4] = [
        ("all 0", [0; 7]),
        ("0, 16, 32, 48; 64, 80, 96", [0, 16, 32, 48, 64, 80, 96]),
        (
            "0, 256, .., 768; 1024, 1280, 1536",
            [0, 256, 512, 768, 1024, 1280, 1536],
        ),
        (
            "32, 40, 48, 32; as the update places them",
            [32, 40, 48, 32, spread[0], spread[1], spread[2]],
        ),
    ];
    for (name, offs) in rows {
        let (p, m) = one.install(|| {
            (
                segscope::engine::optim::loop_ms_at(n, offs, false, 40),
                segscope::engine::optim::loop_ms_at(n, offs, true, 40),
            )
        });
        println!("| {name} | {p:.3} | {m:.3} |");
    }
}
